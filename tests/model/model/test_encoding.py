"""The vision side: frames encoded in chunks give the same tokens and gradients; a stage's
resolution changes the grid and interpolates position embeddings, never weight shapes."""

from __future__ import annotations

import pytest
import torch

from longvid.model import HiCoCompressor, tiny


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return tiny(HiCoCompressor(tokens_per_frame=4))[0]


def test_chunked_encoding_matches_one_call(model) -> None:
    frames = torch.randn(10, 3, 64, 64)
    model.set_trainable(["encoder"])
    whole = model.encoder.encode(frames, chunk=0)
    (whole**2).sum().backward()
    expected = [p.grad.clone() for p in model.encoder.parameters() if p.grad is not None]
    model.zero_grad()
    chunked = model.encoder.encode(frames, chunk=3)  # 3+3+3+1, recomputed in backward
    (chunked**2).sum().backward()
    grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert torch.allclose(whole, chunked, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(expected, grads, strict=True))
    model.set_trainable(["projector"])
    with torch.no_grad():
        assert torch.allclose(model.encoder.encode(frames, chunk=4), whole, atol=1e-5)


def test_resolution_is_a_setting(model) -> None:
    shapes = {name: p.shape for name, p in model.named_parameters()}
    model.set_image_size(128)
    try:
        assert model.encoder.grid == (16, 16) and model.config.image_size == 128
        assert model.encoder.frame_spec.image_size == 128
        patches = model.encoder.encode(torch.randn(2, 3, 128, 128))
        assert patches.shape == (2, 256, 64)
        assert model.num_video_tokens(8) == 8 * 4 and model.num_image_tokens() == 64
        assert {name: p.shape for name, p in model.named_parameters()} == shapes
        with pytest.raises(ValueError, match="not a positive multiple of the patch size 8"):
            model.set_image_size(100)
    finally:
        model.set_image_size(64)
