"""Run in a subprocess with TZ set: parse a feed with icalendar and recurring-ical-events.

Prints {"icalendar": {uid: [summary, start, end]}, "recurring": {...}} for one year.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date

import recurring_ical_events
from icalendar import Calendar


def main(path: str, year: int) -> None:
    time.tzset()
    with open(path, "rb") as f:
        cal = Calendar.from_ical(f.read())
    direct = {}
    for ev in cal.walk("VEVENT"):
        start, end = ev["DTSTART"].dt, ev["DTEND"].dt
        assert type(start) is date and type(end) is date, ev["UID"]
        if start.year == year:
            direct[str(ev["UID"])] = [str(ev["SUMMARY"]), start.isoformat(), end.isoformat()]
    expanded = {}
    for ev in recurring_ical_events.of(cal).between(date(year, 1, 1), date(year + 1, 1, 1)):
        start, end = ev["DTSTART"].dt, ev["DTEND"].dt
        assert type(start) is date and type(end) is date, ev["UID"]
        expanded[str(ev["UID"])] = [str(ev["SUMMARY"]), start.isoformat(), end.isoformat()]
    json.dump({"icalendar": direct, "recurring": expanded}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
