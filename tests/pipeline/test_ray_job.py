"""`ray job submit` against a Ray head this test starts on 127.0.0.1: the cluster path.

The job's driver finds the cluster through RAY_ADDRESS (set by the job agent), so the
pipeline joins the head instead of starting a local Ray. Slow (a head, a dashboard, a
job); CI still runs it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from longvid_pipeline.query import run_query

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head with a dashboard (the job API) on loopback, temp dir under the test folder."""
    temp_dir = Path("/tmp") / f"lvjob-{os.getpid()}"  # unix sockets need a short path
    temp_dir.symlink_to(tmp_path, target_is_directory=True)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    dashboard_port = free_port()
    subprocess.run(
        [
            RAY,
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={free_port()}",
            "--num-cpus=2",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard_port}",
            f"--temp-dir={temp_dir}",
            "--disable-usage-stats",
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    try:
        yield f"http://127.0.0.1:{dashboard_port}", env
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
        temp_dir.unlink()


def test_ray_job_submit_builds_the_demo_on_the_cluster(
    ray_head: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    address, env = ray_head
    out = tmp_path / "job_out"
    entrypoint = (
        f"{sys.executable} -m longvid_pipeline run {REPO / 'stages' / 'demo.yaml'} --out {out}"
        " --set source.demo.videos=2 --set source.demo.min_duration_s=20 --set source.demo.max_duration_s=30"
        " --set source.demo.width=320 --set source.demo.height=180"
    )
    job = subprocess.run(
        [RAY, "job", "submit", "--address", address, "--", *entrypoint.split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        cwd=REPO,
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "inputs: 2 = 2 kept + 0 rejected" in job.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["kept"] == 2
    assert not (out / ".ray").exists(), "the job must join the cluster, not start its own Ray"
    assert run_query(out, "select count(*) as n from videos").to_pylist() == [{"n": 2}]
