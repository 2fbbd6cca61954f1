"""A local multi-node Ray cluster for tests (`ray.cluster_utils.Cluster`), one CPU a node.

The head may be given no CPU (`head_cpus=0`), as many real clusters run theirs: then the
stages' CPU actors can only run on worker nodes, and the driver's node keeps only what
asks for no CPU (the spool's reads, the validate pool).

The cluster never announces itself machine-wide: Cluster writes its address to
/tmp/ray/ray_current_cluster, where a plain `ray.init()` of anyone on this machine would
find and join it (and removes that file on shutdown), so both are switched off. Each
node may get environment variables of its own (a node's processes inherit the
environment it was started with), e.g. a cache folder per node to show that the nodes
of a run share no folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from longvid_pipeline.raysession import ray_temp_dir


def segment_nodes(records: Iterable[dict[str, Any]]) -> set[str]:
    """The nodes on which the segment stage ran, over the given commit records (a commit of
    rejects alone has no segment account)."""
    return {
        node
        for record in records
        for node in record.get("accounts", {}).get("segment", {}).get("nodes", [])
    }


@contextlib.contextmanager
def local_cluster(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    node_envs: list[dict[str, str]],
    head_cpus: int = 1,
) -> Iterator[Any]:
    """A head with `head_cpus` CPUs and one worker node (one CPU) per extra entry of
    `node_envs` (the first is the head's); temp dirs under `folder`."""
    import ray._common.utils
    import ray._private.utils
    from ray.cluster_utils import Cluster

    monkeypatch.setattr(ray._private.utils, "write_ray_address", lambda *a, **k: None)
    monkeypatch.setattr(ray._common.utils, "reset_ray_address", lambda *a, **k: None)
    temp = ray_temp_dir(folder)  # short: unix socket paths have a limit
    node_args = {"num_cpus": 1, "temp_dir": temp, "include_dashboard": False}
    cluster = None
    try:
        for index, env in enumerate(node_envs):
            with monkeypatch.context() as patch:
                for key, value in env.items():
                    patch.setenv(key, value)
                if index == 0:
                    head_args = {**node_args, "num_cpus": head_cpus}
                    cluster = Cluster(initialize_head=True, head_node_args=head_args)
                else:
                    assert cluster is not None
                    cluster.add_node(**node_args)
        assert cluster is not None
        cluster.wait_for_nodes()
        yield cluster
    finally:
        if cluster is not None:
            cluster.shutdown()
        os.environ.pop("RAY_ADDRESS", None)
