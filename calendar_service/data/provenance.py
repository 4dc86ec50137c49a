"""The fields that say where a day comes from (schema version 2): when it was proclaimed, first
observed, on which sources, and its official page per language.

Version 1 files had ``url`` as one string (an English page) and none of the other fields; they still
load, and ``url`` then counts as the English page.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from calendar_service.data.model import LANGUAGES, Links, PartialDate, Source, Text
from calendar_service.data.yamlio import _check_keys, _line_of, _Report, _type_name

PARTIAL_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
V2_KEYS = ("proclaimed", "observed_before_proclamation", "sources", "verified")


def https_problem(value: Any) -> str | None:
    """Why ``value`` is not a usable https address, or None."""
    if not isinstance(value, str) or not value.strip():
        return f"expected an https:// address, got {_type_name(value)}"
    text = value.strip()
    if any(c.isspace() for c in text):
        return f"{text!r} contains spaces; percent-encode them (%20)"
    if text.lower().startswith("http://"):
        return (f"{text!r} is not https; use the https:// address of the same page if it is served "
                "over https, otherwise cite another source")
    if not text.startswith("https://") or len(text) <= len("https://"):
        return f"expected an https:// address, got {text!r}"
    return None


def parse_proclaimed(report: _Report, node: dict[str, Any], field: str) -> PartialDate | None:
    """A full date (1992-12-22), a month ("1999-11") or a year (1999)."""
    raw = node.get("proclaimed")
    line = _line_of(node, "proclaimed")
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        return PartialDate(raw.year, raw.month, raw.day)
    text = str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else None
    match = PARTIAL_DATE_RE.match(text.strip()) if text else None
    if match is None:
        report.add(line, field, f"expected the adoption date as YYYY-MM-DD, YYYY-MM or YYYY, got "
                                f"{raw!r}")
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None
    try:
        date(year, month or 1, day or 1)
    except ValueError:
        report.add(line, field, f"{text!r} is not a real date")
        return None
    if not 1800 <= year <= 2200:
        report.add(line, field, f"{year} is not a plausible year")
        return None
    return PartialDate(year, month, day)


def parse_verified(report: _Report, node: dict[str, Any], field: str) -> date | None:
    raw = node.get("verified")
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    report.add(_line_of(node, "verified"), field,
               f"expected the date a person last checked the day (YYYY-MM-DD), got {raw!r}")
    return None


def parse_sources(report: _Report, node: dict[str, Any], field: str) -> tuple[Source, ...]:
    """A list of https addresses, each a string or {url, note}; the note says why a secondary
    source is used (text, or {es, en})."""
    raw = node.get("sources")
    if not isinstance(raw, list) or not raw:
        report.add(_line_of(node, "sources"), field,
                   f"expected a list of https addresses, got {_type_name(raw)}")
        return ()
    out: list[Source] = []
    for i, item in enumerate(raw):
        ifield, line = f"{field}[{i}]", _line_of(raw, i)
        note: Text | None = None
        url = item
        if isinstance(item, dict):
            _check_keys(report, item, ("url", "note"), ifield)
            url, line = item.get("url"), _line_of(item, "url")
            if "note" in item:
                note = _note(report, item, f"{ifield}.note")
        problem = https_problem(url)
        if problem:
            report.add(line, f"{ifield}.url" if isinstance(item, dict) else ifield, problem)
            continue
        out.append(Source(str(url).strip(), note))
    return tuple(out)


def _note(report: _Report, item: dict[str, Any], field: str) -> Text | None:
    raw = item["note"]
    if isinstance(raw, str) and raw.strip():
        return Text(" ".join(raw.split()))
    if isinstance(raw, dict):
        _check_keys(report, raw, LANGUAGES, field)
        values = {k: " ".join(v.split()) for k, v in raw.items()
                  if k in LANGUAGES and isinstance(v, str) and v.strip()}
        if "es" in values or "en" in values:
            return Text(values.get("es") or values["en"], values.get("en"))
    report.add(_line_of(item, "note"), field, "expected text, or {es: …, en: …}")
    return None


def parse_links(report: _Report, node: dict[str, Any], field: str, version: int) -> Links | None:
    """``url: {es: …, en: …}``; in a version-1 file a plain string, taken as the English page."""
    raw = node.get("url")
    line = _line_of(node, "url")
    if isinstance(raw, str):
        if version >= 2:
            report.add(line, field, "version 2 gives the official page per language: write "
                                    f"url: {{es: <Spanish page>, en: {raw.strip()}}}")
            return None
        problem = https_problem(raw)
        if problem:
            report.add(line, field, problem)
            return None
        return Links(en=raw.strip())
    if not isinstance(raw, dict) or not raw:
        report.add(line, field, f"expected {{es: https://…, en: https://…}}, got {_type_name(raw)}")
        return None
    _check_keys(report, raw, LANGUAGES, field)
    values: dict[str, str] = {}
    for lang in LANGUAGES:
        if lang in raw:
            problem = https_problem(raw[lang])
            if problem:
                report.add(_line_of(raw, lang), f"{field}.{lang}", problem)
            else:
                values[lang] = raw[lang].strip()
    return Links(**values) if values else None
