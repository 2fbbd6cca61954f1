"""The training loop: build the model, then run each schedule stage, logging and saving.

Reads top to bottom: set up (model, resume) -> per stage (data, optimizer, steps) ->
final checkpoint. One optimizer step = `grad_accum` micro-batches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from longvid.data import (
    FrameRange,
    Record,
    ResumableSampler,
    SampleDataset,
    SourceSection,
    make_loader,
    stage_records,
)
from longvid.model import Visual, build_preset, compressor
from longvid.model.video_llm import VideoLLM
from longvid.train.checkpoint import (
    LoopState,
    latest_checkpoint,
    load_optimizer,
    load_weights,
    save_checkpoint,
)
from longvid.train.config import StageSection, TrainConfig
from longvid.train.runtime import Runtime
from longvid.train.schedule import stage_optimizer, stage_steps
from longvid_pipeline.config import ConfigError, ConfigProblem


def build_model(config: TrainConfig) -> tuple[VideoLLM, Any]:
    """Preset + compressor from the config, seeded so every worker starts identical.

    Raises:
        ConfigError: settings that only the built model can check (dropout layers below
            the LLM's depth, stage resolutions that are multiples of the patch size).
    """
    torch.manual_seed(config.seed)
    options = dict(config.model.compressor)
    name = options.pop("name")
    sources = {
        k: v
        for k, v in (
            ("encoder_source", config.model.encoder_source),
            ("llm_source", config.model.llm_source),
        )
        if v
    }
    try:
        model, tokenizer = build_preset(
            config.model.preset,
            compressor(name, **options),
            visual_dropout=dataclasses.asdict(config.model.visual_dropout),
            encoder_chunk_frames=config.model.encoder_chunk_frames,
            **sources,
        )
    except ValueError as exc:  # the LLM is shallower than the dropout layers
        raise ConfigError("config", [ConfigProblem("model.visual_dropout", str(exc))]) from None
    patch = model.encoder.patch_size
    problems = [
        ConfigProblem(
            f"schedule.stages[{index}].image_size", f"not a multiple of the patch {patch}"
        )
        for index, stage in enumerate(config.schedule.stages)
        if stage.image_size is not None and stage.image_size % patch
    ]
    if problems:
        raise ConfigError("config", problems)
    if config.trainer.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    return model, tokenizer


class RunLog:
    """Progress lines on stdout and in output_dir/log.jsonl (rank 0 only)."""

    def __init__(self, output_dir: Path, rank: int) -> None:
        self.path = Path(output_dir) / "log.jsonl"
        self.rank = rank
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self.rank != 0:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(
            f"[{record['stage']}] step {record['step']} loss {record['loss']:.4f} lr {record['lr']:.2e} "
            f"samples/s {record['samples_per_s']:.2f} tokens/sample {record['tokens_per_sample']:.0f}",
            flush=True,
        )


def _autocast(runtime: Runtime, precision: str) -> contextlib.AbstractContextManager:
    if runtime.device.type == "cuda" and precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The model's inputs of a collated batch, on `device`."""
    moved: dict[str, Any] = {
        key: None if batch[key] is None else batch[key].to(device)
        for key in ("input_ids", "attention_mask", "labels", "position_ids")
    }
    moved["visuals"] = [
        [Visual(visual.kind, visual.pixels.to(device)) for visual in row]
        for row in batch["visuals"]
    ]
    return moved


def optimizer_step(
    model: nn.Module,
    batches: Iterator[dict[str, Any]],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    config: TrainConfig,
    runtime: Runtime,
) -> dict[str, float]:
    """Accumulate `grad_accum` micro-batches, clip, step; returns loss, samples, tokens."""
    trainer = config.trainer
    optimizer.zero_grad(set_to_none=True)
    loss_sum, samples, tokens = 0.0, 0, 0
    for micro in range(trainer.grad_accum):
        batch = next(batches)
        last = micro == trainer.grad_accum - 1
        set_gradient_sync = getattr(model, "set_requires_gradient_sync", None)  # FSDP2
        if set_gradient_sync is not None:  # reduce-scatter once per step
            set_gradient_sync(last)
        no_sync = getattr(model, "no_sync", None)  # DDP
        sync = contextlib.nullcontext() if last or no_sync is None else no_sync()
        with sync, _autocast(runtime, trainer.precision):
            loss = model(**_to_device(batch, runtime.device)).loss
            (loss / trainer.grad_accum).backward()
        loss_sum += loss.item()
        samples += batch["samples"]
        tokens += batch["tokens"]
    if trainer.max_grad_norm > 0:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, trainer.max_grad_norm)
    optimizer.step()
    scheduler.step()
    return {"loss": loss_sum / trainer.grad_accum, "samples": samples, "tokens": tokens}


