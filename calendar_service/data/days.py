"""days.yaml -> Catalog: themes, bodies and days, every problem reported at once with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calendar_service.data.facts import check_facts
from calendar_service.data.model import (
    LANGUAGES,
    Body,
    Catalog,
    Content,
    Day,
    Links,
    Text,
    Theme,
    YearOverride,
)
from calendar_service.data.provenance import (
    V2_KEYS,
    parse_links,
    parse_proclaimed,
    parse_sources,
    parse_verified,
)
from calendar_service.data.rules import (
    FIRST_YEAR,
    _month_day,
    check_rule,
)
from calendar_service.data.yamlio import (
    COLOR_RE,
    CONTENT_KEYS,
    DAY_KEYS,
    DAYS_TOP_KEYS,
    DAYS_VERSIONS,
    FULL_CONTENT_COUNTS,
    HASHTAG_RE,
    ID_RE,
    PLACEHOLDER_RE,
    POST_LIMIT,
    YEAR_KEYS,
    _check_keys,
    _check_version,
    _expect,
    _line_of,
    _Report,
    _required,
    _str_list,
    _suggest,
    _text,
    _type_name,
    _url,
    exact_report,
    read_yaml,
)


def _field_lines(node: dict[str, Any]) -> dict[str, int]:
    """Lines of the fields that ``check`` may report about a day's cards."""
    out: dict[str, int] = {}

    def put(key: str, line: int | None) -> None:
        if line is not None:
            out[key] = line

    for key in ("name", "official_name"):
        if isinstance(node.get(key), dict):
            for lang in node[key]:
                put(f"{key}.{lang}", _line_of(node[key], lang))
    content = node.get("content")
    if isinstance(content, dict):
        for lang, c in content.items():
            if isinstance(c, dict):
                put(f"content.{lang}.card_line", _line_of(c, "card_line") if "card_line" in c
                    else None)
                if isinstance(c.get("hashtags"), list) and c["hashtags"]:
                    put(f"content.{lang}.hashtags[0]", _line_of(c["hashtags"], 0))
    return out


def _content(report: _Report, parent: dict[str, Any], field: str) -> dict[str, Content]:
    node = parent.get("content")
    if not _expect(report, _line_of(parent, "content"), field, node, dict, "a mapping of languages"):
        return {}
    out: dict[str, Content] = {}
    for lang in node:
        lfield = f"{field}.{lang}"
        if lang not in LANGUAGES:
            report.add(_line_of(node, lang), lfield,
                       f"unknown language{_suggest(str(lang), LANGUAGES)}; use es or en")
            continue
        c = node[lang]
        if not _expect(report, _line_of(node, lang), lfield, c, dict, "a mapping"):
            continue
        _check_keys(report, c, CONTENT_KEYS, lfield)
        texts: dict[str, str] = {}
        for key in ("summary", "why", "press_line", "card_line"):
            if key in c:
                if isinstance(c[key], str) and c[key].strip():
                    texts[key] = " ".join(c[key].split())
                else:
                    report.add(_line_of(c, key), f"{lfield}.{key}", "expected non-empty text")
        lists = {key: _str_list(report, c, key, f"{lfield}.{key}") for key in
                 ("key_messages", "posts", "hashtags") if key in c}
        for i, post in enumerate(lists.get("posts", [])):
            if len(post) > POST_LIMIT:
                report.add(_line_of(c["posts"], i), f"{lfield}.posts[{i}]",
                           f"{len(post)} characters; a post must fit {POST_LIMIT}")
        for i, tag in enumerate(lists.get("hashtags", [])):
            if not HASHTAG_RE.match(tag):
                report.add(_line_of(c["hashtags"], i), f"{lfield}.hashtags[{i}]",
                           f"{tag!r} is not a hashtag: '#' then letters, digits or '_' only")
        for key, value in [*texts.items(), *((k, v) for k, vs in lists.items() for v in vs)]:
            if PLACEHOLDER_RE.search(value):
                report.add(_line_of(c, key), f"{lfield}.{key}",
                           "contains placeholder text; write the real text or leave the field out")
        if "summary" not in texts:
            if "summary" not in c:
                report.add(_line_of(node, lang), f"{lfield}.summary", "missing")
            continue
        out[lang] = Content(
            summary=texts["summary"], why=texts.get("why", ""),
            key_messages=tuple(lists.get("key_messages", ())), posts=tuple(lists.get("posts", ())),
            press_line=texts.get("press_line", ""), hashtags=tuple(lists.get("hashtags", ())),
            card_line=texts.get("card_line", ""),
        )
    return out


