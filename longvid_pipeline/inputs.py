"""Turn a recipe's source into work items, and serve the demo world while a run needs it.

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
from longvid_pipeline.ids import input_id_for, stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.recipe import SourceConfig
from longvid_pipeline.sources.files import load_inputs
from longvid_pipeline.stage import StageSpec


@contextlib.contextmanager
def open_inputs(
    source: SourceConfig, out: Path, stages: Sequence[StageSpec] = (), seed: int = 0
) -> Iterator[list[WorkItem]]:
    """Yield the work items of `source`, deduplicated by input id, in source order.

    A benchmark build (`output`) has one input per sample of the niah stage's grid over
    the videos of the output at `source.path`, so `stages` and the run `seed` are needed.
    """
    if source.kind == "demo":
        with _demo_items(source, out) as items:
            yield _first(_unique(items), source.limit)
        return
    if source.kind == "output":
        from longvid_pipeline.niah.grid import sample_items

        niah = next(spec.config for spec in stages if spec.name == "niah")
        yield _first(_unique(sample_items(Path(source.path or ""), niah, seed)), source.limit)
        return
    rows = load_inputs(source.kind, Path(source.path or ""))
    items = [
        WorkItem(
            input_id=input_id_for(str(row.get("url") or "")), source=row, source_kind=source.kind
        )
        for row in rows
    ]
    yield _first(_unique(items), source.limit)


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
                },
                source_kind="demo",
            )
            for video in videos
        ]


def _unique(items: list[WorkItem]) -> list[WorkItem]:
    """The same input listed twice is one input (the first occurrence wins)."""
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.input_id not in seen:
            seen.add(item.input_id)
            unique.append(item)
    return unique


def _first(items: list[WorkItem], limit: int | None) -> list[WorkItem]:
    return items[:limit] if limit else items
