"""Haystacks: dataset videos sampled at a fixed rate and concatenated, and where needles go.

A haystack is a list of segments (video id, media uri, frame timestamps); frame j of the
haystack is the j-th timestamp across segments. Videos are taken in a per-sample shuffled
order from a random offset into the first, so samples of one dataset differ; when the
dataset has fewer frames than a haystack needs, the videos are looped again (or the
sample is rejected, `frames.allow_repeat: false`). Nothing here decodes: the row records
timestamps, and the one frame decoder (`media.frames.iter_frames_at`) reads them when a
sample is rendered or evaluated.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid_pipeline.ids import stable_hash
from longvid_pipeline.niah.chains import SampleError


class HaystackError(SampleError):
    """The dataset cannot provide the haystack, or the needles do not fit it."""


@dataclass(frozen=True)
class HaystackVideo:
    """One dataset video as haystack material."""

    video_id: str
    uri: str
    duration_s: float
    sha256: str

    def frame_count(self, fps: float) -> int:
        """Frames at `fps`, each at the middle of its 1/fps slot (always inside the video)."""
        return max(0, math.floor(self.duration_s * fps + 1e-9))


def load_pool(root: Path) -> list[HaystackVideo]:
    """The committed `videos` rows of the output at `root`, ordered by video id.

    Raises:
        HaystackError: `no_videos` when the output has no committed videos.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from longvid_pipeline.api import committed_files

    files = committed_files(root, "videos")
    columns = ["video_id", "uri", "duration_s", "sha256"]
    if not files:
        raise HaystackError("no_videos", f"no committed videos under {root}: build it first")
    table = pa.concat_tables(pq.read_table(path, columns=columns) for path in files)
    videos = [HaystackVideo(**row) for row in table.to_pylist()]
    return sorted(videos, key=lambda video: video.video_id)


def pool_digest(pool: list[HaystackVideo]) -> str:
    """Identity of the haystack material: same videos (ids, bytes, durations), same digest."""
    return stable_hash([(v.video_id, v.sha256, round(v.duration_s, 6)) for v in pool])


def plan_haystack(
    pool: list[HaystackVideo], frames: int, fps: float, rng: random.Random, allow_repeat: bool
) -> list[dict[str, Any]]:
    """Segments {video_id, uri, timestamps} that together hold `frames` haystack frames.

    Raises:
        HaystackError: `haystack_too_short` when the dataset has fewer frames and repeats
            are not allowed; `no_videos` when no video is long enough for one frame.
    """
    usable = [video for video in pool if video.frame_count(fps) > 0]
    if not usable:
        raise HaystackError("no_videos", f"no video lasts one frame at {fps} fps")
    total = sum(video.frame_count(fps) for video in usable)
    if total < frames and not allow_repeat:
        raise HaystackError(
            "haystack_too_short", f"{frames} frames wanted, the dataset has {total} at {fps} fps"
        )
    order = list(usable)
    rng.shuffle(order)
    start = rng.randrange(order[0].frame_count(fps))
    segments: list[dict[str, Any]] = []
    remaining, position = frames, 0
    while remaining:
        video = order[position % len(order)]
        take = min(video.frame_count(fps) - start, remaining)
        timestamps = [round((start + k + 0.5) / fps, 6) for k in range(take)]
        segments.append({"video_id": video.video_id, "uri": video.uri, "timestamps": timestamps})
        remaining -= take
        position, start = position + 1, 0
    return segments


def _span(count: int, hold: int, gap: int) -> int:
    """Frames `count` needles take back to back, `gap` apart."""
    return count * hold + max(count - 1, 0) * gap


def _ways(count: int, space: int, hold: int, gap: int) -> int:
    """Placements of `count` needles in `space` frames (0 when they do not fit)."""
    if count == 0:
        return 1
    free = space - _span(count, hold, gap)
    return math.comb(free + count, count) if free >= 0 else 0


def _spread(
    count: int, space: int, base: int, hold: int, gap: int, rng: random.Random
) -> list[int]:
    """Uniformly random starts of `count` needles in [base, base + space), `gap` apart."""
    if count == 0:
        return []
    free = space - _span(count, hold, gap)
    picks = sorted(rng.sample(range(free + count), count))
    return [base + pick - index + index * (hold + gap) for index, pick in enumerate(picks)]


def place_needles(
    length: int, count: int, depth: int, hold: int, gap: int, rng: random.Random
) -> tuple[int, list[int]]:
    """Start frame of the final needle (at `depth` percent) and of `count - 1` others.

    The others are spread uniformly over every placement that keeps needles `gap` frames
    apart (the split before/after the final needle is weighted by how many placements
    each side has). NiahConfig guarantees `length >= count * (hold + gap) + hold`, which
    leaves room at any depth.

    Raises:
        HaystackError: `needles_do_not_fit` when the length is too short after all.
    """
    final = round(depth / 100 * (length - hold))
    before, after = final - gap, length - (final + hold + gap)
    others = count - 1
    splits = [(left, others - left) for left in range(others + 1)]
    weights = [
        _ways(left, before, hold, gap) * _ways(right, after, hold, gap) for left, right in splits
    ]
    if not any(weights):
        raise HaystackError("needles_do_not_fit", f"{count} needles in {length} frames at {depth}%")
    left, right = rng.choices(splits, weights=[float(w) for w in weights])[0]
    starts = _spread(left, before, 0, hold, gap, rng)
    starts += _spread(right, after, final + hold + gap, hold, gap, rng)
    return final, starts
