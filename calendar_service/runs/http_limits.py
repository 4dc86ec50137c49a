"""What one HTTP client may cost ``serve``: header size and count, body size, time, connections.

uvicorn's httptools protocol has none of these: a 25 MB header is buffered whole, a client that
sends one byte a second keeps its connection for ever. ``bounded_protocol`` subclasses it (the
fastest parser stays; benchmarks/feed_http.py measures the cost) and answers, before the
application sees the request:

- 431 when the request line and headers pass ``max_header_bytes`` (nothing past the limit is
  ever buffered) or there are more than ``max_headers`` headers;
- 413 when the body passes ``max_body_bytes`` (at once from Content-Length, else as it comes);
- 408 when the headers take longer than ``header_timeout`` from the first byte (or from the
  connection) or the body longer than ``body_timeout``; a connection that sent nothing is
  just closed;
- past ``max_connections``, a connection nobody is being served on is closed to make room: an
  idle one, else the one that has spent longest on its headers (what a slow-loris client
  holds); when every connection is busy, the new one gets 503, and past twice the limit it is
  closed at once.

After a refusal the server reads and throws away what the client still sends for a few seconds
before closing, so the client reads the answer instead of a connection reset.
"""

from __future__ import annotations

import asyncio
import http
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from calendar_service.base.settings import Settings

log = logging.getLogger("calendar_service.runs.http")

LINGER_SECONDS = 5.0  # after a refusal: time the client gets to finish sending and read it
LOG_EVERY_SECONDS = 10.0  # one line per kind of refusal at most this often: an attack is not a flood

MESSAGES = {
    408: "La petición tardó demasiado en llegar.",
    413: "El cuerpo de la petición es demasiado grande.",
    431: "Las cabeceras de la petición son demasiado grandes o demasiadas.",
    503: "El servicio atiende demasiadas conexiones; inténtelo de nuevo en unos segundos.",
}


