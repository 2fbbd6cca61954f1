"""Many nodes on one machine: the demo recipe on a local three-node Ray cluster.

`ray.cluster_utils.Cluster` starts a head and two worker nodes (one CPU each, temp dirs
under tmp_path) that share OUT on local disk, as a cluster shares a network disk. The
build runs through the real CLI as a driver that joins the cluster (`ray.address`).
Once a worker node has committed a video, that node is killed mid-run (validate takes
batches of 2 here, so commits come while other videos are in flight); the rerun on the
two nodes left must finish with exactly the rows of a single-node build
(scripts/compare_builds.py), and the stage accounts must show work on all three nodes.

The cluster never announces itself machine-wide: Cluster writes its address to
/tmp/ray/ray_current_cluster, where a plain `ray.init()` of anyone on this machine would
find and join it (and removes that file on shutdown), so both are switched off here.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from longvid_pipeline.runner import _ray_temp_dir
from longvid_pipeline.shards import read_commits

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WORLD = [
    "source.demo.videos=6",
    "source.demo.min_duration_s=20",
    "source.demo.max_duration_s=30",
    "source.demo.max_scene_s=8",
    "source.demo.width=320",
    "source.demo.height=180",
    "shards.videos_per_commit=1",
    "stages.validate.resources.batch_size=2",  # commits while the other videos are in flight
]
RUN_TIMEOUT_S = 300


def cli(out: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "longvid_pipeline", "run", "stages/demo.yaml", "--out", str(out)]
    for override in [*WORLD, *extra]:
        args += ["--set", override]
    return args


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def nodes_of(record: dict[str, Any]) -> set[str]:
    return {node for account in record.get("accounts", {}).values() for node in account["nodes"]}


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import ray._common.utils
    import ray._private.utils
    from ray.cluster_utils import Cluster

    monkeypatch.setattr(ray._private.utils, "write_ray_address", lambda *a, **k: None)
    monkeypatch.setattr(ray._common.utils, "reset_ray_address", lambda *a, **k: None)
    temp = _ray_temp_dir(tmp_path / "cluster")  # short: unix socket paths have a limit
    node_args = {"num_cpus": 1, "temp_dir": temp, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=node_args)
    try:
        for _ in range(2):
            cluster.add_node(**node_args)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def wait_for_worker_commit(out: Path, workers: dict[str, Any], proc: subprocess.Popen[str]) -> Any:
    """The first worker node (not the head) that has a committed video; None if the run
    ended before any did."""
    deadline = time.time() + RUN_TIMEOUT_S
    while time.time() < deadline and proc.poll() is None:
        for record in read_commits(out):
            done = nodes_of(record) & set(workers)
            if done:
                return workers[sorted(done)[0]]
        time.sleep(0.2)
    return None


def test_three_nodes_share_the_work_and_losing_one_loses_nothing(
    tmp_path: Path, cluster: Any
) -> None:
    reference = tmp_path / "single"
    single = run(cli(reference, "ray.num_cpus=2"))
    assert single.returncode == 0, single.stderr[-2000:]

    out = tmp_path / "multi"
    # One fused CPU actor per node (each node has one CPU, each actor asks for one).
    args = cli(out, f"ray.address={cluster.address}", "stages.segment.resources.concurrency=3")
    head = cluster.head_node.node_id
    workers = {node.node_id: node for node in cluster.worker_nodes}
    proc = subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    victim = wait_for_worker_commit(out, workers, proc)
    assert victim is not None, "no worker node committed a video before the run ended"
    cluster.remove_node(victim, allow_graceful=False)
    _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    committed = {i for record in read_commits(out) for i in record["input_ids"]}
    # Either the lost node held work in flight (the run stops, saying how to go on) or the
    # run finished on the nodes left; never a half-written OUT.
    assert proc.returncode == 0 or "rerun the same command" in stderr, stderr[-2000:]
    assert proc.returncode != 0 or len(committed) == 6

    # Ray declares a killed node dead only after missed health checks; a rerun started
    # before that can place an actor on it (it dies unstarted and the rerun stops).
    cluster.wait_for_nodes(timeout=RUN_TIMEOUT_S)
    rerun = run(args)  # on the head and the worker left
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert len({i for record in read_commits(out) for i in record["input_ids"]}) == 6
    print(
        f"[cluster] killed node {victim.node_id[:8]} mid-run: run rc {proc.returncode},"
        f" {len(committed)}/6 inputs committed; the rerun finished the rest"
    )
    worked = set().union(*(nodes_of(record) for record in read_commits(out)))
    assert {head, *workers} <= worked, "some node did no work"
    compared = run([sys.executable, "scripts/compare_builds.py", str(reference), str(out)])
    assert compared.returncode == 0, compared.stdout
    assert "identical" in compared.stdout
