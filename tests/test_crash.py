"""Crashes and faults with real processes: SIGKILL in the middle of 1,000 offices, and a relay
that stalls, drops mid-DATA and answers 421 and 451 while two runs compete for the same claims.

Both run in the default suite (and so in CI); ``-m "not slow"`` skips them while iterating.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mailtest import Recorder, cli, crowd_env, db_url, message_ids, serving  # noqa: F401

from calendar_service.mail.ledger import SENT, Ledger

NOW = "2027-03-18T09:00:00-05:00"
CLI = [sys.executable, "-m", "calendar_service"]
OFFICES = 1000
CONCURRENCY = 4
KILLS = 3


class KillingRelay(Recorder):
    """Accepts every message and, at the n-th one, SIGKILLs the sending process after the
    message is accepted and before the client hears so: the worst instant, since that message
    (and any other on the wire) is accepted without the sender knowing."""

    def __init__(self) -> None:
        super().__init__()
        self.kill_at: int | None = None
        self.proc: subprocess.Popen[str] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        if self.proc is not None and self.kill_at is not None and len(self.messages) >= self.kill_at:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.kill_at = None
        return "250 OK queued"


@pytest.mark.slow
def test_sigkill_at_random_points_then_an_immediate_rerun_delivers_everything_once(
        tmp_path: Path, db_url: str) -> None:  # noqa: F811
    """D1 and D2: three kills at seeded random points of a 1,000-office run, each followed at
    once by a new run; the last one finishes. Every reminder is delivered, and the duplicates
    (same Message-ID) are at most the messages on the wire at each kill."""
    rng = random.Random(14)
    relay = KillingRelay()
    with serving(relay) as port:
        env = crowd_env(tmp_path, OFFICES, port=port, database_url=db_url,
                        smtp_concurrency=str(CONCURRENCY))
        for _ in range(KILLS):
            relay.kill_at = len(relay.messages) + rng.randint(1, OFFICES // (KILLS + 1))
            relay.proc = proc = cli("send-due", "--now", NOW, env=env)
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == -signal.SIGKILL, err
        relay.proc = None
        last = cli("send-due", "--now", NOW, env=env)
        _, err = last.communicate(timeout=300)
    assert last.returncode == 0, err
    ids = message_ids(relay)
    assert len(ids) == OFFICES
    duplicates = sum(n - 1 for n in ids.values())
    print(f"{duplicates} duplicates after {KILLS} kills")
    assert duplicates <= KILLS * CONCURRENCY
    with Ledger(db_url) as led:
        assert led.counts() == {SENT: 3 * OFFICES}


class FaultyRelay(Recorder):
    """Fails the first attempt of about a third of the messages, chosen by their Message-ID (so
    the same ones whatever the order): 451, 421, a connection dropped before the reply to DATA,
    or a stall longer than the client's timeout. The second attempt is accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: Counter[bytes] = Counter()
        self.faults: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mid = envelope.original_content.split(b"Message-ID: ")[1].split(b"\r\n")[0]
        self.attempts[mid] += 1
        kind = hashlib.sha256(mid).digest()[0] % 12 if self.attempts[mid] == 1 else None
        if kind == 0:
            self.faults["451"] += 1
            return "451 4.3.0 try again later"
        if kind == 1:
            self.faults["421"] += 1
            return "421 4.3.2 service not available, closing"
        if kind == 2:
            self.faults["drop"] += 1
            server.transport.close()  # the client never gets the reply to its DATA
            return "451 4.3.0 gone"
        if kind == 3 and self.faults["stall"] < 3:
            self.faults["stall"] += 1
            await asyncio.sleep(3.5)  # past CALENDAR_SERVICE_SMTP_TIMEOUT=3: the client gave up
            return "451 4.3.0 too late"
        self.messages.append(envelope)
        return "250 OK queued"


