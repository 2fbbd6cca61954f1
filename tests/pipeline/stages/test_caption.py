"""Caption stage: captions and attributes from the sidecar and from subtitle cues.

Clips are fixed 8 s windows over a 24 s video so that one event straddles a clip
boundary, one event is shorter than min_overlap_s, and the last clip holds nothing.
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest
from support.rows import example_clip, example_video
from support.sidecars import demo_sidecar

from longvid_pipeline.captioning.annotations import AnnotationCaptioner
from longvid_pipeline.captioning.base import assign_to_clips, shorten
from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.schemas import arrow_schema, row_problem
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.caption import CaptionConfig, CaptionStage, backend_class

VIDEO_ID = "v-caption0000000"
CLIP_SPANS = [(0.0, 8.0), (8.0, 16.0), (16.0, 20.0), (20.0, 24.0)]
EVENTS = [
    (0, 0, 1.0, 4.0, "circle", "red", "bounces"),
    (1, 0, 5.0, 9.0, "square", "blue", "spins"),  # straddles the 8 s boundary
    (2, 1, 10.5, 12.0, "triangle", "green", "grows"),
    (3, 1, 15.0, 16.1, "star", "yellow", "blinks"),  # 0.1 s in clip 2: below min_overlap_s
    (4, 1, 17.0, 17.1, "circle", "orange", "spins"),  # 0.1 s long: kept in clip 2 anyway
]


def sidecar() -> dict[str, Any]:
    """A small demo-world sidecar: two scenes, five events ordered by start."""
    return demo_sidecar(EVENTS, [(0.0, 10.0, "blue"), (10.0, 24.0, "gray")])


def clip_row(index: int, start: float, end: float) -> dict[str, Any]:
    """A clips row as the segment stage leaves it (caption columns empty), at 25 fps."""
    return example_clip(
        VIDEO_ID,
        index,
        start,
        end,
        clip_id=f"c-{index:015d}",
        detector="fixed",
        static_score=0.1,
        start_frame=int(start * 25),
        end_frame=int(end * 25),
    )


def make_item(
    annotations: dict[str, Any] | None = None, subtitles: list[dict[str, Any]] | None = None
) -> WorkItem:
    item = WorkItem(input_id="in-caption", source={"url": "demo://0"}, source_kind="demo")
    item.video = {"video_id": VIDEO_ID, "uri": "media/v.mp4", "duration_s": 24.0}
    item.annotations = annotations
    item.subtitles = subtitles or []
    item.clips = [clip_row(i, start, end) for i, (start, end) in enumerate(CLIP_SPANS)]
    return item


def run_caption(item: WorkItem, **config: Any) -> WorkItem:
    stage_config, errors = build_section(CaptionConfig, config, "stages.caption")
    assert errors == []
    return CaptionStage(stage_config, RunContext(out_dir="unused")).run_item(item)


def test_annotation_captions_are_the_events_overlapping_each_clip() -> None:
    item = run_caption(make_item(annotations=sidecar()))
    assert item.alive
    assert [clip["caption"] for clip in item.clips] == [
        "A red circle bounces. A blue square spins.",
        "A blue square spins. A green triangle grows. A yellow star blinks.",
        "An orange circle spins.",
        None,
    ]
    assert {clip["caption_source"] for clip in item.clips} == {"annotations"}
    assert {clip["caption_model"] for clip in item.clips} == {"demo-world-sidecar"}
    assert item.validation["clips"]["caption_stage.caption_present"] == {
        "evaluated": 4,
        "failed": 1,
    }
    schema = arrow_schema("clips")
    assert [row_problem(clip, schema) for clip in item.clips] == [None] * 4


def test_attributes_clip_event_spans_and_keep_the_whole_span() -> None:
    item = run_caption(make_item(annotations=sidecar()))
    first, second, _, last = (json.loads(clip["attributes"]) for clip in item.clips)
    assert [entry["index"] for entry in first] == [0, 1]
    square_in_first, square_in_second = first[1], second[0]
    assert (square_in_first["start_s"], square_in_first["end_s"]) == (5.0, 8.0)
    assert (square_in_second["start_s"], square_in_second["end_s"]) == (8.0, 9.0)
    assert (square_in_second["event_start_s"], square_in_second["event_end_s"]) == (5.0, 9.0)
    assert square_in_first["background"] == "blue"
    assert second[1]["background"] == "gray"
    assert last == []


def test_min_overlap_decides_which_clips_an_event_captions() -> None:
    item = run_caption(make_item(annotations=sidecar()), min_overlap_s=1.5)
    first, second = (json.loads(clip["attributes"]) for clip in item.clips[:2])
    # The square overlaps clip 0 by 3 s and clip 1 by 1 s: only clip 0 keeps it now.
    assert [entry["index"] for entry in first] == [0, 1]
    # The star (1.1 s long) reaches 1.5 s nowhere, so it captions the clip holding most of it.
    assert [entry["index"] for entry in second] == [2, 3]
    assert assign_to_clips([(15.0, 16.1)], item.clips, 1.5) == [[], [0], [], []]


def test_long_captions_are_cut_at_a_word() -> None:
    item = run_caption(make_item(annotations=sidecar()), max_caption_chars=24)
    assert item.clips[0]["caption"] == "A red circle bounces..."
    assert all(len(clip["caption"] or "") <= 24 for clip in item.clips)
    assert shorten("short", 16) == "short"


def test_subtitle_captions_join_overlapping_cues() -> None:
    cues = [
        {"start_s": 0.5, "end_s": 2.0, "text": "Hello  there."},
        {"start_s": 2.0, "end_s": 3.0, "text": "Hello there."},  # repeated auto-caption line
        {"start_s": 7.9, "end_s": 8.05, "text": "Quick."},  # tiny: goes to its larger share
        {"start_s": 9.0, "end_s": 11.0, "text": "Welcome back."},
    ]
    item = run_caption(make_item(subtitles=cues), backends=["subtitles"])
    assert [clip["caption"] for clip in item.clips] == [
        "Hello there. Quick.",
        "Welcome back.",
        None,
        None,
    ]
    assert {clip["caption_source"] for clip in item.clips} == {"subtitles"}
    assert all(clip["attributes"] is None for clip in item.clips)


@pytest.mark.parametrize(
    ("backend", "annotations"),
    [("annotations", None), ("annotations", {"scenes": []}), ("subtitles", sidecar())],
)
def test_missing_caption_source_rejects_the_input(
    backend: str, annotations: dict[str, Any] | None
) -> None:
    item = run_caption(make_item(annotations=annotations), backends=[backend])
    assert item.failed_stage == "caption"
    assert [reject["reason"] for reject in item.rejects] == ["no_captions_source"]
    assert item.accounts["caption"].rejected == 1


def test_backends_come_from_the_registry_and_config_checks_the_names() -> None:
    assert backend_class("annotations") is AnnotationCaptioner
    for backends, complaint in [
        (["whisper"], "unknown backend 'whisper'"),
        ([], "name at least one"),
        (["subtitles", "subtitles"], "at most once"),
        (["transformers", "vllm"], "one model backend at a time"),
    ]:
        _, errors = build_section(CaptionConfig, {"backends": backends}, "stages.caption")
        assert [error.key for error in errors] == ["stages.caption.backends"]
        assert complaint in errors[0].message


def test_vllm_without_its_extra_names_the_extra() -> None:
    """vLLM is an optional extra that `make test` never installs."""
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    _, errors = build_section(CaptionConfig, {"backends": ["vllm"]}, "stages.caption")
    assert "pip install 'longvid[vllm]'" in errors[0].message


def test_the_timeline_and_a_concatenated_summary_go_on_the_video() -> None:
    item = run_caption(make_item(annotations=sidecar()))
    timeline = json.loads(item.video["timeline"])
    assert [(e["start_s"], e["end_s"]) for e in timeline] == [(0.0, 8.0), (8.0, 16.0), (16.0, 20.0)]
    assert {e["source"] for e in timeline} == {"annotations"}
    assert item.video["summary"].splitlines()[0] == (
        "[0.0s-8.0s] A red circle bounces. A blue square spins."
    )
    assert item.video["summary_model"] == "timeline"
    schema = arrow_schema("videos")
    row = example_video(**{k: v for k, v in item.video.items() if k != "video_id"})
    assert row_problem(row, schema) is None


def test_without_any_source_keep_leaves_clips_uncaptioned() -> None:
    item = run_caption(make_item(), backends=["subtitles"], missing_source="keep")
    assert item.alive and len(item.clips) == 4
    assert {clip["caption"] for clip in item.clips} == {None}
    assert {clip["caption_source"] for clip in item.clips} == {"subtitles"}
    assert json.loads(item.video["timeline"]) == [] and item.video["summary"] is None
