"""Handlers of ``migrate`` and ``backup``: looking after the ledger itself (its schema, its copies)."""

from __future__ import annotations

import argparse
from pathlib import Path

from calendar_service.base.errors import ConfigError
from calendar_service.base.settings import Settings, redact_url


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Show or bring the ledger's schema to this release's revision (sending commands do it too)."""
    from calendar_service.mail.ledger.schema import database_errors, open_engine
    from calendar_service.mail.ledger.store import utcnow
    from calendar_service.mail.ledger.upgrade import UNVERSIONED, migrate, newer_error, status

    url = settings.database_url
    with database_errors(url):
        engine = open_engine(url)
        try:
            state = status(engine)
            shown = {None: "none (empty database)",
                     UNVERSIONED: "unversioned (made by calendar-service 0.1.0)"}.get(
                         state.current, state.current)
            if args.status or args.dry_run:
                print(f"ledger: {redact_url(url)}")
                print(f"revision: {shown}")
                print(f"this release: {state.head}")
            if not state.usable:
                raise newer_error(str(state.current))
            if state.newer:
                print(f"the ledger is newer than this release, which can still use it (the "
                      f"migrations since {state.readable_from} only added); nothing to do")
                return 0
            if args.status:
                print("up to date" if not state.pending else
                      f"to apply: {', '.join(state.pending)} (calendar-service migrate)")
                return 0
            if args.dry_run:
                print("up to date: nothing to do" if not state.pending else
                      f"would apply: {', '.join(state.pending)}"
                      + (" after a backup beside the file" if engine.dialect.name == "sqlite"
                         and state.current is not None else ""))
                return 0
            done = migrate(engine, clock=utcnow)
        finally:
            engine.dispose()
    if done.before == done.after:
        print(f"the ledger is at revision {done.after}: up to date")
        return 0
    before = {None: "an empty database", UNVERSIONED: "an unversioned (0.1.0) ledger"}.get(
        done.before, f"revision {done.before}")
    print(f"upgraded the ledger from {before} to revision {done.after}"
          + (f"; backup: {done.backup}" if done.backup else ""))
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Copy a SQLite ledger consistently while runs go on; PostgreSQL has pg_dump for that."""
    from calendar_service.mail.ledger.backup import copy_sqlite, sqlite_path

    url = settings.database_url
    source = sqlite_path(url)
    if source is None:
        raise ConfigError(f"the ledger is on {redact_url(url).split(':', 1)[0]}, not in a SQLite "
                          "file: back it up with pg_dump, e.g. pg_dump --format=custom "
                          f"--file {args.file} '{redact_url(url)}' (see docs/operations.md, "
                          "«Upgrades and backups»)")
    target = Path(args.file).expanduser()
    copy_sqlite(source, target, overwrite=args.force)
    print(f"copied the ledger {source} to {target}")
    return 0
