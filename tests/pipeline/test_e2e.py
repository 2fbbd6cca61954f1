"""End to end through the real CLI and a local Ray: demo world -> shards -> DuckDB.

Slow (a local Ray and real video work), so marked; CI still runs it via `make test`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.demo import demo_run_args

from longvid_pipeline.cli import main
from longvid_pipeline.query import run_query
from longvid_pipeline.shards import committed_files

pytestmark = pytest.mark.slow(minutes=1)


def assert_card_is_valid(out: Path, manifest: dict[str, Any]) -> None:
    """OUT/README.md parses as a Hub dataset card whose configs list the committed files,
    and every plot it links exists and is a valid PNG."""
    from huggingface_hub import DatasetCard
    from PIL import Image

    card = DatasetCard.load(out / "README.md")
    configs = {
        config["config_name"]: config["data_files"][0]["path"] for config in card.data.configs
    }
    committed = {
        table: sorted(str(p.relative_to(out)) for p in paths)
        for table, paths in committed_files(out).items()
    }
    assert {table: sorted(paths) for table, paths in configs.items()} == committed
    assert card.data.size_categories == ["n<1K"]
    assert f"| {manifest['inputs']['total']} | {manifest['inputs']['kept']} |" in card.text
    plots = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card.text)
    assert {Path(plot).stem for plot in plots} >= {
        "durations",
        "clips_per_video",
        "qa_per_task",
        "answer_letters",
    }
    for plot in plots:
        with Image.open(out / plot) as image:
            image.verify()
            assert image.format == "PNG"


def card_licences(out: Path) -> dict[str, int]:
    """The card's Licences table: licence id -> videos."""
    text = (out / "README.md").read_text().split("## Licences", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+) \| (\d+) \|", text, flags=re.MULTILINE)
    return {name.strip(): int(count) for name, count in rows}


def run_cli(out: Path, *extra: str, progress_every: float = 30.0) -> int:
    args = demo_run_args(out, "shards.videos_per_commit=1", *extra)
    return main([*args, "--progress-every", str(progress_every)])


def test_demo_builds_queries_and_resumes_without_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert run_cli(out, progress_every=0) == 0
    printed = capsys.readouterr()
    assert "inputs: 2 = 2 kept + 0 rejected" in printed.out
    assert "progress: 1/2 inputs (50%)" in printed.err  # a line per input (interval 0)
    assert "progress: 2/2 inputs (100%)" in printed.err

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"] == {"total": 2, "kept": 2, "rejected": 0, "pending": 0}
    assert manifest["accounting_problems"] == []
    assert list(manifest["stages"]) == ["fetch", "segment", "caption", "qa", "validate", "write"]
    assert all(
        stage["inputs"] == 2 and stage["passed"] == 2 for stage in manifest["stages"].values()
    )
    assert "qa" in json.loads((out / "validation.json").read_text())["tables"]
    assert_card_is_valid(out, manifest)
    assert card_licences(out) == {"cc0": 2}  # the demo world's licence, on every video

    task_rows = run_query(out, "select task, count(*) as n from qa group by task").to_pylist()
    tasks = {row["task"]: row["n"] for row in task_rows}
    assert set(tasks) == {"caption", "grounding", "counting", "relationship", "understanding"}
    assert all(count > 0 for count in tasks.values())
    # Splits are per video: every qa row carries its video's split, assigned by the runner.
    mismatched = run_query(
        out,
        "select count(*) as n from qa q join videos v using (video_id)"
        " where v.split is null or q.split != v.split",
    ).to_pylist()
    assert mismatched == [{"n": 0}]

    # Every clip span lies inside its video and the sampling plan matches the duration.
    bad = run_query(
        out,
        """
        select count(*) as n from clips c join videos v using (video_id)
        where c.start_s < 0 or c.end_s > v.duration_s + 0.05 or c.start_s >= c.end_s""",
    ).to_pylist()
    assert bad == [{"n": 0}]

    before = run_query(
        out,
        "select (select count(*) from videos) v, (select count(*) from clips) c, "
        "(select count(*) from qa) q",
    ).to_pylist()
    assert run_cli(out) == 0  # second run into the same OUT: nothing to do, nothing duplicated
    after = run_query(
        out,
        "select (select count(*) from videos) v, (select count(*) from clips) c, "
        "(select count(*) from qa) q",
    ).to_pylist()
    assert before == after
    assert json.loads((out / "manifest.json").read_text())["runs"][-1]["inputs_todo"] == 0

    assert main(["stats", str(out)]) == 0
    assert "accounting: OK" in capsys.readouterr().out


FETCH_AND_SEGMENT = """
name: bad-inputs
out: {out}
source: {{kind: {kind}, path: {path}}}
ray: {{num_cpus: 2}}
shards: {{videos_per_commit: 2}}
stages:
  fetch: {{allow_loopback: true, retries: 1, backoff_s: 0.1, timeout_s: 2}}
  segment: {{}}
"""


