"""``calendar-service serve``: the HTTP site plus an in-process scheduler that sends what is due.

One process holds the last good data (reloaded when files change or on SIGHUP), the site built
from it, and an APScheduler whose sweep asks the ledger what is due. SIGTERM/SIGINT stop the
server; the sweep in flight is told to stop after the message it is sending, and its claims on
the rest are released for the next run or another instance.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from calendar_service.base.clock import Clock, OffsetClock, SystemClock
from calendar_service.base.settings import Settings
from calendar_service.runs.http_limits import HttpLimits, bounded_protocol, raise_open_files
from calendar_service.runs.service import DataWatcher

if TYPE_CHECKING:
    from calendar_service.data.model import Catalog
    from calendar_service.mail.ledger import Ledger
    from calendar_service.mail.sending import RunReport
    from calendar_service.publishing.web import SiteState

log = logging.getLogger("calendar_service.runs.runtime")

RELOAD_SECONDS = 30
RELOAD_TIMEOUT_SECONDS = 20.0  # under RELOAD_SECONDS, so the reload job never overlaps itself
SHUTDOWN_GRACE_SECONDS = 60.0


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


class Runtime:
    """The service's moving parts, each replaceable in tests (the clock above all)."""

    def __init__(self, settings: Settings, clock: Clock, fixed_today: date | None = None,
                 *, send: bool = True) -> None:
        from calendar_service.mail.ledger import Ledger
        from calendar_service.mail.unsubscribe_page import Unsubscriber
        from calendar_service.publishing.web import Publisher, SiteState

        self.settings = settings
        self.clock = clock
        self.watcher = DataWatcher(settings, clock.now)
        self.watcher.load()  # bad data at start-up is fatal: DataError, exit 2
        self.publisher = Publisher(settings, fixed_today=fixed_today,
                                   source=self._site_source)
        self.state: SiteState = SiteState(self.publisher.build(clock.now()),
                                          rebuild=self.publisher.rebuild_if_changed,
                                          base_url=settings.base_url)
        self.ledger: Ledger = Ledger.from_settings(settings)
        self._by_id: tuple[object, dict[str, Any]] = (None, {})
        self.unsubscriber = Unsubscriber(settings, self.offices_by_id, self.ledger)
        self.stop = threading.Event()
        self.scheduler: Any = None
        self.inflight: asyncio.Future[RunReport] | None = None
        self.last_report: RunReport | None = None
        self.last_sweep_at: datetime | None = None
        # The interval sweep and a send-time wake-up are different jobs (max_instances does not
        # keep them apart), and SIGHUP reloads outside the scheduler: one of each at a time.
        self._sweeping = asyncio.Lock()
        self._reloading = asyncio.Lock()
        self.pending: int | None = None  # read off the event loop, for /healthz
        self._reload_work: asyncio.Future[bool] | None = None
        self.reload_error: str | None = None
        self.reload_timeout = RELOAD_TIMEOUT_SECONDS
        self.ledger_error: str | None = None
        self.send = send  # False: `serve --no-send`, the site alone
        self.blocked: list[str] = []  # why the safe defaults keep the sweeps from sending

    def _site_source(self) -> tuple[str, Catalog]:
        snap = self._snapshot()  # one read: version and catalog of the same snapshot
        return snap.version, snap.catalog

    def _snapshot(self):  # type: ignore[no-untyped-def]
        assert self.watcher.current is not None
        return self.watcher.current

    def offices_by_id(self) -> dict[str, Any]:
        """The current offices by id (for the unsubscribe pages), rebuilt when data reloads."""
        snap = self._snapshot()
        if self._by_id[0] is not snap:
            self._by_id = (snap, {o.id: o for o in snap.offices})
        return self._by_id[1]

    async def sweep(self) -> None:
        """Send what is due now; the ledger makes a late, repeated or concurrent sweep harmless."""
        if self.stop.is_set() or self._sweeping.locked():
            return  # the sweep under way covers this one
        async with self._sweeping:
            await self._sweep()

    def _blocked(self, offices: Any) -> bool:
        """The safe defaults, checked at every sweep (the data or nothing else may have changed);
        a new set of reasons is logged once."""
        from calendar_service.mail.safety import TRIAL_HINT, send_blockers

        reasons = send_blockers(self.settings, offices)
        if reasons and reasons != self.blocked:
            for reason in reasons:
                log.warning("event=sending-blocked reason=%r", reason)
            log.warning("event=sending-blocked fix=%r", "calendar-service doctor " + TRIAL_HINT)
        elif self.blocked and not reasons:
            log.info("event=sending-unblocked")
        self.blocked = reasons
        return bool(reasons)

    async def _sweep(self) -> None:
        from calendar_service.mail.sending import send_due

        snap = self._snapshot()
        now = self.clock.now()
        if not self.send or self._blocked(snap.offices):
            return
        # The send runs in a worker thread that outlives a cancelled job: shutdown waits for it
        # (see ``shutdown``) so it can release what it did not send.
        self.inflight = asyncio.ensure_future(asyncio.to_thread(
            send_due, self.settings, snap.catalog, snap.offices, now, ledger=self.ledger,
            stop=self.stop))
        try:
            report = await asyncio.shield(self.inflight)
        except Exception:  # a sweep must never kill the scheduler; the next one retries
            log.exception("event=sweep-failed")
            return
        await self._count_pending()  # before last_run, so /healthz never shows one without it
        self.last_report, self.last_sweep_at = report, now
        if report.sent or not report.ok or report.interrupted:
            log.log(logging.INFO if report.ok else logging.WARNING, "event=sweep %s",
                    report.summary())

    async def reload(self) -> None:
        """Pick up edited data files (keeping the last good data on a bad edit) and the date.

        Bounded: every read has its own deadline, and the whole reload another one. A reload
        that overruns keeps the last good data, says so in /healthz, and the next one starts
        afresh, so the reload job never piles up ("maximum number of running instances").
        """
        from calendar_service.runs.scheduler import reschedule_wakeups

        if self._reloading.locked():
            return  # the reload under way covers this one
        async with self._reloading:
            if self._reload_work is not None and not self._reload_work.done():
                self.reload_error = ("the previous reload is still reading the data files; "
                                     "serving the last good data")
                return
            self._reload_work = asyncio.ensure_future(asyncio.to_thread(self._reload_files))
            try:
                changed = await asyncio.wait_for(asyncio.shield(self._reload_work),
                                                 self.reload_timeout)
            except TimeoutError:
                self.reload_error = (f"reloading the data took longer than "
                                     f"{self.reload_timeout:g} s; serving the last good data")
                log.error("event=reload-timed-out seconds=%g keeping=%s", self.reload_timeout,
                          self._snapshot().version)
                return
            except Exception as exc:  # a reload must never stop the service; say why
                self.reload_error = f"reload failed: {type(exc).__name__}: {exc}"
                log.exception("event=reload-failed keeping=%s", self._snapshot().version)
                return
            self.reload_error = None
            if self.watcher.last_error:
                self.state.last_error = self.watcher.last_error
            if changed and self.scheduler is not None:
                reschedule_wakeups(self.scheduler, self._snapshot().offices, self.sweep)
        await self._count_pending()

    def _reload_files(self) -> bool:
        changed = self.watcher.poll()
        self.state.refresh(self.clock.now())
        return changed

    async def _count_pending(self) -> None:
        """Refresh /healthz's pending count in a thread: a slow database never stalls requests."""
        try:
            self.pending = await asyncio.to_thread(self.ledger.pending_count)
            self.ledger_error = None
        except Exception as exc:  # the ledger being down is worth showing, not a 500
            self.pending, self.ledger_error = None, type(exc).__name__

    def health(self) -> dict[str, Any]:
        snap = self._snapshot()
        info: dict[str, Any] = {
            "data_version": snap.version, "data_loaded_at": _iso(snap.loaded_at),
            "now": _iso(self.clock.now()),
        }
        why = self.reload_error or self.watcher.last_error or self.state.last_error
        info["data_stale"] = why is not None
        if why:
            info["status"] = "degraded"
            info["data_error"] = why
        report = self.last_report
        info["last_run"] = None if report is None else {
            "at": _iso(self.last_sweep_at), "sent": report.sent, "messages": report.messages,
            "failed": report.failed, "pending": report.pending, "ok": report.ok}
        if self.scheduler is not None:
            times = [j.next_run_time for j in self.scheduler.get_jobs()
                     if j.id != "reload" and j.next_run_time is not None]
            info["next_run"] = _iso(min(times)) if times else None
            info["scheduler"] = "running" if self.scheduler.running else "stopped"
        info["pending"] = self.pending
        if not self.send:
            info["sending"] = {"enabled": False, "reason": "serve --no-send: the site alone"}
        elif self.blocked:
            info["sending"] = {"enabled": False, "reason": "; ".join(self.blocked)}
            info["status"] = "degraded"
        else:
            info["sending"] = {"enabled": True}
        if self.ledger_error:
            info["status"] = "degraded"
            info["ledger_error"] = self.ledger_error
        return info

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        from calendar_service.runs.scheduler import build_scheduler

        self.scheduler = build_scheduler(
            sweep=self.sweep, reload=self.reload, offices=self._snapshot().offices,
            sweep_minutes=self.settings.sweep_minutes, reload_seconds=RELOAD_SECONDS,
            now=datetime.now(UTC))
        self.scheduler.start()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # main thread only
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        log.info("event=service-started data_version=%s offices=%d sending=%s",
                 self._snapshot().version, len(self._snapshot().offices),
                 "yes" if self.send else "no (--no-send)")
        log.info("event=data-read days=%s offices=%s templates=%s", self.settings.days,
                 self.settings.offices, self.settings.templates)
        if self.send:
            self._blocked(self._snapshot().offices)
        try:
            yield
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        """Stop scheduling, let the send in flight release what it has not sent, then close."""
        self.stop.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        if self.inflight is not None and not self.inflight.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.inflight), SHUTDOWN_GRACE_SECONDS)
            except TimeoutError:
                log.warning("event=shutdown-still-sending waiting_for=the message in flight")
            except Exception:
                log.exception("event=sweep-failed")
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.ledger.close()
        log.info("event=service-stopped")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from calendar_service.base.clock import now_from
    from calendar_service.base.logs import configure_logging
    from calendar_service.publishing.web import create_app

    configure_logging(settings, also=("uvicorn", "apscheduler"))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job run at INFO
    fixed_today = args.today or (args.now.date() if args.now else None)
    clock: Clock = OffsetClock(now_from(args)) if (args.now or args.today) else SystemClock()
    runtime = Runtime(settings, clock, fixed_today=fixed_today, send=not args.no_send)
    app = create_app(runtime.state, lifespan=runtime.lifespan, health=runtime.health,
                     unsubscribe=runtime.unsubscriber)
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    where = f"http://{host}:{port}/" if port else f"{host} on a free port (uvicorn logs which)"
    sending = (f"sweeping every {settings.sweep_minutes} min" if not args.no_send
               else "sending nothing (--no-send)")
    print(f"serving {len(runtime.state.site.resources)} files on {where} (pages link relative to "
          f"the request; e-mails and feeds use {settings.base_url}); {sending}", flush=True)
    limits = HttpLimits.from_settings(settings)
    raise_open_files(limits)
    uvicorn.Server(server_config(app, limits, host=host, port=port, access_log=args.access_log,
                                 log_config=None)).run()
    return 0


def server_config(app: Any, limits: HttpLimits, **options: Any) -> Any:
    """uvicorn as ``serve`` runs it (the benchmark and the tests use this too): httptools
    behind the limits of :mod:`calendar_service.runs.http_limits`."""
    import uvicorn

    return uvicorn.Config(app, http=bounded_protocol(limits), ws="none", server_header=False,
                          **options)
