"""offices.yaml -> Offices: addresses, time zones, leads and send times, checked against the days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import time
from pathlib import Path
from typing import Any

from calendar_service.base.text import EMAIL_RE
from calendar_service.data.model import (
    LANGUAGES,
    Catalog,
    Office,
    has_control,
)
from calendar_service.data.yamlio import (
    ID_RE,
    MAX_LEAD_DAYS,
    OFFICE_KEYS,
    OFFICES_TOP_KEYS,
    OFFICES_VERSIONS,
    SEND_TIME_RE,
    _check_keys,
    _check_version,
    _expect,
    _line_of,
    _Report,
    _required,
    _str_list,
    _suggest,
    _type_name,
    exact_report,
    read_yaml,
)


def _timezone_problem(name: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(name)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        return (f"unknown IANA time zone {name!r}{_suggest(name, available_timezones())}; "
                "for example America/Mexico_City")


def _header_safe(report: _Report, line: int | None, field: str, value: str) -> bool:
    if has_control(value):
        report.add(line, field, "contains a line break or control character, which would let it "
                                "inject e-mail headers; write it on one line")
        return False
    return True


def _parse_office(report: _Report, node: Any, i: int, line: int | None, seen: dict[str, int | None],
                  known_themes: Callable[[str], bool] | None, theme_ids: Iterable[str]
                  ) -> Office | None:
    field = f"offices[{i}]"
    if not _expect(report, line, field, node, dict, "a mapping"):
        return None
    _check_keys(report, node, OFFICE_KEYS, field)
    ok = True
    for key in ("id", "name", "emails", "timezone"):
        ok = _required(report, node, key, field) and ok
    office_id = node.get("id")
    if "id" in node:
        if not isinstance(office_id, str) or not ID_RE.match(office_id):
            report.add(_line_of(node, "id"), f"{field}.id", f"{office_id!r} is not a kebab-case id")
            ok = False
        elif office_id in seen:
            report.add(_line_of(node, "id"), f"{field}.id",
                       f"duplicate id {office_id!r} (first defined on line {seen[office_id]})")
            ok = False
        else:
            seen[office_id] = _line_of(node, "id")
    texts: dict[str, str] = {}
    for key in ("name", "state"):
        if key in node:
            value = node[key]
            if not isinstance(value, str) or not value.strip():
                report.add(_line_of(node, key), f"{field}.{key}", "expected non-empty text")
                ok = False
            elif _header_safe(report, _line_of(node, key), f"{field}.{key}", value):
                texts[key] = value.strip()
            else:
                ok = False
    emails: list[str] = []
    if "emails" in node:
        raw = node["emails"]
        if isinstance(raw, str):
            raw_list: list[Any] = [raw]
            lines = [_line_of(node, "emails")]
        elif isinstance(raw, list):
            raw_list = list(raw)
            lines = [_line_of(raw, j) for j in range(len(raw))]
        else:
            raw_list, lines = [], []
            report.add(_line_of(node, "emails"), f"{field}.emails", "expected a list of addresses")
            ok = False
        if isinstance(raw, list) and not raw:
            report.add(_line_of(node, "emails"), f"{field}.emails", "give at least one address")
            ok = False
        for j, addr in enumerate(raw_list):
            efield = f"{field}.emails[{j}]"
            if not isinstance(addr, str):
                report.add(lines[j], efield, f"expected an address, got {_type_name(addr)}")
                ok = False
            elif not _header_safe(report, lines[j], efield, addr):
                ok = False
            elif not EMAIL_RE.match(addr.strip()):
                report.add(lines[j], efield,
                           f"{addr!r} is not a valid e-mail address (name@example.org)")
                ok = False
            else:
                emails.append(addr.strip())
    tz = node.get("timezone")
    if "timezone" in node:
        problem = _timezone_problem(tz) if isinstance(tz, str) and tz else \
            f"expected an IANA time zone name, got {_type_name(tz)}"
        if problem:
            report.add(_line_of(node, "timezone"), f"{field}.timezone", problem)
            ok = False
    language = node.get("language", "es")
    if language not in LANGUAGES:
        report.add(_line_of(node, "language"), f"{field}.language",
                   f"{language!r} is not supported; use es or en")
        ok = False
    themes: list[str] = []
    if "themes" in node and node["themes"] is not None:
        for j, ref in enumerate(_str_list(report, node, "themes", f"{field}.themes")):
            if known_themes is not None and not known_themes(ref):
                report.add(_line_of(node["themes"], j), f"{field}.themes[{j}]",
                           f"unknown theme {ref!r}{_suggest(ref, theme_ids)}")
                ok = False
            themes.append(ref)
    lead_days: list[int] = [14, 3]
    if "lead_days" in node:
        raw = node["lead_days"]
        if _expect(report, _line_of(node, "lead_days"), f"{field}.lead_days", raw, list,
                   "a list of whole days, such as [14, 3]"):
            lead_days = []
            if not raw:
                report.add(_line_of(node, "lead_days"), f"{field}.lead_days",
                           "give at least one lead, such as [7]")
                ok = False
            for j, lead in enumerate(raw):
                lfield = f"{field}.lead_days[{j}]"
                if isinstance(lead, bool) or not isinstance(lead, int):
                    report.add(_line_of(raw, j), lfield, f"expected whole days, got {lead!r}")
                    ok = False
                elif lead < 0:
                    report.add(_line_of(raw, j), lfield,
                               f"{lead} is negative: a reminder goes out before the day, not after")
                    ok = False
                elif lead > MAX_LEAD_DAYS:
                    report.add(_line_of(raw, j), lfield,
                               f"{lead} days is too far ahead; use at most {MAX_LEAD_DAYS}")
                    ok = False
                elif lead in lead_days:
                    report.add(_line_of(raw, j), lfield, f"{lead} is listed twice")
                    ok = False
                else:
                    lead_days.append(lead)
        else:
            ok = False
    send_time = time(9, 0)
    if "send_time" in node:
        raw = node["send_time"]
        m = SEND_TIME_RE.match(raw) if isinstance(raw, str) else None
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            report.add(_line_of(node, "send_time"), f"{field}.send_time",
                       f'{raw!r} is not a time of day; write it quoted as "HH:MM", e.g. "09:00"')
            ok = False
        else:
            send_time = time(int(m.group(1)), int(m.group(2)))
    signature = ""
    if "signature" in node:
        raw = node["signature"]
        sline = _line_of(node, "signature")
        if not isinstance(raw, str) or not raw.strip():
            report.add(sline, f"{field}.signature", "expected one short line of text, or leave it out")
            ok = False
        elif _header_safe(report, sline, f"{field}.signature", raw):
            signature = " ".join(raw.split())
        else:
            ok = False
    cards = node.get("cards", True)
    if not isinstance(cards, bool):
        report.add(_line_of(node, "cards"), f"{field}.cards",
                   f"expected true or false (false: no image cards attached), got {cards!r}")
        ok = False
    if not ok:
        return None
    return Office(id=office_id, name=texts["name"], state=texts.get("state", ""),
                  emails=tuple(emails), timezone=tz, language=language,
                  themes=frozenset(themes), lead_days=tuple(sorted(lead_days, reverse=True)),
                  send_time=send_time, signature=signature, cards=cards, line=line)


def load_offices(path: Path | str, catalog: Catalog | None = None) -> tuple[Office, ...]:
    """Load offices.yaml; with a catalog, office themes are checked against its themes."""
    return exact_report(lambda fast: _load_offices(Path(path), catalog, fast))


def _load_offices(path: Path, catalog: Catalog | None, fast: bool) -> tuple[Office, ...]:
    report = _Report(str(path), fast)
    root = read_yaml(path, report)
    if root is None and not report.problems:
        report.add(1, "", "the file is empty; it needs a list under 'offices'")
    report.raise_if_any()
    if not isinstance(root, dict):
        report.add(1, "", f"expected a mapping with 'offices', got {_type_name(root)}")
        report.raise_if_any()
    _check_keys(report, root, OFFICES_TOP_KEYS, "")
    _check_version(report, root, OFFICES_VERSIONS)
    raw = root.get("offices")
    offices: list[Office] = []
    theme_ids = tuple(catalog.themes) if catalog else ()
    known = (lambda t: t in catalog.themes) if catalog else None
    if _expect(report, _line_of(root, "offices"), "offices", raw, list, "a list of offices"):
        seen: dict[str, int | None] = {}
        for i, node in enumerate(raw):
            office = _parse_office(report, node, i, _line_of(raw, i), seen, known, theme_ids)
            if office is not None:
                offices.append(office)
    report.raise_if_any()
    return tuple(offices)
