"""Sources: manifests in three formats and folders become input rows, none dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from longvid_pipeline.fetching.subtitles import parse_vtt, subtitle_sidecars
from longvid_pipeline.sources.files import SourceError, load_inputs

ROWS = [
    {"url": "https://example.com/a.mp4", "title": "A", "license": "cc-by"},
    {"url": "", "title": "empty url", "license": None},
    {"url": "http://127.0.0.1:9/b.mp4", "title": "B", "license": "cc0"},
]


def _write(kind: str, path: Path) -> Path:
    if kind == "csv":
        lines = ["url,title,license"] + [
            f"{r['url']},{r['title']},{r['license'] or ''}" for r in ROWS
        ]
        path.write_text("\n".join(lines) + "\n")
    elif kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_manifest_keeps_every_row_and_column(tmp_path: Path, kind: str) -> None:
    rows = load_inputs("manifest", _write(kind, tmp_path / f"m.{kind}"))
    assert [r["url"] for r in rows] == [r["url"] for r in ROWS]
    assert [r["title"] for r in rows] == ["A", "empty url", "B"]
    expected_license = "" if kind == "csv" else None  # CSV has no null, only an empty cell
    assert rows[1]["license"] == expected_license
    assert rows[0]["license"] == "cc-by"


def test_manifest_demo_style_row_keeps_annotations_url(tmp_path: Path) -> None:
    row = {
        "url": "http://127.0.0.1:1/demo-000.mp4",
        "annotations_url": "http://127.0.0.1:1/demo-000.json",
        "title": "demo-000",
    }
    path = tmp_path / "demo.jsonl"
    path.write_text(json.dumps(row) + "\n")
    assert load_inputs("manifest", path) == [row]


def test_manifest_without_url_column_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("link,title\nhttps://x/a.mp4,A\n")
    with pytest.raises(SourceError, match=r"bad\.csv has no 'url' column"):
        load_inputs("manifest", path)


def test_manifest_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="manifest not found"):
        load_inputs("manifest", tmp_path / "missing.csv")
    (tmp_path / "m.xlsx").write_text("x")
    with pytest.raises(SourceError, match="unsupported extension '.xlsx'"):
        load_inputs("manifest", tmp_path / "m.xlsx")
    with pytest.raises(SourceError, match="unknown source kind 'ftp'"):
        load_inputs("ftp", tmp_path)


def test_jsonl_bad_line_becomes_an_input_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "https://x/a.mp4"}\n{broken\n[1, 2]\n\n{"url": 5}\n')
    rows = load_inputs("manifest", path)
    assert [r["url"] for r in rows] == ["https://x/a.mp4", "", "", "5"]
    assert rows[1]["manifest_line"] == 2 and rows[1]["raw"] == "{broken"


def test_parquet_nan_becomes_none(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"url": ["https://x/a.mp4"], "score": [float("nan")]}), path)
    assert load_inputs("manifest", path) == [{"url": "https://x/a.mp4", "score": None}]


def test_folder_lists_media_recursively_with_sidecars(tmp_path: Path) -> None:
    (tmp_path / "b" / "c").mkdir(parents=True)
    for name in [
        "z.mp4",
        "z.json",
        "z.en.vtt",
        "a.mkv",
        "b/c/d.webm",
        "b/c/d.json",
        "b/notes.txt",
        "b/x.srt",
    ]:
        (tmp_path / name).write_text("x")
    rows = load_inputs("folder", tmp_path)
    root = tmp_path.resolve()
    assert rows == [
        {"url": str(root / "a.mkv"), "annotations_path": None},
        {"url": str(root / "b/c/d.webm"), "annotations_path": str(root / "b/c/d.json")},
        {"url": str(root / "b/notes.txt"), "annotations_path": None},
        {"url": str(root / "z.mp4"), "annotations_path": str(root / "z.json")},
    ]
    assert subtitle_sidecars(root / "z.mp4") == [root / "z.en.vtt"]


def test_folder_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="folder not found"):
        load_inputs("folder", tmp_path / "nope")


def test_parse_vtt_cues_tags_timestamps_and_rollup() -> None:
    text = (
        "WEBVTT\nKind: captions\nLanguage: en\n\n"
        "00:00:01.000 --> 00:00:02.500 align:start position:0%\n"
        "<c>hello</c><00:00:01.500><c> world</c>\n\n"
        "00:00:02.500 --> 00:00:03.000\nhello world\n\n"
        "cue-3\n01:02:03.250 --> 01:02:04.000\nTom &amp; Jerry\nsecond line\n\n"
        "00:00:05.000 --> 00:00:06.000\n\n"
    )
    assert parse_vtt(text) == [
        {"start_s": 1.0, "end_s": 3.0, "text": "hello world"},
        {"start_s": 3723.25, "end_s": 3724.0, "text": "Tom & Jerry second line"},
    ]


def test_parse_srt_commas() -> None:
    text = "1\r\n00:00:01,200 --> 00:00:02,000\r\nHi\r\n"
    assert parse_vtt(text) == [{"start_s": 1.2, "end_s": 2.0, "text": "Hi"}]
