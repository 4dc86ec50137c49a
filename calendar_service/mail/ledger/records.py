"""The ledger's rows as values: what ``log``, ``subscriptions`` and the scheduler read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from calendar_service.mail.ledger.schema import (
    Key,
)


@dataclass(frozen=True)
class Entry:
    """One ledger row as ``log`` shows it."""

    office_id: str
    day_id: str
    occurrence_date: date
    lead: int
    status: str
    attempts: int
    message_id: str | None
    reply: str | None
    refused: dict[str, str]
    error: str | None
    scheduled_at: datetime | None
    updated_at: datetime
    sent_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"office": self.office_id, "day": self.day_id,
                "date": self.occurrence_date.isoformat(), "lead": self.lead,
                "status": self.status, "attempts": self.attempts, "message_id": self.message_id,
                "reply": self.reply, "refused": self.refused, "error": self.error,
                "scheduled_at": _iso(self.scheduled_at), "updated_at": _iso(self.updated_at),
                "sent_at": _iso(self.sent_at)}


@dataclass(frozen=True)
class Unsubscription:
    """An office that asked not to receive reminders, since when and how."""

    office_id: str
    unsubscribed_at: datetime
    via: str

    def as_json(self) -> dict[str, Any]:
        return {"office": self.office_id, "unsubscribed_at": _iso(self.unsubscribed_at),
                "via": self.via}


@dataclass(frozen=True)
class RunInfo:
    """A send-due run as the scheduler reports it."""

    started_at: datetime
    finished_at: datetime | None
    as_of: datetime | None
    host: str | None
    sent: int
    failed: int
    pending: int
    messages: int
    ok: bool | None


@dataclass(frozen=True)
class Mark:
    """The outcome of one message for the reminders it carried."""

    keys: tuple[Key, ...]
    status: str  # SENT, FAILED or PERMANENT
    message_id: str | None = None
    reply: str | None = None
    refused: dict[str, str] | None = None
    error: str | None = None
    as_of: datetime | None = None  # the sending run's clock when it went (``--now`` replays too)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
