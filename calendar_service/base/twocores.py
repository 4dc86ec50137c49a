"""Two independent halves of a command on two cores: one here, one in a forked child.

``check`` validates the e-mail templates and the site (pages, feed events, cards) with the data
loaded once; the halves share nothing, and on the 2-core machines this runs on each takes about
as long as the other, so doing them side by side halves what a coordinator waits for.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

A = TypeVar("A")
B = TypeVar("B")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def side_by_side(here: Callable[[], A], there: Callable[[], B]) -> tuple[A, B]:
    """``(here(), there())``, with ``there`` in a forked child when a second core is free; an
    exception in either is raised here, as if both had run in turn."""
    if not hasattr(os, "fork") or cores() < 2:
        return here(), there()
    sys.stdout.flush()
    sys.stderr.flush()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, hand the result over, and leave without any cleanup
        os.close(read)
        try:
            _answer(write, there)
        finally:
            os._exit(0)
    os.close(write)
    answered = False
    try:
        mine = here()
        with os.fdopen(read, "rb") as pipe:
            read = -1
            data = pipe.read()
        answered = True
    finally:
        if read != -1:
            os.close(read)
        if not answered:  # an error or an interrupt here: the other half is not wanted; stop
            # it rather than leave it writing (SIGKILL: it inherited this process's handlers)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    try:
        kind, value = pickle.loads(data)
    except Exception:  # noqa: BLE001 - the child died without answering
        how = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.waitstatus_to_exitcode(status)}")
        raise RuntimeError(f"the second half of the work ended without a result ({how}; "
                           "was the machine out of memory?)") from None
    if kind == "error":
        raise value
    return mine, value  # type: ignore[return-value]


def _answer(fd: int, there: Callable[[], Any]) -> None:
    try:
        result: tuple[str, Any] = ("ok", there())
    except BaseException as exc:  # noqa: BLE001 - raised in the parent instead
        result = ("error", exc)
    try:
        data = pickle.dumps(result)
        pickle.loads(data)  # an exception that cannot be rebuilt there is reported as text
    except Exception:  # noqa: BLE001
        exc = result[1]
        data = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(data)
