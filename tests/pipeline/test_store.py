"""OUT on an object store: the commit protocol where nothing can be renamed.

The protocol tests use fsspec's in-memory filesystem (`memory://`, no network). The
end-to-end tests start moto's S3 server on 127.0.0.1 (an S3 stand-in from PyPI) and run
the real CLIs against `s3://` through s3fs: a demo build, a driver killed with SIGKILL
once the store holds a commit and resumed on a machine that has lost its build mirror (the
rows equal a local build's), DuckDB queries and `stats` over the store, and the trainer
reading its qa rows and videos from it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.cluster import local_cluster, segment_nodes
from support.faults import fault_env
from support.shards import qa_row, tiny_train_config

from longvid_pipeline.fetching.coordination import Coordinator
from longvid_pipeline.item import WorkItem
from longvid_pipeline.query import run_query
from longvid_pipeline.shards import commit_rows, read_commits
from longvid_pipeline.stage import RunContext
from longvid_pipeline.store import StoreOut, is_url, local_copy, localize_media, mirror_dir

REPO = Path(__file__).resolve().parents[2]


def row(qa_id: str) -> dict[str, Any]:
    """A qa row that fits the contract, with its own id."""
    return {
        **qa_row("media/v.mp4", 4.0, "caption", "Describe it.", "Bars.", "train"),
        "qa_id": qa_id,
    }


@pytest.fixture
def memory_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StoreOut]:
    monkeypatch.setenv("LONGVID_CACHE", str(tmp_path / "cache"))
    store = StoreOut(f"memory://longvid-{uuid.uuid4().hex[:8]}/out")
    yield store
    if store.fs.exists(store.root):
        store.fs.rm(store.root, recursive=True)


# ---------------------------------------------------------------- the protocol


def test_urls_name_stores_and_paths_stay_local() -> None:
    assert is_url("s3://bucket/out") and is_url("gs://b/o") and is_url("memory://x/y")
    assert not is_url("out/demo") and not is_url("/abs/out") and not is_url("file:///abs/out")


def test_a_commit_is_visible_only_once_its_record_is_written(
    memory_out: StoreOut, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    record = commit_rows(mirror, {"qa": [row("q-1")]}, ["i-1"])
    # The data objects are up, the record is not: readers see nothing.
    for name in record["files"]["qa"]:
        memory_out.fs.put_file(str(mirror / name), memory_out.path(name))
    assert read_commits(memory_out.url) == []
    assert run_query(memory_out.url, "select count(*) from qa").column(0).to_pylist() == [0]
    memory_out.publish_commit(mirror, record)
    assert [r["commit"] for r in read_commits(memory_out.url)] == [record["commit"]]
    ids = run_query(memory_out.url, "select qa_id from qa").column(0).to_pylist()
    assert ids == ["q-1"]


def test_reconcile_publishes_fetches_and_removes_orphans(
    memory_out: StoreOut, tmp_path: Path
) -> None:
    """A build mirror with a commit the store lacks (killed before publishing), a store
    with a commit the mirror lacks (built elsewhere), and a data object of a killed upload
    that no record names: afterwards both sides hold both commits and the orphan is gone."""
    elsewhere, mirror = tmp_path / "elsewhere", tmp_path / "mirror"
    remote = commit_rows(elsewhere, {"qa": [row("q-remote")]}, ["i-1"], sequence=0)
    memory_out.publish_commit(elsewhere, remote)
    local = commit_rows(mirror, {"qa": [row("q-local")]}, ["i-2"], sequence=1)
    memory_out.fs.pipe_file(memory_out.path("qa/part-999999-dead-0000.parquet"), b"torn")
    done = memory_out.reconcile(mirror)
    assert done == {"published": 1, "fetched": 1, "store_orphans_removed": 1}
    commits = {remote["commit"], local["commit"]}
    assert {r["commit"] for r in read_commits(memory_out.url)} == commits
    assert {r["commit"] for r in read_commits(mirror)} == commits
    ids = sorted(run_query(memory_out.url, "select qa_id from qa").column(0).to_pylist())
    assert ids == ["q-local", "q-remote"]
    assert sorted(run_query(mirror, "select qa_id from qa").column(0).to_pylist()) == ids
    assert memory_out.reconcile(mirror) == {
        "published": 0,
        "fetched": 0,
        "store_orphans_removed": 0,
    }


def test_the_read_copy_follows_the_store_and_skips_what_it_has(
    memory_out: StoreOut, tmp_path: Path
) -> None:
    build = tmp_path / "build"
    first = commit_rows(build, {"qa": [row("q-1")]}, ["i-1"], sequence=0)
    memory_out.publish_commit(build, first)
    copy = local_copy(memory_out.url)
    assert copy == mirror_dir(memory_out.url, "read") and copy.is_relative_to(tmp_path)
    assert run_query(copy, "select qa_id from qa").column(0).to_pylist() == ["q-1"]
    part = copy / first["files"]["qa"][0]
    fetched_at = part.stat().st_mtime_ns
    # The store is rebuilt: the old commit goes, a new one comes; the copy follows.
    memory_out.clear()
    second = commit_rows(tmp_path / "rebuild", {"qa": [row("q-2")]}, ["i-1"], sequence=0)
    memory_out.publish_commit(tmp_path / "rebuild", second)
    assert run_query(local_copy(memory_out.url), "select qa_id from qa").column(0).to_pylist() == [
        "q-2"
    ]
    assert not part.exists()
    # Unchanged objects are not fetched again.
    third = local_copy(memory_out.url) / second["files"]["qa"][0]
    before = third.stat().st_mtime_ns
    local_copy(memory_out.url)
    assert third.stat().st_mtime_ns == before and fetched_at > 0


def test_a_missing_store_out_is_a_clear_error(memory_out: StoreOut) -> None:
    with pytest.raises(FileNotFoundError, match="no pipeline output at memory://"):
        run_query(memory_out.url + "-absent", "select 1")
    with pytest.raises(FileNotFoundError, match="nothing committed there yet"):
        local_copy(memory_out.url + "-absent")


# ---------------------------------------------------------------- against an S3 stand-in


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto's S3 server on 127.0.0.1 with one bucket; yields the environment that points
    s3fs at it (and keeps every cache under tmp_path)."""
    pytest.importorskip("s3fs")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto keeps its buckets in this process, across servers: start from none.
    reset = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    direct.open(reset, timeout=30).close()
    for name in ("NO_PROXY", "no_proxy"):  # s3fs in this process goes straight there too
        monkeypatch.setenv(name, "127.0.0.1")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": f"http://{host}:{port}",
        "LONGVID_CACHE": str(tmp_path / "cache"),
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }
    import s3fs

    s3fs.S3FileSystem(
        endpoint_url=env["FSSPEC_S3_ENDPOINT_URL"], key="testing", secret="testing"
    ).mkdir("longvid-test")
    try:
        yield env
    finally:
        server.stop()


