"""The stage interface: a small class that runs as one Ray Data operator.

A stage's fields are its configuration (a `config.param` dataclass named by `Config`),
its resources are data (`Resources`), `setup()` loads heavy things once per worker, and
`process(item)` handles one input. The shared mechanics live here once: decoding items
from the batch, skipping inputs an earlier stage rejected, timing, accounting, and
turning an exception into a `rejects` row (a failing video is data, never a crash).

Stateless stages (`uses_actor = False`) run as Ray tasks; stages that load something
(`uses_actor = True`, or `needs_actor(config)` for a stage that loads a model only under
some configs) run in an actor pool so the model loads once per actor.
"""

from __future__ import annotations

import resource
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from longvid_pipeline.config import param
from longvid_pipeline.errors import is_disk_full
from longvid_pipeline.item import BLOB_COLUMN, ITEM_COLUMN, WorkItem
from longvid_pipeline.registry import stage_class

if TYPE_CHECKING:  # light on purpose: recipe checks import this module
    import numpy as np


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg runs as a child)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _error_detail(exc: Exception) -> str:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return detail + "\n" + traceback.format_exc(limit=6)


class Reject(Exception):
    """Raised inside `process` to drop the whole input with a reason (not an error)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Resources:
    """What one worker of a stage asks Ray for, and how many run at once."""

    num_cpus: float = param(1.0, "CPUs per task or actor", min=0.0)
    num_gpus: float = param(0.0, "GPUs per task or actor", min=0.0)
    concurrency: int = param(2, "actors in the pool (actor stages) or max parallel tasks", min=1)
    batch_size: int = param(1, "inputs (videos) per batch handed to the stage", min=1)


@dataclass(frozen=True)
class RunContext:
    """What every stage may know about the run: where output goes, and run-wide knobs."""

    out_dir: str
    seed: int = 0
    # OUT on an object store: its URL, and the name of the run's Coordinator actor (claims
    # and download slots); workers then keep their files in a folder of their own machine.
    store_url: str = ""
    coordinator: str = ""

    @property
    def out(self) -> Path:
        """Where this worker writes media and scratch files: OUT for a local OUT; for a
        store, this machine's work folder (the store receives what must be kept)."""
        if self.store_url:
            from longvid_pipeline.store import mirror_dir

            return mirror_dir(self.store_url, "work")
        return Path(self.out_dir)

    def media_dir(self) -> Path:
        return self.out / "media"


