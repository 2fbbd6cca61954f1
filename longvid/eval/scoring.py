"""Scoring one model output against its sample: parse by form, then the form's metrics.

Open answers go to the LLM judge when one is configured (an OpenAI-compatible endpoint
with the prompt from the config), else to the lexical token F1. A judge reply without a
number scores 0 and is kept in the record for inspection.
"""

from __future__ import annotations

import re
from typing import Any

from longvid.eval.config import JudgeSection
from longvid.eval.metrics import (
    PRIMARY,
    choice_scores,
    count_scores,
    span_scores,
    token_f1,
)
from longvid.eval.openai_client import EndpointError, chat
from longvid.eval.parsing import LETTERS, parse_choice, parse_count, parse_span
from longvid.eval.samples import EvalSample


class Judge:
    """Open-answer scorer: the LLM judge when `base_url` is set, else token F1."""

    def __init__(self, section: JudgeSection) -> None:
        self.section = section

    @property
    def name(self) -> str:
        return f"judge:{self.section.model}" if self.section.base_url else "lexical_f1"

    def score(self, question: str, answer: str, prediction: str) -> tuple[float, str | None]:
        """(score in [0, 1], the judge's raw reply or None for the lexical score)."""
        section = self.section
        if not section.base_url:
            return token_f1(prediction, answer), None
        prompt = section.prompt.format(question=question, answer=answer, prediction=prediction)
        try:
            reply = chat(
                section.base_url,
                section.model,
                [{"role": "user", "content": prompt}],
                api_key_env=section.api_key_env,
                max_tokens=16,
                timeout_s=section.timeout_s,
                retries=section.retries,
            )
        except EndpointError as exc:
            return 0.0, f"error: {exc}"
        number = re.search(r"\d+(?:\.\d+)?", reply)
        if number is None:
            return 0.0, reply
        return min(max(float(number.group(0)) / section.max_score, 0.0), 1.0), reply


def score_output(
    sample: EvalSample, output: str, judge: Judge, picked: int | None = None
) -> dict[str, Any]:
    """parsed (JSON-ready), parsed_ok, the form's metrics and the primary score; `picked`:
    the option chosen by likelihood (a multiple choice is then not parsed)."""
    judge_reply = None
    if sample.form == "choice":
        if picked is None:
            picked = parse_choice(output, sample.options or [])
        parsed: Any = LETTERS[picked] if picked is not None else None
        metrics = choice_scores(picked, int(sample.target))
    elif sample.form == "span":
        span = parse_span(output)
        parsed = list(span) if span else None
        metrics = span_scores(span, sample.target)
    elif sample.form == "count":
        parsed = parse_count(output)
        metrics = count_scores(parsed, int(sample.target))
    else:
        parsed = output.strip() or None
        value, judge_reply = judge.score(sample.prompt, sample.answer, output)
        metrics = {"score": value}
    record = {
        "parsed": parsed,
        "parsed_ok": parsed is not None,
        "metrics": metrics,
        "score": metrics[PRIMARY[sample.form]],
    }
    if judge_reply is not None:
        record["judge_reply"] = judge_reply
    return record
