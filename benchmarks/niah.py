"""NIAH benchmark: build 100 samples' rows; render a 3,000- and a 10,000-frame sample with
its peak memory.

    PYTHONPATH=. .venv/bin/python benchmarks/niah.py [--source out/demo] [--samples 100]
        [--lengths 3000 10000] [--no-pipeline]

Rows: the default grid of stages/mh_niah.yaml over the videos of `--source` (built with
the demo recipe when it has none), 100 samples spread over both benchmarks, built in
process (needles drawn and PNG-encoded, chains, haystack plan, checks), and the same 100
through the recipe (Ray start, niah + validate actors, writer) as wall time.

Render: each sample is rendered in a child process (`render_sample`: frames decoded by
timestamp, streamed into ffmpeg). The limit is reading the same frames: the child also
runs a decode-only pass over the sample's frames, so `render / decode` (CPU seconds,
ffmpeg included) says what encoding and piping add. Peak RSS of the child (Python) and of
ffmpeg are their VmHWM; holding
the frames instead (what a loader that returns all frames at once needs) would take
length x width x height x 3 bytes, the ratio's reference. Flat RSS from 3,000 to 10,000
frames is the streaming check.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from longvid_pipeline.config import build_section
from longvid_pipeline.niah.config import NiahConfig
from longvid_pipeline.stage import cpu_seconds

MB = 1024 * 1024


def ensure_source(source: Path) -> None:
    """Build the demo into `source` when it has no committed videos."""
    from longvid_pipeline.api import committed_files

    if committed_files(source, "videos"):
        return
    from longvid_pipeline.recipe import DEFAULT_RECIPE, load_recipe
    from longvid_pipeline.runner import run_recipe

    print(f"building the demo into {source} first", flush=True)
    run_recipe(load_recipe(DEFAULT_RECIPE), source)


def build_rows(source: Path, count: int) -> tuple[list[dict[str, Any]], float]:
    """`count` samples of the default grid (spread over it) and the seconds they took."""
    from longvid_pipeline.niah.build import SampleBuilder
    from longvid_pipeline.niah.grid import SampleSpec, sample_items
    from longvid_pipeline.niah.haystack import load_pool
    from longvid_pipeline.niah.needles import needle_source

    config = NiahConfig()
    items = sample_items(source, config, 0)
    picked = [items[round(i * len(items) / count)] for i in range(min(count, len(items)))]
    builder = SampleBuilder(config, needle_source(config.needles, source / ".niah_images"))
    pool = load_pool(source)
    started = time.perf_counter()
    rows = [builder.build(SampleSpec.from_source(i.source), pool, i.input_id) for i in picked]
    return rows, time.perf_counter() - started


def pipeline_wall(source: Path, count: int) -> float:
    from longvid_pipeline.recipe import RECIPE_DIR, load_recipe
    from longvid_pipeline.runner import run_recipe

    recipe = load_recipe(
        RECIPE_DIR / "mh_niah.yaml", [f"source.path={source}", f"source.limit={count}"]
    )
    with tempfile.TemporaryDirectory(dir=source.parent) as out:
        return run_recipe(recipe, Path(out)).wall_s


def sample_of_length(source: Path, length: int) -> dict[str, Any]:
    """A mid-depth sample of `length` frames (multi-hop up to 3,000, else single-hop)."""
    from longvid_pipeline.niah.build import SampleBuilder
    from longvid_pipeline.niah.grid import SampleSpec, sample_items
    from longvid_pipeline.niah.haystack import load_pool
    from longvid_pipeline.niah.needles import needle_source

    config, problems = build_section(
        NiahConfig,
        {
            "multi_hop": {"lengths": [length], "depths": [60], "samples_per_cell": 3},
            "single_hop": {"lengths": [length], "depths": [60]},
        },
        "niah",
    )
    assert not problems, problems
    items = sample_items(source, config, 0)
    benchmark = "mh_niah" if length <= 3000 else "v_niah"
    item = [i for i in items if i.source["benchmark"] == benchmark][-1]
    builder = SampleBuilder(config, needle_source(config.needles, source / ".niah_images"))
    return builder.build(SampleSpec.from_source(item.source), load_pool(source), item.input_id)


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM of a process: its peak resident set since exec (getrusage's ru_maxrss also
    counts what the parent held when it forked, so it overstates a child)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ChildPeak(threading.Thread):
    """Polls this process's children (ffmpeg) for their peak RSS until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            for tasks in Path("/proc/self/task").glob("*/children"):
                for pid in tasks.read_text().split():
                    try:
                        self.peak_mb = max(self.peak_mb, peak_rss_mb(pid))
                    except OSError:  # it just exited
                        continue


def child(mode: str, row_path: str, target: str) -> None:
    """In a fresh process: render (or only decode) one sample, print time, CPU and peak RSS."""
    from longvid_pipeline.niah.render import iter_sample_frames, render_sample

    row = pickle.loads(Path(row_path).read_bytes())
    baseline = peak_rss_mb()
    watcher = ChildPeak()
    watcher.start()
    started, cpu0 = time.perf_counter(), cpu_seconds()
    if mode == "render":
        frames = render_sample(row, Path(target)).frames
    else:
        frames = sum(1 for _ in iter_sample_frames(row))
    watcher.stop.set()
    watcher.join()
    result = {
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(cpu_seconds() - cpu0, 2),
        "frames": frames,
        "rss_baseline_mb": round(baseline, 1),
        "rss_mb": round(peak_rss_mb(), 1),
        "ffmpeg_rss_mb": round(watcher.peak_mb, 1),
    }
    print(json.dumps(result))


def run_child(mode: str, row: dict[str, Any], folder: Path) -> dict[str, Any]:
    row_path = folder / f"{row['sample_id']}.pkl"
    row_path.write_bytes(pickle.dumps(row))
    target = folder / f"{row['sample_id']}.mp4"
    command = [sys.executable, __file__, "--child", mode, str(row_path), str(target)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--source", default="out/demo", help="built output whose videos are the haystack"
    )
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--lengths", type=int, nargs="+", default=[3000, 10000])
    parser.add_argument("--no-pipeline", action="store_true", help="skip the recipe run")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    source = Path(args.source).resolve()
    ensure_source(source)
    rows, seconds = build_rows(source, args.samples)
    report: dict[str, Any] = {
        "rows": {
            "samples": len(rows),
            "seconds": round(seconds, 2),
            "ms_per_sample": round(1000 * seconds / len(rows), 1),
            "png_kb_per_sample": round(
                sum(len(n["png"]) for r in rows for n in r["needles"]) / len(rows) / 1024, 1
            ),
        }
    }
    if not args.no_pipeline:
        report["rows"]["pipeline_wall_s"] = round(pipeline_wall(source, args.samples), 1)
    with tempfile.TemporaryDirectory() as folder:
        for length in args.lengths:
            row = sample_of_length(source, length)
            rendered = run_child("render", row, Path(folder))
            decoded = run_child("decode", row, Path(folder))
            held_mb = length * row["width"] * row["height"] * 3 / MB
            report[f"render_{length}"] = {
                **rendered,
                "frames_per_s": round(rendered["frames"] / rendered["wall_s"], 1),
                "decode_only_cpu_s": decoded["cpu_s"],
                "render_over_decode_cpu": round(rendered["cpu_s"] / decoded["cpu_s"], 2),
                "all_frames_held_mb": round(held_mb),
                "rss_over_all_frames": round(
                    (rendered["rss_mb"] + rendered["ffmpeg_rss_mb"]) / held_mb, 3
                ),
            }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
