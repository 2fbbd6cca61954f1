"""Stage names -> where their code and their config live, and what each needs before it.

A small registry instead of an if/elif chain: a new stage is one line here. Each stage
has two import paths: its `Stage` class (imported by a run, on the workers that run it)
and its config dataclass (a light module of its helper package: validating a recipe,
`run --check` included, imports only these, never yt-dlp, PyAV, pyarrow or a model).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from longvid_pipeline.stage import Resources, Stage


@dataclass(frozen=True)
class StageEntry:
    """Where one stage lives: "package.module:Name" of its Stage class and of its Config."""

    stage: str
    config: str


STAGES: dict[str, StageEntry] = {
    "fetch": StageEntry(
        "longvid_pipeline.stages.fetch:FetchStage", "longvid_pipeline.fetching.config:FetchConfig"
    ),
    "segment": StageEntry(
        "longvid_pipeline.stages.segment:SegmentStage",
        "longvid_pipeline.segmenting.config:SegmentConfig",
    ),
    "caption": StageEntry(
        "longvid_pipeline.stages.caption:CaptionStage",
        "longvid_pipeline.captioning.config:CaptionConfig",
    ),
    "summarize": StageEntry(
        "longvid_pipeline.stages.summarize:SummarizeStage",
        "longvid_pipeline.captioning.config:SummarizeConfig",
    ),
    "qa": StageEntry("longvid_pipeline.stages.qa:QAStage", "longvid_pipeline.qa.config:QAConfig"),
    "validate": StageEntry(
        "longvid_pipeline.stages.validate:ValidateStage",
        "longvid_pipeline.validation.config:ValidateConfig",
    ),
    "niah": StageEntry(
        "longvid_pipeline.stages.niah:NiahStage", "longvid_pipeline.niah.config:NiahConfig"
    ),
}

# stage -> the stage that must run (earlier in the recipe) before it.
REQUIRES: dict[str, str | None] = {
    "fetch": None,
    "segment": "fetch",
    "caption": "segment",
    "summarize": "caption",
    "qa": "caption",
    "validate": None,  # runs last, after the entry stage (recipe._check_order)
    "niah": None,
}


class StageConfig(Protocol):
    """A stage's config: a dataclass of params, plus the resources the stage asks for."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    default_resources: ClassVar[Resources]


def import_object(path: str) -> Any:
    """The object a "package.module:Name" path names, imported on first use.

    Every registry of names (stages, caption and model backends) maps names to such
    paths, so naming a backend in a recipe is what imports its libraries.
    """
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def stage_class(name: str) -> type[Stage]:
    """Import and return the stage class registered under `name` (heavy: its libraries)."""
    stage_cls: type[Stage] = import_object(STAGES[name].stage)
    return stage_cls


def stage_config(name: str) -> type[StageConfig]:
    """Import and return the config class of the stage `name` (light)."""
    config_cls: type[StageConfig] = import_object(STAGES[name].config)
    return config_cls
