"""Occurrences -> iCalendar bytes (RFC 5545), one feed per language, theme and variant.

Every event is all-day (``VALUE=DATE``, exclusive DTEND): an international day is a date, never
an instant, so no client time zone can move it. UIDs are ``{day id}-{year}@{uid_domain}``: the
same across builds, releases and hosts. SEQUENCE, LAST-MODIFIED and DTSTAMP come from the
publication state, so they move only when that day's published data does, and unchanged data
gives byte-identical feeds (stable ETags).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from calendar_service.base import paths
from calendar_service.base.errors import ConfigError, DataError, Problem
from calendar_service.base.settings import Settings
from calendar_service.data.model import LANGUAGES, Catalog, Occurrence
from calendar_service.occurrences import occurrences
from calendar_service.publishing.folding import to_ical
from calendar_service.publishing.render import Renderer
from calendar_service.publishing.state import PublishState, Revision, revise

REFRESH = timedelta(days=1)
# The VALARM variant reminds at 09:00 (the client's time) the day before: all-day events start at
# local midnight, so 15 hours earlier.
ALARM_TRIGGER = timedelta(hours=-15)
PRODID = "-//CONAGO Comision de Asuntos Internacionales//calendar-service//{lang}"
END_CALENDAR = b"END:VCALENDAR\r\n"
END_EVENT = b"END:VEVENT\r\n"


class Writer(Protocol):
    def write(self, data: bytes, /) -> Any: ...


@dataclass(frozen=True)
class Publication:
    """Where the site is published and how event UIDs are named (settings, as values)."""

    base_url: str
    uid_domain: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Publication:
        return cls(settings.base_url.rstrip("/"), settings.uid_domain)

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass(frozen=True)
class FeedSpec:
    """One feed: a language, optionally one theme, optionally with reminders (VALARM)."""

    lang: str = "es"
    theme: str | None = None
    alarms: bool = False

    @property
    def path(self) -> str:
        return paths.feed(self.lang, self.theme, self.alarms)


def feed_specs(catalog: Catalog) -> list[FeedSpec]:
    """Every feed the site publishes: all days, with reminders, and one per theme; per language."""
    return [spec for lang in LANGUAGES for spec in
            (FeedSpec(lang), FeedSpec(lang, alarms=True),
             *(FeedSpec(lang, theme) for theme in catalog.themes))]


def window(today: date) -> tuple[date, date]:
    """The previous calendar year, this one and the next two: history and room to plan."""
    return date(today.year - 1, 1, 1), date(today.year + 3, 1, 1)


def day_digests(catalog: Catalog, publication: Publication, renderer: Renderer) -> dict[str, str]:
    """What each day's events depend on: its data, its labels, the site and the templates."""
    out = {}
    for day in catalog.days:
        parts = [day.digest, publication.base_url, publication.uid_domain, renderer.fingerprint,
                 *(f"{t.id}={t.label.es}|{t.label.en}" for t in day.themes)]
        if day.proclaimed_by:
            b = day.proclaimed_by
            parts.append(f"{b.id}={b.label.es}|{b.label.en}|{b.agent('es')}|{b.agent('en')}")
        out[day.id] = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    return out


def revise_days(state: PublishState, catalog: Catalog, publication: Publication,
                renderer: Renderer, now: datetime) -> PublishState:
    return PublishState(days=revise(state.days, day_digests(catalog, publication, renderer), now),
                        files=state.files)


def check_spec(catalog: Catalog, spec: FeedSpec) -> None:
    if spec.lang not in LANGUAGES:
        raise ConfigError(f"unknown language {spec.lang!r}; use {' or '.join(LANGUAGES)}")
    if spec.theme is not None and spec.theme not in catalog.themes:
        raise DataError([Problem("--theme", None, "", f"unknown theme {spec.theme!r}; known: "
                                 f"{', '.join(catalog.themes)}")])


def build_feed(catalog: Catalog, spec: FeedSpec, *, today: date,
               revisions: Mapping[str, Revision], publication: Publication,
               renderer: Renderer) -> bytes:
    """The feed's bytes. Pure: the same arguments always give the same bytes."""
    out = io.BytesIO()
    Feeds(catalog, today=today, revisions=revisions, publication=publication,
          renderer=renderer).write([spec], lambda _spec: out)
    return out.getvalue()


