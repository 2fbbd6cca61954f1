"""Typed configuration sections with validation that reports every problem at once.

Shared by recipes (longvid-pipeline) and training/evaluation configs (longvid.train,
longvid.eval): one YAML reader, one `--set key=value` parser, one error type.

A config section is a dataclass whose fields carry their default, a help text and their
bounds (`param(...)`). `build_section` turns a raw mapping into an instance and returns
a list of `ConfigProblem`s naming the dotted key: unknown keys, wrong types, values out
of range (NaN and infinities included) or not among the choices. Nothing raises
half-way, so a file with three mistakes gets three messages in one go; callers raise
one `ConfigError` naming the file, which the CLIs print without a traceback (exit 2).

The steps every config-taking command shares are here once: `config_command` and
`add_overrides_argument` (the command line and its `--set` option), `build_root` (a
whole file's top section, then its cross-field checks), `load_and_build` (read,
override, build, one ConfigError) and `cli_config` (print that error as
`PROG: FILE: ...`, the caller exits 2).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin

import yaml

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
SectionT = TypeVar("SectionT", bound="DataclassInstance")  # a config section class


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a config file: where (dotted key) and what."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(Exception):
    """Every problem found in one config file (a recipe, a training or eval config)."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        if len(problems) == 1:  # one problem, one line
            super().__init__(f"{source}: {problems[0]}")
            return
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problems:\n{lines}")


