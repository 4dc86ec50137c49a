"""Cards on disk: each PNG stored under the hash of what it shows (see ``CardSpec.key``).

A build draws only the cards whose hash is not in the cache yet, in worker processes when
there are enough of them to repay starting the workers. The cache lives in the data directory
(``DATA_DIR/cache/cards``); deleting it only costs time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from calendar_service.base.files import atomic_write
from calendar_service.publishing.cards.spec import CardSpec

log = logging.getLogger("calendar_service.publishing.cards")

PARALLEL_FROM = 24  # fewer missing cards than this are drawn in-process (workers cost ~0.3 s)


@dataclass
class RenderStats:
    cached: int = 0
    drawn: int = 0




def _draw(spec: CardSpec) -> bytes:
    from calendar_service.publishing.cards.draw import png

    return png(spec)


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def render_cards(specs: Sequence[CardSpec], cache: Path | None, *, workers: int | None = None,
                 stats: RenderStats | None = None) -> list[bytes]:
    """PNG bytes of every spec, in order: from the cache when there, else drawn and stored."""
    from calendar_service.publishing.cards.layout import font_digest

    digest = font_digest()
    keys = [s.key(digest) for s in specs]
    out: dict[str, bytes] = {}
    missing: dict[str, CardSpec] = {}
    for key, spec in zip(keys, specs, strict=True):
        if key in out or key in missing:
            continue
        if cache is not None:
            try:
                out[key] = (cache / key[:2] / f"{key}.png").read_bytes()
                continue
            except OSError:
                pass
        missing[key] = spec
    stats = stats if stats is not None else RenderStats()
    stats.cached += len(out)
    stats.drawn += len(missing)
    workers = workers or _workers()
    todo = list(missing.items())
    if workers > 1 and len(todo) >= PARALLEL_FROM:
        import multiprocessing

        # spawn: the service has threads (server, scheduler), and forking them is unsafe
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            drawn = list(pool.map(_draw, (s for _, s in todo), chunksize=8))
    else:
        drawn = [_draw(s) for _, s in todo]
    for (key, _), data in zip(todo, drawn, strict=True):
        out[key] = data
        if cache is not None:
            try:
                atomic_write(cache / key[:2] / f"{key}.png", data)
            except OSError as exc:  # a read-only data dir only costs the next build time
                log.warning("cannot cache card %s: %s", key, exc.strerror)
    if missing:
        log.info("cards: %d drawn, %d from the cache", stats.drawn, stats.cached)
    return [out[k] for k in keys]
