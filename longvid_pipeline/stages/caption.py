"""Caption stage: give every clip a caption (and structured events when known).

Captions are what the QA stage builds questions from, so where they come from is a
backend chosen by name from `CAPTION_BACKENDS`: the ground-truth sidecar of the demo
world ("annotations"), the site's subtitle cues ("subtitles"), and later a VLM on GPU
actors. Registry entries are import paths so a recipe that never names the VLM never
imports a model library; the stage runs in an actor pool (`uses_actor`) so that a model
backend loads once per actor in `setup()`, while the two sidecar backends load nothing.

A clip with nothing to say (no event or cue overlaps it) keeps its row with caption
None: it is still a valid span of the video, and "known empty" is information the QA
stage needs to tell a complete timeline from a gappy one. Such clips are counted in
`item.validation["clips"]["caption_stage.caption_present"]`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from longvid_pipeline.captioning.base import Captioner, ClipCaption, shorten
from longvid_pipeline.captioning.config import CAPTION_BACKENDS, CaptionConfig
from longvid_pipeline.item import WorkItem
from longvid_pipeline.registry import import_object
from longvid_pipeline.stage import Stage


def backend_class(name: str) -> type[Captioner]:
    """Import and return the caption backend registered under `name`."""
    return import_object(CAPTION_BACKENDS[name])


class CaptionStage(Stage):
    """Fill caption, caption_source, caption_model and attributes of every clip."""

    name: ClassVar[str] = "caption"
    uses_actor: ClassVar[bool] = True
    Config: ClassVar[type] = CaptionConfig

    def setup(self) -> None:
        """Build the backend once per worker (a model backend loads its weights here)."""
        self.backend: Captioner = backend_class(self.config.backend)(self.config)
        self.backend.setup()

    def process(self, item: WorkItem) -> WorkItem:
        if not item.clips:
            return item
        captions = self.backend.caption_clips(item, item.clips)
        model = self.backend.model_name(item)
        item.clips = [
            self._fill(clip, caption, model)
            for clip, caption in zip(item.clips, captions, strict=True)
        ]
        missing = sum(1 for clip in item.clips if clip["caption"] is None)
        item.validation.setdefault("clips", {})["caption_stage.caption_present"] = {
            "evaluated": len(item.clips),
            "failed": missing,
        }
        return item

    def _fill(self, clip: dict[str, Any], caption: ClipCaption, model: str) -> dict[str, Any]:
        """The clip row with the caption columns set (source and model even when empty)."""
        text = shorten(caption.caption, self.config.max_caption_chars) if caption.caption else None
        attributes = (
            json.dumps(caption.attributes, sort_keys=True)
            if caption.attributes is not None
            else None
        )
        return {
            **clip,
            "caption": text,
            "caption_source": self.backend.source,
            "caption_model": model,
            "attributes": attributes,
        }
