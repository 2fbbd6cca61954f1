"""QA-stage inputs built by hand: an item as the segment stage leaves it (no video),
captioned by the real caption stage, and the QA stage run on it."""

from __future__ import annotations

from typing import Any

from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.qa.config import QAConfig
from longvid_pipeline.segmenting.sampling import TIMESTAMP_PROMPT
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.caption import CaptionConfig, CaptionStage
from longvid_pipeline.stages.qa import QAStage
from support.rows import example_clip


def captioned_item(
    clip_spans: list[tuple[float, float]],
    annotations: dict[str, Any],
    duration_s: float,
    video_id: str,
    backend: str = "annotations",
    subtitles: list[dict[str, Any]] | None = None,
) -> WorkItem:
    """An item with `clip_spans` as clips, captioned from `annotations` (a sidecar)."""
    item = WorkItem(input_id="in-qa", source={"url": "demo://1"}, source_kind="demo", split="val")
    item.video = {
        "video_id": video_id,
        "uri": "media/v-qa.mp4",
        "duration_s": duration_s,
        "sample_frames": 64,
        "sample_fps": 1.0,
        "sample_timestamps": [round((i + 0.5) * duration_s / 64, 4) for i in range(64)],
        "timestamp_prompt": TIMESTAMP_PROMPT.format(duration=duration_s, frames=64),
    }
    item.annotations = annotations
    item.subtitles = subtitles or []
    item.clips = [
        example_clip(video_id, i, start, end, clip_id=f"c-{video_id}-{i}")
        for i, (start, end) in enumerate(clip_spans)
    ]
    config, errors = build_section(CaptionConfig, {"backends": [backend]}, "stages.caption")
    assert errors == []
    return CaptionStage(config, RunContext(out_dir="unused")).run_item(item)


def world_item(seed: int, duration_s: float, video_id: str) -> WorkItem:
    """A demo-world plan (the renderer's ground truth) as a captioned item, clipped per scene."""
    from longvid_pipeline.demo.world import plan_video

    plan = plan_video(
        "demo", duration_s=duration_s, seed=seed, width=320, height=240, fps=10,
        min_scene_s=3.0, max_scene_s=40.0,
    )  # fmt: skip
    clip_spans = [(s["start_s"], s["end_s"]) for s in plan["scenes"]]
    return captioned_item(clip_spans, plan, plan["duration_s"], video_id)


def run_qa(item: WorkItem, **config: Any) -> list[dict[str, Any]]:
    """The QA stage's rows for `item` under `config` (a `stages.qa` section)."""
    qa_config, errors = build_section(QAConfig, config, "stages.qa")
    assert errors == []
    done = QAStage(qa_config, RunContext(out_dir="unused")).run_item(item)
    assert done.alive, done.rejects
    return done.qa
