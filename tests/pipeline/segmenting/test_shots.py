"""Shot detectors: cut F1 on demo-world videos with known cuts, and the detector helpers."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import Interpolation, VideoReformatter

from longvid_pipeline.demo.world import render_video
from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.segmenting.box_scaler import BoxScaler
from longvid_pipeline.segmenting.decode import DecodeSettings, _ChunkBuffer, decode_pass
from longvid_pipeline.segmenting.shots import (
    AnnotationsDetector,
    ContentDetector,
    FixedDetector,
    TransNetV2Detector,
    cut_f1,
    load_transnetv2,
    snap_to_frames,
    suppress_close,
)


def _demo(
    folder: Path, seed: int, duration_s: float, size: tuple[int, int], max_scene_s: float = 10.0
) -> tuple[str, list[float]]:
    video = folder / f"demo{seed}.mp4"
    sidecar = render_video(
        video, folder / f"demo{seed}.json", duration_s=duration_s, seed=seed,
        width=size[0], height=size[1], fps=30, min_scene_s=2.0, max_scene_s=max_scene_s,
    )  # fmt: skip
    return str(video), list(sidecar["cuts_s"])


def _content() -> ContentDetector:
    return ContentDetector(
        frame_size=(48, 27), min_score=8.0, adaptive_ratio=3.0, window=2, min_shot_s=0.6
    )


def _detect(path: str, detector) -> list[float]:
    result = decode_pass(path, DecodeSettings(detector_size=detector.frame_size), detector.consume)
    return detector.cuts(result.frame_times)


@pytest.fixture(scope="module")
def demo_videos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, list[float]]]:
    folder = tmp_path_factory.mktemp("demo")
    return [_demo(folder, 11, 60.0, (640, 360)), _demo(folder, 12, 60.0, (320, 180))]


def test_content_detector_f1_on_demo_world(demo_videos: list[tuple[str, list[float]]]) -> None:
    for path, truth in demo_videos:
        predicted = _detect(path, _content())
        precision, recall, f1 = cut_f1(predicted, truth, tolerance_s=0.5)
        assert len(truth) >= 4
        assert f1 >= 0.95, (path, predicted, truth)
        # Hard cuts land on the exact frame, not just within the tolerance.
        assert cut_f1(predicted, truth, tolerance_s=0.5 / 30)[2] >= 0.95


@pytest.fixture(scope="module")
def transnet_model():
    return load_transnetv2("cpu")


def test_transnetv2_f1_on_a_short_demo_video(tmp_path: Path, transnet_model) -> None:
    path, truth = _demo(tmp_path, 21, 9.0, (320, 180), max_scene_s=3.5)
    predicted = _detect(path, TransNetV2Detector(transnet_model, threshold=0.5, min_shot_s=0.6))
    assert len(truth) >= 2
    assert cut_f1(predicted, truth, tolerance_s=0.5)[2] >= 0.95, (predicted, truth)


@pytest.mark.slow
def test_transnetv2_f1_on_demo_world(
    demo_videos: list[tuple[str, list[float]]], transnet_model
) -> None:
    # TransNetV2 sees 48x27 frames whatever the size: the 320x180 minute is enough (the
    # 640x360 one doubled the longest test of the suite, ~45 CPU-s of inference each).
    for path, truth in demo_videos[1:]:
        predicted = _detect(path, TransNetV2Detector(transnet_model, threshold=0.5, min_shot_s=0.6))
        assert cut_f1(predicted, truth, tolerance_s=0.5)[2] >= 0.95, (path, predicted, truth)


def test_transnetv2_streaming_matches_reference_inference(transnet_model) -> None:
    """Our windowed streaming gives the package's own predict_frames scores, per frame."""
    import torch

    rng = np.random.default_rng(0)
    scenes = rng.integers(0, 255, (3, 1, 27, 48, 3), dtype=np.uint8)
    frames = np.repeat(scenes, 40, axis=1).reshape(120, 27, 48, 3)
    detector = TransNetV2Detector(transnet_model, threshold=0.5, min_shot_s=0.0)
    for start in range(0, 120, 64):  # chunk size unrelated to the 50-frame step
        detector.consume(np.arange(start, min(120, start + 64)) / 30, frames[start : start + 64])
    streamed = detector.frame_predictions()
    reference, _ = transnet_model.predict_frames(torch.from_numpy(frames), quiet=True)
    np.testing.assert_allclose(streamed, reference.numpy(), atol=1e-4)
    assert detector.cuts(np.arange(120) / 30) == pytest.approx([40 / 30, 80 / 30])


