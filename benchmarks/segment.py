"""Segment stage speed against the physical limit: a plain full ffmpeg decode of the same file.

Usage:
    .venv/bin/python benchmarks/segment.py [--seconds 120] [--videos 2] [--transnet-seconds 20]

Renders demo-world videos (known cuts), re-encodes them the way fetch normalizes
(libx264 veryfast, keyframe every 2 s), then, in one run on the same files, measures
video-seconds per CPU-second (children included: ffmpeg runs as a child process) of
`ffmpeg -i FILE -f null -` and of the segment stage, and prints their ratio and the cut
F1. Timings on a shared machine are noisy, so only the ratio is meaningful; each
measurement is repeated and the best taken.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from longvid_pipeline.demo_world import render_video
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media import ffmpeg_binary, probe, run_ffmpeg
from longvid_pipeline.shots import cut_f1
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.segment import SegmentConfig, SegmentStage


def cpu_seconds() -> float:
    """CPU time of this process and its finished children, user + system."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best_cpu(run: Callable[[], object], repeats: int) -> float:
    """Least CPU seconds over `repeats` runs (noise only ever adds time)."""
    costs = []
    for _ in range(repeats):
        start = cpu_seconds()
        run()
        costs.append(cpu_seconds() - start)
    return min(costs)


def ffmpeg_decode(path: Path) -> None:
    """The physical limit: decode every frame, do nothing with it."""
    subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-nostdin", "-i", str(path), "-an", "-f", "null", "-"],
        check=True,
    )


def make_video(folder: Path, seed: int, seconds: float) -> tuple[Path, list[float]]:
    """A demo-world video re-encoded like fetch normalization, and its true cuts."""
    raw = folder / f"raw{seed}.mp4"
    sidecar = render_video(
        raw, folder / f"raw{seed}.json", duration_s=seconds, seed=seed, width=640, height=360, fps=30,
        min_scene_s=2.0, max_scene_s=12.0,
    )  # fmt: skip
    path = folder / f"video{seed}.mp4"
    run_ffmpeg(
        [
            "-i",
            str(raw),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-g",
            "60",
            "-c:a",
            "aac",
            str(path),
        ]
    )
    return path, list(sidecar["cuts_s"])


def segment_item(path: Path) -> WorkItem:
    info = probe(path)
    video = {"video_id": "v-bench", "duration_s": info.duration_s, "fps": info.fps}
    return WorkItem(
        input_id="in-bench",
        source={"url": str(path)},
        source_kind="demo",
        video=video,
        media_path=str(path),
    )


def measure(stage: SegmentStage, path: Path, truth: list[float], repeats: int) -> dict[str, float]:
    duration = probe(path).duration_s
    limit = best_cpu(lambda: ffmpeg_decode(path), repeats)
    done: list[WorkItem] = []
    cost = best_cpu(lambda: done.append(stage.run_item(segment_item(path))), repeats)
    starts = sorted(
        c for clip in done[-1].clips for c in [clip["start_s"], *clip["shot_boundaries_s"]] if c > 0
    )
    return {
        "seconds": duration,
        "decode_vs_per_cpu_s": duration / limit,
        "stage_vs_per_cpu_s": duration / cost,
        "ratio": limit / cost,
        "f1": cut_f1(starts, truth, 0.5)[2],
    }


def report(name: str, row: dict[str, float]) -> None:
    print(
        f"{name:34s} {row['seconds']:6.1f} s  ffmpeg decode {row['decode_vs_per_cpu_s']:6.1f} vs/cpu-s  "
        f"segment {row['stage_vs_per_cpu_s']:6.1f} vs/cpu-s  ratio {row['ratio']:.2f}  F1 {row['f1']:.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=120.0, help="length of each content-detector video"
    )
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument(
        "--transnet-seconds", type=float, default=20.0, help="0 skips transnetv2 (slow on CPU)"
    )
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        context = RunContext(out_dir=str(folder / "out"))
        content = SegmentStage(SegmentConfig(detector="content"), context)
        ratios = []
        for seed in range(args.videos):
            path, truth = make_video(folder, seed, args.seconds)
            row = measure(content, path, truth, args.repeats)
            ratios.append(row["ratio"])
            report(f"content  video{seed} 640x360 30fps", row)
        print(
            f"content: mean ratio to the full-decode limit {sum(ratios) / len(ratios):.2f} (target >= 0.8)"
        )
        if args.transnet_seconds > 0:
            path, truth = make_video(folder, 99, args.transnet_seconds)
            transnet = SegmentStage(
                SegmentConfig(detector="transnetv2", transnetv2_device="cpu"), context
            )
            report("transnetv2 (CPU) 640x360 30fps", measure(transnet, path, truth, 1))


if __name__ == "__main__":
    main()
