"""Model adapters by name: a small registry of import paths, loaded only when named.

longvid      a checkpoint written by longvid.train
hf_llava     LLaVA-OneVision / LLaVA-NeXT-Video (transformers), training-free SlowFast
hf_qwen_vl   Qwen2-VL / Qwen2.5-VL (transformers)
openai       any OpenAI-compatible chat endpoint (frames sent as images)
blind        another adapter without frames (the text-only baseline)
random       a uniformly random answer of the right form
majority     the most common answer per task and form of the fit splits
oracle       the ground truth (tests: must score 100%)
shuffled     another sample's ground truth (tests: must score about chance)
"""

from __future__ import annotations

from typing import Any

from longvid.eval.adapters.base import Adapter, AdapterContext, OptionScore, Request
from longvid_pipeline.config import ConfigProblem, build_section
from longvid_pipeline.registry import import_object

ADAPTERS: dict[str, str] = {
    "longvid": "longvid.eval.adapters.longvid_ckpt:LongvidAdapter",
    "hf_llava": "longvid.eval.adapters.hf_llava:LlavaAdapter",
    "hf_qwen_vl": "longvid.eval.adapters.hf_qwen_vl:QwenVLAdapter",
    "openai": "longvid.eval.adapters.openai_api:OpenAIAdapter",
    "blind": "longvid.eval.adapters.baselines:BlindAdapter",
    "random": "longvid.eval.adapters.baselines:RandomAdapter",
    "majority": "longvid.eval.adapters.baselines:MajorityAdapter",
    "oracle": "longvid.eval.adapters.baselines:OracleAdapter",
    "shuffled": "longvid.eval.adapters.baselines:ShuffledAdapter",
}

__all__ = [
    "ADAPTERS",
    "Adapter",
    "AdapterContext",
    "OptionScore",
    "Request",
    "adapter_problems",
    "build_adapter",
    "scores_options",
]


def adapter_class(name: str) -> type[Adapter]:
    """The adapter class registered under `name` (imports its libraries)."""
    return import_object(ADAPTERS[name])


def adapter_problems(name: str, options: dict[str, Any] | None, key: str) -> list[ConfigProblem]:
    """Every problem with an adapter name and its options, keys under `key` (model.options)."""
    if name not in ADAPTERS:
        return [
            ConfigProblem(
                key.rsplit(".", 1)[0] + ".name",
                f"unknown adapter {name!r}; known: {', '.join(ADAPTERS)}",
            )
        ]
    cls = adapter_class(name)
    built, problems = build_section(cls.Options, options or {}, key)
    if not problems:
        problems = cls.option_problems(built, key)
    return problems


def scores_options(name: str, options: dict[str, Any] | None) -> bool:
    """Whether the adapter `name` can score options by likelihood (`blind`: its base can)."""
    if name == "blind":
        base = (options or {}).get("base") or {}
        return isinstance(base, dict) and scores_options(str(base.get("name", "random")), {})
    return name in ADAPTERS and adapter_class(name).SCORES_OPTIONS


def build_adapter(name: str, options: dict[str, Any] | None, context: AdapterContext) -> Adapter:
    """Build (load) an adapter; options must have passed `adapter_problems`.

    Raises:
        ValueError: the options do not validate (callers check them first).
    """
    cls = adapter_class(name)
    built, problems = build_section(cls.Options, options or {}, "model.options")
    problems = problems or cls.option_problems(built, "model.options")
    if problems:
        raise ValueError("; ".join(str(problem) for problem in problems))
    return cls(built, context)
