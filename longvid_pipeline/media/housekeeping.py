"""Media under OUT belongs to `videos` rows: what a video owns, and removing the rest.

Fetch writes OUT/media/<video_id>.mp4 (with .vtt and .info.json sidecars) before later
stages decide whether the input is kept, and segment may cut OUT/clips/<video_id>/*.mp4.
When the input is rejected after that, its files are removed as its rejection is
committed, and a sweep at the end of every run removes whatever no committed `videos` row
owns (a worker killed half-way, a crash between commit and cleanup): OUT holds no media
without a videos row. The recipe key `stages.fetch.keep_rejected_media` keeps them for
debugging.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from longvid_pipeline.item import WorkItem

MEDIA_DIR = "media"
CLIP_FILES_DIR = "clips"


def _owner(path: Path) -> str:
    """The video id a media file or clip folder belongs to ('' for temporaries)."""
    return path.name.split(".", 1)[0]


def media_owner(relative: str) -> str | None:
    """The video owning a path relative to OUT: `media/<id>.*` or `clips/<id>/...`; None
    for anything else (the clips table's own part files, `clips/part-….parquet`)."""
    parts = relative.split("/")
    if parts[0] == MEDIA_DIR and len(parts) == 2:
        return _owner(Path(parts[1])) or None
    if parts[0] == CLIP_FILES_DIR and len(parts) >= 3:
        return parts[1]
    return None


def video_media_files(folder: Path, video_id: str) -> list[Path]:
    """A video's files under `folder`: media/<id>.* and clips/<id>/**, without
    temporaries (names starting with a dot)."""
    files = sorted((folder / MEDIA_DIR).glob(f"{video_id}.*"))
    clip_dir = folder / CLIP_FILES_DIR / video_id
    files += sorted(path for path in clip_dir.rglob("*") if path.is_file())
    return [path for path in files if not path.name.startswith(".")]


def remove_video_media(out: Path, video_id: str) -> int:
    """Delete the normalized media, its sidecars and clip files of one video."""
    removed = 0
    media = out / MEDIA_DIR
    for path in media.glob(f"{video_id}.*") if media.is_dir() else []:
        if _owner(path) == video_id and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    clip_dir = out / CLIP_FILES_DIR / video_id
    if clip_dir.is_dir():
        shutil.rmtree(clip_dir, ignore_errors=True)
        removed += 1
    return removed


def rejected_video_ids(items: Iterable[WorkItem], kept_video_ids: set[str]) -> set[str]:
    """Videos that rejected inputs claimed or fetched and no kept videos row owns."""
    return {
        video_id
        for item in items
        if not item.alive
        for video_id in {*item.claimed, item.video_id}
        if video_id and video_id not in kept_video_ids
    }


def remove_rejected_media(out: Path, items: Iterable[WorkItem], kept_video_ids: set[str]) -> int:
    """Delete the media of rejected inputs, unless a kept videos row owns that video."""
    return sum(
        remove_video_media(out, video_id)
        for video_id in sorted(rejected_video_ids(items, kept_video_ids))
    )


def sweep_media(out: Path, kept_video_ids: set[str]) -> int:
    """Delete every media file and clip folder that no kept video owns; return the count."""
    removed = 0
    media = out / MEDIA_DIR
    for path in sorted(media.iterdir()) if media.is_dir() else []:
        if path.is_file() and _owner(path) not in kept_video_ids:
            path.unlink(missing_ok=True)
            removed += 1
    clips = out / CLIP_FILES_DIR
    for path in sorted(clips.iterdir()) if clips.is_dir() else []:
        if path.is_dir() and path.name not in kept_video_ids:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
