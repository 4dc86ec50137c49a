"""The long-running service's state: the last good data, reloaded when the files change.

A bad edit never takes the service down: the previous data keeps serving and the error is kept
for /healthz and the log until the file is fixed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from calendar_service.base.errors import DataError
from calendar_service.base.files import FileRefused, read_bounded
from calendar_service.base.settings import Settings
from calendar_service.data.model import Catalog, Office

log = logging.getLogger("calendar_service.runs.service")


@dataclass(frozen=True)
class Snapshot:
    """One consistent version of the data files."""

    catalog: Catalog
    offices: tuple[Office, ...]
    version: str
    loaded_at: datetime


def _fingerprint(paths: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((-1, -1))
    return tuple(out)


def data_version(paths: tuple[Path, ...]) -> str:
    """A short hash of the files' bytes: what /healthz and the logs call the data version."""
    h = hashlib.sha256()
    for p in paths:
        try:
            h.update(read_bounded(p))  # a FIFO or a hung mount must not wedge a reload here
        except (OSError, FileRefused):
            h.update(b"\0missing\0")
    return h.hexdigest()[:12]


class DataWatcher:
    """Loads days and offices, and reloads them when their files change on disk."""

    def __init__(self, settings: Settings, now: Callable[[], datetime]) -> None:
        self.paths = (settings.days, settings.offices)
        self._now = now
        self._seen: tuple[tuple[int, int], ...] | None = None
        self.current: Snapshot | None = None
        self.last_error: str | None = None

    def load(self) -> Snapshot:
        """The first load: bad data here is fatal (there is nothing good to keep serving)."""
        from calendar_service.data.loader import load_all

        seen = _fingerprint(self.paths)
        catalog, offices = load_all(*self.paths)
        snapshot = Snapshot(catalog, offices, data_version(self.paths), self._now())
        self._seen, self.current, self.last_error = seen, snapshot, None
        return snapshot

    def poll(self) -> bool:
        """Reload if a file changed; True when new data is now in use."""
        from calendar_service.data.loader import load_all

        seen = _fingerprint(self.paths)
        if seen == self._seen:
            return False
        self._seen = seen
        version = data_version(self.paths)
        if self.current is not None and version == self.current.version:
            self.last_error = None  # the bad edit was undone
            return False
        try:
            catalog, offices = load_all(*self.paths)
        except DataError as exc:
            self.last_error = str(exc)
            for problem in exc.problems:
                log.error("event=reload_failed keeping=%s problem=%r",
                          self.current.version if self.current else None, str(problem))
            return False
        snapshot = Snapshot(catalog, offices, version, self._now())
        self.current, self.last_error = snapshot, None
        log.info("event=data_reloaded version=%s days=%d offices=%d", version, len(catalog.days),
                 len(offices))
        return True
