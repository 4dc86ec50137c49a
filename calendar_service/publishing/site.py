"""The public site as one in-memory value: path -> bytes, type, ETag, Last-Modified.

It is computed once per data change (or new day) and then either written to a folder by
``calendar-service build DIR`` or served from memory by ``calendar-service serve``: the same
paths and the same bytes either way. Building is pure; writing is at the end of this module.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from calendar_service.base import paths
from calendar_service.base.errors import ConfigError, TemplateError
from calendar_service.base.settings import Settings
from calendar_service.data.model import LANGUAGES, Catalog, Day
from calendar_service.occurrences import day_dates, next_occurrence, occurrences
from calendar_service.publishing.cards.site_cards import SiteCards, card_view
from calendar_service.publishing.feed import (
    EventMemo,
    Feeds,
    FeedSpec,
    Publication,
    Writer,
    feed_specs,
    revise_days,
    window,
)
from calendar_service.publishing.render import Renderer
from calendar_service.publishing.state import PublishState, revise, utc_seconds

MARKER = ".calendar-service-site"
UPCOMING_MONTHS = 12
TYPES = {
    ".ics": "text/calendar; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# Feeds: clients poll every few hours anyway; an hour of caching spares the server. Pages and the
# JSON list change at most daily; assets change only with a release.
CACHE = {".ics": "public, max-age=3600", ".html": "public, max-age=600",
         ".json": "public, max-age=600", ".css": "public, max-age=86400",
         ".js": "public, max-age=86400", ".svg": "public, max-age=86400",
         ".png": "public, max-age=3600"}  # cards keep their URL when their text changes
INCOMPRESSIBLE = frozenset({".png"})
STATIC_ASSETS = ("style.css", "copy.js", "icon.svg")
NOT_FOUND = "/404.html"


@dataclass(frozen=True)
class Resource:
    """One file of the site, with everything HTTP needs precomputed."""

    path: str
    body: bytes
    content_type: str
    cache_control: str
    etag: str
    last_modified: datetime
    gzipped: bytes | None = None

    @property
    def http_last_modified(self) -> str:
        return format_datetime(self.last_modified, usegmt=True)


@dataclass(frozen=True)
class Site:
    resources: Mapping[str, Resource]
    today: date
    built_at: datetime
    days: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    themes: frozenset[str] = frozenset()

    def get(self, path: str) -> Resource | None:
        return self.resources.get(path)


def _suffix(path: str) -> str:
    return ".html" if path.endswith("/") else os.path.splitext(path)[1]


def make_resource(path: str, body: bytes, last_modified: datetime) -> Resource:
    suffix = _suffix(path)
    digest = hashlib.sha256(body).hexdigest()[:32]
    gz = (gzip.compress(body, compresslevel=9, mtime=0)
          if len(body) > 256 and suffix not in INCOMPRESSIBLE else None)
    return Resource(path=path, body=body, content_type=TYPES[suffix], cache_control=CACHE[suffix],
                    etag=f'"{digest}"', last_modified=last_modified,
                    gzipped=gz if gz is not None and len(gz) < len(body) else None)


def subscribe_links(publication: Publication, feed_path: str, name: str) -> dict[str, str]:
    """The links each calendar application understands for subscribing to one feed."""
    https = publication.url(feed_path)
    webcal = "webcal://" + https.split("://", 1)[1]
    return {
        "https": https,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=":/"),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?"
                   + urlencode({"url": https, "name": name}, quote_via=quote),
    }


def is_public(base_url: str) -> bool:
    """Whether BASE_URL names a real host: link previews (Open Graph) need absolute URLs that
    others can fetch, which a loopback address is not."""
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(base_url).hostname or "").lower()
    if host in ("", "localhost") or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _day_view(day: Day, lang: str, when: date | None, publication: Publication,
              cards: SiteCards | None = None, words: Any = None) -> dict[str, Any]:
    """What a page or the JSON list shows of one day: only what the data has."""
    override = day.override_for(when.year) if when else None
    content = day.content_for(lang)
    content_lang = lang if lang in day.content else "es"
    key_messages: tuple[str, ...] = content.key_messages if content else ()
    km_lang = content_lang
    if override and override.key_messages:
        if lang in override.key_messages:
            key_messages, km_lang = override.key_messages[lang], lang
        elif "es" in override.key_messages:
            key_messages, km_lang = override.key_messages["es"], "es"
    return {
        "day": day, "date": when, "override": override, "content": content,
        "content_lang": content_lang, "key_messages": key_messages, "km_lang": km_lang,
        "name": day.name.get(lang), "name_lang": lang if lang == "es" or day.name.en else "es",
        "link": day.link(lang, when.year if when else None),
        "page": paths.day_page(lang, day.id),
        "page_url": publication.url(paths.day_page(lang, day.id)),
        "cards": [card_view(c, words, publication.url(c.path))
                  for c in (cards.for_day(day, lang, when) if cards else ())
                  if c.path in cards.images],  # type: ignore[union-attr]
    }


def _json_day(view: dict[str, Any], lang: str, start: date, end: date, w: Any) -> dict[str, Any]:
    day: Day = view["day"]
    override, content = view["override"], view["content"]
    out: dict[str, Any] = {
        "id": day.id, "name": view["name"],
        "official_name": day.official_name.only(lang) if day.official_name else None,
        "annex": day.annex,
        "date": view["date"].isoformat() if view["date"] else None,
        "dates": [d.isoformat() for d in day_dates(day, start, end)],
        "themes": [{"id": t.id, "label": t.label.get(lang)} for t in day.themes],
        "sdgs": list(day.sdgs),
        "proclaimed_by": ({"id": day.proclaimed_by.id, "label": day.proclaimed_by.label.get(lang),
                           "un": day.proclaimed_by.un} if day.proclaimed_by else None),
        "resolution": day.resolution,
        "proclaimed": day.proclaimed.iso if day.proclaimed else None, "since": day.since,
        "observed_before_proclamation": day.observed_before_proclamation,
        "origin": str(w.origin(day.origin(lang))) or None,
        "sources": [{"url": s.url, "note": s.note.get(lang) if s.note else None}
                    for s in day.sources],
        "verified": day.verified.isoformat() if day.verified else None,
        "url": view["link"], "page": view["page_url"],
        "summary": content.summary if content else None,
        "year_theme": override.theme.get(lang) if override and override.theme else None,
        "cards": [{k: c[k] for k in ("size", "url", "width", "height", "alt")}
                  for c in view["cards"]],
    }
    return out


class Output(ABC):
    """Where a build puts the site's files; each kind keeps only what it needs."""

    @abstractmethod
    def open(self, path: str) -> Writer:
        """A file written piece by piece (the feeds, assembled event by event)."""

    @abstractmethod
    def put(self, path: str, body: bytes) -> None:
        """A whole file at once (pages, days.json, cards)."""

    def close(self) -> None:  # noqa: B027 - a hook: most outputs have nothing to finish
        """Finish the files opened with ``open``."""

    def digests(self) -> dict[str, str]:
        """Path -> content digest of every file, for the publication state."""
        return {}


