"""The small demo world the end-to-end tests build through the real pipeline CLI: two
videos of 40 to 60 s at 320x180 on a 2-CPU local Ray."""

from __future__ import annotations

from pathlib import Path

SMALL_WORLD = [
    "source.demo.videos=2",
    "source.demo.min_duration_s=40",
    "source.demo.max_duration_s=60",
    "source.demo.width=320",
    "source.demo.height=180",
    "ray.num_cpus=2",
]


def demo_run_args(out: Path, *overrides: str) -> list[str]:
    """`longvid-pipeline run` arguments building the small world (plus `overrides`) into OUT."""
    args = ["run", "stages/demo.yaml", "--out", str(out)]
    for override in [*SMALL_WORLD, *overrides]:
        args += ["--set", override]
    return args
