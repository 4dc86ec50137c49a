"""The documentation site: it builds strictly, its references cover every setting and command, the
README stays a short landing page, and no relative link points to a missing file."""

from __future__ import annotations

import re
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


# -- the README is a landing page; every page links to files that exist --------------------------

_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _pages() -> list[Path]:
    gen_reference.write(ROOT / "docs" / "reference")  # what the build writes before reading them
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _relative_targets(page: Path) -> list[str]:
    """Links and images outside code, and the files ``{include}`` directives read."""
    targets, prose, fence = [], [], ""
    for line in page.read_text(encoding="utf-8").splitlines():
        marker = re.match(r"\s*(`{3,}|~{3,})", line)
        if fence:
            fence = "" if marker and marker.group(1) == fence and not line.strip(" `~") else fence
        elif marker:
            fence = marker.group(1)
            include = re.match(r"\s*`{3,}\{include\}\s+(\S+)", line)
            targets += [include.group(1)] if include else []
        else:
            prose.append(re.sub(r"`[^`]*`", "", line))
    links = _LINK.findall("\n".join(prose))
    return targets + [t for t in links if not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:|#", t)]


def test_the_readme_stays_under_10_kb() -> None:
    assert (ROOT / "README.md").stat().st_size < 10 * 1024


def test_the_readme_links_into_the_documentation_pages() -> None:
    links = _relative_targets(ROOT / "README.md")
    for page in ("getting-started", "data-files", "feeds", "reminders", "operations", "guarantees",
                 "development"):
        assert f"docs/{page}.md" in links


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_that_exists(page: Path) -> None:
    missing = [t for t in _relative_targets(page)
               if not (page.parent / t.split("#", 1)[0]).resolve().exists()]
    assert not missing
