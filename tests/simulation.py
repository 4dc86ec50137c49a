"""A deterministic simulator: the real planner (``due_reminders``) run by a simulated cron over a
simulated clock, with an in-memory ledger that records what each run sends, as ``send_due`` does
(no I/O, no sleeping: a month of hourly runs takes a second or two).

It keeps what the planner reads from the ledger (:class:`Seen`, :class:`Past`) and what the
property tests check: every message delivered, with its instant and its items.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from calendar_service.data.model import Catalog, Office
from calendar_service.mail.reminders import FINAL, Batch, Past, Seen, due_reminders, zone

Key = tuple[str, str, str, int]


@dataclass(frozen=True)
class Message:
    """One message an office got: when (UTC) and what it carried."""

    at: datetime
    batch: Batch

    @property
    def office(self) -> Office:
        return self.batch.office

    @property
    def local_date(self) -> date:
        return self.at.astimezone(zone(self.office.timezone)).date()


@dataclass
class Simulation:
    """The ledger's memory between runs, and every message sent."""

    catalog: Catalog
    offices: Sequence[Office]
    start: datetime | None = None
    seen: Seen = field(default_factory=lambda: Seen({}, {}, {}))
    status: dict[Key, str] = field(default_factory=dict)
    sent: dict[Key, datetime] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    runs: list[datetime] = field(default_factory=list)

    def run(self, now: datetime, *, catch_up: bool = False) -> list[Message]:
        """One ``send-due`` at ``now``: record what is new, plan, deliver every message."""
        self.start = self.start or now
        self.seen = self.seen.add(self.offices, [d.id for d in self.catalog.days], now,
                                  self.start)
        self.runs.append(now)
        past = Past(dict(self.status), dict(self.sent))
        out = []
        for batch in due_reminders(self.catalog, self.offices, now, self.seen, catch_up, past):
            todo = tuple(i for i in batch.items if self.status.get(i.key) not in FINAL)
            if not todo:
                continue
            for item in todo:
                self.status[item.key] = "sent"
                self.sent[item.key] = now
            out.append(Message(now, Batch(batch.office, todo, batch.local_now, batch.second)))
        self.messages += out
        return out


def cron(first: date, days: int, *, hours: Sequence[int], minute: int = 0,
         skipped: frozenset[date] = frozenset()) -> Iterator[datetime]:
    """The instants (UTC) of a cron job at ``minute`` past each of ``hours`` every day, except
    on the ``skipped`` dates (the machine was off)."""
    from datetime import UTC

    for n in range(days):
        day = first + timedelta(days=n)
        if day in skipped:
            continue
        for hour in sorted(hours):
            yield datetime.combine(day, time(hour, minute), tzinfo=UTC)
