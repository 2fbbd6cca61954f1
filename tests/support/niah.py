"""A small built output to take haystacks from, and a small benchmark config, for niah tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from longvid_pipeline.config import build_section
from longvid_pipeline.media.probe import probe
from longvid_pipeline.niah.config import NiahConfig
from longvid_pipeline.shards import commit_rows
from support.rows import example_video
from support.shards import make_video

SOURCES = ("testsrc", "testsrc2", "smptebars")


def make_haystack_output(
    out: Path, seconds: float = 12.0, size: str = "160x120"
) -> list[dict[str, Any]]:
    """An output folder with one committed `videos` row per lavfi test pattern."""
    rows = []
    for source in SOURCES:
        uri = f"media/{source}.mp4"
        path = make_video(out / uri, source, seconds, size)
        info = probe(path)
        rows.append(
            example_video(
                source,
                info.duration_s,
                uri=uri,
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                width=info.width,
                height=info.height,
                fps=info.fps,
            )
        )
    commit_rows(out, {"videos": rows}, input_ids=[row["input_id"] for row in rows])
    return rows


def small_config(**sections: Any) -> NiahConfig:
    """Short haystacks and a small frame size: a few cells, fast to build and render."""
    raw: dict[str, Any] = {
        "multi_hop": {"lengths": [24, 40], "depths": [0, 50, 100], "samples_per_cell": 3},
        "single_hop": {"lengths": [20, 60], "depths": [0, 50, 100], "samples_per_cell": 2},
        "frames": {"width": 320, "height": 180},
        "clues": {"font_size": 14},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    config, problems = build_section(NiahConfig, raw, "niah")
    assert not problems, problems
    return config


def build_rows(out: Path, config: NiahConfig, run_seed: int = 0) -> list[dict[str, Any]]:
    """Every sample of `config` over the videos of `out`, built in-process (no Ray)."""
    from longvid_pipeline.niah.build import SampleBuilder
    from longvid_pipeline.niah.grid import SampleSpec, sample_items
    from longvid_pipeline.niah.haystack import load_pool
    from longvid_pipeline.niah.needles import needle_source

    builder = SampleBuilder(config, needle_source(config.needles, out / ".niah_images"))
    pool = load_pool(out)
    return [
        builder.build(SampleSpec.from_source(item.source), pool, item.input_id)
        for item in sample_items(out, config, run_seed)
    ]
