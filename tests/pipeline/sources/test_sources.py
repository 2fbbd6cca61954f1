"""Sources: manifests in three formats and folders become input rows, every line accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from longvid_pipeline.fetching.subtitles import parse_vtt, subtitle_sidecars
from longvid_pipeline.ids import input_id_for
from longvid_pipeline.inputs import RepeatedUrls, RunInputs, items_from_rows, open_inputs
from longvid_pipeline.recipe import SourceConfig
from longvid_pipeline.sources.files import SourceError, load_inputs
from longvid_pipeline.splits import SplitsConfig, assign_splits

ROWS = [
    {"url": "https://example.com/a.mp4", "title": "A", "license": "cc-by"},
    {"url": "", "title": "empty url", "license": None},
    {"url": "http://127.0.0.1:9/b.mp4", "title": "B", "license": "cc0"},
]
FIRST_LINE = {"csv": 2, "jsonl": 1, "parquet": 1}  # CSV line 1 is the header


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
    source_rows = load_inputs("manifest", _write(kind, tmp_path / f"m.{kind}"))
    rows = [source_row.row for source_row in source_rows]
    assert [r["url"] for r in rows] == [r["url"] for r in ROWS]
    assert [r["title"] for r in rows] == ["A", "empty url", "B"]
    expected_license = "" if kind == "csv" else None  # CSV has no null, only an empty cell
    assert rows[1]["license"] == expected_license
    assert rows[0]["license"] == "cc-by"
    word = "row" if kind == "parquet" else "line"
    first = FIRST_LINE[kind]
    assert [(r.where, r.reason) for r in source_rows] == [
        (f"{word} {first}", None),
        (f"{word} {first + 1}", "missing_url"),
        (f"{word} {first + 2}", None),
    ]


def test_manifest_demo_style_row_keeps_annotations_url(tmp_path: Path) -> None:
    row = {
        "url": "http://127.0.0.1:1/demo-000.mp4",
        "annotations_url": "http://127.0.0.1:1/demo-000.json",
        "title": "demo-000",
    }
    path = tmp_path / "demo.jsonl"
    path.write_text(json.dumps(row) + "\n")
    assert [source_row.row for source_row in load_inputs("manifest", path)] == [row]


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


def test_jsonl_bad_lines_are_rejects_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "https://x/a.mp4"}\n{broken\n[1, 2]\n\n{"url": 5}\n')
    rows = load_inputs("manifest", path)
    assert [(r.where, r.reason) for r in rows] == [
        ("line 1", None),
        ("line 2", "bad_manifest_line"),
        ("line 3", "bad_manifest_line"),
        ("line 4", "empty_line"),
        ("line 5", None),  # a url that is no URL is an input: fetch rejects it
    ]
    assert rows[1].row["raw"] == "{broken" and rows[1].detail.startswith("line 2: not JSON")
    assert rows[4].row["url"] == "5"


def test_csv_blank_and_misfit_lines_are_rejects(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        'url,title\nhttps://x/a.mp4,A\n\nhttps://x/b.mp4,B,extra\n"https://x/c.mp4","C\nD"\n,E\n'
    )
    rows = load_inputs("manifest", path)
    assert [(r.where, r.reason) for r in rows] == [
        ("line 2", None),
        ("line 3", "empty_line"),
        ("line 4", "bad_manifest_line"),
        ("line 5", None),  # a quoted field spanning two lines starts on line 5
        ("line 7", "missing_url"),
    ]
    assert rows[3].row == {"url": "https://x/c.mp4", "title": "C\nD"}
    assert "3 fields where the header has 2" in rows[2].detail


def test_every_line_is_one_item_and_duplicates_are_rejects(tmp_path: Path) -> None:
    """Repeated URLs and bad lines no longer collapse into one input."""
    path = tmp_path / "m.csv"
    a, b = "https://x/a.mp4", "https://x/b.mp4"
    path.write_text(f"url\n{a}\n{b}\n\n{a}\n\n{a}\n")
    items = list(items_from_rows(load_inputs("manifest", path), "manifest"))
    assert len(items) == 6 and len({item.input_id for item in items}) == 6
    assert [item.alive for item in items] == [True, True, False, False, False, False]
    rejects = [item.rejects[0] for item in items[2:]]
    assert [(r["stage"], r["level"], r["reason"]) for r in rejects] == [
        ("source", "input", "empty_line"),
        ("source", "input", "duplicate_input"),
        ("source", "input", "empty_line"),
        ("source", "input", "duplicate_input"),
    ]
    assert rejects[1]["detail"] == f"line 5 repeats the url of line 2: {a}"
    assert json.loads(rejects[3]["input"]) == {"url": a, "manifest_line": "line 7"}
    again = list(items_from_rows(load_inputs("manifest", path), "manifest"))
    assert [item.input_id for item in again] == [item.input_id for item in items]  # resumable


def test_parquet_nan_becomes_none(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table({"url": ["https://x/a.mp4"], "score": [float("nan")]}), path)
    rows = load_inputs("manifest", path)
    assert [r.row for r in rows] == [{"url": "https://x/a.mp4", "score": None}]


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
    rows = [source_row.row for source_row in load_inputs("folder", tmp_path)]
    root = tmp_path.resolve()
    assert rows == [
        {"url": str(root / "a.mkv"), "annotations_path": None},
        {"url": str(root / "b/c/d.webm"), "annotations_path": str(root / "b/c/d.json")},
        {"url": str(root / "b/notes.txt"), "annotations_path": None},
        {"url": str(root / "z.mp4"), "annotations_path": str(root / "z.json")},
    ]
    assert subtitle_sidecars(root / "z.mp4") == [root / "z.en.vtt"]


def test_folder_symlinks_out_of_the_folder_are_refused_unless_allowed(tmp_path: Path) -> None:
    root, outside = tmp_path / "inbox", tmp_path / "elsewhere"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.mp4").write_text("x")
    (outside / "secret.json").write_text("{}")
    (outside / "dir").mkdir()
    (outside / "dir" / "hidden.mp4").write_text("x")
    (root / "own.mp4").write_text("x")
    (root / "sub" / "inside.mp4").symlink_to(root / "own.mp4")  # stays inside: fine
    (root / "escape.mp4").symlink_to(outside / "secret.mp4")
    (root / "video.mp4").write_text("x")
    (root / "video.json").symlink_to(outside / "secret.json")  # a sidecar that escapes
    (root / "linked_dir").symlink_to(outside / "dir", target_is_directory=True)
    refused = {Path(r.where).name: r for r in load_inputs("folder", root)}
    assert {name: r.reason for name, r in refused.items()} == {
        "escape.mp4": "symlink_outside_folder",
        "inside.mp4": None,
        "own.mp4": None,
        "video.mp4": "symlink_outside_folder",
    }  # the symlinked directory is not entered
    assert str(outside.resolve() / "secret.mp4") in refused["escape.mp4"].detail
    assert "source.allow_outside_symlinks" in refused["escape.mp4"].detail
    allowed = load_inputs("folder", root, allow_outside_symlinks=True)
    assert [r.reason for r in allowed] == [None] * 4
    item = next(items_from_rows(list(refused.values()), "folder"))
    assert item.rejects[0]["reason"] == "symlink_outside_folder"
    assert json.loads(item.rejects[0]["input"])["url"].endswith("escape.mp4")


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


def test_a_run_scans_its_source_once_then_streams_it_keeping_little_per_line(
    tmp_path: Path,
) -> None:
    """The survey counts every line, knows what is done and deals the splits; the items
    then stream in source order with their splits, a repeat naming its first line while
    only the repeated urls' lines are remembered."""
    urls = [f"https://x/{i}.mp4" for i in range(200)]
    lines = [*urls[:150], urls[7], "", *urls[150:], urls[7], urls[190]]
    path = tmp_path / "m.csv"
    path.write_text("url\n" + "\n".join(lines) + "\n")
    with open_inputs(SourceConfig(kind="manifest", path=str(path)), tmp_path) as source_items:
        done = {input_id_for(urls[0]), input_id_for(urls[1])}
        inputs = RunInputs.survey(source_items, done, SplitsConfig(0.1, 0.1), seed=5)
        assert (inputs.total, inputs.todo, inputs.todo_live) == (204, 202, 198)
        assert source_items.repeated == {urls[7], urls[190]}  # what the scan learnt
        items = list(inputs.todo_items())
    assert [item.source["url"] for item in items if item.alive] == urls[2:]
    # A pass that knows the repeated urls keeps the first line of those only.
    known = RepeatedUrls(known={urls[7]})
    earlier = [known.earlier_line(url, f"line {n}") for n, url in enumerate(lines[:151])]
    assert earlier == [None] * 150 + ["line 7"]
    assert known.first_line == {urls[7]: "line 7"} and len(known.seen) == 150
    rejects = [item.rejects[0]["detail"] for item in items if not item.alive]
    assert rejects == [
        f"line 152 repeats the url of line 9: {urls[7]}",
        "line 153: the line is empty",
        f"line 204 repeats the url of line 9: {urls[7]}",
        f"line 205 repeats the url of line 194: {urls[190]}",
    ]
    everything = [item.input_id for item in items] + sorted(done)
    assert {item.input_id: item.split for item in items} == {
        input_id: split
        for input_id, split in assign_splits(everything, SplitsConfig(0.1, 0.1), 5).items()
        if input_id not in done
    }
