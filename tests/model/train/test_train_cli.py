"""The real CLI on the tiny preset: overfitting, resume with the same data order, config errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file
from support.shards import make_demo_shards, tiny_train_config

from longvid.train import launch
from longvid.train.cli import main
from longvid.train.config import TrainConfig


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    make_demo_shards(out)
    return out


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def _losses(output_dir: Path) -> list[float]:
    lines = (output_dir / "log.jsonl").read_text().splitlines()
    return [json.loads(line)["loss"] for line in lines]


def test_tiny_preset_overfits_through_cli(demo_out: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = _write(tmp_path / "tiny.yaml", tiny_train_config(demo_out, run, steps=40))
    assert main([str(config)]) == 0
    losses = _losses(run)
    assert len(losses) == 40
    assert losses[0] == pytest.approx(6.02, abs=0.1)  # about ln(vocab 384) = 5.95 at init
    assert losses[0] / losses[-1] >= 5.0, losses
    checkpoint = run / "checkpoints" / "step-00000040"
    weights = load_file(str(checkpoint / "model.safetensors"))
    assert (
        "projector.0.weight" in weights and (checkpoint / "tokenizer" / "tokenizer.json").is_file()
    )
    assert json.loads((checkpoint / "hf" / "config.json").read_text())["model_type"] == "longvid"
    assert json.loads((checkpoint / "state.json").read_text()) == {
        "global_step": 40,
        "stage_index": 0,
        "stage_step": 40,
    }


def test_resume_continues_with_the_same_data_order(demo_out: Path, tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert (
        main([str(_write(tmp_path / "a.yaml", tiny_train_config(demo_out, straight, steps=6)))])
        == 0
    )
    halves = _write(
        tmp_path / "b.yaml", tiny_train_config(demo_out, resumed, steps=6, save_every=3)
    )
    assert (
        main([str(halves), "--set", "schedule.stages.0.steps=6", "--set", "trainer.log_every=1"])
        == 0
    )
    # throw away the end of the run and continue from step 3
    import shutil

    shutil.rmtree(resumed / "checkpoints" / "step-00000006")
    (resumed / "log.jsonl").write_text(
        "\n".join((resumed / "log.jsonl").read_text().splitlines()[:3]) + "\n"
    )
    assert main([str(halves), "--resume"]) == 0
    assert _losses(resumed) == pytest.approx(_losses(straight), rel=1e-4)


def test_config_errors_name_every_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tiny_train_config(tmp_path, tmp_path / "run")
    config["trainer"]["batch_size"] = "two"
    config["trainer"]["wokers"] = 2
    path = _write(tmp_path / "bad.yaml", config)
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "trainer.batch_size: expected int, got str 'two'" in err
    assert "trainer.wokers: unknown key" in err
    assert main([str(path), "--set", "trainer.batch_size=1", "--set", "trainer.wokers=null"]) == 2
    good = tiny_train_config(tmp_path, tmp_path / "run")
    good["schedule"]["stages"][0]["lr"]["encoder"] = 1e-3
    good["model"]["compressor"] = {"name": "hico", "tokens_per_fram": 4}
    assert main([str(_write(tmp_path / "bad2.yaml", good))]) == 2
    err = capsys.readouterr().err
    assert "schedule.stages[0].lr.encoder: 'encoder' is not a trainable part of this stage" in err
    assert "model.compressor.tokens_per_fram: unknown option of 'hico'" in err


def test_python_dash_m_bad_schedule_name_is_one_line(tmp_path: Path) -> None:
    """The seam bug: a bad schedule name once ended in a TypeError traceback."""
    config = tiny_train_config(tmp_path, tmp_path / "run")
    path = _write(tmp_path / "bad.yaml", {**config, "schedule": "videochat_flsh"})
    result = subprocess.run(
        [sys.executable, "-m", "longvid.train", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"longvid.train: {path}: schedule: no schedule 'videochat_flsh': not a file, "
        "nor one of ['tiny', 'videochat_flash']"
    ]


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[TrainConfig]:
    """Configs that reached training: `launch.run` is replaced, so no model is ever built."""
    configs: list[TrainConfig] = []
    monkeypatch.setattr(launch, "run", configs.append)
    return configs


def test_every_bad_set_is_reported(
    demo_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], built: list[TrainConfig]
) -> None:
    path = _write(tmp_path / "ok.yaml", tiny_train_config(demo_out, tmp_path / "run"))
    sets = ["trainer.batch_size=x", "nonsense", "trainer.log_every=0", "trainer.backend=slurm"]
    assert main([str(path), *(arg for value in sets for arg in ("--set", value))]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"longvid.train: {path}: 4 problems:",
        "  - --set nonsense: expected key=value, e.g. --set a.b=1",
        "  - trainer.backend: must be one of ['local', 'ray'], got 'slurm'",
        "  - trainer.batch_size: expected int, got str 'x'",
        "  - trainer.log_every: must be >= 1, got 0",
    ]
    assert built == []


def test_schedule_chosen_by_name_then_edited(
    demo_out: Path, tmp_path: Path, built: list[TrainConfig]
) -> None:
    """`--set schedule=NAME` resolves before the other edits, which then apply to it."""
    path = _write(tmp_path / "ok.yaml", tiny_train_config(demo_out, tmp_path / "run"))
    sets = ["schedule.stages.1.epochs=2", "schedule=videochat_flash"]
    assert main([str(path), *(arg for value in sets for arg in ("--set", value))]) == 0
    (config,) = built
    names = [stage.name for stage in config.schedule.stages]
    assert names[:3] == ["alignment", "short_video", "short_to_long"]
    assert config.schedule.stages[1].epochs == 2.0


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "expected int, got str 'abc'"), ("0", "must be positive, got 0")],
)
def test_compressor_options_are_refused_before_any_model(
    demo_out: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    built: list[TrainConfig],
    value: str,
    message: str,
) -> None:
    path = _write(tmp_path / "ok.yaml", tiny_train_config(demo_out, tmp_path / "run"))
    assert main([str(path), "--set", f"model.compressor.tokens_per_frame={value}"]) == 2
    err = capsys.readouterr().err
    assert err == f"longvid.train: {path}: model.compressor.tokens_per_frame: {message}\n"
    assert built == []


@pytest.mark.parametrize(
    ("root", "message"),
    [
        (None, "out is not a folder: build one with longvid-pipeline run, or fix the path"),
        ("", "empty: set it to a pipeline output folder (--set data.root=out/demo)"),
        ("{tmp}", "{tmp} has no committed qa shards: run longvid-pipeline run into it first"),
    ],
    ids=["missing", "empty", "no-shards"],
)
def test_data_root_problems_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    built: list[TrainConfig],
    root: str | None,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # a missing data.root means the default, "out"
    config = tiny_train_config(tmp_path, tmp_path / "run")
    if root is None:
        del config["data"]["root"]
    else:
        config["data"]["root"] = root.format(tmp=tmp_path)
    path = _write(tmp_path / "config.yaml", config)
    assert main([str(path)]) == 2
    assert capsys.readouterr().err == (
        f"longvid.train: {path}: data.root: {message.format(tmp=tmp_path)}\n"
    )
    assert built == []


def test_window_mean_loss_and_resume_with_a_changed_schedule(
    demo_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    every, windows = tmp_path / "every", tmp_path / "windows"
    config = tiny_train_config(demo_out, every, steps=4, save_every=2, export_hf=False)
    path = _write(tmp_path / "every.yaml", config)
    assert main([str(path)]) == 0
    assert main([str(path), "--set", f"output_dir={windows}", "--set", "trainer.log_every=2"]) == 0
    steps = _losses(every)
    assert _losses(windows) == pytest.approx([sum(steps[:2]) / 2, sum(steps[2:]) / 2], rel=1e-5)
    capsys.readouterr()
    longer = ["--resume", "--set", "schedule.stages.0.steps=6"]
    assert main([str(path), *longer]) == 2
    err = capsys.readouterr().err
    assert "schedule.stages[0].steps: 4 in the checkpoint, 6 now" in err
    assert "trainer.allow_schedule_change=true" in err
    assert main([str(path), *longer, "--set", "trainer.allow_schedule_change=true"]) == 0
    records = [json.loads(line) for line in (every / "log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records] == [1, 2, 3, 4, 5, 6]
