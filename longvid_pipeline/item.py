"""The work item: everything the pipeline knows about one input as it flows through stages.

One input (a URL, a file, a demo video) is one item. Stages receive items and return
them enriched; the shard writer splits a finished item into rows of the `videos`,
`clips`, `qa`, `niah` and `rejects` tables. Between Ray operators an item travels as
one JSON string column, so every stage sees the same shape whatever it added, and Arrow
never has to infer types from half-filled nested columns. Frames never travel in an
item: stages that need pixels seek in the normalized file under OUT.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import resource
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from longvid_pipeline.ids import stable_hash

ITEM_COLUMN = "item"
BLOB_COLUMN = "blob"  # binary data one operator hands the next (prepared frames), never JSON
BYTES_KEY = "$bytes"  # how a bytes value (a needle PNG) travels inside the item's JSON


def _encode(value: Any) -> Any:
    """JSON for what json cannot write: bytes as {"$bytes": base64}, the rest as text."""
    if isinstance(value, bytes):
        return {BYTES_KEY: base64.b64encode(value).decode("ascii")}
    return str(value)


def _decode(mapping: dict[str, Any]) -> Any:
    if len(mapping) == 1 and BYTES_KEY in mapping:
        return base64.b64decode(mapping[BYTES_KEY])
    return mapping


def utc_now() -> str:
    """ISO timestamp in UTC, the form every *_at column takes."""
    return datetime.now(timezone.utc).isoformat()


@dataclass
class StageAccount:
    """Per-stage accounting: rows that came in, were passed on, were rejected; time spent;
    where the work ran (Ray node id -> inputs) and the worker's peak memory.

    `peak_rss_mb` is the worker process's resident high-water mark (VmHWM) after the
    input: summing accounts takes the maximum of peaks, not their sum. ffmpeg children are
    not in it (benchmarks/normalize.py measures them).
    """

    inputs: int = 0
    passed: int = 0
    rejected: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    nodes: dict[str, int] = field(default_factory=dict)

    def note_worker(self) -> None:
        """Record where an input ran and this worker's memory high-water marks so far."""
        self.peak_rss_mb = round(max(self.peak_rss_mb, peak_rss_mb()), 1)
        node = node_id()
        self.nodes[node] = self.nodes.get(node, 0) + 1


def peak_rss_mb() -> float:
    """Peak resident memory (MiB) of this process since it started: VmHWM on Linux.

    Not getrusage's ru_maxrss: a process forked and exec'd inherits its parent's peak
    there, which overstates a Ray worker (and every child of it)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def node_id() -> str:
    """The Ray node this process runs on, or "local" outside Ray (in-process runs)."""
    ray = sys.modules.get("ray")  # a Ray worker has imported it; nothing else needs it
    if ray is None or not ray.is_initialized():
        return "local"
    return str(ray.get_runtime_context().get_node_id())


@dataclass
class WorkItem:
    """One input on its way through the pipeline.

    Attributes:
        input_id: derived id of the original input row.
        source: the original input row (url plus any metadata columns), as given.
        source_kind: demo | manifest | folder.
        split: train | val | test, assigned by the runner for the whole input list
            (`splits.assign_splits`); the writer stores it on the `videos` row and the
            QA stage on every question.
        video: the `videos` row once fetch succeeded, else None.
        media_path: absolute path of the normalized media file under OUT.
        annotations: ground-truth sidecar (demo world or folder JSON), if any.
        subtitles: subtitle cues [{start_s, end_s, text}] when the site offered them.
        chapters: chapters [{start_s, end_s, title}] when the site offered them.
        clips, qa, niah: rows of those tables, in contract shape.
        rejects: rows of the `rejects` table produced so far.
        failed_stage: the stage that rejected the whole input, or None.
        claimed: video ids this input owns (fetch claimed them for it); released when
            the input is rejected, so another copy of the video can be processed.
        duplicate_of: the owning input when fetch found the video claimed by another;
            the driver holds such an item until the owner's fate is committed.
        accounts: stage name -> StageAccount.
        validation: table -> expectation name -> {"evaluated": n, "failed": n}, summed by
            the writer into the run's validation report.
        blob: bytes a stage hands the next operator beside the JSON (the caption stage's
            prepared frames); travels in its own binary column, never in the JSON.
    """

    input_id: str
    source: dict[str, Any]
    source_kind: str
    split: str | None = None
    video: dict[str, Any] | None = None
    media_path: str | None = None
    annotations: dict[str, Any] | None = None
    subtitles: list[dict[str, Any]] = field(default_factory=list)
    chapters: list[dict[str, Any]] = field(default_factory=list)
    clips: list[dict[str, Any]] = field(default_factory=list)
    qa: list[dict[str, Any]] = field(default_factory=list)
    niah: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    failed_stage: str | None = None
    claimed: list[str] = field(default_factory=list)
    duplicate_of: str | None = None
    accounts: dict[str, StageAccount] = field(default_factory=dict)
    validation: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    blob: bytes | None = field(default=None, repr=False)

    @property
    def video_id(self) -> str | None:
        return self.video["video_id"] if self.video else None

    @property
    def alive(self) -> bool:
        """False once a stage rejected the whole input; later stages pass it through."""
        return self.failed_stage is None

    def restarted(self) -> WorkItem:
        """The input as it entered the run (same id, source and split, no stage's work):
        what a duplicate runs again as when the input owning its video was rejected."""
        return WorkItem(self.input_id, self.source, self.source_kind, self.split)

    def reject_input(self, stage: str, reason: str, detail: str = "") -> None:
        """Drop the whole input: one `rejects` row at level `input`, later stages skip it."""
        self.failed_stage = stage
        self.rejects.append(self._reject_row(stage, "input", reason, detail, None))

    def reject_row(
        self, stage: str, level: str, reason: str, detail: str, row: dict[str, Any]
    ) -> None:
        """Record one dropped row (a clip, a QA pair, ...) without dropping the input."""
        self.rejects.append(self._reject_row(stage, level, reason, detail, row))

    def _reject_row(
        self, stage: str, level: str, reason: str, detail: str, row: dict[str, Any] | None
    ) -> dict[str, Any]:
        row_json = json.dumps(row, sort_keys=True, default=str) if row is not None else None
        return {
            "reject_id": "rj-" + stable_hash(self.input_id, stage, level, reason, row_json),
            "input_id": self.input_id,
            "video_id": self.video_id,
            "stage": stage,
            "level": level,
            "reason": reason,
            "detail": detail[:4000],
            "row_json": row_json,
            "input": json.dumps(self.source, sort_keys=True, default=str),
            "rejected_at": utc_now(),
        }

    def account(self, stage: str) -> StageAccount:
        return self.accounts.setdefault(stage, StageAccount())

    def to_json(self) -> str:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.pop("blob")
        return json.dumps({key: _plain(value) for key, value in fields.items()}, default=_encode)

    @classmethod
    def from_json(cls, text: str) -> WorkItem:
        raw = json.loads(text, object_hook=_decode)
        raw["accounts"] = {k: StageAccount(**v) for k, v in raw.get("accounts", {}).items()}
        return cls(**raw)


def _plain(value: Any) -> Any:
    """Dataclass values (stage accounts) as dicts, everything else as it is."""
    if isinstance(value, dict):
        return {
            key: dataclasses.asdict(v)
            if dataclasses.is_dataclass(v) and not isinstance(v, type)
            else v
            for key, v in value.items()
        }
    return value
