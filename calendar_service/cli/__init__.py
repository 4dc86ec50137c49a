"""Stage 6, the command line: argument parsing and exit codes; each command imports lazily.

May import every stage. Handlers that only print live in ``data_commands`` and ``mail_commands``.

Exit codes: 0 success, 1 a run that did not deliver everything, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import os
import sys

from calendar_service import __version__

# Not typing.TYPE_CHECKING: importing typing (or json, datetime) would cost ``--help`` a fifth of
# its start-up, and cron starts this module every hour. Commands import what they use.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import date, datetime
    from typing import Any

    from calendar_service.base.settings import Settings

    Handler = Callable[[argparse.Namespace, Settings], int]


COMMANDS = ("check", "upcoming", "feed", "build", "cards", "serve", "daily", "send-due",
            "send-test", "init", "doctor", "preview", "log", "subscriptions", "migrate", "backup")
YEARS = range(1900, 3000)  # feeds reach two years ahead: date arithmetic must stay in range


def _date(value: str) -> date:
    from datetime import date

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; use YYYY-MM-DD") from None
    if day.year not in YEARS:
        raise argparse.ArgumentTypeError(f"{value!r}: use a year from {YEARS[0]} to {YEARS[-1]}")
    return day


def _instant(value: str) -> datetime:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO-8601 instant; use e.g. 2027-03-07T09:00-06:00") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no UTC offset; add one, e.g. -06:00 or Z")
    if moment.year not in YEARS:
        raise argparse.ArgumentTypeError(f"{value!r}: use a year from {YEARS[0]} to {YEARS[-1]}")
    return moment


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n <= 0:
        raise argparse.ArgumentTypeError("must be greater than zero")
    return n


def _days_ahead(value: str) -> int:
    n = _positive(value)
    if n > 3660:
        raise argparse.ArgumentTypeError("at most 3660 (ten years)")
    return n


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("data")
    g.add_argument("--days", metavar="FILE",
                   help="days file (default: CALENDAR_SERVICE_DAYS or the bundled days.yaml)")
    g.add_argument("--offices", metavar="FILE",
                   help="offices file (default: CALENDAR_SERVICE_OFFICES or the bundled example)")
    g.add_argument("--data-dir", metavar="DIR",
                   help="ledger, outbox and built site (default: CALENDAR_SERVICE_DATA_DIR or "
                        "~/.local/share/calendar-service)")
    return common


def _clock(parser: argparse.ArgumentParser) -> None:
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help="pretend today is this date")
    g.add_argument("--now", type=_instant, metavar="ISO-8601",
                   help="pretend it is this instant (with UTC offset)")


def _lang(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=("es", "en"),
                        help="language of the summary (default: English when LANG says so, "
                             "else Spanish)")


class _Skipped:
    """Stands for a command's parser that this run does not need: takes every call, keeps
    nothing."""

    def __getattr__(self, name: str) -> Callable[..., _Skipped]:
        return lambda *args, **kwargs: self


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or with ``command`` only that one's in full: the others are
    just named with their one-line help (what ``--help`` prints), since building sixteen
    parsers is most of what ``calendar-service --help`` costs."""
    parser = argparse.ArgumentParser(
        prog="calendar-service",
        description="International days as a subscribable calendar and as e-mail reminders with "
                    "suggested communications for state international-affairs offices.",
        epilog="Exit codes: 0 success, 1 not everything delivered, 2 bad input or usage.")
    parser.add_argument("--version", action="version", version=f"calendar-service {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common() if command is None or command in COMMANDS else None

    def add(name: str, **kwargs: str) -> Any:
        if common is not None and command in (None, name):
            return sub.add_parser(name, parents=[common], **kwargs)
        sub.add_parser(name, help=kwargs["help"], add_help=False)
        return _Skipped()

    p = add("check", help="validate the days and offices files",
                       description="Validate days.yaml and offices.yaml (and the templates); "
                                   "print every problem as FILE:LINE: field: message. Exit 0 or 2.")
    p.set_defaults(handler="calendar_service.cli.data_commands:check")

    p = add("upcoming", help="list the coming days",
                       description="List the international days of the coming weeks.")
    _clock(p)
    p.add_argument("--days-ahead", "-n", dest="ahead", type=_days_ahead, default=30, metavar="N",
                   help="how many days ahead to look (default 30, at most 3660)")
    p.add_argument("--lang", choices=("es", "en"), default="es", help="language (default es)")
    p.add_argument("--theme", action="append", metavar="ID",
                   help="only days with this theme (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler="calendar_service.cli.data_commands:upcoming")

    p = add("feed", help="write one iCalendar feed",
                       description="Write one iCalendar feed (the same bytes the site publishes) to "
                                   "a file or to standard output. Records revisions in "
                                   "DATA_DIR/feed-state.json so SEQUENCE and LAST-MODIFIED change "
                                   "only when a day's data does.")
    _clock(p)
    p.add_argument("--lang", choices=("es", "en"), default="es", help="language (default es)")
    p.add_argument("--theme", metavar="ID", help="only the days of this theme")
    p.add_argument("--alarms", action="store_true",
                   help="add a reminder (VALARM) at 09:00 the day before each day")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: standard output)")
    p.set_defaults(handler="calendar_service.publishing.feed:cmd_feed")

    p = add("build", help="write the public site as static files",
                       description="Write the whole public site (feeds, web pages, days.json) to "
                                   "DIR, replacing the previous build (written beside it, then "
                                   "swapped in with two renames). Any web server or CDN can "
                                   "serve it.")
    _clock(p)
    p.add_argument("dir", nargs="?", metavar="DIR",
                   help="target folder (default: DATA_DIR/site)")
    p.set_defaults(handler="calendar_service.publishing.site:cmd_build")

    p = add("cards", help="draw the image cards; a contact sheet",
                       description="Draw every image card of the site (each day, language and "
                                   "size; days defined by a rule, per year) into the cache in "
                                   "DATA_DIR/cache/cards, reusing the cards already drawn, and "
                                   "with --sheet write all of them on one PNG for review.")
    _clock(p)
    p.add_argument("--sheet", metavar="FILE", help="write a contact sheet of every card (PNG)")
    p.set_defaults(handler="calendar_service.publishing.cards.sheet:cmd_cards")

    p = add("serve", help="serve the site and feeds over HTTP",
                       description="Serve the same paths as 'build' from memory (Starlette + "
                                   "uvicorn), plus /healthz, and send the reminders due: a sweep "
                                   "at start-up, every few minutes and at each office's send time. "
                                   "Reloads the data files when they change or on SIGHUP (a bad "
                                   "edit keeps the last good data). --now replays from that "
                                   "instant with a clock that keeps ticking.")
    _clock(p)
    p.add_argument("--host", help="address to listen on (default: CALENDAR_SERVICE_HOST or "
                                  "127.0.0.1)")
    p.add_argument("--port", type=_port, help="port (default: CALENDAR_SERVICE_PORT or 8000; "
                                              "0 picks a free one)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument("--no-send", action="store_true",
                   help="serve the site alone: never send a reminder (e.g. a public mirror)")
    p.set_defaults(handler="calendar_service.runs.runtime:cmd_serve")

    p = add("daily", help="the cron job: check, build the site, send",
                       description="Validate the data, rebuild the public site into DATA_DIR/site, "
                                   "send the reminders due now (or write them to the outbox) and "
                                   "print a short summary. Run it hourly from cron. Exit 0, 1 when "
                                   "something was not delivered, 2 on bad input.")
    _clock(p)
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print nothing on success (the default when not on a terminal)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="if another run holds the lock, wait this long for it (default: leave "
                        "at once)")
    _lang(p)
    p.set_defaults(handler="calendar_service.runs.daily:cmd_daily")

    p = add("send-due", help="send the e-mail reminders due now",
                       description="Send every reminder due now, each office on its own clock "
                                   "(send_time on date - lead). Through SMTP when "
                                   "CALENDAR_SERVICE_SMTP_URL is set, else .eml files in the "
                                   "outbox. The ledger makes sure nothing goes out twice. Exit 0, "
                                   "or 1 listing what is still pending.")
    _clock(p)
    p.add_argument("--dry-run", action="store_true",
                   help="only show a table of who would get what, at which local time; send "
                        "nothing")
    p.add_argument("--catch-up", action="store_true",
                   help="also send what is still useful among the reminders scheduled before "
                        "an office (or one of its leads) first appeared: a fresh install or a "
                        "new office otherwise gets only its next scheduled reminder")
    _lang(p)
    p.set_defaults(handler="calendar_service.cli.send_commands:cmd_send_due")

    p = add("send-test", help="send one sample reminder to an address",
                       description="Send one real message, through the configured relay (or the "
                                   "outbox), to ADDRESS only: the next reminder an office would "
                                   "get on schedule, marked as a test in its subject and body. "
                                   "Nothing is recorded in the ledger. Exit 0 when the relay "
                                   "accepted it, 1 when not, 2 on bad input or unsafe settings.")
    _clock(p)
    p.add_argument("address", metavar="ADDRESS", help="where to send the sample")
    p.add_argument("--office", metavar="ID", help="whose next reminder (default: the first office)")
    p.set_defaults(handler="calendar_service.cli.send_commands:cmd_send_test")

    p = add("init", help="write your own copies of the data files",
                       description="Copy the bundled days.yaml, offices.yaml and templates/ into "
                                   "the data folder (or DIR) to edit them; from then on every "
                                   "command reads those copies. Existing copies are never "
                                   "overwritten without --force.")
    p.add_argument("dir", nargs="?", metavar="DIR",
                   help="where to write them (default: the data folder)")
    p.add_argument("--force", action="store_true", help="overwrite existing copies")
    p.set_defaults(handler="calendar_service.cli.setup_commands:cmd_init")

    p = add("doctor", help="check a deployment; send nothing",
                       description="Check that the deployment is ready to send real reminders, "
                                   "without sending anything: public BASE_URL, SMTP relay (connect, "
                                   "EHLO, STARTTLS, AUTH), sender and office addresses, unsubscribe "
                                   "secret, ledger, data files, time zone data, and the next "
                                   "scheduled sends. One line per check. Exit 0 only when ready.")
    _clock(p)
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="bound on each network check (default 10)")
    p.set_defaults(handler="calendar_service.cli.setup_commands:cmd_doctor")

    p = add("preview", help="show one reminder exactly as sent",
                       description="Render the message an office receives for a day, through the "
                                   "same code as send-due, as it would go out at its scheduled "
                                   "time (other days due then are grouped in, as in a real run).")
    _clock(p)
    p.add_argument("day", metavar="DAY_ID", help="a day id of days.yaml, e.g. world-water-day")
    p.add_argument("--office", metavar="ID", help="office id (default: the first office)")
    p.add_argument("--lead", type=int, metavar="N",
                   help="days ahead, one of the leads of offices.yaml (default: the office's "
                        "longest lead)")
    p.add_argument("--format", choices=("text", "html", "eml"), default="text",
                   help="text part, HTML part, or the whole message (default text)")
    p.set_defaults(handler="calendar_service.cli.mail_commands:cmd_preview")

    p = add("log", help="what was sent, failed or is pending",
                       description="List the reminder ledger, newest first.")
    p.add_argument("--status", action="append", metavar="STATUS",
                   choices=("pending", "claimed", "sent", "failed", "permanent-failure",
                            "expired", "superseded", "unsubscribed"),
                   help="only this status (repeatable): pending, claimed, sent, failed, "
                        "permanent-failure, expired, superseded, unsubscribed")
    p.add_argument("--office", metavar="ID", help="only this office")
    p.add_argument("--limit", type=_positive, default=100, metavar="N",
                   help="at most N rows (default 100)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler="calendar_service.cli.mail_commands:cmd_log")

    p = add("subscriptions", help="offices that unsubscribed from the reminders; undo it",
                       description="List the offices that unsubscribed (through the one-click "
                                   "link of a reminder, or recorded here after a request to the "
                                   "mailto address), with when. Their reminders are recorded as "
                                   "'unsubscribed' and never sent. Exit 2 for an unknown office.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resubscribe", metavar="OFFICE_ID",
                   help="send reminders to this office again")
    g.add_argument("--unsubscribe", metavar="OFFICE_ID",
                   help="stop sending reminders to this office (e.g. it asked by e-mail)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler="calendar_service.cli.mail_commands:cmd_subscriptions")

    p = add("migrate", help="upgrade the ledger's schema",
                       description="Bring the ledger to this release's schema (Alembic revisions). "
                                   "send-due, daily and serve do it by themselves; a SQLite ledger "
                                   "is first copied beside its file (ledger.sqlite3.bak-REV-TIME). "
                                   "On PostgreSQL one instance upgrades while the others wait. "
                                   "Exit 2 for a ledger upgraded by a newer release.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--status", action="store_true",
                   help="show the ledger's revision and this release's; change nothing")
    g.add_argument("--dry-run", action="store_true",
                   help="show what an upgrade would apply; change nothing")
    p.set_defaults(handler="calendar_service.cli.ledger_commands:cmd_migrate")

    p = add("backup", help="copy the SQLite ledger safely",
                       description="Write a consistent copy of the SQLite ledger to FILE while "
                                   "runs go on (SQLite's online backup). Restoring it never "
                                   "resends what it recorded. For PostgreSQL use pg_dump.")
    p.add_argument("file", metavar="FILE", help="where to write the copy")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(handler="calendar_service.cli.ledger_commands:cmd_backup")

    return parser


def _port(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError("a port is 0 to 65535")
    return n


def _resolve(spec: str) -> Handler:
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _command(argv: Sequence[str]) -> str:
    """The command named on the line ("" for none): the top level has no option with a value,
    so it is the first word that is not an option."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    from calendar_service.base.errors import CalendarServiceError

    try:
        from calendar_service.base.files import set_read_limits
        from calendar_service.base.settings import load_settings

        settings = load_settings({"days": args.days, "offices": args.offices,
                                  "data_dir": args.data_dir})
        set_read_limits(settings.read_limits)
        return _resolve(args.handler)(args, settings)
    except CalendarServiceError as exc:
        print(f"error: {exc}" if "\n" not in str(exc) else str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so briefly, keep the traceback for debugging
        if os.environ.get("CALENDAR_SERVICE_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc} "
              "(set CALENDAR_SERVICE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


def print_json(data: object) -> None:
    import json

    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
