"""Segment stage speed against the physical limit: a plain full ffmpeg decode of the same file.

Usage:
    .venv/bin/python benchmarks/segment.py [--set all|textured|demo] [--quick]
        [--seconds 120] [--videos 2] [--transnet-seconds 20] [--peer /tmp/v2d-venv/bin/python]

Two input sets, both 640x360 30 fps H.264 (libx264 veryfast, CRF 23, keyframe every 2 s,
as fetch normalizes) with known hard cuts:

- textured: hard cuts between lavfi sources with motion and texture (testsrc2,
  mandelbrot, life, cellauto, gradients, scrolling bars) under temporal noise; these
  decode at about 30-40 video-seconds per CPU-second, like real 360p footage.
- demo: demo-world renders (flat shapes; they decode at ~180 video-s per CPU-s, so any
  per-frame cost of ours weighs 5x more against the decode than on real footage).

In one run on the same files it measures video-seconds per CPU-second (children
included: ffmpeg runs as a child process) of `ffmpeg -i FILE -an -f null -` (the
physical limit of a pass that looks at every frame) and of the segment stage with the
content detector (detection, filter statistics, clip assembly and scores together), and
prints per-video and per-set ratios and cut F1 at +-0.5 s. TransNetV2 on CPU runs on one
short textured video. With --peer PYTHON, the peer (video2dataset's cut-detection
subsampler, i.e. PySceneDetect's ContentDetector with video2dataset's settings) runs in
that interpreter on the same files and its speed and F1 print beside ours. Timings on a
shared machine are noisy, so each measurement is repeated and the least CPU kept, and
only same-run ratios are meaningful.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from longvid_pipeline.demo.world import render_video
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.ffmpeg import ffmpeg_binary, run_ffmpeg
from longvid_pipeline.media.probe import probe
from longvid_pipeline.segmenting.config import (
    DecodeConfig,
    DetectorConfig,
    SegmentConfig,
    TransNetV2Options,
)
from longvid_pipeline.segmenting.shots import cut_f1
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.segment import SegmentStage

FPS = 30
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", str(2 * FPS)]
# Textured scene sources (640x360 at 30 fps); each scene also gets temporal noise.
TEXTURED_SOURCES = (
    "testsrc2=s=640x360:r=30",
    "mandelbrot=s=640x360:r=30",
    "life=s=160x90:r=30:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00,"
    "scale=640:360:flags=neighbor",
    "cellauto=s=640x360:r=30:rule=110",
    "gradients=s=160x90:r=30:speed=0.01:n=4,scale=640:360:flags=bicubic",
    "smptehdbars=s=640x360:r=30,scroll=h=0.003:v=0.001",
    "mandelbrot=s=320x180:r=30:start_scale=0.5,scale=640:360,hue=H=t/2",
)
TEXTURE_NOISE = 16  # noise=alls: film-grain-like; puts the decode at ~35 video-s per CPU-s

# Runs in the peer's interpreter: video2dataset's cut detection on each file, timed there
# (imports excluded, child processes included); prints one JSON line per file.
PEER_SCRIPT = r"""
import json, os, resource, sys
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
try:
    from video2dataset.subsamplers import CutDetectionSubsampler
    peer = "video2dataset CutDetectionSubsampler"
except ImportError:
    CutDetectionSubsampler = None
    peer = "PySceneDetect ContentDetector (video2dataset settings)"
from scenedetect import ContentDetector, SceneManager, open_video

def scenedetect_direct(path, threshold, min_scene_len):
    # What video2dataset's subsampler does, without video2dataset installed.
    video = open_video(path)
    manager = SceneManager()
    manager.add_detector(ContentDetector(threshold=threshold, min_scene_len=min_scene_len))
    manager.auto_downscale = False
    manager.downscale = video.frame_size[0] // 64
    manager.detect_scenes(video=video)
    return [[a.get_frames(), b.get_frames()] for a, b in manager.get_scene_list(start_in_scene=True)], video.frame_rate

threshold, min_scene_len = float(sys.argv[1]), int(sys.argv[2])
for path in sys.argv[3:]:
    best = None
    for _ in range(int(os.environ.get("PEER_REPEATS", "1"))):
        start = cpu()
        if CutDetectionSubsampler is not None:
            sub = CutDetectionSubsampler(cut_detection_mode="all", threshold=threshold, min_scene_len=min_scene_len)
            with open(path, "rb") as f:
                _, meta, error = sub({"video": [f.read()]})
            if error:
                raise SystemExit(error)
            scenes, fps = meta["cuts_original_fps"], meta["original_fps"]
        else:
            scenes, fps = scenedetect_direct(path, threshold, min_scene_len)
        cost = cpu() - start
        best = cost if best is None else min(best, cost)
    cuts = [start / fps for start, _ in scenes[1:]]
    print(json.dumps({"path": path, "peer": peer, "cpu_s": best, "cuts": cuts}), flush=True)
