"""Where needle contents come from: synthetic cards (default) or a user image manifest.

Both sources answer the same three requests for a sample: draw the contents of the
answer chain and the distractor chain (distinct captions, no image twice; the final
needle carries its visual question), give captions of needles that are not in the
sample (wrong options of the caption question), and draw a needle's content image.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Protocol

from PIL import Image

from longvid_pipeline.niah.chains import NeedleContent, SampleError, VisualQuestion
from longvid_pipeline.niah.config import NeedlesConfig
from longvid_pipeline.niah.drawing import draw_card, letterbox
from longvid_pipeline.niah.images import ImageReject, load_user_images
from longvid_pipeline.niah.synthetic import QUESTIONS, Card, differ_in, draw_cards, vocabulary


class NeedleSource(Protocol):
    rejects: list[ImageReject]

    def draw(
        self, rng: random.Random, answer_count: int, distractor_count: int
    ) -> tuple[list[NeedleContent], list[NeedleContent]]: ...

    def fresh_captions(self, rng: random.Random, taken: set[str], count: int) -> list[str]: ...

    def image(self, content: NeedleContent, size: tuple[int, int]) -> Image.Image: ...


class SyntheticNeedles:
    """Cards drawn here: exact attributes, exact captions, exact answers."""

    def __init__(self) -> None:
        self.rejects: list[ImageReject] = []

    def draw(
        self, rng: random.Random, answer_count: int, distractor_count: int
    ) -> tuple[list[NeedleContent], list[NeedleContent]]:
        cards = draw_cards(rng, answer_count + distractor_count)
        answer, distractor = cards[:answer_count], cards[answer_count:]
        attribute = rng.choice(sorted(QUESTIONS))
        final = answer[-1]
        if distractor:
            distractor[-1] = differ_in(final, distractor[-1], attribute, rng)
        hard = [distractor[-1].value(attribute)] if distractor else []
        wrong = hard + vocabulary(attribute, rng, {final.value(attribute), *hard})
        visual = VisualQuestion(
            attribute, QUESTIONS[attribute], final.value(attribute), tuple(wrong)
        )
        return (
            [self._content(card, visual if card is final else None) for card in answer],
            [self._content(card, None) for card in distractor],
        )

    @staticmethod
    def _content(card: Card, visual: VisualQuestion | None) -> NeedleContent:
        return NeedleContent(card.caption(), "synthetic", card.attributes(), visual)

    def fresh_captions(self, rng: random.Random, taken: set[str], count: int) -> list[str]:
        words = {caption.rsplit(" ", 1)[-1] for caption in taken}
        return [card.caption() for card in draw_cards(rng, count, words)]

    def image(self, content: NeedleContent, size: tuple[int, int]) -> Image.Image:
        return draw_card(Card(**content.attributes), size)


class ManifestNeedles:
    """User images from a manifest, checked once per worker (see niah.images)."""

    def __init__(self, config: NeedlesConfig, cache: Path) -> None:
        self.images, self.rejects = load_user_images(config, cache)
        self._by_url = {image.url: image for image in self.images}

    def draw(
        self, rng: random.Random, answer_count: int, distractor_count: int
    ) -> tuple[list[NeedleContent], list[NeedleContent]]:
        wanted = answer_count + distractor_count
        if len(self.images) < wanted:
            raise SampleError(
                "too_few_images",
                f"the manifest has {len(self.images)} usable images, a sample needs {wanted}",
            )
        picked = rng.sample(self.images, wanted)
        contents = [
            NeedleContent(
                image.caption, image.url, {}, image.visual if i == answer_count - 1 else None
            )
            for i, image in enumerate(picked)
        ]
        return contents[:answer_count], contents[answer_count:]

    def fresh_captions(self, rng: random.Random, taken: set[str], count: int) -> list[str]:
        unused = [image.caption for image in self.images if image.caption not in taken]
        return rng.sample(unused, min(count, len(unused)))

    def image(self, content: NeedleContent, size: tuple[int, int]) -> Image.Image:
        with Image.open(self._by_url[content.image_source].path) as image:
            return letterbox(image, size)


def needle_source(config: NeedlesConfig, cache: Path) -> NeedleSource:
    """The source the recipe names (`stages.niah.needles.kind`)."""
    if config.kind == "manifest":
        return ManifestNeedles(config, cache)
    return SyntheticNeedles()
