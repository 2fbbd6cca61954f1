"""Multiple choice by option likelihood: the summed log-probabilities against hand-computed
values, routing (choice by likelihood, everything else generated, baselines without
logits generate), an answer forced through the logits of a real tiny checkpoint, and
scores that do not depend on what else shares the batch (left padding, positions)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from support.eval import tiny_longvid_checkpoint, tiny_qwen2_vl

from longvid.eval.adapters import AdapterContext, OptionScore, Request, build_adapter
from longvid.eval.adapters.base import Adapter
from longvid.eval.adapters.baselines import BlindAdapter
from longvid.eval.adapters.hf_common import OptionRows, option_scores
from longvid.eval.choices import Response, by_likelihood, option_answers, respond
from longvid.eval.samples import EvalSample

OPTIONS = ["red", "green", "blue", "gray"]


def _sample(form: str = "choice", sample_id: str = "q1") -> EvalSample:
    return EvalSample(
        sample_id=sample_id,
        table="qa",
        split="test",
        task="understanding",
        form=form,
        prompt="Which colour is the circle?\nA. red\nB. green\nC. blue\nD. gray",
        answer="C. blue",
        target=2 if form == "choice" else "blue",
        frames=[],
        duration_s=10.0,
        options=OPTIONS if form == "choice" else None,
    )


def test_option_scores_sum_the_continuation_log_probs() -> None:
    """Two rows of one request, left-padded: row 0 is [pad, 5, 1, 2] with a 2-token
    continuation, row 1 is [5, 1, 3, 3] with a 1-token one; logits of the last 3 positions."""
    rows = OptionRows(
        owners=[0, 0],
        input_ids=torch.tensor([[0, 5, 1, 2], [5, 1, 3, 3]]),
        attention_mask=torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]]),
        lengths=[2, 1],
        counts=[2],
    )
    assert rows.keep == 3
    logits = torch.zeros(2, 3, 6)
    logits[0, 0, 1] = math.log(3.0)  # position 1 predicts token 1: p = 3/8
    logits[0, 1, 2] = math.log(5.0)  # position 2 predicts token 2: p = 5/10 (and greedy)
    logits[1, 1, 3] = -math.inf  # row 1, position 2 predicts token 3: p = 0 ... almost
    logits[1, 1, 3] = math.log(0.5)  # p = 0.5 / 5.5
    [[first, second]] = option_scores(rows, logits)
    assert first.tokens == 2 and second.tokens == 1
    assert first.loglikelihood == pytest.approx(math.log(3 / 8) + math.log(5 / 10), abs=1e-6)
    assert first.greedy
    assert second.loglikelihood == pytest.approx(math.log(0.5 / 5.5), abs=1e-6)
    assert not second.greedy


class ScriptedAdapter(Adapter):
    """Generates "text"; scores option k of every request as -k, except `best` at 0.5."""

    SCORES_OPTIONS = True

    def __init__(self, best: int = 2) -> None:
        super().__init__(None, AdapterContext(Path("."), 0, []))
        self.best = best
        self.seen: list[tuple[str, Any]] = []

    def generate(self, requests: list[Request]) -> list[str]:
        self.seen += [("generate", r.frames) for r in requests]
        return ["text"] * len(requests)

    def option_loglikelihoods(
        self, requests: list[Request], continuations: list[list[str]]
    ) -> list[list[OptionScore]]:
        pairs = zip(requests, continuations, strict=True)
        self.seen += [("options", (r.frames, texts)) for r, texts in pairs]
        return [
            [OptionScore(0.5 if k == self.best else -float(k), 1, False) for k in range(len(t))]
            for t in continuations
        ]


def test_choice_goes_by_likelihood_and_the_rest_is_generated() -> None:
    adapter = ScriptedAdapter(best=2)
    requests = [
        Request("q", "frames", _sample("open", "o1")),
        Request("q", "frames", _sample("choice", "c1")),
    ]
    opened, chosen = respond(adapter, requests, True, "letter_text")
    assert opened == Response("text")
    assert chosen.output == "C. blue" and chosen.picked == 2
    assert [s.loglikelihood for s in chosen.option_scores or []] == [0.0, -1.0, 0.5, -3.0]
    assert adapter.seen == [
        ("generate", "frames"),
        ("options", ("frames", ["A. red", "B. green", "C. blue", "D. gray"])),
    ]
    # generate: parse the text instead; blind: the same scores, without frames
    assert respond(adapter, requests[1:], False, "letter") == [Response("text")]
    blind = BlindAdapter.wrapping(adapter)
    assert by_likelihood(blind, "auto") and not by_likelihood(blind, "generate")
    assert respond(blind, requests[1:], True, "letter")[0].output == "C"
    assert adapter.seen[-1] == ("options", (None, ["A", "B", "C", "D"]))
    # an adapter without logits (openai, random, majority) generates whatever the setting
    assert not by_likelihood(
        BlindAdapter.wrapping(build_adapter("random", {}, adapter.context)), "likelihood"
    )
    assert option_answers(["x", "y"], "letter") == ["A", "B"]


@pytest.fixture(scope="module")
def longvid_adapter(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("ckpt")
    tiny_longvid_checkpoint(folder, folder, max_frames=8)
    options = {"checkpoint": str(folder)}
    return build_adapter("longvid", options, AdapterContext(folder, 0, [], device="cpu"))


def _video(seed: int) -> torch.Tensor:
    return torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def test_forced_logits_pick_that_option(
    longvid_adapter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The LLM's logits are replaced by ones that favour the tokens of "C. blue", "C" most:
    the real adapter (prompt, video splice, option rows) must then pick C either way."""
    tokenizer, llm = longvid_adapter.tokenizer, longvid_adapter.model.llm
    favoured = tokenizer("C. blue", add_special_tokens=False)["input_ids"]
    assert len(favoured) > 1
    calls: list[dict[str, Any]] = []

    def forced(**inputs: Any) -> Any:
        calls.append(inputs)
        rows, keep = inputs["inputs_embeds"].shape[0], inputs["logits_to_keep"]
        logits = torch.zeros(rows, keep, len(tokenizer))
        logits[..., favoured] = 8.0
        logits[..., favoured[0]] = 9.0
        return SimpleNamespace(logits=logits)

    monkeypatch.setattr(llm, "forward", forced)
    requests = [
        Request("Which colour?", _video(0), _sample()),
        Request("Again?", _video(1), _sample()),
    ]
    for continuation, expected in (("letter", "C"), ("letter_text", "C. blue")):
        responses = respond(longvid_adapter, requests, True, continuation)
        assert [r.output for r in responses] == [expected, expected]
        assert all(r.picked == 2 for r in responses)
        greedy = [score.greedy for score in responses[0].option_scores or []]
        assert greedy == [False, False, continuation == "letter", False]
    assert calls[0]["inputs_embeds"].shape[0] == 2 * len(OPTIONS)  # one row per option
    assert (
        calls[0]["position_ids"][:, -1].tolist() == (calls[0]["attention_mask"].sum(1) - 1).tolist()
    )


