"""The content detector on generated footage that behaves like real video (issue 9, item 13).

`demo.footage` renders natural-looking scenes through a moving camera with flashes,
strobes, a large object crossing, sensor noise and long-GOP x264, with every cut on a
known frame. On a small clip holding every kind of camera and event, the detector with
its defaults must find every cut on its frame and no other; the plain detector (motion
and flash handling off) must not, or the footage has become too easy to prove anything.
benchmarks/segment_hard.py measures the same on longer clips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from longvid_pipeline.demo.footage import CAMERAS, EVENTS, Footage, FootageSpec, render_footage
from longvid_pipeline.item import WorkItem
from longvid_pipeline.segmenting.config import ContentOptions, DetectorConfig
from longvid_pipeline.segmenting.decode import DecodeSettings, decode_pass
from longvid_pipeline.segmenting.shots import cut_f1
from longvid_pipeline.stages.segment import DETECTORS

# 16 s at 426x240 (a size the detector's box scaler does not tile), GOP 300 with B-frames.
SPEC = FootageSpec(seconds=16.0, width=426, height=240, fps=30, seed=8, gop=300, noise=5.0)
PLAIN = {"motion_shift": 0.0, "motion_floor": 0.0, "flash_frames": 0}


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Footage:
    return render_footage(SPEC, tmp_path_factory.mktemp("hard") / "hard.mp4")


def _content_cuts(path: Path, chunk_frames: int = 256, **config: float) -> list[float]:
    item = WorkItem(input_id="in-hard", source={}, source_kind="folder")
    options = DetectorConfig(content=ContentOptions(**config))
    detector = DETECTORS["content"](options, item, None)
    settings = DecodeSettings(
        detector_size=detector.frame_size,
        detector_resize=detector.frame_resize,
        chunk_frames=chunk_frames,
    )
    result = decode_pass(str(path), settings, detector.consume)
    return detector.cuts(result.frame_times)


def test_footage_holds_every_hard_case(footage: Footage) -> None:
    assert {shot.camera for shot in footage.shots} == set(CAMERAS)
    assert {event.kind for event in footage.events} >= set(EVENTS)
    assert any(a.scene == b.scene for a, b in zip(footage.shots, footage.shots[1:], strict=False))
    assert len(footage.cuts_s) == len(footage.shots) - 1 >= 4
    assert footage.cuts_s == [shot.start / SPEC.fps for shot in footage.shots[1:]]


def test_content_finds_every_cut_and_no_other(footage: Footage) -> None:
    predicted = _content_cuts(footage.path)
    false = [(t, footage.event_at(t)) for t in predicted if not _near(t, footage.cuts_s)]
    missed = [t for t in footage.cuts_s if not _near(t, predicted)]
    assert (false, missed) == ([], []), (predicted, footage.cuts_s)
    assert cut_f1(predicted, footage.cuts_s, tolerance_s=0.5 / SPEC.fps)[2] == 1.0


def test_cuts_do_not_depend_on_how_frames_are_chunked(footage: Footage) -> None:
    """The motion and flash state streams across chunks: 13-frame chunks cut a flash's
    frames and a strobe apart, and must give the same cuts as 256-frame ones."""
    assert _content_cuts(footage.path, chunk_frames=13) == _content_cuts(footage.path)


def test_plain_content_detector_is_fooled_by_this_footage(footage: Footage) -> None:
    predicted = _content_cuts(footage.path, **PLAIN)
    precision, _, _ = cut_f1(predicted, footage.cuts_s, tolerance_s=0.5)
    assert precision < 0.9, predicted


def _near(time_s: float, others: list[float]) -> bool:
    return any(abs(time_s - other) <= 1.01 / SPEC.fps for other in others)
