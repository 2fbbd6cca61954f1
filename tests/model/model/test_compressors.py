"""Token compressors: ToMe merging rules, SlowFast shapes, HiCo/pool counts agree with output."""

from __future__ import annotations

import pytest
import torch

from longvid.model.compressors import (
    HiCoCompressor,
    NoCompression,
    PoolCompressor,
    SlowFastCompressor,
)
from longvid.model.tome import bipartite_merge, merge_to


def _state(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    count = tokens.shape[1]
    return tokens, torch.ones(1, count, 1), torch.arange(count, dtype=torch.float).view(1, count, 1)


def test_identical_tokens_merge_first() -> None:
    tokens = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.6, 0.8]]])  # A = 0, 2; B = 1, 3
    merged, sizes, positions = bipartite_merge(*_state(tokens), merges=1)
    assert merged.shape == (1, 3, 2)
    assert sizes.flatten().tolist() == [1.0, 1.0, 2.0]
    assert torch.allclose(merged[0, 2], torch.tensor([0.6, 0.8]))
    assert positions.flatten().tolist() == [0.0, 1.0, 2.5]


def test_merged_tokens_are_size_weighted_means() -> None:
    tokens = torch.tensor([[[1.0, 0.0], [1.0, 0.1], [0.0, -1.0], [-1.0, 5.0]]])
    _, _, positions = _state(tokens)
    sizes = torch.tensor([[[3.0], [1.0], [1.0], [1.0]]])
    merged, new_sizes, _ = bipartite_merge(tokens, sizes, positions, merges=1)
    # token 0 (size 3) joins token 1 (size 1): (3*[1,0] + 1*[1,0.1]) / 4
    assert torch.allclose(merged[0, 0], torch.tensor([1.0, 0.025]))
    assert new_sizes.flatten().tolist() == [4.0, 1.0, 1.0]


@pytest.mark.parametrize(("count", "target"), [(196 * 4, 64), (100, 7), (9, 1), (16, 16)])
def test_merge_to_hits_target(count: int, target: int) -> None:
    tokens = torch.randn(2, count, 8)
    merged = merge_to(tokens, target)
    assert merged.shape == (2, target, 8)
    if target == 1:  # everything merged: the plain mean of all tokens
        assert torch.allclose(merged[:, 0], tokens.mean(dim=1), atol=1e-5)


def test_merge_round_removes_at_most_half() -> None:
    tokens, sizes, positions = _state(torch.randn(1, 10, 4))
    merged, _, _ = bipartite_merge(tokens, sizes, positions, merges=9)
    assert merged.shape[1] == 5


def test_hico_keeps_a_constant_video_constant() -> None:
    """Size-weighted means of equal tokens are that token, whatever the merge order."""
    frames = torch.full((8, 196, 4), 0.25)
    out = HiCoCompressor()(frames, (14, 14))
    assert out.shape == (8 * 16, 4)
    assert torch.allclose(out, torch.full_like(out, 0.25))


@pytest.mark.parametrize(
    ("frames", "expected"), [(64, 8 * 14 * 7 + 64 * 16), (5, 5 * 14 * 7 + 5 * 16)]
)
def test_slowfast_shapes_and_counts(frames: int, expected: int) -> None:
    slowfast = SlowFastCompressor()
    tokens = torch.randn(frames, 196, 12)
    out = slowfast(tokens, (14, 14))
    assert out.shape == (expected, 12)
    assert slowfast.num_tokens(frames, (14, 14)) == expected
    slow_count = min(8, frames) * 14 * 7
    first_slow = tokens[slowfast.slow_indices(frames)[0]].view(14, 14, 12)[0, 0:2].mean(0)
    assert torch.allclose(out[0], first_slow, atol=1e-6)  # slow pathway first, 1x2 pooled
    assert torch.allclose(out[slow_count], _fast_cell(tokens[0]), atol=1e-5)  # then fast, 4x4


def _fast_cell(frame: torch.Tensor) -> torch.Tensor:
    """Adaptive 4x4 pooling of a 14x14 grid: the first cell covers rows/cols 0..3 (ceil(14/4)=4)."""
    return frame.view(14, 14, -1)[0:4, 0:4].reshape(-1, frame.shape[-1]).mean(0)


@pytest.mark.parametrize(
    ("compressor", "expected"),
    [(HiCoCompressor(), 64 * 16), (PoolCompressor(), 64 * 16), (NoCompression(), 64 * 196)],
)
def test_counts_match_outputs(compressor: torch.nn.Module, expected: int) -> None:
    out = compressor(torch.randn(64, 196, 8), (14, 14))
    assert out.shape[0] == expected == compressor.num_tokens(64, (14, 14))
