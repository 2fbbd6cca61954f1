"""QA stage: template questions checked against the sidecar they came from, and options
that text alone cannot pick.

Items are built by hand (no video): a demo-like sidecar of six 10 s scenes and twelve
events, or real demo-world plans, clipped per scene or in windows, captioned by the real
caption stage, then passed to the QA stage. Every answer is re-derived from the sidecar
events (support.qa_truth), independently of the generators.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from support import qa_items
from support.qa_items import run_qa, world_item
from support.qa_truth import Truth, check_row, ranks_of
from support.sidecars import demo_sidecar

from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.qa.config import TASKS, QAConfig
from longvid_pipeline.qa.formats import (
    ANSWER_STYLES,
    COUNT_INSTRUCTION,
    NONE_OF_THE_ABOVE,
    SPAN_INSTRUCTION,
    YES_NO_INSTRUCTION,
)
from longvid_pipeline.qa.phrasing import base_form, third_person
from longvid_pipeline.qa.templates import QUESTION_TYPES
from longvid_pipeline.schemas import arrow_schema, row_problem
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.qa import QAStage

VIDEO_ID = "v-qa0000000000000"
DURATION_S = 60.0
BACKGROUNDS = ["blue", "green", "gray", "yellow", "blue", "purple"]  # blue twice: ambiguous scene
EVENTS = [  # index, scene, start, end, shape, color, action
    (0, 0, 1.0, 4.0, "circle", "red", "bounces"),
    (1, 0, 5.0, 8.0, "square", "blue", "spins"),
    (2, 1, 11.0, 14.0, "triangle", "green", "slides left"),
    (3, 1, 15.0, 18.0, "circle", "red", "grows"),
    (4, 2, 21.0, 24.0, "star", "yellow", "blinks"),
    (5, 2, 25.0, 28.0, "circle", "red", "bounces"),  # same description as event 0: never named
    (6, 3, 31.0, 34.0, "square", "orange", "spins"),
    (7, 3, 35.0, 38.0, "triangle", "blue", "fades"),
    (8, 4, 41.0, 44.0, "circle", "green", "slides left"),
    (9, 4, 43.0, 47.0, "star", "red", "spins"),  # overlaps event 8: no "right after" for 8
    (10, 5, 51.0, 54.0, "square", "yellow", "blinks"),
    (11, 5, 55.0, 58.0, "star", "orange", "wobbles"),
]
EVERYTHING = {"quota": {"per_minute": 1000.0, "max_per_task": 1000}}


def sidecar() -> dict[str, Any]:
    scenes = [(10.0 * i, 10.0 * (i + 1), background) for i, background in enumerate(BACKGROUNDS)]
    return demo_sidecar(EVENTS, scenes)


def spans(step: float, duration_s: float = DURATION_S) -> list[tuple[float, float]]:
    starts = [step * i for i in range(int(-(-duration_s // step)))]
    return [(start, min(start + step, duration_s)) for start in starts]


def captioned_item(
    clip_spans: list[tuple[float, float]],
    backend: str = "annotations",
    subtitles: list[dict[str, Any]] | None = None,
    annotations: dict[str, Any] | None = None,
    duration_s: float = DURATION_S,
    video_id: str = VIDEO_ID,
) -> WorkItem:
    """An item as the segment stage leaves it, captioned by the real caption stage."""
    return qa_items.captioned_item(
        clip_spans, annotations or sidecar(), duration_s, video_id, backend, subtitles
    )


@pytest.fixture(scope="module")
def item() -> WorkItem:
    return captioned_item(spans(10.0))


@pytest.fixture(scope="module")
def rows(item: WorkItem) -> list[dict[str, Any]]:
    return run_qa(item, **EVERYTHING)


def test_rows_fit_the_contract_and_cover_every_question_type(rows: list[dict[str, Any]]) -> None:
    schema = arrow_schema("qa")
    assert [row_problem(row, schema) for row in rows] == [None] * len(rows)
    assert len({row["qa_id"] for row in rows}) == len(rows)
    assert {row["split"] for row in rows} == {"val"}  # the item's split, assigned by the runner
    every = {f"{task}/{t.name}" for task, types in QUESTION_TYPES.items() for t in types}
    assert {row["question_type"] for row in rows} == every
    # Counts here take at most three values per question type: too few for four fair
    # options, so counting is open only in this small world (see the demo-world tests).
    assert {(row["task"], row["form"]) for row in rows} == {
        (task, form) for task in TASKS for form in ("open", "multiple_choice")
    } - {("counting", "multiple_choice")}


def test_every_answer_matches_the_sidecar(item: WorkItem, rows: list[dict[str, Any]]) -> None:
    truth = Truth(sidecar())
    for row in rows:
        check_row(row, truth, item.clips)


def test_events_cut_by_clip_windows_give_the_same_true_answers() -> None:
    windowed = captioned_item(spans(7.0))
    rows = run_qa(windowed, **EVERYTHING)
    truth = Truth(sidecar())
    for row in rows:
        check_row(row, truth, windowed.clips)
    assert {r["task"] for r in rows} == set(TASKS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_demo_world_sidecars_give_true_answers(seed: int) -> None:
    from longvid_pipeline.demo.world import plan_video

    plan = plan_video(
        "demo", duration_s=240.0, seed=seed, width=320, height=240, fps=10,
        min_scene_s=3.0, max_scene_s=40.0,
    )  # fmt: skip
    clip_spans = [(s["start_s"], s["end_s"]) for s in plan["scenes"]]
    item = captioned_item(clip_spans, annotations=plan, duration_s=plan["duration_s"])
    rows = run_qa(item, **EVERYTHING)
    schema = arrow_schema("qa")
    assert [row_problem(row, schema) for row in rows] == [None] * len(rows)
    assert {row["task"] for row in rows} == set(TASKS)
    truth = Truth(plan)
    for row in rows:
        check_row(row, truth, item.clips)


def test_ambiguous_things_are_never_named(rows: list[dict[str, Any]]) -> None:
    questions = " ".join(row["question"] for row in rows)
    # "a red circle bounces" happens twice: no question may quote it.
    assert '"a red circle bounces"' not in questions
    # Two scenes have a blue background: they are named by a moment inside them instead.
    assert "blue background" not in questions
    assert "the moment 4.5s" in questions and "the moment 44.0s" in questions
    # Event 9 starts while 8 is on: the event starting next once 8 has *ended* is 10.
    after = [r for r in rows if r["question_type"] == "relationship/after"]
    after_8 = [r for r in after if '"a green circle slides left"' in r["question"]]
    assert after_8 and {r["answer"].rstrip(".") for r in after_8} == {"A yellow square blinks"}


def test_counting_says_what_is_counted_and_keeps_every_instance(
    rows: list[dict[str, Any]],
) -> None:
    counting = [r for r in rows if r["task"] == "counting"]
    assert all("scene" in r["question"] for r in counting)
    assert not [r for r in counting if "how many times" in r["question"].lower()]
    red_circle = [
        r
        for r in counting
        if r["question_type"] == "counting/object_scenes" and "a red circle" in r["question"]
    ]
    assert red_circle and {r["answer"] for r in red_circle} == {"3"}
    for row in red_circle:  # each counted appearance is evidence
        assert [(s["start_s"], s["end_s"]) for s in row["evidence_spans"]] == [
            (1.0, 4.0),
            (15.0, 18.0),
            (25.0, 28.0),
        ]
        assert (row["evidence_start_s"], row["evidence_end_s"]) == (1.0, 28.0)
    zero = [r for r in counting if r["answer"] == "0"]
    assert zero and all(r["negative"] for r in zero)
    assert all(r["evidence_spans"] == [{"start_s": 0.0, "end_s": DURATION_S}] for r in zero)


def test_conversations_end_with_the_instruction_of_the_answer_form(
    rows: list[dict[str, Any]],
) -> None:
    instructions = {COUNT_INSTRUCTION, SPAN_INSTRUCTION, YES_NO_INSTRUCTION}
    for row in rows:
        human, gpt = row["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        assert human["value"].startswith(f"<video>\n{row['question']}")
        assert row["timestamp_prompt"] not in human["value"]  # readers insert it once
        if row["options"] is None:
            assert gpt["value"] == row["answer"]
            last = human["value"].split("\n")[-1]
            assert last == row["question"] or last in instructions
            if row["task"] == "counting":
                assert last == COUNT_INSTRUCTION and row["answer"].isdigit()
            continue
        letter = "ABCD"[row["answer_index"]]
        assert gpt["value"] == letter
        assert human["value"].endswith(f"D. {row['options'][3]}\n{ANSWER_STYLES['letter']}")


def test_letter_text_style_answers_with_letter_and_text(item: WorkItem) -> None:
    rows = run_qa(item, choice={"answer_style": "letter_text"})
    choice = [r for r in rows if r["options"] is not None]
    assert choice
    for row in choice:
        human, gpt = row["conversations"]
        assert gpt["value"] == f"{'ABCD'[row['answer_index']]}. {row['answer']}"
        assert human["value"].endswith(ANSWER_STYLES["letter_text"])


def demo_rows(videos: int, **config: Any) -> list[dict[str, Any]]:
    """QA rows of `videos` demo-world plans (3-6 min), clipped per scene."""
    found = []
    for seed in range(videos):
        item = world_item(100 + seed, 180.0 + 30 * (seed % 7), f"v-{seed:015d}")
        found += run_qa(item, **config)
    return found


@pytest.fixture(scope="module")
def many() -> list[dict[str, Any]]:
    return demo_rows(30)


def test_letters_and_value_ranks_are_uniform(many: list[dict[str, Any]]) -> None:
    choice = [r for r in many if r["options"] is not None]
    assert len(choice) > 300
    letters = Counter(r["answer_index"] for r in choice)
    assert all(abs(letters[i] / len(choice) - 0.25) < 0.05 for i in range(4)), letters
    per_video: dict[tuple[str, str], Counter[int]] = {}
    for r in choice:  # positions are dealt from a deck: each video's letters balance
        per_video.setdefault((r["video_id"], r["task"]), Counter())[r["answer_index"]] += 1
    for counts in per_video.values():
        assert max(counts[i] for i in range(4)) - min(counts[i] for i in range(4)) <= 1
    numeric = [r for r in choice if r["task"] == "counting"]
    rank = Counter(ranks_of(r["options"])[r["answer_index"]] for r in numeric)
    assert len(numeric) > 80
    assert all(abs(rank[k] / len(numeric) - 0.25) < 0.09 for k in range(4)), rank


def test_negatives_come_at_the_recipe_rates(many: list[dict[str, Any]]) -> None:
    choice = [r for r in many if r["options"] is not None and r["task"] != "counting"]
    offered = [r for r in choice if NONE_OF_THE_ABOVE in r["options"]]
    right = [r for r in offered if r["answer"] == NONE_OF_THE_ABOVE]
    assert all(r["options"][-1] == NONE_OF_THE_ABOVE and r["negative"] for r in right)
    # Offered about 4 x none_rate of the time, and right in about a quarter of those.
    assert 0.25 < len(offered) / len(choice) < 0.55
    assert 0.12 < len(right) / len(offered) < 0.38
    objects = [r for r in many if r["question_type"] == "counting/object_scenes"]
    zero = [r for r in objects if r["answer"] == "0"]
    assert 0.05 < len(zero) / len(objects) < 0.3  # absent_rate 0.15
    appearance = [r for r in many if r["question_type"] == "understanding/appearance"]
    assert (
        appearance and 0.3 < sum(r["answer"] == "No." for r in appearance) / len(appearance) < 0.7
    )


def test_same_seed_same_rows_and_another_seed_other_rows(item: WorkItem) -> None:
    first = run_qa(item, seed=7)
    assert first == run_qa(item, seed=7)
    other = run_qa(item, seed=8)
    assert {r["qa_id"] for r in first} != {r["qa_id"] for r in other}


def test_quota_grows_with_duration_within_the_caps() -> None:
    short = run_qa(captioned_item(spans(10.0)), quota={"per_minute": 4.0, "min_per_task": 1})
    counts = Counter(r["task"] for r in short)
    assert counts["grounding"] == 4  # 1 minute x 4 per minute
    capped = run_qa(captioned_item(spans(10.0)), quota={"per_minute": 100.0, "max_per_task": 6})
    assert max(Counter(r["task"] for r in capped).values()) == 6


def test_quota_of_a_two_hour_video_exceeds_a_three_minute_one() -> None:
    from longvid_pipeline.qa.config import QuotaConfig
    from longvid_pipeline.qa.posing import task_quota

    quota = QuotaConfig()
    assert task_quota(7200.0, quota) > 5 * task_quota(180.0, quota)


def test_a_gap_in_the_clips_stops_whole_video_questions() -> None:
    item = captioned_item(spans(10.0))
    item.clips = [clip for clip in item.clips if clip["clip_index"] != 2]
    rows = run_qa(item, **EVERYTHING)
    assert {r["question_type"] for r in rows} == {"caption/clip"}


def test_subtitles_give_caption_grounding_and_order_only() -> None:
    cues = [
        {"start_s": 10.0 * i + 2, "end_s": 10.0 * i + 6, "text": f"Line number {i}."}
        for i in range(6)
    ]
    rows = run_qa(captioned_item(spans(10.0), backend="subtitles", subtitles=cues), **EVERYTHING)
    assert {r["task"] for r in rows} == {"caption", "grounding", "relationship"}
    said = [r for r in rows if r["question_type"] == "grounding/event_span"]
    named = [r for r in said if '"line number 3"' in r["question"]]  # asked once, in either form
    assert [(r["answer"], r["evidence_start_s"]) for r in named] == [("From 30.0s to 40.0s.", 30.0)]
    schema = arrow_schema("qa")
    assert [row_problem(row, schema) for row in rows] == [None] * len(rows)


def test_missing_sampling_plan_rejects_the_input(item: WorkItem) -> None:
    import copy

    broken = copy.deepcopy(item)
    broken.video = {**broken.video, "timestamp_prompt": None}
    config, _ = build_section(QAConfig, {}, "stages.qa")
    done = QAStage(config, RunContext(out_dir="unused")).run_item(broken)
    assert [r["reason"] for r in done.rejects] == ["no_sampling_plan"]


def test_config_reports_every_problem_with_its_key() -> None:
    _, errors = build_section(QAConfig, {"tasks": ["caption", "ocr"]}, "stages.qa")
    assert len(errors) == 1 and "ocr" in errors[0].message
    _, errors = build_section(
        QAConfig,
        {"counting": {"generator": "gpt", "open_share": 2}, "choice": {"answer_style": "word"}},
        "stages.qa",
    )
    assert {e.key for e in errors} == {
        "stages.qa.counting.generator",
        "stages.qa.counting.open_share",
        "stages.qa.choice.answer_style",
    }
    _, errors = build_section(QAConfig, {"grounding": {"generator": "llm"}}, "stages.qa")
    assert [e.message for e in errors] == ["llm.model: required when a task's generator is llm"]


def test_near_duplicate_questions_are_dropped_and_counted() -> None:
    from longvid_pipeline.qa.dedup import near_duplicates

    def row(qa_id: str, question: str, answer: str = "3", form: str = "open") -> dict:
        return {
            "qa_id": qa_id, "task": "counting", "form": form, "question": question,
            "answer": answer, "evidence_start_s": 0.0, "evidence_end_s": 60.0,
        }  # fmt: skip

    rows = [
        row("a", "In how many scenes does a red circle appear in the video?"),
        row("b", "In how many scenes does a red circle appear in this video?"),  # reworded
        row("c", "In how many scenes does a red circle appear in this video?", answer="4"),
        row("d", "In how many scenes does a red circle appear in the video?", form="mc"),
        {
            **row("e", "In how many scenes does a red circle appear in this video?"),
            "evidence_end_s": 30.0,
        },
    ]
    kept, dropped = near_duplicates(rows, threshold=0.8)
    assert [r["qa_id"] for r in kept] == ["a", "c", "d", "e"]
    assert [(r["qa_id"], other, round(j, 2)) for r, other, j in dropped] == [("b", "a", 0.83)]
    assert len(near_duplicates(rows, threshold=1.0)[0]) == 5


def test_verb_forms() -> None:
    assert [base_form(a) for a in ("bounces", "slides left", "flies", "flashes", "spin")] == [
        "bounce",
        "slide left",
        "fly",
        "flash",
        "spin",
    ]
    assert [third_person(a) for a in ("bounce", "fly", "flash", "slides left")] == [
        "bounces",
        "flies",
        "flashes",
        "slides left",
    ]


def test_every_question_type_has_five_phrasings_per_form() -> None:
    for types in QUESTION_TYPES.values():
        for qtype in types:
            for phrasings in (qtype.open_phrasings, qtype.choice_phrasings):
                assert len(phrasings) == 0 or len(set(phrasings)) >= 5, qtype.full_name
