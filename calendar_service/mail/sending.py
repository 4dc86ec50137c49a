"""One run of "send what is due": reminders -> ledger claim -> compose -> deliver -> mark.

:func:`send_due` is the single entry point for ``send-due``, the ``daily`` cron job and the
scheduler's sweep. Messages are generated per chunk of offices and handed to a bounded queue, so
memory stays flat however many offices there are. Each chunk is registered and claimed in one
transaction while the chunk before it is being sent. Each message's outcome is committed before
its connection takes the next one, so a hard kill can only resend what was on the wire (at most
one message per connection). On interruption (SIGTERM, Ctrl-C, a ``stop`` event, or a relay that
keeps failing) the run stops feeding, lets in-flight messages finish, marks them, and gives back
every claim it did not use, so nothing is lost. A hard kill leaves claims whose owner is provably
dead: the next run takes them at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

from calendar_service.data.model import Catalog, Office

if TYPE_CHECKING:
    from calendar_service.base.settings import Settings
    from calendar_service.mail.compose import Outgoing
    from calendar_service.mail.delivery import Result, Sleep, Transport
    from calendar_service.mail.ledger import Key, Ledger, Mark
    from calendar_service.mail.ledger.seen import FirstSeen
    from calendar_service.mail.reminders import Batch, Past, Seen

log = logging.getLogger("calendar_service.mail.sending")


@dataclass(frozen=True)
class Planned:
    """One message a run sends (or, in a dry run, would send)."""

    office_id: str
    recipients: tuple[str, ...]
    local_time: datetime  # when it was scheduled, on the office's clock
    items: tuple[tuple[str, str, int, int], ...]  # (day id, date, lead, days ahead)
    status: str  # "due", "sent", "claimed" (another run), "permanent-failure", ...
    catch_up: bool


@dataclass
class RunReport:
    """What one run did; ``exit_code`` is 1 when anything due was not delivered."""

    as_of: datetime
    dry_run: bool = False
    due: int = 0  # reminders due at as_of (including ones already sent)
    sent: int = 0  # reminders delivered by this run
    messages: int = 0  # messages delivered (written to the outbox or accepted by SMTP)
    failed: int = 0  # reminders that failed for now: retried on the next run
    permanent: int = 0  # reminders the server refused for good (5xx)
    pending: int = 0  # due, undelivered after this run (failed + not attempted)
    already_sent: int = 0
    refused_before: int = 0  # refused for good (5xx) by an earlier run: in the log, not retried
    retired: int = 0  # superseded or expired (a nearer lead went, or the day passed)
    busy: int = 0  # being sent by another run right now
    unsubscribed: int = 0  # due to offices that unsubscribed: recorded, never sent
    interrupted: bool = False
    transport: str = ""
    problems: list[str] = field(default_factory=list)
    stopped: str = ""  # why the run stopped early on its own (server unusable, too many 4xx)
    planned: list[Planned] = field(default_factory=list)
    refused: int = 0  # individual addresses refused while the message went to the others
    sent_offices: int = 0  # offices that got a message from this run
    # (day id, ISO date) -> where it first went in the run's order (batch, reminder): the
    # summary names the days in that order within a date, as it always has.
    sent_days: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    undelivered: list[tuple[str, Key]] = field(default_factory=list)  # (why, key), as problems

    @property
    def ok(self) -> bool:
        return not (self.failed or self.permanent or self.pending)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def summary(self) -> str:
        return (f"run as_of={self.as_of.isoformat()} due={self.due} sent={self.sent} "
                f"messages={self.messages} already_sent={self.already_sent} busy={self.busy} "
                f"failed={self.failed} permanent={self.permanent} pending={self.pending}"
                + (f" refused_before={self.refused_before}" if self.refused_before else "")
                + (f" retired={self.retired}" if self.retired else "")
                + (f" unsubscribed={self.unsubscribed}" if self.unsubscribed else "")
                + (" interrupted=yes" if self.interrupted else ""))


def _chunks(batches: Iterator[Batch], size: int, first: int) -> Iterator[list[Batch]]:
    """``first`` batches, then four times more each time up to ``size``. The next chunk is
    claimed while this one is sent, so each claim must take less time than sending the chunk
    before it; a small first chunk also gets the connections busy sooner. Taken from an
    iterator: the batches after the chunk being claimed are not computed yet."""
    step = min(first, size)
    while chunk := list(islice(batches, step)):
        yield chunk
        step = min(step * 4, size)


def send_due(settings: Settings, catalog: Catalog, offices: Sequence[Office], now: datetime, *,
             dry_run: bool = False, transport: Transport | None = None,
             ledger: Ledger | None = None, sleep: Sleep | None = None,
             clock: Callable[[], float] | None = None,
             stop: threading.Event | None = None,
             progress: Callable[[int, int], None] | None = None,
             handle_signals: bool = False, catch_up: bool = False) -> RunReport:
    """Send every reminder due at ``now`` (aware) exactly once; safe to call concurrently.

    ``transport`` defaults to SMTP when ``settings.smtp_url`` is set, else the outbox;
    ``ledger`` defaults to ``settings.database_url``. ``sleep`` and ``clock`` (monotonic
    seconds) replace the real ones for the SMTP backoff and rate cap in tests. ``stop`` (set
    from another thread, e.g. a scheduler shutting down) or, with ``handle_signals``,
    SIGTERM/SIGINT end the run early without losing anything. ``progress(done, total)`` is
    called as messages complete. ``catch_up``: also send what is still useful among the
    reminders scheduled before their office or lead was first seen (``send-due --catch-up``).
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    from calendar_service.mail.ledger import Ledger

    own_ledger = ledger is None
    led = Ledger.from_settings(settings, upgrade=not dry_run) if ledger is None else ledger
    try:
        if dry_run:
            return _plan(settings, catalog, offices, now, led, catch_up)
        if transport is None:
            from calendar_service.mail.delivery import transport_for

            transport = transport_for(settings, sleep=sleep, clock=clock)
        run = _Run(settings, catalog, offices, now, led, transport, stop, progress, catch_up)
        return asyncio.run(run.execute(handle_signals))
    finally:
        if own_ledger:
            led.close()


