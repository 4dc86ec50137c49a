"""Transports behind one small interface: SMTP (aiosmtplib) or an outbox folder of .eml files.

A transport opens *sessions*; the sender runs one worker per session, so ``concurrency`` bounds
the number of SMTP connections and each connection is reused for many messages. A session never
raises for a message: it returns a :class:`Result` (sent, failed = retry on a later run,
permanent = the server said 5xx). ``fatal`` results (cannot connect or authenticate) tell the
run to stop feeding messages: the rest stay pending for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from calendar_service.base.errors import ConfigError
from calendar_service.base.files import atomic_write
from calendar_service.base.settings import Settings, redact_url
from calendar_service.mail.compose import Outgoing
from calendar_service.mail.ledger import FAILED, PERMANENT, SENT

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]  # monotonic seconds


@dataclass(frozen=True)
class Result:
    status: str  # SENT, FAILED or PERMANENT (ledger statuses)
    reply: str | None = None
    refused: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    fatal: bool = False  # the transport itself is unusable: stop this run
    stop_reason: str | None = None  # with fatal, why the run stops when it is not ``error``


class Session(Protocol):
    async def send(self, msg: Outgoing) -> Result: ...

    async def close(self) -> None: ...


class Transport(Protocol):
    concurrency: int
    description: str

    def session(self, should_stop: Callable[[], bool] = lambda: False) -> Session:
        """A connection for one worker; ``should_stop`` ends retries early when the run stops."""
        ...


# -- outbox ----------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def outbox_name(message_id: str) -> str:
    """File name from the Message-ID: a rerun of the same message overwrites, never duplicates."""
    return _UNSAFE.sub("_", message_id.strip("<>")) + ".eml"


class OutboxTransport:
    """Writes each message atomically (temporary file, fsync, rename) into a folder."""

    concurrency = 1

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.description = f"outbox {self.folder}"

    def session(self, should_stop: Callable[[], bool] = lambda: False) -> OutboxSession:
        return OutboxSession(self.folder)  # one write, no retries: nothing to stop early


class OutboxSession:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, msg: Outgoing) -> Result:
        try:
            path = atomic_write(self.folder / outbox_name(msg.message_id), msg.data, durable=True)
        except OSError as exc:
            return Result(FAILED, error=f"cannot write to {self.folder}: {exc.strerror}",
                          fatal=True)
        return Result(SENT, reply=f"written {path}")

    async def close(self) -> None:
        return None


# -- SMTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SMTPConfig:
    hostname: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None
    password: str | None = field(repr=False)
    ca_file: Path | None
    timeout: float
    display: str  # the URL without password, for messages

    @classmethod
    def from_settings(cls, settings: Settings) -> SMTPConfig:
        url = settings.smtp_url
        if not url:
            raise ConfigError("no SMTP URL configured")
        parts = urlsplit(url)
        scheme = parts.scheme
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"CALENDAR_SERVICE_SMTP_URL: bad port in {redact_url(url)}") from None
        default_port = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[scheme]
        return cls(hostname=parts.hostname or "", port=port or default_port,
                   use_tls=scheme == "smtps", start_tls=scheme == "smtp+starttls",
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None,
                   ca_file=settings.smtp_ca_file, timeout=settings.smtp_timeout,
                   display=redact_url(url))

    def tls_context(self) -> ssl.SSLContext:
        """Verification always on; a private CA can be added with smtp_ca_file."""
        ctx = ssl.create_default_context()
        if self.ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.ca_file))
        return ctx


@dataclass
class FailureStreak:
    """Temporary failures in a row across every connection of a run (a circuit breaker).

    A relay that answers 4xx to everything (or keeps dropping connections) would otherwise
    have each message go through all its retries with backoff, one after the other, for hours.
    Any delivered message resets the count.
    """

    limit: int
    count: int = 0
    last: str = ""

    def failed(self, error: str) -> None:
        self.count += 1
        self.last = error

    def succeeded(self) -> None:
        self.count = 0

    @property
    def tripped(self) -> bool:
        return self.count >= self.limit

    def reason(self, where: str) -> str:
        return (f"{where}: {self.count} temporary failures in a row (last: {self.last}); "
                "stopped sending, the rest stays pending for the next run "
                "(CALENDAR_SERVICE_SMTP_MAX_CONSECUTIVE_FAILURES)")


class RateLimit:
    """At most ``per_minute`` SMTP transactions a minute, evenly spaced and shared by every
    connection of a run (relays such as Microsoft 365 refuse or throttle beyond their limit).
    No burst: the n-th transaction starts no earlier than (n - 1) * 60 / per_minute seconds."""

    def __init__(self, per_minute: float, clock: Clock, sleep: Sleep) -> None:
        self.interval = 60.0 / per_minute
        self.clock, self.sleep = clock, sleep
        self.next: float | None = None

    async def wait(self) -> None:
        now = self.clock()
        slot = now if self.next is None else max(now, self.next)
        self.next = slot + self.interval  # taken before waiting: each connection gets its own
        if slot > now:
            await self.sleep(slot - now)


class SMTPTransport:
    """SMTP through aiosmtplib. One transport serves one run: its failure streak is the run's."""

    def __init__(self, settings: Settings, *, sleep: Sleep | None = None,
                 clock: Clock | None = None) -> None:
        import time

        self.config = SMTPConfig.from_settings(settings)
        self.concurrency = settings.smtp_concurrency
        self.retries = settings.smtp_retries
        self.retry_delay = settings.smtp_retry_delay
        self.streak = FailureStreak(settings.smtp_max_consecutive_failures)
        self.sleep: Sleep = sleep or asyncio.sleep
        self.rate = (RateLimit(settings.smtp_rate, clock or time.monotonic, self.sleep)
                     if settings.smtp_rate else None)
        self.description = f"SMTP {self.config.display}"

    def session(self, should_stop: Callable[[], bool] = lambda: False) -> SMTPSession:
        return SMTPSession(self, should_stop)


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(str(message).split())}"


