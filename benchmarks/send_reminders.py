"""Benchmark: send_due for 1,000 offices against raw aiosmtplib on the same loopback sink.

    python benchmarks/send_reminders.py [--offices 1000] [--connections 4] [--rounds 5]

A fast aiosmtpd sink runs in its own process on 127.0.0.1 (it accepts and discards). After one
untimed warm-up run of each side, each round runs both, in alternating order:

- ours: ``calendar_service.mail.sending.send_due`` from scratch with a fresh SQLite ledger: due
  computation, ledger register/claim/mark, composition (bodies shared between offices with the
  same content), delivery over N reused connections;
- raw: the very same message bytes, built beforehand and kept in a list, sent with
  ``aiosmtplib.SMTP.sendmail`` by N workers each on one reused connection.

Offices take no image cards (``cards: false``): the cards are the same bytes for both sides and
would turn this into a test of the sink's speed at megabyte messages.

It prints the median times, the throughput ratio raw_time / ours_time (goal >= 0.9) and the
peak memory of our run (tracemalloc, on a transport that accepts at once), next to the size of
all the messages together to show the run does not hold them all. Not a test: numbers depend on
the machine. ``run()`` returns the figures for benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import socket
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SINCE = datetime.fromisoformat("2027-03-01T00:00:00+00:00")
ZONES = ("America/Mexico_City", "America/Cancun", "America/Tijuana", "America/Hermosillo",
         "America/Mazatlan", "America/Chihuahua", "America/Monterrey", "America/Merida")


class Sink:
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        return "250 OK"


def _serve(port: int, ready) -> None:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offices_yaml(n: int) -> str:
    lines = ["version: 1", "offices:"]
    for i in range(n):
        lines += [f"  - id: office-{i:04d}", f"    name: Oficina de Asuntos Internacionales {i}",
                  f"    state: Estado {i}", f"    emails: [office{i}@example.org]",
                  f"    timezone: {ZONES[i % len(ZONES)]}",
                  f"    language: {'en' if i % 10 == 9 else 'es'}", "    lead_days: [14, 3]",
                  "    cards: false"]
    return "\n".join(lines) + "\n"


async def raw_send(messages: list, port: int, connections: int) -> float:  # type: ignore[type-arg]
    import aiosmtplib

    queue: asyncio.Queue = asyncio.Queue()  # type: ignore[type-arg]
    for m in messages:
        queue.put_nowait(m)

    async def worker() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        while not queue.empty():
            m = queue.get_nowait()
            await smtp.sendmail(m.sender, list(m.recipients), m.data)
        await smtp.quit()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - start


class NullSession:
    """Accepts every message at once: the memory runs measure the run itself, not a relay."""

    async def send(self, msg):  # type: ignore[no-untyped-def]
        from calendar_service.mail.delivery import Result

        return Result("sent", reply="250 OK")

    async def close(self) -> None:
        return None


class NullTransport:
    description = "null"

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency

    def session(self, should_stop=lambda: False):  # type: ignore[no-untyped-def]
        return NullSession()


def run(offices: int = 1000, connections: int = 4, rounds: int = 5,
        warm_up: bool = True) -> dict[str, float]:
    """Time send_due against raw aiosmtplib; returns the medians, the ratio and the peak."""
    from calendar_service.base.settings import load_settings
    from calendar_service.data.loader import load_all
    from calendar_service.mail.compose import Composer
    from calendar_service.mail.reminders import due_reminders
    from calendar_service.mail.sending import send_due

    port = free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_serve, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(30)
    work = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    try:
        offices_file = work / "offices.yaml"
        offices_file.write_text(offices_yaml(offices), encoding="utf-8")
        base = load_settings({"offices": str(offices_file), "data_dir": str(work / "data")},
                             environ={})
        base = replace(base, smtp_url=f"smtp://127.0.0.1:{port}", smtp_concurrency=connections)
        catalog, office_list = load_all(base.days, offices_file)
        # 18 March 2027, 20:00 UTC: past 09:00 in every Mexican zone; 21 March's three days
        # (lead 3) and world-water-day (lead 14) are due for every office.
        now = datetime.fromisoformat("2027-03-18T20:00:00+00:00")

        batches = due_reminders(catalog, office_list, now)
        composer = Composer(base)
        t0 = time.perf_counter()
        prebuilt = [composer.message(b, now) for b in batches]
        compose_time = time.perf_counter() - t0
        total_bytes = sum(len(m.data) for m in prebuilt)
        reminders = sum(len(b.items) for b in batches)
        messages = len(batches)
        del batches

        def fresh(tag: str):  # type: ignore[no-untyped-def]
            """A new ledger that has been sending since 1 March (a first start would send
            nothing scheduled before it): set up before the clock starts."""
            from calendar_service.mail.ledger import Ledger

            settings = replace(base, data_dir=work / tag,
                               database_url=f"sqlite:///{work / tag / 'ledger.sqlite3'}")
            with Ledger(settings.database_url) as ledger:
                ledger.see(office_list, catalog.days, SINCE)
            return settings

        def ours_round(tag: str) -> float:
            settings = fresh(tag)
            t0 = time.perf_counter()
            report = send_due(settings, catalog, office_list, now)
            elapsed = time.perf_counter() - t0
            assert report.ok and report.messages == messages, report.summary()
            return elapsed

        def raw_round() -> float:
            return asyncio.run(raw_send(prebuilt, port, connections))

        # One untimed round of each first (the sink's and the client's first connections,
        # caches of the OS), then interleaved rounds in alternating order, so neither side
        # always runs right after the other and drifts of the machine hit both alike.
        if warm_up:
            ours_round("warm-up")
            raw_round()
        ours_times: list[float] = []
        raw_times: list[float] = []
        for r in range(rounds):
            if r % 2:
                raw_times.append(raw_round())
                ours_times.append(ours_round(f"run{r}"))
            else:
                ours_times.append(ours_round(f"run{r}"))
                raw_times.append(raw_round())
        prebuilt.clear()  # not counted in the memory run
        # Memory in a separate, untimed run (tracemalloc slows everything down), on a transport
        # that accepts at once: what the run itself holds, whatever the relay.
        tracemalloc.start()
        report = send_due(fresh("memory"), catalog, office_list, now,
                          transport=NullTransport(connections))  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert report.ok
    finally:
        sink.terminate()
        shutil.rmtree(work, ignore_errors=True)
    ours, raw = statistics.median(ours_times), statistics.median(raw_times)
    ratios = sorted(r / o for r, o in zip(raw_times, ours_times, strict=True))
    return {"offices": offices, "messages": messages, "reminders": reminders,
            "connections": connections, "rounds": rounds, "ours_s": ours, "raw_s": raw,
            "ratio": raw / ours, "ratio_min": ratios[0], "ratio_max": ratios[-1],
            "peak_mb": peak / 1e6, "bytes_mb": total_bytes / 1e6,
            "compose_ms": compose_time / messages * 1000, "bodies": composer.bodies_built,
            "ours_rounds": ours_times, "raw_rounds": raw_times}  # type: ignore[dict-item]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offices", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    r = run(args.offices, args.connections, args.rounds)
    print(f"offices: {r['offices']}, messages: {r['messages']}, reminders: {r['reminders']}, "
          f"connections: {r['connections']}, rounds: {r['rounds']}")
    print(f"bodies built by one composer: {r['bodies']}; composing all messages once "
          f"(headers on shared bodies): {r['compose_ms']:.2f} ms per message")
    print(f"raw aiosmtplib, prebuilt messages: {r['raw_s'] * 1000:.0f} ms "
          f"({r['messages'] / r['raw_s']:.0f} messages/s)  rounds: "
          + ", ".join(f"{t * 1000:.0f}" for t in r["raw_rounds"]))  # type: ignore[attr-defined]
    print(f"send_due (ledger + compose + send): {r['ours_s'] * 1000:.0f} ms "
          f"({r['messages'] / r['ours_s']:.0f} messages/s)  rounds: "
          + ", ".join(f"{t * 1000:.0f}" for t in r["ours_rounds"]))  # type: ignore[attr-defined]
    print(f"throughput ratio send_due / raw: {r['ratio']:.2f} (goal >= 0.9; per round "
          f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f})")
    print(f"peak traced memory of send_due: {r['peak_mb']:.1f} MB; all messages together: "
          f"{r['bytes_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
