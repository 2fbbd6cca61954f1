"""Recipes: one YAML per build, validated completely before any work starts.

A recipe names its source, the ordered stages with their parameters and resources, and
how shards are written. `load_recipe` reads the file, applies `--set key=value`
overrides, and validates everything at once: unknown keys, wrong types, values out of
range, unknown stages or stages out of order all come back together in one
`ConfigError` that names the file and each dotted key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from longvid_pipeline.config import (
    ConfigError,
    ConfigProblem,
    build_root,
    build_section,
    load_and_build,
    param,
)
from longvid_pipeline.demo.config import DemoWorldConfig
from longvid_pipeline.registry import REQUIRES, STAGES, stage_config
from longvid_pipeline.splits import SplitsConfig
from longvid_pipeline.stage import Resources, StageSpec

RECIPE_DIR = Path(__file__).resolve().parent.parent / "stages"
DEFAULT_RECIPE = RECIPE_DIR / "demo.yaml"


@dataclass
class RayConfig:
    """Where the pipeline runs."""

    address: str | None = param(
        None,
        "Ray address; null: join RAY_ADDRESS when set (ray job submit), else start a local Ray",
    )
    num_cpus: int | None = param(None, "CPUs of a local Ray (null: all)", min=1)
    object_store_mb: int | None = param(None, "object store size of a local Ray in MiB", min=64)
    fuse_cpu_stages: bool = param(
        True, "run consecutive CPU-only stages in one worker (false: one operator per stage)"
    )
    inputs_per_execution: int = param(
        10000,
        "inputs per Ray Data execution: a larger run starts a fresh one per slice (Ray Data's"
        " per-block bookkeeping grows with an execution; each slice sets its pools up again)",
        min=1,
    )


@dataclass
class SourceConfig:
    """Where inputs come from: the demo world, a manifest file, or a local folder."""

    kind: str = param(
        "demo",
        "demo | manifest | folder | output (benchmark samples over the videos of the output"
        " at `path`: the niah stage)",
        choices=("demo", "manifest", "folder", "output"),
    )
    path: str | None = param(
        None, "manifest file (CSV, JSONL, Parquet with a url column), folder, or output folder"
    )
    limit: int | None = param(None, "take only the first N inputs", min=1)
    allow_outside_symlinks: bool = param(
        False, "folder source: follow symlinks that point outside the folder (else rejects)"
    )
    demo: DemoWorldConfig = dataclasses.field(default_factory=DemoWorldConfig)


@dataclass
class ShardsConfig:
    """How tables are written."""

    rows_per_file: int = param(5000, "max rows per Parquet file", min=1)
    compression: str = param(
        "zstd", "Parquet compression", choices=("zstd", "snappy", "gzip", "none")
    )
    videos_per_commit: int = param(4, "videos buffered before their rows are committed", min=1)


@dataclass
class Recipe:
    """A validated recipe: everything a run needs."""

    name: str
    out: str
    seed: int
    ray: RayConfig
    source: SourceConfig
    shards: ShardsConfig
    stages: list[StageSpec]
    raw: dict[str, Any]
    path: str
    splits: SplitsConfig = dataclasses.field(default_factory=SplitsConfig)


@dataclass
class RecipeFile:
    """The keys of a recipe file (stages checked by their own config classes)."""

    name: str = param("recipe", "name of the build")
    out: str = param(
        "out/recipe", "output folder (relative paths are relative to the working directory)"
    )
    seed: int = param(0, "seed of every random choice in the run")
    ray: RayConfig = dataclasses.field(default_factory=RayConfig)
    source: SourceConfig = dataclasses.field(default_factory=SourceConfig)
    shards: ShardsConfig = dataclasses.field(default_factory=ShardsConfig)
    splits: SplitsConfig = dataclasses.field(default_factory=SplitsConfig)
    stages: dict[str, Any] = param({}, "ordered stages: name -> parameters (+ resources)")


def _build_stage(name: str, raw: Any) -> tuple[StageSpec | None, list[ConfigProblem]]:
    key = f"stages.{name}"
    if name not in STAGES:
        return None, [ConfigProblem(key, f"unknown stage (known: {', '.join(STAGES)})")]
    if raw is not None and not isinstance(raw, dict):
        return None, [ConfigProblem(key, f"expected a mapping, got {type(raw).__name__}")]
    params = dict(raw or {})
    config_cls = stage_config(name)
    resources_raw = {
        **dataclasses.asdict(config_cls.default_resources),
        **(params.pop("resources", None) or {}),
    }
    resources, errors = build_section(Resources, resources_raw, f"{key}.resources")
    config, config_errors = build_section(config_cls, params, key)
    errors += config_errors
    if errors or config is None or resources is None:
        return None, errors
    return StageSpec(name=name, config=config, resources=resources), []


def _check_order(names: list[str], source_kind: str) -> list[ConfigProblem]:
    if not names:
        first = "niah" if source_kind == "output" else "fetch"
        return [
            ConfigProblem("stages", f"the recipe has no stages: list them in order, from {first}")
        ]
    errors = _check_entry(names, source_kind)
    for position, name in enumerate(names):
        needed = REQUIRES.get(name)
        if needed and needed not in names[:position]:
            errors.append(ConfigProblem(f"stages.{name}", f"needs stage {needed!r} before it"))
    if "validate" in names and names[-1] != "validate":
        errors.append(
            ConfigProblem("stages.validate", "must be the last stage (it checks what is written)")
        )
    return errors


def _check_entry(names: list[str], source_kind: str) -> list[ConfigProblem]:
    """Video sources start with fetch; a benchmark build (`output`) runs niah and validate."""
    if source_kind != "output":
        errors = [
            ConfigProblem("stages.niah", "needs source.kind 'output' (samples over a built output)")
            for name in names
            if name == "niah"
        ]
        if "fetch" not in names:
            errors.append(
                ConfigProblem("stages", "the fetch stage is required (it turns inputs into videos)")
            )
        return errors
    errors = [
        ConfigProblem(
            f"stages.{name}",
            "source kind 'output' gives benchmark samples: only niah and validate run",
        )
        for name in names
        if name not in ("niah", "validate")
    ]
    if "niah" not in names:
        errors.append(ConfigProblem("stages", "source kind 'output' needs the niah stage"))
    return errors


def validate_recipe(raw: Any, source: str) -> Recipe:
    """Validate a parsed recipe mapping; raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [ConfigProblem("<root>", "a recipe must be a YAML mapping")])
    if raw.get("stages", {}) is None:  # `stages:` with nothing under it: no stages
        raw = {**raw, "stages": {}}
    top, errors = build_root(RecipeFile, raw)
    stages_value = raw.get("stages")
    stages_raw: dict[Any, Any] = stages_value if isinstance(stages_value, dict) else {}
    specs: list[StageSpec] = []
    for name, stage_raw in stages_raw.items():
        spec, stage_errors = _build_stage(str(name), stage_raw)
        errors += stage_errors
        if spec:
            specs.append(spec)
    if "stages" not in raw or isinstance(stages_value, dict):  # a wrong type is reported above
        source_value = raw.get("source")
        kind = source_value.get("kind", "demo") if isinstance(source_value, dict) else "demo"
        known_names = [str(name) for name in stages_raw if name in STAGES]  # others: reported
        errors += _check_order(known_names, kind)
    if top is not None and top.source.kind != "demo" and not top.source.path:
        errors.append(ConfigProblem("source.path", f"required for source kind {top.source.kind!r}"))
    if errors or top is None:
        raise ConfigError(source, errors)
    return Recipe(
        name=top.name,
        out=top.out,
        seed=top.seed,
        ray=top.ray,
        source=top.source,
        shards=top.shards,
        stages=specs,
        raw=raw,
        path=source,
        splits=top.splits,
    )


