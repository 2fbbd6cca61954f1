"""Caption stage: give every clip a caption, and the video its captioned timeline.

Captions are what the QA stage builds questions from, so where they come from is a list
of backends chosen by name (`stages.caption.backends`, registry in captioning/config.py):
dataset annotations and the demo world's sidecar (`annotations`), subtitle cues and
chapters (`subtitles`), and vision-language models (`transformers`, `vllm`). Several
combine (`captioning.combine`); every clip row names the backends and models behind its
caption. The timeline of captioned clips and a first summary go on the `videos` row
(`captioning.timeline`), whatever produced them.

With a model backend the stage runs as two operators (`operator_specs`): CPU workers
decode and resize each video's frames (`CaptionPrepStage`) and hand them, as uint8
arrays in the item's blob column (never in the JSON), to the model actor pool, where
the model loads once per actor. A clip the model fails on (out of memory even alone, an
error) becomes a clip-level reject; a video no backend can caption is rejected
(`no_captions_source`) unless `missing_source: keep`.

A clip with nothing to say keeps its row with caption None: it is still a valid span,
and "known empty" tells the QA stage a complete timeline from a gappy one. Such clips
are counted in `item.validation["clips"]["caption_stage.caption_present"]`.
"""

from __future__ import annotations

import json
import pickle
import time
import traceback
from dataclasses import replace
from typing import Any, ClassVar

from longvid_pipeline.captioning.base import Captioner, shorten
from longvid_pipeline.captioning.combine import Answer, CombinedCaption, combine, failures
from longvid_pipeline.captioning.config import CAPTION_BACKENDS, MODEL_BACKENDS, CaptionConfig
from longvid_pipeline.captioning.timeline import store_timeline
from longvid_pipeline.item import WorkItem
from longvid_pipeline.registry import import_object
from longvid_pipeline.stage import Reject, Resources, Stage, StageSpec, cpu_seconds

PREP_ERROR = "__prep_error__"  # blob key of a video the prep workers could not decode


def backend_class(name: str) -> type[Captioner]:
    """Import and return the caption backend registered under `name`."""
    return import_object(CAPTION_BACKENDS[name])


def active_backends(config: CaptionConfig) -> list[str]:
    """The backends that run: every listed one but a model backend with no model named."""
    return [
        name
        for name in config.backends
        if name not in MODEL_BACKENDS or getattr(config, name).model
    ]


