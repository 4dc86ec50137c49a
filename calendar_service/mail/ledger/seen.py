"""When the ledger started, and when each office, lead and day first appeared in the data.

What makes a first start send nothing unexpected (see ``mail/reminders.py``): the first sending
run records its "now" as the ledger's start and every office, lead and day it finds as seen
then; later runs record only what is new, at their own "now". A ledger that was already sending
before it kept these records (revision 0004) has its earliest reminder or run as its start, and
what its first run finds counts as seen since then: a restart after an outage, not a new start.

A run records everything it finds at its start (so a run killed half-way has still seen every
office) but reads the records back a chunk of offices at a time, as it claims them: what it holds
does not grow with the number of offices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection

from calendar_service.data.model import Day, Office
from calendar_service.mail.ledger.schema import days_seen, leads_seen, ledger_info, offices_seen
from calendar_service.mail.reminders import Seen

CHUNK = 500  # offices per statement: well under every database's limit on parameters


@dataclass(frozen=True)
class FirstSeen:
    """What reading the records of some offices needs, decided once per run: when an office or
    lead with no record counts as seen (the ledger's start on the first run that keeps these
    records, else the run's now: only a dry run finds any), and every day's record (a few)."""

    office_at: datetime
    lead_at: datetime
    days: Mapping[str, datetime]


def started(conn: Connection) -> tuple[datetime | None, datetime | None]:
    """(created_at, started_at) of the ledger; (None, None) when it has no record yet."""
    row = conn.execute(select(ledger_info.c.created_at, ledger_info.c.started_at)
                       .where(ledger_info.c.id == 1)).first()
    return (None, None) if row is None else (row.created_at, row.started_at)


def record(conn: Connection, offices: Sequence[Office], days: Iterable[Day], now: datetime, *,
           write: bool, clock: Callable[[], datetime], insert: Callable[[Any], Any]) -> FirstSeen:
    """Record (``write``) what is new at ``now``, a chunk of offices at a time; without
    ``write`` (a dry run) nothing is stored and the answer is the same."""
    created, start = started(conn)
    if write and created is None:
        conn.execute(insert(ledger_info), {"id": 1, "created_at": clock(), "started_at": now})
    elif write and start is None:
        conn.execute(update(ledger_info).where(ledger_info.c.id == 1,
                                               ledger_info.c.started_at.is_(None))
                     .values(started_at=now))
    start = start or now
    # "Does the ledger have any record yet", asked once: the first chunk's records must not
    # turn the next chunks' offices into new ones.
    office_at, lead_at, day_at = (now if _any(conn, table) else start
                                  for table in (offices_seen, leads_seen, days_seen))
    day_ids = [d.id for d in days]
    if write:
        for at in range(0, len(offices), CHUNK):
            chunk = offices[at:at + CHUNK]
            known_offices, known_leads = _stored(conn, [o.id for o in chunk])
            _insert(conn, insert(offices_seen), [
                {"office_id": o.id, "first_seen": office_at} for o in chunk
                if o.id not in known_offices])
            _insert(conn, insert(leads_seen), [
                {"office_id": o.id, "lead": lead, "first_seen": lead_at} for o in chunk
                for lead in o.lead_days if (o.id, lead) not in known_leads])
        known_days = _days(conn)
        _insert(conn, insert(days_seen), [{"day_id": d, "first_seen": day_at}
                                          for d in dict.fromkeys(day_ids) if d not in known_days])
    # Another run may have recorded some at the same time: its records win.
    return FirstSeen(office_at, lead_at, {**dict.fromkeys(day_ids, day_at), **_days(conn)})


def seen(conn: Connection, first: FirstSeen, offices: Sequence[Office], *,
         every: bool = False) -> Seen:
    """When each of ``offices`` and their leads were first seen, read from the ledger (with
    ``every``, every office on record too); any not recorded (a dry run) counts as seen as
    ``first`` says."""
    stored_offices, stored_leads = _stored(conn, None if every else [o.id for o in offices])
    return Seen({**{o.id: first.office_at for o in offices}, **stored_offices},
                {**{(o.id, lead): first.lead_at for o in offices for lead in o.lead_days},
                 **stored_leads},
                first.days)


def see(conn: Connection, offices: Sequence[Office], days: Iterable[Day], now: datetime, *,
        write: bool, clock: Callable[[], datetime], insert: Callable[[Any], Any]) -> Seen:
    """:func:`record`, then every record at once (for tools and tests; a run reads them a
    chunk of offices at a time)."""
    first = record(conn, offices, days, now, write=write, clock=clock, insert=insert)
    return seen(conn, first, offices, every=True)


def _any(conn: Connection, table: Table) -> bool:
    return conn.execute(select(1).select_from(table).limit(1)).first() is not None


def _insert(conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    for at in range(0, len(rows), CHUNK):
        conn.execute(statement, rows[at:at + CHUNK])


def _stored(conn: Connection, office_ids: Sequence[str] | None
            ) -> tuple[dict[str, datetime], dict[tuple[str, int], datetime]]:
    """The records of these offices and their leads (None: all)."""
    offices: dict[str, datetime] = {}
    leads: dict[tuple[str, int], datetime] = {}
    groups = [None] if office_ids is None else [office_ids[at:at + CHUNK]
                                                for at in range(0, len(office_ids), CHUNK)]
    for ids in groups:
        q_offices, q_leads = select(offices_seen), select(leads_seen)
        if ids is not None:
            q_offices = q_offices.where(offices_seen.c.office_id.in_(ids))
            q_leads = q_leads.where(leads_seen.c.office_id.in_(ids))
        offices.update((r.office_id, r.first_seen) for r in conn.execute(q_offices))
        leads.update(((r.office_id, r.lead), r.first_seen) for r in conn.execute(q_leads))
    return offices, leads


def _days(conn: Connection) -> dict[str, datetime]:
    return {r.day_id: r.first_seen for r in conn.execute(select(days_seen))}
