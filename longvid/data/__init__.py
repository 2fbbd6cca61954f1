"""Training data: qa shards and LLaVA-format sources, frames and images, tokenization,
max_tokens fitting, padding or packing."""

from longvid.data.batching import Collate, collate
from longvid.data.dataset import QADataset, ResumableSampler, SampleDataset, make_loader
from longvid.data.frames import (
    FrameRange,
    decode_frames,
    fit_plan,
    load_image,
    normalize,
    resample_plan,
)
from longvid.data.samples import IGNORE_INDEX, build_messages, tokenize_conversation
from longvid.data.shards import qa_shard_files, read_qa
from longvid.data.sources import Record, SourceSection, llava_records, stage_records

__all__ = [
    "IGNORE_INDEX",
    "Collate",
    "FrameRange",
    "QADataset",
    "Record",
    "ResumableSampler",
    "SampleDataset",
    "SourceSection",
    "build_messages",
    "collate",
    "decode_frames",
    "fit_plan",
    "llava_records",
    "load_image",
    "make_loader",
    "normalize",
    "qa_shard_files",
    "read_qa",
    "resample_plan",
    "stage_records",
    "tokenize_conversation",
]
