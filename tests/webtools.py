"""Test helpers: a real uvicorn server on an ephemeral loopback port, and the feed's inputs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
TODAY = date(2027, 3, 1)
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
BASE_URL = "https://dias.example.org"
UID_DOMAIN = "calendar-service.conago.example"


def publication() -> Any:
    from calendar_service.publishing.feed import Publication

    return Publication(BASE_URL, UID_DOMAIN)


def renderer() -> Any:
    from calendar_service.publishing.render import Renderer

    return Renderer(ROOT / "templates")


@contextmanager
def serving(app: Any, limits: Any = None, **options: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL; stop it cleanly.

    With ``limits`` (an ``HttpLimits``) it is uvicorn exactly as ``serve`` configures it;
    ``options`` go to uvicorn's Config (e.g. ``timeout_keep_alive``)."""
    import uvicorn

    from calendar_service.runs.runtime import server_config

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = (uvicorn.Config(app, log_level="warning", lifespan="on", **options)
              if limits is None else
              server_config(app, limits, log_config=None, lifespan="on", **options))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
