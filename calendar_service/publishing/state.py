"""Publication state: per day (and per site file) a digest, a revision number and when it changed.

Calendar clients only update an event they already have when its SEQUENCE or LAST-MODIFIED
moves, and HTTP caches trust Last-Modified; both must change exactly when what is published
changes, across builds and restarts. So the last digests are remembered in a small JSON file in
the data directory (``feed-state.json``). ``revise`` is pure; ``load_state``/``save_state`` are
the only file access.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from calendar_service.base.errors import ConfigError
from calendar_service.base.files import atomic_write

STATE_FILE = "feed-state.json"
STATE_VERSION = 1


@dataclass(frozen=True)
class Revision:
    digest: str
    sequence: int
    last_modified: datetime


@dataclass(frozen=True)
class PublishState:
    days: Mapping[str, Revision] = field(default_factory=dict)
    files: Mapping[str, Revision] = field(default_factory=dict)


def utc_seconds(now: datetime) -> datetime:
    """iCalendar and HTTP dates carry whole seconds in UTC."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).replace(microsecond=0)


def revise(old: Mapping[str, Revision], digests: Mapping[str, str], now: datetime
           ) -> dict[str, Revision]:
    """Keep the revision of every unchanged key; bump sequence and time of the changed ones.

    Keys no longer present are kept, so a day removed and later restored never goes back to an
    older SEQUENCE (clients would ignore it).
    """
    stamp = utc_seconds(now)
    out = dict(old)
    for key, digest in digests.items():
        prev = old.get(key)
        if prev is None:
            out[key] = Revision(digest, 0, stamp)
        elif prev.digest != digest:
            out[key] = Revision(digest, prev.sequence + 1, max(stamp, prev.last_modified))
    return out


def _encode(revs: Mapping[str, Revision]) -> dict[str, dict[str, object]]:
    return {k: {"digest": r.digest, "sequence": r.sequence,
                "last_modified": r.last_modified.strftime("%Y-%m-%dT%H:%M:%SZ")}
            for k, r in sorted(revs.items())}


def _decode(raw: object, path: Path) -> dict[str, Revision]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: damaged state file (delete it to start revisions afresh)")
    out = {}
    try:
        for key, r in raw.items():
            stamp = datetime.strptime(r["last_modified"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            out[str(key)] = Revision(str(r["digest"]), int(r["sequence"]), stamp)
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{path}: damaged state file (delete it to start revisions afresh)"
                          ) from None
    return out


def load_state(data_dir: Path) -> PublishState:
    path = Path(data_dir) / STATE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return PublishState()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the state file ({exc})") from None
    if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
        raise ConfigError(f"{path}: unknown state file version (delete it to start afresh)")
    return PublishState(days=_decode(raw.get("days", {}), path),
                        files=_decode(raw.get("files", {}), path))


def save_state(data_dir: Path, state: PublishState) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    data_dir = Path(data_dir)
    raw = {"version": STATE_VERSION, "days": _encode(state.days), "files": _encode(state.files)}
    text = json.dumps(raw, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    path = data_dir / STATE_FILE
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, ValueError):
        pass
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the state file ({exc.strerror}); check "
                          "--data-dir / CALENDAR_SERVICE_DATA_DIR") from None
