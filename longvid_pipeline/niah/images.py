"""User-supplied needle images: a manifest of image, caption, question, options, answer.

Rows are read with the same manifest reader as videos (CSV, JSONL or Parquet with a `url`
column holding an image path or http(s) URL). Each row is checked like a video: URLs pass
the same address rules and redirect checks as media, downloads have a size cap, the image
must decode, and the question must have four distinct options with the answer among them
(as its text or its letter). A row that fails becomes a `rejects` row (level
`needle_image`) naming the reason; the rest form the pool samples draw from. Downloads
are cached under OUT/.niah_images so workers fetch each image once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from longvid_pipeline.fetching.pinning import PinnedResolver
from longvid_pipeline.fetching.safety import UnsafeURL
from longvid_pipeline.fetching.sidecars import read_url
from longvid_pipeline.files import write_atomic
from longvid_pipeline.ids import stable_hash
from longvid_pipeline.niah.chains import OPTIONS, VisualQuestion
from longvid_pipeline.niah.config import NeedlesConfig
from longvid_pipeline.qa.formats import LETTERS
from longvid_pipeline.sources.files import load_manifest
from longvid_pipeline.stage import Reject

MIN_SIDE = 16


@dataclass(frozen=True)
class UserImage:
    """One checked manifest row: where its bytes are, and its texts."""

    url: str
    path: Path
    caption: str
    visual: VisualQuestion


@dataclass(frozen=True)
class ImageReject:
    """One manifest row that cannot be a needle, and why."""

    row: dict[str, Any]
    reason: str
    detail: str


def _options(value: Any) -> list[str]:
    """Options as a list: a list, a JSON list, or 'a|b|c|d'."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split("|")
    if not isinstance(value, list):
        raise Reject("bad_options", f"expected a list of {OPTIONS} options, got {value!r}")
    return [str(option).strip() for option in value]


def _visual(row: dict[str, Any]) -> VisualQuestion:
    question, caption = (
        str(row.get("question") or "").strip(),
        str(row.get("caption") or "").strip(),
    )
    if not caption or not question:
        raise Reject("missing_text", "caption and question are required")
    options = _options(row.get("options"))
    if len(options) != OPTIONS or len(set(options)) != OPTIONS or not all(options):
        raise Reject("bad_options", f"need {OPTIONS} distinct non-empty options, got {options}")
    answer = str(row.get("answer") or "").strip()
    if answer.upper() in LETTERS[:OPTIONS] and answer not in options:
        answer = options[LETTERS.index(answer.upper())]
    if answer not in options:
        raise Reject("bad_answer", f"answer {answer!r} is not among the options")
    wrong = tuple(option for option in options if option != answer)
    return VisualQuestion("manifest", question, answer, wrong)


def _fetch(url: str, config: NeedlesConfig, cache: Path) -> Path:
    """A local file as is; a URL downloaded once (address rules, size cap) into `cache`."""
    if not url.lower().startswith(("http://", "https://")):
        path = Path(url).expanduser()
        if not path.is_file():
            raise Reject("file_not_found", url)
        if path.stat().st_size > config.max_image_mb * 2**20:
            raise Reject("too_large", f"{path.stat().st_size} bytes")
        return path
    target = cache / f"{stable_hash('needle-image', url)}.img"
    if not target.exists():
        resolver = PinnedResolver(config.allow_loopback, config.allow_private)
        try:
            body = read_url(
                url, resolver, config.timeout_s, 1, 0.5, round(config.max_image_mb * 2**20)
            )
        except UnsafeURL as unsafe:
            raise Reject(unsafe.reason, unsafe.detail) from unsafe
        cache.mkdir(parents=True, exist_ok=True)
        write_atomic(target, body)
    return target


def _check_image(path: Path) -> None:
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            image.load()
            size = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Reject("not_an_image", f"{type(exc).__name__}: {exc}") from exc
    if min(size) < MIN_SIDE:
        raise Reject("too_small", f"{size[0]}x{size[1]} pixels")


def load_user_images(
    config: NeedlesConfig, cache: Path
) -> tuple[list[UserImage], list[ImageReject]]:
    """Check every manifest row; return the usable images and the rejected rows.

    A row whose caption repeats an earlier one is rejected (`duplicate_caption`): a clue
    names a needle by its caption, so captions must be unique.
    """
    images: list[UserImage] = []
    rejects: list[ImageReject] = []
    captions: set[str] = set()
    for source_row in load_manifest(Path(config.manifest or "")):
        row = source_row.row
        if source_row.reason:  # an empty or unreadable line, a row without url
            rejects.append(ImageReject(row, source_row.reason, source_row.detail))
            continue
        try:
            visual = _visual(row)
            caption = str(row["caption"]).strip()
            if caption in captions:
                raise Reject("duplicate_caption", caption)
            path = _fetch(row["url"], config, cache)
            _check_image(path)
        except Reject as rejection:
            rejects.append(ImageReject(row, rejection.reason, rejection.detail))
            continue
        captions.add(caption)
        images.append(UserImage(url=row["url"], path=path, caption=caption, visual=visual))
    return images, rejects
