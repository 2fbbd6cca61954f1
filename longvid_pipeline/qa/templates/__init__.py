"""The `template` generator's question types, one module per task.

Each module lists its `QUESTION_TYPES`: facts computed from the structured timeline
(exact by construction), five or more phrasings per form, and the rules that keep
multiple-choice options fair. `QUESTION_TYPES[task]` is what the QA stage draws from.
"""

from __future__ import annotations

from longvid_pipeline.qa.facts import QuestionType
from longvid_pipeline.qa.templates import caption, counting, grounding, relationship, understanding

QUESTION_TYPES: dict[str, tuple[QuestionType, ...]] = {
    "caption": caption.QUESTION_TYPES,
    "grounding": grounding.QUESTION_TYPES,
    "counting": counting.QUESTION_TYPES,
    "relationship": relationship.QUESTION_TYPES,
    "understanding": understanding.QUESTION_TYPES,
}
TEMPLATE_GENERATOR = "longvid-templates/2"
"""Name and version written to `qa.generator` for template rows."""
