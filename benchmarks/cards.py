"""Image cards: time per card, and the cards of a full build with a cold and a warm cache.

Not a test: run it by hand (``python benchmarks/cards.py``), or call ``run()`` from another
benchmark script (it returns the rows it prints). Cards are reported apart from the build
figures: the baseline in the same run is the site build without cards (pages, feeds, JSON).

- ``per card``: one card of each size drawn and encoded, no cache, in this process;
- ``cards, cold cache``: every card of the shipped days drawn (worker processes) and stored;
- ``cards, warm cache``: the same with every card already in the cache (a rebuild after an
  edit to another day);
- ``site without cards``: ``build_site`` on the same data, the baseline.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2027, 3, 1)


def _timed(fn: Any, repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(repeat: int = 3) -> list[tuple[str, float, str]]:
    sys.path.insert(0, str(ROOT))
    from calendar_service.data.loader import load_days
    from calendar_service.publishing.cards.cache import RenderStats
    from calendar_service.publishing.cards.draw import png
    from calendar_service.publishing.cards.layout import settle
    from calendar_service.publishing.cards.site_cards import site_cards
    from calendar_service.publishing.cards.spec import SIZES, catalog_cards
    from calendar_service.publishing.feed import Publication
    from calendar_service.publishing.render import Renderer
    from calendar_service.publishing.site import build_site
    from calendar_service.publishing.state import PublishState

    catalog = load_days(ROOT / "days.yaml")
    specs = [settle(s) for s in catalog_cards(catalog, TODAY)]
    rows: list[tuple[str, float, str]] = []
    for size in SIZES:
        sample = [s for s in specs if s.size == size][:8]
        per = _timed(lambda sample=sample: [png(s) for s in sample], repeat) / len(sample)
        rows.append((f"per card {size}", per * 1000, "ms"))

    now = datetime(2027, 1, 15, tzinfo=UTC)
    renderer = Renderer(ROOT / "templates")
    baseline = _timed(lambda: build_site(catalog, today=TODAY, now=now, state=PublishState(),
                                         publication=Publication("https://dias.example.org", "x"),
                                         renderer=renderer), repeat)
    rows.append(("site without cards (baseline)", baseline, "s"))
    colds, warms = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            stats = RenderStats()
            colds.append(_timed(lambda tmp=tmp, stats=stats: site_cards(catalog, TODAY, Path(tmp),
                                                                        stats=stats)))
            warms.append(_timed(lambda tmp=tmp: site_cards(catalog, TODAY, Path(tmp))))
    cold, warm = statistics.median(colds), statistics.median(warms)
    rows.append((f"cards, cold cache ({len(specs)} drawn)", cold, "s"))
    rows.append(("cards, warm cache (none drawn)", warm, "s"))
    rows.append(("cold cards / site baseline", cold / baseline, "×"))
    rows.append(("warm cards / site baseline", warm / baseline, "×"))
    return rows


def main() -> int:
    print("| figure | value |\n|---|---|")
    for name, value, unit in run():
        print(f"| {name} | {value:.3g} {unit} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
