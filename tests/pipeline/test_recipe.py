"""Recipes are validated before any work: every problem at once, naming file and key."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from longvid_pipeline.cli import main
from longvid_pipeline.config import ConfigError
from longvid_pipeline.recipe import RECIPE_DIR, RecipeFile, load_recipe
from longvid_pipeline.registry import STAGES, stage_class, stage_config
from longvid_pipeline.stage import Resources

BAD_RECIPE = """
name: broken
out: out/broken
source:
  kind: demo
  demo: {videos: 0, colour: red}
stages:
  fetch: {max_height: "tall", resources: {num_cpus: -1}}
  caption: {}
  segment: {}
  teleport: {}
shards: {rows_per_file: 0}
"""


def test_every_problem_is_reported_at_once_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RECIPE)
    with pytest.raises(ConfigError) as caught:
        load_recipe(path)
    keys = {error.key for error in caught.value.problems}
    assert {
        "source.demo.videos",
        "source.demo.colour",
        "stages.fetch.max_height",
        "stages.fetch.resources.num_cpus",
        "stages.teleport",
        "stages.caption",  # before its dependency `segment`
        "shards.rows_per_file",
    } <= keys
    assert str(path) in str(caught.value)


def test_cli_rejects_bad_recipe_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_RECIPE)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    assert "stages.fetch.max_height" in capsys.readouterr().err
    assert not out.exists()


def test_overrides_are_typed_and_validated() -> None:
    recipe = load_recipe(
        RECIPE_DIR / "demo.yaml", ["source.demo.videos=2", "stages.fetch.max_height=240"]
    )
    assert recipe.source.demo.videos == 2
    fetch = next(spec for spec in recipe.stages if spec.name == "fetch")
    assert fetch.config.max_height == 240
    with pytest.raises(ConfigError) as caught:
        load_recipe(RECIPE_DIR / "demo.yaml", ["source.demo.videos=many", "nonsense"])
    assert {e.key for e in caught.value.problems} == {"--set nonsense", "source.demo.videos"}


def test_check_reports_every_bad_set_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    """Through the CLI: a bad --set does not hide the others; exit 2, no traceback."""
    sets = ["stages.teleport.x=1", "stages.fetch.max_height=abc", "a", "seed=.nan"]
    argv = ["run", str(RECIPE_DIR / "demo.yaml"), "--check"]
    assert main([*argv, *(arg for value in sets for arg in ("--set", value))]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"error: {RECIPE_DIR / 'demo.yaml'}: 4 problems:",
        "  - --set a: expected key=value, e.g. --set a.b=1",
        "  - seed: expected int, got float nan",
        "  - stages.fetch.max_height: expected int, got str 'abc'",
        f"  - stages.teleport: unknown stage (known: {', '.join(STAGES)})",
    ]
    assert main(["run", "missing.yaml", "--check"]) == 2
    assert capsys.readouterr().err == "error: missing.yaml: <file>: file not found\n"


@dataclass(frozen=True)
class Key:
    """What a recipe file must show for one config key."""

    default: Any
    help: str
    section: bool  # a mapping of keys (its own line holds only a comment)


def _plain(value: Any) -> Any:
    """A default as YAML loads it back (tuples are lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def config_keys(cls: type, prefix: str, instance: Any = None) -> dict[str, Key]:
    """Every dotted key of a config class, with its default and help, sections included."""
    instance = cls() if instance is None else instance
    hints = typing.get_type_hints(cls)
    keys = {}
    for fld in dataclasses.fields(cls):
        dotted, help_text = prefix + fld.name, fld.metadata.get("help", "")
        value = getattr(instance, fld.name)
        keys[dotted] = Key(value, help_text, dataclasses.is_dataclass(hints[fld.name]))
        if keys[dotted].section:
            keys.update(config_keys(hints[fld.name], dotted + ".", value))
    return keys


def recipe_keys(stage_names: list[str]) -> dict[str, Key]:
    """The keys a recipe with these stages must show: top sections, stages, resources."""
    keys = config_keys(RecipeFile, "")
    keys["stages"] = Key(None, keys["stages"].help, section=True)
    for name in stage_names:
        config_cls = stage_config(name)
        keys[f"stages.{name}"] = Key(None, "", section=True)
        keys.update(config_keys(config_cls, f"stages.{name}."))
        keys[f"stages.{name}.resources"] = Key(None, "", section=True)
        keys.update(
            config_keys(Resources, f"stages.{name}.resources.", config_cls.default_resources)
        )
    return keys


def recipe_lines(text: str) -> dict[str, tuple[str, str]]:
    """dotted key -> (value text, comment) for every key line of a block-style YAML file."""
    entries: dict[str, tuple[str, str]] = {}
    parents: list[tuple[int, str]] = []
    for line in text.splitlines():
        body, _, comment = line.partition(" # ")
        if not body.strip() or body.lstrip().startswith("#"):
            continue
        indent = len(body) - len(body.lstrip())
        key, colon, value = body.strip().partition(":")
        assert colon, f"not a key line: {line!r}"
        while parents and parents[-1][0] >= indent:
            parents.pop()
        dotted = ".".join([*(name for _, name in parents), key])
        assert dotted not in entries, f"{dotted} shown twice"
        entries[dotted] = (value.strip(), comment.strip())
        parents.append((indent, key))
    return entries


@pytest.mark.parametrize("name", sorted(p.name for p in RECIPE_DIR.glob("*.yaml")))
def test_shipped_recipes_show_every_key_with_default_and_help(name: str) -> None:
    """Principle 1: recipes are hand-written data showing every key, none unknown.

    Each key is on its own line with its help text as the comment; a value that differs
    from the code's default says `(default: X)`, so the defaults stay visible."""
    text = (RECIPE_DIR / name).read_text()
    recipe = load_recipe(RECIPE_DIR / name)  # types, bounds, unknown keys, stage order
    lines = recipe_lines(text)
    keys = recipe_keys([spec.name for spec in recipe.stages])
    assert sorted(set(lines) - set(keys)) == [], "unknown keys"
    assert sorted(set(keys) - set(lines)) == [], "keys not shown"
    for dotted, key in keys.items():
        value_text, comment = lines[dotted]
        assert comment.startswith(key.help), f"{name}: {dotted}: comment is not its help"
        if key.section:
            assert value_text == "", f"{name}: {dotted}: write a section as a block"
            continue
        assert key.help, f"{dotted}: the config field has no help text"
        noted = re.search(r"\(default: (.*)\)$", comment)
        if yaml.safe_load(value_text) == _plain(key.default):
            assert not noted, f"{name}: {dotted}: stale (default: ...) note"
        else:
            assert noted, f"{name}: {dotted}: differs from the default; say (default: ...)"
            assert yaml.safe_load(noted[1]) == _plain(key.default), f"{name}: {dotted}"


def test_cpu_stages_fuse_into_one_operator_and_gpu_stages_stand_alone() -> None:
    from longvid_pipeline.operators import plan_operators

    recipe = load_recipe(
        RECIPE_DIR / "demo.yaml",
        ["stages.caption.resources.num_gpus=1", "stages.segment.resources.concurrency=3"],
    )
    fused = plan_operators(recipe.stages, fuse_cpu_stages=True)
    # validate takes batches of 8 inputs: it stands alone so qa still streams one by one
    assert [op.name for op in fused] == ["fetch+segment", "caption", "qa", "validate"]
    assert fused[0].resources.concurrency == 3 and fused[0].uses_actor
    assert fused[1].resources.num_gpus == 1
    assert (fused[3].resources.batch_size, fused[3].resources.num_cpus) == (8, 0.0)
    cpu_only = plan_operators(load_recipe(RECIPE_DIR / "demo.yaml").stages, fuse_cpu_stages=True)
    assert [op.name for op in cpu_only] == ["fetch+segment+caption+qa", "validate"]
    separate = plan_operators(recipe.stages, fuse_cpu_stages=False)
    assert [op.name for op in separate] == ["fetch", "segment", "caption", "qa", "validate"]
    assert [op.uses_actor for op in separate] == [False, True, True, False, True]


# `run --check` validates a recipe without importing what only a run needs. All of these
# are achievable because each stage's config lives in a light module of its helper
# package (fetching/config.py, ...) and the validate config reads suites as plain JSON:
# media and model libraries, Arrow, DuckDB, GX, pandas, numpy and Ray stay out.
HEAVY_MODULES = (
    "PIL",
    "pyarrow",
    "av",
    "yt_dlp",
    "great_expectations",
    "torch",
    "duckdb",
    "pandas",
    "numpy",
    "ray",
    "transformers",
    "longvid_pipeline.demo.render",
)

CHECK_RECIPES = """
import json, sys
from longvid_pipeline.cli import main
folder = sys.argv[1]  # --check reads the source: folder.yaml's folder is given by the user
codes = []
for path in sys.argv[2:]:
    extra = ["--set", f"source.path={folder}"] if path.endswith("folder.yaml") else []
    codes.append(main(["run", path, "--check", *extra]))
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def test_check_imports_no_stage_code_nor_heavy_library(tmp_path: Path) -> None:
    recipes = [str(path) for path in sorted(RECIPE_DIR.glob("*.yaml"))]
    result = subprocess.run(
        [sys.executable, "-c", CHECK_RECIPES, str(tmp_path), *recipes],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["codes"] == [0] * len(recipes)
    loaded = set(report["modules"])
    assert not loaded & set(HEAVY_MODULES)
    assert not [name for name in loaded if name.startswith("longvid_pipeline.stages.")]


@pytest.mark.parametrize("name", list(STAGES))
def test_registry_config_is_the_stage_config(name: str) -> None:
    assert stage_class(name).Config is stage_config(name)
    assert stage_class(name).name == name


# ------------------------------------------------------------------ sources and SQL: one line


SOURCE_RECIPE = """
name: sources
out: {out}
source: {{kind: {kind}, path: {path}}}
stages:
  fetch: {{}}
"""


def _source_recipe(tmp_path: Path, kind: str, path: Path) -> Path:
    recipe = tmp_path / f"{kind}.yaml"
    recipe.write_text(SOURCE_RECIPE.format(out=tmp_path / "out", kind=kind, path=path))
    return recipe


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


@pytest.mark.parametrize("check", [True, False])
def test_unreadable_sources_are_one_line_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], check: bool
) -> None:
    flag = ["--check"] if check else []
    no_url = tmp_path / "no_url.csv"
    no_url.write_text("link,title\nhttps://x/a.mp4,A\n")
    no_url_jsonl = tmp_path / "no_url.jsonl"  # known only once the last line is read
    no_url_jsonl.write_text('{"link": "https://x/a.mp4"}\n' * 3)
    cases = [
        ("manifest", tmp_path / "missing.csv", "manifest not found"),
        ("folder", tmp_path / "missing_dir", "folder not found"),
        ("manifest", no_url, "has no 'url' column"),
        ("manifest", no_url_jsonl, "has no 'url' column (columns: ['link'])"),
    ]
    for kind, path, message in cases:
        recipe = _source_recipe(tmp_path, kind, path)
        assert main(["run", str(recipe), *flag]) == 2
        line = _one_line_error(capsys)
        assert f"{recipe}: source.path: " in line and str(path) in line and message in line
        assert not (tmp_path / "out").exists()  # nothing started


def test_check_reads_the_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "ok.csv"
    manifest.write_text("url\nhttps://x/a.mp4\nhttps://x/a.mp4\n\n")
    assert main(["run", str(_source_recipe(tmp_path, "manifest", manifest)), "--check"]) == 0
    assert f"source manifest {manifest}: 3 inputs" in capsys.readouterr().out
    assert main(["run", str(RECIPE_DIR / "mh_niah.yaml"), "--check"]) == 0  # not a file source


def test_bad_sql_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", str(tmp_path), "selec * from videos"]) == 2
    line = _one_line_error(capsys)
    assert line.startswith("error: query failed: Parser Error: syntax error")
    assert main(["query", str(tmp_path), "select nope from videos"]) == 2
    assert 'Referenced column "nope" not found' in _one_line_error(capsys)
    assert main(["query", str(tmp_path / "none"), "select 1"]) == 2
    assert "no output folder" in _one_line_error(capsys)