def read_mapping(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping; a missing or unreadable file is a ConfigError."""
    if not path.is_file():
        raise ConfigError(str(path), [ConfigProblem("<file>", "file not found")])
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            str(path), [ConfigProblem("<yaml>", " ".join(str(exc).split()))]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), [ConfigProblem("<root>", "the file must hold a YAML mapping")])
    return raw


def add_overrides_argument(command: Any, example: str, what: str = "a config value") -> None:
    """The `--set KEY=VALUE` option (repeatable) every config-taking CLI offers, collected
    into `overrides`; `example` is a key=value shown in the help."""
    command.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override {what}, e.g. --set {example} (repeatable)",
    )


def config_command(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """The command line of a tool run on one config file with `--set` overrides
    (longvid.train, longvid.eval); callers add their own flags."""
    command = argparse.ArgumentParser(prog=prog, description=description)
    command.add_argument("config", type=Path, help="config YAML (see configs/)")
    add_overrides_argument(command, example)
    return command


Build = Callable[[dict[str, Any]], tuple[T | None, list[ConfigProblem]]]
Apply = Callable[[dict[str, Any], list[str]], list[ConfigProblem]]


def load_and_build(
    path: Path | None,
    overrides: Sequence[str],
    build: Build[T],
    raw: dict[str, Any] | None = None,
    apply: Apply | None = None,
) -> T:
    """Read a config (the YAML at `path`, or a copy of `raw` given in code), apply the
    `--set` overrides, build it; every problem of both steps in one ConfigError.

    `build` returns the config (None when unusable) and its problems; `apply` replaces
    `apply_overrides` when overrides need more than setting keys (the trainer's named
    schedules). A build problem at or under a key that an override problem names is left
    out: the override's line already says what is wrong there.

    Raises:
        ConfigError: naming `path` (or "config") and every problem, each with its dotted key.
    """
    source = str(path) if path else "config"
    raw = dict(raw) if raw is not None else read_mapping(Path(str(path)))
    problems = (apply or apply_overrides)(raw, list(overrides))
    config, build_problems = build(raw)
    named = {problem.key for problem in problems}
    problems += [
        problem
        for problem in build_problems
        if not any(problem.key == key or problem.key.startswith(f"{key}.") for key in named)
    ]
    if problems or config is None:
        raise ConfigError(source, problems)
    return config


def cli_config(
    prog: str,
    path: Path,
    load: Callable[[], T],
    check: Callable[[T], list[ConfigProblem]] | None = None,
) -> T | None:
    """The config `load()` returns when `check` (done before anything heavy starts) finds
    nothing wrong, else None once the problems are printed as `PROG: FILE: ...` lines on
    stderr: the CLI then exits 2, without a traceback.

    Example:
        config = cli_config("longvid.eval", args.config, lambda: load_config(args.config))
        if config is None:
            return 2
    """
    try:
        config = load()
        problems = check(config) if check else []
        if problems:
            raise ConfigError(str(path), problems)
    except ConfigError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return None
    return config


def parse_override(override: str) -> tuple[list[str], Any] | ConfigProblem:
    """`a.b.0.c=value` -> (["a", "b", "0", "c"], value parsed as YAML), or the problem."""
    key, sep, text = override.partition("=")
    parts = key.strip().split(".")
    if not sep or not key.strip() or any(not part for part in parts):
        return ConfigProblem(f"--set {override}", "expected key=value, e.g. --set a.b=1")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        return ConfigProblem(key, f"value is not valid YAML: {' '.join(str(exc).split())}")
    return parts, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> list[ConfigProblem]:
    """Apply `--set key=value` overrides in place; returns every problem, not the first.

    Dots descend into mappings (created when missing); a number indexes a list.
    """
    problems = []
    for override in overrides:
        parsed = parse_override(override)
        if isinstance(parsed, ConfigProblem):
            problems.append(parsed)
            continue
        parts, value = parsed
        problem = _set_path(raw, parts, value)
        if problem:
            problems.append(problem)
    return problems


def _set_path(raw: dict[str, Any], parts: list[str], value: Any) -> ConfigProblem | None:
    node: Any = raw
    for depth, part in enumerate(parts):
        key = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return ConfigProblem(key, f"{part!r} is not an index of a list of {len(node)}")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            return ConfigProblem(key, f"{'.'.join(parts[:depth]) or 'the root'} is not a mapping")
    return None


def param(
    default: Any,
    help: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A config field: its default (shown in the recipe files), help and bounds.

    A mutable default (list, dict, or a nested section's instance) is copied per instance."""
    meta = {"help": help, "min": min, "max": max, "choices": choices}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


def section(cls: type[T], help: str = "") -> T:
    """A nested config section (a dataclass of params), built from its own defaults."""
    meta = {"help": help, "min": None, "max": None, "choices": None}
    return field(default_factory=cls, metadata=meta)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def check_type(value: Any, tp: Any, key: str) -> tuple[Any, list[ConfigProblem]]:
    """Check `value` against annotation `tp`; returns the (possibly converted) value."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None, []
        real = [option for option in options if option is not type(None)]
        if len(real) == 1:  # `float | None`: the float's own message (e.g. finite) is clearer
            return check_type(value, real[0], key)
        for option in options:
            if option is type(None):
                continue
            converted, errors = check_type(value, option, key)
            if not errors:
                return converted, []
        names = " or ".join(_type_name(o) for o in options)
        return value, [
            ConfigProblem(key, f"expected {names}, got {type(value).__name__} {value!r}")
        ]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            return value, [ConfigProblem(key, f"expected a mapping, got {type(value).__name__}")]
        return build_section(tp, value, key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return value, [ConfigProblem(key, f"expected a list, got {type(value).__name__}")]
        (item_tp, *_) = get_args(tp) or (Any,)
        items, errors = [], []
        for index, item in enumerate(value):
            converted, item_errors = check_type(item, item_tp, f"{key}[{index}]")
            items.append(converted)
            errors.extend(item_errors)
        return (tuple(items) if origin is tuple else items), errors
    if origin is dict:
        if not isinstance(value, dict):
            return value, [ConfigProblem(key, f"expected a mapping, got {type(value).__name__}")]
        return value, []
    if tp is Any:
        return value, []
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value), []
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        return value, [ConfigProblem(key, f"must be a finite number, got {value!r}")]
    if tp in (int, float) and isinstance(value, bool):
        return value, [ConfigProblem(key, f"expected {tp.__name__}, got bool {value!r}")]
    if isinstance(tp, type) and not isinstance(value, tp):
        return value, [
            ConfigProblem(key, f"expected {tp.__name__}, got {type(value).__name__} {value!r}")
        ]
    return value, []


def _check_bounds(value: Any, meta: typing.Mapping[str, Any], key: str) -> list[ConfigProblem]:
    errors = []
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        errors.append(ConfigProblem(key, f"must be one of {list(choices)}, got {value!r}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if meta.get("min") is not None and value < meta["min"]:
            errors.append(ConfigProblem(key, f"must be >= {meta['min']}, got {value!r}"))
        if meta.get("max") is not None and value > meta["max"]:
            errors.append(ConfigProblem(key, f"must be <= {meta['max']}, got {value!r}"))
    return errors


def build_section(
    cls: type[SectionT], raw: dict[str, Any] | None, prefix: str
) -> tuple[SectionT | None, list[ConfigProblem]]:
    """Build dataclass `cls` from `raw`, collecting every problem under `prefix`.

    The instance is None when a value is missing or mistyped or the section's own checks
    fail; values out of bounds still give an instance. Use it only when no problem came back.
    """
    raw = dict(raw or {})
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    errors = [
        ConfigProblem(f"{prefix}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
        for key in raw
        if key not in known
    ]
    values: dict[str, Any] = {}
    mistyped = False  # a field missing, of the wrong type, or a nested section that failed
    for name, fld in known.items():
        key = f"{prefix}.{name}"
        if name not in raw:
            if fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
                errors.append(ConfigProblem(key, "missing required value"))
                mistyped = True
            elif dataclasses.is_dataclass(hints[name]):
                values[name], sub_errors = build_section(hints[name], {}, key)
                errors.extend(sub_errors)
                mistyped = mistyped or values[name] is None
            continue
        converted, type_errors = check_type(raw[name], hints[name], key)
        errors.extend(type_errors)
        nested_failed = dataclasses.is_dataclass(hints[name]) and converted is None
        mistyped = mistyped or bool(type_errors) or nested_failed
        if not type_errors:
            errors.extend(_check_bounds(converted, fld.metadata, key))
        values[name] = converted
    if mistyped:  # the section's own checks (__post_init__) assume every field is typed
        return None, errors
    try:
        return cls(**values), errors
    except (TypeError, ValueError) as exc:
        return None, [*errors, _section_problem(prefix, str(exc), known)]


def build_root(
    cls: type[SectionT],
    raw: dict[str, Any],
    checks: Callable[[SectionT], list[ConfigProblem]] | None = None,
) -> tuple[SectionT | None, list[ConfigProblem]]:
    """A whole file's top section, problems keyed from the root (`data.root`); `checks`
    (problems across fields) run only once every field has built without a problem."""
    config, problems = build_section(cls, raw, "config")
    problems = [ConfigProblem(p.key.removeprefix("config."), p.message) for p in problems]
    if config is not None and not problems and checks is not None:
        problems = checks(config)
    return config, problems


def _section_problem(prefix: str, message: str, fields: typing.Iterable[str]) -> ConfigProblem:
    """A section check's message; `field: ...` names its key (`stages.qa.tasks`)."""
    name, sep, rest = message.partition(": ")
    if sep and name in fields:
        return ConfigProblem(f"{prefix}.{name}", rest)
    return ConfigProblem(prefix, message)
