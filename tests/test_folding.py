"""The fast line folding writes exactly icalendar's bytes, for any text (property tests)."""

from __future__ import annotations

from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st
from icalendar import Event
from icalendar.parser import Contentline

from calendar_service.publishing.folding import fold, matches_installed, to_ical

# Text of any script, escapes and 1- to 4-byte characters, but no line break (never in a line).
LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
               max_size=400)
ESCAPEY = st.text(st.sampled_from("a\\^,;ñ€😀 é"), max_size=300)


def test_the_installed_icalendar_is_in_the_tested_range() -> None:
    assert matches_installed(), "icalendar outside the tested range: update folding.TESTED"


@settings(max_examples=2000, deadline=None)
@given(LINE)
@example("x" * 73 + "\\n" + "y" * 100)
@example("x" * 74 + "é" * 50)
def test_fold_is_byte_identical_to_icalendar_for_any_line(text: str) -> None:
    assert fold(Contentline(text)) == Contentline(text).to_ical()


@settings(max_examples=2000, deadline=None)
@given(ESCAPEY)
def test_fold_keeps_escapes_with_what_they_escape_as_icalendar_does(text: str) -> None:
    assert fold(Contentline(text)) == Contentline(text).to_ical()


@settings(max_examples=300, deadline=None)
@given(LINE, LINE)
def test_a_folded_event_is_byte_identical_to_icalendars(summary: str, description: str) -> None:
    event = Event()
    event.add("summary", summary)
    event.add("description", description)
    event.add("dtstart", date(2027, 3, 22))
    assert to_ical(event) == event.to_ical()