def test_content_scores_do_not_depend_on_chunking() -> None:
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (50, 27, 48, 3), dtype=np.uint8)
    times = np.arange(50) / 25
    whole, pieces = _content(), _content()
    whole.consume(times, frames)
    for start in range(0, 50, 7):
        pieces.consume(times[start : start + 7], frames[start : start + 7])
    np.testing.assert_allclose(whole.frame_scores()[1], pieces.frame_scores()[1])
    assert whole.frame_scores()[1][0] == 0.0


def test_content_ignores_steady_motion_but_finds_the_cut() -> None:
    """Uniformly high differences (fast motion) are not cuts; a spike above them is."""
    frames = np.zeros((60, 27, 48, 3), dtype=np.uint8)
    for index in range(60):
        frames[index, :, (index * 3) % 48] = 255  # a sweeping bar: steady motion
    frames[30:, :, :, 2] = 200  # hard cut to a blue scene at frame 30
    detector = _content()
    detector.consume(np.arange(60) / 30, frames)
    assert detector.cuts(np.arange(60) / 30) == pytest.approx([1.0])


def test_suppress_close_keeps_the_strongest() -> None:
    kept = suppress_close(np.array([1.0, 1.2, 3.0, 3.1]), np.array([5.0, 9.0, 2.0, 1.0]), 0.5)
    assert kept == [1.2, 3.0]


def test_snap_to_frames_picks_nearest_frame() -> None:
    frame_times = np.array([0.0, 0.04, 0.08, 0.12])
    assert snap_to_frames([0.05, 0.11, 0.5], frame_times) == [0.04, 0.12]


def test_fixed_and_annotation_detectors() -> None:
    frame_times = np.arange(0, 25, 0.5)
    assert FixedDetector(stride_s=10.0).cuts(frame_times) == [10.0, 20.0]
    scenes = [{"start_s": 0.0}, {"start_s": 3.26}, {"start_s": 7.74}]
    assert AnnotationsDetector(scenes=scenes).cuts(frame_times) == [3.5, 7.5]


def test_cut_f1_one_to_one_matching() -> None:
    assert cut_f1([1.0, 1.1, 5.0], [1.0, 9.0], 0.5) == pytest.approx((1 / 3, 1 / 2, 0.4))
    assert cut_f1([], [], 0.5) == (1.0, 1.0, 1.0)


def _yuv_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray, fmt: str = "yuv420p") -> av.VideoFrame:
    if fmt == "yuv444p":
        return av.VideoFrame.from_ndarray(np.stack([y, u, v]), format=fmt)
    planes = np.concatenate([y.ravel(), u.ravel(), v.ravel()])
    return av.VideoFrame.from_ndarray(planes.reshape(-1, y.shape[1]), format=fmt)


