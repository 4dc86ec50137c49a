"""The site's cards: which exist for each (day, language, year), their bytes and alt text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from calendar_service.data.model import Catalog, Day
from calendar_service.publishing.cards.spec import SIZES, CardSpec, catalog_cards

Key = tuple[str, str, int | None]  # day id, language, year (None for fixed dates)


@dataclass(frozen=True)
class SiteCards:
    specs: Mapping[Key, tuple[CardSpec, ...]]
    images: Mapping[str, bytes] = field(default_factory=dict)  # site path -> PNG

    def for_day(self, day: Day, lang: str, when: date | None) -> tuple[CardSpec, ...]:
        if day.month_day is None:
            if when is None:
                return ()
            return self.specs.get((day.id, lang, when.year), ())
        return self.specs.get((day.id, lang, None), ())


def _group(specs: list[CardSpec]) -> dict[Key, tuple[CardSpec, ...]]:
    grouped: dict[Key, list[CardSpec]] = {}
    for s in specs:
        grouped.setdefault((s.day_id, s.lang, s.year), []).append(s)
    return {k: tuple(v) for k, v in grouped.items()}


def site_cards(catalog: Catalog, today: date, cache: Path | None, *,
               workers: int | None = None, stats: Any = None) -> SiteCards:
    """Every card of the site, drawn (or read from the cache)."""
    from calendar_service.publishing.cards.cache import cache_cards, render_cards
    from calendar_service.publishing.cards.layout import settle

    specs = [settle(s) for s in catalog_cards(catalog, today)]
    if cache is not None:  # read from the cache file by file as the build writes them
        return SiteCards(_group(specs), cache_cards(specs, cache, workers=workers, stats=stats))
    images = render_cards(specs, None, workers=workers, stats=stats)
    return SiteCards(_group(specs), {s.path: b for s, b in zip(specs, images, strict=True)})


def planned_cards(catalog: Catalog, today: date) -> SiteCards:
    """The cards without pixels: enough for ``check`` to render the pages that show them."""
    specs = catalog_cards(catalog, today)
    return SiteCards(_group(specs), {s.path: b"" for s in specs})


def card_view(spec: CardSpec, words: Any, url: str, rel_path: str | None = None) -> dict[str, Any]:
    """What a page, days.json or an e-mail says about one card."""
    width, height = SIZES[spec.size]
    return {"size": spec.size, "path": spec.path, "url": url, "filename": spec.filename,
            "width": width, "height": height, "label": words.card_sizes[spec.size],
            "alt": alt_text(spec, words)}


def alt_text(spec: CardSpec, words: Any) -> str:
    """Alt text from the data: what the card says, in the card's language (templates' words)."""
    return " ".join(str(words.card_alt(spec.name, spec.date_text, spec.line, spec.hashtag,
                                       spec.signature)).split())
