"""Card colours: the 17 official SDG colours, and a text colour that meets WCAG AA on each.

Pure arithmetic (no Pillow), so ``check``, the layout and the tests share it cheaply.
"""

from __future__ import annotations

# The UN's SDG colour palette (SDG communications guidelines), goal -> background.
SDG_COLORS: dict[int, str] = {
    1: "#E5243B", 2: "#DDA63A", 3: "#4C9F38", 4: "#C5192D", 5: "#FF3A21", 6: "#26BDE2",
    7: "#FCC30B", 8: "#A21942", 9: "#FD6925", 10: "#DD1367", 11: "#FD9D24", 12: "#BF8B2E",
    13: "#3F7E44", 14: "#0A97D9", 15: "#56C02B", 16: "#00689D", 17: "#19486A",
}
DEFAULT_COLOR = "#19486A"  # a day with neither an SDG nor a coloured theme
LIGHT = "#FFFFFF"
DARK = "#000000"
AA_NORMAL = 4.5  # WCAG 2.x level AA for normal-size text


def rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def hex_color(value: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*value)


def luminance(color: str) -> float:
    """WCAG relative luminance of an sRGB colour."""
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_color(background: str) -> str:
    """White or black, whichever contrasts more: at least 4.58:1 on any background."""
    return LIGHT if contrast(background, LIGHT) >= contrast(background, DARK) else DARK


def card_colors(sdgs: tuple[int, ...], theme_colors: tuple[str | None, ...]) -> tuple[str, str]:
    """(background, text): the first SDG's colour, else the first coloured theme's, else ours."""
    background = (SDG_COLORS[sdgs[0]] if sdgs else
                  next((c for c in theme_colors if c), DEFAULT_COLOR))
    return background, text_color(background)
