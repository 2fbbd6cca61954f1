"""Demo-world sidecars for tests, written once: the ground truth the caption and QA tests
feed the stages, in the shape `demo.world` writes.

An event is `(index, scene_index, start_s, end_s, shape, color, action)`; a scene is
`(start_s, end_s, background)`. Captions follow the demo world's phrasing
("An orange circle spins.").
"""

from __future__ import annotations

from typing import Any

EventSpec = tuple[int, int, float, float, str, str, str]
SceneSpec = tuple[float, float, str]


def event_caption(color: str, shape: str, action: str) -> str:
    article = "An" if color[0] in "aeiou" else "A"
    return f"{article} {color} {shape} {action}."


def demo_sidecar(events: list[EventSpec], scenes: list[SceneSpec], fps: int = 25) -> dict[str, Any]:
    """A sidecar with `events` and `scenes` (frame indices at `fps`)."""
    return {
        "events": [
            {
                "index": index,
                "scene_index": scene,
                "start_s": start,
                "end_s": end,
                "shape": shape,
                "color": color,
                "action": action,
                "caption": event_caption(color, shape, action),
            }
            for index, scene, start, end, shape, color, action in events
        ],
        "scenes": [
            {
                "index": index,
                "start_s": start,
                "end_s": end,
                "start_frame": round(start * fps),
                "end_frame": round(end * fps),
                "background": background,
                "caption": f"A {background} scene.",
            }
            for index, (start, end, background) in enumerate(scenes)
        ],
    }
