"""The iCalendar feed as clients read it: RFC 5545 shape, stable UIDs, revisions, variants."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT
from icalendar import Calendar
from webtools import GOLDEN, NOW, TODAY, publication, renderer

from calendar_service.data.loader import load_days
from calendar_service.publishing.feed import FeedSpec, build_feed, feed_specs, revise_days, window
from calendar_service.publishing.state import PublishState


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_days(ROOT / "days.yaml")


@pytest.fixture(scope="module")
def golden_catalog():  # type: ignore[no-untyped-def]
    return load_days(GOLDEN / "days.yaml")


def make(catalog, spec=None, *, today=TODAY, now=NOW, state=None, pub=None):  # type: ignore[no-untyped-def]
    r = renderer()
    pub = pub or publication()
    state = revise_days(state or PublishState(), catalog, pub, r, now)
    return build_feed(catalog, spec or FeedSpec(), today=today, revisions=state.days, publication=pub,
                      renderer=r), state


def events(body: bytes) -> list:  # type: ignore[type-arg]
    return list(Calendar.from_ical(body).walk("VEVENT"))


def test_lines_end_in_crlf_and_are_folded_at_75_octets(catalog) -> None:  # type: ignore[no-untyped-def]
    body, _ = make(catalog)
    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines), "long descriptions are folded"


def test_calendar_properties_clients_need(catalog) -> None:  # type: ignore[no-untyped-def]
    cal = Calendar.from_ical(make(catalog)[0])
    assert cal["VERSION"] == "2.0"
    assert str(cal["PRODID"]).startswith("-//")
    assert str(cal["NAME"]) == str(cal["X-WR-CALNAME"]) == "Días internacionales"
    assert "CONAGO" in str(cal["X-WR-CALDESC"]) and "CONAGO" in str(cal["DESCRIPTION"])
    assert cal["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert cal["REFRESH-INTERVAL"].dt == timedelta(days=1)
    assert str(cal["SOURCE"]) == "https://dias.example.org/calendar.ics"
    raw = make(catalog)[0]
    assert b"\r\nX-PUBLISHED-TTL:P1D\r\n" in raw


def test_every_event_is_all_day_transparent_and_complete(catalog) -> None:  # type: ignore[no-untyped-def]
    raw = make(catalog)[0]
    assert raw.count(b"DTSTART;VALUE=DATE:") == raw.count(b"BEGIN:VEVENT") > 0
    assert raw.count(b"DTEND;VALUE=DATE:") == raw.count(b"BEGIN:VEVENT")
    for ev in events(raw):
        start, end = ev["DTSTART"].dt, ev["DTEND"].dt
        assert type(start) is date and type(end) is date  # dates, never date-times
        assert end == start + timedelta(days=1)  # exclusive end: one whole day
        assert ev["TRANSP"] == "TRANSPARENT"
        for prop in ("UID", "DTSTAMP", "SUMMARY", "DESCRIPTION", "URL", "SEQUENCE",
                     "LAST-MODIFIED"):
            assert prop in ev, prop


def test_window_is_last_year_this_year_and_the_next_two(catalog) -> None:  # type: ignore[no-untyped-def]
    assert window(date(2027, 6, 30)) == (date(2026, 1, 1), date(2030, 1, 1))
    years = {ev["DTSTART"].dt.year for ev in events(make(catalog)[0])}
    assert years == {2026, 2027, 2028, 2029}


def test_uid_is_day_id_year_and_the_fixed_domain(catalog) -> None:  # type: ignore[no-untyped-def]
    evs = events(make(catalog)[0])
    uids = [str(ev["UID"]) for ev in evs]
    assert len(uids) == len(set(uids))
    water = [u for u in uids if u.startswith("world-water-day-")]
    assert sorted(water) == [f"world-water-day-{y}@calendar-service.conago.example"
                             for y in (2026, 2027, 2028, 2029)]


def test_uids_do_not_depend_on_the_host_or_the_build_time(catalog) -> None:  # type: ignore[no-untyped-def]
    from calendar_service.publishing.feed import Publication

    a = {str(e["UID"]) for e in events(make(catalog)[0])}
    moved = Publication("https://other.example.net/dias", "calendar-service.conago.example")
    b = {str(e["UID"]) for e in events(make(catalog, pub=moved, now=NOW + timedelta(days=40))[0])}
    assert a == b


def test_unchanged_data_gives_identical_bytes_across_builds(catalog) -> None:  # type: ignore[no-untyped-def]
    first, state = make(catalog)
    again, _ = make(catalog, now=NOW + timedelta(days=3), state=state)
    assert again == first


def test_a_changed_day_bumps_only_its_sequence_and_last_modified(golden_catalog) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from calendar_service.data.model import Content

    first, state = make(golden_catalog)
    day = golden_catalog.day("world-habitat-day")
    changed_day = dataclasses.replace(day, content={**day.content,
                                                    "es": Content(summary="Ciudades y pueblos.")})
    changed = dataclasses.replace(golden_catalog, days=tuple(
        changed_day if d.id == day.id else d for d in golden_catalog.days))
    later = NOW + timedelta(days=10)
    second, _ = make(changed, now=later, state=state)
    before = {str(e["UID"]): e for e in events(first)}
    for ev in events(second):
        old = before[str(ev["UID"])]
        if str(ev["UID"]).startswith("world-habitat-day-"):
            assert ev["SEQUENCE"] == old["SEQUENCE"] + 1
            assert ev["LAST-MODIFIED"].dt == later
            assert ev["DTSTAMP"].dt == later
        else:
            assert ev["SEQUENCE"] == old["SEQUENCE"]
            assert ev["LAST-MODIFIED"].dt == old["LAST-MODIFIED"].dt == NOW


def test_feed_language_theme_and_alarm_variants(catalog) -> None:  # type: ignore[no-untyped-def]
    en = events(make(catalog, FeedSpec("en"))[0])
    assert "World Water Day" in {str(e["SUMMARY"]) for e in en}
    env = events(make(catalog, FeedSpec("es", "medio-ambiente"))[0])
    assert env and all("Medio ambiente" in [str(c) for c in e["CATEGORIES"].cats] for e in env)
    assert len(env) < len(events(make(catalog)[0]))
    assert b"BEGIN:VALARM" not in make(catalog)[0]
    with_alarms = events(make(catalog, FeedSpec("es", alarms=True))[0])
    alarm = with_alarms[0].subcomponents[0]
    assert alarm.name == "VALARM" and alarm["ACTION"] == "DISPLAY"
    assert alarm["TRIGGER"].dt == timedelta(hours=-15)


def test_every_published_feed_has_its_own_path(catalog) -> None:  # type: ignore[no-untyped-def]
    specs = {s.path for s in feed_specs(catalog)}
    assert {"/calendar.ics", "/en/calendar.ics", "/alarms/calendar.ics",
            "/themes/medio-ambiente.ics", "/en/themes/medio-ambiente.ics"} <= specs
    assert len(specs) == 2 * (2 + len(catalog.themes))


def test_year_override_is_used_only_in_its_year(golden_catalog) -> None:  # type: ignore[no-untyped-def]
    evs = {str(e["UID"]): e for e in events(make(golden_catalog)[0])}
    e27 = evs["world-water-day-2027@calendar-service.conago.example"]
    e28 = evs["world-water-day-2028@calendar-service.conago.example"]
    assert "Tema 2027: Agua y glaciares" in str(e27["DESCRIPTION"])
    assert str(e27["URL"]) == "https://www.unwater.org/2027"
    assert "Agua y glaciares" not in str(e28["DESCRIPTION"])
    assert str(e28["URL"]) == "https://www.un.org/es/observances/water-day"


def test_description_has_only_what_the_data_has(golden_catalog) -> None:  # type: ignore[no-untyped-def]
    evs = {str(e["UID"]).split("@")[0]: e for e in events(make(golden_catalog, FeedSpec("en"))[0])}
    rights = str(evs["human-rights-day-2027"]["DESCRIPTION"])
    # no English text in the data: the Spanish one, nothing made up; no body, SDGs or link
    assert rights.startswith("Todos los seres humanos nacen libres")
    assert "Proclaimed by" not in rights and "Sustainable Development" not in rights
    assert "More information" not in rights
    assert "Suggested messages: https://dias.example.org/en/days/human-rights-day/" in rights
    water = str(evs["world-water-day-2027"]["DESCRIPTION"])
    assert ("Proclaimed by the United Nations General Assembly in 1992 (resolution 47/193); "
            "observed since 1993.") in water
    assert "Sustainable Development Goal: 6 (Clean water and sanitation)." in water


def test_rule_based_days_land_on_their_weekday(golden_catalog) -> None:  # type: ignore[no-untyped-def]
    evs = {str(e["UID"]).split("@")[0]: e for e in events(make(golden_catalog)[0])}
    assert evs["world-habitat-day-2027"]["DTSTART"].dt == date(2027, 10, 4)  # first Monday
    assert evs["world-habitat-day-2028"]["DTSTART"].dt == date(2028, 10, 2)


def test_revisions_survive_a_restart_through_the_state_file(tmp_path: Path, golden_catalog) -> None:  # type: ignore[no-untyped-def]
    from calendar_service.publishing.state import load_state, save_state

    _, state = make(golden_catalog)
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    body_a, _ = make(golden_catalog, state=state)
    body_b, _ = make(golden_catalog, now=datetime(2027, 2, 1, tzinfo=UTC),
                     state=load_state(tmp_path))
    assert body_a == body_b


def test_damaged_state_file_is_a_clear_error(tmp_path: Path) -> None:
    from calendar_service.base.errors import ConfigError
    from calendar_service.publishing.state import load_state

    (tmp_path / "feed-state.json").write_text("{not json")
    with pytest.raises(ConfigError, match="feed-state.json"):
        load_state(tmp_path)


def test_escaping_keeps_commas_and_semicolons_as_text(golden_catalog) -> None:  # type: ignore[no-untyped-def]
    raw = make(golden_catalog)[0]
    assert re.search(rb"El agua es vida\\; cuidarla\\, protegerla", raw)
    water = [e for e in events(raw) if str(e["UID"]).startswith("world-water-day-2027")][0]
    assert str(water["DESCRIPTION"]).startswith("El agua es vida; cuidarla, protegerla")


def test_every_feed_of_a_site_serializes_each_distinct_event_once(catalog) -> None:  # type: ignore[no-untyped-def]
    """An event is distinct by (day, year, language, alarm); theme feeds reuse its bytes."""
    import io

    from calendar_service.occurrences import occurrences
    from calendar_service.publishing.feed import Feeds

    r, pub = renderer(), publication()
    state = revise_days(PublishState(), catalog, pub, r, NOW)
    feeds = Feeds(catalog, today=TODAY, revisions=state.days, publication=pub, renderer=r)
    written: dict[str, io.BytesIO] = {}
    feeds.write(feed_specs(catalog), lambda spec: written.setdefault(spec.path, io.BytesIO()))
    distinct = len(occurrences(catalog.days, *window(TODAY))) * 2 * 2  # languages x alarm
    assert feeds.events == distinct
    for spec in feed_specs(catalog):
        assert written[spec.path].getvalue() == make(catalog, spec)[0], spec.path


def test_a_theme_feed_lists_exactly_the_events_of_the_all_days_feed_with_that_theme(
        catalog) -> None:  # type: ignore[no-untyped-def]
    theme = "medio-ambiente"
    everything = events(make(catalog)[0])
    themed = events(make(catalog, FeedSpec("es", theme))[0])
    label = catalog.themes[theme].label.es
    expected = [e for e in everything
                if e.get("CATEGORIES") and label in [str(c) for c in e["CATEGORIES"].cats]]
    assert [e.to_ical() for e in themed] == [e.to_ical() for e in expected]


@pytest.mark.parametrize("which", ["shipped", "golden"])
def test_events_built_from_forms_are_the_bytes_of_events_built_with_add(
        which: str, catalog, golden_catalog) -> None:  # type: ignore[no-untyped-def]
    """Feeds builds each day's event once per language and fills in the year (``_EventForms``);
    every feed must be what icalendar gives for events built property by property with
    ``Component.add`` and serialized (and folded) by its own ``to_ical``."""
    import io

    from calendar_service.occurrences import occurrences
    from calendar_service.publishing.feed import Feeds, _event
    from calendar_service.publishing.state import Revision

    cat = catalog if which == "shipped" else golden_catalog
    r, pub = renderer(), publication()
    # Revisions that differ from day to day: sequences and times shared by some days only.
    revisions = {day.id: Revision(f"d{i}", i % 3, NOW - timedelta(hours=i % 4))
                 for i, day in enumerate(cat.days)}
    feeds = Feeds(cat, today=TODAY, revisions=revisions, publication=pub, renderer=r)
    found = occurrences(cat.days, *window(TODAY))
    for spec in (FeedSpec("es"), FeedSpec("en"), FeedSpec("es", alarms=True),
                 FeedSpec("en", alarms=True)):
        out = io.BytesIO()
        feeds.write([spec], lambda _spec, out=out: out)  # type: ignore[misc]
        head, tail = feeds._wrapper(spec, r.words(spec.lang))
        expected = head + b"".join(
            _event(occ, spec, revisions[occ.day.id], pub, r, r.words(spec.lang)).to_ical()
            for occ in found) + tail
        assert out.getvalue() == expected, spec
