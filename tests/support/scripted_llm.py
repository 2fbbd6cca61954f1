"""A scripted text LLM for tests of the QA stage's `llm` generator: no model, replies from
a script (canned JSON, broken JSON, wrong answers), every prompt recorded.

Usable directly (`ScriptedLLM(script=...)`) or by import path through the backend
registry (`backend: support.scripted_llm:ScriptedLLM`), where it answers with `by_task`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, ClassVar

Script = Callable[[str], str]


def task_of(prompt: str) -> str:
    return re.search(r"Task \((\w+)\)", prompt).group(1)  # type: ignore[union-attr]


def is_repair(prompt: str) -> bool:
    return "Your previous reply was:" in prompt


def reply(*questions: dict[str, Any]) -> str:
    return "```json\n" + json.dumps({"questions": list(questions)}) + "\n```"


def by_task(prompt: str) -> str:
    """grounding: right away; counting: broken JSON, repaired; caption: wrong twice."""
    task = task_of(prompt)
    if task == "grounding":
        return reply(
            {"question": "When does the red circle bounce?", "answer": "From 1.0s to 4.0s.",
             "options": None, "evidence": [[1.0, 4.0]]},
            {"question": "When does the blue square spin?", "answer": "From 5.0s to 8.0s.",
             "options": ["From 1.0s to 4.0s.", "From 5.0s to 8.0s.", "From 11.0s to 14.0s.",
                         "From 21.0s to 24.0s."], "evidence": [[5.0, 8.0]]},
        )  # fmt: skip
    if task == "counting":
        if not is_repair(prompt):
            return "Sure! Here are the questions: {questions: [oops"
        return reply(
            {"question": "In how many scenes does a red circle appear?", "answer": "3",
             "options": None, "evidence": [[1.0, 4.0], [15.0, 18.0], [25.0, 28.0]]},
        )  # fmt: skip
    return reply(
        {"question": "What happens first?", "answer": "A dog barks.",
         "options": ["A red circle bounces.", "A blue square spins.", "A star blinks.",
                     "A triangle fades."], "evidence": [[70.0, 80.0]]},
    )  # fmt: skip


class ScriptedLLM:
    """Replies from `script` (default `by_task`); `prompts` lists every prompt it saw."""

    seen: ClassVar[list[str]] = []

    def __init__(self, settings: Any = None, script: Script | None = None) -> None:
        self.script = script or by_task
        self.prompts: list[str] = []

    def setup(self) -> None:
        """Nothing to load."""

    def generate(self, prompts: list[str], max_new_tokens: int | None = None) -> list[str]:
        self.prompts.extend(prompts)
        ScriptedLLM.seen.extend(prompts)
        return [self.script(prompt) for prompt in prompts]
