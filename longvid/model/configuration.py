"""The video LLM's Hugging Face config: everything `VideoLLM.from_pretrained` needs to rebuild it.

Why a `PreTrainedConfig`: an exported checkpoint is a plain Hugging Face folder
(`config.json` + `model.safetensors` + tokenizer + `preprocessor_config.json`), loadable by
`VideoLLM.from_pretrained(folder)` or, once `longvid.model` is imported,
`AutoModel.from_pretrained(folder)`. The towers keep their own configs as sub-configs
(`vision_config`: SigLIP/CLIP vision; `text_config`: Qwen2-family causal LM), the way
transformers' own composite models (LLaVA) do.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PreTrainedConfig


def _sub_config(value: Any) -> PreTrainedConfig | None:
    """A sub-config from a config object or its dict (as read back from config.json)."""
    if value is None or isinstance(value, PreTrainedConfig):
        return value
    options = dict(value)
    return AutoConfig.for_model(options.pop("model_type"), **options)


class VideoLLMConfig(PreTrainedConfig):
    """Vision tower + token compressor + projector + causal LM, and the visual placeholders.

    Args:
        vision_config: the vision tower's config (e.g. `SiglipVisionConfig`).
        text_config: the causal LM's config (e.g. `Qwen2Config`), vocabulary already
            holding <video> and <image>.
        compressor: registry name and options, e.g. {"name": "hico", "tokens_per_frame": 16}.
        feature_layer: which tower layer's patch tokens feed the compressor (-1: last).
        image_size: input resolution the model runs at (null: the tower's native size);
            position embeddings are interpolated when it differs.
        video_token_id, image_token_id: the placeholder token ids.
        encoder_chunk_frames: frames per vision tower call (0: all at once).
        visual_dropout: {mode, layers, keep} of the in-LLM visual token dropout.
    """

    model_type = "longvid"
    sub_configs = {"vision_config": AutoConfig, "text_config": AutoConfig}

    def __init__(
        self,
        vision_config: Any = None,
        text_config: Any = None,
        compressor: dict[str, Any] | None = None,
        feature_layer: int = -1,
        image_size: int | None = None,
        video_token_id: int | None = None,
        image_token_id: int | None = None,
        encoder_chunk_frames: int = 0,
        visual_dropout: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.compressor = dict(compressor or {"name": "hico"})
        self.feature_layer = feature_layer
        self.image_size = image_size
        self.video_token_id = video_token_id
        self.image_token_id = image_token_id
        self.encoder_chunk_frames = encoder_chunk_frames
        self.visual_dropout = dict(visual_dropout or {"mode": "off"})
        # sub-configs after the base init: it sets the attention implementation on every
        # sub-config it finds (to None unless asked), which would undo the towers' choice
        super().__init__(**kwargs)
        self.vision_config = _sub_config(vision_config)
        self.text_config = _sub_config(text_config)
