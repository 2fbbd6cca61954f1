"""A VideoChat-Flash-shaped run through the real CLI on CPU: an image+video mixture, then a
high-resolution stage with the LLM frozen and packed rows under max_tokens; and the
reference schedule's numbers against the public training scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file
from support.shards import make_demo_shards, tiny_train_config

from longvid.model import VideoLLM
from longvid.train.cli import main
from longvid.train.config import load_config


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mixture")
    make_demo_shards(root / "shards", videos=2)
    for color in ("red", "green", "blue"):
        Image.new("RGB", (32, 24), color).save(root / f"{color}.png")
        chat = [{"from": "human", "value": "Color?"}, {"from": "gpt", "value": color}]
        record = {"id": color, "image": f"{color}.png", "conversations": chat}
        with (root / "images.jsonl").open("a") as handle:
            handle.write(json.dumps(record) + "\n")
    return root


def test_mixture_then_high_resolution_with_the_llm_frozen(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = tiny_train_config(data / "shards", run, steps=2, save_every=2, packing=True)
    first = config["schedule"]["stages"][0]
    first.update(
        data=[
            {"kind": "qa", "tasks": ["caption", "counting"]},
            {"kind": "llava", "path": str(data / "images.jsonl"), "ratio": 2.0},
        ],
        max_tokens=400,
    )
    second = dict(first, name="high_res", train=["encoder", "compressor", "projector"])
    second.update(image_size=128, lr={"encoder": 1e-3, "projector": 1e-2}, max_tokens=300)
    config["schedule"]["stages"].append(second)
    path = tmp_path / "stages.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main([str(path)]) == 0
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in records] == ["overfit", "overfit", "high_res", "high_res"]
    assert all(r["tokens_per_sample"] <= 300 for r in records[2:])
    before, after = (
        load_file(str(run / "checkpoints" / f"step-{s:08d}" / "model.safetensors")) for s in (2, 4)
    )
    llm = [name for name in before if name.startswith("llm.")]
    tower = [name for name in before if name.startswith("encoder.") and "fc1.weight" in name]
    assert llm and all(torch.equal(before[name], after[name]) for name in llm)
    assert tower and not torch.equal(before[tower[0]], after[tower[0]])
    model = VideoLLM.from_pretrained(run / "checkpoints" / "step-00000004" / "hf")
    assert model.encoder.image_size == 128 and model.encoder.grid == (16, 16)


def test_videochat_flash_schedule_matches_the_public_scripts() -> None:
    """Frames, max lengths, trainable parts, LRs and resolution of scripts/train/stage{1..4}
    (frames_upbound/lowbound, model_max_length, mm_tunable_parts, learning rates)."""
    config = load_config(Path("configs/qwen2_5_1_5b_siglip.yaml"))
    stages = [
        (s.min_frames, s.max_frames, s.max_tokens, s.image_size, s.train, s.lr)
        for s in config.schedule.stages
    ]
    vision, connector = 2e-6, ["compressor", "projector"]
    assert stages == [
        (4, 4, 8192, 224, connector, {"projector": 1e-3}),
        (4, 8, 32768, 224, ["encoder", *connector, "llm"], {"encoder": vision, "projector": 1e-5, "llm": 1e-5}),
        (64, 512, 32768, 224, ["encoder", *connector, "llm"], {"encoder": vision, "projector": 1e-5, "llm": 1e-5}),
        (64, 512, 32768, 448, ["encoder", *connector], {"encoder": vision, "projector": 1e-5}),
    ]  # fmt: skip
    assert all(s.epochs == 1 and s.warmup_ratio == 0.03 for s in config.schedule.stages)
