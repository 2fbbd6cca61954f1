"""A small demo build shared by the evaluation tests (built once per session), and one
local Ray (2 CPUs, temp dir under the session's tmp folder) that the pipeline build and
the evaluator's Ray backend both join, so Ray starts once.

Two demo videos of 100-130 s through the real pipeline CLI: one lands in split test, the other
in train (the runner deals splits per video, each within one video of its fraction: half
and half), so the majority baseline has a train split to count answers on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.demo import demo_run_args

# Videos of 100-130 s: a shorter one has too few distinct events, counts and spans for
# four fair options from its own timeline, so its questions are almost all open.
WORLD = ["source.demo.min_duration_s=100", "source.demo.max_duration_s=130"]
SPLITS = ["splits.test_fraction=0.5", "splits.val_fraction=0.0"]


@pytest.fixture(scope="session")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A local Ray for the session; callers that find Ray running join it."""
    import ray

    from longvid_pipeline.api import ray_temp_dir

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    temp = ray_temp_dir(tmp_path_factory.mktemp("ray"))
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory, local_ray: None) -> Path:
    """OUT of a two-video demo build with qa rows in splits train and test."""
    from longvid_pipeline.cli import main

    out = tmp_path_factory.mktemp("eval-demo") / "out"
    assert main(demo_run_args(out, *WORLD, *SPLITS)) == 0
    return out
