"""Who holds a claim, and whether that run is provably alive or dead.

While a run sends, it holds a lock that dies with it: on PostgreSQL an advisory lock on the
run's own connection (a dropped connection drops the lock, and the run stops), on SQLite an
``flock`` on a file beside the ledger. Any other run can then tell at once whether the owner of a
claim is alive (its claims are never taken), dead (they are taken straight away), or cannot be
checked (a SQLite claim made on another host, or before owners were recorded: taken once
CLAIM_TIMEOUT passes without the owner renewing it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

ALIVE, DEAD, UNKNOWN = "alive", "dead", "unknown"

HOST = socket.gethostname()[:200]

_HELD: set[str] = set()  # the runs of this process that hold their lock right now


class LedgerLost(Exception):
    """The run's own ledger connection (and so its lock) is gone: it must stop sending, since
    other runs may now take over its claims."""


def lock_key(namespace: str, token: str) -> int:
    """A 64-bit advisory lock key for one run of one ledger (advisory locks are database-wide:
    the schema is part of the key, so ledgers sharing a database never collide)."""
    digest = hashlib.blake2b(f"{namespace}\0{token}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PgOwner:
    """The run's own PostgreSQL connection, holding the run's advisory lock for its life."""

    def __init__(self, engine: Engine, namespace: str, token: str) -> None:
        self.token = token
        self.key = lock_key(namespace, token)
        self.lost = False
        self.connection: Connection = engine.connect()
        try:
            conn = self.connection
            # The server must notice a vanished host within a minute, not the system's two hours,
            # or a run whose machine lost power would look alive that long.
            for name, value in (("tcp_keepalives_idle", 30), ("tcp_keepalives_interval", 10),
                                ("tcp_keepalives_count", 3)):
                conn.exec_driver_sql(f"SET {name} = {value}")
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
            conn.commit()
        except BaseException:
            self.connection.close()
            raise

    def check(self) -> Connection:
        """The connection, unless it was lost (SQLAlchemy would silently reconnect without the
        lock: never let it)."""
        if self.lost or self.connection.invalidated or self.connection.closed:
            self.lost = True
            raise LedgerLost("the run's ledger connection was lost")
        return self.connection

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a lost connection has no lock left to release
            if not self.lost:
                self.connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self.connection.commit()
        with contextlib.suppress(Exception):
            self.connection.close()


def pg_liveness(conn: Connection, namespace: str, tokens: list[str]) -> dict[str, str]:
    """Alive when another session holds the owner's lock, dead otherwise. The lock taken to
    check is released with the transaction."""
    out = {}
    for token in tokens:
        got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                           {"k": lock_key(namespace, token)}).scalar()
        out[token] = DEAD if got else ALIVE
    return out


class FileOwner:
    """An ``flock`` on ``FOLDER/TOKEN.lock``, held for the run's life; the kernel drops it when
    the process dies, however it dies."""

    connection = None

    def __init__(self, folder: Path, token: str) -> None:
        self.token = token
        self.lost = False
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{token}.lock"
        # Locked before it gets its name: nobody ever sees an unlocked file of a live run.
        tmp = folder / f".{token}.tmp"
        self.fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            os.write(self.fd, f"{os.getpid()} {HOST}\n".encode())
            os.rename(tmp, self.path)
        except BaseException:
            os.close(self.fd)
            raise
        _HELD.add(token)

    def check(self) -> None:
        return None

    def close(self) -> None:
        _HELD.discard(self.token)
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self.fd)


def file_liveness(folder: Path, token: str, host: str | None, pid: int | None) -> str:
    """A claim made on this host: alive while its run's file is locked, dead once the lock is
    free (or the file is gone and the process too). Other hosts cannot be checked."""
    if host != HOST:
        return UNKNOWN
    path = folder / f"{token}.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if pid == os.getpid():  # this very process: it knows which of its runs are at work
            return ALIVE if token in _HELD else DEAD
        return DEAD if pid is not None and not _running(pid) else UNKNOWN
    except OSError:
        return UNKNOWN
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return ALIVE
        with contextlib.suppress(OSError):
            os.unlink(path)  # the dead run's file: nothing will ever lock it again
        return DEAD
    finally:
        os.close(fd)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_folder(database: str) -> Path:
    """Where a SQLite ledger's runs keep their lock files: beside the ledger."""
    path = Path(database).expanduser()
    return path.with_name(path.name + ".runs")


Owner = Any  # PgOwner | FileOwner
