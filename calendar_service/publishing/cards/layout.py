"""Where each text of a card goes: wrapped, shrunk to fit, kept inside the safe area.

Only font metrics are needed (no pixels), so ``check`` and the tests can lay out every card
quickly. The largest size that fits is found by bisection; below a size's minimum a text is
reported as not fitting rather than drawn unreadably small.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from calendar_service.publishing.cards.spec import SIZES, CardSpec

FONT = Path(__file__).resolve().parent / "fonts" / "SourceSans3-VF.ttf"
BOLD, SEMIBOLD, REGULAR = 700, 600, 400
INK = 8  # px between the text boxes and the safe area


@dataclass(frozen=True)
class Style:
    """Per size: safe margins (left, top, right, bottom) and text sizes in px (max, min)."""

    margins: tuple[int, int, int, int]
    date: int
    name: tuple[int, int]
    line: tuple[int, int]
    tag: tuple[int, int]
    signature: tuple[int, int]
    gap: int
    name_lines: int
    line_lines: int


# Stories keep clear of the top and bottom bands the apps draw over the image.
STYLES: dict[str, Style] = {
    "1200x630": Style((64, 56, 64, 56), 34, (76, 36), (34, 26), (34, 24), (26, 20), 20, 4, 2),
    "1080x1080": Style((88, 88, 88, 88), 44, (100, 44), (44, 30), (42, 28), (32, 22), 28, 6, 4),
    "1080x1920": Style((88, 260, 88, 260), 52, (120, 52), (52, 34), (48, 32), (36, 24), 36, 8, 6),
}


@dataclass(frozen=True)
class Box:
    """One block of text (or the accent bar, with no lines): its lines start at (x, y), the top
    of the first line's ascender; ``bbox`` is the ink actually covered."""

    role: str
    lines: tuple[str, ...]
    size: int
    weight: int
    x: int
    y: int
    pitch: int
    bbox: tuple[int, int, int, int]


@dataclass(frozen=True)
class Layout:
    size: str
    safe: tuple[int, int, int, int]  # left, top, right, bottom
    boxes: tuple[Box, ...]
    problems: tuple[tuple[str, str], ...]  # (what: name, card_line, hashtag, signature; message)


def font_digest() -> str:
    return _font_digest(str(FONT))


@lru_cache(maxsize=2)
def _font_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _font_bytes() -> bytes:
    """Read once: Pillow otherwise reads the 630 KB file again for every size (a third of
    what loading a size costs, and ``check`` loads a few hundred)."""
    return FONT.read_bytes()


@lru_cache(maxsize=256)
def font(size: int, weight: int) -> Any:
    """The bundled variable font at one size and weight. BASIC layout (FreeType alone, no
    Raqm) so the same Pillow draws the same pixels on every machine."""
    import io

    from PIL import ImageFont

    f = ImageFont.truetype(io.BytesIO(_font_bytes()), size, layout_engine=ImageFont.Layout.BASIC)
    f.set_variation_by_axes([weight])
    return f


@lru_cache(maxsize=65536)
def _advance(size: int, weight: int, char: str) -> float:
    return float(font(size, weight).getlength(char))


def text_width(text: str, size: int, weight: int) -> float:
    """Width in px. The BASIC layout applies no kerning from this font's GPOS table, so a text
    is exactly as wide as the sum of its characters' advances (a test holds this), and those
    are cached: measuring each candidate line with FreeType would cost a variable-font outline
    per call."""
    return sum(_advance(size, weight, c) for c in text)


def wrap(text: str, size: int, weight: int, width: int) -> list[str] | None:
    """Greedy word wrap; None when a single word is wider than ``width``."""
    lines: list[str] = []
    current, used = "", 0.0
    space = _advance(size, weight, " ")
    for word in text.split():
        w = text_width(word, size, weight)
        if current and used + space + w <= width:
            current, used = f"{current} {word}", used + space + w
            continue
        if w > width:
            return None
        if current:
            lines.append(current)
        current, used = word, w
    if current:
        lines.append(current)
    return lines


@lru_cache(maxsize=1024)
def metrics(size: int, weight: int) -> tuple[int, int]:
    """(ascent, descent) in px."""
    ascent, descent = font(size, weight).getmetrics()
    return int(ascent), int(descent)


def _pitch(size: int, role: str) -> int:
    return round(size * (1.08 if role == "name" else 1.22))


def _height(lines: int, size: int, weight: int, role: str) -> int:
    ascent, descent = metrics(size, weight)
    return (lines - 1) * _pitch(size, role) + ascent + descent


def _box(role: str, lines: list[str], size: int, weight: int, x: int, y: int) -> Box:
    """The box of the lines: advance widths by line pitch, ascent to descent (the ink stays
    inside it; a test renders cards and holds that)."""
    pitch = _pitch(size, role)
    ascent, descent = metrics(size, weight)
    right = x + max(text_width(t, size, weight) for t in lines)
    return Box(role, tuple(lines), size, weight, x, y, pitch,
               (x, y, int(right + 0.999), y + (len(lines) - 1) * pitch + ascent + descent))


