"""``calendar-service backup FILE``: a consistent copy of the SQLite ledger while runs go on."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from mailtest import running_since_env

NOW = "2027-03-05T09:30-06:00"  # the bundled offices get 64 reminders then

WRITER = """
import sys
from pathlib import Path
from calendar_service.mail.ledger import Ledger

stop = Path(sys.argv[2])
with Ledger(sys.argv[1]) as ledger:
    n = 0
    while not stop.exists() and n < 100000:  # bounded: the test stops it long before
        ledger.unsubscribe("nobody", "cli")
        ledger.resubscribe("nobody")
        n += 1
        if n == 1:
            print("writing", flush=True)
    print(n, flush=True)
"""


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "CALENDAR_SERVICE_DATA_DIR": str(data)}
    for name in ("CALENDAR_SERVICE_DEBUG", "CALENDAR_SERVICE_SMTP_URL", "CALENDAR_SERVICE_DAYS",
                 "CALENDAR_SERVICE_OFFICES", "CALENDAR_SERVICE_DATABASE_URL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "calendar_service", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


def sent_count(ledger: Path) -> int:
    with sqlite3.connect(ledger) as conn:
        return int(conn.execute("SELECT count(*) FROM reminder_ledger WHERE status = 'sent'"
                                ).fetchone()[0])


def test_a_backup_taken_while_another_process_writes_is_whole_and_never_resends(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Sending since January: the run at 09:30 is not a first start; what it finds missed goes.
    running_since_env({"CALENDAR_SERVICE_DATA_DIR": str(data)}, "2027-01-01T00:00:00+00:00")
    first = cli(data, "send-due", "--now", NOW)
    assert first.returncode == 0, first.stderr
    ledger = data / "ledger.sqlite3"
    sent = sent_count(ledger)
    assert sent == 64
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, f"sqlite:///{ledger}", str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "writing\n"
        copy = tmp_path / "copy.sqlite3"
        backup = cli(data, "backup", str(copy))
        assert writer.poll() is None  # the writer was still at it during the backup
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=60)
    assert backup.returncode == 0, backup.stderr
    assert writer.returncode == 0, err
    assert int(out) > 1
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(copy, restored / "ledger.sqlite3")
    rerun = cli(restored, "send-due", "--now", NOW)
    assert rerun.returncode == 0, rerun.stderr
    assert not (restored / "outbox").exists() or not any((restored / "outbox").iterdir())
    assert sent_count(restored / "ledger.sqlite3") == sent


def test_backup_refuses_to_replace_a_file_unless_forced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "subscriptions", "--unsubscribe", "colima").returncode == 0
    target = tmp_path / "copy.sqlite3"
    target.write_text("keep me")
    refused = cli(data, "backup", str(target))
    assert refused.returncode == 2
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert target.read_text() == "keep me"
    forced = cli(data, "backup", "--force", str(target))
    assert forced.returncode == 0, forced.stderr
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT office_id FROM unsubscriptions").fetchall() == [("colima",)]


def test_backup_of_a_postgresql_ledger_points_at_pg_dump(tmp_path: Path) -> None:
    env_url = "postgresql://calendar:s3cr3t@db.example/calendar"
    env = {**os.environ, "CALENDAR_SERVICE_DATABASE_URL": env_url,
           "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-m", "calendar_service", "backup", "x.dump"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    assert "pg_dump --format=custom --file x.dump" in result.stderr
    assert "s3cr3t" not in result.stderr
