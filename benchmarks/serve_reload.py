"""serve with the shipped data: resident memory, and how long a reload takes after an edit.

Not a test: run it by hand (``python benchmarks/serve_reload.py``), or call ``run()`` from
another benchmark script (it returns the figures it prints). It starts a real
``calendar-service serve --no-send`` on a loopback port with copies of the shipped files, waits
for /healthz, reads the process's VmRSS, then ``repeat`` times edits one day's name and sends
SIGHUP, and reads the time the service logs for the rebuild (``event=site-built ... seconds=``,
the cards apart in ``cards_seconds=``: they are cached and not counted).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILT = re.compile(r"event=site-built .*?seconds=([0-9.]+) cards_seconds=([0-9.]+)")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(log: Path, count: int, timeout: float) -> list[tuple[float, float]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [(float(a), float(b)) for a, b in BUILT.findall(log.read_text(errors="replace"))]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"no rebuild logged in {timeout} s:\n{log.read_text()[-2000:]}")


def run(repeat: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        days = work / "days.yaml"
        shutil.copy(ROOT / "days.yaml", days)
        shutil.copy(ROOT / "offices.yaml", work / "offices.yaml")
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALENDAR_SERVICE_")}
        env.update({"CALENDAR_SERVICE_DATA_DIR": str(work / "data"), "PYTHONPATH": str(ROOT),
                    "CALENDAR_SERVICE_DAYS": str(days),
                    "CALENDAR_SERVICE_OFFICES": str(work / "offices.yaml")})
        log = work / "serve.log"
        with log.open("w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "calendar_service", "serve", "--no-send",
                                     "--port", str(port), "--today", "2027-03-01"],
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            started = time.perf_counter()
            _wait_for(log, 1, 600)  # the first build draws every card into the cache
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                    break
                except OSError:
                    time.sleep(0.1)
            ready = time.perf_counter() - started
            rss_start = _rss_mb(proc.pid)
            text = days.read_text(encoding="utf-8")
            after_each: list[int] = []
            for i in range(repeat):
                # The Spanish summary of one day: its pages, feed events and days.json change,
                # none of its cards (a name change redraws six cards, timed apart).
                edited = text.replace("summary: El 22 de marzo recuerda la importancia",
                                      f"summary: El 22 de marzo ({i}) recuerda la importancia", 1)
                days.write_text(edited, encoding="utf-8")
                os.kill(proc.pid, signal.SIGHUP)
                builds = _wait_for(log, 2 + i, 120)
                after_each.append(round(_rss_mb(proc.pid)))
            rebuilds = builds[1:]
            return {"ready_s": ready, "rss_start_mb": rss_start, "rss_after_mb": _rss_mb(proc.pid),
                    "reload_s": statistics.median(r[0] for r in rebuilds),
                    "reload_cards_s": statistics.median(r[1] for r in rebuilds),
                    "reloads": len(rebuilds), "rss_each_mb": after_each}
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    r = run(repeat=3 if "--quick" in sys.argv else 5)
    print("| serve, shipped data | figure |")
    print("|---|---|")
    print(f"| resident memory after start-up | {r['rss_start_mb']:.0f} MB |")
    print(f"| resident memory after {r['reloads']} reloads | {r['rss_after_mb']:.0f} MB "
          f"(after each: {', '.join(map(str, r['rss_each_mb']))} MB) |")
    print(f"| reload after an edit (median, cards apart) | {r['reload_s']:.2f} s |")
    print(f"| of which not counted: cards | {r['reload_cards_s']:.2f} s |")


if __name__ == "__main__":
    main()
