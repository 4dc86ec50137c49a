"""`check` catches contradictory facts: each rule on a broken copy of a real day of days.yaml,
reported at FILE:LINE with what to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import MINIMAL_DAYS, ROOT, write

from calendar_service.base.errors import DataError
from calendar_service.data.facts import SYMBOL_PATTERNS
from calendar_service.data.loader import load_days

SHIPPED = (ROOT / "days.yaml").read_text(encoding="utf-8")
HEADER, DAYS = SHIPPED.split("\ndays:\n", 1)


def real_day(day_id: str) -> str:
    """The shipped file's header and one of its days, verbatim."""
    block = re.search(rf"(?ms)^  - id: {re.escape(day_id)}\n.*?(?=^  - id: |\Z)", DAYS)
    assert block, day_id
    return f"{HEADER}\ndays:\n{block.group(0)}"


def broken(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, "days.yaml", text)
    with pytest.raises(DataError) as info:
        load_days(path, complete=True)
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def at(tmp_path: Path, text: str, needle: str) -> str:
    """The FILE:LINE prefix a problem about the line holding ``needle`` must start with."""
    return f"{tmp_path / 'days.yaml'}:{line_of(text, needle)}: "


@pytest.mark.parametrize("day_id", ["world-water-day", "holocaust-remembrance-day",
                                    "world-day-of-social-justice", "international-migrants-day",
                                    "world-theatre-day", "world-food-day"])
def test_real_days_pass_including_years_that_are_not_facts_of_the_day(tmp_path: Path,
                                                                      day_id: str) -> None:
    # «1945» (Auschwitz), «Agenda 2030» and «ODS 16» are not first years or proclamations
    load_days(write(tmp_path, "days.yaml", real_day(day_id)), complete=True)


def test_a_spanish_year_after_se_celebra_desde_must_equal_since(tmp_path: Path) -> None:
    text = broken(real_day("world-water-day"), "y se celebra desde 1993.", "y se celebra desde 1992.")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "se celebra desde 1992"))
               and "content.es.summary" in p and "contradicts since: 1993" in p for p in found), found


def test_an_english_year_after_since_must_equal_since(tmp_path: Path) -> None:
    text = broken(real_day("world-water-day"), "it has been observed since 1993.",
                  "it has been observed since 1992.")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "observed since 1992"))
               and "content.en.summary" in p and "write 1993" in p for p in found), found


def test_a_year_after_proclamo_en_must_equal_the_proclamation(tmp_path: Path) -> None:
    text = broken(real_day("world-water-day"), "lo proclamó en 1992", "lo proclamó en 1993")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "lo proclamó en 1993"))
               and "contradicts proclaimed: 1992-12-22" in p for p in found), found


def test_a_year_after_proclaimed_in_a_press_line_must_equal_the_proclamation(tmp_path: Path
                                                                             ) -> None:
    text = broken(real_day("world-water-day"),
                  "On World Water Day, proclaimed by the UN General Assembly in 1992",
                  "On World Water Day, proclaimed by the UN General Assembly in 1993")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "General Assembly in 1993"))
               and "content.en.press_line" in p for p in found), found


def test_a_year_after_desde_in_a_note_must_equal_since(tmp_path: Path) -> None:
    text = broken(real_day("world-theatre-day"), "y se celebra desde 1962.'",
                  "y se celebra desde 1961.'")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "se celebra desde 1961.'")) and "note.es" in p
               for p in found), found


def test_since_whose_date_had_passed_when_the_decision_was_adopted(tmp_path: Path) -> None:
    text = broken(real_day("world-water-day"), "    since: 1993\n", "    since: 1992\n")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "    since: 1992"))
               and "adopted on 1992-12-22, after 1992-03-22 had passed" in p
               and "usually 1993" in p for p in found), found


def test_since_before_the_decision_needs_observed_before_proclamation(tmp_path: Path) -> None:
    day = real_day("international-migrants-day")
    load_days(write(tmp_path, "days.yaml", day), complete=True)  # 1997 < 2000 with the flag
    text = broken(day, "    observed_before_proclamation: true\n", "")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "    since: 1997"))
               and "observed_before_proclamation: true" in p for p in found), found


def test_observed_before_proclamation_with_a_later_since_is_a_contradiction(tmp_path: Path
                                                                            ) -> None:
    text = broken(real_day("world-water-day"), "    since: 1993\n",
                  "    since: 1993\n    observed_before_proclamation: true\n")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "observed_before_proclamation: true"))
               and "remove the flag" in p for p in found), found


@pytest.mark.parametrize("symbol", ["A/RES/47/193/", "RES 47/193", "A/RES/423(V)", "47/193",
                                    "UNESCO 30C/29", "WHA 42.19"])
def test_a_symbol_in_an_unknown_format(tmp_path: Path, symbol: str) -> None:
    text = broken(real_day("world-water-day"), "resolution: A/RES/47/193",
                  f"resolution: {symbol}")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, f"resolution: {symbol}"))
               and "not a known decision symbol" in p and "A/RES/ES-7/8" in p for p in found), found


@pytest.mark.parametrize("symbol", ["A/RES/47/193", "A/RES/423 (V)", "A/RES/ES-7/8",
                                    "A/RES/S-27/2", "30 C/Resolution 29", "WHA42.19",
                                    "Resolution 1/79"])
def test_every_documented_symbol_form_is_accepted(symbol: str) -> None:
    assert any(p.match(symbol) for _, p in SYMBOL_PATTERNS), symbol


def test_a_url_that_is_not_https(tmp_path: Path) -> None:
    text = broken(real_day("world-theatre-day"), "url: {en: https://world-theatre-day.org/}",
                  "url: {en: http://world-theatre-day.org/}")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "url: {en: http://"))
               and "url.en" in p and "is not https" in p for p in found), found


def test_a_source_that_is_not_https(tmp_path: Path) -> None:
    text = broken(real_day("world-water-day"), "      - https://undocs.org/A/RES/47/193",
                  "      - http://undocs.org/A/RES/47/193")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "- http://undocs.org"))
               and "sources[0]" in p and "is not https" in p for p in found), found


def test_a_version_2_file_needs_the_url_per_language(tmp_path: Path) -> None:
    text = broken(real_day("world-theatre-day"), "url: {en: https://world-theatre-day.org/}",
                  "url: https://world-theatre-day.org/")
    found = problems(tmp_path, text)
    assert any(p.startswith(at(tmp_path, text, "url: https://")) and
               "url: {es: <Spanish page>, en: https://world-theatre-day.org/}" in p
               for p in found), found


def test_a_version_1_file_still_loads_its_url_as_the_english_page(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("    sdgs: [6]", "    sdgs: [6]\n    url: https://example.org/x", 1)
    day = load_days(write(tmp_path, "days.yaml", text), complete=True).days[0]
    assert day.link("en") == "https://example.org/x"
    assert day.link("es") == "https://example.org/x"  # no Spanish page: the English one


def test_version_2_fields_in_a_version_1_file_say_how_to_update(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("    sdgs: [6]", "    sdgs: [6]\n    since: 1993\n"
                                "    proclaimed: 1992-12-22", 1)
    found = problems(tmp_path, text)
    assert any("days[0].proclaimed: is a version 2 field: set version: 2" in p for p in found), found
