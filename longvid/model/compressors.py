"""Video token compressors: (T, h*w, C) patch tokens of one video -> (M, C) tokens for the LLM.

Each compressor is a module passed to the builder (not a flag) and answers
`num_tokens(frames, grid)` up front, so the data side can reserve exactly as many
<video> placeholder positions as the compressor will produce. Images go through the same
module (`compress_image`, `num_image_tokens`): by default an image is a one-frame video;
HiCo merges an image to its own budget (VideoChat-Flash: 64 tokens per image, 16 per frame).
"""

from __future__ import annotations

import math
import typing
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from longvid.model.tome import merge_to
from longvid_pipeline.config import check_type


class TokenCompressor(nn.Module):
    """Interface: `forward(frame_tokens, grid)` and `num_tokens(frames, grid)` agree."""

    def num_tokens(self, frames: int, grid: tuple[int, int]) -> int:
        """How many tokens `forward` returns for `frames` frames of an (h, w) patch grid."""
        raise NotImplementedError

    def forward(self, frame_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Compress (T, h*w, C) patch tokens of one video into (M, C)."""
        raise NotImplementedError

    def num_image_tokens(self, grid: tuple[int, int]) -> int:
        """How many tokens `compress_image` returns for one image."""
        return self.num_tokens(1, grid)

    def compress_image(self, patch_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Compress (1, h*w, C) patch tokens of one image into (M, C)."""
        return self(patch_tokens, grid)

    def spec(self) -> dict[str, Any]:
        """Registry name and options: what `compressor(**spec)` rebuilds (saved in configs)."""
        name = next(key for key, cls in COMPRESSORS.items() if type(self) is cls)
        options = set(typing.get_type_hints(type(self).__init__)) - {"return"}
        values = {option: getattr(self, option) for option in sorted(options)}
        return {
            "name": name,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()},
        }


