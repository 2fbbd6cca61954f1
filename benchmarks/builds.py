"""Shared by the scale benchmarks: render a demo world once, run a build in a fresh driver
process, and read back what it measured.

    from builds import render_world, run_build
    render_world(out, ["source.demo.videos=1", "source.demo.min_duration_s=600", ...])
    result = run_build(out, [...same overrides...], watch_store=True)
    result["driver_peak_rss_mb"], result["stages"]["segment"]["peak_rss_mb"]

Each build runs in a child process (`python benchmarks/builds.py --child ...`), so the
driver's peak RSS (VmHWM) is that build's alone; the workers' peaks come from the stage
accounts (`StageAccount.peak_rss_mb`, VmHWM read inside each Ray worker after every
input), summed as a maximum into manifest.json. With `watch_store` a thread in the driver
polls the raylets every 0.5 s for the object store (plasma objects and bytes) and for the
object references the driver holds (Ray Data's blocks in flight: small blocks are inlined
in the driver's memory, not in plasma, so both are counted).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_average() -> float:
    """One-minute load average (the machine is shared: figures are read against it)."""
    return round(os.getloadavg()[0], 2)


def proc_status_mb(field: str, pid: int | str = "self") -> float:
    """A memory figure of /proc/PID/status (VmHWM: peak resident, VmRSS: resident now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def vm_hwm_mb(pid: int | str = "self") -> float:
    return proc_status_mb("VmHWM", pid)


def render_world(out: Path, overrides: list[str]) -> float:
    """Render the recipe's demo world into OUT/demo_world (cached by digest) in a child
    process, so no build's driver pays for it or holds its memory. Returns seconds."""
    started = time.perf_counter()
    _child(["--render", str(out), *overrides])
    return time.perf_counter() - started


def run_build(
    out: Path,
    overrides: list[str],
    *,
    recipe: str | None = None,
    watch_store: bool = False,
    cores: int | None = None,
) -> dict[str, Any]:
    """Run a recipe into `out` (forced) in a fresh driver; its figures as a dict.

    `cores`: confine the driver and everything it starts (Ray's processes, its workers) to
    the machine's first `cores` cores, so a build given N CPUs has N cores in all."""
    args = ["--build", str(out), "--recipe", recipe or "", *overrides]
    args = [*args, "--watch-store"] if watch_store else args
    try:
        return _child(args, cores)
    except RuntimeError as failed:  # a loaded machine: Ray's own start can time out
        if "timed out during startup" not in str(failed):
            raise
        return _child(args, cores)


def _child(args: list[str], cores: int | None = None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pin = None if cores is None else (lambda: os.sched_setaffinity(0, range(cores)))
    done = subprocess.run(
        [sys.executable, __file__, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=pin,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Sampler(threading.Thread):
    """A daemon thread that calls `take()` every `period_s` until `stop` is set: the
    benchmarks' watchers of the object store, the processes' CPU and the driver's RSS."""

    def __init__(self, period_s: float) -> None:
        super().__init__(daemon=True)
        self.period_s = period_s
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.period_s):
            self.take()

    def take(self) -> None:
        raise NotImplementedError


class StoreWatch(Sampler):
    """Polls the object store of every node and the driver's object references."""

    def __init__(self, period_s: float = 0.5) -> None:
        super().__init__(period_s)
        self.samples: list[dict[str, int]] = []

    def take(self) -> None:
        try:
            self.samples.append(self.sample())
        except Exception:  # a node going away mid-poll: skip that sample
            return

    @staticmethod
    def sample() -> dict[str, int]:
        import ray
        from ray._private.internal_api import node_stats

        plasma_objects = plasma_bytes = driver_refs = 0
        for node in ray.nodes():
            if not node["Alive"]:
                continue
            stats = node_stats(
                node["NodeManagerAddress"], node["NodeManagerPort"], include_memory_info=False
            )
            plasma_objects += stats.store_stats.num_local_objects
            plasma_bytes += stats.store_stats.object_store_bytes_used
            for worker in stats.core_workers_stats:
                if worker.pid == os.getpid():
                    driver_refs = max(driver_refs, worker.num_object_refs_in_scope)
        return {
            "plasma_objects": plasma_objects,
            "plasma_bytes": plasma_bytes,
            "driver_refs": driver_refs,
        }

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {"samples": 0}
        return {
            "samples": len(self.samples),
            **{
                f"max_{key}": max(sample[key] for sample in self.samples) for key in self.samples[0]
            },
        }


class ProcessCpu(Sampler):
    """CPU-seconds of every process on the machine, grouped by what it is (the driver,
    raylet, gcs_server, each kind of Ray worker by its process title): where the machine's
    busy CPU goes besides the stages. Sampled every `period_s` from /proc; a process's
    last sample counts, so one that lives less than a period is missed."""

    def __init__(self, period_s: float = 1.0) -> None:
        super().__init__(period_s)
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start_cpu = self._snapshot()  # pid -> (label, CPU-s) before the build
        self.last: dict[int, tuple[str, float]] = {}

    def take(self) -> None:
        """Take a snapshot; a process that has lost its title (exiting) keeps its last one."""
        for pid, (label, cpu_s) in self._snapshot().items():
            if label == "?" and pid in self.last:
                label = self.last[pid][0]
            self.last[pid] = (label, cpu_s)

    def _snapshot(self) -> dict[int, tuple[str, float]]:
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            cpu_s = (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime
            found[int(entry.name)] = (self._label(int(entry.name), title), cpu_s)
        return found

    @staticmethod
    def _label(pid: int, title: str) -> str:
        if pid == os.getpid():
            return "driver"
        if title.startswith("ray::"):
            return title.split("(")[0].split(" ")[0]
        return Path(title).name or "?"

    def summary(self, least_s: float = 0.5) -> dict[str, float]:
        """CPU-s per label spent during the build, largest first (below `least_s` left out)."""
        self.take()
        by_label: dict[str, float] = {}
        for pid, (label, cpu_s) in self.last.items():
            spent = cpu_s - self.start_cpu.get(pid, (label, 0.0))[1]
            by_label[label] = by_label.get(label, 0.0) + spent
        ranked = sorted(by_label.items(), key=lambda pair: -pair[1])
        return {label: round(cpu_s, 1) for label, cpu_s in ranked if cpu_s >= least_s}


def _build(out: str, recipe_path: str, overrides: list[str], watch_store: bool) -> None:
    """Child body: run the build, print one JSON line of figures."""
    import ray

    from longvid_pipeline.raysession import init_ray
    from longvid_pipeline.recipe import DEFAULT_RECIPE, load_recipe
    from longvid_pipeline.runner import run_recipe

    recipe = load_recipe(recipe_path or DEFAULT_RECIPE, overrides)
    load_before = load_average()
    started, cpu0, machine0 = time.perf_counter(), _tree_cpu(), _machine_busy_s()
    processes = ProcessCpu()
    processes.start()
    watch = None
    if watch_store:  # Ray must be up before the watcher's first poll
        init_ray(recipe, Path(out).resolve())
        watch = StoreWatch()
        watch.start()
    try:
        result = run_recipe(recipe, Path(out), force=True)
    finally:
        if watch is not None:
            watch.stop.set()
            watch.join()
        processes.stop.set()
        if ray.is_initialized():
            ray.shutdown()
    manifest = result.manifest
    report = {
        "wall_s": round(time.perf_counter() - started, 2),
        "run_wall_s": round(result.wall_s, 2),
        "tree_cpu_s": round(_tree_cpu() - cpu0, 1),
        "machine_cpu_s": round(_machine_busy_s() - machine0, 1),
        "cpu_by_process": processes.summary(),
        "load_before": load_before,
        "load_after": load_average(),
        "driver_peak_rss_mb": round(vm_hwm_mb(), 1),
        "inputs": manifest["inputs"],
        "tables": manifest["counts"]["tables"],
        "video_hours": manifest["counts"]["video_hours"],
        "stages": manifest["stages"],
        "store": watch.summary() if watch is not None else None,
    }
    print(json.dumps(report))


def _machine_busy_s() -> float:
    """CPU-seconds the whole machine has spent busy (/proc/stat: all but idle and iowait).
    Ray's workers, raylet and GCS are not this driver's children, so on a quiet machine
    this is how the build's CPU is seen whole."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _tree_cpu() -> float:
    """CPU seconds of this driver and every descendant it has reaped (after ray.shutdown:
    Ray's own processes and workers), not of other users of the shared machine."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _render(out: str, overrides: list[str]) -> None:
    from longvid_pipeline.demo.world import generate_world
    from longvid_pipeline.recipe import DEFAULT_RECIPE, load_recipe

    recipe = load_recipe(DEFAULT_RECIPE, overrides)
    videos = generate_world(Path(out) / "demo_world", recipe.source.demo)
    print(json.dumps({"videos": len(videos), "seconds": sum(v.duration_s for v in videos)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--render")
    parser.add_argument("--build")
    parser.add_argument("--recipe", default="")
    parser.add_argument("--watch-store", action="store_true")
    args, overrides = parser.parse_known_args()
    if args.render:
        _render(args.render, overrides)
    else:
        _build(args.build, args.recipe, overrides, args.watch_store)


if __name__ == "__main__":
    main()
