"""Frozen values the rest of the service passes around: days, offices, occurrences, reminders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from functools import cached_property

from calendar_service.base.text import CONTROL_CHARS, has_control  # noqa: F401  (re-exported)

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"


@dataclass(frozen=True)
class Text:
    """A string in Spanish (always present) and English (optional: falls back to Spanish)."""

    es: str
    en: str | None = None

    def get(self, lang: str) -> str:
        if lang == "en" and self.en:
            return self.en
        return self.es


@dataclass(frozen=True)
class Theme:
    id: str
    label: Text
    color: str | None = None  # "#RRGGBB" for the day's cards when it has no SDG


@dataclass(frozen=True)
class Body:
    """Who proclaimed or observes a day; ``un`` says honestly whether it is a UN body."""

    id: str
    label: Text
    un: bool
    by: Text | None = None

    def agent(self, lang: str) -> str:
        """The body as the agent of a sentence («la Asamblea General…»); the label if not given."""
        return self.by.get(lang) if self.by else self.label.get(lang)


@dataclass(frozen=True)
class Links:
    """A value per language, either optional: a day's official page (``get`` falls back to the
    other language) or its official name (``only``: no fallback)."""

    es: str | None = None
    en: str | None = None

    def only(self, lang: str) -> str | None:
        """The value in ``lang`` alone: a name is never shown in the other language."""
        return self.en if lang == "en" else self.es

    def get(self, lang: str) -> str | None:
        first, other = (self.en, self.es) if lang == "en" else (self.es, self.en)
        return first or other


@dataclass(frozen=True)
class PartialDate:
    """A decision's adoption date as precise as its source: a year, a month or a day."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def iso(self) -> str:
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def latest(self) -> date:
        """The last date the decision can have been adopted on, given the precision."""
        if self.month is None:
            return date(self.year, 12, 31)
        if self.day is None:
            nxt = date(self.year + (self.month == 12), self.month % 12 + 1, 1)
            return date.fromordinal(nxt.toordinal() - 1)
        return date(self.year, self.month, self.day)

    def earliest(self) -> date:
        return date(self.year, self.month or 1, self.day or 1)

    def __str__(self) -> str:
        return self.iso


@dataclass(frozen=True)
class Source:
    """Where a fact was read: an https address and, for a secondary source, why it is used."""

    url: str
    note: Text | None = None


@dataclass(frozen=True)
class Content:
    """Suggested communications for one day in one language."""

    summary: str
    why: str = ""
    key_messages: tuple[str, ...] = ()
    posts: tuple[str, ...] = ()
    press_line: str = ""
    hashtags: tuple[str, ...] = ()
    card_line: str = ""  # the short line of the day's image cards (else the first key message)


@dataclass(frozen=True)
class YearOverride:
    """What the UN announces for one year (often late): used only when present."""

    theme: Text | None = None
    key_messages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    url: str | None = None


@dataclass(frozen=True)
class Day:
    id: str
    name: Text
    annex: bool
    month_day: tuple[int, int] | None = None
    rule: str | None = None
    official_name: Links | None = None
    proclaimed_by: Body | None = None
    resolution: str | None = None
    proclaimed: PartialDate | None = None
    since: int | None = None
    observed_before_proclamation: bool = False
    sources: tuple[Source, ...] = ()
    verified: date | None = None
    note: Text | None = None
    themes: tuple[Theme, ...] = ()
    sdgs: tuple[int, ...] = ()
    url: Links | None = None
    content: Mapping[str, Content] = field(default_factory=dict)
    years: Mapping[int, YearOverride] = field(default_factory=dict)
    order: int = 0
    line: int | None = None
    field_lines: Mapping[str, int] = field(default_factory=dict)  # e.g. "content.es.card_line"

    def link(self, lang: str, year: int | None = None) -> str | None:
        """The official page for ``lang``: a year's own page first, then the day's."""
        override = self.override_for(year) if year is not None else None
        if override is not None and override.url:
            return override.url
        return self.url.get(lang) if self.url else None

    def origin(self, lang: str) -> dict[str, object]:
        """The facts of the day's origin for the ``origin`` sentence of the words templates.

        ``kind`` is "proclaimed" (a UN body and its decision's date or symbol), "un" (a UN body,
        no decision on record), "other" (not a UN day) or "" (no body on record).
        """
        body = self.proclaimed_by
        kind = "" if body is None else "other" if not body.un else \
            "proclaimed" if self.proclaimed or self.resolution else "un"
        return {"kind": kind, "by": body.agent(lang) if body else "",
                "year": self.proclaimed.year if self.proclaimed else None,
                "resolution": short_symbol(self.resolution) if self.resolution else "",
                "since": self.since, "before": self.observed_before_proclamation}

    def content_for(self, lang: str) -> Content | None:
        return self.content.get(lang) or self.content.get(DEFAULT_LANGUAGE)

    def override_for(self, year: int) -> YearOverride | None:
        return self.years.get(year)

    def theme_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.themes)

    @property
    def digest(self) -> str:
        """A hash of everything published about the day: it changes exactly when the data does."""
        return _digest(self)


def short_symbol(symbol: str) -> str:
    """How texts cite a decision: «resolución 47/193» for A/RES/47/193, «1/79» for Resolution 1/79."""
    for prefix in ("A/RES/", "Resolution "):
        if symbol.startswith(prefix):
            return symbol[len(prefix):]
    return symbol


def _plain(value: object) -> object:
    if isinstance(value, Text):
        return {"es": value.es, "en": value.en}
    if isinstance(value, (Theme, Body)):
        return value.id
    if isinstance(value, (Content, YearOverride, Links, Source)):
        return {k: _plain(v) for k, v in value.__dict__.items()}
    if isinstance(value, PartialDate):
        return value.iso
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _digest(day: Day) -> str:
    data = {k: _plain(v) for k, v in day.__dict__.items() if k not in ("order", "line", "field_lines")}
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Catalog:
    """Everything days.yaml declares, validated."""

    themes: Mapping[str, Theme]
    bodies: Mapping[str, Body]
    days: tuple[Day, ...]
    source: str = "days.yaml"
    version: str = ""

    def day(self, day_id: str) -> Day | None:
        for d in self.days:
            if d.id == day_id:
                return d
        return None


@dataclass(frozen=True)
class Office:
    id: str
    name: str
    state: str
    emails: tuple[str, ...]
    timezone: str
    language: str = DEFAULT_LANGUAGE
    themes: frozenset[str] = frozenset()
    lead_days: tuple[int, ...] = (14, 3)
    send_time: time = time(9, 0)
    signature: str = ""  # drawn on the image cards attached to this office's reminders
    cards: bool = True  # attach image cards to the reminders
    line: int | None = None

    def wants(self, day: Day) -> bool:
        """Empty ``themes`` means every day."""
        return not self.themes or bool(self.themes & day.theme_ids())


@dataclass(frozen=True)
class Occurrence:
    """A day on a calendar date: a date, never an instant, so it is all-day everywhere."""

    day: Day
    date: date

    @property
    def uid_key(self) -> str:
        return f"{self.day.id}-{self.date.year}"


@dataclass(frozen=True)
class Reminder:
    """One office told about one occurrence ``lead`` days ahead: the ledger's unique key."""

    office: Office
    occurrence: Occurrence
    lead: int

    @cached_property
    def key(self) -> tuple[str, str, str, int]:
        """Asked several times per reminder as it goes through a run: built once."""
        return (self.office.id, self.occurrence.day.id, self.occurrence.date.isoformat(), self.lead)
