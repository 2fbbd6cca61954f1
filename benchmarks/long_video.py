"""Long videos in bounded memory: peak RSS of every worker and of the driver for one demo
video of 10 min, 30 min and 2 h, and of sampling 512 trainer frames from each.

    PYTHONPATH=. .venv/bin/python benchmarks/long_video.py [--durations 600 1800 7200]
        [--width 320] [--height 180] [--fps 10] [--work /tmp/longvid-long]

Each duration is a demo world of one video (hard cuts, `--width`x`--height` at `--fps`,
rendered once per benchmark run into WORK/long_<seconds>/demo_world) built through
fetch -> segment -> caption (annotations) -> qa -> validate on a local Ray with 2 CPUs,
in a fresh driver process (benchmarks/builds.py). Worker peaks are VmHWM read inside
the Ray worker after every stage of every input (the stage accounts' `peak_rss_mb`; the
CPU stages share one fused worker, so a stage's peak is the worker's high-water mark
when that stage finished); the driver's peak is its VmHWM at exit.

The decode pass keeps per-frame and per-sample arrays whose size grows with duration
(frame times, detector scores, sampled-frame statistics); `decode_bytes` measures them
directly after `decode_pass` and reports bytes per video-second, next to the frame
buffers that must stay flat.

Trainer sampling: in a fresh process, 512 timestamps spread over the whole video decoded
at 224x224 through `longvid.data.frames.decode_frames` (the pipeline's one timestamp
decoder); peak RSS against the 512 frames it must hold (77 MB) and CPU per frame.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from builds import REPO, load_average, render_world, run_build, vm_hwm_mb  # noqa: E402

MB = 1024 * 1024
SAMPLED_FRAMES, FRAME_SIZE = 512, 224


def overrides(seconds: int, width: int, height: int, fps: int) -> list[str]:
    return [
        "source.demo.videos=1",
        f"source.demo.min_duration_s={seconds}",
        f"source.demo.max_duration_s={seconds}",
        f"source.demo.width={width}",
        f"source.demo.height={height}",
        f"source.demo.fps={fps}",
        f"stages.fetch.max_duration_s={seconds + 600}",
        "ray.num_cpus=2",
        "shards.videos_per_commit=1",
    ]


def media_of(out: Path) -> Path:
    return next((out / "media").glob("*.mp4"))


def decode_bytes(path: Path) -> dict[str, Any]:
    """Bytes the decode pass keeps that grow with duration, per video-second."""
    from longvid_pipeline.segmenting.decode import DecodeSettings, decode_pass
    from longvid_pipeline.segmenting.shots import ContentDetector

    detector = ContentDetector(
        frame_size=(48, 27), min_score=8.0, adaptive_ratio=3.0, window=2, min_shot_s=0.6
    )
    result = decode_pass(str(path), DecodeSettings(detector_resize="box"), detector.consume)
    duration = float(result.frame_times[-1])
    kept = {
        "frame_times": _nbytes(result.frame_times),
        "keyframe_times": _nbytes(result.keyframe_times),
        "detector_scores": sum(_nbytes(a) for a in (*detector._scores, *detector._times)),
        "sample_stats": result.stats.nbytes(),
    }
    return {
        "video_s": round(duration),
        "frames": len(result.frame_times),
        "samples": len(result.stats),
        **{f"{key}_mb": round(value / MB, 2) for key, value in kept.items()},
        "bytes_per_video_s": round(sum(kept.values()) / duration),
    }


def _nbytes(value: Any) -> int:
    """Bytes of an array or a list of floats as held (a Python float is 24 B + 8 B slot)."""
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    return 32 * len(value) + 56


def sample_child(path: str) -> None:
    """Child body: decode 512 frames spread over the video at 224x224."""
    from longvid.data.frames import decode_frames
    from longvid_pipeline.media.probe import probe
    from longvid_pipeline.stage import cpu_seconds

    duration = probe(path).duration_s
    stamps = [(i + 0.5) * duration / SAMPLED_FRAMES for i in range(SAMPLED_FRAMES)]
    baseline = vm_hwm_mb()
    started, cpu0 = time.perf_counter(), cpu_seconds()
    frames = decode_frames(path, stamps, FRAME_SIZE)
    print(
        json.dumps(
            {
                "frames": len(frames),
                "wall_s": round(time.perf_counter() - started, 2),
                "cpu_ms_per_frame": round(1000 * (cpu_seconds() - cpu0) / len(frames), 2),
                "rss_before_mb": round(baseline, 1),
                "peak_rss_mb": round(vm_hwm_mb(), 1),
                "frames_held_mb": round(frames.nbytes / MB, 1),
            }
        )
    )


def sample_frames(path: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--sample-child", str(path)]
    env = {"PYTHONPATH": str(REPO)}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_duration(work: Path, seconds: int, args: argparse.Namespace) -> dict[str, Any]:
    out = work / f"long_{seconds}"
    settings = overrides(seconds, args.width, args.height, args.fps)
    render_s = render_world(out, settings)
    build = run_build(out, settings)
    stages = build["stages"]
    return {
        "video_s": seconds,
        "render_s": round(render_s, 1),
        "wall_s": build["run_wall_s"],
        "load": [build["load_before"], build["load_after"]],
        "rows": build["tables"],
        "driver_peak_rss_mb": build["driver_peak_rss_mb"],
        "worker_peak_rss_mb": {name: stage["peak_rss_mb"] for name, stage in stages.items()},
        "stage_cpu_s": {name: stage["cpu_s"] for name, stage in stages.items()},
        "decode_pass": decode_bytes(media_of(out)),
        "sample_512": sample_frames(media_of(out)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--durations", type=int, nargs="+", default=[600, 1800, 7200])
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--work", default="/tmp/longvid-long")
    parser.add_argument("--sample-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sample_child:
        sample_child(args.sample_child)
        return
    work = Path(args.work)
    report = {"load_at_start": load_average(), "runs": []}
    for seconds in args.durations:
        report["runs"].append(one_duration(work, seconds, args))
        print(json.dumps(report["runs"][-1]), flush=True)
    runs = report["runs"]
    first, last = runs[0], runs[-1]
    report["ratios_longest_over_shortest"] = {
        "duration": round(last["video_s"] / first["video_s"], 1),
        "driver_peak_rss": round(last["driver_peak_rss_mb"] / first["driver_peak_rss_mb"], 3),
        **{
            f"{stage}_peak_rss": round(peak / first["worker_peak_rss_mb"][stage], 3)
            for stage, peak in last["worker_peak_rss_mb"].items()
        },
        "sample_512_peak_rss": round(
            last["sample_512"]["peak_rss_mb"] / first["sample_512"]["peak_rss_mb"], 3
        ),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
