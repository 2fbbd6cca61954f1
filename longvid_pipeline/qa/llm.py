"""The `llm` generator: a text LLM writes questions from the timestamped timeline.

This is the path for real videos, whose timeline is free text (VLM captions, subtitles)
with no structure for templates to use. Per video, one prompt per task carries the
timeline ("[12.3s - 45.6s] caption" lines), the task's instruction from the recipe and
the JSON form the answer must take. Every reply is parsed and checked against the
timeline — JSON with a `questions` list; spans inside the video; evidence overlapping a
captioned clip; four distinct options with the answer among them; counts as digits —
and whatever fails goes back to the model once with its problems listed. What still
fails becomes a `rejects` row naming the reason; nothing unchecked reaches the `qa`
table. Options are re-ordered here (uniform letters), whatever order the model wrote.

The model sits behind `TextLLM` (`generate(prompts, max_new_tokens) -> texts`), so the
stage runs the same with a Hugging Face causal LM, vLLM, or a scripted test double.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from longvid_pipeline.qa.config import LLMConfig
from longvid_pipeline.qa.formats import (
    COUNT_INSTRUCTION,
    NONE_OF_THE_ABOVE,
    OPTIONS,
    SPAN_INSTRUCTION,
    format_span,
    parse_span,
)
from longvid_pipeline.qa.phrasing import overlaps
from longvid_pipeline.qa.posing import CHOICE, OPEN, Posed
from longvid_pipeline.qa.timeline import Timeline

TOLERANCE_S = 0.05
FORMAT_RULES = (
    "Reply with JSON only, no other text, in exactly this form:\n"
    '{"questions": [{"question": "...", "answer": "...", "options": null,'
    ' "evidence": [[START_S, END_S]]}]}\n'
    "Rules:\n"
    "- Every answer must follow from the timeline alone.\n"
    "- evidence lists the time spans, in seconds, of the timeline lines that prove the answer.\n"
    "- options is null for an open question; for a multiple-choice question it lists exactly"
    " 4 distinct options and answer repeats one of them word for word.\n"
    f'- Write time spans as in "{format_span(12.3, 45.6)}" and counts as digits, e.g. "3".'
)


class TextLLM(Protocol):
    """What the generator needs from a model: text in, text out, batched."""

    def generate(self, prompts: list[str], max_new_tokens: int) -> list[str]: ...


class RegisteredTextLLM:
    """A model backend from `models.registry.TEXT_LLMS` (or a "module:Class" path) as a
    `TextLLM`: built from the recipe's `llm` section, set up once (per actor).

    Backends take their token budget from the settings and answer every prompt or fail
    it by position (a batch result's `.results`, None where it failed); a failed prompt
    reads as an empty reply, which the checks then reject with a reason.
    """

    def __init__(self, config: LLMConfig) -> None:
        from longvid_pipeline.models.registry import TEXT_LLMS, missing_extra
        from longvid_pipeline.registry import import_object

        path = TEXT_LLMS.get(config.backend, config.backend)
        if ":" not in path:
            known = ", ".join(TEXT_LLMS)
            raise ValueError(f"unknown text LLM backend {config.backend!r} (known: {known})")
        missing = missing_extra(config.backend)
        if missing:
            raise RuntimeError(missing)
        self.backend = import_object(path)(config)
        self.backend.setup()
        self.name = f"llm:{config.backend}:{config.model}"

    def generate(self, prompts: list[str], max_new_tokens: int) -> list[str]:
        result = self.backend.generate(prompts)
        texts = getattr(result, "results", result)
        return [text or "" for text in texts]


@dataclass(frozen=True)
class TaskRequest:
    """What one task asks of the model for one video."""

    task: str
    count: int
    open_count: int
    focus: tuple[float, float] | None = None  # the stretch of video this prompt asks about


def split_requests(
    task: str, count: int, open_share: float, per_prompt: int, duration_s: float
) -> list[TaskRequest]:
    """A task's quota as prompts of at most `per_prompt` questions, each pointed at its own
    stretch of the video (identical prompts would get identical answers)."""
    prompts = max(1, -(-count // per_prompt))
    requests = []
    for index in range(prompts):
        share = count // prompts + (1 if index < count % prompts else 0)
        focus = (duration_s * index / prompts, duration_s * (index + 1) / prompts)
        requests.append(
            TaskRequest(task, share, round(share * open_share), focus if prompts > 1 else None)
        )
    return [request for request in requests if request.count > 0]


@dataclass
class LLMFailure:
    """Something the model wrote that could not be used, even after one repair."""

    task: str
    reason: str
    detail: str
    raw: dict[str, Any]


@dataclass
class LLMOutcome:
    posed: list[Posed] = field(default_factory=list)
    failures: list[LLMFailure] = field(default_factory=list)


def timeline_text(timeline: Timeline, max_chars: int) -> str:
    """The timeline as the prompt shows it: one '[start - end] caption' line per event."""
    lines = [f"[{e.start_s:.1f}s - {e.end_s:.1f}s] {e.caption.strip()}" for e in timeline.events]
    text = "\n".join(lines)
    return text if len(text) <= max_chars else text[: max_chars - 4].rsplit("\n", 1)[0] + "\n..."


def task_prompt(timeline: Timeline, request: TaskRequest, config: LLMConfig) -> str:
    """The prompt of one task: timeline, the recipe's instruction, counts, JSON rules."""
    summary = f"Summary: {timeline.summary.strip()}\n" if timeline.summary else ""
    choice = request.count - request.open_count
    extra = {"counting": COUNT_INSTRUCTION, "grounding": SPAN_INSTRUCTION}.get(request.task, "")
    if request.focus is not None:
        start, end = request.focus
        extra += f" Ask about what happens between {start:.1f}s and {end:.1f}s."
    return (
        "You write question-answer pairs about a video for training a video model.\n"
        f"The video lasts {timeline.duration_s:.1f} seconds. Its timeline, one line per"
        " event with its time span:\n"
        f"{timeline_text(timeline, config.max_timeline_chars)}\n{summary}\n"
        f"Task ({request.task}): {getattr(config.prompts, request.task)} {extra}\n"
        f"Write {request.count} questions: {request.open_count} open-ended and {choice}"
        " multiple-choice.\n"
        f"{FORMAT_RULES}\n"
    )


def repair_prompt(prompt: str, reply: str, problems: list[str]) -> str:
    listed = "\n".join(f"- {problem}" for problem in problems)
    return (
        f"{prompt}\nYour previous reply was:\n{reply[:4000]}\n"
        f"It has these problems:\n{listed}\n"
        "Reply again with the corrected questions only, as JSON in the form above.\n"
    )


def parse_reply(text: str) -> list[Any] | str:
    """The `questions` list of a reply, or the reason there is none."""
    cleaned = re.sub(r"```(?:json)?", "", text).strip()
    start = cleaned.find("{")
    if start < 0:
        return "not_json: the reply holds no JSON object"
    try:
        data, _ = json.JSONDecoder().raw_decode(cleaned[start:])
    except json.JSONDecodeError as exc:
        return f"not_json: {exc.msg} at character {exc.pos}"
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        return 'no_questions: the JSON object has no "questions" list'
    return list(data["questions"])


class ItemChecker:
    """Checks one proposed question against the timeline; returns its problems."""

    def __init__(self, timeline: Timeline, task: str) -> None:
        self.timeline, self.task = timeline, task

    def problems(self, item: Any) -> list[str]:
        if not isinstance(item, dict):
            return ["each question must be a JSON object"]
        found = [
            f"{name} must be a non-empty string"
            for name in ("question", "answer")
            if not isinstance(item.get(name), str) or not item[name].strip()
        ]
        found += self._options(item)
        found += self._evidence(item.get("evidence"))
        if not found:
            found += self._answer(item)
        return found

    def _options(self, item: dict[str, Any]) -> list[str]:
        options = item.get("options")
        if options is None:
            return []
        if not isinstance(options, list) or not all(
            isinstance(o, str) and o.strip() for o in options
        ):
            return ["options must be null or a list of non-empty strings"]
        if len(options) != OPTIONS or len({_norm(o) for o in options}) != OPTIONS:
            return [f"options must be {OPTIONS} distinct strings, got {len(options)}"]
        if isinstance(item.get("answer"), str) and resolve_answer(item["answer"], options) is None:
            return ["answer is not one of the options"]
        return []

    def _evidence(self, evidence: Any) -> list[str]:
        if not isinstance(evidence, list) or not evidence:
            return ["evidence must be a non-empty list of [start_s, end_s] pairs"]
        problems = []
        for span in evidence:
            if not _is_span(span):
                problems.append(f"evidence {span!r} is not a pair of numbers [start_s, end_s]")
            elif not self._inside(float(span[0]), float(span[1])):
                problems.append(
                    f"evidence {span} is not inside the video (0 to {self.timeline.duration_s:.1f}s)"
                )
            elif not any(overlaps((span[0], span[1]), clip.span) for clip in self.timeline.clips):
                problems.append(f"evidence {span} overlaps no captioned part of the video")
        return problems

    def _answer(self, item: dict[str, Any]) -> list[str]:
        """Task rules on the answer (and on options, which are answers too)."""
        texts = [item["answer"], *(item.get("options") or [])]
        problems = []
        for text in texts:
            span = parse_span(text)
            if span is not None and not self._inside(*span):
                problems.append(f"time span in {text!r} is not inside the video")
        if self.task == "counting":
            bad = [
                t for t in texts if not re.fullmatch(r"\d+", t.strip()) and t != NONE_OF_THE_ABOVE
            ]
            if bad:
                problems.append(f"counting answers and options must be digits, got {bad[0]!r}")
        return problems

    def _inside(self, start: float, end: float) -> bool:
        return 0.0 <= start < end <= self.timeline.duration_s + TOLERANCE_S


def _is_span(span: Any) -> bool:
    return (
        isinstance(span, (list, tuple))
        and len(span) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in span)
    )


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().rstrip(".").lower())


