"""A first deployment an office would trust: safe defaults for real sending, a test send, your own
data files (init), the doctor, and what send-due and daily tell a person. Real processes, a real
aiosmtpd relay on loopback, a real uvicorn for BASE_URL."""

from __future__ import annotations

import email
import os
import pty
import re
import select
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, write
from mailtest import (
    FULL_DAYS,
    OFFICES,
    Recorder,
    cli,
    free_port,
    make_cert,
    running_since_env,
    serving,
)

NOW = "2027-03-18T16:00:00+00:00"  # 09:00 in Tijuana, 11:00 in Cancún: reminders are due
# The offices of mailtest at domains that are not reserved for examples.
REAL_OFFICES = OFFICES.replace("@example.org", "@oficinas.gob.mx")
READY = {"CALENDAR_SERVICE_BASE_URL": "https://dias.conago.mx",
         "CALENDAR_SERVICE_SMTP_FROM": "Días internacionales <dias@conago.mx>",
         "CALENDAR_SERVICE_UNSUBSCRIBE": "mailto:dias@conago.mx?subject=baja"}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = cli(*args, env=env)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_on_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """The command with its standard output on a pseudo-terminal, as a person runs it."""
    import sys

    master, slave = pty.openpty()
    full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **env}
    proc = subprocess.Popen([sys.executable, "-m", "calendar_service", *args], env=full,
                            stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    proc.wait(timeout=30)
    proc.stderr.close()  # type: ignore[union-attr]
    return proc.returncode, b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    days = write(tmp_path, "days.yaml", FULL_DAYS)
    offices = write(tmp_path, "offices.yaml", OFFICES)
    return {"CALENDAR_SERVICE_DAYS": str(days), "CALENDAR_SERVICE_OFFICES": str(offices),
            "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def real(tmp_path: Path, files: dict[str, str]) -> dict[str, str]:
    """Files and settings of a deployment with nothing an example: real sending may start."""
    offices = write(tmp_path, "real-offices.yaml", REAL_OFFICES)
    return {**files, **READY, "CALENDAR_SERVICE_OFFICES": str(offices)}


@pytest.fixture
def relay() -> Iterator[tuple[Recorder, int]]:
    handler = Recorder()
    with serving(handler) as port:
        yield handler, port


@pytest.fixture
def no_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALENDAR_SERVICE_TRIAL_SENDING")


# -- safe defaults --------------------------------------------------------------------------------


def test_send_due_with_a_relay_and_example_addresses_exits_2_naming_what_to_change(
        no_trial: None, files: dict[str, str], relay: tuple[Recorder, int]) -> None:
    handler, port = relay
    result = run("send-due", "--now", NOW,
                 env={**files, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    assert result.returncode == 2
    assert "nothing was sent" in result.stderr
    assert "CALENDAR_SERVICE_BASE_URL" in result.stderr  # the default http://localhost:8000
    assert "CALENDAR_SERVICE_SMTP_FROM" in result.stderr
    assert "CALENDAR_SERVICE_UNSUBSCRIBE" in result.stderr
    assert f"{files['CALENDAR_SERVICE_OFFICES']}: 4 example addresses" in result.stderr
    assert "Traceback" not in result.stderr
    assert handler.messages == []


def test_a_loopback_base_url_alone_blocks_real_sending(
        no_trial: None, real: dict[str, str], relay: tuple[Recorder, int]) -> None:
    handler, port = relay
    env = {**real, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}",
           "CALENDAR_SERVICE_BASE_URL": "http://127.0.0.1:8080"}
    result = run("send-due", "--now", NOW, env=env)
    assert result.returncode == 2
    assert "CALENDAR_SERVICE_BASE_URL is 'http://127.0.0.1:8080' (a loopback address)" in (
        result.stderr)
    assert "SMTP_FROM" not in result.stderr and "example address" not in result.stderr
    assert handler.messages == []


def test_daily_builds_the_site_but_sends_nothing_until_the_settings_are_safe(
        no_trial: None, files: dict[str, str], relay: tuple[Recorder, int], tmp_path: Path) -> None:
    handler, port = relay
    result = run("daily", "--now", NOW,
                 env={**files, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    assert result.returncode == 2
    assert "nothing was sent" in result.stderr and "calendar-service doctor" in result.stderr
    assert (tmp_path / "data" / "site" / "calendar.ics").exists()
    assert handler.messages == []


def test_a_deployment_without_examples_sends_for_real(
        no_trial: None, real: dict[str, str], relay: tuple[Recorder, int]) -> None:
    handler, port = relay
    result = run("send-due", "--now", NOW,
                 env={**real, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    assert result.returncode == 0, result.stderr
    assert handler.messages


def test_the_trial_setting_allows_example_addresses_on_a_test_relay(
        files: dict[str, str], relay: tuple[Recorder, int]) -> None:
    handler, port = relay
    result = run("send-due", "--now", NOW,
                 env={**files, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}",
                      "CALENDAR_SERVICE_TRIAL_SENDING": "1"})
    assert result.returncode == 0, result.stderr
    assert handler.messages


def test_the_outbox_is_always_safe(no_trial: None, files: dict[str, str], tmp_path: Path) -> None:
    result = run("send-due", "--now", NOW, env=files)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "data" / "outbox").glob("*.eml"))


class Serve:
    """A ``calendar-service serve`` process on an ephemeral port."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = cli("serve", "--port", str(self.port), "--now", NOW, *args, env=env)

    def health(self, ok: Any = lambda info: True, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = httpx.get(self.base + "/healthz", timeout=10).json()
                if ok(info):
                    return info  # type: ignore[no-any-return]
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.proc.communicate()[1]}")
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    def stop(self) -> str:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.communicate(timeout=90)[1]


def test_serve_keeps_serving_but_sends_nothing_and_says_why_in_healthz_and_the_log(
        no_trial: None, files: dict[str, str], relay: tuple[Recorder, int]) -> None:
    handler, port = relay
    server = Serve({**files, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    try:
        info = server.health(lambda i: "sending" in i and i["sending"]["enabled"] is False)
        assert "CALENDAR_SERVICE_BASE_URL" in info["sending"]["reason"]
        assert info["status"] == "degraded"
        assert httpx.get(server.base + "/calendar.ics", timeout=10).status_code == 200
    finally:
        log = server.stop()
    assert "event=sending-blocked" in log and "CALENDAR_SERVICE_SMTP_FROM" in log
    assert f"event=data-read days={files['CALENDAR_SERVICE_DAYS']}" in log
    assert handler.messages == []


def test_serve_no_send_runs_the_site_alone(files: dict[str, str], tmp_path: Path) -> None:
    server = Serve(files, "--no-send")
    try:
        info = server.health()
        assert info["sending"] == {"enabled": False, "reason": "serve --no-send: the site alone"}
        assert httpx.get(server.base + "/", timeout=10).status_code == 200
    finally:
        server.stop()
    assert not (tmp_path / "data" / "outbox").exists()


def test_pages_served_link_to_the_address_they_were_asked_on(files: dict[str, str]) -> None:
    server = Serve(files, "--no-send")
    try:
        server.health()
        direct = httpx.get(server.base + "/", timeout=10).text
        proxied = httpx.get(server.base + "/", headers={"host": "dias.example.net"},
                            timeout=10).text
        missing = httpx.get(server.base + "/no/such/page", timeout=10).text
    finally:
        server.stop()
    assert "localhost:8000" not in direct  # BASE_URL is the default; the port is another
    assert f"webcal://127.0.0.1:{server.port}/calendar.ics" in direct
    assert f'value="http://127.0.0.1:{server.port}/calendar.ics"' in direct
    assert "webcal://dias.example.net/calendar.ics" in proxied
    assert "http%3A%2F%2Fdias.example.net%2Fcalendar.ics" in proxied  # Outlook's link
    assert "localhost:8000" not in missing


def test_emails_always_link_to_base_url(files: dict[str, str], tmp_path: Path) -> None:
    result = run("send-due", "--now", NOW,
                 env={**files, "CALENDAR_SERVICE_BASE_URL": "https://dias.conago.mx"})
    assert result.returncode == 0, result.stderr
    raw = next((tmp_path / "data" / "outbox").glob("*.eml")).read_bytes()
    text = email.message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()
    assert "https://dias.conago.mx/" in text and "localhost" not in text


# -- send-test --------------------------------------------------------------------------------------


def test_send_test_sends_the_next_reminder_marked_as_a_test_to_one_address_only(
        no_trial: None, real: dict[str, str], relay: tuple[Recorder, int], tmp_path: Path) -> None:
    handler, port = relay
    env = {**real, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}"}
    result = run("send-test", "coordinacion@conago.mx", "--office", "quintana-roo",
                 "--now", "2027-03-17T12:00:00Z", env=env)
    assert result.returncode == 0, result.stderr
    assert "test message sent to coordinacion@conago.mx" in result.stdout
    [envelope] = handler.messages
    assert envelope.rcpt_tos == ["coordinacion@conago.mx"]
    msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert msg["Subject"].startswith("[Prueba] Día Internacional de la Eliminación")
    assert msg["Message-ID"].startswith("<test-")
    assert "PRUEBA: este es un mensaje de prueba" in msg.get_body(("plain",)).get_content()
    # Nothing recorded: the real reminder still goes out on schedule, with its own Message-ID.
    handler.messages.clear()
    sent = run("send-due", "--now", "2027-03-18T14:00:00Z", env=env)
    assert sent.returncode == 0, sent.stderr
    [real_one] = [e for e in handler.messages if "qroo@oficinas.gob.mx" in e.rcpt_tos]
    assert b"<test-" not in real_one.original_content


def test_send_test_to_an_example_address_is_refused(
        no_trial: None, real: dict[str, str], relay: tuple[Recorder, int]) -> None:
    handler, port = relay
    result = run("send-test", "someone@example.com",
                 env={**real, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    assert result.returncode == 2
    assert "someone@example.com is an example address" in result.stderr
    assert handler.messages == []


# -- init --------------------------------------------------------------------------------------------


def test_init_writes_copies_that_every_command_then_reads(tmp_path: Path) -> None:
    env = {"CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}
    result = run("init", env=env)
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    assert (data / "days.yaml").is_file() and (data / "offices.yaml").is_file()
    assert (data / "templates" / "email" / "subject.txt").is_file()
    check = run("check", env=env)
    assert check.returncode == 0, check.stderr
    assert str(data / "days.yaml") in check.stdout and str(data / "offices.yaml") in check.stdout
    assert str(data / "templates") in check.stdout
    # An edit of the copy is what the commands use.
    days = data / "days.yaml"
    days.write_text(days.read_text().replace("Día Mundial del Agua", "Día Mundial del Agua Dulce"))
    shown = run("upcoming", "--today", "2027-03-20", "-n", "3", env=env)
    assert "Día Mundial del Agua Dulce" in shown.stdout


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    env = {"CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")}
    assert run("init", env=env).returncode == 0
    offices = tmp_path / "data" / "offices.yaml"
    offices.write_text("version: 1\noffices: []\n")
    again = run("init", env=env)
    assert again.returncode == 2
    assert f"{offices}" in again.stderr and "--force" in again.stderr
    assert offices.read_text() == "version: 1\noffices: []\n"
    forced = run("init", "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert "quintana-roo" in offices.read_text()


def test_init_into_another_folder_says_how_to_use_it(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "conf"),
                 env={"CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "conf" / "offices.yaml").is_file()
    assert f"CALENDAR_SERVICE_DATA_DIR={tmp_path / 'conf'}" in result.stdout


# -- doctor -------------------------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    return make_cert(tmp_path)


@pytest.fixture
def https_site(tls: tuple[Path, Path]) -> Iterator[str]:
    """A real uvicorn answering https on loopback with the test certificate."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("días"))])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ssl_certfile=str(tls[0]), ssl_keyfile=str(tls[1])))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def starttls_relay(tls: tuple[Path, Path]) -> Iterator[tuple[Recorder, int]]:
    """aiosmtpd requiring STARTTLS, then AUTH as dias / s3cr3t."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*tls)

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"dias", b"s3cr3t"),
                          handled=False)

    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=ctx,
                            require_starttls=True, authenticator=authenticator,
                            auth_require_tls=True, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_doctor_says_ready_for_a_ready_deployment_and_sends_nothing(
        real: dict[str, str], https_site: str, starttls_relay: tuple[Recorder, int],
        tls: tuple[Path, Path]) -> None:
    handler, port = starttls_relay
    env = {**real, "CALENDAR_SERVICE_DAYS": str(ROOT / "days.yaml"),
           "CALENDAR_SERVICE_BASE_URL": https_site,  # loopback: accepted for a trial, and said so
           "CALENDAR_SERVICE_SMTP_URL": f"smtp+starttls://dias:s3cr3t@127.0.0.1:{port}",
           "CALENDAR_SERVICE_SMTP_CA_FILE": str(tls[0]), "SSL_CERT_FILE": str(tls[0]),
           "CALENDAR_SERVICE_SECRET": "a-long-random-secret-for-the-test",
           "CALENDAR_SERVICE_UNSUBSCRIBE_URL": "https://dias.conago.mx/unsubscribe/{office}"}
    result = run("doctor", "--now", "2027-03-17T12:00:00Z", "--timeout", "10", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = [line for line in result.stdout.splitlines() if line[:1] in "✓✗"]
    assert verdicts and all(line.startswith("✓") for line in verdicts), result.stdout
    assert f"✓ BASE_URL {https_site}/ is https and answers (200)" in result.stdout
    assert "connect, EHLO, STARTTLS, AUTH; no mail sent" in result.stdout
    assert "America/Mexico_City is UTC-6 in July 2023" in result.stdout
    assert any(line.strip().startswith("quintana-roo: ") and "09:00 America/Cancun" in line
               for line in result.stdout.splitlines()), result.stdout
    assert result.stdout.rstrip().endswith("ready: real reminders can go out")
    assert handler.messages == []


def test_doctor_gives_a_true_verdict_on_a_broken_deployment(
        no_trial: None, files: dict[str, str], starttls_relay: tuple[Recorder, int],
        tls: tuple[Path, Path]) -> None:
    handler, port = starttls_relay
    env = {**files, "CALENDAR_SERVICE_DAYS": str(ROOT / "days.yaml"),
           "CALENDAR_SERVICE_SMTP_URL": f"smtp+starttls://dias:wrong@127.0.0.1:{port}",
           "CALENDAR_SERVICE_SMTP_CA_FILE": str(tls[0]),
           "CALENDAR_SERVICE_BASE_URL": f"https://127.0.0.1:{free_port()}"}
    result = run("doctor", "--timeout", "5", env=env)
    assert result.returncode == 1
    out = result.stdout
    assert "✗ BASE_URL" in out and "loopback" in out
    assert "✗ SMTP relay" in out and "password was refused" in out
    assert "wrong" not in out  # the password is never printed
    assert "✗ example addresses" in out
    assert "✗ one-click unsubscribe is off" in out
    assert "✓ data files valid" in out and "✓ ledger" in out
    assert "NOT ready" in result.stderr
    assert handler.messages == []


def test_doctor_bounds_a_relay_that_never_answers(files: dict[str, str]) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        env = {**files, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}"}
        started = time.monotonic()
        result = run("doctor", "--timeout", "1", env=env)
    assert result.returncode == 1
    assert "✗ SMTP relay smtp://127.0.0.1" in result.stdout
    assert time.monotonic() - started < 60


# -- what a person reads ----------------------------------------------------------------------------


def test_send_due_on_a_terminal_summarises_in_spanish(files: dict[str, str]) -> None:
    code, out = run_on_terminal("send-due", "--now", NOW, env={**files, "LANG": "es_MX.UTF-8"})
    assert code == 0, out
    assert re.search(r"Mensajes enviados: \d+, a \d+ oficina\(s\), con \d+ recordatorio\(s\) "
                     r"\(outbox .*\)\.", out), out
    assert re.search(r"Días: .*\(2\d de marzo de 2027\)", out), out
    assert "Próximo envío programado: " in out


def test_daily_on_a_terminal_summarises_in_english_when_asked(files: dict[str, str]) -> None:
    code, out = run_on_terminal("daily", "--now", NOW, "--lang", "en", env=files)
    assert code == 0, out
    assert re.search(r"Messages sent: \d+, to \d+ office\(s\)", out), out
    assert "Next scheduled send: " in out


def test_the_summary_of_a_failed_run_says_per_office_what_and_why(
        files: dict[str, str], relay: tuple[Recorder, int]) -> None:
    handler, port = relay
    handler.data_replies.extend(["550 5.7.1 mailbox unavailable"] * 10)
    result = run("send-due", "--now", NOW,
                 env={**files, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    assert result.returncode == 1
    assert "No entregados (" in result.stderr
    assert re.search(r"\n  [a-z-]+: [^\n]*\(2\d de marzo de 2027, aviso de \d+ día\(s\)\)[^\n]*: "
                     r"rechazado definitivamente por el servidor\n", result.stderr), result.stderr


def test_smtp_retries_0_means_one_attempt_and_no_retry(
        files: dict[str, str], relay: tuple[Recorder, int]) -> None:
    handler, port = relay
    attempts = []
    original = handler.handle_DATA

    async def counting(server: Any, session: Any, envelope: Any) -> str:
        attempts.append(1)
        return "451 4.3.0 try later" if len(attempts) == 1 else await original(
            server, session, envelope)

    handler.handle_DATA = counting  # type: ignore[method-assign]
    result = run("send-due", "--now", NOW,
                 env={**files, "CALENDAR_SERVICE_SMTP_URL": f"smtp://127.0.0.1:{port}",
                      "CALENDAR_SERVICE_SMTP_RETRIES": "0", "CALENDAR_SERVICE_SMTP_CONCURRENCY": "1"})
    assert result.returncode == 1
    assert len(attempts) == len(handler.messages) + 1  # the refused one was not tried again
    assert "se reintentará en la siguiente ejecución" in result.stderr


@pytest.mark.parametrize(("args", "env", "expected"), [
    (("log", "--office", "quintana-ro"), {}, "unknown office 'quintana-ro' (did you mean "
                                             "'quintana-roo'?)"),
    (("upcoming", "--days", "30"), {}, "--days is the days file in every command; for 30 days "
                                       "ahead write --days-ahead 30"),
    (("check",), {"CALENDAR_SERVICE_SMTP_URL": "smtp://bad host"}, "'bad host' is not a host"),
    (("check",), {"CALENDAR_SERVICE_SMTP_RETRIES": "-1"}, "must be 0 (no retry) or more"),
    (("preview", "world-water-day", "--lead", "5"), {},
     "no reminder goes 5 days ahead: no office uses it; the leads in"),
    (("preview", "world-water-day", "--office", "cdmx-en", "--lead", "14"), {},
     "office 'cdmx-en' uses 3"),
])
def test_usage_mistakes_exit_2_with_what_to_do(
        files: dict[str, str], args: tuple[str, ...], env: dict[str, str], expected: str) -> None:
    result = run(*args, env={**files, **env})
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_smtp_retries_0_is_accepted(files: dict[str, str]) -> None:
    result = run("upcoming", env={**files, "CALENDAR_SERVICE_SMTP_RETRIES": "0"})
    assert result.returncode == 0, result.stderr


def test_dry_run_is_a_table_in_the_users_language(files: dict[str, str]) -> None:
    running_since_env(files, "2027-03-01T00:00:00+00:00")  # not a fresh install: 09:00 has passed
    result = run("send-due", "--now", NOW, "--dry-run", "--lang", "en", env=files)
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "Office" in line)
    assert header.split() == ["Office", "Local", "time", "Days", "Lead", "Status"]
    row = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["cdmx-en"])
    assert "2027-03-18 09:00 CST" in row and "World Forestry Day (March 21)" in row
    assert "3 days ahead" in row and "would send" in row
    assert max(len(line) for line in result.stdout.splitlines()) < 400


# -- the README a newcomer follows --------------------------------------------------------------------


def test_the_quick_start_and_ci_use_one_line_that_makes_its_own_virtual_environment() -> None:
    readme = (ROOT / "README.md").read_text()
    install = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/calendar-service daily"
    tests = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
    assert f"```sh\n{install}\n```" in readme and f"```sh\n{tests}\n```" in readme
    assert "python3-venv" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if "pytest" in line and "venv" in line] == [tests]
