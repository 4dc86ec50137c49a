"""When each office's next reminder is scheduled (pure: ``now`` is a value).

What a run's summary and ``doctor`` print as "next scheduled send", and what ``send-test``
sends as a sample: the next message an office would get on schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from calendar_service.data.model import Catalog, Occurrence, Office
from calendar_service.mail.reminders import office_today, scheduled_at
from calendar_service.occurrences import occurrences

HORIZON_DAYS = 400  # a yearly catalog has something within a year for any office


@dataclass(frozen=True)
class NextSend:
    """One office's next scheduled message: when (on its clock) and which days, with what lead."""

    office: Office
    at: datetime
    items: tuple[tuple[Occurrence, int], ...]  # (occurrence, lead)


def next_sends(catalog: Catalog, offices: Sequence[Office], now: datetime) -> list[NextSend]:
    """For every office that will get anything, its next scheduled message after ``now``,
    earliest first."""
    if not offices:
        return []
    start = min(office_today(o, now) for o in offices)
    longest = max((max(o.lead_days) for o in offices if o.lead_days), default=0)
    occs = occurrences(catalog.days, start, start + timedelta(days=HORIZON_DAYS + longest))
    out = []
    for office in offices:
        best: datetime | None = None
        items: list[tuple[Occurrence, int]] = []
        for occ in occs:
            if not office.wants(occ.day):
                continue
            for lead in office.lead_days:
                at = scheduled_at(office, occ.date, lead)
                if at <= now or (best is not None and at > best):
                    continue
                if best is None or at < best:
                    best, items = at, []
                items.append((occ, lead))
        if best is not None:
            out.append(NextSend(office, best, tuple(items)))
    out.sort(key=lambda n: (n.at, n.office.id))
    return out
