"""Tiny random-weight models of each supported family, saved to a folder like a checkpoint.

Tests and benchmarks load them through the real path (`from_pretrained` on the folder),
offline: configs are built in code (transformers 5) and the tokenizer is the project's
tiny byte-level BPE trained on the fly (`longvid.model.tokenizer.tiny_tokenizer`) with
the family's own special tokens. Each folder also holds the (video) preprocessor config
a real checkpoint ships, with a small pixel budget so a clip costs a few dozen tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from longvid.model.tokenizer import tiny_tokenizer

QWEN_SPECIALS = ("<|vision_start|>", "<|vision_end|>", "<|video_pad|>", "<|image_pad|>")
LLAVA_SPECIALS = ("<image>",)
TINY_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "llava_onevision", "llava_next_video")
TINY_IMAGE_SIZE = 56  # 4 x 4 patches of 14 px (LLaVA towers)
TINY_MAX_PIXELS = 56 * 112  # Qwen: a 4:3 video becomes 56 x 84 px, 6 video tokens a frame pair


def _text_fields(tokenizer: Any) -> dict[str, Any]:
    """A 2-layer, 64-wide language model over the tokenizer's vocabulary."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": None,
    }


def _qwen(family: str, tokenizer: Any) -> tuple[Any, dict[str, Any]]:
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig

    ids = dict(
        zip(QWEN_SPECIALS, tokenizer.convert_tokens_to_ids(list(QWEN_SPECIALS)), strict=True)
    )
    mrope = {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1e4}
    text = {**_text_fields(tokenizer), "rope_parameters": mrope}
    vision: dict[str, Any] = {"depth": 2, "hidden_size": 64, "num_heads": 4, "patch_size": 14}
    if family == "qwen2_vl":
        cls, vision = Qwen2VLConfig, {**vision, "embed_dim": 32}
    else:
        cls = Qwen2_5_VLConfig
        vision = {
            **vision,
            "hidden_size": 32,
            "intermediate_size": 64,
            "out_hidden_size": 64,
            "window_size": 56,
            "fullatt_block_indexes": [1],
        }
    config = cls(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    processor = {"min_pixels": 56 * 56, "max_pixels": TINY_MAX_PIXELS, "patch_size": 14,
                 "merge_size": 2, "temporal_patch_size": 2}  # fmt: skip
    return config, processor


def _llava(family: str, tokenizer: Any) -> tuple[Any, dict[str, Any]]:
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaNextVideoConfig,
        LlavaOnevisionConfig,
        Qwen2Config,
        SiglipVisionConfig,
    )

    video_id, image_id = tokenizer.convert_tokens_to_ids(["<video>", "<image>"])
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 4, "image_size": TINY_IMAGE_SIZE, "patch_size": 14}  # fmt: skip
    if family == "llava_onevision":
        config = LlavaOnevisionConfig(
            vision_config=SiglipVisionConfig(**tower, vision_use_head=False),
            text_config=Qwen2Config(**_text_fields(tokenizer)),
            image_token_index=image_id,
            video_token_index=video_id,
        )
        return config, {"size": {"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
                        "image_mean": [0.5] * 3, "image_std": [0.5] * 3}  # fmt: skip
    config = LlavaNextVideoConfig(
        vision_config=CLIPVisionConfig(**tower, projection_dim=32),
        text_config=LlamaConfig(**_text_fields(tokenizer)),
        image_token_index=image_id,
        video_token_index=video_id,
    )
    return config, {"size": {"shortest_edge": TINY_IMAGE_SIZE},
                    "crop_size": {"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE}}  # fmt: skip


def tiny_vlm(family: str, folder: Path, seed: int = 0) -> Path:
    """Save a tiny random-weight VLM of `family` (and its tokenizer) to `folder`."""
    import torch
    from transformers import AutoModelForImageTextToText

    specials = QWEN_SPECIALS if family.startswith("qwen") else LLAVA_SPECIALS
    tokenizer = tiny_tokenizer(extra_special_tokens=specials)
    build = _qwen if family.startswith("qwen") else _llava
    config, processor = build(family, tokenizer)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "video_preprocessor_config.json").write_text(json.dumps(processor))
    return folder


def tiny_text_llm(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random-weight Qwen2-like causal LM with a chat template to `folder`."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(Qwen2Config(**_text_fields(tokenizer)))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def random_qwen2_vl_2b(folder: Path, seed: int = 0) -> Path:
    """A random-weight model with Qwen2-VL-2B-Instruct's sizes (benchmarks on a GPU), with
    the tiny tokenizer (the vocabulary stays 151936 rows; unused rows cost memory only)."""
    import torch
    from transformers import AutoModelForImageTextToText, Qwen2VLConfig

    tokenizer = tiny_tokenizer(extra_special_tokens=QWEN_SPECIALS)
    ids = tokenizer.convert_tokens_to_ids(list(QWEN_SPECIALS))
    text = {**_text_fields(tokenizer), "vocab_size": 151936, "hidden_size": 1536,
            "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
            "num_key_value_heads": 2, "max_position_embeddings": 32768,
            "rope_parameters": {"rope_type": "default", "mrope_section": [16, 24, 24],
                                "rope_theta": 1e6}}  # fmt: skip
    vision = {"depth": 32, "embed_dim": 1280, "hidden_size": 1536, "num_heads": 16,
              "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2}  # fmt: skip
    config = Qwen2VLConfig(
        text_config=text,
        vision_config=vision,
        vision_start_token_id=ids[0],
        vision_end_token_id=ids[1],
        video_token_id=ids[2],
        image_token_id=ids[3],
        tie_word_embeddings=True,  # as the 2B checkpoint: 2.2B parameters
    )
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    processor = {"min_pixels": 128 * 28 * 28, "max_pixels": 768 * 28 * 28}
    (folder / "video_preprocessor_config.json").write_text(json.dumps(processor))
    return folder
