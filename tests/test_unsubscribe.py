"""One-click unsubscription (RFC 8058): tokens, the pages of `serve` over a real uvicorn, the
ledger on SQLite and PostgreSQL, send-due skipping the office, and the coordinators' command."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email import policy
from typing import Any

import httpx
import pytest
from conftest import ROOT
from mailtest import (  # noqa: F401
    SENDING_SINCE,
    at,
    db_url,
    mail_env,
    postgres_url_or_skip,
    running_since,
)
from webtools import serving

from calendar_service.base.clock import FixedClock
from calendar_service.base.errors import ConfigError
from calendar_service.base.settings import load_settings
from calendar_service.mail.ledger import PENDING, SENT, UNSUBSCRIBED, Ledger
from calendar_service.mail.sending import send_due
from calendar_service.mail.unsubscribe import (
    TOKEN_LENGTH,
    is_one_click,
    one_click_url,
    preferred_language,
    token,
    verify,
)

SECRET = "s3cret-for-tests-only-0123456789"
NOW = at("2027-03-18T09:00:00-05:00")  # 09:00 in Cancún: quintana-roo's lead-3 reminder
ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


# -- tokens (pure) ------------------------------------------------------------------------------


def test_token_is_url_safe_stable_and_per_office() -> None:
    t = token(SECRET, "quintana-roo")
    assert len(t) == TOKEN_LENGTH and t == token(SECRET, "quintana-roo")
    assert set(t) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert t != token(SECRET, "baja-california")
    assert t != token(SECRET + "x", "quintana-roo")


@pytest.mark.parametrize(("secret", "office", "given", "ok"), [
    (SECRET, "quintana-roo", token(SECRET, "quintana-roo"), True),
    (SECRET, "quintana-roo", token(SECRET, "baja-california"), False),  # another office's
    (SECRET, "quintana-roo", token("another-secret-0123456789", "quintana-roo"), False),
    (SECRET, "quintana-roo", token(SECRET, "quintana-roo")[:-1], False),  # truncated
    (SECRET, "quintana-roo", token(SECRET, "quintana-roo") + "A", False),
    (SECRET, "quintana-roo", "", False),
    (SECRET, "quintana-roo", None, False),
    (SECRET, "quintana-roo", "ñandú☃", False),  # non-ASCII must not raise
    (None, "quintana-roo", token(SECRET, "quintana-roo"), False),  # no secret: nothing verifies
], ids=["good", "other-office", "other-secret", "short", "long", "empty", "missing",
        "non-ascii", "no-secret"])
def test_verify(secret: str | None, office: str, given: str | None, ok: bool) -> None:
    assert verify(secret, office, given) is ok


@pytest.mark.parametrize(("template", "base", "secret", "expected"), [
    ("{base_url}/unsubscribe/{office}", "https://d.example.org/", SECRET,
     "https://d.example.org/unsubscribe/qroo?t={t}"),
    ("https://x.example.org/u?o={office}", "http://localhost:8000", SECRET,
     "https://x.example.org/u?o=qroo&t={t}"),
    ("{base_url}/unsubscribe/{office}", "http://localhost:8000", SECRET, ""),
    ("{base_url}/unsubscribe/{office}", "https://d.example.org", None, ""),
    ("", "https://d.example.org", SECRET, ""),
])
def test_one_click_url_only_with_https_and_a_secret(template: str, base: str, secret: str | None,
                                                    expected: str) -> None:
    assert one_click_url(template, base, secret, "qroo") == expected.replace(
        "{t}", token(SECRET, "qroo"))


@pytest.mark.parametrize(("content_type", "body", "ok"), [
    ("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click", True),
    ("application/x-www-form-urlencoded; charset=utf-8", b"a=1&List-Unsubscribe=One-Click", True),
    ("", b"List-Unsubscribe=One-Click", True),
    ("multipart/form-data; boundary=XyZ",
     b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
     b"--XyZ--\r\n", True),
    ("multipart/form-data; boundary=XyZ",
     b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nOne-Click\r\n--XyZ--\r\n",
     False),
    ("multipart/form-data", b"garbage", False),
    ("application/x-www-form-urlencoded", b"", False),
    ("application/x-www-form-urlencoded", b"List-Unsubscribe=Yes", False),
    ("application/x-www-form-urlencoded", b"\xff\xfe", False),
])
def test_one_click_body(content_type: str, body: bytes, ok: bool) -> None:
    assert is_one_click(content_type, body) is ok


@pytest.mark.parametrize(("header", "lang"), [
    (None, "es"), ("", "es"), ("en-US,en;q=0.9", "en"), ("es-MX,es;q=0.9,en;q=0.8", "es"),
    ("fr-FR, en;q=0.5, es;q=0.7", "es"), ("de", "es"), ("en;q=bogus, es;q=0.1", "es"),
])
def test_preferred_language(header: str | None, lang: str) -> None:
    assert preferred_language(header) == lang


# -- settings -------------------------------------------------------------------------------------


def test_secret_setting_is_read_masked_and_checked() -> None:
    s = load_settings({}, environ={"CALENDAR_SERVICE_SECRET": SECRET})
    assert s.secret == SECRET
    assert SECRET not in repr(s) and s.redacted("secret") == "(set)"
    assert load_settings({}, environ={}).secret is None
    with pytest.raises(ConfigError) as err:
        load_settings({}, environ={"CALENDAR_SERVICE_SECRET": "short-one"})
    assert "CALENDAR_SERVICE_SECRET: too short" in str(err.value)
    assert "short-one" not in str(err.value)


# -- the ledger, on SQLite and PostgreSQL --------------------------------------------------------


def test_unsubscribe_is_idempotent_and_resubscribe_undoes_it(db_url: str) -> None:  # noqa: F811
    clock = FixedClock(at("2027-03-10T12:00:00Z"))
    with Ledger(db_url, clock=clock.now) as ledger:
        first, created = ledger.unsubscribe("quintana-roo", "web")
        assert created and first.unsubscribed_at == clock.now() and first.via == "web"
        clock.advance(timedelta(hours=1))
        again, created = ledger.unsubscribe("quintana-roo", "cli")
        assert not created and again == first  # the first time and way are kept
        assert ledger.unsubscribed_ids() == {"quintana-roo"}
        assert ledger.unsubscription("baja-california") is None
        assert ledger.resubscribe("quintana-roo") is True
        assert ledger.resubscribe("quintana-roo") is False
        assert ledger.unsubscriptions() == []


def test_send_due_skips_an_unsubscribed_office_and_resubscribing_restores_it(
        mail_env: dict[str, Any], db_url: str) -> None:  # noqa: F811
    settings = replace(mail_env["settings"], database_url=db_url, secret=SECRET)
    catalog, offices = mail_env["catalog"], mail_env["offices"]
    running_since(settings, catalog, offices, SENDING_SINCE)  # not a fresh install
    outbox = settings.outbox
    with Ledger.from_settings(settings) as ledger:
        ledger.unsubscribe("quintana-roo", "web")
        plan = send_due(settings, catalog, offices, NOW, dry_run=True, ledger=ledger)
        skipped = [p for p in plan.planned if p.office_id == "quintana-roo"]
        # 21 March's three days (lead 3) and 22 March (lead 14, a catch-up), in one line
        assert [p.status for p in skipped] == [UNSUBSCRIBED] and plan.unsubscribed == 4
        assert {p.office_id for p in plan.planned if p.status == "due"} == {"baja-california"}

        report = send_due(settings, catalog, offices, NOW, ledger=ledger)
        assert report.ok and report.exit_code == 0
        assert report.messages == 1 and report.unsubscribed == 4
        assert "unsubscribed=4" in report.summary()
        files = list(outbox.glob("*.eml"))
        assert len(files) == 1 and b"bc@example.org" in files[0].read_bytes()
        assert b"qroo@example.org" not in files[0].read_bytes()
        rows = ledger.entries(office="quintana-roo")
        assert {e.status for e in rows} == {UNSUBSCRIBED} and len(rows) == 4
        assert ledger.pending_count() == 0

        again = send_due(settings, catalog, offices, NOW + timedelta(minutes=5), ledger=ledger)
        assert again.messages == 0 and again.ok and again.unsubscribed == 4

        assert ledger.resubscribe("quintana-roo")
        back = send_due(settings, catalog, offices, NOW + timedelta(minutes=10), ledger=ledger)
        assert back.ok and back.messages == 1 and back.sent == 4
        assert {e.status for e in ledger.entries(office="quintana-roo")} == {SENT}
        assert len(list(outbox.glob("*.eml"))) == 2


def test_an_office_unsubscribed_after_registration_is_never_claimed(
        mail_env: dict[str, Any], db_url: str) -> None:  # noqa: F811
    """The claim itself checks the unsubscriptions: a run that registered the rows before the
    click cannot send them."""
    from calendar_service.mail.reminders import due_reminders

    settings = replace(mail_env["settings"], database_url=db_url)
    with Ledger.from_settings(settings) as ledger:
        batches = due_reminders(mail_env["catalog"], mail_env["offices"], NOW)
        ledger.register([i for b in batches for i in b.items])
        ledger.unsubscribe("quintana-roo", "web")
        got = ledger.claim([k for b in batches for k in b.keys], "run-1")
        assert got and all(k[0] != "quintana-roo" for k in got)
        assert {e.status for e in ledger.entries(office="quintana-roo")} == {PENDING}


# -- the pages of `serve`, on a real uvicorn ---------------------------------------------------


@pytest.fixture
def service(mail_env: dict[str, Any]) -> Iterator[dict[str, Any]]:  # noqa: F811
    """The app `serve` runs (site + unsubscribe pages), without the scheduler."""
    from calendar_service.publishing.web import create_app
    from calendar_service.runs.runtime import Runtime

    settings = replace(mail_env["settings"], secret=SECRET)
    runtime = Runtime(settings, FixedClock(NOW))
    app = create_app(runtime.state, unsubscribe=runtime.unsubscriber)
    try:
        with serving(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            yield {**mail_env, "client": client, "base": base, "ledger": runtime.ledger,
                   "runtime": runtime, "settings": settings}
    finally:
        runtime.ledger.close()


def link(office: str = "quintana-roo", lang: str = "") -> str:
    return f"{lang}/unsubscribe/{office}?t={token(SECRET, office)}"


def test_get_shows_a_confirmation_page_and_does_not_unsubscribe(service: dict[str, Any]) -> None:
    r = service["client"].get(link())
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "form-action 'self'" in r.headers["content-security-policy"]
    assert r.headers["content-language"] == "es"
    assert '<html lang="es">' in r.text
    assert "Oficina de Quintana Roo" in r.text
    assert '<form method="post">' in r.text
    assert 'name="List-Unsubscribe" value="One-Click"' in r.text
    assert "Sí, dejar de recibirlos" in r.text
    assert 'href="../static/style.css"' in r.text  # relative: works behind a path prefix
    assert service["ledger"].unsubscription("quintana-roo") is None
    head = service["client"].head(link())
    assert head.status_code == 200 and head.content == b""
    assert service["ledger"].unsubscription("quintana-roo") is None


@pytest.mark.parametrize(("path_lang", "headers", "query", "expected"), [
    ("/en", {}, "", "en"),
    ("", {"accept-language": "en-GB,en;q=0.9"}, "", "en"),
    ("", {"accept-language": "en-GB,en;q=0.9"}, "&lang=es", "es"),  # the language switch
    ("", {"accept-language": "fr"}, "", "es"),
])
def test_page_language(service: dict[str, Any], path_lang: str, headers: dict[str, str],
                       query: str, expected: str) -> None:
    r = service["client"].get(link(lang=path_lang) + query, headers=headers)
    assert r.status_code == 200 and f'<html lang="{expected}">' in r.text
    button = {"es": "Sí, dejar de recibirlos", "en": "Yes, stop sending them"}[expected]
    assert button in r.text


def test_english_page_links_to_spanish_explicitly(service: dict[str, Any]) -> None:
    r = service["client"].get(link(lang="/en"))
    t = token(SECRET, "quintana-roo")
    assert f'href="../../unsubscribe/quintana-roo?t={t}&amp;lang=es"' in r.text
    assert 'href="../../static/style.css"' in r.text


def test_post_one_click_unsubscribes_once(service: dict[str, Any]) -> None:
    client, ledger = service["client"], service["ledger"]
    r = client.post(link(), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert r.status_code == 200 and "ya no recibirá los recordatorios" in r.text
    assert "location" not in r.headers
    first = ledger.unsubscription("quintana-roo")
    assert first is not None and first.via == "web"
    again = client.post(link(), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert again.status_code == 200 and ledger.unsubscription("quintana-roo") == first
    assert ledger.unsubscribed_ids() == {"quintana-roo"}
    # A GET now says so (still without changing anything).
    assert "ya no recibirá" in client.get(link()).text


def test_post_multipart_as_some_mail_clients_send_it(service: dict[str, Any]) -> None:
    r = service["client"].post(link("baja-california", "/en"),
                               files={"List-Unsubscribe": (None, "One-Click")})
    assert r.status_code == 200 and "will no longer receive the reminders" in r.text
    assert service["ledger"].unsubscribed_ids() == {"baja-california"}


def test_post_without_the_one_click_body_shows_the_form_again(service: dict[str, Any]) -> None:
    r = service["client"].post(link(), content=b"", headers=ONE_CLICK)
    assert r.status_code == 400 and '<form method="post">' in r.text
    assert service["ledger"].unsubscribed_ids() == frozenset()


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/unsubscribe/quintana-roo", 403),  # no token
    ("GET", "/unsubscribe/quintana-roo?t=", 403),
    ("GET", "/unsubscribe/quintana-roo?t=AAAAAAAAAAAAAAAAAAAAAA", 403),
    ("GET", f"/unsubscribe/quintana-roo?t={token(SECRET, 'baja-california')}", 403),
    ("POST", f"/unsubscribe/quintana-roo?t={token(SECRET, 'baja-california')}", 403),
    ("POST", f"/unsubscribe/quintana-roo?t={token('other-secret-0123456789', 'quintana-roo')}", 403),
    ("POST", "/unsubscribe/quintana-roo?t=%FF%00", 403),
    ("GET", f"/unsubscribe/nowhere?t={token(SECRET, 'nowhere')}", 404),
    ("POST", f"/en/unsubscribe/nowhere?t={token(SECRET, 'nowhere')}", 404),
    ("POST", "/unsubscribe/%3Cscript%3E?t=x", 404),
])
def test_bad_links_are_refused_and_change_nothing(service: dict[str, Any], method: str, path: str,
                                                  status: int) -> None:
    r = service["client"].request(method, path, content=b"List-Unsubscribe=One-Click",
                                  headers=ONE_CLICK)
    assert r.status_code == status
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "dias-internacionales@example.org" in r.text  # the other way to unsubscribe
    assert "<script>" not in r.text
    assert service["ledger"].unsubscribed_ids() == frozenset()


def test_a_path_that_is_not_an_office_id_is_the_sites_404(service: dict[str, Any]) -> None:
    r = service["client"].post("/unsubscribe/..%2F..%2Fetc?t=x", content=b"")
    assert r.status_code in (404, 405)  # the site's own 404 page (or 405 for its files)
    assert service["ledger"].unsubscribed_ids() == frozenset()


def test_no_secret_means_every_link_is_refused(mail_env: dict[str, Any]) -> None:  # noqa: F811
    from calendar_service.publishing.web import create_app
    from calendar_service.runs.runtime import Runtime

    runtime = Runtime(mail_env["settings"], FixedClock(NOW))  # no secret
    try:
        with serving(create_app(runtime.state, unsubscribe=runtime.unsubscriber)) as base:
            r = httpx.post(base + link(), content=b"List-Unsubscribe=One-Click",
                           headers=ONE_CLICK)
        assert r.status_code == 403 and runtime.ledger.unsubscribed_ids() == frozenset()
    finally:
        runtime.ledger.close()


def test_a_broken_ledger_gives_503_not_500(service: dict[str, Any]) -> None:
    with service["ledger"].engine.begin() as conn:  # a real database error on every use
        conn.exec_driver_sql("DROP TABLE unsubscriptions")
    r = service["client"].post(link(), content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert r.status_code == 503 and "Inténtelo de nuevo" in r.text
    assert service["client"].get(link()).status_code == 503


def test_the_link_in_a_real_reminder_unsubscribes_and_the_next_run_skips_the_office(
        service: dict[str, Any]) -> None:
    """End to end: the List-Unsubscribe URL of a sent message, POSTed as a mail client does,
    then send-due sends nothing more to that office but still to the others."""
    settings, catalog, offices = service["settings"], service["catalog"], service["offices"]
    ledger = service["ledger"]
    first = send_due(settings, catalog, offices, NOW, ledger=ledger)
    assert first.ok and first.messages == 2
    first_done = max(e.updated_at for e in ledger.entries())
    sent = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in settings.outbox.glob("*.eml")]
    qroo = next(m for m in sent if "qroo@example.org" in str(m["To"]))
    assert qroo["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(qroo["List-Unsubscribe"]).split(",")[0].strip(" <>")
    assert url.startswith("https://dias.example.org/unsubscribe/quintana-roo?t=")
    r = service["client"].post(url.replace("https://dias.example.org", service["base"]),
                               content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert r.status_code == 200

    # A day later, 09:00 in Cancún: quintana-roo's lead-3 reminder of 22 March is due; it is
    # recorded as unsubscribed instead, while the other offices get what is due to them.
    later = NOW + timedelta(days=1)
    plan = send_due(settings, catalog, offices, later, dry_run=True, ledger=ledger)
    qroo_plan = [p for p in plan.planned if p.office_id == "quintana-roo"]
    assert [p.items for p in qroo_plan if p.status == UNSUBSCRIBED] == [
        (("world-water-day", "2027-03-22", 3, 3),)]
    assert {p.status for p in qroo_plan} == {UNSUBSCRIBED, SENT}  # nothing "due"
    report = send_due(settings, catalog, offices, later, ledger=ledger)
    assert report.ok and report.unsubscribed == 1
    assert [(e.day_id, e.lead, e.status) for e in ledger.entries(office="quintana-roo")
            if e.updated_at > first_done] == [("world-water-day", 3, UNSUBSCRIBED)]
    # Baja California got 21 March's 09:00 reminders with its 07:00 catch-up the day before
    # (one message a day): only Mexico City has something new.
    newly_sent = {e.office_id for e in ledger.entries(statuses=[SENT]) if e.sent_at > first_done}
    assert newly_sent == {"cdmx-en"} and report.messages == 1
    to = [str(email.message_from_bytes(p.read_bytes(), policy=policy.default)["To"])
          for p in settings.outbox.glob("*.eml")]
    assert len(to) == 3 and sum("qroo@example.org" in t for t in to) == 1


# -- the coordinators' command and the secret in real processes ----------------------------------


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "NO_COLOR": "1", **env}
    full.pop("CALENDAR_SERVICE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "calendar_service", *args], env=full,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.fixture
def env(mail_env: dict[str, Any]) -> dict[str, str]:  # noqa: F811
    return {"CALENDAR_SERVICE_DAYS": str(mail_env["days_file"]),
            "CALENDAR_SERVICE_OFFICES": str(mail_env["offices_file"]),
            "CALENDAR_SERVICE_DATA_DIR": str(mail_env["tmp"] / "data"),
            "CALENDAR_SERVICE_BASE_URL": "https://dias.example.org",
            "CALENDAR_SERVICE_SECRET": SECRET, "CALENDAR_SERVICE_LOG_LEVEL": "DEBUG"}


def test_subscriptions_command(env: dict[str, str]) -> None:
    r = cli("subscriptions", env=env)
    assert r.returncode == 0 and "all 3 offices are subscribed" in r.stdout
    r = cli("subscriptions", "--unsubscribe", "quintana-roo", env=env)
    assert r.returncode == 0 and "quintana-roo: unsubscribed since" in r.stdout
    r = cli("subscriptions", "--json", env=env)
    doc = json.loads(r.stdout)
    assert doc["offices"] == 3
    assert [(u["office"], u["via"], u["name"]) for u in doc["unsubscribed"]] == [
        ("quintana-roo", "cli", "Oficina de Quintana Roo")]
    assert doc["unsubscribed"][0]["unsubscribed_at"].endswith("+00:00")
    r = cli("subscriptions", env=env)
    assert "quintana-roo  via cli  Oficina de Quintana Roo" in r.stdout
    assert "1 of 3 offices unsubscribed" in r.stdout

    dry = cli("send-due", "--now", "2027-03-18T09:00-05:00", "--dry-run", env=env)
    assert dry.returncode == 0
    row = next(line for line in dry.stdout.splitlines() if line.split()[:1] == ["quintana-roo"])
    assert row.rstrip().endswith("dada de baja")
    assert "de oficinas dadas de baja: 4" in dry.stdout
    run = cli("send-due", "--now", "2027-03-18T09:00-05:00", env=env)
    assert run.returncode == 0, run.stderr
    log = cli("log", "--status", "unsubscribed", env=env)
    rows = [line.split()[2:4] for line in log.stdout.splitlines() if line.startswith("2")]
    assert rows == [["unsubscribed", "quintana-roo"]] * 4
    assert "unsubscribed (nothing is sent to them): quintana-roo" in log.stdout

    r = cli("subscriptions", "--resubscribe", "quintana-roo", env=env)
    assert r.returncode == 0 and "quintana-roo: subscribed again" in r.stdout
    r = cli("subscriptions", "--resubscribe", "quintana-roo", env=env)
    assert r.returncode == 0 and "was not unsubscribed" in r.stdout
    assert "all 3 offices are subscribed" in cli("subscriptions", env=env).stdout


@pytest.mark.parametrize("option", ["--resubscribe", "--unsubscribe"])
def test_subscriptions_with_an_unknown_office_exits_2(env: dict[str, str], option: str) -> None:
    r = cli("subscriptions", option, "quintana-ro", env=env)
    assert r.returncode == 2
    assert "unknown office 'quintana-ro' (did you mean 'quintana-roo'?)" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_the_secret_never_appears_in_output_logs_messages_or_the_ledger(
        env: dict[str, str], mail_env: dict[str, Any]) -> None:  # noqa: F811
    data = mail_env["tmp"] / "data"
    runs = [cli("send-due", "--now", "2027-03-18T09:00-05:00", "--dry-run", env=env),
            cli("send-due", "--now", "2027-03-18T09:00-05:00", env=env),
            cli("preview", "elimination-of-racial-discrimination-day", "--office",
                "quintana-roo", "--lead", "3", "--today", "2027-03-01", "--format", "eml",
                env=env),
            cli("daily", "--now", "2027-03-18T09:05-05:00", env=env),
            cli("log", "--json", env=env), cli("subscriptions", "--json", env=env),
            cli("send-due", "--now", "not-a-date", env=env)]
    for r in runs[:-1]:
        assert r.returncode == 0, (r.args, r.stderr)
    preview = runs[2].stdout
    assert f"unsubscribe/quintana-roo?t={token(SECRET, 'quintana-roo')}" in preview
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in preview
    for r in runs:
        assert SECRET not in r.stdout and SECRET not in r.stderr
    assert "event=" in runs[1].stderr  # the DEBUG log was there to look at
    for path in data.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    short = cli("send-due", "--dry-run", env={**env, "CALENDAR_SERVICE_SECRET": "tiny-secret"})
    assert short.returncode == 2 and "CALENDAR_SERVICE_SECRET: too short" in short.stderr
    assert "tiny-secret" not in short.stderr


def test_serve_process_unsubscribes_and_never_logs_the_secret(
        env: dict[str, str], mail_env: dict[str, Any]) -> None:  # noqa: F811
    from test_running import Server

    server = Server(env, "--now", "2027-03-18T14:00:00Z", "--access-log")
    try:
        server.wait_for("the start-up sweep", lambda info: info.get("last_run") is not None)
        confirm = server.get(link())
        assert confirm.status_code == 200 and "Sí, dejar de recibirlos" in confirm.text
        done = httpx.post(server.base + link(), content=b"List-Unsubscribe=One-Click",
                          headers=ONE_CLICK, timeout=10)
        assert done.status_code == 200
        refused = httpx.post(server.base + "/unsubscribe/baja-california?t=nope",
                             content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=10)
        assert refused.status_code == 403
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert "event=unsubscribed office=quintana-roo via=web" in err
    assert "event=unsubscribe-refused office=baja-california reason=bad-token" in err
    assert SECRET not in err
    out = cli("subscriptions", env=env)
    assert "quintana-roo  via web" in out.stdout
    for path in (mail_env["tmp"] / "data").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_office_names_are_escaped_on_the_pages(mail_env: dict[str, Any]) -> None:  # noqa: F811
    from calendar_service.data.loader import load_offices
    from calendar_service.publishing.web import create_app
    from calendar_service.runs.runtime import Runtime

    offices = mail_env["offices_file"]
    offices.write_text(offices.read_text().replace(
        "name: Oficina de Quintana Roo", "name: 'Oficina Q. Roo & <b>Asuntos</b>'"))
    assert load_offices(offices)[1].name == "Oficina Q. Roo & <b>Asuntos</b>"
    runtime = Runtime(replace(mail_env["settings"], secret=SECRET), FixedClock(NOW))
    try:
        with serving(create_app(runtime.state, unsubscribe=runtime.unsubscriber)) as base:
            confirm = httpx.get(base + link())
            done = httpx.post(base + link(), content=b"List-Unsubscribe=One-Click",
                              headers=ONE_CLICK)
    finally:
        runtime.ledger.close()
    for page in (confirm.text, done.text):
        assert "Oficina Q. Roo &amp; &lt;b&gt;Asuntos&lt;/b&gt;" in page
        assert "<b>Asuntos" not in page
