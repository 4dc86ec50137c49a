"""The ledger's tables and how to open its database (SQLite tuned for several processes, or PostgreSQL).

The tables here are the current schema; migrations under ``migrations/`` get an existing ledger to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine, make_url

from calendar_service.base.errors import ConfigError
from calendar_service.base.settings import redact_url

if TYPE_CHECKING:
    pass


Key = tuple[str, str, str, int]


PENDING, CLAIMED, SENT, FAILED, PERMANENT = "pending", "claimed", "sent", "failed", "permanent-failure"


EXPIRED, SUPERSEDED, UNSUBSCRIBED = "expired", "superseded", "unsubscribed"


STATUSES = (PENDING, CLAIMED, SENT, FAILED, PERMANENT, EXPIRED, SUPERSEDED, UNSUBSCRIBED)


UNDELIVERED = (PENDING, CLAIMED, FAILED)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC out; stored as naive UTC so SQLite and PostgreSQL agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()


reminders = Table(
    "reminder_ledger", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rkey", String(400), nullable=False, unique=True),  # office|day|date|lead
    Column("office_id", String(100), nullable=False),
    Column("day_id", String(100), nullable=False),
    Column("occurrence_date", Date, nullable=False),
    Column("lead", Integer, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("scheduled_at", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claim_token", String(64)),
    Column("claimed_at", UTCDateTime),
    Column("claim_host", String(200)),  # who holds the claim: host and process (see owners.py)
    Column("claim_pid", Integer),
    Column("message_id", String(200)),
    Column("reply", Text),  # the SMTP server's reply, or the outbox file
    Column("refused", Text),  # JSON {address: reply} of recipients the server refused
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    # The sending run's "now" when the message went (``--now`` replays included): which local
    # day an office got its message on (see mail/reminders.py, one message a day).
    Column("sent_as_of", UTCDateTime),
    UniqueConstraint("office_id", "day_id", "occurrence_date", "lead", name="uq_reminder_ledger_key"),
)


runs = Table(
    "reminder_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("as_of", UTCDateTime),  # the run's "now" (differs from started_at in replays)
    Column("host", String(200)),
    Column("pid", Integer),
    Column("sent", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("pending", Integer, nullable=False, default=0),
    Column("messages", Integer, nullable=False, default=0),
    Column("ok", Boolean),
)


# Offices that asked to stop receiving reminders (one-click link, or a coordinator after a
# mailto request). One row per office: unsubscribing twice keeps the first time; resubscribing
# deletes the row.
unsubscriptions = Table(
    "unsubscriptions", metadata,
    Column("office_id", String(100), primary_key=True),
    Column("unsubscribed_at", UTCDateTime, nullable=False),
    Column("via", String(20), nullable=False),  # "web" (the one-click link) or "cli"
)


# Which releases can still use this ledger (one row, written after each upgrade): see
# migrations/versions/0002_compat.py.
ledger_compat = Table(
    "ledger_compat", metadata,
    Column("revision", String(32), primary_key=True),
    Column("readable_from", String(32), nullable=False),
)


# When the ledger started sending (the "now" of its first sending run; for a ledger older than
# revision 0004, its earliest reminder or run) and when it was created. One row, id 1.
ledger_info = Table(
    "ledger_info", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
)


# When each office, each lead of an office, and each day first appeared in the data files, as
# the sending runs saw them: a reminder scheduled before is never sent, or called late, unless
# an administrator asks for a catch-up (see mail/reminders.py).
offices_seen = Table(
    "offices_seen", metadata,
    Column("office_id", String(100), primary_key=True),
    Column("first_seen", UTCDateTime, nullable=False),
)
leads_seen = Table(
    "leads_seen", metadata,
    Column("office_id", String(100), primary_key=True),
    Column("lead", Integer, primary_key=True, autoincrement=False),
    Column("first_seen", UTCDateTime, nullable=False),
)
days_seen = Table(
    "days_seen", metadata,
    Column("day_id", String(100), primary_key=True),
    Column("first_seen", UTCDateTime, nullable=False),
)


def rkey(key: Key) -> str:
    return "|".join(str(part) for part in key)


def engine_url(url: str) -> str:
    """postgresql:// means psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def open_engine(url: str) -> Engine:
    """An engine on the ledger's database (nothing is read or created yet)."""
    full = engine_url(url)
    return _sqlite_engine(full) if full.startswith("sqlite") else create_engine(full, pool_pre_ping=True)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """A database that cannot be reached or named is a setting to fix (exit 2), not a bug."""
    try:
        yield
    except Exception as exc:
        from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

        # A URL the settings let through but the driver refuses (a bad port, a folder that
        # cannot be created) is still the user's to fix: exit 2 with the reason.
        if isinstance(exc, (ArgumentError, DBAPIError, NoSuchModuleError, ImportError, ValueError,
                            OSError)):
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise ConfigError(f"ledger database {redact_url(url)}: {reason}") from None
        raise


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if not parsed.database or parsed.database == ":memory:":
        # Each thread would get its own empty database, and a ledger must outlive the run.
        raise ConfigError("CALENDAR_SERVICE_DATABASE_URL: an in-memory SQLite ledger forgets "
                          "what was sent; give a file, e.g. sqlite:////var/lib/calendar-service/"
                          "ledger.sqlite3")
    Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")
        _wal(cur)
        # WAL + NORMAL: a commit no longer waits for fsync; an application crash loses nothing,
        # a power cut may lose the last commits: a lost mark means a resend (at-least-once, as
        # for a kill), a lost claim or registration is simply redone by the next run.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Take the write lock up front: two processes never deadlock upgrading a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _wal(cur: Any) -> None:
    """WAL lets readers and one writer work at once. Switching to it needs a moment alone with
    the file and SQLite does not wait for that (no busy handler), so two processes creating the
    ledger together retry briefly."""
    import sqlite3
    import time

    for attempt in range(200):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 199:
                raise
            time.sleep(0.05)
