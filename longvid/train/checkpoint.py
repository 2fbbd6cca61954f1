"""Checkpoints: model weights as safetensors, the resolved config, tokenizer and loop state.

A checkpoint folder is written under a temporary name and renamed when complete, so
`latest_checkpoint` never returns a half-written one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from longvid.model.video_llm import VideoLLM

PREFIX = "step-"


@dataclass
class LoopState:
    """Where the run is: global step, stage index and the stage's step."""

    global_step: int = 0
    stage_index: int = 0
    stage_step: int = 0


def save_checkpoint(
    output_dir: Path,
    model: VideoLLM,
    tokenizer: Any,
    config: dict[str, Any],
    state: LoopState,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    keep: int,
) -> Path:
    """Write step-NNNNNNNN/ atomically and prune all but the `keep` newest."""
    root = Path(output_dir) / "checkpoints"
    final = root / f"{PREFIX}{state.global_step:08d}"
    temp = root / f".{final.name}.tmp"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    save_model(model, str(temp / "model.safetensors"))
    (temp / "config.json").write_text(json.dumps(config, indent=2))
    (temp / "state.json").write_text(json.dumps(asdict(state)))
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
        temp / "optimizer.pt",
    )
    tokenizer.save_pretrained(str(temp / "tokenizer"))
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
    """Load model weights from a checkpoint folder and return its loop state."""
    missing, unexpected = load_model(model, str(Path(path) / "model.safetensors"), strict=True)
    if missing or unexpected:
        raise ValueError(f"{path}: missing {missing} unexpected {unexpected}")
    return LoopState(**json.loads((Path(path) / "state.json").read_text()))


def load_optimizer(path: Path, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
    """Restore optimizer and LR scheduler state saved with the checkpoint."""
    saved = torch.load(Path(path) / "optimizer.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
