"""Image cards in reminders: links in the shared body, attachments per office (signed or not).

The body links every card of its days on the site (the same for every office); the attachments
are the office's own: its signature drawn on them, or none when it set ``cards: false``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calendar_service.base.settings import Settings
from calendar_service.data.model import Day, Occurrence
from calendar_service.mail.reminders import DueReminder

PART_HEADERS = 300  # Content-Type, -Disposition, -Transfer-Encoding of one attachment, about
MEMO_BYTES = 24_000_000  # PNGs kept in memory across runs of one process (the service's sweeps)
_memo: OrderedDict[str, bytes] = OrderedDict()
_memo_bytes = 0


def _remember(key: str, data: bytes) -> None:
    global _memo_bytes
    _memo[key] = data
    _memo_bytes += len(data)
    while _memo_bytes > MEMO_BYTES and _memo:
        _memo_bytes -= len(_memo.popitem(last=False)[1])


@dataclass(frozen=True)
class Attachment:
    filename: str
    png: bytes
    alt: str

    @property
    def encoded_size(self) -> int:
        """Bytes in the message: base64 in lines of 76 plus CRLF, and the part's headers
        (the alt text may be RFC 2047-encoded: up to three times longer)."""
        b64 = 4 * math.ceil(len(self.png) / 3)
        return b64 + 2 * math.ceil(b64 / 76) + PART_HEADERS + 3 * len(self.alt.encode())


def card_language(day: Day, lang: str) -> str:
    """The cards of the language the reminder shows the day in (Spanish when it has no text in
    the office's language, as the reminder's own text does)."""
    return lang if lang in day.content else "es"


class MailCards:
    """Specs, alt texts and PNGs of the cards a composer needs; each drawn once per run."""

    def __init__(self, settings: Settings) -> None:
        from calendar_service.publishing.render import Renderer

        self.base_url = settings.base_url.rstrip("/")
        self.cache = settings.card_cache_dir
        self.renderer = Renderer(settings.templates, cache=settings.template_cache_dir)
        self._specs: dict[tuple[str, str, int, str], list[Any]] = {}

    def specs(self, occurrence: Occurrence, lang: str, signature: str = "") -> list[Any]:
        from calendar_service.publishing.cards.layout import settle
        from calendar_service.publishing.cards.spec import day_cards

        day = occurrence.day
        key = (day.id, lang, occurrence.date.year, signature)
        hit = self._specs.get(key)
        if hit is None:
            year = occurrence.date.year if day.month_day is None else None
            hit = [settle(s) for s in day_cards(day, card_language(day, lang), year,
                                                signature=signature)]
            self._specs[key] = hit
        return hit

    def links(self, occurrence: Occurrence, lang: str) -> dict[str, Any]:
        """For the shared body: the day's cards on the site and their alt text."""
        from calendar_service.publishing.cards.site_cards import alt_text

        specs = self.specs(occurrence, lang)
        words = self.renderer.words(card_language(occurrence.day, lang))
        return {"alt": alt_text(specs[0], words) if specs else "",
                "links": [{"size": s.size, "label": str(self.renderer.words(lang).card_sizes[s.size]),
                           "url": self.base_url + s.path} for s in specs]}

    def attachments(self, items: Sequence[DueReminder], lang: str, signature: str
                    ) -> list[Attachment]:
        """The office's cards for these reminders, most useful first: every day's 1200x630,
        then every day's square card, then the stories."""
        from calendar_service.publishing.cards.cache import render_cards
        from calendar_service.publishing.cards.layout import font_digest
        from calendar_service.publishing.cards.site_cards import alt_text

        seen: set[tuple[str, int]] = set()
        per_day = []
        for due in items:
            occ = due.occurrence
            if (occ.day.id, occ.date.year) in seen:
                continue
            seen.add((occ.day.id, occ.date.year))
            per_day.append(self.specs(occ, lang, signature))
        ordered = [s for rank in range(3) for specs in per_day for s in specs[rank:rank + 1]]
        digest = font_digest()
        pngs = {k: _memo[k] for k in (s.key(digest) for s in ordered) if k in _memo}
        missing = [s for s in ordered if s.key(digest) not in pngs]
        for spec, data in zip(missing, render_cards(missing, self.cache), strict=True):
            pngs[spec.key(digest)] = data
            _remember(spec.key(digest), data)
        return [Attachment(s.filename, pngs[s.key(digest)], alt_text(s, self.renderer.words(s.lang)))
                for s in ordered]
