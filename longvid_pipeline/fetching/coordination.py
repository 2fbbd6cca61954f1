"""Coordination between workers of one run: download slots per host and video claims.

Two things must hold across Ray workers: at most N downloads at once per host
(politeness), and one video processed once however many inputs reach it (dedup). For a
local OUT both use files under OUT, which every worker of a run shares (one machine, or a
cluster with OUT on a shared filesystem): no central service. For an OUT on an object
store, workers share no folder, so both go through one named Ray actor the driver starts
(`Coordinator`, with `ActorClaims` and `ActorHostSlots` as the same interfaces).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from longvid_pipeline.ids import stable_hash

CLAIMS_DIR = ".claims"  # under OUT: one file per claimed video


class HostSlots:
    """At most `limit` downloads at once per host, across processes of one machine.

    Slot i of a host is an exclusive `fcntl.flock` on OUT/.locks/<host hash>.<i>. The
    kernel drops a lock when its process dies, so a crashed Ray worker never leaks a
    slot. On a multi-node cluster the limit holds per node (or cluster-wide when OUT is a
    shared filesystem with working flock).
    """

    def __init__(self, lock_dir: Path, limit: int, poll_s: float = 0.05) -> None:
        self.lock_dir = lock_dir
        self.limit = limit
        self.poll_s = poll_s

    @contextlib.contextmanager
    def hold(self, host: str) -> Iterator[int]:
        """Block until a slot of `host` is free; yields its index while held."""
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        prefix = stable_hash("host", host.lower())
        while True:
            for index in range(self.limit):
                handle = open(self.lock_dir / f"{prefix}.{index}", "a+b")  # noqa: SIM115
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    continue
                try:
                    yield index
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    handle.close()
                return
            time.sleep(self.poll_s)


class VideoClaims:
    """First input to reach a video owns it; later inputs that reach it are duplicates.

    A claim is the file OUT/.claims/<video_id> holding the owner's input id, created by
    hard-linking a complete temp file (atomic, fails when the claim exists), so a
    reader never sees a half-written owner. The owner may claim again (a rerun after a
    crash redoes its own inputs); anyone else learns the owner's id.

    Claims are a cache of who is working on what; committed `videos` rows are the truth.
    The driver rebuilds them from those rows when a run starts (`reset`: a claim of a run
    that was killed, or of an input rejected just before a crash, is dropped) and
    releases an owner's claims once its rejection is committed (`release`), so the video
    goes to the next input that reaches it (see longvid_pipeline.handoff).
    """

    def __init__(self, claim_dir: Path) -> None:
        self.claim_dir = claim_dir

    def claim(self, video_id: str, input_id: str) -> str | None:
        """None when `input_id` owns `video_id`; otherwise the owning input's id."""
        self.claim_dir.mkdir(parents=True, exist_ok=True)
        path = self.claim_dir / video_id
        temp = self.claim_dir / f".{video_id}.{uuid.uuid4().hex[:8]}.tmp"
        temp.write_text(input_id)
        try:
            os.link(temp, path)
            return None
        except FileExistsError:
            owner = path.read_text().strip()
            return None if owner == input_id else owner
        finally:
            temp.unlink()

    def release(self, video_id: str, owner: str) -> bool:
        """Drop the claim on `video_id` if `owner` holds it; True when it did.

        Nobody else can rewrite a claim while it exists, so reading then unlinking is safe."""
        path = self.claim_dir / video_id
        try:
            if path.read_text().strip() != owner:
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def reset(self, owners: dict[str, str]) -> None:
        """Replace every claim by one per committed video (video_id -> owning input id).

        Run by the driver before any worker starts."""
        if self.claim_dir.is_dir():
            for path in self.claim_dir.iterdir():
                if path.is_file() and path.name not in owners:
                    path.unlink()
        for video_id, owner in owners.items():
            path = self.claim_dir / video_id
            if not (path.is_file() and path.read_text().strip() == owner):
                path.unlink(missing_ok=True)
                self.claim(video_id, owner)