def _years(report: _Report, parent: dict[str, Any], field: str) -> dict[int, YearOverride]:
    node = parent.get("years")
    if not _expect(report, _line_of(parent, "years"), field, node, dict, "a mapping of years"):
        return {}
    out: dict[int, YearOverride] = {}
    for year, spec in node.items():
        yfield = f"{field}.{year}"
        line = _line_of(node, year)
        if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
            report.add(line, yfield, "expected a year such as 2027")
            continue
        if not _expect(report, line, yfield, spec, dict, "a mapping"):
            continue
        _check_keys(report, spec, YEAR_KEYS, yfield)
        theme = _text(report, spec, "theme", f"{yfield}.theme") if "theme" in spec else None
        messages: dict[str, tuple[str, ...]] = {}
        if "key_messages" in spec:
            km = spec["key_messages"]
            if _expect(report, _line_of(spec, "key_messages"), f"{yfield}.key_messages", km, dict,
                       "a mapping of languages to lists"):
                for lang in km:
                    if lang not in LANGUAGES:
                        report.add(_line_of(km, lang), f"{yfield}.key_messages.{lang}",
                                   "unknown language; use es or en")
                        continue
                    messages[lang] = tuple(_str_list(report, km, lang,
                                                     f"{yfield}.key_messages.{lang}"))
        url = _url(report, spec, f"{yfield}.url") if "url" in spec else None
        out[year] = YearOverride(theme=theme, key_messages=messages, url=url)
    return out


def _labels(report: _Report, root: dict[str, Any], key: str, extra: tuple[str, ...] = ()
            ) -> dict[str, tuple[Text, dict[str, Any]]]:
    node = root.get(key)
    if not _expect(report, _line_of(root, key), key, node, dict, "a mapping of ids to labels"):
        return {}
    out = {}
    for ident, spec in node.items():
        field = f"{key}.{ident}"
        if not isinstance(ident, str) or not ID_RE.match(ident):
            report.add(_line_of(node, ident), field, "ids are kebab-case: lowercase, digits, '-'")
            continue
        if not _expect(report, _line_of(node, ident), field, spec, dict, "a mapping"):
            continue
        _check_keys(report, spec, (*LANGUAGES, *extra), field)
        label = _text(report, {ident: {k: v for k, v in spec.items() if k in LANGUAGES}}, ident,
                      field, line=_line_of(node, ident))
        if label is not None:
            out[ident] = (label, spec)
    return out


