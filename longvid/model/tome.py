"""ToMe bipartite soft matching, the merge step inside VideoChat-Flash's HiCo compressor.

Why ToMe: merging similar tokens (instead of pooling a fixed grid) keeps distinct content
and collapses redundancy, which is what long videos mostly are. A merged token is the
size-weighted mean of what it absorbed, so repeated merges stay true averages, and we
carry each token's mean original position so the output keeps temporal/spatial order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bipartite_merge(
    tokens: torch.Tensor, sizes: torch.Tensor, positions: torch.Tensor, merges: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One ToMe round: merge `merges` tokens of set A (even) into their best match in B (odd).

    Args:
        tokens: (B, N, C) features (size-weighted means).
        sizes: (B, N, 1) how many original tokens each token stands for.
        positions: (B, N, 1) size-weighted mean original index of each token.
        merges: r, at most the size of set A (ceil(N / 2)).

    Returns:
        tokens, sizes, positions with N - r tokens each, in position order.
    """
    count = tokens.shape[1]
    merges = max(0, min(merges, count // 2))
    if merges == 0:
        return tokens, sizes, positions
    metric = F.normalize(tokens.float(), dim=-1)
    scores = metric[:, ::2] @ metric[:, 1::2].transpose(1, 2)  # (B, Na, Nb) cosine
    best_score, best_dst = scores.max(dim=-1)
    order = best_score.argsort(dim=-1, descending=True)[..., None]  # (B, Na, 1)
    src_idx, keep_idx = order[:, :merges], order[:, merges:]
    dst_idx = best_dst[..., None].gather(1, src_idx)

    def merge(values: torch.Tensor) -> torch.Tensor:
        """Sum the weighted values of merged A tokens into B; keep unmerged A tokens."""
        src, dst = values[:, ::2], values[:, 1::2]
        width = values.shape[-1]
        kept = src.gather(1, keep_idx.expand(-1, -1, width))
        moved = src.gather(1, src_idx.expand(-1, -1, width))
        dst = dst.scatter_add(1, dst_idx.expand(-1, -1, width), moved)
        return torch.cat([kept, dst], dim=1)

    new_sizes = merge(sizes)
    new_tokens = merge(tokens * sizes) / new_sizes
    new_positions = merge(positions * sizes) / new_sizes
    order_back = new_positions.squeeze(-1).argsort(dim=-1)[..., None]
    return (
        new_tokens.gather(1, order_back.expand(-1, -1, tokens.shape[-1])),
        new_sizes.gather(1, order_back),
        new_positions.gather(1, order_back),
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
    sizes = tokens.new_ones(batch, count, 1)
    positions = torch.arange(count, device=tokens.device, dtype=tokens.dtype)
    positions = positions.view(1, count, 1).expand(batch, -1, -1)
    while tokens.shape[1] > target:
        current = tokens.shape[1]
        merges = min(current - target, max(1, int(current * max_ratio)), current // 2)
        tokens, sizes, positions = bipartite_merge(tokens, sizes, positions, merges)
    return tokens
