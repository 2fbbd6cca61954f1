"""Training benchmark: samples/s and peak memory of one training step at long frame counts,
with the vision tower run in frame chunks, and with in-LLM visual dropout.

Why: VideoChat-Flash trains on up to 512 frames; encoding them in one tower call holds every
frame's activations at once. Each configuration runs in a fresh subprocess so its peak
resident memory (ru_maxrss) is its own; the figure reported is the peak above the process's
memory right before the first step (model built, data made), so it is what the step adds.
The tower trains (stage 2/3 of the schedule), so chunks are recomputed in backward.

    PYTHONPATH=. python benchmarks/train.py [--frames 64 512] [--chunks 0 16] [--steps 3]
        [--dropout off uniform] [--device cpu] [--cli-steps 20]

`--cli-steps N` also times the real CLI (compress.py's tiny_training_rate: tiny preset, demo
shards, 4..8 frames).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

DROPOUT = {"layers": [1], "keep": [1.0, 0.25]}  # the tiny LLM has 2 layers


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def step_figures(frames: int, chunk: int, dropout: str, steps: int, device: str) -> dict:
    """In this process: samples/s and peak memory above the pre-step level for one setting."""
    from longvid.data.samples import IGNORE_INDEX
    from longvid.model import HiCoCompressor, Visual, tiny

    torch.manual_seed(0)
    model, _ = tiny(
        HiCoCompressor(),
        visual_dropout={"mode": dropout, **DROPOUT},
        encoder_chunk_frames=chunk,
    )
    model.to(device).train()
    model.set_trainable(["encoder", "compressor", "projector", "llm"])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    video = torch.randn(frames, 3, 64, 64, device=device)
    tokens = model.num_video_tokens(frames)
    ids = torch.tensor([[5, 6] + [model.video_token_id] * tokens + [7, 8, 9, 10]], device=device)
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[0, -3:] = ids[0, -3:]
    before = _peak_kib() if device == "cpu" else 0
    if device != "cpu":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = model(ids, visuals=[[Visual("video", video)]], labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak_mib = (
        (_peak_kib() - before) / 1024
        if device == "cpu"
        else torch.cuda.max_memory_allocated() / 2**20
    )
    return {
        "frames": frames,
        "chunk": chunk,
        "dropout": dropout,
        "llm_tokens": int(ids.shape[1]),
        "samples_per_s": round(1 / statistics.median(times), 2),
        "peak_mib": round(peak_mib, 1),
    }


def run_isolated(frames: int, chunk: int, dropout: str, steps: int, device: str) -> dict:
    """`step_figures` in a fresh interpreter (its own peak memory)."""
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); import train; "
        f"print(json.dumps(train.step_figures({frames}, {chunk}, {dropout!r}, {steps}, {device!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--chunks", type=int, nargs="+", default=[0, 16])
    parser.add_argument("--dropout", nargs="+", default=["off"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cli-steps", type=int, default=0)
    parser.add_argument("--cli-workers", type=int, default=1)
    args = parser.parse_args()
    print(f"tiny preset, 64 px, one sample per step, tower trains, device {args.device}")
    print(
        f"{'frames':>6} {'chunk':>5} {'dropout':>8} {'llm_tok':>7} {'samples/s':>9} {'peak_MiB':>8}"
    )
    for frames in args.frames:
        for chunk in args.chunks:
            for dropout in args.dropout:
                row = run_isolated(frames, chunk, dropout, args.steps, args.device)
                print(
                    f"{row['frames']:>6} {row['chunk']:>5} {row['dropout']:>8} "
                    f"{row['llm_tokens']:>7} {row['samples_per_s']:>9} {row['peak_mib']:>8}"
                )
    if args.cli_steps:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # support.*
        from compress import tiny_training_rate  # the CLI timing lives with compress.py

        print("tiny preset through the CLI:", tiny_training_rate(args.cli_steps, args.cli_workers))


if __name__ == "__main__":
    main()
