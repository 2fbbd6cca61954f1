"""NIAH scoring against the expected row shape (longvid/eval/niah.py): needles land in the
decoded haystack at their indices, accuracy is kept per (question type, hops, length,
depth), and heatmaps are drawn per question type and hop count."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from support.shards import make_video

from longvid.eval import runner
from longvid.eval.cli import main
from longvid.eval.loader import FramePlan, choose_frames, decode
from longvid.eval.niah import NiahShapeError, niah_samples

VIDEO_ID = "v-haystack"
URI = "media/haystack.mp4"


def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buffer, format="PNG")
    return buffer.getvalue()


def niah_row(sample_id: str, hops: int, length: int, depth: float) -> dict:
    """A row in the expected shape: `length` haystack frames at 10 fps, hops+1 needles."""
    start = int(depth * (length - hops - 1))
    return {
        "sample_id": sample_id,
        "hops": hops,
        "length": length,
        "depth": depth * 100,  # percentages are read too
        "haystack_video_ids": [VIDEO_ID] * length,
        "haystack_timestamps": [round(0.1 * i, 3) for i in range(length)],
        "needle_images": [_png((255, 0, 0)), *[_png((0, 0, 255))] * hops],
        "needle_frame_indices": [[start + k] for k in range(hops + 1)],
        "prompt": "Find the red frame, then follow the clues.",
        "questions": [
            {
                "question_type": "caption",
                "question": "Which caption describes the final frame?",
                "options": ["a red frame", "a blue frame", "a green frame", "a gray frame"],
                "answer": "A",
            },
            {
                "question_type": "visual",
                "question": "What colour is the final frame?",
                "options": ["green", "red", "blue", "gray"],
                "answer": "B",
            },
        ],
    }


@pytest.fixture(scope="module")
def haystack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("niah")
    make_video(root / URI, "testsrc", seconds=4.0, size="160x120")
    return root


def test_needles_replace_haystack_frames_at_their_indices(haystack: Path) -> None:
    samples = niah_samples(niah_row("n-1", hops=1, length=20, depth=0.5), {VIDEO_ID: URI})
    assert [s.task for s in samples] == ["niah/caption", "niah/visual"]
    assert [s.target for s in samples] == [0, 1] and samples[0].meta["depth"] == 0.5
    frames, needles, _ = choose_frames(samples[0], FramePlan())
    assert len(frames) == 20 and sorted(needles) == [9, 10]
    pixels = decode(haystack, frames, needles, FramePlan(height=60, width=80))
    assert pixels.shape == (20, 60, 80, 3)
    assert np.abs(pixels[9].astype(int) - [255, 0, 0]).max() <= 2
    assert np.abs(pixels[10].astype(int) - [0, 0, 255]).max() <= 2
    assert np.abs(pixels[8].astype(int) - [255, 0, 0]).max() > 50  # a haystack frame
    # a capped haystack is subsampled uniformly (frames 1, 3, ..., 19): the needle at 9
    # is shown 5th, the one at 10 falls between shown frames
    frames, needles, _ = choose_frames(samples[0], FramePlan(haystack_frames=10))
    assert [int(round(t * 10)) for _, t in frames] == list(range(1, 20, 2))
    assert sorted(needles) == [4]


def test_rows_missing_columns_are_reported() -> None:
    row = niah_row("n-1", hops=1, length=20, depth=0.5)
    del row["needle_images"]
    with pytest.raises(NiahShapeError, match="needle_images"):
        niah_samples(row, {VIDEO_ID: URI})


def test_niah_accuracy_per_cell_and_heatmaps(
    tmp_path: Path, haystack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        niah_row(f"n-{hops}-{length}-{depth}", hops, length, depth)
        for hops in (0, 2)
        for length in (10, 20, 30)
        for depth in (0.0, 0.5, 1.0)
    ]
    tables = {"niah": rows, "videos": [{"video_id": VIDEO_ID, "uri": URI}]}
    monkeypatch.setattr(runner, "read_rows", lambda root, table, where=None: tables[table])
    config = {
        "output_dir": str(tmp_path / "eval"),
        "baselines": ["random"],
        "model": {"name": "oracle", "options": {"frames": 12}},
        "data": {"root": str(haystack), "tables": ["niah"], "workers": 1},
    }
    path = tmp_path / "niah.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main([str(path)]) == 0
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    cells = [row for row in results["niah"] if row["run"] == "model"]
    assert len(cells) == 2 * 2 * 3 * 3  # question types x hops x lengths x depths
    assert {(c["length"], c["depth"]) for c in cells} == {
        (length, depth) for length in (10, 20, 30) for depth in (0.0, 0.5, 1.0)
    }
    assert all(c["accuracy"] == 1.0 and c["n"] == 1 for c in cells)
    records = [
        json.loads(line) for line in (tmp_path / "eval" / "samples.jsonl").read_text().splitlines()
    ]
    assert {r["frames"] for r in records if r["run"] == "model"} == {10, 12}  # min(length, 12)
    assert len(results["heatmaps"]) == 2 * 2 * 2  # runs x question types x hops
    image = Image.open(tmp_path / "eval" / "heatmaps" / "model-caption-hops2.png")
    assert image.size[1] == 34 + 3 * 30 + 44  # title, three depth rows, axis
    assert "heatmaps/model-caption-hops2.png" in (tmp_path / "eval" / "report.md").read_text()
