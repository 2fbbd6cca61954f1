"""Dataset annotations: each format read from a file the test writes, matched to the video
by id or URL, given per input row (fetch reads the file) or once for the whole source.

Clips are 10 s windows over a 30 s video; each dataset says the same three steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.rows import example_clip

from longvid_pipeline.captioning.config import CaptionConfig
from longvid_pipeline.captioning.formats import (
    AnnotationFormatError,
    match_keys,
    parse_annotation_text,
    parse_annotations,
)
from longvid_pipeline.config import build_section
from longvid_pipeline.fetching.sidecars import read_annotations
from longvid_pipeline.item import WorkItem
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.caption import CaptionStage

YOUTUBE_ID = "QOlSCBRmfWY"
URL = f"https://www.youtube.com/watch?v={YOUTUBE_ID}"
STEPS = [
    (1.0, 6.0, "crack the eggs"),
    (8.0, 14.0, "whisk the eggs"),
    (22.0, 29.0, "pour into the pan"),
]
OTHER = [(0.0, 5.0, "somebody else's video")]


def activitynet(key: str) -> dict[str, Any]:
    def entry(steps: list[tuple[float, float, str]]) -> dict[str, Any]:
        return {
            "duration": 30.0,
            "timestamps": [[start, end] for start, end, _ in steps],
            "sentences": [f" {text.capitalize()}. " for _, _, text in steps],
        }

    return {"v_someoneelse": entry(OTHER), key: entry(STEPS)}


def coin(key: str) -> dict[str, Any]:
    def entry(steps: list[tuple[float, float, str]]) -> dict[str, Any]:
        return {"annotation": [{"segment": [s, e], "label": text} for s, e, text in steps]}

    return {"database": {"someoneelse": entry(OTHER), key: entry(STEPS)}}


def jsonl(key: str) -> str:
    rows = [{"video": "other.mp4", "start": 0.0, "end": 5.0, "text": "Not this one."}]
    rows += [
        {"video": key, "start": s, "end": e, "text": t.capitalize() + "."} for s, e, t in STEPS
    ]
    return "\n".join(json.dumps(row) for row in rows) + "\n"


FILES = {
    "activitynet": ("train.json", lambda key: json.dumps(activitynet(key))),
    "coin": ("COIN.json", lambda key: json.dumps(coin(key))),
    "jsonl": ("labels.jsonl", jsonl),
}
EXPECTED = ["Crack the eggs.", "Whisk the eggs.", "Pour into the pan."]


def make_item(source: dict[str, Any], annotations: dict[str, Any] | None = None) -> WorkItem:
    item = WorkItem(input_id="in-formats", source=source, source_kind="manifest")
    item.video = {"video_id": "v-formats", "duration_s": 30.0}
    item.annotations = annotations
    item.clips = [
        example_clip("v-formats", i, start, start + 10.0) for i, start in enumerate((0, 10, 20))
    ]
    return item


def caption(item: WorkItem, **config: Any) -> WorkItem:
    stage_config, errors = build_section(CaptionConfig, config, "stages.caption")
    assert errors == []
    return CaptionStage(stage_config, RunContext(out_dir="unused")).run_item(item)


def write(folder: Path, fmt: str, key: str) -> Path:
    name, render = FILES[fmt]
    path = folder / name
    path.write_text(render(key))
    return path


@pytest.mark.parametrize("fmt", sorted(FILES))
@pytest.mark.parametrize("key", [YOUTUBE_ID, f"v_{YOUTUBE_ID}", URL])
def test_a_source_wide_file_is_matched_by_id_or_url(tmp_path: Path, fmt: str, key: str) -> None:
    """One file for every video (`annotations.path`); the row holds only the URL."""
    path = write(tmp_path, fmt, key)
    item = caption(make_item({"url": URL}), annotations={"path": str(path)})
    assert item.alive
    assert [clip["caption"] for clip in item.clips] == [
        "Crack the eggs. Whisk the eggs.",
        "Whisk the eggs.",
        "Pour into the pan.",
    ]
    assert {clip["caption_model"] for clip in item.clips} == {f"{fmt}:{path.name}"}
    events = [json.loads(clip["attributes"]) for clip in item.clips]
    whisk_in_first, whisk_in_second = events[0][1], events[1][0]
    assert (whisk_in_first["start_s"], whisk_in_first["end_s"]) == (8.0, 10.0)
    assert (whisk_in_second["event_start_s"], whisk_in_second["event_end_s"]) == (8.0, 14.0)
    assert [e["caption"] for e in events[0]] == EXPECTED[:2]


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_a_per_row_file_read_by_fetch_is_matched_by_file_name(tmp_path: Path, fmt: str) -> None:
    """A manifest row names its own file; a folder video is matched by its file name."""
    path = write(tmp_path, fmt, "cooking.mp4" if fmt == "jsonl" else "cooking")
    source = {"url": "/videos/cooking.mp4", "annotations_path": str(path)}
    annotations = read_annotations(source, lambda url: None, 1.0, 0, 0.0)
    item = caption(make_item(source, annotations))
    assert [clip["caption"] for clip in item.clips][2] == "Pour into the pan."
    if fmt == "coin":
        labels = [e["label"] for e in json.loads(item.clips[2]["attributes"])]
        assert labels == ["pour into the pan"]


def test_an_explicit_annotation_key_column_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "activitynet", "v_someoneelse")  # the key of OTHER is now STEPS'
    item = caption(
        make_item({"url": URL, "annotation_key": "someoneelse"}), annotations={"path": str(path)}
    )
    assert item.clips[0]["caption"] == "Crack the eggs. Whisk the eggs."


def test_a_video_the_file_does_not_name_is_rejected_or_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "coin", "somebody")
    item = caption(make_item({"url": URL}), annotations={"path": str(path)})
    assert [r["reason"] for r in item.rejects] == ["no_captions_source"]
    kept = caption(make_item({"url": URL}), annotations={"path": str(path)}, missing_source="keep")
    assert kept.alive and {clip["caption"] for clip in kept.clips} == {None}


def test_per_video_files_need_no_key(tmp_path: Path) -> None:
    single = {"duration": 30.0, "timestamps": [[1.0, 6.0]], "sentences": ["Crack the eggs."]}
    assert parse_annotations(single) == parse_annotations(single, "activitynet")
    item = caption(make_item({"url": "/x/anything.mp4"}, single))
    assert item.clips[0]["caption"] == "Crack the eggs."
    one_line = parse_annotation_text('{"start": 1, "end": 6, "text": "Crack the eggs."}')
    assert caption(make_item({"url": "/x/a.mp4"}, one_line)).clips[0]["caption"] == (
        "Crack the eggs."
    )


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('{"v_1": {"timestamps": [[1, 2]], "sentences": []}}', "a.json"),
        ('{"database": {"x": {"annotation": [{"segment": [5, 1], "label": "a"}]}}}', "b.json"),
        ('{"video": "a", "start": 0, "end": 1}\n', "c.jsonl"),
    ],
)
def test_malformed_files_are_format_errors(text: str, name: str) -> None:
    with pytest.raises(AnnotationFormatError):
        parse_annotations(parse_annotation_text(text, name))


def test_a_malformed_row_file_rejects_the_input_with_the_reason() -> None:
    raw = {"v_1": {"timestamps": [[1, 2]], "sentences": []}}
    item = caption(make_item({"url": "https://x.test/v_1.mp4"}, raw))
    assert [r["reason"] for r in item.rejects] == ["bad_annotations"]
    assert "1 timestamps but 0 sentences" in item.rejects[0]["detail"]


def test_match_keys_cover_ids_urls_and_file_names() -> None:
    keys = match_keys({"url": "https://youtu.be/QOlSCBRmfWY?t=3"}, site_id="abc")
    assert keys[:2] == ["abc", "v_abc"]
    assert YOUTUBE_ID in keys and f"v_{YOUTUBE_ID}" in keys
    assert "clip" in match_keys({"url": "/data/v_clip.mp4"})


def test_annotations_and_subtitles_combine_and_name_both(tmp_path: Path) -> None:
    path = write(tmp_path, "jsonl", URL)
    item = make_item({"url": URL})
    item.subtitles = [{"start_s": 11.0, "end_s": 13.0, "text": "Keep whisking."}]
    item.chapters = [{"start_s": 0.0, "end_s": 30.0, "title": "Omelette"}]
    item = caption(item, backends=["annotations", "subtitles"], annotations={"path": str(path)})
    first, second, _ = item.clips
    assert second["caption"] == "Whisk the eggs. Speech: Chapter: Omelette. Keep whisking."
    assert second["caption_source"] == "annotations+subtitles"
    assert second["caption_model"] == "jsonl:labels.jsonl+subtitle-cues+chapters"
    assert json.loads(second["attributes"])[0]["caption"] == "Whisk the eggs."
    no_chapters = caption(
        make_item({"url": URL}), backends=["subtitles", "annotations"],
        annotations={"path": str(path)}, subtitles={"chapters": False},
    )  # fmt: skip
    assert no_chapters.clips[0]["caption_source"] == "annotations"  # subtitles had nothing


def test_a_missing_source_file_is_a_config_problem(tmp_path: Path) -> None:
    _, errors = build_section(
        CaptionConfig, {"annotations": {"path": str(tmp_path / "none.json")}}, "stages.caption"
    )
    assert "annotations.path: no file at" in errors[0].message
