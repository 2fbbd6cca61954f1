"""The video LLM and its parts: encoder, token compressors, projector, LLM, in-LLM visual
dropout, presets; a Hugging Face model (`VideoLLM.from_pretrained`)."""

from longvid.model.compressors import (
    COMPRESSORS,
    HiCoCompressor,
    NoCompression,
    PoolCompressor,
    SlowFastCompressor,
    TokenCompressor,
    compressor,
)
from longvid.model.configuration import VideoLLMConfig
from longvid.model.encoder import FrameSpec, VisionEncoder, vision_encoder
from longvid.model.presets import PRESETS, build_preset, qwen2_5_1_5b_siglip, tiny
from longvid.model.video_llm import (
    PARTS,
    VideoLLM,
    VideoTokenMismatch,
    Visual,
    VisualTokenCounts,
    projector,
    video_llm,
)
from longvid.model.visual_dropout import VisualDropout, VisualDropoutConfig

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
    "VideoLLMConfig",
    "VideoTokenMismatch",
    "VisionEncoder",
    "Visual",
    "VisualDropout",
    "VisualDropoutConfig",
    "VisualTokenCounts",
    "build_preset",
    "compressor",
    "projector",
    "qwen2_5_1_5b_siglip",
    "tiny",
    "video_llm",
    "vision_encoder",
]
