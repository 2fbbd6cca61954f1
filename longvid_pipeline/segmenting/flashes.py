"""The flash filter of the `content` detector: a change of light is no cut.

A camera flash, a lamp or an explosion changes most pixels for a frame or two, then the
picture is back; a strobe does so again and again. A cut changes the picture for good.
A spike at frame i (a frame that may become a cut; the detector marks them as frames
stream past) is no cut when

- **relighting explains it**: frame i - 1, given one gain and a mild tint, is frame i
  (`differences.same_picture_diff`; the detector applies this one itself);
- **the picture returns**: one of the next `frames` frames is frame i - 1 again, moved
  on as the camera was moving before the spike, or relit; "again" means a difference of
  at most `match` times the spike's own (measured the same way), so a cut between two
  looks at one place (one palette, a small jump) stays a cut: what follows it differs
  from the frame before as much as the cut frame did. The frames up to the return are
  the flash: the change back to normal inside it is no cut either;
- **a strobe ends where it began**: spikes at most `frames` apart form a run; when the
  run lasts at most `max_run_s` and one of the frames just after it has the colour
  histogram of the frame before it (histograms, not pixels: a strobe can last seconds
  while the camera moves), the run's spikes are no cuts.

The filter streams like the detector: it keeps the last 2 * `frames` + 1 small frames,
the histograms of the frames next to spikes, and one number per flash.
"""

from __future__ import annotations

import numpy as np

from longvid_pipeline.segmenting.differences import (
    estimate_shifts,
    profiles,
    same_picture_diff,
)

HIST_BINS = 16  # per channel; 48x27 frames hold 81 pixels per bin on average


