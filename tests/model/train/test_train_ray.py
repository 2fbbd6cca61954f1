"""The same CLI on Ray Train: one CPU worker under TorchTrainer (slow: starts a Ray cluster)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from support.shards import make_demo_shards, tiny_train_config

from longvid.train.cli import main


@pytest.mark.slow(minutes=1)
def test_ray_backend_trains_one_cpu_worker(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    out = tmp_path / "shards"
    make_demo_shards(out, videos=2)
    run = tmp_path / "run"
    config = tiny_train_config(out, run, steps=3, backend="ray", num_workers=1)
    path = tmp_path / "ray.yaml"
    path.write_text(yaml.safe_dump(config))
    with tempfile.TemporaryDirectory(
        prefix="lvr-", dir="/tmp"
    ) as ray_tmp:  # socket paths < 100 chars
        ray.init(num_cpus=2, _temp_dir=ray_tmp, include_dashboard=False, log_to_driver=False)
        try:
            assert main([str(path)]) == 0
        finally:
            ray.shutdown()
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records] == [1, 2, 3]
    assert records[-1]["loss"] < records[0]["loss"]
    assert (run / "checkpoints" / "step-00000003" / "model.safetensors").is_file()
