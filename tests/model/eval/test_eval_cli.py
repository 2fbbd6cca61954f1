"""The evaluator's command line: every config problem at once with its dotted key (exit 2,
no traceback), unusable data said plainly, and the shipped config showing every default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from support.shards import make_demo_shards

from longvid.eval.cli import main
from longvid.eval.config import (
    DataSection,
    GenerationSection,
    JudgeSection,
    PromptSection,
    RaySection,
    load_config,
)

REPO = Path(__file__).resolve().parents[3]


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def test_every_problem_at_once_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(
        tmp_path / "bad.yaml",
        {
            "backend": "spark",
            "bogus": 1,
            "model": {"name": "hf_llava", "options": {"frames": 0, "colour": "red"}},
            "data": {"tables": ["qa", "videos"], "workers": -1},
            "judge": {"prompt": "Grade {prediction}"},
            "generation": {"batch_size": "four"},
        },
    )
    assert main([str(config), "--set", "data.forms=[choice,essay]"]) == 2  # returns, no raise
    err = capsys.readouterr().err
    for expected in (
        "backend: must be one of ['local', 'ray']",
        "bogus: unknown key",
        "data.workers: must be >= 0",
        "generation.batch_size: expected int",
    ):
        assert expected in err, err
    # with the types right, the cross-field and adapter checks report together
    fixed = yaml.safe_load(config.read_text())
    fixed.pop("bogus")
    fixed["backend"] = "local"
    fixed["data"]["workers"] = 0
    fixed["generation"]["batch_size"] = 4
    assert main([str(_write(config, fixed))]) == 2
    err = capsys.readouterr().err
    for expected in (
        "data.tables: unknown 'videos'",
        "judge.prompt: must contain {question}",
        "model.options.frames: must be >= 1",
        "model.options.colour: unknown key",
    ):
        assert expected in err, err


def test_adapter_specific_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _write(
        tmp_path / "c.yaml",
        {"model": {"name": "longvid", "options": {"checkpoint": str(tmp_path / "none")}}},
    )
    assert main([str(config), "--set", "data.root=" + str(tmp_path)]) == 2
    assert "model.options.checkpoint: no checkpoint at" in capsys.readouterr().err
    blind = ["--set", "model.name=blind", "--set", "model.options={base: {name: blind}}"]
    assert main([str(config), *blind]) == 2
    err = capsys.readouterr().err
    assert "baselines: the model is already blind" in err
    assert "model.options.base.name: name a non-blind adapter" in err
    assert main([str(config), "--set", "model.name=gpt"]) == 2
    assert "model.name: must be one of" in capsys.readouterr().err
    openai = ["--set", "model.name=openai", "--set", "model.options={model: m}"]
    assert main([str(config), *openai, "--set", "generation.mc_scoring=likelihood"]) == 2
    assert capsys.readouterr().err.endswith(
        "generation.mc_scoring: adapter 'openai' gives no option likelihoods: use generate or auto\n"
    )


def test_unusable_data_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shards"
    make_demo_shards(out, videos=1)  # its rows are all in split train
    config = _write(
        tmp_path / "c.yaml",
        {"model": {"name": "random"}, "data": {"root": str(out)}, "output_dir": str(tmp_path)},
    )
    assert main([str(config)]) == 2  # default splits [test]: nothing to score
    assert "no samples in" in capsys.readouterr().err
    assert main([str(config), "--set", f"data.root={tmp_path / 'missing'}"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_shipped_config_shows_every_default() -> None:
    raw = yaml.safe_load((REPO / "configs" / "eval_demo.yaml").read_text())
    for key, section in (
        ("data", DataSection),
        ("generation", GenerationSection),
        ("prompt", PromptSection),
        ("judge", JudgeSection),
        ("ray", RaySection),
    ):
        defaults = dataclasses.asdict(section())
        if key == "data":
            defaults["root"] = raw["data"]["root"]
        assert raw[key] == defaults, key
    config = load_config(
        REPO / "configs" / "eval_demo.yaml", ["model.name=oracle", "model.options={}"]
    )
    assert config.data.splits == ["test"] and config.baselines == ["blind", "random", "majority"]
