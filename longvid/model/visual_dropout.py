"""Progressive visual token dropout inside the LLM: the video-level half of VideoChat-Flash's HiCo.

After chosen decoder layers (`layers`, VideoChat-Flash: 8, 16, 24) the LLM keeps only a
share of each sample's visual tokens (`keep`: 1, 0.5, 0.25, 0.125 of the tokens the sample
started with), so the deep layers of a long video run on a fraction of the sequence.
Which tokens stay:
- `uniform`: evenly spaced ones (temporal order kept);
- `attention`: those the instruction attends to most: the queries are the tokens just
  before each answer (training) or the last token (no labels), scored with the next
  layer's own query/key projections and rotary embeddings, mean over heads and queries;
- `uniform_then_attention`: uniform at the first drop, attention after (the paper's choice:
  shallow layers' attention is not yet informative);
- `off` (default): nothing is installed; the forward is exactly the plain LLM's.

The hook. `VisualDropout.install(llm)` registers a forward pre-hook with kwargs
(`nn.Module.register_forward_pre_hook(..., with_kwargs=True)`, PyTorch's documented hook
API) on every decoder layer of a Hugging Face causal LM. It relies only on what the
transformers 5 decoder-only models share (Qwen2, Qwen2.5, Qwen3, Llama, Mistral):
`llm.model.layers`, `llm.model.rotary_emb`, `config.layer_types`, decoder layers called
as `layer(hidden_states, attention_mask=..., position_embeddings=..., position_ids=...)`
with `input_layernorm` and `self_attn.{q,k}_proj`. The model file is not forked. At a
drop layer the hook gathers the kept tokens of `hidden_states`, renumbers positions
contiguously within each sample (as VideoChat-Flash does), and rebuilds the causal mask
(`transformers.masking_utils.create_causal_mask`) and the rotary embeddings; every later
layer gets those in place of the full-length ones its model passes. Module hooks run
outside transformers' gradient checkpointing, so a drop happens once per forward.

Scope: full-sequence forwards (training, scoring). A forward with a KV cache (`generate`)
is left alone. Packed rows (several samples, positions restarting at 0) are handled per
sample. The caller (`VideoLLM.forward`) opens a `track(...)` context around the LLM call
and gathers its labels with the final `index` to compute the loss.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

from longvid_pipeline.config import param

IGNORE_INDEX = -100
MODES = ("off", "uniform", "attention", "uniform_then_attention")


@dataclass
class VisualDropoutConfig:
    """Where and how much the LLM drops visual tokens (model.visual_dropout)."""

    mode: str | bool = param(
        "off",
        f"visual token dropout inside the LLM: {' | '.join(MODES)} (YAML's bare off is off)",
        choices=(*MODES, False),
    )
    layers: list[int] = param([8, 16, 24], "drop after these many decoder layers (ascending)")
    keep: list[float] = param(
        [1.0, 0.5, 0.25, 0.125],
        "share of a sample's visual tokens kept before the first drop layer and after each",
    )

    def __post_init__(self) -> None:
        if self.mode is False:  # `mode: off` in YAML reads as the boolean false
            self.mode = "off"

    def problems(self, llm_layers: int | None = None) -> list[tuple[str, str]]:
        """(key, message) for each inconsistency; `llm_layers` checks depth when known."""
        found = []
        if len(self.keep) != len(self.layers) + 1:
            found.append(("keep", f"needs {len(self.layers) + 1} values (one more than layers)"))
        if any(b <= a for a, b in zip(self.layers, self.layers[1:], strict=False)) or any(
            layer < 1 for layer in self.layers
        ):
            found.append(("layers", f"must be positive and ascending, got {self.layers}"))
        if any(not 0 < ratio <= 1 for ratio in self.keep) or any(
            b > a for a, b in zip(self.keep, self.keep[1:], strict=False)
        ):
            found.append(("keep", f"must be in (0, 1] and non-increasing, got {self.keep}"))
        if (
            llm_layers is not None
            and self.mode != "off"
            and any(layer >= llm_layers for layer in self.layers)
        ):
            found.append(("layers", f"every layer must be below the LLM's {llm_layers} layers"))
        return found

    def mode_at(self, drop: int) -> str:
        """The selection rule of the `drop`-th drop (0-based)."""
        if self.mode == "uniform_then_attention":
            return "uniform" if drop == 0 else "attention"
        return str(self.mode)


@dataclass
class DropRun:
    """One forward's token bookkeeping: per current token, where it came from and what it is."""

    index: torch.Tensor  # (B, n) position of each current token in the input sequence
    valid: torch.Tensor  # (B, n) False on padding
    visual: torch.Tensor  # (B, n) a visual placeholder position
    query: torch.Tensor  # (B, n) an attention-mode query token
    segment: torch.Tensor  # (B, n) which sample of a packed row (padding added here: -1)
    budget: dict[tuple[int, int], int]  # visual tokens each (row, sample) started with
    packed: bool
    counts: list[list[int]] = field(default_factory=list)  # visual tokens per row, per layer
    replaced: dict[str, Any] | None = None  # mask, positions, rotary for the layers after a drop

    def visual_counts(self) -> list[int]:
        return (self.visual & self.valid).sum(dim=1).tolist()


