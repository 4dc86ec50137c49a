"""benchmarks/run.py keeps working: its quick mode writes the one table (no timing is checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_benchmark_command_writes_one_table_of_ratios(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
                           "--only", "send", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.count("| figure | ours | baseline (same run) | ratio | goal | met | how |") == 1
    assert "send_due, 10 offices: throughput" in text
    assert "send_due, peak traced memory, 50 against 10 offices" in text
    assert "cores" in text and "Python" in text
