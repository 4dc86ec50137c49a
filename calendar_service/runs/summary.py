"""What a person at a terminal reads after ``send-due`` or ``daily``: in their language (Spanish
unless LANG or --lang says English), in sentences, never ids alone.

Logs stay ``key=value`` for machines; this is only for people.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from calendar_service.data.model import Catalog, Office

if TYPE_CHECKING:
    from calendar_service.mail.sending import RunReport

TEXT = {
    "es": {
        "sent": "Mensajes enviados: {messages}, a {offices} oficina(s), con {reminders} "
                "recordatorio(s) ({where}).",
        "nothing": "No había nada que enviar ahora ({where}).",
        "days": "Días: {days}.",
        "before": "Ya enviados por ejecuciones anteriores: {n}.",
        "busy": "En curso en otra ejecución: {n}.",
        "unsubscribed": "No enviados porque la oficina se dio de baja: {n}.",
        "refused_before": "Rechazados definitivamente en ejecuciones anteriores: {n} "
                          "(calendar-service log --status permanent-failure).",
        "pending": "Pendientes: {n}: {why}.",
        "failed": "{n} fallaron y se reintentarán en la siguiente ejecución",
        "not_attempted": "{n} no se intentaron (la ejecución se detuvo antes)",
        "refused": "{n} rechazados definitivamente por el servidor",
        "next": "Próximo envío programado: {when} ({zone}) a {who}: {days}.",
        "next_none": "No hay envíos programados en el próximo año.",
        "more_offices": "{first} y {n} oficina(s) más",
        "lead": "aviso de {n} día(s)",
        "stopped": "La ejecución se detuvo antes de terminar: {why}",
        "undelivered": "No entregados ({n}):",
        "why_failed": "falló; se reintentará en la siguiente ejecución",
        "why_refused": "rechazado definitivamente por el servidor",
        "why_not-attempted": "no se intentó; queda pendiente",
        "and_more": "… y {n} más",
        "see_log": "Detalles: calendar-service log --status failed --status permanent-failure",
        "headers": ("Oficina", "Hora local", "Días", "Aviso", "Estado"),
        "would_send": "se enviaría",
        "catch_up": "se enviaría (tardío)",
        "skip": {"sent": "ya enviado", "claimed": "en curso en otra ejecución",
                 "unsubscribed": "dada de baja", "permanent-failure": "rechazado antes",
                 "superseded": "sustituido", "expired": "vencido"},
        "plan_none": "Nada que enviar a las {when}.",
        "plan_total": "Se enviarían {n} recordatorio(s); ya enviados: {sent}; en curso en otra "
                      "ejecución: {busy}; de oficinas dadas de baja: {off}.",
        "days_before": "{n} días antes",
    },
    "en": {
        "sent": "Messages sent: {messages}, to {offices} office(s), carrying {reminders} "
                "reminder(s) ({where}).",
        "nothing": "Nothing was due now ({where}).",
        "days": "Days: {days}.",
        "before": "Already sent by earlier runs: {n}.",
        "busy": "Being sent by another run: {n}.",
        "unsubscribed": "Not sent because the office unsubscribed: {n}.",
        "refused_before": "Refused for good in earlier runs: {n} "
                          "(calendar-service log --status permanent-failure).",
        "pending": "Pending: {n}: {why}.",
        "failed": "{n} failed and will be retried on the next run",
        "not_attempted": "{n} not attempted (the run stopped first)",
        "refused": "{n} refused for good by the server",
        "next": "Next scheduled send: {when} ({zone}) to {who}: {days}.",
        "next_none": "Nothing is scheduled within a year.",
        "more_offices": "{first} and {n} more office(s)",
        "lead": "{n}-day notice",
        "stopped": "The run stopped before the end: {why}",
        "undelivered": "Not delivered ({n}):",
        "why_failed": "failed; will be retried on the next run",
        "why_refused": "refused for good by the server",
        "why_not-attempted": "not attempted; still pending",
        "and_more": "… and {n} more",
        "see_log": "Details: calendar-service log --status failed --status permanent-failure",
        "headers": ("Office", "Local time", "Days", "Lead", "Status"),
        "would_send": "would send",
        "catch_up": "would send (late)",
        "skip": {"sent": "already sent", "claimed": "being sent elsewhere",
                 "unsubscribed": "unsubscribed", "permanent-failure": "refused before",
                 "superseded": "superseded", "expired": "expired"},
        "plan_none": "Nothing due at {when}.",
        "plan_total": "{n} reminder(s) would be sent; already sent: {sent}; being sent "
                      "elsewhere: {busy}; for unsubscribed offices: {off}.",
        "days_before": "{n} days ahead",
    },
}


def user_language(choice: str | None = None) -> str:
    """--lang, else English when the locale says so (LC_ALL, LC_MESSAGES, LANG), else Spanish."""
    if choice:
        return choice
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "en" if value.lower().startswith("en") else "es"
    return "es"


def _day_name(catalog: Catalog, day_id: str, lang: str) -> str:
    day = catalog.day(day_id)
    return day.name.get(lang) if day is not None else day_id


def _when(iso: str, lang: str, style: str = "long") -> str:
    from calendar_service.base.dates import format_day

    return format_day(date.fromisoformat(iso), lang, style)


def _named_days(catalog: Catalog, days: Mapping[tuple[str, str], tuple[int, int]], lang: str,
                limit: int = 8) -> str:
    """``days``: (day id, ISO date) -> where it first went in the run; named by date, then in
    the run's order."""
    named = [f"{_day_name(catalog, d, lang)} ({_when(w, lang)})"
             for d, w in sorted(days, key=lambda dw: (dw[1], days[dw]))]
    more = [TEXT[lang]["and_more"].format(n=len(named) - limit)] if len(named) > limit else []
    return ", ".join(named[:limit] + more)


