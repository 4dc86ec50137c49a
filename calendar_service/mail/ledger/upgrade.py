"""Bring a ledger to the schema this release knows, or say clearly why not.

The common case costs one query and no Alembic import: the ledger is at this release's head.
Otherwise:

- an empty database gets the whole schema;
- a ledger made before migrations existed (tables, no ``alembic_version``) is recognised as the
  baseline and stamped, its rows untouched;
- an older ledger is upgraded by commands that write to it (``upgrade=True``), after a backup
  beside a SQLite file; read-only commands refuse it and point at ``calendar-service migrate``;
- a ledger upgraded by a newer release is used as it is when that release recorded that this
  one can still use it (its migrations since were additive: a rolling upgrade), and refused
  otherwise (exit 2).

One upgrader at a time: on SQLite the upgrade runs inside a ``BEGIN IMMEDIATE`` transaction; on
PostgreSQL under a transaction-level advisory lock keyed on the database and schema, so that the
instances started together wait for the first (at most ``LOCK_WAIT``) and then find the ledger
at head.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from calendar_service.base.errors import CalendarServiceError, ConfigError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UNVERSIONED = "unversioned"  # tables made by calendar-service 0.1.0, before migrations
BASELINE = "0001"  # what an unversioned ledger is
LOCK_WAIT = 600  # seconds an instance waits for another one's upgrade
_LOCK_SPACE = 0x63616C  # first key of pg_advisory_xact_lock(int, int); the second is per schema

_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")
log = logging.getLogger(__name__)


class LedgerVersionError(ConfigError):
    """The ledger's schema is not the one this release uses (exit 2)."""


class LedgerBusyError(CalendarServiceError):
    """Another instance held the upgrade lock for longer than LOCK_WAIT."""


def revisions() -> list[str]:
    """The revisions this release knows, oldest first (the history is a line: see migrations)."""
    return sorted(m.group(1) for p in (MIGRATIONS / "versions").iterdir()
                  if (m := _REVISION_FILE.match(p.name)))


def head() -> str:
    return revisions()[-1]


def current(conn: Connection) -> str | None:
    """The ledger's revision, UNVERSIONED for a 0.1.0 ledger, None for an empty database."""
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        if row is not None:
            return str(row[0])
    return UNVERSIONED if "reminder_ledger" in tables else None


def read_status(conn: Connection) -> Status:
    """The ledger's revision and, when it is newer than this release, what it says it suits."""
    found = current(conn)
    floor = None
    # Only a record made for this very revision counts (not one left by an earlier upgrade).
    if (found not in (None, UNVERSIONED) and found not in revisions()
            and "ledger_compat" in inspect(conn).get_table_names()):
        row = conn.execute(text("SELECT readable_from FROM ledger_compat WHERE revision = :r"),
                           {"r": found}).first()
        floor = None if row is None else str(row[0])
    return Status(found, head(), floor)


@dataclass(frozen=True)
class Status:
    current: str | None
    head: str
    readable_from: str | None = None  # for a newer ledger: the oldest release revision it suits

    @property
    def effective(self) -> str | None:
        return BASELINE if self.current == UNVERSIONED else self.current

    @property
    def newer(self) -> bool:
        return self.current is not None and self.effective not in revisions()

    @property
    def usable(self) -> bool:
        """This release can read and write the ledger (a newer one only if it said so)."""
        return not self.newer or self.readable_from in revisions()

    @property
    def pending(self) -> list[str]:
        """Revisions an upgrade would apply, oldest first (stamping counts for an unversioned one)."""
        known = revisions()
        if self.newer:
            return []
        if self.current is None:
            return known
        later = known[known.index(self.effective) + 1:]
        return ([BASELINE] if self.current == UNVERSIONED else []) + later


@dataclass(frozen=True)
class Upgrade:
    before: str | None
    after: str
    backup: Path | None


def status(engine: Engine) -> Status:
    with engine.connect() as conn:
        found = read_status(conn)
        conn.rollback()
    return found


def newer_error(revision: str) -> LedgerVersionError:
    return LedgerVersionError(f"this ledger was upgraded by a newer calendar-service (revision "
                              f"{revision}); install that release or newer")


