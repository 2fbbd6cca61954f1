"""Licences as short ids, and the recipe's list of licences to keep.

Sites and manifests write one licence many ways: YouTube's "Creative Commons Attribution
license (reuse allowed)", a Creative Commons URL (https://creativecommons.org/licenses/by-sa/4.0/),
"CC BY-NC 3.0", "CC0 1.0 Universal", "Public Domain". `licence_id` maps them to one short
id: `cc-by`, `cc-by-sa`, `cc-by-nd`, `cc-by-nc`, `cc-by-nc-sa`, `cc-by-nc-nd`, `cc0`,
`public-domain`; `unknown` when nothing was said; any other text becomes a lowercase slug
("Standard YouTube License" -> `standard-youtube-license`, "MIT" -> `mit`) so that an
allow list can still name it. `videos.license` holds the id and `videos.license_text`
the text as given.

Example::

    licence_id("Creative Commons Attribution license (reuse allowed)")  # 'cc-by'
    licence_id("https://creativecommons.org/licenses/by-nc-sa/4.0/")    # 'cc-by-nc-sa'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from longvid_pipeline.stage import Reject

UNKNOWN = "unknown"
_SAID_NOTHING = frozenset({"", "unknown", "none", "null", "n/a"})
_BARE_CC = re.compile(r"^by(-(nc|nd|sa))*$")  # Vimeo's and SoundCloud's "by-nc-sa"
REASON = "licence_not_allowed"
MANIFEST_COLUMNS = ("license", "licence")  # a manifest may spell it either way
_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)")
# Creative Commons elements in the order ids name them, each with the words that say it.
_CC_ELEMENTS = (
    ("by", r"\bby\b|attribution"),
    ("nc", r"\bnc\b|non ?commercial"),
    ("nd", r"\bnd\b|no ?deriv"),
    ("sa", r"\bsa\b|share ?alike"),
)


def licence_id(text: Any) -> str:
    """The short id of a licence as a site or manifest wrote it (`unknown` for none)."""
    lowered = "" if text is None else str(text).strip().lower()
    if lowered in _SAID_NOTHING:
        return UNKNOWN
    if _BARE_CC.match(lowered):
        return "cc-" + lowered
    url = _CC_URL.search(lowered)
    if url:
        kind, code = url.groups()
        if kind == "publicdomain" or code == "publicdomain":
            return "cc0" if code == "zero" else "public-domain"
        return _cc_id(code.replace("-", " "))
    words = " ".join(re.findall(r"[a-z0-9]+", lowered))
    if re.search(r"\bcc ?0\b|\bcc zero\b|creative commons zero", words):
        return "cc0"
    if "public domain" in words:
        return "public-domain"
    if re.search(r"\bcc\b|creative commons|attribution", words):
        return _cc_id(words)
    return re.sub(r"[^a-z0-9.+]+", "-", lowered).strip("-")[:60] or UNKNOWN


def _cc_id(words: str) -> str:
    """cc-by[-nc][-nd|-sa] from the elements `words` name; plain `cc` when it names none."""
    found = [name for name, pattern in _CC_ELEMENTS if re.search(pattern, words)]
    if not found:
        return "cc"
    if "by" not in found:  # every Creative Commons licence but CC0 requires attribution
        found.insert(0, "by")
    return "cc-" + "-".join(found)


def declared_licence(row: Mapping[str, Any]) -> str | None:
    """The licence text of a manifest row (column `license` or `licence`), if any."""
    for column in MANIFEST_COLUMNS:
        value = row.get(column)
        if value is not None and str(value).strip():
            return str(value)
    return None


def allowed_ids(listed: Iterable[str]) -> frozenset[str]:
    """The recipe's list as ids (so `CC BY-SA` and `cc-by-sa` mean the same)."""
    return frozenset(licence_id(entry) for entry in listed)


def check_licence(text: str | None, allowed: frozenset[str], where: str) -> str:
    """The licence's id; raises Reject(licence_not_allowed) when `allowed` is non-empty and
    does not list it. `where` says where the licence was read, for the reject's detail."""
    found = licence_id(text)
    if allowed and found not in allowed:
        said = f" ({text!r})" if text else ""
        raise Reject(REASON, f"licence {found}{said} from {where} is not in {sorted(allowed)}")
    return found