def run_summary(report: RunReport, catalog: Catalog, offices: Sequence[Office], now: datetime,
                lang: str, where: str) -> list[str]:
    """The lines a person reads after a run: what went, what did not and why, what comes next."""
    t = TEXT[lang]
    lines = []
    if report.messages:
        lines.append(t["sent"].format(messages=report.messages, reminders=report.sent,
                                      offices=report.sent_offices, where=where))
        lines.append(t["days"].format(days=_named_days(catalog, report.sent_days, lang)))
    elif report.ok:
        lines.append(t["nothing"].format(where=where))
    for name, n in (("before", report.already_sent), ("busy", report.busy),
                    ("unsubscribed", report.unsubscribed),
                    ("refused_before", report.refused_before)):
        if n:
            lines.append(t[name].format(n=n))
    if report.pending or report.permanent:
        not_attempted = report.pending - report.failed
        why = [t[k].format(n=n) for k, n in (("failed", report.failed),
                                             ("not_attempted", not_attempted),
                                             ("refused", report.permanent)) if n]
        lines.append(t["pending"].format(n=report.pending + report.permanent, why="; ".join(why)))
    lines.append(next_send_line(catalog, offices, now, lang))
    return lines


def next_send_line(catalog: Catalog, offices: Sequence[Office], now: datetime, lang: str) -> str:
    from calendar_service.base.dates import format_day
    from calendar_service.mail.schedule import next_sends

    t = TEXT[lang]
    upcoming = next_sends(catalog, offices, now)
    if not upcoming:
        return t["next_none"]
    first = upcoming[0]
    together = [n for n in upcoming if n.at == first.at]
    who = first.office.id if len(together) == 1 else t["more_offices"].format(
        first=first.office.id, n=len(together) - 1)
    days = ", ".join(f"{occ.day.name.get(lang)} ({format_day(occ.date, lang, 'long')}, "
                     f"{t['lead'].format(n=lead)})" for occ, lead in first.items)
    when = f"{format_day(first.at.date(), lang)}, {first.at:%H:%M}"
    return t["next"].format(when=when, zone=first.office.timezone, who=who, days=days)


def failure_lines(report: RunReport, catalog: Catalog, lang: str, limit: int = 20) -> list[str]:
    """What was not delivered, one line per office and reason, in words."""
    t = TEXT[lang]
    lines = []
    if report.stopped:
        lines.append(t["stopped"].format(why=report.stopped))
    if not report.undelivered:
        return lines
    grouped: dict[tuple[str, str], list[tuple[str, str, str, int]]] = defaultdict(list)
    for why, key in report.undelivered:
        grouped[(key[0], why)].append(key)
    lines.append(t["undelivered"].format(n=len(report.undelivered)))
    for n, ((office, why), keys) in enumerate(sorted(grouped.items())):
        if n == limit:
            lines.append("  " + t["and_more"].format(n=len(grouped) - limit))
            break
        days = "; ".join(f"{_day_name(catalog, d, lang)} ({_when(w, lang)}, "
                         f"{t['lead'].format(n=lead)})" for _o, d, w, lead in keys)
        lines.append(f"  {office}: {days}: {t['why_' + why]}")
    lines.append(t["see_log"])
    return lines


def plan_table(report: RunReport, catalog: Catalog, lang: str) -> Any:
    """``send-due --dry-run`` as a table: office, local time, days, lead, status (rich)."""
    from rich import box
    from rich.table import Table

    t = TEXT[lang]
    table = Table(*t["headers"], box=box.SIMPLE_HEAD, header_style="bold")
    for p in report.planned:  # one row per day; the office's cells on its first row only
        if p.status == "due":
            status = t["catch_up"] if p.catch_up else t["would_send"]
        else:
            status = t["skip"].get(p.status, p.status)
        for n, (day_id, when, lead, _ahead) in enumerate(p.items):
            first = n == 0
            table.add_row(p.office_id if first else "",
                          p.local_time.strftime("%Y-%m-%d %H:%M %Z") if first else "",
                          f"{_day_name(catalog, day_id, lang)} ({_when(when, lang, 'day_month')})",
                          t["days_before"].format(n=lead), status if first else "")
    return table


def plan_total(report: RunReport, lang: str) -> str:
    t = TEXT[lang]
    if not report.planned:
        return t["plan_none"].format(when=report.as_of.isoformat())
    return t["plan_total"].format(n=report.pending, sent=report.already_sent, busy=report.busy,
                                  off=report.unsubscribed)
