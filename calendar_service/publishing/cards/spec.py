"""What each card shows, decided from the data alone (no Pillow): names, dates, line, hashtag.

A card is one (day, language, size), plus the year for days defined by a rule (their date moves)
and an office's signature for the cards attached to its reminders. ``CardSpec.key`` hashes
everything drawn, so the cache and the site know exactly when a card must be drawn again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date

from calendar_service.data.model import LANGUAGES, Catalog, Day
from calendar_service.publishing.cards.palette import card_colors

# Sizes the networks use: link previews / X / Facebook, Instagram / WhatsApp, stories.
SIZES: dict[str, tuple[int, int]] = {"1200x630": (1200, 630), "1080x1080": (1080, 1080),
                                     "1080x1920": (1080, 1920)}
PREVIEW = "1200x630"  # the one Open Graph and Twitter meta tags point to
RENDERER_VERSION = "2"  # bump when drawing changes, so every cached card is drawn again
CARD_DIR = "/cards"
# How people write a date without the weekday; a year only on cards of days whose date moves.
_DATE = {"es": "d 'de' MMMM", "en": "d MMMM"}
_DATE_YEAR = {"es": "d 'de' MMMM 'de' y", "en": "d MMMM y"}


@dataclass(frozen=True)
class CardSpec:
    day_id: str
    lang: str
    size: str
    name: str
    date_text: str
    line: str  # may be ""
    line_given: bool  # card_line was written for the card (must fit) rather than borrowed
    hashtag: str
    background: str
    foreground: str
    year: int | None = None  # only for days defined by a rule
    signature: str = ""
    source_line: int | None = None  # days.yaml line of the day, for check

    @property
    def dimensions(self) -> tuple[int, int]:
        return SIZES[self.size]

    @property
    def path(self) -> str:
        """URL path on the site (cards with a signature live only in e-mails)."""
        year = f"-{self.year}" if self.year is not None else ""
        return f"{CARD_DIR}/{self.day_id}{year}-{self.lang}-{self.size}.png"

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[1]

    def drawn(self) -> dict[str, object]:
        """Everything that changes pixels."""
        out = asdict(self)
        out.pop("source_line")
        out.pop("day_id")
        return out

    def key(self, font_digest: str) -> str:
        raw = json.dumps([RENDERER_VERSION, font_digest, self.drawn()], sort_keys=True,
                         ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def public_name(day: Day, lang: str) -> str:
    official = day.official_name.only(lang) if day.official_name else None
    return official or day.name.get(lang)


def date_text(day: Day, lang: str, year: int | None) -> str:
    from babel.dates import format_date

    if year is not None:
        from calendar_service.occurrences import day_dates

        dates = day_dates(day, date(year, 1, 1), date(year + 1, 1, 1))
        return format_date(dates[0], _DATE_YEAR[lang], locale=lang) if dates else ""
    assert day.month_day is not None
    month, dom = day.month_day
    return format_date(date(2000, month, dom), _DATE[lang], locale=lang)  # 2000: a leap year


def card_spec(day: Day, lang: str, size: str, *, year: int | None = None, signature: str = ""
              ) -> CardSpec | None:
    """The card of a day in a language and size; None when the day has no content in it.

    ``year`` matters only for days defined by a rule (their cards are per year).
    """
    content = day.content.get(lang)
    if content is None:
        return None
    rule_year = year if day.month_day is None else None
    if day.month_day is None and rule_year is None:
        return None
    background, foreground = card_colors(day.sdgs, tuple(t.color for t in day.themes))
    line = content.card_line or (content.key_messages[0] if content.key_messages else "")
    return CardSpec(
        day_id=day.id, lang=lang, size=size, name=public_name(day, lang),
        date_text=date_text(day, lang, rule_year), line=line, line_given=bool(content.card_line),
        hashtag=content.hashtags[0] if content.hashtags else "", background=background,
        foreground=foreground, year=rule_year, signature=signature, source_line=day.line)


def day_cards(day: Day, lang: str, year: int | None, *, signature: str = "") -> list[CardSpec]:
    """The day's cards in one language for one year's occurrence, every size."""
    out = [card_spec(day, lang, size, year=year, signature=signature) for size in SIZES]
    return [c for c in out if c is not None]


def site_years(today: date) -> range:
    """Years for which rule-defined days get cards: this one and the next two (the feed's
    window ahead)."""
    return range(today.year, today.year + 3)


def catalog_cards(catalog: Catalog, today: date, langs: Iterable[str] = LANGUAGES
                  ) -> list[CardSpec]:
    """Every card the site publishes."""
    out: list[CardSpec] = []
    for day in catalog.days:
        years: Iterable[int | None] = site_years(today) if day.month_day is None else (None,)
        for year in years:
            for lang in langs:
                out.extend(day_cards(day, lang, year))
    return out