def _direct(adapter: Any, request: Request, answers: list[str]) -> list[float]:
    """log P(answer | prompt, frames) of each answer from unpadded, full-length forwards."""
    scores = []
    with torch.inference_mode():
        features = adapter.features([request])
        prompt = adapter.prompt_ids(request, features[0])
        for answer in answers:
            tail = adapter.tokenizer(answer, add_special_tokens=False)["input_ids"]
            embeds = adapter._embeddings(torch.tensor([prompt + tail]), features)
            logits = adapter.model.llm(inputs_embeds=embeds).logits[0].log_softmax(-1)
            start = len(prompt) - 1
            scores.append(sum(logits[start + i, token].item() for i, token in enumerate(tail)))
    return scores


def test_scores_equal_an_unpadded_forward_whatever_shares_the_batch(longvid_adapter: Any) -> None:
    """The short request is left-padded beside the long one: same scores as alone."""
    short = Request("Colour?", _video(0), _sample(sample_id="a"))
    long = Request("Which colour is the circle " * 6, _video(1), _sample())
    answers = option_answers(OPTIONS, "letter_text")
    together = longvid_adapter.option_loglikelihoods([short, long], [answers, answers])
    expected = _direct(longvid_adapter, short, answers)
    assert [s.loglikelihood for s in together[0]] == pytest.approx(expected, abs=1e-4)


@pytest.mark.slow
def test_qwen_scores_with_multimodal_positions_whatever_shares_the_batch(tmp_path: Path) -> None:
    """Qwen2-VL: video features computed once and shared by the option rows, multimodal
    rotary positions in use (a video's tokens span fewer positions than they are many),
    and a request scores the same alone or padded beside a longer one."""
    from longvid.eval.adapters.preprocess import QwenVideoPatches

    source = tiny_qwen2_vl(tmp_path / "model")
    adapter = build_adapter(
        "hf_qwen_vl", {"source": str(source), "frames": 4}, AdapterContext(tmp_path, 0, [])
    )
    patches = QwenVideoPatches(max_pixels=56 * 56)
    frames = [
        patches(torch.randint(0, 255, (4, 56, 56, 3), dtype=torch.uint8).numpy()) for _ in range(2)
    ]
    short = Request("Colour?", frames[0], _sample(sample_id="a"))
    long = Request("Which colour is the circle " * 6, frames[1], _sample())
    answers = [option_answers(OPTIONS, "letter")] * 2
    alone = adapter.option_loglikelihoods([short], answers[:1])[0]
    assert adapter.model.model.rope_deltas.min().item() < 0  # 3D positions: fewer than tokens
    together = adapter.option_loglikelihoods([short, long], answers)[0]
    assert [s.loglikelihood for s in together] == pytest.approx(
        [s.loglikelihood for s in alone], abs=1e-4
    )
    assert adapter.generate([short])[0] is not None
    assert adapter.model.model.rope_deltas.min().item() < 0  # generation uses them too
