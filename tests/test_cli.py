"""The command line as users and cron see it: real processes, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import MINIMAL_DAYS, ROOT, write


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("CALENDAR_SERVICE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "calendar_service", *args], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=120)


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("calendar-service ")
    helped = run("--help")
    assert helped.returncode == 0
    for command in ("check", "upcoming"):
        assert command in helped.stdout


def test_upcoming_lists_march_with_three_days_on_21_march(tmp_path: Path) -> None:
    result = run("upcoming", "--today", "2027-03-01", "--days-ahead", "30", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(1 for ln in lines if ln.startswith("domingo 21 de marzo de 2027")) == 3
    assert sum(1 for ln in lines if ln.startswith("lunes 8 de marzo de 2027")) == 2
    assert any("Día Mundial del Agua" in ln for ln in lines)


def test_upcoming_in_english_as_json_filtered_by_theme(tmp_path: Path) -> None:
    result = run("upcoming", "--today", "2027-03-01", "--days-ahead", "30", "--lang", "en", "--json",
                 "--theme", "medio-ambiente", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert items and all("medio-ambiente" in i["themes"] for i in items)
    assert "World Water Day" in [i["name"] for i in items]


def test_check_passes_on_the_shipped_files(tmp_path: Path) -> None:
    result = run("check", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "offices.yaml: 32 offices: OK" in result.stdout


def test_check_fails_with_the_line_and_no_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, "days.yaml", MINIMAL_DAYS.replace('"03-22"', '"02-30"'))
    result = run("check", "--days", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert f'{bad}:9: days[0].date: "02-30" is not a date' in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = run("upcoming", "--today", "2027-02-30", cwd=tmp_path)
    assert result.returncode == 2
    assert "is not a date" in result.stderr


def test_installed_package_carries_its_data(tmp_path: Path) -> None:
    from calendar_service.base.settings import bundled

    assert bundled("days.yaml").is_file()
    assert bundled("offices.yaml").is_file()
    assert bundled("templates").is_dir()
    assert ROOT.joinpath("days.yaml").is_file()


def test_a_built_wheel_carries_data_templates_and_migrations_and_works_outside_the_tree(
        tmp_path: Path) -> None:
    """``pip install .`` must work from any directory: the data and the ledger's migrations
    travel inside the package, and the wheel has the version the code reports."""
    import zipfile

    from calendar_service import __version__

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("calendar_service-*.whl")
    assert wheel.name.startswith(f"calendar_service-{__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("calendar_service/_bundled/days.yaml", "calendar_service/_bundled/offices.yaml",
                 "calendar_service/_bundled/templates/email/body.txt",
                 "calendar_service/_bundled/templates/email/words/es.j2",
                 "calendar_service/mail/ledger/migrations/env.py",
                 "calendar_service/mail/ledger/migrations/versions/0001_baseline.py",
                 "calendar_service/publishing/cards/fonts/SourceSans3-VF.ttf",
                 "calendar_service/publishing/cards/fonts/OFL.txt"):
        assert name in names
    target = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-c", "import sys; from calendar_service.cli import main; "
                             "sys.exit(main(['check']))"], cwd=elsewhere, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(target)})
    assert result.returncode == 0, result.stderr
    assert str(target / "calendar_service" / "_bundled" / "days.yaml") in result.stdout
    migrated = subprocess.run([sys.executable, "-c", "import sys; from calendar_service.cli import "
                               "main; sys.exit(main(['migrate', '--data-dir', 'data']))"],
                              cwd=elsewhere, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(target)})
    assert migrated.returncode == 0, migrated.stderr
    assert "upgraded the ledger from an empty database" in migrated.stdout


def test_the_version_is_written_once_in_the_package() -> None:
    """pyproject.toml reads it from calendar_service/__init__.py, so the two cannot drift."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "calendar_service/__init__.py"


def test_check_renders_the_site_templates_too(tmp_path: Path) -> None:
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    page = templates / "site" / "day.html"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("{{ v.name }}", "{{ no_such_name }}", 1), encoding="utf-8")
    result = run("check", cwd=tmp_path, env={"CALENDAR_SERVICE_TEMPLATES": str(templates)})
    assert result.returncode == 2
    assert "site/day.html:5: 'no_such_name' is undefined" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_data_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run("daily", "--data-dir", str(blocker / "data"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{blocker / 'data'}: cannot use it as the data folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_a_missing_static_file(tmp_path: Path) -> None:
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "site" / "static" / "copy.js").unlink()
    result = run("check", cwd=tmp_path, env={"CALENDAR_SERVICE_TEMPLATES": str(templates)})
    assert result.returncode == 2
    assert "site/static/copy.js: No such file or directory" in result.stderr


def test_an_smtp_password_never_shows_even_when_the_url_is_malformed(tmp_path: Path) -> None:
    for url in ("smtp://user:s3cr3t/pw@mail.example.org:587", "smtp://user:s3cr3t@mail:abc"):
        result = run("check", cwd=tmp_path, env={"CALENDAR_SERVICE_SMTP_URL": url})
        assert result.returncode == 2
        assert "bad port" in result.stderr and "s3cr3t" not in result.stderr


def test_a_from_address_the_relay_could_not_use_is_refused_at_start(tmp_path: Path) -> None:
    result = run("check", cwd=tmp_path,
                 env={"CALENDAR_SERVICE_SMTP_FROM": "Días, CONAGO <dias@example.org>"})
    assert result.returncode == 2
    assert "CALENDAR_SERVICE_SMTP_FROM" in result.stderr and "quote a name with commas" in result.stderr


def test_absurd_dates_and_windows_are_usage_errors_not_crashes(tmp_path: Path) -> None:
    for args in (("upcoming", "-n", "99999999"), ("feed", "--today", "9998-06-01"),
                 ("send-due", "--now", "9999-12-31T00:00Z", "--dry-run")):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
