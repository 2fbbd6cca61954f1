"""The driver's ceiling: how many inputs per second the runner and the shard writer carry
when the stages cost nothing.

Usage:
    PYTHONPATH=. .venv/bin/python benchmarks/driver.py [--inputs 1000 10000 100000]
        [--qa 50] [--clips 5] [--cpus 2] [--per-execution 10000] [--out /tmp/lv-driver]

A manifest of N synthetic URLs goes through the real runner (sources, Ray Data operators,
the shard writer and its commits, the manifest) with one stage, `synthetic`, that makes a
`videos` row, `--clips` clips and `--qa` QA rows per input from nothing. Every row fits
its contract (values are made from the contract's Arrow types), so the writer does its
full work. It prints inputs/s, rows/s and the driver's peak RSS for each N: a real build
is bound by its stages only while these stay far above what the stages deliver (a
LongVid-sized build: 114k videos on 50 nodes, ~10 videos/s at most). `--per-execution`
is the recipe's `ray.inputs_per_execution` (a fresh Ray Data execution per slice).
`--timeline` also prints, for each tenth of the inputs, the rate at which they were
committed (from the commit records' times) and the driver's largest RSS meanwhile (sampled
every 2 s): flat columns mean the run does not slow down or grow as it goes.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from longvid_pipeline.recipe import RayConfig, Recipe, ShardsConfig, SourceConfig
from longvid_pipeline.runner import run_recipe
from longvid_pipeline.shards import read_commits
from longvid_pipeline.stage import Resources, StageSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from builds import Sampler, proc_status_mb, vm_hwm_mb  # noqa: E402
from support.synthetic import SyntheticConfig, SyntheticStage  # noqa: E402


def write_manifest(path: Path, count: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["url"])
        writer.writerows([f"https://synthetic.test/{i}"] for i in range(count))


class RssSampler(Sampler):
    """The driver's RSS every `period_s`, as (seconds since epoch, MB)."""

    def __init__(self, period_s: float = 2.0) -> None:
        super().__init__(period_s)
        self.samples = [(time.time(), proc_status_mb("VmRSS"))]

    def take(self) -> None:
        self.samples.append((time.time(), proc_status_mb("VmRSS")))


def timeline(
    out: Path, samples: list[tuple[float, float]], parts: int = 10
) -> list[dict[str, float]]:
    """Per tenth of the committed inputs: their commit rate and the driver's peak RSS."""
    done, points = 0, []  # (commit time, inputs committed so far)
    for record in read_commits(out):  # oldest first
        done += len(record["input_ids"])
        points.append((float(record["created_at"]), done))
    start, before = samples[0][0], 0
    rows: list[dict[str, float]] = []
    for part in range(1, parts + 1 if points else 1):
        end, reached = next(p for p in points if p[1] >= done * part / parts)
        if reached == before:  # fewer commits than parts: this tenth ended in the last one
            continue
        rss = [mb for t, mb in samples if start <= t <= end] or [samples[-1][1]]
        rate = (reached - before) / max(end - start, 1e-9)
        rows.append(
            {
                "inputs_done": reached,
                "inputs_per_s": round(rate, 1),
                "driver_rss_mb": round(max(rss)),
            }
        )
        start, before = end, reached
    return rows


def measure(
    count: int, qa: int, clips: int, cpus: int, per_execution: int, root: Path
) -> dict[str, Any]:
    """One build of `count` synthetic inputs; its figures (run in a fresh process)."""
    folder = root / f"n{count}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    manifest = folder / "inputs.csv"
    write_manifest(manifest, count)
    stage = StageSpec(
        name="synthetic", implementation=SyntheticStage, config=SyntheticConfig(qa, clips),
        resources=Resources(num_cpus=1, concurrency=cpus),
    )  # fmt: skip
    recipe = Recipe(
        name="driver", out=str(folder / "out"), seed=0, ray=RayConfig(num_cpus=cpus, inputs_per_execution=per_execution),
        source=SourceConfig(kind="manifest", path=str(manifest)),
        shards=ShardsConfig(videos_per_commit=64), stages=[stage], raw={}, path="benchmark",
    )  # fmt: skip
    started, cpu_started = time.perf_counter(), time.process_time()
    sampler = RssSampler()
    sampler.start()
    result = run_recipe(recipe, progress_every_s=None)
    sampler.stop.set()
    driver_cpu = time.process_time() - cpu_started  # the driver's own CPU, Ray's not
    wall = time.perf_counter() - started
    run_wall = result.manifest["runs"][-1]["wall_s"]  # inputs → committed shards
    rows = sum(result.manifest["counts"]["tables"].values())
    return {"inputs": count, "wall_s": wall, "run_wall_s": run_wall,
            "inputs_per_s": count / run_wall, "rows_per_s": rows / run_wall,
            "finish_s": wall - run_wall, "driver_peak_rss_mb": vm_hwm_mb(),
            "inputs_per_driver_cpu_s": count / driver_cpu,
            "timeline": timeline(folder / "out", sampler.samples)}  # fmt: skip


def measure_in_child(count: int, args: argparse.Namespace) -> dict[str, Any]:
    """Each size in its own process, so the peak RSS is that build's alone."""
    command = [sys.executable, __file__, "--single", str(count), "--qa", str(args.qa),
               "--clips", str(args.clips), "--cpus", str(args.cpus), "--out", str(args.out),
               "--per-execution", str(args.per_execution)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {count}-input build failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--single", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--qa", type=int, default=50)
    parser.add_argument("--clips", type=int, default=5)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--per-execution", type=int, default=RayConfig().inputs_per_execution)
    parser.add_argument("--out", type=Path, default=Path("/tmp/lv-driver"))
    parser.add_argument("--timeline", action="store_true", help="rate and RSS per tenth")
    args = parser.parse_args()
    if args.single:
        print(
            json.dumps(
                measure(args.single, args.qa, args.clips, args.cpus, args.per_execution, args.out)
            )
        )
        return
    print("inputs  run_s  inputs/s  rows/s  manifest+card_s  driver_peak_rss_MB  inputs/driver_CPU_s",
          flush=True)  # fmt: skip
    for count in args.inputs:
        f = measure_in_child(count, args)
        print(f"{count:6d}  {f['run_wall_s']:6.1f}  {f['inputs_per_s']:8.1f}  {f['rows_per_s']:6.0f}  "
              f"{f['finish_s']:15.1f}  {f['driver_peak_rss_mb']:18.0f}  {f['inputs_per_driver_cpu_s']:.1f}", flush=True)  # fmt: skip
        if args.timeline:
            for part in f["timeline"]:
                print(f"    {part['inputs_done']:7d} done  {part['inputs_per_s']:6.1f} inputs/s"
                      f"  driver RSS {part['driver_rss_mb']} MB", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
