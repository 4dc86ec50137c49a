"""occurrences(): pure, deterministic date arithmetic over any window."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from calendar_service.data.loader import load_days
from calendar_service.data.model import Day, Text
from calendar_service.occurrences import day_dates, next_occurrence, occurrences

WATER = Day(id="water", name=Text("Agua"), annex=False, month_day=(3, 22), order=0)
HABITAT = Day(id="habitat", name=Text("Hábitat"), annex=False,
              rule="FREQ=YEARLY;BYMONTH=10;BYDAY=1MO", order=1)
LAST_DAY = Day(id="feb-28", name=Text("Fin de febrero"), annex=False, month_day=(2, 28), order=2)


def test_fixed_date_occurs_once_a_year() -> None:
    assert day_dates(WATER, date(2026, 1, 1), date(2029, 1, 1)) == [
        date(2026, 3, 22), date(2027, 3, 22), date(2028, 3, 22)]


def test_rule_gives_first_monday_of_october() -> None:
    assert day_dates(HABITAT, date(2026, 1, 1), date(2029, 1, 1)) == [
        date(2026, 10, 5), date(2027, 10, 4), date(2028, 10, 2)]


def test_window_is_half_open() -> None:
    assert day_dates(WATER, date(2027, 3, 22), date(2027, 3, 23)) == [date(2027, 3, 22)]
    assert day_dates(WATER, date(2027, 3, 21), date(2027, 3, 22)) == []


def test_empty_or_reversed_window_has_no_occurrences() -> None:
    assert occurrences([WATER, HABITAT], date(2027, 5, 1), date(2027, 5, 1)) == []
    assert occurrences([WATER, HABITAT], date(2027, 5, 1), date(2026, 5, 1)) == []


def test_leap_years_are_handled() -> None:
    assert day_dates(LAST_DAY, date(2028, 1, 1), date(2029, 1, 1)) == [date(2028, 2, 28)]


def test_occurrences_are_sorted_by_date_then_file_order(days_file: Path) -> None:
    catalog = load_days(days_file)
    found = occurrences(catalog.days, date(2027, 1, 1), date(2028, 1, 1))
    assert [(o.day.id, o.date) for o in found] == [
        ("world-water-day", date(2027, 3, 22)), ("world-habitat-day", date(2027, 10, 4))]


def test_next_occurrence_crosses_the_year() -> None:
    assert next_occurrence(WATER, date(2027, 3, 23)) == date(2028, 3, 22)
    assert next_occurrence(HABITAT, date(2027, 10, 4)) == date(2027, 10, 4)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 1, 1)),
       st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=2000))
def test_splitting_a_window_changes_nothing(start: date, first: int, second: int) -> None:
    middle, end = start + timedelta(days=first), start + timedelta(days=first + second)
    days = [WATER, HABITAT, LAST_DAY]
    whole = occurrences(days, start, end)
    assert whole == occurrences(days, start, middle) + occurrences(days, middle, end)
    assert all(start <= o.date < end for o in whole)


@given(st.integers(min_value=1900, max_value=2199))
def test_every_day_occurs_exactly_once_per_year(year: int) -> None:
    found = occurrences([WATER, HABITAT, LAST_DAY], date(year, 1, 1), date(year + 1, 1, 1))
    assert sorted(o.day.id for o in found) == ["feb-28", "habitat", "water"]
