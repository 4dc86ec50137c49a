"""The ledger's schema upgrades itself (Alembic), keeps every row, and refuses what it cannot read.

tests/data/ledger-0.1.0.sqlite3 was made by calendar-service 0.1.0 (commit 569730c, before
migrations): two send-due runs of the bundled offices (62 sent, 20 failed, 130 pending, 12
unsubscribed reminders) and two unsubscriptions. tests/data/ledger-0.1.0-postgresql.sql is that
release's schema on PostgreSQL, as its create_all made it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from mailtest import db_url, postgres_url_or_skip  # noqa: F401
from sqlalchemy import MetaData, Table, create_engine, select, text

from calendar_service.mail.ledger import Ledger, metadata
from calendar_service.mail.ledger.schema import engine_url
from calendar_service.mail.ledger.upgrade import (
    UNVERSIONED,
    head,
    is_additive,
    readable_from,
    revisions,
    status,
)

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "ledger-0.1.0.sqlite3"
OLD_PG_DDL = DATA / "ledger-0.1.0-postgresql.sql"
TABLES = ("reminder_ledger", "reminder_runs", "unsubscriptions")  # those of 0.1.0
CLOCK = datetime(2027, 3, 21, 15, 0, tzinfo=UTC)


# Columns that revisions after the baseline add (empty in the rows of an older ledger).
ADDED_LATER = {"claim_host", "claim_pid", "sent_as_of"}


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the ledger's tables, in a stable order."""
    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            found = {}
            for name in TABLES:
                table = Table(name, MetaData(), autoload_with=conn)
                kept = [c for c in table.c if c.name not in ADDED_LATER]
                found[name] = sorted(tuple(r) for r in conn.execute(select(*kept)))
            return found
    finally:
        engine.dispose()


def revision_of(url: str) -> str | None:
    engine = create_engine(engine_url(url))
    try:
        return status(engine).current
    finally:
        engine.dispose()


def set_revision(url: str, revision: str) -> None:
    engine = create_engine(engine_url(url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


@pytest.fixture
def old_sqlite(tmp_path: Path) -> str:
    """A copy of the 0.1.0 ledger in a data folder of its own."""
    (tmp_path / "data").mkdir()
    shutil.copy(FIXTURE, tmp_path / "data" / "ledger.sqlite3")
    return f"sqlite:///{tmp_path / 'data' / 'ledger.sqlite3'}"


@pytest.fixture
def old_postgres() -> Iterator[str]:
    """A fresh PostgreSQL schema made with 0.1.0's DDL, holding the fixture's rows."""
    for url in postgres_url_or_skip():
        source = create_engine(f"sqlite:///{FIXTURE}")
        target = create_engine(engine_url(url))
        with source.connect() as src, target.begin() as dst:
            dst.exec_driver_sql(OLD_PG_DDL.read_text(encoding="utf-8"))
            for name in TABLES:
                table = Table(name, MetaData(), autoload_with=src)
                data = [dict(r._mapping) for r in src.execute(select(table))]
                dst.execute(Table(name, MetaData(), autoload_with=dst).insert(), data)
                if "id" in table.c:  # as if the rows had been inserted here: ids go on after them
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT max(id) FROM {name}))"))
        source.dispose()
        target.dispose()
        yield url


