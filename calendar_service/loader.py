"""Read and validate days.yaml and offices.yaml, reporting every problem at once with its line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .errors import DataError, Problem
from .model import LANGUAGES, Body, Catalog, Content, Day, Office, Text, Theme, YearOverride, has_control

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")
HASHTAG_RE = re.compile(r"^#\w+$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
SEND_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
# Upper case only: "todo" is an everyday Spanish word ("en todo México").
PLACEHOLDER_RE = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|(?i:lorem ipsum|placeholder)|\{\{|\}\}")
POST_LIMIT = 280
MAX_LEAD_DAYS = 90
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

DAYS_TOP_KEYS = ("version", "themes", "bodies", "days")
DAY_KEYS = ("id", "date", "rule", "annex", "name", "official_name", "proclaimed_by", "resolution",
            "since", "note", "themes", "sdgs", "url", "content", "years")
CONTENT_KEYS = ("summary", "why", "key_messages", "posts", "press_line", "hashtags")
YEAR_KEYS = ("theme", "key_messages", "url")
OFFICES_TOP_KEYS = ("version", "offices")
OFFICE_KEYS = ("id", "name", "state", "emails", "timezone", "language", "themes", "lead_days",
               "send_time")
FULL_CONTENT_COUNTS = {"key_messages": 3, "posts": 3}


class _Report:
    """Collects problems for one file; never stops at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, line: int | None, field: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, field, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DataError(self.problems)


