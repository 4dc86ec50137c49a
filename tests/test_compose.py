"""The message an office receives: MIME structure, headers, Spanish dates, .ics, escaping, goldens.

Golden files: tests/golden/*.txt and *.html are the exact text and HTML parts of one reminder
(Quintana Roo, the three days of 21 March, 3 days ahead). After an intended template change,
regenerate them with ``UPDATE_GOLDEN=1 pytest tests/test_compose.py`` and review
the diff.
"""

from __future__ import annotations

import email
import os
from dataclasses import replace
from email import policy
from pathlib import Path

import pytest
from mailtest import at, mail_env  # noqa: F401

from calendar_service.base.errors import DataError
from calendar_service.mail.compose import Composer, HeaderInjectionError, check_templates, message_id
from calendar_service.mail.reminders import due_reminders, scheduled_batch

GOLDEN = Path(__file__).resolve().parent / "golden"
SENT_AT = "2027-03-18T09:00:00-05:00"


def body_of(msg, kind: str) -> str:  # type: ignore[no-untyped-def]
    """A text part as a reader sees it (the wire form has CRLF line ends)."""
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")


def office(env, ident):  # type: ignore[no-untyped-def]
    return [o for o in env["offices"] if o.id == ident][0]


def build(env, ident="quintana-roo", when=SENT_AT):  # type: ignore[no-untyped-def]
    composer = Composer(env["settings"])
    batch = scheduled_batch(env["catalog"], office(env, ident), at(when))
    assert batch is not None
    out = composer.message(batch, at(when))
    return out, email.message_from_bytes(out.data, policy=policy.default), composer


def test_mime_structure_is_mixed_alternative_plus_ics_plus_cards(mail_env) -> None:  # noqa: F811
    _, msg, _ = build(mail_env)
    assert msg.get_content_type() == "multipart/mixed"
    top = list(msg.iter_parts())
    assert [p.get_content_type() for p in top[:2]] == ["multipart/alternative", "text/calendar"]
    assert {p.get_content_type() for p in top[2:]} == {"image/png"}
    assert [p.get_content_type() for p in top[0].iter_parts()] == ["text/plain", "text/html"]
    assert top[1].get_filename() == "dias-internacionales.ics"
    assert top[1].get_content_disposition() == "attachment"
    assert msg.defects == [] and all(not p.defects for p in msg.walk())


SECRET = "test-secret-0123456789abcdef"


