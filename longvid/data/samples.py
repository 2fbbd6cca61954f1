"""Text side of a sample: conversation -> chat-templated ids with loss on answers only.

Why offsets: chat templates differ per LLM family, so instead of assuming a template we
render it, find each answer's characters, and label exactly the tokens covering them
plus the end-of-turn token that follows, so the model learns to stop.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedTokenizerBase

from longvid.model.tokenizer import VIDEO_TOKEN, token_id

IGNORE_INDEX = -100
ROLES = {"human": "user", "gpt": "assistant"}


def build_messages(
    conversations: list[dict[str, str]], timestamp_prompt: str
) -> list[dict[str, str]]:
    """Chat messages from LLaVA-style turns, the timestamp prompt right after <video>."""
    messages = []
    for turn in conversations:
        content = turn["value"]
        if VIDEO_TOKEN in content and timestamp_prompt and timestamp_prompt not in content:
            rest = content.replace(VIDEO_TOKEN, "", 1).lstrip("\n")
            content = f"{VIDEO_TOKEN}\n{timestamp_prompt}\n{rest}"
        messages.append({"role": ROLES.get(turn["from"], turn["from"]), "content": content})
    return messages


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
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], video_tokens: int
) -> tuple[list[int], list[int]]:
    """input_ids and labels, the single <video> expanded to `video_tokens` positions."""
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
    return _expand_video(ids, labels, token_id(tokenizer, VIDEO_TOKEN), video_tokens)


def _expand_video(
    ids: list[int], labels: list[int], video_id: int, count: int
) -> tuple[list[int], list[int]]:
    """Replace the one <video> id with `count` copies (never labelled)."""
    positions = [index for index, token in enumerate(ids) if token == video_id]
    if len(positions) != 1:
        raise ValueError(
            f"expected exactly one {VIDEO_TOKEN} in the conversation, found {len(positions)}"
        )
    at = positions[0]
    expanded_ids = ids[:at] + [video_id] * count + ids[at + 1 :]
    expanded_labels = labels[:at] + [IGNORE_INDEX] * count + labels[at + 1 :]
    return expanded_ids, expanded_labels


def row_messages(row: dict[str, Any], timestamp_prompt: str) -> list[dict[str, str]]:
    """Messages of a qa row (its conversations) with the given (possibly resampled) prompt."""
    return build_messages(row["conversations"], timestamp_prompt)