class NoCompression(TokenCompressor):
    """Every patch token of every frame: the reference point for compression ratios."""

    def num_tokens(self, frames: int, grid: tuple[int, int]) -> int:
        return frames * grid[0] * grid[1]

    def forward(self, frame_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        return frame_tokens.reshape(-1, frame_tokens.shape[-1])


def _as_grid(frame_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(T, h*w, C) -> (T, C, h, w) for 2-D pooling."""
    frames, _, channels = frame_tokens.shape
    return frame_tokens.transpose(1, 2).reshape(frames, channels, grid[0], grid[1])


def _from_grid(pooled: torch.Tensor) -> torch.Tensor:
    """(T, C, h', w') -> (T*h'*w', C), frame-major then row-major."""
    return pooled.flatten(2).transpose(1, 2).reshape(-1, pooled.shape[1])


class PoolCompressor(TokenCompressor):
    """Plain spatial average pooling of each frame to a fixed grid: the baseline."""

    def __init__(self, output_grid: tuple[int, int] = (4, 4)) -> None:
        super().__init__()
        self.output_grid = tuple(output_grid)

    def num_tokens(self, frames: int, grid: tuple[int, int]) -> int:
        return frames * min(self.output_grid[0], grid[0]) * min(self.output_grid[1], grid[1])

    def forward(self, frame_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        size = (min(self.output_grid[0], grid[0]), min(self.output_grid[1], grid[1]))
        return _from_grid(F.adaptive_avg_pool2d(_as_grid(frame_tokens, grid), size))


class SlowFastCompressor(TokenCompressor):
    """SlowFast-LLaVA: a slow pathway (few frames, light pooling) then a fast one (all frames).

    Why two pathways: the slow one keeps spatial detail of a few frames, the fast one keeps
    motion over every frame at a few tokens each; slow tokens come first. The paper's
    training-free setting is `slow_pool="max", slow_sampling="linspace"` (longvid.eval).
    """

    def __init__(
        self,
        slow_frames: int = 8,
        slow_kernel: tuple[int, int] = (1, 2),
        fast_grid: tuple[int, int] = (4, 4),
        slow_pool: str = "avg",
        slow_sampling: str = "center",
    ) -> None:
        super().__init__()
        self.slow_frames = slow_frames
        self.slow_kernel = tuple(slow_kernel)
        self.fast_grid = tuple(fast_grid)
        self.slow_pool = slow_pool
        self.slow_sampling = slow_sampling

    def slow_indices(self, frames: int) -> list[int]:
        """Frame indices of the slow pathway.

        `center`: the middle of `slow_frames` equal parts (all frames if fewer).
        `linspace`: SlowFast-LLaVA's own rule, the start of each of `slow_frames` equal
        parts (`linspace(0, T, n + 1)` truncated, last dropped: 0, 5, ..., 45 for 10 of 50).
        """
        if self.slow_sampling == "linspace":
            edges = torch.linspace(0, frames, self.slow_frames + 1).to(torch.int32).tolist()
            return [min(index, frames - 1) for index in edges[:-1]]
        count = min(self.slow_frames, frames)
        return [int((index + 0.5) * frames / count) for index in range(count)]

    def _slow_grid(self, grid: tuple[int, int]) -> tuple[int, int]:
        return math.ceil(grid[0] / self.slow_kernel[0]), math.ceil(grid[1] / self.slow_kernel[1])

    def _fast_grid(self, grid: tuple[int, int]) -> tuple[int, int]:
        return min(self.fast_grid[0], grid[0]), min(self.fast_grid[1], grid[1])

    def num_tokens(self, frames: int, grid: tuple[int, int]) -> int:
        slow_h, slow_w = self._slow_grid(grid)
        fast_h, fast_w = self._fast_grid(grid)
        return len(self.slow_indices(frames)) * slow_h * slow_w + frames * fast_h * fast_w

    def forward(self, frame_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        grids = _as_grid(frame_tokens, grid)
        pool = F.max_pool2d if self.slow_pool == "max" else F.avg_pool2d
        slow = pool(grids[self.slow_indices(grids.shape[0])], self.slow_kernel, ceil_mode=True)
        fast = F.adaptive_avg_pool2d(grids, self._fast_grid(grid))
        return torch.cat([_from_grid(slow), _from_grid(fast)], dim=0)


class HiCoCompressor(TokenCompressor):
    """VideoChat-Flash's clip-level HiCo: ToMe-merge each 4-frame clip to `tokens_per_frame`*4.

    Why clips: neighbouring frames are highly redundant, so merging across a clip's
    frames removes temporal redundancy as well as spatial. An image has no neighbours to
    share with, so it keeps more: `image_tokens` (VideoChat-Flash's tome16_mlp_hd64: 64).
    """

    def __init__(
        self,
        tokens_per_frame: int = 16,
        clip_frames: int = 4,
        max_ratio: float = 0.5,
        image_tokens: int = 64,
    ) -> None:
        super().__init__()
        self.tokens_per_frame = tokens_per_frame
        self.clip_frames = clip_frames
        self.max_ratio = max_ratio
        self.image_tokens = image_tokens

    def num_image_tokens(self, grid: tuple[int, int]) -> int:
        return min(self.image_tokens, grid[0] * grid[1])

    def compress_image(self, patch_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        merged = merge_to(
            patch_tokens.reshape(1, -1, patch_tokens.shape[-1]),
            self.num_image_tokens(grid),
            self.max_ratio,
        )
        return merged.reshape(-1, patch_tokens.shape[-1])

    def _clip_target(self, clip_len: int, grid: tuple[int, int]) -> int:
        return min(self.tokens_per_frame, grid[0] * grid[1]) * clip_len

    def num_tokens(self, frames: int, grid: tuple[int, int]) -> int:
        full, rest = divmod(frames, self.clip_frames)
        total = full * self._clip_target(self.clip_frames, grid)
        return total + (self._clip_target(rest, grid) if rest else 0)

    def forward(self, frame_tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        frames, patches, channels = frame_tokens.shape
        full = (frames // self.clip_frames) * self.clip_frames
        outputs = []
        if full:
            clips = frame_tokens[:full].reshape(-1, self.clip_frames * patches, channels)
            merged = merge_to(clips, self._clip_target(self.clip_frames, grid), self.max_ratio)
            outputs.append(merged.reshape(-1, channels))
        if full < frames:
            rest = frame_tokens[full:].reshape(1, -1, channels)
            merged = merge_to(rest, self._clip_target(frames - full, grid), self.max_ratio)
            outputs.append(merged.reshape(-1, channels))
        return torch.cat(outputs, dim=0)


COMPRESSORS: dict[str, type[TokenCompressor]] = {
    "hico": HiCoCompressor,
    "slowfast": SlowFastCompressor,
    "pool": PoolCompressor,
    "none": NoCompression,
}

# String options and their allowed values (checked like the numbers' positivity).
OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "slow_pool": ("avg", "max"),
    "slow_sampling": ("center", "linspace"),
}


def compressor_problems(name: str, options: dict[str, object]) -> list[tuple[str, str]]:
    """(option, message) for every problem with a compressor config, checked before any
    model is built: an unknown name or option, a wrong type, a count that is not positive,
    a merge ratio outside (0, 1]. An empty list means `compressor(name, **options)` builds."""
    if name not in COMPRESSORS:
        return [("", f"unknown compressor {name!r}; known: {', '.join(COMPRESSORS)}")]
    hints = typing.get_type_hints(COMPRESSORS[name].__init__)
    problems = []
    for option, value in options.items():
        if option not in hints or option == "return":
            known = sorted(set(hints) - {"return"})
            problems.append((option, f"unknown option of {name!r} (known: {known})"))
            continue
        converted, type_problems = check_type(value, hints[option], option)
        if type_problems:
            problems.append((option, type_problems[0].message))
            continue
        if option in OPTION_CHOICES:
            if converted not in OPTION_CHOICES[option]:
                problems.append((option, f"must be one of {list(OPTION_CHOICES[option])}"))
            continue
        numbers = converted if isinstance(converted, tuple) else (converted,)
        if any(number <= 0 for number in numbers):
            problems.append((option, f"must be positive, got {value!r}"))
        elif option == "max_ratio" and converted > 1:
            problems.append((option, f"must be at most 1, got {value!r}"))
    return problems


def compressor(name: str, **options: object) -> TokenCompressor:
    """Build a compressor by registry name with its options (from a config).

    Raises:
        ValueError: naming each problem `compressor_problems` finds.
    """
    problems = compressor_problems(name, dict(options))
    if problems:
        raise ValueError(
            "; ".join(f"{option or 'name'}: {message}" for option, message in problems)
        )
    return COMPRESSORS[name](**options)
