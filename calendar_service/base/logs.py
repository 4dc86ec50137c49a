"""Logging for cron and services: one ``key=value`` line per event on stderr, never a secret."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from calendar_service.base.settings import Settings

FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def configure_logging(settings: Settings, *, also: Iterable[str] = ()) -> None:
    """Our loggers (and ``also``: e.g. uvicorn's and APScheduler's under ``serve``) share one
    handler and format, so journald or a log shipper sees a single shape of line."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT, "%Y-%m-%dT%H:%M:%S%z"))
    for name in ("calendar_service", *also):
        logger = logging.getLogger(name)
        if logger.handlers:
            continue
        logger.addHandler(handler)
        logger.setLevel(settings.log_level.upper())
        logger.propagate = False
