"""QA rows of many demo-world videos without rendering them: statistics for qa_blind.py.

The demo pipeline spends its time rendering, decoding and segmenting video; the QA
stage only reads captioned clips. For tight baseline figures (thousands of questions per
task), this plans N demo-world videos (`demo.world.plan_video`, the same ground truth the
renderer draws), cuts each scene into clips of at most `--max-clip-s` (as segment's
`max_clip_s` does), runs the real caption and QA stages on them in process, and commits
videos, clips and qa rows as an OUT that `benchmarks/qa_blind.py` reads.

    PYTHONPATH=. .venv/bin/python benchmarks/qa_world.py /tmp/qa_world --videos 1000
    PYTHONPATH=. .venv/bin/python benchmarks/qa_blind.py /tmp/qa_world

Short videos (`--min-s 30 --max-s 90`) have too few events of their own for many
multiple-choice types; `--bank OTHER_OUT` (e.g. a world of another `--seed`) lets them
borrow wrong options from other videos (`stages.qa.distractors.bank`).
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import time
from pathlib import Path
from typing import Any

from longvid_pipeline.config import build_section
from longvid_pipeline.demo.world import plan_video
from longvid_pipeline.ids import input_id_for, stable_hash, video_id_for
from longvid_pipeline.item import WorkItem
from longvid_pipeline.qa.config import QAConfig
from longvid_pipeline.segmenting.sampling import SamplingConfig, plan_for
from longvid_pipeline.shards import commit_rows
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.caption import CaptionConfig, CaptionStage
from longvid_pipeline.stages.qa import QAStage

FPS = 30


def video_row(name: str, duration_s: float) -> dict[str, Any]:
    plan = plan_for(duration_s, SamplingConfig())
    video_id = video_id_for(name)
    return {
        "video_id": video_id, "input_id": input_id_for(name), "source": "demo", "url": name,
        "uri": f"media/{video_id}.mp4", "title": name, "duration_s": duration_s, "fps": float(FPS),
        "width": 640, "height": 360, "video_codec": "h264", "audio_codec": None, "bytes": 0,
        "sha256": "0" * 64, "normalized_by": "copy", "license": None, "uploader": None,
        "has_subtitles": False, "has_chapters": False, "has_annotations": True, "metadata": "{}",
        "sample_frames": plan.frames, "sample_fps": plan.fps, "sample_timestamps": plan.timestamps,
        "timestamp_prompt": plan.prompt, "split": "train", "fetched_at": "2026-01-01T00:00:00+00:00",
    }  # fmt: skip


def clip_rows(video_id: str, scenes: list[dict[str, Any]], max_clip_s: float) -> list[dict]:
    spans = []
    for scene in scenes:
        start, end = scene["start_s"], scene["end_s"]
        pieces = max(1, math.ceil((end - start) / max_clip_s))
        spans += [(start + (end - start) * i / pieces, start + (end - start) * (i + 1) / pieces)
                  for i in range(pieces)]  # fmt: skip
    return [
        {
            "clip_id": "c-" + stable_hash(video_id, index),
            "video_id": video_id,
            "clip_index": index,
            "start_s": start,
            "end_s": end,
            "start_frame": round(start * FPS),
            "end_frame": round(end * FPS),
            "shot_boundaries_s": [],
            "detector": "annotations",
            "black_score": 0.0,
            "static_score": 0.5,
            "quality_score": 0.9,
        }  # fmt: skip
        for index, (start, end) in enumerate(spans)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", help="folder to write (replaced)")
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="world seed")
    parser.add_argument("--max-clip-s", type=float, default=30.0)
    parser.add_argument("--min-s", type=float, default=180.0, help="shortest video, seconds")
    parser.add_argument("--max-s", type=float, default=360.0, help="longest video, seconds")
    parser.add_argument(
        "--bank", action="append", default=[], help="distractor bank: an OUT of other videos"
    )
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    caption_config, _ = build_section(CaptionConfig, {}, "stages.caption")
    qa_config, problems = build_section(QAConfig, {"distractors": {"bank": args.bank}}, "stages.qa")
    assert qa_config is not None, problems
    caption = CaptionStage(caption_config, RunContext(out_dir=str(out)))
    qa = QAStage(qa_config, RunContext(out_dir=str(out)))
    QAStage.preflight(qa_config, "qa_world")
    rng = random.Random(args.seed)
    rows: dict[str, list[dict[str, Any]]] = {"videos": [], "clips": [], "qa": []}
    started = time.perf_counter()
    for index in range(args.videos):
        duration = round(rng.uniform(args.min_s, args.max_s) * FPS) / FPS
        name = f"qa-world:{args.seed}:{index}"
        plan = plan_video(name, duration_s=duration, seed=args.seed * 100_003 + index, width=640,
                          height=360, fps=FPS, min_scene_s=3.0, max_scene_s=40.0)  # fmt: skip
        video = video_row(name, plan["duration_s"])
        item = WorkItem(input_id=video["input_id"], source={"url": name}, source_kind="demo")
        item.split, item.video, item.annotations = "train", video, plan
        item.clips = clip_rows(video["video_id"], plan["scenes"], args.max_clip_s)
        item = qa.run_item(caption.run_item(item))
        rows["videos"].append(video)
        rows["clips"] += item.clips
        rows["qa"] += item.qa
    seconds = time.perf_counter() - started
    commit_rows(out, rows, [v["input_id"] for v in rows["videos"]])
    print(f"{args.videos} videos, {len(rows['clips'])} clips, {len(rows['qa'])} qa rows"
          f" in {seconds:.1f} s (caption + qa in process) -> {out}")  # fmt: skip


if __name__ == "__main__":
    main()
