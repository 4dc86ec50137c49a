"""Which reminders are due at an instant, each office on its own clock (pure: ``now`` is a value).

A reminder (office, occurrence, lead) is *scheduled* at ``office.send_time`` local time on
``occurrence.date - lead`` and *due* once the office's clock has passed that instant. A reminder
missed because no run happened is caught up by a later run as long as the occurrence is still
today or ahead in the office's local date, never after. When several leads of one occurrence are
overdue, only the smallest (the most recent) is due: the others are superseded, so an office never
gets "in 14 days" and "in 3 days" for the same day in one go. Everything due for an office at one
run is grouped into one :class:`Batch` (one message).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from calendar_service.data.model import Catalog, Occurrence, Office, Reminder
from calendar_service.occurrences import occurrences


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class DueReminder:
    """A reminder with the facts the message states: when it was meant to go and how near it is."""

    reminder: Reminder
    scheduled: datetime  # aware, in the office's zone: send_time on date - lead
    days_ahead: int  # days from the office's local today to the occurrence

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.reminder.key

    @property
    def occurrence(self) -> Occurrence:
        return self.reminder.occurrence

    @property
    def lead(self) -> int:
        return self.reminder.lead

    @property
    def catch_up(self) -> bool:
        """Sent later than planned (a missed run): the message says how near the day really is."""
        return self.days_ahead < self.reminder.lead


@dataclass(frozen=True)
class Batch:
    """Everything one office is told in one message."""

    office: Office
    items: tuple[DueReminder, ...]
    local_now: datetime  # the run's instant on the office's clock

    @property
    def keys(self) -> tuple[tuple[str, str, str, int], ...]:
        return tuple(i.key for i in self.items)

    @property
    def scheduled(self) -> datetime:
        """The latest scheduled instant among the items: when this message was meant to go."""
        return max(i.scheduled for i in self.items)


def scheduled_at(office: Office, occurrence_date: date, lead: int) -> datetime:
    """The instant a reminder is planned for, on the office's clock."""
    return datetime.combine(occurrence_date - timedelta(days=lead), office.send_time,
                            tzinfo=zone(office.timezone))


def office_today(office: Office, now: datetime) -> date:
    return now.astimezone(zone(office.timezone)).date()


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (with a UTC offset)")


def due_for_office(office: Office, occs: Iterable[Occurrence], now: datetime) -> Batch | None:
    """The office's batch at ``now`` (None when nothing is due)."""
    _check_now(now)
    local = now.astimezone(zone(office.timezone))
    today = local.date()
    leads = sorted(office.lead_days)  # ascending: the first due lead is the smallest
    if not leads:
        return None
    horizon = leads[-1]
    items: list[DueReminder] = []
    for occ in occs:
        ahead = (occ.date - today).days
        if ahead < 0 or ahead > horizon or not office.wants(occ.day):
            continue
        for lead in leads:
            when = scheduled_at(office, occ.date, lead)
            if when <= local:
                items.append(DueReminder(Reminder(office, occ, lead), when, ahead))
                break
    if not items:
        return None
    items.sort(key=lambda i: (i.occurrence.date, i.occurrence.day.order))
    return Batch(office, tuple(items), local)


def window(offices: Sequence[Office], now: datetime) -> tuple[date, date]:
    """The dates any office might be reminded about at ``now``: [today - 1, today + lead + 2)."""
    utc_today = now.astimezone(ZoneInfo("UTC")).date()
    horizon = max((max(o.lead_days) for o in offices if o.lead_days), default=0)
    # Local dates are within a day of the UTC date (zones span UTC-12..UTC+14).
    return utc_today - timedelta(days=1), utc_today + timedelta(days=horizon + 2)


def due_reminders(catalog: Catalog, offices: Sequence[Office], now: datetime) -> list[Batch]:
    """Every office's batch of reminders due at ``now``, in the order of the offices file.

    ``now`` is an aware instant; the result does not consult the ledger: a reminder already sent
    stays due until its occurrence passes, and the ledger makes sure it goes out once.
    """
    _check_now(now)
    if not offices:
        return []
    start, end = window(offices, now)
    occs = occurrences(catalog.days, start, end)
    batches = []
    for office in offices:
        batch = due_for_office(office, occs, now)
        if batch is not None:
            batches.append(batch)
    return batches


def scheduled_batch(catalog: Catalog, office: Office, instant: datetime) -> Batch | None:
    """What a run exactly at ``instant`` sends to ``office`` if every earlier run happened.

    Items due before ``instant`` would have gone out then, so only those scheduled exactly at
    ``instant`` remain (``preview`` uses this to show one real message, 21 March's three days
    together).
    """
    start, end = window([office], instant)
    batch = due_for_office(office, occurrences(catalog.days, start, end), instant)
    if batch is None:
        return None
    items = tuple(i for i in batch.items if i.scheduled == instant)
    return Batch(office, items, batch.local_now) if items else None
