"""The send-rate cap (CALENDAR_SERVICE_SMTP_RATE), on an injected clock: no real waiting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mailtest import Recorder, at, cli, crowd_env, crowd_run, message_ids, serving

from calendar_service.mail.sending import send_due

NOW = at("2027-03-18T09:00:00-05:00")


class FakeTime:
    """A monotonic clock that only moves when the run sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_a_rate_cap_spaces_messages_evenly_across_every_connection(tmp_path: Path) -> None:
    """30 a minute (Microsoft 365's limit): 40 messages over 4 connections start 2 s apart, so
    no minute ever carries more than 30."""
    handler = Recorder()
    clock = FakeTime()
    with serving(handler) as port:
        s, catalog, offices = crowd_run(tmp_path, 40, port, smtp_concurrency=4, smtp_rate=30.0)
        report = send_due(s, catalog, offices, NOW, sleep=clock.sleep, clock=clock)
    assert report.ok and report.messages == 40 and len(message_ids(handler)) == 40
    assert clock.now == 78.0  # 39 intervals of 2 s after the first message
    starts = [0.0]
    for waited in clock.slept:
        starts.append(starts[-1] + waited)
    assert starts == [2.0 * n for n in range(40)]
    assert max(sum(1 for t in starts if w <= t < w + 60) for w in starts) == 30


def test_without_a_rate_cap_nothing_waits(tmp_path: Path) -> None:
    handler = Recorder()
    clock = FakeTime()
    with serving(handler) as port:
        s, catalog, offices = crowd_run(tmp_path, 10, port)
        report = send_due(s, catalog, offices, NOW, sleep=clock.sleep, clock=clock)
    assert report.ok and report.messages == 10 and clock.slept == []


def test_a_rate_that_is_not_a_number_is_a_usage_error(tmp_path: Path) -> None:
    env = crowd_env(tmp_path, 1, port=2525, smtp_rate="treinta")
    proc = cli("send-due", "--now", "2027-03-18T09:00:00-05:00", env=env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "CALENDAR_SERVICE_SMTP_RATE: 'treinta' is not a number" in err
