"""Dates written the way readers expect in their language ("domingo 8 de marzo de 2027")."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

_PATTERNS = {
    "full": {"es": "EEEE d 'de' MMMM 'de' y", "en": "EEEE, MMMM d, y"},
    "long": {"es": "d 'de' MMMM 'de' y", "en": "MMMM d, y"},
    "day_month": {"es": "d 'de' MMMM", "en": "MMMM d"},
    "month": {"es": "LLLL 'de' y", "en": "LLLL y"},
    "short": {"es": "EEE d MMM y", "en": "EEE, MMM d, y"},
}


@lru_cache(maxsize=4096)  # pages, feeds and e-mails write the same few dates again and again
def format_day(d: date, lang: str = "es", style: str = "full") -> str:
    from babel.dates import format_date

    return format_date(d, _PATTERNS[style].get(lang, _PATTERNS[style]["es"]), locale=lang)
