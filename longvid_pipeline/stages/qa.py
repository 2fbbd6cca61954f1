"""QA stage: turn a video's captioned timeline into `qa` rows for the five task types.

The generators (longvid_pipeline.qa.tasks) propose questions with unique answers; this
stage picks up to `per_task_max` of them per task with a random generator seeded by the
video id and the seeds (so a rerun writes the same rows, and another seed picks and
shuffles differently), and writes rows in the `qa` contract: LLaVA-style conversations
that start with the video's timestamp prompt, the sampling plan copied from the video so
trainers need no join, and a split assigned by a stable hash of the video id so a video
never appears in two splits.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

from longvid_pipeline.ids import stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.qa.config import QAConfig
from longvid_pipeline.qa.posing import LETTERS, Posed, options_block, pose
from longvid_pipeline.qa.tasks import GENERATORS
from longvid_pipeline.qa.timeline import build_timeline
from longvid_pipeline.stage import Reject, Stage

PLAN_COLUMNS = ("sample_frames", "sample_fps", "sample_timestamps", "timestamp_prompt")


def split_for(video_id: str, val_fraction: float, test_fraction: float) -> str:
    """train | val | test from a stable hash of the video id (same video, same split)."""
    position = int(stable_hash("split", video_id), 16) / 16**16
    if position < test_fraction:
        return "test"
    if position < test_fraction + val_fraction:
        return "val"
    return "train"


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9.]+", text.lower()))


def _duplicate_key(row: dict[str, Any]) -> tuple[Any, ...]:
    evidence = (round(row["evidence_start_s"], 1), round(row["evidence_end_s"], 1))
    return (row["task"], row["options"] is None, row["answer"], evidence)


def near_duplicates(
    rows: list[dict[str, Any]], threshold: float
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str, float]]]:
    """Split rows into kept ones and near-duplicates (row, the kept qa_id, Jaccard).

    Two questions are near-duplicates when they share task, format (multiple choice or
    open), answer and evidence span, and their word sets overlap by at least `threshold`:
    a reworded question about the same moment teaches nothing new and inflates a task's
    count. (Without the evidence span, "which first: A or B?" and "which first: A or C?"
    would look alike while asking different things.)"""
    kept: list[tuple[dict[str, Any], frozenset[str]]] = []
    dropped = []
    for row in rows:
        words = _words(row["question"])
        key = _duplicate_key(row)
        for other, other_words in kept:
            if _duplicate_key(other) != key:
                continue
            jaccard = len(words & other_words) / max(1, len(words | other_words))
            if jaccard >= threshold:
                dropped.append((row, other["qa_id"], jaccard))
                break
        else:
            kept.append((row, words))
    return [row for row, _ in kept], dropped


def conversation(prompt: str, posed: Posed) -> list[dict[str, str]]:
    """LLaVA-style turns: the human turn carries <video>, the timestamp prompt and options."""
    human = f"<video>\n{prompt}\n{posed.question}"
    answer = posed.answer
    if posed.options is not None and posed.answer_index is not None:
        human += "\n" + options_block(posed.options)
        answer = f"{LETTERS[posed.answer_index]}. {posed.answer}"
    return [{"from": "human", "value": human}, {"from": "gpt", "value": answer}]


class QAStage(Stage):
    """Generate `qa` rows from the captioned clips of one video."""

    name: ClassVar[str] = "qa"
    uses_actor: ClassVar[bool] = False
    Config: ClassVar[type] = QAConfig

    def process(self, item: WorkItem) -> WorkItem:
        video = item.video
        if video is None:
            raise Reject("no_video", "the qa stage needs the videos row from fetch")
        missing = [column for column in PLAN_COLUMNS if video.get(column) is None]
        if missing:
            raise Reject("no_sampling_plan", f"videos row lacks {missing}; run segment first")
        timeline = build_timeline(item.clips, float(video["duration_s"]), self.config.max_gap_s)
        generators = GENERATORS[self.config.generator]
        rows: dict[str, dict[str, Any]] = {}
        for task in self.config.tasks:
            for posed in pose(
                generators[task](timeline),
                self.config.per_task_max,
                self.config.options_count,
                self._rng(video["video_id"], task),
            ):
                row = self._row(video, posed)
                rows.setdefault(row["qa_id"], row)
        item.qa, dropped = near_duplicates(list(rows.values()), self.config.near_duplicate_jaccard)
        for row, kept_id, jaccard in dropped:
            item.reject_row(
                "qa", "qa", "near_duplicate", f"Jaccard {jaccard:.2f} with {kept_id}", row
            )
        return item

    def _rng(self, video_id: str, task: str) -> random.Random:
        """One generator per video and task, so adding a task never reshuffles the others."""
        key = stable_hash("qa", video_id, task, self.config.seed, self.context.seed)
        return random.Random(int(key, 16))

    def _row(self, video: dict[str, Any], posed: Posed) -> dict[str, Any]:
        """One row in the `qa` contract."""
        return {
            "qa_id": "q-" + stable_hash(video["video_id"], posed.task, posed.question),
            "video_id": video["video_id"],
            "video_uri": video["uri"],
            "video_duration_s": float(video["duration_s"]),
            "task": posed.task,
            "question": posed.question,
            "answer": posed.answer,
            "options": posed.options,
            "answer_index": posed.answer_index,
            "evidence_start_s": float(posed.evidence_start_s),
            "evidence_end_s": float(posed.evidence_end_s),
            "sample_frames": video["sample_frames"],
            "sample_fps": float(video["sample_fps"]),
            "sample_timestamps": [float(t) for t in video["sample_timestamps"]],
            "timestamp_prompt": video["timestamp_prompt"],
            "conversations": conversation(video["timestamp_prompt"], posed),
            "generator": self.config.generator,
            "split": split_for(
                video["video_id"], self.config.val_fraction, self.config.test_fraction
            ),
        }
