"""A per-data-dir run lock, so a second cron copy waits or leaves instead of racing the first.

The ledger already makes double sends impossible; the lock keeps two copies from rebuilding the
site at the same time and makes "another run is in progress" an explicit, logged outcome.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from calendar_service.base.errors import ConfigError


class LockBusy(Exception):
    """Another process holds the lock and did not release it in time."""


@contextmanager
def run_lock(path: Path, *, wait: float = 0.0, poll: float = 0.2,
             sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if needed) for the block.

    ``wait`` seconds are spent retrying before giving up with LockBusy. The kernel drops the lock
    when the process dies, so a crashed run never leaves a stale lock behind.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"{path.parent}: cannot use it as the data folder ({exc.strerror}); "
                          "check --data-dir / CALENDAR_SERVICE_DATA_DIR") from None
    try:
        deadline = clock() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    raise LockBusy(str(path)) from None
                sleep(poll)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
