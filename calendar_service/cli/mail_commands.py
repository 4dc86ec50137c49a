"""Handlers of ``preview``, ``log`` and ``subscriptions``: the coordinator's reminder commands
(all read only, but for ``subscriptions --resubscribe/--unsubscribe``)."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence

from calendar_service.base.errors import DataError, Problem
from calendar_service.base.settings import Settings
from calendar_service.data.model import Office


def cmd_preview(args: argparse.Namespace, settings: Settings) -> int:
    from calendar_service.base.clock import today_from
    from calendar_service.data.loader import MAX_LEAD_DAYS, load_all
    from calendar_service.mail.compose import Composer
    from calendar_service.mail.reminders import scheduled_at, scheduled_batch
    from calendar_service.occurrences import next_occurrence

    catalog, offices = load_all(settings.days, settings.offices)
    day = catalog.day(args.day)
    if day is None:
        close = difflib.get_close_matches(args.day, [d.id for d in catalog.days], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DataError([Problem("DAY_ID", None, "", f"unknown day {args.day!r}{hint}; "
                                                     "`calendar-service upcoming` lists them")])
    if not offices:
        raise DataError([Problem(str(settings.offices), None, "", "no offices")])
    office = offices[0]
    if args.office:
        office = find_office(args.office, offices, "--office")
    elif args.lead is not None:  # the first office that uses that lead and gets that day
        office = next((o for o in offices if args.lead in o.lead_days and o.wants(day)), office)
    if not office.wants(day):
        raise DataError([Problem("--office", None, "", f"office {office.id!r} does not receive "
                                 f"{day.id!r}: its themes are {', '.join(sorted(office.themes))}")])
    lead = max(office.lead_days) if args.lead is None else args.lead
    if not 0 <= lead <= MAX_LEAD_DAYS:
        raise DataError([Problem("--lead", None, "", f"{lead} is not between 0 and {MAX_LEAD_DAYS}")])
    if lead not in office.lead_days:
        used = sorted({n for o in offices for n in o.lead_days}, reverse=True)
        whose = (f"office {office.id!r} uses {', '.join(map(str, office.lead_days))}"
                 if args.office and lead in used else
                 f"no office uses it; the leads in {settings.offices} are "
                 f"{', '.join(map(str, used))}")
        raise DataError([Problem("--lead", None, "", f"no reminder goes {lead} days ahead: "
                                                     f"{whose}")])
    when = next_occurrence(day, today_from(args))
    if when is None:
        raise DataError([Problem("DAY_ID", None, "", f"{day.id!r} has no coming occurrence")])
    instant = scheduled_at(office, when, lead)
    batch = scheduled_batch(catalog, office, instant)
    if batch is None:  # cannot happen for a wanted day; keep the message honest if it does
        raise DataError([Problem("DAY_ID", None, "", "nothing would be sent")])
    msg = Composer(settings).message(batch, instant)
    if args.format == "eml":
        sys.stdout.buffer.write(msg.data)
        sys.stdout.flush()
        return 0
    import email
    from email import policy

    parsed = email.message_from_bytes(msg.data, policy=policy.default)
    part = parsed.get_body(("plain",) if args.format == "text" else ("html",))
    assert part is not None
    if args.format == "text":
        sys.stdout.write(f"Subject: {parsed['Subject']}\nTo: {parsed['To']}\n"
                         f"Date: {parsed['Date']}\n\n")
    sys.stdout.write(part.get_content())
    return 0


def find_office(office_id: str, offices: Sequence[Office], what: str) -> Office:
    """The office with that id, or a usage error with a did-you-mean."""
    for office in offices:
        if office.id == office_id:
            return office
    raise _office_problem(office_id, [o.id for o in offices], what)


def cmd_log(args: argparse.Namespace, settings: Settings) -> int:
    from calendar_service.cli import print_json
    from calendar_service.mail.ledger import Ledger

    with Ledger.from_settings(settings, upgrade=False) as ledger:
        if args.office and not ledger.entries(office=args.office, limit=1):
            _known_office_or_fail(args.office, settings)
        entries = ledger.entries(statuses=args.status or (), office=args.office, limit=args.limit)
        last = ledger.last_run()
        counts = ledger.counts()
        unsubscribed = ledger.unsubscriptions()
    if args.json:
        print_json({"entries": [e.as_json() for e in entries], "counts": counts,
                    "unsubscribed": [u.as_json() for u in unsubscribed],
                    "last_run": None if last is None else {
                        "started_at": last.started_at.isoformat(),
                        "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                        "sent": last.sent, "failed": last.failed, "pending": last.pending,
                        "ok": last.ok}})
        return 0
    if not entries:
        print("the ledger has no matching reminders")
    for e in entries:
        detail = e.error or e.reply or ""
        if e.refused:
            detail += " refused: " + "; ".join(f"{a} {why}" for a, why in e.refused.items())
        print(f"{e.updated_at.strftime('%Y-%m-%d %H:%M:%SZ')}  {e.status:<17}  {e.office_id}  "
              f"{e.day_id}  {e.occurrence_date.isoformat()}  lead {e.lead}  "
              f"attempts {e.attempts}  {detail}".rstrip())
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"total: {summary or 'empty'}")
    if last is not None:
        print(f"last run: {last.started_at.isoformat()} sent {last.sent}, failed {last.failed}, "
              f"pending {last.pending}, {'ok' if last.ok else 'NOT ok'}")
    if unsubscribed:
        print(f"unsubscribed (nothing is sent to them): "
              f"{', '.join(u.office_id for u in unsubscribed)} (calendar-service subscriptions)")
    return 0


def _known_office_or_fail(office_id: str, settings: Settings) -> None:
    """``log --office`` for an office neither in the offices file nor in the ledger: a typo."""
    from calendar_service.data.loader import load_offices

    try:
        known = [o.id for o in load_offices(settings.offices)]
    except DataError:
        known = []
    if office_id not in known:
        raise _office_problem(office_id, known, "--office")


def _office_problem(office_id: str, known: list[str], what: str) -> DataError:
    close = difflib.get_close_matches(office_id, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return DataError([Problem(what, None, "", f"unknown office {office_id!r}{hint}; the ids are "
                                              "those of the offices file")])


def cmd_subscriptions(args: argparse.Namespace, settings: Settings) -> int:
    """List the offices that unsubscribed; --resubscribe / --unsubscribe change one."""
    from calendar_service.cli import print_json
    from calendar_service.data.loader import load_offices
    from calendar_service.mail.ledger import Ledger

    offices = {o.id: o for o in load_offices(settings.offices)}
    writes = bool(args.resubscribe or args.unsubscribe)
    with Ledger.from_settings(settings, upgrade=writes) as ledger:
        if args.resubscribe:
            office_id = args.resubscribe
            if office_id not in offices and ledger.unsubscription(office_id) is None:
                raise _office_problem(office_id, list(offices), "--resubscribe")
            if ledger.resubscribe(office_id):
                print(f"{office_id}: subscribed again; the next run sends its reminders (those "
                      "it missed while still ahead, as late notices)")
            else:
                print(f"{office_id}: was not unsubscribed; nothing to do")
            return 0
        if args.unsubscribe:
            office_id = args.unsubscribe
            if office_id not in offices:
                raise _office_problem(office_id, list(offices), "--unsubscribe")
            entry, created = ledger.unsubscribe(office_id, "cli")
            when = entry.unsubscribed_at.strftime("%Y-%m-%d %H:%M:%SZ")
            print(f"{office_id}: unsubscribed{'' if created else ' already'} since {when}; "
                  "nothing more is sent to it")
            return 0
        entries = ledger.unsubscriptions()
    if args.json:
        print_json({"offices": len(offices),
                    "unsubscribed": [{**u.as_json(),
                                      "name": offices[u.office_id].name
                                      if u.office_id in offices else None,
                                      "known": u.office_id in offices} for u in entries]})
        return 0
    if not entries:
        print(f"all {len(offices)} offices are subscribed")
        return 0
    for u in entries:
        office = offices.get(u.office_id)
        name = office.name if office else "(no longer in the offices file)"
        print(f"{u.unsubscribed_at.strftime('%Y-%m-%d %H:%M:%SZ')}  {u.office_id}  via {u.via}  "
              f"{name}")
    known = sum(1 for u in entries if u.office_id in offices)
    print(f"{known} of {len(offices)} offices unsubscribed; undo with "
          "calendar-service subscriptions --resubscribe OFFICE_ID")
    return 0
