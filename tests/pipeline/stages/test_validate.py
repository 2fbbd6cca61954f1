"""Validate stage: every expectation class catches its bad row, good rows pass untouched.

Items are built by hand with rows that fit the contracts (see `make_item`); each test
breaks one thing and checks the row lands in rejects naming the failed expectation.
One stage instance is shared (GX import and suite build happen once, like an actor).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.rows import example_clip, example_video

from longvid_pipeline.config import build_section
from longvid_pipeline.ids import stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.schemas import conform_rows
from longvid_pipeline.segmenting.sampling import SamplingConfig, plan_for
from longvid_pipeline.shards import sum_validation
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.validate import ValidateConfig, ValidateStage
from longvid_pipeline.validation import derived, report, suites

DURATION = 120.0
TASKS = ("caption", "grounding", "counting", "relationship", "understanding")


def make_video() -> dict[str, Any]:
    return example_video("demo:1", DURATION, has_annotations=True)


def make_clip(video: dict[str, Any], index: int, span_s: float) -> dict[str, Any]:
    start = index * span_s
    return example_clip(
        video["video_id"],
        index,
        start,
        start + span_s,
        caption=f"A red circle moves left in scene {index}.",
        caption_source="annotations",
        caption_model="demo",
    )


def make_qa(video: dict[str, Any], index: int) -> dict[str, Any]:
    task = TASKS[index % len(TASKS)]
    plan = plan_for(video["duration_s"], SamplingConfig())
    options = [f"{n} times" for n in (index % 7, index % 7 + 1, index % 7 + 2, index % 7 + 3)]
    question = f"Question {index} about the {task}?"
    choice = task in ("counting", "relationship")
    return {
        "qa_id": "q-" + stable_hash(video["video_id"], task, question),
        "video_id": video["video_id"],
        "video_uri": video["uri"],
        "video_duration_s": video["duration_s"],
        "task": task,
        "question_type": f"{task}/test",
        "form": "multiple_choice" if choice else "open",
        "negative": False,
        "question": question,
        "answer": options[1] if choice else f"A blue square appears at {index} s.",
        "options": options if choice else None,
        "answer_index": 1 if choice else None,
        "evidence_start_s": 1.0,
        "evidence_end_s": 5.0,
        "evidence_spans": [{"start_s": 1.0, "end_s": 5.0}],
        "sample_frames": plan.frames,
        "sample_fps": plan.fps,
        "sample_timestamps": plan.timestamps,
        "timestamp_prompt": plan.prompt,
        "conversations": [
            {"from": "human", "value": "<video>\n" + question},
            {"from": "gpt", "value": "answer"},
        ],
        "generator": "test/1",
        "split": "train",
    }


def make_item(clips: int = 6, qa: int = 10) -> WorkItem:
    video = make_video()
    item = WorkItem(input_id=video["input_id"], source={"url": video["url"]}, source_kind="demo")
    item.video = video
    item.clips = [make_clip(video, i, DURATION / clips) for i in range(clips)]
    item.qa = [make_qa(video, i) for i in range(qa)]
    return item


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> ValidateStage:
    out = tmp_path_factory.mktemp("out")
    return ValidateStage(ValidateConfig(), RunContext(out_dir=str(out)))


def validate(stage: ValidateStage, item: WorkItem) -> WorkItem:
    return stage.run_item(item)


def test_builder_rows_fit_the_contracts() -> None:
    item = make_item()
    for table, rows in (("videos", [item.video]), ("clips", item.clips), ("qa", item.qa)):
        assert conform_rows(table, rows)[1] == [], table


def test_good_rows_pass_untouched(stage: ValidateStage) -> None:
    item = make_item()
    before = copy.deepcopy((item.video, item.clips, item.qa))
    item = validate(stage, item)
    assert item.alive and item.rejects == []
    assert (item.video, item.clips, item.qa) == before
    assert set(item.validation) == {"videos", "clips", "qa"}
    for table, counts in item.validation.items():
        assert sorted(counts) == sorted(stage.runner.specs[table].names())
        assert all(c["failed"] == 0 for c in counts.values()), table


def _set(table: str, position: int, **values: Any) -> Callable[[WorkItem], None]:
    def apply(item: WorkItem) -> None:
        getattr(item, table)[position].update(values)

    return apply


def _dup_id(table: str, column: str) -> Callable[[WorkItem], None]:
    def apply(item: WorkItem) -> None:
        getattr(item, table)[2][column] = getattr(item, table)[0][column]

    return apply


def _bad_plan(item: WorkItem) -> None:
    item.qa[2]["sample_frames"] += 4  # prompt and timestamps still say the old count


def _reversed_timestamps(item: WorkItem) -> None:
    item.qa[2]["sample_timestamps"] = list(reversed(item.qa[2]["sample_timestamps"]))


PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"

# (case, table, break it, the failed expectations named in the reject, exactly)
CASES = [
    (
        "duplicate clip id",
        "clips",
        _dup_id("clips", "clip_id"),
        {"expect_column_values_to_be_unique(clip_id)"},
    ),
    (
        "start == end",
        "clips",
        _set("clips", 2, end_s=40.0, start_s=40.0),
        {f"{PAIR}(end_s,start_s)"},
    ),
    ("negative start", "clips", _set("clips", 2, start_s=-1.0), {f"{BETWEEN}(start_s)"}),
    (
        "end past duration",
        "clips",
        _set("clips", 2, end_s=DURATION + 1),
        {f"{PAIR}(_video_end_limit_s,end_s)"},
    ),
    (
        "score out of range",
        "clips",
        _set("clips", 2, quality_score=1.5),
        {f"{BETWEEN}(quality_score)"},
    ),
    (
        "clip of another video",
        "clips",
        _set("clips", 2, video_id="v-0000000000000000"),
        {f"{IN_SET}(_video_id_matches)"},
    ),
    (
        "empty caption",
        "clips",
        _set("clips", 2, caption=""),
        {"expect_column_value_lengths_to_be_between(caption)", f"{IN_SET}(_caption_ends_cleanly)"},
    ),
    (
        "caption cut mid-word",
        "clips",
        _set("clips", 2, caption="A red circle bou"),
        {f"{IN_SET}(_caption_ends_cleanly)"},
    ),
    (
        "degenerate caption",
        "clips",
        _set("clips", 2, caption="the the the the the the"),
        {f"{BETWEEN}(_caption_repetition)", f"{IN_SET}(_caption_ends_cleanly)"},
    ),
    ("duplicate qa id", "qa", _dup_id("qa", "qa_id"), {"expect_column_values_to_be_unique(qa_id)"}),
    ("task foo", "qa", _set("qa", 2, task="foo"), {f"{IN_SET}(task)"}),
    (
        "3 options",
        "qa",
        _set("qa", 2, options=["0 times", "3 times", "4 times"]),
        {f"{IN_SET}(_option_count)"},
    ),
    (
        "duplicate options",
        "qa",
        _set("qa", 2, options=["2 times", "3 times", "3 times", "4 times"]),
        {f"{IN_SET}(_options_distinct)"},
    ),
    (
        "answer not among options",
        "qa",
        _set("qa", 2, answer="9 times"),
        {f"{IN_SET}(_answer_in_options)", f"{IN_SET}(_answer_at_index)"},
    ),
    (
        "answer index out of range",
        "qa",
        _set("qa", 2, answer_index=4),
        {f"{BETWEEN}(answer_index)", f"{IN_SET}(_answer_at_index)"},
    ),
    (
        "options without answer index",
        "qa",
        _set("qa", 2, answer_index=None),
        {f"{IN_SET}(_choice_fields_paired)"},
    ),
    (
        "counting answer without a count",
        "qa",
        _set(
            "qa",
            2,
            answer="many times",
            options=["0 times", "1 times", "many times", "4 times"],
            answer_index=2,
        ),
        {f"{BETWEEN}(_count_answer)"},
    ),
    (
        "evidence start == end",
        "qa",
        _set("qa", 3, evidence_start_s=5.0),
        {f"{PAIR}(evidence_end_s,evidence_start_s)"},
    ),
    (
        "evidence past duration",
        "qa",
        _set("qa", 3, evidence_end_s=DURATION + 1),
        {f"{PAIR}(_evidence_end_limit_s,evidence_end_s)"},
    ),
    (
        "plan frame count off",
        "qa",
        _bad_plan,
        {
            "expect_column_pair_values_to_be_equal(_timestamp_count,sample_frames)",
            f"{IN_SET}(_prompt_mentions_plan)",
        },
    ),
    (
        "plan timestamps not increasing",
        "qa",
        _reversed_timestamps,
        {f"{IN_SET}(_timestamps_increasing)"},
    ),
    (
        "prompt with another duration",
        "qa",
        _set(
            "qa",
            2,
            timestamp_prompt="The video lasts for 99.00 seconds, and 120 frames are uniformly sampled from it.",
        ),
        {f"{IN_SET}(_prompt_mentions_plan)"},
    ),
    (
        "degenerate answer",
        "qa",
        _set("qa", 4, answer="go go go go go go go go."),
        {f"{BETWEEN}(_answer_repetition)"},
    ),
]


@pytest.mark.parametrize("case, table, breaker, expected", CASES, ids=[c[0] for c in CASES])
def test_each_expectation_catches_its_bad_row(
    stage: ValidateStage,
    case: str,
    table: str,
    breaker: Callable[[WorkItem], None],
    expected: set[str],
) -> None:
    item = make_item()
    breaker(item)
    bad_rows = [r for r in getattr(item, table) if r not in getattr(make_item(), table)]
    before = [copy.deepcopy(r) for r in getattr(item, table) if r not in bad_rows]
    kept_other = copy.deepcopy(item.qa if table == "clips" else item.clips)
    item = validate(stage, item)
    assert item.alive
    assert len(item.rejects) == 1
    reject = item.rejects[0]
    assert (reject["stage"], reject["level"], reject["reason"]) == (
        "validate",
        table,
        "expectations",
    )
    assert set(reject["detail"].removeprefix("failed: ").split(", ")) == expected
    assert json.loads(reject["row_json"]) == json.loads(json.dumps(bad_rows[-1], default=str))
    assert getattr(item, table) == before  # good rows untouched, order kept
    assert (item.qa if table == "clips" else item.clips) == kept_other
    for name in expected:
        assert item.validation[table][name]["failed"] == 1


def test_duplicate_keeps_first_copy(stage: ValidateStage) -> None:
    item = make_item(qa=5)
    item.qa.append(copy.deepcopy(item.qa[0]))
    item = validate(stage, item)
    assert [r["qa_id"] for r in item.qa] == [r["qa_id"] for r in make_item(qa=5).qa]
    assert item.validation["qa"]["expect_column_values_to_be_unique(qa_id)"] == {
        "evaluated": 6,
        "failed": 1,
    }


def test_counts_skip_nulls_and_sum_over_items(stage: ValidateStage) -> None:
    item = make_item(clips=4, qa=10)
    item.clips[0]["caption"] = None  # before captioning: not evaluated, not failed
    item.clips[1]["caption"] = "A red circle bou"
    item = validate(stage, item)
    clips = item.validation["clips"]
    assert clips["expect_column_value_lengths_to_be_between(caption)"] == {
        "evaluated": 3,
        "failed": 0,
    }
    assert clips[f"{IN_SET}(_caption_ends_cleanly)"] == {"evaluated": 3, "failed": 1}
    assert clips["expect_column_values_to_not_be_null(clip_id)"] == {"evaluated": 4, "failed": 0}
    # 4 of the 10 questions (counting, relationship) are multiple choice
    assert item.validation["qa"][f"{IN_SET}(_option_count)"] == {"evaluated": 4, "failed": 0}
    assert item.validation["qa"][f"{BETWEEN}(_count_answer)"] == {"evaluated": 2, "failed": 0}
    assert [r["clip_index"] for r in item.clips] == [0, 2, 3]
    merged = sum_validation([item.validation, item.validation])
    assert merged["clips"][f"{IN_SET}(_caption_ends_cleanly)"] == {"evaluated": 6, "failed": 2}


def test_bad_video_rejects_whole_input(stage: ValidateStage) -> None:
    item = make_item()
    item.video["duration_s"] = 0.0
    item.video["sha256"] = "not-a-digest"
    item = validate(stage, item)
    assert not item.alive and item.failed_stage == "validate"
    assert [r["level"] for r in item.rejects] == ["input"]
    detail = item.rejects[0]["detail"]
    assert f"{BETWEEN}(duration_s)" in detail
    assert "expect_column_values_to_match_regex(sha256)" in detail
    assert set(item.validation) == {"videos"}  # clips and qa were not looked at


def test_video_with_inconsistent_plan_is_rejected(stage: ValidateStage) -> None:
    item = make_item()
    item.video["sample_timestamps"] = item.video["sample_timestamps"][:-1]
    item = validate(stage, item)
    assert not item.alive
    assert item.rejects[0]["detail"] == (
        "failed: expect_column_pair_values_to_be_equal(_timestamp_count,sample_frames)"
    )


def test_warn_mode_keeps_rows_and_counts(stage: ValidateStage) -> None:
    warn = ValidateStage(ValidateConfig(mode="warn"), stage.context)
    item = make_item()
    item.qa[1]["task"] = "foo"
    before = copy.deepcopy(item.qa)
    item = warn.run_item(item)
    assert item.rejects == [] and item.qa == before
    assert item.validation["qa"][f"{IN_SET}(task)"] == {"evaluated": 10, "failed": 1}


def test_setup_runs_once_for_many_items(stage: ValidateStage) -> None:
    counting = ValidateStage(ValidateConfig(tables=["qa"]), stage.context)
    calls = []
    original = counting.setup
    counting.setup = lambda: (calls.append(1), original())[1]  # type: ignore[method-assign]
    runners = set()
    for _ in range(4):
        counting.run_item(make_item(clips=2, qa=3))
        runners.add(id(counting.runner))
    assert calls == [1] and len(runners) == 1
    assert list(counting.runner.specs) == ["qa"]


def test_batch_entry_point_round_trips_items(stage: ValidateStage) -> None:
    good, bad = make_item(), make_item()
    bad.qa[0]["task"] = "foo"
    out = stage({"item": [good.to_json(), bad.to_json()]})
    items = [WorkItem.from_json(text) for text in out["item"]]
    assert [len(i.qa) for i in items] == [10, 9]
    assert items[1].accounts["validate"].passed == 1


def test_report_files_are_written_and_readable(tmp_path: Path) -> None:
    validation = {
        "qa": {
            f"{IN_SET}(task)": {"evaluated": 200, "failed": 3},
            "expect_column_values_to_be_unique(qa_id)": {"evaluated": 200, "failed": 0},
        },
        "videos": {f"{BETWEEN}(duration_s)": {"evaluated": 0, "failed": 0}},
    }
    json_path, md_path = report.write_report(tmp_path, validation)
    assert (json_path, md_path) == (tmp_path / "validation.json", tmp_path / "validation.md")
    data = json.loads(json_path.read_text())
    assert list(data["tables"]) == ["videos", "qa"]
    assert data["tables"]["qa"]["expectations"][f"{IN_SET}(task)"] == {
        "evaluated": 200,
        "failed": 3,
        "pass_rate": 0.985,
    }
    assert data["tables"]["qa"]["failed_checks"] == 3
    assert data["tables"]["videos"]["expectations"][f"{BETWEEN}(duration_s)"]["pass_rate"] is None
    text = md_path.read_text()
    assert "## qa" in text and "| expectation | evaluated | failed | pass rate | why |" in text
    assert f"| `{IN_SET}(task)` | 200 | 3 | 98.50% | the five task types |" in text
    assert list(tmp_path.iterdir()) and not list(tmp_path.glob(".*.tmp"))


def test_suite_with_unknown_column_fails_on_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = {
        "name": "clips",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "clip_idd"}}
        ],
    }
    (tmp_path / "clips.json").write_text(json.dumps(suite))
    monkeypatch.setattr(suites, "suite_dir", lambda: tmp_path)
    with pytest.raises(suites.SuiteError, match=r"unknown columns \['clip_idd'\]"):
        suites.load_suite_spec("clips")


def test_config_reports_unknown_table_and_mode() -> None:
    config, errors = build_section(ValidateConfig, {"tables": ["nope"], "mode": "x"}, "validate")
    assert config is None
    assert [e.key for e in errors] == ["validate.mode", "validate"]
    assert "tables ['nope'] have no suite" in errors[1].message


def test_repetition_and_sentence_end_scores() -> None:
    assert derived._repetition({"c": "the the the the the the"}, {}, "c") == 0.75
    assert derived._repetition({"c": "A red circle moves left past a blue square."}, {}, "c") == 0.0
    assert derived._ends_sentence({"c": 'He said "stop."'}, {}, "c") is True
    assert derived._ends_sentence({"c": "A red circle bou"}, {}, "c") is False
    assert (
        derived._whole_number_when({"a": "three", "t": "counting"}, {}, "a", "t", "counting") == 3
    )
    assert (
        derived._whole_number_when({"a": "2 or 3", "t": "counting"}, {}, "a", "t", "counting") == -1
    )


def test_subtitle_captions_and_cut_marks_are_not_truncations(stage: ValidateStage) -> None:
    item = make_item(clips=3, qa=0)
    item.clips[0].update(caption="so today we look at circles", caption_source="subtitles")
    item.clips[1]["caption"] = "A red circle moves left and a blue square..."  # caption.shorten
    item = validate(stage, item)
    assert item.rejects == [] and len(item.clips) == 3
    assert item.validation["clips"][f"{IN_SET}(_caption_ends_cleanly)"] == {
        "evaluated": 2,
        "failed": 0,
    }


def _evidence(item: WorkItem, position: int, start_s: float, end_s: float) -> None:
    item.qa[position].update(evidence_start_s=start_s, evidence_end_s=end_s)


def test_questions_citing_a_rejected_clip_go_with_it(stage: ValidateStage) -> None:
    """Clips of 20 s; clip 2 (40-60 s) fails its caption check and takes its questions."""
    item = make_item(clips=6, qa=5)
    _evidence(item, 0, 1.0, 5.0)  # clip 0 only: kept
    _evidence(item, 1, 45.0, 50.0)  # inside clip 2
    _evidence(item, 2, 35.0, 45.0)  # clips 1 and 2
    _evidence(item, 3, 0.0, DURATION)  # the whole video (dense caption, counts)
    _evidence(item, 4, 60.0, 70.0)  # starts where clip 2 ends: shares no footage
    item.clips.append(copy.deepcopy(item.clips[0]))  # a rejected copy of a kept clip
    item.clips[2]["caption"] = "A red circle bou"
    ids = [row["qa_id"] for row in item.qa]
    bad_clip = item.clips[2]["clip_id"]
    item = validate(stage, item)
    assert [row["qa_id"] for row in item.qa] == [ids[0], ids[4]]
    dependents = [r for r in item.rejects if r["reason"] == "depends_on_rejected_clip"]
    assert [(r["stage"], r["level"]) for r in dependents] == [("validate", "qa")] * 3
    assert [json.loads(r["row_json"])["qa_id"] for r in dependents] == ids[1:4]
    assert dependents[0]["detail"] == (
        f"evidence 45.00-50.00 s lies in rejected clip {bad_clip} (40.00-60.00 s)"
    )
    assert [r["reason"] for r in item.rejects].count("expectations") == 2  # the two clips
    covered = item.validation["qa"][f"{BETWEEN}(_evidence_uncovered_s)"]
    assert covered == {"evaluated": 2, "failed": 0}


def test_every_evidence_span_lies_in_kept_clips(stage: ValidateStage) -> None:
    """The expectation behind it: evidence over a stretch no clip covers is refused."""
    item = make_item(clips=6, qa=3)
    del item.clips[3]  # nothing covers 60-80 s (as if segment had filtered it)
    _evidence(item, 0, 55.0, 61.0)  # 1 s uncovered: within validate.max_evidence_gap_s
    _evidence(item, 1, 55.0, 62.5)
    item = validate(stage, item)
    ((reject,),) = [[r for r in item.rejects if r["level"] == "qa"]]
    assert reject["reason"] == "expectations"
    assert reject["detail"] == f"failed: {BETWEEN}(_evidence_uncovered_s)"
    assert json.loads(reject["row_json"])["evidence_end_s"] == 62.5
    assert derived.uncovered_stretch(0.0, 10.0, [(2.0, 4.0), (3.0, 9.5)]) == 2.0


def test_a_batch_of_items_validates_as_each_alone(stage: ValidateStage) -> None:
    """One GX run per table for several items gives each item what validating it alone
    gives: its failing rows, uniqueness within the item only, counts of its own rows."""
    items = [make_item(clips=3 + i, qa=4 + i) for i in range(len(CASES))]
    for item, (_, _, breaker, _) in zip(items, CASES, strict=True):
        breaker(item)
    items[1].clips[0]["caption"] = None  # a null: not evaluated in this item only
    items[2].video["duration_s"] = 0.0  # the whole input goes; the rest of the batch stays
    items[3].qa.append(copy.deepcopy(items[4].qa[0]))  # the same id in two items: the writer's
    alone = [stage.run_item(copy.deepcopy(item)) for item in items]
    together = stage.run_items([copy.deepcopy(item) for item in items])
    strip = ("rejected_at",)
    for one, other in zip(alone, together, strict=True):
        assert (one.video, one.clips, one.qa, one.validation) == (
            other.video,
            other.clips,
            other.qa,
            other.validation,
        )
        assert [{k: v for k, v in r.items() if k not in strip} for r in one.rejects] == [
            {k: v for k, v in r.items() if k not in strip} for r in other.rejects
        ]
        assert other.accounts["validate"].inputs == 1
    assert not together[2].alive and all(i.alive for i in together[:2] + together[3:])
