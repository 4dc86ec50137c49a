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
from datetime import UTC, datetime, timedelta
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
