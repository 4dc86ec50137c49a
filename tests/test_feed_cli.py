"""feed / build / serve as users type them: help, usage errors, exit 2 and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CALENDAR_SERVICE_DATA_DIR": str(data_dir)}
    env.pop("CALENDAR_SERVICE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "calendar_service", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_help_lists_the_publishing_commands(tmp_path: Path) -> None:
    out = run("--help", data_dir=tmp_path).stdout
    for command in ("feed", "build", "serve"):
        assert command in out
    assert "--alarms" in run("feed", "--help", data_dir=tmp_path).stdout


def test_feed_to_a_file_and_to_standard_output_are_the_same(tmp_path: Path) -> None:
    out = tmp_path / "f.ics"
    a = run("feed", "--lang", "en", "--theme", "salud", "--today", "2027-03-01", "-o", str(out),
            data_dir=tmp_path)
    assert a.returncode == 0, a.stderr
    b = run("feed", "--lang", "en", "--theme", "salud", "--today", "2027-03-01",
            data_dir=tmp_path)
    assert b.stdout.encode() == out.read_bytes().replace(b"\r\n", b"\n")
    assert (tmp_path / "feed-state.json").is_file()


@pytest.mark.parametrize("args, message", [
    (("feed", "--theme", "salut"), "unknown theme 'salut'"),
    (("feed", "--lang", "fr"), "invalid choice: 'fr'"),
    (("feed", "--today", "2027-13-01"), "is not a date"),
    (("serve", "--port", "70000"), "a port is 0 to 65535"),
    (("build", "--now", "2027-03-01T09:00"), "has no UTC offset"),
])
def test_bad_input_exits_2_with_one_clear_line(tmp_path: Path, args: tuple[str, ...],
                                               message: str) -> None:
    result = run(*args, data_dir=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = run("feed", "-o", str(tmp_path / "file" / "f.ics"), data_dir=tmp_path)
    assert result.returncode == 2
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_damaged_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "feed-state.json").write_text("{broken")
    result = run("build", str(tmp_path / "site"), data_dir=tmp_path)
    assert result.returncode == 2
    assert "feed-state.json" in result.stderr and "Traceback" not in result.stderr


def test_sequence_moves_only_for_the_day_whose_data_changed(tmp_path: Path) -> None:
    from conftest import MINIMAL_DAYS, write
    from icalendar import Calendar

    days = write(tmp_path, "days.yaml", MINIMAL_DAYS)

    def events(now: str) -> dict[str, tuple[int, str]]:
        result = run("feed", "--days", str(days), "--now", now, "-o", str(tmp_path / "f.ics"),
                     data_dir=tmp_path / "data")
        assert result.returncode == 0, result.stderr
        cal = Calendar.from_ical((tmp_path / "f.ics").read_bytes())
        return {str(e["UID"]).split("@")[0]: (int(e["SEQUENCE"]), e["LAST-MODIFIED"].to_ical()
                                              .decode()) for e in cal.walk("VEVENT")}

    first = events("2027-03-01T10:00:00Z")
    assert first["world-water-day-2027"] == (0, "20270301T100000Z")
    assert events("2027-03-02T10:00:00Z") == first  # a rebuild without changes
    days.write_text(days.read_text().replace("El agua es vida.", "El agua es vida y derecho."))
    third = events("2027-03-03T10:00:00Z")
    assert third["world-water-day-2027"] == (1, "20270303T100000Z")
    assert third["world-habitat-day-2027"] == first["world-habitat-day-2027"]
