"""Tokenizers for the video LLM: the <video> and <image> placeholders, and a tiny one trained
on the fly.

Why a trained-on-the-fly tokenizer: tests and the tiny preset must run offline, so
nothing is downloaded; a byte-level BPE covers any text while staying tiny.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

VIDEO_TOKEN = "<video>"
IMAGE_TOKEN = "<image>"
VISUAL_TOKENS = (VIDEO_TOKEN, IMAGE_TOKEN)

# Qwen2-style ChatML, the format of the default LLM family.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

TINY_CORPUS = (
    "The video lasts for 12.00 seconds, and 8 frames are uniformly sampled from it.",
    "What happens in the video? Describe the scene. When does the red circle appear?",
    "How many objects are there? Which object is left of the blue square? Answer: A B C D",
    "A person walks into the room, picks up a cup, and leaves. 0 1 2 3 4 5 6 7 8 9 10",
    "user assistant system caption grounding counting relationship understanding",
)


def add_visual_tokens(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """Register <video> and <image> as special tokens (idempotent); returns their ids."""
    missing = [token for token in VISUAL_TOKENS if token not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens(
            {"additional_special_tokens": missing}, replace_extra_special_tokens=False
        )
    return token_id(tokenizer, VIDEO_TOKEN), token_id(tokenizer, IMAGE_TOKEN)


def token_id(tokenizer: PreTrainedTokenizerBase, token: str) -> int:
    """The id of one token (transformers types the lookup as int or list of ints)."""
    found = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(found, int):
        raise TypeError(f"{token!r} maps to {found!r}, not to one id")
    return found


def tiny_tokenizer(
    vocab_size: int = 384,
    corpus: tuple[str, ...] = TINY_CORPUS,
    extra_special_tokens: tuple[str, ...] = (),
) -> PreTrainedTokenizerFast:
    """A byte-level BPE with ChatML special tokens and <video>, trained on `corpus`.

    `extra_special_tokens` adds a model family's own markers (e.g. Qwen-VL's
    <|vision_start|> and <|video_pad|>), each one token that text never splits into."""
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", VIDEO_TOKEN, *extra_special_tokens]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(corpus) * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", VIDEO_TOKEN, *extra_special_tokens],
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer
