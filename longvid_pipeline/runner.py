"""The runner: a validated recipe becomes one streaming Ray Data pipeline.

Read top to bottom: prepare the output folder → rebuild the video claims from what is
committed → scan the inputs once (count, splits; those a previous run committed are
skipped) and stream them from the source as slices start (lines the source already
rejected go straight to the writer) → start or join Ray → chain one operator per
stage → stream finished items into the shard writer → run again the duplicates whose
owner was rejected (`handoff`) → remove media no kept video owns → write the manifest.
Stateless stages run as Ray tasks, stages that load something as actor pools; items
stream one per block, so no stage ever holds all videos at once and the writer commits
as items finish.
"""

from __future__ import annotations

import errno
import itertools
import logging
import shutil
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid_pipeline.card import CARD_DIR
from longvid_pipeline.errors import DiskFullError, RunFailed, is_disk_full, message_line
from longvid_pipeline.feed import SPOOL_DIR, spool_items, spooled_dataset
from longvid_pipeline.fetching.coordination import (
    CLAIMS_DIR,
    ActorClaims,
    VideoClaims,
    start_coordinator,
)
from longvid_pipeline.handoff import DuplicateHandoff, run_passes
from longvid_pipeline.inputs import RunInputs, open_inputs
from longvid_pipeline.item import ITEM_COLUMN, WorkItem
from longvid_pipeline.manifest import write_manifest
from longvid_pipeline.media.housekeeping import (
    MEDIA_DIR,
    rejected_video_ids,
    remove_rejected_media,
    sweep_media,
)
from longvid_pipeline.operators import Operator, add_operator, check_fits, plan_operators
from longvid_pipeline.progress import Progress
from longvid_pipeline.raysession import init_ray, remove_ray_temp_link
from longvid_pipeline.recipe import Recipe
from longvid_pipeline.shards import COMMITS_DIR, ShardWriter, committed_video_owners
from longvid_pipeline.stage import RunContext
from longvid_pipeline.store import StoreOut, is_url, mirror_dir
from longvid_pipeline.tables import TABLE_NAMES

log = logging.getLogger("longvid_pipeline")

# What --force removes: every derived file, not the cached demo world.
DERIVED = (
    *TABLE_NAMES,
    COMMITS_DIR,
    MEDIA_DIR,
    ".tmp",
    SPOOL_DIR,
    CLAIMS_DIR,
    "manifest.json",
    "validation.json",
    "validation.md",
    "README.md",
    CARD_DIR,
)


@dataclass
class RunResult:
    """What one run did."""

    out: Path | str
    inputs_total: int
    inputs_todo: int
    committed: int
    wall_s: float
    manifest: dict[str, Any]


def _clear_outputs(out: Path) -> None:
    for name in DERIVED:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _ray_pass(items: Iterable[WorkItem], recipe: Recipe, context: RunContext) -> Iterator[WorkItem]:
    """Stream `items` through the recipe's operators, one Ray Data execution per slice of
    `ray.inputs_per_execution` inputs, taken from `items` only as the slice starts.

    Ray Data keeps statistics for every block of an execution and pickles them all to its
    stats actor every few seconds; with one block per input that cost grows with the run
    (a 100,000-input run slowed from 32 to 25 inputs/s, 28% of the driver in that pickling).
    A fresh execution per slice keeps it bounded, at the price of the pools' set-up once
    per slice and their tail (the last videos of a slice finish before the next starts)."""
    import ray.data

    if not log.isEnabledFor(logging.INFO):  # without -v, Ray Data's notices are noise
        logging.getLogger("ray.data").setLevel(logging.ERROR)
    # Pools are sized by the recipe, not by the inputs: a build of fewer videos than a pool
    # has actors is not a mistake worth a warning.
    warnings.filterwarnings("ignore", message="The (minimum|maximum) number of concurrent")
    data_context = ray.data.DataContext.get_current()
    data_context.enable_progress_bars = False
    data_context.execution_options.preserve_order = False
    # An item is a few KB of JSON: where its block lives does not matter, and preferring the
    # actor on that node piles work onto the driver's node (the spool's reads run there).
    # (Ray 2.60 marks the switch deprecated, to go in 2027; it still works.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        data_context.execution_options.actor_locality_enabled = False
    operators = plan_operators(recipe.stages, recipe.ray.fuse_cpu_stages)
    available = ray.cluster_resources()
    problem = check_fits(operators, available.get("CPU", 0.0), available.get("GPU", 0.0))
    if problem:
        raise RunFailed(problem)
    pending = iter(items)
    number = 0
    while piece := list(itertools.islice(pending, recipe.ray.inputs_per_execution)):
        for item in _execution(piece, operators, context):
            number += 1
            yield item
            log.info("finished %d inputs of this pass", number)


