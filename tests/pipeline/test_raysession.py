"""Starting or joining Ray: a busy start is retried once, and a failure is one line.

A local Ray start on a loaded machine can time out once ("the GCS has become overloaded")
and come up at the second try; a dead cluster address must fail at once (Ray itself would
retry it for many minutes) with one line naming the address, never a traceback.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from longvid_pipeline import raysession
from longvid_pipeline.errors import RunFailed

REPO = Path(__file__).resolve().parents[2]


class FakeRay:
    """Stands in for `ray.init`/`ray.shutdown`, failing the first `failures` starts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.inits: list[dict[str, Any]] = []
        self.shutdowns = 0

    def init(self, **kwargs: Any) -> None:
        self.inits.append(kwargs)
        if len(self.inits) <= self.failures:
            raise Exception("The current node timed out during startup.\nmore detail")

    def shutdown(self) -> None:
        self.shutdowns += 1


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> FakeRay:
    import ray

    fake = FakeRay(request.param)
    monkeypatch.setattr(ray, "init", fake.init)
    monkeypatch.setattr(ray, "shutdown", fake.shutdown)
    return fake


@pytest.mark.parametrize("fake_ray", [1], indirect=True)
def test_a_start_that_times_out_once_is_tried_again(fake_ray: FakeRay) -> None:
    raysession._start_ray("start a local Ray", num_cpus=1)
    assert fake_ray.inits == [{"num_cpus": 1}, {"num_cpus": 1}]
    assert fake_ray.shutdowns == 1  # the half-started session is cleaned up before the retry


@pytest.mark.parametrize("fake_ray", [2], indirect=True)
def test_a_start_that_fails_twice_is_one_line(fake_ray: FakeRay) -> None:
    with pytest.raises(RunFailed) as failed:
        raysession._start_ray("start a local Ray", num_cpus=1)
    message = str(failed.value)
    assert "\n" not in message and len(fake_ray.inits) == 2
    assert message.startswith("could not start a local Ray (Exception: The current node timed")
    assert "rerun the same command" in message


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_dead_cluster_address_fails_at_once_in_one_line(tmp_path: Path) -> None:
    address = f"127.0.0.1:{unused_port()}"
    world = ["source.demo.videos=1", "source.demo.min_duration_s=4", "source.demo.max_duration_s=5"]
    args = [sys.executable, "-m", "longvid_pipeline", "run", "stages/demo.yaml"]
    args += ["--out", str(tmp_path / "out"), "--set", f"ray.address={address}"]
    for override in world:
        args += ["--set", override]
    # Ray alone would keep retrying the dead address for many minutes.
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: could not join the Ray cluster at {address}: nothing")
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "out").glob("commits/*"))  # nothing ran, nothing committed