def ensure(engine: Engine, *, upgrade: bool, clock: Callable[[], datetime]) -> Upgrade | None:
    """Make the ledger usable by this release; returns what was upgraded, if anything."""
    state = status(engine)
    if not state.usable:
        raise newer_error(str(state.current))
    if state.newer:
        log.info("event=ledger-newer revision=%s release_revision=%s readable_from=%s",
                 state.current, state.head, state.readable_from)
        return None
    if state.current == state.head or (state.effective == state.head and not upgrade):
        return None  # at head (an unversioned baseline is read as it is; a write stamps it)
    if state.current is not None and not upgrade:
        what = ("was made by calendar-service 0.1.0 (no schema revision)"
                if state.current == UNVERSIONED else f"is at revision {state.current}")
        raise LedgerVersionError(
            f"this ledger {what}, older than this release's revision {state.head}; "
            "`calendar-service migrate` upgrades it (after a backup), and so does the next "
            "send-due, daily or serve")
    done = migrate(engine, clock=clock)
    if done.before is not None and done.before != done.after:
        log.info("event=ledger-upgraded from=%s to=%s backup=%s", done.before, done.after,
                 done.backup)
    return done


def migrate(engine: Engine, *, clock: Callable[[], datetime]) -> Upgrade:
    """Upgrade to head, one instance at a time; a no-op when another one already did."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, conn.begin():
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}s'"))
            try:
                conn.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext("
                                  "current_database() || '.' || current_schema()))"),
                             {"space": _LOCK_SPACE})
            except Exception as exc:
                if "lock timeout" not in str(exc):
                    raise
                raise LedgerBusyError(
                    f"another calendar-service has been upgrading the ledger for over "
                    f"{LOCK_WAIT} s; check it, then try again") from None
            conn.execute(text("SET LOCAL lock_timeout = 0"))
            return _upgrade(conn, None, clock)
    with engine.begin() as conn:  # BEGIN IMMEDIATE: the others wait for this transaction
        return _upgrade(conn, str(engine.url.database), clock)


def _upgrade(conn: Connection, sqlite_file: str | None, clock: Callable[[], datetime]) -> Upgrade:
    state = read_status(conn)
    found = state.current
    if not state.usable:
        raise newer_error(str(found))
    if found == state.head or state.newer:
        return Upgrade(found, found, None)
    backup = None
    if sqlite_file and found is not None:
        from calendar_service.mail.ledger.backup import copy_sqlite

        source = Path(sqlite_file).expanduser()
        backup = source.with_name(f"{source.name}.bak-{found}-{clock().astimezone(UTC):%Y%m%dT%H%M%SZ}")
        copy_sqlite(source, backup)
    if found is None:
        _create(conn, clock)
    else:
        _alembic_upgrade(conn)
    _record_compat(conn)
    return Upgrade(found, state.head, backup)


def _create(conn: Connection, clock: Callable[[], datetime]) -> None:
    """An empty database gets schema.py's tables at once, stamped at head: what running every
    revision gives (a test checks it), without loading Alembic (a fresh ledger is common: every
    test, every first run)."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table

    from calendar_service.mail.ledger.schema import ledger_info, metadata

    metadata.create_all(conn)
    conn.execute(ledger_info.insert(), {"id": 1, "created_at": clock(), "started_at": None})
    version = Table("alembic_version", MetaData(),  # as Alembic makes it
                    Column("version_num", String(32), nullable=False),
                    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
    version.create(conn)
    conn.execute(version.insert(), {"version_num": head()})


def _alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def is_additive(revision: str) -> bool:
    """The revision's ``additive`` flag, read from its file (a test checks it against Alembic's
    view of the module), so that a fresh ledger needs no Alembic."""
    (path,) = (MIGRATIONS / "versions").glob(f"{revision}_*.py")
    return re.search(r"(?m)^additive = True\b", path.read_text(encoding="utf-8")) is not None


def readable_from() -> str:
    """The oldest revision whose release can use a ledger at head: the start of the unbroken
    run of additive revisions that ends at head."""
    known = revisions()
    at = len(known) - 1
    while at > 0 and is_additive(known[at]):
        at -= 1
    return known[at]


def _alembic_upgrade(conn: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(conn), "head")


def _record_compat(conn: Connection) -> None:
    conn.execute(text("DELETE FROM ledger_compat"))
    conn.execute(text("INSERT INTO ledger_compat (revision, readable_from) VALUES (:r, :f)"),
                 {"r": head(), "f": readable_from()})
