"""Where the loop runs: rank, world size, device, model sharding/wrapping and metric reporting.

The same `train()` runs in-process (`backend: local`) and inside every Ray Train worker
(`backend: ray`); only this small object differs.

Why two calls, `shard` once and `wrap` per stage:
- FSDP (torch's FSDP2 `fully_shard`) replaces the module's parameters in place with sharded
  DTensors. It must happen exactly once, before any optimizer exists (an optimizer built
  earlier would hold the stale unsharded tensors). Stages then freeze/unfreeze the sharded
  parameters; FSDP2 reads `requires_grad` at every unshard, so no re-wrapping is needed.
  FSDP2 runs on CPU (gloo) as well as on GPUs (nccl). Ray's `prepare_model(parallel_strategy=
  "fsdp")` is not used: it builds the older FSDP1 wrapper and refuses to run without CUDA.
- DDP's reducer fixes the set of gradient-requiring parameters when it is constructed, so a
  stage that changes the trainable parts needs a fresh DDP wrapper. `wrap` builds one over the
  bare module per stage (never a DDP of a DDP); the loop drops the previous one first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


def fsdp_shard(model: nn.Module, device: torch.device) -> None:
    """FSDP2 in place: each transformer layer is its own unit, the root holds the rest.

    The layer classes come from the Hugging Face towers' `_no_split_modules`. Everything else
    (token embeddings, tied LM head, compressor, projector) stays in the root unit, which is
    gathered for the whole forward: VideoLLM calls the LLM's input embeddings outside the
    LLM's own forward.
    """
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    layers: set[str] = set()
    for module in model.modules():
        layers.update(getattr(module, "_no_split_modules", None) or ())
    for module in list(model.modules()):
        if module is not model and type(module).__name__ in layers:
            fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)


@dataclass
class Runtime:
    """Process-local facts the loop needs, and the calls that differ per backend."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    on_ray: bool = False

    @property
    def distributed(self) -> bool:
        """Several Ray Train workers (a process group exists)."""
        return self.on_ray and self.world > 1

    def shard(self, model: nn.Module, strategy: str) -> None:
        """Once, after loading weights and before any optimizer: to the device; FSDP-shard."""
        model.to(self.device)
        if self.distributed and strategy == "fsdp":
            fsdp_shard(model, self.device)

    def wrap(self, model: nn.Module, strategy: str, find_unused: bool = False) -> nn.Module:
        """The module a stage calls, built after the stage's `set_trainable`.

        DDP: a fresh `DistributedDataParallel` over the bare module (Ray's prepare_model).
        `find_unused` is for stages whose trainable parts have parameters that take no part
        in the loss (e.g. a vision tower's pooling head). FSDP and single workers: the module
        itself.
        """
        if not self.distributed or strategy == "fsdp":
            return model
        import ray.train.torch

        return ray.train.torch.prepare_model(
            model,
            parallel_strategy="ddp",
            parallel_strategy_kwargs={"find_unused_parameters": find_unused},
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
    device = ray.train.torch.get_device()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return Runtime(
        rank=context.get_world_rank(),
        world=context.get_world_size(),
        device=device,
        on_ray=True,
    )
