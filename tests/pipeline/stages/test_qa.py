"""QA stage: questions of the five task types checked against the sidecar they came from.

Items are built by hand (no video): a demo-like sidecar of six 10 s scenes and twelve
events, clipped per scene or in 7 s windows, captioned by the real caption stage, then
passed to the QA stage. Every answer is re-derived here from the sidecar events alone.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from support.rows import example_clip
from support.sidecars import demo_sidecar

from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.qa.phrasing import base_form, third_person
from longvid_pipeline.qa.tasks import TASKS
from longvid_pipeline.schemas import arrow_schema, row_problem
from longvid_pipeline.segmenting.sampling import TIMESTAMP_PROMPT
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.caption import CaptionConfig, CaptionStage
from longvid_pipeline.stages.qa import QAConfig, QAStage, split_for

VIDEO_ID = "v-qa0000000000000"
DURATION_S = 60.0
PROMPT = TIMESTAMP_PROMPT.format(duration=DURATION_S, frames=64)
BACKGROUNDS = ["blue", "green", "gray", "yellow", "blue", "purple"]  # blue twice: ambiguous scene
EVENTS = [  # index, scene, start, end, shape, color, action
    (0, 0, 1.0, 4.0, "circle", "red", "bounces"),
    (1, 0, 5.0, 8.0, "square", "blue", "spins"),
    (2, 1, 11.0, 14.0, "triangle", "green", "slides left"),
    (3, 1, 15.0, 18.0, "circle", "red", "grows"),
    (4, 2, 21.0, 24.0, "star", "yellow", "blinks"),
    (5, 2, 25.0, 28.0, "circle", "red", "bounces"),  # same caption as event 0: never named
    (6, 3, 31.0, 34.0, "square", "orange", "spins"),
    (7, 3, 35.0, 38.0, "triangle", "blue", "fades"),
    (8, 4, 41.0, 44.0, "circle", "green", "slides left"),
    (9, 4, 43.0, 47.0, "star", "red", "spins"),  # overlaps event 8: no "right after" for either
    (10, 5, 51.0, 54.0, "square", "yellow", "blinks"),
    (11, 5, 55.0, 58.0, "star", "orange", "wobbles"),
]
# The base form of each action, written out by hand to count independently of the code.
BASE = {
    "bounces": "bounce",
    "spins": "spin",
    "slides left": "slide left",
    "grows": "grow",
    "blinks": "blink",
    "fades": "fade",
    "wobbles": "wobble",
}


def sidecar() -> dict[str, Any]:
    scenes = [(10.0 * i, 10.0 * (i + 1), background) for i, background in enumerate(BACKGROUNDS)]
    return demo_sidecar(EVENTS, scenes)


def clip_row(index: int, start: float, end: float) -> dict[str, Any]:
    """A clips row as the segment stage leaves it (caption columns empty), at 25 fps."""
    return example_clip(
        VIDEO_ID,
        index,
        start,
        end,
        clip_id=f"c-{index:015d}",
        detector="annotations",
        static_score=0.2,
        start_frame=int(start * 25),
        end_frame=int(end * 25),
    )


def spans(step: float) -> list[tuple[float, float]]:
    starts = [step * i for i in range(int(-(-DURATION_S // step)))]
    return [(start, min(start + step, DURATION_S)) for start in starts]


def captioned_item(
    clip_spans: list[tuple[float, float]],
    backend: str = "annotations",
    subtitles: list[dict[str, Any]] | None = None,
    annotations: dict[str, Any] | None = None,
    duration_s: float = DURATION_S,
) -> WorkItem:
    """An item as the segment stage leaves it, captioned by the real caption stage."""
    item = WorkItem(input_id="in-qa", source={"url": "demo://1"}, source_kind="demo")
    item.video = {
        "video_id": VIDEO_ID,
        "uri": "media/v-qa.mp4",
        "duration_s": duration_s,
        "sample_frames": 64,
        "sample_fps": 1.0,
        "sample_timestamps": [round((i + 0.5) * duration_s / 64, 4) for i in range(64)],
        "timestamp_prompt": TIMESTAMP_PROMPT.format(duration=duration_s, frames=64),
    }
    item.annotations = annotations or sidecar()
    item.subtitles = subtitles or []
    item.clips = [clip_row(i, start, end) for i, (start, end) in enumerate(clip_spans)]
    config, errors = build_section(CaptionConfig, {"backends": [backend]}, "stages.caption")
    assert errors == []
    return CaptionStage(config, RunContext(out_dir="unused")).run_item(item)


def run_qa(item: WorkItem, **config: Any) -> list[dict[str, Any]]:
    qa_config, errors = build_section(QAConfig, {"per_task_max": 500, **config}, "stages.qa")
    assert errors == []
    done = QAStage(qa_config, RunContext(out_dir="unused")).run_item(item)
    assert done.alive, done.rejects
    return done.qa


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return run_qa(captioned_item(spans(10.0)))


def truth() -> list[dict[str, Any]]:
    return sorted(sidecar()["events"], key=lambda e: e["start_s"])


def event_named(phrase: str) -> dict[str, Any]:
    """The one sidecar event whose caption the quoted phrase is."""
    found = [e for e in truth() if e["caption"].rstrip(".").lower() == phrase]
    assert len(found) == 1, phrase
    return found[0]


def of_task(rows: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    return [row for row in rows if row["task"] == task]


def test_rows_fit_the_contract_and_cover_every_task(rows: list[dict[str, Any]]) -> None:
    schema = arrow_schema("qa")
    assert [row_problem(row, schema) for row in rows] == [None] * len(rows)
    counts = Counter(row["task"] for row in rows)
    # Derived by hand: 6 clips + 1 dense; 10 uniquely named events x 2 forms; 10 objects +
    # 7 actions; 44 ordered pairs + 7 "after" + 8 "before"; 8 scenes x 2 + 3 colors + 9 objects.
    assert counts == {
        "caption": 7,
        "grounding": 20,
        "counting": 17,
        "relationship": 59,
        "understanding": 28,
    }
    assert len({row["qa_id"] for row in rows}) == len(rows)
    assert {row["split"] for row in rows} == {split_for(VIDEO_ID, 0.05, 0.05)}


def test_conversations_carry_prompt_question_and_lettered_options(
    rows: list[dict[str, Any]],
) -> None:
    for row in rows:
        human, gpt = row["conversations"]
        assert human["from"] == "human" and gpt["from"] == "gpt"
        assert human["value"].startswith(f"<video>\n{PROMPT}\n{row['question']}")
        if row["options"] is None:
            assert row["answer_index"] is None and gpt["value"] == row["answer"]
            continue
        assert len(row["options"]) == 4 and len(set(row["options"])) == 4
        assert row["options"][row["answer_index"]] == row["answer"]
        letter = "ABCD"[row["answer_index"]]
        assert gpt["value"] == f"{letter}. {row['answer']}"
        assert human["value"].endswith(f"D. {row['options'][3]}\nAnswer with the option's letter.")


def test_counting_answers_equal_an_independent_count(rows: list[dict[str, Any]]) -> None:
    for row in of_task(rows, "counting"):
        by_object = re.fullmatch(
            r"How many times does an? (\w+) (\w+) appear in the video\?", row["question"]
        )
        by_action = re.fullmatch(
            r"How many times does an object (.+) in the video\?", row["question"]
        )
        if by_object:
            expected = sum(1 for e in truth() if (e["color"], e["shape"]) == by_object.groups())
        else:
            assert by_action, row["question"]
            expected = sum(1 for e in truth() if BASE[e["action"]] == by_action.group(1))
        assert expected > 0 and row["answer"] == str(expected), row["question"]
    red_circles = [
        r for r in rows if r["question"] == "How many times does a red circle appear in the video?"
    ]
    assert [r["answer"] for r in red_circles] == ["3"]


def test_dense_caption_lists_every_event_in_order(rows: list[dict[str, Any]]) -> None:
    dense = [r for r in of_task(rows, "caption") if r["question"].startswith("Describe the whole")]
    expected = [
        f"{n}. From {e['start_s']:.1f}s to {e['end_s']:.1f}s: {e['caption']}"
        for n, e in enumerate(truth(), start=1)
    ]
    assert [r["answer"].split("\n") for r in dense] == [expected]
    assert (dense[0]["evidence_start_s"], dense[0]["evidence_end_s"]) == (0.0, DURATION_S)


def test_grounding_spans_are_the_event_spans(rows: list[dict[str, Any]]) -> None:
    grounding = of_task(rows, "grounding")
    assert {r["options"] is None for r in grounding} == {True, False}
    for row in grounding:
        event = event_named(re.search(r'"(.+)"', row["question"]).group(1))
        assert (row["evidence_start_s"], row["evidence_end_s"]) == (
            event["start_s"],
            event["end_s"],
        )
        assert row["answer"] == f"From {event['start_s']:.1f}s to {event['end_s']:.1f}s."
        for option in row["options"] or []:
            start, end = map(float, re.fullmatch(r"From (.+)s to (.+)s\.", option).groups())
            assert option == row["answer"] or end <= event["start_s"] or start >= event["end_s"]


def test_relationship_answers_follow_event_order(rows: list[dict[str, Any]]) -> None:
    for row in of_task(rows, "relationship"):
        named = [event_named(p) for p in re.findall(r'"([^"]+)"', row["question"])]
        if row["question"].startswith("Which happens first"):
            assert row["answer"] == min(named, key=lambda e: e["start_s"])["caption"]
        elif row["question"].startswith("What happens right after"):
            following = [e for e in truth() if e["start_s"] >= named[0]["end_s"]]
            assert row["answer"] == following[0]["caption"]
        else:
            assert row["question"].startswith("What happens right before")
            preceding = [e for e in truth() if e["end_s"] <= named[0]["start_s"]]
            assert row["answer"] == max(preceding, key=lambda e: e["end_s"])["caption"]


UNDERSTANDING = {  # question pattern -> (sidecar fields the groups name, field answered)
    r"What color is the object that (.+)\?": (("action",), "color"),
    r"What does the (\w+) (\w+) do in the video\?": (("color", "shape"), "action"),
    r"What does the (\w+) do in the scene with the (\w+) background\?": (
        ("shape", "background"),
        "action",
    ),
    r"What color is the (\w+) in the scene with the (\w+) background\?": (
        ("shape", "background"),
        "color",
    ),
}


def test_understanding_answers_match_the_sidecar(rows: list[dict[str, Any]]) -> None:
    background = {e["index"]: BACKGROUNDS[e["scene_index"]] for e in truth()}
    variants = set()
    for row in of_task(rows, "understanding"):
        (pattern, (fields, answered)), match = next(
            (item, re.fullmatch(item[0], row["question"]))
            for item in UNDERSTANDING.items()
            if re.fullmatch(item[0], row["question"])
        )
        variants.add(pattern)
        facts = [{**e, "background": background[e["index"]]} for e in truth()]
        matches = [e for e in facts if tuple(e[f] for f in fields) == match.groups()]
        assert [e[answered] for e in matches] == [row["answer"]], row["question"]
    assert len(variants) == len(UNDERSTANDING)


def test_ambiguous_questions_are_skipped(rows: list[dict[str, Any]]) -> None:
    questions = [row["question"] for row in rows]
    # "A red circle bounces." happens twice: no question may name it.
    assert not [q for q in questions if "a red circle bounces" in q]
    # Two scenes have a blue background: "the scene with the blue background" is unclear.
    assert not [q for q in questions if "blue background" in q]
    # Events 8 and 9 overlap, so neither has a clear "right after" / "right before".
    assert not [
        q for q in questions if re.search(r'right (after|before) "a (green circle|red star)', q)
    ]
    # Two objects spin / blink / slide left / bounce: "the object that spins" is unclear.
    colors = [q for q in questions if q.startswith("What color is the object that")]
    assert sorted(colors) == [
        "What color is the object that fades?",
        "What color is the object that grows?",
        "What color is the object that wobbles?",
    ]


def test_same_seed_same_rows_and_another_seed_other_options() -> None:
    first = run_qa(captioned_item(spans(10.0)), per_task_max=3, seed=7)
    again = run_qa(captioned_item(spans(10.0)), per_task_max=3, seed=7)
    assert first == again
    everything = {r["qa_id"]: r for r in run_qa(captioned_item(spans(10.0)), seed=8)}
    other = run_qa(captioned_item(spans(10.0)), per_task_max=3, seed=8)
    assert {r["qa_id"] for r in first} != {r["qa_id"] for r in other}
    common = [r for r in first if r["qa_id"] in everything and r["options"]]
    assert common and any(r["options"] != everything[r["qa_id"]]["options"] for r in common)
    assert Counter(r["task"] for r in first) == dict.fromkeys(TASKS, 3)


def test_small_limits_draw_every_variant() -> None:
    rows = run_qa(captioned_item(spans(10.0)), per_task_max=3)
    relationship = [r["question"].split(" ")[:4] for r in of_task(rows, "relationship")]
    assert sorted(words[3] if words[0] == "What" else "first" for words in relationship) == [
        "after",
        "before",
        "first",
    ]
    assert "Describe the whole video in order" in " ".join(
        r["question"] for r in of_task(rows, "caption")
    )


def test_events_cut_by_clip_windows_are_rebuilt_exactly() -> None:
    windowed = run_qa(captioned_item(spans(7.0)))
    per_scene = run_qa(captioned_item(spans(10.0)))
    whole_video = [r for r in per_scene if r["task"] != "caption"]
    assert sorted(r["qa_id"] for r in whole_video) == sorted(
        r["qa_id"] for r in windowed if r["task"] != "caption"
    )
    assert [r["question"] for r in of_task(windowed, "caption")][
        0
    ] == "Describe what happens between 0.0s and 7.0s."


def test_a_gap_in_the_clips_stops_whole_video_questions() -> None:
    item = captioned_item(spans(10.0))
    item.clips = [clip for clip in item.clips if clip["clip_index"] != 2]
    rows = run_qa(item)
    assert Counter(r["task"] for r in rows) == {"caption": 5}


def test_subtitles_give_caption_and_grounding_only() -> None:
    cues = [
        {"start_s": 10.0 * i + 2, "end_s": 10.0 * i + 6, "text": f"Line number {i}."}
        for i in range(6)
    ]
    rows = run_qa(captioned_item(spans(10.0), backend="subtitles", subtitles=cues))
    assert Counter(r["task"] for r in rows) == {"caption": 7, "grounding": 12}
    said = [r for r in rows if r["question"] == 'During which time span is "line number 3" said?']
    assert [(r["answer"], r["evidence_start_s"]) for r in said] == [("From 30.0s to 40.0s.", 30.0)]
    schema = arrow_schema("qa")
    assert [row_problem(row, schema) for row in rows] == [None] * len(rows)


def test_missing_sampling_plan_rejects_the_input() -> None:
    item = captioned_item(spans(10.0))
    item.video = {**item.video, "timestamp_prompt": None}
    config, _ = build_section(QAConfig, {}, "stages.qa")
    done = QAStage(config, RunContext(out_dir="unused")).run_item(item)
    assert [r["reason"] for r in done.rejects] == ["no_sampling_plan"]


def test_config_reports_unknown_tasks_and_fractions() -> None:
    _, errors = build_section(QAConfig, {"tasks": ["caption", "ocr"]}, "stages.qa")
    assert len(errors) == 1 and "ocr" in errors[0].message
    _, errors = build_section(QAConfig, {"val_fraction": 0.6, "test_fraction": 0.6}, "stages.qa")
    assert len(errors) == 1


def test_split_is_stable_and_follows_the_fractions() -> None:
    ids = [f"v-{i:04d}" for i in range(2000)]
    splits = Counter(split_for(video_id, 0.1, 0.2) for video_id in ids)
    assert 150 < splits["val"] < 250 and 330 < splits["test"] < 470
    assert [split_for(v, 0.1, 0.2) for v in ids[:50]] == [split_for(v, 0.1, 0.2) for v in ids[:50]]
    assert {split_for(v, 0.0, 0.0) for v in ids[:50]} == {"train"}


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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_demo_world_sidecars_give_true_answers(seed: int) -> None:
    from longvid_pipeline.demo.world import plan_video

    plan = plan_video(
        "demo", duration_s=180.0, seed=seed, width=320, height=240, fps=10,
        min_scene_s=4.0, max_scene_s=20.0,
    )  # fmt: skip
    scenes = [(scene["start_s"], scene["end_s"]) for scene in plan["scenes"]]
    rows = run_qa(captioned_item(scenes, annotations=plan, duration_s=plan["duration_s"]))
    schema = arrow_schema("qa")
    assert [row_problem(row, schema) for row in rows] == [None] * len(rows)
    assert set(Counter(row["task"] for row in rows)) == set(TASKS)
    events = plan["events"]
    for row in of_task(rows, "counting"):
        obj = re.fullmatch(
            r"How many times does an? (\w+) (\w+) appear in the video\?", row["question"]
        )
        verb = re.fullmatch(r"How many times does an object (\w+) in the video\?", row["question"])
        if obj:
            expected = sum(1 for e in events if (e["color"], e["shape"]) == obj.groups())
        else:
            expected = sum(1 for e in events if e["action"] == verb.group(1) + "s")
        assert row["answer"] == str(expected)
    for row in of_task(rows, "grounding"):
        phrase = re.search(r'"(.+)"', row["question"]).group(1)
        named = [e for e in events if e["caption"].rstrip(".").lower() == phrase]
        assert [(e["start_s"], e["end_s"]) for e in named] == [
            (row["evidence_start_s"], row["evidence_end_s"])
        ]


def test_near_duplicate_questions_are_dropped_and_counted() -> None:
    from longvid_pipeline.stages.qa import near_duplicates

    def row(
        qa_id: str,
        question: str,
        answer: str = "3",
        task: str = "counting",
        options: list[str] | None = None,
    ) -> dict:
        return {
            "qa_id": qa_id,
            "task": task,
            "question": question,
            "answer": answer,
            "options": options,
            "evidence_start_s": 0.0,
            "evidence_end_s": 60.0,
        }

    rows = [
        row("a", "How many times does a red circle appear in the video?"),
        row("b", "How many times does a red circle appear in this video?"),  # reworded: 10/11 words
        row(
            "c", "How many times does a red circle appear in this video?", answer="4"
        ),  # other answer
        row(
            "d",
            "How many times does a red circle appear in the video?",
            options=["1", "2", "3", "4"],
        ),  # MC
        row("e", "How many times does a blue star appear in the video?"),
        {
            **row("f", "How many times does a red circle appear in this video?"),
            "evidence_end_s": 30.0,
        },
    ]
    kept, dropped = near_duplicates(rows, threshold=0.8)
    assert [r["qa_id"] for r in kept] == ["a", "c", "d", "e", "f"]  # f: other evidence span
    assert [(r["qa_id"], other, round(j, 2)) for r, other, j in dropped] == [("b", "a", 0.83)]
    kept_strict, _ = near_duplicates(rows, threshold=1.0)
    assert len(kept_strict) == 6