"""
# video2dataset's shipped cut-detection config (configs/downsample_ml.yaml); the
# subsampler's constructor default threshold is 27.
PEER_SETTINGS = ((11.5, 15), (27.0, 15))


@dataclass
class Video:
    path: Path
    cuts: list[float]
    seconds: float


def cpu_seconds() -> float:
    """CPU time of this process and its finished children, user + system."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_of(run: Callable[[], object]) -> float:
    """CPU seconds (children included) that one call of `run` takes."""
    start = cpu_seconds()
    run()
    return cpu_seconds() - start


def best_pair(
    first: Callable[[], object], second: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Least CPU seconds of each over `repeats` interleaved runs (noise only adds time)."""
    costs = [(cpu_of(first), cpu_of(second)) for _ in range(repeats)]
    return min(a for a, _ in costs), min(b for _, b in costs)


def ffmpeg_decode(path: Path, threads: int) -> None:
    """The physical limit: decode every frame, do nothing with it."""
    subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-nostdin", "-threads", str(threads), "-i", str(path),
         "-an", "-f", "null", "-"],
        check=True,
    )  # fmt: skip


def make_demo_video(folder: Path, seed: int, seconds: float) -> Video:
    """A demo-world video re-encoded like fetch normalization, and its true cuts."""
    raw = folder / f"raw{seed}.mp4"
    sidecar = render_video(
        raw, folder / f"raw{seed}.json", duration_s=seconds, seed=seed, width=640, height=360,
        fps=FPS, min_scene_s=2.0, max_scene_s=12.0,
    )  # fmt: skip
    path = folder / f"demo{seed}.mp4"
    run_ffmpeg(["-i", str(raw), *ENCODE, "-c:a", "aac", str(path)])
    return Video(path, list(sidecar["cuts_s"]), seconds)


def make_textured_video(
    folder: Path,
    seed: int,
    seconds: float,
    size: tuple[int, int] = (640, 360),
    encode: list[str] = ENCODE,
    name: str = "textured",
) -> Video:
    """Hard cuts every 2-12 s between textured, moving, noisy sources; cuts on known frames.

    No two neighbouring scenes share a source. A sine audio track makes the file look
    like a normalized download (the decode pass demuxes past its packets). Sources are
    drawn at 640x360 and scaled to `size` before the noise, so the grain is at full size.
    """
    rng = random.Random(seed)
    total_frames, done, previous = int(round(seconds * FPS)), 0, None
    inputs: list[str] = []
    cuts: list[float] = []
    while done < total_frames:
        frames = rng.randint(2 * FPS, 12 * FPS)
        if total_frames - done - frames < 2 * FPS:
            frames = total_frames - done
        source = rng.choice([s for s in TEXTURED_SOURCES if s != previous])
        previous = source
        scale = "" if size == (640, 360) else f"scale={size[0]}:{size[1]}:flags=bicubic,"
        chain = (
            f"{source},trim=end_frame={frames},setpts=PTS-STARTPTS,{scale}"
            f"noise=alls={TEXTURE_NOISE}:allf=t+u:all_seed={seed * 1000 + len(cuts)},"
            "format=yuv420p,setsar=1"
        )
        inputs += ["-f", "lavfi", "-i", chain]
        if done:
            cuts.append(done / FPS)
        done += frames
    scenes = len(cuts) + 1
    path = folder / f"{name}{seed}.mp4"
    run_ffmpeg([
        *inputs, "-f", "lavfi", "-i", f"sine=f=440:d={total_frames / FPS}",
        "-filter_complex", "".join(f"[{i}]" for i in range(scenes)) + f"concat=n={scenes}:v=1:a=0[v]",
        "-map", "[v]", "-map", f"{scenes}:a", *encode, "-c:a", "aac", "-b:a", "64k", str(path),
    ])  # fmt: skip
    return Video(path, cuts, total_frames / FPS)


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


def starts_of(item: WorkItem) -> list[float]:
    """Every cut the stage found: clip starts and shot boundaries inside clips."""
    return sorted(
        c for clip in item.clips for c in [clip["start_s"], *clip["shot_boundaries_s"]] if c > 0
    )


def measure(stage: SegmentStage, video: Video, repeats: int, threads: int) -> dict[str, float]:
    duration = probe(video.path).duration_s
    items = [segment_item(video.path) for _ in range(repeats)]  # probing is fetch's work
    done: list[WorkItem] = []
    limit, cost = best_pair(
        lambda: ffmpeg_decode(video.path, threads),
        lambda: done.append(stage.run_item(items.pop())),
        repeats,
    )
    return {
        "seconds": duration,
        "limit_cpu_s": limit,
        "stage_cpu_s": cost,
        "decode_vs_per_cpu_s": duration / limit,
        "stage_vs_per_cpu_s": duration / cost,
        "ratio": limit / cost,
        "f1": cut_f1(starts_of(done[-1]), video.cuts, 0.5)[2],
        "f1_frame": cut_f1(starts_of(done[-1]), video.cuts, 0.5 / FPS)[2],
    }


def report(name: str, row: dict[str, float]) -> None:
    print(
        f"{name:30s} {row['seconds']:6.1f} s  ffmpeg decode {row['decode_vs_per_cpu_s']:6.1f} vs/cpu-s  "
        f"segment {row['stage_vs_per_cpu_s']:6.1f} vs/cpu-s  ratio {row['ratio']:.2f}  "
        f"F1 {row['f1']:.3f} (exact frame {row['f1_frame']:.3f})",
        flush=True,
    )


def run_peer(python: str, videos: list[Video], repeats: int) -> None:
    """video2dataset's cut detection on the same files, in the peer's interpreter."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(PEER_SCRIPT)
    for threshold, min_scene_len in PEER_SETTINGS:
        done = subprocess.run(
            [python, script.name, str(threshold), str(min_scene_len), *[str(v.path) for v in videos]],
            capture_output=True, text=True, env={**os.environ, "PEER_REPEATS": str(repeats)},
        )  # fmt: skip
        if done.returncode != 0:
            print(f"peer failed (threshold {threshold}): {done.stderr.strip()[-500:]}")
            return
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        seconds = cpu = 0.0
        f1s = []
        for video, row in zip(videos, rows, strict=True):
            f1 = cut_f1(row["cuts"], video.cuts, 0.5)[2]
            f1s.append(f1)
            seconds += video.seconds
            cpu += row["cpu_s"]
            print(
                f"  peer {video.path.name:22s} {video.seconds / row['cpu_s']:6.1f} vs/cpu-s  F1 {f1:.3f}",
                flush=True,
            )
        print(
            f"peer: {rows[0]['peer']}, threshold {threshold}, min_scene_len {min_scene_len}: "
            f"{seconds / cpu:.1f} vs/cpu-s, mean F1 {sum(f1s) / len(f1s):.3f}",
            flush=True,
        )


def run_set(
    name: str, videos: list[Video], stage: SegmentStage, repeats: int, threads: int
) -> None:
    rows = []
    for video in videos:
        row = measure(stage, video, repeats, threads)
        rows.append(row)
        report(f"content {video.path.name}", row)
    limit = sum(r["limit_cpu_s"] for r in rows)
    cost = sum(r["stage_cpu_s"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    print(
        f"== {name}: decode {seconds / limit:.1f} vs/cpu-s, segment {seconds / cost:.1f} vs/cpu-s, "
        f"ratio to the full-decode limit {limit / cost:.2f} (target >= 0.8), "
        f"mean F1 {sum(r['f1'] for r in rows) / len(rows):.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("all", "textured", "demo"), default="all")
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each video")
    parser.add_argument("--videos", type=int, default=2, help="videos per set")
    parser.add_argument(
        "--transnet-seconds", type=float, default=20.0, help="0 skips transnetv2 (slow on CPU)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="decoder threads, ffmpeg and stage alike (0 = auto; 1 is the stage default)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI size: one 20 s video per set, one repeat, no transnetv2",
    )
    parser.add_argument(
        "--peer", help="python of a venv with video2dataset (or scenedetect + opencv) to compare"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.videos, args.repeats, args.transnet_seconds = 20.0, 1, 1, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        context = RunContext(out_dir=str(folder / "out"))
        decode = DecodeConfig(threads=args.threads)
        content = SegmentStage(
            SegmentConfig(detector=DetectorConfig(name="content"), decode=decode), context
        )
        textured: list[Video] = []
        if args.set in ("all", "textured"):
            textured = [make_textured_video(folder, s, args.seconds) for s in range(args.videos)]
            run_set("textured", textured, content, args.repeats, args.threads)
        if args.set in ("all", "demo"):
            demo = [make_demo_video(folder, s, args.seconds) for s in range(args.videos)]
            run_set("demo", demo, content, args.repeats, args.threads)
        if args.peer and textured:
            run_peer(args.peer, textured, args.repeats)
        elif not args.peer:
            print("peer: skipped (give --peer PYTHON of a venv with video2dataset to compare)")
        if args.transnet_seconds > 0:
            video = make_textured_video(folder, 99, args.transnet_seconds)
            transnet = SegmentStage(
                SegmentConfig(
                    detector=DetectorConfig(
                        name="transnetv2", transnetv2=TransNetV2Options(device="cpu")
                    ),
                    decode=decode,
                ),
                context,
            )
            report("transnetv2 (CPU) textured", measure(transnet, video, 1, args.threads))


if __name__ == "__main__":
    main()
