"""The one interface every model adapter implements: frames + prompt in, text out.

An adapter class declares its options as a config dataclass (`Options`, fields made with
`param`), so `model.options` is validated with every other config key before anything
loads. It says which frames it wants (`frame_plan`, run in DataLoader workers) and
answers a batch of requests (`generate`). A request with `frames=None` asks for the
text-only answer: that is how the `blind` baseline runs the same model without video.

Adapters that see the model's logits (`SCORES_OPTIONS`) also score given continuations
(`option_loglikelihoods`, lmms-eval's `loglikelihood` output type): a multiple-choice
question is then answered by the option the model finds most likely, not by parsing
whatever text it generates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from longvid.eval.samples import EvalSample
from longvid_pipeline.config import ConfigProblem

if TYPE_CHECKING:  # the loader imports torch: config validation does without it
    from longvid.eval.loader import FramePlan


@dataclass
class Request:
    """One prompt to answer. `sample` carries the ground truth: only the test adapters
    (`oracle`, `shuffled`) and the answer-free baselines' bookkeeping may read it."""

    prompt: str
    frames: Any | None
    sample: EvalSample


@dataclass(frozen=True)
class OptionScore:
    """How likely the model finds one continuation after a prompt (and its frames)."""

    loglikelihood: float  # summed over the continuation's tokens
    tokens: int
    greedy: bool  # every token is the model's top choice: greedy decoding would write it


@dataclass
class AdapterContext:
    """What every adapter may need besides its options."""

    data_root: Path
    seed: int
    samples: list[EvalSample]
    max_new_tokens: int = 32
    device: str = "auto"
    dtype: str = "auto"


@dataclass
class NoOptions:
    """An adapter without options."""


class Adapter:
    """Base class: `Options`, `frame_plan()`, `generate(requests)`, `describe()`, and
    `option_loglikelihoods(requests, continuations)` where `SCORES_OPTIONS`."""

    Options: ClassVar[type] = NoOptions
    SCORES_OPTIONS: ClassVar[bool] = False  # implements option_loglikelihoods

    def __init__(self, options: Any, context: AdapterContext) -> None:
        self.options = options
        self.context = context

    @classmethod
    def option_problems(cls, options: Any, key: str) -> list[ConfigProblem]:
        """Checks across options (beyond types and bounds); none by default."""
        return []

    def frame_plan(self) -> FramePlan | None:
        """The frames this adapter takes; None: it answers from text alone."""
        return None

    def generate(self, requests: list[Request]) -> list[str]:
        """One answer text per request, in order."""
        raise NotImplementedError

    def can_score_options(self) -> bool:
        """Whether `option_loglikelihoods` works on this instance."""
        return self.SCORES_OPTIONS

    def option_loglikelihoods(
        self, requests: list[Request], continuations: list[list[str]]
    ) -> list[list[OptionScore]]:
        """Per request, one score per continuation (its texts in `continuations[i]`), each
        continuation following the request's prompt and frames as the model's answer."""
        raise NotImplementedError(f"{type(self).__name__} cannot score options")

    def describe(self) -> dict[str, Any]:
        """What ran, for results.json (model source, frame handling)."""
        return {}
