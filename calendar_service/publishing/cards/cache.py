"""Cards on disk: each PNG stored under the hash of what it shows (see ``CardSpec.key``).

A build draws only the cards whose hash is not in the cache yet, in worker processes when
there are enough of them to repay starting the workers, and writes each to the cache as it
comes: a build holds no more than a few cards in memory. The cache lives in the data directory
(``DATA_DIR/cache/cards``, or ``CALENDAR_SERVICE_CARD_CACHE``); deleting it only costs time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
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


def _file(cache: Path, key: str) -> Path:
    return cache / key[:2] / f"{key}.png"


def _drawn(todo: Sequence[CardSpec], workers: int | None) -> Iterator[bytes]:
    """PNGs of ``todo`` in order, as they are drawn."""
    workers = workers or _workers()
    if workers > 1 and len(todo) >= PARALLEL_FROM:
        import multiprocessing

        # spawn: the service has threads (server, scheduler), and forking them is unsafe
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield from pool.map(_draw, todo, chunksize=8)
    else:
        for spec in todo:
            yield _draw(spec)


def _store(cache: Path | None, key: str, data: bytes) -> None:
    if cache is None:
        return
    try:
        atomic_write(_file(cache, key), data)
    except OSError as exc:  # a read-only data dir only costs the next build time
        log.warning("cannot cache card %s: %s", key, exc.strerror)


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
                out[key] = _file(cache, key).read_bytes()
                continue
            except OSError:
                pass
        missing[key] = spec
    stats = stats if stats is not None else RenderStats()
    stats.cached += len(out)
    stats.drawn += len(missing)
    for key, data in zip(missing, _drawn(list(missing.values()), workers), strict=True):
        out[key] = data
        _store(cache, key, data)
    return [out[k] for k in keys]


class CachedCards(Mapping[str, bytes]):
    """Site path -> PNG, read from the cache only when asked: a build copies each card to disk
    without holding them all; ``serve`` reads them once into its site."""

    def __init__(self, files: Mapping[str, Path | bytes]) -> None:
        self._files = dict(files)  # bytes only for cards the cache could not take

    def __getitem__(self, path: str) -> bytes:
        file = self._files[path]
        return file if isinstance(file, bytes) else file.read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)


def cache_cards(specs: Sequence[CardSpec], cache: Path, *, workers: int | None = None,
                stats: RenderStats | None = None) -> CachedCards:
    """Make sure every card is in the cache (drawing the missing ones, each stored as soon as it
    is drawn); return them by site path."""
    from calendar_service.publishing.cards.layout import font_digest

    digest = font_digest()
    keys = {spec.path: spec.key(digest) for spec in specs}
    missing: dict[str, CardSpec] = {}
    for spec in specs:
        key = keys[spec.path]
        if key not in missing and not _file(cache, key).is_file():
            missing[key] = spec
    stats = stats if stats is not None else RenderStats()
    stats.drawn += len(missing)
    stats.cached += len(set(keys.values())) - len(missing)
    unstored: dict[str, bytes] = {}
    for key, data in zip(missing, _drawn(list(missing.values()), workers), strict=True):
        try:
            atomic_write(_file(cache, key), data)
        except OSError as exc:  # a read-only cache: keep this card in memory instead
            log.warning("cannot cache card %s: %s", key, exc.strerror)
            unstored[key] = data
    files = {path: unstored.get(key) or _file(cache, key) for path, key in keys.items()}
    if missing:
        log.info("cards: %d drawn, %d from the cache", stats.drawn, stats.cached)
    return CachedCards(files)