@dataclass(frozen=True)
class HttpLimits:
    """The limits, in bytes and seconds (the settings give KB)."""

    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    max_body_bytes: int = 64 * 1024
    header_timeout: float = 5.0
    body_timeout: float = 10.0
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, s: Settings) -> HttpLimits:
        return cls(s.max_header_kb * 1024, s.max_headers, s.max_body_kb * 1024, s.header_timeout,
                   s.body_timeout, s.max_connections)


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request that has been answered."""


class _RefusalLog:
    """At most one line per status every LOG_EVERY_SECONDS, with how many were not logged."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.quiet: dict[str, int] = {}

    def note(self, kind: str, level: int, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self.last.get(kind, -LOG_EVERY_SECONDS) < LOG_EVERY_SECONDS:
            self.quiet[kind] = self.quiet.get(kind, 0) + 1
            return
        self.last[kind] = now
        log.log(level, message + " not_logged_since_last=%d", *args, self.quiet.pop(kind, 0))


def _response(status: int, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = f"{status} {http.HTTPStatus(status).phrase}\n{MESSAGES[status]}\n".encode()
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [b"content-type: text/plain; charset=utf-8", b"cache-control: no-store",
              b"content-length: " + str(len(body)).encode(), b"connection: close"]
    if status == 503:
        lines.append(b"retry-after: 5")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


_Base = HttpToolsProtocol  # called directly, not through super(), in the per-request hooks


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with limits; ``bounded_protocol`` makes one per server.

    The feed is most of the load, so a request whose headers arrive in one read costs little
    more than with plain uvicorn: deadlines are numbers that one sweep per server checks a few
    times a second (no timer per request, not even uvicorn's keep-alive timer: an idle
    connection's keep-alive timeout is a deadline too), and the connection to close when room
    is needed is looked for only then.
    """

    limits: ClassVar[HttpLimits]
    live: ClassVar[dict[BoundedHttpProtocol, None]]  # this server's connections, oldest first
    closing: ClassVar[dict[BoundedHttpProtocol, None]]  # answered, lingering before the close
    refusals: ClassVar[_RefusalLog]
    sweeper: ClassVar[asyncio.TimerHandle | None]
    max_head: ClassVar[int]
    header_timeout: ClassVar[float]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the next bytes belong to a request line or headers
        self._head_bytes = 0
        self._heads_done = 0
        self._body_bytes = 0
        self._got_bytes = False  # of the current request: a silent close, or a 408
        self._in_body = False  # the request in the app's hands still has body to come
        self._deadline: float | None = None  # loop time the current phase must end by
        self._idle = False  # answered, kept alive: _deadline is the keep-alive timeout
        self._draining = False  # answered and closing: what comes in is thrown away
        self._over = False  # accepted past the limit: its request gets 503

    # -- connections ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cls = type(self)
        if cls.sweeper is None:
            cls.sweeper = self.loop.call_later(_sweep_every(self.limits), cls._sweep, self.loop)
        self._deadline = self.loop.time() + self.header_timeout
        limit = self.limits.max_connections
        if len(self.connections) > limit:
            victim = self._victim()
            if victim is not None:
                if not victim._draining:
                    self.refusals.note("evicted", logging.INFO,
                                       "event=http-connection-closed reason=%r connections=%d",
                                       "room for a new one; it was waiting for a request",
                                       len(self.connections))
                victim._expire(evicted=True)
            elif len(self.connections) > 2 * limit:
                self.refusals.note("overflow", logging.WARNING,
                                   "event=http-refused status=none reason=%r connections=%d",
                                   "twice CALENDAR_SERVICE_MAX_CONNECTIONS", len(self.connections))
                self._draining = True
                self._deadline = None
                transport.abort()
                return
            else:
                self._over = True
        self.live[self] = None

    def _victim(self) -> BoundedHttpProtocol | None:
        """The connection to close for a new one: one already answered and closing, else one
        idle between requests, else the one that began its request (or connected) longest
        ago and has not sent its headers: what a slow-loris client holds. Never one whose
        request is being answered or whose body is coming."""
        if self.closing:
            return next(iter(self.closing))
        oldest: BoundedHttpProtocol | None = None
        for conn in self.live:
            if conn._draining or not conn._in_head or (
                    conn.cycle is not None and not conn.cycle.response_complete):
                continue
            if conn._idle or conn._deadline is None:
                return conn  # kept alive, idle: its client reconnects if it needs to
            if oldest is None or conn._deadline < oldest._deadline:  # type: ignore[operator]
                oldest = conn
        return oldest

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = None
        self.live.pop(self, None)
        self.closing.pop(self, None)
        super().connection_lost(exc)

    @classmethod
    def _sweep(cls, loop: asyncio.AbstractEventLoop) -> None:
        cls.sweeper = loop.call_later(_sweep_every(cls.limits), cls._sweep, loop)
        now = loop.time()
        for conn in [c for c in cls.live if c._deadline is not None and c._deadline <= now]:
            try:
                conn._expire()
            except Exception:  # one connection's trouble must not stop the sweeps
                log.exception("event=http-sweep-failed")
                conn.transport.abort()

    # -- reading ----------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._in_head and not self._draining:
            size = self._head_bytes + len(data)
            if size <= self.max_head:  # the usual case: a whole request in one read
                self._head_bytes = size
                if self._idle or self._deadline is None:
                    self._idle = False
                    self._deadline = self.loop.time() + self.header_timeout
                self._feed(data)
                return
        self._received(data)

    def _received(self, data: bytes) -> None:
        """The general case: a body, a request split at the limit, a refused connection."""
        while data and not self._draining:
            if not self._in_head:
                self._feed(data)
                return
            if self._idle or self._deadline is None:
                self._idle = False
                self._deadline = self.loop.time() + self.header_timeout
            room = self.max_head - self._head_bytes
            if len(data) <= room:
                self._head_bytes += len(data)
                self._feed(data)
                return
            done = self._heads_done
            self._head_bytes += room
            self._feed(data[:room])  # the parser never holds more than the limit
            if self._draining:
                return
            if self._heads_done == done:
                self._refuse(431, f"request line and headers over {self.max_head} bytes")
                return
            data = data[room:]  # a body or the next request: the same rules

    def _feed(self, data: bytes) -> None:
        """uvicorn's ``data_received``, minus its warning for a request this class refused
        (the parser stops with an error then), and with a malformed request logged like the
        other refusals: at INFO and at most every LOG_EVERY_SECONDS."""
        if self.timeout_keep_alive_task is not None:
            self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            if self._draining:
                return
            self.refusals.note("400", logging.INFO,
                               "event=http-refused status=400 reason=%r client=%s",
                               str(exc.__cause__ or exc)[:120],
                               self.client[0] if self.client else "-")
            self.send_400_response("Invalid HTTP request received.")

    def on_message_begin(self) -> None:
        _Base.on_message_begin(self)
        self._got_bytes = True
        if self._idle or self._deadline is None:  # began in the read that ended the last one
            self._idle = False
            self._deadline = self.loop.time() + self.header_timeout

    def on_headers_complete(self) -> None:
        self._heads_done += 1
        self._in_head = False
        self._deadline = None
        if self._over:
            self._refuse(503, "over CALENDAR_SERVICE_MAX_CONNECTIONS and no idle connection")
            raise _Refused
        headers = self.headers
        if len(headers) > self.limits.max_headers:  # memory is bounded by the size limit
            self._refuse(431, f"more than {self.limits.max_headers} headers")
            raise _Refused
        body = False
        for name, value in headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0  # the parser refuses a bad Content-Length itself
                if length > self.limits.max_body_bytes:
                    self._refuse(413, f"Content-Length {length} over {self.limits.max_body_bytes}")
                    raise _Refused
                body = body or length > 0
            elif name == b"transfer-encoding":
                body = True
        _Base.on_headers_complete(self)
        if body:
            self._in_body, self._body_bytes = True, 0
            self._deadline = self.loop.time() + self.limits.body_timeout

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self.limits.max_body_bytes:
            self._refuse(413, f"body over {self.limits.max_body_bytes} bytes")
            raise _Refused
        _Base.on_body(self, body)

    def on_message_complete(self) -> None:
        _Base.on_message_complete(self)
        self._deadline = None
        self._in_head, self._in_body, self._head_bytes, self._got_bytes = True, False, 0, False
        cycle = getattr(self, "cycle", None)
        if (cycle is not None and cycle.response_complete and not self.pipeline
                and not self._draining and not self.transport.is_closing()):
            # answered before the body had all come (a 405 to a POST): idle from now on, so
            # the keep-alive deadline applies as after any other answer
            self._idle = True
            self._deadline = self.loop.time() + self.timeout_keep_alive

    def on_response_complete(self) -> None:
        """uvicorn's, but the keep-alive timeout is a deadline for the sweep (within a sweep of
        uvicorn's ``timeout_keep_alive``), not a timer armed and cancelled per request."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._in_head and self._deadline is None and not self._draining:
            # waiting for the next request (not for the rest of this one's body, nor for the
            # next one's headers: their deadlines stand)
            self._idle = True
            self._deadline = self.loop.time() + self.timeout_keep_alive

    # -- time -------------------------------------------------------------------------------------

    def _expire(self, evicted: bool = False) -> None:
        """The headers or the body took too long, the answer has lingered long enough, or the
        connection must make room."""
        self._deadline = None
        if self._draining or (self._in_head and not self._got_bytes):  # nothing (more) to say
            self.closing.pop(self, None)
            self.connections.discard(self)  # gone now for the count, whenever the socket closes
            if self._draining or evicted:  # what is still unsent goes too: room is needed now
                self._draining = True
                self.transport.abort()
            else:
                self._draining = True
                self.transport.close()
            return
        if evicted:  # connection_made logged it
            self._refuse(408, "closed to make room for a new connection", quiet=True)
        elif self._in_head:
            self._refuse(408, f"headers not complete after {self.header_timeout:g} s")
        else:
            self._refuse(408, f"body not complete after {self.limits.body_timeout:g} s")

    # -- refusing -----------------------------------------------------------------------------

    def _refuse(self, status: int, why: str, *, quiet: bool = False) -> None:
        """Answer ``status`` (when no answer to this request has begun), then close gently."""
        if self._draining:
            return
        self._draining = True
        self.closing[self] = None
        if not quiet:
            self.refusals.note(str(status), logging.WARNING if status == 503 else logging.INFO,
                               "event=http-refused status=%d reason=%r client=%s", status, why,
                               self.client[0] if self.client else "-")
        cycle, answer = self.cycle, True
        if self._in_body and cycle is not None:  # this request is in the application's hands
            if self.pipeline or (cycle.response_started and not cycle.response_complete):
                self.transport.abort()  # an answer is being written: nothing else can be said
                return
            answer = not cycle.response_complete
            cycle.disconnected = True  # the application reads a disconnect; its sends go nowhere
            cycle.message_event.set()
        elif cycle is not None and not cycle.response_complete:
            self.transport.abort()  # a slow request behind one still being answered (pipelining)
            return
        if answer:
            self.transport.write(_response(status, self.server_state.default_headers))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._deadline = self.loop.time() + LINGER_SECONDS  # then _expire aborts


def _sweep_every(limits: HttpLimits) -> float:
    """Deadlines are kept to within a quarter of the shortest timeout (and half a second)."""
    return min(max(min(limits.header_timeout, limits.body_timeout) / 4, 0.02), 0.5)


def bounded_protocol(limits: HttpLimits) -> type[BoundedHttpProtocol]:
    """A protocol class for one server (the class holds that server's connections)."""
    return type("BoundedHttpProtocol", (BoundedHttpProtocol,),
                {"limits": limits, "live": {}, "closing": {}, "refusals": _RefusalLog(),
                 "sweeper": None, "max_head": limits.max_header_bytes,
                 "header_timeout": limits.header_timeout})


def raise_open_files(limits: HttpLimits) -> None:
    """Let the process hold twice MAX_CONNECTIONS sockets (systemd's soft limit is 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * limits.max_connections + 128  # the ledger, data files, logs
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target < wanted:
        log.warning("event=open-files-limit limit=%d wanted=%d (raise LimitNOFILE, or lower "
                    "CALENDAR_SERVICE_MAX_CONNECTIONS)", target, wanted)
