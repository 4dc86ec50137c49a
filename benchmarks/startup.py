"""Start-up and check: ``--help`` and ``check`` on the shipped data against a bare interpreter.

Not a test: run it by hand (``python benchmarks/startup.py``), or call ``run()`` from another
benchmark script (it returns the rows it prints). Medians of ``repeat`` runs of real processes
(wall time, and the CPU time of the process and its children), each figure with its ratio to
``python -c pass`` measured in the same run. Byte-compiled modules are written first (as a wheel
install has them), so neither side pays for compiling.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"--help": 2.5, "check": None}  # check: at most 0.4 s on the 2-core machine


def _env(data_dir: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CALENDAR_SERVICE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    if data_dir is not None:  # an empty data folder: the shipped files, no compiled templates
        env["CALENDAR_SERVICE_DATA_DIR"] = data_dir
    return env


def timed(cmd: list[str], repeat: int, fresh: bool = False) -> tuple[float, float]:
    """Median wall and CPU seconds of ``cmd``; ``fresh``: each run in a new, empty data folder
    (the first ``check`` after installing or after a template edit compiles every template)."""
    walls, cpus = [], []
    for _ in range(repeat):
        folder = tempfile.mkdtemp(prefix="bench-startup-") if fresh else None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=_env(folder), cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(walls), statistics.median(cpus)


def run(repeat: int = 15) -> list[dict[str, Any]]:
    python = sys.executable
    subprocess.run([python, "-m", "compileall", "-q", str(ROOT / "calendar_service")],
                   env=_env(), check=True)
    subprocess.run([python, "-m", "calendar_service", "check"], env=_env(), cwd=ROOT,
                   stdout=subprocess.DEVNULL, check=True)  # warm the file cache
    bare = timed([python, "-c", "pass"], repeat)
    rows = [{"name": "python -c pass", "wall": bare[0], "cpu": bare[1], "ratio": 1.0}]
    # What the installed ``calendar-service`` script runs (``-m`` would add runpy's imports).
    tool = [python, "-c", "import sys; from calendar_service.cli import main; sys.exit(main())"]
    for name, args in (("--help", ["--help"]), ("check", ["check"])):
        wall, cpu = timed([*tool, *args], repeat)
        rows.append({"name": f"calendar-service {name}", "wall": wall, "cpu": cpu,
                     "ratio": wall / bare[0]})
    wall, cpu = timed([*tool, "check"], max(3, repeat // 3), fresh=True)
    rows.append({"name": "calendar-service check, templates not yet compiled", "wall": wall,
                 "cpu": cpu, "ratio": wall / bare[0]})
    return rows


def main() -> None:
    rows = run(repeat=5 if "--quick" in sys.argv else 15)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| command | wall (median) | CPU (median) | × bare python (wall) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| `{r['name']}` | {r['wall'] * 1000:.0f} ms | {r['cpu'] * 1000:.0f} ms | "
              f"{r['ratio']:.2f}× |")


if __name__ == "__main__":
    main()
