"""Stage names -> import paths, and which stage each one needs before it.

A small registry instead of an if/elif chain: a new stage is one line here. Classes are
imported only when a recipe names them, so a recipe without a GPU stage never imports a
model library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from longvid_pipeline.stage import Stage

STAGES: dict[str, str] = {
    "fetch": "longvid_pipeline.stages.fetch:FetchStage",
    "segment": "longvid_pipeline.stages.segment:SegmentStage",
    "caption": "longvid_pipeline.stages.caption:CaptionStage",
    "qa": "longvid_pipeline.stages.qa:QAStage",
    "validate": "longvid_pipeline.stages.validate:ValidateStage",
    "niah": "longvid_pipeline.stages.niah:NiahStage",
}

# stage -> the stage that must run (earlier in the recipe) before it.
REQUIRES: dict[str, str | None] = {
    "fetch": None,
    "segment": "fetch",
    "caption": "segment",
    "qa": "caption",
    "validate": None,  # runs last, after the entry stage (recipe._check_order)
    "niah": None,
}


def import_object(path: str) -> Any:
    """The object a "package.module:Name" path names, imported on first use.

    Every registry of names (stages, caption and model backends) maps names to such
    paths, so naming a backend in a recipe is what imports its libraries.
    """
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def stage_class(name: str) -> type[Stage]:
    """Import and return the stage class registered under `name`."""
    return import_object(STAGES[name])
