"""Consistent copies of a SQLite ledger while runs go on (SQLite's online backup API).

The copy is written beside the target and moved into place, so a reader never sees half a file,
and an existing file is replaced only when asked to.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import make_url

from calendar_service.base.errors import ConfigError


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:// ledger URL; None for any other database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return None
    return Path(parsed.database).expanduser()


def copy_sqlite(source: Path, target: Path, *, overwrite: bool = False) -> None:
    """Copy the ledger at ``source`` to ``target`` as one snapshot.

    The backup is taken in a single step: a step-by-step backup restarts whenever another
    process writes, and might never finish under a busy run. Under WAL the snapshot's read
    transaction does not hold writers back.
    """
    if not source.is_file():
        raise ConfigError(f"{source}: no ledger there (nothing has been sent yet?)")
    if target.exists() and not overwrite:
        raise ConfigError(f"{target}: already exists; choose another name or add --force to "
                          "replace it")
    if not target.parent.is_dir():
        raise ConfigError(f"{target}: folder {target.parent} does not exist")
    part = target.with_name(f".{target.name}.part-{os.getpid()}")
    part.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{quote(str(source))}?mode=rw", uri=True, timeout=60)
    try:
        dst = sqlite3.connect(part)
        try:
            src.execute("PRAGMA busy_timeout=60000")
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(part, target)
        else:
            try:
                os.link(part, target)  # fails if the target appeared meanwhile: never clobber
            except FileExistsError:
                raise ConfigError(f"{target}: already exists; choose another name or add "
                                  "--force to replace it") from None
            finally:
                part.unlink(missing_ok=True)
    finally:
        src.close()
        part.unlink(missing_ok=True)