class EventMemo:
    """Event bytes kept from one build to the next, for ``serve``: an event is serialized again
    only when its day's revision (whose digest covers the day's data, its labels, the feed
    templates and the site address) or its date changes. Holds the events of the last build
    only."""

    def __init__(self) -> None:
        self._previous: dict[tuple[Any, ...], bytes] = {}
        self._current: dict[tuple[Any, ...], bytes] = {}
        self.reused = 0

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        hit = self._current.get(key)
        if hit is None:
            hit = self._previous.get(key)
            if hit is not None:
                self._current[key] = hit
                self.reused += 1
        return hit

    def put(self, key: tuple[Any, ...], body: bytes) -> None:
        self._current[key] = body

    def next_build(self) -> None:
        """Forget what the last build did not use."""
        self._previous, self._current = self._current, {}
        self.reused = 0


class Feeds:
    """Every feed of one build, assembled from each distinct event serialized once.

    An event is distinct by (day, year, language, alarm): the all-days feed, the alarms feed and
    every theme feed of a language share it, so it is rendered and serialized once and its bytes
    are written to each feed that lists it. The calendar wrapper (VCALENDAR and its properties)
    is written by icalendar too, around the events. Feeds are written as they are assembled, so
    a build holds one event at a time, not the feeds.
    """

    def __init__(self, catalog: Catalog, *, today: date, revisions: Mapping[str, Revision],
                 publication: Publication, renderer: Renderer, memo: EventMemo | None = None
                 ) -> None:
        self.catalog = catalog
        self.memo = memo
        self.today = today
        self.revisions = revisions
        self.publication = publication
        self.renderer = renderer
        self.events = 0  # distinct events serialized, for checks and benchmarks
        self._forms: _EventForms | None = None  # the language being written

    def write(self, specs: Iterable[FeedSpec], open_feed: Callable[[FeedSpec], Writer]) -> None:
        """Write each feed of ``specs`` to the writer ``open_feed(spec)`` returns for it."""
        specs = list(specs)
        for spec in specs:
            check_spec(self.catalog, spec)
        start, end = window(self.today)
        found: list[Occurrence] | None = None
        for lang in LANGUAGES:
            mine = [spec for spec in specs if spec.lang == lang]
            if not mine:
                continue
            w = self.renderer.words(lang)
            outs = []
            for spec in mine:
                head, tail = self._wrapper(spec, w)
                out = open_feed(spec)
                out.write(head)
                outs.append((spec, out, tail))
            if found is None:
                found = occurrences(self.catalog.days, start, end)
            alarms: dict[str, bytes] = {}  # day id -> its VALARM: the same every year
            self._forms = _EventForms(lang, self.publication)
            for occ in found:
                themes = occ.day.theme_ids()
                plain = alarm = b""
                for spec, out, _tail in outs:
                    if spec.theme is not None and spec.theme not in themes:
                        continue
                    plain = plain or self._event(occ, lang, w)
                    if spec.alarms:
                        alarm = alarm or self._with_alarm(plain, occ, lang, w, alarms)
                        out.write(alarm)
                    else:
                        out.write(plain)
            for _spec, out, tail in outs:
                out.write(tail)
            self._forms = None

    def _wrapper(self, spec: FeedSpec, w: Any) -> tuple[bytes, bytes]:
        """The calendar's own lines as icalendar writes them, split where the events go."""
        from icalendar import Calendar, vDuration, vText, vUri

        lang = spec.lang
        theme_label = self.catalog.themes[spec.theme].label.get(lang) if spec.theme else ""
        name = str(w.calendar_name(theme_label))
        cal = Calendar()
        cal.add("prodid", PRODID.format(lang=lang.upper()))
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("name", name)
        cal.add("x-wr-calname", vText(name))
        description = str(w.calendar_description(theme_label))
        cal.add("description", description)
        cal.add("x-wr-caldesc", vText(description))
        cal.add("source", vUri(self.publication.url(spec.path)), parameters={"VALUE": "URI"})
        cal.add("url", vUri(self.publication.url(paths.home(lang))), parameters={"VALUE": "URI"})
        cal.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", vDuration(REFRESH))
        body = to_ical(cal)
        if not body.endswith(END_CALENDAR):  # icalendar always ends a component with its END
            raise AssertionError("unexpected calendar serialization")
        return body[:-len(END_CALENDAR)], END_CALENDAR

    def _event(self, occ: Occurrence, lang: str, w: Any) -> bytes:
        rev = self.revisions[occ.day.id]
        key = (occ.day.id, occ.date, lang, rev)
        if self.memo is not None and (hit := self.memo.get(key)) is not None:
            return hit
        self.events += 1
        forms = self._forms or _EventForms(lang, self.publication)
        description = _description(occ, lang, self.publication, self.renderer, w)
        body = to_ical(forms.event(occ, rev, description))
        if self.memo is not None:
            self.memo.put(key, body)
        return body

    def _with_alarm(self, plain: bytes, occ: Occurrence, lang: str, w: Any,
                    alarms: dict[str, bytes]) -> bytes:
        """The event with its VALARM, as icalendar writes it: its subcomponents follow its
        properties, just before END:VEVENT. The VALARM (written by icalendar) depends only on
        the day and language, so it is serialized once for every year."""
        self.events += 1
        valarm = alarms.get(occ.day.id)
        if valarm is None:
            forms = self._forms or _EventForms(lang, self.publication)
            valarm = alarms[occ.day.id] = to_ical(forms.alarm(occ.day.name.get(lang), w))
        if not plain.endswith(END_EVENT):  # icalendar always ends a component with its END
            raise AssertionError("unexpected event serialization")
        return plain[:-len(END_EVENT)] + valarm + END_EVENT


