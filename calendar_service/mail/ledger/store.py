"""The ledger: one row per reminder (office, day, occurrence date, lead), claimed before sending
and marked after, so reruns, crashes and concurrent runs never send twice or lose one.

SQLAlchemy Core on a SQLite file by default, PostgreSQL (psycopg 3) for several hosts.

Claiming is one atomic UPDATE: a row is claimable when it is ``pending`` or ``failed``, or
``claimed`` by a run that is provably dead (its lock died with it: see ``owners``), or by a run
that cannot be checked and has not renewed its claims for longer than the claim timeout. A live
run's claims are never taken. Marking is conditional on the run's claim token, and each message's
outcome is committed as soon as the relay answers, before its connection takes another message.
The trade-off on a crash *after* the SMTP server accepted a message but *before* that commit: the
row is claimed again and the message sent again (at-least-once), at most one message per
connection. We prefer that to at-most-once (losing a reminder); the resend carries the same
Message-ID.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Table,
    and_,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from calendar_service.base.errors import ConfigError
from calendar_service.base.settings import redact_url

if TYPE_CHECKING:
    from calendar_service.data.model import Day, Office
    from calendar_service.mail.ledger.seen import FirstSeen
    from calendar_service.mail.reminders import Batch, DueReminder, Past, Seen
from calendar_service.mail.ledger.owners import (
    ALIVE,
    DEAD,
    HOST,
    FileOwner,
    LedgerLost,
    Owner,
    PgOwner,
    file_liveness,
    owner_folder,
    pg_liveness,
)
from calendar_service.mail.ledger.records import (
    Entry,
    Mark,
    RunInfo,
    Unsubscription,
)
from calendar_service.mail.ledger.schema import (
    CLAIMED,
    EXPIRED,
    FAILED,
    PENDING,
    SENT,
    SUPERSEDED,
    UNDELIVERED,
    UNSUBSCRIBED,
    Key,
    database_errors,
    open_engine,
    reminders,
    rkey,
    runs,
    unsubscriptions,
)
from calendar_service.mail.ledger.upgrade import ensure


def utcnow() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")

class Ledger:
    """Claim / mark / log on one database; safe to share between processes and hosts."""

    def __init__(self, url: str, *, claim_timeout: float = 900.0,
                 clock: Callable[[], datetime] = utcnow, upgrade: bool = True) -> None:
        """Open the ledger at ``url``, creating it when the database is empty. ``upgrade``: bring
        an older ledger to this release's schema (commands that write); False for read-only
        commands, which refuse an older ledger rather than change it."""
        self.url = url
        self.claim_timeout = timedelta(seconds=claim_timeout)
        self.clock = clock
        self._owners: dict[str, Owner] = {}
        self._dead: set[str] = set()  # owners proven dead stay dead: no need to ask again
        self._time_processor: Callable[[datetime], Any] | None = None
        self.folder = Path()
        self.namespace = ""
        with database_errors(url):
            self.engine = open_engine(url)
            self.upgraded = ensure(self.engine, upgrade=upgrade, clock=clock)
            if self.engine.dialect.name == "postgresql":
                with self.engine.connect() as conn:
                    self.namespace = f"{conn.execute(text('SELECT current_schema()')).scalar()}"
                    conn.rollback()
            else:
                self.folder = owner_folder(self.engine.url.database or "")

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> Ledger:
        return cls(settings.database_url, claim_timeout=settings.claim_timeout, **kwargs)

    def close(self) -> None:
        for token in list(self._owners):
            self.let_go(token)
        self.engine.dispose()

    # -- owners ---------------------------------------------------------------------------------

    def hold(self, token: str) -> None:
        """Take the lock that proves run ``token`` alive (before it claims anything); it dies
        with the process, or with the run's own connection on PostgreSQL."""
        if token in self._owners:
            return
        if self.engine.dialect.name == "postgresql":
            self._owners[token] = PgOwner(self.engine, self.namespace, token)
        else:
            self._owners[token] = FileOwner(self.folder, token)

    def let_go(self, token: str) -> None:
        """Drop run ``token``'s lock (after releasing its claims: any left would be taken)."""
        owner = self._owners.pop(token, None)
        if owner is not None:
            owner.close()

    def holds(self, token: str) -> bool:
        """Whether this run still holds its lock (False once its connection was lost)."""
        owner = self._owners.get(token)
        return owner is not None and not owner.lost

    def _liveness(self, conn: Connection) -> tuple[list[str], list[str]]:
        """The owners of claimed rows, other than this ledger's own runs: (dead, unknown).
        Alive ones are left out: their claims are never taken."""
        t = reminders
        rows = conn.execute(select(t.c.claim_token, t.c.claim_host, func.max(t.c.claim_pid))
                            .where(t.c.status == CLAIMED)
                            .group_by(t.c.claim_token, t.c.claim_host)).all()
        dead: list[str] = []
        unknown: list[str] = []
        ask: list[str] = []
        for token, host, pid in rows:
            if token is None or token in self._owners:
                continue
            if host is None:  # claimed before owners were recorded: only the timeout can tell
                unknown.append(token)
            elif token in self._dead:
                dead.append(token)
            elif self.engine.dialect.name == "postgresql":
                ask.append(token)
            else:
                state = file_liveness(self.folder, token, host, pid)
                if state == DEAD:
                    dead.append(token)
                elif state != ALIVE:
                    unknown.append(token)
        if ask:
            for token, state in pg_liveness(conn, self.namespace, ask).items():
                if state == DEAD:
                    dead.append(token)
        self._dead.update(dead)
        return dead, unknown

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, token: str | None = None) -> Iterator[Connection]:
        """A transaction; for a run that holds its lock on its own connection, on that one."""
        owner = self._owners.get(token) if token is not None else None
        own = owner.check() if owner is not None else None
        if own is None:
            with self.engine.begin() as conn:
                yield conn
            return
        from sqlalchemy.exc import DBAPIError

        try:
            with own.begin():
                yield own
        except DBAPIError as exc:
            if exc.connection_invalidated or own.invalidated:
                owner.lost = True
                raise LedgerLost(f"the run's ledger connection was lost: "
                                 f"{str(exc.orig).splitlines()[0] if exc.orig else exc}") from None
            raise

    # -- the run's steps ----------------------------------------------------------------------

    def see(self, offices: Sequence[Office], days: Iterable[Day], now: datetime, *,
            write: bool = True) -> Seen:
        """When each office, lead and day was first seen, recording at ``now`` (the run's
        instant) the ones seen for the first time; ``write=False`` (a dry run) stores nothing.
        Every record at once, for tools and tests: a run uses :meth:`first_seen`."""
        from calendar_service.mail.ledger import seen

        return self._unless_dry(write, lambda conn: seen.see(
            conn, offices, days, now, write=write, clock=self.clock, insert=self._insert))

    def first_seen(self, offices: Sequence[Office], days: Iterable[Day], now: datetime, *,
                   write: bool = True) -> FirstSeen:
        """Record at ``now`` the offices, leads and days seen for the first time, a chunk of
        offices at a time, and return what :meth:`seen_for` needs to read them back as the run
        goes; ``write=False`` (a dry run) stores nothing. What a run holds stays flat."""
        from calendar_service.mail.ledger import seen

        return self._unless_dry(write, lambda conn: seen.record(
            conn, offices, days, now, write=write, clock=self.clock, insert=self._insert))

    def _unless_dry(self, write: bool, work: Callable[[Any], T]) -> T:
        """``work(conn)`` in a write transaction, or for a dry run on a plain connection whose
        transaction is rolled back, so nothing it might write is kept."""
        if not write:
            with self.engine.connect() as conn:
                try:
                    return work(conn)
                finally:
                    conn.rollback()
        with self._tx() as conn:
            return work(conn)

    def seen_for(self, first: FirstSeen, offices: Sequence[Office]) -> Seen:
        """When each of these offices and their leads, and each day, were first seen."""
        from calendar_service.mail.ledger import seen

        with self.engine.connect() as conn:
            found = seen.seen(conn, first, offices)
            conn.rollback()
        return found

    def started(self) -> tuple[datetime | None, datetime | None]:
        """(created_at, started_at): when the ledger was made, and the "now" of its first
        sending run (None before it)."""
        from calendar_service.mail.ledger import seen

        with self.engine.connect() as conn:
            found = seen.started(conn)
            conn.rollback()
        return found

    def register(self, dues: Iterable[DueReminder], skip: frozenset[str] = frozenset()) -> None:
        """Record due reminders as pending, or as unsubscribed for the offices in ``skip``
        (existing rows are left as they are)."""
        now = self.clock()
        rows = sorted(({"rkey": rkey(d.key), "office_id": d.key[0], "day_id": d.key[1],
                        "occurrence_date": d.occurrence.date, "lead": d.lead,
                        "status": UNSUBSCRIBED if d.key[0] in skip else PENDING,
                        "scheduled_at": d.scheduled, "attempts": 0, "created_at": now,
                        "updated_at": now} for d in dues), key=lambda r: r["rkey"])
        if not rows:
            return
        insert = self._insert(reminders)
        with self._tx() as conn:
            for start in range(0, len(rows), 500):
                conn.execute(insert, rows[start:start + 500])

    def _insert(self, table: Table) -> Any:
        """INSERT that leaves an existing row (same unique key) alone."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        if self.engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing()
        raise ConfigError(f"ledger database {redact_url(self.url)}: only SQLite and PostgreSQL "
                          "are supported")

    def _claimable(self, now: datetime, dead: Sequence[str] = (),
                   unknown: Sequence[str] = ()) -> Any:
        """Pending or failed rows; claims of dead runs; claims of runs that cannot be checked
        and stopped renewing them (or that predate owner records). Never a live run's claim."""
        t = reminders
        stale = now - self.claim_timeout
        conds = [t.c.status.in_((PENDING, FAILED))]
        if dead:
            conds.append(and_(t.c.status == CLAIMED, t.c.claim_token.in_(list(dead))))
        old = [t.c.claim_token.is_(None)] + ([t.c.claim_token.in_(list(unknown))] if unknown
                                             else [])
        conds.append(and_(t.c.status == CLAIMED, t.c.claimed_at < stale, or_(*old)))
        return or_(*conds)

    @staticmethod
    def _subscribed() -> Any:
        """Checked inside the claim itself, so an office that unsubscribes while a run is under
        way gets nothing from the rest of that run (its rows stay pending until retired)."""
        return reminders.c.office_id.not_in(select(unsubscriptions.c.office_id)
                                            .scalar_subquery())

    def claim(self, keys: Sequence[Key], token: str) -> set[Key]:
        """Atomically take the claimable rows among ``keys``; returns the ones this run got."""
        if not keys:
            return set()
        now = self.clock()
        with self._tx(token) as conn:
            return self._claim(conn, keys, token, now)

    def _claim(self, conn: Connection, keys: Iterable[Key], token: str, now: datetime) -> set[Key]:
        t = reminders
        wanted = sorted(rkey(k) for k in keys)
        got: set[Key] = set()
        dead, unknown = self._liveness(conn)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            # SKIP LOCKED (PostgreSQL): rows another run is claiming right now are its.
            claimable = self._claimable(now, dead, unknown)
            ids = (select(t.c.id).where(t.c.rkey.in_(chunk), claimable, self._subscribed())
                   .order_by(t.c.id).with_for_update(skip_locked=True))
            stmt = (update(t).where(t.c.id.in_(ids.scalar_subquery()), claimable)
                    .values(status=CLAIMED, claim_token=token, claimed_at=now,
                            claim_host=HOST, claim_pid=os.getpid(),
                            attempts=t.c.attempts + 1, updated_at=now)
                    .returning(t.c.office_id, t.c.day_id, t.c.occurrence_date, t.c.lead))
            for office_id, day_id, when, lead in conn.execute(stmt):
                got.add((office_id, day_id, when.isoformat(), lead))
        return got

    def take(self, dues: Sequence[DueReminder], token: str) -> tuple[set[Key], dict[Key, str]]:
        """``register`` then ``claim`` in one transaction, at about half the cost.

        Reminders seen for the first time (the usual case for the ones a run sends) are
        inserted already claimed by this run (or as unsubscribed, for an office that
        unsubscribed: read in the same transaction); existing rows are claimed when claimable.
        Returns the keys this run got and the status of the others (sent, claimed by another
        run, unsubscribed, ...).
        """
        if not dues:
            return set(), {}
        now = self.clock()
        t = reminders
        by_rkey = {rkey(d.key): d for d in dues}
        got: set[Key] = set()
        others: dict[Key, str] = {}
        with self._tx(token) as conn:
            skip = {o for (o,) in conn.execute(select(unsubscriptions.c.office_id))}
            rows = [{"rkey": rk, "office_id": d.key[0], "day_id": d.key[1],
                     "occurrence_date": d.occurrence.date, "lead": d.lead,
                     "scheduled_at": d.scheduled, "created_at": now, "updated_at": now,
                     **({"status": UNSUBSCRIBED, "attempts": 0, "claim_token": None,
                         "claimed_at": None, "claim_host": None, "claim_pid": None}
                        if d.key[0] in skip else
                        {"status": CLAIMED, "attempts": 1, "claim_token": token,
                         "claimed_at": now, "claim_host": HOST, "claim_pid": os.getpid()})}
                    for rk, d in sorted(by_rkey.items())]  # one key order for all: no deadlock
            insert = self._insert(reminders).returning(t.c.rkey)
            inserted: set[Key] = set()
            for start in range(0, len(rows), 500):
                for (rk,) in conn.execute(insert, rows[start:start + 500]):
                    key = by_rkey[rk].key
                    inserted.add(key)
                    if key[0] in skip:
                        others[key] = UNSUBSCRIBED
                    else:
                        got.add(key)
            known = [d.key for d in by_rkey.values() if d.key not in inserted]
            if known:
                got |= self._claim(conn, known, token, now)
                others.update(self._statuses(conn, [k for k in known if k not in got]))
        return got, others

    def mark(self, marks: Sequence[Mark], token: str) -> int:
        """Record outcomes in one transaction; only rows this run still holds are changed.
        Returns how many rows changed.

        Called once per answer from the relay, so it is the hot path of a run: one plain SQL
        string per message size, sent to the driver as it is (no statement compiled, no
        parameter dict), with the timestamp converted once by the column's own type."""
        if not marks:
            return 0
        now = self._bind_time(self.clock())
        # One parameter set per message (its keys in an IN list), not one per reminder.
        by_size: dict[int, list[tuple[Any, ...]]] = {}
        for m in marks:
            if m.keys:
                by_size.setdefault(len(m.keys), []).append(
                    _mark_params(m, token, now, self._bind_time))
        changed = 0
        with self._tx(token) as conn:
            for size, params_list in by_size.items():
                sql = _mark_sql(size, self._placeholder)
                if len(params_list) == 1:  # rowcount is only reliable for one statement
                    changed += conn.exec_driver_sql(sql, params_list[0]).rowcount or 0
                else:
                    conn.exec_driver_sql(sql, params_list)
        return changed

    @property
    def _placeholder(self) -> str:
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def _bind_time(self, value: datetime) -> Any:
        """A timestamp as the driver takes it, converted exactly as the column would."""
        process = self._time_processor
        if process is None:
            column_type = reminders.c.updated_at.type.dialect_impl(self.engine.dialect)
            process = column_type.bind_processor(self.engine.dialect)  # both steps: ours, then
            # the dialect's (SQLite stores the text SQLAlchemy writes for every other row)
            self._time_processor = process or (lambda v: v)
        return self._time_processor(value)

    def renew(self, token: str) -> int:
        """Show run ``token`` is still at work: its claims' time is now. Returns how many it
        still holds. Runs do this every CLAIM_TIMEOUT/3, for runs that cannot be proven alive."""
        now = self.clock()
        with self._tx(token) as conn:
            return conn.execute(update(reminders)
                                .where(reminders.c.claim_token == token,
                                       reminders.c.status == CLAIMED)
                                .values(claimed_at=now)).rowcount or 0

    def release(self, token: str, keys: Sequence[Key] | None = None) -> int:
        """Give back claims of this run that were never sent (interrupted): they stay pending."""
        now = self.clock()
        t = reminders
        stmt = update(t).where(t.c.claim_token == token, t.c.status == CLAIMED)
        if keys is not None:
            stmt = stmt.where(t.c.rkey.in_([rkey(k) for k in keys]))
        stmt = stmt.values(status=PENDING, claim_token=None, claimed_at=None, claim_host=None,
                           claim_pid=None, updated_at=now, attempts=t.c.attempts - 1)
        with self._tx(token) as conn:
            return conn.execute(stmt).rowcount or 0

    def retire(self, batches: Iterable[Batch] | Callable[[set[str]], Iterable[Batch]],
               offices: Sequence[Office], now: datetime,
               skip: frozenset[str] = frozenset()) -> int:
        """Undelivered rows that can no longer go out: the day passed (expired), the office
        unsubscribed (``skip``: unsubscribed), or a smaller lead of the same occurrence is due
        now (superseded). Keeps ``pending_count`` honest. ``batches``: what is due now, or a
        function giving it for a set of office ids (only the offices with open rows are asked,
        so a run need not keep every office's batch)."""
        from calendar_service.mail.reminders import office_today

        t = reminders
        clock = self.clock()
        with self._tx() as conn:
            dead, unknown = self._liveness(conn)
            rows = conn.execute(select(t.c.rkey, t.c.office_id, t.c.day_id, t.c.occurrence_date,
                                       t.c.lead).where(self._claimable(clock, dead, unknown))
                                ).all()
        ids = {row[1] for row in rows}
        today = {o.id: office_today(o, now) for o in offices if o.id in ids}
        fallback = now.astimezone(UTC).date() - timedelta(days=1)
        due = (batches(ids) if callable(batches) else batches) if ids else ()
        due_lead = {(b.office.id, i.occurrence.day.id, i.occurrence.date): i.lead
                    for b in due if b.office.id in ids for i in b.items}
        expired, unsubscribed, superseded = [], [], []
        for key, office_id, day_id, when, lead in rows:
            if when < today.get(office_id, fallback):
                expired.append(key)
            elif office_id in skip:
                unsubscribed.append(key)
            elif lead > due_lead.get((office_id, day_id, when), lead):
                superseded.append(key)
        changed = 0
        with self._tx() as conn:
            for status, keys in ((EXPIRED, expired), (UNSUBSCRIBED, unsubscribed),
                                 (SUPERSEDED, superseded)):
                for start in range(0, len(keys), 500):
                    changed += conn.execute(
                        update(t).where(t.c.rkey.in_(keys[start:start + 500]),
                                        self._claimable(clock, dead, unknown))
                        .values(status=status, updated_at=clock, claim_token=None,
                                claimed_at=None, claim_host=None, claim_pid=None)).rowcount or 0
        return changed

    def recent(self, since: date, office_ids: Sequence[str] | None = None) -> Past:
        """Every reminder of an occurrence on or after ``since`` (of these offices only, when
        given: a run reads them a chunk at a time): its status and, once sent, when (on the
        sending run's clock): what one message a day needs to know."""
        from calendar_service.mail.reminders import Past

        t = reminders
        status: dict[Key, str] = {}
        sent: dict[Key, datetime] = {}
        q = select(t.c.office_id, t.c.day_id, t.c.occurrence_date, t.c.lead, t.c.status,
                   t.c.sent_as_of, t.c.sent_at).where(t.c.occurrence_date >= since)
        groups = [None] if office_ids is None else [office_ids[at:at + 500]
                                                    for at in range(0, len(office_ids), 500)]
        with self.engine.connect() as conn:
            for ids in groups:
                for r in conn.execute(q if ids is None else q.where(t.c.office_id.in_(ids))):
                    key = (r.office_id, r.day_id, r.occurrence_date.isoformat(), r.lead)
                    status[key] = r.status
                    if r.status == SENT and (r.sent_as_of or r.sent_at) is not None:
                        sent[key] = r.sent_as_of or r.sent_at
            conn.rollback()
        return Past(status, sent)

    def statuses(self, keys: Sequence[Key]) -> dict[Key, str]:
        """Current status of each known key (unknown keys are absent)."""
        with self.engine.connect() as conn:
            out = self._statuses(conn, keys)
            conn.rollback()
        return out

    @staticmethod
    def _statuses(conn: Connection, keys: Sequence[Key]) -> dict[Key, str]:
        t = reminders
        out: dict[Key, str] = {}
        wanted = [rkey(k) for k in keys]
        for start in range(0, len(wanted), 500):
            q = select(t.c.office_id, t.c.day_id, t.c.occurrence_date, t.c.lead, t.c.status
                       ).where(t.c.rkey.in_(wanted[start:start + 500]))
            for office_id, day_id, when, lead, status in conn.execute(q):
                out[(office_id, day_id, when.isoformat(), lead)] = status
        return out

    # -- unsubscriptions ------------------------------------------------------------------------

    def unsubscribe(self, office_id: str, via: str) -> tuple[Unsubscription, bool]:
        """Record that the office wants no more reminders; idempotent (the first time is kept).
        Returns the record and whether this call created it."""
        now = self.clock()
        u = unsubscriptions
        with self._tx() as conn:
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
            created = conn.execute(self._insert(u).returning(u.c.office_id),
                                   {"office_id": office_id, "unsubscribed_at": now,
                                    "via": via}).first() is not None
            row = conn.execute(select(u.c.unsubscribed_at, u.c.via)
                               .where(u.c.office_id == office_id)).one()
        return Unsubscription(office_id, row.unsubscribed_at, row.via), created

    def resubscribe(self, office_id: str) -> bool:
        """Undo an unsubscription; False when the office was not unsubscribed. The reminders the
        office skipped become pending again: the next run sends the ones still ahead (as late
        notices, the nearest lead only) and retires the rest, as for any missed run."""
        now = self.clock()
        t = reminders
        with self._tx() as conn:
            gone = conn.execute(unsubscriptions.delete()
                                .where(unsubscriptions.c.office_id == office_id)).rowcount
            if gone:
                conn.execute(update(t).where(t.c.office_id == office_id,
                                             t.c.status == UNSUBSCRIBED)
                             .values(status=PENDING, updated_at=now))
        return bool(gone)

    def unsubscription(self, office_id: str) -> Unsubscription | None:
        u = unsubscriptions
        with self.engine.connect() as conn:
            row = conn.execute(select(u.c.unsubscribed_at, u.c.via)
                               .where(u.c.office_id == office_id)).first()
            conn.rollback()
        return None if row is None else Unsubscription(office_id, row.unsubscribed_at, row.via)

    def unsubscriptions(self) -> list[Unsubscription]:
        """Every unsubscribed office, the most recent first."""
        u = unsubscriptions
        with self.engine.connect() as conn:
            rows = conn.execute(select(u.c.office_id, u.c.unsubscribed_at, u.c.via)
                                .order_by(u.c.unsubscribed_at.desc(), u.c.office_id)).all()
            conn.rollback()
        return [Unsubscription(r.office_id, r.unsubscribed_at, r.via) for r in rows]

    def unsubscribed_ids(self) -> frozenset[str]:
        return frozenset(u.office_id for u in self.unsubscriptions())

    # -- reporting -----------------------------------------------------------------------------

    def pending_count(self) -> int:
        """Reminders recorded as due and not delivered yet (pending, claimed, or failed)."""
        with self.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(reminders)
                             .where(reminders.c.status.in_(UNDELIVERED))).scalar_one()
            conn.rollback()
        return int(n)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(reminders.c.status, func.count())
                                .group_by(reminders.c.status)).all()
            conn.rollback()
        return {status: int(n) for status, n in rows}

    def entries(self, *, statuses: Sequence[str] = (), office: str | None = None,
                limit: int | None = None) -> list[Entry]:
        t = reminders
        q = select(t).order_by(t.c.updated_at.desc(), t.c.id.desc())
        if statuses:
            q = q.where(t.c.status.in_(list(statuses)))
        if office:
            q = q.where(t.c.office_id == office)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            conn.rollback()
        return [Entry(office_id=r["office_id"], day_id=r["day_id"],
                      occurrence_date=r["occurrence_date"], lead=r["lead"], status=r["status"],
                      attempts=r["attempts"], message_id=r["message_id"], reply=r["reply"],
                      refused=json.loads(r["refused"]) if r["refused"] else {},
                      error=r["error"], scheduled_at=r["scheduled_at"],
                      updated_at=r["updated_at"], sent_at=r["sent_at"]) for r in rows]

    def start_run(self, as_of: datetime) -> int:
        with self._tx() as conn:
            result = conn.execute(runs.insert().values(
                started_at=self.clock(), as_of=as_of, host=socket.gethostname()[:200],
                pid=os.getpid(), sent=0, failed=0, pending=0, messages=0))
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, *, sent: int, failed: int, pending: int, messages: int,
                   ok: bool) -> None:
        with self._tx() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(
                finished_at=self.clock(), sent=sent, failed=failed, pending=pending,
                messages=messages, ok=ok))

    def last_run(self, *, successful: bool = False) -> RunInfo | None:
        """The most recent finished send-due run (``successful``: the last one that was ok)."""
        q = select(runs).where(runs.c.finished_at.is_not(None))
        if successful:
            q = q.where(runs.c.ok.is_(True))
        q = q.order_by(runs.c.finished_at.desc(), runs.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            r = conn.execute(q).mappings().first()
            conn.rollback()
        if r is None:
            return None
        return RunInfo(started_at=r["started_at"], finished_at=r["finished_at"],
                       as_of=r["as_of"], host=r["host"], sent=r["sent"], failed=r["failed"],
                       pending=r["pending"], messages=r["messages"], ok=r["ok"])

    def last_success(self) -> RunInfo | None:
        return self.last_run(successful=True)


@lru_cache(maxsize=64)
def _mark_sql(size: int, mark: str) -> str:
    """UPDATE of the ``size`` rows of one message, if this run still holds them.

    Only claimed rows carry a claim token (every other status clears it), so the token alone
    says the run still holds the row; a ``status`` condition here would lead SQLite to scan
    every claimed row through the status index instead of looking up the few keys. Parameters
    in the order of :func:`_mark_params`."""
    t = reminders.name
    return (f"UPDATE {t} SET status={mark}, message_id={mark}, reply={mark}, refused={mark}, "
            f"error={mark}, updated_at={mark}, sent_at={mark}, sent_as_of={mark}, "
            f"claim_token=NULL, claimed_at=NULL, claim_host=NULL, claim_pid=NULL "
            f"WHERE rkey IN ({', '.join([mark] * size)}) AND claim_token = {mark}")


def _mark_params(m: Mark, token: str, now: Any, bind: Callable[[datetime], Any]
                 ) -> tuple[Any, ...]:
    """``now`` already as the driver takes it; ``bind`` converts the run's clock the same way."""
    refused = json.dumps(m.refused, ensure_ascii=False) if m.refused else None
    sent = m.status == SENT
    return (m.status, m.message_id, _clip(m.reply), refused, _clip(m.error), now,
            now if sent else None, (bind(m.as_of) if m.as_of else now) if sent else None,
            *(rkey(k) for k in m.keys), token)


def _clip(text: str | None, limit: int = 2000) -> str | None:
    return None if text is None else text[:limit]
