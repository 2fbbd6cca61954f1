"""`backend: ray`: the model's runs spread over a pool of Ray actors.

Each actor loads the model once (GPUs per actor from `ray.num_gpus_per_actor`) and
answers chunks of `chunk_batches` batches, decoding frames in its own DataLoader workers;
the driver keeps two chunks in flight per actor and scores answers as chunks return, so
samples.jsonl grows while the pool works and a killed run resumes where it stopped.
Without an address (and no RAY_ADDRESS) a local Ray starts with its temp dir under the
output folder.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from longvid.eval.config import EvalConfig
from longvid.eval.samples import EvalSample

IN_FLIGHT_PER_ACTOR = 2


class EvalActor:
    """Holds one loaded adapter; answers chunks of samples for the model or blind run."""

    def __init__(self, raw_config: dict[str, Any], samples: list[EvalSample]) -> None:
        from longvid.eval.config import load_config
        from longvid.eval.runner import build_model_adapter

        self.config = load_config(None, [], raw_config)
        self.adapter = build_model_adapter(self.config, samples)

    def ready(self) -> bool:
        """Returns once the model has loaded (raises the load error otherwise)."""
        return True

    def answer(self, run: str, chunk: list[EvalSample]) -> list[Any]:
        from longvid.eval.runner import generate, run_adapter

        return list(generate(run_adapter(run, self.adapter), chunk, self.config))


class RayPool:
    """Actors created on first use and killed on close; Ray shut down if started here."""

    def __init__(self, config: EvalConfig, samples: list[EvalSample]) -> None:
        self.config = config
        self.samples = samples
        self.actors: list[Any] = []
        self.started_ray = False

    def start(self) -> None:
        """Join or start Ray and create the actors (each loads the model); idempotent."""
        import ray

        if self.actors:
            return

        section = self.config.ray
        if not ray.is_initialized():
            address = section.address or os.environ.get("RAY_ADDRESS")
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
            if not address:
                from longvid_pipeline.api import ray_temp_dir

                os.environ.setdefault("RAY_AUTH_MODE", "disabled")
                kwargs["_temp_dir"] = ray_temp_dir(Path(self.config.output_dir))
                kwargs["num_cpus"] = section.num_cpus
            ray.init(address=address, **kwargs)
            self.started_ray = True
        remote = ray.remote(EvalActor).options(
            num_cpus=section.num_cpus_per_actor,
            num_gpus=section.num_gpus_per_actor,
            max_restarts=0,
        )
        raw, shared = dataclasses.asdict(self.config), ray.put(self.samples)
        self.actors = [remote.remote(raw, shared) for _ in range(section.num_actors)]
        ray.get([actor.ready.remote() for actor in self.actors])

    def answers(self, run: str, todo: list[EvalSample]) -> Iterator[Any]:
        """Answers of `run` for `todo`, in completion order."""
        import ray

        self.start()
        size = self.config.generation.batch_size * self.config.ray.chunk_batches
        chunks = [todo[start : start + size] for start in range(0, len(todo), size)]
        pending: dict[Any, Any] = {}

        def submit(actor: Any) -> None:
            if chunks:
                pending[actor.answer.remote(run, chunks.pop(0))] = actor

        for actor in self.actors:
            for _ in range(IN_FLIGHT_PER_ACTOR):
                submit(actor)
        while pending:
            [done], _ = ray.wait(list(pending), num_returns=1)
            actor = pending.pop(done)
            submit(actor)
            yield from ray.get(done)

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self.started_ray:
            ray.shutdown()
            self.started_ray = False