def _plan(settings: Settings, catalog: Catalog, offices: Sequence[Office], now: datetime,
          ledger: Ledger, catch_up: bool = False) -> RunReport:
    from calendar_service.mail.ledger import CLAIMED, FAILED, PENDING, SENT, UNSUBSCRIBED
    from calendar_service.mail.reminders import due_reminders

    report = RunReport(as_of=now, dry_run=True)
    seen = ledger.see(offices, catalog.days, now, write=False)
    batches = due_reminders(catalog, offices, now, seen, catch_up, _past(ledger, offices, now))
    statuses = ledger.statuses([k for b in batches for k in b.keys])
    skip = ledger.unsubscribed_ids()
    for b in batches:
        report.due += len(b.items)
        current = {i.key: statuses.get(i.key, PENDING) for i in b.items}
        if b.office.id in skip:  # a real run records these as unsubscribed and sends nothing
            current = {k: UNSUBSCRIBED if s in (PENDING, FAILED) else s
                       for k, s in current.items()}
        todo = [i for i in b.items if current[i.key] in (PENDING, FAILED)]
        if todo:
            report.planned.append(_planned(b, todo, "due"))
            report.pending += len(todo)
        off = [i for i in b.items if current[i.key] == UNSUBSCRIBED]
        if off:
            report.planned.append(_planned(b, off, UNSUBSCRIBED))
            report.unsubscribed += len(off)
        for i in b.items:
            if i in todo or i in off:
                continue
            status = current[i.key]
            report.already_sent += status == SENT
            report.busy += status == CLAIMED
            report.planned.append(_planned(b, (i,), status))
    return report


def _past(ledger: Ledger, offices: Sequence[Office], now: datetime) -> Any:
    """What the ledger says of the reminders a run at ``now`` may plan (one message a day)."""
    from calendar_service.mail.reminders import window

    return ledger.recent(window(offices, now)[0]) if offices else None


def _planned(batch: Batch, items: Sequence[Any], status: str) -> Planned:
    tz = batch.local_now.tzinfo
    return Planned(office_id=batch.office.id, recipients=batch.office.emails,
                   local_time=max(i.scheduled for i in items).astimezone(tz),
                   items=tuple((i.occurrence.day.id, i.occurrence.date.isoformat(), i.lead,
                                i.days_ahead) for i in items),
                   status=status, catch_up=any(i.catch_up for i in items))