def _uniform(
    width: int, height: int, yuv: tuple[int, int, int], fmt: str = "yuv420p"
) -> av.VideoFrame:
    y, u, v = yuv
    return _yuv_frame(
        np.full((height, width), y, np.uint8),
        np.full((height // 2, width // 2), u, np.uint8),
        np.full((height // 2, width // 2), v, np.uint8),
        fmt,
    )


def _box_rgb(scaler: BoxScaler, frame: av.VideoFrame) -> np.ndarray:
    out = np.empty((1, scaler.size[1], scaler.size[0], 3), np.uint8)
    scaler.add(0, frame)
    scaler.rgb(1, out)
    return out[0]


def test_box_scaler_is_bt601_and_matches_swscale_area() -> None:
    """Uniform frames give BT.601 colours (limited or full range); real content agrees
    with libswscale's area average to within swscale's own rounding."""
    limited = BoxScaler((48, 27), (640, 360), full_range=False, batch=1)
    assert _box_rgb(limited, _uniform(640, 360, (16, 128, 128))).max() == 0
    assert _box_rgb(limited, _uniform(640, 360, (235, 128, 128))).min() == 255
    red = _box_rgb(limited, _uniform(640, 360, (81, 90, 240)))[5, 5]  # BT.601 pure red
    assert red[0] >= 253 and red[1:].max() <= 1
    full = BoxScaler((48, 27), (640, 360), full_range=True, batch=1)
    assert _box_rgb(full, _uniform(640, 360, (128, 128, 128)))[0, 0].tolist() == [128, 128, 128]

    rng = np.random.default_rng(3)

    def smooth(height: int, width: int) -> np.ndarray:
        blocks = rng.integers(40, 220, (-(-height // 8), -(-width // 8)))
        return np.kron(blocks, np.ones((8, 8)))[:height, :width].astype(np.uint8)

    frame = _yuv_frame(smooth(360, 640), smooth(180, 320), smooth(180, 320))
    exact = BoxScaler(
        (160, 90), (640, 360), full_range=False, luma_rows=99, chroma_rows=99, batch=1
    )
    area = (
        VideoReformatter()
        .reformat(frame, width=160, height=90, format="rgb24", interpolation=Interpolation.AREA)
        .to_ndarray()
    )
    assert np.abs(_box_rgb(exact, frame).astype(int) - area).mean() < 3.0
    assert BoxScaler.fits("yuv420p", (640, 360), (160, 90), exact=True)
    assert not BoxScaler.fits("yuv420p", (642, 360), (160, 90), exact=True)
    assert not BoxScaler.fits("yuv444p", (640, 360), (48, 27))
    assert not BoxScaler.fits("yuv420p", (90, 50), (48, 27))


def test_detector_frames_keep_order_across_scalers_and_geometries() -> None:
    """A chunk mixes box-scaled frames of two sizes and swscale frames (another pixel
    format): every frame arrives once, in order, with its own colour."""
    received: list[tuple[np.ndarray, np.ndarray]] = []
    buffer = _ChunkBuffer(lambda t, f: received.append((t, f)), (48, 27), 16, "box")
    kinds = [(640, 360, "yuv420p")] * 7 + [(640, 360, "yuv444p")] * 3 + [(320, 180, "yuv420p")] * 9
    greys = []
    for index, (width, height, fmt) in enumerate(kinds):
        grey = 40 + 8 * index
        greys.append(grey)
        y = np.full((height, width), grey, np.uint8)
        chroma = (height, width) if fmt == "yuv444p" else (height // 2, width // 2)
        u = np.full(chroma, 128, np.uint8)
        buffer.add(index / 30, _yuv_frame(y, u, u, fmt))
    buffer.flush()
    times = np.concatenate([t for t, _ in received])
    frames = np.concatenate([f for _, f in received])
    np.testing.assert_allclose(times, np.arange(len(kinds)) / 30)
    expected = (np.array(greys) - 16) * 255 / 219
    np.testing.assert_allclose(frames.mean(axis=(1, 2, 3)), expected, atol=3.0)
    assert [len(t) for t, _ in received] == [16, 3]


def _textured(path: Path, scenes: list[tuple[str, int]]) -> list[float]:
    """Hard cuts between noisy moving lavfi sources at 640x360 (the box scaler's row
    sampling at work); returns the true cut times."""
    inputs, cuts, done = [], [], 0
    for source, frames in scenes:
        inputs += ["-f", "lavfi", "-i", f"{source}=s=640x360:r=30,trim=end_frame={frames},"
                   "noise=alls=16:allf=t+u,format=yuv420p,setsar=1"]  # fmt: skip
        cuts.append(done / 30)
        done += frames
    chain = "".join(f"[{i}]" for i in range(len(scenes)))
    run_ffmpeg([
        *inputs, "-filter_complex", f"{chain}concat=n={len(scenes)}:v=1:a=0[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60", str(path),
    ])  # fmt: skip
    return cuts[1:]


def test_content_detector_finds_cuts_in_noisy_moving_video(tmp_path: Path) -> None:
    scenes = [
        ("testsrc2", 75),
        ("cellauto", 80),
        ("mandelbrot", 70),
        ("rgbtestsrc", 65),
        ("testsrc2", 60),
    ]
    truth = _textured(tmp_path / "t.mp4", scenes)
    predicted = _detect(str(tmp_path / "t.mp4"), _content())
    assert cut_f1(predicted, truth, tolerance_s=0.5 / 30)[2] == 1.0, (predicted, truth)