def _segments(position_ids: torch.Tensor) -> torch.Tensor:
    """Sample index within each row: a new sample starts wherever positions do not step by 1."""
    step = torch.diff(position_ids, prepend=position_ids[:, :1] - 1, dim=-1)
    return (step != 1).cumsum(-1) - 1


def _queries(
    labels: torch.Tensor | None, valid: torch.Tensor, segment: torch.Tensor
) -> torch.Tensor:
    """Tokens just before each answer token run; without labels, each sample's last token."""
    query = torch.zeros_like(valid)
    if labels is not None:
        answer = labels != IGNORE_INDEX
        query[:, :-1] = ~answer[:, :-1] & answer[:, 1:]
        return query & valid
    ends = torch.ones_like(valid)
    ends[:, :-1] = segment[:, 1:] != segment[:, :-1]
    return ends & valid


def start_run(
    visual: torch.Tensor,
    attention_mask: torch.Tensor | None,
    labels: torch.Tensor | None,
    position_ids: torch.Tensor | None,
) -> DropRun:
    """Bookkeeping for a batch: `visual` marks placeholder positions; packed rows come with
    `position_ids` and no `attention_mask`."""
    batch, length = visual.shape
    valid = attention_mask.bool() if attention_mask is not None else torch.ones_like(visual)
    packed = attention_mask is None and position_ids is not None
    positions = (
        position_ids.expand(batch, -1)
        if position_ids is not None
        else torch.arange(length, device=visual.device).expand(batch, -1)
    )
    segment = _segments(positions) if packed else torch.zeros_like(positions)
    budget: dict[tuple[int, int], int] = {}
    rows, columns = (visual & valid).nonzero(as_tuple=True)
    for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
        key = (row, int(segment[row, column]))
        budget[key] = budget.get(key, 0) + 1
    index = torch.arange(length, device=visual.device).expand(batch, -1)
    return DropRun(index, valid, visual, _queries(labels, valid, segment), segment, budget, packed)


def _uniform(candidates: torch.Tensor, count: int) -> torch.Tensor:
    """`count` evenly spaced entries of `candidates` (first and last included)."""
    picks = torch.linspace(0, len(candidates) - 1, count, device=candidates.device)
    return candidates[picks.round().long()]


def _choose(
    run: DropRun, row: int, ratio: float, mode: str, scores: torch.Tensor | None
) -> torch.Tensor:
    """Current-token indices of `row` that survive this drop, in order."""
    keep = run.valid[row] & ~run.visual[row]
    for sample in run.segment[row].unique().tolist():
        members = run.visual[row] & run.valid[row] & (run.segment[row] == sample)
        candidates = members.nonzero().flatten()
        if not len(candidates):
            continue
        target = max(1, int(run.budget[(row, sample)] * ratio))
        if target >= len(candidates):
            keep[candidates] = True
            continue
        queried = bool((run.query[row] & (run.segment[row] == sample)).any())
        if mode == "attention" and scores is not None and queried:
            chosen = candidates[scores[row, candidates].topk(target).indices]
        else:
            chosen = _uniform(candidates, target)
        keep[chosen] = True
    return keep.nonzero().flatten()


def _rotary(module: Any) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The attention module's own `apply_rotary_pos_emb` (from its modeling file)."""
    rotary: Callable[..., tuple[torch.Tensor, torch.Tensor]] = sys.modules[
        type(module).__module__
    ].apply_rotary_pos_emb
    return rotary


