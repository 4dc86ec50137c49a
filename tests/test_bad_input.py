"""Every mistake a person or a broken editor can make in the data files and the settings, each
refused by `check` with the exact message and exit code a user would see.

One case per file under tests/data/bad/: ``days/NAME.yaml`` and ``offices/NAME.yaml`` are the good
files of ``base/`` with one thing wrong; ``settings/NAME.env`` holds CALENDAR_SERVICE_*
variables (``\\n`` and ``\\r`` in a value stand for a line break). Beside each, ``NAME.expected``:
the first line is ``exit N``, the rest is exactly what `check` prints on standard error.
Cases named ``...-accepted`` are valid files written oddly (CRLF, a UTF-8 byte order mark).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BAD = Path("tests/data/bad")
BASE_DAYS = str(BAD / "base/days.yaml")
BASE_OFFICES = str(BAD / "base/offices.yaml")


def _cases() -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / BAD).glob("*/*")
                  if p.suffix in (".yaml", ".env") and p.parent.name != "base")


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            out[name] = value.replace("\\r", "\r").replace("\\n", "\n")
    return out


def run_check(case: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALENDAR_SERVICE_")}
    env["CALENDAR_SERVICE_DATA_DIR"] = str(data_dir)
    days, offices = BASE_DAYS, BASE_OFFICES
    if case.parent.name == "days":
        days = str(case)
    elif case.parent.name == "offices":
        offices = str(case)
    else:
        env.update(_env_file(case))
    args = ["check"]
    if "CALENDAR_SERVICE_DAYS" not in env:
        args += ["--days", days]
    if "CALENDAR_SERVICE_OFFICES" not in env:
        args += ["--offices", offices]
    return subprocess.run([sys.executable, "-m", "calendar_service", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def expected(case: Path) -> tuple[int, str]:
    text = (ROOT / case).with_suffix(".expected").read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    assert first.startswith("exit "), f"{case}.expected must start with 'exit N'"
    return int(first.removeprefix("exit ")), rest


@pytest.fixture(scope="module")
def checked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[Path, subprocess.CompletedProcess[str]]:
    """The selected cases' `check` runs, a few processes at a time (each is a real process)."""
    from concurrent.futures import ThreadPoolExecutor

    selected = [item.callspec.params["case"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_check_refuses_each_mistake_with_its_"
                "exact_message"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = pool.map(lambda c: run_check(c, tmp_path_factory.mktemp("data")), selected)
        return dict(zip(selected, runs, strict=True))


@pytest.mark.parametrize("case", _cases(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_check_refuses_each_mistake_with_its_exact_message(
        case: Path, checked: dict[Path, subprocess.CompletedProcess[str]]) -> None:
    code, stderr = expected(case)
    result = checked[case]
    assert (result.returncode, result.stderr) == (code, stderr)
    assert "Traceback" not in result.stderr


def test_every_case_has_its_expected_file() -> None:
    missing = [str(c) for c in _cases() if not (ROOT / c).with_suffix(".expected").exists()]
    assert not missing, missing
