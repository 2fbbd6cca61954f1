"""ToMe bipartite soft matching, the merge step inside VideoChat-Flash's HiCo compressor.

Why ToMe: merging similar tokens (instead of pooling a fixed grid) keeps distinct content
and collapses redundancy, which is what long videos mostly are. A merged token is the
size-weighted mean of what it absorbed, so repeated merges stay true averages, and we
carry each token's mean original position so the output keeps temporal/spatial order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _merge_sums(sums: torch.Tensor, merges: int) -> torch.Tensor:
    """One ToMe round on packed sums (B, N, C+2) = [size*token, size, size*position].

    Cosine similarity is scale-invariant, so sums compare like means: carrying sums
    makes each round a single gather/scatter and defers every division to the end.
    """
    width = sums.shape[-1]
    metric = F.normalize(sums[..., :-2].float(), dim=-1)
    scores = metric[:, ::2] @ metric[:, 1::2].transpose(1, 2)  # (B, Na, Nb) cosine
    best_score, best_dst = scores.max(dim=-1)
    order = best_score.argsort(dim=-1, descending=True)[..., None]  # (B, Na, 1)
    src_idx, keep_idx = order[:, :merges], order[:, merges:]
    dst_idx = best_dst[..., None].gather(1, src_idx)
    src, dst = sums[:, ::2], sums[:, 1::2]
    kept = src.gather(1, keep_idx.expand(-1, -1, width))
    moved = src.gather(1, src_idx.expand(-1, -1, width))
    merged = torch.cat([kept, dst.scatter_add(1, dst_idx.expand(-1, -1, width), moved)], dim=1)
    mean_position = merged[..., -1] / merged[..., -2]
    return merged.gather(1, mean_position.argsort(dim=-1)[..., None].expand(-1, -1, width))


def _unpack(sums: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    sizes = sums[..., -2:-1]
    return sums[..., :-2] / sizes, sizes, sums[..., -1:] / sizes


def bipartite_merge(
    tokens: torch.Tensor, sizes: torch.Tensor, positions: torch.Tensor, merges: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One ToMe round: merge `merges` tokens of set A (even) into their best match in B (odd).

    Args:
        tokens: (B, N, C) features (size-weighted means).
        sizes: (B, N, 1) how many original tokens each token stands for.
        positions: (B, N, 1) size-weighted mean original index of each token.
        merges: r, at most the size of set A that can pair (N // 2).

    Returns:
        tokens, sizes, positions with N - r tokens each, in position order.
    """
    merges = max(0, min(merges, tokens.shape[1] // 2))
    if merges == 0:
        return tokens, sizes, positions
    return _unpack(
        _merge_sums(torch.cat([tokens * sizes, sizes, positions * sizes], dim=-1), merges)
    )


def merge_to(tokens: torch.Tensor, target: int, max_ratio: float = 0.5) -> torch.Tensor:
    """Merge (B, N, C) tokens down to (B, target, C) in rounds removing at most `max_ratio`.

    Why rounds: one bipartite round can remove at most half the tokens, and smaller
    rounds let similarities be recomputed on already-merged tokens.
    """
    batch, count, _ = tokens.shape
    if target >= count:
        return tokens
    if target < 1:
        raise ValueError(f"target token count must be >= 1, got {target}")
    positions = (
        torch.arange(count, device=tokens.device, dtype=tokens.dtype)
        .view(1, count, 1)
        .expand(batch, -1, -1)
    )
    sums = torch.cat([tokens, tokens.new_ones(batch, count, 1), positions], dim=-1)
    while sums.shape[1] > target:
        current = sums.shape[1]
        merges = min(current - target, max(1, int(current * max_ratio)), current // 2)
        sums = _merge_sums(sums, merges)
    return _unpack(sums)[0]
