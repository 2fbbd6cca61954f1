"""Real footage through the folder recipe on a local Ray: a tiny random-weight Qwen2-VL in
the caption stage's actor pool, fed by CPU prep workers.

The run is slow (a local Ray, model loads), so marked; CI still runs it via `make test`.
It leaves out summarize (tested on its own) and validate: random weights write captions
that stop mid-word, which validate rightly rejects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support.shards import make_video
from support.vlms import tiny_vlm

from longvid_pipeline.cli import main
from longvid_pipeline.operators import check_fits, plan_operators
from longvid_pipeline.query import run_query
from longvid_pipeline.recipe import RECIPE_DIR, load_recipe


def folder_recipe(path: Path, vlm: Path, videos: Path) -> Path:
    """stages/folder.yaml without summarize and validate, sized for 2 CPUs."""
    raw = yaml.safe_load((RECIPE_DIR / "folder.yaml").read_text())
    del raw["stages"]["summarize"], raw["stages"]["validate"]
    raw["source"]["path"] = str(videos)
    raw["ray"]["num_cpus"] = 2
    raw["shards"]["videos_per_commit"] = 1
    for stage in raw["stages"].values():
        stage["resources"]["num_cpus"] = 0.5  # one worker per operator fits on 2 CPUs
    caption = raw["stages"]["caption"]
    caption["prep"]["num_cpus"] = 0.5
    caption["transformers"].update(
        model=str(vlm), frames_per_clip=2, max_new_tokens=4, clips_per_batch=2
    )
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.slow(minutes=1)
def test_a_folder_of_videos_is_captioned_by_a_vlm_on_ray_actors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    make_video(videos / "pattern.mp4", "testsrc2", seconds=5.0)
    make_video(videos / "bars.mp4", "smptebars", seconds=5.0)
    (videos / "bars.vtt").write_text("WEBVTT\n\n00:00.500 --> 00:03.000\nHello bars.\n")
    vlm = tiny_vlm("qwen2_vl", tmp_path / "vlm")
    recipe_path = folder_recipe(tmp_path / "recipe.yaml", vlm, videos)
    operators = plan_operators(load_recipe(recipe_path).stages, fuse_cpu_stages=True)
    assert [op.name for op in operators] == ["fetch+segment+caption_prep", "caption", "qa"]
    assert operators[1].uses_actor and check_fits(operators, 2.0, 0.0) is None

    out = tmp_path / "out"
    assert main(["run", str(recipe_path), "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "inputs: 2 = 2 kept + 0 rejected" in summary and "NOTE" not in summary
    clips = run_query(
        out,
        "select v.title, c.caption, c.caption_source, c.caption_model "
        "from clips c join videos v using (video_id) order by 1",
    ).to_pylist()
    assert clips and all(clip["caption_model"].startswith(str(vlm)) for clip in clips)
    bars = [clip for clip in clips if clip["title"] == "bars"]
    assert bars[0]["caption_source"] == "transformers+subtitles"
    assert bars[0]["caption"].endswith("Speech: Hello bars.")
    pattern = {clip["caption_source"] for clip in clips if clip["title"] == "pattern"}
    assert pattern == {"transformers"}
    for video in run_query(out, "select timeline, summary_model from videos").to_pylist():
        assert json.loads(video["timeline"]) and video["summary_model"] == "timeline"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["accounting_problems"] == [] and manifest["notices"] == []
    assert manifest["stages"]["caption"]["passed"] == 2


def test_without_a_model_the_recipe_says_how_to_set_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The check reads the folder source: a folder of its own, never all of /tmp.
    source = f"source.path={tmp_path}"
    recipe = load_recipe(RECIPE_DIR / "folder.yaml", [source])
    operators = plan_operators(recipe.stages, fuse_cpu_stages=True)
    # validate takes 8 videos per GX run, so it gets an operator of its own
    assert [op.name for op in operators] == ["fetch+segment+caption+summarize+qa", "validate"]
    assert main(["run", str(RECIPE_DIR / "folder.yaml"), "--check", "--set", source]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("NOTE")]
    assert len(notes) == 2
    assert "no captioner configured" in notes[0]
    assert "--set stages.caption.transformers.model=" in notes[0]
    assert "--set stages.summarize.llm.model=" in notes[1]
