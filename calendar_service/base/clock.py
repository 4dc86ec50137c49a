"""Where "now" comes from: the real clock in production, a shifted or fixed one in tests and replays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class OffsetClock:
    """Real time shifted so that it read ``start`` when created: ``serve --now`` replays a date
    with a scheduler that still ticks (and tests need no real sleeps to reach a send time)."""

    start: datetime
    _origin: float = field(default_factory=monotonic)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=monotonic() - self._origin)


@dataclass
class FixedClock:
    """A clock that moves only when told to."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def now_from(args: Any, *, today_at: time | None = None) -> datetime:
    """The instant a command runs as: --now, else --today, else the real clock.

    --today D is D at the current time of day (UTC), so ``send-due --today`` replays that day as
    it unfolds; publishing commands pass ``today_at=time(0, 0)`` because the timestamps they
    write into feeds must not depend on the hour a replay happened to run.
    """
    if getattr(args, "now", None):
        return args.now  # type: ignore[no-any-return]
    real = datetime.now(UTC)
    if getattr(args, "today", None):
        at = real.timetz() if today_at is None else today_at.replace(tzinfo=UTC)
        return datetime.combine(args.today, at)
    return real


def today_from(args: Any) -> date:
    """--today, else the date of --now, else the machine's local date (set TZ where it runs)."""
    if getattr(args, "today", None):
        return args.today  # type: ignore[no-any-return]
    if getattr(args, "now", None):
        return args.now.date()  # type: ignore[no-any-return]
    return datetime.now().date()