def _execution(
    items: list[WorkItem], operators: list[Operator], context: RunContext
) -> Iterator[WorkItem]:
    """One Ray Data execution of `items` through `operators`, fed from a spool."""
    with spool_items(Path(context.out_dir), items) as (spool, spans):
        # Enough reads in flight to hand every actor of the first pool an item at once.
        dataset = spooled_dataset(spool, spans, readers=operators[0].resources.concurrency)
        for operator in operators:
            dataset = add_operator(dataset, operator, context)
        for batch in dataset.iter_batches(batch_size=1, batch_format="numpy", prefetch_batches=2):
            for text in batch[ITEM_COLUMN]:
                yield WorkItem.from_json(str(text))


def _run_streaming(
    inputs: RunInputs,
    recipe: Recipe,
    context: RunContext,
    writer: ShardWriter,
    handoff: DuplicateHandoff,
    out: Path,
    progress: Progress | None,
    owners: dict[str, str],
) -> None:
    """Run the inputs left to do through Ray into the writer; a failure that is not an input's fault
    (full disk, a dead worker) stops the run with an error that says what to do.

    A store build's Coordinator actor (claims, download slots) starts with Ray, seeded with
    the committed videos' `owners`, and lives as long as this call holds its handle."""

    def live_items() -> Iterator[WorkItem]:
        """The inputs to work on; lines the source rejected go to the writer as met."""
        for item in inputs.todo_items():
            if item.alive:
                yield item
                continue
            writer.add([item])
            if progress is not None:
                progress.add([item])

    live = inputs.todo_live > 0
    started_ray = init_ray(recipe, out) if live else False
    coordinator = (
        start_coordinator(context.coordinator, owners) if live and context.coordinator else None
    )
    try:
        try:
            if live:
                run_passes(
                    live_items(),
                    lambda todo: _ray_pass(todo, recipe, context),
                    writer,
                    handoff,
                    None if progress is None else progress.add,
                )
            else:  # only lines the source rejected are left: no Ray needed
                for _ in live_items():
                    pass
        finally:
            writer.close()
            if progress is not None:
                progress.close()
    except RunFailed:
        raise  # already says what went wrong and what to do
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFullError(
                errno.ENOSPC,
                f"disk full: no space left on device under {out}; committed"
                " shards are intact: free space and rerun the same command",
            ) from exc
        first_line = message_line(exc, last=True)
        raise RunFailed(
            f"the run stopped ({type(exc).__name__}: {first_line}); committed shards under {out}"
            " are intact: rerun the same command to finish"
        ) from exc
    finally:
        del coordinator  # the actor goes with its last handle
        if started_ray:
            import ray

            ray.shutdown()
            remove_ray_temp_link(out)


def _keeps_rejected_media(recipe: Recipe) -> bool:
    """The debug switch `stages.fetch.keep_rejected_media`; a build without fetch (a
    benchmark over an output) writes no media and leaves OUT/media alone."""
    fetch = [spec.config for spec in recipe.stages if spec.name == "fetch"]
    return not fetch or any(getattr(config, "keep_rejected_media", False) for config in fetch)


def _after_commit(
    out: Path,
    items: list[WorkItem],
    writer: ShardWriter,
    handoff: DuplicateHandoff,
    keep_media: bool,
    store: StoreOut | None,
) -> None:
    """Once a commit is durable: settle duplicates, release claims, drop rejected media
    (from the store when a store build's workers uploaded it)."""
    handoff.committed(items)
    if keep_media:
        return
    if store is None:
        remove_rejected_media(out, items, writer.video_ids)
        return
    for video_id in sorted(rejected_video_ids(items, writer.video_ids)):
        store.remove_media(video_id)


