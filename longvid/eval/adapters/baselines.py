"""Baselines that show how much the video matters, and two test adapters.

blind     another adapter (the model under test) answering without frames
random    a uniformly random answer of the right form (seeded per sample)
majority  per task and form, the most common answer of the fit splits (the prior a
          model can learn without looking); the median span as shares of the video
oracle    the ground truth: any scoring pipeline must give it 100%
shuffled  the ground truth of another sample of the same task and form: about chance
"""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from longvid.eval.adapters.base import Adapter, AdapterContext, OptionScore, Request
from longvid.eval.loader import FramePlan
from longvid.eval.parsing import format_answer, format_span
from longvid.eval.samples import EvalSample, qa_samples
from longvid_pipeline.config import ConfigProblem, param


def _sample_rng(seed: int, sample_id: str) -> random.Random:
    return random.Random(f"{seed}|{sample_id}")


@dataclass
class BlindOptions:
    base: dict = param(
        {"name": "random", "options": {}}, "the adapter to run without frames: {name, options}"
    )


def _without_frames(requests: list[Request]) -> list[Request]:
    return [Request(r.prompt, None, r.sample) for r in requests]


class BlindAdapter(Adapter):
    """The wrapped adapter with every request's frames removed (same weights, no video)."""

    Options = BlindOptions

    def __init__(self, options: BlindOptions, context: AdapterContext, base: Adapter | None = None):
        super().__init__(options, context)
        if base is None:
            from longvid.eval.adapters import build_adapter

            base = build_adapter(options.base["name"], options.base.get("options"), context)
        self.base = base

    @classmethod
    def wrapping(cls, base: Adapter) -> BlindAdapter:
        """Blind twin of an adapter already loaded (the `blind` baseline of a run)."""
        return cls(BlindOptions(), base.context, base=base)

    @classmethod
    def option_problems(cls, options: BlindOptions, key: str) -> list[ConfigProblem]:
        from longvid.eval.adapters import adapter_problems

        name = options.base.get("name")
        if not isinstance(name, str) or name == "blind":
            return [ConfigProblem(f"{key}.base.name", "name a non-blind adapter to run blind")]
        return adapter_problems(name, options.base.get("options"), f"{key}.base.options")

    def frame_plan(self) -> FramePlan | None:
        return None

    def generate(self, requests: list[Request]) -> list[str]:
        return self.base.generate(_without_frames(requests))

    def can_score_options(self) -> bool:
        return self.base.can_score_options()

    def option_loglikelihoods(
        self, requests: list[Request], continuations: list[list[str]]
    ) -> list[list[OptionScore]]:
        return self.base.option_loglikelihoods(_without_frames(requests), continuations)

    def describe(self) -> dict[str, Any]:
        return {"blind_of": self.base.describe()}


class RandomAdapter(Adapter):
    """A random option, span inside the video, count in 0..10; nothing for open answers."""

    def generate(self, requests: list[Request]) -> list[str]:
        return [self._answer(request.sample) for request in requests]

    def _answer(self, sample: EvalSample) -> str:
        rng = _sample_rng(self.context.seed, sample.sample_id)
        if sample.form == "choice":
            return format_answer("choice", rng.randrange(len(sample.options or [""])))
        if sample.form == "span":
            ends = sorted(rng.uniform(0.0, sample.duration_s) for _ in range(2))
            return format_span(*ends)
        if sample.form == "count":
            return str(rng.randint(0, 10))
        return ""


@dataclass
class MajorityOptions:
    fit_splits: list[str] = param(["train"], "qa splits the answer prior is counted on")


class MajorityAdapter(Adapter):
    """The most common answer per (task, form) of the fit splits; without any, a fixed guess
    (option A, count 0, the whole video, no text)."""

    Options = MajorityOptions

    def __init__(self, options: MajorityOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        from longvid_pipeline.api import read_rows

        try:
            rows = read_rows(context.data_root, "qa", where={"split": options.fit_splits})
        except FileNotFoundError:
            rows = []
        self.fit_rows = len(rows)
        self.prior = _priors(qa_samples(rows))

    def generate(self, requests: list[Request]) -> list[str]:
        return [self._answer(request.sample) for request in requests]

    def _answer(self, sample: EvalSample) -> str:
        prior = self.prior.get((sample.task, sample.form))
        if sample.form == "span":
            start, end = prior if prior is not None else (0.0, 1.0)
            return format_span(start * sample.duration_s, end * sample.duration_s)
        if sample.form == "choice":
            return format_answer("choice", min(prior or 0, len(sample.options or [""]) - 1))
        if prior is None:
            return "0" if sample.form == "count" else ""
        return str(prior)

    def describe(self) -> dict[str, Any]:
        return {"fit_splits": self.options.fit_splits, "fit_rows": self.fit_rows}


def _priors(samples: list[EvalSample]) -> dict[tuple[str, str], Any]:
    """Per (task, form): the most common target; for spans the median shares of the video."""
    groups: dict[tuple[str, str], list[EvalSample]] = defaultdict(list)
    for sample in samples:
        groups[(sample.task, sample.form)].append(sample)
    priors: dict[tuple[str, str], Any] = {}
    for key, members in groups.items():
        if key[1] == "span":
            shares = [
                (s.target[0] / s.duration_s, s.target[1] / s.duration_s)
                for s in members
                if s.duration_s > 0
            ]
            if shares:
                priors[key] = tuple(
                    statistics.median(column) for column in zip(*shares, strict=True)
                )
        else:
            targets = Counter(str(s.target) if key[1] == "open" else s.target for s in members)
            priors[key] = sorted(targets.items(), key=lambda item: (-item[1], str(item[0])))[0][0]
    return priors


@dataclass
class TestAdapterOptions:
    frames: int | None = param(
        None, "decode this many frames per sample anyway (tests of the data path); null: none"
    )


class _DecodingTestAdapter(Adapter):
    """A test adapter that can ask for frames, so tests exercise decoding end to end."""

    Options = TestAdapterOptions

    def frame_plan(self) -> FramePlan | None:
        if self.options.frames is None:
            return None
        return FramePlan(frames=self.options.frames, height=32, width=32)


class OracleAdapter(_DecodingTestAdapter):
    """Answers with the ground truth in the dataset's answer form."""

    def generate(self, requests: list[Request]) -> list[str]:
        return [_truth(request.sample) for request in requests]


def _truth(sample: EvalSample) -> str:
    if sample.form == "open":
        return sample.answer
    return format_answer(sample.form, sample.target, sample.options)


class ShuffledAdapter(_DecodingTestAdapter):
    """Answers each sample with the truth of another sample of the same task and form."""

    def __init__(self, options: Any, context: AdapterContext) -> None:
        super().__init__(options, context)
        groups: dict[tuple[str, str], list[EvalSample]] = defaultdict(list)
        for sample in context.samples:
            groups[(sample.task, sample.form)].append(sample)
        rng = random.Random(context.seed)
        self.partner: dict[str, EvalSample] = {}
        for members in groups.values():
            order = list(members)
            rng.shuffle(order)
            for index, sample in enumerate(order):  # a cycle: nobody keeps their own truth
                self.partner[sample.sample_id] = order[(index + 1) % len(order)]

    def generate(self, requests: list[Request]) -> list[str]:
        return [self._answer(request.sample) for request in requests]

    def _answer(self, sample: EvalSample) -> str:
        other = self.partner.get(sample.sample_id, sample)
        if sample.form == "choice":
            return format_answer("choice", int(other.target) % len(sample.options or [""]))
        return _truth(other)
