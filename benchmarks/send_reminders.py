"""Benchmark: send_due for 1,000 offices against raw aiosmtplib on the same loopback sink.

    python benchmarks/send_reminders.py [--offices 1000] [--connections 4] [--rounds 5]

A fast aiosmtpd sink runs in its own process on 127.0.0.1 (it accepts and discards). After one
untimed warm-up run of each side, each round runs both, in alternating order:

- ours: ``calendar_service.mail.sending.send_due`` from scratch with a new SQLite ledger: due
  computation, ledger register/claim/mark, composition (bodies shared between offices with the
  same content), delivery over N reused connections;
- raw: the very same message bytes, built beforehand and kept in a list, sent with
  ``aiosmtplib.SMTP.sendmail`` by N workers each on one reused connection.

It prints the median times, the throughput ratio raw_time / ours_time (goal >= 0.8) and the
peak memory of our run (tracemalloc), next to the size of all the messages together to show the
run does not hold them all. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
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
                  f"    language: {'en' if i % 10 == 9 else 'es'}", "    lead_days: [14, 3]"]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offices", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

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
    offices_file = work / "offices.yaml"
    offices_file.write_text(offices_yaml(args.offices), encoding="utf-8")
    base = load_settings({"offices": str(offices_file), "data_dir": str(work / "data")},
                         environ={})
    base = replace(base, smtp_url=f"smtp://127.0.0.1:{port}", smtp_concurrency=args.connections)
    catalog, offices = load_all(base.days, offices_file)
    # 18 March 2027, 20:00 UTC: past 09:00 in every Mexican zone; 21 March's three days (lead 3)
    # and world-water-day (lead 14) are due for every office.
    now = datetime.fromisoformat("2027-03-18T20:00:00+00:00")

    batches = due_reminders(catalog, offices, now)
    composer = Composer(base)
    t0 = time.perf_counter()
    prebuilt = [composer.message(b, now) for b in batches]
    compose_time = time.perf_counter() - t0
    total_bytes = sum(len(m.data) for m in prebuilt)
    reminders = sum(len(b.items) for b in batches)

    def fresh(tag: str):  # type: ignore[no-untyped-def]
        """A new ledger that has been sending since 1 March (untimed): a fresh install would
        send nothing scheduled before its first run (see docs/reminders.md)."""
        from calendar_service.mail.ledger import Ledger

        settings = replace(base, data_dir=work / tag,
                           database_url=f"sqlite:///{work / tag / 'ledger.sqlite3'}")
        with Ledger(settings.database_url) as ledger:
            ledger.see(offices, catalog.days, datetime.fromisoformat("2027-03-01T00:00:00+00:00"))
        return settings

    def ours_round(tag: str) -> float:
        settings = fresh(tag)
        t0 = time.perf_counter()
        report = send_due(settings, catalog, offices, now)
        elapsed = time.perf_counter() - t0
        assert report.ok and report.messages == len(batches), report.summary()
        return elapsed

    def raw_round() -> float:
        return asyncio.run(raw_send(prebuilt, port, args.connections))  # noqa: F821 (deleted after)

    # One untimed round of each first (the sink's and the client's first connections, caches
    # of the OS), then interleaved rounds in alternating order, so neither side always runs
    # right after the other and drifts of the machine hit both alike.
    ours_round("warm-up")
    raw_round()
    ours_times, raw_times = [], []
    for r in range(args.rounds):
        if r % 2:
            raw_times.append(raw_round())
            ours_times.append(ours_round(f"run{r}"))
        else:
            ours_times.append(ours_round(f"run{r}"))
            raw_times.append(raw_round())
    # Memory in a separate, untimed run: tracemalloc slows everything down.
    del prebuilt
    tracemalloc.start()
    report = send_due(fresh("memory"), catalog, offices, now)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.ok

    ours, raw = statistics.median(ours_times), statistics.median(raw_times)
    import resource

    print(f"offices: {args.offices}, messages: {report.messages}, reminders: {reminders}, "
          f"connections: {args.connections}, rounds: {args.rounds}")
    print(f"bodies built by one composer: {composer.bodies_built}; composing all messages once "
          f"(headers on shared bodies): {compose_time * 1000:.0f} ms "
          f"({compose_time / report.messages * 1000:.2f} ms per message)")
    print(f"raw aiosmtplib, prebuilt messages: {raw * 1000:.0f} ms "
          f"({report.messages / raw:.0f} messages/s)  rounds: "
          + ", ".join(f"{t * 1000:.0f}" for t in raw_times))
    print(f"send_due (ledger + compose + send): {ours * 1000:.0f} ms "
          f"({report.messages / ours:.0f} messages/s)  rounds: "
          + ", ".join(f"{t * 1000:.0f}" for t in ours_times))
    ratios = sorted(r / o for r, o in zip(raw_times, ours_times, strict=True))
    print(f"throughput ratio send_due / raw: {raw / ours:.2f} (goal >= 0.8; per round "
          f"{ratios[0]:.2f}-{ratios[-1]:.2f})")
    print(f"peak traced memory of send_due: {peak / 1e6:.1f} MB; all messages together: "
          f"{total_bytes / 1e6:.1f} MB; process max RSS: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    sink.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