def _line_of(node: Any, key: Any = None) -> int | None:
    """1-based line of a mapping key (or sequence item, or the node itself)."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is None:
            return int(lc.line) + 1
        if isinstance(key, int) and isinstance(node, list):
            return int(lc.item(key)[0]) + 1
        return int(lc.key(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(lc.line) + 1


def _type_name(value: object) -> str:
    if value is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), _mro_name(value))


def _mro_name(value: object) -> str:
    for base, name in ((dict, "a mapping"), (list, "a list"), (str, "a string"),
                       (datetime, "a date-time"), (date, "a date")):
        if isinstance(value, base):
            return name
    return type(value).__name__


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_yaml(path: Path, report: _Report) -> Any:
    """Parse with ruamel so every node keeps its line; syntax errors become problems."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.add(None, "", "file not found")
        return None
    except UnicodeDecodeError as exc:
        report.add(None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return None
    except OSError as exc:
        report.add(None, "", f"cannot read: {exc.strerror}")
        return None
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        report.add(line, "", f"YAML syntax error: {what.strip()}; check indentation and quoting")
    except YAMLError as exc:
        report.add(None, "", f"YAML syntax error: {exc}")
    return None


def _check_keys(report: _Report, node: dict[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in node:
        if key not in allowed:
            field = f"{where}.{key}" if where else str(key)
            report.add(_line_of(node, key), field,
                       f"unknown key{_suggest(str(key), allowed)}; allowed: {', '.join(allowed)}")


def _expect(report: _Report, line: int | None, field: str, value: Any, kind: type | tuple[type, ...],
            what: str) -> bool:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return True
    report.add(line, field, f"expected {what}, got {_type_name(value)}")
    return False


def _text(report: _Report, parent: dict[str, Any], key: str, field: str, *,
          require_es: bool = True) -> Text | None:
    node = parent.get(key)
    line = _line_of(parent, key)
    if not isinstance(node, dict):
        report.add(line, field, f"expected a mapping with 'es' and 'en', got {_type_name(node)}")
        return None
    _check_keys(report, node, LANGUAGES, field)
    values: dict[str, str | None] = {}
    for lang in LANGUAGES:
        value = node.get(lang)
        if value is None:
            values[lang] = None
            continue
        if not isinstance(value, str) or not value.strip():
            report.add(_line_of(node, lang), f"{field}.{lang}", "expected non-empty text")
            values[lang] = None
            continue
        values[lang] = value.strip()
    if values["es"] is None:
        if require_es and "es" not in node:
            report.add(line, f"{field}.es", "missing: the Spanish text is required")
        return None
    return Text(values["es"], values["en"])


def _month_day(report: _Report, line: int | None, field: str, value: Any) -> tuple[int, int] | None:
    if not isinstance(value, str):
        report.add(line, field, f'expected "MM-DD" in quotes, got {_type_name(value)}')
        return None
    m = MONTH_DAY_RE.match(value.strip())
    if not m:
        report.add(line, field, f'"{value}" is not MM-DD (for example "03-22")')
        return None
    month, day = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        report.add(line, field, f'"{value}" is not a date (month must be 01 to 12)')
        return None
    if month == 2 and day == 29:
        report.add(line, field, '"02-29" exists only in leap years; use "02-28", "03-01" or a rule')
        return None
    if not 1 <= day <= DAYS_IN_MONTH[month - 1]:
        limit = DAYS_IN_MONTH[month - 1] if month != 2 else 28
        report.add(line, field, f'"{value}" is not a date ({MONTH_NAMES[month - 1]} has '
                                f'{limit} days)')
        return None
    return month, day


def check_rule(rule: str) -> str | None:
    """Why a recurrence rule is unusable, or None when it is fine."""
    from dateutil.rrule import YEARLY, rrulestr

    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "DTSTART" in text.upper() or "\n" in text:
        return "give only the RRULE part (no DTSTART, one line)"
    try:
        parsed = rrulestr(text, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as exc:
        return f"not a valid RFC 5545 rule ({exc})"
    if getattr(parsed, "_freq", None) != YEARLY:
        return "international days recur yearly: use FREQ=YEARLY"
    parts = {p.split("=", 1)[0].upper() for p in text.split(";") if p}
    if parts & {"INTERVAL", "COUNT", "UNTIL"}:
        return ("INTERVAL, COUNT and UNTIL are not supported: a day occurs every year (end a day by "
                "removing it)")
    # One date a year, every year: the feed's UIDs are {id}-{year}, so two would collide.
    for year in (2000, 2001, 2002, 2003):  # a leap year and the three after it
        dates = parsed.between(datetime(year, 1, 1), datetime(year, 12, 31, 23, 59), inc=True)
        if len(dates) != 1:
            what = "never occurs" if not dates else f"gives {len(dates)} dates"
            return (f"the rule {what} in {year}; a day must fall on exactly one date a year "
                    "(check BYMONTH, BYMONTHDAY, BYDAY and BYSETPOS)")
    return None


def _str_list(report: _Report, parent: dict[str, Any], key: str, field: str) -> list[str]:
    node = parent.get(key)
    line = _line_of(parent, key)
    if not _expect(report, line, field, node, list, "a list"):
        return []
    out = []
    for i, item in enumerate(node):
        if not isinstance(item, str) or not item.strip():
            report.add(_line_of(node, i), f"{field}[{i}]", f"expected text, got {_type_name(item)}")
            continue
        out.append(item.strip())
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
        for key in ("summary", "why", "press_line"):
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
        )
    return out


def _url(report: _Report, parent: dict[str, Any], field: str) -> str | None:
    value = parent.get("url")
    line = _line_of(parent, "url")
    if not isinstance(value, str) or not value.startswith("https://") or " " in value.strip():
        report.add(line, field, f"expected an https:// address, got {value!r}")
        return None
    return value.strip()


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
                      field)
        if label is not None:
            out[ident] = (label, spec)
    return out


def _required(report: _Report, node: dict[str, Any], key: str, field: str) -> bool:
    if key in node:
        return True
    report.add(_line_of(node), f"{field}.{key}", "missing")
    return False


def _parse_day(report: _Report, node: Any, i: int, line: int | None, themes: dict[str, Theme],
               bodies: dict[str, Body], seen: dict[str, int | None], complete: bool) -> Day | None:
    field = f"days[{i}]"
    if not _expect(report, line, field, node, dict, "a mapping"):
        return None
    _check_keys(report, node, DAY_KEYS, field)
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
        problem = check_rule(raw) if isinstance(raw, str) else f"expected text, got {_type_name(raw)}"
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
    official = _text(report, node, "official_name", f"{field}.official_name") \
        if "official_name" in node else None
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
    url = _url(report, node, f"{field}.url") if "url" in node else None
    content = _content(report, node, f"{field}.content") if "content" in node else {}
    if "es" not in content and "content" not in node:
        report.add(line, f"{field}.content.es.summary", "missing: a Spanish summary is required")
        ok = False
    years = _years(report, node, f"{field}.years") if "years" in node else {}
    if complete and annex is True and isinstance(node.get("content"), dict):
        _check_complete(report, node["content"], content, f"{field}.content")
    if not ok or name is None:
        return None
    return Day(id=day_id, name=name, annex=annex, month_day=month_day, rule=rule,
               official_name=official, proclaimed_by=body,
               resolution=resolution.strip() if resolution else None, since=since, note=note,
               themes=tuple(day_themes), sdgs=tuple(sdgs), url=url, content=content, years=years,
               order=i, line=line)


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
        if not c.hashtags:
            report.add(lline, f"{field}.{lang}.hashtags", "missing: give at least one hashtag")


def load_days(path: Path | str, *, complete: bool = False) -> Catalog:
    """Load days.yaml; raise DataError listing every problem.

    ``complete`` adds the editorial rule that annex days carry every content field in both
    languages: ``check`` (and so CI and the cron job) enforce it, but a day whose third post is
    still being written must not take the feed or the reminders of every other day offline.
    """
    path = Path(path)
    report = _Report(str(path))
    root = read_yaml(path, report)
    if root is None and not report.problems:
        report.add(1, "", "the file is empty; it needs version, themes and days")
    if report.problems:
        report.raise_if_any()
    if not isinstance(root, dict):
        report.add(1, "", f"expected a mapping with version, themes and days, got {_type_name(root)}")
        report.raise_if_any()
    _check_keys(report, root, DAYS_TOP_KEYS, "")
    themes = {k: Theme(k, label) for k, (label, _) in _labels(report, root, "themes").items()}
    bodies: dict[str, Body] = {}
    if "bodies" in root:
        for k, (label, spec) in _labels(report, root, "bodies", ("un",)).items():
            un = spec.get("un", False)
            if not isinstance(un, bool):
                report.add(_line_of(spec, "un"), f"bodies.{k}.un", "expected true or false")
            bodies[k] = Body(k, label, bool(un))
    raw_days = root.get("days")
    days: list[Day] = []
    if _expect(report, _line_of(root, "days"), "days", raw_days, list, "a list of days"):
        seen: dict[str, int | None] = {}
        for i, node in enumerate(raw_days):
            day = _parse_day(report, node, i, _line_of(raw_days, i), themes, bodies, seen,
                             complete)
            if day is not None:
                days.append(day)
    report.raise_if_any()
    version = str(root.get("version", ""))
    return Catalog(themes=themes, bodies=bodies, days=tuple(days), source=str(path),
                   version=version)


def _timezone_problem(name: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(name)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        return (f"unknown IANA time zone {name!r}{_suggest(name, available_timezones())}; "
                "for example America/Mexico_City")


def _header_safe(report: _Report, line: int | None, field: str, value: str) -> bool:
    if has_control(value):
        report.add(line, field, "contains a line break or control character, which would let it "
                                "inject e-mail headers; write it on one line")
        return False
    return True


def _parse_office(report: _Report, node: Any, i: int, line: int | None, seen: dict[str, int | None],
                  known_themes: Callable[[str], bool] | None, theme_ids: Iterable[str]
                  ) -> Office | None:
    field = f"offices[{i}]"
    if not _expect(report, line, field, node, dict, "a mapping"):
        return None
    _check_keys(report, node, OFFICE_KEYS, field)
    ok = True
    for key in ("id", "name", "emails", "timezone"):
        ok = _required(report, node, key, field) and ok
    office_id = node.get("id")
    if "id" in node:
        if not isinstance(office_id, str) or not ID_RE.match(office_id):
            report.add(_line_of(node, "id"), f"{field}.id", f"{office_id!r} is not a kebab-case id")
            ok = False
        elif office_id in seen:
            report.add(_line_of(node, "id"), f"{field}.id",
                       f"duplicate id {office_id!r} (first defined on line {seen[office_id]})")
            ok = False
        else:
            seen[office_id] = _line_of(node, "id")
    texts: dict[str, str] = {}
    for key in ("name", "state"):
        if key in node:
            value = node[key]
            if not isinstance(value, str) or not value.strip():
                report.add(_line_of(node, key), f"{field}.{key}", "expected non-empty text")
                ok = False
            elif _header_safe(report, _line_of(node, key), f"{field}.{key}", value):
                texts[key] = value.strip()
            else:
                ok = False
    emails: list[str] = []
    if "emails" in node:
        raw = node["emails"]
        if isinstance(raw, str):
            raw_list: list[Any] = [raw]
            lines = [_line_of(node, "emails")]
        elif isinstance(raw, list):
            raw_list = list(raw)
            lines = [_line_of(raw, j) for j in range(len(raw))]
        else:
            raw_list, lines = [], []
            report.add(_line_of(node, "emails"), f"{field}.emails", "expected a list of addresses")
            ok = False
        if isinstance(raw, list) and not raw:
            report.add(_line_of(node, "emails"), f"{field}.emails", "give at least one address")
            ok = False
        for j, addr in enumerate(raw_list):
            efield = f"{field}.emails[{j}]"
            if not isinstance(addr, str):
                report.add(lines[j], efield, f"expected an address, got {_type_name(addr)}")
                ok = False
            elif not _header_safe(report, lines[j], efield, addr):
                ok = False
            elif not EMAIL_RE.match(addr.strip()):
                report.add(lines[j], efield,
                           f"{addr!r} is not a valid e-mail address (name@example.org)")
                ok = False
            else:
                emails.append(addr.strip())
    tz = node.get("timezone")
    if "timezone" in node:
        problem = _timezone_problem(tz) if isinstance(tz, str) and tz else \
            f"expected an IANA time zone name, got {_type_name(tz)}"
        if problem:
            report.add(_line_of(node, "timezone"), f"{field}.timezone", problem)
            ok = False
    language = node.get("language", "es")
    if language not in LANGUAGES:
        report.add(_line_of(node, "language"), f"{field}.language",
                   f"{language!r} is not supported; use es or en")
        ok = False
    themes: list[str] = []
    if "themes" in node and node["themes"] is not None:
        for j, ref in enumerate(_str_list(report, node, "themes", f"{field}.themes")):
            if known_themes is not None and not known_themes(ref):
                report.add(_line_of(node["themes"], j), f"{field}.themes[{j}]",
                           f"unknown theme {ref!r}{_suggest(ref, theme_ids)}")
                ok = False
            themes.append(ref)
    lead_days: list[int] = [14, 3]
    if "lead_days" in node:
        raw = node["lead_days"]
        if _expect(report, _line_of(node, "lead_days"), f"{field}.lead_days", raw, list,
                   "a list of whole days, such as [14, 3]"):
            lead_days = []
            if not raw:
                report.add(_line_of(node, "lead_days"), f"{field}.lead_days",
                           "give at least one lead, such as [7]")
                ok = False
            for j, lead in enumerate(raw):
                lfield = f"{field}.lead_days[{j}]"
                if isinstance(lead, bool) or not isinstance(lead, int):
                    report.add(_line_of(raw, j), lfield, f"expected whole days, got {lead!r}")
                    ok = False
                elif lead < 0:
                    report.add(_line_of(raw, j), lfield,
                               f"{lead} is negative: a reminder goes out before the day, not after")
                    ok = False
                elif lead > MAX_LEAD_DAYS:
                    report.add(_line_of(raw, j), lfield,
                               f"{lead} days is too far ahead; use at most {MAX_LEAD_DAYS}")
                    ok = False
                elif lead in lead_days:
                    report.add(_line_of(raw, j), lfield, f"{lead} is listed twice")
                    ok = False
                else:
                    lead_days.append(lead)
        else:
            ok = False
    send_time = time(9, 0)
    if "send_time" in node:
        raw = node["send_time"]
        m = SEND_TIME_RE.match(raw) if isinstance(raw, str) else None
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            report.add(_line_of(node, "send_time"), f"{field}.send_time",
                       f'{raw!r} is not a time of day; write it quoted as "HH:MM", e.g. "09:00"')
            ok = False
        else:
            send_time = time(int(m.group(1)), int(m.group(2)))
    if not ok:
        return None
    return Office(id=office_id, name=texts["name"], state=texts.get("state", ""),
                  emails=tuple(emails), timezone=tz, language=language,
                  themes=frozenset(themes), lead_days=tuple(sorted(lead_days, reverse=True)),
                  send_time=send_time, line=line)


def load_offices(path: Path | str, catalog: Catalog | None = None) -> tuple[Office, ...]:
    """Load offices.yaml; with a catalog, office themes are checked against its themes."""
    path = Path(path)
    report = _Report(str(path))
    root = read_yaml(path, report)
    if root is None and not report.problems:
        report.add(1, "", "the file is empty; it needs a list under 'offices'")
    report.raise_if_any()
    if not isinstance(root, dict):
        report.add(1, "", f"expected a mapping with 'offices', got {_type_name(root)}")
        report.raise_if_any()
    _check_keys(report, root, OFFICES_TOP_KEYS, "")
    raw = root.get("offices")
    offices: list[Office] = []
    theme_ids = tuple(catalog.themes) if catalog else ()
    known = (lambda t: t in catalog.themes) if catalog else None
    if _expect(report, _line_of(root, "offices"), "offices", raw, list, "a list of offices"):
        seen: dict[str, int | None] = {}
        for i, node in enumerate(raw):
            office = _parse_office(report, node, i, _line_of(raw, i), seen, known, theme_ids)
            if office is not None:
                offices.append(office)
    report.raise_if_any()
    return tuple(offices)


def load_all(days_path: Path | str, offices_path: Path | str, *, complete: bool = False
             ) -> tuple[Catalog, tuple[Office, ...]]:
    """Both files, with problems from both reported together."""
    problems: list[Problem] = []
    catalog = None
    try:
        catalog = load_days(days_path, complete=complete)
    except DataError as exc:
        problems.extend(exc.problems)
    try:
        offices = load_offices(offices_path, catalog)
    except DataError as exc:
        problems.extend(exc.problems)
    if problems:
        raise DataError(problems)
    assert catalog is not None
    return catalog, offices
