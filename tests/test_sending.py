"""send_due end to end: outbox and a real aiosmtpd server, reruns, crashes, concurrent runs."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

from mailtest import (  # noqa: F401
    Recorder,
    at,
    cli,
    crowd_env,
    crowd_run,
    db_url,
    free_port,
    hold_first_data,
    mail_env,
    message_ids,
    no_sleep,
    serving,
    smtp_server,
)

from calendar_service.mail.ledger import CLAIMED, FAILED, PENDING, PERMANENT, SENT, Ledger
from calendar_service.mail.reminders import due_reminders
from calendar_service.mail.sending import send_due

NOW = at("2027-03-18T09:00:00-05:00")  # 09:00 in Cancun: quintana-roo's lead 3 for 21 March


def outbox_files(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted(settings.outbox.glob("*.eml")) if settings.outbox.exists() else []


def test_outbox_run_writes_one_file_per_office_and_rerun_sends_nothing(mail_env) -> None:  # noqa: F811
    s, cat, offices = mail_env["settings"], mail_env["catalog"], mail_env["offices"]
    first = send_due(s, cat, offices, NOW)
    assert first.ok and first.exit_code == 0
    # quintana-roo (lead 3) and baja-california (lead 14 catch-up, with its three lead-3
    # reminders of 09:00 later today: one message a day)
    assert first.messages == 2 and first.sent == 8
    files = outbox_files(s)
    assert len(files) == 2
    assert not list(s.outbox.glob(".tmp-*"))
    contents = {f.name: f.read_bytes() for f in files}
    again = send_due(s, cat, offices, NOW)
    assert (again.sent, again.messages, again.already_sent) == (0, 0, first.sent)
    assert {f.name: f.read_bytes() for f in outbox_files(s)} == contents
    # Three hours later it is 09:00 in Tijuana and 11:00 in Mexico City. Tijuana's 09:00
    # reminders went with its 07:00 catch-up (one message a day): only Mexico City's goes.
    later = send_due(s, cat, offices, at("2027-03-18T12:00:00-05:00"))
    assert later.messages == 1 and later.sent == 1
    assert len(outbox_files(s)) == 3


def test_outbox_file_is_named_after_the_message_id(mail_env) -> None:  # noqa: F811
    import email
    from email import policy

    s = mail_env["settings"]
    send_due(s, mail_env["catalog"], mail_env["offices"][1:2], NOW)
    (path,) = outbox_files(s)
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert path.name == msg["Message-ID"].strip("<>").replace("@", "_") + ".eml"


def test_dry_run_lists_who_gets_what_when_and_sends_nothing(mail_env) -> None:  # noqa: F811
    s = mail_env["settings"]
    report = send_due(s, mail_env["catalog"], mail_env["offices"], NOW, dry_run=True)
    assert outbox_files(s) == []
    by_office = {p.office_id: p for p in report.planned}
    qroo = by_office["quintana-roo"]
    assert qroo.local_time.isoformat() == "2027-03-18T09:00:00-05:00"
    assert [d for d, *_ in qroo.items] == ["elimination-of-racial-discrimination-day",
                                           "international-day-of-forests", "world-poetry-day",
                                           "world-water-day"]  # its lead 14 was missed
    assert qroo.catch_up and by_office["baja-california"].catch_up
    with Ledger(s.database_url) as led:
        assert led.pending_count() == 0


def test_crash_between_claim_and_mark_is_recovered_at_once_without_loss(mail_env) -> None:  # noqa: F811
    s, cat, offices = mail_env["settings"], mail_env["catalog"], mail_env["offices"][1:2]
    ledger = Ledger(s.database_url, claim_timeout=900)
    items = [i for b in due_reminders(cat, offices, NOW) for i in b.items]
    keys = [i.key for i in items]
    # A run claimed these, then died before sending or marking.
    ledger.hold("dead-run")
    ledger.register(items)
    assert ledger.claim(keys, "dead-run") == set(keys)
    other = Ledger(s.database_url, claim_timeout=900)
    soon = send_due(s, cat, offices, NOW, ledger=other)
    assert soon.busy == len(keys) and soon.messages == 0  # its owner is alive: never taken
    ledger.let_go("dead-run")  # the process died: its lock went with it
    later = send_due(s, cat, offices, NOW, ledger=other)
    assert later.sent == len(keys) and later.messages == 1 and later.ok
    assert set(ledger.statuses(keys).values()) == {SENT}
    assert len(outbox_files(s)) == 1
    ledger.close()
    other.close()


def timedelta_s(seconds: float):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(seconds=seconds)


# -- SMTP ---------------------------------------------------------------------------------------


def smtp_settings(env, port: int, **changes):  # type: ignore[no-untyped-def]
    return replace(env["settings"], smtp_url=f"smtp://127.0.0.1:{port}", **changes)


def test_smtp_delivery_and_rerun_sends_nothing_new(mail_env, smtp_server) -> None:  # noqa: F811
    handler, port = smtp_server
    s = smtp_settings(mail_env, port)
    report = send_due(s, mail_env["catalog"], mail_env["offices"], NOW)
    assert report.ok and report.messages == 2
    assert len(handler.messages) == 2
    env = [e for e in handler.messages if "qroo@example.org" in e.rcpt_tos][0]
    assert env.mail_from == "dias@example.org"
    assert env.rcpt_tos == ["qroo@example.org", "prensa.qroo@example.org"]
    again = send_due(s, mail_env["catalog"], mail_env["offices"], NOW)
    assert again.messages == 0 and len(handler.messages) == 2
    with Ledger(s.database_url) as led:
        assert {e.reply for e in led.entries()} == {"250 OK queued"}


def test_4xx_then_success_delivers_once(mail_env, smtp_server) -> None:  # noqa: F811
    handler, port = smtp_server
    handler.data_replies = ["451 4.3.0 try again later", "421 4.3.2 closing"]
    no_sleep.calls.clear()
    s = smtp_settings(mail_env, port, smtp_retries=3, smtp_retry_delay=2.0)
    report = send_due(s, mail_env["catalog"], mail_env["offices"][1:2], NOW, sleep=no_sleep)
    assert report.ok and report.messages == 1
    assert len(handler.messages) == 1
    assert no_sleep.calls == [2.0, 4.0]  # exponential backoff, never really waited


def test_4xx_beyond_the_retries_fails_and_the_next_run_retries(mail_env, smtp_server) -> None:  # noqa: F811
    handler, port = smtp_server
    handler.data_replies = ["451 4.3.0 try again later"] * 2
    s = smtp_settings(mail_env, port, smtp_retries=1)
    first = send_due(s, mail_env["catalog"], mail_env["offices"][1:2], NOW, sleep=no_sleep)
    assert not first.ok and first.exit_code == 1 and first.failed == 4 and first.pending == 4
    assert any("failed, retried next run" in p for p in first.problems)
    assert handler.messages == []
    with Ledger(s.database_url) as led:
        assert {e.status for e in led.entries()} == {FAILED}
        assert {e.error for e in led.entries()} == {"451 4.3.0 try again later"}
    second = send_due(s, mail_env["catalog"], mail_env["offices"][1:2], NOW, sleep=no_sleep)
    assert second.ok and second.sent == 4 and len(handler.messages) == 1


class AlwaysBusy(Recorder):
    """A relay that answers 451 to every message it is given."""

    attempts: int = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.attempts += 1
        return "451 4.3.0 try again later"


def test_persistent_4xx_stops_the_run_and_leaves_the_rest_pending(tmp_path) -> None:
    handler = AlwaysBusy()
    with serving(handler) as port:
        s, catalog, offices = crowd_run(tmp_path, 30, port, smtp_concurrency=2, smtp_retries=3,
                                        smtp_max_consecutive_failures=5)
        no_sleep.calls.clear()
        report = send_due(s, catalog, offices, NOW, sleep=no_sleep)
    assert report.exit_code == 1 and report.interrupted and report.sent == 0
    assert "5 temporary failures in a row" in report.stopped
    assert "451 4.3.0 try again later" in report.stopped
    # Five failures trip it; a connection already waiting for its reply may add one.
    assert 5 <= handler.attempts <= 6 and len(no_sleep.calls) < handler.attempts
    with Ledger(s.database_url) as led:
        counts = led.counts()
    assert CLAIMED not in counts  # the claims it did not use were given back
    assert counts.get(FAILED, 0) <= 3 * 2  # at most the two messages that were attempted
    assert counts[PENDING] + counts.get(FAILED, 0) == 90 == report.pending
    assert any("not attempted, pending" in p for p in report.problems)


def test_send_due_says_why_it_stopped_on_persistent_4xx(tmp_path) -> None:
    handler = AlwaysBusy()
    with serving(handler) as port:
        env = crowd_env(tmp_path, 10, port=port, smtp_concurrency="1", smtp_retry_delay="0.001",
                        smtp_max_consecutive_failures="3")
        proc = cli("send-due", "--now", "2027-03-18T09:00:00-05:00", env=env)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "La ejecución se detuvo antes de terminar: SMTP smtp://127.0.0.1" in err
    assert "3 temporary failures in a row (last: 451 4.3.0 try again later)" in err
    assert "CALENDAR_SERVICE_SMTP_MAX_CONSECUTIVE_FAILURES" in err
    assert handler.attempts == 3


def test_5xx_is_recorded_as_a_permanent_failure(mail_env, smtp_server) -> None:  # noqa: F811
    handler, port = smtp_server
    handler.data_replies = ["554 5.6.0 message refused"]
    s = smtp_settings(mail_env, port)
    report = send_due(s, mail_env["catalog"], mail_env["offices"][1:2], NOW, sleep=no_sleep)
    assert report.exit_code == 1 and report.permanent == 4
    with Ledger(s.database_url) as led:
        assert {(e.status, e.error) for e in led.entries()} == {(PERMANENT, "554 5.6.0 message refused")}
    again = send_due(s, mail_env["catalog"], mail_env["offices"][1:2], NOW, sleep=no_sleep)
    assert again.messages == 0 and handler.messages == []  # permanent: not retried
    # ...and reported as refused before, not as "already sent", without failing every later run.
    assert again.refused_before == 4 and again.already_sent == 0 and again.exit_code == 0


def test_a_refused_recipient_is_recorded_and_the_others_get_it(mail_env, smtp_server) -> None:  # noqa: F811
    handler, port = smtp_server
    handler.refuse = {"prensa.qroo@example.org": "550 5.1.1 no such user"}
    s = smtp_settings(mail_env, port)
    report = send_due(s, mail_env["catalog"], mail_env["offices"][1:2], NOW)
    assert report.ok and report.refused == 1
    assert [e.rcpt_tos for e in handler.messages] == [["qroo@example.org"]]
    with Ledger(s.database_url) as led:
        assert {tuple(e.refused.items()) for e in led.entries()} == {
            (("prensa.qroo@example.org", "550 5.1.1 no such user"),)}


class Greylisting(Recorder):
    """Refuses one address with 451 the first time it sees it (greylisting), then accepts it."""

    seen: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address == "prensa.qroo@example.org" and address not in self.seen:
            self.seen.add(address)
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_an_address_refused_for_now_gets_the_message_on_retry(mail_env) -> None:  # noqa: F811
    handler = Greylisting()
    handler.seen = set()
    with serving(handler) as port:
        s = smtp_settings(mail_env, port)
        report = send_due(s, mail_env["catalog"], mail_env["offices"][1:2], NOW, sleep=no_sleep)
    assert report.ok and report.refused == 0 and report.messages == 1
    assert [e.rcpt_tos for e in handler.messages] == [["qroo@example.org"],
                                                      ["prensa.qroo@example.org"]]
    with Ledger(s.database_url) as led:
        assert {e.status for e in led.entries()} == {SENT}
        assert all(not e.refused for e in led.entries())


def test_unreachable_server_stops_the_run_and_leaves_everything_pending(mail_env) -> None:  # noqa: F811
    s = smtp_settings(mail_env, free_port(), smtp_retries=2)
    report = send_due(s, mail_env["catalog"], mail_env["offices"], NOW, sleep=no_sleep)
    assert report.exit_code == 1 and report.sent == 0 and report.pending == report.due
    with Ledger(s.database_url) as led:
        assert {e.status for e in led.entries()} <= {FAILED, PENDING}
        assert led.pending_count() == report.due


def test_starttls_with_auth_and_a_private_ca(mail_env, tmp_path) -> None:  # noqa: F811
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from mailtest import Recorder, make_cert

    cert, key = make_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"dias" and auth_data.password == b"s3cr3t:pw"
        return AuthResult(success=ok, handled=False)  # handled=False: the server replies 535

    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=server_ctx,
                            require_starttls=True, authenticator=authenticator,
                            auth_require_tls=True, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    try:
        s = replace(mail_env["settings"], smtp_ca_file=cert, smtp_timeout=10.0,
                    smtp_url=f"smtp+starttls://dias:s3cr3t%3Apw@127.0.0.1:{port}")
        report = send_due(s, mail_env["catalog"], mail_env["offices"], NOW)
        assert report.ok and report.messages == 2 and len(handler.messages) == 2
        assert logins == [(b"dias", b"s3cr3t:pw")] * 2  # one login per pooled connection used

        # Without the CA the certificate is not trusted: nothing is sent, all stays pending.
        handler.messages.clear()
        untrusted = replace(s, smtp_ca_file=None, data_dir=tmp_path / "other")
        untrusted = replace(untrusted, database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
        report = send_due(untrusted, mail_env["catalog"], mail_env["offices"], NOW, sleep=no_sleep)
        assert report.exit_code == 1 and handler.messages == []
        assert any("CERTIFICATE_VERIFY_FAILED" in p or "certificate" in p.lower()
                   for p in _errors(untrusted)), _errors(untrusted)

        # Wrong password: a clear error without the secret, in the report and the ledger.
        wrong = replace(s, smtp_url=f"smtp+starttls://dias:n0t-the-pw@127.0.0.1:{port}",
                        database_url=f"sqlite:///{tmp_path / 'wrong.sqlite3'}")
        report = send_due(wrong, mail_env["catalog"], mail_env["offices"], NOW, sleep=no_sleep)
        assert report.exit_code == 1
        errors = _errors(wrong)
        assert any("authentication failed" in e for e in errors)
        assert not any("n0t-the-pw" in e for e in errors)
    finally:
        controller.stop()


def _errors(settings) -> list[str]:  # type: ignore[no-untyped-def]
    with Ledger(settings.database_url) as led:
        return [e.error or "" for e in led.entries()]


def test_implicit_tls(mail_env, tmp_path) -> None:  # noqa: F811
    import ssl

    from aiosmtpd.controller import Controller
    from mailtest import Recorder, make_cert

    cert, key = make_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    controller.start()
    try:
        s = replace(mail_env["settings"], smtp_ca_file=cert, smtp_url=f"smtps://127.0.0.1:{port}")
        report = send_due(s, mail_env["catalog"], mail_env["offices"], NOW)
        assert report.ok and len(handler.messages) == 2
    finally:
        controller.stop()


# -- real processes -------------------------------------------------------------------------------


def test_two_processes_at_once_send_each_reminder_once(tmp_path, smtp_server, db_url) -> None:  # noqa: F811
    handler, port = smtp_server
    env = crowd_env(tmp_path, 120, port=port, database_url=db_url, send_batch="10")
    procs = [cli("send-due", "--now", "2027-03-18T09:00:00-05:00", env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        print(err)  # each run's summary (sent=, busy=) shows how the work was shared
    ids = message_ids(handler)
    assert len(ids) == 120 and set(ids.values()) == {1}
    with Ledger(db_url) as led:
        assert led.counts() == {SENT: 360}


def test_sigterm_during_a_batch_loses_nothing(tmp_path, smtp_server) -> None:  # noqa: F811
    handler, port = smtp_server
    gate = hold_first_data(handler)
    env = crowd_env(tmp_path, 30, port=port, smtp_concurrency="1", send_batch="10")
    proc = cli("send-due", "--now", "2027-03-18T09:00:00-05:00", env=env)
    assert gate.arrived.wait(60), proc.communicate()[1] if proc.poll() is not None else "no DATA"
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)  # let the signal land while the message is in flight (not a clock wait)
    gate.release.set()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "pending" in err
    db = f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite3'}"
    with Ledger(db) as led:
        counts = led.counts()
    assert CLAIMED not in counts  # every unused claim was given back
    assert counts[SENT] == 3 * len(handler.messages) and counts[PENDING] == 90 - counts[SENT]
    rerun = cli("send-due", "--now", "2027-03-18T09:00:00-05:00", env=env)
    _, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert len(handler.messages) == 30
    assert len({e.rcpt_tos[0] for e in handler.messages}) == 30


def test_a_rerun_right_after_a_kill_sends_what_the_dead_run_held(tmp_path, smtp_server) -> None:  # noqa: F811
    """D2: no waiting for CLAIM_TIMEOUT; the dead run's lock went with it."""
    handler, port = smtp_server
    gate = hold_first_data(handler, "451 4.4.2 connection lost")  # the killed client never sees it
    env = crowd_env(tmp_path, 5, port=port, smtp_concurrency="1")
    proc = cli("send-due", "--now", "2027-03-18T09:00:00-05:00", env=env)
    assert gate.arrived.wait(60)
    proc.kill()  # no chance to release anything
    proc.communicate(timeout=30)
    gate.release.set()
    db = f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite3'}"
    with Ledger(db) as led:
        assert led.counts() == {CLAIMED: 15}
    fresh = cli("send-due", "--now", "2027-03-18T09:00:00-05:00", env=env)
    _, err = fresh.communicate(timeout=60)
    assert fresh.returncode == 0, err
    assert len(handler.messages) == 5
    with Ledger(db) as led:
        assert led.counts() == {SENT: 15}


