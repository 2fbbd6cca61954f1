"""Checkpoints: model weights as safetensors, the resolved config, tokenizer and loop state,
and the same model as a Hugging Face folder.

A checkpoint folder is written under a temporary name and renamed when complete, so
`latest_checkpoint` never returns a half-written one. Layout (`OUTPUT_DIR/checkpoints/`):

    step-00000040/
      model.safetensors   VideoLLM state dict (tied weights once), loads strictly into a
                          model built from config.json (`load_weights`)
      config.json         the resolved training config (TrainConfig as plain data)
      state.json          loop state: global_step, stage_index, stage_step
      optimizer.pt        AdamW (keyed by parameter name) and LR scheduler state
      tokenizer/          the tokenizer (<video>, <image> registered)
      hf/                 Hugging Face folder (trainer.export_hf), what evaluation loads:
        config.json             VideoLLMConfig (model_type "longvid"): vision_config,
                                text_config, compressor, image_size (the resolution the
                                last stage trained at), placeholder ids, visual_dropout
        model.safetensors       weights, tied ones stored once (the embedding, not the head)
        tokenizer.json, tokenizer_config.json, chat_template.jinja, ...
        preprocessor_config.json  resize to image_size square, rescale 1/255, mean/std

    from longvid.model import VideoLLM            # registers "longvid" with the Auto classes
    model = VideoLLM.from_pretrained("runs/x/checkpoints/step-00000040/hf")
    tokenizer = AutoTokenizer.from_pretrained(same folder)
    processor = AutoImageProcessor.from_pretrained(same folder)   # PIL backend, no torchvision

Weights and optimizer state are always the full, unsharded ones (torch's distributed
state-dict API gathers FSDP shards; the optimizer state is keyed by parameter name), so a
checkpoint loads into a bare `VideoLLM` and resumes under any strategy or worker count.
Under FSDP gathering is collective: every rank calls `save_checkpoint`, rank 0 writes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_model, save_file
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.tensor import DTensor
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

from longvid.model.video_llm import VideoLLM

PREFIX = "step-"


@dataclass
class LoopState:
    """Where the run is: global step, stage index and the stage's step."""

    global_step: int = 0
    stage_index: int = 0
    stage_step: int = 0


def is_sharded(model: nn.Module) -> bool:
    """Whether the parameters are FSDP shards (DTensors) rather than whole tensors."""
    return any(isinstance(p, DTensor) for p in model.parameters())


def _options(model: nn.Module) -> StateDictOptions:
    return StateDictOptions(full_state_dict=True, cpu_offload=is_sharded(model))


