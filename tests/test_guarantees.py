"""The documentation's Guarantees name the tests that prove them: each one must exist."""

from __future__ import annotations

import re

from conftest import ROOT


def test_every_test_the_guarantees_name_exists() -> None:
    page = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    table = page.split("<!-- guarantees:start -->")[1].split("<!-- guarantees:end -->")[0]
    named: list[tuple[str, str]] = []
    for row in table.splitlines():
        current = None
        for file, test in re.findall(r"`(?:([\w]+\.py))?::(test_\w+)`", row):
            current = file or current
            assert current, row
            named.append((current, test))
    assert len(named) >= 15
    missing = [f"{file}::{test}" for file, test in named
               if not re.search(rf"^def {test}\(", (ROOT / "tests" / file).read_text(encoding="utf-8"),
                                re.M)]
    assert not missing