def test_headers(mail_env) -> None:  # noqa: F811
    from calendar_service.mail.unsubscribe import token

    env = dict(mail_env, settings=replace(mail_env["settings"], secret=SECRET))
    out, msg, _ = build(env)
    assert msg["From"] == "Días internacionales <dias@example.org>"
    assert msg["To"] == ("Oficina de Quintana Roo <qroo@example.org>, "
                         "Oficina de Quintana Roo <prensa.qroo@example.org>")
    assert msg["Subject"] == ("Día Internacional de la Eliminación de la Discriminación Racial "
                              "(21 de marzo) y 2 días más")
    assert msg["Date"] == "Thu, 18 Mar 2027 09:00:00 -0500"
    assert msg["Message-ID"] == out.message_id == message_id(out.keys, "calendar-service.conago.example")
    assert msg["List-Id"] == "<reminders.calendar-service.conago.example>"
    assert msg["List-Unsubscribe"] == (
        f"<https://dias.example.org/unsubscribe/quintana-roo?t={token(SECRET, 'quintana-roo')}>, "
        "<mailto:dias-internacionales@example.org?subject=baja>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["MIME-Version"] == "1.0"
    assert out.sender == "dias@example.org"
    assert out.recipients == ("qroo@example.org", "prensa.qroo@example.org")
    assert all(len(line) <= 998 for line in out.data.split(b"\r\n"))
    assert b"\n" not in out.data.replace(b"\r\n", b"")


def test_accented_office_names_are_encoded_and_read_back(mail_env) -> None:  # noqa: F811
    name = "Oficina de Asuntos Internacionales del Gobierno de Michoacán de Ocampo, Gestión Ñandú"
    evil = replace(office(mail_env, "quintana-roo"), name=name)
    batch = scheduled_batch(mail_env["catalog"], evil, at(SENT_AT))
    out = Composer(mail_env["settings"]).message(batch, at(SENT_AT))
    head = out.data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n") if not line.startswith(b"Message-ID"))
    msg = email.message_from_bytes(out.data, policy=policy.default)
    assert [a.display_name for a in msg["To"].addresses] == [name, name]
    assert [a.addr_spec for a in msg["To"].addresses] == list(evil.emails)


def test_message_id_is_stable_and_depends_only_on_the_keys(mail_env) -> None:  # noqa: F811
    first, _, _ = build(mail_env)
    again, _, _ = build(mail_env)
    assert first.message_id == again.message_id and first.data == again.data
    keys = list(first.keys)
    assert message_id(reversed(keys), "d") == message_id(keys, "d")
    assert message_id(keys[:2], "d") != message_id(keys, "d")


@pytest.mark.parametrize("changes", [
    {"base_url": "http://localhost:8000", "secret": SECRET},  # not https
    {"secret": None},  # https, but no secret to sign the link
    {"unsubscribe_url": "http://dias.example.org/baja/{office}", "secret": SECRET},
], ids=["http-base-url", "no-secret", "http-template"])
def test_no_one_click_header_without_https_and_a_secret(mail_env, changes) -> None:  # noqa: F811
    env = dict(mail_env, settings=replace(mail_env["settings"], **changes))
    _, msg, _ = build(env)
    assert msg["List-Unsubscribe"] == "<mailto:dias-internacionales@example.org?subject=baja>"
    assert msg["List-Unsubscribe-Post"] is None
    assert "Cancelar suscripción" not in body_of(msg, "plain")


def test_one_click_link_is_per_office_and_the_body_is_still_built_once(mail_env) -> None:  # noqa: F811
    from calendar_service.mail.unsubscribe import token

    settings = replace(mail_env["settings"], secret=SECRET,
                       unsubscribe_url="https://baja.example.org/u/{office}?src=mail")
    composer = Composer(settings)
    urls, bodies = {}, set()
    for ident in ("quintana-roo", "baja-california"):
        o = replace(office(mail_env, "quintana-roo"), id=ident)  # same content, other office
        batch = scheduled_batch(mail_env["catalog"], o, at(SENT_AT))
        msg = email.message_from_bytes(composer.message(batch, at(SENT_AT)).data,
                                       policy=policy.default)
        urls[ident] = msg["List-Unsubscribe"].split(",")[0].strip("<> ")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = body_of(msg, "plain")
        assert "botón «Cancelar suscripción» de su programa de correo" in text
        assert ident not in text and token(SECRET, ident) not in text  # only in the headers
        bodies.add(text)
    assert composer.bodies_built == 1 and len(bodies) == 1
    assert urls == {i: f"https://baja.example.org/u/{i}?src=mail&t={token(SECRET, i)}"
                    for i in urls}
    assert SECRET not in repr(settings)


def test_dates_are_written_the_spanish_way(mail_env) -> None:  # noqa: F811
    _, msg, _ = build(mail_env)
    text = body_of(msg, "plain")
    html = body_of(msg, "html")
    assert "Fecha: domingo 21 de marzo de 2027 (en 3 días)" in text
    assert "domingo 21 de marzo de 2027 (en 3 días)" in html


def test_english_office_gets_english(mail_env) -> None:  # noqa: F811
    _, msg, _ = build(mail_env, "cdmx-en", "2027-03-18T09:00:00-06:00")
    assert msg["Subject"] == "World Forestry Day: Sunday, March 21, 2027 (in 3 days)"
    assert "Current official name: International Day of Forests" in body_of(msg, "plain")
    assert msg.get_body(("plain",)).get("Content-Type").params["charset"] == "utf-8"


def test_attachment_parses_as_icalendar_with_all_day_events(mail_env) -> None:  # noqa: F811
    from datetime import date

    from icalendar import Calendar

    _, msg, _ = build(mail_env)
    ics = [p for p in msg.iter_attachments()][0].get_content()
    cal = Calendar.from_ical(ics)
    events = cal.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [
        "elimination-of-racial-discrimination-day-2027@calendar-service.conago.example",
        "international-day-of-forests-2027@calendar-service.conago.example",
        "world-poetry-day-2027@calendar-service.conago.example"]
    assert {e.decoded("DTSTART") for e in events} == {date(2027, 3, 21)}
    assert {e.decoded("DTEND") for e in events} == {date(2027, 3, 22)}
    assert str(cal["METHOD"]) == "PUBLISH"


def test_content_present_is_shown_and_absent_sections_are_left_out(mail_env) -> None:  # noqa: F811
    _, msg, _ = build(mail_env)
    text = body_of(msg, "plain")
    racism, rest = text.split("Día Forestal Mundial\n", 1)
    forests, poetry = rest.split("Día Mundial de la Poesía\n", 1)
    assert "Tema 2027: Voces por la igualdad" in racism  # the year's override
    assert "Por qué importa para un gobierno estatal" in racism
    assert "Línea para prensa" in racism
    assert "1. Hoy reafirmamos el compromiso con la igualdad y contra el racismo. #FinAlRacismo" in racism
    assert "Mensajes clave" in forests and "Línea para prensa" not in forests
    for section in ("Mensajes clave", "Publicaciones", "Línea para prensa", "Enlace oficial",
                    "Tema 2027"):
        assert section not in poetry.split("\n-- \n")[0]
    assert "Tema" not in forests  # no override for that day: nothing invented


def test_html_escapes_content_and_inlines_css(mail_env) -> None:  # noqa: F811
    _, msg, _ = build(mail_env, when="2027-03-19T09:00:00-05:00")
    html = body_of(msg, "html")
    assert "Agua &amp; saneamiento &lt;b&gt;para todos&lt;/b&gt;" in html
    assert "<b>para todos</b>" not in html
    assert "<style" not in html and 'style="' in html
    text = body_of(msg, "plain")
    assert "Agua & saneamiento <b>para todos</b>" in text  # plain text is not HTML-escaped


def test_same_content_is_built_once_and_only_headers_differ(mail_env, tmp_path) -> None:  # noqa: F811
    from conftest import write
    from mailtest import many_offices

    from calendar_service.data.loader import load_offices

    offices = load_offices(write(tmp_path, "many.yaml", many_offices(50)))
    now = at("2027-03-18T09:00:00-05:00")
    composer = Composer(mail_env["settings"])
    messages = [composer.message(b, now) for b in due_reminders(mail_env["catalog"], offices, now)]
    assert len(messages) == 50 and composer.bodies_built == 1
    bodies = {m.data.split(b"\r\n\r\n", 1)[1] for m in messages}
    assert len(bodies) == 1
    assert len({m.message_id for m in messages}) == 50


@pytest.mark.parametrize("field,value", [
    ("name", "Oficina\r\nBcc: victim@example.org"),
    ("name", "Oficina\nBcc: victim@example.org"),
    ("emails", ("qroo@example.org\r\nBcc: victim@example.org",)),
])
def test_header_injection_is_refused(mail_env, field, value) -> None:  # noqa: F811
    evil = replace(office(mail_env, "quintana-roo"), **{field: value})
    batch = scheduled_batch(mail_env["catalog"], evil, at(SENT_AT))
    with pytest.raises(HeaderInjectionError, match="line break"):
        Composer(mail_env["settings"]).message(batch, at(SENT_AT))


def test_a_day_name_with_a_line_break_cannot_reach_the_subject(mail_env) -> None:  # noqa: F811
    from calendar_service.data.model import Text

    cat = mail_env["catalog"]
    day = replace(cat.days[2], name=Text("Poesía\r\nBcc: victim@example.org"))
    cat = replace(cat, days=(cat.days[0], cat.days[1], day, cat.days[3]))
    batch = scheduled_batch(cat, office(mail_env, "quintana-roo"), at(SENT_AT))
    out = Composer(mail_env["settings"]).message(batch, at(SENT_AT))
    msg = email.message_from_bytes(out.data, policy=policy.default)
    assert msg["Bcc"] is None
    head = out.data.split(b"\r\n\r\n", 1)[0]
    assert not any(line.startswith(b"Bcc") for line in head.split(b"\r\n"))


def _golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert actual.encode("utf-8") == path.read_bytes(), (
        f"{name} differs from the golden file; if the change is intended, regenerate with "
        "UPDATE_GOLDEN=1 pytest tests/test_compose.py and review the diff")


def test_golden_text_and_html(mail_env) -> None:  # noqa: F811
    _, msg, _ = build(mail_env)
    _golden("reminder-21-march.es.txt",
            f"Subject: {msg['Subject']}\n\n" + body_of(msg, "plain"))
    _golden("reminder-21-march.es.html", body_of(msg, "html"))


def test_check_templates_passes_for_the_shipped_templates(mail_env) -> None:  # noqa: F811
    check_templates(mail_env["catalog"], mail_env["offices"], mail_env["settings"])


def test_check_templates_reports_file_and_line_of_an_undefined_name(mail_env, tmp_path) -> None:  # noqa: F811
    import shutil

    from conftest import ROOT

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    body = templates / "email" / "body.txt"
    lines = body.read_text(encoding="utf-8").splitlines()
    lines.insert(5, "{{ item.no_such_field }}")
    body.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = replace(mail_env["settings"], templates=templates)
    with pytest.raises(DataError) as caught:
        check_templates(mail_env["catalog"], mail_env["offices"], settings)
    problems = caught.value.problems
    assert len(problems) == 1
    assert problems[0].file == str(body) and problems[0].line == 6
    assert "item" in problems[0].message and "undefined" in problems[0].message


def test_check_templates_reports_syntax_errors(mail_env, tmp_path) -> None:  # noqa: F811
    import shutil

    from conftest import ROOT

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    subject = templates / "email" / "subject.txt"
    subject.write_text("{% if catch_up %}never closed\n", encoding="utf-8")
    settings = replace(mail_env["settings"], templates=templates)
    with pytest.raises(DataError) as caught:
        check_templates(mail_env["catalog"], mail_env["offices"], settings)
    assert any(p.file == str(subject) and "syntax" in p.message for p in caught.value.problems)


def test_check_templates_names_the_vocabulary_that_misses_a_word(mail_env, tmp_path) -> None:  # noqa: F811
    import shutil

    from conftest import ROOT

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    words = templates / "email" / "words" / "en.j2"
    lines = words.read_text(encoding="utf-8").splitlines(keepends=True)
    # or_button is only rendered when one-click is on (not in these settings): still caught.
    kept = [ln for ln in lines if "set press_line" not in ln and "macro or_button" not in ln]
    assert len(kept) == len(lines) - 2
    words.write_text("".join(kept), encoding="utf-8")
    settings = replace(mail_env["settings"], templates=templates)
    with pytest.raises(DataError) as caught:
        check_templates(mail_env["catalog"], mail_env["offices"], settings)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    assert problems[0].file == str(words)
    assert problems[0].message == "missing words or_button, press_line (set in words/es.j2)"
    assert str(words) in str(caught.value)


def test_a_word_missing_when_rendering_names_the_vocabulary(mail_env, tmp_path) -> None:  # noqa: F811
    import shutil

    import jinja2
    from conftest import ROOT

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    for lang in ("es", "en"):  # missing everywhere: no vocabulary to compare with
        words = templates / "email" / "words" / f"{lang}.j2"
        text = words.read_text(encoding="utf-8")
        words.write_text("".join(ln for ln in text.splitlines(keepends=True)
                                 if "set official_link" not in ln), encoding="utf-8")
    settings = replace(mail_env["settings"], templates=templates)
    with pytest.raises(jinja2.UndefinedError, match="words/es.j2 has no word 'official_link'"):
        build(dict(mail_env, settings=settings))
    with pytest.raises(DataError) as caught:
        check_templates(mail_env["catalog"], mail_env["offices"], settings)
    located = {(p.file, p.message) for p in caught.value.problems}
    assert (str(templates / "email" / "body.txt"),
            "UndefinedError: words/en.j2 has no word 'official_link'") in located


def test_check_templates_renders_a_single_late_reminder(mail_env, tmp_path) -> None:  # noqa: F811
    """A branch for one day sent late is rendered by check, though days are checked late only
    together: one day alone late is rendered too."""
    import shutil

    from conftest import ROOT

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    body = templates / "email" / "body.txt"
    body.write_text(body.read_text(encoding="utf-8")
                    + "{% if items|length == 1 and catch_up %}{{ no_such_late_word }}{% endif %}\n",
                    encoding="utf-8")
    settings = replace(mail_env["settings"], templates=templates)
    with pytest.raises(DataError) as caught:
        check_templates(mail_env["catalog"], mail_env["offices"], settings)
    assert any(p.file == str(body) and "no_such_late_word" in p.message
               for p in caught.value.problems)
