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
        one.register(items)
        two.register(items)  # registering twice changes nothing
        assert one.claim(keys, "run-1") == set(keys)
        assert two.claim(keys, "run-2") == set()
        assert set(two.statuses(keys).values()) == {CLAIMED}


def test_a_stale_claim_is_reclaimable_after_the_timeout(db_url, mail_env) -> None:  # noqa: F811
    items = dues(mail_env)
    keys = [i.key for i in items]
    clock = Clock()
    with Ledger(db_url, claim_timeout=900, clock=clock) as led:
        led.register(items)
        assert led.claim(keys, "crashed") == set(keys)
        clock.now += timedelta(seconds=899)
        assert led.claim(keys, "next") == set()
        clock.now += timedelta(seconds=2)
        assert led.claim(keys, "next") == set(keys)
        led.mark([Mark(tuple(keys), SENT, "<id@x>", "250 OK")], "crashed")  # too late: ignored
        assert set(led.statuses(keys).values()) == {CLAIMED}
        led.mark([Mark(tuple(keys), SENT, "<id@x>", "250 OK")], "next")
        assert set(led.statuses(keys).values()) == {SENT}
        assert led.claim(keys, "again") == set()  # sent is final


def test_a_run_still_sending_keeps_its_claims_alive(db_url, mail_env) -> None:  # noqa: F811
    """A slow relay: the run marks its first message after 800 s and is still sending the rest
    at 1,000 s. Its other claims must not look abandoned to a second run."""
    items = dues(mail_env)
    keys = [i.key for i in items]
    clock = Clock()
    with Ledger(db_url, claim_timeout=900, clock=clock) as led:
        led.register(items)
        assert led.claim(keys, "slow") == set(keys)
        clock.now += timedelta(seconds=800)
        led.mark([Mark((keys[0],), SENT, "<a@x>", "250 OK")], "slow")
        clock.now += timedelta(seconds=200)
        assert led.claim(keys, "other") == set()
        clock.now += timedelta(seconds=701)  # silent for longer than the timeout: now it is stale
        assert led.claim(keys, "other") == set(keys[1:])


def test_take_registers_new_reminders_already_claimed_and_claims_known_ones(db_url, mail_env) -> None:  # noqa: F811
    items = dues(mail_env)
    keys = [i.key for i in items]
    with Ledger(db_url) as one, Ledger(db_url) as two:
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
