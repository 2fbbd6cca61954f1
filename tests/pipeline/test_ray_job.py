"""`ray job submit` against a Ray head this test starts on 127.0.0.1: the cluster path.

The job's driver finds the cluster through RAY_ADDRESS (set by the job agent), so the
pipeline joins the head instead of starting a local Ray. Slow (a head, a dashboard, a
job); CI still runs it.

The machine is shared (other builds, other engineers' tests): `ray stop` would kill every
Ray on it. So the test's head runs as `ray start --head --block` in a process group of
its own, and is stopped by signalling that group only; a second Ray, started beside it,
must still be running afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from longvid_pipeline.query import run_query

pytestmark = pytest.mark.slow(minutes=1.5)

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


Process = tuple[int, int]  # (pid, start time): a pid alone may be reused meanwhile


def _processes() -> dict[Process, tuple[int, int]]:
    """Live (not zombie) processes: (pid, start time) -> (parent pid, process group)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                table[(int(stat.parent.name), int(fields[19]))] = (int(fields[1]), int(fields[2]))
    return table


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def group_members(pgid: int) -> list[str]:
    """Command lines of the live processes in process group `pgid`."""
    return [_cmdline(pid) for (pid, _), (_, group) in _processes().items() if group == pgid]


def descendants(pid: int) -> set[Process]:
    """Every live process started, directly or not, by `pid` (Ray workers may leave the
    group of the raylet that started them, never its family)."""
    children: dict[int, list[Process]] = {}
    for process, (parent, _) in _processes().items():
        children.setdefault(parent, []).append(process)
    found: set[Process] = set()
    todo = [pid]
    while todo:
        for process in children.get(todo.pop(), []):
            if process not in found:
                found.add(process)
                todo.append(process[0])
    return found


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@dataclass
class Head:
    """A `ray start --head --block` in its own process group."""

    process: subprocess.Popen[bytes]
    gcs_port: int
    address: str  # the job API (dashboard) URL, or "" without a dashboard
    env: dict[str, str]
    log: Path
    link: Path  # the short /tmp link to its temp dir
    family: set[Process] | None = None  # its processes, recorded when it was stopped

    # The leader is never reaped before `stop_head`: while its pid is held, the group id
    # cannot be reused by anyone else, so signalling the group reaches only this head.
    @property
    def pgid(self) -> int:
        return self.process.pid  # start_new_session: the leader's pid is the group id

    def started(self) -> bool:
        """`ray start` says the node is up (the line it prints before blocking)."""
        return "Ray runtime started" in self.log.read_text(errors="replace")

    def leader_alive(self) -> bool:
        return any(pid == self.pgid for pid, _ in _processes())

    def running(self) -> bool:
        members = " ".join(group_members(self.pgid))
        return self.leader_alive() and "raylet" in members and "gcs_server" in members


def _wait_until(ready: object, head: Head, what: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not head.leader_alive():
            raise RuntimeError(f"ray start exited before {what}: see {head.log}")
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout_s} s")


def _dashboard_up(address: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{address}/api/version", timeout=2):
        return True
    return False


def start_head(temp: Path, name: str, dashboard: bool) -> Head:
    """Start a Ray head on loopback in a new process group, temp dir under the test folder."""
    link = Path("/tmp") / f"lvjob-{os.getpid()}-{name}"  # unix sockets need a short path
    temp.mkdir(parents=True)
    link.symlink_to(temp, target_is_directory=True)
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONUNBUFFERED": "1",  # `ray start` writes its log lines as they happen
    }
    env.pop("RAY_ADDRESS", None)
    gcs_port, dashboard_port = free_port(), free_port()
    # Every port explicit: the defaults (agent 52365, client 10001, ...) collide with any
    # other Ray on the machine, and a head whose job agent cannot bind takes no jobs.
    ports = {
        "ray-client-server-port": free_port(),
        "dashboard-agent-listen-port": free_port(),
        "dashboard-agent-grpc-port": free_port(),
        "runtime-env-agent-port": free_port(),
        "metrics-export-port": free_port(),
        "node-manager-port": free_port(),
        "object-manager-port": free_port(),
        "dashboard-port": dashboard_port,
    }
    command = [
        RAY, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs_port}",
        f"--num-cpus={2 if dashboard else 0}", f"--temp-dir={link}", "--disable-usage-stats",
        f"--include-dashboard={str(dashboard).lower()}", "--dashboard-host=127.0.0.1",
        *(f"--{name}={port}" for name, port in ports.items()),
    ]  # fmt: skip
    log_path = temp / "ray_start.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    address = f"http://127.0.0.1:{dashboard_port}" if dashboard else ""
    return Head(process, gcs_port, address, env, log_path, link)


def wait_ready(head: Head) -> None:
    _wait_until(lambda: head.started() and head.running(), head, "head")
    if head.address:
        _wait_until(lambda: _dashboard_up(head.address), head, "dashboard")


def stop_head(head: Head, grace_s: float = 10) -> None:
    """SIGTERM the head's process group, then SIGKILL what is left of that group and of
    the processes it started (by pid and start time). No other process is signalled."""
    if head.family is not None:
        return  # stopped already
    family = descendants(head.pgid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while group_members(head.pgid) and time.monotonic() < deadline:
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pgid, signal.SIGKILL)
    for pid, _ in family & set(_processes()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    head.process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while family & set(_processes()) and time.monotonic() < deadline:
        time.sleep(0.5)  # SIGKILLed processes still have to be reaped
    head.family = family
    head.link.unlink(missing_ok=True)


def _submit(head: Head, entrypoint: list[str]) -> subprocess.CompletedProcess[str]:
    """`ray job submit`, again while the head's job agent is still registering."""
    for _ in range(30):
        job = subprocess.run(
            [RAY, "job", "submit", "--address", head.address, "--", *entrypoint],
            env=head.env,
            capture_output=True,
            text=True,
            timeout=400,
            cwd=REPO,
        )
        if "No available agent" not in job.stdout + job.stderr:
            return job
        time.sleep(2)
    return job


def test_ray_job_submit_builds_the_demo_on_the_cluster(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        outside = start_head(tmp_path / "outside", "outside", dashboard=False)  # not ours to stop
        stack.callback(stop_head, outside, 0)
        head = start_head(tmp_path / "head", "head", dashboard=True)
        stack.callback(stop_head, head)
        wait_ready(outside)
        wait_ready(head)
        out = tmp_path / "job_out"
        entrypoint = (
            f"{sys.executable} -m longvid_pipeline run {REPO / 'stages' / 'demo.yaml'}"
            f" --out {out} --set source.demo.videos=2 --set source.demo.min_duration_s=20"
            " --set source.demo.max_duration_s=30 --set source.demo.width=320"
            " --set source.demo.height=180"
        )
        job = _submit(head, entrypoint.split())
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
        assert "inputs: 2 = 2 kept + 0 rejected" in job.stdout
        stop_head(head)
        # The test's head is gone, every process it started with it ...
        assert group_members(head.pgid) == [] and head.process.returncode is not None
        assert head.family and not head.family & set(_processes())
        # ... and a Ray that was running beside it was not touched.
        assert outside.running() and port_open(outside.gcs_port)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"]["kept"] == 2
    assert not (out / ".ray").exists(), "the job must join the cluster, not start its own Ray"
    assert run_query(out, "select count(*) as n from videos").to_pylist() == [{"n": 2}]
