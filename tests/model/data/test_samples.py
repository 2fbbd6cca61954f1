"""Sample building: one timestamp prompt (a real pipeline row), max_tokens fitting that never
cuts visual tokens, LLaVA-format image/video sources, mixtures, packing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from support.shards import make_demo_shards, make_video

from longvid.data import (
    IGNORE_INDEX,
    FrameRange,
    SampleDataset,
    SourceSection,
    build_messages,
    collate,
    llava_records,
    stage_records,
)
from longvid.data.sources import DataSourceError, qa_record
from longvid.model import HiCoCompressor, tiny
from longvid_pipeline.api import timestamp_prompt

FIXTURES = Path(__file__).parent / "fixtures"
PROMPTS = "frames are uniformly sampled"


@pytest.fixture(scope="module")
def bundle():
    torch.manual_seed(0)
    return tiny(HiCoCompressor(tokens_per_frame=4, image_tokens=8))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo shards plus a LLaVA-format folder: two images, one video, four records."""
    root = tmp_path_factory.mktemp("media")
    make_demo_shards(root / "shards", videos=2)
    for index, color in enumerate(("red", "blue")):
        Image.new("RGB", (40, 30), color).save(root / f"im{index}.png")
    make_video(root / "clip.mp4", "testsrc2", seconds=6.0)
    records = [
        {"id": "one", "image": "im0.png", "conversations": [
            {"from": "human", "value": "What color is it?"}, {"from": "gpt", "value": "Red."}]},
        {"id": "two", "image": ["im0.png", "im1.png"], "conversations": [
            {"from": "human", "value": "<image>\n<image>\nSame color?"},
            {"from": "gpt", "value": "No."}]},
        {"id": "vid", "video": "clip.mp4", "conversations": [
            {"from": "human", "value": "<video>\nDescribe."}, {"from": "gpt", "value": "Bars."}]},
        {"id": "text", "conversations": [
            {"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi."}]},
    ]  # fmt: skip
    (root / "llava.json").write_text(json.dumps(records))
    return root


def _dataset(bundle, records, frames=(4, 8), max_tokens=None) -> SampleDataset:
    model, tokenizer = bundle
    spec = model.encoder.frame_spec
    return SampleDataset(
        records, tokenizer, model.token_counts(), spec, FrameRange(*frames), max_tokens
    )


def test_one_timestamp_prompt_for_a_real_pipeline_row(bundle) -> None:
    """A pipeline qa row (280-frame plan, prompt inside its human turn) fed with 8 frames
    states 8 frames once, and keeps the rest of the turn as the pipeline wrote it."""
    row = json.loads((FIXTURES / "qa_row_grounding.json").read_text())
    human = row["conversations"][0]["value"]
    assert human.count(PROMPTS) == 1 and "280 frames" in human
    messages = build_messages(row["conversations"], timestamp_prompt(row["video_duration_s"], 8))
    expected = human.replace("280 frames", "8 frames")
    assert messages[0]["content"] == expected and expected.count(PROMPTS) == 1
    # through the dataset (frames fitted to the stage's 4..8), tokens included
    dataset = _dataset(bundle, [qa_record(row, Path("unused"))])
    ids, _, timestamps = dataset.fit(dataset.records[0])
    text = bundle[1].decode(ids)
    assert len(timestamps) == 8 and text.count(PROMPTS) == 1
    assert "The video lasts for 279.43 seconds, and 8 frames are uniformly sampled" in text


def test_max_tokens_drops_frames_never_visual_tokens(bundle, media: Path) -> None:
    model, tokenizer = bundle
    (record,) = [
        r
        for r in stage_records(
            [SourceSection()], str(media / "shards"), ["caption"], ["train"], 0, 0
        )
    ]
    full = _dataset(bundle, [record], frames=(8, 8))
    ids, _, timestamps = full.fit(record)
    assert len(timestamps) == 8
    limit = len(ids) - model.num_video_tokens(4)  # room for 4 frames only
    fitted = _dataset(bundle, [record], frames=(8, 8), max_tokens=limit)
    sample = fitted[0]
    ids = sample["input_ids"]
    assert len(ids) <= limit and sample["visuals"][0].pixels.shape[0] == 4
    assert int((ids == model.video_token_id).sum()) == model.num_video_tokens(4)
    assert tokenizer.decode(ids).count("and 4 frames are uniformly sampled") == 1
    # no frames left to drop: the text tail goes, the video and an answer token stay
    cut = _dataset(bundle, [record], frames=(4, 4), max_tokens=len(fitted.fit(record)[0]) - 2)
    ids, labels, _ = cut.fit(record)
    assert int((torch.tensor(ids) == model.video_token_id).sum()) == model.num_video_tokens(4)
    assert any(label != IGNORE_INDEX for label in labels)
    with pytest.raises(ValueError, match="do not fit max_tokens 10"):
        _dataset(bundle, [record], frames=(4, 4), max_tokens=10).fit(record)