def cli(tmp_path: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """``calendar-service`` as a real process on the bundled data and the test's ledger."""
    env = {**os.environ, "NO_COLOR": "1", "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}
    for name in ("CALENDAR_SERVICE_DEBUG", "CALENDAR_SERVICE_SMTP_URL", "CALENDAR_SERVICE_DAYS",
                 "CALENDAR_SERVICE_OFFICES", "CALENDAR_SERVICE_DATABASE_URL"):
        env.pop(name, None)
    if url:
        env["CALENDAR_SERVICE_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "calendar_service", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


# -- the history ---------------------------------------------------------------------------------


def test_the_revisions_form_one_line_named_by_their_files() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from calendar_service.mail.ledger.upgrade import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [head()]
    chain = [s.revision for s in reversed(list(script.walk_revisions()))]
    assert chain == revisions()
    for before, after in zip(chain, chain[1:], strict=False):
        assert script.get_revision(after).down_revision == before
    undeclared = [r for r in chain if not isinstance(getattr(script.get_revision(r).module,
                                                             "additive", None), bool)]
    assert undeclared == [], "every revision says whether it is additive (see migrations)"
    assert [is_additive(r) for r in chain] == [script.get_revision(r).module.additive
                                               for r in chain]


def differences(url: str) -> list[Any]:
    """What Alembic's autogenerate would change to get the database to schema.py's tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_an_empty_database_gets_exactly_the_tables_of_schema_py_at_head(db_url) -> None:  # noqa: F811
    with Ledger(db_url) as ledger:
        assert ledger.upgraded is not None and ledger.upgraded.before is None
    assert differences(db_url) == []
    assert revision_of(db_url) == head()
    assert rows_of(db_url, "ledger_compat") == [(head(), readable_from())]


def test_every_revision_run_from_an_empty_database_gives_exactly_schema_py(
        db_url) -> None:  # noqa: F811
    """A fresh ledger is made from schema.py in one go; the revisions must lead to the same."""
    from calendar_service.mail.ledger.schema import open_engine
    from calendar_service.mail.ledger.upgrade import _alembic_upgrade

    engine = open_engine(db_url)
    with engine.begin() as conn:
        _alembic_upgrade(conn)
    engine.dispose()
    assert differences(db_url) == []
    assert revision_of(db_url) == head()


# -- a ledger made by 0.1.0 ------------------------------------------------------------------------


def test_a_0_1_0_ledger_on_sqlite_is_stamped_and_keeps_every_row(old_sqlite: str) -> None:
    before = rows(old_sqlite)
    assert revision_of(old_sqlite) == UNVERSIONED
    with Ledger(old_sqlite, clock=lambda: CLOCK) as ledger:
        assert ledger.upgraded is not None and ledger.upgraded.before == UNVERSIONED
        counts = ledger.counts()
        unsubscribed = ledger.unsubscribed_ids()
        last = ledger.last_run()
    assert revision_of(old_sqlite) == head()
    assert rows(old_sqlite) == before
    assert counts == {"sent": 62, "failed": 20, "pending": 130, "unsubscribed": 12}
    assert unsubscribed == {"colima", "durango"}
    assert last is not None and last.failed == 20 and not last.ok


def test_a_0_1_0_ledger_on_postgresql_is_stamped_and_keeps_every_row(old_postgres: str) -> None:
    before = rows(old_postgres)
    assert revision_of(old_postgres) == UNVERSIONED
    with Ledger(old_postgres) as ledger:
        counts = ledger.counts()
        unsubscribed = ledger.unsubscribed_ids()
    assert revision_of(old_postgres) == head()
    assert rows(old_postgres) == before
    assert counts == {"sent": 62, "failed": 20, "pending": 130, "unsubscribed": 12}
    assert unsubscribed == {"colima", "durango"}


def test_an_upgrade_first_backs_the_sqlite_ledger_up_beside_it(old_sqlite: str) -> None:
    path = Path(old_sqlite.removeprefix("sqlite:///"))
    before = rows(old_sqlite)
    with Ledger(old_sqlite, clock=lambda: CLOCK) as ledger:
        assert ledger.upgraded is not None
        backup = ledger.upgraded.backup
    assert backup == path.with_name("ledger.sqlite3.bak-unversioned-20270321T150000Z")
    assert rows(f"sqlite:///{backup}") == before
    assert revision_of(f"sqlite:///{backup}") == UNVERSIONED


def test_a_ledger_at_head_is_opened_without_an_upgrade_or_a_backup(old_sqlite: str) -> None:
    Ledger(old_sqlite).close()
    copies = set(Path(old_sqlite.removeprefix("sqlite:///")).parent.iterdir())
    with Ledger(old_sqlite) as ledger:
        assert ledger.upgraded is None
    assert set(Path(old_sqlite.removeprefix("sqlite:///")).parent.iterdir()) == copies


# -- commands ----------------------------------------------------------------------------------------


def test_log_never_upgrades_an_older_ledger_and_says_how_to(tmp_path: Path, old_sqlite: str) -> None:
    before = rows(old_sqlite)
    result = cli(tmp_path, "log", "--limit", "1")
    assert result.returncode == 2
    assert ("this ledger was made by calendar-service 0.1.0 (no schema revision), older than "
            f"this release's revision {head()}; `calendar-service migrate` upgrades it"
            ) in result.stderr
    assert revision_of(old_sqlite) == UNVERSIONED
    assert rows(old_sqlite) == before
    assert [p.name for p in (tmp_path / "data").iterdir() if ".bak-" in p.name] == []


def test_log_reads_the_ledger_once_it_is_upgraded(tmp_path: Path, old_sqlite: str) -> None:
    assert cli(tmp_path, "migrate").returncode == 0
    result = cli(tmp_path, "log", "--limit", "1")
    assert result.returncode == 0, result.stderr
    assert "total: 20 failed, 130 pending, 62 sent, 12 unsubscribed" in result.stdout


def test_subscriptions_listing_does_not_upgrade_but_unsubscribing_does(
        tmp_path: Path, old_sqlite: str) -> None:
    assert cli(tmp_path, "subscriptions").returncode == 2
    assert revision_of(old_sqlite) == UNVERSIONED
    result = cli(tmp_path, "subscriptions", "--unsubscribe", "zacatecas")
    assert result.returncode == 0, result.stderr
    assert revision_of(old_sqlite) == head()


def test_a_ledger_one_revision_behind_is_refused_by_readers_and_upgraded_by_writers(
        tmp_path: Path, old_sqlite: str) -> None:
    from alembic import command

    from calendar_service.mail.ledger.upgrade import LedgerVersionError, _alembic_config

    engine = create_engine(old_sqlite)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
    engine.dispose()
    with pytest.raises(LedgerVersionError, match="at revision 0001, older than"):
        Ledger(old_sqlite, upgrade=False)
    with Ledger(old_sqlite, clock=lambda: CLOCK) as ledger:
        assert ledger.upgraded is not None
        assert ledger.upgraded.before == "0001"
        assert ledger.upgraded.backup is not None
        assert ledger.upgraded.backup.name == "ledger.sqlite3.bak-0001-20270321T150000Z"
    assert revision_of(old_sqlite) == head()


def test_migrate_status_shows_both_revisions_and_changes_nothing(
        tmp_path: Path, old_sqlite: str) -> None:
    result = cli(tmp_path, "migrate", "--status")
    assert result.returncode == 0, result.stderr
    assert "revision: unversioned" in result.stdout
    assert f"this release: {head()}" in result.stdout
    assert revision_of(old_sqlite) == UNVERSIONED


def test_migrate_dry_run_lists_what_it_would_apply_and_changes_nothing(
        tmp_path: Path, old_sqlite: str) -> None:
    result = cli(tmp_path, "migrate", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"would apply: {', '.join(revisions())}" in result.stdout
    assert revision_of(old_sqlite) == UNVERSIONED


def test_migrate_upgrades_once_and_then_says_up_to_date(tmp_path: Path, old_sqlite: str) -> None:
    first = cli(tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert f"to revision {head()}; backup: " in first.stdout
    second = cli(tmp_path, "migrate")
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert len([p for p in (tmp_path / "data").iterdir() if ".bak-" in p.name]) == 1


def test_an_upgrade_records_which_releases_can_still_use_the_ledger(old_sqlite: str) -> None:
    Ledger(old_sqlite).close()
    assert rows_of(old_sqlite, "ledger_compat") == [(head(), readable_from())]
    assert readable_from() == "0001"  # every revision so far only added


def rows_of(url: str, table: str) -> list[tuple[Any, ...]]:
    engine = create_engine(engine_url(url))
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    engine.dispose()
    return found


def newer_ledger(url: str, readable_from: str) -> None:
    """What a later release would leave: its revision, and what it says about older releases."""
    Ledger(url).close()
    set_revision(url, "9999")
    engine = create_engine(engine_url(url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_compat SET revision = '9999', readable_from = :f"),
                     {"f": readable_from})
    engine.dispose()


@pytest.mark.parametrize("command", [["log"], ["send-due", "--now", "2027-03-20T09:30-06:00"]])
def test_a_newer_ledger_that_only_added_keeps_working_for_this_release(
        tmp_path: Path, old_sqlite: str, command: list[str]) -> None:
    """A rolling upgrade: hosts still on this release go on while the others run the next one."""
    newer_ledger(old_sqlite, readable_from=revisions()[0])
    result = cli(tmp_path, *command)
    assert result.returncode in (0, 1), result.stderr
    assert "newer calendar-service" not in result.stderr
    assert revision_of(old_sqlite) == "9999"


def test_a_newer_ledger_that_broke_with_this_release_is_refused(
        tmp_path: Path, old_sqlite: str) -> None:
    newer_ledger(old_sqlite, readable_from="9998")
    result = cli(tmp_path, "log")
    assert result.returncode == 2
    assert "this ledger was upgraded by a newer calendar-service (revision 9999)" in result.stderr


@pytest.mark.parametrize("command", [["log"], ["send-due", "--now", "2027-03-20T09:30-06:00"],
                                     ["migrate"]])
def test_a_ledger_from_a_newer_release_is_refused_with_exit_2(
        tmp_path: Path, old_sqlite: str, command: list[str]) -> None:
    """An unknown revision that no release vouched for (no compatibility record made for it)."""
    Ledger(old_sqlite).close()
    set_revision(old_sqlite, "9999")
    before = rows(old_sqlite)
    result = cli(tmp_path, *command)
    assert result.returncode == 2
    assert ("this ledger was upgraded by a newer calendar-service (revision 9999); install that "
            "release or newer") in result.stderr
    assert "Traceback" not in result.stderr
    assert rows(old_sqlite) == before


# -- several instances on PostgreSQL -------------------------------------------------------------------


def test_two_instances_upgrading_one_postgresql_ledger_upgrade_it_once(
        tmp_path: Path, old_postgres: str) -> None:
    """The test holds the upgrade lock while both start, so they really meet at it."""
    (tmp_path / "data").mkdir()
    engine = create_engine(engine_url(old_postgres))
    with engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(current_database() || "
                            "'.' || current_schema()))"), {"space": 0x63616C})
        env = {**os.environ, "NO_COLOR": "1", "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data"),
               "CALENDAR_SERVICE_DATABASE_URL": old_postgres}
        procs = [subprocess.Popen([sys.executable, "-m", "calendar_service", "migrate"], env=env,
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        waiting = 0
        for _ in range(600):  # bounded: both are queued behind the test's lock within a minute
            waiting = holder.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid::bigint = :space"), {"space": 0x63616C}).scalar_one()
            if waiting == 2:
                break
            time.sleep(0.1)
        assert waiting == 2
        holder.rollback()  # let them go
    engine.dispose()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = sorted("upgraded" if "upgraded the ledger" in out else out for out, _ in outputs)
    assert said == [f"the ledger is at revision {head()}: up to date\n", "upgraded"]
    assert revision_of(old_postgres) == head()


# -- revision 0004: when the ledger started ------------------------------------------------------


def test_a_ledger_that_was_sending_before_0004_is_not_a_new_start(old_sqlite: str) -> None:
    """Its start is its earliest reminder or run, and the offices its next run finds count as
    seen since then: reminders missed during an outage are still caught up as late notices."""
    from calendar_service.base.settings import load_settings
    from calendar_service.data.loader import load_all

    engine = create_engine(old_sqlite)
    with engine.connect() as conn:
        earliest = min(conn.execute(text("SELECT min(scheduled_at) FROM reminder_ledger")).scalar(),
                       conn.execute(text("SELECT min(created_at) FROM reminder_ledger")).scalar(),
                       conn.execute(text("SELECT min(as_of) FROM reminder_runs")).scalar(),
                       conn.execute(text("SELECT min(started_at) FROM reminder_runs")).scalar())
    engine.dispose()
    settings = load_settings({}, environ={})
    catalog, offices = load_all(settings.days, settings.offices)
    with Ledger(old_sqlite, clock=lambda: CLOCK) as ledger:
        created, started = ledger.started()
        seen = ledger.see(offices, catalog.days, CLOCK)
    assert created is not None and started == datetime.fromisoformat(earliest).replace(tzinfo=UTC)
    assert set(seen.offices.values()) == {started} and set(seen.days.values()) == {started}
    assert set(seen.leads.values()) == {started}


def test_a_fresh_ledger_records_its_creation_and_starts_at_its_first_sending_run(
        db_url: str) -> None:  # noqa: F811
    with Ledger(db_url, clock=lambda: CLOCK) as ledger:
        assert ledger.started() == (CLOCK, None)
        ledger.see([], [], CLOCK.replace(year=2028))
        assert ledger.started() == (CLOCK, CLOCK.replace(year=2028))
