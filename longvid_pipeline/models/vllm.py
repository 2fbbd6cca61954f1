"""The `vllm` backends: vLLM's engine in each actor of a stage's pool (an optional extra,
`pip install 'longvid[vllm]'`, which `make test` never installs).

This is the throughput path on GPU clusters: vLLM batches continuously and pages its KV
cache, so one engine serves a video's clips far faster than `generate` in transformers.
The engine runs inside the stage's own actors rather than as a Ray Data LLM processor
(`ray.data.llm`) because those take one request per row: captions per clip would need
the video's clips exploded into rows and grouped back after the engine, an all-to-all
step that stops the stream (nothing is committed until every video is captioned) and
loses the per-video accounting. In the actor, a video's clips go to the engine together
and everything else (prep workers, clip-level rejects, resume) stays as with
`transformers`. Tensor parallelism is the engine's own (`engine.tensor_parallel_size`,
with as many `resources.num_gpus` per actor).

Frames are prepared by the CPU workers exactly as for `transformers` (decoded at the
model's size) and sent as JPEG data URLs, one image per frame, in an OpenAI-style chat
message that vLLM's own processor turns into the model's inputs.
"""

from __future__ import annotations

import base64
import io
from typing import Any, ClassVar

from longvid_pipeline.models.batching import AdaptiveBatcher
from longvid_pipeline.models.loading import clean_text
from longvid_pipeline.models.prepare import (
    FrameCaptioner,
    PreparedClip,
    PreparedVideo,
    Preprocessing,
)
from longvid_pipeline.models.text_llm import TextLLM


def _engine(model: str, engine: Any, images_per_prompt: int = 0) -> Any:
    """A vLLM offline engine (the import fails clearly without the extra)."""
    try:
        from vllm import LLM
    except ImportError as exc:  # the recipe check reports this before any work; belt and braces
        raise ImportError("backend 'vllm' needs vLLM: pip install 'longvid[vllm]'") from exc
    limits = {"limit_mm_per_prompt": {"image": images_per_prompt}} if images_per_prompt else {}
    return LLM(
        model=model,
        tensor_parallel_size=engine.tensor_parallel_size,
        gpu_memory_utilization=engine.gpu_memory_utilization,
        max_model_len=engine.max_model_len,
        **limits,
    )


def _sampling(max_new_tokens: int) -> Any:
    from vllm import SamplingParams

    return SamplingParams(max_tokens=max_new_tokens, temperature=0.0)


def _chat(llm: Any, conversations: list[list[dict[str, Any]]], params: Any) -> list[str | None]:
    outputs = llm.chat(conversations, params, use_tqdm=False)
    return [clean_text(output.outputs[0].text) if output.outputs else None for output in outputs]


def jpeg_data_url(frame: Any, quality: int = 90) -> str:
    """An RGB uint8 frame as a data:image/jpeg;base64 URL."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def clip_messages(images: list[str], prompt: str) -> list[dict[str, Any]]:
    """One user turn: the clip's frames in order, then the instruction."""
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": url}} for url in images
    ]
    content.append({"type": "text", "text": prompt})
    return [{"role": "user", "content": content}]


class VLLMCaptioner(FrameCaptioner):
    """Caption backend `vllm` (see the module docstring)."""

    source: ClassVar[str] = "vllm"
    section: ClassVar[str] = "vllm"

    def load(self) -> None:
        self.preprocessing = Preprocessing.load(self.settings)
        frames = self.preprocessing.frames_per_clip
        self.llm = _engine(str(self.settings.model), self.settings.engine, frames)
        self.params = _sampling(self.settings.max_new_tokens)

    def finish(self, prepared: PreparedVideo) -> PreparedVideo:
        """Frames -> JPEG data URLs (what the engine's chat input takes; smaller to send)."""
        for clip in prepared.clips.values():
            if clip.images is None:
                clip.images = [jpeg_data_url(frame) for frame in clip.frames]
                clip.frames = clip.frames[:0]
        return prepared

    def generate(self, clips: list[PreparedClip]) -> list[str | None]:
        conversations = [clip_messages(clip.images or [], self.settings.prompt) for clip in clips]
        return _chat(self.llm, conversations, self.params)


class VLLMTextLLM(TextLLM):
    """Text LLM backend `vllm`: same interface as `TransformersTextLLM`."""

    def setup(self) -> None:
        self.llm = _engine(str(self.settings.model), self.settings.vllm)
        self.params = _sampling(self.settings.max_new_tokens)
        self.batcher = AdaptiveBatcher(self.settings.batch_size)

    def _generate_batch(self, prompts: list[str]) -> list[str | None]:
        conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
        return _chat(self.llm, conversations, self.params)
