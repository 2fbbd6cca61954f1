"""Rendered samples: decode the mp4 and find every needle at its recorded frame index by
pixel comparison, each clue's text in its recorded box (drawn again from the row's clue
text, no OCR), and haystack frames equal to the source video at their timestamps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from support.niah import build_rows, make_haystack_output, small_config

from longvid_pipeline.api import iter_niah_frames
from longvid_pipeline.cli import main
from longvid_pipeline.media.frames import frames_at
from longvid_pipeline.niah.drawing import Layout, clue_box
from longvid_pipeline.niah.render import needle_image, render_sample
from longvid_pipeline.shards import commit_rows

CLOSE = 4.0  # mean |difference| per channel (0-255) after H.264 at CRF 18
FAR = 20.0


def decode_all(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def text_match(crop: np.ndarray, drawn: Any) -> float:
    """Correlation of two grey images: ~1 for the same text, far lower for another one."""
    grey = np.asarray(drawn).mean(axis=2).ravel()
    return float(np.corrcoef(crop.mean(axis=2).ravel(), grey)[0, 1])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("haystack")
    make_haystack_output(out)
    config = small_config(
        multi_hop={"lengths": [40], "depths": [50], "samples_per_cell": 3},
        single_hop={"lengths": [30], "depths": [100], "samples_per_cell": 1},
        frames={"hold_frames": 2, "min_gap_frames": 2},
    )
    return out, build_rows(out, config)


def test_needles_and_clues_are_where_the_row_says(
    built: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    out, rows = built
    config = small_config()
    layout = Layout(
        320, 180, "top", config.clues.font_size, config.clues.padding, config.clues.max_lines
    )
    for row in rows:
        path = render_sample(row, tmp_path / f"{row['sample_id']}.mp4").path
        frames = decode_all(path)
        assert frames.shape == (row["length"], 180, 320, 3)
        held = set()
        for needle in row["needles"]:
            image = needle_image(needle)
            for offset in range(row["hold_frames"]):
                index = needle["frame_index"] + offset
                held.add(index)
                assert difference(frames[index], image) < CLOSE, (row["sample_id"], index)
            before = needle["frame_index"] - 1
            if before >= 0 and before not in held:
                assert difference(frames[before], image) > FAR  # a haystack frame, not the needle
            if needle["clue_text"] is None:
                continue
            x, y, w, h = needle["clue_box"]
            crop = frames[needle["frame_index"], y : y + h, x : x + w]
            assert text_match(crop, clue_box(needle["clue_text"], layout)) > 0.98
            for other in row["needles"]:  # another clue's text drawn there does not match
                if other["clue_text"] not in (None, needle["clue_text"]):
                    assert text_match(crop, clue_box(other["clue_text"], layout)) < 0.9


def test_haystack_frames_are_the_source_frames_at_their_timestamps(
    built: tuple[Path, list[dict[str, Any]]],
) -> None:
    out, rows = built
    row = rows[0]
    needle_frames = {
        n["frame_index"] + k for n in row["needles"] for k in range(row["hold_frames"])
    }
    haystack_indices = [i for i in range(row["length"]) if i not in needle_frames]
    sample = list(iter_niah_frames(row))
    expected = [(segment["uri"], t) for segment in row["haystack"] for t in segment["timestamps"]]
    assert len(sample) == row["length"] and len(haystack_indices) == len(expected)
    for position in (0, len(expected) // 2, len(expected) - 1):
        uri, timestamp = expected[position]
        source = frames_at(out / uri, [timestamp], width=320, height=180)[0]
        assert np.array_equal(sample[haystack_indices[position]], source)


def test_render_niah_cli_writes_a_committed_sample(
    built: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rows = built
    bench = tmp_path / "bench"
    commit_rows(bench, {"niah": rows}, input_ids=[row["input_id"] for row in rows])
    target = tmp_path / "sample.mp4"
    assert main(["render-niah", str(bench), rows[-1]["sample_id"], "--out", str(target)]) == 0
    assert decode_all(target).shape[0] == rows[-1]["length"]
    assert f"{rows[-1]['length']} frames" in capsys.readouterr().out
    assert main(["render-niah", str(bench), "n-missing"]) == 2
    assert "no niah sample 'n-missing'" in capsys.readouterr().err
