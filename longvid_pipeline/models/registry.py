"""Model backends by name: names -> "module:Class" import paths, resolved on first use
(`longvid_pipeline.registry.import_object`), so a recipe that names no model never imports
torch or transformers. A new backend is one line here.

- `CAPTIONERS`: vision-language captioners (the caption stage's model backends).
- `TEXT_LLMS`: text LLMs that write from a timeline (video summaries; the QA stage's
  `llm` generator uses the same entries).
"""

from __future__ import annotations

from typing import Any

from longvid_pipeline.registry import import_object

CAPTIONERS: dict[str, str] = {
    "transformers": "longvid_pipeline.models.vlm:TransformersCaptioner",
    "vllm": "longvid_pipeline.models.vllm:VLLMCaptioner",
}

TEXT_LLMS: dict[str, str] = {
    "transformers": "longvid_pipeline.models.text_llm:TransformersTextLLM",
    "vllm": "longvid_pipeline.models.vllm:VLLMTextLLM",
}

# Families the transformers captioner knows (rules in models/vision.py), for config checks.
VLM_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "llava_onevision", "llava_next_video")

# Optional extras: backend name -> (import name, the extra that installs it).
EXTRAS: dict[str, tuple[str, str]] = {"vllm": ("vllm", "vllm")}


def text_llm(name: str) -> Any:
    """The text LLM class registered under `name`."""
    return import_object(TEXT_LLMS[name])


def missing_extra(backend: str) -> str | None:
    """Why `backend` cannot run here (its optional extra is not installed), or None."""
    import importlib.util

    if backend not in EXTRAS:
        return None
    module, extra = EXTRAS[backend]
    if importlib.util.find_spec(module) is not None:
        return None
    return (
        f"backend {backend!r} needs {module}, which is not installed: "
        f"pip install 'longvid[{extra}]' (on every node that runs the stage)"
    )
