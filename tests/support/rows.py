"""Rows that fit the contracts, for tests and examples (tests cannot import each other).

Each builder returns a complete row in contract shape with plausible values; keyword
overrides replace any column, so a test states only what it is about.
"""

from __future__ import annotations

from typing import Any

from longvid_pipeline.ids import input_id_for, stable_hash, video_id_for
from longvid_pipeline.segmenting.sampling import SamplingConfig, plan_for


def example_video(
    name: str = "demo:1", duration_s: float = 120.0, **overrides: Any
) -> dict[str, Any]:
    """A `videos` row for a fetched, segmented video (sampling plan filled in)."""
    plan = plan_for(duration_s, SamplingConfig())
    row = {
        "video_id": video_id_for(name),
        "input_id": input_id_for(f"http://example.test/{name}"),
        "source": "demo",
        "url": f"http://example.test/{name}",
        "uri": f"media/{video_id_for(name)}.mp4",
        "title": name,
        "duration_s": float(duration_s),
        "fps": 30.0,
        "width": 320,
        "height": 240,
        "video_codec": "h264",
        "audio_codec": None,
        "bytes": 123456,
        "sha256": "ab" * 32,
        "normalized_by": "copy",
        "license": None,
        "license_text": None,
        "uploader": None,
        "page_url": None,
        "has_subtitles": False,
        "has_chapters": False,
        "has_annotations": True,
        "metadata": "{}",
        "sample_frames": plan.frames,
        "sample_fps": plan.fps,
        "sample_timestamps": plan.timestamps,
        "timestamp_prompt": plan.prompt,
        "fetched_at": "2026-01-01T00:00:00+00:00",
    }
    return {**row, **overrides}


def example_clip(
    video_id: str, index: int, start_s: float, end_s: float, **overrides: Any
) -> dict[str, Any]:
    """A `clips` row as the segment stage leaves it (caption columns empty), at 30 fps."""
    row = {
        "clip_id": "c-" + stable_hash(video_id, index),
        "video_id": video_id,
        "clip_index": index,
        "start_s": float(start_s),
        "end_s": float(end_s),
        "start_frame": int(round(start_s * 30)),
        "end_frame": int(round(end_s * 30)),
        "shot_boundaries_s": [],
        "detector": "annotations",
        "black_score": 0.0,
        "static_score": 0.2,
        "quality_score": 0.9,
        "caption": None,
        "caption_source": None,
        "caption_model": None,
        "attributes": None,
        "clip_uri": None,
        "clip_cut": None,
    }
    return {**row, **overrides}
