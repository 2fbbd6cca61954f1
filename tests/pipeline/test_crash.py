"""Crash tests: kill a build, rerun it, and get exactly the rows of an uninterrupted build.

Every test runs the real CLI as a subprocess on a small demo world (3 videos of 20-30 s at
320x180, one video per commit so commits happen one by one) with its own local Ray, breaks
it (SIGKILL of the driver at writer failpoints or at random times, SIGKILL of a busy Ray
worker, a full disk, a flaky fetch server), reruns into the same OUT, and compares with a
reference build: the same ids in every table, no duplicates, every committed Parquet file
readable, no orphan or temp file left, `stats` balanced. Faults reach the driver and the
Ray workers through support.faults (a sitecustomize on PYTHONPATH), so
nothing in the pipeline knows about them. Kill points come from a seeded RNG and are
printed (pytest -s) with the rows compared.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq
import pytest
from support.faults import fault_env, read_fault_log, serve_flaky

from longvid_pipeline.cli import main
from longvid_pipeline.query import run_query
from longvid_pipeline.shards import COMMITS_DIR, committed_files, read_commits
from longvid_pipeline.tables import ID_COLUMNS

pytestmark = pytest.mark.slow(minutes=2)  # per test; ~1 min on CI since bytecode, ~2 before

REPO = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("LONGVID_CRASH_SEED", "20240611"))
TABLES = ("videos", "clips", "qa", "rejects")
SMALL_WORLD = [
    "source.demo.videos=3",
    "source.demo.min_duration_s=20",
    "source.demo.max_duration_s=30",
    "source.demo.max_scene_s=8",
    "source.demo.width=320",
    "source.demo.height=180",
    "ray.num_cpus=2",
    "shards.videos_per_commit=1",
]
RUN_TIMEOUT_S = 240


def report(line: str) -> None:
    print(f"[crash] {line}", flush=True)


# ---------------------------------------------------------------- running the CLI


def run_args(out: Path, *extra: str, recipe: str = "stages/demo.yaml") -> list[str]:
    args = [sys.executable, "-m", "longvid_pipeline", "run", recipe, "--out", str(out)]
    for override in [*(SMALL_WORLD if recipe == "stages/demo.yaml" else []), *extra]:
        args += ["--set", override]
    return args


def start(
    args: list[str], logs: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start the CLI in its own session: its local Ray lives in that session too."""
    logs.mkdir(parents=True, exist_ok=True)
    n = len(list(logs.glob("*.stdout")))
    with open(logs / f"{n}.stdout", "wb") as stdout, open(logs / f"{n}.stderr", "wb") as stderr:
        return subprocess.Popen(
            args, cwd=REPO, env=env, start_new_session=True, stdout=stdout, stderr=stderr
        )


def session_procs(sid: int) -> list[psutil.Process]:
    procs = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) == sid:
                procs.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return procs


def titles(procs: list[psutil.Process]) -> list[str]:
    names = []
    for proc in procs:
        try:
            names.append(" ".join(proc.cmdline()).strip()[:70] or proc.name())
        except psutil.Error:
            continue
    return names


def reap_session(sid: int, grace_s: float = 0.0) -> list[str]:
    """Wait up to `grace_s` for the run's processes to leave by themselves, then SIGKILL
    what is left of that session only. Returns what had to be killed."""
    deadline = time.time() + grace_s
    left = session_procs(sid)
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = session_procs(sid)
    names = titles(left)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(left, timeout=10)
    return names


def wait(proc: subprocess.Popen[bytes], timeout: float = RUN_TIMEOUT_S) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        reap_session(proc.pid)


def run_to_end(
    args: list[str], logs: Path, env: dict[str, str] | None = None
) -> tuple[int, str, str, float]:
    started = time.time()
    proc = start(args, logs, env)
    rc = wait(proc)
    n = len(list(logs.glob("*.stdout"))) - 1
    return (
        rc,
        (logs / f"{n}.stdout").read_text(),
        (logs / f"{n}.stderr").read_text(),
        time.time() - started,
    )


