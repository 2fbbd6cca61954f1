"""`openai`: any OpenAI-compatible chat endpoint (a local vLLM or llama.cpp server, or a
hosted API), the frames sent as JPEG images in one user message before the question.

Frames are decoded at `height` x `width` and JPEG-encoded in the DataLoader workers;
requests of a batch run concurrently (`concurrency` threads). A request that fails every
retry answers "" (scored wrong) and is reported on stderr, so one bad sample never stops
a run.
"""

from __future__ import annotations

import base64
import io
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from longvid.eval.adapters.base import Adapter, Request
from longvid.eval.loader import FramePlan
from longvid.eval.openai_client import EndpointError, chat
from longvid_pipeline.config import ConfigProblem, param


@dataclass
class OpenAIOptions:
    base_url: str = param("http://127.0.0.1:8000/v1", "endpoint root (…/v1)")
    model: str = param("", "model name the endpoint serves")
    api_key_env: str | None = param(None, "environment variable holding the API key")
    frames: int = param(8, "frames per video (images per request)", min=1)
    height: int = param(252, "frame height sent (pixels)", min=16)
    width: int = param(448, "frame width sent (pixels)", min=16)
    jpeg_quality: int = param(85, "JPEG quality of the frames", min=1, max=100)
    concurrency: int = param(4, "requests in flight per batch", min=1)
    timeout_s: float = param(120.0, "request timeout (seconds)", min=1.0)
    retries: int = param(2, "extra attempts after a failed request", min=0)


@dataclass(frozen=True)
class JpegFrames:
    """uint8 (T, H, W, 3) -> data URLs of JPEG images (runs in the decode workers)."""

    quality: int = 85

    def __call__(self, frames: np.ndarray) -> list[str]:
        from PIL import Image

        urls = []
        for frame in frames:
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format="JPEG", quality=self.quality)
            urls.append("data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode())
        return urls


def user_content(prompt: str, images: list[str] | None) -> list[dict[str, Any]] | str:
    """The images (if any) then the prompt, as one user message's content."""
    if not images:
        return prompt
    parts: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": url}} for url in images
    ]
    return [*parts, {"type": "text", "text": prompt}]


class OpenAIAdapter(Adapter):
    """Chat completions against an OpenAI-compatible endpoint."""

    Options = OpenAIOptions

    @classmethod
    def option_problems(cls, options: OpenAIOptions, key: str) -> list[ConfigProblem]:
        problems = []
        if not options.model.strip():
            problems.append(ConfigProblem(f"{key}.model", "name the model the endpoint serves"))
        if not options.base_url.startswith(("http://", "https://")):
            problems.append(ConfigProblem(f"{key}.base_url", "must start with http:// or https://"))
        return problems

    def frame_plan(self) -> FramePlan:
        return FramePlan(
            frames=self.options.frames,
            height=self.options.height,
            width=self.options.width,
            prepare=JpegFrames(self.options.jpeg_quality),
        )

    def _answer(self, request: Request) -> str:
        options = self.options
        messages = [{"role": "user", "content": user_content(request.prompt, request.frames)}]
        try:
            return chat(
                options.base_url,
                options.model,
                messages,
                api_key_env=options.api_key_env,
                max_tokens=self.context.max_new_tokens,
                timeout_s=options.timeout_s,
                retries=options.retries,
            ).strip()
        except EndpointError as exc:
            print(f"longvid.eval: openai: {request.sample.sample_id}: {exc}", file=sys.stderr)
            return ""

    def generate(self, requests: list[Request]) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            return list(pool.map(self._answer, requests))

    def describe(self) -> dict[str, Any]:
        return {
            "base_url": self.options.base_url,
            "model": self.options.model,
            "frames": self.options.frames,
        }
