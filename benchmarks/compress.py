"""Token compression benchmark: LLM tokens and compressor time for 64 frames at 224 px.

Why: the point of HiCo/SlowFast is fewer video tokens into the LLM at little cost; this
prints, per compressor, the tokens the LLM sees, the ratio to no compression and the
compressor's forward time on SigLIP-base-sized patch tokens (224 px / patch 16 = 196
tokens per frame, width 768). Reference: HiCo keeps 16 tokens per frame, ~1/12 of 196.
With --train-steps it also measures training samples/s of the tiny preset on CPU.

    python benchmarks/compress.py [--frames 64] [--repeats 5] [--device cpu] [--train-steps 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from longvid.model.compressors import (
    HiCoCompressor,
    NoCompression,
    PoolCompressor,
    SlowFastCompressor,
    TokenCompressor,
)

GRID = (14, 14)  # 224 px, patch 16
WIDTH = 768  # SigLIP-base hidden size


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_compressor(compressor: TokenCompressor, tokens: torch.Tensor, repeats: int) -> float:
    """Median forward time in milliseconds (after one warm-up call)."""
    with torch.no_grad():
        compressor(tokens, GRID)
        times = []
        for _ in range(repeats):
            _sync(tokens.device)
            start = time.perf_counter()
            compressor(tokens, GRID)
            _sync(tokens.device)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def compression_table(frames: int, repeats: int, device: str = "cpu") -> list[dict[str, object]]:
    """One row per compressor: LLM tokens, tokens per frame, ratio, forward ms."""
    torch.manual_seed(0)
    tokens = torch.randn(frames, GRID[0] * GRID[1], WIDTH, device=device)
    compressors = {
        "none": NoCompression(),
        "hico": HiCoCompressor(),
        "slowfast": SlowFastCompressor(),
        "pool": PoolCompressor(),
    }
    full = NoCompression().num_tokens(frames, GRID)
    rows = []
    for name, compressor in compressors.items():
        count = compressor.num_tokens(frames, GRID)
        rows.append(
            {
                "compressor": name,
                "llm_tokens": count,
                "tokens_per_frame": count / frames,
                "ratio": count / full,
                "forward_ms": round(time_compressor(compressor, tokens, repeats), 2),
            }
        )
    return rows


def tiny_training_rate(steps: int, workers: int) -> dict[str, float]:
    """Samples/s of the tiny preset on CPU over `steps` steps on freshly made demo shards."""
    from support.shards import make_demo_shards, tiny_train_config

    from longvid.train.cli import main

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_demo_shards(root / "shards")
        config = tiny_train_config(root / "shards", root / "run", steps=steps)
        config["data"]["workers"] = workers
        (root / "tiny.yaml").write_text(yaml.safe_dump(config))
        main([str(root / "tiny.yaml")])
        records = [
            json.loads(line) for line in (root / "run" / "log.jsonl").read_text().splitlines()
        ]
    steady = records[2:] or records
    return {
        "samples_per_s": round(statistics.median(r["samples_per_s"] for r in steady), 1),
        "tokens_per_sample": round(statistics.mean(r["tokens_per_sample"] for r in steady), 1),
        "batch_size": config["trainer"]["batch_size"],
        "decode_workers": workers,
    }


def main() -> None:
    """Print the compression table (and the tiny training rate when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="where compressors run (cpu, cuda)")
    parser.add_argument(
        "--train-steps", type=int, default=0, help="also time tiny-preset training (0: skip)"
    )
    parser.add_argument(
        "--train-workers",
        type=int,
        default=1,
        help="DataLoader decode workers when timing training",
    )
    args = parser.parse_args()
    print(
        f"{args.frames} frames, 224 px, {GRID[0] * GRID[1]} patch tokens/frame, width {WIDTH}, "
        f"device {args.device}, torch threads {torch.get_num_threads()}"
    )
    print(f"{'compressor':<10} {'llm_tokens':>10} {'tok/frame':>9} {'ratio':>8} {'forward_ms':>10}")
    for row in compression_table(args.frames, args.repeats, args.device):
        print(
            f"{row['compressor']:<10} {row['llm_tokens']:>10} {row['tokens_per_frame']:>9.2f} "
            f"{row['ratio']:>8.4f} {row['forward_ms']:>10.2f}"
        )
    if args.train_steps:
        print(
            "tiny preset training on CPU:", tiny_training_rate(args.train_steps, args.train_workers)
        )


if __name__ == "__main__":
    main()
