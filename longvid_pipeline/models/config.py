"""Recipe sections shared by every stage that runs a model (light: no model imports).

`TextLLMConfig` is what a text-LLM backend needs (the summarize stage, the QA stage's
`llm` generator); `VLLMEngineConfig` is how each actor's vLLM engine runs (the pool size
is the stage's `resources.concurrency`, its GPUs `resources.num_gpus`).
"""

from __future__ import annotations

from dataclasses import dataclass

from longvid_pipeline.config import param

DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass
class VLLMEngineConfig:
    """How the `vllm` backend's engine runs in each actor."""

    tensor_parallel_size: int = param(1, "GPUs per engine (tensor parallel)", min=1)
    gpu_memory_utilization: float = param(
        0.85, "share of each GPU's memory vLLM may take", min=0.05, max=1.0
    )
    max_model_len: int = param(16384, "longest prompt + answer in tokens", min=256)


@dataclass
class TextLLMConfig:
    """A text LLM: which model, how it runs, how much it writes."""

    backend: str = param("transformers", "text LLM backend", choices=("transformers", "vllm"))
    model: str | None = param(None, "hub id or local path of a causal LM; null: none configured")
    max_new_tokens: int = param(256, "tokens the model may write per answer", min=1)
    batch_size: int = param(8, "prompts per generate call (halved on out-of-memory)", min=1)
    dtype: str = param("auto", "auto: bfloat16 on GPU, float32 on CPU", choices=DTYPES)
    device: str = param("auto", "auto: cuda when the worker has a GPU, else cpu")
    vllm: VLLMEngineConfig = param(VLLMEngineConfig(), "backend vllm: engine settings")