@pytest.mark.slow
def test_a_faulty_relay_with_two_competing_runs_delivers_each_message_once(
        tmp_path: Path, db_url: str) -> None:  # noqa: F811
    """D3 with real processes: a short CLAIM_TIMEOUT, retries with backoff, and a second run
    after the same claims. Nothing is sent twice, nothing is lost."""
    relay = FaultyRelay()
    with serving(relay) as port:
        env = crowd_env(tmp_path, 200, port=port, database_url=db_url, smtp_concurrency="2",
                        smtp_timeout="3", claim_timeout="4.5", smtp_retries="3",
                        smtp_retry_delay="0.2", smtp_max_consecutive_failures="40",
                        send_batch="20")
        for _ in range(3):  # a message that failed every retry is retried by the next runs
            procs = [cli("send-due", "--now", NOW, env=env) for _ in range(2)]
            threads = [threading.Thread(target=p.communicate, kwargs={"timeout": 300})
                       for p in procs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if all(p.returncode == 0 for p in procs):
                break
    assert all(p.returncode == 0 for p in procs)
    assert set(relay.faults) == {"451", "421", "drop", "stall"}, relay.faults
    ids = message_ids(relay)
    assert len(ids) == 200 and set(ids.values()) == {1}
    with Ledger(db_url) as led:
        assert led.counts() == {SENT: 600}


def _file_size_limit(limit: int) -> Any:
    """For a child process: files it writes cannot grow past ``limit`` bytes, like a full disk
    (Python ignores SIGXFSZ, so the write fails instead of killing the process)."""
    import resource

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_stops_sending_at_once_and_the_next_run_delivers_the_rest(
        tmp_path: Path) -> None:
    relay = Recorder()
    with serving(relay) as port:
        env = {**os.environ, **crowd_env(tmp_path, 300, port=port)}
        quiet = subprocess.run([*CLI, "send-due", "--now", "2027-01-18T09:00Z"],
                               env=env, capture_output=True, text=True, timeout=120)
        assert quiet.returncode == 0, quiet.stderr  # a ledger with nothing due yet
        full = subprocess.run([*CLI, "send-due", "--now", NOW], env=env,
                              capture_output=True, text=True, timeout=120,
                              preexec_fn=_file_size_limit(150_000))
        assert full.returncode == 1, full.stderr
        assert "se detuvo antes de terminar: ledger sqlite:///" in full.stderr
        assert "nothing goes out that the ledger cannot record" in full.stderr
        assert "Traceback" not in full.stderr
        assert len(relay.messages) < 300
        after = subprocess.run([*CLI, "send-due", "--now", NOW], env=env,
                               capture_output=True, text=True, timeout=120)
    assert after.returncode == 0, after.stderr
    ids = message_ids(relay)
    assert len(ids) == 300 and sum(ids.values()) - 300 <= CONCURRENCY


def test_a_read_only_data_folder_sends_nothing_and_says_so(tmp_path: Path) -> None:
    """The data folder mounted read-only (in a mount namespace of the child's own)."""
    import shutil

    relay = Recorder()
    with serving(relay) as port:
        env = {**os.environ, **crowd_env(tmp_path, 30, port=port)}
        first = subprocess.run([*CLI, "send-due", "--now", "2027-01-18T09:00Z"],
                               env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        data = tmp_path / "data"
        probe = subprocess.run(["unshare", "--mount", "mount", "--bind", "-o", "ro", str(data),
                                str(data)], capture_output=True, text=True)
        if shutil.which("unshare") is None or probe.returncode != 0:
            pytest.skip(f"cannot mount read-only here (needs root): {probe.stderr.strip()}")
        ro = subprocess.run(["unshare", "--mount", "sh", "-c",
                             f'mount --bind -o ro "{data}" "{data}" && exec "$@"', "sh",
                             *CLI, "send-due", "--now", NOW],
                            env=env, capture_output=True, text=True, timeout=120)
    assert ro.returncode == 2, ro.stderr
    assert ro.stderr.startswith("error: ledger database sqlite:///")
    assert "Traceback" not in ro.stderr and relay.messages == []
