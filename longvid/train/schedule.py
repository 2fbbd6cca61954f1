"""A stage's optimizer: per-part learning rates, linear warmup then cosine decay.

Why per-part groups: alignment trains only the projector at a high rate while later
stages train the LLM and encoder at much lower ones (VideoChat-Flash's recipe).
"""

from __future__ import annotations

import math

import torch

from longvid.model.video_llm import VideoLLM
from longvid.train.config import StageSection


def stage_steps(stage: StageSection, rows: int, samples_per_step: int) -> int:
    """Optimizer steps of a stage: given, or epochs * rows / samples per step (at least 1)."""
    if stage.steps is not None:
        return stage.steps
    return max(1, math.ceil(float(stage.epochs or 0) * rows / samples_per_step))


def lr_factor(step: int, total: int, warmup_ratio: float, min_lr_ratio: float) -> float:
    """Multiplier of the peak LR at `step` (0-based): linear warmup, cosine to the floor."""
    warmup = int(round(total * warmup_ratio))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def stage_optimizer(
    model: VideoLLM, stage: StageSection, total: int, weight_decay: float
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over the stage's trainable parts (one group each), with its LR schedule."""
    model.set_trainable(stage.train)
    groups = []
    for part in stage.train:
        params = [p for p in getattr(model, part).parameters() if p.requires_grad]
        if not params:
            continue
        if part not in stage.lr:
            raise ValueError(
                f"stage {stage.name!r}: part {part!r} trains but has no learning rate in lr"
            )
        groups.append({"params": params, "lr": float(stage.lr[part]), "name": part})
    if not groups:
        raise ValueError(f"stage {stage.name!r}: no trainable parameters in {stage.train}")
    optimizer = torch.optim.AdamW(groups, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, stage.warmup_ratio, stage.min_lr_ratio)
    )
    return optimizer, scheduler