def load_recipe(path: str | Path | None, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe file (the embedded demo recipe when None).

    Raises:
        ConfigError: naming the file and every problem (unreadable file, bad --set, keys).
    """
    source = Path(path) if path else DEFAULT_RECIPE
    return load_and_build(source, overrides or [], partial(_built_recipe, source=str(source)))


def _built_recipe(raw: dict[str, Any], source: str) -> tuple[Recipe | None, list[ConfigProblem]]:
    try:
        return validate_recipe(raw, source), []
    except ConfigError as error:
        return None, error.problems


def recipe_notices(recipe: Recipe) -> list[str]:
    """What the user should know about this recipe before reading its output (e.g. that
    no captioner is configured): each stage config's `notices()`, in stage order."""
    notices: list[str] = []
    for spec in recipe.stages:
        notices += getattr(spec.config, "notices", list)()
    return notices


def recipe_as_data(recipe: Recipe) -> dict[str, Any]:
    """The recipe as it ran: every stage's full config, defaults included."""
    return {
        "name": recipe.name,
        "path": recipe.path,
        "out": recipe.out,
        "seed": recipe.seed,
        "ray": dataclasses.asdict(recipe.ray),
        "source": dataclasses.asdict(recipe.source),
        "shards": dataclasses.asdict(recipe.shards),
        "splits": dataclasses.asdict(recipe.splits),
        "stages": {
            spec.name: {
                **dataclasses.asdict(spec.config),
                "resources": dataclasses.asdict(spec.resources),
            }
            for spec in recipe.stages
        },
    }
