"""Text side of a sample: conversation -> chat-templated ids with loss on answers only.

Why offsets: chat templates differ per LLM family, so instead of assuming a template we
render it, find each answer's characters, and label exactly the tokens covering them
plus the end-of-turn token that follows, so the model learns to stop.

One timestamp prompt per sample: whatever prompts the turns already carry (qa rows keep
theirs in the `timestamp_prompt` column, not in the turns; LLaVA data may hold some) are removed
and the prompt for the frames actually fed goes right after <video>.
"""

from __future__ import annotations

import re
from typing import Any

from transformers import PreTrainedTokenizerBase

from longvid.model.tokenizer import IMAGE_TOKEN, VIDEO_TOKEN, VISUAL_TOKENS, token_id
from longvid_pipeline.api import TIMESTAMP_PROMPT_PATTERN

IGNORE_INDEX = -100
ROLES = {"human": "user", "gpt": "assistant"}
PLACEHOLDER = re.compile("|".join(re.escape(token) for token in VISUAL_TOKENS))


def strip_timestamp_prompts(text: str) -> str:
    """`text` without any timestamp prompt, and without the blank lines they leave."""
    stripped = TIMESTAMP_PROMPT_PATTERN.sub("", text)
    return re.sub(r"[ \t]*\n[ \t]*(?:\n[ \t]*)+", "\n", stripped).strip(" \t")


def build_messages(
    conversations: list[dict[str, str]], timestamp_prompt: str
) -> list[dict[str, str]]:
    """Chat messages from LLaVA-style turns: every existing timestamp prompt removed, then
    `timestamp_prompt` (if any) right after the <video> placeholder."""
    messages = []
    for turn in conversations:
        content = strip_timestamp_prompts(turn["value"])
        if VIDEO_TOKEN in content and timestamp_prompt:
            before, _, after = content.partition(VIDEO_TOKEN)
            content = f"{before}{VIDEO_TOKEN}\n{timestamp_prompt}\n{after.lstrip(chr(10))}"
        messages.append({"role": ROLES.get(turn["from"], turn["from"]), "content": content})
    return messages


def placeholder_order(conversations: list[dict[str, str]]) -> list[str]:
    """The visual placeholders of a conversation in reading order ('<video>' / '<image>')."""
    return [match for turn in conversations for match in PLACEHOLDER.findall(turn["value"])]


def _answer_spans(text: str, messages: list[dict[str, str]]) -> list[tuple[int, int]]:
    """Character spans of assistant contents in the rendered text, in order."""
    spans, cursor = [], 0
    for message in messages:
        start = text.find(message["content"], cursor)
        if start < 0:
            raise ValueError(f"chat template dropped a turn: {message['content'][:40]!r}")
        cursor = start + len(message["content"])
        if message["role"] == "assistant":
            spans.append((start, cursor))
    return spans


def tokenize_conversation(
    tokenizer: PreTrainedTokenizerBase,
    messages: list[dict[str, str]],
    visual_tokens: int | list[int],
) -> tuple[list[int], list[int]]:
    """input_ids and labels, the i-th visual placeholder expanded to `visual_tokens[i]`
    positions (an int: the one <video> of the conversation)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    if not isinstance(text, str):  # tokenize=False renders text; the stubs allow ids too
        raise TypeError(f"the chat template rendered {type(text).__name__}, not text")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    labels = [IGNORE_INDEX] * len(ids)
    for start, end in _answer_spans(text, messages):
        inside = [i for i, (lo, hi) in enumerate(offsets) if hi > start and lo < end]
        for index in [*inside, inside[-1] + 1] if inside else []:
            if index < len(ids):
                labels[index] = ids[index]
    counts = [visual_tokens] if isinstance(visual_tokens, int) else list(visual_tokens)
    visual_ids = {token_id(tokenizer, token) for token in VISUAL_TOKENS}
    return expand_placeholders(ids, labels, visual_ids, counts)


def expand_placeholders(
    ids: list[int], labels: list[int], visual_ids: set[int], counts: list[int]
) -> tuple[list[int], list[int]]:
    """Replace the i-th placeholder id with `counts[i]` copies of itself (never labelled)."""
    positions = [index for index, token in enumerate(ids) if token in visual_ids]
    if len(positions) != len(counts):
        raise ValueError(
            f"expected {len(counts)} visual placeholder(s) ({VIDEO_TOKEN} / {IMAGE_TOKEN}) in "
            f"the conversation, found {len(positions)}"
        )
    out_ids: list[int] = []
    out_labels: list[int] = []
    cursor = 0
    for at, count in zip(positions, counts, strict=True):
        out_ids += ids[cursor:at] + [ids[at]] * count
        out_labels += labels[cursor:at] + [IGNORE_INDEX] * count
        cursor = at + 1
    return out_ids + ids[cursor:], out_labels + labels[cursor:]


def row_messages(row: dict[str, Any], timestamp_prompt: str) -> list[dict[str, str]]:
    """Messages of a qa row (its conversations) with the prompt for the frames fed."""
    return build_messages(row["conversations"], timestamp_prompt)
