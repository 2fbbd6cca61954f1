"""Named presets: constants only (sizes, hub ids), assembled by the generic builders.

A preset takes the compressor (a module, chosen by the config) and model options (the
`video_llm` keywords: visual_dropout, encoder_chunk_frames) and returns the model and its
tokenizer, with <video> and <image> registered in both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedTokenizerBase,
    Qwen2Config,
    SiglipVisionConfig,
)

from longvid.model.compressors import TokenCompressor
from longvid.model.encoder import vision_encoder
from longvid.model.tokenizer import IMAGE_TOKEN, add_visual_tokens, tiny_tokenizer
from longvid.model.video_llm import VideoLLM, input_embeddings, video_llm

Bundle = tuple[VideoLLM, PreTrainedTokenizerBase]


def from_sources(
    compressor: TokenCompressor,
    encoder_source: str | SiglipVisionConfig,
    llm_source: str,
    feature_layer: int = -1,
    **options: Any,
) -> Bundle:
    """Generic assembly from a vision tower source and a causal-LM hub id or local path."""
    tokenizer = AutoTokenizer.from_pretrained(llm_source)
    video_token_id, image_token_id = add_visual_tokens(tokenizer)
    llm = AutoModelForCausalLM.from_pretrained(llm_source)
    if len(tokenizer) > input_embeddings(llm).num_embeddings:
        llm.resize_token_embeddings(len(tokenizer))
    encoder = vision_encoder(encoder_source, feature_layer=feature_layer)
    model = video_llm(
        encoder, compressor, llm, video_token_id, image_token_id=image_token_id, **options
    )
    return model, tokenizer


def tiny(compressor: TokenCompressor, llm_layers: int = 2, **options: Any) -> Bundle:
    """Random-weight tiny SigLIP-like encoder (64 px, 8x8 patches) and Qwen2-like LLM."""
    tokenizer = tiny_tokenizer(extra_special_tokens=(IMAGE_TOKEN,))
    video_token_id, image_token_id = add_visual_tokens(tokenizer)
    # Both towers share one tiny transformer shape.
    shape: dict[str, Any] = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    }
    encoder = vision_encoder(SiglipVisionConfig(**shape, image_size=64, patch_size=8))
    llm_config = Qwen2Config(
        **{**shape, "num_hidden_layers": llm_layers},
        vocab_size=len(tokenizer),
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    llm = AutoModelForCausalLM.from_config(llm_config)
    model = video_llm(
        encoder, compressor, llm, video_token_id, image_token_id=image_token_id, **options
    )
    return model, tokenizer


def qwen2_5_1_5b_siglip(
    compressor: TokenCompressor,
    encoder_source: str = "google/siglip-so400m-patch14-384",
    llm_source: str = "Qwen/Qwen2.5-1.5B-Instruct",
    **options: Any,
) -> Bundle:
    """VideoChat-Flash-2B-like: SigLIP so400m tower with Qwen2.5-1.5B-Instruct."""
    return from_sources(compressor, encoder_source, llm_source, **options)


PRESETS: dict[str, Callable[..., Bundle]] = {
    "tiny": tiny,
    "qwen2_5_1_5b_siglip": qwen2_5_1_5b_siglip,
}


def build_preset(name: str, compressor: TokenCompressor, **options: Any) -> Bundle:
    """Look a preset up by name; `options` are hub ids / paths where the preset has them and
    the `video_llm` keywords (visual_dropout, encoder_chunk_frames)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name](compressor, **options)
