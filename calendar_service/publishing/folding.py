"""Content lines to bytes, folded exactly as icalendar folds them, in a few steps per line.

icalendar folds by walking every character of every line in Python, which was the largest
single cost of building feeds. This does the same cut on the UTF-8 bytes, one slice per folded
piece: at most 74 octets, never inside a character, and never right after a backslash or caret
that would be separated from what it escapes (icalendar's rule since 7.x). The result is
byte-identical to ``Component.to_ical()``, which ``tests/test_folding.py`` checks for any text
(hypothesis); outside the tested icalendar versions icalendar's own folding is used instead.
"""

from __future__ import annotations

from functools import cache
from typing import Any

TESTED = ((7, 3), (7, 4))  # icalendar versions whose folding this reproduces: >= 7.3, < 7.4
LIMIT = 74  # octets per piece: icalendar folds when a line would reach 75
SEP = b"\r\n "
ESCAPES = (0x5C, 0x5E)  # "\" and "^"


@cache
def matches_installed() -> bool:
    """True when the installed icalendar is one whose folding this module reproduces."""
    import icalendar

    try:
        version = tuple(int(p) for p in icalendar.__version__.split(".")[:2])
    except ValueError:
        return False
    return TESTED[0] <= version < TESTED[1]


def fold(line: str) -> bytes:
    """One content line, folded, as ``Contentline.to_ical()`` gives it."""
    data = line.encode()
    n = len(data)
    if n <= LIMIT:
        return data
    pieces = []
    start = 0
    while n - start > LIMIT:
        end = start + LIMIT
        while data[end] & 0xC0 == 0x80:  # a continuation byte: cut before its character
            end -= 1
        if data[end - 1] in ESCAPES and end - 1 > start:
            end -= 1
        pieces.append(data[start:end])
        start = end
    pieces.append(data[start:])
    return SEP.join(pieces)


def to_ical(component: Any) -> bytes:
    """``component.to_ical()``: icalendar writes the content lines, this only folds them."""
    if not matches_installed():
        return component.to_ical()  # type: ignore[no-any-return]
    return b"\r\n".join([fold(line) for line in component.content_lines() if line]) + b"\r\n"
