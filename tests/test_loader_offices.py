"""offices.yaml validation: addresses, time zones, leads and header injection."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from conftest import MINIMAL_OFFICES, write

from calendar_service.base.errors import DataError
from calendar_service.data.loader import load_days, load_offices


def test_minimal_office_loads(offices_file: Path) -> None:
    (office,) = load_offices(offices_file)
    assert office.timezone == "America/Cancun"
    assert office.lead_days == (14, 3)
    assert office.send_time == time(9, 0)
    assert office.emails == ("qroo@example.org",)


BAD = [
    pytest.param("emails: [qroo@example.org]", "emails: [qroo-at-example.org]",
                 "offices.yaml:6: offices[0].emails[0]: 'qroo-at-example.org' is not a valid e-mail",
                 id="invalid-email"),
    pytest.param("timezone: America/Cancun", "timezone: America/Cancn",
                 "offices.yaml:7: offices[0].timezone: unknown IANA time zone 'America/Cancn' "
                 "(did you mean 'America/Cancun'?)", id="unknown-timezone"),
    pytest.param("lead_days: [14, 3]", "lead_days: [14, -3]",
                 "offices.yaml:10: offices[0].lead_days[1]: -3 is negative", id="negative-lead"),
    pytest.param("lead_days: [14, 3]", "lead_days: [400]",
                 "offices.yaml:10: offices[0].lead_days[0]: 400 days is too far ahead", id="absurd-lead"),
    pytest.param("name: Oficina de Quintana Roo", 'name: "Oficina\\r\\nBcc: victim@example.com"',
                 "offices.yaml:4: offices[0].name: contains the control character U+000D (CR)",
                 id="crlf-in-name"),
    pytest.param("emails: [qroo@example.org]", 'emails: ["qroo@example.org\\nBcc: x@example.com"]',
                 "offices.yaml:6: offices[0].emails[0]: contains a line break", id="crlf-in-email"),
    pytest.param("name: Oficina de Quintana Roo", 'name: "Oficina\\x7f de Quintana Roo"',
                 "offices.yaml:4: offices[0].name: contains the control character U+007F (DEL)",
                 id="del-in-name"),
    pytest.param('send_time: "09:00"', 'send_time: "25:00"',
                 "offices.yaml:11: offices[0].send_time: '25:00' is not a time of day", id="bad-time"),
    pytest.param("language: es", "language: fr",
                 "offices.yaml:8: offices[0].language: 'fr' is not supported", id="bad-language"),
    pytest.param("    send_time", "    colour: blue\n    send_time",
                 "offices.yaml:11: offices[0].colour: unknown key", id="unknown-key"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD)
def test_bad_office_is_reported_with_line_and_field(tmp_path: Path, old: str, new: str,
                                                    expected: str) -> None:
    assert old in MINIMAL_OFFICES
    with pytest.raises(DataError) as info:
        load_offices(write(tmp_path, "offices.yaml", MINIMAL_OFFICES.replace(old, new, 1)))
    problems = [str(p) for p in info.value.problems]
    assert any(expected in p for p in problems), problems


def test_office_theme_must_exist_in_days(tmp_path: Path, days_file: Path) -> None:
    text = MINIMAL_OFFICES.replace("themes: []", "themes: [medio-ambiente, clima]")
    with pytest.raises(DataError) as info:
        load_offices(write(tmp_path, "offices.yaml", text), load_days(days_file))
    assert [str(p).split(": ", 1)[1] for p in info.value.problems] == [
        "offices[0].themes[1]: unknown theme 'clima'"]


def test_duplicate_office_id_is_refused(tmp_path: Path) -> None:
    body = MINIMAL_OFFICES.split("offices:\n", 1)[1]
    with pytest.raises(DataError, match="duplicate id 'quintana-roo' \\(first defined on line 3\\)"):
        load_offices(write(tmp_path, "offices.yaml", MINIMAL_OFFICES + body))