class SMTPSession:
    """One connection, opened lazily, reopened after a drop, reused for many messages."""

    def __init__(self, transport: SMTPTransport,
                 should_stop: Callable[[], bool] = lambda: False) -> None:
        self.t = transport
        self.should_stop = should_stop
        self.smtp: Any = None

    async def _connect(self) -> None:
        import aiosmtplib

        c = self.t.config
        tls = c.use_tls or c.start_tls
        smtp = aiosmtplib.SMTP(hostname=c.hostname, port=c.port, timeout=c.timeout,
                               use_tls=c.use_tls, start_tls=c.start_tls if tls else False,
                               tls_context=c.tls_context() if tls else None,
                               username=c.username, password=c.password)
        await smtp.connect()
        self.smtp = smtp

    async def _drop(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            with contextlib.suppress(Exception):  # closing a broken socket: nothing left to do
                smtp.close()

    async def close(self) -> None:
        if self.smtp is not None and self.smtp.is_connected:
            with contextlib.suppress(Exception):  # the server may be gone; the messages are sent
                await self.smtp.quit()
        await self._drop()

    async def send(self, msg: Outgoing) -> Result:
        import aiosmtplib

        attempt = 0
        while True:
            refused: dict[str, str] = {}
            try:
                if self.smtp is None or not self.smtp.is_connected:
                    await self._drop()
                    await self._connect()
                if self.t.rate is not None:
                    await self.t.rate.wait()
                    if self.should_stop():
                        return Result(FAILED, error="stopped before sending")
                errors, reply = await self.smtp.sendmail(msg.sender, list(msg.recipients), msg.data)
                self.t.streak.succeeded()
                refused = await self._retry_refused(msg, errors)
                # A reply other than 250 to DATA raises, so the code is known.
                return Result(SENT, reply=_reply(250, str(reply)), refused=refused)
            except aiosmtplib.SMTPAuthenticationError as exc:
                await self._drop()
                return Result(FAILED, error=f"{self.t.description}: authentication failed "
                                            f"({_reply(exc.code, exc.message)})", fatal=True)
            except aiosmtplib.SMTPSenderRefused as exc:
                # The relay refuses our sender (auth, relaying, domain policy): a configuration
                # problem, not this message's. Stop and keep everything for the next run.
                return Result(FAILED, error=f"{self.t.description}: sender refused "
                                            f"({_reply(exc.code, exc.message)})", fatal=True)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = {r.recipient: _reply(r.code, r.message) for r in exc.recipients}
                if all(r.code >= 500 for r in exc.recipients):
                    return Result(PERMANENT, refused=refused, error="every recipient was refused")
                error = "recipients refused for now: " + "; ".join(
                    f"{a}: {why}" for a, why in refused.items())
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    return Result(PERMANENT, error=_reply(exc.code, exc.message))
                error = _reply(exc.code, exc.message)
                if exc.code == 421:  # the server is closing the connection
                    await self._drop()
            except ValueError as exc:  # aiosmtplib refuses an address it cannot send safely
                return Result(FAILED, error=f"{self.t.description}: {exc}", fatal=True)
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                await self._drop()
                error = _connection_error(exc, self.t.description)
                if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
                    return Result(FAILED, error=error, fatal=True)
            attempt += 1
            streak = self.t.streak
            streak.failed(error)
            if streak.tripped:
                return Result(FAILED, refused=refused, error=error, fatal=True,
                              stop_reason=streak.reason(self.t.description))
            if attempt > self.t.retries:
                # Cannot even connect after every retry: no point trying the next messages.
                return Result(FAILED, refused=refused, error=error, fatal=self.smtp is None)
            if self.should_stop():  # SIGTERM or shutdown: the next run retries, don't wait here
                return Result(FAILED, refused=refused, error=error)
            await self.t.sleep(self.t.retry_delay * 2 ** (attempt - 1))
            if self.should_stop():
                return Result(FAILED, refused=refused, error=error)
            if streak.tripped:  # another connection gave up meanwhile: no more attempts
                return Result(FAILED, refused=refused, error=error, fatal=True,
                              stop_reason=streak.reason(self.t.description))


    async def _retry_refused(self, msg: Outgoing, errors: dict[str, Any]) -> dict[str, str]:
        """The message went out, but some addresses were refused. Those refused for now (4xx,
        e.g. greylisting) get it again after the usual backoff; the rest stay refused.

        Whatever happens here, the message counts as sent: a failure now must never make the
        next run send it again to the addresses that already have it.
        """
        import aiosmtplib

        refused = {addr: _reply(r.code, r.message) for addr, r in errors.items()}
        later = [addr for addr, r in errors.items() if r.code < 500]
        for attempt in range(1, self.t.retries + 1):
            if not later or self.should_stop():
                break
            await self.t.sleep(self.t.retry_delay * 2 ** (attempt - 1))
            try:
                if self.smtp is None or not self.smtp.is_connected:
                    await self._drop()
                    await self._connect()
                if self.t.rate is not None:
                    await self.t.rate.wait()
                errors, _ = await self.smtp.sendmail(msg.sender, later, msg.data)
            except aiosmtplib.SMTPRecipientsRefused as exc:  # all of them, again
                errors = {r.recipient: r for r in exc.recipients}
            except Exception as exc:  # the connection went: keep the last reasons, try again
                await self._drop()
                refused.update({addr: _connection_error(exc, "retry") for addr in later})
                continue
            for addr in later:
                refused.pop(addr, None)
            refused.update({addr: _reply(r.code, r.message) for addr, r in errors.items()})
            later = [addr for addr, r in errors.items() if r.code < 500]
        return refused


def _connection_error(exc: BaseException, where: str) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{where}: {type(exc).__name__}: {text}"


def transport_for(settings: Settings, *, sleep: Sleep | None = None,
                  clock: Clock | None = None) -> Transport:
    if settings.smtp_url:
        return SMTPTransport(settings, sleep=sleep, clock=clock)
    return OutboxTransport(settings.outbox)
