"""Three independent parsers read the same dates under several machine time zones.

Python's icalendar, recurring-ical-events and ical.js (node, from tests/js) each run in a
subprocess with TZ set, over a whole year of the real feed; every annex day must land on its
own date, and the feed's bytes must not depend on the machine's time zone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from webtools import ROOT

from calendar_service.data.loader import load_days
from calendar_service.occurrences import occurrences

YEAR = 2027
ZONES = ["America/Tijuana", "UTC", "Asia/Tokyo"]
UID_DOMAIN = "calendar-service.conago.example"
JS = ROOT / "tests" / "js"


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Spanish and English feeds, built by the real command."""
    out = tmp_path_factory.mktemp("feeds")
    paths = {}
    for lang in ("es", "en"):
        paths[lang] = out / f"{lang}.ics"
        result = cli("feed", "--lang", lang, "--today", f"{YEAR}-03-01", "-o", str(paths[lang]),
                     data_dir=out / "data", tz="UTC")
        assert result.returncode == 0, result.stderr
    return paths


def cli(*args: str, data_dir: Path, tz: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TZ": tz, "CALENDAR_SERVICE_DATA_DIR": str(data_dir),
           "CALENDAR_SERVICE_UID_DOMAIN": UID_DOMAIN}
    return subprocess.run([sys.executable, "-m", "calendar_service", *args], capture_output=True,
                          env=env, timeout=120)


def expected(lang: str) -> dict[str, list[str]]:
    catalog = load_days(ROOT / "days.yaml")
    return {f"{o.day.id}-{YEAR}@{UID_DOMAIN}": [o.day.name.get(lang), o.date.isoformat(),
                                               (o.date + timedelta(days=1)).isoformat()]
            for o in occurrences(catalog.days, date(YEAR, 1, 1), date(YEAR + 1, 1, 1))}


def assert_annex_days_on_their_dates(parsed: dict[str, list[str]]) -> None:
    catalog = load_days(ROOT / "days.yaml")
    annex = [d for d in catalog.days if d.annex]
    assert len(annex) >= 37
    for day in annex:
        got = parsed[f"{day.id}-{YEAR}@{UID_DOMAIN}"]
        if day.month_day:
            assert got[1] == date(YEAR, *day.month_day).isoformat(), day.id
        assert date.fromisoformat(got[2]) - date.fromisoformat(got[1]) == timedelta(days=1)


@pytest.mark.parametrize("tz", ZONES)
def test_feed_bytes_do_not_depend_on_the_machine_time_zone(tz: str, feeds: dict[str, Path],
                                                           tmp_path: Path) -> None:
    # the same state file, so the same revisions: only the time zone differs
    shutil.copy(feeds["es"].parent / "data" / "feed-state.json", tmp_path / "feed-state.json")
    result = cli("feed", "--today", f"{YEAR}-03-01", data_dir=tmp_path, tz=tz)
    assert result.returncode == 0, result.stderr
    assert result.stdout == feeds["es"].read_bytes()


@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("tz", ZONES)
def test_icalendar_and_recurring_ical_events_read_every_date(tz: str, lang: str,
                                                             feeds: dict[str, Path]) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "feed_probe.py"),
                             str(feeds[lang]), str(YEAR)], capture_output=True, text=True,
                            env={**os.environ, "TZ": tz}, timeout=120)
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert parsed["icalendar"] == expected(lang)
    assert parsed["recurring"] == expected(lang)
    assert_annex_days_on_their_dates(parsed["icalendar"])


def _node_reason() -> str | None:
    if not shutil.which("node"):
        return "node is not installed (Debian: apt-get install nodejs npm)"
    if not (JS / "node_modules" / "ical.js").is_dir():
        return "ical.js is not installed: run 'npm ci' in tests/js (.ci/run does)"
    return None


@pytest.mark.skipif(_node_reason() is not None, reason=str(_node_reason()))
@pytest.mark.parametrize("tz", ZONES)
def test_ical_js_reads_the_same_dates(tz: str, feeds: dict[str, Path]) -> None:
    result = subprocess.run(["node", str(JS / "parse.mjs"), str(feeds["es"]), str(YEAR)],
                            capture_output=True, text=True, env={**os.environ, "TZ": tz},
                            cwd=JS, timeout=120)
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert parsed == expected("es")
    assert_annex_days_on_their_dates(parsed)