def attention_scores(
    layer: Any, hidden: torch.Tensor, run: DropRun, rotary: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """(B, n) mean attention each token gets from the row's query tokens, computed with
    `layer`'s layer norm, q/k projections and the current rotary embeddings; softmax over
    the keys each query may see (same sample, causal, not padding)."""
    attn: Any = layer.self_attn
    with torch.no_grad():
        normed = layer.input_layernorm(hidden)
        batch, length, _ = normed.shape
        query = attn.q_proj(normed).view(batch, length, -1, attn.head_dim)
        key = attn.k_proj(normed).view(batch, length, -1, attn.head_dim)
        if hasattr(attn, "q_norm") and hasattr(attn, "k_norm"):  # Qwen3
            query, key = attn.q_norm(query), attn.k_norm(key)
        query, key = _rotary(attn)(query.transpose(1, 2), key.transpose(1, 2), *rotary)
        key = key.repeat_interleave(query.shape[1] // key.shape[1], dim=1)
        scores = torch.zeros(batch, length, device=hidden.device)
        positions = torch.arange(length, device=hidden.device)
        for row in range(batch):
            asked = run.query[row].nonzero().flatten()
            if not len(asked):
                continue
            logits = query[row][:, asked].float() @ key[row].float().transpose(-1, -2)
            seen = (
                (run.segment[row][asked, None] == run.segment[row][None, :])
                & run.valid[row][None, :]
                & (positions[None, :] <= asked[:, None])
            )
            logits = logits / math.sqrt(attn.head_dim)
            probs = logits.masked_fill(~seen, float("-inf")).softmax(dim=-1)
            scores[row] = probs.mean(dim=(0, 1))
    return scores


class VisualDropout:
    """The hook object: holds the config, the installed hooks and the current forward's run."""

    def __init__(self, config: VisualDropoutConfig) -> None:
        self.config = config
        self.drops = {layer: drop for drop, layer in enumerate(config.layers)}
        self.run: DropRun | None = None
        self.last_run: DropRun | None = None  # the previous forward's run (counts per layer)
        self.handles: list[Any] = []
        self.base: Any = None

    def install(self, llm: Any) -> None:
        """Register the pre-hooks on `llm`'s decoder layers (nothing when mode is off).

        Raises:
            ValueError: a drop layer is not below the LLM's depth.
        """
        base = llm.get_decoder() if hasattr(llm, "get_decoder") else llm.model
        problems = self.config.problems(len(base.layers))
        if problems:
            raise ValueError("; ".join(f"visual_dropout.{key}: {text}" for key, text in problems))
        if self.config.mode == "off":
            return
        self.base = base
        for index, layer in enumerate(base.layers):
            self.handles.append(
                layer.register_forward_pre_hook(self._hook(index), with_kwargs=True)
            )

    @contextmanager
    def track(
        self,
        visual: torch.Tensor,
        attention_mask: torch.Tensor | None,
        labels: torch.Tensor | None,
        position_ids: torch.Tensor | None,
    ) -> Iterator[DropRun | None]:
        """Around one LLM call: yields the run (None when off) whose `index` maps the LLM's
        output positions back to input positions."""
        if not self.handles:
            yield None
            return
        self.run = start_run(visual, attention_mask, labels, position_ids)
        try:
            yield self.run
        finally:
            self.last_run, self.run = self.run, None

    def _hook(self, index: int) -> Callable[..., Any]:
        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            run = self.run
            if run is None or kwargs.get("cache") is not None or not args:
                return None
            hidden = args[0]
            if index in self.drops:
                current = run.replaced or kwargs  # an earlier drop's rotary, else the model's
                rotary = current["position_embeddings"]
                hidden = self._drop(run, self.drops[index], module, hidden, rotary)
            run.counts.append(run.visual_counts())
            if run.replaced is None:
                return None
            layer_types = getattr(self.base.config, "layer_types", None) or []
            kind = layer_types[index] if index < len(layer_types) else "full_attention"
            replaced = dict(run.replaced)
            masks = replaced.pop("masks")
            return (hidden, *args[1:]), {**kwargs, **replaced, "attention_mask": masks[kind]}

        return hook

    def _drop(
        self,
        run: DropRun,
        drop: int,
        layer: Any,
        hidden: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        """Keep this drop's tokens of every row: gather, re-pad, rebuild mask and rotary."""
        mode, ratio = self.config.mode_at(drop), self.config.keep[drop + 1]
        scores = attention_scores(layer, hidden, run, rotary) if mode == "attention" else None
        kept = [_choose(run, row, ratio, mode, scores) for row in range(hidden.shape[0])]
        width = max(len(rows) for rows in kept)
        gather = torch.zeros(len(kept), width, dtype=torch.long, device=hidden.device)
        filled = torch.zeros(len(kept), width, dtype=torch.bool, device=hidden.device)
        for row, rows in enumerate(kept):
            gather[row, : len(rows)] = rows
            filled[row, : len(rows)] = True
        for name in ("index", "visual", "query", "segment"):
            setattr(run, name, getattr(run, name).gather(1, gather))
        run.valid = run.valid.gather(1, gather) & filled
        run.visual &= filled
        run.query &= filled
        run.segment = run.segment.masked_fill(~filled, -1)
        hidden = hidden.gather(1, gather[..., None].expand(-1, -1, hidden.shape[-1]))
        run.replaced = self._rebuild(run, hidden)
        return hidden

    def _rebuild(self, run: DropRun, hidden: torch.Tensor) -> dict[str, Any]:
        """Positions renumbered within each sample (padding: its own run from 0), and the
        mask and rotary embeddings the model would have built for that sequence."""
        start_of_sample = torch.ones_like(run.valid)
        start_of_sample[:, 1:] = run.segment[:, 1:] != run.segment[:, :-1]
        steps = torch.ones_like(run.index)
        ones_before = steps.cumsum(-1) - 1
        starts = torch.where(start_of_sample, ones_before, torch.zeros_like(ones_before))
        positions = ones_before - starts.cummax(-1).values
        base = self.base
        config = base.config
        arguments = {
            "config": config,
            "inputs_embeds": hidden,
            "attention_mask": None if run.packed else run.valid.long(),
            "cache": None,
            "position_ids": positions,
        }
        masks = {"full_attention": create_causal_mask(**arguments)}
        if "sliding_attention" in (getattr(config, "layer_types", None) or []):
            masks["sliding_attention"] = create_sliding_window_causal_mask(**arguments)
        return {
            "masks": masks,
            "position_ids": positions,
            "position_embeddings": base.rotary_emb(hidden, positions),
        }
