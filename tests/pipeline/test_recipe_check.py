"""`longvid-pipeline run --check` on bad recipes (issue 9, item 11), through the CLI.

Every problem is one line on stderr naming its dotted key, under the file's name (one
problem: `error: FILE: KEY: message`; several: `error: FILE: N problems:` then
`  - KEY: message` each); the exit status is 2, nothing runs and no traceback leaks out.
(Several bad `--set` at once: tests/pipeline/test_recipe.py.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from longvid_pipeline.cli import main
from longvid_pipeline.recipe import DEFAULT_RECIPE


def _problems(lines: list[str], file: str) -> dict[str, str]:
    """key -> message of each problem line; asserts the layout (file named, one per line)."""
    assert lines, "no error printed"
    if len(lines) == 1:
        assert lines[0].startswith(f"error: {file}: "), lines
        key, _, message = lines[0].removeprefix(f"error: {file}: ").partition(": ")
        return {key: message}
    assert lines[0] == f"error: {file}: {len(lines) - 1} problems:", lines
    problems = {}
    for line in lines[1:]:
        assert line.startswith("  - "), line
        key, _, message = line.removeprefix("  - ").partition(": ")
        assert key not in problems, f"{key} reported twice: {lines}"
        problems[key] = message
    return problems


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """`run ... --check` in this process: an escaping exception fails the test."""
    status = main(["run", *args, "--check"])
    captured = capsys.readouterr()
    assert captured.out == "", captured.out
    return status, captured.err.splitlines()


def _assert_problems(problems: dict[str, str], expected: dict[str, str]) -> None:
    assert set(problems) == set(expected), problems
    for key, fragment in expected.items():
        assert fragment in problems[key], (key, problems[key])


NAN_RECIPE = """name: nan
stages:
  fetch: {max_duration_s: .nan, max_filesize_mb: .inf, backoff_s: -.inf}
  segment: {sampling: {fps: .NaN}}
"""


def test_non_finite_numbers_are_refused_in_a_fresh_process(tmp_path: Path) -> None:
    """`.nan` would silently disable a limit (every comparison with NaN is false).
    Run as the console command runs, in its own interpreter: no traceback, exit 2."""
    recipe = tmp_path / "nan.yaml"
    recipe.write_text(NAN_RECIPE)
    done = subprocess.run(
        [sys.executable, "-m", "longvid_pipeline", "run", str(recipe), "--check"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    _assert_problems(
        _problems(done.stderr.splitlines(), str(recipe)),
        {
            "stages.fetch.max_duration_s": "must be a finite number, got nan",
            "stages.fetch.max_filesize_mb": "must be a finite number, got inf",
            "stages.fetch.backoff_s": "must be a finite number, got -inf",
            "stages.segment.sampling.fps": "must be a finite number, got nan",
        },
    )


def test_optional_number_names_the_real_problem(capsys: pytest.CaptureFixture[str]) -> None:
    """`int | None` given .inf says what is wrong with the number, not 'int or NoneType'."""
    status, lines = _check(capsys, "--set", "ray.num_cpus=.inf")
    assert status == 2
    _assert_problems(_problems(lines, str(DEFAULT_RECIPE)), {"ray.num_cpus": "got float inf"})
    assert "NoneType" not in lines[0]


@pytest.mark.parametrize("stages", ["", "stages: {}\n", "stages:\n"])
def test_recipe_without_stages_fails_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stages: str
) -> None:
    recipe = tmp_path / "empty.yaml"
    recipe.write_text("name: empty\n" + stages)
    status, lines = _check(capsys, str(recipe))
    assert status == 2
    _assert_problems(
        _problems(lines, str(recipe)),
        {"stages": "the recipe has no stages: list them in order, from fetch"},
    )


def test_mistyped_field_skips_the_section_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A section's own cross-field check (min_clip_s <= max_clip_s / 2) never sees a
    mistyped value: no leaked `'>' not supported` next to the real problem. A well
    typed pair still gets the cross-field message, once, under the section's key; a
    section check that names its field is reported under that field's key."""
    recipe = tmp_path / "typed.yaml"
    recipe.write_text(
        "stages:\n"
        "  fetch: {}\n"
        "  segment:\n"
        "    assembly: {min_clip_s: short, max_clip_s: 1.0}\n"
        "    sampling: {min_frames: x, max_frames: 2}\n"
    )
    status, lines = _check(capsys, str(recipe))
    assert status == 2
    _assert_problems(
        _problems(lines, str(recipe)),
        {
            "stages.segment.assembly.min_clip_s": "expected float, got str 'short'",
            "stages.segment.sampling.min_frames": "expected int, got str 'x'",
        },
    )
    status, lines = _check(
        capsys,
        "--set", "stages.segment.assembly.min_clip_s=20",
        "--set", "stages.segment.assembly.max_clip_s=30",
        "--set", "stages.qa.tasks=[caption, ocr]",
    )  # fmt: skip
    assert status == 2
    _assert_problems(
        _problems(lines, str(DEFAULT_RECIPE)),
        {
            "stages.segment.assembly": "must be at most half",
            "stages.qa.tasks": "unknown ['ocr']",
        },
    )


def test_good_recipe_passes_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--check"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and ": ok (" in captured.out
