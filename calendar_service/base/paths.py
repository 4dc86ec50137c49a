"""URL paths of the public site: the same in ``serve`` and in the static ``build``.

Spanish is the root; every English path is the Spanish one with ``/en`` in front.
"""

from __future__ import annotations

import posixpath
from functools import lru_cache

LANG_PREFIX = {"es": "", "en": "/en"}


def prefix(lang: str) -> str:
    return LANG_PREFIX[lang]


def home(lang: str) -> str:
    return f"{prefix(lang)}/"


def feed(lang: str, theme: str | None = None, alarms: bool = False) -> str:
    if theme:
        return f"{prefix(lang)}/themes/{theme}.ics"
    if alarms:
        return f"{prefix(lang)}/alarms/calendar.ics"
    return f"{prefix(lang)}/calendar.ics"


def day_page(lang: str, day_id: str) -> str:
    return f"{prefix(lang)}/days/{day_id}/"


def days_json(lang: str) -> str:
    return f"{prefix(lang)}/days.json"


def in_language(path: str, lang: str) -> str:
    """The same page in another language."""
    bare = path[3:] if path.startswith("/en/") else path
    return prefix(lang) + bare


@lru_cache(maxsize=8192)  # every page links to the same few places
def relative(from_path: str, to_path: str) -> str:
    """A link that works wherever the site is hosted, even from a folder on disk."""
    here = from_path if from_path.endswith("/") else posixpath.dirname(from_path) + "/"
    rel = _relpath(to_path, here)
    if to_path.endswith("/") and rel != ".":
        rel += "/"
    return "./" if rel == "." else rel


def _relpath(path: str, start: str) -> str:
    """``posixpath.relpath(path, start)`` for the site's own paths, in a few steps.

    Each page has its own folder, so the cache above misses for most of a build's links, and
    ``relpath`` (two ``abspath``, a ``commonprefix``) was a tenth of rendering the pages. For
    absolute paths without ``.`` or ``..`` parts it is only the parts after the common ones;
    anything else goes to ``relpath`` (tests/test_site.py compares both on any path)."""
    if not (path.startswith("/") and start.startswith("/")):
        return posixpath.relpath(path, start)
    to_parts = [x for x in path.split("/") if x]
    from_parts = [x for x in start.split("/") if x]
    if "." in to_parts or ".." in to_parts or "." in from_parts or ".." in from_parts:
        return posixpath.relpath(path, start)
    common = 0
    for a, b in zip(to_parts, from_parts, strict=False):
        if a != b:
            break
        common += 1
    parts = [".."] * (len(from_parts) - common) + to_parts[common:]
    return "/".join(parts) if parts else "."


def file_name(path: str) -> str:
    """Where a path lives in the static build: folders get an index.html."""
    return (path + "index.html" if path.endswith("/") else path).lstrip("/")
