"""Dedup without loss: a duplicate waits for its owner's fate before it is final.

Fetch lets the first input that reaches a video own it (`fetching.coordination.VideoClaims`);
a later input that reaches the same video is rejected `duplicate_video` before anything is
downloaded. That is only right if the owner ends up kept. When the owner is rejected later
(a bad sidecar in fetch itself, a segment failure, validation, the writer), the video
would be lost: so the driver holds every duplicate until its owner is committed.

- owner committed with a `videos` row: the duplicate is committed as `duplicate_video`;
- owner committed as a reject: its claims are released and the duplicate runs again in
  another pass, where it (or the next copy) owns the video.

A video is therefore kept exactly once when any copy of it succeeds, and lost only when
every copy fails, whatever order the workers run in. (Which copy is kept when several
would succeed is the first one to claim it; they hold the same video.)
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable

from longvid_pipeline.fetching.coordination import ActorClaims, VideoClaims
from longvid_pipeline.ids import IdSet
from longvid_pipeline.item import WorkItem
from longvid_pipeline.shards import ShardWriter

log = logging.getLogger("longvid_pipeline")


class DuplicateHandoff:
    """Routes finished items to the writer, holding duplicates of undecided owners."""

    def __init__(self, claims: VideoClaims | ActorClaims, kept_inputs: set[str]) -> None:
        self.claims = claims
        # Inputs committed with a videos row (any run), and as rejects (this run): every
        # input of the run ends in one, so they are kept as 8-byte digests.
        self.kept = IdSet(kept_inputs)
        self.rejected = IdSet()
        self._waiting: dict[str, list[WorkItem]] = defaultdict(list)  # owner -> duplicates
        self._ready: list[WorkItem] = []
        self._rerun: list[WorkItem] = []  # as they entered the run

    def route(self, item: WorkItem) -> list[WorkItem]:
        """The items to hand to the writer now: all but a duplicate of an undecided owner."""
        owner = item.duplicate_of
        if item.alive or owner is None or owner in self.kept:
            return [item]
        if owner in self.rejected:
            self._rerun.append(item.restarted())
        else:
            self._waiting[owner].append(item)
        return []

    def committed(self, items: list[WorkItem]) -> None:
        """After a commit: settle the duplicates that waited for these items.

        The writer calls it with the committed items, whose `alive` is final by then."""
        for item in items:
            waiting = self._waiting.pop(item.input_id, [])
            if item.alive:
                self.kept.add(item.input_id)
                self._ready.extend(waiting)
                continue
            self.rejected.add(item.input_id)
            for video_id in item.claimed:
                self.claims.release(video_id, item.input_id)
            self._rerun.extend(duplicate.restarted() for duplicate in waiting)

    def take_ready(self) -> list[WorkItem]:
        """Duplicates whose owner was kept: commit them as they are."""
        ready, self._ready = self._ready, []
        return ready

    def take_rerun(self) -> list[WorkItem]:
        """Inputs to run again (their owner was rejected), once each, in the order they
        came, as they entered the run: the driver keeps no list of the run's items."""
        unique: dict[str, WorkItem] = {}
        for item in self._rerun:
            unique.setdefault(item.input_id, item)
        self._rerun = []
        return list(unique.values())

    def take_unsettled(self) -> list[WorkItem]:
        """Duplicates whose owner never reached this run's writer (an owner outside the
        run: another process on the same OUT). They stay `duplicate_video`."""
        unsettled = [item for items in self._waiting.values() for item in items]
        self._waiting.clear()
        return unsettled


Deliver = Callable[[list[WorkItem]], None]


def run_passes(
    items: Iterable[WorkItem],
    run_pass: Callable[[Iterable[WorkItem]], Iterable[WorkItem]],
    writer: ShardWriter,
    handoff: DuplicateHandoff,
    on_deliver: Deliver | None = None,
) -> None:
    """Run the items (`run_pass`: the runner's Ray pipeline), then again the duplicates
    whose owner was rejected, until none is left; every finished item goes to the writer
    through `handoff` (and, as it does, to `on_deliver`: the progress line). The writer's
    `on_commit` must call `handoff.committed`.

    A pass reruns only duplicates of owners it committed as rejects, and one of them owns
    the video in the next pass, so the number of passes is bounded by the copies of a video."""

    def deliver(batch: list[WorkItem]) -> None:
        if batch:
            writer.add(batch)
            if on_deliver is not None:
                on_deliver(batch)

    todo: Iterable[WorkItem] = items
    while True:
        for finished in run_pass(todo):
            deliver(handoff.route(finished))
            deliver(handoff.take_ready())
        writer.flush()  # commit what is buffered, and the duplicates each commit settles
        while ready := handoff.take_ready():
            deliver(ready)
            writer.flush()
        rerun = handoff.take_rerun()
        if not rerun:
            break
        log.info("%d duplicates run again: the input owning their video was rejected", len(rerun))
        todo = rerun
    deliver(handoff.take_unsettled())
