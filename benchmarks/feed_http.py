"""Load the feed endpoint and compare it with the ceiling: the same bytes from a minimal ASGI app.

Not a test: run it by hand (``python benchmarks/feed_http.py``). It builds the site for the
bundled days in a temporary data folder, then for each server runs ``wrk`` on loopback, bounded
in time, for a full response (200) and a conditional one (If-None-Match -> 304):

- ``calendar-service``: ``create_app`` exactly as ``calendar-service serve`` runs it (uvicorn's
  httptools protocol behind the HTTP limits of runs/http_limits.py, one process, no access log);
- ``minimal ASGI``: a dozen lines returning the same precomputed bytes and headers on plain
  uvicorn (httptools, no limits): the most any Python app on this server could do;
- ``nginx``: the static ``build`` of the same site, for context.

Like with like: both Python servers get the same uvicorn options (``SERVER_OPTIONS``: httptools,
no websockets, default event loop, no Server header, the Date header, proxy headers, log level
warning, no access log); ours differs only by the limits protocol (a subclass of the same
httptools protocol) and its application. Before measuring, the two must answer with the same
status, headers (Date apart) and bytes for both requests.

Rounds alternate the order (ABBA), so drift in the machine's load hits both alike. Besides
requests per second and the 99th percentile latency, it reads each server's CPU time (user +
system, /proc) per request: on a loaded machine that is the steadiest of the three. It prints
every round's ratios calendar-service / minimal and their medians (goals: throughput >= 0.9,
p99 <= 1.2). ``run()`` returns the figures for benchmarks/run.py.
Needs wrk (and nginx for the context line): ``apt-get install -y wrk nginx-light`` on Debian.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATH = "/calendar.ics"
# uvicorn options both Python servers share; ``server_config`` adds the same http/ws/header ones
# for ours (with the limits protocol in place of plain httptools)
SERVER_OPTIONS: dict[str, Any] = {"access_log": False, "log_level": "warning", "loop": "auto",
                                  "proxy_headers": True, "date_header": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(data_dir: Path) -> object:
    sys.path.insert(0, str(ROOT))
    from calendar_service.base.settings import load_settings
    from calendar_service.data.loader import load_days
    from calendar_service.publishing.site import prepare_site

    settings = load_settings({"data_dir": str(data_dir)})
    now = datetime.now(UTC)
    return prepare_site(load_days(settings.days), settings, today=now.date(), now=now)


def serve_ours(port: int, data_dir: Path) -> None:
    import uvicorn

    from calendar_service.base.settings import load_settings
    from calendar_service.publishing.web import SiteState, create_app
    from calendar_service.runs.http_limits import HttpLimits
    from calendar_service.runs.runtime import server_config

    app = create_app(SiteState(build(data_dir)))  # type: ignore[arg-type]
    limits = HttpLimits.from_settings(load_settings({"data_dir": str(data_dir)}))
    uvicorn.Server(server_config(app, limits, host="127.0.0.1", port=port,
                                 **SERVER_OPTIONS)).run()


def serve_minimal(port: int, data_dir: Path) -> None:
    import uvicorn

    from calendar_service.publishing.web import prepare

    entry = prepare(build(data_dir).resources[PATH])  # type: ignore[attr-defined]
    body, ok, not_modified = entry.resource.body, entry.ok, entry.not_modified
    etag = entry.resource.etag.encode()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        conditional = any(k == b"if-none-match" and v == etag for k, v in scope["headers"])
        await send({"type": "http.response.start", "status": 304 if conditional else 200,
                    "headers": not_modified if conditional else ok})
        await send({"type": "http.response.body", "body": b"" if conditional else body})

    # what server_config sets for ours, with plain httptools; no lifespan: nothing to start
    uvicorn.Server(uvicorn.Config(app, http="httptools", ws="none", server_header=False,
                                  lifespan="off", host="127.0.0.1", port=port,
                                  **SERVER_OPTIONS)).run()


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early ({proc.returncode}) for {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return bytes(r.read())
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no answer from {url}")


def wrk(url: str, seconds: int, connections: int, etag: str | None) -> dict[str, float]:
    """Requests per second, the 99th percentile latency in milliseconds, requests done."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency", url]
    if etag:
        cmd[1:1] = ["-H", f"If-None-Match: {etag}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    done = re.search(r"^\s*(\d+) requests in", out, re.MULTILINE)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    if not m or not p99 or not done:
        raise SystemExit(f"wrk gave no result:\n{out}")
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses under load")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return {"rps": float(m.group(1)), "p99_ms": float(p99.group(1)) * scale,
            "requests": float(done.group(1))}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answers(url: str, etag: str) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Status, headers (Date apart, in order) and body of the full and the conditional request."""
    from http.client import HTTPConnection

    parts = urllib.parse.urlsplit(url)
    out = []
    for extra in ({}, {"If-None-Match": etag}):
        conn = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            conn.request("GET", parts.path, headers=extra)
            r = conn.getresponse()
            out.append((r.status, [(k.lower(), v) for k, v in r.getheaders()
                                   if k.lower() != "date"], r.read()))
        finally:
            conn.close()
    return out


def nginx(site: Path, port: int, work: Path) -> subprocess.Popen[bytes]:
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  types {{ text/calendar ics; text/html html; application/json json; text/css css; }}
  charset utf-8;
  charset_types text/calendar text/css;
  server {{
    listen 127.0.0.1:{port};
    root {site};
    location / {{ try_files $uri $uri/ =404; }}
  }}
}}
""")
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)])


Figures = dict[str, dict[str, dict[str, Any]]]


