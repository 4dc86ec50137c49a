"""Files written atomically (readers see the old file or the new one, never half of one), and data
files read within bounds (a regular file, a size limit, a time limit: nothing wedges a reader)."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    ``durable`` also flushes it to disk before the rename: the outbox needs that, since a message
    recorded as sent must still be there after a power cut. Raises OSError.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_READ_TIMEOUT = 10.0


class FileRefused(Exception):
    """A data file that is not read: not a regular file, too large, unreadable or too slow."""


@dataclass(frozen=True)
class ReadLimits:
    """How much of a data file is read, and for how long, before giving up on it."""

    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_READ_TIMEOUT


_limits = ReadLimits()


def set_read_limits(limits: ReadLimits) -> None:
    """Set once at start-up from the settings (CALENDAR_SERVICE_MAX_FILE_MB, _READ_TIMEOUT)."""
    global _limits
    _limits = limits


def read_limits() -> ReadLimits:
    return _limits


def _size(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{int(n):,} bytes"


def _read_regular(path: Path, max_bytes: int) -> bytes:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat on the open file (not a stat
    # before it) so the file cannot be swapped for a FIFO or a device in between.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
                    if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                    or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                    else "not a regular file")
            raise FileRefused(f"is {kind}, not a regular file; point to the file itself "
                              "(symbolic links to a file are fine)")
        if st.st_size > max_bytes:
            raise FileRefused(f"is {_size(st.st_size)}, over the limit of {_size(max_bytes)} "
                              "(CALENDAR_SERVICE_MAX_FILE_MB)")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, 1024 * 1024):
            total += len(chunk)
            if total > max_bytes:  # it grew while being read
                raise FileRefused(f"is over the limit of {_size(max_bytes)} "
                                  "(CALENDAR_SERVICE_MAX_FILE_MB)")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_bounded(path: Path | str, limits: ReadLimits | None = None) -> bytes:
    """The bytes of a regular file (symbolic links followed), within a size and a time limit.

    Anything else, a FIFO, a device, a folder, a file that is too large, or a read that does not
    return in time (a hung network mount), raises FileRefused, never blocks the caller: the read
    runs in a daemon thread that is abandoned at the deadline. FileNotFoundError passes through.
    """
    limits = limits or _limits
    result: list[bytes] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(_read_regular(Path(path), limits.max_bytes))
        except BaseException as exc:  # handed to the caller's thread
            error.append(exc)

    worker = threading.Thread(target=work, name=f"read {path}", daemon=True)
    worker.start()
    worker.join(limits.timeout)
    if worker.is_alive():
        raise FileRefused(f"could not be read within {limits.timeout:g} s "
                          "(CALENDAR_SERVICE_READ_TIMEOUT); is it on a mount that stopped "
                          "answering?")
    if error:
        exc = error[0]
        if isinstance(exc, FileRefused | FileNotFoundError):
            raise exc
        if isinstance(exc, OSError):
            raise FileRefused(f"cannot be read: {exc.strerror or exc}") from None
        raise exc
    return result[0]