# ---------------------------------------------------------------- without a shared folder


class Coordinator:
    """Claims and host slots of one run, held by a named Ray actor (the body of
    `ActorClaims` and `ActorHostSlots`): for builds whose workers share no folder (OUT on
    an object store). The driver creates it and owns it, so it ends with the run; a
    rerun rebuilds the claims from committed rows as the file-based claims do.

    A slot is a lease: its holder renews it while downloading, and a lease not renewed
    for `lease_s` (its worker died) is free again, as the kernel frees a dead process's
    flock."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.claims: dict[str, str] = dict(owners)
        self.slots: dict[tuple[str, int], tuple[str, float]] = {}

    def claim(self, video_id: str, input_id: str) -> str | None:
        owner = self.claims.setdefault(video_id, input_id)
        return None if owner == input_id else owner

    def release(self, video_id: str, owner: str) -> bool:
        if self.claims.get(video_id) != owner:
            return False
        del self.claims[video_id]
        return True

    def reset(self, owners: dict[str, str]) -> None:
        self.claims = dict(owners)

    def acquire(self, host: str, limit: int, holder: str, lease_s: float) -> int | None:
        """A free slot index of `host` now held by `holder`, or None when all are busy."""
        now = time.time()
        for index in range(limit):
            taken = self.slots.get((host, index))
            if taken is None or now - taken[1] > lease_s:
                self.slots[(host, index)] = (holder, now)
                return index
        return None

    def renew(self, host: str, index: int, holder: str) -> None:
        if self.slots.get((host, index), ("",))[0] == holder:
            self.slots[(host, index)] = (holder, time.time())

    def free(self, host: str, index: int, holder: str) -> None:
        if self.slots.get((host, index), ("",))[0] == holder:
            del self.slots[(host, index)]


def start_coordinator(name: str, owners: dict[str, str]) -> Any:
    """Create the run's Coordinator actor (driver side, Ray initialized); returns its handle,
    which the driver keeps for the run (the actor lives as long as its owner)."""
    import ray

    actor = ray.remote(Coordinator).options(name=name, num_cpus=0, max_concurrency=64)
    return actor.remote(owners)


class ActorClaims:
    """`VideoClaims` through the run's Coordinator actor (same contract)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._actor: Any = None

    def _call(self, method: str, *args: Any) -> Any:
        import ray

        if self._actor is None:
            self._actor = ray.get_actor(self.name)
        return ray.get(getattr(self._actor, method).remote(*args))

    def claim(self, video_id: str, input_id: str) -> str | None:
        return self._call("claim", video_id, input_id)

    def release(self, video_id: str, owner: str) -> bool:
        return bool(self._call("release", video_id, owner))

    def reset(self, owners: dict[str, str]) -> None:
        self._call("reset", owners)


class ActorHostSlots:
    """`HostSlots` through the run's Coordinator actor: at most `limit` downloads at once per
    host across the whole cluster. The slot's lease is renewed every `lease_s / 3` by a
    thread while it is held."""

    def __init__(self, name: str, limit: int, poll_s: float = 0.05, lease_s: float = 120.0) -> None:
        self.claims = ActorClaims(name)  # the same actor handle lookup
        self.limit = limit
        self.poll_s = poll_s
        self.lease_s = lease_s

    @contextlib.contextmanager
    def hold(self, host: str) -> Iterator[int]:
        """Block until a slot of `host` is free; yields its index while held."""
        host, holder = host.lower(), uuid.uuid4().hex
        while (
            index := self.claims._call("acquire", host, self.limit, holder, self.lease_s)
        ) is None:
            time.sleep(self.poll_s)
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease_s / 3):
                self.claims._call("renew", host, index, holder)

        renewer = threading.Thread(target=renew, daemon=True)
        renewer.start()
        try:
            yield index
        finally:
            stop.set()
            renewer.join()
            self.claims._call("free", host, index, holder)
