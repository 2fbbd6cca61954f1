"""One sample from its spec: needles drawn and placed, chains, haystack, questions, a row.

Everything random comes from one generator seeded by the sample's key and the seeds, so
a sample is the same on any worker and in any run. The row is checked by the same solver
the expectation suite runs (niah.checks) before it leaves the builder: a sample whose
clues do not lead from the prompt to its final needle is never written.
"""

from __future__ import annotations

import json
import random
from typing import Any

from longvid_pipeline.ids import stable_hash
from longvid_pipeline.niah.chains import (
    PlannedNeedle,
    assemble,
    caption_phrase,
    caption_question,
    visual_question,
)
from longvid_pipeline.niah.checks import row_problems
from longvid_pipeline.niah.config import NiahConfig
from longvid_pipeline.niah.drawing import Layout, compose, png_bytes
from longvid_pipeline.niah.grid import SampleSpec
from longvid_pipeline.niah.haystack import HaystackVideo, place_needles, plan_haystack
from longvid_pipeline.niah.needles import NeedleSource


def sample_id_for(spec: SampleSpec, config_seed: int) -> str:
    return "n-" + stable_hash("niah-sample", spec.key(), config_seed)


class SampleBuilder:
    """Builds `niah` rows; holds what is the same for every sample of a build."""

    def __init__(self, config: NiahConfig, source: NeedleSource) -> None:
        self.config = config
        self.source = source
        frames, clues = config.frames, config.clues
        self.layout = Layout(
            frames.width,
            frames.height,
            clues.position,
            clues.font_size,
            clues.padding,
            clues.max_lines,
        )

    def build(self, spec: SampleSpec, pool: list[HaystackVideo], input_id: str) -> dict[str, Any]:
        """The `niah` row of `spec`.

        Raises:
            HaystackError: the dataset cannot give the haystack.
            ClueTooLong: a clue does not fit the band.
            ValueError: the needle source cannot fill the sample, or a check failed.
        """
        config, frames = self.config, self.config.frames
        sample_id = sample_id_for(spec, config.seed)
        rng = random.Random(sample_id)
        answer, distractor = self.source.draw(rng, spec.hops + 1, spec.distractor_needles)
        count = len(answer) + len(distractor)
        final, others = place_needles(
            spec.length, count, spec.depth, frames.hold_frames, frames.min_gap_frames, rng
        )
        plan = assemble(answer, distractor, final, others, config.clues.clue_template, rng)
        prompt = (
            config.clues.multi_hop_prompt.format(caption=caption_phrase(answer[0].caption))
            if spec.hops
            else config.clues.single_hop_prompt
        )
        haystack_frames = spec.length - count * frames.hold_frames
        haystack = plan_haystack(pool, haystack_frames, frames.fps, rng, frames.allow_repeat)
        taken = {content.caption for content in answer + distractor}
        fresh = self.source.fresh_captions(rng, taken, 3)
        visual = answer[-1].visual
        if visual is None:
            raise ValueError("the final needle has no visual question")
        questions = [
            caption_question(plan, fresh, spec.caption_answer_index, prompt, rng),
            visual_question(visual, spec.visual_answer_index, prompt, rng),
        ]
        row = {
            "sample_id": sample_id,
            "input_id": input_id,
            "benchmark": spec.benchmark,
            "hops": spec.hops,
            "length": spec.length,
            "depth": spec.depth,
            "replicate": spec.replicate,
            "fps": float(frames.fps),
            "width": frames.width,
            "height": frames.height,
            "hold_frames": frames.hold_frames,
            "haystack_root": spec.haystack_root,
            "haystack_frames": haystack_frames,
            "haystack": haystack,
            "needles": [self._needle_row(needle) for needle in plan.needles],
            "answer_chain": plan.answer_chain,
            "distractor_chain": plan.distractor_chain,
            "prompt": prompt,
            "questions": questions,
            "generator": config.generator,
        }
        problems = row_problems(row)
        if problems:
            raise ValueError(f"sample {sample_id} fails its checks: {'; '.join(problems)}")
        return row

    def _needle_row(self, needle: PlannedNeedle) -> dict[str, Any]:
        """One entry of the row's `needles` (contract type niah_needle)."""
        _, _, width, height = self.layout.content
        image = compose(
            self.source.image(needle.content, (width, height)), needle.clue_text, self.layout
        )
        return {
            "role": needle.role,
            "chain": needle.chain,
            "chain_position": needle.chain_position,
            "frame_index": needle.frame_index,
            "caption": needle.content.caption,
            "clue_text": needle.clue_text,
            "clue_target": needle.clue_target,
            "clue_box": list(self.layout.band) if needle.clue_text is not None else None,
            "png": png_bytes(image),
            "attributes": json.dumps(needle.content.attributes, sort_keys=True),
            "image_source": needle.content.image_source,
        }
