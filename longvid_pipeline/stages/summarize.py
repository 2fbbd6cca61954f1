"""Summarize stage: a text LLM writes each video's description from its timeline.

The caption stage already stores a summary on the `videos` row: the captioned timeline as
ordered lines with times. With a text LLM configured (`stages.summarize.llm`, backends
`transformers` or `vllm` from `models.registry.TEXT_LLMS`), this stage replaces it with
the model's description and names the model in `summary_model`; the model loads once per
actor. Without one the concatenation stays and the run summary says so. A video whose
summary the model cannot write (out of memory even alone, an error) keeps the
concatenation and is counted in `validation["videos"]["summarize_stage.summary_written"]`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from longvid_pipeline.captioning.config import SummarizeConfig
from longvid_pipeline.captioning.timeline import read_timeline, timeline_text
from longvid_pipeline.item import WorkItem
from longvid_pipeline.models.registry import text_llm
from longvid_pipeline.stage import Stage, StageSpec


class SummarizeStage(Stage):
    """Replace each video's concatenated summary with a text LLM's description."""

    name: ClassVar[str] = "summarize"
    uses_actor: ClassVar[bool] = True
    Config: ClassVar[type] = SummarizeConfig

    @classmethod
    def stands_alone(cls, spec: StageSpec) -> bool:
        return bool(spec.resources.num_gpus) or spec.config.llm.model is not None

    def setup(self) -> None:
        self.llm: Any = None
        if self.config.llm.model:
            self.llm = text_llm(self.config.llm.backend)(self.config.llm)
            self.llm.setup()

    def process(self, item: WorkItem) -> WorkItem:
        if self.llm is None or item.video is None:
            return item
        entries = read_timeline(item.video)
        if not entries:
            return item
        timeline = timeline_text(entries, self.config.max_timeline_chars)
        run = self.llm.generate([self.config.prompt.replace("{timeline}", timeline)])
        written = run.results[0]
        if written:
            item.video["summary"] = written
            item.video["summary_model"] = self.llm.model_name
        item.validation.setdefault("videos", {})["summarize_stage.summary_written"] = {
            "evaluated": 1,
            "failed": 0 if written else 1,
        }
        return item
