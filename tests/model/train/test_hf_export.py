"""A checkpoint's hf/ folder is a Hugging Face model folder: from_pretrained (ours and the
Auto classes) rebuilds the same model, tokenizer and image processor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModel, AutoModelForCausalLM, AutoTokenizer

from longvid.data import load_image, normalize
from longvid.model import HiCoCompressor, VideoLLM, Visual, tiny
from longvid.train.checkpoint import LoopState, load_weights, save_checkpoint


def test_hf_folder_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    dropout = {"mode": "uniform", "layers": [1], "keep": [1.0, 0.5]}
    model, tokenizer = tiny(HiCoCompressor(tokens_per_frame=4), visual_dropout=dropout)
    model.set_image_size(96)  # as after a high-resolution stage
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    saved = save_checkpoint(
        tmp_path, model, tokenizer, {"schedule": {}}, LoopState(7, 0, 7), optimizer, scheduler, 1
    )
    folder = saved / "hf"
    assert {p.name for p in folder.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "preprocessor_config.json",
    }
    video = torch.randn(4, 3, 96, 96)
    ids = torch.tensor([[5, 6] + [model.video_token_id] * model.num_video_tokens(4) + [7, 8, 9]])
    model.eval()
    expected = model(ids, visuals=[[Visual("video", video)]]).logits
    for loader in (VideoLLM, AutoModel, AutoModelForCausalLM):
        loaded = loader.from_pretrained(folder).eval()
        assert isinstance(loaded, VideoLLM) and loaded.encoder.image_size == 96
        assert loaded.config.visual_dropout["mode"] == "uniform"
        assert (
            loaded.llm.lm_head.weight.data_ptr() == loaded.llm.model.embed_tokens.weight.data_ptr()
        )
        logits = loaded(ids, visuals=[[Visual("video", video)]]).logits
        assert torch.allclose(logits, expected, atol=1e-5)
    # native format: the same weights load strictly into a model built from the config
    native, _ = tiny(HiCoCompressor(tokens_per_frame=4), visual_dropout=dropout)
    assert load_weights(saved, native) == LoopState(7, 0, 7)
    native.set_image_size(96)
    assert torch.allclose(
        native.eval()(ids, visuals=[[Visual("video", video)]]).logits, expected, atol=1e-5
    )
    # tokenizer and processor: same ids, same pixels as training's image path
    loaded_tokenizer = AutoTokenizer.from_pretrained(folder)
    text = "<video>\nWhat happens?"
    assert loaded_tokenizer(text)["input_ids"] == tokenizer(text)["input_ids"]
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)).save(
        tmp_path / "x.png"
    )
    processor = AutoImageProcessor.from_pretrained(folder)
    pixels = processor(Image.open(tmp_path / "x.png"), return_tensors="pt")["pixel_values"]
    ours = normalize(load_image(tmp_path / "x.png", 96), model.encoder.frame_spec)
    assert pixels.shape == ours.shape == (1, 3, 96, 96)
    assert torch.allclose(pixels, ours, atol=0.02)
