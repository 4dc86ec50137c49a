"""Data files that try to wedge, exhaust or crash a reader (issue 14: D4, D6, D7, D8): each is
refused at once with exit 2 and FILE:LINE, by `check`, by `daily` and by a reload of `serve`.

The YAML limits here are the specification any faster parser must keep passing.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import MINIMAL_DAYS, MINIMAL_OFFICES, write
from mailtest import cli
from test_running import Server, swept

from calendar_service.base.errors import DataError
from calendar_service.data.loader import load_days

BILLION_LAUGHS = """\
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
"""


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = cli(*args, env=env)
    out, err = proc.communicate(timeout=120)  # a hang fails here instead of blocking the suite
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def problems(path: Path) -> list[str]:
    with pytest.raises(DataError) as info:
        load_days(path)
    return [str(p) for p in info.value.problems]


def nested(levels: int, *, flow: bool) -> str:
    if flow:
        return MINIMAL_DAYS + "extra: " + "[" * levels + "]" * levels + "\n"
    return MINIMAL_DAYS + "extra:\n" + "".join("  " * i + "- \n" for i in range(1, levels))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CALENDAR_SERVICE_DAYS": str(write(tmp_path, "days.yaml", MINIMAL_DAYS)),
            "CALENDAR_SERVICE_OFFICES": str(write(tmp_path, "offices.yaml", MINIMAL_OFFICES)),
            "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}


# -- D4: nothing wedges -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["check"], ["daily", "--today", "2027-03-01"]])
def test_a_fifo_as_days_file_is_refused_at_once_instead_of_hanging(
        command: list[str], env: dict[str, str], tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # nobody ever writes to it: reading it would block forever
    result = run(*command, env={**env, "CALENDAR_SERVICE_DAYS": str(fifo)})
    assert result.returncode == 2
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in result.stderr


def test_a_symbolic_link_to_a_regular_file_is_read(env: dict[str, str], tmp_path: Path) -> None:
    link = tmp_path / "mounted.yaml"
    link.symlink_to(env["CALENDAR_SERVICE_DAYS"])  # how mounted configuration usually looks
    result = run("check", env={**env, "CALENDAR_SERVICE_DAYS": str(link)})
    assert result.returncode == 0, result.stderr


def test_a_file_over_the_size_limit_is_refused_without_being_read(
        env: dict[str, str], tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(MINIMAL_DAYS.encode() + b"#" * (2 * 1024 * 1024) + b"\n")
    result = run("check", env={**env, "CALENDAR_SERVICE_DAYS": str(big),
                               "CALENDAR_SERVICE_MAX_FILE_MB": "1"})
    assert result.returncode == 2
    assert f"{big}: is 2.0 MB, over the limit of 1.0 MB (CALENDAR_SERVICE_MAX_FILE_MB)" in result.stderr


def test_a_reload_that_meets_a_fifo_keeps_the_last_good_data_says_stale_and_the_next_works(
        env: dict[str, str]) -> None:
    days = Path(env["CALENDAR_SERVICE_DAYS"])
    server = Server(env, "--now", "2027-03-01T15:00:00Z")
    try:
        server.wait_for("start", swept)
        feed = server.get("/calendar.ics").content
        days.unlink()
        os.mkfifo(days)
        for _ in range(3):  # reloads keep coming: none may wedge the next
            server.proc.send_signal(signal.SIGHUP)
        info = server.wait_for("the refused reload", lambda i: i.get("data_stale"))
        assert info["status"] == "degraded"
        assert "is a FIFO (named pipe), not a regular file" in info["data_error"]
        assert server.get("/calendar.ics").content == feed
        days.unlink()
        days.write_text(MINIMAL_DAYS.replace('"03-22"', '"03-23"'), encoding="utf-8")
        server.proc.send_signal(signal.SIGHUP)
        info = server.wait_for("the good reload", lambda i: not i.get("data_stale"))
        assert info["status"] == "ok" and "data_error" not in info
        assert b"DTSTART;VALUE=DATE:20270323" in server.get("/calendar.ics").content
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert "maximum number of running instances" not in err


# -- D6: control characters ---------------------------------------------------------------------


@pytest.mark.parametrize(("escape", "name"), [("\\a", "U+0007 (BEL)"), ("\\0", "U+0000 (NUL)")])
def test_a_control_character_in_a_days_name_is_refused_by_check(
        escape: str, name: str, env: dict[str, str]) -> None:
    days = Path(env["CALENDAR_SERVICE_DAYS"])
    days.write_text(MINIMAL_DAYS.replace("{es: Día Mundial del Agua,",
                                         f'{{es: "Día Mundial{escape} del Agua",'), encoding="utf-8")
    result = run("check", env=env)
    assert result.returncode == 2
    assert (f"{days}:11: days[0].name.es: contains the control character {name}; remove it"
            in result.stderr)


def test_a_nul_byte_is_reported_once_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "days.yaml"
    path.write_bytes(MINIMAL_DAYS.replace("El agua es vida.", "El agua\0\0\0 es vida.").encode())
    assert problems(path) == [f"{path}:16: a NUL byte (\\0): the file is damaged or not plain "
                              "text; remove it (and 2 more in the file)"]


# -- D7: deep nesting ---------------------------------------------------------------------------


@pytest.mark.parametrize(("levels", "flow"), [(500, True), (20_000, True), (500, False),
                                             (1_500, False)])
def test_deep_nesting_exits_2_with_the_line_never_a_recursion_error(
        levels: int, flow: bool, env: dict[str, str]) -> None:
    days = Path(env["CALENDAR_SERVICE_DAYS"])
    days.write_text(nested(levels, flow=flow), encoding="utf-8")
    result = run("check", env=env)
    assert result.returncode == 2
    assert f"{days}:" in result.stderr and "nested deeper than 50 levels" in result.stderr
    assert "Recursion" not in result.stderr and "Traceback" not in result.stderr


def test_nesting_of_40_levels_is_parsed(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "days.yaml", nested(40, flow=True)))
    assert not any("nested" in p.removeprefix(str(tmp_path)) for p in found)
    assert any("extra: unknown key" in p for p in found)


def test_a_deeply_nested_reload_keeps_serving_and_names_the_line(env: dict[str, str]) -> None:
    days = Path(env["CALENDAR_SERVICE_DAYS"])
    server = Server(env, "--now", "2027-03-01T15:00:00Z")
    try:
        server.wait_for("start", swept)
        days.write_text(nested(5000, flow=True), encoding="utf-8")
        server.proc.send_signal(signal.SIGHUP)
        info = server.wait_for("the refused reload", lambda i: i.get("data_stale"))
        assert f"{days}:25: nested deeper than 50 levels" in info["data_error"]
        assert server.get("/calendar.ics").status_code == 200
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert "Traceback" not in err and "RecursionError" not in err


# -- aliases ------------------------------------------------------------------------------------


def test_a_billion_laughs_file_is_refused_at_the_alias_that_multiplies(tmp_path: Path) -> None:
    path = write(tmp_path, "days.yaml", MINIMAL_DAYS + BILLION_LAUGHS)
    assert problems(path) == [f'{path}:27: the alias *b refers to something that holds aliases '
                              'itself, which multiplies (a "billion laughs" file); write the '
                              'values out']


def aliased(count: int) -> str:
    aliases = "".join(f"x{i}: *six\n" for i in range(count))
    return MINIMAL_DAYS.replace("sdgs: [6]", "sdgs: &six [6]") + aliases


def test_more_than_100_aliases_are_refused_at_the_101st(tmp_path: Path) -> None:
    path = write(tmp_path, "days.yaml", aliased(101))
    assert problems(path) == [f"{path}:125: more than 100 aliases (*name); write the values out "
                              "instead"]


def test_100_aliases_are_parsed(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "days.yaml", aliased(100)))
    assert not any("alias" in p.removeprefix(str(tmp_path)) for p in found)
    assert any("x99: unknown key" in p for p in found)


def test_an_alias_to_itself_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "days.yaml", MINIMAL_DAYS + "loop: &loop [a, *loop]\n")
    assert problems(path) == [f"{path}:25: the alias *loop refers to itself"]


def test_a_plain_alias_still_works(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("themes: [medio-ambiente]\n", "themes: &env [medio-ambiente]\n", 1)
    text = text.replace("themes: [medio-ambiente, derechos-humanos]", "themes: *env")
    catalog = load_days(write(tmp_path, "days.yaml", text))
    assert [t.id for t in catalog.days[1].themes] == ["medio-ambiente"]


# -- D8: rules that break in some years ---------------------------------------------------------


def test_check_refuses_a_rule_that_breaks_in_some_year_up_to_2100(env: dict[str, str]) -> None:
    days = Path(env["CALENDAR_SERVICE_DAYS"])
    days.write_text(MINIMAL_DAYS.replace("FREQ=YEARLY;BYMONTH=10;BYDAY=1MO",
                                         "FREQ=YEARLY;BYWEEKNO=-1;BYDAY=FR"), encoding="utf-8")
    result = run("check", env=env)
    assert result.returncode == 2
    assert f"{days}:19: days[1].rule: the rule never occurs in 1953" in result.stderr
    assert "exactly one date every year from 1946 to 2100" in result.stderr


def test_a_rule_is_checked_from_the_days_first_year(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace('    rule: "FREQ=YEARLY;BYMONTH=10;BYDAY=1MO"\n',
                                '    rule: "FREQ=YEARLY;BYWEEKNO=-1;BYDAY=FR"\n    since: 2030\n')
    found = problems(write(tmp_path, "days.yaml", text))
    assert any("from 2030 to 2100" in p for p in found), found
