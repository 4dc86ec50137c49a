"""Handlers of the data commands (check, upcoming): read, compute, print; no parsing here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from calendar_service.base.errors import ConfigError, DataError, Problem
from calendar_service.base.settings import Settings
from calendar_service.data.model import Catalog, Office


def check(args: argparse.Namespace, settings: Settings) -> int:
    from calendar_service.base.twocores import side_by_side
    from calendar_service.data.loader import load_all

    catalog, offices = load_all(settings.days, settings.offices, complete=True)
    # The e-mails here, the site (pages, feed events) and the cards on the other core (about
    # as long: the loading is on this side): each renders every template for every day and
    # language once, and keeps nothing.
    mail, (site, cards) = side_by_side(
        lambda: _mail_problems(catalog, offices, settings),
        lambda: (_site_template_problems(catalog, settings),
                 _card_problems(catalog, offices, settings)))
    problems = mail + site + cards
    if problems:
        raise DataError(problems)
    annex = sum(1 for d in catalog.days if d.annex)
    print(f"{settings.days}: {len(catalog.days)} days ({annex} from the 2017 annex), "
          f"{len(catalog.themes)} themes: OK")
    print(f"{settings.offices}: {len(offices)} offices: OK")
    print(f"{settings.templates}: e-mails, feeds and pages render for every day: OK")
    print("cards: every name, line, hashtag and signature fits at a readable size: OK")
    return 0


def _mail_problems(catalog: Catalog, offices: Sequence[Office], settings: Settings
                   ) -> list[Problem]:
    from calendar_service.mail.compose import check_templates

    try:
        check_templates(catalog, offices, settings)
    except DataError as exc:
        return list(exc.problems)
    return []


def _card_problems(catalog: Catalog, offices: Sequence[Office], settings: Settings
                   ) -> list[Problem]:
    from calendar_service.publishing.cards.checks import card_problems

    return card_problems(catalog, offices, days_file=str(settings.days),
                         offices_file=str(settings.offices), today=datetime.now(UTC).date())


def _site_template_problems(catalog: Catalog, settings: Settings) -> list[Problem]:
    """Render every page and serialize every distinct feed event once, keeping nothing, so a
    broken page or feed template is caught by check, not by the next cron run or a reload."""
    from calendar_service.base.errors import TemplateError
    from calendar_service.publishing.cards.site_cards import planned_cards
    from calendar_service.publishing.feed import Publication
    from calendar_service.publishing.render import Renderer
    from calendar_service.publishing.site import Discard, generate
    from calendar_service.publishing.state import PublishState

    now = datetime.now(UTC)
    try:
        generate(catalog, Discard(), today=now.date(), now=now, state=PublishState(),
                 publication=Publication.from_settings(settings),
                 renderer=Renderer(settings.templates, cache=settings.template_cache_dir),
                 cards=planned_cards(catalog, now.date()))
    except TemplateError as exc:
        return [Problem(str(settings.templates), None, "", str(exc))]
    return []


def upcoming(args: argparse.Namespace, settings: Settings) -> int:
    from calendar_service.base.dates import format_day
    from calendar_service.data.loader import load_days

    if args.days and args.days.isdigit() and not Path(args.days).exists():
        raise ConfigError(f"--days is the days file in every command; for {args.days} days "
                          f"ahead write --days-ahead {args.days} (or -n {args.days})")
    from calendar_service.occurrences import occurrences

    catalog = load_days(settings.days)
    if args.theme:
        unknown = [t for t in args.theme if t not in catalog.themes]
        if unknown:
            raise DataError([Problem("--theme", None, "", f"unknown theme {t!r}; known: "
                                     f"{', '.join(catalog.themes)}") for t in unknown])
    from calendar_service.base.clock import today_from

    start = today_from(args)
    days = [d for d in catalog.days if not args.theme or d.theme_ids() & set(args.theme)]
    found = occurrences(days, start, start + timedelta(days=args.ahead))
    lang = args.lang
    if args.json:
        from calendar_service.cli import print_json

        print_json([{
            "id": o.day.id, "date": o.date.isoformat(), "name": o.day.name.get(lang),
            "official_name": o.day.official_name.only(lang) if o.day.official_name else None,
            "annex": o.day.annex, "themes": [t.id for t in o.day.themes],
            "sdgs": list(o.day.sdgs), "url": o.day.link(lang, o.date.year),
        } for o in found])
        return 0
    if not found:
        print("No hay días internacionales en ese periodo." if lang == "es"
              else "No international days in that period.")
        return 0
    rows = [(format_day(o.date, lang), o.day.name.get(lang),
             ", ".join(t.label.get(lang) for t in o.day.themes)) for o in found]
    width = max(len(r[0]) for r in rows)
    for when, name, themes in rows:
        sys.stdout.write(f"{when:<{width}}  {name}" + (f"  [{themes}]" if themes else "") + "\n")
    return 0
