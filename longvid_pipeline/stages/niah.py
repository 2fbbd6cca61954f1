"""Niah stage: build one needle-in-a-video-haystack sample per input, as a `niah` row.

Runs on the inputs of a benchmark build (`source.kind: output`): each input is one sample
of a (length, depth) cell, planned by niah.grid over the videos of an existing output
(`source.path`). The stage draws the needles (synthetic cards, or user images from a
manifest), places them and the haystack, writes the clues and the two questions, and
renders each needle as a PNG. It decodes no video: the row records haystack timestamps
and `longvid-pipeline render-niah` (or an evaluator) reads them with the one frame
decoder. A sample that cannot be built becomes an input-level reject with the reason
(`haystack_too_short`, `clue_too_long`, `haystack_changed`, ...).

Runs as an actor: the needle source (a manifest's images are fetched and checked) and the
haystack videos are loaded once per worker. Config lives in niah.config (light).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from longvid_pipeline.ids import stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.niah.chains import SampleError
from longvid_pipeline.niah.config import NiahConfig
from longvid_pipeline.niah.grid import SOURCE_KIND, SampleSpec
from longvid_pipeline.niah.haystack import HaystackVideo, load_pool, pool_digest
from longvid_pipeline.stage import Reject, Stage

IMAGE_LEVEL = "needle_image"


class NiahStage(Stage):
    """Benchmark samples from sample inputs; see the module docstring."""

    name: ClassVar[str] = "niah"
    uses_actor: ClassVar[bool] = True
    Config: ClassVar[type] = NiahConfig

    def setup(self) -> None:
        """The needle source and the sample builder (PIL loads here, not at import)."""
        from longvid_pipeline.niah.build import SampleBuilder
        from longvid_pipeline.niah.needles import needle_source

        self.needles = needle_source(self.config.needles, self.context.out / ".niah_images")
        self.builder = SampleBuilder(self.config, self.needles)
        self._pools: dict[str, tuple[list[HaystackVideo], str]] = {}

    def process(self, item: WorkItem) -> WorkItem:
        if item.source_kind != SOURCE_KIND:
            raise Reject("not_a_sample", f"niah builds samples of source kind {SOURCE_KIND!r}")
        spec = SampleSpec.from_source(item.source)
        self._record_image_rejects(item)
        try:
            pool, digest = self._pool(spec.haystack_root)
            if digest != spec.pool_digest:
                raise Reject(
                    "haystack_changed",
                    f"the videos under {spec.haystack_root} changed since the inputs were planned",
                )
            item.niah = [self.builder.build(spec, pool, item.input_id)]
        except SampleError as exc:
            raise Reject(exc.reason, exc.detail) from exc
        return item

    def _pool(self, root: str) -> tuple[list[HaystackVideo], str]:
        """The haystack videos of `root` and their digest, read once per worker."""
        if root not in self._pools:
            pool = load_pool(Path(root))
            self._pools[root] = (pool, pool_digest(pool))
        return self._pools[root]

    def _record_image_rejects(self, item: WorkItem) -> None:
        """Manifest rows that cannot be needles, one `rejects` row each for the whole build.

        Every sample carries them under an id derived from the image row alone, so the
        writer (which drops a repeated reject id) keeps exactly one per bad image."""
        for bad in self.needles.rejects:
            item.reject_row(self.name, IMAGE_LEVEL, bad.reason, bad.detail, bad.row)
            row_key = json.dumps(bad.row, sort_keys=True, default=str)
            item.rejects[-1]["reject_id"] = "rj-" + stable_hash(IMAGE_LEVEL, bad.reason, row_key)
