"""A contact sheet: every card of the site on one image, one row per day, for a person to
review names, dates and colours at a glance (``calendar-service cards --sheet FILE``)."""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from pathlib import Path

from calendar_service.base.errors import ConfigError
from calendar_service.base.settings import Settings
from calendar_service.publishing.cards.spec import SIZES, CardSpec

ROW = 220  # thumbnail height, px
GAP = 16
LABEL = 320  # width of the day's label at the start of each row


def contact_sheet(cards: Sequence[tuple[CardSpec, bytes]]) -> bytes:
    """PNG of all cards: rows of (day, year), Spanish then English, each size side by side."""
    from PIL import Image, ImageDraw

    from calendar_service.publishing.cards.layout import REGULAR, font

    rows: dict[tuple[str, int | None], list[tuple[CardSpec, bytes]]] = {}
    for spec, data in cards:
        rows.setdefault((spec.day_id, spec.year), []).append((spec, data))
    thumb_w = sum(round(w * ROW / h) + GAP for w, h in SIZES.values())
    width = LABEL + 2 * thumb_w + GAP
    sheet = Image.new("RGB", (width, max(1, len(rows)) * (ROW + GAP) + GAP), "white")
    pen = ImageDraw.Draw(sheet)
    label_font = font(18, REGULAR)
    for r, ((day_id, year), items) in enumerate(rows.items()):
        y = GAP + r * (ROW + GAP)
        pen.text((GAP, y + ROW // 2), day_id + (f" {year}" if year else ""), fill="black",
                 font=label_font, anchor="lm")
        x = LABEL
        for lang in ("es", "en"):
            for spec, data in (i for i in items if i[0].lang == lang):
                w, h = SIZES[spec.size]
                with Image.open(io.BytesIO(data)) as card:
                    thumb = card.convert("RGB").resize((round(w * ROW / h), ROW),
                                                       Image.BILINEAR, reducing_gap=2.0)
                sheet.paste(thumb, (x, y))
                x += thumb.width + GAP
            x = LABEL + thumb_w
    out = io.BytesIO()
    sheet.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def cmd_cards(args: argparse.Namespace, settings: Settings) -> int:
    """``calendar-service cards --sheet FILE``: draw (or reuse) every card; write the sheet."""
    from calendar_service.base.clock import today_from
    from calendar_service.base.files import atomic_write
    from calendar_service.data.loader import load_days
    from calendar_service.publishing.cards.cache import RenderStats
    from calendar_service.publishing.cards.site_cards import site_cards

    catalog = load_days(settings.days)
    stats = RenderStats()
    cards = site_cards(catalog, today_from(args), settings.card_cache_dir, stats=stats)
    pairs = [(spec, cards.images[spec.path]) for specs in cards.specs.values() for spec in specs]
    print(f"{len(pairs)} cards ({stats.drawn} drawn, {stats.cached} from the cache in "
          f"{settings.card_cache_dir})")
    if args.sheet:
        target = Path(args.sheet)
        try:
            atomic_write(target, contact_sheet(pairs))
        except OSError as exc:
            raise ConfigError(f"{target}: cannot write the contact sheet ({exc.strerror})"
                              ) from None
        print(f"{target}: contact sheet of {len(pairs)} cards")
    return 0
