"""In-LLM visual token dropout: `off` is today's forward, token counts per layer, the
mask/position rebuild is exact, attention mode ranks like the model's own attention."""

from __future__ import annotations

import pytest
import torch

from longvid.model import HiCoCompressor, Visual, tiny
from longvid.model.visual_dropout import IGNORE_INDEX

DROP = {"layers": [1, 2, 3], "keep": [1.0, 0.5, 0.25, 0.125]}


def _model(mode: str, layers: int = 4, **dropout: object):
    torch.manual_seed(0)
    options = {"mode": mode, **DROP, **dropout}
    model, _ = tiny(HiCoCompressor(tokens_per_frame=16), llm_layers=layers, visual_dropout=options)
    return model.eval()


def _batch(model, frames: tuple[int, ...] = (4, 8)) -> dict:
    """Rows of text, one video, question and answer; right-padded; answers labelled."""
    torch.manual_seed(1)
    rows, labels, visuals = [], [], []
    for index, count in enumerate(frames):
        prefix = [10 + index, 11, 12]
        suffix = [20, 21, 22, 30 + index, 31, 32]
        ids = prefix + [model.video_token_id] * model.num_video_tokens(count) + suffix
        rows.append(ids)
        labels.append([IGNORE_INDEX] * (len(ids) - 3) + ids[-3:])
        visuals.append([Visual("video", torch.randn(count, 3, 64, 64))])
    width = max(len(ids) for ids in rows)
    pad = lambda seq, value: seq + [value] * (width - len(seq))  # noqa: E731
    return {
        "input_ids": torch.tensor([pad(ids, 0) for ids in rows]),
        "attention_mask": torch.tensor([pad([1] * len(ids), 0) for ids in rows]),
        "labels": torch.tensor([pad(row, IGNORE_INDEX) for row in labels]),
        "visuals": visuals,
    }


def test_off_is_the_plain_forward() -> None:
    model = _model("off")
    assert model.visual_dropout.handles == []
    batch = _batch(model)
    out = model(**batch)
    features = model.visual_features(batch["visuals"])
    embeddings = model.splice(batch["input_ids"], features, batch["visuals"])
    plain = model.llm(
        inputs_embeds=embeddings, attention_mask=batch["attention_mask"], labels=batch["labels"]
    )
    assert torch.equal(out.logits, plain.logits) and torch.equal(out.loss, plain.loss)


def test_keeping_everything_reproduces_the_plain_forward() -> None:
    """Gather, re-pad, renumbered positions and rebuilt masks are exact when nothing drops."""
    plain, kept = _model("off"), _model("uniform", keep=[1.0, 1.0, 1.0, 1.0])
    batch = _batch(plain)
    expected, out = plain(**batch), kept(**batch)
    run = kept.visual_dropout.last_run
    valid = batch["attention_mask"].bool()
    assert run is not None and torch.equal(run.index[run.valid], valid.nonzero()[:, 1])
    assert torch.allclose(out.loss, expected.loss, atol=1e-5)
    for row in range(2):
        mine = out.logits[row][run.valid[row]]
        theirs = expected.logits[row][valid[row]]
        assert torch.allclose(mine, theirs, atol=1e-5)


@pytest.mark.parametrize("mode", ["uniform", "attention", "uniform_then_attention"])
def test_visual_tokens_per_layer(mode: str) -> None:
    model = _model(mode)
    batch = _batch(model)  # 64 and 128 video tokens
    lengths: list[int] = []
    hooks = [
        layer.register_forward_pre_hook(lambda _m, args: lengths.append(args[0].shape[1]))
        for layer in model.llm.model.layers
    ]
    model.train()
    out = model(**batch)
    for hook in hooks:
        hook.remove()
    assert model.visual_dropout.last_run.counts == [[64, 128], [32, 64], [16, 32], [8, 16]]
    text = 9  # tokens around the video in each row
    assert lengths == [128 + text, 64 + text, 32 + text, 16 + text]  # the longer row sets it
    assert out.logits.shape[1] == 16 + text
    out.loss.backward()
    assert model.projector[0].weight.grad.abs().sum() > 0
    if mode == "uniform":  # each drop keeps evenly spaced ones of the survivors, in order
        survivors = list(range(3, 3 + 64))
        for count in (32, 16, 8):
            picks = torch.linspace(0, len(survivors) - 1, count).round().long().tolist()
            survivors = [survivors[pick] for pick in picks]
        assert model.visual_dropout.last_run.index[0, 3 : 3 + 8].tolist() == survivors


def test_attention_mode_keeps_what_the_instruction_attends_to() -> None:
    """The kept tokens are the top ones by the layer's own (eager) attention from the tokens
    just before the answer, averaged over heads and queries."""
    torch.manual_seed(0)
    model, _ = tiny(
        HiCoCompressor(tokens_per_frame=16),
        llm_layers=2,
        visual_dropout={"mode": "attention", "layers": [1], "keep": [1.0, 0.25]},
    )
    model.eval()
    batch = _batch(model, frames=(4,))
    model(**batch)
    kept = model.visual_dropout.last_run.index[0]
    kept_video = kept[(kept >= 3) & (kept < 3 + 64)]
    model.llm.set_attn_implementation("eager")
    embeddings = model.splice(
        batch["input_ids"], model.visual_features(batch["visuals"]), batch["visuals"]
    )
    attentions = model.llm(inputs_embeds=embeddings, output_attentions=True).attentions[1]
    labels = batch["labels"][0]
    queries = [t for t in range(len(labels) - 1) if labels[t] == -100 and labels[t + 1] != -100]
    scores = attentions[0][:, queries, 3 : 3 + 64].mean(dim=(0, 1))
    assert kept_video.tolist() == sorted((scores.topk(16).indices + 3).tolist())