def test_an_unusable_store_fails_before_any_work_in_one_line(
    s3: dict[str, str], tmp_path: Path
) -> None:
    """A bucket that does not exist: `run` and `query` say so in one line, exit 2,
    and the run starts nothing (no Ray, no mirror)."""
    url = "s3://no-such-bucket/demo"
    expected = {
        "run": f"error: {url}: cannot write there (FileNotFoundError: The specified bucket does not exist)",
        "query": f"error: no pipeline output at {url} (run `longvid-pipeline run`)",
    }
    for verb, args in (
        ("run", run_args(url)),
        ("query", ["longvid_pipeline", "query", url, "select 1"]),
    ):
        failed = cli(s3, *args)
        assert failed.returncode == 2, failed.stderr[-2000:]
        assert failed.stderr.strip().splitlines() == [expected[verb]]
    assert not (Path(s3["LONGVID_CACHE"]) / "outs").exists()


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


WORLD = [
    "source.demo.videos=3",
    "source.demo.min_duration_s=20",
    "source.demo.max_duration_s=30",
    "source.demo.width=320",
    "source.demo.height=180",
    "ray.num_cpus=2",
    "shards.videos_per_commit=1",
]


def run_args(out: str) -> list[str]:
    args = ["longvid_pipeline", "run", "stages/demo.yaml", "--out", out, "--quiet"]
    for override in WORLD:
        args += ["--set", override]
    return args


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same demo world built into a local OUT, uninterrupted: what a store build must equal."""
    out = tmp_path_factory.mktemp("reference") / "out"
    built = cli(dict(os.environ), *run_args(str(out)))
    assert built.returncode == 0, built.stderr[-2000:]
    return out


def store_commits(env: dict[str, str], url: str) -> int:
    import s3fs

    fs = s3fs.S3FileSystem(
        endpoint_url=env["FSSPEC_S3_ENDPOINT_URL"], key="testing", secret="testing"
    )
    fs.invalidate_cache()
    prefix = url.removeprefix("s3://") + "/_commits"
    return len([p for p in fs.ls(prefix, detail=False)]) if fs.exists(prefix) else 0


@pytest.mark.slow(minutes=3)
def test_a_build_into_s3_survives_a_kill_and_a_lost_mirror(
    s3: dict[str, str], reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "s3://longvid-test/demo"
    # SIGKILL the driver right after its second commit is durable in the build mirror, before
    # that commit reaches the store: the store holds one commit, the mirror two.
    monkeypatch.setenv("LONGVID_CACHE", s3["LONGVID_CACHE"])
    mirror = mirror_dir(url, "build")
    spec = {"kind": "kill_writer", "out": str(mirror), "dirs": ["_commits"], "event": 2}
    killed = cli(fault_env({**spec, "mode": "after"}, tmp_path / "faults", s3), *run_args(url))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (len(read_commits(mirror)), store_commits(s3, url)) == (2, 1)

    # A new machine: the build mirror is gone (and the commit only it held); the rerun
    # resumes from the store alone.
    shutil.rmtree(Path(s3["LONGVID_CACHE"]))
    resumed = cli(s3, *run_args(url))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert store_commits(s3, url) == 3
    compared = cli(s3, "scripts.compare_builds", str(reference), url)
    assert compared.returncode == 0 and "identical" in compared.stdout, compared.stdout

    query = cli(s3, "longvid_pipeline", "query", url, "select count(*) as n from videos")
    assert query.returncode == 0 and "3" in query.stdout, query.stderr[-2000:]
    stats = cli(s3, "longvid_pipeline", "stats", url)
    assert stats.returncode == 0 and "accounting: OK" in stats.stdout, stats.stdout
    hf = tmp_path / "hf"
    exported = cli(s3, "longvid_pipeline", "export", url, "--format", "hf", str(hf))
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert (hf / "README.md").is_file() and len(list(hf.rglob("*.mp4"))) == 3
    print("[store] killed with 1 of 3 commits on the store; resumed from the store alone")

    # The trainer reads its qa rows (and their videos) from the store.
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(tiny_train_config(url, tmp_path / "run", steps=2)))  # type: ignore[arg-type]
    trained = cli(s3, "longvid.train", str(config))
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 2


# ---------------------------------------------------------------- no shared folder


def test_the_coordinator_holds_claims_and_leases_slots() -> None:
    """The actor's body, called directly: first claim wins, release and reset as the
    file-based claims; a slot is free again once its lease is not renewed."""
    coordinator = Coordinator({"v-kept": "i-0"})
    assert coordinator.claim("v-kept", "i-9") == "i-0"
    assert coordinator.claim("v-1", "i-1") is None and coordinator.claim("v-1", "i-1") is None
    assert coordinator.claim("v-1", "i-2") == "i-1"
    assert not coordinator.release("v-1", "i-2") and coordinator.release("v-1", "i-1")
    assert coordinator.claim("v-1", "i-2") is None
    coordinator.reset({"v-kept": "i-0"})
    assert coordinator.claim("v-1", "i-3") is None
    first = coordinator.acquire("host", 2, "a", lease_s=60)
    second = coordinator.acquire("host", 2, "b", lease_s=60)
    assert (first, second) == (0, 1) and coordinator.acquire("host", 2, "c", lease_s=60) is None
    assert coordinator.acquire("other", 2, "c", lease_s=60) == 0  # per host
    coordinator.free("host", 0, "a")
    assert coordinator.acquire("host", 2, "c", lease_s=60) == 0
    assert coordinator.acquire("host", 2, "d", lease_s=0.0) == 0  # a dead holder's lease ran out


def test_a_stage_on_another_machine_fetches_the_media_from_the_store(
    memory_out: StoreOut, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Machine A fetched the video and uploaded it; on machine B (its own cache folder) the
    next stage finds the item's media path missing and gets the file from the store."""
    machine_a = tmp_path / "a" / "media" / "v-1.mp4"
    machine_a.parent.mkdir(parents=True)
    machine_a.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    (machine_a.parent / "v-1.info.json").write_text("{}")
    memory_out.upload_media(tmp_path / "a", "v-1")
    monkeypatch.setenv("LONGVID_CACHE", str(tmp_path / "machine-b"))
    context = RunContext(out_dir=str(tmp_path / "driver"), store_url=memory_out.url)
    item = WorkItem(input_id="i-1", source={}, source_kind="manifest", media_path=str(machine_a))
    item.video = {"video_id": "v-1"}
    localize_media(item, context)
    local = Path(str(item.media_path))
    assert local == context.out / "media" / "v-1.mp4" and local.is_relative_to(
        tmp_path / "machine-b"
    )
    assert local.read_bytes() == machine_a.read_bytes()
    assert (local.parent / "v-1.info.json").is_file()
    assert memory_out.remove_media("v-1") == 2 and memory_out.sweep_media(set()) == 0