class FlashFilter:
    """Collects what the flash tests need while frames stream past; judges hits at the end.

    Only spikes that may become cuts are measured (the detector says which: a spike above
    its earlier neighbours that relighting does not explain), so footage without flashes
    costs next to nothing.
    """

    def __init__(self, *, frames: int, match: float, max_run_s: float, max_shift: int) -> None:
        self.frames, self.match, self.max_run_s = frames, match, max_run_s
        self.max_shift = max_shift
        self._tail: np.ndarray | None = None  # the last 2 * frames + 1 frames seen
        self._tail_shifts = np.zeros((0, 2), dtype=np.int64)
        self._tail_sizes = np.zeros(0, dtype=np.float32)
        self._seen = 0
        self._pending: list[int] = []  # spikes still waiting for the frames after them
        self._wanted = -1  # histograms are kept up to this frame (near a spike)
        self.flash_frames: dict[int, int] = {}  # flash start -> frames until the picture is back
        self.histograms: dict[int, np.ndarray] = {}  # frame -> colour histogram, near spikes

    def observe(
        self,
        frames: np.ndarray,
        shifts: np.ndarray,
        sizes: np.ndarray,
        spikes: np.ndarray,
        light: np.ndarray,
    ) -> None:
        """Take the next chunk: frames, the camera shift each one made, each one's size as
        `same_picture_diff` measures it, which are spikes that may become cuts or strobe
        steps, and which of those relighting explains (no cut; a strobe's step maybe)."""
        context = frames if self._tail is None else np.concatenate([self._tail, frames])
        context_shifts = np.concatenate([self._tail_shifts, shifts])
        context_sizes = np.concatenate([self._tail_sizes, sizes])
        first = self._seen + len(frames) - len(context)
        spike_frames = [int(i) + self._seen for i in np.nonzero(spikes)[0]]
        self._pending.extend(
            int(i) + self._seen for i in np.nonzero(spikes & ~light)[0] if i + self._seen > 1
        )
        self._seen += len(frames)
        self._keep_histograms(context, first, spike_frames)
        self._resolve(context, context_shifts, context_sizes, first, final=False)
        keep = 2 * self.frames + 1
        self._tail = context[-keep:].copy()
        self._tail_shifts, self._tail_sizes = context_shifts[-keep:], context_sizes[-keep:]

    def _keep_histograms(self, context: np.ndarray, first: int, spikes: list[int]) -> None:
        """Histograms of the frames from one before each spike to `frames` + 1 after it
        (spikes of the chunk before may still want some of this chunk's frames)."""
        wanted = set(range(first, self._wanted + 1))
        for spike in spikes:
            wanted.update(range(spike - 1, spike + self.frames + 2))
            self._wanted = max(self._wanted, spike + self.frames + 1)
        missing = sorted(i for i in wanted if first <= i < self._seen and i not in self.histograms)
        if missing:
            found = channel_histograms(context[np.asarray(missing) - first])
            self.histograms.update(zip(missing, found, strict=True))

    def _resolve(
        self, context: np.ndarray, shifts: np.ndarray, sizes: np.ndarray, first: int, final: bool
    ) -> None:
        """Measure each pending spike whose following frames have all arrived."""
        end = first + len(context)
        waiting = []
        for spike in self._pending:
            if not final and spike + self.frames >= end:
                waiting.append(spike)
                continue
            at = spike - first
            step = shifts[max(0, at - 4) : at].mean(axis=0)  # the camera's motion before
            after = context[at + 1 : at + 1 + self.frames]
            lag = self._return_lag(context[at - 1], after, step, self.match * float(sizes[at]))
            if lag is not None:
                self.flash_frames[spike] = lag
        self._pending = waiting

    def _return_lag(
        self, before: np.ndarray, after: np.ndarray, step: np.ndarray, limit: float
    ) -> int | None:
        """First m such that frame spike + m is frame spike - 1 again, moved on as the
        camera moved before the spike (or relit), within `limit`; None if none is."""
        if len(after) == 0:
            return None
        shifts = np.zeros((len(after), 2), dtype=np.int64)
        if self.max_shift:  # even a slow pan adds up to pixels over a few frames
            self._follow(before, after, step, shifts)
        base = np.broadcast_to(before, after.shape)
        returned = np.nonzero(same_picture_diff(after, base, shifts) <= limit)[0]
        return int(returned[0]) + 1 if len(returned) else None

    @staticmethod
    def _follow(
        before: np.ndarray, after: np.ndarray, step: np.ndarray, shifts: np.ndarray
    ) -> None:
        """Fill `shifts` with where each later frame's picture should be against `before`,
        searched 2 pixels around where the camera's motion before the spike takes it."""
        after_cols, after_rows = profiles(after)
        before_cols, before_rows = profiles(before[None])
        for index in range(len(after)):
            centre = np.rint(step * (index + 2)).astype(int)  # frames since spike - 1
            pair = after[index : index + 1]
            projections = (after_cols[index : index + 1], after_rows[index : index + 1],
                           before_cols, before_rows)  # fmt: skip
            shifts[index] = estimate_shifts(
                pair, before[None], 2, (int(centre[0]), int(centre[1])), projections
            )[0]

    def keep(self, hits: np.ndarray, cut_like: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The hits that are neither a flash (its start, or a change back inside it) nor
        inside a strobe that ends where it began. `cut_like` (the frames that passed the
        score tests, light changes included) makes the runs a strobe is made of."""
        if self._tail is not None and self._pending:
            first = self._seen - len(self._tail)
            self._resolve(self._tail, self._tail_shifts, self._tail_sizes, first, True)
        inside = {
            frame
            for start, lag in self.flash_frames.items()
            for frame in range(start, start + lag + 1)
        }
        runs = spike_runs(cut_like, self.frames)
        interval = float(np.median(np.diff(times))) if len(times) > 1 else 1 / 30
        kept = []
        for hit in hits:
            if int(hit) in inside:
                continue
            start, end = runs[np.searchsorted(runs[:, 1], hit)]
            if start < end <= start + self.max_run_s / interval and ends_as_it_began(
                self.histograms, int(hit), (int(start), int(end)), self.frames, self.match
            ):
                continue
            kept.append(hit)
        return np.asarray(kept, dtype=np.int64)


def channel_histograms(frames: np.ndarray) -> np.ndarray:
    """Per frame, three normalized 16-bin channel histograms, concatenated [n, 48]."""
    count = len(frames)
    codes = (frames >> 4).reshape(count, -1, 3).astype(np.int64)
    codes += np.arange(3) * HIST_BINS + (np.arange(count) * 3 * HIST_BINS)[:, None, None]
    counts = np.bincount(codes.ravel(), minlength=count * 3 * HIST_BINS)
    pixels = frames.shape[1] * frames.shape[2]
    return (counts.reshape(count, 3 * HIST_BINS) / max(1, pixels)).astype(np.float32)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """L1 distance of two colour histograms, 0..2 (mean over the channels)."""
    return float(np.abs(a - b).sum()) / 3


def ends_as_it_began(
    histograms: dict[int, np.ndarray], hit: int, run: tuple[int, int], settle: int, match: float
) -> bool:
    """Inside the run of spikes `run` = (start, end), the colour change at `hit` is
    undone: one of the `settle` frames after the run is closer to the frame before it
    than `match` times that change. (Per hit: a cut next to a flash keeps its own change
    and stays a cut. The last change of a strobe may be too close to the spike before it
    to count as a spike itself, hence the frames to settle.)"""
    start, end = run
    needed = [start - 1, hit - 1, hit]
    after = [i for i in range(end + 1, end + 2 + settle) if i in histograms]
    if not after or any(i not in histograms for i in needed):
        return False
    change = histogram_distance(histograms[hit - 1], histograms[hit])
    back = min(histogram_distance(histograms[start - 1], histograms[i]) for i in after)
    return back <= match * change


def spike_runs(spikes: np.ndarray, gap: int) -> np.ndarray:
    """Group sorted spike frames into runs [start, end] whose members are <= gap apart."""
    if len(spikes) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    breaks = np.nonzero(np.diff(spikes) > gap)[0]
    starts = np.concatenate([spikes[:1], spikes[breaks + 1]])
    ends = np.concatenate([spikes[breaks], spikes[-1:]])
    return np.stack([starts, ends], axis=1)
