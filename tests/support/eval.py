"""Helpers for evaluation tests: tiny random-weight checkpoints and models saved to folders.

Nothing is downloaded: every model is built from a config with random weights and a
tokenizer trained on the fly, then saved so adapters load it through their real path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from longvid.model.tokenizer import tiny_tokenizer
from support.shards import tiny_train_config


def tiny_longvid_checkpoint(output_dir: Path, data_root: Path, max_frames: int = 8) -> Path:
    """A longvid.train checkpoint of the tiny preset (random weights, not trained)."""
    from longvid.train.checkpoint import LoopState, save_checkpoint
    from longvid.train.config import load_config
    from longvid.train.loop import build_model

    raw = tiny_train_config(data_root, output_dir, steps=1)
    raw["schedule"]["stages"][0]["max_frames"] = max_frames
    config = load_config(None, [], raw)
    model, tokenizer = build_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    folder = save_checkpoint(
        output_dir,
        model,
        tokenizer,
        dataclasses.asdict(config),
        LoopState(1, 0, 1),
        optimizer,
        scheduler,
        keep=1,
    )
    assert folder is not None
    return folder


def vlm_tokenizer(extra: list[str]) -> Any:
    """The tiny byte-level BPE with a model family's special tokens added."""
    tokenizer = tiny_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<video>", *extra]})
    return tokenizer


def _tiny_qwen2_text(tokenizer: Any, hidden: int = 64) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": None,
    }


def tiny_qwen2_vl(folder: Path) -> Path:
    """A random-weight Qwen2-VL (tiny tower and LLM) with its vision special tokens."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    tokenizer = vlm_tokenizer(
        ["<|vision_start|>", "<|vision_end|>", "<|video_pad|>", "<|image_pad|>"]
    )
    ids = tokenizer.convert_tokens_to_ids
    text = _tiny_qwen2_text(tokenizer)
    text["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": 10000.0,
        "mrope_section": [2, 3, 3],
    }
    config = Qwen2VLConfig(
        text_config=text,
        vision_config={
            "depth": 2,
            "embed_dim": 32,
            "hidden_size": 64,
            "num_heads": 4,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    torch.manual_seed(0)
    Qwen2VLForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# family -> (config class, model class, vision config class, extra config keys)
LLAVA_FAMILIES = {
    "llava_onevision": (
        "LlavaOnevisionConfig",
        "LlavaOnevisionForConditionalGeneration",
        "SiglipVisionConfig",
        {"vision_feature_layer": -1, "vision_feature_select_strategy": "full"},
    ),
    "llava_next_video": (
        "LlavaNextVideoConfig",
        "LlavaNextVideoForConditionalGeneration",
        "CLIPVisionConfig",
        {},
    ),
}


def tiny_llava(
    folder: Path, family: str = "llava_onevision", image_size: int = 48, patch_size: int = 8
) -> Path:
    """A random-weight LLaVA-OneVision (tiny SigLIP tower) or LLaVA-NeXT-Video (tiny CLIP
    tower), both with a tiny Qwen2 LLM, saved to `folder` with its tokenizer."""
    import transformers

    config_name, model_name, vision_name, extra = LLAVA_FAMILIES[family]
    tokenizer = vlm_tokenizer(["<image>"])
    vision = getattr(transformers, vision_name)(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=patch_size,
    )
    config = getattr(transformers, config_name)(
        text_config=transformers.Qwen2Config(**_tiny_qwen2_text(tokenizer)).to_dict(),
        vision_config=vision.to_dict(),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=[[image_size, image_size]],
        **extra,
    )
    torch.manual_seed(0)
    getattr(transformers, model_name)(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
