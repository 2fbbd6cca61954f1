"""The steps every config-taking command shares: load_and_build and cli_config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from longvid_pipeline.config import (
    ConfigError,
    ConfigProblem,
    build_section,
    cli_config,
    load_and_build,
    param,
)


@dataclass
class Inner:
    steps: int = param(1, "steps", min=1)


@dataclass
class Outer:
    name: str = param("x", "a name")
    inner: Inner = field(default_factory=Inner)


def _build(raw: dict[str, Any]) -> tuple[Outer | None, list[ConfigProblem]]:
    return build_section(Outer, raw, "config")


def test_overrides_then_build_every_problem_once(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: a\ninner: {steps: 2}\n")
    assert load_and_build(path, ["inner.steps=5"], _build).inner.steps == 5
    with pytest.raises(ConfigError) as caught:
        load_and_build(path, ["inner.steps=0", "name: b", "bogus=1"], _build)
    assert [str(p) for p in caught.value.problems] == [
        "--set name: b: expected key=value, e.g. --set a.b=1",
        "config.bogus: unknown key (known: inner, name)",
        "config.inner.steps: must be >= 1, got 0",
    ]
    assert caught.value.source == str(path)

    def named_inner(raw: dict[str, Any], overrides: list[str]) -> list[ConfigProblem]:
        raw["inner"] = "fast"  # e.g. a preset name that did not resolve
        return [ConfigProblem("config.inner", "no preset 'fast'")]

    with pytest.raises(ConfigError) as caught:  # not again as "expected a mapping"
        load_and_build(None, [], _build, raw={"name": 3}, apply=named_inner)
    assert [p.key for p in caught.value.problems] == ["config.inner", "config.name"]
    assert caught.value.source == "config"


def test_cli_config_prints_problems_and_returns_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.yaml"
    assert cli_config("prog", path, lambda: load_and_build(path, [], _build)) is None
    assert capsys.readouterr().err == f"prog: {path}: <file>: file not found\n"

    def no_x(config: Outer) -> list[ConfigProblem]:
        return [ConfigProblem("name", "must not be x")] if config.name == "x" else []

    load = lambda: load_and_build(None, [], _build, raw={})  # noqa: E731
    assert cli_config("prog", path, load, no_x) is None
    assert capsys.readouterr().err == f"prog: {path}: name: must not be x\n"
    assert cli_config("prog", path, load) == Outer()
