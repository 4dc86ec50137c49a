"""The HTTP service: the site's precomputed bytes from memory, plus /healthz (Starlette).

``create_app(state)`` is the factory. ``state`` (a ``SiteState``) holds the current site and can
be swapped at any time; requests already in flight finish with the site they started with.
Extension points for the service's other jobs: ``create_app(..., lifespan=, health=)`` and
``SiteState.refresh(now)`` (rebuild when the data, the templates or the date changed).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlsplit

from calendar_service import __version__
from calendar_service.base import paths
from calendar_service.base.errors import CalendarServiceError
from calendar_service.base.memory import give_back_freed
from calendar_service.base.paths import relative
from calendar_service.base.settings import Settings
from calendar_service.data.model import LANGUAGES, Catalog
from calendar_service.publishing.site import NOT_FOUND, Resource, Site

log = logging.getLogger("calendar_service.publishing.web")

Headers = list[tuple[bytes, bytes]]
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
HealthInfo = Callable[[], Mapping[str, Any]]
Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


class PageHandler(Protocol):
    """A later stage's pages (the mail stage's unsubscribe pages): publishing only routes to them."""

    async def handle(self, request: Any) -> Any: ...

SECURITY = [(b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin")]
HTML_POLICY = (b"content-security-policy",
               b"default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
               b"frame-ancestors 'none'")
CORS = (b"access-control-allow-origin", b"*")  # feeds and JSON are public data for web apps


@dataclass(frozen=True)
class Prepared:
    """A resource with its response headers computed once, at swap time, not per request."""

    resource: Resource
    etags: frozenset[bytes]
    ok: Headers
    ok_gzip: Headers | None
    not_modified: Headers
    not_modified_gzip: Headers
    html: bool  # a page: its links may follow the request's origin (``SiteState.for_request``)
    days_json: bool  # a days.json: a query string filters it (``SiteEndpoint._days_query``)


def prepare(res: Resource) -> Prepared:
    common: Headers = [(b"content-type", res.content_type.encode()),
                       (b"last-modified", res.http_last_modified.encode()),
                       (b"cache-control", res.cache_control.encode()), *SECURITY]
    if res.content_type.startswith("text/html"):
        common.append(HTML_POLICY)
    if res.content_type.startswith(("text/calendar", "application/json")):
        common.append(CORS)
    etag = res.etag.encode()
    gz_etag = res.etag[:-1].encode() + b'-gz"'
    vary = [(b"vary", b"accept-encoding")] if res.gzipped is not None else []
    ok = [*common, *vary, (b"etag", etag), (b"content-length", str(len(res.body)).encode())]
    ok_gzip = None
    if res.gzipped is not None:
        ok_gzip = [*common, *vary, (b"etag", gz_etag), (b"content-encoding", b"gzip"),
                   (b"content-length", str(len(res.gzipped)).encode())]
    return Prepared(res, frozenset({etag, gz_etag}), ok, ok_gzip, [*common, *vary, (b"etag", etag)],
                    [*common, *vary, (b"etag", gz_etag)], res.content_type.startswith("text/html"),
                    res.content_type == "application/json")


class SiteState:
    """The site being served. ``swap`` is atomic: one attribute assignment."""

    def __init__(self, site: Site, rebuild: Callable[[datetime], Site | None] | None = None,
                 *, base_url: str | None = None) -> None:
        self._rebuild = rebuild
        self.last_error: str | None = None
        # With base_url, pages answer with links to the address the request came to (any port,
        # any proxy), not to BASE_URL: see ``for_request``.
        self._origin = _origin_of(base_url) if base_url else None
        self.swap(site)

    def swap(self, site: Site) -> None:
        self.current: tuple[Site, dict[str, Prepared]] = (
            site, {path: prepare(res) for path, res in site.resources.items()})
        self._rewritten: dict[tuple[bytes, str], Prepared] = {}

    def for_request(self, entry: Prepared, path: str, scope: Scope) -> Prepared:
        """An HTML page with its absolute links (subscribe buttons, the feed address, the 404
        page's links) moved from BASE_URL to the origin of the request; cached per origin."""
        if self._origin is None or not entry.resource.content_type.startswith("text/html"):
            return entry
        origin = _request_origin(scope)
        if origin is None or origin == self._origin:
            return entry
        key = (origin, path)
        hit = self._rewritten.get(key)
        if hit is None:
            from calendar_service.publishing.site import make_resource

            body = entry.resource.body
            for old, new in _origin_forms(self._origin, origin):
                body = body.replace(old, new)
            if len(self._rewritten) > 4096:  # many Host headers: bounded memory all the same
                self._rewritten.clear()
            hit = prepare(make_resource(path, body, entry.resource.last_modified))
            self._rewritten[key] = hit
        return hit

    @property
    def site(self) -> Site:
        return self.current[0]

    def refresh(self, now: datetime) -> bool:
        """Rebuild if the data, the templates or the date changed; keep serving on bad data."""
        if self._rebuild is None:
            return False
        try:
            site = self._rebuild(now)
        except CalendarServiceError as exc:
            self.last_error = str(exc)
            log.error("keeping the current site: %s", exc)
            return False
        self.last_error = None
        if site is None:
            return False
        self.swap(site)
        give_back_freed()
        log.info("site rebuilt for %s (%d files)", site.today, len(site.resources))
        return True


class Publisher:
    """Rebuilds the site from the files named in the settings when they or the date change."""

    def __init__(self, settings: Settings, fixed_today: date | None = None,
                 source: Callable[[], tuple[str, Catalog]] | None = None) -> None:
        self.settings = settings
        self.fixed_today = fixed_today
        # The service passes its last good data and its version: the fingerprint must describe
        # the data actually built, not the file on disk (which may already be newer, or broken).
        self._source = source
        self._seen: tuple[object, ...] | None = None
        self._last: Site | None = None  # what the next build may reuse (see ``build_site``)
        self._memo: Any = None
        self._templates: tuple[list[tuple[object, ...]], Any] | None = None

    def _fingerprint(self, today: date, version: str | None = None) -> tuple[object, ...]:
        if self._source and version is None:
            version = self._source()[0]
        data: list[object] = [version] if self._source else [self.settings.days]
        return (today, *self._stats(data), *self._stats(self._template_files()))

    def _template_files(self) -> list[Path]:
        return sorted(p for p in Path(self.settings.templates).rglob("*") if p.is_file())

    @staticmethod
    def _stats(files: list[Any]) -> list[tuple[object, ...]]:
        stats: list[tuple[object, ...]] = []
        for f in files:
            if not isinstance(f, Path):
                stats.append((f, None, None))
                continue
            try:
                st = os.stat(f)
                stats.append((str(f), st.st_mtime_ns, st.st_size))
            except OSError:
                stats.append((str(f), None, None))
        return stats

    def _renderer(self) -> Any:
        """The last build's renderer while no template changed: templates compile once."""
        from calendar_service.publishing.render import Renderer

        seen = self._stats(self._template_files())
        if self._templates is None or self._templates[0] != seen:
            self._templates = (seen, Renderer(self.settings.templates,
                                              cache=self.settings.template_cache_dir))
        return self._templates[1]

    def today(self, now: datetime) -> date:
        return self.fixed_today or now.astimezone().date()

    def build(self, now: datetime) -> Site:
        import time as clock

        from calendar_service.data.loader import load_days
        from calendar_service.publishing.feed import EventMemo
        from calendar_service.publishing.site import prepare_site

        started = clock.perf_counter()
        today = self.today(now)
        if self._source:
            version, catalog = self._source()
            seen = self._fingerprint(today, version)
        else:
            seen = self._fingerprint(today)
            catalog = load_days(self.settings.days)
        if self._memo is None:
            self._memo = EventMemo()
        timings: dict[str, float] = {}
        site = prepare_site(catalog, self.settings, today=today, now=now,
                            renderer=self._renderer(), previous=self._last, memo=self._memo,
                            timings=timings)
        total = clock.perf_counter() - started
        log.info("event=site-built today=%s files=%d events_reused=%d seconds=%.3f "
                 "cards_seconds=%.3f", today, len(site.resources), self._memo.reused,
                 total - timings.get("cards", 0.0), timings.get("cards", 0.0))
        self._memo.next_build()
        self._seen, self._last = seen, site
        return site

    def rebuild_if_changed(self, now: datetime) -> Site | None:
        if self._fingerprint(self.today(now)) == self._seen:
            return None
        return self.build(now)


_HOST_CHARS = re.compile(rb"^[A-Za-z0-9.:\[\]-]{1,255}$")


def _origin_of(url: str) -> bytes:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".encode()


def _request_origin(scope: Scope) -> bytes | None:
    """scheme://host of the request (uvicorn sets the scheme from a trusted proxy's
    X-Forwarded-Proto); None when the Host header is missing or not a plain host."""
    host = _header(scope, b"host")
    if host is None or not _HOST_CHARS.match(host):
        return None
    return scope.get("scheme", "http").encode() + b"://" + host


def _origin_forms(old: bytes, new: bytes) -> list[tuple[bytes, bytes]]:
    """How an origin appears in a page: as is, as webcal://, and percent-encoded in the
    Google and Outlook subscribe links."""
    old_host, new_host = old.split(b"://", 1)[1], new.split(b"://", 1)[1]
    return [(old, new), (b"webcal://" + old_host, b"webcal://" + new_host),
            (quote(old, safe="").encode(), quote(new, safe="").encode())]


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


@lru_cache(maxsize=256)  # clients send a handful of distinct values: parse each once
def _wants_gzip(accept: bytes | None) -> bool:
    """An explicit ``gzip`` entry decides (``gzip;q=0`` refuses it), else ``*`` does."""
    if not accept:
        return False
    verdicts: dict[bytes, bool] = {}
    for item in accept.split(b","):
        name, _, params = item.partition(b";")
        q = params.strip().lower()
        verdicts[name.strip().lower()] = not (q.startswith(b"q=")
                                              and q[2:].strip().rstrip(b"0.") == b"")
    return verdicts.get(b"gzip", verdicts.get(b"*", False))


def _not_modified(entry: Prepared, inm: bytes | None, ims: bytes | None) -> bool:
    """If-None-Match (when sent, it alone decides), else If-Modified-Since."""
    if inm is not None:
        if inm in entry.etags:  # the usual case: the one ETag the client was given
            return True
        tags = [t.strip() for t in inm.split(b",")]
        return any(t == b"*" or t.removeprefix(b"W/") in entry.etags for t in tags)
    if ims is not None:
        try:
            since = parsedate_to_datetime(ims.decode("latin-1"))
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return entry.resource.last_modified <= since
    return False


async def _respond(send: Send, status: int, headers: Headers, body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _plain(status: int, message: str, extra: Headers | None = None) -> tuple[int, Headers, bytes]:
    body = (json.dumps({"error": message}, ensure_ascii=False) + "\n").encode()
    return status, [(b"content-type", b"application/json"), (b"cache-control", b"no-store"),
                    (b"content-length", str(len(body)).encode()), *SECURITY, *(extra or [])], body


class SiteEndpoint:
    """Raw ASGI for the site's files: a dict lookup and precomputed headers per request."""

    def __init__(self, state: SiteState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        site, files = self.state.current
        path: str = scope["path"]
        entry = files.get(path)
        if entry is None:
            status, headers, body = self._fallback(site, files, path, scope)
            await _respond(send, status, headers, b"" if scope["method"] == "HEAD" else body)
            return
        await self.serve(site, entry, scope, send)

    async def serve(self, site: Site, entry: Prepared, scope: Scope, send: Send) -> None:
        """One of the site's files (``entry``, of ``site``): the whole load of a feed service,
        so one pass over the request headers and the two sends, nothing else per request."""
        method: str = scope["method"]
        if method != "GET" and method != "HEAD":
            status, headers, body = _plain(405, "method not allowed; use GET or HEAD",
                                           [(b"allow", b"GET, HEAD")])
            await _respond(send, status, headers, body)
            return
        if entry.html:
            entry = self.state.for_request(entry, scope["path"], scope)
        elif entry.days_json and scope["query_string"]:
            status, headers, body = self._days_query(site, scope["path"], scope["query_string"])
            await _respond(send, status, headers, b"" if method == "HEAD" else body)
            return
        inm = ims = accept = None
        for key, value in scope["headers"]:  # the first of each, like _header
            if key == b"if-none-match":
                if inm is None:
                    inm = value
            elif key == b"if-modified-since":
                if ims is None:
                    ims = value
            elif key == b"accept-encoding" and accept is None:
                accept = value
        gz = accept is not None and entry.ok_gzip is not None and _wants_gzip(accept)
        if (inm is not None or ims is not None) and _not_modified(entry, inm, ims):
            await send({"type": "http.response.start", "status": 304,
                        "headers": entry.not_modified_gzip if gz else entry.not_modified})
            await send({"type": "http.response.body", "body": b""})
            return
        if gz:
            headers, body = entry.ok_gzip, entry.resource.gzipped
        else:
            headers, body = entry.ok, entry.resource.body
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    def _fallback(self, site: Site, files: dict[str, Prepared], path: str, scope: Scope
                  ) -> tuple[int, Headers, bytes]:
        """Folders without the slash and .../index.html redirect to the folder; the rest is 404."""
        if path.endswith("/index.html") and path[:-10] in files:
            target = path[:-10]
        elif not path.endswith("/") and path + "/" in files:
            target = path + "/"
        else:
            page = files.get(NOT_FOUND)
            body = self.state.for_request(page, NOT_FOUND, scope).resource.body if page else (
                b"not found\n")
            return 404, [(b"content-type", b"text/html; charset=utf-8"),
                         (b"cache-control", b"public, max-age=60"),
                         (b"content-length", str(len(body)).encode()), *SECURITY, HTML_POLICY], body
        # relative, so it stays right behind a proxy that serves the site under a path prefix
        query = scope["query_string"]
        location = relative(path, target).encode() + (b"?" + query if query else b"")
        return 308, [(b"location", location), (b"content-length", b"0"), *SECURITY], b""

    def _days_query(self, site: Site, path: str, query: bytes) -> tuple[int, Headers, bytes]:
        """days.json?theme=ID (repeatable): the same list, filtered; other parameters are 400."""
        try:
            pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, strict_parsing=True,
                              errors="strict")
        except (UnicodeDecodeError, ValueError):
            return _plain(400, "malformed query string")
        themes = []
        for key, value in pairs:
            if key != "theme":
                return _plain(400, f"unknown parameter {key!r}; days.json accepts theme=ID")
            if value not in site.themes:
                return _plain(400, f"unknown theme {value!r}; known: {', '.join(sorted(site.themes))}")
            themes.append(value)
        lang = "en" if path.startswith("/en/") else "es"
        wanted = set(themes)
        days = [d for d in site.days.get(lang, []) if wanted & {t["id"] for t in d["themes"]}]
        doc = json.loads(site.resources[path].body)
        doc["days"] = days
        body = (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode()
        return 200, [(b"content-type", b"application/json"),
                     (b"cache-control", b"public, max-age=600"),
                     (b"content-length", str(len(body)).encode()), *SECURITY, CORS], body


def create_app(state: SiteState, *, lifespan: Lifespan | None = None,
               health: HealthInfo | None = None, unsubscribe: PageHandler | None = None) -> Any:
    """The ASGI application: ``/healthz`` (JSON) and every file of the current site.

    ``lifespan`` runs around the server's life (start background jobs there); ``health`` adds
    fields to ``/healthz``; ``unsubscribe`` adds the one-click unsubscribe pages.
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    async def healthz(request: Request) -> JSONResponse:
        site = state.site
        info: dict[str, Any] = {
            "status": "ok" if state.last_error is None else "degraded",
            "version": __version__, "today": site.today.isoformat(),
            "built_at": site.built_at.isoformat().replace("+00:00", "Z"),
            "files": len(site.resources),
            "feeds": sum(1 for p in site.resources if p.endswith(".ics")),
            "days": len(site.days.get("es", [])),
        }
        if state.last_error:
            info["last_error"] = state.last_error
        if health is not None:
            info.update(health())
        return JSONResponse(info, headers={"cache-control": "no-store"})

    endpoint = SiteEndpoint(state)
    routes: list[Any] = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
    if unsubscribe is not None:
        for lang in LANGUAGES:
            routes.append(Route(paths.prefix(lang) + "/unsubscribe/{office}", unsubscribe.handle,
                                methods=["GET", "HEAD", "POST"]))
    app = Starlette(routes=[*routes, Mount("/", app=endpoint)], lifespan=lifespan)
    return FastPath(state, endpoint, app)


class FastPath:
    """Requests for the site's own files skip the framework: they are the whole load of a feed
    service, and Starlette's routing and middleware cost a quarter of the throughput for them
    (benchmarks/feed_http.py). Everything else (lifespan, /healthz, redirects, 404) goes
    through Starlette."""

    def __init__(self, state: SiteState, endpoint: SiteEndpoint, app: Any) -> None:
        self.state, self.endpoint, self.app = state, endpoint, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            site, files = self.state.current
            entry = files.get(scope["path"])
            if entry is not None:
                await self.endpoint.serve(site, entry, scope, send)
                return
        from starlette.requests import ClientDisconnect

        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:  # a client that goes away is no error of ours: no traceback
            log.info("event=client-disconnected path=%s", scope.get("path"))