class _Run:
    """One run's state. Ledger work goes to one thread, in order, while the event loop composes
    and the connections send: the next chunk is claimed while the current one is sent, marks are
    written as results arrive, and the final release waits for every claim and mark before it.

    Offices' batches are computed chunk by chunk and counted as their outcomes arrive, so what a
    run holds is the chunk being sent and the one being claimed, not one entry per office."""

    def __init__(self, settings: Settings, catalog: Catalog, offices: Sequence[Office],
                 now: datetime, ledger: Ledger, transport: Transport,
                 stop: threading.Event | None,
                 progress: Callable[[int, int], None] | None, catch_up: bool = False) -> None:
        from calendar_service.mail.reminders import window

        self.settings, self.catalog, self.offices, self.now = settings, catalog, offices, now
        self.catch_up = catch_up
        self.first: FirstSeen | None = None  # how to read when each office was first seen
        self.since = window(offices, now)[0] if offices else now.date()  # what Past reads
        self.ledger, self.transport = ledger, transport
        self.token = uuid.uuid4().hex
        self.started = time.monotonic()  # the run's clock: now, plus the time spent sending
        self.report = RunReport(as_of=now, transport=transport.description)
        self.thread_stop = stop
        self.progress = progress
        self.open: dict[Key, None] = {}  # claimed by this run, no outcome yet (in order)
        self.elsewhere: list[Key] = []  # seen, not ours, not final: busy or pending at the end
        self.claiming: list[Batch] = []  # the chunk whose claim was asked and not read yet
        self.stopping = False
        self.broken = False  # the ledger failed: nothing more is sent
        self.retired = False
        self.done = 0
        self.total = 0
        self._db_thread: ThreadPoolExecutor | None = None
        self._db_calls: set[asyncio.Future[Any]] = set()  # in flight only: done ones are dropped
        self._db_error: BaseException | None = None  # the first a database call raised
        self._marks: list[tuple[Mark, asyncio.Future[None]]] = []  # outcomes awaiting commit
        self._marks_lock = threading.Lock()

    def _stop_requested(self) -> bool:
        if self.thread_stop is not None and self.thread_stop.is_set():
            self.stopping = True
        return self.stopping

    def _lost(self, exc: BaseException) -> None:
        """The ledger failed (its disk is full or read-only, the database went away, or the
        run's own connection and so its lock are gone): stop sending at once, since nothing
        may be sent that the ledger cannot record. Anything else is a bug: re-raised."""
        from sqlalchemy.exc import SQLAlchemyError

        from calendar_service.base.settings import redact_url
        from calendar_service.mail.ledger import LedgerLost

        if isinstance(exc, LedgerLost):
            why = f"{exc}; stopped sending at once: other runs take over this run's reminders"
        elif isinstance(exc, (SQLAlchemyError, OSError)):
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
            why = (f"ledger {redact_url(self.ledger.url)}: {reason}; stopped sending at once "
                   "(nothing goes out that the ledger cannot record); the next run takes over")
        else:
            raise exc
        if not self.report.stopped:
            self.report.stopped = why
            log.error("event=stopping reason=%r", why)
        self.broken = True
        self.stopping = True

    def _try(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A closing step on a ledger that already failed: tried, and skipped if it fails."""
        if not self.broken:
            return fn(*args)
        try:
            return fn(*args)
        except Exception as exc:
            self._lost(exc)
            return None

    def _request_stop(self) -> None:
        if not self.stopping:
            log.warning("event=stopping reason=signal")
        self.stopping = True

    def _db(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``fn`` on the run's single database thread, after every call asked before it."""
        assert self._db_thread is not None
        call = asyncio.get_running_loop().run_in_executor(self._db_thread, fn, *args)
        self._db_calls.add(call)
        call.add_done_callback(self._db_done)
        return call

    def _db_done(self, call: asyncio.Future[Any]) -> None:
        """Forget a finished call (a run makes one per message), keeping its error if any."""
        self._db_calls.discard(call)
        error = None if call.cancelled() else call.exception()
        if error is not None and self._db_error is None:
            self._db_error = error

    async def _db_settle(self) -> BaseException | None:
        """Wait for every database call in flight; returns the first error any call raised
        since the last settle, instead of raising it."""
        while self._db_calls:
            await asyncio.gather(*self._db_calls, return_exceptions=True)
        error, self._db_error = self._db_error, None
        return error

    async def execute(self, handle_signals: bool) -> RunReport:
        import signal

        loop = asyncio.get_running_loop()
        installed = []
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, self._request_stop)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError):  # not on this platform
                    pass
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        try:
            self.ledger.hold(self.token)  # before any claim: the proof this run is alive
        except Exception as exc:
            self._lost(exc)
        try:
            await self._execute()
        finally:
            self._db_thread.shutdown(wait=True)
            self.ledger.let_go(self.token)
            for sig in installed:
                loop.remove_signal_handler(sig)
        return self.report

    async def _execute(self) -> None:
        from calendar_service.mail.compose import Composer

        report, ledger = self.report, self.ledger
        run_id = None if self.broken else self._try(ledger.start_run, self.now)
        # Recorded now, read back a chunk of offices at a time as the run goes (see _lookup).
        self.first = None if self.broken else self._try(ledger.first_seen, self.offices,
                                                        self.catalog.days, self.now)
        # A failed ledger sends nothing; what is due is still counted (as pending).
        due = self._counted(self._due(self.offices))
        if self.progress is not None:
            self.total = sum(1 for _ in self._due(self.offices))
        # Unsubscribed offices' reminders are recorded (status "unsubscribed", so `log` and
        # `send-due --dry-run` show them) and never claimed: ``Ledger.take`` sees to both.
        composer = Composer(self.settings)
        queue: asyncio.Queue[tuple[int, Outgoing] | None] = asyncio.Queue(
            maxsize=4 * self.transport.concurrency)
        workers = [asyncio.create_task(self._worker(queue))
                   for _ in range(max(1, self.transport.concurrency))]
        renewing = asyncio.create_task(self._renew())
        finished = False
        try:
            if not self.broken:
                await self._feed(due, composer, queue, workers)
            finished = True
        except Exception as exc:
            self._lost(exc)  # re-raised unless the ledger failed
        finally:
            if self.stopping or not finished or any(w.done() for w in workers):
                # Drop what no connection has taken yet (its claims are released below) and
                # let in-flight messages finish.
                while not queue.empty():
                    queue.get_nowait()
            for w in workers:
                if not w.done():
                    await queue.put(None)
            results = await asyncio.gather(*workers, return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    log.error("event=worker-crashed error=%s", type(r).__name__)
            renewing.cancel()
            if not self.broken:
                self._retire()
            failure = await self._db_settle()  # every claim and mark is in before the release
            if failure is not None:
                self._lost(failure)  # re-raised unless the ledger failed
            if ledger.holds(self.token):  # else nothing to give back: the claims are free for all
                self._try(ledger.release, self.token)
            # Claimed, never sent (interrupted): given back above, pending for the next run.
            for key in self.open:
                self._undelivered("not-attempted", key)
            self.open.clear()
            # Chunks the run stopped before reaching are recorded as due all the same.
            self._unreached(chain(self.claiming, due))
            if self.elsewhere:
                after = self._try(ledger.statuses, self.elsewhere) or {}
                for key in self.elsewhere:
                    self._count_elsewhere(after.get(key), key)
            report.interrupted = self.stopping
            if run_id is not None:
                self._try(lambda: ledger.finish_run(
                    run_id, sent=report.sent, failed=report.failed + report.permanent,
                    pending=report.pending, messages=report.messages, ok=report.ok))

    def _due(self, offices: Sequence[Office]) -> Iterator[Batch]:
        from calendar_service.mail.reminders import iter_due

        return iter_due(self.catalog, offices, self.now, self._lookup, self.catch_up)

    def _lookup(self, offices: Sequence[Office]) -> tuple[Seen | None, Past | None]:
        """The ledger's records of these offices only (when each was first seen, what they
        were sent lately), read as their chunk comes up: nothing kept for every office.
        Without a ledger, as if nothing was ever seen or sent (it is all counted as pending)."""
        try:
            return self._records(offices)
        except Exception as exc:
            self._lost(exc)  # re-raised unless the ledger failed
            return None, None

    def _records(self, offices: Sequence[Office]) -> tuple[Seen | None, Past | None]:
        """What ``_lookup`` reads, with a ledger error raised to the caller."""
        if self.first is None:
            return None, None
        return (self.ledger.seen_for(self.first, offices),
                self.ledger.recent(self.since, [o.id for o in offices]))

    def _counted(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        for b in batches:
            self.report.due += len(b.items)
            yield b

    def _unreached(self, batches: Iterable[Batch]) -> None:
        """Record the batches the run never claimed (it stopped first) and count them by what
        the ledger says of them, a few hundred offices at a time."""
        ledger = self.ledger
        skip: frozenset[str] | None = None
        for chunk in _chunks(iter(batches), 500, 500):
            items = _items(chunk)
            if skip is None:
                skip = self._try(ledger.unsubscribed_ids) or frozenset()
            self._try(ledger.register, items, skip)
            after = self._try(ledger.statuses, [i.key for i in items]) or {}
            for i in items:
                status = after.get(i.key)
                if not self._count_settled(status):
                    self._count_elsewhere(status, i.key)

    def _count_elsewhere(self, status: str | None, key: Key) -> None:
        """A reminder this run did not send and did not find settled when it looked."""
        from calendar_service.mail.ledger import CLAIMED, PERMANENT, SENT, UNSUBSCRIBED

        if status == UNSUBSCRIBED:
            self.report.unsubscribed += 1
        elif status in (SENT, CLAIMED, PERMANENT):
            self.report.busy += 1  # another run has it
        else:
            self._undelivered("not-attempted", key)

    async def _feed(self, batches: Iterator[Batch], composer: Any,
                    queue: asyncio.Queue[tuple[int, Outgoing] | None],
                    workers: list[asyncio.Task[None]]) -> None:
        """Claim chunk after chunk (the next one while this one is sent) and queue its messages."""
        from calendar_service.mail.reminders import Batch

        chunks = _chunks(batches, self.settings.send_batch, first=4 * self.transport.concurrency)
        chunk = next(chunks, None)
        taking = self._take(chunk)
        position = 0  # of each batch in the run's order, for the summary
        while chunk is not None and taking is not None:
            got, others = await taking
            self.claiming = []
            self.open.update((i.key, None) for b in chunk for i in b.items if i.key in got)
            for key, status in others.items():
                if not self._count_settled(status):
                    self.elsewhere.append(key)
            if self._stop_requested():
                return
            chunk, current, taking = next(chunks, None), chunk, None
            self.claiming = chunk or []  # computed, not claimed yet: unreached if the run stops
            for b in current:
                position += 1
                items = tuple(i for i in b.items if i.key in got)
                if not items:
                    self._advance()
                    continue
                if self._stop_requested() or any(w.done() for w in workers):
                    return
                await queue.put((position, composer.message(
                    Batch(b.office, items, b.local_now, b.second), self.now)))
                if queue.qsize() == 1:
                    await asyncio.sleep(0)  # a connection was waiting: let it start sending now
                if taking is None and chunk:  # after the first message: it goes out sooner
                    taking = self._take(chunk)
            if taking is None and chunk:
                taking = self._take(chunk)
            self._retire()

    def _take(self, chunk: list[Batch] | None) -> asyncio.Future[Any] | None:
        if not chunk:
            return None
        self.claiming = chunk
        return self._db(self.ledger.take, _items(chunk), self.token)

    async def _renew(self) -> None:
        """Every CLAIM_TIMEOUT/3, show the run is still at work (a last resort for the runs
        that cannot prove it otherwise: another host on SQLite). Independent of the relay: a
        long SMTP backoff never lets the claims look abandoned."""
        every = max(self.ledger.claim_timeout.total_seconds() / 3, 0.001)
        while True:
            await asyncio.sleep(every)
            try:
                await self._db(self.ledger.renew, self.token)
            except Exception as exc:
                self._lost(exc)
                return

    def _retire(self) -> None:
        """Once per run. Rows that can no longer go out are other keys than the due ones, so
        this runs after the first chunk is queued rather than delay the first messages."""
        if not self.retired and not self.broken:
            self.retired = True
            offices, now = self.offices, self.now

            def due_for(ids: set[str]) -> Iterator[Batch]:
                from calendar_service.mail.reminders import iter_due

                # Strict: a ledger error while reading the records aborts the retiring. Planned
                # without them, an office would look long known, and a lead that must still go
                # could be superseded by one the real planner skips.
                return iter_due(self.catalog, [o for o in offices if o.id in ids], self.now,
                                self._records, self.catch_up)

            self._db(lambda: self.ledger.retire(due_for, offices, now,
                                                self.ledger.unsubscribed_ids()))

    def _advance(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    async def _worker(self, queue: asyncio.Queue[tuple[int, Outgoing] | None]) -> None:
        session = self.transport.session(self._stop_requested)
        try:
            while True:
                queued = await queue.get()
                if queued is None:
                    return
                position, msg = queued
                if self._stop_requested():
                    # Never sent: its claims are given back at the end. The worker keeps
                    # taking from the queue until told to finish, so the feeder never blocks.
                    continue
                try:
                    result = await session.send(msg)
                except Exception as exc:  # a bug or a library surprise must not hang the run
                    from calendar_service.mail.delivery import Result
                    from calendar_service.mail.ledger import FAILED

                    log.exception("event=send-crashed")
                    result = Result(FAILED, error=f"{type(exc).__name__}: {exc}", fatal=True)
                if result.fatal:
                    if not self.report.stopped:
                        self.report.stopped = result.stop_reason or result.error or result.status
                        log.error("event=stopping reason=%r", self.report.stopped)
                    self.stopping = True
                # Committed before this connection takes another message: a kill can only
                # resend the one message each connection has on the wire.
                try:
                    await self._record(msg, result, position)
                except Exception as exc:
                    self._lost(exc)  # re-raised (a bug) unless the ledger failed
        finally:
            await session.close()

    async def _record(self, msg: Outgoing, result: Result, position: int = 0) -> None:
        from calendar_service.mail.ledger import FAILED, PERMANENT, SENT, Mark

        mark = Mark(keys=msg.keys, status=result.status, message_id=msg.message_id,
                    reply=result.reply, refused=result.refused or None, error=result.error,
                    as_of=self.now + timedelta(seconds=time.monotonic() - self.started))
        await self._commit(mark)
        r = self.report
        for n, key in enumerate(msg.keys):
            self.open.pop(key, None)
            if result.status == SENT:
                r.sent += 1
                day = (key[1], key[2])
                r.sent_days[day] = min(r.sent_days.get(day, (position, n)), (position, n))
            elif result.status == PERMANENT:
                r.permanent += 1
                self._undelivered("refused", key)
            elif result.status == FAILED:
                r.failed += 1
                self._undelivered("failed", key)
        if result.status == SENT:
            r.messages += 1
            r.sent_offices += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("event=sent %s reply=%r", _fields(msg), result.reply)
            if result.refused:
                r.refused += len(result.refused)
                for addr, why in result.refused.items():
                    log.warning("event=recipient-refused %s address=%s reply=%r", _fields(msg),
                                addr, why)
        else:
            log.warning("event=%s %s error=%r", result.status, _fields(msg), result.error)
        self._advance()

    def _undelivered(self, why: str, key: Key) -> None:
        """One reminder this run leaves undelivered: counted, and named in the problems."""
        r = self.report
        if why == "refused":
            r.problems.append(f"refused for good: {_describe(key)}")
        else:
            r.pending += 1
            text = "failed, retried next run" if why == "failed" else "not attempted, pending"
            r.problems.append(f"{text}: {_describe(key)}")
        r.undelivered.append((why, key))

    async def _commit(self, mark: Mark) -> None:
        """Commit one outcome; returns once it is in the ledger. Outcomes that arrive while the
        database thread is busy (a claim, another commit) go together in its next transaction
        (a group commit): each still waits for its own, so none is ever lost to a kill."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._marks_lock:
            self._marks.append((mark, done))
            first = len(self._marks) == 1
        if first:
            self._db(self._write_marks).add_done_callback(_settle_marks)
        await done

    def _write_marks(self) -> tuple[list[tuple[Mark, asyncio.Future[None]]], BaseException | None]:
        """In the database thread: every outcome waiting right now, in one transaction."""
        with self._marks_lock:
            batch, self._marks = self._marks, []
        try:
            self.ledger.mark([m for m, _ in batch], self.token)
        except Exception as exc:
            return batch, exc
        return batch, None

    def _count_settled(self, status: str | None) -> bool:
        """Count a reminder an earlier run settled for good; False when it is still open."""
        from calendar_service.mail.ledger import EXPIRED, PERMANENT, SENT, SUPERSEDED, UNSUBSCRIBED

        r = self.report
        if status == SENT:
            r.already_sent += 1
        elif status == PERMANENT:
            r.refused_before += 1
        elif status == UNSUBSCRIBED:
            r.unsubscribed += 1  # recorded, never claimed
        elif status in (SUPERSEDED, EXPIRED):
            r.retired += 1
        else:
            return False
        return True


def _settle_marks(call: asyncio.Future[Any]) -> None:
    batch, error = call.result()
    for _, done in batch:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


def _items(chunk: Sequence[Batch] | None) -> list[Any]:
    return [i for b in chunk or () for i in b.items]


def _fields(msg: Outgoing) -> str:
    return f"office={msg.office_id} reminders={len(msg.keys)} message_id={msg.message_id}"


def _describe(key: Key) -> str:
    office, day, when, lead = key
    return f"office={office} day={day} date={when} lead={lead}"


# -- terminal ---------------------------------------------------------------------------------


def progress_bar() -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A rich progress bar on a terminal (and nothing under cron): (update, finish)."""
    import sys

    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("sending", total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop
