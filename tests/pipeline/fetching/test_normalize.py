"""Normalizing: which files are kept as they came, and how re-encodes are made.

A file whose keyframes lie further apart than `max_keyframe_gap_s` is re-encoded with a
keyframe every `keyframe_interval_s`; below that gap it is stream-copied, keyframes and
all. The encoder is libx264, or h264_nvenc where a GPU is (never silently on a machine
without one when asked for by name).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from longvid_pipeline.fetching import normalize as normalizing
from longvid_pipeline.fetching.config import FetchConfig
from longvid_pipeline.fetching.normalize import (
    EncoderMissing,
    normalize,
    reencode,
    resolve_encoder,
    scan_packets,
)
from longvid_pipeline.media.ffmpeg import ffmpeg_binary, ffmpeg_command, run_ffmpeg
from longvid_pipeline.media.probe import probe


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """9 s at 25 fps, keyframes every 4 s (x264 keeps scene cuts out: -sc_threshold 0)."""
    path = tmp_path_factory.mktemp("media") / "sparse.mp4"
    run_ffmpeg([
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=9",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-g", "100", "-keyint_min", "100", "-sc_threshold", "0", str(path),
    ])  # fmt: skip
    return path


@pytest.mark.parametrize(("gap_s", "made_by"), [(2.0, "reencode"), (5.0, "copy")])
def test_keyframe_gap_rule_decides_copy_or_reencode(
    sparse: Path, tmp_path: Path, gap_s: float, made_by: str
) -> None:
    config = replace(FetchConfig(), max_keyframe_gap_s=gap_s)
    target = tmp_path / "out.mp4"
    assert normalize(sparse, target, probe(sparse), config) == made_by
    gaps = scan_packets(target).max_keyframe_gap_s
    if made_by == "copy":
        assert gaps == pytest.approx(4.0, abs=0.05)
    else:
        assert gaps <= config.keyframe_interval_s + 1 / 25
    assert probe(target).duration_s == pytest.approx(9.0, abs=0.1)


def test_nvenc_arguments_keep_quality_and_keyframes(tmp_path: Path) -> None:
    config = replace(FetchConfig(), video_crf=21, video_preset="veryfast")
    args = ffmpeg_command(reencode(tmp_path / "a.mkv", tmp_path / "b.mp4", config, "h264_nvenc"))
    assert args[args.index("-c:v") + 1] == "h264_nvenc"
    assert args[args.index("-preset") + 1] == "p2" and args[args.index("-cq") + 1] == "21"
    assert "-force_key_frames" in args and "libx264" not in args
    x264 = ffmpeg_command(reencode(tmp_path / "a.mkv", tmp_path / "b.mp4", config))
    assert x264[x264.index("-c:v") + 1] == "libx264" and x264[x264.index("-crf") + 1] == "21"


@pytest.mark.parametrize("gpu", [False, True])
def test_encoder_switch(monkeypatch: pytest.MonkeyPatch, gpu: bool) -> None:
    monkeypatch.setattr(normalizing, "_gpu_present", lambda: gpu)
    normalizing._nvenc_missing.cache_clear()
    try:
        ffmpeg = ffmpeg_binary()
        works = gpu and normalizing._has_nvenc(ffmpeg) and normalizing._nvenc_trial(ffmpeg) is None
        assert resolve_encoder("libx264", ffmpeg) == "libx264"
        expected = "h264_nvenc" if works else "libx264"
        assert resolve_encoder("auto", ffmpeg) == expected
        if expected == "libx264":
            with pytest.raises(EncoderMissing, match="h264_nvenc"):
                resolve_encoder("h264_nvenc", ffmpeg)
        else:
            assert resolve_encoder("h264_nvenc", ffmpeg) == "h264_nvenc"
    finally:
        normalizing._nvenc_missing.cache_clear()


def test_a_gpu_whose_nvenc_cannot_encode_falls_back_to_x264(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An A100/H100/H200 node (no NVENC engine) lists h264_nvenc and has a GPU: `auto` must
    still pick libx264 there, and naming h264_nvenc must say why it cannot run. Here the
    trial encode really runs and fails (no CUDA driver on this machine)."""
    ffmpeg = ffmpeg_binary()
    if not normalizing._has_nvenc(ffmpeg):
        pytest.skip(f"{ffmpeg} has no h264_nvenc to try")
    if normalizing._nvenc_trial(ffmpeg) is None:
        pytest.skip("this machine encodes with NVENC")
    monkeypatch.setattr(normalizing, "_gpu_present", lambda: True)
    trials: list[str] = []
    real_trial = normalizing._nvenc_trial
    monkeypatch.setattr(normalizing, "_nvenc_trial", lambda f: trials.append(f) or real_trial(f))
    normalizing._nvenc_missing.cache_clear()
    try:
        assert resolve_encoder("auto", ffmpeg) == "libx264"
        for _ in range(2):  # every re-encode asks; the trial encode runs once per process
            with pytest.raises(EncoderMissing, match=r"h264_nvenc cannot encode here \(.+\)"):
                resolve_encoder("h264_nvenc", ffmpeg)
        assert trials == [ffmpeg]
        # Where the trial encode works, both pick NVENC.
        monkeypatch.setattr(normalizing, "_nvenc_trial", lambda _ffmpeg: None)
        normalizing._nvenc_missing.cache_clear()
        assert resolve_encoder("auto", ffmpeg) == "h264_nvenc"
        assert resolve_encoder("h264_nvenc", ffmpeg) == "h264_nvenc"
    finally:
        normalizing._nvenc_missing.cache_clear()