def test_llava_images_videos_and_text(bundle, media: Path) -> None:
    model, tokenizer = bundle
    records = llava_records(media / "llava.json")
    assert [len(r.images) for r in records] == [1, 2, 0, 0] and records[2].video
    assert records[0].conversations[0]["value"] == "<image>\nWhat color is it?"
    samples = [_dataset(bundle, records)[index] for index in range(4)]
    kinds = [[v.kind for v in s["visuals"]] for s in samples]
    assert kinds == [["image"], ["image", "image"], ["video"], []]
    two = samples[1]["input_ids"]
    assert int((two == model.image_token_id).sum()) == 2 * model.num_image_tokens() == 16
    assert samples[2]["visuals"][0].pixels.shape[0] == 8  # 6 s at 1 fps -> 4..8 frames: 8
    assert tokenizer.decode(samples[2]["input_ids"]).count("lasts for 6.00 seconds") == 1
    red = samples[0]["visuals"][0].pixels  # the image squashed to 64 px, normalized
    assert red.shape == (1, 3, 64, 64) and torch.allclose(red[0, 0], torch.ones(64, 64))
    batch = collate(samples, tokenizer.pad_token_id)
    out = model(
        batch["input_ids"],
        batch["attention_mask"],
        labels=batch["labels"],
        visuals=batch["visuals"],
    )
    out.loss.backward()
    assert torch.isfinite(out.loss) and model.projector[0].weight.grad.abs().sum() > 0


def test_mixture_ratios_and_bad_sources(media: Path) -> None:
    sources = [
        SourceSection(kind="qa", tasks=["caption", "counting"]),
        SourceSection(kind="llava", path=str(media / "llava.json"), ratio=1.5),
    ]
    mixture = stage_records(sources, str(media / "shards"), None, ["train"], 0, 1)
    assert len(mixture) == 2 + 6  # 2 qa rows; the 4 llava records once, then 2 of them
    assert mixture == stage_records(sources, str(media / "shards"), None, ["train"], 0, 1)
    assert SourceSection(kind="llava").problems() == [
        ("path", "a llava source needs the annotation file")
    ]
    (media / "bad.json").write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "image": ["a.png", "b.png"],
                    "conversations": [{"from": "human", "value": "<image> x"}],
                }
            ]
        )
    )
    with pytest.raises(DataSourceError, match=r"entry 0: 2 image\(s\), video=False"):
        llava_records(media / "bad.json")


@pytest.mark.parametrize("dropout", ["off", "attention"])
def test_packed_rows_give_the_padded_loss(bundle, media: Path, dropout: str) -> None:
    """Packing changes the layout, not the math: each sample attends only to itself, and
    in-LLM dropout ranks and drops each packed sample on its own."""
    torch.manual_seed(0)
    options = {"mode": dropout, "layers": [1], "keep": [1.0, 0.5]}
    model, tokenizer = tiny(
        HiCoCompressor(tokens_per_frame=4, image_tokens=8), visual_dropout=options
    )
    records = llava_records(media / "llava.json")
    samples = [_dataset(bundle, records)[index] for index in range(4)]
    padded = collate(samples, tokenizer.pad_token_id)
    longest = max(len(s["input_ids"]) for s in samples)
    packed = collate(samples, tokenizer.pad_token_id, pack_tokens=longest + 40)
    assert len(packed["visuals"]) < 4 and packed["attention_mask"] is None
    losses = []
    for batch in (padded, packed):
        keys = ("input_ids", "attention_mask", "labels", "visuals", "position_ids")
        losses.append(model(**{key: batch[key] for key in keys}).loss.detach())
    assert torch.isfinite(losses[0]) and torch.allclose(losses[0], losses[1], atol=1e-5)
