"""Build scaling: the site build (pages, feeds, days.json) at the shipped 46 days, ×5, ×20 and
5,000 days generated from the shipped file; wall time and peak resident memory of each build.

Not a test: run it by hand (``python benchmarks/build_scaling.py [--quick]``), or call
``run()`` from another benchmark script (it returns the rows it prints). Each build runs in its
own process (``--one``), so its peak memory is its own; medians of ``repeat`` runs. Image cards
are left out (they are cached and reported apart: see benchmarks/cards.py), as the goals say.

Generated days are copies of the shipped ones under new ids (``world-water-day-x7``), so every
size has the same mix of fixed dates, rules, annex days and yearly overrides.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (("shipped", 46), ("x5", 230), ("x20", 920), ("5000", 5000))
MARK = "\n  - id: "


def generate(count: int, target: Path) -> Path:
    """A days.yaml with ``count`` days, copied from the shipped ones under new ids."""
    text = (ROOT / "days.yaml").read_text(encoding="utf-8")
    head, _, body = text.partition("\ndays:")
    items = body.split(MARK)[1:]
    out = [head, "\ndays:"]
    for n in range(count):
        item = items[n % len(items)]
        copy = n // len(items)
        if copy:
            day_id, _, rest = item.partition("\n")
            item = f"{day_id}-x{copy}\n{rest}"
        out.append(MARK + item.rstrip("\n"))
    target.write_text("".join(out) + "\n", encoding="utf-8")
    return target


def build_once(days: Path, site: Path, data_dir: Path) -> dict[str, Any]:
    """One build as ``calendar-service build`` does it, without the cards (in this process)."""
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from datetime import UTC, date, datetime

    from calendar_service.base.files import ReadLimits, set_read_limits
    from calendar_service.base.memory import freeze_loaded
    from calendar_service.data.loader import load_days
    from calendar_service.publishing.feed import Publication
    from calendar_service.publishing.render import Renderer
    from calendar_service.publishing.site import MARKER, ToFolder, generate, replace_folder
    from calendar_service.publishing.state import PublishState

    set_read_limits(ReadLimits(max_bytes=64 << 20, timeout=60.0))  # 5,000 days: about 21 MB
    catalog = load_days(days)
    freeze_loaded()  # as ``build`` does
    loaded = time.perf_counter()
    today = date(2027, 3, 1)
    now = datetime(2027, 3, 1, 6, tzinfo=UTC)
    renderer = Renderer(ROOT / "templates")
    publication = Publication("https://example.org/calendario", "example.org")

    def fill(fresh: Path) -> tuple[int, int]:
        out = ToFolder(fresh)
        generate(catalog, out, today=today, now=now, state=PublishState(),
                 publication=publication, renderer=renderer, cards=None)
        written = out.digests()
        (fresh / MARKER).write_text("benchmarks/build_scaling.py\n")
        return len(written), sum(1 for p in written if p.endswith(".ics"))

    files, feeds = replace_folder(site, fill)
    done = time.perf_counter()
    me, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return {"days": len(catalog.days), "files": files, "feeds": feeds,
            "load_s": loaded - start, "build_s": done - start,
            # CPU time beside wall time: the machine is shared, CPU time is far steadier. The
            # second language is written by a forked child (``generate``), counted apart.
            "cpu_s": me.ru_utime + me.ru_stime,
            "child_cpu_s": children.ru_utime + children.ru_stime,
            "peak_mb": me.ru_maxrss / 1024, "child_peak_mb": children.ru_maxrss / 1024}


def measure(count: int, repeat: int, work: Path) -> dict[str, Any]:
    days = generate(count, work / f"days-{count}.yaml")
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--one", str(days), str(work / "site"),
                               str(work / "data")], capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"build of {count} days failed:\n{proc.stderr}")
        row = json.loads(proc.stdout)
        row["process_s"] = time.perf_counter() - started
        runs.append(row)
    out = {key: statistics.median(r[key] for r in runs)
           for key in ("build_s", "process_s", "cpu_s", "child_cpu_s", "peak_mb",
                       "child_peak_mb")}
    return {"days": count, **out, "files": runs[0]["files"]}


def run(repeat: int = 5, sizes: tuple[tuple[str, int], ...] = SIZES) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, count in sizes:
            row = measure(count, repeat if count < 2000 else 1, Path(tmp))
            row["name"] = name
            rows.append(row)
    base = rows[0]
    for row in rows:
        row["time_ratio"] = row["build_s"] / base["build_s"]
        row["memory_ratio"] = row["peak_mb"] / base["peak_mb"]
        row["cpu_ratio"] = (row["cpu_s"] + row["child_cpu_s"]) / (base["cpu_s"]
                                                                 + base["child_cpu_s"])
    return rows


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        days, site, data_dir = (Path(a) for a in sys.argv[2:5])
        print(json.dumps(build_once(days, site, data_dir)))
        return
    quick = "--quick" in sys.argv
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 5
    rows = run(repeat=3 if quick else repeat, sizes=SIZES[:3] if quick else SIZES)
    print("| build | days | files | time (median) | CPU: parent + child | peak memory: parent, "
          "child | × shipped time | × shipped CPU | × shipped memory |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['days']} | {r['files']} | {r['build_s']:.2f} s | "
              f"{r['cpu_s']:.2f} + {r['child_cpu_s']:.2f} s | {r['peak_mb']:.0f} MB, "
              f"{r['child_peak_mb']:.0f} MB | {r['time_ratio']:.1f}× | {r['cpu_ratio']:.1f}× | "
              f"{r['memory_ratio']:.2f}× |")


if __name__ == "__main__":
    main()
