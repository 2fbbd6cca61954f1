"""Coordination between workers of one run, through files under OUT.

Two things must hold across Ray workers without a central service: at most N downloads
at once per host (politeness), and one video processed once however many inputs reach
it (dedup). Both use the filesystem under OUT, which every worker of a run shares: one
machine always, a cluster when OUT is a shared filesystem (the documented setup).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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
