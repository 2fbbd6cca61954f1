"""The CPU half of a frame-reading captioner, and what both halves share.

`Preprocessing` decodes a video's clip frames at the model's size in one pass (the one
timestamp decoder, swscale bicubic; a centre crop where the family crops) in the stage's
CPU prep workers; `FrameCaptioner` is the base of the model backends (`transformers`,
`vllm`): prep workers call `prepare`, model actors `caption_clips`, which decodes itself
whatever the prep workers left out (clips past the payload budget, or no prep operator)
and generates in batches that halve on out-of-memory; a clip that still fails is
reported for a clip-level reject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from longvid_pipeline.captioning.base import Captions, ClipCaption
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.frames import frames_at
from longvid_pipeline.models.batching import AdaptiveBatcher
from longvid_pipeline.models.loading import load_processor_config
from longvid_pipeline.models.vision import VisionSpec, normalization, sample_times, vision_spec
from longvid_pipeline.stage import Reject


@dataclass
class PreparedClip:
    """One clip ready for the model: uint8 frames (T, H, W, 3) at model size."""

    position: int
    frames: np.ndarray
    fps: float
    images: list[str] | None = None  # the frames as image data URLs (vllm), frames then empty


@dataclass
class PreparedVideo:
    """A video's prepared clips by position; positions absent were over the budget."""

    clips: dict[int, PreparedClip] = field(default_factory=dict)


@dataclass(frozen=True)
class Preprocessing:
    """A checkpoint's preprocessing: family rules, normalization and frames per clip."""

    spec: VisionSpec
    mean: tuple[float, ...]
    std: tuple[float, ...]
    frames_per_clip: int

    @classmethod
    def load(cls, settings: Any, model_config: Any = None) -> Preprocessing:
        """Read the checkpoint's configs (config.json and its preprocessor config)."""
        if model_config is None:
            from transformers import AutoConfig

            model_config = AutoConfig.from_pretrained(settings.model)
        processor_config = load_processor_config(settings.model)
        spec = vision_spec(
            model_config, processor_config, settings.family, settings.max_frame_pixels
        )
        mean, std = normalization(spec, processor_config)
        frames = settings.frames_per_clip
        frames += -frames % spec.frame_multiple
        return cls(spec=spec, mean=mean, std=std, frames_per_clip=frames)

    def prepare(
        self,
        media_path: str,
        video: dict[str, Any],
        clips: list[dict[str, Any]],
        positions: list[int],
    ) -> PreparedVideo:
        """Decode the frames of the clips at `positions` in one pass over the file."""
        height, width = self.spec.decode_size(int(video["height"]), int(video["width"]))
        times = {
            position: sample_times(
                float(clips[position]["start_s"]),
                float(clips[position]["end_s"]),
                self.frames_per_clip,
            )
            for position in positions
        }
        flat = [t for position in positions for t in times[position]]
        if not flat:
            return PreparedVideo()
        frames = frames_at(media_path, flat, width=width, height=height, interpolation="BICUBIC")
        prepared = PreparedVideo()
        for offset, position in enumerate(positions):
            chunk = frames[offset * self.frames_per_clip : (offset + 1) * self.frames_per_clip]
            span = max(float(clips[position]["end_s"]) - float(clips[position]["start_s"]), 1e-3)
            prepared.clips[position] = PreparedClip(
                position=position,
                frames=np.ascontiguousarray(self.spec.finish(chunk)),
                fps=self.frames_per_clip / span,
            )
        return prepared

    def clip_bytes(self, video: dict[str, Any]) -> int:
        """uint8 bytes of one prepared clip of this video."""
        height, width = self.spec.decode_size(int(video["height"]), int(video["width"]))
        if self.spec.family.resize == "crop":
            height = width = self.spec.image_size
        return self.frames_per_clip * height * width * 3


class FrameCaptioner:
    """A caption backend that looks at frames: CPU prep, then batched generation.

    Subclasses name their recipe section (`section`), load their model in `load()` (which
    sets `self.preprocessing`), caption a batch in `generate()`, and may repackage
    prepared frames for the trip to the model actor in `finish()`.
    """

    source: ClassVar[str] = ""
    section: ClassVar[str] = ""

    def __init__(self, config: Any) -> None:
        self.settings = getattr(config, self.section)
        self.budget_bytes = int(config.prep.max_payload_mb) * 1024 * 1024

    def setup_prep(self) -> None:
        """CPU workers: only the checkpoint's configs, no weights."""
        self.preprocessing = Preprocessing.load(self.settings)

    def setup(self) -> None:
        """Model actors: load the model once."""
        self.load()
        self.batcher = AdaptiveBatcher(self.settings.clips_per_batch)

    def load(self) -> None:
        raise NotImplementedError

    def generate(self, clips: list[PreparedClip]) -> list[str | None]:
        """Captions of a batch of clips; raise on failure (the batcher isolates it)."""
        raise NotImplementedError

    def finish(self, prepared: PreparedVideo) -> PreparedVideo:
        """Prepared frames in the form this backend's model takes. Default: as they are."""
        return prepared

    def prepare(self, item: WorkItem, clips: list[dict[str, Any]]) -> PreparedVideo:
        """Frames of as many clips as fit the payload budget, in clip order."""
        return self._decode(item, clips, list(range(min(len(clips), self._fit(item)))))

    def _decode(
        self, item: WorkItem, clips: list[dict[str, Any]], positions: list[int]
    ) -> PreparedVideo:
        """Frames of `positions`; a file that cannot be decoded rejects the video."""
        try:
            media = str(item.media_path)
            return self.finish(
                self.preprocessing.prepare(media, item.video or {}, clips, positions)
            )
        except Exception as exc:  # PyAV raises several types; any of them means unreadable
            raise Reject("frames_unreadable", f"{type(exc).__name__}: {exc}"[:2000]) from exc

    def caption_clips(
        self, item: WorkItem, clips: list[dict[str, Any]], prepared: Any = None
    ) -> Captions:
        """Captions of every clip; clips the prep workers left out are decoded here, a
        budget's worth at a time (a long video never holds all its frames at once)."""
        ready: PreparedVideo = prepared if prepared is not None else PreparedVideo()
        texts: list[str | None] = [None] * len(clips)
        failed: dict[int, tuple[str, str]] = {}
        fit = self._fit(item)
        for first in range(0, len(clips), fit):
            positions = list(range(first, min(first + fit, len(clips))))
            missing = [position for position in positions if position not in ready.clips]
            if missing:
                ready.clips.update(self._decode(item, clips, missing).clips)
            run = self.batcher.run([ready.clips.pop(p) for p in positions], self.generate)
            texts[first : first + len(positions)] = run.results
            failed.update({first + offset: why for offset, why in run.failures.items()})
        return Captions(
            model=str(self.settings.model),
            clips=[ClipCaption(caption=text) for text in texts],
            failed=failed,
        )

    def _fit(self, item: WorkItem) -> int:
        """Clips of this video whose frames fit the payload budget (at least one)."""
        return max(1, self.budget_bytes // max(1, self.preprocessing.clip_bytes(item.video or {})))