def _bad_media(folder: Path) -> None:
    """One good video and the failures a crawl meets, as files in `folder`."""
    from longvid_pipeline.demo.world import render_video

    folder.mkdir(parents=True)
    render_video(
        folder / "good.mp4",
        folder / "good.json",
        duration_s=12,
        seed=3,
        width=320,
        height=180,
        fps=30,
        min_scene_s=3,
        max_scene_s=6,
    )
    (folder / "good.json").unlink()
    data = (folder / "good.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (folder / "notes.mp4").write_text("this is not a video")


def _ray_links_into(folder: Path) -> list[Path]:
    """/tmp links to a Ray temp dir under `folder` (a deep OUT leaves one while it runs)."""
    return [
        link
        for link in Path("/tmp").glob("lvray-*")
        if link.is_symlink() and str(link.readlink()).startswith(str(folder))
    ]


def _input_rejects(out: Path) -> dict[str, str]:
    rows = run_query(out, "select input, reason from rejects where level = 'input'").to_pylist()
    return {json.loads(row["input"])["url"].rsplit("/", 1)[-1]: row["reason"] for row in rows}


def test_failing_inputs_become_rejects_and_the_run_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every manifest line is an input or a reject; rejected media leaves OUT; a video whose
    first copy fails late is kept through the other copy; Ray's /tmp link is removed."""
    from longvid_pipeline.demo.server import serve_folder
    from longvid_pipeline.media.ffmpeg import run_ffmpeg

    media = tmp_path / "media_in"
    _bad_media(media)
    (media / "good2.mp4").write_bytes((media / "good.mp4").read_bytes())  # the same video
    run_ffmpeg(["-i", str(media / "good.mp4"), "-c", "copy", "-metadata", "title=other",
                str(media / "other.mp4")])  # fmt: skip
    with serve_folder(media) as base:
        manifest = tmp_path / "inputs.csv"
        lines = [f"{base}{name},{name}," for name in ("good.mp4", "missing.mp4", "truncated.mp4")]
        lines += [f"{base}notes.mp4,notes,", "not a url,bad,", f"{base}good.mp4,again,", ""]
        lines += [f"{base}{name},{name},{base}missing.json" for name in ("good2.mp4", "other.mp4")]
        manifest.write_text("url,note,annotations_url\n" + "\n".join(lines) + "\n")
        recipe = tmp_path / "manifest.yaml"
        out = tmp_path / "out_manifest"
        recipe.write_text(FETCH_AND_SEGMENT.format(out=out, kind="manifest", path=manifest))
        assert main(["run", str(recipe)]) == 0
    rejects = _input_rejects(out)
    assert rejects.pop("good2.mp4") in {"duplicate_video", "bad_annotations"}  # who came first
    assert rejects == {
        "missing.mp4": "http_404",
        "truncated.mp4": "corrupt",
        "notes.mp4": "not_a_video",
        "not a url": "malformed_url",
        "good.mp4": "duplicate_input",  # line 7 repeats line 2
        "": "empty_line",
        "other.mp4": "bad_annotations",  # rejected after its media was normalized
    }
    details = run_query(out, "select detail from rejects where reason = 'duplicate_input'")
    assert details.to_pylist() == [{"detail": f"line 7 repeats the url of line 2: {base}good.mp4"}]
    (video,) = run_query(out, "select video_id, url from videos").to_pylist()
    assert video["url"] == f"{base}good.mp4"
    kept_media = {p.name.split(".")[0] for p in (out / "media").iterdir()}
    assert kept_media == {video["video_id"]}  # other.mp4's normalized media is gone
    assert main(["stats", str(out)]) == 0
    assert "inputs: 9 = 1 kept + 8 rejected" in capsys.readouterr().out
    assert _ray_links_into(tmp_path) == []

    folder = tmp_path / "folder_in"
    folder.mkdir()
    for name in ("good.mp4", "truncated.mp4", "notes.mp4"):
        (folder / name).write_bytes((media / name).read_bytes())
    (folder / "linked.mp4").symlink_to(media / "other.mp4")  # outside the folder
    folder_out = tmp_path / "out_folder"
    recipe.write_text(FETCH_AND_SEGMENT.format(out=folder_out, kind="folder", path=folder))
    assert main(["run", str(recipe)]) == 0
    assert _input_rejects(folder_out) == {
        "truncated.mp4": "corrupt",
        "notes.mp4": "not_a_video",
        "linked.mp4": "symlink_outside_folder",
    }
    assert main(["stats", str(folder_out)]) == 0
    assert "inputs: 4 = 1 kept + 3 rejected" in capsys.readouterr().out
