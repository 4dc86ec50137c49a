"""Reading YAML with line numbers, and the small checks every data file shares.

Every problem is collected in a report and raised at once, each as FILE:LINE: field: message.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from calendar_service.base.errors import DataError, Problem
from calendar_service.base.files import FileRefused, read_bounded
from calendar_service.data.model import (
    LANGUAGES,
    Text,
)

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")
HASHTAG_RE = re.compile(r"^#\w+$")
SEND_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
# Upper case only: "todo" is an everyday Spanish word ("en todo México").
PLACEHOLDER_RE = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|(?i:lorem ipsum|placeholder)|\{\{|\}\}")
POST_LIMIT = 280
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
MAX_LEAD_DAYS = 90
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

DAYS_TOP_KEYS = ("version", "themes", "bodies", "days")
DAY_KEYS = ("id", "date", "rule", "annex", "name", "official_name", "proclaimed_by", "resolution",
            "proclaimed", "since", "observed_before_proclamation", "sources", "verified", "note",
            "themes", "sdgs", "url", "content", "years")
CONTENT_KEYS = ("summary", "why", "key_messages", "posts", "press_line", "hashtags", "card_line")
YEAR_KEYS = ("theme", "key_messages", "url")
OFFICES_TOP_KEYS = ("version", "offices")
OFFICE_KEYS = ("id", "name", "state", "emails", "timezone", "language", "themes", "lead_days",
               "send_time", "signature", "cards")
DAYS_VERSIONS = (1, 2)  # the layouts of days.yaml this release reads (2: sources, since, …)
OFFICES_VERSIONS = (1,)
FULL_CONTENT_COUNTS = {"key_messages": 3, "posts": 3}
T = TypeVar("T")


class _Report:
    """Collects problems for one file; never stops at the first.

    ``fast`` lets ``read_yaml`` take libyaml's fast path; ``read_fast`` says whether it did."""

    def __init__(self, file: str, fast: bool = False) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.fast = fast
        self.read_fast = False

    def add(self, line: int | None, field: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, field, message))

    def raise_if_any(self) -> None:
        if self.problems:
            error = DataError(self.problems)
            error.read_fast = self.read_fast  # type: ignore[attr-defined]
            raise error


def exact_report(load: Callable[[bool], T]) -> T:
    """``load(fast=True)``; if that finds anything to report, ``load(fast=False)``, so every
    report comes from ruamel's reading of the file: the messages and lines users know."""
    try:
        return load(True)
    except DataError as exc:
        if not getattr(exc, "read_fast", False):
            raise
    return load(False)


def _line_of(node: Any, key: Any = None) -> int | None:
    """1-based line of a mapping key (or sequence item, or the node itself)."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is None:
            return int(lc.line) + 1
        if isinstance(key, int) and isinstance(node, list):
            return int(lc.item(key)[0]) + 1
        return int(lc.key(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(lc.line) + 1


def _type_name(value: object) -> str:
    if value is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), _mro_name(value))


def _mro_name(value: object) -> str:
    for base, name in ((dict, "a mapping"), (list, "a list"), (str, "a string"),
                       (datetime, "a date-time"), (date, "a date")):
        if isinstance(value, base):
            return name
    return type(value).__name__


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_yaml(path: Path, report: _Report) -> Any:
    """Parse so every node keeps its line; every problem becomes a FILE:LINE problem.

    With ``report.fast``, libyaml reads a plain file (see ``yamlfast``), else ruamel.

    The file is read within bounds (a regular file, a size and a time limit: see
    ``read_bounded``), checked as UTF-8 text without control characters, then parsed with limits
    on nesting and aliases, so no file can hang, exhaust or crash a reader.
    """
    from calendar_service.data.yamlsafe import load_limited

    try:
        data = read_bounded(path)
    except FileNotFoundError:
        report.add(None, "", "file not found")
        return None
    except FileRefused as exc:
        report.add(None, "", str(exc))
        return None
    return load_limited(data, report, fast=report.fast)


def _check_keys(report: _Report, node: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in node:
        if key not in allowed:
            field = f"{where}.{key}" if where else str(key)
            report.add(_line_of(node, key), field,
                       f"unknown key{_suggest(str(key), allowed)}; allowed: {', '.join(allowed)}")


def _check_version(report: _Report, root: dict[str, Any], supported: tuple[int, ...]) -> None:
    """A layout this release does not know would be misread silently: refuse it."""
    if "version" not in root:
        return  # files written before versions were checked: the first layout
    value = root["version"]
    if isinstance(value, bool) or not isinstance(value, int) or value not in supported:
        known = " or ".join(str(v) for v in supported)
        report.add(_line_of(root, "version"), "version",
                   f"{value!r} is not a version this calendar-service reads; write version: "
                   f"{known} (a newer layout needs a newer calendar-service)")


def _expect(report: _Report, line: int | None, field: str, value: Any, kind: type | tuple[type, ...],
            what: str) -> bool:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return True
    report.add(line, field, f"expected {what}, got {_type_name(value)}")
    return False


def _text(report: _Report, parent: dict[str, Any], key: str, field: str, *,
          require_es: bool = True, line: int | None = None) -> Text | None:
    node = parent.get(key)
    line = _line_of(parent, key) or line
    if not isinstance(node, dict):
        report.add(line, field, f"expected a mapping with 'es' and 'en', got {_type_name(node)}")
        return None
    _check_keys(report, node, LANGUAGES, field)
    values: dict[str, str | None] = {}
    for lang in LANGUAGES:
        value = node.get(lang)
        if value is None:
            values[lang] = None
            continue
        if not isinstance(value, str) or not value.strip():
            report.add(_line_of(node, lang), f"{field}.{lang}", "expected non-empty text")
            values[lang] = None
            continue
        if "\n" in value.strip():  # names and labels go into e-mail subjects and feed titles
            report.add(_line_of(node, lang), f"{field}.{lang}",
                       "contains a line break; write it on one line")
            values[lang] = None
            continue
        values[lang] = value.strip()
    if values["es"] is None:
        if require_es and "es" not in node:
            report.add(line, f"{field}.es", "missing: the Spanish text is required")
        return None
    return Text(values["es"], values["en"])


def _str_list(report: _Report, parent: dict[str, Any], key: str, field: str) -> list[str]:
    node = parent.get(key)
    line = _line_of(parent, key)
    if not _expect(report, line, field, node, list, "a list"):
        return []
    out = []
    for i, item in enumerate(node):
        if not isinstance(item, str) or not item.strip():
            report.add(_line_of(node, i), f"{field}[{i}]", f"expected text, got {_type_name(item)}")
            continue
        out.append(item.strip())
    return out


def _url(report: _Report, parent: dict[str, Any], field: str) -> str | None:
    value = parent.get("url")
    line = _line_of(parent, "url")
    if not isinstance(value, str) or not value.startswith("https://") or " " in value.strip():
        report.add(line, field, f"expected an https:// address, got {value!r}")
        return None
    return value.strip()


def _required(report: _Report, node: dict[str, Any], key: str, field: str) -> bool:
    if key in node:
        return True
    report.add(_line_of(node), f"{field}.{key}", "missing")
    return False
