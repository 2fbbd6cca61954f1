"""Normalizing real inputs: CPU per video-hour of fetch's checks and normalization against
the segment stage, and what each choice costs the readers that seek in the result.

    PYTHONPATH=. .venv/bin/python benchmarks/normalize.py [--seconds 60] [--heights 720 360]
        [--repeats 2] [--work /tmp/longvid-normalize]

Inputs look like YouTube downloads: the textured, moving, noisy scenes of
benchmarks/segment.py (hard cuts every 2-12 s) at 1280x720 and 640x360, 30 fps, H.264
with x264's default keyframe rule (keyint 250, scenecut on: keyframes at cuts and at
least every 8.3 s) and AAC audio. Made once per work folder.

For each input and each way of normalizing it:

- `reencode` (fetch's rule until now: keyframes at most 2 s apart, height <= 720): x264
  veryfast, CRF 23, a keyframe every 2 s;
- `keep` (`fetch.max_keyframe_gap_s: 10`): a stream copy; readers decode from the
  keyframe before each timestamp;
- `reencode_360` (`fetch.max_height: 360`): x264 at 360p, the size every reader scales
  down to anyway (the trainer's 224-448 px, the detector's 48x27, statistics at 160x90);
- `nvenc` (`fetch.encoder: h264_nvenc`, keyframes every 2 s like `reencode`): run only
  where a trial encode with h264_nvenc works (where `fetch.encoder: auto` would pick it:
  not on A100/H100/H200, which have no NVENC); elsewhere the report says why not;

it measures CPU seconds (children included: ffmpeg) of fetch's checks (probe, packet scan,
last-second decode), of normalizing, of the segment stage on the result (its one decode
pass), and of sampling frames from the result through the one timestamp decoder at
224x224: a dense plan (1 fps, the trainer's rate for videos under 8.5 minutes) and a
sparse one (one frame every `--sparse-gap` seconds: 512 frames over an hour are 7 s
apart). Repeats are interleaved and the least CPU kept (the machine is shared: noise
only adds). Figures are per video-hour (CPU-s per hour of video) and per sampled frame.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from builds import load_average  # noqa: E402
from segment import make_textured_video, segment_item  # noqa: E402

from longvid_pipeline.fetching.config import FetchConfig  # noqa: E402
from longvid_pipeline.fetching.inspect import inspect_media  # noqa: E402
from longvid_pipeline.fetching.normalize import (  # noqa: E402
    EncoderMissing,
    normalize,
    resolve_encoder,
    scan_packets,
)
from longvid_pipeline.media.ffmpeg import ffmpeg_binary  # noqa: E402
from longvid_pipeline.media.frames import frames_at  # noqa: E402
from longvid_pipeline.media.probe import probe  # noqa: E402
from longvid_pipeline.segmenting.config import SegmentConfig  # noqa: E402
from longvid_pipeline.stage import RunContext, cpu_seconds  # noqa: E402
from longvid_pipeline.stages.segment import SegmentStage  # noqa: E402

# x264 with its default keyframe rule (keyint 250, min-keyint 25, scenecut 40), as most
# uploads are encoded; veryfast only to keep making the inputs cheap.
YOUTUBE_LIKE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
MODES: dict[str, dict[str, Any]] = {
    "reencode": {"max_keyframe_gap_s": 2.0},  # the old rule: keyframes at most 2 s apart
    "keep": {"max_keyframe_gap_s": 10.0},
    "reencode_360": {"max_height": 360},
    "nvenc": {"max_keyframe_gap_s": 2.0, "encoder": "h264_nvenc"},
}
FRAME = 224


def cpu_of(run: Callable[[], object]) -> float:
    start = cpu_seconds()
    run()
    return cpu_seconds() - start


def make_inputs(work: Path, heights: list[int], seconds: float) -> dict[int, Path]:
    work.mkdir(parents=True, exist_ok=True)
    inputs = {}
    for height in heights:
        width = height * 16 // 9 // 2 * 2
        path = work / f"youtube{height}p{int(seconds)}s7.mp4"
        if not path.exists():
            made = make_textured_video(
                work, 7, seconds, (width, height), YOUTUBE_LIKE, f"youtube{height}p{int(seconds)}s"
            )
            assert made.path == path, made.path
        inputs[height] = path
    return inputs


def keyframe_gaps(path: Path) -> dict[str, float]:
    scan = scan_packets(path)
    return {
        "keyframes": scan.keyframes,
        "mean_gap_s": round(scan.end_s / max(scan.keyframes, 1), 2),
        "max_gap_s": round(scan.max_keyframe_gap_s, 2),
    }


def measure_once(source: Path, mode: str, work: Path) -> dict[str, float]:
    """CPU of each step for one input normalized one way."""
    config = replace(FetchConfig(), **MODES[mode])
    target = work / f"{source.stem}.{mode}.mp4"
    target.unlink(missing_ok=True)
    costs: dict[str, float] = {}
    found: dict[str, Any] = {}

    def check() -> None:
        found["info"], found["scan"] = inspect_media(source, config)

    costs["fetch_checks"] = cpu_of(check)
    costs["normalize"] = cpu_of(
        lambda: found.update(how=normalize(source, target, found["info"], config, found["scan"]))
    )
    stage = SegmentStage(SegmentConfig(), RunContext(out_dir=str(work / "segment_out")))
    stage.setup()
    stage._ready = True
    item = segment_item(target)
    costs["segment"] = cpu_of(lambda: stage.run_item(item))
    duration = probe(target).duration_s
    dense = [i + 0.5 for i in range(int(duration))]
    costs["sample_dense"] = cpu_of(lambda: frames_at(target, dense, width=FRAME, height=FRAME))
    found["dense_frames"] = len(dense)
    return {**costs, "duration_s": duration, "how": found["how"], "frames": len(dense)}


def sparse_cost(target: Path, gap_s: float) -> tuple[float, int]:
    duration = probe(target).duration_s
    stamps = [gap_s / 2 + gap_s * i for i in range(int(duration / gap_s))]
    return cpu_of(lambda: frames_at(target, stamps, width=FRAME, height=FRAME)), len(stamps)


def per_hour(cpu_s: float, duration_s: float) -> float:
    return round(cpu_s * 3600 / duration_s, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--heights", type=int, nargs="+", default=[720, 360])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sparse-gap", type=float, default=7.0)
    parser.add_argument("--work", default="/tmp/longvid-normalize")
    args = parser.parse_args()
    work = Path(args.work)
    modes, nvenc_missing = list(MODES), ""
    try:
        resolve_encoder("h264_nvenc", ffmpeg_binary())
    except EncoderMissing as missing:
        modes.remove("nvenc")
        nvenc_missing = str(missing)
    inputs = make_inputs(work, args.heights, args.seconds)
    report: dict[str, Any] = {"load_at_start": load_average(), "inputs": {}}
    best: dict[tuple[int, str], dict[str, float]] = {}
    sparse: dict[tuple[int, str], float] = {}
    for _ in range(args.repeats):  # interleaved: each repeat runs every (input, mode) once
        for height, source in inputs.items():
            for mode in modes:
                if mode == "reencode_360" and height <= 360:
                    continue  # the same as reencode for an input already at 360p
                costs = measure_once(source, mode, work)
                key = (height, mode)
                kept = best.setdefault(key, costs)
                for name, value in costs.items():
                    if isinstance(value, float) and name != "duration_s":
                        kept[name] = min(kept[name], value)
                cost, count = sparse_cost(work / f"{source.stem}.{mode}.mp4", args.sparse_gap)
                sparse[key] = min(sparse.get(key, cost / count), cost / count)
    for height, source in inputs.items():
        entry: dict[str, Any] = {"source": keyframe_gaps(source), "modes": {}}
        for mode in MODES:
            if (height, mode) not in best:
                continue
            costs = best[(height, mode)]
            duration = costs["duration_s"]
            fetch = costs["fetch_checks"] + costs["normalize"]
            entry["modes"][mode] = {
                "normalized_by": costs["how"],
                "result": keyframe_gaps(work / f"{source.stem}.{mode}.mp4"),
                "cpu_s_per_video_hour": {
                    "fetch_checks": per_hour(costs["fetch_checks"], duration),
                    "normalize": per_hour(costs["normalize"], duration),
                    "segment": per_hour(costs["segment"], duration),
                },
                "fetch_and_normalize_over_segment": round(fetch / costs["segment"], 2),
                "sample_ms_per_frame": {
                    "dense_1fps": round(1000 * costs["sample_dense"] / costs["frames"], 2),
                    f"sparse_{args.sparse_gap:g}s": round(1000 * sparse[(height, mode)], 2),
                },
            }
        if nvenc_missing:
            entry["modes"]["nvenc"] = f"not measured: {nvenc_missing}"
        report["inputs"][f"{height}p"] = entry
    report["load_at_end"] = load_average()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