S3_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "FSSPEC_S3_ENDPOINT_URL",
    "NO_PROXY",
    "no_proxy",
)


@pytest.mark.slow(minutes=1)
def test_three_nodes_that_share_no_folder_build_into_s3(
    s3: dict[str, str], reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each node of a local three-node cluster has a cache folder of its own (so the nodes
    share no folder but the store): claims and download slots go through the run's
    Coordinator actor, media through the store. The head has no CPU, so every video is
    fetched and cut on a worker node. Rows equal a local single-node build and both worker
    nodes did work, each in its own folder."""
    base = {key: s3[key] for key in S3_KEYS}
    caches = [tmp_path / f"node-{index}" for index in range(3)]
    envs = [{**base, "LONGVID_CACHE": str(cache)} for cache in caches]
    url = "s3://longvid-test/cluster"
    with local_cluster(tmp_path / "cluster", monkeypatch, envs, head_cpus=0) as cluster:
        driver = {
            **s3,
            "LONGVID_CACHE": str(tmp_path / "driver"),
            "RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S": "300",  # both workers' actors are up
        }
        extra = [f"ray.address={cluster.address}", "stages.segment.resources.concurrency=2"]
        built = cli(driver, *run_args(url), *(arg for s in extra for arg in ("--set", s)))
        assert built.returncode == 0, built.stderr[-3000:]
        workers = [node.node_id for node in cluster.worker_nodes]
    compared = cli(s3, "scripts.compare_builds", str(reference), url)
    assert compared.returncode == 0 and "identical" in compared.stdout, compared.stdout
    monkeypatch.setitem(fsspec_config(), "s3", {"endpoint_url": s3["FSSPEC_S3_ENDPOINT_URL"]})
    for key in S3_KEYS:
        monkeypatch.setenv(key, s3[key])
    segmented_on = segment_nodes(read_commits(url))
    # The three videos reach the pool together, so both workers' actors took some: every
    # video was cut on a worker node, in that node's own folder, never the head's.
    assert segmented_on == set(workers), f"segmented on {segmented_on}"
    for index in range(1, len(caches)):  # caches[0] is the head's
        assert (caches[index] / "outs").is_dir(), f"worker {index} cut outside its folder"
    # (the driver's folder holds the demo world it serves, never the build's media)
    assert not list((tmp_path / "driver").rglob("media/*.mp4")), "media passed through the driver"


def fsspec_config() -> dict[str, Any]:
    import fsspec.config

    return fsspec.config.conf
