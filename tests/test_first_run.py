"""A start that sends nothing unexpected, and at most one message per office per local day.

A fresh ledger records when it started and when each office, lead and day first appeared: a
reminder scheduled before is never sent (unless an administrator asks for a catch-up) and never
called late. A restart after an outage is not a new start: what was missed is caught up as a
late notice, the only kind of message that says it is late.
"""

from __future__ import annotations

import email
import email.policy
import functools
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailtest import at, cli, fresh_mail_env, running_since  # noqa: F401

from calendar_service.mail.ledger import Ledger
from calendar_service.mail.reminders import LATE, Seen, due_reminders
from calendar_service.mail.sending import send_due

MARCH_1 = at("2027-03-01T00:00:00+00:00")
MARCH_20 = at("2027-03-20T16:00:00+00:00")  # after the 3-day reminders of 21-22 March


@functools.cache
def catalog():  # type: ignore[no-untyped-def]
    """The test catalog and offices, loaded once for the property tests."""
    import tempfile

    from mailtest import FULL_DAYS, OFFICES

    from calendar_service.data.loader import load_all

    folder = Path(tempfile.mkdtemp())
    (folder / "d.yaml").write_text(FULL_DAYS, encoding="utf-8")
    (folder / "o.yaml").write_text(OFFICES, encoding="utf-8")
    return load_all(folder / "d.yaml", folder / "o.yaml")


def unpack(env, start: int = 0, stop: int = 3):  # type: ignore[no-untyped-def]
    """(settings, catalog, offices[start:stop]) of a fresh_mail_env."""
    return env["settings"], env["catalog"], env["offices"][start:stop]


