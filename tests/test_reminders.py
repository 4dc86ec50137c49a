"""Which reminders are due when: each office on its own clock, catch-up rules, grouping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailtest import at, mail_env  # noqa: F401

from calendar_service.mail.reminders import Seen, due_reminders, office_today, scheduled_batch


def by_office(batches):  # type: ignore[no-untyped-def]
    return {b.office.id: b for b in batches}


def test_tijuana_and_cancun_each_get_theirs_at_their_own_nine(mail_env) -> None:  # noqa: F811
    cat, offices = mail_env["catalog"], mail_env["offices"][:2]
    # 18 March 2027, lead 3 for 21 March. Cancun is UTC-5; Tijuana is on PDT (UTC-7) by then.
    just_before_cancun = at("2027-03-18T13:59:59+00:00")
    cancun_nine = at("2027-03-18T14:00:00+00:00")
    tijuana_nine = at("2027-03-18T16:00:00+00:00")

    # Sending since the 17th, so no missed 14-day reminder brings a message earlier (a message
    # carries everything scheduled later the same day: see test_first_run.py).
    since = at("2027-03-17T00:00:00+00:00")
    seen = Seen({o.id: since for o in offices},
                {(o.id, lead): since for o in offices for lead in o.lead_days}, {})

    def lead3(now: datetime) -> set[str]:
        return {b.office.id for b in due_reminders(cat, offices, now, seen)
                if any(i.lead == 3 for i in b.items)}

    assert lead3(just_before_cancun) == set()
    assert lead3(cancun_nine) == {"quintana-roo"}
    assert lead3(tijuana_nine - timedelta(seconds=1)) == {"quintana-roo"}
    assert lead3(tijuana_nine) == {"baja-california", "quintana-roo"}
    batch = by_office(due_reminders(cat, offices, tijuana_nine, seen))["baja-california"]
    assert batch.local_now.hour == 9 and str(batch.local_now.tzinfo) == "America/Tijuana"


def test_21_march_three_days_go_in_one_message(mail_env) -> None:  # noqa: F811
    cat, offices = mail_env["catalog"], mail_env["offices"]
    qroo = [o for o in offices if o.id == "quintana-roo"][0]
    batch = scheduled_batch(cat, qroo, at("2027-03-18T09:00:00-05:00"))
    assert batch is not None
    assert [i.occurrence.day.id for i in batch.items] == [
        "elimination-of-racial-discrimination-day", "international-day-of-forests",
        "world-poetry-day"]
    assert {i.days_ahead for i in batch.items} == {3}
    assert not any(i.catch_up for i in batch.items)


def test_office_themes_filter_the_days(mail_env) -> None:  # noqa: F811
    cat, offices = mail_env["catalog"], mail_env["offices"]
    batches = by_office(due_reminders(cat, offices, at("2027-03-19T12:00:00-06:00")))
    assert {i.occurrence.day.id for i in batches["cdmx-en"].items} == {
        "international-day-of-forests", "world-water-day"}


def test_only_the_smallest_overdue_lead_is_due(mail_env) -> None:  # noqa: F811
    cat, offices = mail_env["catalog"], mail_env["offices"][1:2]
    # Both leads (14 and 3) of 22 March are overdue on 20 March: one reminder, lead 3.
    batch = due_reminders(cat, offices, at("2027-03-20T10:00:00-05:00"))[0]
    water = [i for i in batch.items if i.occurrence.day.id == "world-water-day"]
    assert [(i.lead, i.days_ahead, i.catch_up) for i in water] == [(3, 2, True)]


def test_missed_reminder_is_caught_up_while_the_day_is_ahead(mail_env) -> None:  # noqa: F811
    cat, offices = mail_env["catalog"], mail_env["offices"][1:2]
    batch = due_reminders(cat, offices, at("2027-03-12T10:00:00-05:00"))[0]
    water = [i for i in batch.items if i.occurrence.day.id == "world-water-day"][0]
    assert (water.lead, water.days_ahead, water.catch_up) == (14, 10, True)


def test_on_the_day_itself_still_caught_up_never_after(mail_env) -> None:  # noqa: F811
    cat, offices = mail_env["catalog"], mail_env["offices"][1:2]
    on_the_day = due_reminders(cat, offices, at("2027-03-22T23:59:00-05:00"))
    assert [(i.occurrence.day.id, i.days_ahead) for b in on_the_day for i in b.items] == [
        ("world-water-day", 0)]
    assert due_reminders(cat, offices, at("2027-03-23T00:00:00-05:00")) == []


def test_lead_zero_goes_on_the_day(mail_env) -> None:  # noqa: F811
    cat = mail_env["catalog"]
    office = replace(mail_env["offices"][1], lead_days=(0,))
    assert due_reminders(cat, [office], at("2027-03-22T08:59:00-05:00")) == []
    batch = due_reminders(cat, [office], at("2027-03-22T09:00:00-05:00"))[0]
    assert [(i.occurrence.day.id, i.catch_up) for i in batch.items] == [("world-water-day", False)]


def test_naive_now_is_refused(mail_env) -> None:  # noqa: F811
    with pytest.raises(ValueError, match="aware"):
        due_reminders(mail_env["catalog"], mail_env["offices"], datetime(2027, 3, 18, 9))


@settings(max_examples=150, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2029, 1, 1)))
def test_every_due_item_is_scheduled_by_the_end_of_the_office_s_today_and_not_past(
        naive: datetime) -> None:
    from mailtest import FULL_DAYS, OFFICES

    from calendar_service.data.loader import load_all

    cat, offices = _cached(load_all, FULL_DAYS, OFFICES)
    now = naive.replace(tzinfo=UTC)
    for batch in due_reminders(cat, offices, now):
        today = office_today(batch.office, now)
        keys = [(i.occurrence.day.id, i.occurrence.date) for i in batch.items]
        assert len(keys) == len(set(keys))  # one lead per occurrence
        assert any(item.scheduled <= now for item in batch.items)  # one is due: it calls
        for item in batch.items:  # the others are scheduled later today: they ride along
            assert item.scheduled.date() <= today
            assert item.occurrence.date >= today
            assert item.lead in batch.office.lead_days
            assert batch.office.wants(item.occurrence.day)


_CACHE: dict[str, object] = {}


def _cached(load, days: str, offices: str):  # type: ignore[no-untyped-def]
    if "v" not in _CACHE:
        import tempfile
        from pathlib import Path

        folder = Path(tempfile.mkdtemp())
        (folder / "d.yaml").write_text(days, encoding="utf-8")
        (folder / "o.yaml").write_text(offices, encoding="utf-8")
        _CACHE["v"] = load(folder / "d.yaml", folder / "o.yaml")
    return _CACHE["v"]
