"""Which reminders are due at an instant, each office on its own clock (pure: ``now`` is a value).

A reminder (office, occurrence, lead) is *scheduled* at ``office.send_time`` local time on
``occurrence.date - lead`` and *due* once the office's clock has passed that instant. A reminder
missed because no run happened is caught up by a later run as long as the occurrence is still
today or ahead in the office's local date, never after. When several leads of one occurrence are
overdue, only the smallest (the most recent) is due: the others are superseded, so an office never
gets "in 14 days" and "in 3 days" for the same day in one go. Everything due for an office at one
run is grouped into one :class:`Batch` (one message).

At most one message per office per local day: a message takes everything else scheduled for the
office later the same local day (so a catch-up at 02:00 carries the 09:00 reminders too), and
with :class:`Past` (what the ledger says was sent) nothing more goes that day, and no occurrence
is reminded twice that day. The one exception: a reminder that would otherwise arrive on or after
its day (a day added in the afternoon for tomorrow) goes in a second message that says why
(``Batch.second``); anything further ahead waits for the next day's message.

A start sends nothing unexpected: with :class:`Seen` (what the ledger says about when each
office, lead and day first appeared), a reminder scheduled before its office or lead was first
seen is not sent at all (the office's first message is its next scheduled reminder) unless an
administrator asks for a catch-up, and a day added to the data after a reminder's instant is
sent without being called late: only a send really scheduled and then missed is a late notice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

from calendar_service.data.model import Catalog, Occurrence, Office, Reminder
from calendar_service.occurrences import occurrences


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# Statuses after which a reminder never goes again (see mail/ledger/schema.py).
FINAL = frozenset({"sent", "permanent-failure", "expired", "superseded", "unsubscribed"})

# Why a reminder goes when it goes (the message says so in the office's words).
ON_TIME = ""  # on its scheduled day
LATE = "late"  # really scheduled and then missed (no run that day): a late notice
ADDED = "added"  # its day was added to the data after the reminder's instant: not late
REQUESTED = "requested"  # scheduled before the office (or lead) was first seen; sent because
#                          an administrator asked for a catch-up (``send-due --catch-up``)


@dataclass(frozen=True)
class Seen:
    """When the ledger first saw each office, each lead of an office and each day (aware).

    An office, lead or day missing here is new at this run: first seen ``now``.
    """

    offices: Mapping[str, datetime]
    leads: Mapping[tuple[str, int], datetime]
    days: Mapping[str, datetime]

    def add(self, offices: Sequence[Office], day_ids: Iterable[str], now: datetime,
            start: datetime) -> Seen:
        """What a run at ``now`` records: the offices, leads and days it finds for the first
        time, seen ``now``; on the first run that keeps these records, at the ledger's
        ``start`` instead (for a ledger that was sending before it kept them, its earliest
        reminder or run: a restart, not a new start)."""
        office_at = start if not self.offices else now
        lead_at = start if not self.leads else now
        day_at = start if not self.days else now
        return Seen({**{o.id: office_at for o in offices}, **self.offices},
                    {**{(o.id, lead): lead_at for o in offices for lead in o.lead_days},
                     **self.leads},
                    {**dict.fromkeys(day_ids, day_at), **self.days})

    def since(self, office_id: str, lead: int, now: datetime) -> datetime:
        """From when a reminder of this office and lead counts as really scheduled."""
        return max(self.offices.get(office_id, now), self.leads.get((office_id, lead), now))


@dataclass(frozen=True)
class Past:
    """What the ledger says of the reminders around now: each one's status, and when each sent one
    went (on the sending run's clock)."""

    status: Mapping[tuple[str, str, str, int], str]
    sent: Mapping[tuple[str, str, str, int], datetime]

    @cached_property
    def _by_office(self) -> dict[str, list[tuple[tuple[str, str, str, int], datetime]]]:
        out: dict[str, list[tuple[tuple[str, str, str, int], datetime]]] = {}
        for key, when in self.sent.items():
            out.setdefault(key[0], []).append((key, when))
        return out

    def reminded_on(self, office: Office, day: date) -> set[tuple[str, str]]:
        """The occurrences (day id, ISO date) the office got a message about on its local
        date ``day``; empty when it got none that day."""
        tz = zone(office.timezone)
        return {(k[1], k[2]) for k, when in self._by_office.get(office.id, ())
                if when.astimezone(tz).date() == day}


@dataclass(frozen=True)
class DueReminder:
    """A reminder with the facts the message states: when it was meant to go and how near it is."""

    reminder: Reminder
    scheduled: datetime  # aware, in the office's zone: send_time on date - lead
    days_ahead: int  # days from the office's local today to the occurrence
    reason: str = ON_TIME  # ON_TIME, LATE, ADDED or REQUESTED

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
        """A late notice: really scheduled, then missed; the message says how near the day is."""
        return self.reason == LATE


@dataclass(frozen=True)
class Batch:
    """Everything one office is told in one message."""

    office: Office
    items: tuple[DueReminder, ...]
    local_now: datetime  # the run's instant on the office's clock
    second: bool = False  # a second message today: it says why (see the module's docstring)

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


def _reason(office: Office, occ: Occurrence, lead: int, when: datetime, today: date,
            now: datetime, seen: Seen | None, catch_up: bool) -> str | None:
    """Why this overdue reminder goes now, or None when it must not go at all."""
    if seen is not None and when < seen.since(office.id, lead, now):
        return REQUESTED if catch_up else None
    if seen is not None and when < seen.days.get(occ.day.id, now):
        return ADDED
    return ON_TIME if when.date() >= today else LATE


def due_for_office(office: Office, occs: Iterable[Occurrence], now: datetime,
                   seen: Seen | None = None, catch_up: bool = False,
                   past: Past | None = None) -> Batch | None:
    """The office's batch at ``now`` (None when nothing is due). Without ``seen`` every office,
    lead and day counts as known for ever (a restart after an outage: missed ones are late);
    without ``past`` nothing was ever sent."""
    _check_now(now)
    local = now.astimezone(zone(office.timezone))
    today = local.date()
    leads = sorted(office.lead_days)  # ascending: the first due lead is the smallest
    if not leads:
        return None
    horizon = leads[-1]
    status = past.status if past is not None else {}
    items: list[DueReminder] = []
    calling: set[tuple[str, str, str, int]] = set()
    for occ in occs:
        ahead = (occ.date - today).days
        if ahead < 0 or ahead > horizon or not office.wants(occ.day):
            continue
        pick: DueReminder | None = None
        for lead in leads:  # nearest first
            when = scheduled_at(office, occ.date, lead)
            if when.date() > today:  # a later day's: that day's message takes it
                continue
            why = _reason(office, occ, lead, when, today, now, seen, catch_up)
            if why is None:  # before the office or lead existed; a farther lead may do
                continue
            # The nearest reminder scheduled today or before is the one a message carries.
            pick = pick or DueReminder(Reminder(office, occ, lead), when, ahead, why)
            if when <= local:
                # The most recent one due: if it never went, the occurrence calls for a message.
                if status.get((office.id, occ.day.id, occ.date.isoformat(), lead)) not in FINAL:
                    calling.add(pick.key)
                break
        if pick is not None:
            items.append(pick)
    return decide(office, items, calling, local, past)


def decide(office: Office, chosen: Sequence[DueReminder], calling: set[tuple[str, str, str, int]],
           local: datetime, past: Past | None) -> Batch | None:
    """One message a day. ``chosen``: each occurrence's nearest reminder scheduled up to the end
    of the office's local today; ``calling``: the keys of those whose occurrence has a reminder
    due that never went. A message goes when one calls, and takes every chosen one not sent yet
    (the later ones of today ride along); when the office already got its message today, only
    for a reminder that would otherwise arrive on or after its day. Reminders already settled
    stay in the batch (for the run's counts) and never go again."""
    today = local.date()
    status = past.status if past is not None else {}
    reminded = past.reminded_on(office, today) if past is not None else set()
    fresh = [i for i in chosen if status.get(i.key) not in FINAL
             and (i.occurrence.day.id, i.occurrence.date.isoformat()) not in reminded]
    settled = [i for i in chosen if status.get(i.key) in FINAL]
    due = [i for i in fresh if i.key in calling]
    if reminded:  # a second message today only for what tomorrow's would bring too late
        due = [i for i in due if (i.occurrence.date - today).days <= 1]
    items = (fresh if due else []) + settled
    if not items:
        return None
    items.sort(key=lambda i: (i.occurrence.date, i.occurrence.day.order))
    return Batch(office, tuple(items), local, second=bool(due and reminded))


def window(offices: Sequence[Office], now: datetime) -> tuple[date, date]:
    """The dates any office might be reminded about at ``now``: [today - 1, today + lead + 2)."""
    utc_today = now.astimezone(ZoneInfo("UTC")).date()
    horizon = max((max(o.lead_days) for o in offices if o.lead_days), default=0)
    # Local dates are within a day of the UTC date (zones span UTC-12..UTC+14).
    return utc_today - timedelta(days=1), utc_today + timedelta(days=horizon + 2)


def due_reminders(catalog: Catalog, offices: Sequence[Office], now: datetime,
                  seen: Seen | None = None, catch_up: bool = False,
                  past: Past | None = None) -> list[Batch]:
    """Every office's batch of reminders due at ``now``, in the order of the offices file.

    ``now`` is an aware instant; the result does not consult the ledger: a reminder already sent
    stays due until its occurrence passes, and the ledger makes sure it goes out once.
    """
    return list(iter_due(catalog, offices, now, lambda _chunk: (seen, past), catch_up))


def iter_due(catalog: Catalog, offices: Sequence[Office], now: datetime,
             lookup: Callable[[Sequence[Office]], tuple[Seen | None, Past | None]],
             catch_up: bool = False, chunk: int = 500) -> Iterator[Batch]:
    """:func:`due_reminders` a chunk of offices at a time, ``lookup`` giving the ledger's
    records of just that chunk: a run holds only what it works on, however many offices."""
    _check_now(now)
    if not offices:
        return
    start, end = window(offices, now)
    occs = occurrences(catalog.days, start, end)
    for at in range(0, len(offices), chunk):
        part = offices[at:at + chunk]
        seen, past = lookup(part)
        for office in part:
            batch = due_for_office(office, occs, now, seen, catch_up, past)
            if batch is not None:
                yield batch


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