class SenderRefused(Recorder):
    """A relay that refuses our envelope sender (no AUTH, relaying denied)."""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        return "530 5.7.0 Authentication required"


def test_a_refused_sender_stops_the_run_and_keeps_every_reminder_for_the_next(mail_env) -> None:  # noqa: F811
    with serving(SenderRefused()) as port:
        s = replace(mail_env["settings"], smtp_url=f"smtp://127.0.0.1:{port}")
        report = send_due(s, mail_env["catalog"], mail_env["offices"], NOW, sleep=no_sleep)
    assert report.exit_code == 1 and report.permanent == 0
    assert "sender refused (530 5.7.0 Authentication required)" in report.stopped
    with Ledger(s.database_url) as led:
        assert PERMANENT not in led.counts()  # nothing is lost for good: the next run retries


def test_a_stop_during_the_retry_backoff_ends_the_wait(tmp_path) -> None:
    """SIGTERM (or the service stopping) while a message waits to be retried: no more waiting
    and no more attempts; the reminders stay for the next run."""
    handler = AlwaysBusy()
    stop = threading.Event()

    async def stopped_while_waiting(seconds: float) -> None:
        stop.set()

    with serving(handler) as port:
        s, catalog, offices = crowd_run(tmp_path, 3, port, smtp_concurrency=1, smtp_retries=3)
        report = send_due(s, catalog, offices, NOW, sleep=stopped_while_waiting, stop=stop)
    assert handler.attempts == 1  # one try, one (interrupted) wait, no retry
    assert report.exit_code == 1 and report.sent == 0
    with Ledger(s.database_url) as led:
        counts = led.counts()
    assert CLAIMED not in counts and SENT not in counts
