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


FIRST_YEAR = 1946  # the UN's first observances; a day without ``since`` is checked from here
LAST_YEAR = 2100


def check_rule(rule: str, first_year: int = FIRST_YEAR) -> str | None:
    """Why a recurrence rule is unusable, or None when it is fine.

    A rule must give exactly one date in every year from the day's first year to 2100: the
    feed's UIDs are {id}-{year}, so two dates in a year would collide and none would leave a
    hole (``BYWEEKNO=-1;BYDAY=FR`` looks right in most years and is not).
    """
    from collections import Counter

    from dateutil.rrule import YEARLY, rrulestr

    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "DTSTART" in text.upper() or "\n" in text:
        return "give only the RRULE part (no DTSTART, one line)"
    if len(text) > 200:
        return "too long for a yearly rule (at most 200 characters)"
    first_year = min(max(first_year, 1800), LAST_YEAR)
    try:
        parsed = rrulestr(text, dtstart=datetime(first_year, 1, 1))
    except (ValueError, TypeError, OverflowError) as exc:
        return (f"not a valid RFC 5545 rule ({exc}); write it like "
                "FREQ=YEARLY;BYMONTH=10;BYDAY=1MO")
    if getattr(parsed, "_freq", None) != YEARLY:
        return "international days recur yearly: use FREQ=YEARLY"
    parts = {p.split("=", 1)[0].upper() for p in text.split(";") if p}
    if parts & {"INTERVAL", "COUNT", "UNTIL"}:
        return ("INTERVAL, COUNT and UNTIL are not supported: a day occurs every year (end a day by "
                "removing it)")
    counts: Counter[int] = Counter()
    for moment in parsed.between(datetime(first_year, 1, 1), datetime(LAST_YEAR, 12, 31, 23, 59),
                                 inc=True):
        counts[moment.year] += 1
    wrong = [y for y in range(first_year, LAST_YEAR + 1) if counts[y] != 1]
    if wrong:
        year = wrong[0]
        what = "never occurs" if not counts[year] else f"gives {counts[year]} dates"
        others = f" (and {len(wrong) - 1} other years)" if len(wrong) > 1 else ""
        return (f"the rule {what} in {year}{others}; a day must fall on exactly one date every "
                f"year from {first_year} to {LAST_YEAR} (check BYMONTH, BYMONTHDAY, BYDAY, "
                "BYWEEKNO and BYSETPOS)")
    return None