def resolve_answer(answer: str, options: list[str]) -> int | None:
    """Index of the option the answer repeats (case, spacing and final period ignored)."""
    matches = [i for i, option in enumerate(options) if _norm(option) == _norm(answer)]
    return matches[0] if len(matches) == 1 else None


@dataclass
class _Attempt:
    """One task's reply after checking: usable items, failing items, or no items at all."""

    request: TaskRequest
    prompt: str
    reply: str
    valid: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    broken: str | None = None  # why the reply as a whole is unusable


class LLMQuestionWriter:
    """Writes, checks, repairs once and poses the LLM's questions for one video."""

    def __init__(self, llm: TextLLM, config: LLMConfig, name: str) -> None:
        self.llm, self.config, self.name = llm, config, name

    def write(
        self, timeline: Timeline, requests: list[TaskRequest], rng: random.Random
    ) -> LLMOutcome:
        prompts = [task_prompt(timeline, request, self.config) for request in requests]
        replies = self.llm.generate(prompts, self.config.max_new_tokens)
        attempts = [
            self._check(timeline, request, prompt, reply)
            for request, prompt, reply in zip(requests, prompts, replies, strict=True)
        ]
        if self.config.repair:
            attempts = self._repair(timeline, attempts)
        outcome = LLMOutcome()
        for attempt in attempts:
            self._collect(attempt, outcome, rng)
        return outcome

    def _check(self, timeline: Timeline, request: TaskRequest, prompt: str, reply: str) -> _Attempt:
        attempt = _Attempt(request, prompt, reply)
        parsed = parse_reply(reply)
        if isinstance(parsed, str):
            attempt.broken = parsed
            return attempt
        checker = ItemChecker(timeline, request.task)
        for item in parsed:
            problems = checker.problems(item)
            if problems:
                attempt.invalid.append((item, problems))
            else:
                attempt.valid.append(item)
        return attempt

    def _repair(self, timeline: Timeline, attempts: list[_Attempt]) -> list[_Attempt]:
        """Send each failed reply (or its failing items) back once with the problems."""
        needing = [a for a in attempts if a.broken or a.invalid]
        if not needing:
            return attempts
        prompts = [self._repair_prompt(a) for a in needing]
        replies = self.llm.generate(prompts, self.config.max_new_tokens)
        repaired = {
            id(a): self._check(timeline, a.request, prompt, reply)
            for a, prompt, reply in zip(needing, prompts, replies, strict=True)
        }
        merged = []
        for attempt in attempts:
            again = repaired.get(id(attempt))
            if again is not None:
                again.valid = attempt.valid + again.valid
            merged.append(again or attempt)
        return merged

    def _repair_prompt(self, attempt: _Attempt) -> str:
        if attempt.broken:
            return repair_prompt(attempt.prompt, attempt.reply, [attempt.broken])
        failing = json.dumps({"questions": [item for item, _ in attempt.invalid]}, default=str)
        problems = [
            f"question {number}: {'; '.join(found)}"
            for number, (_, found) in enumerate(attempt.invalid, start=1)
        ]
        return repair_prompt(attempt.prompt, failing, problems)

    def _collect(self, attempt: _Attempt, outcome: LLMOutcome, rng: random.Random) -> None:
        task = attempt.request.task
        if attempt.broken:
            reason, _, detail = attempt.broken.partition(": ")
            raw = {"task": task, "reply": attempt.reply[:2000]}
            outcome.failures.append(LLMFailure(task, f"llm_{reason}", detail, raw))
        for item, problems in attempt.invalid:
            outcome.failures.append(LLMFailure(task, "llm_invalid", "; ".join(problems), item))
        for item in attempt.valid[: attempt.request.count]:
            outcome.posed.append(self._posed(task, item, rng))

    def _posed(self, task: str, item: dict[str, Any], rng: random.Random) -> Posed:
        """A checked item as a posed question; options re-ordered with uniform letters."""
        evidence = tuple((float(s), float(e)) for s, e in item["evidence"])
        answer = item["answer"].strip()
        options = item.get("options")
        if options is None:
            instruction = COUNT_INSTRUCTION if task == "counting" else None
            if task == "grounding" and parse_span(answer) is not None:
                instruction = SPAN_INSTRUCTION
            negative = task == "counting" and answer == "0"
            return Posed(task, f"{task}/llm", OPEN, item["question"].strip(), answer, evidence,
                         negative=negative, instruction=instruction)  # fmt: skip
        options = [o.strip() for o in options]
        right = options[resolve_answer(answer, options) or 0]
        order = [o for o in options if o != NONE_OF_THE_ABOVE]
        rng.shuffle(order)
        order += [o for o in options if o == NONE_OF_THE_ABOVE]  # 'None of the above' stays last
        negative = right == NONE_OF_THE_ABOVE or (task == "counting" and right == "0")
        return Posed(task, f"{task}/llm", CHOICE, item["question"].strip(), right, evidence,
                     negative=negative, options=order, answer_index=order.index(right))  # fmt: skip