def outbox(settings) -> list[email.message.EmailMessage]:  # type: ignore[no-untyped-def]
    folder = settings.outbox
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def sent(settings) -> set[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    """(day, date, lead) of every reminder the ledger records as sent (a run's report counts
    them; the ledger names them)."""
    with Ledger(settings.database_url) as ledger:
        return {(e.day_id, e.occurrence_date.isoformat(), e.lead)
                for e in ledger.entries(statuses=["sent"])}


def late(message: email.message.EmailMessage) -> bool:
    return ("Aviso tardío" in str(message["Subject"]) or "Late notice" in str(message["Subject"])
            or "AVISO TARDÍO" in text_of(message) or "LATE NOTICE" in text_of(message))


# -- a fresh install ---------------------------------------------------------------------------


def test_a_fresh_install_s_first_run_sends_nothing_scheduled_before_it(fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    report = send_due(s, cat, offices, MARCH_20)
    assert (report.due, report.sent, report.messages) == (0, 0, 0) and report.ok
    assert outbox(s) == []


def test_a_fresh_install_s_dry_run_shows_nothing_scheduled_before_it(fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    assert send_due(s, cat, offices, MARCH_20, dry_run=True).planned == []
    with Ledger(s.database_url) as ledger:
        assert ledger.started()[1] is None  # a dry run records nothing, not even the start


def test_an_office_s_first_message_is_its_next_scheduled_reminder_and_never_late(
        fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env, 1, 2)
    assert send_due(s, cat, offices, at("2027-03-17T12:00:00+00:00")).sent == 0
    first = send_due(s, cat, offices, at("2027-03-18T09:00:00-05:00"))  # Cancún's lead 3
    assert first.messages == 1
    (message,) = outbox(s)
    assert not late(message)
    # 22 March's 14-day reminder was due on 8 March, before the install: never sent.
    assert "Día Mundial del Agua" not in str(message["Subject"])
    assert send_due(s, cat, offices, at("2027-03-19T09:00:00-05:00")).messages == 1
    assert not any(late(m) for m in outbox(s))


def test_the_ledger_records_its_start_and_when_each_office_lead_and_day_appeared(
        fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    send_due(s, cat, offices, MARCH_20)
    later = MARCH_20 + timedelta(days=1)
    added = replace(offices[2], id="cdmx-es", lead_days=(3, 1))
    send_due(s, cat, [*offices, added], later)
    with Ledger(s.database_url) as ledger:
        created, started = ledger.started()
        seen = ledger.see([*offices, added], cat.days, later + timedelta(days=1))
    assert created is not None and started == MARCH_20
    assert seen.offices == {"baja-california": MARCH_20, "quintana-roo": MARCH_20,
                            "cdmx-en": MARCH_20, "cdmx-es": later}
    assert seen.leads[("cdmx-es", 1)] == later and seen.leads[("quintana-roo", 14)] == MARCH_20
    assert set(seen.days.values()) == {MARCH_20}


def test_a_run_records_every_office_at_its_start_and_reads_them_back_a_chunk_at_a_time(
        fresh_mail_env) -> None:  # noqa: F811
    """More offices than one chunk: those of the later chunks are not new because the first
    chunk's records were written first (whether the ledger has any record is asked once)."""
    from calendar_service.mail.ledger.seen import CHUNK

    s, cat, offices = unpack(fresh_mail_env)
    many = [replace(offices[n % 3], id=f"office-{n:04d}") for n in range(2 * CHUNK + 7)]
    with Ledger(s.database_url) as ledger:
        ledger.see([], [], MARCH_1)  # sending since 1 March, before it kept these records
        first = ledger.first_seen(many, cat.days, MARCH_20)
        assert (first.office_at, first.lead_at) == (MARCH_1, MARCH_1)
        last = many[-CHUNK:]
        seen = ledger.seen_for(first, last)
        assert set(seen.offices) == {o.id for o in last}  # only the chunk asked for
        assert set(seen.offices.values()) == set(seen.leads.values()) == {MARCH_1}
        assert ledger.see(many, cat.days, MARCH_20).offices == {o.id: MARCH_1 for o in many}
        again = ledger.first_seen([*many, replace(offices[0], id="new")], cat.days, MARCH_20)
        assert again.office_at == MARCH_20  # a later run: what is new is new now
        assert ledger.seen_for(again, [replace(offices[0], id="new")]).offices == {
            "new": MARCH_20}
        assert ledger.seen_for(again, many[:1]).offices == {many[0].id: MARCH_1}


def test_a_dry_run_reads_the_records_without_writing_any(fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    with Ledger(s.database_url) as ledger:
        first = ledger.first_seen(offices, cat.days, MARCH_20, write=False)
        assert ledger.seen_for(first, offices).offices == {o.id: MARCH_20 for o in offices}
        assert ledger.started()[1] is None
        assert ledger.see([], [], MARCH_20, write=False).offices == {}


def test_each_message_is_recorded_on_the_sending_run_s_clock(fresh_mail_env) -> None:  # noqa: F811
    """``sent_as_of``: the run's ``now`` plus the time it has spent, also on a ``--now`` replay;
    what one message a day is counted on."""
    from sqlalchemy import select

    from calendar_service.mail.ledger import reminders

    s, cat, offices = unpack(fresh_mail_env, 1, 2)
    running_since(s, cat, offices, MARCH_1)
    now = at("2027-03-18T09:00:00-05:00")
    assert send_due(s, cat, offices, now).sent == 4
    with Ledger(s.database_url) as ledger, ledger.engine.connect() as conn:
        rows = conn.execute(select(reminders.c.status, reminders.c.sent_as_of)).all()
    assert len(rows) == 4 and {status for status, _ in rows} == {"sent"}
    assert all(now <= as_of < now + timedelta(minutes=5) for _, as_of in rows)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2029, 1, 1)),
       st.sampled_from(["America/Tijuana", "America/Cancun", "Pacific/Kiritimati",
                        "Pacific/Pago_Pago", "Europe/Madrid", "Australia/Lord_Howe"]),
       st.lists(st.integers(0, 30), min_size=1, max_size=3, unique=True))
def test_at_any_instant_a_first_run_is_due_only_what_is_scheduled_at_that_instant(
        naive: datetime, zone: str, leads: list[int]) -> None:
    cat, offices = catalog()
    office = replace(offices[0], timezone=zone, lead_days=tuple(leads))
    now = naive.replace(tzinfo=UTC)
    for batch in due_reminders(cat, [office], now, Seen({}, {}, {})):
        assert all(i.scheduled == now and i.reason == "" for i in batch.items)


# -- a restart, a catch-up on request, what appears later --------------------------------------


def test_a_restart_after_an_outage_catches_up_what_was_missed_as_a_late_notice(
        fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    running_since(s, cat, offices, MARCH_1)
    report = send_due(s, cat, offices, MARCH_20)
    assert report.messages == 3
    messages = outbox(s)
    assert all(late(m) for m in messages)
    spanish = next(m for m in messages if "bc@example.org" in str(m["To"]))
    assert str(spanish["Subject"]).startswith("[Aviso tardío] ")
    assert ("AVISO TARDÍO: este recordatorio estaba programado para una fecha anterior y no "
            "salió entonces porque el servicio de envíos estuvo detenido.") in " ".join(
                text_of(spanish).split())
    assert "Aviso tardío: estaba programado para enviarse 3 días antes; falta 1 día." in text_of(
        spanish)


def test_catch_up_on_request_sends_what_is_still_useful_and_does_not_call_it_late(
        fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    report = send_due(s, cat, offices, MARCH_20, catch_up=True)
    assert report.messages == 3
    messages = outbox(s)
    assert not any(late(m) for m in messages)
    spanish = next(m for m in messages if "bc@example.org" in str(m["To"]))
    body = " ".join(text_of(spanish).split())
    assert "PUESTA AL DÍA: al incorporarse su oficina al servicio, la administración pidió" in body
    assert "Puesta al día: se programó (3 días antes) antes del alta de su oficina; falta 1 día." in body
    assert send_due(s, cat, offices, MARCH_20 + timedelta(hours=1)).messages == 0  # once only


def test_catch_up_on_request_never_sends_a_day_that_has_passed(fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    report = send_due(s, cat, offices, at("2027-03-23T16:00:00+00:00"), catch_up=True)
    assert report.messages == 0 and outbox(s) == []


def test_an_office_added_later_gets_only_its_next_scheduled_reminder(fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    running_since(s, cat, offices[:2], MARCH_1)
    batches = due_reminders(cat, offices, MARCH_20, _seen(s, cat, offices, MARCH_20))
    assert {b.office.id for b in batches} == {"baja-california", "quintana-roo"}
    assert all(i.reason == LATE for b in batches for i in b.items)


def test_a_lead_added_later_sends_nothing_scheduled_before_it(fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env)
    cdmx = offices[2]
    running_since(s, cat, [cdmx], MARCH_1)
    wider = replace(cdmx, lead_days=(3, 1))  # lead 1 added on the 20th, after 20 March 09:00
    (batch,) = due_reminders(cat, [wider], MARCH_20, _seen(s, cat, [wider], MARCH_20))
    assert [(i.occurrence.day.id, i.lead, i.reason) for i in batch.items] == [
        ("international-day-of-forests", 3, LATE), ("world-water-day", 3, LATE)]


def test_a_day_added_after_its_reminder_s_instant_comes_saying_so_and_not_as_late(
        fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env, 0, 1)
    without_water = replace(cat, days=tuple(d for d in cat.days if d.id != "world-water-day"))
    running_since(s, without_water, offices, MARCH_1)
    send_due(s, without_water, offices, at("2027-03-18T09:00:00-07:00"))  # Tijuana's lead 3
    for path in s.outbox.glob("*.eml"):
        path.unlink()
    report = send_due(s, cat, offices, at("2027-03-20T09:00:00-07:00"))
    assert report.messages == 1
    (message,) = outbox(s)
    assert not late(message)
    body = " ".join(text_of(message).split())
    assert "DÍA AÑADIDO AL CALENDARIO: este día se incorporó al calendario después" in body
    assert ("Día añadido al calendario: le habríamos avisado 3 días antes, pero el día se "
            "añadió después; faltan 2 días.") in body


def _seen(s, cat, offices, now):  # type: ignore[no-untyped-def]
    with Ledger(s.database_url) as ledger:
        return ledger.see(offices, cat.days, now)


# -- real runs ---------------------------------------------------------------------------------


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = cli(*args, env=env)
    out, err = proc.communicate(timeout=180)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def eml(folder: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


@pytest.mark.parametrize("hour", [0, 9, 15, 22])
def test_a_fresh_install_s_first_daily_at_any_hour_sends_no_late_notice(
        tmp_path: Path, hour: int) -> None:
    env = {"CALENDAR_SERVICE_DATA_DIR": str(tmp_path)}
    result = run("daily", "--now", f"2027-03-20T{hour:02d}:00:00Z", env=env)
    assert result.returncode == 0, result.stderr
    assert not any(late(m) for m in eml(tmp_path / "outbox"))


def test_send_due_catch_up_sends_what_is_still_useful_on_a_fresh_install(tmp_path: Path) -> None:
    env = {"CALENDAR_SERVICE_DATA_DIR": str(tmp_path)}
    plain = run("send-due", "--now", "2027-03-20T16:00:00Z", env=env)
    assert plain.returncode == 0, plain.stderr
    assert eml(tmp_path / "outbox") == []
    asked = run("send-due", "--now", "2027-03-20T16:05:00Z", "--catch-up", env=env)
    assert asked.returncode == 0, asked.stderr
    messages = eml(tmp_path / "outbox")
    assert messages and not any(late(m) for m in messages)
    assert all("PUESTA AL DÍA" in text_of(m) or "CATCHING UP" in text_of(m) for m in messages)


# -- one message per office per local day ------------------------------------------------------


def test_a_catch_up_before_the_send_time_carries_the_day_s_reminders_in_one_message(
        fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env, 1, 2)  # Cancún, leads 14 and 3
    running_since(s, cat, offices, MARCH_1)
    # Down from 7 March; back at 02:00 on the 18th: 22 March's 14-day reminder was missed, and
    # 21 March's three 3-day reminders are scheduled at 09:00 today. One message now, all four.
    early = send_due(s, cat, offices, at("2027-03-18T02:00:00-05:00"))
    assert early.messages == 1 and early.sent == 4
    at_nine = send_due(s, cat, offices, at("2027-03-18T09:00:00-05:00"))
    assert at_nine.messages == 0 and at_nine.sent == 0
    (message,) = outbox(s)
    assert str(message["Subject"]).startswith("[Aviso tardío] ")


def test_an_occurrence_is_never_reminded_twice_the_same_day(fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env, 2, 3)  # Mexico City, lead 3, water and forests
    office = replace(offices[0], lead_days=(3, 2))
    running_since(s, cat, [office], MARCH_1)
    # Down on the 18th; at 08:00 on the 19th the 3-day reminder of 22 March (due on the 19th at
    # 09:00) and 21 March's 2-day one (09:00 today) go together; the 3-day one of 21 March,
    # missed on the 18th, is replaced by the nearer 2-day one, never sent besides it.
    before = sent(s)
    first = send_due(s, cat, [office], at("2027-03-19T08:00:00-06:00"))
    assert first.messages == 1
    keys = {(d, lead) for (d, _, lead) in sent(s) - before}
    assert keys == {("international-day-of-forests", 2), ("world-water-day", 3)}
    later = send_due(s, cat, [office], at("2027-03-19T20:00:00-06:00"))
    assert later.messages == 0


def test_a_day_added_in_the_afternoon_for_tomorrow_comes_in_a_second_message_saying_why(
        fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env, 0, 1)  # Tijuana
    office = replace(offices[0], lead_days=(3, 1))
    without = replace(cat, days=tuple(d for d in cat.days if d.id != "international-day-of-forests"))
    running_since(s, without, [office], MARCH_1)
    assert send_due(s, without, [office], at("2027-03-20T09:00:00-07:00")).messages == 1
    # World Forestry Day (21 March) added at 15:00 on the 20th: its 1-day reminder was due at
    # 09:00. Tomorrow's message would come on the day itself: a second message now, saying why.
    afternoon = send_due(s, cat, [office], at("2027-03-20T15:00:00-07:00"))
    assert afternoon.messages == 1
    second = next(m for m in outbox(s) if "Día Forestal Mundial" in str(m["Subject"]))
    assert str(second["Subject"]).startswith("[Segundo mensaje de hoy] ")
    body = " ".join(text_of(second).split())
    assert "SEGUNDO MENSAJE DE HOY: ya le escribimos hoy;" in body
    assert "DÍA AÑADIDO AL CALENDARIO" in body and not late(second)
    assert send_due(s, cat, [office], at("2027-03-20T20:00:00-07:00")).messages == 0


def test_a_day_added_in_the_afternoon_further_ahead_waits_for_tomorrow_s_message(
        fresh_mail_env) -> None:  # noqa: F811
    s, cat, offices = unpack(fresh_mail_env, 0, 1)  # Tijuana
    office = replace(offices[0], lead_days=(5, 3))
    without = replace(cat, days=tuple(d for d in cat.days if d.id != "world-water-day"))
    running_since(s, without, [office], MARCH_1)
    assert send_due(s, without, [office], at("2027-03-18T09:00:00-07:00")).messages == 1
    # 22 March added at 15:00 on the 18th, four days ahead, its 5-day reminder already past:
    # it waits for the next day's message, which brings its 3-day reminder on time.
    assert send_due(s, cat, [office], at("2027-03-18T15:00:00-07:00")).messages == 0
    before = sent(s)
    nineteenth = send_due(s, cat, [office], at("2027-03-19T09:00:00-07:00"))
    assert nineteenth.messages == 1 and nineteenth.sent == 1
    assert [(d, lead) for (d, _, lead) in sent(s) - before] == [("world-water-day", 3)]
    assert not any("Segundo" in str(m["Subject"]) for m in outbox(s))


def test_a_resend_after_a_crash_is_the_same_message(fresh_mail_env) -> None:  # noqa: F811
    from calendar_service.mail.compose import Composer

    s, cat, offices = unpack(fresh_mail_env, 1, 2)
    running_since(s, cat, offices, MARCH_1)
    now = at("2027-03-18T09:00:00-05:00")
    (batch,) = due_reminders(cat, offices, now)
    first = Composer(s).message(batch, now)
    again = Composer(s).message(batch, now + timedelta(minutes=20))
    assert first.message_id == again.message_id


# -- the simulator: property tests ---------------------------------------------------------------


ZONES = ["America/Tijuana", "America/Mexico_City", "America/Cancun", "Europe/Madrid",
         "Australia/Lord_Howe", "America/Santiago", "Pacific/Kiritimati", "Pacific/Pago_Pago",
         "Asia/Kathmandu", "America/St_Johns"]
# Around daylight-saving changes: March and April, October and November.
STARTS = [date(2027, 3, 8), date(2027, 3, 24), date(2027, 4, 1), date(2027, 9, 30),
          date(2027, 10, 27), date(2027, 11, 3)]


@functools.cache
def bundled():  # type: ignore[no-untyped-def]
    """The bundled days (46 over the year), loaded once."""
    from calendar_service.base.settings import load_settings
    from calendar_service.data.loader import load_all

    settings_ = load_settings({}, environ={})
    return load_all(settings_.days, settings_.offices)[0]


offices_strategy = st.lists(
    st.builds(lambda n, zone, hour, minute, leads: (n, zone, time(hour, minute), tuple(leads)),
              st.integers(0, 10**6), st.sampled_from(ZONES), st.integers(0, 23),
              st.sampled_from([0, 15, 30, 59]),
              st.lists(st.integers(0, 21), min_size=1, max_size=3, unique=True)),
    min_size=1, max_size=3)
schedule_strategy = st.one_of(
    st.tuples(st.just("hourly"), st.integers(0, 59)),
    st.tuples(st.just("daily"), st.integers(0, 23), st.integers(0, 59)),
    st.tuples(st.just("twice"), st.integers(0, 11), st.integers(0, 59)))


def make_offices(specs):  # type: ignore[no-untyped-def]
    from calendar_service.data.model import Office

    base: Office = catalog()[1][0]  # no themes: every day
    return [replace(base, id=f"office-{i}", timezone=zone, send_time=when, lead_days=leads)
            for i, (_, zone, when, leads) in enumerate(specs)]


def instants(schedule, first: date, days: int, skipped: frozenset[date]):  # type: ignore[no-untyped-def]
    from simulation import cron

    if schedule[0] == "hourly":
        return list(cron(first, days, hours=range(24), minute=schedule[1], skipped=skipped))
    if schedule[0] == "daily":
        return list(cron(first, days, hours=[schedule[1]], minute=schedule[2], skipped=skipped))
    return list(cron(first, days, hours=[schedule[1], schedule[1] + 12], minute=schedule[2],
                     skipped=skipped))


def check(sim, runs, offices, catalog_, first_seen) -> None:  # type: ignore[no-untyped-def]
    """Every office gets at most one message a day, every reminder still useful is delivered
    once, none arrives after its day, and only a send really scheduled and missed is late."""
    from calendar_service.mail.reminders import LATE, scheduled_at, zone
    from calendar_service.occurrences import occurrences

    per_day: dict[tuple[str, date], int] = {}
    reminded: dict[tuple[str, str, date, date], int] = {}
    keys: set[tuple[str, str, str, int]] = set()
    got: dict[tuple[str, str, date], list[tuple[int, date]]] = {}
    for m in sim.messages:
        assert not m.batch.second
        per_day[(m.office.id, m.local_date)] = per_day.get((m.office.id, m.local_date), 0) + 1
        for i in m.batch.items:
            occ = i.occurrence
            assert m.local_date <= occ.date, "arrived after its day"
            assert i.key not in keys, "the same reminder twice"
            keys.add(i.key)
            slot = (m.office.id, occ.day.id, occ.date, m.local_date)
            reminded[slot] = reminded.get(slot, 0) + 1
            got.setdefault((m.office.id, occ.day.id, occ.date), []).append((i.lead, m.local_date))
            assert i.scheduled >= first_seen, "scheduled before the office appeared"
            if i.reason == LATE:  # missed: no run between its instant and the end of its day
                day_end = datetime.combine(i.scheduled.date() + timedelta(days=1), time(0),
                                           tzinfo=i.scheduled.tzinfo)
                assert not [t for t in runs if i.scheduled <= t < day_end], "late but not missed"
            else:
                assert i.scheduled.astimezone(zone(m.office.timezone)).date() == m.local_date
    assert max(per_day.values(), default=0) <= 1, "two messages one day"
    assert max(reminded.values(), default=0) <= 1
    end = runs[-1]
    occs = occurrences(catalog_.days, runs[0].date() - timedelta(days=1),
                       end.date() + timedelta(days=25))
    for office in offices:
        tz = zone(office.timezone)
        for occ in occs:
            for lead in office.lead_days:
                when = scheduled_at(office, occ.date, lead)
                if when < first_seen or when > end:
                    continue
                useful = [t for t in runs if t >= when and t.astimezone(tz).date() <= occ.date]
                if not useful:
                    continue  # no run while it could still go: nothing to deliver
                delivered = [(lead_, day) for lead_, day in got.get((office.id, occ.day.id,
                                                                      occ.date), [])
                             if lead_ <= lead and day >= when.date()]
                assert delivered, f"{office.id} never got {occ.day.id} {occ.date} lead {lead}"
                that_day = when.astimezone(tz).date()
                if [t for t in useful if t.astimezone(tz).date() == that_day]:
                    # A run on its own day after its instant: it went that day, not later.
                    assert [d for _, d in delivered if d == that_day], (
                        f"{office.id}: {occ.day.id} {occ.date} lead {lead} went on a later day")


@settings(max_examples=150, deadline=None)
@given(offices_strategy, schedule_strategy, st.sampled_from(STARTS),
       st.sets(st.integers(0, 20), max_size=6))
def test_random_zones_send_times_leads_and_cron_schedules_keep_one_message_a_day(
        specs, schedule, first: date, gaps: set[int]) -> None:  # type: ignore[no-untyped-def]
    from simulation import Simulation

    cat = bundled()
    offices = make_offices(specs)
    runs = instants(schedule, first, 21, frozenset(first + timedelta(days=g) for g in gaps))
    if not runs:
        return
    sim = Simulation(cat, offices)
    for now in runs:
        sim.run(now)
    check(sim, runs, offices, cat, runs[0])


def test_a_simulated_month_of_hourly_cron_runs_gives_no_office_two_messages_a_day() -> None:
    """The 32 bundled offices over March 2027 (daylight saving starts on the 14th in the US), an
    hourly cron job that misses the 10th and the 11th."""
    from simulation import Simulation, cron

    from calendar_service.base.settings import load_settings
    from calendar_service.data.loader import load_all

    settings_ = load_settings({}, environ={})
    cat, offices = load_all(settings_.days, settings_.offices)
    runs = list(cron(date(2027, 3, 1), 31, hours=range(24), minute=5,
                     skipped=frozenset({date(2027, 3, 10), date(2027, 3, 11)})))
    sim = Simulation(cat, offices)
    for now in runs:
        sim.run(now)
    assert len(sim.messages) > 32
    check(sim, runs, offices, cat, runs[0])
