"""The `vllm` backends with a stand-in for vLLM (the optional extra `make test` never
installs): what reaches the engine (one image per frame, then the prompt), what comes
back, and that one failing clip stays one clip."""

from __future__ import annotations

import importlib.machinery
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from support.rows import example_clip
from support.shards import make_video
from support.vlms import tiny_vlm

from longvid_pipeline.captioning.config import CaptionConfig
from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.models.config import TextLLMConfig
from longvid_pipeline.models.vllm import VLLMCaptioner, VLLMTextLLM


class FakeLLM:
    """vllm.LLM's surface: chat(conversations, params) -> outputs with .outputs[0].text."""

    made: list[FakeLLM] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs, self.conversations = kwargs, []
        FakeLLM.made.append(self)

    def chat(self, conversations: list[Any], params: Any, use_tqdm: bool = True) -> list[Any]:
        self.conversations.append(conversations)
        if any("poison" in str(turns) for turns in conversations):
            raise ValueError("prompt too long for the engine")
        return [
            types.SimpleNamespace(outputs=[types.SimpleNamespace(text=f" caption {i} ")])
            for i, _ in enumerate(conversations)
        ]


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> type[FakeLLM]:
    module = types.ModuleType("vllm")
    module.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
    module.LLM = FakeLLM  # type: ignore[attr-defined]
    module.SamplingParams = lambda **kw: kw  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    FakeLLM.made = []
    return FakeLLM


def test_clips_reach_the_engine_as_frames_then_prompt(
    tmp_path: Path, fake_vllm: type[FakeLLM]
) -> None:
    model = tiny_vlm("qwen2_vl", tmp_path / "qwen")
    raw = {"backends": ["vllm"], "vllm": {"model": str(model), "frames_per_clip": 3,
           "clips_per_batch": 2, "engine": {"tensor_parallel_size": 2}}}  # fmt: skip
    config, errors = build_section(CaptionConfig, raw, "stages.caption")
    assert errors == [] and config.model_backend == "vllm"
    video = make_video(tmp_path / "v.mp4", seconds=3.0)
    item = WorkItem(input_id="in-vllm", source={"url": str(video)}, source_kind="folder")
    item.video, item.media_path = {"height": 120, "width": 160}, str(video)
    item.clips = [example_clip("v", i, i * 1.0, i + 1.0) for i in range(3)]

    prep = VLLMCaptioner(config)
    prep.setup_prep()
    prepared = prep.prepare(item, item.clips)
    images = prepared.clips[0].images or []
    assert len(images) == 4 and images[0].startswith("data:image/jpeg;base64,")
    assert prepared.clips[0].frames.size == 0  # only the JPEGs travel

    actor = VLLMCaptioner(config)
    actor.setup()
    (engine,) = fake_vllm.made
    assert engine.kwargs["tensor_parallel_size"] == 2
    assert engine.kwargs["limit_mm_per_prompt"] == {"image": 4}
    captions = actor.caption_clips(item, item.clips, prepared)
    assert [c.caption for c in captions.clips] == ["caption 0", "caption 1", "caption 0"]
    assert [len(batch) for batch in engine.conversations] == [2, 1]
    (turn,) = engine.conversations[0][0]
    kinds = [part["type"] for part in turn["content"]]
    assert kinds == ["image_url"] * 4 + ["text"]
    assert turn["content"][-1]["text"] == config.vllm.prompt


def test_the_text_llm_isolates_a_failing_prompt(fake_vllm: type[FakeLLM]) -> None:
    llm = VLLMTextLLM(TextLLMConfig(backend="vllm", model="some/model", batch_size=4))
    llm.setup()
    run = llm.generate(["a timeline", "poison", "another"])
    assert run.results == ["caption 0", None, "caption 0"]
    assert run.failures[1][0] == "error_ValueError"
    assert llm.model_name == "some/model"
