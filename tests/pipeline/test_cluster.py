"""Many nodes on one machine: the demo recipe on a local three-node Ray cluster.

`ray.cluster_utils.Cluster` starts a head with no CPU (as many real clusters run theirs)
and two worker nodes of one CPU each (temp dirs under tmp_path) that share OUT on local
disk, as a cluster shares a network disk. The build runs through the real CLI as a driver
that joins the cluster (`ray.address`): the stages' CPU actors can only run on the worker
nodes, while the driver's node serves the demo world, reads the spool and may hold the
validate pool (no CPU). Once a worker node has committed a video, that node is killed
mid-run (validate takes one video at a time here, so commits come while others are in
flight); the rerun on the nodes left must finish with exactly the rows of a single-node
build (scripts/compare_builds.py), and the stage accounts must show work on both worker
nodes, the killed one's included.

The cluster comes from support.cluster (which keeps it from announcing itself machine-wide).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cluster import local_cluster, segment_nodes

from longvid_pipeline.shards import read_commits

pytestmark = pytest.mark.slow(minutes=2)

REPO = Path(__file__).resolve().parents[2]
WORLD = [
    "source.demo.videos=6",
    "source.demo.min_duration_s=20",
    "source.demo.max_duration_s=30",
    "source.demo.max_scene_s=8",
    "source.demo.width=320",
    "source.demo.height=180",
    "shards.videos_per_commit=1",
    "stages.validate.resources.batch_size=1",  # commits while the other videos are in flight
]
RUN_TIMEOUT_S = 600  # a loaded machine took 4 minutes to start the pool's two actors
# Ray Data dispatches to whichever pool actors are up: on a loaded machine one node's actor
# can start after the other has taken every video. Waiting for the whole pool before
# dispatch (a Ray Data setting a user may set too) deals the first videos over both.
POOL_ENV = {**os.environ, "RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S": str(RUN_TIMEOUT_S)}


def cli(out: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "longvid_pipeline", "run", "stages/demo.yaml", "--out", str(out)]
    for override in [*WORLD, *extra]:
        args += ["--set", override]
    return args


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with local_cluster(tmp_path / "cluster", monkeypatch, [{}, {}, {}], head_cpus=0) as three_nodes:
        yield three_nodes


def wait_for_commits_on(
    out: Path, nodes: set[str], proc: subprocess.Popen[str], any_of: bool = False
) -> set[str]:
    """Poll the commit records until every node in `nodes` (or, `any_of`, one of them) has
    committed a segmented video or the run ends; returns the nodes that had committed."""
    deadline = time.time() + RUN_TIMEOUT_S
    worked: set[str] = set()
    done = (lambda: bool(nodes & worked)) if any_of else (lambda: nodes <= worked)
    while time.time() < deadline and proc.poll() is None and not done():
        time.sleep(0.2)
        worked = segment_nodes(read_commits(out))
    return worked


def test_three_nodes_share_the_work_and_losing_one_loses_nothing(
    tmp_path: Path, cluster: Any
) -> None:
    reference = tmp_path / "single"
    single = run(cli(reference, "ray.num_cpus=2"))
    assert single.returncode == 0, single.stderr[-2000:]

    out = tmp_path / "multi"
    # One fused CPU actor per worker node (each has one CPU, each actor asks for one).
    args = cli(out, f"ray.address={cluster.address}", "stages.segment.resources.concurrency=2")
    workers = {node.node_id: node for node in cluster.worker_nodes}
    proc = subprocess.Popen(
        args, cwd=REPO, env=POOL_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # Lose a worker node once it has committed a video, with others still in flight.
    worked = wait_for_commits_on(out, set(workers), proc, any_of=True)
    victim = workers[sorted(worked & set(workers))[0]] if worked & set(workers) else None
    if victim is None:
        _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
        raise AssertionError(
            f"no worker node committed a video before the run ended: {stderr[-2000:]}"
        )
    killed_mid_run = proc.poll() is None
    if killed_mid_run:
        cluster.remove_node(victim, allow_graceful=False)
    _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    committed = {i for record in read_commits(out) for i in record["input_ids"]}
    # Either the lost node held work in flight (the run stops, saying how to go on) or the
    # run finished on the nodes left; never a half-written OUT.
    assert proc.returncode == 0 or "rerun the same command" in stderr, stderr[-2000:]
    assert proc.returncode != 0 or len(committed) == 6

    # Ray declares a killed node dead only after missed health checks; a rerun started
    # before that can place an actor on it (it dies unstarted and the rerun stops). The
    # rerun does not wait for a full pool: two actors no longer fit on one worker node.
    cluster.wait_for_nodes(timeout=RUN_TIMEOUT_S)
    rerun = run(args)  # on the head and the worker left
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert len({i for record in read_commits(out) for i in record["input_ids"]}) == 6
    per_node = Counter(
        node[:8] for record in read_commits(out) for node in record["accounts"]["segment"]["nodes"]
    )
    print(
        f"[cluster] segment work per node {dict(per_node)}; node {victim.node_id[:8]} killed"
        f" {'mid-run' if killed_mid_run else 'after the run'}: run rc {proc.returncode},"
        f" {len(committed)}/6 inputs committed; the rerun finished the rest"
    )
    # The head has no CPU: every video was segmented on a worker node, and both worker nodes
    # took some (the pool keeps both actors, and the first videos are dealt over both).
    assert segment_nodes(read_commits(out)) == set(workers)
    compared = run([sys.executable, "scripts/compare_builds.py", str(reference), str(out)])
    assert compared.returncode == 0, compared.stdout
    assert "identical" in compared.stdout
