"""The one-click unsubscribe pages (RFC 8058) that ``serve`` answers.

They live in the mail stage, not in publishing, because a POST writes to the ledger: the web
application only routes to :class:`Unsubscriber` (``create_app(unsubscribe=...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from calendar_service.base import paths
from calendar_service.base.errors import CalendarServiceError
from calendar_service.base.paths import relative
from calendar_service.base.settings import Settings
from calendar_service.data.model import LANGUAGES

log = logging.getLogger("calendar_service.publishing.web")


UNSUBSCRIBE_POLICY = ("default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                      "form-action 'self'; frame-ancestors 'none'")
MAX_FORM_BYTES = 64 * 1024


class Unsubscriber:
    """``/unsubscribe/OFFICE?t=TOKEN`` (and ``/en/...``), RFC 8058 one-click unsubscription.

    GET only shows a confirmation page with a button: mail scanners and link previews follow
    links, so a GET never changes anything. POST with a valid token (mail clients send the body
    ``List-Unsubscribe=One-Click``; so does the page's button) records the office as
    unsubscribed in the ledger, idempotently. Unknown office 404, missing or wrong token 403, a
    ledger that is down 503: never a 500, never a redirect (RFC 8058 forbids them).
    """

    def __init__(self, settings: Settings, offices: Callable[[], Mapping[str, Any]],
                 ledger: Any) -> None:
        from urllib.parse import unquote, urlsplit

        from calendar_service.publishing.render import Renderer

        self.secret = settings.secret
        self.offices = offices  # id -> Office, the current data (it is reloaded)
        self.ledger = ledger
        self.renderer = Renderer(settings.templates, watch=True)  # lives as long as serve
        self.mailto = settings.unsubscribe
        parts = urlsplit(self.mailto)
        self.mailto_address = unquote(parts.path) if parts.scheme == "mailto" else self.mailto
        if not self.secret:
            log.info("event=unsubscribe-disabled reason=no-secret (set CALENDAR_SERVICE_SECRET)")

    async def handle(self, request: Any) -> Any:
        import asyncio

        from starlette.requests import ClientDisconnect

        from calendar_service.mail.unsubscribe import is_one_click, preferred_language, verify

        path: str = request.url.path
        office_id: str = request.path_params["office"]
        if path.startswith("/en/"):
            lang = "en"
        elif request.query_params.get("lang") in ("es", "en"):
            lang = request.query_params["lang"]
        else:
            lang = preferred_language(request.headers.get("accept-language"))
        office = self.offices().get(office_id)
        if office is None:
            return self._page(request, lang, 404, "unknown")
        if not verify(self.secret, office_id, request.query_params.get("t")):
            log.info("event=unsubscribe-refused office=%s reason=%s", office_id,
                     "no-secret" if not self.secret else "bad-token")
            return self._page(request, lang, 403, "forbidden")
        try:
            if request.method == "POST":
                body = b""
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_FORM_BYTES:
                        return self._page(request, lang, 413, "error")
                if not is_one_click(request.headers.get("content-type", ""), body):
                    return self._page(request, lang, 400, "confirm", office=office)
                entry, created = await asyncio.to_thread(self.ledger.unsubscribe, office_id, "web")
                if created:
                    log.info("event=unsubscribed office=%s via=web", office_id)
                return self._page(request, lang, 200, "done", office=office,
                                  since=entry.unsubscribed_at.date())
            entry = await asyncio.to_thread(self.ledger.unsubscription, office_id)
        except ClientDisconnect:  # the client went away mid-body: nothing to answer, no error
            log.info("event=client-disconnected office=%s during=unsubscribe-body", office_id)
            return self._page(request, lang, 400, "error")
        except Exception as exc:  # the ledger being down is a 503 page, never a 500
            log.error("event=unsubscribe-failed office=%s error=%s", office_id, type(exc).__name__)
            return self._page(request, lang, 503, "error")
        if entry is not None:
            return self._page(request, lang, 200, "done", office=office,
                              since=entry.unsubscribed_at.date())
        return self._page(request, lang, 200, "confirm", office=office)

    def _page(self, request: Any, lang: str, status: int, state: str, *, office: Any = None,
              since: date | None = None) -> Any:
        from urllib.parse import quote

        from starlette.responses import HTMLResponse

        office_id = quote(request.path_params["office"], safe="")
        here = paths.prefix(lang) + f"/unsubscribe/{office_id}"
        query = request.url.query

        def rel(target: str) -> str:
            return relative(here, target)

        others = []
        for code in LANGUAGES:
            if code == lang:
                continue
            target = paths.prefix(code) + f"/unsubscribe/{office_id}"
            # Accept-Language must not win over an explicit choice of Spanish.
            kept = "&".join(p for p in query.split("&") if p and not p.startswith("lang="))
            extra = "" if code != "es" else ("&" if kept else "") + "lang=es"
            others.append((code, self.renderer.words(lang).lang_names[code],
                           target + ("?" + kept + extra if kept or extra else "")))
        try:
            html = self.renderer.render(
                "site/unsubscribe.html", lang=lang, w=self.renderer.words(lang), path=here,
                rel=rel, other_langs=others, home=paths.home(lang), feed_path=paths.feed(lang),
                json_path=paths.days_json(lang), state=state,
                office_name=office.name if office is not None else "", since=since,
                mailto=self.mailto, mailto_address=self.mailto_address)
        except CalendarServiceError as exc:  # a broken template: say so plainly, not a 500
            log.error("event=unsubscribe-page-failed error=%s", exc)
            html, status = "<!doctype html><title>503</title>\n", 503
        headers = {"cache-control": "no-store", "x-content-type-options": "nosniff",
                   "referrer-policy": "no-referrer", "x-robots-tag": "noindex",
                   "content-security-policy": UNSUBSCRIBE_POLICY, "vary": "accept-language",
                   "content-language": lang}
        return HTMLResponse(html, status_code=status, headers=headers)
