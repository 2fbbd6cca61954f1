"""Turn a recipe's source into work items, and serve the demo world while a run needs it.

Every manifest line becomes one item: the first line with a URL is its input, a later
line repeating it is a `duplicate_input` reject naming both lines, and a line the source
could not read (empty, not JSON, no url, a symlink out of the folder) is a reject with its
line number. Those items arrive already rejected (stage `source`); the runner commits
them with the rest, so `stats` proves inputs = kept + rejected line by line.

The driver never lists the inputs: a run reads its source twice, lazily (`RunInputs`).
The first pass (before any work) checks the whole source, counts it and deals the splits,
which need every input id; the second streams the items into Ray as the stages take them.
What the driver keeps per input is ~8 bytes of split key and ~8 of url digest, not a
~1.2 KB item (137 MB for LongVid's 114k videos).

The demo world is rendered (once, cached under OUT/demo_world) and served over a
loopback HTTP server, so the demo takes the same fetch path as any URL. Input ids of
demo videos come from the world's name and config, not from the server's port, so a
rerun recognises the inputs it has already done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from longvid_pipeline.demo.server import serve_folder
from longvid_pipeline.demo.world import generate_world
from longvid_pipeline.ids import IdSet, input_id_for, line_input_id, stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.recipe import SourceConfig
from longvid_pipeline.sources.files import SourceError, SourceRow, iter_inputs
from longvid_pipeline.splits import SplitsConfig, SplitTable
from longvid_pipeline.stage import StageSpec

SOURCE_STAGE = "source"


class RepeatedUrls:
    """Which line first gave each url, remembering as little as a streamed source allows.

    Every url is kept as a 64-bit digest; the line that first gave it only for the urls in
    `known` (those a first pass found on more than one line), so a run of 114k inputs
    keeps ~1 MB here instead of every url and its line. Without `known`, every url's first
    line is kept: one pass is then enough (a test, a small source)."""

    def __init__(self, known: Container[str] | None = None) -> None:
        self.known = known
        self.seen = IdSet()
        self.first_line: dict[str, str] = {}
        self.found: set[str] = set()  # urls met again in this pass

    def earlier_line(self, url: str, where: str) -> str | None:
        """None for a url's first line (remembered), else where it was first given."""
        if self.seen.add(url):
            if self.known is None or url in self.known:
                self.first_line[url] = where
            return None
        self.found.add(url)
        return self.first_line.get(url, "an earlier line")


def items_from_rows(
    rows: Iterable[SourceRow], kind: str, urls: RepeatedUrls | None = None
) -> Iterator[WorkItem]:
    """One item per source row: the first line of a URL is the input, later ones and
    unreadable lines come back rejected (stage `source`) with their line numbers."""
    urls = urls or RepeatedUrls()
    for source_row in rows:
        url = str(source_row.row.get("url") or "")
        reason, detail = source_row.reason, source_row.detail
        if reason is None:
            first = urls.earlier_line(url, source_row.where)
            if first is None:
                yield WorkItem(input_id=input_id_for(url), source=source_row.row, source_kind=kind)
                continue
            reason = "duplicate_input"
            detail = f"{source_row.where} repeats the url of {first}: {url}"[:4000]
        row = source_row.row
        if kind == "manifest":
            row = {**row, "manifest_line": source_row.where}
        item = WorkItem(
            input_id=line_input_id(source_row.where, url or str(row.get("raw") or "")),
            source=row,
            source_kind=kind,
        )
        item.reject_input(SOURCE_STAGE, reason, detail)
        yield item


class SourceItems:
    """A source's work items in source order, made afresh from the source on every pass.

    `scan()` is the first pass: it learns which urls repeat, so that later passes
    (`iter`) name a repeat's first line while remembering only those urls' lines."""

    def __init__(
        self, make: Callable[[RepeatedUrls], Iterator[WorkItem]], limit: int | None = None
    ) -> None:
        self._make = make
        self._limit = limit or None
        self._repeated: set[str] | None = None  # known once a scan has finished

    @property
    def repeated(self) -> set[str] | None:
        """The urls the last finished scan met on more than one line."""
        return self._repeated

    def scan(self) -> Iterator[WorkItem]:
        urls = RepeatedUrls(known=())
        yield from itertools.islice(self._make(urls), self._limit)
        self._repeated = urls.found

    def __iter__(self) -> Iterator[WorkItem]:
        return itertools.islice(self._make(RepeatedUrls(self._repeated)), self._limit)


@dataclass
class RunInputs:
    """What the runner needs of its inputs, from one scan of the source: how many there
    are, how many are left to do (and how many of those are not already rejected by the
    source), and the splits of all of them; `todo_items()` then streams the work."""

    items: SourceItems
    done: Container[str]
    splits: SplitTable
    total: int
    todo: int
    todo_live: int

    @classmethod
    def survey(
        cls, items: SourceItems, done: Container[str], splits: SplitsConfig, seed: int
    ) -> RunInputs:
        counts = {"total": 0, "todo": 0, "todo_live": 0}

        def counted_ids() -> Iterator[str]:
            for item in items.scan():
                counts["total"] += 1
                if item.input_id not in done:
                    counts["todo"] += 1
                    counts["todo_live"] += item.alive
                yield item.input_id

        table = SplitTable(counted_ids(), splits, seed)
        return cls(items, done, table, **counts)

    def todo_items(self) -> Iterator[WorkItem]:
        """The inputs not done yet, in source order, each with its split."""
        for item in self.items:
            if item.input_id in self.done:
                continue
            try:
                item.split = self.splits[item.input_id]
            except KeyError:
                raise SourceError(
                    f"the source changed while the run read it: {item.source.get('url')!r}"
                    " was not there before the run started; rerun to include it"
                ) from None
            yield item


@contextlib.contextmanager
def open_inputs(
    source: SourceConfig, out: Path, stages: Sequence[StageSpec] = (), seed: int = 0
) -> Iterator[SourceItems]:
    """Yield the work items of `source` (one per line or entry), read afresh on each pass.

    A benchmark build (`output`) has one input per sample of the niah stage's grid over
    the videos of the output at `source.path`, so `stages` and the run `seed` are needed;
    its samples (and the demo world's videos) are few and listed once.
    """
    if source.kind == "demo":
        with _demo_items(source, out) as listed:
            yield SourceItems(lambda urls: iter(listed), source.limit)
        return
    if source.kind == "output":
        from longvid_pipeline.niah.grid import sample_items

        niah = next(spec.config for spec in stages if spec.name == "niah")
        samples = _unique(sample_items(Path(source.path or ""), niah, seed))
        yield SourceItems(lambda urls: iter(samples), source.limit)
        return
    path, kind = Path(source.path or ""), source.kind
    iter_inputs(kind, path)  # a missing file or a wrong kind: an error now, before any pass

    def read(urls: RepeatedUrls) -> Iterator[WorkItem]:
        return items_from_rows(iter_inputs(kind, path, source.allow_outside_symlinks), kind, urls)

    yield SourceItems(read, source.limit)


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
