"""Vision preprocessing against what each family's transformers processor produces.

transformers' video processors need torchvision, which this project cannot use; its PIL
image processors do the same resize / crop / rescale / normalize / patchify steps on
images, so the same pixels must come out of ours (two equal frames make one Qwen
temporal patch, exactly what the image processor builds from one image)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from support.shards import make_video
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
    LlavaOnevisionImageProcessorPil,
)
from transformers.models.qwen2_vl import image_processing_pil_qwen2_vl as hf_qwen
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from longvid_pipeline.media.frames import frames_at
from longvid_pipeline.models.vision import (
    FAMILIES,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    VisionSpec,
    center_crop,
    normalize,
    patchify,
    pixel_inputs,
    sample_times,
    smart_resize,
    vision_spec,
)

RNG = np.random.default_rng(0)


def qwen_spec(**overrides: int) -> VisionSpec:
    fields = {"patch_size": 14, "merge_size": 2, "temporal_patch_size": 2,
              "min_pixels": 56 * 56, "max_pixels": 56 * 84}  # fmt: skip
    return VisionSpec(FAMILIES["qwen2_vl"], **{**fields, **overrides})


@pytest.mark.parametrize(
    ("height", "width", "max_pixels"),
    [
        (120, 160, 56 * 84),
        (360, 640, 448 * 448),
        (720, 1280, 768 * 28 * 28),
        (30, 900, 56 * 56 * 9),
    ],
)
def test_smart_resize_is_qwen_s(height: int, width: int, max_pixels: int) -> None:
    ours = smart_resize(height, width, 28, 56 * 56, max_pixels)
    assert ours == hf_qwen.smart_resize(height, width, 28, 56 * 56, max_pixels)
    assert ours[0] % 28 == 0 and ours[1] % 28 == 0 and ours[0] * ours[1] <= max_pixels


def test_qwen_patches_equal_the_transformers_image_processor() -> None:
    image = RNG.integers(0, 256, (56, 84, 3), dtype=np.uint8)
    reference = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=56 * 84)(
        images=[Image.fromarray(image)], return_tensors="pt"
    )
    spec = qwen_spec()
    pixels = normalize(
        torch.from_numpy(np.stack([image, image])), OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
    )
    patches, grid = patchify(pixels, spec)
    assert grid == tuple(reference["image_grid_thw"][0].tolist()) == (1, 4, 6)
    assert patches.shape == reference["pixel_values"].shape == (24, 3 * 2 * 14 * 14)
    torch.testing.assert_close(patches, reference["pixel_values"], atol=1e-5, rtol=0)
    assert spec.token_count(2, 56, 84) == 24 // 4


def test_qwen_pads_frames_to_whole_temporal_patches() -> None:
    frames = RNG.integers(0, 256, (3, 56, 84, 3), dtype=np.uint8)
    inputs = pixel_inputs([frames], qwen_spec(), OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, "cpu",
                          torch.float32, fps=[2.0])  # fmt: skip
    assert inputs["video_grid_thw"].tolist() == [[2, 4, 6]]
    assert inputs["pixel_values_videos"].shape == (48, 1176)
    last_patch = inputs["pixel_values_videos"][24:].reshape(24, 3, 2, 14, 14)
    torch.testing.assert_close(last_patch[:, :, 0], last_patch[:, :, 1])  # frame 3 repeated


def test_onevision_frames_equal_the_transformers_image_processor() -> None:
    square = RNG.integers(0, 256, (56, 56, 3), dtype=np.uint8)
    processor = LlavaOnevisionImageProcessorPil(
        size={"height": 56, "width": 56}, image_grid_pinpoints=[[56, 56]],
        image_mean=[0.5] * 3, image_std=[0.5] * 3,
    )  # fmt: skip
    reference = processor(images=[Image.fromarray(square)], return_tensors="pt")["pixel_values"]
    spec = VisionSpec(FAMILIES["llava_onevision"], patch_size=14, image_size=56)
    ours = pixel_inputs([square[None]], spec, (0.5,) * 3, (0.5,) * 3, "cpu", torch.float32)
    assert ours["pixel_values_videos"].shape == (1, 1, 3, 56, 56)
    torch.testing.assert_close(
        ours["pixel_values_videos"][0, 0], reference[0, 0], atol=1e-5, rtol=0
    )
    assert (
        float(ours["pixel_values_videos"].min()) >= -1.0
        and float(ours["pixel_values_videos"].max()) <= 1.0
    )
    assert spec.decode_size(120, 160) == (56, 56)
    assert spec.token_count(8, 56, 56) == 8 * 2 * 2 + 1


def test_next_video_crops_like_the_clip_image_processor() -> None:
    wide = RNG.integers(0, 256, (56, 75, 3), dtype=np.uint8)
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56}
    )
    reference = processor(images=[Image.fromarray(wide)], return_tensors="pt")["pixel_values"]
    spec = VisionSpec(FAMILIES["llava_next_video"], patch_size=14, image_size=56)
    assert spec.decode_size(120, 160) == (56, 75)
    cropped = spec.finish(wide[None])
    ours = normalize(
        torch.from_numpy(np.ascontiguousarray(cropped)), OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
    )
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    assert spec.token_count(8, 56, 56) == 8 * 2 * 2
    assert center_crop(wide[None], 56, 56).shape == (1, 56, 56, 3)


def test_decoding_at_model_size_is_close_to_resizing_after(tmp_path: Path) -> None:
    """swscale's bicubic scale in the decoder vs PIL's bicubic on the full frame."""
    video = make_video(tmp_path / "v.mp4", "testsrc2", seconds=2.0, size="320x240")
    height, width = qwen_spec(max_pixels=112 * 140).decode_size(240, 320)
    scaled = frames_at(video, [1.0], width=width, height=height, interpolation="BICUBIC")[0]
    full = frames_at(video, [1.0])[0]
    resized = np.asarray(Image.fromarray(full).resize((width, height), Image.BICUBIC))
    assert scaled.shape == resized.shape == (height, width, 3)
    assert np.abs(scaled.astype(int) - resized.astype(int)).mean() < 6.0


def test_the_spec_takes_the_checkpoint_s_numbers() -> None:
    vision = SimpleNamespace(patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    config = SimpleNamespace(model_type="qwen2_5_vl", vision_config=vision)
    spec = vision_spec(
        config, {"min_pixels": 3136, "max_pixels": 12845056}, max_frame_pixels=200704
    )
    assert (spec.family.name, spec.max_pixels, spec.min_pixels) == ("qwen2_5_vl", 200704, 3136)
    with pytest.raises(ValueError, match="not a supported"):
        vision_spec(SimpleNamespace(model_type="bert", vision_config=vision), {})
    assert sample_times(10.0, 14.0, 4) == [10.5, 11.5, 12.5, 13.5]
