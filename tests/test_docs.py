"""The documentation site: it builds strictly, and its references cover every setting and command."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))

import gen_reference  # noqa: E402

from calendar_service.base.settings import ENV_PREFIX, Settings  # noqa: E402
from calendar_service.cli import build_parser  # noqa: E402


def _commands() -> list[str]:
    return list(gen_reference._subcommands(build_parser()))


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_every_setting_is_in_the_configuration_reference(name: str) -> None:
    assert f"`{ENV_PREFIX}{name.upper()}`" in gen_reference.configuration_reference()


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_cli_reference(command: str) -> None:
    assert f"## `calendar-service {command}`" in gen_reference.cli_reference()


@pytest.mark.parametrize("command", _commands())
def test_every_option_of_every_command_is_in_the_cli_reference(command: str) -> None:
    sub = gen_reference._subcommands(build_parser())[command]
    page = gen_reference.cli_reference()
    section = page.split(f"## `calendar-service {command}`", 1)[1].split("\n## ", 1)[0]
    options = [s for a in sub._actions for s in a.option_strings]
    missing = [o for o in options if o not in section]
    assert not missing


def test_the_documentation_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(ROOT / "docs"), str(tmp_path / "html")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "html" / "reference" / "configuration.html").exists()
