"""Reloading data in the long-running service: good edits are picked up, bad ones never serve."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import MINIMAL_DAYS

from calendar_service.base.settings import load_settings
from calendar_service.runs.service import DataWatcher, Snapshot

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def touch_later(path: Path) -> None:
    """Editors change mtime; make sure two quick writes never look identical."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def watcher(days_file: Path, offices_file: Path, tmp_path: Path) -> tuple[DataWatcher, list[Snapshot]]:
    settings = load_settings({"days": days_file, "offices": offices_file, "data_dir": tmp_path},
                             environ={})
    w = DataWatcher(settings, lambda: NOW)
    return w, [w.load()]


def test_unchanged_files_are_not_reloaded(watcher: tuple[DataWatcher, list[Snapshot]]) -> None:
    w, changes = watcher
    assert w.poll() is False
    assert w.current is changes[0]


def test_a_good_edit_is_picked_up(watcher: tuple[DataWatcher, list[Snapshot]], days_file: Path) -> None:
    w, _ = watcher
    before = w.current
    days_file.write_text(MINIMAL_DAYS.replace("El agua es vida.", "Cada gota cuenta."), "utf-8")
    touch_later(days_file)
    assert w.poll() is True
    assert w.current is not None and before is not None
    assert w.current.version != before.version
    assert w.current.catalog.days[0].content["es"].summary == "Cada gota cuenta."


def test_a_bad_edit_keeps_the_last_good_data_and_logs_the_line(
        watcher: tuple[DataWatcher, list[Snapshot]], days_file: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    w, changes = watcher
    good = w.current
    days_file.write_text(MINIMAL_DAYS.replace('"03-22"', '"02-30"'), "utf-8")
    touch_later(days_file)
    with caplog.at_level(logging.ERROR, logger="calendar_service.runs.service"):
        assert w.poll() is False
    assert w.current is good is changes[0]
    assert w.last_error is not None and 'days.yaml:9: days[0].date: "02-30"' in w.last_error
    assert "event=reload_failed" in caplog.text
    days_file.write_text(MINIMAL_DAYS, "utf-8")
    touch_later(days_file)
    w.poll()
    assert w.last_error is None
