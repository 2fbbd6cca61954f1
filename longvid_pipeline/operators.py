"""From recipe stages to Ray Data operators: which stages share a worker, and with what.

By default consecutive CPU-only stages are fused into one operator (`ray.fuse_cpu_stages`):
each worker runs the whole chain on its item, which keeps every core busy without a pool
per stage. A GPU stage always gets an operator of its own, so CPU work (decode, resize)
runs in CPU workers feeding a GPU actor pool; so does a stage that loads a model even on
CPU (its pool size is its own), and a stage that takes its inputs in larger batches than the
stages before it (validate: GX costs per call, not per row), so the stages before still
stream one video at a time. With fusion off, every stage is its own operator and scales on
its own (large clusters).

Actor pools have a fixed size (`actor_pool`): they start at it, set up their stages (models,
GX) as they start, and each actor holds one batch at a time: videos take seconds to
minutes each, so a second batch queued behind a long one would idle another actor at the
end of a run.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from longvid_pipeline.stage import Resources, RunContext, StageChain, StageSpec


@dataclass(frozen=True)
class Operator:
    """One Ray Data operator: the stages it runs and what each worker asks for."""

    specs: tuple[StageSpec, ...]
    resources: Resources
    uses_actor: bool

    @property
    def name(self) -> str:
        return "+".join(spec.name for spec in self.specs)


def _merge(specs: list[StageSpec]) -> Operator:
    """A fused operator asks for the most any member asks for."""
    resources = Resources(
        num_cpus=max(spec.resources.num_cpus for spec in specs),
        num_gpus=max(spec.resources.num_gpus for spec in specs),
        concurrency=max(spec.resources.concurrency for spec in specs),
        batch_size=min(spec.resources.batch_size for spec in specs),
    )
    return Operator(tuple(specs), resources, any(spec.uses_actor for spec in specs))


def plan_operators(specs: list[StageSpec], fuse_cpu_stages: bool) -> list[Operator]:
    """Group stages into operators, in recipe order (a stage may run as several, e.g. the
    caption stage's CPU frame preparation before its model actors)."""
    specs = [part for spec in specs for part in spec.stage_cls.operator_specs(spec)]
    if not fuse_cpu_stages:
        return [_merge([spec]) for spec in specs]
    operators: list[Operator] = []
    group: list[StageSpec] = []
    for spec in specs:
        alone = spec.stage_cls.stands_alone(spec)
        batch_changes = bool(group) and spec.resources.batch_size != group[0].resources.batch_size
        if group and (alone or batch_changes):
            operators.append(_merge(group))
            group = []
        if alone:
            operators.append(_merge([spec]))
        else:
            group.append(spec)
    if group:
        operators.append(_merge(group))
    return operators


def check_fits(operators: list[Operator], cpus: float, gpus: float) -> str | None:
    """Why the operators cannot all run at once on a cluster of `cpus` and `gpus`, or None.

    Every operator needs one worker running for items to flow (an actor pool holds its
    actors for the whole run), so the sum of one worker per operator must fit; otherwise
    Ray Data waits forever for a worker that can never be scheduled."""
    need_cpus = sum(op.resources.num_cpus for op in operators)
    need_gpus = sum(op.resources.num_gpus for op in operators)
    if need_cpus <= cpus + 1e-9 and need_gpus <= gpus + 1e-9:
        return None
    parts = ", ".join(
        f"{op.name} {op.resources.num_cpus:g} CPU"
        + (f" {op.resources.num_gpus:g} GPU" if op.resources.num_gpus else "")
        for op in operators
    )
    return (
        f"the recipe's operators need {need_cpus:g} CPUs and {need_gpus:g} GPUs at once "
        f"({parts}) but Ray has {cpus:g} CPUs and {gpus:g} GPUs: lower "
        "stages.<name>.resources.num_cpus / num_gpus (fractions are fine) or add machines"
    )


def _run_chain_task(
    batch: dict[str, Any], specs: list[StageSpec], context: RunContext
) -> dict[str, list[Any]]:
    """Task body for stateless chains: building the stages is cheap, so build per batch."""
    return StageChain(specs, context)(batch)


def actor_pool(size: int) -> Any:
    """A pool of `size` actors that keeps them all for the whole execution, each with its
    next batch queued behind the one it runs.

    An elastic pool (min_size 1) loses actors for good: Ray Data's autoscaler removes one
    that has idled 10 s (its scale-down debounce; a GPU caption pool waits that long for
    the first segmented videos, and a loaded machine takes longer to start an actor) and
    may never see the utilization that would add it back. A three-node run had its second
    worker's actor removed at the first item and did every video on one node; a 13 s lull
    before six items gave one actor all six.

    Two batches in flight, not one: with one, an actor idles from the end of each batch
    until the executor notices and hands it the next (a median 0.19 s per item on the
    48-video demo world with 2 CPUs, 8% of each fused actor's busy time; 0.014 s with the
    next batch queued), time a GPU captioner would spend idle too. The price is the tail
    of an execution: the last batches are already queued, so an actor that finishes early
    cannot take one from another (at most one batch's time, once per execution)."""
    from ray.data import ActorPoolStrategy

    return ActorPoolStrategy(
        min_size=size, max_size=size, initial_size=size, max_tasks_in_flight_per_actor=2
    )


def add_operator(dataset: Any, operator: Operator, context: RunContext) -> Any:
    """Append `operator` to the Ray dataset: an actor pool when a member loads something."""
    from ray.data import TaskPoolStrategy

    resources = operator.resources
    common: dict[str, Any] = {
        "batch_size": resources.batch_size,
        "num_cpus": resources.num_cpus,
        "batch_format": "numpy",
    }
    if resources.num_gpus:
        common["num_gpus"] = resources.num_gpus
    specs = list(operator.specs)
    if operator.uses_actor:
        with warnings.catch_warnings():
            # Ray 2.60 has no named parameter for actor restarts yet; the generic remote
            # args still work (their deprecation names Ray 2.64).
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            return dataset.map_batches(
                StageChain,
                fn_constructor_kwargs={"specs": specs, "context": context, "setup": True},
                compute=actor_pool(resources.concurrency),
                # A dead actor fails the run instead of waiting for a restart that may never
                # be scheduled (a hang); the rerun resumes from the last commit.
                max_restarts=0,
                max_task_retries=0,
                **common,
            )
    return dataset.map_batches(
        _run_chain_task,
        fn_kwargs={"specs": specs, "context": context},
        compute=TaskPoolStrategy(size=resources.concurrency),
        **common,
    )
