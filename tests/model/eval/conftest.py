"""A small demo build shared by the evaluation tests (built once per session). The build
starts and stops its own Ray (temp dir under its OUT), as the evaluator's Ray backend does:
a Ray kept for the whole session would be joined by every later test that starts Ray
(the trainer's Ray tests failed with "ray.init twice", pipeline builds ran on it).

Two demo videos of 100-130 s through the real pipeline CLI: one lands in split test, the other
in train (the runner deals splits per video, each within one video of its fraction: half
and half), so the majority baseline has a train split to count answers on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.demo import demo_run_args

# Videos of 100-130 s: a shorter one has too few distinct events, counts and spans for
# four fair options from its own timeline, so its questions are almost all open.
WORLD = ["source.demo.min_duration_s=100", "source.demo.max_duration_s=130"]
SPLITS = ["splits.test_fraction=0.5", "splits.val_fraction=0.0"]


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT of a two-video demo build with qa rows in splits train and test."""
    from longvid_pipeline.cli import main

    out = tmp_path_factory.mktemp("eval-demo") / "out"
    assert main(demo_run_args(out, *WORLD, *SPLITS)) == 0
    return out
