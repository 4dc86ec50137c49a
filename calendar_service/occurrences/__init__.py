"""Stage 2, occurrences: every date of every day in a window, fixed dates and RRULEs alike.

Pure date arithmetic. May import ``base`` and ``data``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache

from calendar_service.data.model import Day, Occurrence


@lru_cache(maxsize=256)
def _compiled(rule: str, year: int):  # type: ignore[no-untyped-def]
    from dateutil.rrule import rrulestr

    return rrulestr(rule, dtstart=datetime(year, 1, 1))


def day_dates(day: Day, start: date, end: date) -> list[date]:
    """Dates of one day in [start, end): half-open, so consecutive windows never overlap."""
    if end <= start:
        return []
    if day.month_day is not None:
        month, dom = day.month_day
        out = []
        for year in range(start.year, end.year + 1):
            try:
                d = date(year, month, dom)
            except ValueError:  # 02-29 is rejected by the loader; be safe if built by hand
                continue
            if start <= d < end:
                out.append(d)
        return out
    if day.rule is not None:
        rule = _compiled(day.rule, start.year)
        after = datetime.combine(start, datetime.min.time())
        before = datetime.combine(end, datetime.min.time()) - timedelta(microseconds=1)
        return [dt.date() for dt in rule.between(after, before, inc=True)]
    return []


def occurrences(days: Iterable[Day], start: date, end: date) -> list[Occurrence]:
    """Every (day, date) with start <= date < end, sorted by date then by the file's order."""
    found = [Occurrence(day, d) for day in days for d in day_dates(day, start, end)]
    found.sort(key=lambda o: (o.date, o.day.order))
    return found


def next_occurrence(day: Day, today: date, horizon_years: int = 2) -> date | None:
    """The first date of ``day`` on or after ``today``."""
    dates = day_dates(day, today, date(today.year + horizon_years + 1, 1, 1))
    return dates[0] if dates else None
