"""Scaling on one machine: the same demo build with Ray given 1 and 2 CPUs, and 10x more
inputs with flat memory and a bounded object store.

    PYTHONPATH=. .venv/bin/python benchmarks/scaling.py speedup [--repeats 3] [--pin]
    PYTHONPATH=. .venv/bin/python benchmarks/scaling.py inputs [--counts 6 60]

`speedup`: the default demo world (6 videos, 3-6 min, 640x360; rendered once into
WORK/demo_world) built with `ray.num_cpus` 1 and 2, alternating, `--repeats` times each,
each build in a fresh driver process (benchmarks/builds.py). Prints the median wall
times and their ratio, the one-minute load average around every build (the machine is
shared: wall times move with it), and from the manifest each stage's share of stage CPU
and its busy share (stage wall summed over inputs / (run wall x CPUs)): the stage that
bounds the run is the one whose busy share is highest. `cores_busy` is the machine's busy
CPU-s (/proc/stat: the driver, Ray's own processes, the workers; on a quiet machine, the
build) per wall second: near the machine's core count, what is not stage CPU (driver,
Ray) takes cores from the stages; `cpu_by_process` says which processes spent it.
`--world` picks another size. `--pin` confines each whole build (driver, Ray's processes,
workers) to N cores: without it a build given 1 CPU still has the machine's other cores
for the driver and Ray, so wall(1) flatters the 1-CPU build on a small machine;
`all_cores_busy_ratios` says how far: each pair's ratio had the 2-CPU build kept every
core busy from start to end (its machine CPU-s / 2 over wall(1)).

`inputs`: short demo videos (30-60 s at 320x180) built with 2 CPUs at each of `--counts`
inputs. Prints driver and worker peak RSS (VmHWM; workers measure themselves in the
stage accounts), wall time per input, and the most objects the object store and the
driver held at once (polled every 0.5 s: plasma objects on every node, object
references in scope in the driver), which must not grow with the input count.
`--world` overrides apply here too (e.g. `ray.inputs_per_execution=10`: the references a
Ray Data execution keeps for its blocks go with each slice).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from builds import load_average, render_world, run_build  # noqa: E402

SHORT_WORLD = [
    "source.demo.min_duration_s=30",
    "source.demo.max_duration_s=60",
    "source.demo.max_scene_s=20",
    "source.demo.width=320",
    "source.demo.height=180",
]


def stage_shares(build: dict[str, Any], cpus: int) -> dict[str, dict[str, float]]:
    stages = build["stages"]
    total_cpu = sum(stage["cpu_s"] for stage in stages.values()) or 1.0
    return {
        name: {
            "cpu_share": round(stage["cpu_s"] / total_cpu, 3),
            "busy_share": round(stage["wall_s"] / (build["run_wall_s"] * cpus), 3),
        }
        for name, stage in stages.items()
    }


def speedup(work: Path, repeats: int, world: list[str], pin: bool = False) -> dict[str, Any]:
    out = work / "demo"
    render_world(out, world)
    walls: dict[int, list[float]] = {1: [], 2: []}
    runs = []
    for _ in range(repeats):
        for cpus in (1, 2):
            build = run_build(out, [*world, f"ray.num_cpus={cpus}"], cores=cpus if pin else None)
            walls[cpus].append(build["run_wall_s"])
            runs.append(
                {
                    "cpus": cpus,
                    "wall_s": build["run_wall_s"],
                    "load": [build["load_before"], build["load_after"]],
                    "stage_cpu_s": round(sum(s["cpu_s"] for s in build["stages"].values()), 1),
                    # everything the build ran (driver, Ray's processes, workers) shares the
                    # machine's cores with the stages: the machine's busy CPU-s per wall second
                    "machine_cpu_s": build["machine_cpu_s"],
                    "cores_busy": round(build["machine_cpu_s"] / build["wall_s"], 2),
                    "cpu_by_process": build["cpu_by_process"],
                    "stages": stage_shares(build, cpus),
                }
            )
            print(json.dumps(runs[-1]), flush=True)
    median = {cpus: statistics.median(values) for cpus, values in walls.items()}
    return {
        "median_wall_s": median,
        "pinned": pin,
        "wall2_over_wall1": round(median[2] / median[1], 3),
        "pairwise_ratios": [round(b / a, 3) for a, b in zip(walls[1], walls[2], strict=True)],
        # What each ratio would be had the 2-CPU build kept both cores busy throughout (its
        # machine CPU over 2 cores, over the 1-CPU wall): the floor on this machine, where
        # the 1-CPU build's driver and Ray run on the second core for free.
        "all_cores_busy_ratios": [
            round(two["machine_cpu_s"] / 2 / one["wall_s"], 3)
            for one, two in zip(runs[0::2], runs[1::2], strict=True)
        ],
        "runs": runs,
    }


def inputs(work: Path, counts: list[int], overrides: list[str]) -> dict[str, Any]:
    results = []
    for count in counts:
        out = work / f"inputs_{count}"
        settings = [*SHORT_WORLD, f"source.demo.videos={count}", "ray.num_cpus=2", *overrides]
        render_world(out, settings)
        build = run_build(out, settings, watch_store=True)
        results.append(
            {
                "inputs": count,
                "video_hours": build["video_hours"],
                "wall_s": build["run_wall_s"],
                "wall_s_per_input": round(build["run_wall_s"] / count, 2),
                "load": [build["load_before"], build["load_after"]],
                "driver_peak_rss_mb": build["driver_peak_rss_mb"],
                "worker_peak_rss_mb": {n: s["peak_rss_mb"] for n, s in build["stages"].items()},
                "stage_cpu_s": round(sum(s["cpu_s"] for s in build["stages"].values()), 1),
                "store": build["store"],
            }
        )
        print(json.dumps(results[-1]), flush=True)
    first, last = results[0], results[-1]
    return {
        "runs": results,
        "ratios_last_over_first": {
            "inputs": round(last["inputs"] / first["inputs"], 1),
            "wall": round(last["wall_s"] / first["wall_s"], 2),
            "stage_cpu": round(last["stage_cpu_s"] / first["stage_cpu_s"], 2),
            "driver_peak_rss": round(last["driver_peak_rss_mb"] / first["driver_peak_rss_mb"], 3),
            "worker_peak_rss": {
                name: round(peak / first["worker_peak_rss_mb"][name], 3)
                for name, peak in last["worker_peak_rss_mb"].items()
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("speedup", "inputs"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--counts", type=int, nargs="+", default=[6, 60])
    parser.add_argument(
        "--world", nargs="*", default=[], help="recipe overrides (the demo world's, ray's)"
    )
    parser.add_argument("--work", default="/tmp/longvid-scaling")
    parser.add_argument(
        "--pin", action="store_true", help="speedup: confine each whole build to N cores"
    )
    args = parser.parse_args()
    work = Path(args.work)
    started = load_average()
    if args.what == "speedup":
        report = speedup(work, args.repeats, args.world, args.pin)
    else:
        report = inputs(work, args.counts, args.world)
    print(json.dumps({"load_at_start": started, "load_at_end": load_average(), **report}, indent=1))


if __name__ == "__main__":
    main()
