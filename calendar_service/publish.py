"""The edges of publishing: the clock from the options, and files written atomically."""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from .errors import ConfigError


def now_from(args: argparse.Namespace) -> datetime:
    """--now, else --today at 00:00 UTC, else the real clock (UTC)."""
    if getattr(args, "now", None):
        return args.now.astimezone(UTC)  # type: ignore[no-any-return]
    if getattr(args, "today", None):
        return datetime(args.today.year, args.today.month, args.today.day, tzinfo=UTC)
    return datetime.now(UTC)


def atomic_write(path: Path, body: bytes) -> None:
    """Readers see the old file or the new one, never a half-written one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror})") from None
