"""Which files belong to which video: one rule for local folders and object stores."""

from __future__ import annotations

from pathlib import Path

from longvid_pipeline.media.housekeeping import media_owner, sweep_media, video_media_files


def test_media_owner_names_the_video_and_never_a_table_file() -> None:
    assert media_owner("media/v-1.mp4") == "v-1"
    assert media_owner("media/v-1.info.json") == "v-1"
    assert media_owner("clips/v-1/c-3.mp4") == "v-1"
    assert media_owner("clips/v-1/sub/c-3.png") == "v-1"
    assert media_owner("clips/part-abc-0000.parquet") is None
    assert media_owner("media/.v-1.mp4.part") is None
    assert media_owner("videos/part-abc-0000.parquet") is None


def test_video_media_files_and_sweep_follow_the_same_rule(tmp_path: Path) -> None:
    for relative in (
        "media/v-1.mp4", "media/v-1.info.json", "media/.v-1.mp4.part", "media/v-2.mp4",
        "clips/v-1/c-0.mp4", "clips/v-2/c-0.mp4", "clips/part-x-0000.parquet",
    ):  # fmt: skip
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x")
    found = [path.relative_to(tmp_path).as_posix() for path in video_media_files(tmp_path, "v-1")]
    assert found == ["media/v-1.info.json", "media/v-1.mp4", "clips/v-1/c-0.mp4"]
    assert {media_owner(path) for path in found} == {"v-1"}
    sweep_media(tmp_path, {"v-1"})
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert "media/v-2.mp4" not in left and "clips/v-2/c-0.mp4" not in left
    assert "clips/part-x-0000.parquet" in left and "media/v-1.mp4" in left
