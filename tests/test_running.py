"""Running it every day: the cron job and the long-running service, as real processes.

Time is injected with --now (serve's clock starts there and keeps ticking), so no test waits for
a send time; waits below only poll a real server until it has done what it was started to do.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import MINIMAL_DAYS, write
from mailtest import (  # noqa: F401
    FULL_DAYS,
    OFFICES,
    cli,
    crowd_env,
    free_port,
    hold_first_data,
    message_ids,
    postgres_url_or_skip,
    running_since_env,
    smtp_server,
)

from calendar_service.mail.ledger import CLAIMED, SENT, Ledger

NOW = "2027-03-18T15:00:00Z"  # 09:00 in Mexico City, 10:00 in Cancún, 08:00 in Tijuana


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = cli(*args, env=env)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def recipients(message: email.message.Message) -> tuple[str, ...]:
    return tuple(addr for _, addr in email.utils.getaddresses([str(message["To"])]))


def outbox(data: Path) -> list[email.message.Message]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((data / "outbox").glob("*.eml"))]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    days = write(tmp_path, "days.yaml", FULL_DAYS)
    offices = write(tmp_path, "offices.yaml", OFFICES)
    env = {"CALENDAR_SERVICE_DAYS": str(days), "CALENDAR_SERVICE_OFFICES": str(offices),
           "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}
    # A ledger that has been sending since 1 March: runs below are restarts, not a first start.
    running_since_env(env, "2027-03-01T00:00:00+00:00")
    return env


# -- the cron job -------------------------------------------------------------------------------


def test_daily_on_the_defaults_builds_the_site_writes_the_outbox_and_reruns_send_nothing(
        tmp_path: Path) -> None:
    env = {"CALENDAR_SERVICE_DATA_DIR": str(tmp_path)}
    # A fresh install at 06:00 in Mexico City: nothing is scheduled at that instant.
    first = run("daily", "--now", "2027-03-07T12:00:00Z", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "" and first.stderr == ""  # quiet under cron (no terminal)
    assert (tmp_path / "site" / "calendar.ics").read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")
    assert (tmp_path / "site" / "index.html").is_file()
    assert outbox(tmp_path) == []
    # Past 09:00 in every office (Tijuana last): each office's 09:00 reminder, none late.
    second = run("daily", "--now", "2027-03-07T18:00:00Z", env=env)
    assert second.returncode == 0, second.stderr
    sent = outbox(tmp_path)
    assert len(sent) == 32  # one message per office of the example list
    assert not any("[Aviso tardío]" in str(m["Subject"]) for m in sent)
    again = run("daily", "--now", "2027-03-07T18:30:00Z", env=env)
    assert again.returncode == 0, again.stderr
    assert len(outbox(tmp_path)) == 32


def test_a_missed_reminder_is_caught_up_once_while_the_day_is_still_ahead(
        files: dict[str, str], tmp_path: Path) -> None:
    # The ledger has been sending since 1 March (see ``files``): a restart, not a new start.
    # The 3-day reminders for 21-22 March were due on 18-19 March; no run happened until the 20th.
    late = run("daily", "--now", "2027-03-20T16:00:00Z", env=files)
    assert late.returncode == 0, late.stderr
    messages = outbox(tmp_path / "data")
    assert {recipients(m) for m in messages} >= {("bc@example.org",), ("cdmx@example.org",)}
    assert all("[Aviso tardío]" in m["Subject"] or "[Late notice]" in m["Subject"]
               for m in messages)
    run("daily", "--now", "2027-03-20T17:00:00Z", env=files)
    assert len(outbox(tmp_path / "data")) == len(messages)


def test_a_day_that_has_passed_is_never_caught_up(files: dict[str, str], tmp_path: Path) -> None:
    result = run("daily", "--now", "2027-03-23T16:00:00Z", env=files)
    assert result.returncode == 0, result.stderr
    assert outbox(tmp_path / "data") == []


def test_two_daily_processes_at_once_send_each_reminder_once(tmp_path: Path) -> None:
    env = crowd_env(tmp_path, 80)
    procs = [cli("daily", "--now", NOW, "--wait", "120", env=env) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    ids = Counter(m["Message-ID"] for m in outbox(tmp_path / "data"))
    assert len(ids) == 80 and set(ids.values()) == {1}


def test_daily_with_a_broken_file_exits_2_with_the_line(files: dict[str, str], tmp_path: Path) -> None:
    Path(files["CALENDAR_SERVICE_DAYS"]).write_text(MINIMAL_DAYS.replace('"03-22"', '"02-30"'))
    result = run("daily", "--now", NOW, env=files)
    assert result.returncode == 2
    assert 'days.yaml:9: days[0].date: "02-30" is not a date' in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "outbox").exists()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_url_or_skip()


def test_two_cron_hosts_on_one_postgresql_ledger_send_each_reminder_once(
        tmp_path: Path, pg_url: str, smtp_server: Any) -> None:  # noqa: F811
    handler, port = smtp_server
    procs = [cli("daily", "--now", NOW, env=crowd_env(
        tmp_path, 80, port=port, data=f"host{i}",  # separate machines: no shared lock
        database_url=pg_url, send_batch="5")) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    ids = message_ids(handler)
    assert len(ids) == 80 and set(ids.values()) == {1}


# -- the long-running service -------------------------------------------------------------------


class Server:
    """A ``calendar-service serve`` process on an ephemeral port."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = cli("serve", "--port", str(self.port), *args, env=env)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, **kw)

    def health(self) -> dict[str, Any]:
        return self.get("/healthz").json()  # type: ignore[no-any-return]

    def wait_for(self, what: str, ok: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = self.health()
                if ok(info):
                    return info
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.proc.communicate()[1]}")
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as systemd sends; uvicorn re-raises it after its graceful shutdown, so a clean
        stop ends "killed by SIGTERM" after the service logged that it stopped."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=90)
        clean = self.proc.returncode in (0, -signal.SIGTERM) and "event=service-stopped" in err
        return (0 if clean else self.proc.returncode or 1), err


