"""Facts that must agree with each other: the decision's symbol, its adoption date, the first year
observed and every year the texts print next to «desde», «proclamó en», "since" or "proclaimed in".

These are editorial rules: ``check`` enforces them (``load_days(complete=True)``), so a slip in a
text never takes the feed or the reminders offline.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from calendar_service.data.model import Day
from calendar_service.data.yamlio import _line_of, _Report

# Every accepted form of a decision's symbol, with an example (docs/data-files.md lists the same).
SYMBOL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("A/RES/47/193", re.compile(r"^A/RES/\d{2,3}/\d{1,3}$")),
    ("A/RES/423 (V)", re.compile(r"^A/RES/\d{1,4} \([IVXLC]+\)$")),
    ("A/RES/ES-7/8", re.compile(r"^A/RES/ES-\d{1,2}/\d{1,3}$")),
    ("A/RES/S-27/2", re.compile(r"^A/RES/S-\d{1,2}/\d{1,3}$")),
    ("30 C/Resolution 29 (UNESCO General Conference)", re.compile(r"^\d{1,2} C/Resolution \d{1,3}$")),
    ("WHA42.19 (World Health Assembly)", re.compile(r"^WHA\d{1,2}\.\d{1,2}$")),
    ("Resolution 1/79 (FAO Conference)", re.compile(r"^Resolution \d{1,2}/\d{2}$")),
)

_YEAR = r"((?:1[89]|2[01])\d{2})\b"
# A year that states the first observance: it must equal ``since``.
SINCE_RE = re.compile(
    r"\b(?:(?:se\s+(?:celebra|conmemora|observa)\s+)?desde(?:\s+el(?:\s+año)?)?"
    r"|(?:has\s+been\s+|it\s+has\s+been\s+)?(?:observed\s+|celebrated\s+|marked\s+)?since"
    r"|(?:lo\s+)?(?:celebró|conmemoró|observó)\s+por\s+primera\s+vez\s+en"
    r"|first\s+(?:observed|marked|held|celebrated)(?:\s+it)?\s+in)\s+" + _YEAR,
    re.IGNORECASE)
# A year that states the proclamation: it must equal ``proclaimed``.
PROCLAIMED_RE = re.compile(
    r"\b(?:proclam(?:ó|ado|ada|aron)|proclaimed|declar(?:ó|ado|ada|aron)|declared|designó|designated)\b"
    r"[^.;:()\d]{0,90}?\b(?:en|in)\s+" + _YEAR, re.IGNORECASE)
TEXT_KEYS = ("summary", "why", "press_line")
LIST_KEYS = ("key_messages", "posts")


def symbol_problem(symbol: str) -> str | None:
    if any(p.match(symbol) for _, p in SYMBOL_PATTERNS):
        return None
    examples = "; ".join(e for e, _ in SYMBOL_PATTERNS)
    return (f"{symbol!r} is not a known decision symbol; write it as the body does, e.g. "
            f"{examples} (see docs/data-files.md)")


def check_facts(report: _Report, node: dict[str, Any], day: Day, field: str) -> None:
    """Every rule, each reported at the line to fix."""
    if day.resolution is not None:
        problem = symbol_problem(day.resolution)
        if problem:
            report.add(_line_of(node, "resolution"), f"{field}.resolution", problem)
    _check_since(report, node, day, field)
    for line, where, text in _texts(node, field):
        _check_text(report, line, where, text, day)


def _first_observance(day: Day) -> date | None:
    if day.since is None:
        return None
    if day.month_day is None:
        return date(day.since, 12, 31)  # a rule day: only the year can be compared
    month, dom = day.month_day
    return date(day.since, month, min(dom, 28) if month == 2 and dom == 29 else dom)


def _check_since(report: _Report, node: dict[str, Any], day: Day, field: str) -> None:
    first, decided = _first_observance(day), day.proclaimed
    if first is None or decided is None:
        if day.observed_before_proclamation and decided is None:
            report.add(_line_of(node, "observed_before_proclamation"),
                       f"{field}.observed_before_proclamation",
                       "true needs proclaimed: the adoption date of the decision the day was "
                       "observed before")
        return
    line = _line_of(node, "since")
    flag = day.observed_before_proclamation
    if flag:
        if first >= decided.latest():
            report.add(_line_of(node, "observed_before_proclamation"),
                       f"{field}.observed_before_proclamation",
                       f"true, but since {day.since} is not before the decision ({decided.iso}); "
                       "remove the flag or give the earlier first year")
        return
    if day.since < decided.year:
        report.add(line, f"{field}.since",
                   f"{day.since} is earlier than the decision ({decided.iso}); give the first year "
                   "observed after it, or, if the day was marked first by civil society or an "
                   "agency, add observed_before_proclamation: true with a source for that year")
    elif first < decided.earliest():
        report.add(line, f"{field}.since",
                   f"{day.since}: the decision was adopted on {decided.iso}, after "
                   f"{first.isoformat()} had passed, so the day was not observed that year; "
                   f"write the first year it was observed (usually {day.since + 1})")


def _texts(node: dict[str, Any], field: str) -> list[tuple[int | None, str, str]]:
    out: list[tuple[int | None, str, str]] = []
    note = node.get("note")
    if isinstance(note, dict):
        for lang, text in note.items():
            if isinstance(text, str):
                out.append((_line_of(note, lang), f"{field}.note.{lang}", text))
    content = node.get("content")
    if not isinstance(content, dict):
        return out
    for lang, c in content.items():
        if not isinstance(c, dict):
            continue
        for key in TEXT_KEYS:
            if isinstance(c.get(key), str):
                out.append((_line_of(c, key), f"{field}.content.{lang}.{key}", c[key]))
        for key in LIST_KEYS:
            items = c.get(key)
            if isinstance(items, list):
                for i, text in enumerate(items):
                    if isinstance(text, str):
                        out.append((_line_of(items, i), f"{field}.content.{lang}.{key}[{i}]", text))
    return out


def _check_text(report: _Report, line: int | None, where: str, text: str, day: Day) -> None:
    text = " ".join(text.split())
    if day.since is not None:
        for m in SINCE_RE.finditer(text):
            year = int(m.group(1))
            if year != day.since:
                report.add(line, where, f"«{m.group(0)}» contradicts since: {day.since}; write "
                                        f"{day.since}, or correct since if the text is right")
    if day.proclaimed is not None:
        for m in PROCLAIMED_RE.finditer(text):
            year = int(m.group(1))
            if year != day.proclaimed.year:
                report.add(line, where, f"«{m.group(0)}» contradicts proclaimed: "
                                        f"{day.proclaimed.iso}; write {day.proclaimed.year}, or "
                                        "correct proclaimed if the text is right")
