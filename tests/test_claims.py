"""Who may take a claim: never a live run's (however long its SMTP backoff), a dead run's at once,
and a run that loses its own ledger connection stops sending."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from mailtest import (  # noqa: F401
    Recorder,
    at,
    cli,
    crowd_env,
    crowd_run,
    db_url,
    hold_first_data,
    message_ids,
    postgres_url_or_skip,
    serving,
)

from calendar_service.mail.ledger import SENT, Ledger
from calendar_service.mail.sending import send_due

NOW = at("2027-03-18T09:00:00-05:00")


class Clock:
    """The ledger's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = at("2027-03-18T14:00:00+00:00")

    def __call__(self) -> Any:
        return self.now


def test_a_run_in_a_long_smtp_backoff_keeps_its_claims(tmp_path: Path, db_url: str) -> None:  # noqa: F811
    """D3: the relay answers 451; while the run waits (longer than CLAIM_TIMEOUT, as the ledger's
    clock says), a second run starts and must leave every reminder of the first alone."""
    handler = Recorder()
    handler.data_replies = ["451 4.3.0 try again later"]
    clock = Clock()
    second: list[Any] = []
    with serving(handler) as port:
        s, catalog, offices = crowd_run(tmp_path, 3, port, smtp_concurrency=1, smtp_retries=3,
                                        claim_timeout=60.0, database_url=db_url)

        async def backoff(seconds: float) -> None:
            clock.now = clock.now.replace(day=clock.now.day + 1)  # a day later: long stale
            other = threading.Thread(target=lambda: second.append(send_due(
                s, catalog, offices, NOW, ledger=Ledger(db_url, claim_timeout=60, clock=clock))))
            other.start()
            await asyncio.to_thread(other.join, 60)

        first = send_due(s, catalog, offices, NOW, sleep=backoff,
                         ledger=Ledger(db_url, claim_timeout=60, clock=clock))
    (other,) = second
    assert other.messages == 0 and other.busy == 9
    assert first.ok and first.messages == 3
    assert set(message_ids(handler).values()) == {1}


def test_claim_timeout_shorter_than_a_renewal_and_an_smtp_timeout_is_refused(tmp_path: Path) -> None:
    env = crowd_env(tmp_path, 1, port=2525, claim_timeout="40", smtp_timeout="30")
    proc = cli("send-due", "--now", "2027-03-18T09:00:00-05:00", env=env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "CALENDAR_SERVICE_CLAIM_TIMEOUT: 40 seconds is too short" in err
    assert "use at least 45" in err and "Traceback" not in err


def test_a_run_that_loses_its_ledger_connection_stops_sending_at_once(tmp_path: Path) -> None:
    """PostgreSQL drops the run's connection (and so its lock) while a message is on the wire:
    the run sends nothing more, and a rerun right away delivers the rest. Only the message in
    flight goes twice, with the same Message-ID."""
    import psycopg

    from calendar_service.mail.ledger import CLAIMED, reminders
    from calendar_service.mail.ledger.owners import lock_key

    url = next(postgres_url := postgres_url_or_skip())
    try:
        handler = Recorder()
        gate = hold_first_data(handler)
        with serving(handler) as port:
            s, catalog, offices = crowd_run(tmp_path, 8, port, smtp_concurrency=1,
                                            database_url=url)
            reports: list[Any] = []
            run = threading.Thread(target=lambda: reports.append(
                send_due(s, catalog, offices, NOW)))
            run.start()
            assert gate.arrived.wait(60)
            with Ledger(url) as led, led.engine.connect() as conn:
                from sqlalchemy import select

                (token,) = {t for (t,) in conn.execute(
                    select(reminders.c.claim_token).where(reminders.c.status == CLAIMED))}
                key = lock_key(led.namespace, token)
            admin = url.split("?")[0]
            with psycopg.connect(admin, autocommit=True) as pg:
                killed = pg.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = %s AND objid = %s AND objsubid = 1",
                    ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchall()
            assert killed == [(True,)]
            gate.release.set()
            run.join(60)
            (report,) = reports
            assert len(handler.messages) == 1  # the one on the wire, nothing after
            assert "ledger connection was lost" in report.stopped and report.exit_code == 1
            again = send_due(s, catalog, offices, NOW)  # at once: the lock died with the connection
        assert again.ok
        ids = message_ids(handler)
        assert len(ids) == 8 and sum(ids.values()) == 9  # one duplicate: the message in flight
        with Ledger(url) as led:
            assert led.counts() == {SENT: 24}
    finally:
        postgres_url.close()