class Stage:
    """Base class of every stage; subclasses set `name`, `Config` and `process`."""

    name: ClassVar[str] = "stage"
    uses_actor: ClassVar[bool] = False
    batched: ClassVar[bool] = False  # process_batch handles several inputs per call
    Config: ClassVar[type] = object

    def __init__(self, config: Any, context: RunContext) -> None:
        self.config = config
        self.context = context
        self._ready = False

    @classmethod
    def operator_specs(cls, spec: StageSpec) -> list[StageSpec]:
        """The operators this stage runs as, in order. Default: itself. A model stage may
        put a CPU preparation stage (decode, resize) before itself so CPU workers feed it."""
        return [spec]

    @classmethod
    def stands_alone(cls, spec: StageSpec) -> bool:
        """True when the stage needs an operator of its own (never fused with CPU stages):
        a GPU stage, or a model stage whose pool size must be its own."""
        return bool(spec.resources.num_gpus)

    @classmethod
    def needs_actor(cls, config: Any) -> bool:
        """Whether this stage, so configured, loads something once per worker."""
        return cls.uses_actor

    @classmethod
    def preflight(cls, config: Any, recipe_path: str) -> None:
        """Check on the driver, before any work, what the recipe check cannot (files the
        stage reads whole); raise ConfigError naming the recipe and key. Default: nothing."""

    def setup(self) -> None:
        """Load heavy things (models, binaries) once per worker. Default: nothing."""

    def process(self, item: WorkItem) -> WorkItem:
        """Handle one live input and return it; raise `Reject` to drop it."""
        raise NotImplementedError

    def process_batch(self, items: list[WorkItem]) -> None:
        """Handle several live inputs at once, in place (stages whose cost is mostly per
        call, like GX's per expectation, override this and set `batched`)."""
        raise NotImplementedError

    def run_item(self, item: WorkItem) -> WorkItem:
        """Run `process` on one item with timing, accounting and rejects."""
        if not item.alive:
            return item
        self._setup_once()
        wall0, cpu0 = time.perf_counter(), cpu_seconds()
        try:
            item = self.process(item)
        except Reject as rejection:
            if is_disk_full(rejection):
                raise
            item.reject_input(self.name, rejection.reason, rejection.detail)
        except Exception as exc:  # one bad video must never stop the run; a full disk must
            if is_disk_full(exc):
                raise
            item.reject_input(self.name, f"error_{type(exc).__name__}", _error_detail(exc))
        self._account([item], time.perf_counter() - wall0, cpu_seconds() - cpu0)
        return item

    def run_items(self, items: list[WorkItem]) -> list[WorkItem]:
        """Run the stage on a batch: `process_batch` once for a batched stage (wall and CPU
        shared evenly in the accounts; an error rejects every input of the call), else
        `run_item` on each."""
        live = [item for item in items if item.alive]
        if not self.batched or len(live) < 2:
            return [self.run_item(item) for item in items]
        self._setup_once()
        wall0, cpu0 = time.perf_counter(), cpu_seconds()
        try:
            self.process_batch(live)
        except Exception as exc:
            if is_disk_full(exc):
                raise
            for item in live:
                if item.alive:
                    item.reject_input(self.name, f"error_{type(exc).__name__}", _error_detail(exc))
        self._account(live, time.perf_counter() - wall0, cpu_seconds() - cpu0)
        return items

    def _setup_once(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    def _account(self, items: list[WorkItem], wall_s: float, cpu_s: float) -> None:
        """Each item's account: one input, passed or rejected, its share of the time."""
        for item in items:
            account = item.account(self.name)
            account.inputs += 1
            account.wall_s += wall_s / len(items)
            account.cpu_s += cpu_s / len(items)
            account.note_worker()
            if item.alive:
                account.passed += 1
            else:
                account.rejected += 1

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """Ray Data batch entry point: JSON items in, JSON items out, same shape always."""
        return run_batch([self], batch)


def run_batch(stages: list[Stage], batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    """Decode a batch's items once, run them through `stages` in order, encode them once.

    Every operator returns the same three columns: the input id, the item as JSON, and
    the item's blob (bytes one stage hands the next, b"" when none)."""
    items = [WorkItem.from_json(str(text)) for text in batch[ITEM_COLUMN]]
    if stages and stages[0].context.store_url:
        from longvid_pipeline.store import localize_media

        for item in items:
            localize_media(item, stages[0].context)
    blobs = batch.get(BLOB_COLUMN)
    if blobs is not None:
        for item, blob in zip(items, blobs, strict=True):
            item.blob = bytes(blob) if blob is not None and len(blob) else None
    for stage in stages:
        items = stage.run_items(items)
    return {
        "input_id": [item.input_id for item in items],
        ITEM_COLUMN: [item.to_json() for item in items],
        BLOB_COLUMN: [item.blob or b"" for item in items],
    }


@dataclass
class StageSpec:
    """A stage as the recipe names it: its name, its config and resources.

    The stage class is imported when first asked for (by the runner, on the workers), so
    a validated recipe holds only light config objects."""

    name: str
    config: Any
    resources: Resources = field(default_factory=Resources)
    implementation: type[Stage] | None = None  # the class itself, not the registry's

    @property
    def stage_cls(self) -> type[Stage]:
        """The registered class of `name`, or `implementation` when given (a stage that
        runs as several operators names its parts' classes; benchmarks wrap a stage)."""
        return self.implementation or stage_class(self.name)

    @property
    def uses_actor(self) -> bool:
        return self.stage_cls.needs_actor(self.config)


class StageChain:
    """Several stages run back to back on each item inside one Ray worker.

    The runner fuses consecutive CPU stages into one chain: items are decoded from JSON
    once, every stage's `setup()` still runs once per worker, and a small machine does not
    have to reserve a CPU for each stage's idle pool (which can leave no CPU for the next
    stage: a deadlock on 2 cores)."""

    def __init__(self, specs: list[StageSpec], context: RunContext, setup: bool = False) -> None:
        self.stages = [spec.stage_cls(spec.config, context) for spec in specs]
        if setup:  # an actor sets up as it starts, before its first input arrives
            for stage in self.stages:
                stage._setup_once()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        return run_batch(self.stages, batch)
