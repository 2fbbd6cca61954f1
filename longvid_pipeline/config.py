"""Typed configuration sections with validation that reports every problem at once.

A config section is a dataclass whose fields carry their default, a help text and their
bounds (`param(...)`). `build_section` turns a raw mapping from a recipe into an
instance and returns a list of `ConfigError`s naming the dotted key: unknown keys, wrong
types, values out of range or not among the choices. Nothing raises half-way, so a
recipe with three mistakes gets three messages in one go.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union, get_args, get_origin

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigError:
    """One problem in a recipe: where (dotted key) and what."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def param(
    default: Any,
    help: str = "",
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A config field: its default (shown in the recipe files), help and bounds."""
    meta = {"help": help, "min": min, "max": max, "choices": choices}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _check_type(value: Any, tp: Any, key: str) -> tuple[Any, list[ConfigError]]:
    """Check `value` against annotation `tp`; returns the (possibly converted) value."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None, []
        for option in options:
            if option is type(None):
                continue
            converted, errors = _check_type(value, option, key)
            if not errors:
                return converted, []
        names = " or ".join(_type_name(o) for o in options)
        return value, [ConfigError(key, f"expected {names}, got {type(value).__name__} {value!r}")]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            return value, [ConfigError(key, f"expected a mapping, got {type(value).__name__}")]
        return build_section(tp, value, key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return value, [ConfigError(key, f"expected a list, got {type(value).__name__}")]
        (item_tp, *_) = get_args(tp) or (Any,)
        items, errors = [], []
        for index, item in enumerate(value):
            converted, item_errors = _check_type(item, item_tp, f"{key}[{index}]")
            items.append(converted)
            errors.extend(item_errors)
        return (tuple(items) if origin is tuple else items), errors
    if origin is dict:
        if not isinstance(value, dict):
            return value, [ConfigError(key, f"expected a mapping, got {type(value).__name__}")]
        return value, []
    if tp is Any:
        return value, []
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value), []
    if tp in (int, float) and isinstance(value, bool):
        return value, [ConfigError(key, f"expected {tp.__name__}, got bool {value!r}")]
    if isinstance(tp, type) and not isinstance(value, tp):
        return value, [
            ConfigError(key, f"expected {tp.__name__}, got {type(value).__name__} {value!r}")
        ]
    return value, []


def _check_bounds(value: Any, meta: typing.Mapping[str, Any], key: str) -> list[ConfigError]:
    errors = []
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        errors.append(ConfigError(key, f"must be one of {list(choices)}, got {value!r}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if meta.get("min") is not None and value < meta["min"]:
            errors.append(ConfigError(key, f"must be >= {meta['min']}, got {value!r}"))
        if meta.get("max") is not None and value > meta["max"]:
            errors.append(ConfigError(key, f"must be <= {meta['max']}, got {value!r}"))
    return errors


def build_section(cls: type[T], raw: dict[str, Any] | None, prefix: str) -> tuple[T, list[ConfigError]]:
    """Build dataclass `cls` from `raw`, collecting every problem under `prefix`."""
    raw = dict(raw or {})
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    errors = [
        ConfigError(f"{prefix}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
        for key in raw
        if key not in known
    ]
    values: dict[str, Any] = {}
    for name, fld in known.items():
        key = f"{prefix}.{name}"
        if name not in raw:
            if fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
                errors.append(ConfigError(key, "missing required value"))
            elif dataclasses.is_dataclass(hints[name]):
                values[name], sub_errors = build_section(hints[name], {}, key)
                errors.extend(sub_errors)
            continue
        converted, type_errors = _check_type(raw[name], hints[name], key)
        errors.extend(type_errors)
        if not type_errors:
            errors.extend(_check_bounds(converted, fld.metadata, key))
        values[name] = converted
    try:
        instance = cls(**values)
    except (TypeError, ValueError) as exc:
        errors.append(ConfigError(prefix, str(exc)))
        instance = None  # type: ignore[assignment]
    return instance, errors


def section_defaults(cls: type) -> dict[str, Any]:
    """The defaults of a section as plain data: what a recipe file shows."""
    return dataclasses.asdict(cls())
