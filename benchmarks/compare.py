"""Two checkouts side by side: ``check`` and ``--help`` of each, runs interleaved.

Not a test: ``python benchmarks/compare.py OTHER_CHECKOUT [--repeat N]`` (e.g. an export of the
previous release: ``git archive v0.1.0 | tar -x -C /tmp/before``). Runs alternate between the
two trees so that a busy machine weighs on both alike; medians of wall and CPU time (the
process and its children), with ``python -c pass`` as the baseline of the same run.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = "import sys; from calendar_service.cli import main; sys.exit(main())"


def _once(cmd: list[str], tree: Path) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CALENDAR_SERVICE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=tree, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    other = Path(sys.argv[1]).resolve()
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 7
    python = sys.executable
    trees = {"other": other, "this": ROOT}
    for tree in trees.values():
        subprocess.run([python, "-m", "compileall", "-q", str(tree / "calendar_service")],
                       check=True)
    cases = {"python -c pass": [python, "-c", "pass"],
             "--help": [python, "-c", TOOL, "--help"],
             "check": [python, "-c", TOOL, "check"]}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(repeat):
        for case, cmd in cases.items():
            for name, tree in trees.items():
                results.setdefault((case, name), []).append(_once(cmd, tree))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {repeat} runs each")
    print("| command | tree | wall (median) | CPU (median) | × bare python (wall) |")
    print("|---|---|---|---|---|")
    bare = statistics.median(w for w, _ in results[("python -c pass", "this")])
    for (case, name), runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| `{case}` | {name} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | "
              f"{wall / bare:.2f}× |")


if __name__ == "__main__":
    main()
