"""``--help`` imports nothing it does not print and builds only what it prints, and it prints
exactly what the full parser would (the reference docs are generated from the full parser)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from calendar_service.cli import COMMANDS, build_parser


def _choices(parser):  # type: ignore[no-untyped-def]
    return parser._subparsers._group_actions[0].choices


def test_every_command_is_named_in_the_list_of_commands() -> None:
    assert tuple(_choices(build_parser())) == COMMANDS


@pytest.mark.parametrize("command", ["", "no-such-command"])
def test_the_short_parser_prints_the_same_help_as_the_full_one(command: str) -> None:
    assert build_parser(command).format_help() == build_parser().format_help()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_parsed_alone_has_its_full_help(command: str) -> None:
    assert (_choices(build_parser(command))[command].format_help()
            == _choices(build_parser())[command].format_help())


def test_help_imports_only_the_command_line_and_what_argparse_prints_with() -> None:
    code = ("import sys; from calendar_service.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split("\n")[-2].split())
    heavy = {"jinja2", "babel", "icalendar", "sqlalchemy", "rich", "PIL", "yaml", "ruamel",
             "starlette", "uvicorn", "typing", "json", "datetime"}
    assert not loaded & heavy
    assert not {m for m in loaded if m.startswith("calendar_service.")} - {"calendar_service.cli"}
