"""Scheduling in explicit time zones: each office's send time is its own local 09:00, DST or not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from calendar_service.data.model import Office
from calendar_service.runs.scheduler import (
    RELOAD_JOB,
    SWEEP_JOB,
    build_scheduler,
    next_wakeups,
    reschedule_wakeups,
)


def office(office_id: str, tz: str, at: time = time(9, 0)) -> Office:
    return Office(id=office_id, name=office_id, state=office_id, emails=(f"{office_id}@example.org",),
                  timezone=tz, send_time=at)


OFFICES = [office("cdmx", "America/Mexico_City"), office("bc", "America/Tijuana"),
           office("qroo", "America/Cancun"), office("edomex", "America/Mexico_City")]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_offices_sharing_a_zone_and_time_share_one_wakeup() -> None:
    assert set(next_wakeups(OFFICES, utc(2027, 1, 10))) == {
        "America/Cancun 09:00", "America/Mexico_City 09:00", "America/Tijuana 09:00"}


def test_next_send_times_before_the_northern_border_changes_clocks() -> None:
    wake = next_wakeups(OFFICES, utc(2027, 3, 13, 12))
    assert wake["America/Cancun 09:00"] == utc(2027, 3, 13, 14)
    assert wake["America/Mexico_City 09:00"] == utc(2027, 3, 13, 15)
    assert wake["America/Tijuana 09:00"] == utc(2027, 3, 13, 17)


def test_next_send_times_after_tijuana_springs_forward() -> None:
    # 2027-03-14: Tijuana moves to PDT (UTC-7); Mexico City and Cancun keep their offsets.
    wake = next_wakeups(OFFICES, utc(2027, 3, 14, 12))
    assert wake["America/Tijuana 09:00"] == utc(2027, 3, 14, 16)
    assert wake["America/Mexico_City 09:00"] == utc(2027, 3, 14, 15)
    assert wake["America/Cancun 09:00"] == utc(2027, 3, 14, 14)


def test_next_send_times_after_tijuana_falls_back() -> None:
    wake = next_wakeups(OFFICES, utc(2027, 11, 7, 12))
    assert wake["America/Tijuana 09:00"] == utc(2027, 11, 7, 17)


def test_every_wakeup_is_local_nine_oclock_all_year() -> None:
    from zoneinfo import ZoneInfo

    moment = utc(2027, 1, 1)
    for _ in range(365):
        for key, fire in next_wakeups(OFFICES, moment).items():
            tz = key.split(" ")[0]
            local = fire.astimezone(ZoneInfo(tz))
            assert (local.hour, local.minute) == (9, 0), (key, fire)
        moment += timedelta(days=1)


def test_scheduler_runs_the_sweep_at_start_and_catches_up_once() -> None:
    async def job() -> None:
        return None

    async def scenario() -> None:
        start = utc(2027, 3, 1, 12)
        scheduler = build_scheduler(sweep=job, reload=job, offices=OFFICES, sweep_minutes=5,
                                    reload_seconds=30, now=start)
        sweep = scheduler.get_job(SWEEP_JOB)
        assert sweep.next_run_time == start
        assert sweep.coalesce is True and sweep.max_instances == 1
        assert sweep.misfire_grace_time >= 3600
        assert scheduler.get_job(RELOAD_JOB) is not None
        wakes = sorted(j.id for j in scheduler.get_jobs() if j.id.startswith("wake:"))
        assert wakes == ["wake:America/Cancun 09:00", "wake:America/Mexico_City 09:00",
                         "wake:America/Tijuana 09:00"]
        reschedule_wakeups(scheduler, [office("son", "America/Hermosillo", time(8, 30))], job)
        wakes = sorted(j.id for j in scheduler.get_jobs() if j.id.startswith("wake:"))
        assert wakes == ["wake:America/Hermosillo 08:30"]

    asyncio.run(scenario())


def test_runs_missed_while_the_process_slept_are_coalesced_into_one() -> None:
    """The sweep was due an hour ago (12 ticks of 5 minutes missed): it runs once, then waits."""

    async def scenario() -> tuple[int, datetime | None, datetime]:
        ran = asyncio.Event()
        calls = 0

        async def sweep() -> None:
            nonlocal calls
            calls += 1
            ran.set()

        async def reload() -> None:
            return None

        real_now = datetime.now(UTC)
        scheduler = build_scheduler(sweep=sweep, reload=reload, offices=OFFICES, sweep_minutes=5,
                                    reload_seconds=3600, now=real_now - timedelta(hours=1))
        scheduler.start()
        try:
            await asyncio.wait_for(ran.wait(), 30)
            await asyncio.sleep(0)  # let the scheduler process the job's completion
            return calls, scheduler.get_job(SWEEP_JOB).next_run_time, real_now
        finally:
            scheduler.shutdown(wait=False)

    calls, next_run, real_now = asyncio.run(scenario())
    assert calls == 1
    assert next_run is not None and next_run > real_now  # the missed ticks were not queued
