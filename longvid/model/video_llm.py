"""The video LLM: vision encoder -> token compressor -> projector -> causal LM.

Visual tokens replace <video> / <image> placeholder positions in the LLM's input
embeddings. A batch row carries its visuals in placeholder order (`Visual`: a video's
frames or one image); the data side reserves `num_video_tokens(frames)` placeholders per
video and `num_image_tokens()` per image, and any disagreement with what the compressor
produced is an error, never a silent truncation.

`VideoLLM` is a Hugging Face `PreTrainedModel` (config: `VideoLLMConfig`), so
`save_pretrained` / `from_pretrained` work on it; the training loop uses it as a plain
module. Importing this module registers the model type `longvid` with `AutoConfig`,
`AutoModel` and `AutoModelForCausalLM`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from longvid.model.compressors import TokenCompressor
from longvid.model.compressors import compressor as build_compressor
from longvid.model.configuration import VideoLLMConfig
from longvid.model.encoder import VisionEncoder
from longvid.model.tokenizer import IMAGE_TOKEN, VIDEO_TOKEN
from longvid.model.visual_dropout import IGNORE_INDEX, VisualDropout, VisualDropoutConfig

PARTS = ("encoder", "compressor", "projector", "llm")
KINDS = ("video", "image")


def input_embeddings(llm: PreTrainedModel) -> nn.Embedding:
    """The LLM's token embedding table, where video tokens are written in."""
    table = llm.get_input_embeddings()
    if not isinstance(table, nn.Embedding):
        raise TypeError(f"{type(llm).__name__}: input embeddings are not an nn.Embedding table")
    return table


class VideoTokenMismatch(ValueError):
    """A sample's placeholder count differs from its compressed visual token count."""


@dataclass
class Visual:
    """One visual input of a sample: a video's frames (T, 3, S, S) or one image (1, 3, S, S)."""

    kind: str
    pixels: torch.Tensor


@dataclass(frozen=True)
class VisualTokenCounts:
    """Placeholder counts at a resolution: small and picklable, for DataLoader workers."""

    compressor: TokenCompressor
    grid: tuple[int, int]

    def video(self, frames: int) -> int:
        return self.compressor.num_tokens(frames, self.grid)

    def image(self) -> int:
        return self.compressor.num_image_tokens(self.grid)


def projector(encoder_width: int, llm_width: int) -> nn.Sequential:
    """Linear-GELU-Linear from encoder width to LLM width (the LLaVA-style MLP connector)."""
    return nn.Sequential(
        nn.Linear(encoder_width, llm_width), nn.GELU(), nn.Linear(llm_width, llm_width)
    )


