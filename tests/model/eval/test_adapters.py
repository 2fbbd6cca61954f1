"""Model adapters: SlowFast arithmetic (fast), and tiny random-weight LLaVA-OneVision,
LLaVA-NeXT-Video, Qwen2-VL and longvid checkpoints end to end through the real CLI on
the demo build (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from support.eval import (
    tiny_llava,
    tiny_longvid_checkpoint,
    tiny_qwen2_vl,
)

from longvid.eval.adapters.slowfast import PRESETS, SlowFastOptions, slowfast_compressor
from longvid.eval.cli import main


def _grid_features(frames: int, side: int) -> torch.Tensor:
    """(T, side*side, 2): channel 0 = row*side + col, channel 1 = frame index."""
    positions = torch.arange(side * side, dtype=torch.float32)
    tokens = torch.zeros(frames, side * side, 2)
    tokens[..., 0] = positions
    tokens[..., 1] = torch.arange(frames, dtype=torch.float32)[:, None]
    return tokens


def test_slowfast_paper_arithmetic_and_order() -> None:
    """50 frames on 24x24 patches: 10 slow frames (0, 5, ..., 45) max-pooled 1x2 -> 24x12,
    then all 50 frames average-pooled to 4x4: 2,880 + 800 = 3,680 tokens, slow first."""
    compressor = slowfast_compressor(SlowFastOptions().setting())
    assert compressor.slow_indices(50) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    assert compressor.num_tokens(50, (24, 24)) == 3680
    out = compressor(_grid_features(50, 24), (24, 24))
    assert out.shape == (3680, 2)
    slow, fast = out[:2880], out[2880:]
    assert slow[:, 1].view(10, 288)[:, 0].tolist() == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    # max over horizontal pairs: row r, pair q keeps column 2q+1
    expected_slow = [r * 24 + 2 * q + 1 for r in range(24) for q in range(12)]
    assert slow[:288, 0].tolist() == expected_slow
    assert fast[:, 1].view(50, 16)[:, 0].tolist() == list(range(50))
    # 6x6 average blocks: mean row 6i+2.5, mean column 6j+2.5
    expected_fast = [24 * (6 * i + 2.5) + 6 * j + 2.5 for i in range(4) for j in range(4)]
    assert fast[:16, 0].tolist() == pytest.approx(expected_fast)


def test_slowfast_presets() -> None:
    figure1 = slowfast_compressor(PRESETS["figure1"])
    assert figure1.slow_indices(50) == [0, 6, 12, 18, 25, 31, 37, 43]
    assert figure1.num_tokens(50, (24, 24)) == 8 * 576 + 50 * 16
    options = SlowFastOptions(preset="figure1", slow_frames=3)
    assert options.setting() == PRESETS["figure1"]  # a named preset replaces the keys


def _run_eval(tmp_path: Path, demo_build: Path, model: dict, **data: object) -> Path:
    output = tmp_path / "eval"
    config = {
        "output_dir": str(output),
        "baselines": ["blind"],
        "model": model,
        # Grounding only: the demo's test split opens with caption and counting questions,
        # all open, and these runs need both ways of answering within their first samples.
        "data": {
            "root": str(demo_build),
            "splits": ["test"],
            "tasks": ["grounding"],
            "workers": 1,
            **data,
        },
        "generation": {"batch_size": 2, "max_new_tokens": 4},
    }
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main([str(path)]) == 0
    return output


def _records(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]


def _check_runs(output: Path, samples: int, frames: int) -> list[dict]:
    records = _records(output)
    model = [r for r in records if r["run"] == "model"]
    blind = [r for r in records if r["run"] == "blind"]
    assert len(model) == len(blind) == samples
    assert {r["frames"] for r in model} == {frames}
    assert {r["frames"] for r in blind} == {0}
    assert all(isinstance(r["output"], str) and "error" not in r for r in records)
    choices = [r for r in records if r["form"] == "choice"]
    assert choices and len(choices) < len(records)  # both ways of answering ran
    for record in records:  # multiple choice by likelihood (default), the rest generated
        if record["form"] != "choice":
            assert "option_loglikelihoods" not in record and "mc_scoring" not in record
            continue
        scores = record["option_loglikelihoods"]
        assert record["mc_scoring"] == "likelihood" and len(scores) == 4
        assert record["parsed"] == record["output"] == "ABCD"[scores.index(max(scores))]
        assert record["score"] == float(record["parsed"] == record["target"])
    results = json.loads((output / "results.json").read_text())
    assert results["runs"] == ["model", "blind"]
    assert results["mc_scoring"] == {"model": "likelihood", "blind": "likelihood"}
    assert results["throughput"]["model"]["samples"] == samples
    return records


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "handling"), [("llava_onevision", "slowfast"), ("llava_next_video", "native")]
)
def test_hf_llava_end_to_end(tmp_path: Path, demo_build: Path, family: str, handling: str) -> None:
    source = tiny_llava(tmp_path / "model", family)
    options = {"source": str(source), "frames": 12, "frame_handling": handling}
    output = _run_eval(tmp_path, demo_build, {"name": "hf_llava", "options": options}, limit=3)
    _check_runs(output, samples=3, frames=12)


@pytest.mark.slow
def test_hf_llava_video_tokens_follow_the_slowfast_arithmetic(tmp_path: Path) -> None:
    from longvid.eval.adapters import AdapterContext, build_adapter

    source = tiny_llava(tmp_path / "model")  # 48 px, 8 px patches: a 6x6 grid
    adapter = build_adapter(
        "hf_llava", {"source": str(source), "frames": 12}, AdapterContext(tmp_path, 0, [])
    )
    tokens = adapter.video_tokens(torch.randn(12, 3, 48, 48))
    assert tokens.shape[0] == 10 * 6 * 3 + 12 * 4 * 4  # slow 1x2 on 6x6, fast 4x4
    assert adapter.describe()["video_tokens"] == tokens.shape[0]


@pytest.mark.slow
def test_hf_qwen_vl_end_to_end(tmp_path: Path, demo_build: Path) -> None:
    source = tiny_qwen2_vl(tmp_path / "model")
    options = {"source": str(source), "frames": 4, "max_pixels": 112 * 112}
    output = _run_eval(tmp_path, demo_build, {"name": "hf_qwen_vl", "options": options}, limit=3)
    _check_runs(output, samples=3, frames=4)


@pytest.mark.slow
def test_longvid_checkpoint_end_to_end(tmp_path: Path, demo_build: Path) -> None:
    training = tmp_path / "train"
    tiny_longvid_checkpoint(training, demo_build, max_frames=8)
    model = {"name": "longvid", "options": {"checkpoint": str(training)}}
    output = _run_eval(tmp_path, demo_build, model, limit=4)
    records = _check_runs(output, samples=4, frames=8)  # the plan fitted to the stage's 4..8
    assert all(
        "8 frames are uniformly sampled" in r["prompt"] for r in records if r["run"] == "model"
    )
