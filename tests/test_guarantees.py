"""The README's Guarantees name the tests that prove them: each one must exist."""

from __future__ import annotations

import re

from conftest import ROOT


def test_every_test_the_guarantees_name_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- guarantees:start -->")[1].split("<!-- guarantees:end -->")[0]
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


def test_the_documentation_site_shows_the_same_guarantees() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    section = readme.split("## Guarantees\n", 1)[1].split("\n## ", 1)[0].strip()
    assert section in page
