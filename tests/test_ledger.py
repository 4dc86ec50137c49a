"""The ledger on a real SQLite file and, when reachable, a real PostgreSQL schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mailtest import at, db_url, mail_env, postgres_url_or_skip  # noqa: F401

from calendar_service.base.errors import ConfigError
from calendar_service.mail.ledger import CLAIMED, FAILED, PENDING, SENT, Ledger, Mark
from calendar_service.mail.reminders import due_reminders

NOW = at("2027-03-18T09:00:00-05:00")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2027, 3, 18, 14, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def dues(env):  # type: ignore[no-untyped-def]
    return [i for b in due_reminders(env["catalog"], env["offices"][1:2], NOW) for i in b.items]


def test_a_claim_is_exclusive_between_two_runs(db_url, mail_env) -> None:  # noqa: F811
    items = dues(mail_env)
    keys = [i.key for i in items]
    with Ledger(db_url) as one, Ledger(db_url) as two:
        one.hold("run-1")
        two.hold("run-2")
        one.register(items)
        two.register(items)  # registering twice changes nothing
        assert one.claim(keys, "run-1") == set(keys)
        assert two.claim(keys, "run-2") == set()
        assert set(two.statuses(keys).values()) == {CLAIMED}


def test_a_live_run_s_claims_are_never_taken_however_old(db_url, mail_env) -> None:  # noqa: F811
    """D3: a run waiting out an SMTP backoff longer than CLAIM_TIMEOUT keeps its claims."""
    items = dues(mail_env)
    keys = [i.key for i in items]
    clock = Clock()
    with Ledger(db_url, claim_timeout=60, clock=clock) as slow, \
            Ledger(db_url, claim_timeout=60, clock=clock) as other:
        slow.hold("slow")
        other.hold("other")
        slow.register(items)
        assert slow.claim(keys, "slow") == set(keys)
        clock.now += timedelta(days=1)  # never renewed, yet provably alive
        assert other.claim(keys, "other") == set()
        assert other.take(items, "other")[0] == set()
        assert other.retire([], [], NOW) == 0


def test_a_dead_run_s_claims_are_taken_at_once(db_url, mail_env) -> None:  # noqa: F811
    """D2: the owner's lock died with it, so nobody waits for CLAIM_TIMEOUT."""
    items = dues(mail_env)
    keys = [i.key for i in items]
    with Ledger(db_url, claim_timeout=900) as crashed, Ledger(db_url, claim_timeout=900) as led:
        crashed.hold("crashed")
        crashed.register(items)
        assert crashed.claim(keys, "crashed") == set(keys)
        led.hold("next")
        assert led.claim(keys, "next") == set()
        crashed.let_go("crashed")  # what the kernel or PostgreSQL does when the process dies
        assert led.claim(keys, "next") == set(keys)
        led.mark([Mark(tuple(keys), SENT, "<id@x>", "250 OK")], "crashed")  # too late: ignored
        assert set(led.statuses(keys).values()) == {CLAIMED}
        led.mark([Mark(tuple(keys), SENT, "<id@x>", "250 OK")], "next")
        assert set(led.statuses(keys).values()) == {SENT}
        assert led.claim(keys, "again") == set()  # sent is final


def test_a_killed_process_s_claims_are_taken_at_once(tmp_path, mail_env) -> None:  # noqa: F811
    """The lock file's flock dies with the process, however it dies (SIGKILL here)."""
    import signal
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    items = dues(mail_env)
    keys = [i.key for i in items]
    with Ledger(db) as led:
        led.register(items)
    script = ("import sys, time; from calendar_service.mail.ledger import Ledger, rkey\n"
              "led = Ledger(sys.argv[1]); led.hold('victim')\n"
              "keys = [tuple(k.split('|')[:3]) + (int(k.split('|')[3]),) for k in sys.argv[2:]]\n"
              "print(len(led.claim(keys, 'victim')), flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, db, *("|".join(map(str, k))
                                                                for k in keys)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == str(len(keys))
        with Ledger(db) as led:
            led.hold("next")
            assert led.claim(keys, "next") == set()  # alive: never taken
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            assert led.claim(keys, "next") == set(keys)
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_claim_whose_owner_cannot_be_checked_is_taken_after_the_timeout(tmp_path, mail_env) -> None:  # noqa: F811
    """A SQLite claim made on another host: the timeout is the last resort, and a run renews
    its claims to keep them."""
    from sqlalchemy import update

    from calendar_service.mail.ledger import reminders

    db = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    items = dues(mail_env)
    keys = [i.key for i in items]
    clock = Clock()
    with Ledger(db, claim_timeout=900, clock=clock) as led:
        led.register(items)
        led.hold("elsewhere")
        assert led.claim(keys, "elsewhere") == set(keys)
        with led.engine.begin() as conn:
            conn.execute(update(reminders).values(claim_host="another-host"))
        led.let_go("elsewhere")
        led.hold("next")
        clock.now += timedelta(seconds=800)
        assert led.claim(keys, "next") == set()
        clock.now += timedelta(seconds=101)
        assert led.claim(keys, "next") == set(keys)


