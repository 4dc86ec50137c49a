"""Image cards in the reminders: attached per office (signed, or none), linked in the shared
body with their alt text, and never past 1 MB a message."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import date
from pathlib import Path

from conftest import write
from mailtest import FULL_DAYS, OFFICES, at, mail_env, smtp_server  # noqa: F401

from calendar_service.data.loader import load_all
from calendar_service.mail.compose import ATTACH_LIMIT, Composer
from calendar_service.mail.reminders import due_reminders
from calendar_service.mail.sending import send_due

NOW = at("2027-03-18T09:00:00-05:00")  # 09:00 in Cancun: quintana-roo's lead 3 for 21 March
SIGNATURE = "Gobierno de Quintana Roo · Asuntos Internacionales"


def parts(raw: bytes) -> tuple[str, list[email.message.EmailMessage]]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    return text, [p for p in msg.iter_attachments() if p.get_content_type() == "image/png"]


def with_offices(env, text: str):  # type: ignore[no-untyped-def]
    offices_file = write(env["tmp"], "offices.yaml", text)
    catalog, offices = load_all(env["days_file"], offices_file)
    return catalog, offices


def test_a_reminder_arrives_with_the_offices_cards_attached(mail_env, smtp_server) -> None:  # noqa: F811
    handler, port = smtp_server
    settings = replace(mail_env["settings"], smtp_url=f"smtp://127.0.0.1:{port}")
    assert send_due(settings, mail_env["catalog"], mail_env["offices"], NOW).ok
    raw = next(e.original_content for e in handler.messages if "qroo@example.org" in e.rcpt_tos)
    text, images = parts(raw)
    names = [p.get_filename() for p in images]
    assert "elimination-of-racial-discrimination-day-es-1200x630.png" in names
    assert all(n.endswith(("-es-1200x630.png", "-es-1080x1080.png", "-es-1080x1920.png"))
               for n in names)
    first = images[0]
    assert first.get_content().startswith(b"\x89PNG")
    assert first["Content-Description"].startswith("Imagen con el texto «")
    assert len(raw) <= ATTACH_LIMIT
    assert ("https://dias.example.org/cards/elimination-of-racial-discrimination-day-es-1200x630.png"
            in text)
    assert ("Imagen con el texto «Día Internacional de la Eliminación de la Discriminación"
            in " ".join(text.split()))  # the alt text, wrapped


def test_an_office_with_cards_off_gets_the_same_text_and_no_images(mail_env) -> None:  # noqa: F811
    off = OFFICES.replace("    emails: [qroo@example.org, prensa.qroo@example.org]\n",
                          "    emails: [qroo@example.org, prensa.qroo@example.org]\n"
                          "    cards: false\n")
    catalog, offices = with_offices(mail_env, off)
    composer = Composer(mail_env["settings"])
    batch = next(b for b in due_reminders(catalog, offices, NOW) if b.office.id == "quintana-roo")
    assert batch.office.cards is False
    text, images = parts(composer.message(batch, NOW).data)
    assert images == []
    on = replace(batch, office=replace(batch.office, cards=True))
    text_on, images_on = parts(composer.message(on, NOW).data)
    assert text == text_on and images_on  # the body (links included) is the shared one


def test_a_signature_is_drawn_on_the_cards_and_the_body_is_rendered_once(mail_env) -> None:  # noqa: F811
    signed = OFFICES.replace("    emails: [qroo@example.org, prensa.qroo@example.org]\n",
                             "    emails: [qroo@example.org, prensa.qroo@example.org]\n"
                             f"    signature: {SIGNATURE}\n")
    catalog, offices = with_offices(mail_env, signed)
    qroo = next(o for o in offices if o.id == "quintana-roo")
    assert qroo.signature == SIGNATURE
    composer = Composer(mail_env["settings"])
    batch = next(b for b in due_reminders(catalog, offices, NOW) if b.office.id == "quintana-roo")
    unsigned = replace(batch, office=replace(qroo, signature=""))
    text_signed, cards_signed = parts(composer.message(batch, NOW).data)
    text_plain, cards_plain = parts(composer.message(unsigned, NOW).data)
    assert text_signed == text_plain and composer.renders == 1
    assert [p.get_filename() for p in cards_signed] == [p.get_filename() for p in cards_plain]
    assert cards_signed[0].get_content() != cards_plain[0].get_content()
    assert SIGNATURE in cards_signed[0]["Content-Description"]


def test_cards_past_one_megabyte_are_linked_not_attached(tmp_path: Path, mail_env) -> None:  # noqa: F811
    """Twelve days on one date: their cards weigh more than 1 MB together."""
    block = FULL_DAYS.split("days:\n", 1)[1].split("  - id: ", 2)[1]
    many = FULL_DAYS.split("days:\n", 1)[0] + "days:\n" + "".join(
        "  - id: " + block.replace("elimination-of-racial-discrimination-day", f"day-{n:02d}", 1)
        .replace("Discriminación Racial", f"Discriminación Racial {n}")
        for n in range(12))
    days = write(tmp_path, "many.yaml", many)
    catalog, offices = load_all(days, mail_env["offices_file"])
    assert len(catalog.days) == 12
    composer = Composer(mail_env["settings"])
    batch = next(b for b in due_reminders(catalog, offices, NOW) if b.office.id == "quintana-roo")
    assert len(batch.items) == 12
    out = composer.message(batch, NOW)
    text, images = parts(out.data)
    assert len(out.data) <= ATTACH_LIMIT
    assert 0 < len(images) < 36
    assert {p.get_filename().rsplit("-", 1)[1] for p in images[:12]} == {"1200x630.png"}
    assert text.count("https://dias.example.org/cards/") == 36  # every card linked on the site


def test_the_cards_date_follows_the_occurrence_for_days_defined_by_a_rule(mail_env) -> None:  # noqa: F811
    from calendar_service.data.model import Occurrence
    from calendar_service.mail.cards import MailCards

    habitat = next(d for d in mail_env["catalog"].days if d.rule) if any(
        d.rule for d in mail_env["catalog"].days) else None
    if habitat is None:  # the mail catalog has none: use the shipped one's rule day
        from conftest import ROOT

        from calendar_service.data.loader import load_days

        habitat = load_days(ROOT / "days.yaml").day("world-habitat-day")
    cards = MailCards(mail_env["settings"])
    links = cards.links(Occurrence(habitat, date(2027, 10, 4)), "es")["links"]
    assert links[0]["url"].endswith("/cards/world-habitat-day-2027-es-1200x630.png")
