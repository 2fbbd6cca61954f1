"""Training config: typed sections, a schedule of stages, --set overrides, one validation pass.

Every default the trainer uses is a field here (visible in the YAML files); an unknown
key, a wrong type or an impossible value is reported with its dotted key, all at once,
before anything is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from longvid.data.sources import SourceSection
from longvid.model.compressors import compressor_problems
from longvid.model.presets import PRESETS
from longvid.model.video_llm import PARTS
from longvid.model.visual_dropout import VisualDropoutConfig
from longvid_pipeline.config import (
    ConfigError,
    ConfigProblem,
    apply_overrides,
    build_root,
    load_and_build,
    param,
    parse_override,
    read_mapping,
)

SCHEDULES_DIR = Path(__file__).parent / "schedules"


@dataclass
class ModelSection:
    """Which preset, with which compressor (a registry name plus its options)."""

    preset: str = param("tiny", "model preset", choices=tuple(PRESETS))
    compressor: dict = param(
        {"name": "hico"}, "compressor: {name: hico|slowfast|pool|none, ...options}"
    )
    encoder_source: str | None = param(
        None, "vision tower hub id or local path (preset default if null)"
    )
    llm_source: str | None = param(None, "causal LM hub id or local path (preset default if null)")
    visual_dropout: VisualDropoutConfig = param(
        None, "progressive visual token dropout inside the LLM (mode off: none)"
    )
    encoder_chunk_frames: int = param(
        64, "frames per vision tower call (0: all at once); bounds the tower's memory", min=0
    )


@dataclass
class DataSection:
    """Which qa rows, and how many decode workers per trainer."""

    root: str = param("out", "pipeline output folder holding qa/*.parquet and the media")
    tasks: list[str] = param([], "qa tasks to train on (empty: all)")
    splits: list[str] = param(["train"], "qa splits to train on")
    workers: int = param(2, "DataLoader decode workers per trainer process", min=0)


@dataclass
class TrainerSection:
    """How the loop runs: backend, scale, precision, batching, logging and checkpoints."""

    backend: str = param(
        "local", "local (in-process) or ray (Ray Train TorchTrainer)", choices=("local", "ray")
    )
    num_workers: int = param(1, "Ray Train workers (backend: ray)", min=1)
    use_gpu: bool = param(False, "one GPU per worker (local: use cuda when available)")
    strategy: str = param(
        "ddp",
        "multi-worker (backend: ray, num_workers > 1) wrapping: ddp (replicas) or fsdp "
        "(FSDP2 fully_shard: sharded weights, grads and optimizer state); CPU (gloo) or GPU",
        choices=("ddp", "fsdp"),
    )
    precision: str = param(
        "bf16", "bf16 autocast on GPU (CPU always runs fp32)", choices=("bf16", "fp32")
    )
    batch_size: int = param(1, "samples per micro-batch per worker", min=1)
    grad_accum: int = param(1, "micro-batches per optimizer step", min=1)
    gradient_checkpointing: bool = param(False, "recompute activations of encoder and LLM")
    max_grad_norm: float = param(1.0, "gradient clipping norm (0: off)", min=0.0)
    weight_decay: float = param(0.0, "AdamW weight decay", min=0.0)
    log_every: int = param(10, "print and log every N optimizer steps", min=1)
    save_every: int = param(500, "checkpoint every N optimizer steps (and at the end)", min=1)
    keep_checkpoints: int = param(2, "how many recent checkpoints to keep", min=1)
    resume: bool = param(False, "continue from the last checkpoint in output_dir")
    allow_schedule_change: bool = param(
        False, "let resume continue under a schedule that differs from the checkpoint's"
    )
    packing: bool = param(
        False, "pack each micro-batch's samples into rows of the stage's max_tokens"
    )
    export_hf: bool = param(
        True, "also write every checkpoint as a Hugging Face folder (step-N/hf)"
    )
    ray_address: str | None = param(None, "Ray cluster address (null: local or RAY_ADDRESS)")


@dataclass
class StageSection:
    """One schedule stage: trainable parts, data, resolution, frame range, length limit,
    learning rates, duration, LR shape."""

    name: str = param("stage", "stage name (logs, checkpoints)")
    train: list[str] = param(list(PARTS), f"parts that train: subset of {list(PARTS)}")
    data: list[SourceSection] | None = param(
        None, "data mixture: sources with ratios (null: data.root's qa shards by tasks)"
    )
    image_size: int | None = param(
        None, "vision tower input in px (null: native); position embeddings interpolated", min=1
    )
    min_frames: int = param(4, "lower bound on frames per video", min=1)
    max_frames: int = param(64, "upper bound on frames per video", min=1)
    max_tokens: int | None = param(
        None, "longest sample in tokens (null: no limit): fewer frames, then the text tail", min=1
    )
    lr: dict = param({"projector": 1e-3}, "learning rate per trainable part with parameters")
    steps: int | None = param(None, "optimizer steps (or give epochs)", min=1)
    epochs: float | None = param(None, "passes over the stage's rows (when steps is null)", min=0.0)
    warmup_ratio: float = param(0.03, "linear warmup share of the stage's steps", min=0.0, max=1.0)
    min_lr_ratio: float = param(
        0.0, "cosine decay floor as a share of the peak LR", min=0.0, max=1.0
    )
    tasks: list[str] | None = param(None, "override data.tasks for this stage")


@dataclass
class Schedule:
    """The ordered stages (a schedule YAML holds exactly this mapping)."""

    stages: list[StageSection] = param([], "stages, run in order")


@dataclass
class TrainConfig:
    """A whole training run."""

    output_dir: str = param("runs/longvid", "checkpoints, log.jsonl and the resolved config")
    seed: int = param(0, "model init and data order seed")
    model: ModelSection = param(None, "the video LLM")
    data: DataSection = param(None, "qa shards and decoding")
    trainer: TrainerSection = param(None, "loop, scale-out and checkpoints")
    schedule: Schedule = param(None, "stages, or the name/path of a schedule YAML")


def _stage_errors(stage: StageSection, key: str) -> list[ConfigProblem]:
    errors = [
        ConfigProblem(f"{key}.train", f"unknown part {p!r}; known: {list(PARTS)}")
        for p in stage.train
        if p not in PARTS
    ]
    errors += [
        ConfigProblem(f"{key}.lr.{p}", f"{p!r} is not a trainable part of this stage")
        for p in stage.lr
        if p not in stage.train
    ]
    errors += [
        ConfigProblem(f"{key}.lr.{p}", "learning rate must be a positive number")
        for p, v in stage.lr.items()
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0
    ]
    if stage.min_frames > stage.max_frames:
        errors.append(
            ConfigProblem(
                f"{key}.min_frames", f"{stage.min_frames} > max_frames {stage.max_frames}"
            )
        )
    if (stage.steps is None) == (stage.epochs is None):
        errors.append(ConfigProblem(f"{key}.steps", "give exactly one of steps and epochs"))
    for number, source in enumerate(stage.data or []):
        errors += [
            ConfigProblem(f"{key}.data[{number}].{field}", message)
            for field, message in source.problems()
        ]
    return errors


def _semantic_errors(config: TrainConfig) -> list[ConfigProblem]:
    """Checks across fields: compressor options build, dropout and stages are consistent."""
    errors: list[ConfigProblem] = []
    options = dict(config.model.compressor)
    name = str(options.pop("name", ""))
    errors += [
        ConfigProblem(f"model.compressor.{key}" if key else "model.compressor.name", message)
        for key, message in compressor_problems(name, options)
    ]
    errors += [
        ConfigProblem(f"model.visual_dropout.{key}", message)
        for key, message in config.model.visual_dropout.problems()
    ]
    if not config.schedule.stages:
        errors.append(ConfigProblem("schedule.stages", "at least one stage is required"))
    for index, stage in enumerate(config.schedule.stages):
        key = f"schedule.stages[{index}]"
        errors += _stage_errors(stage, key)
        if config.trainer.packing and stage.max_tokens is None:
            errors.append(ConfigProblem(f"{key}.max_tokens", "trainer.packing needs a row length"))
    return errors


def resolve_schedule(raw: dict[str, Any], base: Path) -> list[ConfigProblem]:
    """Replace a schedule given by name or path with the YAML's contents (in place)."""
    schedule = raw.get("schedule")
    if not isinstance(schedule, str):
        return []
    candidates = [base / schedule, Path(schedule), SCHEDULES_DIR / f"{schedule}.yaml"]
    for path in candidates:
        if path.is_file():
            try:
                raw["schedule"] = read_mapping(path)
            except ConfigError as error:
                return [ConfigProblem("schedule", str(error))]
            return []
    known = sorted(p.stem for p in SCHEDULES_DIR.glob("*.yaml"))
    return [ConfigProblem("schedule", f"no schedule {schedule!r}: not a file, nor one of {known}")]