class Discard(Output):
    """``check``: everything is rendered and serialized once, and nothing is kept."""

    def open(self, path: str) -> Writer:
        return _NOWHERE

    def put(self, path: str, body: bytes) -> None:
        pass


class _Nowhere:
    def write(self, data: bytes, /) -> int:
        return len(data)


_NOWHERE = _Nowhere()


class InMemory(Output):
    """``serve``: the bytes of every file, kept to be served."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self._open: dict[str, io.BytesIO] = {}

    def open(self, path: str) -> Writer:
        self._open[path] = buffer = io.BytesIO()
        return buffer

    def put(self, path: str, body: bytes) -> None:
        self.bodies[path] = body

    def close(self) -> None:
        for path, buffer in self._open.items():
            self.bodies[path] = buffer.getvalue()
        self._open.clear()

    def digests(self) -> dict[str, str]:
        return {path: _digest(body) for path, body in self.bodies.items()}


class _HashingFile:
    def __init__(self, file: Path) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        self.handle = file.open("wb")
        self.hash = hashlib.sha256()

    def write(self, data: bytes, /) -> int:
        self.hash.update(data)
        return self.handle.write(data)


class ToFolder(Output):
    """``build``: each file goes to disk as it is made; only digests stay in memory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._digests: dict[str, str] = {}
        self._open: dict[str, _HashingFile] = {}

    def open(self, path: str) -> Writer:
        self._open[path] = out = _HashingFile(self.root / paths.file_name(path))
        return out

    def put(self, path: str, body: bytes) -> None:
        file = self.root / paths.file_name(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(body)
        self._digests[path] = _digest(body)

    def close(self) -> None:
        for path, out in self._open.items():
            out.handle.close()
            self._digests[path] = out.hash.hexdigest()[:32]
        self._open.clear()

    def digests(self) -> dict[str, str]:
        return dict(self._digests)

    def merge(self, digests: Mapping[str, str]) -> None:
        """The digests of the files another process wrote into the same folder."""
        self._digests.update(digests)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def core_free() -> bool:
    """Whether a second core is idle enough for a child to write half of a build: on a busy
    machine the child only competes with the parent (measured: no faster, more CPU time; see
    benchmarks/NOTES-speed.md), so the build stays in one process."""
    from calendar_service.base.twocores import cores

    try:
        load = os.getloadavg()[0]
    except OSError:
        return False
    return cores() >= 2 and load < cores() - 1


def generate(catalog: Catalog, out: Output, *, today: date, now: datetime, state: PublishState,
             publication: Publication, renderer: Renderer, cards: SiteCards | None = None,
             memo: EventMemo | None = None,
             ) -> tuple[PublishState, dict[str, list[dict[str, Any]]]]:
    """Write every file of the site to ``out``; return the state that dates them and the JSON
    lists of days. Each distinct feed event is serialized once; each page rendered once.

    ``cards`` (drawn by the caller, see ``prepare_site``) adds the image cards: their files,
    the pages' galleries and meta tags, and days.json's lists."""
    state = revise_days(state, catalog, publication, renderer, now)
    start, end = window(today)
    specs = feed_specs(catalog)

    def feeds(lang: str | None) -> dict[str, str]:
        try:
            Feeds(catalog, today=today, revisions=state.days, publication=publication,
                  renderer=renderer, memo=memo).write(
                [s for s in specs if lang is None or s.lang == lang],
                lambda spec: out.open(spec.path))
        finally:
            out.close()
        return out.digests()

    def pages(lang: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
        days_list = _pages(catalog, lang, today, publication, renderer, start, end, out, cards)
        doc = {"language": lang, "today": today.isoformat(),
               "window": {"start": start.isoformat(), "end": end.isoformat()},
               "feed": publication.url(paths.feed(lang)), "days": days_list}
        out.put(paths.days_json(lang), (json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
                                         ).encode())
        return out.digests(), days_list

    json_days: dict[str, list[dict[str, Any]]] = {}
    if isinstance(out, ToFolder) and memo is None and len(LANGUAGES) == 2 and core_free():
        # Each language's feeds and pages are independent of the other's, and ``build``
        # writes each file as it is made: with a second core free the second language is
        # written by a forked child, which hands back only the digests (feeds first, then
        # pages, so a build fails with the error it gives in one process).
        from calendar_service.base.twocores import side_by_side

        first, second = LANGUAGES
        out.merge(side_by_side(lambda: feeds(first), lambda: feeds(second))[1])
        (_, json_days[first]), (done, json_days[second]) = side_by_side(
            lambda: pages(first), lambda: pages(second))
        out.merge(done)
    else:
        feeds(None)
        for lang in LANGUAGES:
            json_days[lang] = pages(lang)[1]
    if cards is not None:
        for path, body in cards.images.items():
            out.put(path, body)
    for name in STATIC_ASSETS:
        try:
            body = (renderer.templates / "site" / "static" / name).read_bytes()
        except OSError as exc:
            raise TemplateError(f"site/static/{name}: {exc.strerror}") from None
        out.put(f"/static/{name}", body)
    files = revise(state.files, out.digests(), now)
    return PublishState(days=state.days, files=files), json_days


def build_site(catalog: Catalog, *, today: date, now: datetime, state: PublishState,
               publication: Publication, renderer: Renderer, cards: SiteCards | None = None,
               previous: Site | None = None, memo: EventMemo | None = None
               ) -> tuple[Site, PublishState]:
    """Every file of the site in memory, and the state that dates them. Pure but for reading
    templates.

    ``previous`` and ``memo`` (``serve``'s last build) spare the work whose result cannot have
    changed: a file with the same bytes keeps its resource (no second gzip), an event whose day
    did not change keeps its bytes."""
    out = InMemory()
    state, json_days = generate(catalog, out, today=today, now=now, state=state,
                                publication=publication, renderer=renderer, cards=cards, memo=memo)
    old = previous.resources if previous is not None else {}
    resources = {}
    for path, body in sorted(out.bodies.items()):
        last_modified = state.files[path].last_modified
        kept = old.get(path)
        resources[path] = (kept if kept is not None and kept.body == body
                           and kept.last_modified == last_modified
                           else make_resource(path, body, last_modified))
    return Site(resources=resources, today=today, built_at=utc_seconds(now), days=json_days,
                themes=frozenset(catalog.themes)), state


def _month_start(d: date, months_ahead: int = 0) -> date:
    n = d.year * 12 + d.month - 1 + months_ahead
    return date(n // 12, n % 12 + 1, 1)


def _pages(catalog: Catalog, lang: str, today: date, publication: Publication,
           renderer: Renderer, start: date, end: date, out: Output,
           cards: SiteCards | None = None) -> list[dict[str, Any]]:
    w = renderer.words(lang)

    def page(path: str, template: str, **context: Any) -> None:
        def rel(target: str) -> str:
            # The 404 page is served at any depth: only absolute links work there.
            return publication.url(target) if path == NOT_FOUND else paths.relative(path, target)

        other = [] if path == NOT_FOUND else [
            (o, w.lang_names[o], paths.in_language(path, o)) for o in LANGUAGES if o != lang]
        out.put(path, renderer.render(
            template, lang=lang, w=w, path=path, rel=rel, today=today, other_langs=other,
            home=paths.home(lang), feed_path=paths.feed(lang), json_path=paths.days_json(lang),
            **context).encode())

    def feeds(spec: FeedSpec, label: str) -> dict[str, Any]:
        name = str(w.calendar_name(label))
        return {"label": label, "name": name, "path": spec.path,
                **subscribe_links(publication, spec.path, name)}

    public = is_public(publication.base_url)
    main_feed = feeds(FeedSpec(lang), "")
    alarm_feed = feeds(FeedSpec(lang, alarms=True), "")
    theme_feeds = [feeds(FeedSpec(lang, t), catalog.themes[t].label.get(lang))
                   for t in catalog.themes]
    months: list[tuple[date, list[dict[str, Any]]]] = []
    horizon = _month_start(today, UPCOMING_MONTHS)
    for occ in occurrences(catalog.days, today, horizon):
        month = occ.date.replace(day=1)
        if not months or months[-1][0] != month:
            months.append((month, []))
        months[-1][1].append(_day_view(occ.day, lang, occ.date, publication))
    page(paths.home(lang), "site/index.html", months=months, feed=main_feed,
         alarm_feed=alarm_feed, theme_feeds=theme_feeds, horizon=horizon - timedelta(days=1))

    views = []
    for day in catalog.days:
        view = _day_view(day, lang, next_occurrence(day, today), publication, cards, w)
        views.append(view)
        page(view["page"], "site/day.html", v=view, feed=main_feed, public=public,
             theme_feeds=[f for f in theme_feeds if f["path"] in
                          {paths.feed(lang, t.id) for t in day.themes}])
    if lang == "es":
        page(NOT_FOUND, "site/404.html")
    views.sort(key=lambda v: (v["date"] or date.max, v["day"].order))
    w = renderer.words(lang)
    return [_json_day(v, lang, start, end, w) for v in views]


def prepare_site(catalog: Catalog, settings: Settings, *, today: date, now: datetime,
                 renderer: Renderer | None = None, previous: Site | None = None,
                 memo: EventMemo | None = None, timings: dict[str, float] | None = None) -> Site:
    """Build the site and remember its revisions in the data directory (the edge of the flow).

    ``timings`` receives the seconds spent on the cards (drawn or read from their cache) apart
    from the rest of the build."""
    import time as clock

    from calendar_service.publishing.cards.site_cards import site_cards
    from calendar_service.publishing.state import load_state, save_state

    renderer = renderer or Renderer(settings.templates, cache=settings.template_cache_dir)
    started = clock.perf_counter()
    cards = site_cards(catalog, today, settings.card_cache_dir)
    drawn = clock.perf_counter()
    site, state = build_site(catalog, today=today, now=now, state=load_state(settings.data_dir),
                             publication=Publication.from_settings(settings), renderer=renderer,
                             cards=cards, previous=previous, memo=memo)
    save_state(settings.data_dir, state)
    if timings is not None:
        timings["cards"] = drawn - started
        timings["site"] = clock.perf_counter() - drawn
    return site


def check_target(target: Path) -> Path:
    """The folder a build may replace (checked before building: drawing cards takes a while)."""
    target = Path(target).absolute()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).exists():
        raise ConfigError(f"{target}: folder is not empty and was not written by "
                          "'calendar-service build'; choose an empty or new folder")
    return target


def write_site(site: Site, target: Path) -> int:
    """Replace ``target`` with a site built in memory (see ``replace_folder``)."""

    def fill(fresh: Path) -> tuple[int, int]:
        for path, res in site.resources.items():
            file = fresh / paths.file_name(path)
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(res.body)
            _stamp(file, res.last_modified)
        (fresh / MARKER).write_text(f"built {site.built_at.isoformat()} for {site.today}\n")
        return len(site.resources), sum(1 for p in site.resources if p.endswith(".ics"))

    return replace_folder(target, fill)[0]


def build_into(catalog: Catalog, settings: Settings, target: Path, *, today: date,
               now: datetime, renderer: Renderer | None = None) -> tuple[int, int]:
    """Build the site straight into ``target`` (file by file, never whole in memory) and
    remember its revisions in the data directory. Returns the number of files and of feeds."""
    from calendar_service.publishing.state import load_state, save_state

    renderer = renderer or Renderer(settings.templates, cache=settings.template_cache_dir)
    previous = load_state(settings.data_dir)

    def fill(fresh: Path) -> tuple[int, int]:
        from calendar_service.publishing.cards.site_cards import site_cards

        out = ToFolder(fresh)
        cards = site_cards(catalog, today, settings.card_cache_dir)
        state, _ = generate(catalog, out, today=today, now=now, state=previous,
                            publication=Publication.from_settings(settings), renderer=renderer,
                            cards=cards)
        written = out.digests()
        for path in written:  # web servers derive Last-Modified/ETag from it
            _stamp(fresh / paths.file_name(path), state.files[path].last_modified)
        (fresh / MARKER).write_text(f"built {utc_seconds(now).isoformat()} for {today}\n")
        save_state(settings.data_dir, state)
        return len(written), sum(1 for p in written if p.endswith(".ics"))

    return replace_folder(target, fill)


def _stamp(file: Path, when: datetime) -> None:
    stamp = when.timestamp()
    os.utime(file, (stamp, stamp))


def replace_folder(target: Path, fill: Callable[[Path], tuple[int, int]]) -> tuple[int, int]:
    """Replace ``target`` with what ``fill`` writes into a fresh folder beside it, then renamed
    into place.

    Refuses to replace a folder that is not empty and was not written by this command, so a
    mistyped path never deletes someone's files. A build that fails leaves the old site.
    """
    target = check_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    except OSError as exc:
        raise ConfigError(f"{target}: cannot create the folder ({exc.strerror})") from None
    try:
        counts = fill(fresh)
        for d in [fresh, *(p for p in fresh.rglob("*") if p.is_dir())]:
            d.chmod(0o755)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "site")
        try:
            os.replace(fresh, target)
        except OSError:
            if old is not None:  # put the previous build back: never leave nothing to serve
                os.replace(old / "site", target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(fresh, ignore_errors=True)
        raise ConfigError(f"{target}: cannot write the site ({exc.strerror})") from None
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    return counts


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    """``calendar-service build [DIR]``: write the public site as static files."""
    from calendar_service.base.clock import now_from, today_from
    from calendar_service.base.memory import freeze_loaded
    from calendar_service.data.loader import load_days

    catalog = load_days(settings.days)
    freeze_loaded()
    target = Path(args.dir) if args.dir else settings.site_dir
    count, feeds = build_into(catalog, settings, target, today=today_from(args),
                              now=now_from(args, today_at=time(0, 0)))
    print(f"{target}: {count} files ({feeds} feeds) for {settings.base_url}")
    return 0
