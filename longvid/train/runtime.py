"""Where the loop runs: rank, world size, device, model wrapping and metric reporting.

The same `train()` runs in-process (`backend: local`) and inside every Ray Train worker
(`backend: ray`); only this small object differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class Runtime:
    """Process-local facts the loop needs, and the two calls that differ per backend."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    on_ray: bool = False

    def wrap(self, model: nn.Module, strategy: str) -> nn.Module:
        """DDP/FSDP-wrap under Ray with several workers; otherwise just move to the device."""
        if not self.on_ray:
            return model.to(self.device)
        import ray.train.torch

        kwargs = {"use_orig_params": True} if strategy == "fsdp" else None
        return ray.train.torch.prepare_model(
            model,
            parallel_strategy=strategy if self.world > 1 else None,
            parallel_strategy_kwargs=kwargs,
        )

    def report(self, metrics: dict[str, Any]) -> None:
        """Ray Train wants every worker to report; locally the log file is enough."""
        if self.on_ray:
            import ray.train

            ray.train.report(metrics)


def local_runtime(use_gpu: bool) -> Runtime:
    """One process; cuda when asked for and present."""
    device = torch.device("cuda" if use_gpu and torch.cuda.is_available() else "cpu")
    return Runtime(device=device)


def ray_runtime() -> Runtime:
    """Inside a Ray Train worker: rank, world size and the worker's device from Ray."""
    import ray.train
    import ray.train.torch

    context = ray.train.get_context()
    return Runtime(
        rank=context.get_world_rank(),
        world=context.get_world_size(),
        device=ray.train.torch.get_device(),
        on_ray=True,
    )
