"""Shared fixtures: small data files written on the fly, and the repository's own files."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

MINIMAL_DAYS = """\
version: 1
themes:
  medio-ambiente: {es: Medio ambiente, en: Environment}
  derechos-humanos: {es: Derechos humanos, en: Human rights}
bodies:
  unga: {es: Asamblea General de las Naciones Unidas, en: UN General Assembly, un: true}
days:
  - id: world-water-day
    date: "03-22"
    annex: false
    name: {es: Día Mundial del Agua, en: World Water Day}
    proclaimed_by: unga
    themes: [medio-ambiente]
    sdgs: [6]
    content:
      es: {summary: El agua es vida.}
      en: {summary: Water is life.}
  - id: world-habitat-day
    rule: "FREQ=YEARLY;BYMONTH=10;BYDAY=1MO"
    annex: false
    name: {es: Día Mundial del Hábitat, en: World Habitat Day}
    themes: [medio-ambiente, derechos-humanos]
    content:
      es: {summary: Ciudades para todos.}
"""

MINIMAL_OFFICES = """\
version: 1
offices:
  - id: quintana-roo
    name: Oficina de Quintana Roo
    state: Quintana Roo
    emails: [qroo@example.org]
    timezone: America/Cancun
    language: es
    themes: []
    lead_days: [14, 3]
    send_time: "09:00"
"""


@pytest.fixture(scope="session", autouse=True)
def shared_card_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Cards are a pure function of what they show, so one cache serves the whole run (and the
    processes tests start): builds and services then draw each card once, not once per test.
    Tests of the cache itself pass their own folder."""
    path = tmp_path_factory.mktemp("card-cache")
    old = os.environ.get("CALENDAR_SERVICE_CARD_CACHE")
    os.environ["CALENDAR_SERVICE_CARD_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("CALENDAR_SERVICE_CARD_CACHE", None)
    else:
        os.environ["CALENDAR_SERVICE_CARD_CACHE"] = old


@pytest.fixture(autouse=True)
def trial_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests send real SMTP to example addresses with a loopback BASE_URL: the one setting
    that allows it (CALENDAR_SERVICE_TRIAL_SENDING) is on for every process they start. Tests
    of the safe defaults take it away (monkeypatch.delenv)."""
    monkeypatch.setenv("CALENDAR_SERVICE_TRIAL_SENDING", "1")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def days_file(tmp_path: Path) -> Path:
    return write(tmp_path, "days.yaml", MINIMAL_DAYS)


@pytest.fixture
def offices_file(tmp_path: Path) -> Path:
    return write(tmp_path, "offices.yaml", MINIMAL_OFFICES)