def run(seconds: int = 5, connections: int = 32, rounds: int = 3) -> Figures:
    """{server: {"200" | "304": {"rps": requests/s, "p99_ms": ..., "cpu_us": CPU per request or
    None, "rounds": [that round's {"rps", "p99_ms", "cpu_us"}, ...]}}}: medians of the rounds,
    and each round (rounds of the servers line up: the n-th of each ran in the same minute)."""
    work = Path(tempfile.mkdtemp(prefix="feed-bench-"))
    os.chmod(work, 0o755)
    data_dir = work / "data"
    site = build(data_dir)
    from calendar_service.publishing.site import write_site

    write_site(site, work / "site")  # type: ignore[arg-type]
    etag = site.resources[PATH].etag  # type: ignore[attr-defined]
    servers: list[tuple[str, list[str] | None]] = [
        ("calendar-service", [sys.executable, __file__, "--serve", "ours"]),
        ("minimal ASGI", [sys.executable, __file__, "--serve", "minimal"]),
    ]
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        servers.append(("nginx (static build)", None))
    procs: dict[str, tuple[subprocess.Popen[bytes], str, str]] = {}
    samples: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    try:
        for name, cmd in servers:  # all start now; only the one being measured gets requests
            port = free_port()
            if cmd is None:
                proc = nginx(work / "site", port, work)
            else:
                proc = subprocess.Popen([*cmd, "--port", str(port), "--data-dir", str(data_dir)],
                                        cwd=ROOT)
            url = f"http://127.0.0.1:{port}{PATH}"
            body = wait_for(url, proc)
            assert body == site.resources[PATH].body, f"{name} serves other bytes"  # type: ignore[attr-defined]
            with urllib.request.urlopen(url) as r:
                server_etag = r.headers["ETag"] if cmd is None else etag
            procs[name] = (proc, url, server_etag)
            samples[name] = []
        ours_answers = answers(procs["calendar-service"][1], etag)
        assert ours_answers == answers(procs["minimal ASGI"][1], etag), (
            "calendar-service and the minimal app answer differently")
        assert [status for status, _, _ in ours_answers] == [200, 304]
        for _, url, server_etag in procs.values():
            wrk(url, 1, connections, None)  # warm-up
            wrk(url, 1, connections, server_etag)
        order = list(procs)
        for n in range(rounds):  # ABBA: drift in the machine's load hits all alike
            for name in order if n % 2 == 0 else order[::-1]:
                proc, url, server_etag = procs[name]
                pair = []
                for tag in (None, server_etag):
                    # nginx answers from a worker process: its CPU is not the master's
                    before = cpu_seconds(proc.pid) if dict(servers)[name] else None
                    figures: dict[str, Any] = dict(wrk(url, seconds, connections, tag))
                    after = cpu_seconds(proc.pid) if before is not None else None
                    requests = figures.pop("requests")
                    figures["cpu_us"] = (None if before is None or after is None else
                                         (after - before) / requests * 1e6)
                    pair.append(figures)
                samples[name].append((pair[0], pair[1]))
    finally:
        for proc, _, _ in procs.values():
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    results: Figures = {}
    for name, runs in samples.items():
        results[name] = {}
        for n, kind in enumerate(("200", "304")):
            each = [r[n] for r in runs]
            cpu = [r["cpu_us"] for r in each if r["cpu_us"] is not None]
            results[name][kind] = {"rps": statistics.median(r["rps"] for r in each),
                                   "p99_ms": statistics.median(r["p99_ms"] for r in each),
                                   "cpu_us": statistics.median(cpu) if cpu else None,
                                   "rounds": each}
    return results


def ratios(ours: dict[str, Any], base: dict[str, Any], key: str) -> list[float]:
    """Round by round, ours / base for one figure (rps, p99_ms or cpu_us)."""
    return [a[key] / b[key] for a, b in zip(ours["rounds"], base["rounds"], strict=True)
            if a[key] is not None and b[key]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="each wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--serve", choices=("ours", "minimal"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        (serve_ours if args.serve == "ours" else serve_minimal)(args.port, Path(args.data_dir))
        return 0
    if not shutil.which("wrk"):
        print("wrk is not installed (Debian: apt-get install -y wrk nginx-light)", file=sys.stderr)
        return 2
    print(f"GET {PATH}: wrk -t1 -c{args.connections} -d{args.seconds}s --latency on loopback, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, median of "
          f"{args.rounds} interleaved rounds (ABBA)")
    results = run(args.seconds, args.connections, args.rounds)
    for name, r in results.items():
        line = f"  {name:<22}"
        for kind in ("200", "304"):
            cpu = r[kind]["cpu_us"]
            line += (f" {kind}: {r[kind]['rps']:>7.0f} req/s p99 {r[kind]['p99_ms']:5.1f} ms"
                     + (f" {cpu:4.0f} us CPU/req" if cpu is not None else "") + "  ")
        print(line.rstrip())
    ours, ceiling = results["calendar-service"], results["minimal ASGI"]
    for key, label, goal in (("rps", "req/s", ">= 0.90"), ("p99_ms", "p99", "<= 1.20"),
                             ("cpu_us", "CPU/req", "")):
        line = f"{label:>8} calendar-service / minimal ASGI:"
        for kind in ("200", "304"):
            each = ratios(ours[kind], ceiling[kind], key)
            if each:
                line += (f"  {kind}: {statistics.median(each):.2f} (rounds "
                         f"{' '.join(f'{x:.2f}' for x in each)})")
        print(line + (f"   goal {goal}" if goal else ""))
    if "nginx (static build)" in results:
        ng = results["nginx (static build)"]
        print(f"context, calendar-service / nginx:      200: "
              f"{ours['200']['rps'] / ng['200']['rps']:.2f}   304: "
              f"{ours['304']['rps'] / ng['304']['rps']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