def _largest(lo: int, hi: int, fits: Any, probe: bool = False) -> Any:
    """The result of ``fits`` at the largest size in [lo, hi] where it is not None (with
    ``probe``, at the smallest: enough to know whether anything fits)."""
    best = fits(lo)
    if best is None or probe:
        return best
    while lo < hi:
        mid = (lo + hi + 1) // 2
        got = fits(mid)
        if got is None:
            hi = mid - 1
        else:
            lo, best = mid, got
    return best


def _one_line(text: str, limits: tuple[int, int], weight: int, width: int, probe: bool
              ) -> int | None:
    """Largest size at which ``text`` fits on one line of ``width``."""
    return _largest(limits[1], limits[0], lambda s: s if text_width(text, s, weight) <= width
                    else None, probe)


def layout(spec: CardSpec, *, probe: bool = False) -> Layout:
    """Place every text of the card; ``problems`` says what cannot fit at a readable size.

    ``probe`` places every text at its minimum size: the same problems, found with a fraction
    of the font measurements (what ``check`` needs)."""
    width, height = SIZES[spec.size]
    st = STYLES[spec.size]
    left, top = st.margins[0], st.margins[1]
    right, bottom = width - st.margins[2], height - st.margins[3]
    safe = (left, top, right, bottom)
    # Glyphs may reach a little past their advance box (side bearings): keep a few px spare.
    left, top, right, bottom = left + INK, top + INK, right - INK, bottom - INK
    inner = right - left
    boxes: list[Box] = []
    problems: list[tuple[str, str]] = []

    bar_h = max(6, st.gap // 3)
    boxes.append(Box("bar", (), 0, 0, left, top, 0, (left, top, left + st.gap * 4, top + bar_h)))
    y = top + bar_h + st.gap
    date_lines = wrap(spec.date_text, st.date, SEMIBOLD, inner) or [spec.date_text]
    date_box = _box("date", date_lines, st.date, SEMIBOLD, left, y)
    boxes.append(date_box)
    y = date_box.bbox[3] + st.gap

    # From the bottom up: signature, then hashtag.
    floor = bottom
    lower: list[Box] = []
    for role, text, limits, weight in (("signature", spec.signature, st.signature, REGULAR),
                                       ("hashtag", spec.hashtag, st.tag, SEMIBOLD)):
        if not text:
            continue
        size = _one_line(text, limits, weight, inner, probe)
        if size is None:
            problems.append((role, f"{text!r} is wider than the card even at {limits[1]} px"))
            size = limits[1]
        ascent, descent = metrics(size, weight)
        box = _box(role, [text], size, weight, left, floor - ascent - descent)
        lower.append(box)
        floor = box.y - st.gap // 2
    room = (floor - st.gap) - y

    def block(with_line: bool) -> Any:
        def fits(size: int) -> tuple[int, list[str], int, list[str]] | None:
            name = wrap(spec.name, size, BOLD, inner)
            if name is None or len(name) > st.name_lines:
                return None
            need = _height(len(name), size, BOLD, "name")
            line_size, line = 0, []
            if with_line:
                line_size = max(st.line[1], min(st.line[0], round(size * 0.5)))
                wrapped = wrap(spec.line, line_size, REGULAR, inner)
                if wrapped is None or len(wrapped) > st.line_lines:
                    return None
                line = wrapped
                need += st.gap + _height(len(line), line_size, REGULAR, "line")
            return (size, name, line_size, line) if need <= room else None

        return _largest(st.name[1], st.name[0], fits, probe)

    found = block(bool(spec.line)) if spec.line else None
    if found is None and spec.line and spec.line_given:
        problems.append(("card_line", "does not fit below the name even at the smallest "
                                      "readable sizes"))
    if found is None:
        found = block(False)
    if found is None:
        problems.append(("name", "does not fit even at the smallest readable size"))
        size = st.name[1]
        found = (size, wrap(spec.name, size, BOLD, inner) or [spec.name], 0, [])
    size, name, line_size, line = found
    need = _height(len(name), size, BOLD, "name")
    if line:
        need += st.gap + _height(len(line), line_size, REGULAR, "line")
    y += max(0, (room - need) // 2)  # centred in the room between date and hashtag
    name_box = _box("name", name, size, BOLD, left, y)
    boxes.append(name_box)
    if line:
        boxes.append(_box("line", line, line_size, REGULAR, left,
                          y + _height(len(name), size, BOLD, "name") + st.gap))
    boxes.extend(reversed(lower))
    return Layout(spec.size, safe, tuple(boxes), tuple(problems))


def settle(spec: CardSpec) -> CardSpec:
    """The spec as drawn: a borrowed line (the first key message) that cannot fit is left out,
    so the cache key and the alt text describe the card exactly."""
    if not spec.line or spec.line_given:
        return spec
    kept = any(b.role == "line" for b in layout(spec, probe=True).boxes)
    return spec if kept else replace(spec, line="")


def signature_problems(signature: str) -> list[str]:
    """Where an office's signature cannot fit on one line at its smallest size."""
    out = []
    for size, st in STYLES.items():
        inner = SIZES[size][0] - st.margins[0] - st.margins[2] - 2 * INK
        if text_width(signature, st.signature[1], REGULAR) > inner:
            out.append(size)
    return out
