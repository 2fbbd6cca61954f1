"""Wrong options borrowed from other videos (`stages.qa.distractors`): short videos get
multiple choice, a borrowed option never happens in the video and is never the answer,
every answer still matches the ground truth, and the rows do not depend on the order in
which the bank was read."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.qa_items import run_qa, world_item
from support.qa_truth import Truth, check_row

from longvid_pipeline.config import ConfigError, build_section
from longvid_pipeline.qa.config import QAConfig
from longvid_pipeline.qa.formats import NONE_OF_THE_ABOVE
from longvid_pipeline.qa.timeline import Event
from longvid_pipeline.stages.qa import QAStage

BORROWING = ("caption/clip", "grounding/span_event", "relationship/after", "relationship/before")
SHORT = [(seed, 40.0 + 10 * (seed % 5)) for seed in range(24)]  # 40-80 s demo-world videos


def _bank_line(event: dict[str, Any]) -> str:
    fields = {name: event[name] for name in ("caption", "shape", "color", "action")}
    return json.dumps(fields)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Events of 40 other demo-world videos (other seeds), one JSONL line each."""
    path = tmp_path_factory.mktemp("bank") / "bank.jsonl"
    lines = []
    for seed in range(500, 540):
        plan = world_item(seed, 240.0, f"v-bank{seed:011d}").annotations
        lines += [_bank_line(event) for event in plan["events"]]
    path.write_text("\n".join(lines) + "\n")
    return path


def _short_rows(**config: Any) -> list[tuple[Truth, list[dict[str, Any]], list[dict[str, Any]]]]:
    found = []
    for seed, duration in SHORT:
        item = world_item(seed, duration, f"v-short{seed:010d}")
        found.append((Truth(item.annotations), item.clips, run_qa(item, **config)))
    return found


def _choice_counts(found: list[tuple[Truth, Any, list[dict[str, Any]]]]) -> Counter[str]:
    return Counter(
        row["question_type"] for _, _, rows in found for row in rows if row["options"] is not None
    )


def test_short_videos_get_multiple_choice_from_borrowed_options(bank: Path) -> None:
    alone = _choice_counts(_short_rows())
    found = _short_rows(distractors={"bank": [str(bank)]})
    borrowing = _choice_counts(found)
    for question_type in BORROWING:
        assert borrowing[question_type] >= alone[question_type] + 5, (question_type, borrowing)
    borrowed_options = 0
    for truth, clips, rows in found:
        for row in rows:
            check_row(row, truth, clips)  # every answer true, every wrong option fair
            if row["options"] is None or row["question_type"] not in BORROWING[1:]:
                continue  # options that name events
            answer = row["options"][row["answer_index"]]
            assert answer == NONE_OF_THE_ABOVE or truth.option_event(answer) is not None
            borrowed_options += sum(
                option != NONE_OF_THE_ABOVE and truth.option_event(option) is None
                for option in row["options"]
            )
    assert borrowed_options > 20


def test_without_a_bank_rows_are_as_before_and_max_borrowed_zero_borrows_nothing(
    bank: Path,
) -> None:
    plain = _short_rows()
    unused = _short_rows(distractors={"bank": [str(bank)], "max_borrowed": 0})
    assert [rows for _, _, rows in plain] == [rows for _, _, rows in unused]


def test_borrowed_options_do_not_depend_on_bank_order(bank: Path, tmp_path: Path) -> None:
    reversed_bank = tmp_path / "reversed.jsonl"
    reversed_bank.write_text("\n".join(reversed(bank.read_text().splitlines())) + "\n")
    first = _short_rows(distractors={"bank": [str(bank)]})[:6]
    second = _short_rows(distractors={"bank": [str(reversed_bank)]})[:6]
    assert [rows for _, _, rows in first] == [rows for _, _, rows in second]


def test_a_built_output_serves_as_bank(tmp_path: Path) -> None:
    from longvid_pipeline.qa.distractors import DistractorBank
    from longvid_pipeline.shards import commit_rows

    item = world_item(7, 120.0, "v-built000000007")
    clips = [{**clip, "caption_source": "annotations"} for clip in item.clips]
    commit_rows(tmp_path, {"clips": clips}, ["in-built"])
    bank = DistractorBank.load([str(tmp_path)], max_entries=1000)
    described = {
        Event(
            0, 1, e["caption"], shape=e["shape"], color=e["color"], action=e["action"]
        ).description
        for e in item.annotations["events"]
    }
    assert set(bank.events) == described
    assert set(bank.captions) == {clip["caption"] for clip in item.clips}


def test_a_missing_or_unreadable_bank_names_the_key(tmp_path: Path) -> None:
    _, problems = build_section(
        QAConfig, {"distractors": {"bank": [str(tmp_path / "nope.jsonl")]}}, "stages.qa"
    )
    assert [(p.key, p.message) for p in problems] == [
        ("stages.qa.distractors.bank", f"no such file or folder: {tmp_path / 'nope.jsonl'}")
    ]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"caption": "A red circle bounces."}\nnot json\n')
    config, problems = build_section(
        QAConfig, {"distractors": {"bank": [str(broken)]}}, "stages.qa"
    )
    assert problems == [] and config is not None
    with pytest.raises(ConfigError) as raised:
        QAStage.preflight(config, "recipe.yaml")
    message = str(raised.value)
    assert message.startswith("recipe.yaml: stages.qa.distractors.bank: cannot read it")
    assert f"{broken}:2: not a JSON object with a caption" in message
    assert "\n" not in message
