"""Multiple choice answered by option likelihood, as lmms-eval's `loglikelihood` output
type does: each option's answer text ("B. red", or "B") is scored as the model's reply
to the prompt and frames, and the most likely option is the answer.

Why: a generated answer must first be parsed, and a small or untrained model rarely
writes a letter at all (the tiny checkpoint answers "."), so generation scores it 0 and
hides what it has learned; the likelihood of each option always picks one, which makes
the blind baseline and the model comparable at any size. Random and majority baselines
(no model, no logits) and adapters without logits (openai) keep generating.

Example:
    responses = respond(adapter, requests, by_likelihood=True, continuation="letter_text")
    responses[0].output         # "C. blue": the most likely option's answer
    responses[0].option_scores  # [OptionScore(loglikelihood=-7.1, tokens=3, greedy=False), ...]
"""

from __future__ import annotations

from dataclasses import dataclass

from longvid.eval.adapters import Adapter, OptionScore, Request
from longvid_pipeline.api import format_choice


@dataclass
class Response:
    """An adapter's answer to one request: the text, and for an option-scored multiple
    choice the score of every option (the text is then the best option's answer)."""

    output: str
    option_scores: list[OptionScore] | None = None

    @property
    def picked(self) -> int | None:
        """The option with the highest log-likelihood (the first of equals), if scored."""
        if not self.option_scores:
            return None
        scores = [score.loglikelihood for score in self.option_scores]
        return scores.index(max(scores))


def option_answers(options: list[str], continuation: str) -> list[str]:
    """Each option's answer as the dataset writes it in answer style `continuation`:
    "B. red" (letter_text) or "B" (letter)."""
    return [format_choice(index, option, continuation) for index, option in enumerate(options)]


def by_likelihood(adapter: Adapter, mc_scoring: str) -> bool:
    """Whether this adapter's multiple-choice requests are scored by option likelihood."""
    return mc_scoring != "generate" and adapter.can_score_options()


def respond(
    adapter: Adapter, requests: list[Request], likelihood: bool, continuation: str
) -> list[Response]:
    """One response per request, in order: multiple choice by option likelihood when
    `likelihood`, everything else generated."""
    scored = [
        index
        for index, request in enumerate(requests)
        if likelihood and request.sample.form == "choice" and request.sample.options
    ]
    generated = sorted(set(range(len(requests))) - set(scored))
    responses: dict[int, Response] = {}
    if generated:
        texts = adapter.generate([requests[index] for index in generated])
        responses.update(zip(generated, map(Response, texts), strict=True))
    if scored:
        answers = [option_answers(requests[i].sample.options or [], continuation) for i in scored]
        scores = adapter.option_loglikelihoods([requests[i] for i in scored], answers)
        for index, texts, option_scores in zip(scored, answers, scores, strict=True):
            response = Response("", option_scores)
            response.output = texts[response.picked or 0]
            responses[index] = response
    return [responses[index] for index in range(len(requests))]
