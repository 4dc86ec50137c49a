"""Every benchmark in one command, written as one table of ratios to benchmarks/RESULTS.md.

    python benchmarks/run.py [--quick] [--only feed,send,startup,build] [--out FILE] [--render]

Each figure is a ratio against a baseline measured in the same run, on the same machine:

- feed: ``GET /calendar.ics`` (200, and 304 with If-None-Match) from ``calendar-service serve``
  against a minimal ASGI app serving the same bytes on plain uvicorn, with ``wrk``
  (settings in the table); nginx serving the static build of the same site, for context;
- send: ``send_due`` for 1,000 and 10,000 offices against raw aiosmtplib sending the same
  prebuilt messages over as many connections to the same loopback sink; its peak traced
  memory at 10,000 offices against 1,000 (benchmarks/send_reminders.py);
- start-up: ``--help`` and ``check`` on the shipped data against a bare ``python -c pass``
  (benchmarks/startup.py);
- build: the site build at the shipped days, ×5, ×20 and 5,000 days generated from the shipped
  file, against the shipped build (benchmarks/build_scaling.py).

The feed figures need ``wrk`` (and ``nginx`` for the context line), which a clean machine lacks:
``apt-get install -y wrk nginx-light`` on Debian or Ubuntu (the test suite needs neither).
A benchmark whose script or tool is missing gets a row saying so. Each figure that misses its goal
is followed by the note that says what limits it (benchmarks/NOTES-*.md, from profiles).
``--quick`` runs tiny sizes in seconds (the smoke test uses it): its ratios mean nothing.
Not a test: numbers depend on the machine and on its load, printed with them.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    figure: str  # what is measured
    measured: str  # ours, with its unit
    baseline: str  # what it is compared with, measured in the same run
    ratio: float | None  # None: not measured
    goal: str  # e.g. "≥ 0.9"
    met: bool | None  # None: no goal or not measured
    settings: str = ""  # how it was measured (wrk settings, rounds, sizes)
    note: str = ""  # key of the note explaining a miss (a heading in benchmarks/NOTES-*.md)


def _module(name: str) -> ModuleType | None:
    """A benchmark script beside this one, imported as a module; None when it is absent."""
    path = HERE / f"{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _missing(figure: str, why: str) -> Row:
    return Row(figure, "not measured", "", None, "", None, why)


# -- feed --------------------------------------------------------------------------------------


def feed_rows(quick: bool) -> list[Row]:
    bench = _module("feed_http")
    if bench is None:
        return [_missing("feed", "benchmarks/feed_http.py is missing")]
    if not shutil.which("wrk"):
        return [_missing("feed", "wrk is not installed (Debian: apt-get install -y wrk "
                                 "nginx-light)")]
    seconds, connections, rounds = (1, 8, 1) if quick else (5, 32, 3)
    results = bench.run(seconds=seconds, connections=connections, rounds=rounds)
    wrk = (f"wrk -t1 -c{connections} -d{seconds}s --latency, loopback, median of {rounds} "
           "interleaved rounds (ABBA), same uvicorn options and bytes")
    ours, ceiling = results["calendar-service"], results["minimal ASGI"]
    rows = []
    def per_round(kind: str, key: str) -> str:
        return " ".join(f"{x:.2f}" for x in bench.ratios(ours[kind], ceiling[kind], key))

    for kind, label in (("200", "200 (full feed)"), ("304", "304 (If-None-Match)")):
        ratio = ours[kind]["rps"] / ceiling[kind]["rps"]
        cpu = ("" if ours[kind]["cpu_us"] is None or not ceiling[kind]["cpu_us"] else
               f"; server CPU per request {ours[kind]['cpu_us'] / ceiling[kind]['cpu_us']:.2f}× "
               f"the minimal app's (per round {per_round(kind, 'cpu_us')})")
        rows.append(Row(f"feed {label}: requests/s", f"{ours[kind]['rps']:.0f} req/s",
                        f"minimal ASGI app, same bytes: {ceiling[kind]['rps']:.0f} req/s", ratio,
                        "≥ 0.9", ratio >= 0.9, f"{wrk}; per round {per_round(kind, 'rps')}{cpu}",
                        f"feed-{kind}"))
        p99 = ours[kind]["p99_ms"] / ceiling[kind]["p99_ms"]
        rows.append(Row(f"feed {label}: p99 latency", f"{ours[kind]['p99_ms']:.1f} ms",
                        f"minimal ASGI app: {ceiling[kind]['p99_ms']:.1f} ms", p99, "≤ 1.2×",
                        p99 <= 1.2, f"{wrk}; per round {per_round(kind, 'p99_ms')}",
                        f"feed-{kind}-p99"))
    nginx = results.get("nginx (static build)")
    if nginx:
        for kind in ("200", "304"):
            rows.append(Row(f"feed {kind}: context, against nginx", f"{ours[kind]['rps']:.0f} req/s",
                            f"nginx, static build: {nginx[kind]['rps']:.0f} req/s",
                            ours[kind]["rps"] / nginx[kind]["rps"], "—", None, wrk))
    return rows


# -- send --------------------------------------------------------------------------------------


def send_rows(quick: bool) -> list[Row]:
    bench = _module("send_reminders")
    if bench is None:
        return [_missing("send", "benchmarks/send_reminders.py is missing")]
    sizes = ((10, 1), (50, 1)) if quick else ((1000, 3), (10000, 1))
    rows, peaks = [], []
    for offices, rounds in sizes:
        r = bench.run(offices=offices, rounds=rounds, connections=4, warm_up=offices == sizes[0][0])
        how = (f"{r['messages']} messages ({r['reminders']} reminders), 4 connections to an "
               f"aiosmtpd sink on loopback, SQLite ledger; median of {rounds} alternating rounds "
               f"(per round {r['ratio_min']:.2f}–{r['ratio_max']:.2f})")
        rows.append(Row(f"send_due, {offices:,} offices: throughput",
                        f"{r['ours_s']:.2f} s ({r['messages'] / r['ours_s']:.0f} msg/s)",
                        f"raw aiosmtplib, prebuilt messages: {r['raw_s']:.2f} s", r["ratio"],
                        "≥ 0.9", r["ratio"] >= 0.9, how, "send-throughput"))
        peaks.append((offices, r["peak_mb"]))
    (small, small_mb), (large, large_mb) = peaks
    growth = large_mb / small_mb
    rows.append(Row(f"send_due, peak traced memory, {large:,} against {small:,} offices",
                    f"{large_mb:.1f} MB", f"{small:,} offices: {small_mb:.1f} MB", growth,
                    "≤ 1.5×", growth <= 1.5,
                    "tracemalloc, one run each on a transport that accepts at once",
                    "send-memory"))
    return rows


# -- start-up and check ------------------------------------------------------------------------


def startup_rows(quick: bool) -> list[Row]:
    bench = _module("startup")
    if bench is None:
        return [_missing("start-up and check", "benchmarks/startup.py is missing")]
    repeat = 3 if quick else 15
    rows = {r["name"]: r for r in bench.run(repeat=repeat)}
    bare = rows["python -c pass"]
    how = f"median of {repeat} processes, byte-compiled, file cache warm"
    out = []
    helped = rows["calendar-service --help"]
    out.append(Row("`--help`: wall time", f"{helped['wall'] * 1000:.0f} ms",
                   f"`python -c pass`: {bare['wall'] * 1000:.0f} ms", helped["ratio"], "≤ 2.5×",
                   helped["ratio"] <= 2.5, how, "startup-help"))
    check = rows["calendar-service check"]
    out.append(Row("`check` on the shipped days: wall time", f"{check['wall'] * 1000:.0f} ms",
                   f"`python -c pass`: {bare['wall'] * 1000:.0f} ms", check["ratio"],
                   "≤ 0.4 s", check["wall"] <= 0.4, how + ", templates compiled (DATA_DIR/cache)",
                   "check"))
    cold = rows.get("calendar-service check, templates not yet compiled")
    if cold is not None:
        out.append(Row("`check`, first run in a new data folder: wall time",
                       f"{cold['wall'] * 1000:.0f} ms", f"`python -c pass`: {bare['wall'] * 1000:.0f} ms",
                       cold["ratio"], "—", None,
                       "each run in an empty data folder: every template compiled; for context"))
    return out


# -- build scaling -----------------------------------------------------------------------------


def build_rows(quick: bool) -> list[Row]:
    bench = _module("build_scaling")
    if bench is None:
        return [_missing("build scaling", "benchmarks/build_scaling.py is missing")]
    small = [size for size in bench.SIZES if size[1] < 2000]
    large = [size for size in bench.SIZES if size[1] >= 2000]
    repeat = 1 if quick else 3
    rows = bench.run(repeat=repeat, sizes=tuple(small[:2] if quick else small))
    if not quick and large:
        rows += bench.run(repeat=1, sizes=tuple(large))
    base = rows[0]
    for r in rows:  # against the shipped build of this run
        r["time_ratio"] = r["build_s"] / base["build_s"]
        r["memory_ratio"] = r["peak_mb"] / base["peak_mb"]
    how = f"median of {repeat} builds (one at 5,000 days), each in its own process, no cards"
    out = [Row(f"build, {base['name']} ({base['days']} days)",
               f"{base['build_s']:.2f} s, {base['peak_mb']:.0f} MB", "(the baseline)", 1.0, "—",
               None, how)]
    for r in rows[1:]:
        if r["days"] == 5000:
            met = r["build_s"] < 15 and r["peak_mb"] < 300
            goal = "< 15 s, < 300 MB"
        else:
            met = r["time_ratio"] <= 4 and r["memory_ratio"] <= 2 if r["days"] >= 900 else None
            goal = "≤ 4× time, ≤ 2× memory" if r["days"] >= 900 else "—"
        out.append(Row(f"build, {r['name']} ({r['days']} days): time",
                       f"{r['build_s']:.2f} s, {r['peak_mb']:.0f} MB",
                       f"shipped: {base['build_s']:.2f} s, {base['peak_mb']:.0f} MB",
                       r["time_ratio"], goal, met,
                       f"{how}; memory {r['memory_ratio']:.2f}× the shipped build",
                       f"build-{r['name']}"))
    return out


# -- the table ---------------------------------------------------------------------------------


# Builds first: a child process starts with its parent's peak resident size (Linux keeps it
# across fork and exec), so they must run while this process is still small.
SECTIONS = {"build": build_rows, "startup": startup_rows, "feed": feed_rows, "send": send_rows}


def commit() -> str:
    import subprocess

    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return (f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}")


def note_key(figure: str) -> str:
    """The heading (its start) of the note about a figure in benchmarks/NOTES-*.md."""
    for word, key in (("throughput", "send-throughput"), ("peak traced memory", "send-memory"),
                      ("`--help`", "`--help`"), ("`check`", "`check`"), ("build", "Build scaling"),
                      ("feed", "feed")):
        if word in figure:
            return key
    return figure


def notes(rows: list[Row]) -> list[str]:
    """The notes (## sections of benchmarks/NOTES-*.md) of the figures that missed their goal,
    each once, after the figures it explains."""
    sections: list[tuple[str, str]] = []
    for path in sorted(HERE.glob("NOTES-*.md")):
        for part in re.split(r"^## ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
            head, _, body = part.partition("\n")
            sections.append((head.strip(), f"{body.strip()}\n\n(from `benchmarks/{path.name}`: "
                                            f"{head.strip()})"))
    missed: dict[str, list[Row]] = {}
    for row in rows:
        if row.met is False:
            missed.setdefault(note_key(row.figure), []).append(row)
    out = []
    for key, covered in missed.items():
        text = next((body for head, body in sections if head.startswith(key)),
                    f"no note yet: profile it and add a section '## {key}' to a "
                    "benchmarks/NOTES-*.md file")
        figures = "; ".join(f"{r.figure} ({r.ratio:.2f}, goal {r.goal})" for r in covered)
        out.append(f"### {figures}\n\n{text}")
    return out


def parse(text: str) -> list[Row]:
    """The rows of a table this script wrote (``--render`` re-renders them with today's notes)."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 7 or cells[0] in ("figure", "---|---|---|---|---|---|---"):
            continue
        if set(cells[0]) <= {"-", "|"}:
            continue
        figure, measured, baseline, ratio, goal, met, how = cells
        rows.append(Row(figure, measured, "" if baseline == "—" else baseline,
                        None if ratio == "—" else float(ratio), "" if goal == "—" else goal,
                        {"yes": True, "**no**": False}.get(met), how))
    return rows


def table(rows: list[Row], started: datetime, seconds: float, quick: bool,
          load: tuple[float, float]) -> str:
    mark = {True: "yes", False: "**no**", None: "—"}
    lines = [
        "# Benchmark results",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min at commit {commit()} by "
        f"`python benchmarks/run.py{' --quick' if quick else ''}` on {machine()}; load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end. Ratios are against baselines "
        "measured in the same run; for throughput higher is better, for time, latency and memory "
        "lower is better.",
        "",
        "| figure | ours | baseline (same run) | ratio | goal | met | how |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
        how = r.settings if r.ratio is not None else r.note
        lines.append(f"| {r.figure} | {r.measured} | {r.baseline or '—'} | {ratio} | "
                     f"{r.goal or '—'} | {mark[r.met]} | {how} |")
    missed = notes(rows)
    if missed:
        lines += ["", "## What limits the figures that miss their goal", ""]
        lines += [f"{n}\n" for n in missed]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, seconds in all: checks the command, not the speed")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated, from {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md",
                        help="where the table goes (default: benchmarks/RESULTS.md)")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: rewrite --out with the current notes")
    args = parser.parse_args(argv)
    if args.render:
        old = args.out.read_text(encoding="utf-8")
        head = old[:old.index("| figure |")]
        rows = parse(old[old.index("| figure |"):].split("\n## ", 1)[0])
        text = table(rows, datetime.now(UTC), 0.0, False, (0.0, 0.0))
        text = head + text[text.index("| figure |"):]
        args.out.write_text(text, encoding="utf-8")
        print(text)
        return 0
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    started, start, load = datetime.now(UTC), time.perf_counter(), os.getloadavg()[0]
    rows: list[Row] = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        section_start = time.perf_counter()
        try:
            rows += SECTIONS[name](args.quick)
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            rows.append(_missing(name, f"failed: {type(exc).__name__}: "
                                       f"{' '.join(str(exc).split())[:300]}"))
        print(f"  {name}: {time.perf_counter() - section_start:.0f} s", file=sys.stderr,
              flush=True)
    text = table(rows, started, time.perf_counter() - start, args.quick,
                 (load, os.getloadavg()[0]))
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
