"""Checks on text that every stage applies the same way: e-mail addresses and header-safe text."""

from __future__ import annotations

import re

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")  # line breaks and the rest: header injection
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def has_control(value: str) -> bool:
    """The one test for text that will end up in an e-mail header (loader, settings, compose)."""
    return CONTROL_CHARS.search(value) is not None
