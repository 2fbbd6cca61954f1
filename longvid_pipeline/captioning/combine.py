"""Several caption backends on one clip: one caption that says where each part came from.

The first backend (in recipe order) with text for a clip gives the caption; each later
one adds its text after its label ("A man opens a door. Speech: Welcome back."). The
clip's `caption_source` and `caption_model` name every backend that contributed, joined
by '+'; a clip no backend has text for names them all. Structured attributes come from
the first backend that has them (annotations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from longvid_pipeline.captioning.base import Captions


@dataclass(frozen=True)
class Answer:
    """One backend's captions for a video, with the label its text gets when not first."""

    source: str
    label: str
    captions: Captions


@dataclass(frozen=True)
class CombinedCaption:
    """A clip's caption columns."""

    caption: str | None
    attributes: list[dict[str, Any]] | None
    source: str
    model: str


def combine(answers: list[Answer], clip_count: int) -> list[CombinedCaption]:
    """One caption per clip from every backend's answer (see the module docstring)."""
    combined = []
    for position in range(clip_count):
        parts = [
            (answer, text)
            for answer in answers
            if (text := answer.captions.clips[position].caption)
        ]
        text = " ".join(
            body if index == 0 else f"{answer.label}: {body}"
            for index, (answer, body) in enumerate(parts)
        )
        named = [answer for answer, _ in parts] or answers
        attributes = next(
            (
                a.captions.clips[position].attributes
                for a in answers
                if a.captions.clips[position].attributes is not None
            ),
            None,
        )
        combined.append(
            CombinedCaption(
                caption=text or None,
                attributes=attributes,
                source="+".join(answer.source for answer in named),
                model="+".join(answer.captions.model for answer in named),
            )
        )
    return combined


def failures(answers: list[Answer]) -> dict[int, tuple[str, str]]:
    """Clip position -> (reason, detail) for every clip some backend failed on."""
    failed: dict[int, tuple[str, str]] = {}
    for answer in answers:
        for position, (reason, detail) in answer.captions.failed.items():
            failed.setdefault(position, (reason, f"{answer.source}: {detail}"))
    return failed