def swept(info: dict[str, Any]) -> bool:
    return info.get("last_run") is not None


def test_serve_sends_what_is_due_at_start_and_reports_it_in_healthz(
        files: dict[str, str], tmp_path: Path) -> None:
    server = Server(files, "--now", NOW)
    try:
        info = server.wait_for("the start-up sweep", swept)
        assert info["last_run"]["ok"] is True and info["last_run"]["sent"] > 0
        assert info["pending"] == 0
        assert info["scheduler"] == "running" and info["next_run"]
        assert len(info["data_version"]) == 12
        assert info["now"].startswith("2027-03-18T15:")
        assert server.get("/calendar.ics").status_code == 200
    finally:
        code, err = server.stop()
    assert code == 0, err
    sent = outbox(tmp_path / "data")
    assert {recipients(m) for m in sent} == {
        ("bc@example.org",), ("qroo@example.org", "prensa.qroo@example.org"), ("cdmx@example.org",)}


def test_sigterm_during_a_serve_batch_loses_nothing(tmp_path: Path, smtp_server: Any) -> None:  # noqa: F811
    handler, port = smtp_server
    gate = hold_first_data(handler)
    env = crowd_env(tmp_path, 30, port=port, smtp_concurrency="1", send_batch="10")
    server = Server(env, "--now", NOW)
    try:
        assert gate.arrived.wait(60), "the start-up sweep never reached the SMTP server"
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # let the signal land while the message is in flight (not a clock wait)
        gate.release.set()
    finally:
        code, err = server.stop()
    assert code == 0, err
    with Ledger(f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite3'}") as led:
        counts = led.counts()
    assert CLAIMED not in counts, err  # nothing is left claimed by the process that stopped
    assert len(handler.messages) < 30
    rerun = run("send-due", "--now", NOW, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert len(handler.messages) == 30
    assert len({e.rcpt_tos[0] for e in handler.messages}) == 30


def test_two_serve_instances_on_one_postgresql_ledger_send_each_reminder_once(
        tmp_path: Path, pg_url: str, smtp_server: Any) -> None:  # noqa: F811
    handler, port = smtp_server
    servers = [Server(crowd_env(tmp_path, 60, port=port, data=f"instance{i}", database_url=pg_url,
                                send_batch="5"), "--now", NOW) for i in range(2)]
    try:
        infos = [s.wait_for("the start-up sweep", swept) for s in servers]
        assert all(i["last_run"]["ok"] for i in infos)
        assert sum(i["last_run"]["messages"] for i in infos) == 60
    finally:
        for s in servers:
            code, err = s.stop()
            assert code == 0, err
    ids = message_ids(handler)
    assert len(ids) == 60 and set(ids.values()) == {1}
    with Ledger(pg_url) as led:
        assert set(led.counts()) == {SENT}


def test_a_broken_edit_keeps_the_last_good_feed_online_and_check_names_the_line(
        tmp_path: Path) -> None:
    days = write(tmp_path, "days.yaml", MINIMAL_DAYS)
    env = {"CALENDAR_SERVICE_DAYS": str(days), "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}
    server = Server(env, "--now", "2027-03-01T15:00:00Z")
    try:
        server.wait_for("start", swept)
        feed = server.get("/calendar.ics")
        assert feed.status_code == 200 and b"world-water-day-2027@" in feed.content
        days.write_text(MINIMAL_DAYS.replace('"03-22"', '"02-30"'))
        server.proc.send_signal(signal.SIGHUP)
        info = server.wait_for("the failed reload", lambda i: "data_error" in i)
        assert info["status"] == "degraded"
        assert 'days.yaml:9: days[0].date: "02-30" is not a date' in info["data_error"]
        again = server.get("/calendar.ics")
        assert again.status_code == 200 and again.content == feed.content
        assert again.headers["etag"] == feed.headers["etag"]
        checked = run("check", env=env)
        assert checked.returncode == 2
        assert 'days.yaml:9: days[0].date: "02-30" is not a date' in checked.stderr
        days.write_text(MINIMAL_DAYS.replace('"03-22"', '"03-23"'))
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for("the good reload", lambda i: "data_error" not in i and i["status"] == "ok")
        fixed = json.loads(server.get("/days.json").content)
        assert any(d.get("date") == "2027-03-23" for d in fixed["days"])
    finally:
        code, err = server.stop()
    assert code == 0, err
