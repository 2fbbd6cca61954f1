"""The QA stage's recipe section (`stages.qa`) and default resources, apart from the
generators so that checking a recipe (`run --check`) imports nothing heavy.

Nested by what each part controls: how many questions a video gets (`quota`), how
multiple-choice questions look (`choice`), one section per task (which generator writes
it, the share of open questions, negatives), and the LLM generator (`llm`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from longvid_pipeline.config import param
from longvid_pipeline.models.config import TextLLMConfig
from longvid_pipeline.qa.formats import ANSWER_STYLES
from longvid_pipeline.stage import Resources

TASKS = ("caption", "grounding", "counting", "relationship", "understanding")
GENERATOR_NAMES = ("template", "llm")


@dataclass
class QuotaConfig:
    """How many questions a video gets: scales with its duration, capped per task."""

    per_minute: float = param(
        2.5, "questions per task per minute of video (before the caps)", min=0.0
    )
    min_per_task: int = param(4, "at least this many per task and video (when available)", min=0)
    max_per_task: int = param(100, "at most this many per task and video", min=1)
    near_duplicate_jaccard: float = param(
        0.9,
        "drop a question whose word set overlaps a kept one of the same question type, form"
        " and answer at least this much (1.0 drops only exact rewordings)",
        min=0.0,
        max=1.0,
    )

    def __post_init__(self) -> None:
        if self.min_per_task > self.max_per_task:
            raise ValueError("quota.min_per_task must not exceed quota.max_per_task")


@dataclass
class ChoiceConfig:
    """How multiple-choice questions are written (always 4 distinct options)."""

    answer_style: str = param(
        "letter",
        "letter: the answer is the option's letter ('B'); letter_text: letter and text"
        " ('B. red'); the prompt's last line asks for exactly that",
        choices=tuple(ANSWER_STYLES),
    )
    none_rate: float = param(
        0.1,
        "share of multiple-choice questions (grounding, relationship, understanding, caption)"
        " whose answer is 'None of the above'; the option also appears as a wrong answer"
        " three times as often, so it is never a giveaway",
        min=0.0,
        max=0.25,
    )
    attempts: int = param(
        40, "random option sets tried before a question type gives up on a video", min=1
    )


@dataclass
class DistractorConfig:
    """Wrong options borrowed from other videos when a video has too few of its own."""

    bank: list[str] = param(
        [],
        "earlier builds (OUT folders or store URLs) or JSONL files of {caption, shape?,"
        " color?, action?} lines whose events and clip captions may fill multiple-choice"
        " options of short videos (only descriptions absent from the video, the most"
        " similar first); empty: every option comes from the video itself",
    )
    max_borrowed: int = param(
        2, "at most this many of a question's four options come from the bank", min=0, max=3
    )
    similar: int = param(
        32, "per video, borrow among this many bank entries most like its own events", min=1
    )
    max_entries: int = param(
        20000,
        "bank entries kept per kind (events, captions), chosen by hash: every video scans"
        " the bank (~5 ms per video for 300 videos' worth)",
        min=1,
    )

    def __post_init__(self) -> None:
        missing = [
            source for source in self.bank if "://" not in source and not Path(source).exists()
        ]
        if missing:
            raise ValueError(f"bank: no such file or folder: {', '.join(missing)}")


@dataclass
class TaskConfig:
    """One task: which generator writes it and how many of its questions are open."""

    generator: str = param(
        "template",
        "template: exact by construction from structured timelines; llm: a text LLM"
        " writes from the timestamped timeline (see llm)",
        choices=GENERATOR_NAMES,
    )
    open_share: float = param(
        0.5, "share of open-ended questions (the rest are multiple choice)", min=0.0, max=1.0
    )


@dataclass
class CaptionTaskConfig(TaskConfig):
    """The caption task: clip windows and one dense caption of the whole video."""

    dense: bool = param(True, "also ask for a dense, timed caption of the whole video")


@dataclass
class CountingTaskConfig(TaskConfig):
    """The counting task: in how many separate scenes something occurs."""

    absent_rate: float = param(
        0.15,
        "share of 'in how many scenes does <object> appear' questions whose answer is 0"
        " (an object made of a color and a shape the video shows, never together)",
        min=0.0,
        max=0.25,
    )
    max_count: int = param(20, "counts above this are not asked", min=1)


@dataclass
class UnderstandingTaskConfig(TaskConfig):
    """The understanding task: attributes, actions, who does what, what never appears."""

    absent_rate: float = param(
        0.15,
        "share of questions about presence: 'does <object> appear?' (open, half of them"
        " no) and 'which of these never appears?' (multiple choice)",
        min=0.0,
        max=0.5,
    )


@dataclass
class LLMPrompts:
    """Per-task instructions of the llm generator, placed before the JSON format rules."""

    caption: str = param(
        "Write questions asking to describe what happens in a time window of the video,"
        " answered by the timeline's captions.",
        "instruction for caption questions",
    )
    grounding: str = param(
        "Write questions asking when an event happens (the answer is its time span) or"
        " what happens in a given time span.",
        "instruction for grounding questions",
    )
    counting: str = param(
        "Write questions asking in how many separate events or scenes something happens;"
        " say exactly what is counted.",
        "instruction for counting questions",
    )
    relationship: str = param(
        "Write questions about the order of events: what happens right after or before an"
        " event, which of two events comes first.",
        "instruction for relationship questions",
    )
    understanding: str = param(
        "Write questions about attributes, actions, and who does what in the video.",
        "instruction for understanding questions",
    )


@dataclass
class LLMConfig(TextLLMConfig):
    """The `llm` generator: a text LLM (the models registry's backends, as the summarize
    stage uses them) writes questions as JSON on the stage's actor pool."""

    backend: str = param(
        "transformers",
        "text LLM backend: a name in longvid_pipeline.models.registry.TEXT_LLMS"
        " (transformers, vllm) or a 'package.module:Class' import path",
    )
    model: str | None = param(
        None, "hub id or local path of a causal LM (required when a task's generator is llm)"
    )
    max_new_tokens: int = param(768, "tokens the model may write per prompt", min=1)
    batch_size: int = param(4, "prompts per generate call (halved on out-of-memory)", min=1)
    questions_per_prompt: int = param(
        8,
        "questions asked for in one prompt; a task's quota takes several prompts, each"
        " pointed at its own stretch of the video",
        min=1,
    )
    max_timeline_chars: int = param(
        12000, "timeline text in a prompt is cut to this many characters", min=200
    )
    repair: bool = param(True, "send a failed answer back once with its problems listed")
    prompts: LLMPrompts = dataclasses.field(default_factory=LLMPrompts)


