"""preview, send-due and log as cron and people run them: real processes, exit codes, no secrets."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from email import policy
from pathlib import Path

from conftest import ROOT, write
from mailtest import FULL_DAYS, OFFICES, free_port, running_since_env


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    days = write(tmp_path, "days.yaml", FULL_DAYS)
    offices = write(tmp_path, "offices.yaml", OFFICES)
    full = {**os.environ, "NO_COLOR": "1", "CALENDAR_SERVICE_DAYS": str(days),
            "CALENDAR_SERVICE_OFFICES": str(offices),
            "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    for name in ("CALENDAR_SERVICE_DEBUG", "CALENDAR_SERVICE_SMTP_URL",
                 "CALENDAR_SERVICE_DATABASE_URL"):
        if name not in (env or {}):
            full.pop(name, None)
    return subprocess.run([sys.executable, "-m", "calendar_service", *args], capture_output=True,
                          env=full, cwd=ROOT, timeout=120)


def sending_since_march(tmp_path: Path) -> None:
    """The ledger has been sending since 1 March 2027: a run on the 18th is a restart, so what
    it finds missed (22 March's 14-day reminders) is caught up; a fresh install would not."""
    env = {"CALENDAR_SERVICE_DAYS": str(write(tmp_path, "days.yaml", FULL_DAYS)),
           "CALENDAR_SERVICE_OFFICES": str(write(tmp_path, "offices.yaml", OFFICES)),
           "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}
    running_since_env(env, "2027-03-01T00:00:00+00:00")


def test_preview_text_shows_the_grouped_message_in_spanish(tmp_path: Path) -> None:
    result = run(tmp_path, "preview", "world-poetry-day", "--office", "quintana-roo", "--lead", "3",
                 "--today", "2027-03-01")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.startswith("Subject: Día Internacional de la Eliminación de la Discriminación Racial "
                          "(21 de marzo) y 2 días más\n")
    assert "Date: Thu, 18 Mar 2027 09:00:00 -0500" in out
    assert "Día Mundial de la Poesía" in out and "Día Forestal Mundial" in out


def test_preview_eml_is_the_message_send_due_writes(tmp_path: Path) -> None:
    preview = run(tmp_path, "preview", "world-poetry-day", "--office", "quintana-roo",
                  "--lead", "3", "--format", "eml", "--today", "2027-03-01")
    assert preview.returncode == 0, preview.stderr
    msg = email.message_from_bytes(preview.stdout, policy=policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    html = run(tmp_path, "preview", "world-poetry-day", "--office", "quintana-roo", "--lead", "3",
               "--format", "html", "--today", "2027-03-01")
    assert html.stdout.decode().startswith("<!DOCTYPE html>")
    # Runs on schedule (7, 8 and 18 March at 09:00 in Cancun) write exactly what preview showed.
    for when in ("2027-03-07T09:00:00-05:00", "2027-03-08T09:00:00-05:00",
                 "2027-03-18T09:00:00-05:00"):
        sent = run(tmp_path, "send-due", "--now", when)
        assert sent.returncode == 0, sent.stderr
    wanted = msg["Message-ID"].strip("<>").replace("@", "_") + ".eml"
    assert (tmp_path / "data" / "outbox" / wanted).read_bytes() == preview.stdout


def test_preview_unknown_day_says_what_was_meant(tmp_path: Path) -> None:
    result = run(tmp_path, "preview", "world-poetry-dya")
    assert result.returncode == 2
    assert "did you mean 'world-poetry-day'" in result.stderr.decode()


def test_send_due_dry_run_lists_local_times_and_sends_nothing(tmp_path: Path) -> None:
    sending_since_march(tmp_path)
    result = run(tmp_path, "send-due", "--now", "2027-03-18T16:00:00+00:00", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    rows = {line.split()[0]: line for line in out.splitlines() if "2027-03-18 09:00" in line}
    assert "2027-03-18 09:00 PDT" in rows["baja-california"]
    assert "2027-03-18 09:00 EST" in rows["quintana-roo"]
    assert "se enviaría" in rows["quintana-roo"]
    assert "Día Mundial del Agua (22 de marzo)" in out and "14 días antes" in out
    assert not (tmp_path / "data" / "outbox").exists()


def test_send_due_then_log(tmp_path: Path) -> None:
    sending_since_march(tmp_path)
    sent = run(tmp_path, "send-due", "--now", "2027-03-18T16:00:00+00:00")
    assert sent.returncode == 0, sent.stderr
    assert b"event=run-finished" in sent.stderr and b"sent=" in sent.stderr
    again = run(tmp_path, "send-due", "--now", "2027-03-18T16:00:00+00:00")
    assert again.returncode == 0 and again.stderr == b""  # nothing to do: silent under cron
    log = run(tmp_path, "log", "--json")
    assert log.returncode == 0, log.stderr
    data = json.loads(log.stdout)
    assert {e["status"] for e in data["entries"]} == {"sent"}
    assert data["last_run"]["ok"] is True
    text = run(tmp_path, "log", "--status", "sent", "--office", "quintana-roo").stdout.decode()
    assert "quintana-roo  world-poetry-day  2027-03-21  lead 3" in text


def test_undeliverable_run_exits_1_says_what_is_pending_and_never_the_password(tmp_path: Path) -> None:
    sending_since_march(tmp_path)
    url = f"smtp+starttls://dias:s3cr3t-pw@127.0.0.1:{free_port()}"
    result = run(tmp_path, "send-due", "--now", "2027-03-18T16:00:00+00:00",
                 env={"CALENDAR_SERVICE_SMTP_URL": url, "CALENDAR_SERVICE_SMTP_RETRIES": "1",
                      "CALENDAR_SERVICE_SMTP_RETRY_DELAY": "0.01"})
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "pending" in err and "office=quintana-roo" in err
    assert "s3cr3t-pw" not in err and "s3cr3t-pw" not in result.stdout.decode()
    assert "dias:***@127.0.0.1" in err
    log = run(tmp_path, "log", "--json")
    assert "s3cr3t-pw" not in log.stdout.decode()
    db = (tmp_path / "data" / "ledger.sqlite3").read_bytes()
    assert b"s3cr3t-pw" not in db


def test_bad_now_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "send-due", "--now", "2027-03-18T09:00")
    assert result.returncode == 2
    assert b"has no UTC offset" in result.stderr
