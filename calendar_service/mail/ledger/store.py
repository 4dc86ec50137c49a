"""The ledger: one row per reminder (office, day, occurrence date, lead), claimed before sending
and marked after, so reruns, crashes and concurrent runs never send twice or lose one.

SQLAlchemy Core on a SQLite file by default, PostgreSQL (psycopg 3) for several hosts.

Claiming is one atomic UPDATE: a row is claimable when it is ``pending`` or ``failed``, or
``claimed`` by a run that has been silent for longer than the claim timeout (it crashed or was
killed between claim and mark). Marking is conditional on the run's claim token. The trade-off on
a crash *after* the SMTP server accepted a message but *before* the mark: the row is re-claimed
once stale and sent again (at-least-once). We prefer that to at-most-once (losing a reminder)
because the resend carries the same Message-ID, which the outbox (same file name) and most mail
stores de-duplicate. The window is the time until a run's outcomes are written (every 64 messages
and at the end of each chunk), so a hard kill may resend up to that many.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from calendar_service.base.errors import ConfigError
from calendar_service.base.settings import redact_url

if TYPE_CHECKING:
    from calendar_service.data.model import Office
    from calendar_service.mail.reminders import Batch, DueReminder
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
        with database_errors(url):
            self.engine = open_engine(url)
            self.upgraded = ensure(self.engine, upgrade=upgrade, clock=clock)

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> Ledger:
        return cls(settings.database_url, claim_timeout=settings.claim_timeout, **kwargs)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- the run's steps ----------------------------------------------------------------------

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

    def _claimable(self, now: datetime) -> Any:
        stale = now - self.claim_timeout
        return or_(reminders.c.status.in_((PENDING, FAILED)),
                   and_(reminders.c.status == CLAIMED, reminders.c.claimed_at < stale))

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
        with self._tx() as conn:
            return self._claim(conn, keys, token, now)

    def _claim(self, conn: Connection, keys: Iterable[Key], token: str, now: datetime) -> set[Key]:
        t = reminders
        wanted = sorted(rkey(k) for k in keys)
        got: set[Key] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            # SKIP LOCKED (PostgreSQL): rows another run is claiming right now are its.
            ids = (select(t.c.id).where(t.c.rkey.in_(chunk), self._claimable(now),
                                        self._subscribed())
                   .order_by(t.c.id).with_for_update(skip_locked=True))
            stmt = (update(t).where(t.c.id.in_(ids.scalar_subquery()), self._claimable(now))
                    .values(status=CLAIMED, claim_token=token, claimed_at=now,
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
        with self._tx() as conn:
            skip = {o for (o,) in conn.execute(select(unsubscriptions.c.office_id))}
            rows = [{"rkey": rk, "office_id": d.key[0], "day_id": d.key[1],
                     "occurrence_date": d.occurrence.date, "lead": d.lead,
                     "scheduled_at": d.scheduled, "created_at": now, "updated_at": now,
                     **({"status": UNSUBSCRIBED, "attempts": 0, "claim_token": None,
                         "claimed_at": None} if d.key[0] in skip else
                        {"status": CLAIMED, "attempts": 1, "claim_token": token,
                         "claimed_at": now})}
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

    def mark(self, marks: Sequence[Mark], token: str) -> None:
        """Record outcomes; only rows this run still holds are changed."""
        if not marks:
            return
        now = self.clock()
        # One parameter set per message (its keys in an IN list), not one per reminder:
        # the per-row cost of executemany is in Python, so this is several times cheaper.
        by_size: dict[int, list[dict[str, Any]]] = {}
        for m in marks:
            params = {"b_token": token, "b_status": m.status, "b_mid": m.message_id,
                      "b_reply": _clip(m.reply),
                      "b_refused": json.dumps(m.refused, ensure_ascii=False) if m.refused else None,
                      "b_error": _clip(m.error), "b_now": now,
                      "b_sent": now if m.status == SENT else None}
            for n, k in enumerate(m.keys):
                params[f"b_k{n}"] = rkey(k)
            if m.keys:
                by_size.setdefault(len(m.keys), []).append(params)
        with self._tx() as conn:
            for size, params_list in by_size.items():
                conn.execute(_mark_statement(size), params_list)
            # A heartbeat for the rows this run still holds: a chunk that takes longer than the
            # claim timeout (a slow relay) must not look abandoned and be sent again by another run.
            conn.execute(update(reminders)
                         .where(reminders.c.claim_token == token, reminders.c.status == CLAIMED)
                         .values(claimed_at=now))

    def release(self, token: str, keys: Sequence[Key] | None = None) -> int:
        """Give back claims of this run that were never sent (interrupted): they stay pending."""
        now = self.clock()
        t = reminders
        stmt = update(t).where(t.c.claim_token == token, t.c.status == CLAIMED)
        if keys is not None:
            stmt = stmt.where(t.c.rkey.in_([rkey(k) for k in keys]))
        stmt = stmt.values(status=PENDING, claim_token=None, claimed_at=None, updated_at=now,
                           attempts=t.c.attempts - 1)
        with self._tx() as conn:
            return conn.execute(stmt).rowcount or 0

    def retire(self, batches: Sequence[Batch], offices: Sequence[Office], now: datetime,
               skip: frozenset[str] = frozenset()) -> int:
        """Undelivered rows that can no longer go out: the day passed (expired), the office
        unsubscribed (``skip``: unsubscribed), or a smaller lead of the same occurrence is due
        now (superseded). Keeps ``pending_count`` honest."""
        from calendar_service.mail.reminders import office_today

        today = {o.id: office_today(o, now) for o in offices}
        fallback = now.astimezone(UTC).date() - timedelta(days=1)
        due_lead = {(b.office.id, i.occurrence.day.id, i.occurrence.date): i.lead
                    for b in batches for i in b.items}
        t = reminders
        clock = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.rkey, t.c.office_id, t.c.day_id, t.c.occurrence_date,
                                       t.c.lead).where(self._claimable(clock))).all()
            conn.rollback()
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
                                        self._claimable(clock))
                        .values(status=status, updated_at=clock, claim_token=None,
                                claimed_at=None)).rowcount or 0
        return changed

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


@lru_cache(maxsize=32)
def _mark_statement(size: int) -> Any:
    """UPDATE of the ``size`` rows of one message, if this run still holds them.

    Only claimed rows carry a claim token (every other status clears it), so the token alone
    says the run still holds the row; a ``status`` condition here would lead SQLite to scan
    every claimed row through the status index instead of looking up the few keys."""
    t = reminders
    return (update(t).where(t.c.rkey.in_([bindparam(f"b_k{n}") for n in range(size)]),
                            t.c.claim_token == bindparam("b_token"))
            .values(status=bindparam("b_status"), message_id=bindparam("b_mid"),
                    reply=bindparam("b_reply"), refused=bindparam("b_refused"),
                    error=bindparam("b_error"), updated_at=bindparam("b_now"),
                    sent_at=bindparam("b_sent"), claim_token=None, claimed_at=None))


def _clip(text: str | None, limit: int = 2000) -> str | None:
    return None if text is None else text[:limit]