def stage_data(config: TrainConfig, stage: StageSection, index: int) -> list[Record]:
    """The stage's mixture (default: the qa shards of data.root, by the stage's tasks)."""
    return stage_records(
        stage.data if stage.data is not None else [SourceSection()],
        config.data.root,
        stage.tasks if stage.tasks is not None else config.data.tasks,
        config.data.splits,
        config.seed,
        index,
    )


def _stage_loader(
    config: TrainConfig,
    stage: StageSection,
    index: int,
    model: VideoLLM,
    tokenizer: Any,
    runtime: Runtime,
    records: list[Record],
    start_step: int,
) -> Iterator[dict[str, Any]]:
    """Batches of the stage for this rank, starting after `start_step` optimizer steps."""
    per_step = config.trainer.batch_size * config.trainer.grad_accum
    clip = int(getattr(model.compressor, "clip_frames", 4))
    dataset = SampleDataset(
        records,
        tokenizer,
        model.token_counts(),
        model.encoder.frame_spec,
        FrameRange(stage.min_frames, stage.max_frames, clip),
        stage.max_tokens,
    )
    sampler = ResumableSampler(
        len(records),
        seed=config.seed * 1000 + index,
        rank=runtime.rank,
        world=runtime.world,
        start=start_step * per_step,
    )
    loader = make_loader(
        dataset,
        config.trainer.batch_size,
        config.data.workers,
        sampler,
        tokenizer.pad_token_id,
        stage.max_tokens if config.trainer.packing else None,
    )
    return iter(loader)


def train(config: TrainConfig, runtime: Runtime) -> list[dict[str, Any]]:
    """Run the whole schedule (resuming if asked); returns the logged progress records.

    Order matters for FSDP: weights are loaded into the bare model, the model is sharded once,
    and only then are a stage's optimizer (over the sharded parameters) and wrapper built.
    """
    output_dir = Path(config.output_dir)
    strategy = config.trainer.strategy
    model, tokenizer = build_model(config)
    checkpoint = latest_checkpoint(output_dir) if config.trainer.resume else None
    state = load_weights(checkpoint, model) if checkpoint else LoopState()
    runtime.shard(model, strategy)
    log, raw_config = RunLog(output_dir, runtime.rank), dataclasses.asdict(config)
    saved: tuple[Any, Any] | None = None
    saved_step = state.global_step if checkpoint else -1

    def save(optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        save_checkpoint(
            output_dir,
            model,
            tokenizer,
            raw_config,
            state,
            optimizer,
            scheduler,
            config.trainer.keep_checkpoints,
            runtime.rank,
            config.trainer.export_hf,
        )

    for index in range(state.stage_index, len(config.schedule.stages)):
        stage = config.schedule.stages[index]
        records = stage_data(config, stage, index)
        total = stage_steps(
            stage,
            len(records),
            config.trainer.batch_size * config.trainer.grad_accum * runtime.world,
        )
        start = state.stage_step if index == state.stage_index else 0
        if start >= total:
            continue
        model.set_image_size(stage.image_size or model.encoder.native_size)
        optimizer, scheduler = stage_optimizer(model, stage, total, config.trainer.weight_decay)
        if checkpoint and start > 0:
            load_optimizer(checkpoint, model, optimizer, scheduler)
        # a fresh DDP per stage over the bare model (its reducer knows only the parameters
        # trainable when it is built); FSDP and single workers get the model itself
        wrapped = runtime.wrap(model, strategy, find_unused="encoder" in stage.train)
        batches = _stage_loader(config, stage, index, model, tokenizer, runtime, records, start)
        window_start, window = time.perf_counter(), []
        for step in range(start, total):
            window.append(optimizer_step(wrapped, batches, optimizer, scheduler, config, runtime))
            state = LoopState(state.global_step + 1, index, step + 1)
            if state.global_step % config.trainer.log_every == 0 or step + 1 == total:
                elapsed = time.perf_counter() - window_start
                record = _record(stage, state, window, elapsed, scheduler, runtime.world)
                log.write(record)
                runtime.report(record)
                window_start, window = time.perf_counter(), []
            if state.global_step % config.trainer.save_every == 0:
                save(optimizer, scheduler)
                saved_step = state.global_step
        del batches, wrapped
        saved = (optimizer, scheduler)
    if saved is not None and saved_step != state.global_step:
        save(*saved)
    return log.records


def _record(
    stage: StageSection,
    state: LoopState,
    window: list[dict[str, float]],
    elapsed: float,
    scheduler: Any,
    world: int,
) -> dict[str, Any]:
    """One progress record over the steps since the last one: the mean loss of the window's
    steps (this rank's), samples counted on all ranks."""
    samples = sum(item["samples"] for item in window)
    return {
        "stage": stage.name,
        "step": state.global_step,
        "stage_step": state.stage_step,
        "loss": sum(item["loss"] for item in window) / len(window),
        "lr": scheduler.get_last_lr()[0],
        "samples_per_s": samples * world / max(elapsed, 1e-9),
        "tokens_per_sample": sum(item["tokens"] for item in window) / max(samples, 1),
    }