def _parse_day(report: _Report, node: Any, i: int, line: int | None, themes: dict[str, Theme],
               bodies: dict[str, Body], seen: dict[str, int | None], complete: bool,
               version: int = 2) -> Day | None:
    field = f"days[{i}]"
    if not _expect(report, line, field, node, dict, "a mapping"):
        return None
    _check_keys(report, node, DAY_KEYS, field)
    if version == 1:
        for key in V2_KEYS:
            if key in node:
                report.add(_line_of(node, key), f"{field}.{key}",
                           "is a version 2 field: set version: 2 at the top of the file (and give "
                           "url as {es: …, en: …})")
    ok = True
    day_id = node.get("id")
    if not _required(report, node, "id", field):
        ok = False
    elif not isinstance(day_id, str) or not ID_RE.match(day_id):
        report.add(_line_of(node, "id"), f"{field}.id",
                   f"{day_id!r} is not a kebab-case id (lowercase letters, digits, '-')")
        ok = False
    elif day_id in seen:
        report.add(_line_of(node, "id"), f"{field}.id",
                   f"duplicate id {day_id!r} (first defined on line {seen[day_id]}); ids must be "
                   "unique because UIDs, URLs and the ledger depend on them")
        ok = False
    else:
        seen[day_id] = _line_of(node, "id")

    month_day = rule = None
    if "date" in node and "rule" in node:
        report.add(_line_of(node, "rule"), f"{field}.rule", "give either date or rule, not both")
        ok = False
    elif "date" in node:
        month_day = _month_day(report, _line_of(node, "date"), f"{field}.date", node["date"])
        ok = ok and month_day is not None
    elif "rule" in node:
        raw = node["rule"]
        problem = check_rule(raw, _first_year(node)) if isinstance(raw, str) else \
            f"expected text, got {_type_name(raw)}"
        if problem:
            report.add(_line_of(node, "rule"), f"{field}.rule", problem)
            ok = False
        else:
            rule = raw.strip().removeprefix("RRULE:")
    else:
        report.add(line, f"{field}.date", 'missing: give date ("MM-DD") or rule (an RRULE)')
        ok = False

    annex = node.get("annex", False)
    if not _expect(report, _line_of(node, "annex"), f"{field}.annex", annex, bool, "true or false"):
        ok = False

    name = None
    if "name" not in node:
        report.add(line, f"{field}.name.es", "missing: every day needs its Spanish name")
        ok = False
    else:
        name = _text(report, node, "name", f"{field}.name")
        ok = ok and name is not None
    official = _names(report, node, f"{field}.official_name") if "official_name" in node else None
    note = _text(report, node, "note", f"{field}.note") if "note" in node else None

    body = None
    if "proclaimed_by" in node:
        ref = node["proclaimed_by"]
        if isinstance(ref, str) and ref in bodies:
            body = bodies[ref]
        else:
            report.add(_line_of(node, "proclaimed_by"), f"{field}.proclaimed_by",
                       f"unknown body {ref!r}{_suggest(str(ref), bodies)}; declare it under bodies")
            ok = False
    resolution = node.get("resolution")
    if resolution is not None and not _expect(report, _line_of(node, "resolution"),
                                              f"{field}.resolution", resolution, str, "text"):
        ok = False
    proclaimed = parse_proclaimed(report, node, f"{field}.proclaimed") \
        if "proclaimed" in node else None
    observed_first = node.get("observed_before_proclamation", False)
    if not _expect(report, _line_of(node, "observed_before_proclamation"),
                   f"{field}.observed_before_proclamation", observed_first, bool, "true or false"):
        observed_first = False
    sources = parse_sources(report, node, f"{field}.sources") if "sources" in node else ()
    verified = parse_verified(report, node, f"{field}.verified") if "verified" in node else None
    since = node.get("since")
    if since is not None and (not _expect(report, _line_of(node, "since"), f"{field}.since", since,
                                          int, "a year") or not 1800 <= since <= 2200):
        if isinstance(since, int) and not isinstance(since, bool):
            report.add(_line_of(node, "since"), f"{field}.since", f"{since} is not a plausible year")
        ok = False

    day_themes: list[Theme] = []
    if "themes" in node:
        for j, ref in enumerate(_str_list(report, node, "themes", f"{field}.themes")):
            if ref in themes:
                day_themes.append(themes[ref])
            else:
                report.add(_line_of(node["themes"], j), f"{field}.themes[{j}]",
                           f"unknown theme {ref!r}{_suggest(ref, themes)}; known: "
                           f"{', '.join(themes)}")
                ok = False
    sdgs: list[int] = []
    if "sdgs" in node:
        raw = node["sdgs"]
        if _expect(report, _line_of(node, "sdgs"), f"{field}.sdgs", raw, list, "a list of numbers"):
            for j, sdg in enumerate(raw):
                if isinstance(sdg, bool) or not isinstance(sdg, int) or not 1 <= sdg <= 17:
                    report.add(_line_of(raw, j), f"{field}.sdgs[{j}]",
                               f"{sdg!r} is not an SDG: the 2030 Agenda has goals 1 to 17")
                    ok = False
                else:
                    sdgs.append(sdg)
        else:
            ok = False
    url = parse_links(report, node, f"{field}.url", version) if "url" in node else None
    content = _content(report, node, f"{field}.content") if "content" in node else {}
    if "es" not in content and "content" not in node:
        report.add(line, f"{field}.content.es.summary", "missing: a Spanish summary is required")
        ok = False
    years = _years(report, node, f"{field}.years") if "years" in node else {}
    if complete and annex is True and isinstance(node.get("content"), dict):
        _check_complete(report, node["content"], content, f"{field}.content")
    if not ok or name is None:
        return None
    day = Day(id=day_id, name=name, annex=annex, month_day=month_day, rule=rule,
              official_name=official, proclaimed_by=body,
              resolution=resolution.strip() if resolution else None, proclaimed=proclaimed,
              since=since, observed_before_proclamation=observed_first, sources=sources,
              verified=verified, note=note, themes=tuple(day_themes), sdgs=tuple(sdgs), url=url,
              content=content, years=years, order=i, line=line,
              field_lines=_field_lines(node))
    if complete:
        check_facts(report, node, day, field)
    return day