def test_renewing_keeps_claims_past_the_timeout(tmp_path, mail_env) -> None:  # noqa: F811
    from sqlalchemy import update

    from calendar_service.mail.ledger import reminders

    db = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    items = dues(mail_env)
    keys = [i.key for i in items]
    clock = Clock()
    with Ledger(db, claim_timeout=900, clock=clock) as led:
        led.register(items)
        assert led.claim(keys, "far") == set(keys)
        with led.engine.begin() as conn:
            conn.execute(update(reminders).values(claim_host="another-host"))
        clock.now += timedelta(seconds=800)
        assert led.renew("far") == len(keys)
        clock.now += timedelta(seconds=800)
        assert led.claim(keys, "next") == set()
        clock.now += timedelta(seconds=101)
        assert led.claim(keys, "next") == set(keys)


def test_take_registers_new_reminders_already_claimed_and_claims_known_ones(db_url, mail_env) -> None:  # noqa: F811
    items = dues(mail_env)
    keys = [i.key for i in items]
    with Ledger(db_url) as one, Ledger(db_url) as two:
        one.hold("run-1")
        two.hold("run-2")
        one.register(items[:1])
        got, others = one.take(items, "run-1")  # three new rows and one known pending row
        assert got == set(keys) and others == {}
        assert set(one.statuses(keys).values()) == {CLAIMED}
        assert two.take(items, "run-2") == (set(), {k: CLAIMED for k in keys})
        one.mark([Mark((keys[0],), SENT, "<a@x>", "250 OK"),
                  Mark(tuple(keys[1:]), FAILED, error="451 later")], "run-1")
        got, others = two.take(items, "run-2")  # failed rows are claimable again, sent is final
        assert got == set(keys[1:]) and others == {keys[0]: SENT}
        assert {e.attempts for e in two.entries(statuses=[CLAIMED])} == {2}
        assert two.release("run-2") == len(keys) - 1
        assert {e.attempts for e in two.entries(statuses=[PENDING])} == {1}


def test_failed_rows_are_claimable_again_and_release_restores_pending(db_url, mail_env) -> None:  # noqa: F811
    items = dues(mail_env)
    keys = [i.key for i in items]
    with Ledger(db_url) as led:
        led.hold("a")
        led.hold("b")
        led.register(items)
        led.claim(keys, "a")
        led.mark([Mark((keys[0],), FAILED, error="451 try later")], "a")
        assert led.release("a") == len(keys) - 1
        assert led.statuses(keys) == {k: (FAILED if k == keys[0] else PENDING) for k in keys}
        assert led.pending_count() == len(keys)
        assert led.claim(keys, "b") == set(keys)
        entry = [e for e in led.entries(statuses=[CLAIMED]) if e.day_id == keys[0][1]][0]
        assert entry.attempts == 2 and entry.error == "451 try later"


def test_refusals_and_replies_are_recorded(db_url, mail_env) -> None:  # noqa: F811
    items = dues(mail_env)
    keys = [i.key for i in items]
    with Ledger(db_url) as led:
        led.register(items)
        led.claim(keys, "a")
        led.mark([Mark(tuple(keys), SENT, "<m@x>", "250 queued",
                       refused={"b@example.org": "550 no such user"})], "a")
        entry = led.entries()[0]
        assert entry.status == SENT and entry.reply == "250 queued"
        assert entry.refused == {"b@example.org": "550 no such user"}
        assert entry.message_id == "<m@x>" and entry.sent_at is not None


def test_runs_are_recorded_for_the_scheduler(db_url) -> None:  # noqa: F811
    with Ledger(db_url) as led:
        assert led.last_run() is None and led.pending_count() == 0
        first = led.start_run(NOW)
        led.finish_run(first, sent=3, failed=0, pending=0, messages=1, ok=True)
        second = led.start_run(NOW)
        led.finish_run(second, sent=0, failed=1, pending=1, messages=0, ok=False)
        assert led.last_run().ok is False and led.last_run().failed == 1
        assert led.last_success().sent == 3
        assert led.last_run().as_of == NOW


def test_database_password_never_appears_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        Ledger("postgresql://calendar:s3cr3t-pw@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "s3cr3t-pw" not in str(caught.value)
    assert "calendar:***@127.0.0.1:1" in str(caught.value)


def test_an_outcome_is_stored_as_the_column_stores_times(tmp_path, mail_env) -> None:  # noqa: F811
    """``mark`` writes its SQL by hand for speed; its times must still be what the column writes
    (on SQLite, text with microseconds even when they are zero), so ordering by time holds."""
    from sqlalchemy import text

    items = dues(mail_env)
    keys = [i.key for i in items]
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    with Ledger(url, clock=Clock()) as led:  # the clock's microseconds are zero
        led.hold("run")
        led.register(items)
        assert led.claim(keys, "run") == set(keys)
        led.mark([Mark(tuple(keys), SENT, "<id@x>", "250 OK")], "run")
        with led.engine.connect() as conn:
            stored = conn.execute(text("SELECT updated_at, sent_at, sent_as_of FROM reminder_ledger"
                                       )).all()
    assert stored and {row for row in stored} == {("2027-03-18 14:00:00.000000",) * 3}
