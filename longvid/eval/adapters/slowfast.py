"""Training-free SlowFast (SlowFast-LLaVA, Xu et al. 2024) settings for image LLaVA models.

Per frame, the vision tower's patch features go through the projector; then the slow
pathway keeps a few frames with light pooling and the fast pathway keeps every frame
pooled to a small grid, slow tokens first, then fast, no separators. The arithmetic is
that of apple/ml-slowfast-llava (`prepare_slowfast`): slow frames are
`linspace(0, T, n + 1)` truncated to integers, last dropped (0, 5, ..., 45 of 50); the slow
pooling is a max pool over horizontal pairs (`spatial_1d_max_pool`, 1x2); the fast
pathway is an adaptive average pool to 4x4. At the paper's defaults on a 24x24 patch
grid (CLIP ViT-L/14 at 336 px): 10 x 24 x 12 + 50 x 4 x 4 = 2,880 + 800 = 3,680 tokens.

The `figure1` preset is the setting the paper's overview figure draws: 8 slow frames
kept at the full 24x24 grid and the fast pathway at 4x4 (with 50 frames: 8 x 576 +
50 x 16 = 5,408 tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from longvid.model.compressors import SlowFastCompressor
from longvid_pipeline.config import param


@dataclass(frozen=True)
class SlowFastSetting:
    """The constants of one SlowFast configuration."""

    slow_frames: int
    slow_kernel: tuple[int, int]
    slow_pool: str
    fast_grid: tuple[int, int]


PRESETS: dict[str, SlowFastSetting] = {
    "paper": SlowFastSetting(10, (1, 2), "max", (4, 4)),
    "figure1": SlowFastSetting(8, (1, 1), "max", (4, 4)),
}


@dataclass
class SlowFastOptions:
    """`model.options.slowfast`: the paper's defaults, or a named preset replacing them."""

    preset: str | None = param(
        None,
        f"named setting that replaces the keys below: {list(PRESETS)}",
        choices=(None, *PRESETS),
    )
    slow_frames: int = param(10, "frames of the slow pathway", min=1)
    slow_kernel: list[int] = param([1, 2], "slow pooling kernel (rows, columns) on the patch grid")
    slow_pool: str = param("max", "slow pooling: max (the paper's) or avg", choices=("max", "avg"))
    fast_grid: list[int] = param([4, 4], "fast pathway output grid (rows, columns) per frame")

    def setting(self) -> SlowFastSetting:
        """The preset when one is named, else these keys."""
        if self.preset is not None:
            return PRESETS[self.preset]
        return SlowFastSetting(
            self.slow_frames, _pair(self.slow_kernel), self.slow_pool, _pair(self.fast_grid)
        )

    def problems(self) -> list[tuple[str, str]]:
        """(key, message) for grids and kernels that are not two positive integers."""
        return [
            (key, "must be two positive integers")
            for key in ("slow_kernel", "fast_grid")
            if len(getattr(self, key)) != 2 or any(v < 1 for v in getattr(self, key))
        ]


def _pair(values: list[int]) -> tuple[int, int]:
    """A validated two-integer key (`problems` checked the length) as a tuple."""
    rows, columns = values
    return (rows, columns)


def slowfast_compressor(setting: SlowFastSetting) -> SlowFastCompressor:
    """The shared SlowFast module with the paper's frame sampling."""
    return SlowFastCompressor(
        slow_frames=setting.slow_frames,
        slow_kernel=setting.slow_kernel,
        fast_grid=setting.fast_grid,
        slow_pool=setting.slow_pool,
        slow_sampling="linspace",
    )