class VideoLLM(PreTrainedModel):
    """Encoder, compressor, projector and LLM, named as the schedule's trainable parts."""

    config_class = VideoLLMConfig
    base_model_prefix = ""
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    encoder: VisionEncoder
    compressor: TokenCompressor
    projector: Any  # the connector (a Module; indexable when it is the default Sequential)
    llm: Any  # a transformers causal LM

    def __init__(
        self,
        config: VideoLLMConfig,
        encoder: VisionEncoder | None = None,
        compressor: TokenCompressor | None = None,
        connector: nn.Module | None = None,
        llm: PreTrainedModel | None = None,
    ) -> None:
        """From the config alone (from_pretrained, random init), or around built parts."""
        super().__init__(config)
        given = [part for part in (encoder, connector, llm) if part is not None]
        if config.video_token_id is None:
            raise ValueError("VideoLLMConfig.video_token_id is required")
        if encoder is None:
            encoder = VisionEncoder(
                AutoModel.from_config(config.vision_config), config.feature_layer
            )
        if llm is None:
            llm = AutoModelForCausalLM.from_config(config.text_config)
        llm_width = input_embeddings(llm).embedding_dim
        if compressor is None:
            compressor = build_compressor(**config.compressor)
        if connector is None:
            connector = projector(encoder.hidden_size, llm_width)
        for part in given:  # built (maybe pretrained) parts: post_init must not re-initialize
            for module in part.modules():
                setattr(module, "_is_hf_initialized", True)  # noqa: B010
        self.encoder, self.compressor, self.projector, self.llm = (
            encoder,
            compressor,
            connector,
            llm,
        )
        self.video_token_id = int(config.video_token_id)
        self.image_token_id = -1 if config.image_token_id is None else int(config.image_token_id)
        self.encoder.set_image_size(config.image_size or self.encoder.native_size)
        self.visual_dropout = VisualDropout(VisualDropoutConfig(**config.visual_dropout))
        self.visual_dropout.install(self.llm)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Fresh parts of our own (the projector) get torch's default init."""
        if isinstance(module, nn.Linear):
            module.reset_parameters()

    def get_input_embeddings(self) -> nn.Module:
        return input_embeddings(self.llm)

    def set_image_size(self, size: int) -> None:
        """Run the vision tower at `size` px from now on (a schedule stage's resolution)."""
        self.encoder.set_image_size(size)
        self.config.image_size = size

    def token_counts(self) -> VisualTokenCounts:
        """Placeholder counts at the current resolution (what the data side needs)."""
        return VisualTokenCounts(self.compressor, self.encoder.grid)

    def num_video_tokens(self, frames: int) -> int:
        """Placeholder positions a video of `frames` frames needs in the prompt."""
        return self.compressor.num_tokens(frames, self.encoder.grid)

    def num_image_tokens(self) -> int:
        """Placeholder positions one image needs in the prompt."""
        return self.compressor.num_image_tokens(self.encoder.grid)

    def visual_features(self, visuals: list[list[Visual]]) -> list[torch.Tensor]:
        """Per row, (M, llm width) tokens of its visuals in order. All frames of the batch go
        through the tower in chunks of `config.encoder_chunk_frames`."""
        flat = [visual for row in visuals for visual in row]
        width = input_embeddings(self.llm).embedding_dim
        if not flat:
            empty = self.projector[0].weight.new_zeros(0, width)
            return [empty for _ in visuals]
        frames = torch.cat([visual.pixels for visual in flat], dim=0)
        patches = self.encoder.encode(frames, self.config.encoder_chunk_frames)
        grid = self.encoder.grid
        tokens = [
            self.compressor(piece, grid)
            if visual.kind == "video"
            else self.compressor.compress_image(piece, grid)
            for visual, piece in zip(
                flat, patches.split([len(v.pixels) for v in flat]), strict=True
            )
        ]
        projected = self.projector(torch.cat(tokens, dim=0)).split([len(t) for t in tokens])
        rows, start = [], 0
        for row in visuals:
            rows.append(torch.cat([*projected[start : start + len(row)], projected[0][:0]], dim=0))
            start += len(row)
        return rows

    def video_features(self, videos: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per video (T, 3, S, S) frames -> (M, llm width) tokens (one video per row)."""
        return self.visual_features([[Visual("video", video)] for video in videos])

    def placeholders(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, N) True at <video> and <image> positions."""
        return (input_ids == self.video_token_id) | (input_ids == self.image_token_id)

    def _check_row(self, index: int, ids: torch.Tensor, row: list[Visual], tokens: int) -> None:
        kind_ids = {"video": self.video_token_id, "image": self.image_token_id}
        names = {"video": VIDEO_TOKEN, "image": IMAGE_TOKEN}
        produced = {kind: 0 for kind in KINDS}
        for visual in row:
            produced[visual.kind] += (
                self.num_video_tokens(len(visual.pixels))
                if visual.kind == "video"
                else self.num_image_tokens()
            )
        for kind in KINDS:
            count = int((ids == kind_ids[kind]).sum())
            if count != produced[kind]:
                raise VideoTokenMismatch(
                    f"sample {index}: {count} {names[kind]} placeholder positions but the "
                    f"compressor produced {produced[kind]} {kind} tokens; expand each placeholder "
                    f"to model.num_{kind}_tokens(...) positions"
                )
        if int(self.placeholders(ids).sum()) != tokens:
            raise VideoTokenMismatch(f"sample {index}: placeholders and visual tokens disagree")

    def splice(
        self,
        input_ids: torch.Tensor,
        features: list[torch.Tensor],
        visuals: list[list[Visual]] | None = None,
    ) -> torch.Tensor:
        """Input embeddings with each row's visual tokens written at its placeholders
        (`visuals` None: one video per row, as `video_features` gives)."""
        if visuals is None:
            for index, (ids, tokens) in enumerate(zip(input_ids, features, strict=True)):
                count = int(self.placeholders(ids).sum())
                if count != tokens.shape[0]:
                    raise VideoTokenMismatch(
                        f"sample {index}: {count} {VIDEO_TOKEN} placeholder positions but the "
                        f"compressor produced {tokens.shape[0]} video tokens"
                    )
        else:
            for index, (ids, row, tokens) in enumerate(
                zip(input_ids, visuals, features, strict=True)
            ):
                self._check_row(index, ids, row, tokens.shape[0])
        embeddings = input_embeddings(self.llm)(input_ids)
        visual = torch.cat(features, dim=0).to(embeddings.dtype)
        return embeddings.masked_scatter(self.placeholders(input_ids).unsqueeze(-1), visual)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        videos: list[torch.Tensor] | None = None,
        labels: torch.Tensor | None = None,
        visuals: list[list[Visual]] | None = None,
        position_ids: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """LM outputs (loss when labels are given).

        Args:
            input_ids: (B, N) with placeholders already expanded.
            attention_mask: (B, N) padding mask; None for packed rows (then `position_ids`
                restart at 0 at each sample and the mask is block-causal).
            videos: one (T, 3, S, S) video per row (the one-video shorthand of `visuals`).
            labels: (B, N), IGNORE_INDEX where no loss.
            visuals: per row, its videos and images in placeholder order.
            position_ids: (B, N) positions (packing), or None for 0..N-1.
        """
        if visuals is None:
            visuals = [[Visual("video", video)] for video in videos or []]
        if len(visuals) != input_ids.shape[0]:
            raise ValueError(f"{input_ids.shape[0]} samples but {len(visuals)} rows of visuals")
        embeddings = self.splice(input_ids, self.visual_features(visuals), visuals)
        arguments = dict(
            inputs_embeds=embeddings,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
            **kwargs,
        )
        placeholder = self.placeholders(input_ids)
        with self.visual_dropout.track(placeholder, attention_mask, labels, position_ids) as run:
            if run is None:
                return self.llm(labels=labels, **arguments)
            outputs = self.llm(**arguments)
        if labels is not None:
            kept = labels.gather(1, run.index).masked_fill(~run.valid, IGNORE_INDEX)
            outputs.loss = self.llm.loss_function(
                logits=outputs.logits, labels=kept, vocab_size=outputs.logits.shape[-1]
            )
        return outputs

    def set_trainable(self, parts: list[str]) -> None:
        """Freeze everything, then unfreeze the named parts (a schedule stage's choice)."""
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
        for name in PARTS:
            getattr(self, name).requires_grad_(name in parts)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute encoder and LLM activations in backward to fit longer videos."""
        towers: tuple[Any, ...] = (self.encoder.tower, self.llm)
        for module in towers:
            module.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )


def video_llm(
    encoder: VisionEncoder,
    compressor: TokenCompressor,
    llm: PreTrainedModel,
    video_token_id: int,
    connector: nn.Module | None = None,
    image_token_id: int | None = None,
    encoder_chunk_frames: int = 0,
    visual_dropout: dict[str, Any] | None = None,
) -> VideoLLM:
    """Generic builder: assemble parts; the projector defaults to Linear-GELU-Linear."""
    config = VideoLLMConfig(
        vision_config=encoder.tower.config,
        text_config=llm.config,
        compressor=compressor.spec(),
        feature_layer=encoder.feature_layer,
        image_size=encoder.image_size,
        video_token_id=video_token_id,
        image_token_id=-1 if image_token_id is None else image_token_id,  # -1: no images
        encoder_chunk_frames=encoder_chunk_frames,
        visual_dropout=visual_dropout,
    )
    llm_width = input_embeddings(llm).embedding_dim
    connector = connector if connector is not None else projector(encoder.hidden_size, llm_width)
    return VideoLLM(config, encoder, compressor, connector, llm)


AutoConfig.register(VideoLLMConfig.model_type, VideoLLMConfig, exist_ok=True)
AutoModel.register(VideoLLMConfig, VideoLLM, exist_ok=True)
AutoModelForCausalLM.register(VideoLLMConfig, VideoLLM, exist_ok=True)
