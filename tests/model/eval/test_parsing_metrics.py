"""Answer parsing and metrics against hand-computed values (fast, no model, no video)."""

from __future__ import annotations

import pytest

from longvid.eval.config import JudgeSection
from longvid.eval.metrics import (
    count_scores,
    interval_iou,
    mean_metrics,
    span_scores,
    token_f1,
)
from longvid.eval.parsing import format_answer, parse_choice, parse_count, parse_span
from longvid.eval.samples import EvalSample, qa_form
from longvid.eval.scoring import Judge, score_output

OPTIONS = ["red", "blue", "dark red", "gray"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", 1),
        ("(B)", 1),
        ("B.", 1),
        ("b", 1),
        ("D)", 3),
        ("The answer is B", 1),
        ("The answer is (C).", 2),
        ("Answer: D", 3),
        ("Option A", 0),
        ("C. dark red", 2),
        ("B. red", 1),  # the letter wins over contradicting text
        ("dark red", 2),  # option text; "red" inside it does not make it ambiguous
        ("It is blue.", 1),
        ("I think it's C", 2),
        ("A red circle", 0),  # "A" is an article here; the option text decides
        ("A and B", None),  # two letters: no single pick
        ("green", None),
        ("", None),
        ("E", None),  # out of range for four options
    ],
)
def test_parse_choice(text: str, expected: int | None) -> None:
    assert parse_choice(text, OPTIONS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("From 12.3s to 45.6s.", (12.3, 45.6)),
        ("12.3-45.6", (12.3, 45.6)),
        ("12.3 - 45.6 seconds", (12.3, 45.6)),
        ("between 12.3 and 45.6", (12.3, 45.6)),
        ("[12.3, 45.6]", (12.3, 45.6)),
        ("00:12 to 00:45", (12.0, 45.0)),
        ("1:02:03-1:03:00", (3723.0, 3780.0)),
        ("from 45.6s to 12.3s", (12.3, 45.6)),
        ("at 12 seconds", None),
        ("no idea", None),
    ],
)
def test_parse_span(text: str, expected: tuple[float, float] | None) -> None:
    assert parse_span(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("There are three bars.", 3),
        ("C. 1", 1),
        ("12 times", 12),
        ("None.", 0),
        ("unsure", None),
    ],
)
def test_parse_count(text: str, expected: int | None) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize(
    ("predicted", "target", "iou"),
    [
        ((0.0, 10.0), (0.0, 10.0), 1.0),
        ((0.0, 10.0), (5.0, 15.0), 5.0 / 15.0),
        ((2.0, 4.0), (0.0, 10.0), 0.2),
        ((0.0, 5.0), (5.0, 10.0), 0.0),  # touching: no overlap
        ((10.0, 0.0), (0.0, 10.0), 1.0),  # reversed ends are put in order
        ((3.0, 3.0), (3.0, 3.0), 1.0),  # the same instant
        ((3.0, 3.0), (0.0, 10.0), 0.0),  # an instant has no length in common
        (None, (0.0, 10.0), 0.0),  # unparsed
    ],
)
def test_interval_iou_edge_cases(predicted, target, iou) -> None:
    assert interval_iou(predicted, target) == pytest.approx(iou)


def test_span_recall_thresholds_are_inclusive() -> None:
    scores = span_scores((0.0, 5.0), (0.0, 10.0))  # IoU exactly 0.5
    assert scores == {"miou": 0.5, "r@0.3": 1.0, "r@0.5": 1.0, "r@0.7": 0.0}


def test_count_scores() -> None:
    assert count_scores(3, 3) == {"exact": 1.0, "off_by_one": 1.0, "mae": 0.0}
    assert count_scores(4, 3) == {"exact": 0.0, "off_by_one": 1.0, "mae": 1.0}
    assert count_scores(0, 3) == {"exact": 0.0, "off_by_one": 0.0, "mae": 3.0}
    assert count_scores(None, 3) == {"exact": 0.0, "off_by_one": 0.0, "mae": 3.0}
    assert count_scores(None, 0) == {"exact": 0.0, "off_by_one": 0.0, "mae": 0.0}


def test_token_f1() -> None:
    assert token_f1("A red circle bounces.", "a red circle bounces") == 1.0
    # 2 common of 3 predicted and 4 reference tokens: P 2/3, R 1/2, F1 4/7
    assert token_f1("red circle spins", "red circle bounces left") == pytest.approx(4 / 7)
    assert token_f1("", "red") == 0.0


def _sample(form: str, target, options=None, answer: str = "") -> EvalSample:
    return EvalSample(
        sample_id=f"s-{form}",
        table="qa",
        split="test",
        task="t",
        form=form,
        prompt="q",
        answer=answer,
        target=target,
        frames=[],
        duration_s=60.0,
        options=options,
    )


def test_unparseable_outputs_count_as_wrong_not_dropped() -> None:
    judge = Judge(JudgeSection())
    records = [
        score_output(_sample("choice", 1, OPTIONS), "B", judge),
        score_output(_sample("choice", 1, OPTIONS), "no idea", judge),
        score_output(_sample("choice", 1, OPTIONS), "C", judge),
    ]
    assert [r["parsed"] for r in records] == ["B", None, "C"]
    summary = mean_metrics(records)
    assert summary == {"n": 3, "unparsed": 1, "accuracy": pytest.approx(1 / 3)}
    span = score_output(_sample("span", [10.0, 20.0]), "sometime", judge)
    assert span["parsed_ok"] is False and span["metrics"]["miou"] == 0.0


def test_oracle_answer_forms_score_full_marks() -> None:
    judge = Judge(JudgeSection())
    cases = [
        _sample("choice", 2, OPTIONS),
        _sample("span", [12.3, 45.6]),
        _sample("count", 4),
        _sample("open", "A red circle.", answer="A red circle."),
    ]
    for sample in cases:
        output = (
            sample.answer if sample.form == "open" else format_answer(sample.form, sample.target)
        )
        assert score_output(sample, output, judge)["score"] == 1.0, sample.form


def test_qa_form_from_rows() -> None:
    base = {"task": "grounding", "options": None, "answer": "From 3.0s to 7.5s."}
    assert qa_form(base) == "span"
    assert qa_form({**base, "options": ["a", "b"]}) == "choice"
    assert qa_form({**base, "task": "counting", "answer": "4"}) == "count"
    assert qa_form({**base, "task": "caption", "answer": "A red circle."}) == "open"
    assert qa_form({**base, "answer": "When the red circle bounces."}) == "open"
