"""Evaluation throughput of each model adapter with tiny random-weight models on CPU.

Why: the evaluator must keep the model busy (frames decoded ahead in DataLoader
workers, batched generation). For each adapter this prints samples per wall second,
samples per CPU second (the evaluator and its decode workers, model loading excluded:
robust on a shared machine), and the model's busy share (generate seconds per wall second; 1.0 means the
model never waited for frames). `--mc-scoring generate` against the default `auto` (options
scored by likelihood) gives what likelihood scoring costs.

    python benchmarks/eval.py [--out out/demo] [--split test] [--limit 24] [--workers 2]
        [--batch-size 4] [--max-new-tokens 8] [--adapters longvid,hf_llava,hf_qwen_vl]
        [--mc-scoring auto|likelihood|generate]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from longvid.eval.cli import main  # noqa: E402


def tiny_model(name: str, folder: Path, data_root: Path) -> dict:
    """`model` section of a config for a freshly built tiny model of adapter `name`."""
    from support.eval import tiny_llava, tiny_longvid_checkpoint, tiny_qwen2_vl

    if name == "longvid":
        tiny_longvid_checkpoint(folder, data_root, max_frames=8)
        return {"name": "longvid", "options": {"checkpoint": str(folder)}}
    if name == "hf_llava":
        source = tiny_llava(folder)
        return {"name": "hf_llava", "options": {"source": str(source), "frames": 50}}
    if name == "hf_qwen_vl":
        source = tiny_qwen2_vl(folder)
        options = {"source": str(source), "frames": 16, "max_pixels": 112 * 112}
        return {"name": "hf_qwen_vl", "options": options}
    raise SystemExit(f"unknown adapter {name!r}")


def measure(args: argparse.Namespace, name: str, root: Path) -> dict:
    """One adapter over the selected samples; the evaluator's own throughput figures."""
    config = {
        "output_dir": str(root / name / "eval"),
        "baselines": [],
        "model": tiny_model(name, root / name / "model", Path(args.out)),
        "data": {
            "root": args.out,
            "splits": [args.split],
            "limit": args.limit,
            "workers": args.workers,
        },
        "generation": {
            "batch_size": args.batch_size,
            "max_new_tokens": args.max_new_tokens,
            "mc_scoring": args.mc_scoring,
        },
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    wall = time.perf_counter()
    if main([str(path)]) != 0:
        raise SystemExit(f"{name}: evaluation failed")
    wall = time.perf_counter() - wall
    figures = json.loads((root / name / "eval" / "results.json").read_text())["throughput"]["model"]
    samples = figures["samples"]
    return {
        "adapter": name,
        "mc_scoring": args.mc_scoring,
        "samples": samples,
        "samples_per_s": round(figures["samples_per_s"], 3),
        "samples_per_cpu_s": round(figures["samples_per_cpu_s"], 3),
        "model_busy_share": round(figures["model_busy_share"], 3),
        "cli_wall_s": round(wall, 1),
    }


def run() -> None:
    """Measure every requested adapter and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--adapters", default="longvid,hf_llava,hf_qwen_vl")
    parser.add_argument("--mc-scoring", default="auto", choices=("auto", "likelihood", "generate"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        for name in args.adapters.split(","):
            print(json.dumps(measure(args, name, Path(temp))), flush=True)


if __name__ == "__main__":
    run()
