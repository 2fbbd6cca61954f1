"""Two Ray Train CPU workers (gloo), DDP and FSDP, across two schedule stages, then resume.

Slow: starts a Ray cluster and three TorchTrainer runs. What it pins down:
- FSDP (FSDP2 `fully_shard`) runs on CPU: loss finite and falling, stages that change the
  trainable parts (stage 2 unfreezes the vision encoder) work without re-wrapping.
- DDP gets one fresh wrapper per stage over the bare model (no DDP of a DDP); the encoder's
  unused pooling head does not break its reducer.
- Checkpoints hold the full, unsharded weights: they load strictly into a bare VideoLLM and
  the FSDP checkpoint equals the DDP one (whose rank-0 replica is the full model) up to
  float noise; an FSDP run resumed from step 3 reproduces the straight run's step 4 loss
  and final weights, so the sharded optimizer state survived the round trip too (under DDP
  weights and optimizer state load into the bare model before it is wrapped, as in one
  process, which test_train_cli.py resumes; DDP's straight run stays for the comparison).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, load_model
from support.shards import make_demo_shards, tiny_train_config

from longvid.train.cli import main
from longvid.train.config import load_config
from longvid.train.loop import build_model

STEPS = 4  # 2 per stage; a checkpoint at step 3 (inside stage 2) and at the end


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    ray = pytest.importorskip("ray")
    out = tmp_path_factory.mktemp("shards")
    make_demo_shards(out, videos=2)
    with tempfile.TemporaryDirectory(prefix="lvr-", dir="/tmp") as ray_tmp:  # short socket paths
        ray.init(num_cpus=2, _temp_dir=ray_tmp, include_dashboard=False, log_to_driver=False)
        try:
            yield out
        finally:
            ray.shutdown()


def _config(shards: Path, run: Path, strategy: str) -> dict:
    config = tiny_train_config(
        shards,
        run,
        steps=2,
        backend="ray",
        num_workers=2,
        strategy=strategy,
        save_every=3,
        batch_size=2,
    )
    first = config["schedule"]["stages"][0]
    first.update(name="llm", train=["projector", "llm"])
    second = dict(first, name="vision", train=["encoder", "compressor", "projector"])
    second["lr"] = {"encoder": 1e-3, "projector": 1e-2}
    config["schedule"]["stages"].append(second)
    return config


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def _weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"step-{step:08d}" / "model.safetensors"))


def _train(shards: Path, tmp_path: Path, strategy: str) -> tuple[Path, Path | None, dict]:
    """A straight run, and for FSDP a copy of it resumed from its step-3 checkpoint."""
    run, resumed = tmp_path / f"{strategy}-run", tmp_path / f"{strategy}-resumed"
    config = _config(shards, run, strategy)
    path = tmp_path / f"{strategy}.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main([str(path)]) == 0
    if strategy != "fsdp":
        return run, None, config
    shutil.copytree(run, resumed, ignore=shutil.ignore_patterns("ray"))
    shutil.rmtree(resumed / "checkpoints" / f"step-{STEPS:08d}")
    lines = (resumed / "log.jsonl").read_text().splitlines()[:3]
    (resumed / "log.jsonl").write_text("\n".join(lines) + "\n")
    assert main([str(path), "--set", f"output_dir={resumed}", "--resume"]) == 0
    return run, resumed, config


def _check_run(run: Path, resumed: Path | None, config: dict) -> None:
    records = _records(run)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert [r["stage"] for r in records] == ["llm", "llm", "vision", "vision"]
    losses = [r["loss"] for r in records]
    assert all(math.isfinite(loss) for loss in losses), losses
    assert losses[-1] < losses[0], losses
    end = _weights(run, STEPS)
    if resumed is not None:  # from step 3 (stage 2, its optimizer state): same step 4 and end
        assert [r["step"] for r in _records(resumed)] == [1, 2, 3, 4]
        assert _records(resumed)[-1]["loss"] == pytest.approx(losses[-1], rel=1e-4)
        end_resumed = _weights(resumed, STEPS)
        assert end.keys() == end_resumed.keys()
        for name in end:
            torch.testing.assert_close(end_resumed[name], end[name], rtol=1e-4, atol=1e-5)
    # full tensors that load strictly into a bare model; both stages' parts moved
    bare, _ = build_model(load_config(None, [], config))
    init = {k: v.clone() for k, v in bare.state_dict().items()}
    checkpoint = run / "checkpoints" / f"step-{STEPS:08d}" / "model.safetensors"
    load_model(bare, str(checkpoint), strict=True)
    loaded = bare.state_dict()
    for name, tensor in end.items():
        assert tensor.shape == init[name].shape, name
        torch.testing.assert_close(loaded[name], tensor, rtol=0, atol=0)
    assert not torch.equal(loaded["projector.0.weight"], init["projector.0.weight"])
    encoder = [k for k in init if k.startswith("encoder.") and k.endswith("fc1.weight")]
    assert encoder and not torch.equal(loaded[encoder[0]], init[encoder[0]])


@pytest.mark.slow(minutes=3)
def test_ddp_and_fsdp_on_two_cpu_workers_across_stages_and_resume(
    cluster: Path, tmp_path: Path
) -> None:
    runs = {}
    for strategy in ("fsdp", "ddp"):
        run, resumed, config = _train(cluster, tmp_path, strategy)
        _check_run(run, resumed, config)
        runs[strategy] = run
    # the gathered FSDP weights are the model DDP's rank 0 holds whole (same seed, data, math)
    fsdp, ddp = _weights(runs["fsdp"], STEPS), _weights(runs["ddp"], STEPS)
    assert fsdp.keys() == ddp.keys()
    for name in ddp:
        torch.testing.assert_close(fsdp[name], ddp[name], rtol=1e-3, atol=1e-4)
    for step in (1, 4):
        fsdp_loss = _records(runs["fsdp"])[step - 1]["loss"]
        assert fsdp_loss == pytest.approx(_records(runs["ddp"])[step - 1]["loss"], rel=1e-3)
