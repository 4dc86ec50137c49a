"""Golden feeds: a reviewer reads tests/golden/*.ics; any byte of difference fails.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_feed_golden.py``.
"""

from __future__ import annotations

import os

import pytest
from webtools import GOLDEN, NOW, TODAY, publication, renderer

from calendar_service.data.loader import load_days
from calendar_service.publishing.feed import FeedSpec, build_feed, revise_days
from calendar_service.publishing.state import PublishState

CASES = {"calendar-es.ics": FeedSpec("es"), "calendar-en-alarms.ics": FeedSpec("en", alarms=True)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_feed_matches_the_golden_file(name: str) -> None:
    catalog = load_days(GOLDEN / "days.yaml")
    r, pub = renderer(), publication()
    state = revise_days(PublishState(), catalog, pub, r, NOW)
    body = build_feed(catalog, CASES[name], today=TODAY, revisions=state.days, publication=pub,
                      renderer=r)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(body)
    assert path.exists(), f"{path} missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    assert body == path.read_bytes(), (
        f"{name} differs from the golden file; if intended, regenerate with "
        "UPDATE_GOLDEN=1 pytest tests/test_feed_golden.py and review git diff tests/golden/")