class CaptionStage(Stage):
    """Fill caption, caption_source, caption_model and attributes of every clip, and the
    timeline and summary of the video."""

    name: ClassVar[str] = "caption"
    uses_actor: ClassVar[bool] = True
    Config: ClassVar[type] = CaptionConfig

    @classmethod
    def operator_specs(cls, spec: StageSpec) -> list[StageSpec]:
        """A model backend gets CPU prep workers in front of its actors."""
        if spec.config.model_backend is None:
            return [spec]
        prep = spec.config.prep
        resources = Resources(
            num_cpus=prep.num_cpus,
            num_gpus=0.0,
            concurrency=prep.concurrency,
            batch_size=spec.resources.batch_size,
        )
        return [
            replace(
                spec, name="caption_prep", implementation=CaptionPrepStage, resources=resources
            ),
            spec,
        ]

    @classmethod
    def stands_alone(cls, spec: StageSpec) -> bool:
        """Model actors form their own pool (its size is `resources.concurrency`)."""
        return bool(spec.resources.num_gpus) or spec.config.model_backend is not None

    def setup(self) -> None:
        """Build the backends once per worker (a model backend loads its weights here)."""
        self.backends: list[tuple[str, Captioner]] = []
        for name in active_backends(self.config):
            backend = backend_class(name)(self.config)
            backend.setup()
            self.backends.append((name, backend))

    def process(self, item: WorkItem) -> WorkItem:
        prepared = _unpack(item)
        if PREP_ERROR in prepared:
            reason, detail = prepared[PREP_ERROR]
            raise Reject(reason, detail)
        if not item.clips:
            if item.video is not None:
                store_timeline(item.video, [])
            return item
        answers = self._answers(item, prepared)
        combined = combine(answers, len(item.clips)) if answers else None
        failed = failures(answers)
        kept = []
        for position, clip in enumerate(item.clips):
            if position in failed:
                reason, detail = failed[position]
                item.reject_row(self.name, "clips", f"caption_{reason}", detail, clip)
            else:
                kept.append(self._fill(clip, combined[position] if combined else None))
        item.clips = kept
        missing = sum(1 for clip in item.clips if clip["caption"] is None)
        item.validation.setdefault("clips", {})["caption_stage.caption_present"] = {
            "evaluated": len(item.clips),
            "failed": missing,
        }
        if item.video is not None:
            store_timeline(item.video, item.clips)
        return item

    def _answers(self, item: WorkItem, prepared: dict[str, Any]) -> list[Answer]:
        """Every backend's captions; a backend without a source for this video is skipped,
        and when none has one the video is rejected (or kept, per `missing_source`)."""
        answers, skipped = [], []
        for name, backend in self.backends:
            try:
                captions = backend.caption_clips(item, item.clips, prepared.get(name))
            except Reject as rejection:
                if rejection.reason != "no_captions_source":
                    raise
                skipped.append(rejection)
                continue
            answers.append(Answer(name, getattr(self.config, name).label, captions))
        if not answers and self.config.missing_source == "reject":
            if skipped:
                raise skipped[0]
            raise Reject("no_captions_source", "no caption backend is configured")
        return answers

    def _fill(self, clip: dict[str, Any], caption: CombinedCaption | None) -> dict[str, Any]:
        """The clip row with the caption columns set (source and model even when empty)."""
        if caption is None:
            names = "+".join(active_backends(self.config)) or None
            return {**clip, "caption": None, "caption_source": names, "caption_model": None}
        text = shorten(caption.caption, self.config.max_caption_chars) if caption.caption else None
        attributes = (
            json.dumps(caption.attributes, sort_keys=True)
            if caption.attributes is not None
            else None
        )
        return {
            **clip,
            "caption": text,
            "caption_source": caption.source,
            "caption_model": caption.model,
            "attributes": attributes,
        }


class CaptionPrepStage(Stage):
    """The CPU half of a model backend: decode and resize each video's clip frames.

    Not a stage of its own in the accounts: it passes every item on and records a
    failure in the blob for the caption stage to reject, so `caption` keeps one account
    (inputs = passed + rejected); its time is added to the caption stage's.
    """

    name: ClassVar[str] = "caption_prep"
    uses_actor: ClassVar[bool] = True  # reads the checkpoint's configs once per worker
    Config: ClassVar[type] = CaptionConfig

    def setup(self) -> None:
        self.model_backend = str(self.config.model_backend)
        self.backend = backend_class(self.model_backend)(self.config)
        self.backend.setup_prep()  # type: ignore[attr-defined]

    def run_item(self, item: WorkItem) -> WorkItem:
        if not item.alive or not item.clips:
            return item
        if not self._ready:
            self.setup()
            self._ready = True
        wall0, cpu0 = time.perf_counter(), cpu_seconds()
        try:
            prepared = self.backend.prepare(item, item.clips)  # type: ignore[attr-defined]
            _pack(item, {self.model_backend: prepared})
        except Reject as rejection:  # rejected later, by the caption stage, for its accounts
            _pack(item, {PREP_ERROR: (rejection.reason, rejection.detail)})
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            _pack(item, {PREP_ERROR: (f"error_{type(exc).__name__}", detail[:2000])})
        account = item.account(CaptionStage.name)
        account.wall_s += time.perf_counter() - wall0
        account.cpu_s += cpu_seconds() - cpu0
        return item


def _pack(item: WorkItem, prepared: dict[str, Any]) -> None:
    item.blob = pickle.dumps(prepared, protocol=5)


def _unpack(item: WorkItem) -> dict[str, Any]:
    """What the prep workers handed over (and drop it from the item: it is spent)."""
    blob, item.blob = item.blob, None
    return pickle.loads(blob) if blob else {}
