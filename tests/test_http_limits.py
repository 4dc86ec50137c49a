"""Bounded HTTP: what one client may cost `serve`, over real sockets.

Most tests run uvicorn exactly as `serve` configures it, in a thread on an ephemeral port, with
small limits and timeouts (a fraction of a second), so nothing waits long. The last ones start a
real `serve` process and attack it as the hostile-input trial did: 25 MB headers, a 1 MB
unsubscribe POST, slow-loris connections, a client that hangs up mid-body.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailtest import FULL_DAYS, OFFICES, free_port
from test_web import golden_site
from webtools import ROOT, serving

from calendar_service.mail.unsubscribe import token
from calendar_service.publishing.web import SiteState, create_app
from calendar_service.runs.http_limits import HttpLimits

SMALL = HttpLimits(max_header_bytes=4096, max_headers=20, max_body_bytes=1024,
                   header_timeout=0.5, body_timeout=0.5, max_connections=4)
SLACK = 3.0  # seconds a timed-out connection may take past its timeout on a loaded machine


@pytest.fixture(scope="module")
def state() -> SiteState:
    return SiteState(golden_site())


@pytest.fixture
def base(state: SiteState) -> Iterator[str]:
    with serving(create_app(state), SMALL) as url:
        yield url


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after the answer counts as closed)."""
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def closed_within(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    """What the server sent before closing, and how long that took."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        data = read_all(sock)
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for more than {seconds} s")
    return data, time.monotonic() - start


# -- headers -----------------------------------------------------------------------------------


def test_headers_over_the_size_limit_get_431(base: str) -> None:
    r = httpx.get(base + "/calendar.ics", headers={"x-big": "a" * 5000}, timeout=10)
    assert r.status_code == 431
    assert r.headers["connection"] == "close"
    assert "demasiado grandes" in r.text


def test_a_long_request_line_counts_towards_the_header_limit(base: str) -> None:
    assert httpx.get(base + "/calendar.ics?" + "a" * 5000, timeout=10).status_code == 431


def test_headers_just_under_the_limit_are_served(base: str) -> None:
    r = httpx.get(base + "/calendar.ics", headers={"x-big": "a" * 3000}, timeout=10)
    assert r.status_code == 200


def test_more_headers_than_the_limit_get_431(base: str) -> None:
    many = [(f"x-h{i}", "1") for i in range(21)]
    assert httpx.get(base + "/calendar.ics", headers=many, timeout=10).status_code == 431
    few = [(f"x-h{i}", "1") for i in range(12)]
    assert httpx.get(base + "/calendar.ics", headers=few, timeout=10).status_code == 200


def test_the_header_limit_is_per_request_on_a_kept_alive_connection(base: str) -> None:
    with httpx.Client(base_url=base, headers={"x-pad": "a" * 3000}, timeout=10) as client:
        for _ in range(20):
            assert client.get("/calendar.ics").status_code == 200


def test_a_kept_alive_connection_serves_requests_then_closes_when_idle_past_the_keep_alive(
        state: SiteState) -> None:
    keep_alive = 1.0  # uvicorn's timeout_keep_alive, kept by the sweep instead of a timer
    limits = HttpLimits(**{**SMALL.__dict__, "header_timeout": 2.0})
    with serving(create_app(state), limits, timeout_keep_alive=keep_alive) as base:
        sock = connect(base)
        for _ in range(3):  # one after the other: the connection stays
            sock.sendall(b"HEAD /calendar.ics HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_all_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 200 ")
        time.sleep(0.8 * keep_alive)
        sock.sendall(b"HEAD /calendar.ics HTTP/1.1\r\nHost: x\r\n")  # in time, but slowly:
        time.sleep(0.6 * keep_alive)  # the header timeout counts now, not the keep-alive
        sock.sendall(b"\r\n")
        data, took = closed_within(sock, keep_alive + SLACK)  # then idle: closed
        assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"HTTP/1.1") == 1
        assert took >= keep_alive - 0.1


def test_a_connection_answered_before_its_body_came_closes_when_idle_past_the_keep_alive(
        state: SiteState) -> None:
    keep_alive = 1.0
    with serving(create_app(state), SMALL, timeout_keep_alive=keep_alive) as base:
        sock = connect(base)
        sock.sendall(b"POST /calendar.ics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
        assert read_all_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 405 ")
        sock.sendall(b"67890")  # the rest of the body, after the answer
        closed_within(sock, keep_alive + SLACK)  # then idle: closed, not kept for ever


def test_pipelined_requests_in_one_packet_are_all_answered(base: str) -> None:
    sock = connect(base)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    sock.sendall(request * 3 + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, _ = closed_within(sock, 10)
    assert data.count(b"HTTP/1.1 200 OK") == 4


# -- bodies ------------------------------------------------------------------------------------


def test_a_body_over_the_limit_gets_413_not_a_reset(base: str) -> None:
    r = httpx.post(base + "/calendar.ics", content=b"x" * 1_000_000, timeout=10)
    assert r.status_code == 413
    assert "demasiado grande" in r.text


async def body_reader(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An application that reads the whole body before it answers (as the unsubscribe page
    does), and says how long it was."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size, more = size + len(message.get("body", b"")), message.get("more_body", False)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def reader() -> Iterator[str]:
    with serving(body_reader, SMALL) as url:
        yield url


def test_a_chunked_body_over_the_limit_gets_413(reader: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 100

    r = httpx.post(reader + "/", content=chunks(), timeout=10)
    assert r.status_code == 413


def test_a_body_within_the_limit_reaches_the_application(reader: str) -> None:
    r = httpx.post(reader + "/", content=b"x" * 1000, timeout=10)
    assert r.status_code == 200 and r.text == "1000"
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 100

    assert httpx.post(reader + "/", content=chunks(), timeout=10).text == "1000"


# -- time --------------------------------------------------------------------------------------


def test_headers_that_stop_coming_get_408_within_the_timeout(base: str) -> None:
    sock = connect(base)
    sock.sendall(b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\n")
    data, _ = closed_within(sock, SMALL.header_timeout + SLACK)
    assert data.startswith(b"HTTP/1.1 408 ")


def test_trickled_headers_are_cut_off_at_the_deadline_not_per_byte(base: str) -> None:
    sock = connect(base)
    start = time.monotonic()
    sock.sendall(b"GET /calendar.ics HTTP/1.1\r\n")
    cut = None
    while time.monotonic() - start < SMALL.header_timeout + SLACK:
        try:
            sock.sendall(b"X-A: b\r\n")  # a line every 50 ms: never idle, never done
        except OSError:
            cut = time.monotonic() - start
            break
        time.sleep(0.05)
    data, _ = closed_within(sock, SLACK)
    assert data.startswith(b"HTTP/1.1 408 ") or cut is not None


def test_a_second_request_that_stalls_in_the_same_packet_as_the_first_gets_408(base: str) -> None:
    sock = connect(base)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n")
    data, _ = closed_within(sock, SMALL.header_timeout + SLACK)
    assert data.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in data


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(base: str) -> None:
    data, _ = closed_within(connect(base), SMALL.header_timeout + SLACK)
    assert data == b""


def test_a_body_that_stops_coming_gets_408(reader: str) -> None:
    sock = connect(reader)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    data, _ = closed_within(sock, SMALL.body_timeout + SLACK)
    assert data.startswith(b"HTTP/1.1 408 ")


# -- connections -------------------------------------------------------------------------------


def test_slow_loris_connections_past_the_limit_make_room_for_normal_clients(base: str) -> None:
    slow = []
    for _ in range(3 * SMALL.max_connections):
        sock = connect(base)
        sock.sendall(b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        slow.append(sock)
    for _ in range(5):
        assert httpx.get(base + "/calendar.ics", timeout=10).status_code == 200
    for sock in slow:  # every one of them is cut off, however many there were
        closed_within(sock, SMALL.header_timeout + SLACK)


def test_when_every_connection_is_busy_a_new_one_gets_503() -> None:
    patient = HttpLimits(**{**SMALL.__dict__, "body_timeout": 30.0})
    with serving(body_reader, patient) as base:
        busy = []
        for _ in range(patient.max_connections):  # each in the middle of sending a body
            sock = connect(base)
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            busy.append(sock)
        time.sleep(0.2)  # let the server take them all (no deadline is near)
        r = httpx.get(base + "/", timeout=10)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        for sock in busy:
            sock.sendall(b"cdefghij")  # the bodies complete: the application answers each
            assert read_all_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 200 ")
        assert httpx.get(base + "/", timeout=10).status_code == 200


def read_all_until(sock: socket.socket, marker: bytes) -> bytes:
    out = b""
    while marker not in out:
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


# -- logging -----------------------------------------------------------------------------------


def test_refusals_are_logged_at_info_and_not_once_per_request(
        base: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="calendar_service.runs.http")
    for _ in range(5):
        assert httpx.get(base + "/", headers={"x-big": "a" * 5000}, timeout=10).status_code == 431
    lines = [r for r in caplog.records if "status=431" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO


# -- a real `serve` process --------------------------------------------------------------------


SECRET = "s3cret-for-tests-only-0123456789"


class ServeProcess:
    """`calendar-service serve` with its log in a file, read while it runs."""

    def __init__(self, tmp: Path, **settings: str) -> None:
        for name, text in (("days.yaml", FULL_DAYS), ("offices.yaml", OFFICES)):
            (tmp / name).write_text(text, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALENDAR_SERVICE_")}
        env.update({"NO_COLOR": "1", "CALENDAR_SERVICE_DAYS": str(tmp / "days.yaml"),
                    "CALENDAR_SERVICE_OFFICES": str(tmp / "offices.yaml"),
                    "CALENDAR_SERVICE_DATA_DIR": str(tmp / "data"),
                    "CALENDAR_SERVICE_BASE_URL": "https://dias.example.org",
                    "CALENDAR_SERVICE_SECRET": SECRET,
                    "CALENDAR_SERVICE_CARD_CACHE": os.environ.get("CALENDAR_SERVICE_CARD_CACHE", ""),
                    **{f"CALENDAR_SERVICE_{k.upper()}": v for k, v in settings.items()}})
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "calendar_service", "serve", "--no-send", "--port",
                 str(self.port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0]) / 1024

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        return self.log.read_text()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path_factory.mktemp("serve"), header_timeout="1", body_timeout="1",
                          max_connections="64")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_forty_requests_with_25_mb_headers_get_431_and_do_not_grow_the_process(
        serve: ServeProcess) -> None:
    before = serve.rss_mb()
    answers: list[bytes] = []

    def attack() -> None:
        sock = connect(serve.base)
        try:
            sock.sendall(b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(25 * 16):
                sock.sendall(b"a" * 65536)
            sock.sendall(b"\r\n\r\n")
        except OSError:
            pass  # cut off after the answer: what was answered is read below
        answers.append(read_all(sock)[:40])

    threads = [threading.Thread(target=attack) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(answers) == 40
    assert all(a.startswith(b"HTTP/1.1 431 ") for a in answers), set(answers)
    assert serve.rss_mb() - before < 30  # the trial saw 81 -> 1,505 MB
    assert httpx.get(serve.base + "/calendar.ics", timeout=10).status_code == 200


@pytest.mark.parametrize("office_token", [token(SECRET, "quintana-roo"), "not-the-token"])
def test_an_unsubscribe_post_with_a_1_mb_body_gets_413(serve: ServeProcess,
                                                         office_token: str) -> None:
    r = httpx.post(f"{serve.base}/unsubscribe/quintana-roo?t={office_token}",
                   content=b"List-Unsubscribe=One-Click&" + b"x" * 1_000_000,
                   headers={"content-type": "application/x-www-form-urlencoded"}, timeout=10)
    assert r.status_code == 413


def test_a_slow_loris_client_is_cut_off_in_seconds_while_others_get_the_feed(
        serve: ServeProcess) -> None:
    slow = []
    for _ in range(100):  # more than MAX_CONNECTIONS (64)
        sock = connect(serve.base)
        sock.sendall(b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\nX-A: b\r\n")
        slow.append(sock)
    start = time.monotonic()
    while time.monotonic() - start < 1.5:  # all through the slow clients' header timeout
        assert httpx.get(serve.base + "/calendar.ics", timeout=10).status_code == 200
    for sock in slow:
        closed_within(sock, 1 + SLACK)


def test_a_client_that_hangs_up_mid_body_is_logged_at_info_without_a_traceback(
        serve: ServeProcess) -> None:
    sock = connect(serve.base)
    sock.sendall(f"POST /unsubscribe/quintana-roo?t={token(SECRET, 'quintana-roo')} HTTP/1.1\r\n"
                 "Host: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 "Content-Length: 1000\r\n\r\nList-Unsub".encode())
    time.sleep(0.2)  # the application is reading the body
    sock.close()
    deadline = time.monotonic() + 10
    while "event=client-disconnected" not in serve.log.read_text():
        assert time.monotonic() < deadline, serve.log.read_text()
        time.sleep(0.05)
    log_text = serve.log.read_text()
    line = next(x for x in log_text.splitlines() if "event=client-disconnected" in x)
    assert "level=INFO" in line
    assert "level=ERROR" not in log_text and "Traceback" not in log_text


def test_http_limits_come_from_the_settings() -> None:
    from calendar_service.base.settings import load_settings

    s = load_settings({"max_header_kb": "8", "max_headers": "50", "max_body_kb": "16",
                       "header_timeout": "2.5", "body_timeout": "4", "max_connections": "10"},
                      environ={})
    assert HttpLimits.from_settings(s) == HttpLimits(8192, 50, 16384, 2.5, 4.0, 10)
    assert HttpLimits.from_settings(load_settings(environ={})) == HttpLimits()


def test_serve_raises_its_open_file_limit_to_fit_twice_the_connections() -> None:
    import resource

    from calendar_service.runs.http_limits import raise_open_files

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * 1000 + 128:
        pytest.skip(f"the hard open-file limit here is {hard}")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # systemd's default soft limit
        raise_open_files(HttpLimits(max_connections=1000))
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 2 * 1000 + 128
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