def kill_driver(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """SIGKILL the driver only; then see whether its Ray goes away, and clean up that run."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    leftovers = reap_session(proc.pid, grace_s=3.0)
    return {"rc": proc.returncode, "ray_processes_left_after_3s": leftovers}


# ---------------------------------------------------------------- looking at OUT


def id_lists(out: Path) -> dict[str, list[str]]:
    return {
        table: run_query(out, f"select {ID_COLUMNS[table]} as id from {table}")
        .column("id")
        .to_pylist()
        for table in TABLES
    }


def state(out: Path) -> dict[str, int]:
    """What a (possibly killed) run left: commits, committed rows, files, temp files."""
    listed = {path.resolve() for paths in committed_files(out).values() for path in paths}
    on_disk = [
        path for table in TABLES if (out / table).is_dir() for path in (out / table).iterdir()
    ]
    return {
        "commits": len(read_commits(out)),
        "committed_rows": sum(len(v) for v in id_lists(out).values()),
        "orphans": sum(1 for path in on_disk if path.resolve() not in listed),
        "temp_files": sum(1 for path in on_disk if path.name.endswith(".tmp"))
        + len(list((out / COMMITS_DIR).glob(".*.tmp"))),
        "media_files": len(list((out / "media").glob("*.mp4"))) if (out / "media").is_dir() else 0,
    }


def assert_consistent(out: Path, reference: dict[str, set[str]]) -> dict[str, int]:
    """What readers see after any crash: only whole, readable, committed shards; no
    duplicate ids; no row that an uninterrupted build would not have."""
    rows_by_table: Counter[str] = Counter()
    for table, paths in committed_files(out).items():
        for path in paths:
            assert path.is_file(), f"a commit lists {path}, which is missing"
            rows_by_table[table] += pq.read_table(path).num_rows  # raises on a torn file
    claimed: Counter[str] = Counter()
    for record in read_commits(out):
        claimed.update(record.get("rows", {}))
    assert rows_by_table == claimed, "committed files do not hold the rows their commits claim"
    ids = id_lists(out)
    for table, values in ids.items():
        duplicates = [value for value, n in Counter(values).items() if n > 1]
        assert not duplicates, f"{table}: duplicate ids {duplicates[:5]}"
        assert set(values) <= reference[table], f"{table}: ids no uninterrupted build has"
    committed_inputs = {i for record in read_commits(out) for i in record["input_ids"]}
    kept = set(run_query(out, "select input_id from videos").column("input_id").to_pylist())
    rejected = set(
        run_query(out, "select input_id from rejects where level = 'input'").column(0).to_pylist()
    )
    assert committed_inputs == kept | rejected, (
        "a committed input has neither a video nor an input reject"
    )
    return {table: len(values) for table, values in ids.items()}


def assert_complete(out: Path, reference: dict[str, set[str]]) -> dict[str, int]:
    """After the rerun: exactly the reference rows, nothing left over, stats balanced."""
    counts = assert_consistent(out, reference)
    ids = id_lists(out)
    for table in TABLES:
        missing, extra = reference[table] - set(ids[table]), set(ids[table]) - reference[table]
        assert not missing and not extra, (
            f"{table}: {len(missing)} missing, {len(extra)} extra vs the reference"
        )
    left = state(out)
    assert left["orphans"] == 0 and left["temp_files"] == 0, f"files no commit lists remain: {left}"
    assert json.loads((out / "manifest.json").read_text())["inputs"]["pending"] == 0
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["stats", str(out)]) == 0
    assert "accounting: OK" in printed.getvalue()
    return counts


def writer_events_per_commit(out: Path) -> list[int]:
    """Write events of each reference commit: a write and a rename per file, plus the commit record."""
    return [
        2 * sum(len(names) for names in record["files"].values()) + 1
        for record in read_commits(out)
    ]


# ---------------------------------------------------------------- the reference


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One uninterrupted build of the small world."""
    base = tmp_path_factory.mktemp("crash")
    out = base / "reference"
    rc, stdout, stderr, wall = run_to_end(run_args(out), base / "logs-reference")
    assert rc == 0, stderr[-3000:]
    ids = {table: set(values) for table, values in id_lists(out).items()}
    counts = {table: len(values) for table, values in ids.items()}
    report(
        f"reference build: {wall:.1f} s, rows {counts}, commits {len(read_commits(out))}, "
        f"writer events per commit {writer_events_per_commit(out)}"
    )
    return {"out": out, "base": base, "ids": ids, "events": writer_events_per_commit(out)}


# ---------------------------------------------------------------- driver SIGKILL


def test_driver_sigkill_at_writer_failpoints_then_rerun(
    reference: dict[str, Any], tmp_path: Path
) -> None:
    """SIGKILL the driver inside the shard writer (before a write, after a rename, after
    writing half a Parquet file), twice in a row, then rerun to the end."""
    rng = random.Random(SEED)
    out, logs = tmp_path / "out", tmp_path / "logs"
    events = reference["events"]
    modes = ["torn", rng.choice(["before", "after"])]
    parquet_files = sum((n - 1) // 2 for n in events)  # torn counts Parquet writes only
    kill_points = [
        (rng.randint(1, parquet_files - 1), modes[0]),
        (rng.randint(1, min(events)), modes[1]),
    ]
    for number, (event, mode) in enumerate(kill_points, 1):
        log = tmp_path / f"faults-{number}.log"
        env = fault_env(
            {"kind": "kill_writer", "out": str(out), "event": event, "mode": mode, "log": str(log)},
            tmp_path / "site",
        )
        proc = start(run_args(out), logs, env)
        rc = proc.wait(timeout=RUN_TIMEOUT_S)
        leftovers = reap_session(proc.pid, grace_s=3.0)
        fired = read_fault_log(log)
        left = state(out)
        counts = assert_consistent(out, reference["ids"])
        report(
            f"failpoint run {number}: kill at writer event {event} ({mode}); rc {rc}; fired {fired}; "
            f"Ray processes left 3 s after the driver died: {leftovers}; OUT then: {left}; "
            f"readable committed rows {counts}"
        )
        if rc == 0:  # the run finished before reaching the event: fine, nothing to check
            assert not fired
            continue
        assert rc == -signal.SIGKILL and len(fired) == 1
        if fired[0]["what"] == "write_parquet" and mode == "torn":
            assert left["temp_files"] >= 1  # the torn file is there, and no reader saw it
    rc, _, stderr, wall = run_to_end(run_args(out), logs)
    assert rc == 0, stderr[-3000:]
    counts = assert_complete(out, reference["ids"])
    report(f"failpoint rerun: {wall:.1f} s, rows compared with the reference {counts}: equal")


def test_driver_sigkill_at_random_times_then_rerun(
    reference: dict[str, Any], tmp_path: Path
) -> None:
    """SIGKILL the driver at seeded random moments of the run (Ray start, stages, commits)."""
    rng = random.Random(SEED + 1)
    out, logs = tmp_path / "out", tmp_path / "logs"
    for number, (low, high) in enumerate(
        [(3.0, 8.0), (10.0, 22.0)], 1
    ):  # Ray start; stages or commits
        delay = round(rng.uniform(low, high), 2)
        proc = start(run_args(out), logs)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            busy = [
                t.strip()
                for t in titles(session_procs(proc.pid))
                if t.startswith("ray::") and "." in t
            ]
            before = state(out)
            result = kill_driver(proc)
            counts = assert_consistent(out, reference["ids"])
            report(
                f"timed run {number}: SIGKILL of the driver at {delay} s; busy Ray workers then {busy}; "
                f"OUT before the kill {before}; {result}; readable committed rows {counts}"
            )
        else:
            reap_session(proc.pid)
            report(f"timed run {number}: finished (rc {proc.returncode}) before {delay} s")
    rc, _, stderr, wall = run_to_end(run_args(out), logs)
    assert rc == 0, stderr[-3000:]
    counts = assert_complete(out, reference["ids"])
    report(f"timed rerun: {wall:.1f} s, rows compared with the reference {counts}: equal")


# ---------------------------------------------------------------- Ray worker SIGKILL


def test_sigkill_of_a_busy_ray_worker_then_rerun(reference: dict[str, Any], tmp_path: Path) -> None:
    """SIGKILL a Ray worker while it runs a stage; Ray retries or the run fails; a rerun
    (into the same OUT) ends with the reference rows either way."""
    rng = random.Random(SEED + 2)
    out, logs = tmp_path / "out", tmp_path / "logs"
    proc = start(run_args(out), logs)
    victim, deadline = None, time.time() + RUN_TIMEOUT_S
    skip = rng.randint(0, 2)  # kill the n-th busy stage worker seen
    seen_busy: list[int] = []
    while victim is None and proc.poll() is None and time.time() < deadline:
        for candidate in session_procs(proc.pid):
            try:
                title = " ".join(candidate.cmdline())
            except psutil.Error:
                continue
            title = title.strip()
            if (
                title.startswith("ray::MapWorker")
                and ".submit" in title
                and candidate.pid not in seen_busy
            ):
                seen_busy.append(candidate.pid)
                if len(seen_busy) > skip:
                    victim = (candidate.pid, title)
                    candidate.kill()
                    break
        time.sleep(0.05)
    try:
        rc = wait(proc, timeout=150)  # an uninterrupted build takes ~30 s
    except subprocess.TimeoutExpired:
        rc = None  # hung: reported below; its session was killed by wait()
    first = state(out)
    counts = assert_consistent(out, reference["ids"])
    report(
        f"worker kill: {'SIGKILL of ' + repr(victim) if victim else 'no busy worker was seen'} "
        f"(the {skip + 1}th busy stage worker); run rc {rc}; OUT then {first}; readable rows {counts}"
    )
    assert victim is not None, "never saw a busy stage worker to kill"
    assert rc is not None, (
        "the run neither finished nor failed within 150 s after a stage worker was killed (hang)"
    )
    rc, _, stderr, wall = run_to_end(run_args(out), logs)
    assert rc == 0, stderr[-3000:]
    counts = assert_complete(out, reference["ids"])
    report(f"worker-kill rerun: {wall:.1f} s, rows compared with the reference {counts}: equal")


# ---------------------------------------------------------------- a flaky fetch server


FLAKY_RECIPE = """
name: flaky
out: {out}
seed: 0
ray: {{num_cpus: 2}}
source: {{kind: manifest, path: {manifest}}}
shards: {{videos_per_commit: 1}}
stages:
  fetch: {{allow_loopback: true, retries: 6, backoff_s: 0.05, timeout_s: 5}}
  segment: {{}}
  caption: {{}}
  qa: {{}}
  validate: {{}}
"""


def test_flaky_fetch_server_gives_the_same_dataset(
    reference: dict[str, Any], tmp_path: Path
) -> None:
    """Every video and sidecar first gets a 500, then a reset (mid-body for GET), then a
    slow answer: with retries the dataset equals the healthy build's (content ids)."""
    world = reference["out"] / "demo_world"
    videos = sorted(world.glob("*.mp4"))
    assert len(videos) == 3
    out = tmp_path / "out"
    with serve_flaky(world) as (base, served):
        manifest = tmp_path / "inputs.csv"
        manifest.write_text(
            "url,annotations_url,title\n"
            + "".join(
                f"{base}{video.name},{base}{video.with_suffix('.json').name},{video.stem}\n"
                for video in videos
            )
        )
        recipe = tmp_path / "flaky.yaml"
        recipe.write_text(FLAKY_RECIPE.format(out=out, manifest=manifest))
        rc, _, stderr, wall = run_to_end(run_args(out, recipe=str(recipe)), tmp_path / "logs")
    assert rc == 0, stderr[-3000:]
    report(f"flaky server: {wall:.1f} s; answers served {dict(served)}")
    assert served["500"] and served["reset"] and served["slow"]
    assert run_query(
        out, "select count(*) as n from rejects where level = 'input'"
    ).to_pylist() == [{"n": 0}]
    ids = id_lists(out)
    for table in ("videos", "clips", "qa"):  # content ids: the same whatever URL reached the video
        assert set(ids[table]) == reference["ids"][table], table
        assert len(ids[table]) == len(set(ids[table])), table
    reference_rejects = run_query(
        reference["out"], "select stage, level, reason, count(*) n from rejects group by all"
    )
    rejects = run_query(out, "select stage, level, reason, count(*) n from rejects group by all")
    assert sorted(map(str, rejects.to_pylist())) == sorted(map(str, reference_rejects.to_pylist()))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["stats", str(out)]) == 0
    report(
        f"flaky server: rows compared with the reference { ({t: len(v) for t, v in ids.items()}) }: equal"
    )


# ---------------------------------------------------------------- a full disk


def _disk_full_problems(rc: int, stderr: str, out: Path) -> list[str]:
    problems = []
    if rc == 0:
        problems.append("the run exited 0 on a full disk")
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    if not any("no space left" in line.lower() or "disk full" in line.lower() for line in lines):
        problems.append(
            f"no one-line `error: ... no space left / disk full ...` message (last stderr: "
            f"{stderr.strip().splitlines()[-1:] if stderr.strip() else ''})"
        )
    if not any(str(out) in line for line in lines):
        problems.append("the error does not say where (OUT path)")
    if "Traceback (most recent call last)" in stderr:
        problems.append("a Python traceback instead of a clear error")
    return problems


def test_disk_full_while_committing_shards(reference: dict[str, Any], tmp_path: Path) -> None:
    """The output disk fills up while the driver commits: a clear error, no half-written
    shard read as data, and after freeing space a rerun finishes with the reference rows."""
    rng = random.Random(SEED + 3)
    out, logs = tmp_path / "out", tmp_path / "logs"
    fail_from = rng.randint(2, reference["events"][0])  # inside the first or second commit
    log = tmp_path / "faults.log"
    env = fault_env(
        {
            "kind": "disk_full",
            "out": str(out),
            "dirs": ["videos", "clips", "qa", "rejects", COMMITS_DIR],
            "fail_from": fail_from,
            "log": str(log),
        },
        tmp_path / "site",
    )
    rc, _, stderr, wall = run_to_end(run_args(out), logs, env)
    fired = read_fault_log(log)
    left = state(out)
    counts = assert_consistent(out, reference["ids"])
    problems = _disk_full_problems(rc, stderr, out)
    report(
        f"disk full (writer) from write {fail_from}: rc {rc}, {wall:.1f} s, ENOSPC raised at "
        f"{[f['where'] for f in fired]}; OUT then {left}; readable rows {counts}; problems {problems}"
    )
    assert fired, "the fault never fired"
    rc2, _, stderr2, wall2 = run_to_end(run_args(out), logs)
    assert rc2 == 0, stderr2[-3000:]
    counts = assert_complete(out, reference["ids"])
    report(
        f"disk full (writer) rerun: {wall2:.1f} s, rows compared with the reference {counts}: equal"
    )
    assert not problems, problems


def test_disk_full_in_stage_workers_is_an_error_not_a_reject(
    reference: dict[str, Any], tmp_path: Path
) -> None:
    """The output disk is full when workers download into OUT/.tmp and write OUT/media: that
    is the machine's problem, not the input's. The run must stop with a clear error and
    must not commit the inputs as rejected, so a rerun after freeing space builds them."""
    out, logs = tmp_path / "out", tmp_path / "logs"
    log = tmp_path / "faults.log"
    env = fault_env(
        {
            "kind": "disk_full",
            "out": str(out),
            "dirs": [".tmp", "media"],
            "fail_from": 1,
            "log": str(log),
        },
        tmp_path / "site",
    )
    rc, _, stderr, wall = run_to_end(run_args(out, "stages.fetch.backoff_s=0.05"), logs, env)
    fired = read_fault_log(log)
    rejects = run_query(out, "select reason, detail from rejects where level = 'input'").to_pylist()
    problems = _disk_full_problems(rc, stderr, out)
    enospc_rejects = [r["reason"] for r in rejects if "no space left" in r["detail"].lower()]
    if enospc_rejects:
        problems.append(f"inputs committed as rejects because the disk was full: {enospc_rejects}")
    report(
        f"disk full (workers): rc {rc}, {wall:.1f} s, ENOSPC raised {len(fired)} times in "
        f"{len({f['pid'] for f in fired})} processes; input rejects {[r['reason'] for r in rejects]}"
    )
    assert fired, "the fault never fired in a worker"
    rc2, _, stderr2, wall2 = run_to_end(run_args(out), logs)
    assert rc2 == 0, stderr2[-3000:]
    try:
        counts = assert_complete(out, reference["ids"])
        report(
            f"disk full (workers) rerun: {wall2:.1f} s, rows compared with the reference {counts}: equal"
        )
    except AssertionError as exc:
        problems.append(f"rerun after freeing space: {exc}")
    assert not problems, problems
