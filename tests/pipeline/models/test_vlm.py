"""The `transformers` captioner on tiny random-weight models of every supported family,
saved to a folder and loaded through the real path (from_pretrained on the folder).

Random weights say nothing sensible, but the wiring is checked where it breaks: a prompt
whose video-token count does not match the vision features makes the model raise, which
would show up here as clip failures. Slow: each family loads a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from support.rows import example_clip
from support.shards import make_video
from support.vlms import TINY_FAMILIES, tiny_text_llm, tiny_vlm

from longvid_pipeline.captioning.config import CaptionConfig, SummarizeConfig
from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.models.vlm import TransformersCaptioner, VisionLanguageModel
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.caption import CaptionStage
from longvid_pipeline.stages.summarize import SummarizeStage

pytestmark = pytest.mark.slow

# 3 frames of a 160x120 video at each family's model size (tiny towers: 56 px, 14 px
# patches); Qwen pads to whole temporal patches of 2 frames.
FRAME_SHAPES = {
    "qwen2_vl": (4, 56, 84, 3),
    "qwen2_5_vl": (4, 56, 84, 3),
    "llava_onevision": (3, 56, 56, 3),
    "llava_next_video": (3, 56, 56, 3),
}


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "v.mp4", "testsrc2", seconds=4.0)


@pytest.fixture(scope="module")
def qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_vlm("qwen2_vl", tmp_path_factory.mktemp("models") / "qwen2_vl")


def caption_config(model: Path, **transformers: Any) -> CaptionConfig:
    raw = {"backends": ["transformers"], "transformers": {
        "model": str(model), "frames_per_clip": 3, "max_new_tokens": 4, **transformers}}  # fmt: skip
    config, errors = build_section(CaptionConfig, raw, "stages.caption")
    assert errors == []
    return config


def make_item(video: Path, spans: list[tuple[float, float]]) -> WorkItem:
    item = WorkItem(input_id="in-vlm", source={"url": str(video)}, source_kind="folder")
    item.video = {"video_id": "v-vlm", "height": 120, "width": 160, "duration_s": 4.0}
    item.media_path = str(video)
    item.clips = [example_clip("v-vlm", i, s, e) for i, (s, e) in enumerate(spans)]
    return item


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_every_family_captions_through_the_real_loading_path(
    tmp_path: Path, video: Path, family: str
) -> None:
    folder = tiny_vlm(family, tmp_path / family)
    captioner = TransformersCaptioner(caption_config(folder, clips_per_batch=2))
    captioner.setup()
    assert captioner.preprocessing.spec.family.name == family
    item = make_item(video, [(0.0, 1.5), (1.5, 4.0), (0.5, 3.5)])
    prepared = captioner.prepare(item, item.clips)
    assert {p.frames.shape for p in prepared.clips.values()} == {FRAME_SHAPES[family]}
    assert {p.frames.dtype for p in prepared.clips.values()} == {np.dtype(np.uint8)}
    captions = captioner.caption_clips(item, item.clips, prepared)
    assert captions.failed == {}
    assert captions.model == str(folder)
    texts = [clip.caption for clip in captions.clips]
    assert len(texts) == 3 and any(texts) and all(t is None or isinstance(t, str) for t in texts)


def test_out_of_memory_halves_then_a_clip_that_still_fails_is_a_clip_reject(
    qwen: Path, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = VisionLanguageModel.generate
    sizes: list[int] = []

    def injected(self: VisionLanguageModel, clips: list[Any]) -> list[str | None]:
        sizes.append(len(clips))
        if len(clips) > 2 or any(clip.position == 1 for clip in clips):
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real(self, clips)

    monkeypatch.setattr(VisionLanguageModel, "generate", injected)
    stage = CaptionStage(caption_config(qwen, clips_per_batch=4), RunContext(out_dir="unused"))
    item = stage.run_item(make_item(video, [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]))
    assert item.alive
    assert sizes == [4, 2, 1, 1, 1, 1]  # 4 -> 2 (clip 1 inside) -> 1: clips 0, 1 (fails), 2, 3
    assert [clip["clip_index"] for clip in item.clips] == [0, 2, 3]
    (reject,) = item.rejects
    assert (reject["stage"], reject["level"], reject["reason"]) == (
        "caption", "clips", "caption_out_of_memory",
    )  # fmt: skip
    assert json.loads(reject["row_json"])["clip_index"] == 1
    assert {clip["caption_source"] for clip in item.clips} == {"transformers"}
    assert {clip["caption_model"] for clip in item.clips} == {str(qwen)}
    assert len(json.loads(item.video["timeline"])) == sum(1 for c in item.clips if c["caption"])


def test_an_unreadable_file_rejects_the_video(qwen: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    stage = CaptionStage(caption_config(qwen), RunContext(out_dir="unused"))
    item = stage.run_item(make_item(broken, [(0.0, 1.0)]))
    assert item.failed_stage == "caption"
    assert item.rejects[0]["reason"] == "frames_unreadable"


def test_a_text_llm_writes_the_summary_from_the_timeline(tmp_path: Path) -> None:
    folder = tiny_text_llm(tmp_path / "llm")
    raw = {"llm": {"model": str(folder), "max_new_tokens": 5}}
    config, errors = build_section(SummarizeConfig, raw, "stages.summarize")
    assert errors == [] and config.notices() == []
    item = WorkItem(input_id="in-sum", source={"url": "x"}, source_kind="folder")
    timeline = [
        {"start_s": 0.0, "end_s": 2.0, "caption": "A man walks.", "source": "x", "model": "y"}
    ]
    item.video = {"video_id": "v-sum", "timeline": json.dumps(timeline), "summary": "concat"}
    item = SummarizeStage(config, RunContext(out_dir="unused")).run_item(item)
    assert item.video["summary_model"] == str(folder)
    assert isinstance(item.video["summary"], str) and item.video["summary"] != "concat"
    assert item.validation["videos"]["summarize_stage.summary_written"] == {
        "evaluated": 1, "failed": 0,
    }  # fmt: skip
