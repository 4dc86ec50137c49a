"""APScheduler wiring for ``serve``: one sweep job, one reload job, wake-ups at offices' send times.

There is never one job per reminder: the sweep asks the ledger what is due, so a job that fires
twice, late or on two instances at once sends nothing twice. The wake-up jobs only make the
sweep run right at 09:00 in each office's own time zone instead of up to a sweep interval later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.cron import CronTrigger

    from calendar_service.data.model import Office

SWEEP_JOB = "sweep"
RELOAD_JOB = "reload"
WAKE_PREFIX = "wake:"
MISFIRE_GRACE_SECONDS = 6 * 3600
JOB_OPTIONS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}


def send_slots(offices: Iterable[Office]) -> set[tuple[str, time]]:
    """The distinct (time zone, local send time) pairs: a handful, however many offices."""
    return {(o.timezone, o.send_time) for o in offices}


def slot_trigger(timezone: str, at: time) -> CronTrigger:
    """A daily trigger at a local wall-clock time; zoneinfo handles DST where a zone has it."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(hour=at.hour, minute=at.minute, timezone=ZoneInfo(timezone))


def next_wakeups(offices: Iterable[Office], after: datetime) -> dict[str, datetime]:
    """When each slot next fires after ``after`` (the same triggers the scheduler uses)."""
    return {f"{tz} {at:%H:%M}": fire for (tz, at) in sorted(send_slots(offices))
            if (fire := slot_trigger(tz, at).get_next_fire_time(None, after)) is not None}


def build_scheduler(*, sweep: Callable[[], Awaitable[None]], reload: Callable[[], Awaitable[None]],
                    offices: Iterable[Office], sweep_minutes: int, reload_seconds: int,
                    now: datetime) -> AsyncIOScheduler:
    """A scheduler whose sweep runs at start-up, every few minutes and at every send slot.

    coalesce + max_instances=1 + a misfire grace time: after the process was asleep or down,
    missed runs are caught up once, not once per missed tick.
    """
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = AsyncIOScheduler(timezone=ZoneInfo("UTC"))
    scheduler.add_job(sweep, IntervalTrigger(minutes=sweep_minutes, start_date=now), id=SWEEP_JOB,
                      name="send what is due", next_run_time=now, **JOB_OPTIONS)
    scheduler.add_job(reload, IntervalTrigger(seconds=reload_seconds), id=RELOAD_JOB,
                      name="reload data files", **JOB_OPTIONS)
    reschedule_wakeups(scheduler, offices, sweep)
    return scheduler


def reschedule_wakeups(scheduler: AsyncIOScheduler, offices: Iterable[Office],
                       sweep: Callable[[], Awaitable[None]]) -> None:
    """Replace the wake-up jobs after the office list (time zones, send times) changed."""
    wanted = {f"{WAKE_PREFIX}{tz} {at:%H:%M}": (tz, at) for tz, at in send_slots(offices)}
    for job in scheduler.get_jobs():
        if job.id.startswith(WAKE_PREFIX) and job.id not in wanted:
            job.remove()
    for job_id, (tz, at) in wanted.items():
        if scheduler.get_job(job_id) is None:
            scheduler.add_job(sweep, slot_trigger(tz, at), id=job_id,
                              name=f"send time {at:%H:%M} {tz}", **JOB_OPTIONS)