def run_recipe(
    recipe: Recipe,
    out: Path | str | None = None,
    force: bool = False,
    progress_every_s: float | None = 30.0,
) -> RunResult:
    """Run `recipe` into `out` (default: the recipe's `out`), resuming what is done.

    `out` is a folder or an object store URL (`s3://bucket/prefix`): then the run works in
    a local build mirror and publishes every commit to the store (`longvid_pipeline.store`)."""
    target = str(out or recipe.out)
    for spec in recipe.stages:  # what the recipe names but only reading it can check
        spec.stage_cls.preflight(spec.config, recipe.path)
    if not is_url(target):
        return _run_in_folder(recipe, Path(target).resolve(), force, progress_every_s, None)
    store = StoreOut(target)
    store.check_writable()  # a missing bucket or credentials: one line, before any work
    mirror = mirror_dir(store.url, "build")
    mirror.mkdir(parents=True, exist_ok=True)
    if force:
        store.clear()
        _clear_outputs(mirror)
    result = _run_in_folder(recipe, mirror, False, progress_every_s, store)
    store.publish_reports(mirror)
    result.out = store.url
    return result


def _run_in_folder(
    recipe: Recipe,
    out: Path,
    force: bool,
    progress_every_s: float | None,
    store: StoreOut | None,
) -> RunResult:
    """The run proper, in a local folder: OUT itself, or the build mirror of `store`."""
    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    if force:
        _clear_outputs(out)
    synced = store.reconcile(out) if store else {}
    writer = ShardWriter(
        out, recipe.shards.rows_per_file, recipe.shards.compression, recipe.shards.videos_per_commit
    )
    if store:
        writer.publish = lambda record: store.publish_commit(out, record)
    owners = committed_video_owners(out)
    claims: VideoClaims | ActorClaims
    if store:  # workers share no folder: claims live in the run's Coordinator actor
        claims = ActorClaims(f"longvid-coordinator-{uuid.uuid4().hex[:12]}")
    else:
        claims = VideoClaims(out / CLAIMS_DIR)
        claims.reset(owners)  # drops claims of a killed run; committed videos stay claimed
    handoff = DuplicateHandoff(claims, set(owners.values()))
    keep_media = _keeps_rejected_media(recipe)
    writer.on_commit = lambda items: _after_commit(out, items, writer, handoff, keep_media, store)
    context = RunContext(
        out_dir=str(out),
        seed=recipe.seed,
        store_url=store.url if store else "",
        coordinator=claims.name if isinstance(claims, ActorClaims) else "",
    )
    with open_inputs(recipe.source, out, recipe.stages, recipe.seed) as source_items:
        done = writer.done_input_ids()
        inputs = RunInputs.survey(source_items, done, recipe.splits, recipe.seed)
        log.info(
            "%d inputs, %d already done, %d to do",
            inputs.total,
            inputs.total - inputs.todo,
            inputs.todo,
        )
        if inputs.todo:
            progress = (
                None
                if progress_every_s is None
                else Progress(inputs.todo, every_s=progress_every_s)
            )
            _run_streaming(inputs, recipe, context, writer, handoff, out, progress, owners)
    if not keep_media:
        sweep_media(out, writer.video_ids)
        if store:
            store.sweep_media(writer.video_ids)
    if store:  # this machine's worker files: everything kept is on the store now
        shutil.rmtree(context.out, ignore_errors=True)
    wall_s = time.time() - started
    run_record = {
        "started_at": started,
        "wall_s": round(wall_s, 3),
        "inputs_total": inputs.total,
        "inputs_todo": inputs.todo,
        "orphans_removed": writer.removed_orphans,
        "force": force,
        **({"store": {"url": store.url, **synced}} if store else {}),
    }
    manifest = write_manifest(out, recipe, inputs.total, run_record, store.url if store else None)
    return RunResult(
        out=out,
        inputs_total=inputs.total,
        inputs_todo=inputs.todo,
        committed=writer.committed_items,
        wall_s=wall_s,
        manifest=manifest,
    )
