"""Dedup never loses a video: when the input that claimed it is rejected later, the
video goes to the next copy, whatever order the workers run in (and after a crash).

Two folder inputs hold the same bytes (one video by content hash); the first has a
broken annotations sidecar, so fetch rejects it after it claimed and normalized the
video. Passes run the real fetch stage locally in a chosen order, the real shard writer
commits; only the order of work and of arrival at the writer changes between cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from longvid_pipeline.fetching.coordination import CLAIMS_DIR, VideoClaims
from longvid_pipeline.handoff import DuplicateHandoff, run_passes
from longvid_pipeline.ids import input_id_for
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.media.housekeeping import remove_rejected_media
from longvid_pipeline.query import run_query
from longvid_pipeline.shards import ShardWriter, committed_video_owners
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.fetch import FetchConfig, FetchStage


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """a.mp4 (with a sidecar that is not JSON) and b.mp4: the same video twice."""
    folder = tmp_path_factory.mktemp("copies")
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc=size=64x36:rate=10:duration=1", "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10", str(folder / "a.mp4")]
    )  # fmt: skip
    (folder / "b.mp4").write_bytes((folder / "a.mp4").read_bytes())
    (folder / "a.json").write_text("{not json")
    return {name: folder / f"{name}.mp4" for name in ("a", "b")}


def _item(path: Path, annotations: bool) -> WorkItem:
    source = {
        "url": str(path),
        "annotations_path": str(path.with_suffix(".json")) if annotations else None,
    }
    return WorkItem(input_id=input_id_for(str(path)), source=source, source_kind="folder")


def _local_pass(
    stage: FetchStage, run_order: str, arrival: str, lazy: bool
) -> Callable[[list[WorkItem]], Iterator[WorkItem]]:
    """A pass that works on items in `run_order` and hands them over in `arrival` order;
    `lazy`: each item is worked on only when the writer asks for it (one at a time)."""

    def run_pass(todo: list[WorkItem]) -> Iterator[WorkItem]:
        by_name = {Path(item.source["url"]).stem: item for item in todo}
        copies = {n: WorkItem.from_json(by_name[n].to_json()) for n in by_name}  # as Ray does
        if lazy:
            for name in (n for n in run_order if n in copies):
                yield stage.run_item(copies[name])
            return
        done = {name: stage.run_item(copies[name]) for name in run_order if name in copies}
        yield from (done[name] for name in arrival if name in done)

    return run_pass


@pytest.mark.parametrize(
    ("run_order", "arrival", "lazy"),
    [
        ("ab", "ab", False),  # b is refused while a still holds the claim
        ("ab", "ba", False),  # ... and reaches the writer before a's rejection does
        ("ba", "ab", False),  # b owns the video from the start
        ("ab", "", True),  # a's rejection is committed (claim released) before b starts
        ("ba", "", True),
    ],
)
def test_video_survives_its_first_claimant_failing_late(
    tmp_path: Path, copies: dict[str, Path], run_order: str, arrival: str, lazy: bool
) -> None:
    out = tmp_path / "out"
    claims = VideoClaims(out / CLAIMS_DIR)
    handoff = DuplicateHandoff(claims, kept_inputs=set())
    writer = ShardWriter(out, 100, "zstd", videos_per_commit=1)

    def after_commit(items: list[WorkItem]) -> None:
        handoff.committed(items)
        remove_rejected_media(out, items, writer.video_ids)

    writer.on_commit = after_commit
    stage = FetchStage(FetchConfig(), RunContext(out_dir=str(out)))
    first, second = _item(copies["a"], annotations=True), _item(copies["b"], annotations=False)
    run_passes([first, second], _local_pass(stage, run_order, arrival, lazy), writer, handoff)
    writer.close()

    videos = run_query(out, "select video_id, input_id from videos").to_pylist()
    assert [row["input_id"] for row in videos] == [second.input_id]  # kept once, by b
    rejects = run_query(out, "select input_id, reason from rejects where level = 'input'")
    ((rejected_input, reason),) = [tuple(row.values()) for row in rejects.to_pylist()]
    assert rejected_input == first.input_id
    # a is rejected for its own sidecar, or as a duplicate when b had the video first
    assert reason == ("duplicate_video" if run_order == "ba" else "bad_annotations")
    assert writer.done_input_ids() == {first.input_id, second.input_id}
    video_id = videos[0]["video_id"]
    assert sorted(p.name for p in (out / "media").iterdir()) == [f"{video_id}.mp4"]
    assert committed_video_owners(out) == {video_id: second.input_id}
    assert (out / CLAIMS_DIR / video_id).read_text() == second.input_id


def test_claims_of_a_killed_run_are_dropped_and_committed_ones_kept(tmp_path: Path) -> None:
    claims = VideoClaims(tmp_path / CLAIMS_DIR)
    assert claims.claim("v-kept", "in-owner") is None
    assert claims.claim("v-orphan", "in-killed") is None  # its run died before committing
    claims.reset({"v-kept": "in-owner", "v-new": "in-other"})
    assert claims.claim("v-orphan", "in-next") is None  # free again
    assert claims.claim("v-kept", "in-next") == "in-owner"
    assert claims.claim("v-new", "in-next") == "in-other"
    assert claims.release("v-kept", "in-next") is False  # only the owner releases
    assert claims.release("v-kept", "in-owner") is True
    assert claims.claim("v-kept", "in-next") is None


def test_duplicate_waits_for_its_owner(tmp_path: Path) -> None:
    handoff = DuplicateHandoff(VideoClaims(tmp_path), kept_inputs={"in-old"})
    duplicate = WorkItem("in-dup", source={"url": "x"}, source_kind="manifest", split="val")
    duplicate.reject_input("fetch", "duplicate_video", "")
    duplicate.duplicate_of = "in-owner"
    assert handoff.route(duplicate) == []  # owner undecided: held
    owner = WorkItem(input_id="in-owner", source={"url": "y"}, source_kind="manifest")
    owner.claimed = ["v-1"]
    assert VideoClaims(tmp_path).claim("v-1", "in-owner") is None
    owner.reject_input("segment", "corrupt", "")
    handoff.committed([owner])
    # it runs again as it entered the run: same input and split, nothing of its first try
    (rerun,) = handoff.take_rerun()
    assert rerun == WorkItem("in-dup", source={"url": "x"}, source_kind="manifest", split="val")
    assert rerun.alive and handoff.take_ready() == [] and handoff.take_rerun() == []
    assert VideoClaims(tmp_path).claim("v-1", "in-dup") is None  # released on rejection
    duplicate.duplicate_of = "in-old"  # the owner of an earlier run is kept: final at once
    assert handoff.route(duplicate) == [duplicate]
