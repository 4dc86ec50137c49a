"""Both data files at once, so a coordinator sees every problem of both in one report.

``load_days``, ``load_offices`` and ``check_rule`` are re-exported here for callers that load one file.
"""

from __future__ import annotations

from pathlib import Path

from calendar_service.base.errors import DataError, Problem
from calendar_service.data.days import load_days
from calendar_service.data.model import Catalog, Office
from calendar_service.data.offices import MAX_LEAD_DAYS, load_offices
from calendar_service.data.rules import check_rule

__all__ = ["MAX_LEAD_DAYS", "check_rule", "load_all", "load_days", "load_offices"]


def load_all(days_path: Path | str, offices_path: Path | str, *, complete: bool = False
             ) -> tuple[Catalog, tuple[Office, ...]]:
    """Both files, with problems from both reported together."""
    problems: list[Problem] = []
    catalog = None
    try:
        catalog = load_days(days_path, complete=complete)
    except DataError as exc:
        problems.extend(exc.problems)
    try:
        offices = load_offices(offices_path, catalog)
    except DataError as exc:
        problems.extend(exc.problems)
    if problems:
        raise DataError(problems)
    assert catalog is not None
    return catalog, offices