def _task(cls: type[TaskConfig] = TaskConfig) -> TaskConfig:
    return dataclasses.field(default_factory=cls)


@dataclass
class QAConfig:
    """Parameters of the QA stage (recipe key `stages.qa`)."""

    default_resources: ClassVar[Resources] = Resources()

    tasks: list[str] = param(list(TASKS), f"task types to generate, among {list(TASKS)}")
    seed: int = param(0, "seed of question sampling and option order (mixed with the run seed)")
    max_gap_s: float = param(
        1.0, "whole-video questions need clips covering the video with no larger gap", min=0.0
    )
    quota: QuotaConfig = dataclasses.field(default_factory=QuotaConfig)
    choice: ChoiceConfig = dataclasses.field(default_factory=ChoiceConfig)
    distractors: DistractorConfig = dataclasses.field(default_factory=DistractorConfig)
    caption: CaptionTaskConfig = _task(CaptionTaskConfig)  # type: ignore[assignment]
    grounding: TaskConfig = _task()
    counting: CountingTaskConfig = _task(CountingTaskConfig)  # type: ignore[assignment]
    relationship: TaskConfig = _task()
    understanding: UnderstandingTaskConfig = _task(UnderstandingTaskConfig)  # type: ignore[assignment]
    llm: LLMConfig = dataclasses.field(default_factory=LLMConfig)

    def __post_init__(self) -> None:
        unknown = [task for task in self.tasks if task not in TASKS]
        if unknown:
            raise ValueError(f"tasks: unknown {unknown} (known: {list(TASKS)})")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks: listed more than once in {self.tasks}")
        if self.uses_llm and not self.llm.model:
            raise ValueError("llm.model: required when a task's generator is llm")
        unprompted = [t for t in self.tasks if self.task(t).generator == "llm"]
        unprompted = [t for t in unprompted if not getattr(self.llm.prompts, t).strip()]
        if unprompted:
            raise ValueError(f"llm.prompts: empty prompt for llm tasks {unprompted}")

    def task(self, name: str) -> TaskConfig:
        """The section of task `name`."""
        return getattr(self, name)

    @property
    def uses_llm(self) -> bool:
        return any(self.task(name).generator == "llm" for name in self.tasks)
