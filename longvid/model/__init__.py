"""The video LLM and its parts: encoder, token compressors, projector, LLM, presets."""

from longvid.model.compressors import (
    COMPRESSORS,
    HiCoCompressor,
    NoCompression,
    PoolCompressor,
    SlowFastCompressor,
    TokenCompressor,
    compressor,
)
from longvid.model.encoder import FrameSpec, VisionEncoder, vision_encoder
from longvid.model.presets import PRESETS, build_preset, qwen2_5_1_5b_siglip, tiny
from longvid.model.video_llm import PARTS, VideoLLM, VideoTokenMismatch, projector, video_llm

__all__ = [
    "COMPRESSORS",
    "PARTS",
    "PRESETS",
    "FrameSpec",
    "HiCoCompressor",
    "NoCompression",
    "PoolCompressor",
    "SlowFastCompressor",
    "TokenCompressor",
    "VideoLLM",
    "VideoTokenMismatch",
    "VisionEncoder",
    "build_preset",
    "compressor",
    "projector",
    "qwen2_5_1_5b_siglip",
    "tiny",
    "video_llm",
    "vision_encoder",
]
