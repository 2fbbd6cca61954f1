"""The video LLM: vision encoder -> token compressor -> projector -> causal LM.

Video tokens replace <video> placeholder positions in the LLM's input embeddings. The
data side reserves `num_video_tokens(frames)` placeholders per video; any disagreement
with what the compressor actually produced is an error, never a silent truncation.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from longvid.model.compressors import TokenCompressor
from longvid.model.encoder import VisionEncoder

PARTS = ("encoder", "compressor", "projector", "llm")


def input_embeddings(llm: PreTrainedModel) -> nn.Embedding:
    """The LLM's token embedding table, where video tokens are written in."""
    table = llm.get_input_embeddings()
    if not isinstance(table, nn.Embedding):
        raise TypeError(f"{type(llm).__name__}: input embeddings are not an nn.Embedding table")
    return table


class VideoTokenMismatch(ValueError):
    """A sample's <video> placeholder count differs from its compressed video token count."""


def projector(encoder_width: int, llm_width: int) -> nn.Sequential:
    """Linear-GELU-Linear from encoder width to LLM width (the LLaVA-style MLP connector)."""
    return nn.Sequential(
        nn.Linear(encoder_width, llm_width), nn.GELU(), nn.Linear(llm_width, llm_width)
    )


class VideoLLM(nn.Module):
    """Encoder, compressor, projector and LLM, named as the schedule's trainable parts."""

    def __init__(
        self,
        encoder: VisionEncoder,
        compressor: TokenCompressor,
        projector: nn.Module,
        llm: PreTrainedModel,
        video_token_id: int,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.compressor = compressor
        self.projector = projector
        self.llm = llm
        self.video_token_id = video_token_id

    def num_video_tokens(self, frames: int) -> int:
        """Placeholder positions a video of `frames` frames needs in the prompt."""
        return self.compressor.num_tokens(frames, self.encoder.grid)

    def video_features(self, videos: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per video (T, 3, S, S) frames -> (M, llm width) tokens, encoding all frames at once."""
        frames = torch.cat(videos, dim=0)
        encoder_trains = any(p.requires_grad for p in self.encoder.parameters())
        with torch.set_grad_enabled(encoder_trains and torch.is_grad_enabled()):
            patch_tokens = self.encoder(frames)
        per_video = patch_tokens.split([len(video) for video in videos], dim=0)
        return [self.projector(self.compressor(tokens, self.encoder.grid)) for tokens in per_video]

    def splice(self, input_ids: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        """Input embeddings with each sample's video tokens written at its placeholders."""
        placeholder = input_ids == self.video_token_id
        counts = placeholder.sum(dim=1).tolist()
        for index, (count, tokens) in enumerate(zip(counts, features, strict=True)):
            if count != tokens.shape[0]:
                raise VideoTokenMismatch(
                    f"sample {index}: {count} <video> placeholder positions but the compressor "
                    f"produced {tokens.shape[0]} video tokens; expand the placeholder to "
                    f"model.num_video_tokens(frames) positions"
                )
        embeddings = input_embeddings(self.llm)(input_ids)
        video = torch.cat(features, dim=0).to(embeddings.dtype)
        return embeddings.masked_scatter(placeholder.unsqueeze(-1), video)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        videos: list[torch.Tensor],
        labels: torch.Tensor | None = None,
    ) -> CausalLMOutputWithPast:
        """LM outputs (loss when labels are given) for a batch with one video per sample."""
        if len(videos) != input_ids.shape[0]:
            raise ValueError(f"{input_ids.shape[0]} samples but {len(videos)} videos")
        embeddings = self.splice(input_ids, self.video_features(videos))
        return self.llm(inputs_embeds=embeddings, attention_mask=attention_mask, labels=labels)

    def set_trainable(self, parts: list[str]) -> None:
        """Freeze everything, then unfreeze the named parts (a schedule stage's choice)."""
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
        for name in PARTS:
            getattr(self, name).requires_grad_(name in parts)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute encoder and LLM activations in backward to fit longer videos."""
        for module in (self.encoder.tower, self.llm):
            module.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )


def video_llm(
    encoder: VisionEncoder,
    compressor: TokenCompressor,
    llm: PreTrainedModel,
    video_token_id: int,
    connector: nn.Module | None = None,
) -> VideoLLM:
    """Generic builder: assemble parts; the projector defaults to Linear-GELU-Linear."""
    llm_width = input_embeddings(llm).embedding_dim
    connector = connector if connector is not None else projector(encoder.hidden_size, llm_width)
    return VideoLLM(encoder, compressor, connector, llm, video_token_id)
