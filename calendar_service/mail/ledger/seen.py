"""When the ledger started, and when each office, lead and day first appeared in the data.

What makes a first start send nothing unexpected (see ``mail/reminders.py``): the first sending
run records its "now" as the ledger's start and every office, lead and day it finds as seen
then; later runs record only what is new, at their own "now". A ledger that was already sending
before it kept these records (revision 0004) has its earliest reminder or run as its start, and
what its first run finds counts as seen since then: a restart after an outage, not a new start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from calendar_service.data.model import Day, Office
from calendar_service.mail.ledger.schema import days_seen, leads_seen, ledger_info, offices_seen
from calendar_service.mail.reminders import Seen


def started(conn: Connection) -> tuple[datetime | None, datetime | None]:
    """(created_at, started_at) of the ledger; (None, None) when it has no record yet."""
    row = conn.execute(select(ledger_info.c.created_at, ledger_info.c.started_at)
                       .where(ledger_info.c.id == 1)).first()
    return (None, None) if row is None else (row.created_at, row.started_at)


def see(conn: Connection, offices: Sequence[Office], days: Iterable[Day], now: datetime, *,
        write: bool, clock: Callable[[], datetime], insert: Callable[[Any], Any]) -> Seen:
    """Record (``write``) what is new at ``now`` and return when everything was first seen.
    Without ``write`` (a dry run) the same answer, nothing stored."""
    created, start = started(conn)
    if write and created is None:
        conn.execute(insert(ledger_info), {"id": 1, "created_at": clock(), "started_at": now})
    elif write and start is None:
        conn.execute(update(ledger_info).where(ledger_info.c.id == 1,
                                               ledger_info.c.started_at.is_(None))
                     .values(started_at=now))
    start = start or now
    known = _stored(conn)
    found = known.add(offices, [d.id for d in days], now, start)
    if not write:
        return found
    for table, rows in (
            (offices_seen, [{"office_id": k, "first_seen": v} for k, v in found.offices.items()
                            if k not in known.offices]),
            (leads_seen, [{"office_id": k[0], "lead": k[1], "first_seen": v}
                          for k, v in found.leads.items() if k not in known.leads]),
            (days_seen, [{"day_id": k, "first_seen": v} for k, v in found.days.items()
                         if k not in known.days])):
        for at in range(0, len(rows), 500):
            conn.execute(insert(table), rows[at:at + 500])
    return _stored(conn)  # another run may have recorded some at the same time: its win


def _stored(conn: Connection) -> Seen:
    return Seen({r.office_id: r.first_seen for r in conn.execute(select(offices_seen))},
                {(r.office_id, r.lead): r.first_seen for r in conn.execute(select(leads_seen))},
                {r.day_id: r.first_seen for r in conn.execute(select(days_seen))})
