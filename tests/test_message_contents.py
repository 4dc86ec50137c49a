"""Messages say what they hold: the subject names the days, and a message of several days opens
with a short list (date, name, days left) that links to each day's section."""

from __future__ import annotations

import email
import re
from email import policy

from mailtest import at, mail_env  # noqa: F401

from calendar_service.mail.compose import Composer
from calendar_service.mail.reminders import Batch, due_reminders

MARCH_21 = {"elimination-of-racial-discrimination-day", "international-day-of-forests",
            "world-poetry-day"}


def compose(env, when: str, office_id: str = "quintana-roo", keep=None):  # type: ignore[no-untyped-def]
    [batch] = [b for b in due_reminders(env["catalog"], env["offices"], at(when))
               if b.office.id == office_id]
    if keep is not None:
        batch = Batch(batch.office, tuple(i for i in batch.items
                                          if i.occurrence.day.id in keep), batch.local_now)
    out = Composer(env["settings"]).message(batch, at(when))
    return email.message_from_bytes(out.data, policy=policy.default)


def test_three_days_name_the_first_and_count_the_others(mail_env) -> None:  # noqa: F811
    msg = compose(mail_env, "2027-03-18T09:00:00-05:00", keep=MARCH_21)
    assert msg["Subject"] == ("Día Internacional de la Eliminación de la Discriminación Racial "
                              "(21 de marzo) y 2 días más")


def test_two_days_on_one_date_are_both_named(mail_env) -> None:  # noqa: F811
    msg = compose(mail_env, "2027-03-18T09:00:00-05:00",
                  keep={"international-day-of-forests", "world-poetry-day"})
    assert msg["Subject"] == "Día Forestal Mundial y Día Mundial de la Poesía (21 de marzo)"


def test_two_days_on_two_dates_carry_each_date(mail_env) -> None:  # noqa: F811
    msg = compose(mail_env, "2027-03-18T09:00:00-05:00",
                  keep={"world-poetry-day", "world-water-day"})
    assert msg["Subject"].endswith(
        "Día Mundial de la Poesía (21 de marzo) y Día Mundial del Agua (22 de marzo)")


def test_english_subject_counts_in_english(mail_env) -> None:  # noqa: F811
    msg = compose(mail_env, "2027-03-18T09:00:00-06:00", office_id="cdmx-en")
    assert msg["Subject"].startswith("World Forestry Day: Sunday, March 21, 2027")


def test_the_text_part_opens_with_the_list_of_days(mail_env) -> None:  # noqa: F811
    text = compose(mail_env, "2027-03-18T09:00:00-05:00").get_body(("plain",)).get_content()
    head = text.split("Abajo encontrará")[0]
    assert "- 21 de marzo: Día Forestal Mundial (en 3 días)" in head
    assert "- 21 de marzo: Día Mundial de la Poesía (en 3 días)" in head


def test_the_html_list_links_to_each_section(mail_env) -> None:  # noqa: F811
    html = compose(mail_env, "2027-03-18T09:00:00-05:00", keep=MARCH_21).get_body(("html",)).get_content()
    links = re.findall(r'<a href="#([^"]+)"', html)
    assert links == ["elimination-of-racial-discrimination-day-2027-03-21",
                     "international-day-of-forests-2027-03-21", "world-poetry-day-2027-03-21"]
    for anchor in links:
        assert f'<h2 id="{anchor}"' in html


def test_a_single_day_has_no_list(mail_env) -> None:  # noqa: F811
    msg = compose(mail_env, "2027-03-18T09:00:00-06:00", office_id="cdmx-en")
    assert 'class="toc"' not in msg.get_body(("html",)).get_content()