def _override_key(override: str) -> list[str]:
    """The dotted key of a `--set` as parts ([] when it does not parse)."""
    parsed = parse_override(override)
    return [] if isinstance(parsed, ConfigProblem) else parsed[0]


def build_config(raw: dict[str, Any]) -> tuple[TrainConfig | None, list[ConfigProblem]]:
    """Validate a raw mapping; the config is usable only when the error list is empty."""
    return build_root(TrainConfig, raw, _semantic_errors)


def apply_with_schedule(
    raw: dict[str, Any], overrides: list[str], base: Path
) -> list[ConfigProblem]:
    """Apply overrides with a named schedule read in between: `--set schedule=NAME` picks
    the schedule before it is read, so `--set schedule.stages.0.steps=5` then edits the
    chosen one."""
    choices = [o for o in overrides if _override_key(o) == ["schedule"]]
    edits = [o for o in overrides if _override_key(o) != ["schedule"]]
    problems = apply_overrides(raw, choices)
    schedule_problems = resolve_schedule(raw, base)
    if schedule_problems:  # edits of a schedule that did not resolve would only repeat that
        edits = [o for o in edits if _override_key(o)[:1] != ["schedule"]]
    return problems + schedule_problems + apply_overrides(raw, edits)


def load_config(
    path: Path | None, overrides: Sequence[str] = (), raw: dict[str, Any] | None = None
) -> TrainConfig:
    """Read YAML (or take `raw`), apply overrides, resolve the schedule, validate.

    Raises:
        ConfigError: naming the file and every problem, each with its dotted key (an
            unresolved schedule once, not again as a wrong type).
    """
    base = Path(path).parent if path else Path.cwd()
    return load_and_build(
        path, overrides, build_config, raw, partial(apply_with_schedule, base=base)
    )