def _description(occ: Occurrence, lang: str, publication: Publication, renderer: Renderer,
                 w: Any) -> str:
    """The DESCRIPTION text: feed/description.txt, one paragraph per line."""
    day, year = occ.day, occ.date.year
    description = renderer.render(
        "feed/description.txt", day=day, lang=lang, year=year, override=day.override_for(year),
        content=day.content_for(lang), body=day.proclaimed_by, link=day.link(lang, year),
        page_url=publication.url(paths.day_page(lang, day.id)), w=w)
    return "\n".join(line for line in description.strip().splitlines() if line)


def _event(occ: Occurrence, spec: FeedSpec, rev: Revision, publication: Publication,
           renderer: Renderer, w: Any) -> Any:
    """One event built property by property with ``Component.add``: what ``_EventForms``
    must give byte for byte (tests/test_feed.py compares them on every shipped event)."""
    from icalendar import Event, vUri

    lang = spec.lang
    day, year = occ.day, occ.date.year
    link = day.link(lang, year)
    page_url = publication.url(paths.day_page(lang, day.id))
    summary = day.name.get(lang)
    ev = Event()
    ev.add("uid", f"{day.id}-{year}@{publication.uid_domain}")
    ev.add("dtstamp", rev.last_modified)
    ev.add("last-modified", rev.last_modified)
    ev.add("sequence", rev.sequence)
    ev.add("dtstart", occ.date)
    ev.add("dtend", occ.date + timedelta(days=1))
    ev.add("summary", summary)
    ev.add("description", _description(occ, lang, publication, renderer, w))
    if day.themes:
        ev.add("categories", [t.label.get(lang) for t in day.themes])
    ev.add("url", vUri(link or page_url), parameters={"VALUE": "URI"})
    ev.add("transp", "TRANSPARENT")
    ev.add("class", "PUBLIC")
    if spec.alarms:
        ev.add_component(_alarm(summary, w))
    return ev


