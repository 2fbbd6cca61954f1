"""Data side on real tiny shards: filters, frame decoding and resampling, answer-only labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from support.shards import make_demo_shards

from longvid.data import (
    IGNORE_INDEX,
    FrameRange,
    QADataset,
    ResumableSampler,
    collate,
    decode_frames,
    fit_plan,
    read_qa,
    resample_plan,
)
from longvid.model import HiCoCompressor, tiny


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    make_demo_shards(out)
    (out / "qa" / ".part-1.parquet.abc.tmp").write_bytes(b"half written")
    return out


def test_read_qa_filters_and_skips_temporary_files(demo_out: Path) -> None:
    assert len(read_qa(demo_out)) == 9
    assert len(read_qa(demo_out, splits=["train"])) == 6
    counting = read_qa(demo_out, tasks=["counting"], splits=["train", "val"])
    assert [row["task"] for row in counting] == ["counting"] * 3
    with pytest.raises(FileNotFoundError, match="tasks=\\['nope'\\]"):
        read_qa(demo_out, tasks=["nope"])


def test_decode_frames_follows_timestamps(demo_out: Path) -> None:
    path = demo_out / "media" / "testsrc.mp4"
    frames = decode_frames(path, [3.75, 0.25, 0.25, 9.0], 32)
    assert frames.shape == (4, 32, 32, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[1], frames[2])
    assert not np.array_equal(frames[0], frames[1])  # testsrc moves over time
    assert np.array_equal(frames[3], decode_frames(path, [3.95], 32)[0])  # past the end: last frame


def test_resample_plan_fits_stage_range() -> None:
    plan = [0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75]
    assert fit_plan(plan, 4, 4) == [0.75, 1.75, 2.75, 3.75]
    more = fit_plan(plan, 16, 32)
    assert len(more) == 16 and more[0] == 0.125 and more[-1] == 3.875
    assert fit_plan(plan, 4, 64) == plan
    prompt = "The video lasts for 4.00 seconds, and 8 frames are uniformly sampled from it."
    fewer, fewer_prompt = resample_plan(plan, prompt, 4, 4)
    assert fewer == fit_plan(plan, 4, 4) and "and 4 frames" in fewer_prompt


def test_sample_labels_only_the_answer(demo_out: Path) -> None:
    model, tokenizer = tiny(HiCoCompressor(tokens_per_frame=4))
    rows = read_qa(demo_out, splits=["train"])
    dataset = QADataset(
        rows,
        demo_out,
        tokenizer,
        model.num_video_tokens,
        model.encoder.frame_spec,
        FrameRange(4, 4),
    )
    sample = dataset[0]
    (video,) = sample["visuals"]
    assert video.kind == "video" and video.pixels.shape == (4, 3, 64, 64)
    assert float(video.pixels.min()) >= -1.0 and float(video.pixels.max()) <= 1.0
    ids, labels = sample["input_ids"], sample["labels"]
    assert int((ids == model.video_token_id).sum()) == 16
    answer = tokenizer.decode(labels[labels != IGNORE_INDEX])
    assert answer == rows[0]["answer"] + "<|im_end|>"
    prompt = tokenizer.decode(ids[ids != model.video_token_id])
    assert "and 4 frames are uniformly sampled from it.\n" + rows[0]["question"] in prompt
    batch = collate([dataset[0], dataset[1]], tokenizer.pad_token_id)
    assert batch["input_ids"].shape[0] == 2 and batch["attention_mask"].sum() == len(ids) + len(
        dataset[1]["input_ids"]
    )
    loss = model(
        batch["input_ids"],
        batch["attention_mask"],
        labels=batch["labels"],
        visuals=batch["visuals"],
    ).loss
    assert torch.isfinite(loss)


def test_sampler_is_resumable_and_rank_disjoint() -> None:
    stream = ResumableSampler(5, seed=3)
    first = [index for index, _ in zip(stream, range(12), strict=False)]
    assert sorted(first[:5]) == list(range(5)) and sorted(first[5:10]) == list(range(5))
    resumed = [
        index for index, _ in zip(ResumableSampler(5, seed=3, start=7), range(5), strict=False)
    ]
    assert resumed == first[7:12]
    rank0 = [
        i for i, _ in zip(ResumableSampler(6, seed=1, rank=0, world=2), range(3), strict=False)
    ]
    rank1 = [
        i for i, _ in zip(ResumableSampler(6, seed=1, rank=1, world=2), range(3), strict=False)
    ]
    assert sorted(rank0 + rank1) == list(range(6))
