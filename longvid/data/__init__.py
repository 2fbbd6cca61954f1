"""Training data from `qa` shards: reading, frame decoding, tokenization, batching."""

from longvid.data.dataset import FrameRange, QADataset, ResumableSampler, collate, make_loader
from longvid.data.frames import decode_frames, normalize, resample_plan
from longvid.data.samples import IGNORE_INDEX, build_messages, tokenize_conversation
from longvid.data.shards import qa_shard_files, read_qa

__all__ = [
    "IGNORE_INDEX",
    "FrameRange",
    "QADataset",
    "ResumableSampler",
    "build_messages",
    "collate",
    "decode_frames",
    "make_loader",
    "normalize",
    "qa_shard_files",
    "read_qa",
    "resample_plan",
    "tokenize_conversation",
]
