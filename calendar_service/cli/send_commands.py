"""Handlers of ``send-due`` and ``send-test``: the commands that send real mail."""

from __future__ import annotations

import argparse
import logging
import sys

from calendar_service.base.errors import DataError, Problem
from calendar_service.base.settings import Settings, redact_url
from calendar_service.mail.safety import refuse_unsafe

log = logging.getLogger("calendar_service.cli.send")


def where(settings: Settings) -> str:
    return (f"SMTP {redact_url(settings.smtp_url)}" if settings.smtp_url
            else f"outbox {settings.outbox}")


def cmd_send_due(args: argparse.Namespace, settings: Settings) -> int:
    from calendar_service.base.clock import now_from
    from calendar_service.base.logs import configure_logging
    from calendar_service.data.loader import load_all
    from calendar_service.mail.sending import progress_bar, send_due
    from calendar_service.runs.summary import failure_lines, run_summary, user_language

    configure_logging(settings)
    catalog, offices = load_all(settings.days, settings.offices)
    now = now_from(args)
    lang = user_language(args.lang)
    if args.dry_run:
        _print_plan(settings, catalog, offices, now, lang, args.catch_up)
        return 0
    refuse_unsafe(settings, offices)
    progress, finish = progress_bar()
    try:
        report = send_due(settings, catalog, offices, now, progress=progress, handle_signals=True,
                          catch_up=args.catch_up)
    finally:
        finish()
    if report.sent or report.failed or report.permanent or report.pending or report.interrupted:
        log.info("event=run-finished transport=%r %s", report.transport, report.summary())
    if sys.stdout.isatty():
        for line in run_summary(report, catalog, offices, now, lang, where(settings)):
            print(line)
    for line in failure_lines(report, catalog, lang, limit=50):
        print(line, file=sys.stderr)
    return report.exit_code


def _print_plan(settings: Settings, catalog, offices, now, lang: str,  # type: ignore[no-untyped-def]
                catch_up: bool = False) -> None:
    from rich.console import Console

    from calendar_service.mail.safety import send_blockers
    from calendar_service.mail.sending import send_due
    from calendar_service.runs.summary import plan_table, plan_total

    report = send_due(settings, catalog, offices, now, dry_run=True, catch_up=catch_up)
    # Piped or under cron, a fixed width keeps each row on one line for grep.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    if report.planned:
        console.print(plan_table(report, catalog, lang))
    console.print(plan_total(report, lang))
    blockers = send_blockers(settings, offices)
    if blockers:
        print("A real run would send nothing until these are fixed:" if lang == "en" else
              "Una ejecución real no enviaría nada hasta corregir esto:")
        for reason in blockers:
            print(f"  - {reason}")


def cmd_send_test(args: argparse.Namespace, settings: Settings) -> int:
    """One real sample message to one address; nothing recorded in the ledger."""
    import asyncio
    from dataclasses import replace

    from calendar_service.base.clock import now_from
    from calendar_service.base.logs import configure_logging
    from calendar_service.base.text import EMAIL_RE
    from calendar_service.data.loader import load_all
    from calendar_service.data.model import Reminder
    from calendar_service.mail.compose import Composer
    from calendar_service.mail.delivery import transport_for
    from calendar_service.mail.ledger import SENT
    from calendar_service.mail.reminders import Batch, DueReminder
    from calendar_service.mail.schedule import next_sends

    configure_logging(settings)
    address = args.address.strip()
    if not EMAIL_RE.match(address) or not address.isascii():
        raise DataError([Problem("ADDRESS", None, "", f"{args.address!r} is not an e-mail address")])
    catalog, offices = load_all(settings.days, settings.offices)
    if not offices:
        raise DataError([Problem(str(settings.offices), None, "", "no offices")])
    office = offices[0]
    if args.office:
        from calendar_service.cli.mail_commands import find_office

        office = find_office(args.office, offices, "--office")
    refuse_unsafe(settings, recipients=[address])
    upcoming = next_sends(catalog, [office], now_from(args))
    if not upcoming:
        raise DataError([Problem("--office", None, "", f"{office.id} has no reminder scheduled "
                                                       "within a year: nothing to show")])
    nxt = upcoming[0]
    sample = replace(office, emails=(address,))
    items = tuple(DueReminder(Reminder(sample, occ, lead), nxt.at, (occ.date - nxt.at.date()).days)
                  for occ, lead in nxt.items)
    msg = Composer(settings).message(Batch(sample, items, nxt.at), nxt.at, test=True)

    async def deliver():  # type: ignore[no-untyped-def]
        session = transport_for(settings).session()
        try:
            return await session.send(msg)
        finally:
            await session.close()

    result = asyncio.run(deliver())
    if result.status == SENT and not result.refused:
        print(f"test message sent to {address} through {where(settings)}: «{msg.subject}» "
              f"(the reminder {office.id} gets on {nxt.at:%Y-%m-%d %H:%M %Z}) "
              f"{result.reply or ''}".rstrip())
        return 0
    why = result.error or "; ".join(f"{a}: {r}" for a, r in (result.refused or {}).items())
    print(f"test message NOT delivered to {address} through {where(settings)}: {why}",
          file=sys.stderr)
    return 1
