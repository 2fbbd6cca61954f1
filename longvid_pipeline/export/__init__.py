"""Exporters: a built dataset in the files other tools read (`longvid-pipeline export`).

A small registry of formats: each name maps to a "module:Class" path, imported only when
asked for. An exporter class has a `Config` dataclass (its options, given on the command
line as `--set key=value` and checked like a recipe) and `export(out, dest) -> summary`.

Example::

    longvid-pipeline export out/demo --format hf exports/hf
    longvid-pipeline export out/demo --format llava exports/llava --set timestamp_prompt=none
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from longvid_pipeline.config import ConfigError, apply_overrides, build_section
from longvid_pipeline.registry import import_object

EXPORT_FORMATS: dict[str, str] = {
    "hf": "longvid_pipeline.export.hf:HfExport",
    "llava": "longvid_pipeline.export.llava:LlavaExport",
}


class Exporter(Protocol):
    Config: type

    def __init__(self, config: Any) -> None: ...

    def export(self, out: Path, dest: Path) -> dict[str, Any]: ...


def exporter(name: str, overrides: list[str]) -> Exporter:
    """The exporter `name` with its options from `--set` overrides; ConfigError lists
    every problem at once."""
    cls = import_object(EXPORT_FORMATS[name])
    raw: dict[str, Any] = {}
    problems = apply_overrides(raw, overrides)
    config, errors = build_section(cls.Config, raw, f"export.{name}")
    if problems or errors:
        raise ConfigError(f"export --format {name}", problems + errors)
    return cls(config)
