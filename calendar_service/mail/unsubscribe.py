"""One-click unsubscription (RFC 8058): the per-office token and URL, and reading the POST body.

The token is an HMAC-SHA256 of the office id under ``CALENDAR_SERVICE_SECRET``, so a link works
for exactly one office and nobody without the secret can make one. Nothing is stored per link:
changing the secret invalidates every link already sent (the mailto address still works).
Pure functions only; the endpoint is in ``web.py`` and the record in ``ledger.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, quote

TOKEN_LENGTH = 22  # characters of url-safe base64: 132 bits of the HMAC
ONE_CLICK_FIELD = ("List-Unsubscribe", "One-Click")
_CONTEXT = b"calendar-service unsubscribe v1\0"  # the secret may sign other things one day


def token(secret: str, office_id: str) -> str:
    """The office's unsubscribe token: url-safe, no padding, the same on every run and host."""
    mac = hmac.new(secret.encode("utf-8"), _CONTEXT + office_id.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii")[:TOKEN_LENGTH]


def verify(secret: str | None, office_id: str, given: str | None) -> bool:
    """Whether ``given`` is the office's token, compared in constant time. No secret: never."""
    if not secret or not given:
        return False
    expected = token(secret, office_id).encode("ascii")
    return hmac.compare_digest(expected, given.encode("utf-8", "replace"))


def one_click_url(template: str, base_url: str, secret: str | None, office_id: str) -> str:
    """The https URL to put in List-Unsubscribe for one office, or "" when one-click is off
    (no template, no secret, or not https: RFC 8058 requires https)."""
    if not template or not secret:
        return ""
    url = template.replace("{base_url}", base_url.rstrip("/")).replace(
        "{office}", quote(office_id, safe=""))
    if not url.startswith("https://"):
        return ""
    return f"{url}{'&' if '?' in url else '?'}t={token(secret, office_id)}"


def enabled(template: str, base_url: str, secret: str | None) -> bool:
    """Whether reminders carry the one-click URL at all (the same answer for every office)."""
    return bool(one_click_url(template, base_url, secret, "x"))


def is_one_click(content_type: str, body: bytes) -> bool:
    """Whether a POST body carries ``List-Unsubscribe=One-Click``, as RFC 8058 asks mail clients
    to send it: form-urlencoded or multipart/form-data (our own form sends the former)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return _multipart_has(content_type, body)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return False
    return ONE_CLICK_FIELD in [(k.strip(), v.strip()) for k, v in pairs]


def _multipart_has(content_type: str, body: bytes) -> bool:
    from email import message_from_bytes
    from email.policy import HTTP

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    msg = message_from_bytes(head + body, policy=HTTP)
    if not msg.is_multipart():
        return False
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") != ONE_CLICK_FIELD[0]:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload.strip() == ONE_CLICK_FIELD[1].encode():
            return True
    return False


def preferred_language(accept_language: str | None, choices: tuple[str, ...] = ("es", "en"),
                       default: str = "es") -> str:
    """The best of ``choices`` for an Accept-Language header (highest q, then first listed)."""
    best, best_q = default, 0.0
    for item in (accept_language or "").split(","):
        name, _, params = item.partition(";")
        lang = name.strip().lower().split("-", 1)[0]
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if lang in choices and q > best_q:
            best, best_q = lang, q
    return best
