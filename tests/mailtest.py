"""Shared pieces of the reminder tests: a small catalog with full content, offices in several
time zones, settings in a temporary folder, a real aiosmtpd server, and PostgreSQL when reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT, write

FULL_DAYS = """\
version: 2
themes:
  medio-ambiente: {es: Medio ambiente, en: Environment}
  derechos-humanos: {es: Derechos humanos, en: Human rights}
  cultura: {es: Cultura, en: Culture}
bodies:
  unga:
    es: Asamblea General de las Naciones Unidas
    en: United Nations General Assembly
    by: {es: la Asamblea General de las Naciones Unidas, en: the United Nations General Assembly}
    un: true
  unesco: {es: UNESCO, en: UNESCO, by: {es: la UNESCO, en: UNESCO}, un: true}
days:
  - id: elimination-of-racial-discrimination-day
    date: "03-21"
    annex: true
    name:
      es: Día Internacional de la Eliminación de la Discriminación Racial
      en: International Day for the Elimination of Racial Discrimination
    proclaimed_by: unga
    resolution: A/RES/2142 (XXI)
    proclaimed: 1966-10-26
    sources: [https://undocs.org/A/RES/2142(XXI)]
    themes: [derechos-humanos]
    sdgs: [10, 16]
    url: {en: https://www.un.org/en/observances/end-racism-day}
    content:
      es:
        summary: El 21 de marzo llama a erradicar el racismo y toda forma de discriminación racial.
        why: Los gobiernos estatales atienden a comunidades indígenas, afromexicanas y migrantes.
        key_messages:
          - La igualdad de trato es un derecho de todas las personas.
          - El estado trabaja con sus comunidades contra la discriminación.
          - Denunciar el racismo es parte de la solución.
        posts:
          - Hoy reafirmamos el compromiso con la igualdad y contra el racismo.
          - Ninguna persona debe ser discriminada por su origen o color de piel.
          - Conozca cómo denunciar un acto de discriminación en nuestro estado.
        press_line: El gobierno del estado se suma al llamado de la ONU contra la discriminación racial.
        hashtags: ["#FinAlRacismo"]
      en:
        summary: On 21 March the world calls for an end to racism and racial discrimination.
        why: State governments serve Indigenous, Afro-Mexican and migrant communities.
        key_messages:
          - Equal treatment is everyone's right.
          - The state works with its communities against discrimination.
          - Reporting racism is part of the solution.
        posts:
          - Today we renew our commitment to equality and against racism.
          - No one should be discriminated against for their origin or skin colour.
          - Find out how to report discrimination in our state.
        press_line: The state government joins the UN call against racial discrimination.
        hashtags: ["#FightRacism"]
    years:
      2027:
        theme: {es: Voces por la igualdad, en: Voices for equality}
  - id: international-day-of-forests
    date: "03-21"
    annex: true
    name: {es: Día Forestal Mundial, en: World Forestry Day}
    official_name: {es: Día Internacional de los Bosques, en: International Day of Forests}
    proclaimed_by: unga
    resolution: A/RES/67/200
    proclaimed: 2012-12-21
    themes: [medio-ambiente]
    sdgs: [13, 15]
    url: {en: https://www.un.org/en/observances/forests-and-trees-day}
    content:
      es:
        summary: El 21 de marzo destaca el valor de los bosques para la vida.
        key_messages:
          - Los bosques nos dan agua y aire limpio.
          - Cuidar los bosques es tarea de todos.
          - El estado impulsa la reforestación.
        posts:
          - Un bosque sano es agua para mañana.
          - Súmese a la reforestación en su municipio.
          - Los bosques también son cultura.
        hashtags: ["#DíaDeLosBosques"]
      en:
        summary: On 21 March the world celebrates forests.
  - id: world-poetry-day
    date: "03-21"
    annex: true
    name: {es: Día Mundial de la Poesía, en: World Poetry Day}
    proclaimed_by: unesco
    proclaimed: 1999
    since: 2000
    themes: [cultura]
    content:
      es: {summary: El 21 de marzo celebra la poesía.}
  - id: world-water-day
    date: "03-22"
    annex: true
    name: {es: Día Mundial del Agua, en: World Water Day}
    proclaimed_by: unga
    themes: [medio-ambiente]
    sdgs: [6]
    content:
      es:
        summary: El agua & el saneamiento <para todos>.
        key_messages: ["Agua & saneamiento <b>para todos</b>"]
      en: {summary: Water & sanitation for all.}
"""

OFFICES = """\
version: 1
offices:
  - id: baja-california
    name: Oficina de Baja California
    state: Baja California
    emails: [bc@example.org]
    timezone: America/Tijuana
    lead_days: [14, 3]
  - id: quintana-roo
    name: Oficina de Quintana Roo
    state: Quintana Roo
    emails: [qroo@example.org, prensa.qroo@example.org]
    timezone: America/Cancun
    lead_days: [14, 3]
  - id: cdmx-en
    name: International Office of Mexico City
    state: Ciudad de México
    emails: [cdmx@example.org]
    timezone: America/Mexico_City
    language: en
    themes: [medio-ambiente]
    lead_days: [3]
"""

CANCUN = ZoneInfo("America/Cancun")
SENDING_SINCE = datetime.fromisoformat("2027-03-01T00:00:00+00:00")
TIJUANA = ZoneInfo("America/Tijuana")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def many_offices(n: int, timezone: str = "America/Cancun") -> str:
    lines = ["version: 1", "offices:"]
    for i in range(n):
        lines += [f"  - id: office-{i:04d}", f"    name: Oficina {i}",
                  f"    emails: [office{i}@example.org]", f"    timezone: {timezone}",
                  "    lead_days: [3]"]
    return "\n".join(lines) + "\n"


def crowd_env(tmp_path: Path, offices: int, *, port: int | None = None, data: str = "data",
              **settings: str) -> dict[str, str]:
    """CALENDAR_SERVICE_* for a real process over FULL_DAYS and ``offices`` generated offices
    (in Cancun), an SMTP server on ``port`` if given, and any other setting by name; the ledger
    has been sending since SENDING_SINCE (see ``mail_env``)."""
    days = write(tmp_path, "days.yaml", FULL_DAYS)
    listed = write(tmp_path, "offices.yaml", many_offices(offices))
    env = {"CALENDAR_SERVICE_DAYS": str(days), "CALENDAR_SERVICE_OFFICES": str(listed),
           "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / data)}
    if port is not None:
        env["CALENDAR_SERVICE_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    env.update({f"CALENDAR_SERVICE_{name.upper()}": value for name, value in settings.items()})
    running_since_env(env, SENDING_SINCE.isoformat())  # a ledger already sending: not a first run
    return env


def crowd_run(tmp_path: Path, offices: int, port: int, **changes: Any) -> tuple[Any, Any, Any]:
    """(settings, catalog, offices) for an in-process send_due over the same files."""
    from calendar_service.base.settings import load_settings
    from calendar_service.data.loader import load_all

    env = crowd_env(tmp_path, offices)
    settings = load_settings({"days": env["CALENDAR_SERVICE_DAYS"],
                              "offices": env["CALENDAR_SERVICE_OFFICES"],
                              "data_dir": env["CALENDAR_SERVICE_DATA_DIR"],
                              "templates": str(ROOT / "templates"), "trial_sending": True},
                             environ={})
    catalog, office_list = load_all(settings.days, settings.offices)
    return (replace(settings, smtp_url=f"smtp://127.0.0.1:{port}", **changes), catalog,
            office_list)


@pytest.fixture
def mail_env(tmp_path: Path) -> dict[str, Any]:
    """Files and settings for one test: full catalog, three offices, data in tmp_path, and a
    ledger that has been sending since 1 March 2027 (SENDING_SINCE): what a test's run finds
    missed is a late notice, as after an outage. ``fresh_mail_env`` is a fresh install."""
    env = _mail_env(tmp_path)
    running_since(env["settings"], env["catalog"], env["offices"], SENDING_SINCE)
    return env


@pytest.fixture
def fresh_mail_env(tmp_path: Path) -> dict[str, Any]:
    """``mail_env`` on a fresh install: the ledger does not exist yet."""
    return _mail_env(tmp_path)


def _mail_env(tmp_path: Path) -> dict[str, Any]:
    from calendar_service.base.settings import load_settings
    from calendar_service.data.loader import load_all

    days = write(tmp_path, "days.yaml", FULL_DAYS)
    offices = write(tmp_path, "offices.yaml", OFFICES)
    settings = load_settings({"days": str(days), "offices": str(offices),
                              "data_dir": str(tmp_path / "data"),
                              "templates": str(ROOT / "templates"),
                              "base_url": "https://dias.example.org",
                              "smtp_from": "Días internacionales <dias@example.org>",
                              "trial_sending": True},
                             environ={})
    catalog, office_list = load_all(days, offices)
    return {"settings": settings, "catalog": catalog, "offices": office_list,
            "days_file": days, "offices_file": offices, "tmp": tmp_path}


# -- a real SMTP server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps every accepted message and can script replies."""

    messages: list[Any] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)  # popped before accepting
    refuse: dict[str, str] = field(default_factory=dict)  # address -> RCPT reply

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append(envelope)
        return "250 OK queued"


def message_ids(handler: Recorder) -> Counter[bytes]:
    """How many times the server accepted each Message-ID (each must be 1: sent once)."""
    return Counter(e.original_content.split(b"Message-ID: ")[1].split(b"\r\n")[0]
                   for e in handler.messages)


@contextlib.contextmanager
def serving(handler: Any) -> Iterator[int]:
    """An aiosmtpd server for ``handler`` on an ephemeral loopback port."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    handler = Recorder()
    with serving(handler) as port:
        yield handler, port


@dataclass
class Gate:
    """Holds the SMTP server's first DATA until the test lets it go."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def hold_first_data(handler: Recorder, reply_when_released: str | None = None) -> Gate:
    """Make ``handler`` keep the first DATA waiting on a gate (a client mid-send), then answer it
    with ``reply_when_released`` (or accept it as usual)."""
    gate = Gate()
    original = handler.handle_DATA

    async def held(server: Any, session: Any, envelope: Any) -> str:
        if not gate.release.is_set():
            gate.arrived.set()
            while not gate.release.is_set():
                await asyncio.sleep(0.01)
            if reply_when_released is not None:
                return reply_when_released
        return await original(server, session, envelope)

    handler.handle_DATA = held  # type: ignore[method-assign]
    return gate


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``calendar-service`` as a real process, with the test's settings and no debug switches."""
    full = {**os.environ, "NO_COLOR": "1", **env}
    for key in ("CALENDAR_SERVICE_DEBUG", "CALENDAR_SERVICE_LOG_LEVEL"):
        full.pop(key, None)
    return subprocess.Popen([sys.executable, "-m", "calendar_service", *args], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The ledger on a SQLite file, and again on a fresh PostgreSQL schema when reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        yield from postgres_url_or_skip()


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, made with cryptography."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calendar-service test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def no_sleep(seconds: float) -> None:
    """Injected instead of asyncio.sleep: the retry delays are recorded, never waited."""
    no_sleep.calls.append(seconds)  # type: ignore[attr-defined]


no_sleep.calls = []  # type: ignore[attr-defined]


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


# -- PostgreSQL ---------------------------------------------------------------------------------

PG_URL = os.environ.get("CALENDAR_SERVICE_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")


def postgres_url_or_skip() -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards; skip when it is unreachable."""
    import psycopg

    base = PG_URL
    conn = None
    for user in ("postgres", "root", None):
        url = base if user is None or "@" in base else base.replace("://", f"://{user}@", 1)
        try:
            conn = psycopg.connect(url, connect_timeout=3, autocommit=True)
            base = url
            break
        except psycopg.Error:
            continue
    if conn is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} (set CALENDAR_SERVICE_TEST_POSTGRES_URL)")
    schema = f"cs_test_{uuid.uuid4().hex[:10]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def with_settings(settings: Any, **changes: Any) -> Any:
    return replace(settings, **changes)


def running_since(settings: Any, catalog: Any, offices: Any, when: datetime) -> None:
    """The ledger has been sending since ``when``: its first run saw these offices, leads and days
    then, so what later runs find missed is a late notice (a restart after an outage), not a
    fresh start (which sends nothing scheduled before it)."""
    from calendar_service.mail.ledger import Ledger

    with Ledger(settings.database_url) as ledger:
        ledger.see(offices, catalog.days, when)


def running_since_env(env: dict[str, str], when: str) -> None:
    """``running_since`` for the files and data folder of a real process's environment."""
    from calendar_service.base.settings import load_settings
    from calendar_service.data.loader import load_all

    wanted = ("DAYS", "OFFICES", "DATA_DIR", "DATABASE_URL")  # not a test's deliberately bad ones
    settings = load_settings({}, environ={f"CALENDAR_SERVICE_{k}": env[f"CALENDAR_SERVICE_{k}"]
                                          for k in wanted if f"CALENDAR_SERVICE_{k}" in env})
    catalog, offices = load_all(settings.days, settings.offices)
    running_since(settings, catalog, offices, datetime.fromisoformat(when))
