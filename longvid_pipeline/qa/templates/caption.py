"""Caption questions: describe a clip window, or the whole video with times.

Clip windows work on any captioned timeline (subtitles and VLM captions included); the
dense caption needs the clips to cover the whole video. A wrong option of a window
question is another clip's caption sharing no sentence with the right one, so no
option is partly true.
"""

from __future__ import annotations

from collections.abc import Hashable

from longvid_pipeline.qa.distractors import CAPTION
from longvid_pipeline.qa.facts import Fact, FactSettings, QuestionType
from longvid_pipeline.qa.formats import format_span
from longvid_pipeline.qa.phrasing import seconds, sentence, sentences_of
from longvid_pipeline.qa.timeline import Scene, Timeline

TASK = "caption"


def clip_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    """One fact per captioned clip whose caption no other clip repeats word for word."""
    captions = [sentence(clip) for clip in timeline.clips]
    return [
        Fact(
            {"start": seconds(clip.start_s), "end": seconds(clip.end_s)},
            text,
            (clip.span,),
            key=clip.span,
        )
        for clip, text in zip(timeline.clips, captions, strict=True)
        if captions.count(text) == 1
    ]


def _no_shared_sentence(fact: Fact, value: Hashable, settings: FactSettings) -> bool:
    return not (sentences_of(str(fact.value)) & sentences_of(str(value)))


CLIP = QuestionType(
    task=TASK,
    name="clip",
    facts=clip_facts,
    open_phrasings=(
        "Describe what happens between {start} and {end}.",
        "What happens in the video from {start} to {end}?",
        "Give a description of the part of the video between {start} and {end}.",
        "Summarize the events shown from {start} to {end}.",
        "What can be seen in the segment that starts at {start} and ends at {end}?",
    ),
    choice_phrasings=(
        "Which description matches the video between {start} and {end}?",
        "Which of these describes what happens from {start} to {end}?",
        "What does the segment from {start} to {end} show?",
        "Which caption fits the part of the video between {start} and {end}?",
        "Which option best describes the video from {start} to {end}?",
    ),
    answer=lambda fact: str(fact.value),
    compatible=_no_shared_sentence,
    extra={"borrow": CAPTION},
)


def dense_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    """The whole video with times (only when the clips cover it all).

    Numbered lines keep a list of events from a small vocabulary readable and under
    validate's repeated-3-gram threshold: with scenes, one line per scene ("2. From 16.2s
    to 34.0s, dark blue background: a red diamond spins from 16.2s to 34.0s; ..."), which
    says the background once per scene instead of once per event; otherwise one line per
    event with its caption."""
    if not (timeline.complete and timeline.events):
        return []
    if timeline.structured and timeline.scenes:
        lines = [_scene_line(number, scene) for number, scene in enumerate(timeline.scenes, 1)]
    else:
        lines = [
            f"{number}. {format_span(e.start_s, e.end_s)[:-1]}: {sentence(e)}"
            for number, e in enumerate(timeline.events, start=1)
        ]
    return [Fact({}, "\n".join(lines), tuple(e.span for e in timeline.events), key="video")]


def _scene_line(number: int, scene: Scene) -> str:
    events = "; ".join(
        f"{e.description} from {seconds(e.start_s)} to {seconds(e.end_s)}" for e in scene.events
    )
    where = f", {scene.background} background" if scene.background else ""
    return f"{number}. {format_span(scene.start_s, scene.end_s)[:-1]}{where}: {events}."


DENSE = QuestionType(
    task=TASK,
    name="dense",
    facts=dense_facts,
    open_phrasings=(
        "Describe the whole video in order, giving the start and end time of each event.",
        "List every event of the video in order, each with its start and end time.",
        "Give a timed account of the entire video: what happens, from when to when.",
        "Write a dense caption of the video, with the time span of every event.",
        "Go through the video from beginning to end and describe each event with its times.",
    ),
    choice_phrasings=(),
    answer=lambda fact: str(fact.value),
    none_option=False,
)

QUESTION_TYPES = (CLIP, DENSE)
