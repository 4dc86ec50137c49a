"""``calendar-service daily``: the cron job. Validate, rebuild the public site, send what is due.

Exit 0 when everything due was delivered, 1 when something was not (it stays pending and the
next run retries it), 2 on bad input. A second copy started while one runs waits ``--wait``
seconds for the run lock, then leaves without doing anything (the ledger would stop a double
send anyway; the lock keeps two copies from rebuilding the site at once).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime, time

from calendar_service.base.settings import Settings, redact_url

log = logging.getLogger("calendar_service.runs.daily")


def cmd_daily(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from calendar_service.base.clock import now_from, today_from
    from calendar_service.base.logs import configure_logging
    from calendar_service.runs.lock import LockBusy, run_lock

    configure_logging(settings)
    talk = not args.quiet and sys.stdout.isatty()
    if "CALENDAR_SERVICE_LOG_LEVEL" not in os.environ:
        # cron mails whatever a job prints: on success say nothing unless asked to.
        logging.getLogger("calendar_service").setLevel(logging.WARNING)
    try:
        with run_lock(settings.data_dir / "daily.lock", wait=args.wait):
            # Feed timestamps follow the date, not the hour a replay ran (see clock.now_from).
            return _run(args, settings, now_from(args), now_from(args, today_at=time(0, 0)),
                        today_from(args), talk)
    except LockBusy:
        log.warning("event=daily-skipped reason=another-run-holds-the-lock lock=%s",
                    settings.data_dir / "daily.lock")
        if talk:
            print("another calendar-service daily is running on this data folder; nothing done")
        return 0


def _run(args: argparse.Namespace, settings: Settings, now: datetime, published: datetime,
         today: date, talk: bool) -> int:
    from calendar_service.data.loader import load_all
    from calendar_service.mail.safety import refuse_unsafe
    from calendar_service.mail.sending import progress_bar, send_due
    from calendar_service.publishing.site import build_into
    from calendar_service.runs.summary import failure_lines, run_summary, user_language

    catalog, offices = load_all(settings.days, settings.offices)
    log.info("event=data-read days=%s offices=%s templates=%s", settings.days, settings.offices,
             settings.templates)
    files, _ = build_into(catalog, settings, settings.site_dir, today=today, now=published)
    log.info("event=site-built files=%d dir=%s", files, settings.site_dir)
    refuse_unsafe(settings, offices)  # the site is public anyway; no mail until it is safe
    progress, finish = progress_bar() if talk else (None, lambda: None)
    try:
        report = send_due(settings, catalog, offices, now, handle_signals=True, progress=progress)
    finally:
        finish()
    log.info("event=daily-finished %s", report.summary())
    lang = user_language(args.lang)
    if talk:
        where = (f"SMTP {redact_url(settings.smtp_url)}" if settings.smtp_url
                 else f"outbox {settings.outbox}")
        print(f"{'datos' if lang == 'es' else 'data'}: {settings.days} ({len(catalog.days)}), "
              f"{settings.offices} ({len(offices)}), {settings.templates}")
        print(f"{'sitio' if lang == 'es' else 'site'}: {files} "
              f"{'archivos en' if lang == 'es' else 'files in'} {settings.site_dir}")
        for line in run_summary(report, catalog, offices, now, lang, where):
            print(line)
    for line in failure_lines(report, catalog, lang):
        print(line, file=sys.stderr)
    return report.exit_code
