"""``calendar-service doctor``: is this deployment ready to send real reminders? Sends nothing.

Each check gives one verdict line (✓ or ✗ and what to do). Every network check is bounded by
a timeout. The verdict is "ready" only when every check passes.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from calendar_service.base.settings import Settings, redact_url
from calendar_service.mail import safety

TRIAL = " (accepted because CALENDAR_SERVICE_TRIAL_SENDING=1: a trial, not a deployment)"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str
    details: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [f"{'✓' if self.ok else '✗'} {self.text}", *(f"    {d}" for d in self.details)]


def check_base_url(settings: Settings, timeout: float) -> Verdict:
    """Public https, and something answers there (a GET of the home page)."""
    import urllib.error
    import urllib.request

    url = settings.base_url.rstrip("/") + "/"
    parts = urlsplit(url)
    note = ""
    if parts.scheme != "https":
        return Verdict(False, f"BASE_URL {settings.base_url} is not https: set "
                              "CALENDAR_SERVICE_BASE_URL to the site's public https address")
    if safety.loopback_host(parts.hostname):
        if not settings.trial_sending:
            return Verdict(False, f"BASE_URL {settings.base_url} is a loopback address: set "
                                  "CALENDAR_SERVICE_BASE_URL to the site's public address")
        note = TRIAL
    elif parts.hostname and safety.reserved_domain(parts.hostname):
        return Verdict(False, f"BASE_URL {settings.base_url} is an example domain: set "
                              "CALENDAR_SERVICE_BASE_URL to the site's public address")
    request = urllib.request.Request(url, method="GET", headers={"user-agent": "calendar-service "
                                                                              "doctor"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (https)
            status = response.status
    except urllib.error.HTTPError as exc:
        return Verdict(False, f"BASE_URL {url} answers {exc.code} {exc.reason}: serve the site "
                              "there (calendar-service serve behind the web server, or the "
                              "static build)")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Verdict(False, f"BASE_URL {url} does not answer within {timeout:g} s ({reason}): "
                              "check the address, DNS, the web server and its certificate")
    return Verdict(True, f"BASE_URL {url} is https and answers ({status}){note}")


async def _smtp_probe(settings: Settings, timeout: float) -> str:
    """Connect, EHLO, STARTTLS (when the URL asks for it), AUTH, QUIT: which steps passed."""
    import aiosmtplib

    from calendar_service.mail.delivery import SMTPConfig

    c = SMTPConfig.from_settings(settings)
    tls = c.use_tls or c.start_tls
    smtp = aiosmtplib.SMTP(hostname=c.hostname, port=c.port, timeout=timeout, use_tls=c.use_tls,
                           start_tls=False, tls_context=c.tls_context() if tls else None)
    steps = []
    await smtp.connect()
    try:
        steps.append("connect" + (" (TLS)" if c.use_tls else ""))
        await smtp.ehlo()
        steps.append("EHLO")
        if c.start_tls:
            await smtp.starttls(tls_context=c.tls_context())
            await smtp.ehlo()
            steps.append("STARTTLS")
        if c.username:
            await smtp.login(c.username, c.password or "")
            steps.append("AUTH")
    finally:
        try:
            await smtp.quit()
        except Exception:  # the verdict is already known; closing is best effort
            smtp.close()
    return ", ".join(steps)


def check_smtp(settings: Settings, timeout: float) -> Verdict:
    import aiosmtplib

    if not settings.smtp_url:
        return Verdict(False, "no SMTP relay: reminders would only be written to "
                              f"{settings.outbox}; set CALENDAR_SERVICE_SMTP_URL "
                              "(e.g. smtp+starttls://user:password@smtp.your-domain.mx:587)")
    where = redact_url(settings.smtp_url)
    try:
        steps = asyncio.run(asyncio.wait_for(_smtp_probe(settings, timeout), timeout * 4))
    except aiosmtplib.SMTPAuthenticationError as exc:
        return Verdict(False, f"SMTP relay {where}: the user name or password was refused "
                              f"({exc.code} {exc.message}): fix them in CALENDAR_SERVICE_SMTP_URL")
    except ssl.SSLError as exc:
        return Verdict(False, f"SMTP relay {where}: TLS failed ({exc.reason or exc}): check the "
                              "host name, or trust its CA with CALENDAR_SERVICE_SMTP_CA_FILE")
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLError):
            text += f" ({cause.reason or cause})"
        return Verdict(False, f"SMTP relay {where} not usable: {text}: check the host, port and "
                              "scheme of CALENDAR_SERVICE_SMTP_URL")
    auth = "" if "AUTH" in steps else " (no user name in the URL: the relay must accept this host)"
    return Verdict(True, f"SMTP relay {where} reachable: {steps}; no mail sent{auth}")


def check_addresses(settings: Settings, offices: Any) -> Verdict:
    problems = tuple(safety.sender_problems(settings) + safety.recipient_problems(
        offices, str(settings.offices)))
    if not problems:
        return Verdict(True, f"sender {safety.address_domain(settings.smtp_from)}, the "
                             f"unsubscribe address and the {len(offices)} offices' addresses are "
                             "not example addresses")
    if settings.trial_sending:
        return Verdict(True, "example addresses" + TRIAL, problems)
    return Verdict(False, "example addresses: no one reads them", problems)


def check_unsubscribe(settings: Settings) -> Verdict:
    from calendar_service.mail import unsubscribe

    if not settings.secret:
        return Verdict(False, "one-click unsubscribe is off: set CALENDAR_SERVICE_SECRET (python3 "
                              "-c 'import secrets; print(secrets.token_urlsafe(32))')")
    if not unsubscribe.enabled(settings.unsubscribe_url, settings.base_url, settings.secret):
        return Verdict(False, "one-click unsubscribe is off: its URL "
                              f"({settings.unsubscribe_url}) must be https; fix "
                              "CALENDAR_SERVICE_BASE_URL or CALENDAR_SERVICE_UNSUBSCRIBE_URL")
    return Verdict(True, "one-click unsubscribe is on (secret set, https link)")


def check_ledger(settings: Settings) -> Verdict:
    from sqlalchemy import inspect

    from calendar_service.mail.ledger import Ledger
    from calendar_service.mail.ledger.schema import metadata

    where = redact_url(settings.database_url)
    try:
        # upgrade=False: the doctor changes nothing, and an older ledger says so here.
        with Ledger.from_settings(settings, upgrade=False) as ledger:
            counts = ledger.counts()
            missing = set(metadata.tables) - set(inspect(ledger.engine).get_table_names())
            path = ledger.engine.url.database if ledger.engine.dialect.name == "sqlite" else None
    except Exception as exc:  # any failure is the verdict
        return Verdict(False, f"ledger {where} not usable: {str(exc).splitlines()[0]}: check "
                              "CALENDAR_SERVICE_DATABASE_URL and its permissions")
    if missing:
        return Verdict(False, f"ledger {where} lacks tables {', '.join(sorted(missing))}: an "
                              "older or foreign schema")
    if path and not os.access(path, os.W_OK):
        return Verdict(False, f"ledger {where} is read-only for this user: run as the service's "
                              "user or fix the file's permissions")
    return Verdict(True, f"ledger {where} writable, schema as expected "
                         f"({sum(counts.values())} reminders recorded)")


def check_data(settings: Settings) -> tuple[Verdict, Any]:
    from calendar_service.base.errors import DataError
    from calendar_service.data.loader import load_all
    from calendar_service.mail.compose import check_templates

    try:
        catalog, offices = load_all(settings.days, settings.offices, complete=True)
        check_templates(catalog, offices, settings)
    except DataError as exc:
        return Verdict(False, "data files have problems: fix them (calendar-service check)",
                       tuple(str(p) for p in exc.problems[:10])), None
    return Verdict(True, f"data files valid: {settings.days} ({len(catalog.days)} days), "
                         f"{settings.offices} ({len(offices)} offices), {settings.templates}"
                   ), (catalog, offices)


def check_tzdata() -> Verdict:
    """Mexico ended daylight saving time in October 2022 (tzdata 2022f/2022g)."""
    from zoneinfo import ZoneInfo

    summer = datetime(2023, 7, 1, 12, tzinfo=ZoneInfo("America/Mexico_City"))
    offset = summer.utcoffset()
    hours = offset.total_seconds() / 3600 if offset is not None else None
    if hours == -6:
        return Verdict(True, "time zone data knows Mexico ended daylight saving time in 2022 "
                             "(America/Mexico_City is UTC-6 in July 2023)")
    return Verdict(False, f"time zone data is older than 2022g (America/Mexico_City is UTC{hours:+g}"
                          " in July 2023): upgrade the system's tzdata package, or pip install "
                          "-U tzdata in the virtual environment")


def check_schedule(catalog: Any, offices: Any, now: datetime) -> Verdict:
    from calendar_service.base.dates import format_day
    from calendar_service.mail.schedule import next_sends

    upcoming = next_sends(catalog, offices, now)
    if not upcoming:
        return Verdict(False, "no reminder is scheduled within a year: check lead_days and "
                              "themes in the offices file")
    details = []
    for n in sorted(upcoming, key=lambda n: n.office.id):
        days = ", ".join(f"{occ.day.name.get('es')} ({lead} d)" for occ, lead in n.items)
        details.append(f"{n.office.id}: {format_day(n.at.date(), 'es', 'short')} {n.at:%H:%M} "
                       f"{n.office.timezone}: {days}")
    idle = len(offices) - len(upcoming)
    extra = f"; {idle} offices have nothing within a year" if idle else ""
    return Verdict(True, f"next scheduled sends ({len(upcoming)} offices, local time){extra}:",
                   tuple(details))


def run_checks(settings: Settings, now: datetime, timeout: float,
               emit: Callable[[Verdict], None]) -> bool:
    """Every check, each printed as soon as it is known; True when all pass."""
    verdicts = []

    def add(v: Verdict) -> None:
        verdicts.append(v)
        emit(v)

    data, loaded = check_data(settings)
    add(data)
    add(check_base_url(settings, timeout))
    add(check_smtp(settings, timeout))
    if loaded is not None:
        add(check_addresses(settings, loaded[1]))
    add(check_unsubscribe(settings))
    add(check_ledger(settings))
    add(check_tzdata())
    if loaded is not None:
        add(check_schedule(*loaded, now))
    return all(v.ok for v in verdicts)