def _names(report: _Report, node: dict[str, Any], field: str) -> Links | None:
    """The current official name in the languages a source gives it (either may be missing)."""
    text = _text(report, node, "official_name", field, require_es=False)
    raw = node.get("official_name")
    if text is None and isinstance(raw, dict) and isinstance(raw.get("en"), str) \
            and raw["en"].strip() and "es" not in raw:
        return Links(en=raw["en"].strip())
    return Links(es=text.es, en=text.en) if text is not None else None


def _first_year(node: dict[str, Any]) -> int:
    """The first year a day's rule must hold: its ``since``, or 1946 without one."""
    since = node.get("since")
    if isinstance(since, int) and not isinstance(since, bool) and 1800 <= since <= 2100:
        return since
    return FIRST_YEAR


def _check_complete(report: _Report, node: dict[str, Any], parsed: dict[str, Content],
                    field: str) -> None:
    """Annex days are what offices publish from: every field, in both languages."""
    for lang in LANGUAGES:
        if lang not in node:
            report.add(_line_of(node), f"{field}.{lang}",
                       "missing: annex days need content in Spanish and English")
            continue
        c = parsed.get(lang)
        if c is None:
            continue
        lline = _line_of(node, lang)
        for key in ("why", "press_line"):
            if not getattr(c, key):
                report.add(lline, f"{field}.{lang}.{key}", "missing: annex days need it")
        for key, count in FULL_CONTENT_COUNTS.items():
            if len(getattr(c, key)) < count:
                report.add(lline, f"{field}.{lang}.{key}",
                           f"has {len(getattr(c, key))}; annex days need {count}")


def _color(report: _Report, spec: dict[str, Any], field: str) -> str | None:
    """A theme's optional card colour, "#RRGGBB"."""
    if "color" not in spec:
        return None
    raw = spec["color"]
    if isinstance(raw, str) and COLOR_RE.match(raw):
        return raw.upper()
    report.add(_line_of(spec, "color"), f"{field}.color",
               f"{raw!r} is not a colour; write it as \"#RRGGBB\", e.g. \"#1F6F8B\"")
    return None


def load_days(path: Path | str, *, complete: bool = False) -> Catalog:
    """Load days.yaml; raise DataError listing every problem.

    ``complete`` adds the editorial rule that annex days carry every content field in both
    languages: ``check`` (and so CI and the cron job) enforce it, but a day whose third post is
    still being written must not take the feed or the reminders of every other day offline.
    """
    return exact_report(lambda fast: _load_days(Path(path), complete, fast))


def _load_days(path: Path, complete: bool, fast: bool) -> Catalog:
    report = _Report(str(path), fast)
    root = read_yaml(path, report)
    if root is None and not report.problems:
        report.add(1, "", "the file is empty; it needs version, themes and days")
    if report.problems:
        report.raise_if_any()
    if not isinstance(root, dict):
        report.add(1, "", f"expected a mapping with version, themes and days, got {_type_name(root)}")
        report.raise_if_any()
    _check_keys(report, root, DAYS_TOP_KEYS, "")
    _check_version(report, root, DAYS_VERSIONS)
    # 0: a version this release does not read (already reported): no layout-specific errors
    raw_version = root.get("version", 1)
    version = raw_version if raw_version in DAYS_VERSIONS and not isinstance(raw_version, bool) \
        else 0
    themes = {k: Theme(k, label, _color(report, spec, f"themes.{k}"))
              for k, (label, spec) in _labels(report, root, "themes", ("color",)).items()}
    bodies: dict[str, Body] = {}
    if "bodies" in root:
        for k, (label, spec) in _labels(report, root, "bodies", ("un", "by")).items():
            un = spec.get("un", False)
            if not isinstance(un, bool):
                report.add(_line_of(spec, "un"), f"bodies.{k}.un", "expected true or false")
            by = _text(report, spec, "by", f"bodies.{k}.by") if "by" in spec else None
            bodies[k] = Body(k, label, bool(un), by)
    raw_days = root.get("days")
    days: list[Day] = []
    if _expect(report, _line_of(root, "days"), "days", raw_days, list, "a list of days"):
        seen: dict[str, int | None] = {}
        for i, node in enumerate(raw_days):
            day = _parse_day(report, node, i, _line_of(raw_days, i), themes, bodies, seen,
                             complete, version)
            if day is not None:
                days.append(day)
    report.raise_if_any()
    return Catalog(themes=themes, bodies=bodies, days=tuple(days), source=str(path),
                   version=str(root.get("version", "")))
