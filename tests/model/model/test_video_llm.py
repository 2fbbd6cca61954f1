"""The assembled video LLM: splicing, the placeholder/feature count check, trainable parts."""

from __future__ import annotations

import pytest
import torch

from longvid.model import HiCoCompressor, SlowFastCompressor, VideoTokenMismatch, Visual, tiny


@pytest.fixture(scope="module")
def tiny_hico():
    torch.manual_seed(0)
    return tiny(HiCoCompressor(tokens_per_frame=4))


def test_video_tokens_land_at_placeholders(tiny_hico) -> None:
    model, _ = tiny_hico
    frames = torch.randn(8, 3, 64, 64)
    count = model.num_video_tokens(8)
    assert count == 8 * 4
    input_ids = torch.tensor([[5] + [model.video_token_id] * count + [6, 7]])
    visuals = [[Visual("video", frames)]]
    embeddings = model.splice(input_ids, model.visual_features(visuals), visuals)
    expected = model.video_features([frames])[0]
    assert torch.allclose(embeddings[0, 1 : 1 + count], expected)
    assert torch.allclose(embeddings[0, 0], model.llm.get_input_embeddings().weight[5])


def test_placeholder_count_mismatch_is_a_clear_error(tiny_hico) -> None:
    model, _ = tiny_hico
    input_ids = torch.tensor([[5] + [model.video_token_id] * 31 + [6]])
    with pytest.raises(
        VideoTokenMismatch,
        match=r"sample 0: 31 <video> placeholder positions but the compressor produced 32",
    ):
        model(input_ids, torch.ones_like(input_ids), [torch.randn(8, 3, 64, 64)])


def test_slowfast_model_counts() -> None:
    model, _ = tiny(SlowFastCompressor(slow_frames=2))
    # 8x8 grid: slow 2 frames * 8*4, fast 8 frames * 4*4
    assert model.num_video_tokens(8) == 2 * 32 + 8 * 16


def test_set_trainable_freezes_other_parts(tiny_hico) -> None:
    model, _ = tiny_hico
    model.set_trainable(["compressor", "projector"])
    assert all(p.requires_grad for p in model.projector.parameters())
    assert not any(p.requires_grad for p in model.llm.parameters())
    assert not any(p.requires_grad for p in model.encoder.parameters())
    with pytest.raises(ValueError, match="unknown parts"):
        model.set_trainable(["vision"])
    model.set_trainable(["encoder", "compressor", "projector", "llm"])
