"""Helpers for tests and demos of the model side: tiny videos, qa shards and configs.

Why library code: pytest runs with importlib mode and no tests package, so tests cannot
import each other; anything shared lives here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.qa.posing import Posed
from longvid_pipeline.segmenting.sampling import SamplingConfig, plan_for
from longvid_pipeline.shards import commit_rows
from longvid_pipeline.stages.qa import conversation

DEMO_SOURCES = ("testsrc", "testsrc2", "smptebars")
DEMO_QA = (
    ("caption", "Describe the video.", "Colored bars move across the screen."),
    ("counting", "How many colored bars are there?", "There are seven bars."),
    ("grounding", "When does the pattern change?", "From 1.0 to 3.0 seconds."),
)


def make_video(
    path: Path, source: str = "testsrc", seconds: float = 4.0, size: str = "160x120", gop: int = 10
) -> Path:
    """Encode an H.264 test pattern (lavfi `source`, 10 fps, a keyframe at least every `gop`
    frames) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"{source}=duration={seconds}:size={size}:rate=10",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(gop),
            str(path),
        ]
    )
    return path


def qa_row(
    video_uri: str, duration_s: float, task: str, question: str, answer: str, split: str
) -> dict[str, Any]:
    """A qa row that satisfies the contract, with a 2 fps plan of 4..8 frames; its
    conversation is written by the qa stage's own `conversation` (the timestamp prompt is
    not in it: readers insert the row's `timestamp_prompt` once)."""
    plan = plan_for(duration_s, SamplingConfig(fps=2.0, min_frames=4, max_frames=8, multiple=4))
    video_id = hashlib.sha1(video_uri.encode()).hexdigest()[:16]
    return {
        "qa_id": hashlib.sha1(f"{video_id}|{task}|{question}".encode()).hexdigest()[:16],
        "video_id": video_id,
        "video_uri": video_uri,
        "video_duration_s": duration_s,
        "task": task,
        "question_type": f"{task}/test",
        "form": "open",
        "negative": False,
        "question": question,
        "answer": answer,
        "options": None,
        "answer_index": None,
        "evidence_start_s": 0.0,
        "evidence_end_s": duration_s,
        "evidence_spans": [{"start_s": 0.0, "end_s": duration_s}],
        "sample_frames": plan.frames,
        "sample_fps": plan.fps,
        "sample_timestamps": plan.timestamps,
        "timestamp_prompt": plan.prompt,
        "conversations": conversation(
            Posed(task, f"{task}/test", "open", question, answer, ((0.0, duration_s),)), "letter"
        ),
        "generator": "support.shards/1",
        "split": split,
    }


def make_demo_shards(out: Path, videos: int = 3, seconds: float = 4.0) -> list[dict[str, Any]]:
    """Write `videos` test-pattern videos and 3 qa rows each as one committed qa shard.

    The last video's rows are split 'val', the rest 'train'. Returns the rows.
    """
    rows = []
    for index, source in enumerate(DEMO_SOURCES[:videos]):
        uri = f"media/{source}.mp4"
        make_video(Path(out) / uri, source, seconds)
        split = "val" if index == videos - 1 and videos > 1 else "train"
        rows += [qa_row(uri, seconds, task, f"{q} ({source})", a, split) for task, q, a in DEMO_QA]
    commit_rows(Path(out), {"qa": rows}, input_ids=[])
    return rows


def tiny_train_config(
    data_root: Path, output_dir: Path, steps: int = 4, **trainer: Any
) -> dict[str, Any]:
    """A complete training config for the tiny preset: one all-parts stage of `steps` steps."""
    return {
        "output_dir": str(output_dir),
        "seed": 0,
        "model": {"preset": "tiny", "compressor": {"name": "hico", "tokens_per_frame": 4}},
        "data": {"root": str(data_root), "splits": ["train"], "workers": 0},
        "trainer": {"batch_size": 3, "log_every": 1, "save_every": 1000, **trainer},
        "schedule": {
            "stages": [
                {
                    "name": "overfit",
                    "train": ["compressor", "projector", "llm"],
                    "min_frames": 4,
                    "max_frames": 8,
                    "steps": steps,
                    "lr": {"projector": 1e-2, "llm": 1e-2},
                    "warmup_ratio": 0.0,
                    "min_lr_ratio": 0.1,
                }
            ]
        },
    }
