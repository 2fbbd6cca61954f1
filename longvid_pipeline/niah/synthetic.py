"""Synthetic needles: cards with exact attributes, so captions and answers are exact.

A card shows `count` shapes of one `shape` and `colour` in the left, middle or right of
the card, and a made-up four-letter word. Its caption states all five attributes, so two
cards of a sample never share a caption (their words differ), and a visual question about
one attribute has exactly one right option. The images are drawn here (needles/drawing),
so no model has seen them in pretraining. This module is pure Python; drawing needs PIL.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "orange": (245, 135, 15),
    "yellow": (235, 200, 0),
    "green": (35, 150, 55),
    "blue": (40, 90, 225),
    "purple": (135, 55, 185),
    "pink": (240, 110, 175),
    "black": (25, 25, 25),
}
SHAPES = ("circle", "triangle", "square", "diamond", "pentagon", "hexagon", "star")
COUNT_WORDS = ("one", "two", "three", "four", "five")
POSITIONS = {"left": "on the left", "middle": "in the middle", "right": "on the right"}
CONSONANTS, VOWELS = "BDFGKLMNPRSTVZ", "AEIOU"
# Attributes a visual question may ask about (each has at least four values), with the
# question text: fixed wording, versioned by the generator name (longvid-niah/1).
QUESTIONS = {
    "colour": "What colour are the shapes in the final frame?",
    "shape": "What shape is drawn in the final frame?",
    "count": "How many shapes are in the final frame?",
    "word": "Which word is written in the final frame?",
}


@dataclass(frozen=True)
class Card:
    """The exact content of one synthetic needle."""

    shape: str
    colour: str
    count: int
    position: str
    word: str

    def caption(self) -> str:
        """E.g. 'three red triangles on the left, with the word KAVO'."""
        noun = self.shape if self.count == 1 else _plural(self.shape)
        where = POSITIONS[self.position]
        return (
            f"{COUNT_WORDS[self.count - 1]} {self.colour} {noun} {where}, with the word {self.word}"
        )

    def value(self, attribute: str) -> str:
        """The answer to the visual question about `attribute`, as an option text."""
        return str(getattr(self, attribute))

    def attributes(self) -> dict[str, Any]:
        return asdict(self)


def _plural(shape: str) -> str:
    return shape + "es" if shape.endswith("x") else shape + "s"


def random_word(rng: random.Random) -> str:
    """A pronounceable made-up word (consonant-vowel twice): 4,900 of them."""
    return "".join(rng.choice(letters) for letters in (CONSONANTS, VOWELS) * 2)


def _distinct_words(rng: random.Random, count: int, exclude: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        word = random_word(rng)
        if word not in exclude and word not in words:
            words.append(word)
    return words


def draw_cards(rng: random.Random, count: int, exclude_words: set[str] | None = None) -> list[Card]:
    """`count` cards with distinct words (hence distinct captions and images)."""
    words = _distinct_words(rng, count, exclude_words or set())
    return [
        Card(
            shape=rng.choice(SHAPES),
            colour=rng.choice(list(COLOURS)),
            count=rng.randint(1, len(COUNT_WORDS)),
            position=rng.choice(list(POSITIONS)),
            word=word,
        )
        for word in words
    ]


def vocabulary(attribute: str, rng: random.Random, exclude: set[str]) -> list[str]:
    """Option texts for `attribute` other than `exclude`, in random order."""
    if attribute == "word":
        return _distinct_words(rng, 3, exclude)
    values = {
        "colour": list(COLOURS),
        "shape": list(SHAPES),
        "count": [str(n) for n in range(1, len(COUNT_WORDS) + 1)],
    }[attribute]
    others = [value for value in values if value not in exclude]
    rng.shuffle(others)
    return others


def differ_in(final: Card, other: Card, attribute: str, rng: random.Random) -> Card:
    """`other` changed (if needed) so it differs from `final` in `attribute`.

    The distractor chain's final card then answers the visual question wrongly: a model
    that stops at the wrong final frame picks a wrong option, not the right one by luck."""
    if other.value(attribute) != final.value(attribute):
        return other
    choice = vocabulary(attribute, rng, {final.value(attribute)})[0]
    value: Any = int(choice) if attribute == "count" else choice
    return Card(**{**other.attributes(), attribute: value})
