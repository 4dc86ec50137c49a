"""serve's rebuild after an edit: only what changed is redone, the bytes are a full build's, and
the log says how long it took (cards apart). And check's two halves on two cores."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from webtools import GOLDEN, NOW, TODAY

from calendar_service.base.errors import DataError, Problem
from calendar_service.base.settings import load_settings
from calendar_service.base.twocores import side_by_side
from calendar_service.publishing.feed import EventMemo
from calendar_service.publishing.site import Site
from calendar_service.publishing.web import Publisher, SiteState


def _served(tmp_path: Path, name: str, cards: Path) -> tuple[Path, SiteState]:
    days = tmp_path / f"{name}.yaml"
    days.write_text((GOLDEN / "days.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_settings({"days": str(days), "data_dir": str(tmp_path / name)},
                             environ={"CALENDAR_SERVICE_CARD_CACHE": str(cards)})
    publisher = Publisher(settings, fixed_today=TODAY)
    return days, SiteState(publisher.build(NOW), rebuild=publisher.rebuild_if_changed)


def _edit(days: Path) -> None:
    days.write_text(days.read_text(encoding="utf-8").replace(
        "Día Mundial del Agua", "Día Mundial del Agua Dulce"), encoding="utf-8")


def _bytes(site: Site) -> dict[str, bytes]:
    return {path: res.body for path, res in site.resources.items()}


def test_a_rebuild_after_an_edit_gives_the_bytes_of_a_build_from_scratch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cards = tmp_path / "cards"
    days, reused = _served(tmp_path, "reused", cards)
    _edit(days)
    assert reused.refresh(NOW + timedelta(minutes=1)) is True
    monkeypatch.setattr(EventMemo, "get", lambda self, key: None)  # nothing kept: all anew
    days, fresh = _served(tmp_path, "fresh", cards)
    _edit(days)
    assert fresh.refresh(NOW + timedelta(minutes=1)) is True
    assert _bytes(reused.site) == _bytes(fresh.site)
    assert "Día Mundial del Agua Dulce" in reused.site.resources["/calendar.ics"].body.decode()


def test_a_rebuild_serializes_again_only_the_events_of_the_edited_day_and_logs_its_time(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    days, state = _served(tmp_path, "days", tmp_path / "cards")
    _edit(days)
    with caplog.at_level(logging.INFO, logger="calendar_service.publishing.web"):
        assert state.refresh(NOW + timedelta(minutes=1)) is True
    built = [r.getMessage() for r in caplog.records if "event=site-built" in r.getMessage()]
    assert len(built) == 1
    fields = dict(part.split("=", 1) for part in built[0].split()[1:])
    ics = state.site.resources["/calendar.ics"].body.decode()
    water = ics.count("UID:world-water-day-")
    every = ics.count("BEGIN:VEVENT")
    assert int(fields["events_reused"]) == 2 * (every - water)  # both languages, but that day
    assert float(fields["seconds"]) >= 0 and float(fields["cards_seconds"]) >= 0


def test_both_halves_give_their_results_in_order() -> None:
    assert side_by_side(lambda: [1], lambda: ["two", Problem("f", 3, "x", "m")]) == (
        [1], ["two", Problem("f", 3, "x", "m")])


def test_an_error_here_stops_the_other_half_instead_of_waiting_for_it(monkeypatch) -> None:
    """The other half is not wanted any more: it is killed, not left running or waited for."""
    import os
    import signal

    from calendar_service.base import twocores

    monkeypatch.setattr(twocores, "cores", lambda: 2)
    never_read, never_written = os.pipe()

    def forever() -> bytes:
        return os.read(never_read, 1)  # blocks until killed

    def fail() -> None:
        raise ValueError("here")

    def hung(signum: int, frame: object) -> None:
        raise AssertionError("side_by_side waited for the other half")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)  # a guard only: the fixed code returns at once
    try:
        with pytest.raises(ValueError, match="here"):
            side_by_side(fail, forever)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.close(never_read)
        os.close(never_written)


def test_a_half_that_dies_is_reported_with_how_it_ended(monkeypatch) -> None:
    import os

    from calendar_service.base import twocores

    monkeypatch.setattr(twocores, "cores", lambda: 2)
    with pytest.raises(RuntimeError, match="exit status 3"):
        side_by_side(lambda: None, lambda: os._exit(3))


def test_an_error_in_the_other_half_is_raised_here_as_it_was_raised_there() -> None:
    def bad() -> list[Problem]:
        raise DataError([Problem("days.yaml", 7, "name", "wrong")])

    with pytest.raises(DataError) as caught:
        side_by_side(lambda: [], bad)
    assert [str(p) for p in caught.value.problems] == ["days.yaml:7: name: wrong"]
