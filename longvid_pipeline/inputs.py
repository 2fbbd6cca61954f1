"""Turn a recipe's source into work items, and serve the demo world while a run needs it.

Every manifest line becomes one item: the first line with a URL is its input, a later
line repeating it is a `duplicate_input` reject naming both lines, and a line the source
could not read (empty, not JSON, no url, a symlink out of the folder) is a reject with its
line number. Those items arrive already rejected (stage `source`); the runner commits
them with the rest, so `stats` proves inputs = kept + rejected line by line.

The demo world is rendered (once, cached under OUT/demo_world) and served over a
loopback HTTP server, so the demo takes the same fetch path as any URL. Input ids of
demo videos come from the world's name and config, not from the server's port, so a
rerun recognises the inputs it has already done.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

from longvid_pipeline.demo.server import serve_folder
from longvid_pipeline.demo.world import generate_world
from longvid_pipeline.ids import input_id_for, line_input_id, stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.recipe import SourceConfig
from longvid_pipeline.sources.files import SourceRow, load_inputs
from longvid_pipeline.stage import StageSpec

SOURCE_STAGE = "source"


@contextlib.contextmanager
def open_inputs(
    source: SourceConfig, out: Path, stages: Sequence[StageSpec] = (), seed: int = 0
) -> Iterator[list[WorkItem]]:
    """Yield the work items of `source` in source order, one per line (or entry).

    A benchmark build (`output`) has one input per sample of the niah stage's grid over
    the videos of the output at `source.path`, so `stages` and the run `seed` are needed.
    """
    if source.kind == "demo":
        with _demo_items(source, out) as items:
            yield _first(items, source.limit)
        return
    if source.kind == "output":
        from longvid_pipeline.niah.grid import sample_items

        niah = next(spec.config for spec in stages if spec.name == "niah")
        yield _first(_unique(sample_items(Path(source.path or ""), niah, seed)), source.limit)
        return
    # The source rows are dropped once they are items: only the items live through the run.
    rows = load_inputs(source.kind, Path(source.path or ""), source.allow_outside_symlinks)
    items = items_from_rows(rows, source.kind)
    del rows
    yield _first(items, source.limit)


def items_from_rows(rows: list[SourceRow], kind: str) -> list[WorkItem]:
    """One item per source row: the first line of a URL is the input, later ones and
    unreadable lines come back rejected (stage `source`) with their line numbers."""
    first_line: dict[str, str] = {}
    items = []
    for source_row in rows:
        url = str(source_row.row.get("url") or "")
        reason, detail = source_row.reason, source_row.detail
        if reason is None and url in first_line:
            reason = "duplicate_input"
            detail = f"{source_row.where} repeats the url of {first_line[url]}: {url}"[:4000]
        if reason is None:
            first_line[url] = source_row.where
            items.append(
                WorkItem(input_id=input_id_for(url), source=source_row.row, source_kind=kind)
            )
            continue
        row = source_row.row
        if kind == "manifest":
            row = {**row, "manifest_line": source_row.where}
        item = WorkItem(
            input_id=line_input_id(source_row.where, url or str(row.get("raw") or "")),
            source=row,
            source_kind=kind,
        )
        item.reject_input(SOURCE_STAGE, reason, detail)
        items.append(item)
    return items


@contextlib.contextmanager
def _demo_items(source: SourceConfig, out: Path) -> Iterator[list[WorkItem]]:
    folder = out / "demo_world"
    videos = generate_world(folder, source.demo)
    world_key = stable_hash(dataclasses.asdict(source.demo))
    with serve_folder(folder) as base_url:
        yield [
            WorkItem(
                input_id=input_id_for(f"demo-world:{world_key}:{video.name}"),
                source={
                    "url": f"{base_url}{video.video_path.name}",
                    "annotations_url": f"{base_url}{video.sidecar_path.name}",
                    "title": video.name,
                    "license": "cc0",  # rendered here from nothing but code
                },
                source_kind="demo",
            )
            for video in videos
        ]


def _unique(items: list[WorkItem]) -> list[WorkItem]:
    """Benchmark samples drawn twice are one input (the first occurrence wins)."""
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.input_id not in seen:
            seen.add(item.input_id)
            unique.append(item)
    return unique


def _first(items: list[WorkItem], limit: int | None) -> list[WorkItem]:
    return items[:limit] if limit else items
