"""The segment stage: shots, clip spans, filter scores and the sampling plan of a video.

One decode pass (longvid_pipeline.segmenting.decode) feeds the chosen shot detector and samples
the filter statistics; clip assembly (longvid_pipeline.segmenting.assembly) turns shots into clip
spans; filters are scores first and only drop clips when `filters.mode` is "drop".
Caption frames are not produced here: the caption stage seeks by timestamp in the
normalized file. Stretches that do not decode become clips-level rejects
(`corrupt_span`), so a damaged file still yields clips for the part that plays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import av

from longvid_pipeline.ids import stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.segmenting.assembly import ClipSpan, assemble_spans
from longvid_pipeline.segmenting.clip_files import cut_clip_file, starts_on_keyframe
from longvid_pipeline.segmenting.config import DetectorConfig, SegmentConfig
from longvid_pipeline.segmenting.decode import DecodeResult, DecodeSettings, decode_pass
from longvid_pipeline.segmenting.filters import clip_scores
from longvid_pipeline.segmenting.health import decodable_stretches
from longvid_pipeline.segmenting.sampling import plan_for
from longvid_pipeline.segmenting.shots import (
    AnnotationsDetector,
    ContentDetector,
    FixedDetector,
    ShotDetector,
    TransNetV2Detector,
    load_transnetv2,
)
from longvid_pipeline.stage import Reject, Stage


def _content(config: DetectorConfig, item: WorkItem, model: Any) -> ShotDetector:
    options = config.content
    return ContentDetector(
        frame_size=(options.width, options.height),
        frame_resize=options.resize,
        min_score=options.min_score,
        adaptive_ratio=options.adaptive_ratio,
        window=options.window,
        min_shot_s=config.min_shot_s,
        motion_shift=options.motion_shift,
        motion_floor=options.motion_floor,
        flash_frames=options.flash_frames,
        flash_match=options.flash_match,
        flash_max_s=options.flash_max_s,
    )


def _transnetv2(config: DetectorConfig, item: WorkItem, model: Any) -> ShotDetector:
    return TransNetV2Detector(
        model, threshold=config.transnetv2.threshold, min_shot_s=config.min_shot_s
    )


def _fixed(config: DetectorConfig, item: WorkItem, model: Any) -> ShotDetector:
    return FixedDetector(stride_s=config.fixed.stride_s)


def _annotations(config: DetectorConfig, item: WorkItem, model: Any) -> ShotDetector:
    scenes = (item.annotations or {}).get("scenes")
    if not scenes:
        raise Reject("no_annotations", "detector 'annotations' needs a sidecar with 'scenes'")
    return AnnotationsDetector(scenes=scenes)


DETECTORS: dict[str, Callable[[DetectorConfig, WorkItem, Any], ShotDetector]] = {
    "content": _content,
    "transnetv2": _transnetv2,
    "fixed": _fixed,
    "annotations": _annotations,
}


class SegmentStage(Stage):
    """Shots -> clip rows with filter scores; the sampling plan on the videos row."""

    name: ClassVar[str] = "segment"
    uses_actor: ClassVar[bool] = True
    Config: ClassVar[type] = SegmentConfig

    def setup(self) -> None:
        """Load TransNetV2 once per actor when it is the detector; nothing otherwise."""
        detector = self.config.detector
        self.model = (
            load_transnetv2(detector.transnetv2.device) if detector.name == "transnetv2" else None
        )

    def process(self, item: WorkItem) -> WorkItem:
        if not item.media_path or not item.video:
            raise Reject("no_media", "segment needs the normalized media from fetch")
        if not self._ready:
            self.setup()
            self._ready = True
        detector = DETECTORS[self.config.detector.name](self.config.detector, item, self.model)
        result = self._decode(item.media_path, detector)
        duration_s = float(item.video.get("duration_s") or 0.0) or float(result.frame_times[-1])
        stretches, missing = decodable_stretches(result, duration_s, self.config.decode.hole_s)
        cuts = detector.cuts(result.frame_times)
        spans = [
            span
            for stretch in stretches
            for span in assemble_spans(
                stretch.start_s,
                stretch.end_s,
                cuts,
                self.config.assembly,
                result.frame_times,
                result.stats,
            )
        ]
        self._emit_clips(item, spans, result, detector.name)
        for hole in missing:
            self._reject_missing(item, hole)
        self._set_sampling_plan(item.video, duration_s)
        return item

    def _decode(self, path: str, detector: ShotDetector) -> DecodeResult:
        filters = self.config.filters
        settings = DecodeSettings(
            detector_size=detector.frame_size,
            detector_resize=detector.frame_resize,
            stats_size=(filters.width, filters.height),
            stats_fps=filters.sample_fps,
            black_luma=filters.black_luma,
            threads=self.config.decode.threads,
        )
        try:
            result = decode_pass(path, settings, detector.consume)
        except (av.error.FFmpegError, IndexError) as exc:
            raise Reject("no_frames", f"cannot decode {Path(path).name}: {exc}") from exc
        if len(result.frame_times) == 0:
            raise Reject("no_frames", f"{len(result.error_times)} packets failed, no frame decoded")
        return result

    def _emit_clips(
        self, item: WorkItem, spans: list[ClipSpan], result: DecodeResult, detector: str
    ) -> None:
        """Build clip rows; keep them or (drop mode) send those past thresholds to rejects."""
        assert item.video is not None
        fps = float(item.video.get("fps") or 0.0) or 1.0 / result.frame_interval
        kept = []
        for index, span in enumerate(spans):
            row = _clip_row(item.video["video_id"], index, span, fps, detector)
            row.update(clip_scores(result.stats, span, self.config.filters))
            failure = self._filter_failure(row)
            if failure and self.config.filters.mode == "drop":
                item.reject_row(self.name, "clips", failure[0], failure[1], row)
                continue
            if self.config.clip_files.write:
                self._write_clip_file(item, row, span, result)
            kept.append(row)
        item.clips = kept
        if self.config.clip_files.write and self.context.store_url:  # workers share no folder
            from longvid_pipeline.store import StoreOut

            StoreOut(self.context.store_url).upload_media(self.context.out, item.video["video_id"])

    def _filter_failure(self, row: dict[str, Any]) -> tuple[str, str] | None:
        """(reason, detail with the score) of the first threshold the clip fails, or None."""
        config = self.config.filters
        checks = [
            ("black", row["black_score"] > config.max_black_score, f"black_score={row['black_score']:.3f} > max_black_score={config.max_black_score}"),
            ("static", row["static_score"] > config.max_static_score, f"static_score={row['static_score']:.3f} > max_static_score={config.max_static_score}"),
            ("low_quality", row["quality_score"] < config.min_quality_score, f"quality_score={row['quality_score']:.3f} < min_quality_score={config.min_quality_score}"),
        ]  # fmt: skip
        return next(((reason, detail) for reason, failed, detail in checks if failed), None)

    def _write_clip_file(
        self, item: WorkItem, row: dict[str, Any], span: ClipSpan, result: DecodeResult
    ) -> None:
        relative = Path("clips") / row["video_id"] / f"{row['clip_id']}.mp4"
        copy = starts_on_keyframe(span.start_s, result.keyframe_times, result.frame_interval / 2)
        row["clip_cut"] = cut_clip_file(
            Path(item.media_path or ""), self.context.out / relative, span,
            copy=copy, crf=self.config.clip_files.crf, preset=self.config.clip_files.preset,
        )  # fmt: skip
        row["clip_uri"] = relative.as_posix()

    def _reject_missing(self, item: WorkItem, hole: Any) -> None:
        row = {
            "video_id": item.video_id,
            "start_s": round(hole.start_s, 4),
            "end_s": round(hole.end_s, 4),
            "decode_errors": hole.decode_errors,
        }
        detail = f"no decodable video in [{hole.start_s:.3f}, {hole.end_s:.3f}) s; {hole.decode_errors} packets failed to decode"
        item.reject_row(self.name, "clips", hole.reason, detail, row)

    def _set_sampling_plan(self, video: dict[str, Any], duration_s: float) -> None:
        plan = plan_for(duration_s, self.config.sampling)
        video["sample_frames"] = plan.frames
        video["sample_fps"] = float(plan.fps)
        video["sample_timestamps"] = [float(t) for t in plan.timestamps]
        video["timestamp_prompt"] = plan.prompt


def _clip_row(
    video_id: str, index: int, span: ClipSpan, fps: float, detector: str
) -> dict[str, Any]:
    """A clips row (contract schemas/clips.sql) before scores; caption columns stay null."""
    start_frame = int(round(span.start_s * fps))
    return {
        "clip_id": "c-" + stable_hash(video_id, index),
        "video_id": video_id,
        "clip_index": index,
        "start_s": round(float(span.start_s), 6),
        "end_s": round(float(span.end_s), 6),
        "start_frame": start_frame,
        "end_frame": max(start_frame + 1, int(round(span.end_s * fps))),
        "shot_boundaries_s": [round(float(t), 6) for t in span.shot_boundaries_s],
        "detector": detector,
        "black_score": None,
        "static_score": None,
        "quality_score": None,
        "caption": None,
        "caption_source": None,
        "caption_model": None,
        "attributes": None,
        "clip_uri": None,
        "clip_cut": None,
    }
