"""The HTTP service over real sockets: a real uvicorn on an ephemeral loopback port."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from webtools import GOLDEN, NOW, TODAY, publication, renderer, serving

from calendar_service.data.loader import load_days
from calendar_service.publishing.site import build_site
from calendar_service.publishing.state import PublishState
from calendar_service.publishing.web import SiteState, create_app


def golden_site(now=NOW, days: Path = GOLDEN / "days.yaml"):  # type: ignore[no-untyped-def]
    site, _ = build_site(load_days(days), today=TODAY, now=now, state=PublishState(),
                         publication=publication(), renderer=renderer())
    return site


@pytest.fixture(scope="module")
def state() -> SiteState:
    return SiteState(golden_site())


@pytest.fixture(scope="module")
def base(state: SiteState) -> Iterator[str]:
    with serving(create_app(state)) as url:
        yield url


@pytest.fixture
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers={"accept-encoding": "identity"}) as c:
        yield c


def test_feed_is_served_with_its_type_validators_and_cache_policy(client: httpx.Client,
                                                                  state: SiteState) -> None:
    r = client.get("/calendar.ics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    assert r.content == state.site.resources["/calendar.ics"].body
    assert r.headers["etag"] == state.site.resources["/calendar.ics"].etag
    assert r.headers["last-modified"] == "Fri, 15 Jan 2027 12:00:00 GMT"
    assert r.headers["cache-control"] == "public, max-age=3600"
    assert r.headers["vary"] == "accept-encoding"


def test_if_none_match_gives_304_without_a_body(client: httpx.Client) -> None:
    etag = client.get("/en/calendar.ics").headers["etag"]
    r = client.get("/en/calendar.ics", headers={"if-none-match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == etag
    assert client.get("/en/calendar.ics", headers={"if-none-match": f'W/{etag}, "x"'}
                      ).status_code == 304
    assert client.get("/en/calendar.ics", headers={"if-none-match": '"other"'}).status_code == 200


def test_if_modified_since(client: httpx.Client) -> None:
    assert client.get("/calendar.ics", headers={"if-modified-since": "Fri, 15 Jan 2027 12:00:00 GMT"}
                      ).status_code == 304
    assert client.get("/calendar.ics", headers={"if-modified-since": "Thu, 14 Jan 2027 12:00:00 GMT"}
                      ).status_code == 200
    assert client.get("/calendar.ics", headers={"if-modified-since": "yesterday"}).status_code == 200


def test_gzip_when_asked(base: str, state: SiteState) -> None:
    with httpx.Client(base_url=base) as c:
        raw = c.get("/calendar.ics", headers={"accept-encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.content == state.site.resources["/calendar.ics"].body  # httpx decodes
        assert int(raw.headers["content-length"]) < len(raw.content)
        again = c.get("/calendar.ics", headers={"accept-encoding": "gzip",
                                                 "if-none-match": raw.headers["etag"]})
        assert again.status_code == 304
        plain = c.get("/calendar.ics", headers={"accept-encoding": "gzip;q=0"})
        assert "content-encoding" not in plain.headers
        refused = c.get("/calendar.ics", headers={"accept-encoding": "*, gzip;q=0"})
        assert "content-encoding" not in refused.headers  # the explicit refusal wins over *
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) as s:
        s.sendall(b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    body = data.split(b"\r\n\r\n", 1)[1]
    assert gzip.decompress(body) == state.site.resources["/calendar.ics"].body


def test_pages_json_and_assets(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<html lang="es">' in page.text
    assert client.get("/en/").text.startswith('<!doctype html>\n<html lang="en">')
    alias = client.get("/en/index.html")
    assert alias.status_code == 308 and alias.headers["location"] == "./"
    assert client.get("/days/world-water-day/").status_code == 200
    days = client.get("/days.json")
    assert days.headers["content-type"] == "application/json"
    assert {d["id"] for d in days.json()["days"]} == {"world-water-day", "world-habitat-day",
                                                      "human-rights-day"}
    assert client.get("/static/style.css").headers["content-type"] == "text/css; charset=utf-8"


def test_head_gives_headers_only(client: httpx.Client) -> None:
    r = client.head("/calendar.ics")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 1000


def test_folder_without_slash_redirects(client: httpx.Client) -> None:
    r = client.get("/days/world-water-day?x=1")
    assert r.status_code == 308
    assert r.headers["location"] == "world-water-day/?x=1"
    assert str(r.next_request.url).endswith("/days/world-water-day/?x=1")  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ["/nope", "/calendar.ics/", "/../../etc/passwd",
                                  "/%2e%2e/%2e%2e/etc/passwd", "/static/../../pyproject.toml",
                                  "/days/..%2f..%2fpyproject.toml", "//etc/passwd"])
def test_unknown_paths_and_traversal_are_404(base: str, path: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:  # raw: no client-side normalising
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 404 "), data[:80]
    assert b"[tool." not in data and b"root:" not in data


def test_other_methods_are_405(client: httpx.Client) -> None:
    r = client.post("/calendar.ics", content=b"x")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_days_json_filters_by_theme_and_rejects_bad_queries(client: httpx.Client) -> None:
    r = client.get("/en/days.json", params={"theme": "derechos-humanos"})
    assert r.status_code == 200
    assert {d["id"] for d in r.json()["days"]} == {"world-habitat-day", "human-rights-day"}
    bad = client.get("/days.json", params={"theme": "nope"})
    assert bad.status_code == 400 and "unknown theme 'nope'" in bad.json()["error"]
    assert client.get("/days.json", params={"limit": "x"}).status_code == 400
    assert client.get("/days.json?theme=%ff").status_code == 400
    assert client.get("/days.json?theme").status_code == 400
    # feeds ignore query strings (calendar apps and links add their own)
    assert client.get("/calendar.ics?utm_source=mail").status_code == 200


def test_healthz_is_json(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    info = r.json()
    assert info["status"] == "ok" and info["today"] == "2027-03-01"
    assert info["feeds"] == 8 and info["days"] == 3


def test_swapping_the_site_changes_responses_at_once(tmp_path: Path) -> None:
    state = SiteState(golden_site())
    with serving(create_app(state)) as base, httpx.Client(base_url=base) as c:
        first = c.get("/calendar.ics")
        days = tmp_path / "days.yaml"
        days.write_text((GOLDEN / "days.yaml").read_text().replace("Ciudades para todos.",
                                                                   "Ciudades para todas."))
        state.swap(golden_site(now=NOW + timedelta(days=1), days=days))
        second = c.get("/calendar.ics", headers={"if-none-match": first.headers["etag"]})
        assert second.status_code == 200 and b"Ciudades para todas." in second.content
        assert second.headers["etag"] != first.headers["etag"]


def test_lifespan_and_health_hooks(tmp_path: Path) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        events.append("start")
        yield
        events.append("stop")

    app = create_app(SiteState(golden_site()), lifespan=lifespan,
                     health=lambda: {"scheduler": "running", "next_sweep": "2027-03-01T09:00Z"})
    with serving(app) as base:
        info = httpx.get(base + "/healthz").json()
        assert events == ["start"]
    assert events == ["start", "stop"]
    assert info["scheduler"] == "running" and info["status"] == "ok"


def test_refresh_keeps_serving_when_the_new_data_is_bad(tmp_path: Path) -> None:
    from calendar_service.base.settings import load_settings
    from calendar_service.publishing.web import Publisher

    days = tmp_path / "days.yaml"
    days.write_text((GOLDEN / "days.yaml").read_text())
    settings = load_settings({"days": str(days), "data_dir": str(tmp_path / "data")}, environ={})
    publisher = Publisher(settings, fixed_today=TODAY)
    state = SiteState(publisher.build(NOW), rebuild=publisher.rebuild_if_changed)
    assert state.refresh(NOW + timedelta(minutes=1)) is False  # nothing changed
    days.write_text(days.read_text().replace('"03-22"', '"02-30"'))
    assert state.refresh(NOW + timedelta(minutes=2)) is False
    assert state.last_error and '"02-30" is not a date' in state.last_error
    assert "/days/world-water-day/" in state.site.resources  # still the old site
    days.write_text(days.read_text().replace('"02-30"', '"03-23"'))
    assert state.refresh(NOW + timedelta(minutes=3)) is True
    assert state.last_error is None
    assert state.site.days["es"][0]["date"] == "2027-03-23"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_command_serves_the_bundled_days(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CALENDAR_SERVICE_DATA_DIR": str(tmp_path),
           "CALENDAR_SERVICE_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "calendar_service", "serve", "--today",
                             "2027-03-01"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.05)
        assert r.json()["today"] == "2027-03-01"
        feed = httpx.get(f"http://127.0.0.1:{port}/calendar.ics")
        assert feed.status_code == 200 and b"world-water-day-2027@" in feed.content
        assert json.loads(httpx.get(f"http://127.0.0.1:{port}/en/days.json").content)["language"] == "en"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_with_bad_data_exits_2_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "days.yaml"
    bad.write_text("version: 1\nthemes: {}\ndays: [{id: x}]\n")
    result = subprocess.run([sys.executable, "-m", "calendar_service", "serve", "--days", str(bad),
                             "--data-dir", str(tmp_path), "--port", "1"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "days[0]" in result.stderr and "Traceback" not in result.stderr


def test_cards_are_served_as_png_with_validators_and_a_cache_policy(tmp_path: Path) -> None:
    from calendar_service.publishing.cards.site_cards import site_cards

    catalog = load_days(GOLDEN / "days.yaml")
    site, _ = build_site(catalog, today=TODAY, now=NOW, state=PublishState(),
                         publication=publication(), renderer=renderer(),
                         cards=site_cards(catalog, TODAY, tmp_path))
    with serving(create_app(SiteState(site))) as url, httpx.Client(base_url=url) as client:
        r = client.get("/cards/world-water-day-es-1200x630.png", headers={"accept-encoding": "gzip"})
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
        assert r.headers["content-type"] == "image/png"
        assert r.headers["cache-control"] == "public, max-age=3600"
        assert "content-encoding" not in r.headers  # a PNG is compressed already
        again = client.get("/cards/world-water-day-es-1200x630.png",
                           headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304
        assert client.get("/cards/world-habitat-day-2027-en-1080x1920.png").status_code == 200
        assert client.get("/cards/human-rights-day-en-1200x630.png").status_code == 404
