"""Dates of days: fixed "MM-DD" dates and yearly RRULEs, checked before anything expands them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from calendar_service.data.yamlio import (
    DAYS_IN_MONTH,
    MONTH_DAY_RE,
    MONTH_NAMES,
    _Report,
    _type_name,
)


def _month_day(report: _Report, line: int | None, field: str, value: Any) -> tuple[int, int] | None:
    if not isinstance(value, str):
        report.add(line, field, f'expected "MM-DD" in quotes, got {_type_name(value)}')
        return None
    m = MONTH_DAY_RE.match(value.strip())
    if not m:
        report.add(line, field, f'"{value}" is not MM-DD (for example "03-22")')
        return None
    month, day = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        report.add(line, field, f'"{value}" is not a date (month must be 01 to 12)')
        return None
    if month == 2 and day == 29:
        report.add(line, field, '"02-29" exists only in leap years; use "02-28", "03-01" or a rule')
        return None
    if not 1 <= day <= DAYS_IN_MONTH[month - 1]:
        limit = DAYS_IN_MONTH[month - 1] if month != 2 else 28
        report.add(line, field, f'"{value}" is not a date ({MONTH_NAMES[month - 1]} has '
                                f'{limit} days)')
        return None
    return month, day


def check_rule(rule: str) -> str | None:
    """Why a recurrence rule is unusable, or None when it is fine."""
    from dateutil.rrule import YEARLY, rrulestr

    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "DTSTART" in text.upper() or "\n" in text:
        return "give only the RRULE part (no DTSTART, one line)"
    try:
        parsed = rrulestr(text, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as exc:
        return f"not a valid RFC 5545 rule ({exc})"
    if getattr(parsed, "_freq", None) != YEARLY:
        return "international days recur yearly: use FREQ=YEARLY"
    parts = {p.split("=", 1)[0].upper() for p in text.split(";") if p}
    if parts & {"INTERVAL", "COUNT", "UNTIL"}:
        return ("INTERVAL, COUNT and UNTIL are not supported: a day occurs every year (end a day by "
                "removing it)")
    # One date a year, every year: the feed's UIDs are {id}-{year}, so two would collide.
    for year in (2000, 2001, 2002, 2003):  # a leap year and the three after it
        dates = parsed.between(datetime(year, 1, 1), datetime(year, 12, 31, 23, 59), inc=True)
        if len(dates) != 1:
            what = "never occurs" if not dates else f"gives {len(dates)} dates"
            return (f"the rule {what} in {year}; a day must fall on exactly one date a year "
                    "(check BYMONTH, BYMONTHDAY, BYDAY and BYSETPOS)")
    return None
