"""The shipped days.yaml against the 2017 annex it comes from.

tests/data/anexo_dias_internacionales_2017.txt is a verbatim copy of the "ANEXO DE DÍAS
INTERNACIONALES" section of CONAGO's Agenda Estratégica 2017 (Comisión de Asuntos
Internacionales), cut from the agenda's text; the project never reads the original at run time.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import DATA, ROOT

from calendar_service.data.loader import load_days
from calendar_service.occurrences import occurrences

MONTHS = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
SPANISH_MONTHS = {m: i for i, m in enumerate(MONTHS.split(), start=1)}
DATE_LINE = re.compile(r"^(\d{1,2}) de (\w+)$")


def annex() -> list[tuple[tuple[int, int], str]]:
    """(month, day) and name of each annex entry: the dates come first, then the names."""
    lines = [ln.strip() for ln in (DATA / "anexo_dias_internacionales_2017.txt")
             .read_text(encoding="utf-8").splitlines() if ln.strip()]
    dates = [(SPANISH_MONTHS[m.group(2)], int(m.group(1)))
             for m in map(DATE_LINE.match, lines) if m]
    names = [ln for ln in lines if ln.startswith("Día")]
    assert len(dates) == len(names)
    return list(zip(dates, names, strict=True))


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_days(ROOT / "days.yaml")


def test_annex_copy_has_37_days() -> None:
    assert len(annex()) == 37


def test_every_annex_day_is_in_days_yaml_in_order_with_its_exact_name(catalog) -> None:  # type: ignore[no-untyped-def]
    shipped = [(d.month_day, d.name.es) for d in catalog.days if d.annex]
    assert shipped == annex()


def test_annex_days_come_first_and_extra_days_are_marked(catalog) -> None:  # type: ignore[no-untyped-def]
    flags = [d.annex for d in catalog.days]
    assert flags == sorted(flags, reverse=True)
    assert flags.count(False) >= 1


def test_march_21_has_three_days_and_march_8_two(catalog) -> None:  # type: ignore[no-untyped-def]
    found = occurrences(catalog.days, date(2027, 3, 1), date(2027, 4, 1))
    on = [o.date for o in found]
    assert on.count(date(2027, 3, 21)) == 3
    assert on.count(date(2027, 3, 8)) == 2


def test_at_least_one_extra_day_uses_a_rule(catalog) -> None:  # type: ignore[no-untyped-def]
    assert any(d.rule for d in catalog.days if not d.annex)


def test_every_day_has_an_english_name_themes_and_sdgs(catalog) -> None:  # type: ignore[no-untyped-def]
    for day in catalog.days:
        assert day.name.en, day.id
        assert day.themes, day.id
        assert day.sdgs, day.id


def test_days_not_proclaimed_by_the_un_say_so(catalog) -> None:  # type: ignore[no-untyped-def]
    for day in catalog.days:
        if day.proclaimed_by is None or not day.proclaimed_by.un:
            assert day.note is not None, f"{day.id}: a non-UN day needs a note saying so"
            assert day.resolution is None or not day.resolution.startswith("A/RES"), day.id


def test_days_added_beyond_the_annex_have_the_same_complete_content(catalog) -> None:  # type: ignore[no-untyped-def]
    for day in (d for d in catalog.days if not d.annex):
        for lang in ("es", "en"):
            c = day.content[lang]
            assert c.summary and c.why and c.press_line, (day.id, lang)
            assert len(c.key_messages) == 3 and len(c.posts) == 3, (day.id, lang)


def test_shipped_file_passes_the_editorial_rules(catalog) -> None:  # type: ignore[no-untyped-def]
    load_days(ROOT / "days.yaml", complete=True)
    for day in catalog.days:
        for c in day.content.values():
            assert all(len(p) <= 280 for p in c.posts), day.id
            if c.hashtags:
                assert all(any(tag in p for tag in c.hashtags) for p in c.posts), day.id


FACT_FIELDS = ("proclaimed_by", "resolution", "proclaimed", "since")


def fact_sheet() -> list[dict[str, str]]:
    import csv

    with (DATA / "facts.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_fact_sheet_has_a_source_and_a_sentence_for_every_fact(catalog) -> None:  # type: ignore[no-untyped-def]
    sheet = {(r["day"], r["field"], r["value"]) for r in fact_sheet()}
    for day in catalog.days:
        facts = [("proclaimed_by", day.proclaimed_by.id if day.proclaimed_by else None),
                 ("resolution", day.resolution),
                 ("proclaimed", day.proclaimed.iso if day.proclaimed else None),
                 ("since", str(day.since) if day.since else None),
                 ("observed_before_proclamation",
                  "true" if day.observed_before_proclamation else None)]
        if day.official_name:
            facts += [(f"official_name.{lang}", day.official_name.only(lang))
                      for lang in ("es", "en")]
        facts += [(f"hashtags.{lang}", tag) for lang, c in day.content.items()
                  for tag in c.hashtags]
        for field, value in facts:
            if value is not None:
                assert (day.id, field, value) in sheet, (day.id, field, value)


def test_the_fact_sheet_is_sorted_by_day_and_quotes_https_or_read_sources(catalog) -> None:  # type: ignore[no-untyped-def]
    rows = fact_sheet()
    order = [d.id for d in catalog.days]
    assert [order.index(r["day"]) for r in rows] == sorted(order.index(r["day"]) for r in rows)
    for r in rows:
        assert r["quote"].strip() and r["source_url"].startswith(("https://", "http://")), r


# Agency days whose primary text the fact-check could not read over https (see
# tests/data/FACTS-GAPS.md): their sources are copies or secondary pages, each with a note saying so.
WITHOUT_HTTPS_PRIMARY = {"world-poetry-day"}


def test_every_day_is_verified_and_every_un_day_has_a_primary_source(catalog) -> None:  # type: ignore[no-untyped-def]
    for day in catalog.days:
        assert day.verified is not None, day.id
        assert all(s.url.startswith("https://") for s in day.sources), day.id
        if day.resolution and day.resolution.startswith("A/RES/"):
            assert f"https://undocs.org/{day.resolution.replace(' ', '')}" in \
                [s.url for s in day.sources], day.id
        if day.proclaimed_by and day.proclaimed_by.un and day.id not in WITHOUT_HTTPS_PRIMARY:
            assert any(s.note is None for s in day.sources), f"{day.id}: no primary source"
        for s in day.sources:
            assert s.note is None or (s.note.es and s.note.en), f"{day.id}: {s.url}"
