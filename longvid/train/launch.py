"""Start training on the configured backend: in this process, or as a Ray Train job.

Why both: `local` keeps CPU tests and laptop runs fast and debuggable; `ray` runs the very
same `train()` in each TorchTrainer worker (DDP/FSDP), on one CPU or many GPUs, including
under `ray job submit`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from longvid.train.config import TrainConfig, load_config
from longvid.train.loop import train
from longvid.train.runtime import local_runtime, ray_runtime


def _ray_worker(loop_config: dict[str, Any]) -> None:
    """TorchTrainer entry: rebuild the validated config from plain data, then train."""
    config = load_config(None, [], loop_config["config"])
    train(config, ray_runtime())


def run_ray(config: TrainConfig) -> list[dict[str, Any]]:
    """Run `train` under ray.train.torch.TorchTrainer; returns the reported metrics."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    if not ray.is_initialized():
        ray.init(address=config.trainer.ray_address)
    trainer = TorchTrainer(
        train_loop_per_worker=_ray_worker,
        train_loop_config={"config": dataclasses.asdict(config)},
        scaling_config=ScalingConfig(
            num_workers=config.trainer.num_workers, use_gpu=config.trainer.use_gpu
        ),
        run_config=RunConfig(
            name="longvid-train", storage_path=str(Path(config.output_dir).resolve() / "ray")
        ),
    )
    result = trainer.fit()
    if result.error:
        raise result.error
    return [result.metrics] if result.metrics else []


def run(config: TrainConfig) -> list[dict[str, Any]]:
    """Dispatch on trainer.backend; the resolved config is saved next to the checkpoints."""
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    import yaml

    (output_dir / "config.yaml").write_text(
        yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
    )
    if config.trainer.backend == "ray":
        return run_ray(config)
    return train(config, local_runtime(config.trainer.use_gpu))
