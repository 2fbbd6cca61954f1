"""Frame differences that camera motion does not inflate (the `content` detector's score).

A cut replaces the picture; motion (a fast pan, a hand-held camera's jerk) mostly shifts
it. `estimate_shifts` finds each frame's global shift against another frame from row and
column profiles (integral projections: two 1-D searches instead of a 2-D one, a few
microseconds per frame), and `compensated_diff` takes the mean absolute difference after
undoing that shift, on the overlap. A pan then scores like a still shot, so a cut inside
fast motion stands out again; a cut stays a cut, because no shift makes two different
pictures agree. Everything works on whole chunks of small frames at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

TINT = 1.5  # how far light may move one colour channel against the others (relit_diff)


def mean_abs_diff(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """Mean |later - earlier| per frame pair, in uint8 (max - min: no widening copy)."""
    count = len(later)
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    a, b = later.reshape(count, -1), earlier.reshape(count, -1)
    diffs = np.maximum(a, b) - np.minimum(a, b)
    return diffs.sum(axis=1, dtype=np.uint32) * np.float32(1.0 / max(1, a.shape[1]))


def _profile_shift(later: np.ndarray, earlier: np.ndarray, low: int, high: int) -> np.ndarray:
    """Per pair, the shift d in [low, high] minimizing |later[x] - earlier[x - d]| over
    the overlap of two 1-D profiles [n, length] (means removed: brightness drops out)."""
    length = later.shape[1]
    later = later - later.sum(axis=1, keepdims=True) / length
    earlier = earlier - earlier.sum(axis=1, keepdims=True) / length
    errors = np.empty((high - low + 1, len(later)), dtype=np.float32)
    for index, shift in enumerate(range(low, high + 1)):
        a = later[:, max(0, shift) : length + min(0, shift)]
        b = earlier[:, max(0, -shift) : length - max(0, shift)]
        errors[index] = np.abs(a - b).sum(axis=1) / (length - abs(shift))
    return np.argmin(errors, axis=0) + low


def profiles(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(column sums [n, width], row sums [n, height]) of frames [n, height, width, 3]:
    the integral projections a shift is estimated from (integer sums: no float copy)."""
    count, height, width = frames.shape[:3]
    columns = frames.sum(axis=1, dtype=np.uint32).reshape(count, width, 3).sum(axis=2)
    rows = frames.reshape(count, height, width * 3).sum(axis=2, dtype=np.uint32)
    return columns.astype(np.float32) / height, rows.astype(np.float32) / width


def estimate_shifts(
    later: np.ndarray,
    earlier: np.ndarray,
    max_shift: int,
    centre: tuple[int, int] = (0, 0),
    projections: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Global (dx, dy) per frame pair [n, 2]: how far the picture moved, from integral
    projections (column and row sums) of frames [n, height, width, 3]. The search spans
    `max_shift` pixels around `centre` (vertically at most a quarter of the height), and
    never so far that less than half of a profile overlaps. `projections` (columns and
    rows of `later`, then of `earlier`) saves computing them again."""
    height, width = later.shape[1:3]
    if projections is None:
        projections = (*profiles(later), *profiles(earlier))
    later_cols, later_rows, earlier_cols, earlier_rows = projections
    reach_y = min(max_shift, max(0, height // 4))
    dx = _profile_shift(later_cols, earlier_cols, *_span(centre[0], max_shift, width))
    dy = _profile_shift(later_rows, earlier_rows, *_span(centre[1], reach_y, height))
    return np.stack([dx, dy], axis=1)


def _span(centre: int, reach: int, length: int) -> tuple[int, int]:
    """Shifts to search: `reach` around `centre`, keeping half of `length` overlapping."""
    half = length // 2
    centre = min(half, max(-half, centre))
    return max(-half, centre - reach), min(half, centre + reach)


def _overlaps(
    later: np.ndarray, earlier: np.ndarray, shifts: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per distinct shift: (pair indices, later's overlap, earlier's overlap moved onto it)."""
    height, width = later.shape[1:3]
    unique, groups = np.unique(shifts, axis=0, return_inverse=True)
    for group, (dx, dy) in enumerate(unique):
        members = np.nonzero(groups.reshape(-1) == group)[0]
        a = later[members, max(0, dy) : height + min(0, dy), max(0, dx) : width + min(0, dx)]
        b = earlier[members, max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)]
        yield members, a, b


def shifted_diff(later: np.ndarray, earlier: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Mean |later - earlier moved by its shift| over the overlap, per pair (grouped by
    shift). Shifts add up: A->B by s1 and B->C by s2 is A->C by s1 + s2."""
    out = np.empty(len(later), dtype=np.float32)
    for members, a, b in _overlaps(later, earlier, shifts):
        out[members] = mean_abs_diff(a, b)
    return out


def relit_diff(later: np.ndarray, earlier: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Like `shifted_diff`, with `earlier` first relit to the brightness of `later` over
    the overlap: the difference that is left when only the light changed (a strobe, a
    lamp, a tinted wash) is small; a new picture keeps its own. Light is one gain (1/4 to
    4) times a tint that moves each channel by at most `TINT` either way: a change from a
    red wall to a green one is a change of picture, however flat both are."""
    out = np.empty(len(later), dtype=np.float32)
    for members, a, b in _overlaps(later, earlier, shifts):
        count = len(members)
        a = a.reshape(count, -1, 3).astype(np.float32)
        b = b.reshape(count, -1, 3).astype(np.float32)
        pixels = a.shape[1]
        gains = (a.sum(axis=1) + pixels) / (b.sum(axis=1) + pixels)  # [count, 3]
        overall = np.exp(np.log(gains).sum(axis=1, keepdims=True) / 3)
        light = np.clip(overall, 0.25, 4.0) * np.clip(gains / overall, 1 / TINT, TINT)
        out[members] = np.abs(a - b * light[:, None, :]).sum(axis=(1, 2)) / (3 * pixels)
    return out


def same_picture_diff(later: np.ndarray, earlier: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """The least difference of each pair if it were one picture, moved (by `shifts`, or not
    at all: a shift measured on a flashed frame may be wrong) and relit."""
    still = np.zeros_like(shifts)
    return np.minimum.reduce([
        mean_abs_diff(later, earlier),
        shifted_diff(later, earlier, shifts),
        relit_diff(later, earlier, still),
        relit_diff(later, earlier, shifts),
    ])  # fmt: skip


def compensated_diff(
    later: np.ndarray,
    earlier: np.ndarray,
    max_shift: int,
    plain: np.ndarray,
    projections: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """(differences, shifts) per pair: the mean |difference| after undoing the estimated
    shift (at most `max_shift` pixels each way), never more than the plain difference
    `plain`, and the shift [n, 2] that was undone ((0, 0) where undoing it did not help)."""
    shifts = np.zeros((len(later), 2), dtype=np.int64)
    if max_shift <= 0 or len(later) == 0:
        return plain, shifts
    shifts = estimate_shifts(later, earlier, max_shift, projections=projections)
    moved = np.nonzero(shifts.any(axis=1))[0]  # the rest scores as plain already
    shifted = shifted_diff(later[moved], earlier[moved], shifts[moved])
    scores = plain.copy()
    better = shifted < plain[moved]
    scores[moved[better]] = shifted[better]
    shifts[moved[~better]] = 0
    return scores, shifts
