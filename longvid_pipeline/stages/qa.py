"""QA stage: turn a video's captioned timeline into `qa` rows for the five task types.

Per task, the recipe picks the generator: `template` (qa/templates: facts computed from
a structured timeline, exact by construction, options drawn so text alone cannot pick
the answer) or `llm` (qa/llm: a text LLM writes from the timestamped timeline, its JSON
checked against it, repaired once, else rejected with the reason). How many questions a
video gets grows with its duration (`quota`); each task mixes open and multiple-choice
forms at its `open_share`.

Rows follow the `qa` contract: the question and its answer in the documented formats
(qa/formats), every evidence span, the sampling plan copied from the video so trainers
need no join, LLaVA-style conversations whose human turn ends with the instruction that
fixes the answer's form (the timestamp prompt stays in its own column: readers insert it
once), and the video's split, which the runner assigned. Sampling is seeded by the video
id and the seeds, so a rerun writes the same rows; with an `llm` generator the stage runs
in an actor pool so the model loads once per actor.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from longvid_pipeline.config import ConfigError, ConfigProblem
from longvid_pipeline.ids import stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.qa.config import QAConfig
from longvid_pipeline.qa.dedup import near_duplicates
from longvid_pipeline.qa.distractors import load_bank
from longvid_pipeline.qa.formats import format_choice, options_block
from longvid_pipeline.qa.llm import LLMQuestionWriter, RegisteredTextLLM, split_requests
from longvid_pipeline.qa.posing import Posed, pose_task, task_quota
from longvid_pipeline.qa.templates import QUESTION_TYPES, TEMPLATE_GENERATOR
from longvid_pipeline.qa.timeline import Timeline, build_timeline
from longvid_pipeline.stage import Reject, Stage

PLAN_COLUMNS = ("sample_frames", "sample_fps", "sample_timestamps", "timestamp_prompt")
VIDEO_TOKEN = "<video>"


def conversation(posed: Posed, answer_style: str) -> list[dict[str, str]]:
    """LLaVA-style turns: <video>, the question, then options or the answer instruction."""
    lines = [VIDEO_TOKEN, posed.question]
    answer = posed.answer
    if posed.options is not None and posed.answer_index is not None:
        lines.append(options_block(posed.options, answer_style))
        answer = format_choice(posed.answer_index, posed.answer, answer_style)
    elif posed.instruction:
        lines.append(posed.instruction)
    return [{"from": "human", "value": "\n".join(lines)}, {"from": "gpt", "value": answer}]


class QAStage(Stage):
    """Generate `qa` rows from the captioned clips of one video."""

    name: ClassVar[str] = "qa"
    Config: ClassVar[type] = QAConfig

    @classmethod
    def needs_actor(cls, config: QAConfig) -> bool:
        """An actor pool when a task's generator is an LLM or a distractor bank is read
        (each loaded once per actor)."""
        return config.uses_llm or bool(config.distractors.bank)

    @classmethod
    def preflight(cls, config: QAConfig, recipe_path: str) -> None:
        """Read the distractor bank here, so a bank that cannot be read fails the run in
        one line before any work rather than as a reject per video."""
        try:
            load_bank(tuple(config.distractors.bank), config.distractors.max_entries)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            problem = ConfigProblem(
                "stages.qa.distractors.bank", f"cannot read it ({type(exc).__name__}: {first})"
            )
            raise ConfigError(recipe_path, [problem]) from None

    def setup(self) -> None:
        self.bank = load_bank(
            tuple(self.config.distractors.bank), self.config.distractors.max_entries
        )
        self.writer: LLMQuestionWriter | None = None
        if self.config.uses_llm:
            llm = RegisteredTextLLM(self.config.llm)
            self.writer = LLMQuestionWriter(llm, self.config.llm, llm.name)

    def process(self, item: WorkItem) -> WorkItem:
        video = item.video
        if video is None:
            raise Reject("no_video", "the qa stage needs the videos row from fetch")
        missing = [column for column in PLAN_COLUMNS if video.get(column) is None]
        if missing:
            raise Reject("no_sampling_plan", f"videos row lacks {missing}; run segment first")
        timeline = build_timeline(
            item.clips, float(video["duration_s"]), self.config.max_gap_s, video.get("summary")
        )
        rows: dict[str, dict[str, Any]] = {}
        for posed, generator in self._posed(item, timeline):
            row = self._row(video, item.split or "train", posed, generator)
            rows.setdefault(row["qa_id"], row)
        threshold = self.config.quota.near_duplicate_jaccard
        item.qa, dropped = near_duplicates(list(rows.values()), threshold)
        for row, kept_id, jaccard in dropped:
            item.reject_row(
                "qa", "qa", "near_duplicate", f"Jaccard {jaccard:.2f} with {kept_id}", row
            )
        return item

    def _posed(self, item: WorkItem, timeline: Timeline) -> list[tuple[Posed, str]]:
        """Every task's questions with the name of the generator that wrote them."""
        video_id = item.video["video_id"] if item.video else ""
        found: list[tuple[Posed, str]] = []
        requests = []
        similar = self.config.distractors.similar
        borrowed = self.bank.for_video(timeline, video_id, similar) if self.bank else {}
        for task in self.config.tasks:
            section = self.config.task(task)
            rng = self._rng(video_id, task)
            if section.generator == "template":
                types = QUESTION_TYPES[task]
                posed = pose_task(task, types, timeline, self.config, rng, borrowed)
                found.extend((p, TEMPLATE_GENERATOR) for p in posed)
            else:
                count = task_quota(timeline.duration_s, self.config.quota)
                per_prompt = self.config.llm.questions_per_prompt
                requests += split_requests(
                    task, count, section.open_share, per_prompt, timeline.duration_s
                )
        if requests and self.writer is not None and timeline.events:  # nothing to ask about
            outcome = self.writer.write(timeline, requests, self._rng(video_id, "llm"))
            found.extend((p, self.writer.name) for p in outcome.posed)
            for failure in outcome.failures:
                item.reject_row("qa", "qa", failure.reason, failure.detail, failure.raw)
        return found

    def _rng(self, video_id: str, task: str) -> random.Random:
        """One generator per video and task, so adding a task never reshuffles the others."""
        key = stable_hash("qa", video_id, task, self.config.seed, self.context.seed)
        return random.Random(int(key, 16))

    def _row(
        self, video: dict[str, Any], split: str, posed: Posed, generator: str
    ) -> dict[str, Any]:
        """One row in the `qa` contract."""
        starts = [start for start, _ in posed.evidence]
        ends = [end for _, end in posed.evidence]
        identity = (video["video_id"], posed.task, posed.question, posed.options, posed.answer)
        return {
            "qa_id": "q-" + stable_hash(*identity),
            "video_id": video["video_id"],
            "video_uri": video["uri"],
            "video_duration_s": float(video["duration_s"]),
            "task": posed.task,
            "question_type": posed.question_type,
            "form": posed.form,
            "negative": posed.negative,
            "question": posed.question,
            "answer": posed.answer,
            "options": posed.options,
            "answer_index": posed.answer_index,
            "evidence_start_s": float(min(starts)),
            "evidence_end_s": float(max(ends)),
            "evidence_spans": [
                {"start_s": float(start), "end_s": float(end)} for start, end in posed.evidence
            ],
            "sample_frames": video["sample_frames"],
            "sample_fps": float(video["sample_fps"]),
            "sample_timestamps": [float(t) for t in video["sample_timestamps"]],
            "timestamp_prompt": video["timestamp_prompt"],
            "conversations": conversation(posed, self.config.choice.answer_style),
            "generator": generator,
            "split": split,
        }