class _EventForms:
    """The events of one language, each built from its day's form instead of from scratch.

    A day's event differs from year to year only in UID, DTSTART, DTEND, DESCRIPTION and URL,
    yet ``Component.add`` converting every value and icalendar turning every property into a
    content line were most of a build. So each (day, language) gets one icalendar ``Event``
    whose fixed properties are added once; for each year the varying ones are put in and
    icalendar serializes the whole event as usual. Property objects that recur (the fixed
    ones, dates, links) keep the content line icalendar made for them the first time, so
    only UID and DESCRIPTION are converted per event. Each value is made by ``Component.add``
    exactly as ``_event`` makes it (tests/test_feed.py compares the bytes of both)."""

    def __init__(self, lang: str, publication: Publication) -> None:
        from icalendar import Alarm, Event

        self.lang = lang
        self.publication = publication
        self.lines: dict[Any, tuple[Any, Any]] = {}  # id(value) -> (value, its content line)
        self.values: dict[tuple[str, Any], Any] = {}  # (name, key) -> property value
        self.forms: dict[tuple[str, Revision], Any] = {}  # (day id, revision) -> Event
        self._scratch = Event()
        self._event_class = _reusing(Event)
        self._alarm_class = _reusing(Alarm)

    def _value(self, name: str, value: Any, parameters: dict[str, str] | None = None,
               key: Any = None) -> Any:
        """The property value ``Component.add`` would store; its content line is kept, and
        so is the value under ``(name, key)`` (``key`` defaults to ``value``): ``add`` gives
        the same property for the same name, value and parameters."""
        memo_key = (name, value if key is None else key)
        made = self.values.get(memo_key)
        if made is None:
            scratch = self._scratch
            scratch.add(name, value, parameters=parameters)
            made = self.values[memo_key] = scratch.pop(name)
            self.lines[id(made)] = (made, scratch.content_line(name.upper(), made))
        return made

    def event(self, occ: Occurrence, rev: Revision, description: str) -> Any:
        """The icalendar ``Event`` of ``occ``, ready for ``to_ical`` (until the next call)."""
        from icalendar import vText, vUri

        day, year, lang = occ.day, occ.date.year, self.lang
        form = self.forms.get((day.id, rev))
        if form is None:
            ev = self._event_class()
            ev.lines = self.lines
            value = self._value
            ev["DTSTAMP"] = value("dtstamp", rev.last_modified)
            ev["LAST-MODIFIED"] = value("last-modified", rev.last_modified)
            ev["SEQUENCE"] = value("sequence", rev.sequence)
            ev["SUMMARY"] = value("summary", day.name.get(lang))
            if day.themes:
                labels = [t.label.get(lang) for t in day.themes]
                ev["CATEGORIES"] = value("categories", labels, key=tuple(labels))
            ev["TRANSP"] = value("transp", "TRANSPARENT")
            ev["CLASS"] = value("class", "PUBLIC")
            form = self.forms[(day.id, rev)] = ev
        ev = form
        link = day.link(lang, year) or self.publication.url(paths.day_page(lang, day.id))
        # What ``add`` makes of a str for these two: a vText without parameters.
        ev["UID"] = vText(f"{day.id}-{year}@{self.publication.uid_domain}")
        ev["DTSTART"] = self._value("dtstart", occ.date)
        ev["DTEND"] = self._value("dtend", occ.date + timedelta(days=1))
        ev["DESCRIPTION"] = vText(description)
        ev["URL"] = self._value("url", vUri(link), {"VALUE": "URI"}, key=link)
        return ev

    def alarm(self, summary: str, w: Any) -> Any:
        """The VALARM of a day (``_alarm``'s), built the same way as its events."""
        from icalendar import vText

        alarm = self._alarm_class()
        alarm.lines = self.lines
        alarm["ACTION"] = self._value("action", "DISPLAY")
        alarm["DESCRIPTION"] = vText(f"{w.alarm_text}: {summary}")
        alarm["TRIGGER"] = self._value("trigger", ALARM_TRIGGER)
        return alarm


@cache
def _reusing(component: type) -> type:
    """An icalendar component class (``Event``, ``Alarm``) that reuses the content line
    icalendar already made for the same property object (``lines``: id -> (object, line), the
    object kept alive there) or the same BEGIN or END."""

    class Reusing(component):  # type: ignore[misc,valid-type]
        lines: dict[Any, tuple[Any, Any]]

        def content_line(self, name: str, value: Any, sorted: bool = True) -> Any:  # noqa: A002
            if not sorted:
                return super().content_line(name, value, sorted=sorted)
            if type(value) is bytes:  # BEGIN and END: made anew each time, same bytes
                key: Any = (name, value)
                hit = self.lines.get(key)
                if hit is None:
                    hit = self.lines[key] = (value, super().content_line(name, value))
                return hit[1]
            hit = self.lines.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            return super().content_line(name, value)

    return Reusing


def _alarm(summary: str, w: Any) -> Any:
    from icalendar import Alarm

    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", f"{w.alarm_text}: {summary}")
    alarm.add("trigger", ALARM_TRIGGER)
    return alarm


def cmd_feed(args: argparse.Namespace, settings: Settings) -> int:
    """``calendar-service feed``: write one feed to a file or to standard output."""
    from calendar_service.base.clock import now_from, today_from
    from calendar_service.base.files import atomic_write
    from calendar_service.data.loader import load_days
    from calendar_service.publishing.state import load_state, save_state

    catalog = load_days(settings.days)
    spec = FeedSpec(args.lang, args.theme, args.alarms)
    check_spec(catalog, spec)
    renderer = Renderer(settings.templates, cache=settings.template_cache_dir)
    publication = Publication.from_settings(settings)
    state = revise_days(load_state(settings.data_dir), catalog, publication, renderer,
                        now_from(args, today_at=time(0, 0)))
    body = build_feed(catalog, spec, today=today_from(args), revisions=state.days,
                      publication=publication, renderer=renderer)
    save_state(settings.data_dir, state)
    if args.output and args.output != "-":
        try:
            atomic_write(Path(args.output), body)
        except OSError as exc:
            raise ConfigError(f"{args.output}: cannot write ({exc.strerror})") from None
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0