def full_state(
    model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Unsharded weights (tied names once, as safetensors' save_model does) and optimizer state.

    Collective when `model` is FSDP-sharded: every rank must call it; rank 0 gets the data,
    the others empty dicts.
    """
    options = _options(model)
    weights = get_model_state_dict(model, options=options)
    optim = get_optimizer_state_dict(model, optimizer, options=options)
    aliases: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        aliases.setdefault(id(param), []).append(name)
    for names in aliases.values():
        if all(name in weights for name in names):
            for name in sorted(names)[1:]:
                del weights[name]
    # A model state dict holds tensors only (ValueType is any checkpoint value).
    tensors = cast(dict[str, torch.Tensor], weights)
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, optim


def export_hf(
    folder: Path, model: VideoLLM, weights: dict[str, torch.Tensor], tokenizer: Any
) -> None:
    """Write `folder` as a Hugging Face model folder from full (gathered) `weights`.

    Written from the gathered weights rather than `model.save_pretrained`, so it works the
    same for a sharded (FSDP) model on rank 0. Tied weights are stored as transformers
    stores them: the source (input embedding) kept, the tied target (LM head) left out.
    """
    folder.mkdir(parents=True, exist_ok=True)
    hf_weights = dict(weights)
    for target, source in getattr(model, "all_tied_weights_keys", {}).items():
        if source not in hf_weights and target in hf_weights:
            hf_weights[source] = hf_weights[target]
        hf_weights.pop(target, None)
    save_file(hf_weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    spec = model.encoder.frame_spec
    SiglipImageProcessorPil(
        size={"height": spec.image_size, "width": spec.image_size},
        image_mean=list(spec.mean),
        image_std=list(spec.std),
    ).save_pretrained(str(folder))


def save_checkpoint(
    output_dir: Path,
    model: VideoLLM,
    tokenizer: Any,
    config: dict[str, Any],
    state: LoopState,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    keep: int,
    rank: int = 0,
    hf: bool = True,
) -> Path | None:
    """Write step-NNNNNNNN/ atomically and prune all but the `keep` newest (rank 0 only).

    Under FSDP every rank calls this (the weights are gathered collectively); otherwise
    ranks other than 0 return at once. Returns the folder on rank 0, else None.
    """
    if rank != 0 and not is_sharded(model):
        return None
    weights, optim = full_state(model, optimizer)
    if rank != 0:
        return None
    root = Path(output_dir) / "checkpoints"
    final = root / f"{PREFIX}{state.global_step:08d}"
    temp = root / f".{final.name}.tmp"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    save_file(weights, str(temp / "model.safetensors"), metadata={"format": "pt"})
    (temp / "config.json").write_text(json.dumps(config, indent=2))
    (temp / "state.json").write_text(json.dumps(asdict(state)))
    torch.save(
        {"optimizer": optim, "scheduler": scheduler.state_dict()},
        temp / "optimizer.pt",
    )
    tokenizer.save_pretrained(str(temp / "tokenizer"))
    if hf:
        export_hf(temp / "hf", model, weights, tokenizer)
    shutil.rmtree(final, ignore_errors=True)
    temp.rename(final)
    for old in checkpoints(output_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    root = Path(output_dir) / "checkpoints"
    return sorted(root.glob(f"{PREFIX}*")) if root.is_dir() else []


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    found = checkpoints(output_dir)
    return found[-1] if found else None


def load_weights(path: Path, model: VideoLLM) -> LoopState:
    """Load weights into a bare (unsharded, unwrapped) model; returns the loop state."""
    missing, unexpected = load_model(model, str(Path(path) / "model.safetensors"), strict=True)
    if missing or unexpected:
        raise ValueError(f"{path}: missing {missing} unexpected {unexpected}")
    return LoopState(**json.loads((Path(path) / "state.json").read_text()))


def load_optimizer(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> None:
    """Restore optimizer (onto `model`'s, possibly sharded, parameters) and LR scheduler state.

    Every rank reads the full state; under FSDP each keeps its own shard. Not strict: a
    trainable parameter that never got a gradient (a vision tower's unused pooling head)
    has no AdamW state to save, as with `Optimizer.load_state_dict`.
    """
    saved = torch.load(Path(path) / "optimizer.pt", map_location="cpu", weights_only=False)
    set_optimizer_state_dict(
        model,
        optimizer,
        saved["optimizer"],
        options=StateDictOptions(full_state_dict=True, strict=False),
    )
    scheduler.load_state_dict(saved["scheduler"])


def _differences(saved: Any, current: Any, key: str) -> list[tuple[str, str]]:
    """(dotted key, both values) wherever two plain-data trees differ."""
    if isinstance(saved, dict) and isinstance(current, dict):
        return [
            change
            for name in sorted(set(saved) | set(current), key=str)
            for change in _differences(saved.get(name), current.get(name), f"{key}.{name}")
        ]
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        return [
            change
            for index, (old, new) in enumerate(zip(saved, current, strict=True))
            for change in _differences(old, new, f"{key}[{index}]")
        ]
    return [] if saved == current else [(key, f"{saved!r} in the checkpoint, {current!r} now")]


def schedule_changes(checkpoint: Path, schedule: dict[str, Any]) -> list[tuple[str, str]]:
    """How `schedule` (plain data) differs from the one the checkpoint was trained with."""
    saved = json.loads((Path(checkpoint) / "config.json").read_text()).get("schedule")
    return _differences(saved, schedule, "schedule")
