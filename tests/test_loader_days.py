"""days.yaml validation: every kind of bad input is reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MINIMAL_DAYS, write

from calendar_service.base.errors import DataError
from calendar_service.data.loader import load_days


def problems_for(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(DataError) as info:
        load_days(write(tmp_path, "days.yaml", text), complete=True)
    return [str(p) for p in info.value.problems]


def test_minimal_file_loads_with_fixed_dates_and_rules(days_file: Path) -> None:
    catalog = load_days(days_file)
    water, habitat = catalog.days
    assert water.month_day == (3, 22)
    assert habitat.rule == "FREQ=YEARLY;BYMONTH=10;BYDAY=1MO"
    assert water.proclaimed_by is not None and water.proclaimed_by.un
    assert [t.id for t in habitat.themes] == ["medio-ambiente", "derechos-humanos"]
    assert water.name.get("en") == "World Water Day"
    assert habitat.content_for("en").summary == "Ciudades para todos."  # falls back to Spanish


BAD_INPUTS = [
    pytest.param('date: "03-22"', 'date: "02-30"', 'days.yaml:9: days[0].date: "02-30" is not a '
                 "date (February has 28 days)", id="impossible-date"),
    pytest.param('date: "03-22"', 'date: "02-29"', 'days.yaml:9: days[0].date: "02-29" exists '
                 "only in leap years", id="leap-day"),
    pytest.param('date: "03-22"', 'date: "13-01"', "month must be 01 to 12", id="month-13"),
    pytest.param('date: "03-22"', "date: 2027-03-22", 'days.yaml:9: days[0].date: expected "MM-DD"',
                 id="date-wrong-type"),
    pytest.param("id: world-habitat-day", "id: world-water-day",
                 "days.yaml:18: days[1].id: duplicate id 'world-water-day' (first defined on line 8)",
                 id="duplicate-id"),
    pytest.param("themes: [medio-ambiente]", "themes: [medio-ambeinte]",
                 "days.yaml:13: days[0].themes[0]: unknown theme 'medio-ambeinte' (did you mean "
                 "'medio-ambiente'?)", id="unknown-theme"),
    pytest.param("sdgs: [6]", "sdgs: [6, 18]",
                 "days.yaml:14: days[0].sdgs[1]: 18 is not an SDG: the 2030 Agenda has goals 1 to 17",
                 id="sdg-out-of-range"),
    pytest.param("sdgs: [6]", "sdgs: six", "days.yaml:14: days[0].sdgs: expected a list of numbers",
                 id="sdgs-wrong-type"),
    pytest.param('rule: "FREQ=YEARLY;BYMONTH=10;BYDAY=1MO"', 'rule: "FREQ=YEARLY;BYDAY=1XX"',
                 "days.yaml:19: days[1].rule: not a valid RFC 5545 rule", id="invalid-rule"),
    pytest.param('rule: "FREQ=YEARLY;BYMONTH=10;BYDAY=1MO"', 'rule: "FREQ=YEARLY;BYMONTH=13"',
                 "days.yaml:19: days[1].rule: the rule never occurs", id="rule-never-occurs"),
    pytest.param('rule: "FREQ=YEARLY;BYMONTH=10;BYDAY=1MO"', 'rule: "FREQ=DAILY"',
                 "days.yaml:19: days[1].rule: international days recur yearly", id="rule-not-yearly"),
    pytest.param("name: {es: Día Mundial del Agua, en: World Water Day}", "name: {en: World Water Day}",
                 "days.yaml:11: days[0].name.es: missing: the Spanish text is required",
                 id="missing-spanish-name"),
    pytest.param("    proclaimed_by: unga", "    proclaimed_by: unga\n    sinse: 1992",
                 "days.yaml:13: days[0].sinse: unknown key (did you mean 'since'?)",
                 id="unknown-key"),
    pytest.param("annex: false\n    name: {es: Día Mundial del Agua",
                 "annex: no-lo-se\n    name: {es: Día Mundial del Agua",
                 "days.yaml:10: days[0].annex: expected true or false, got a string", id="wrong-type"),
    pytest.param("proclaimed_by: unga", "proclaimed_by: onu",
                 "days.yaml:12: days[0].proclaimed_by: unknown body 'onu'", id="unknown-body"),
    pytest.param("    sdgs: [6]", "    sdgs: [6]\n    url: http://example.org",
                 "days.yaml:15: days[0].url: 'http://example.org' is not https", id="url-not-https"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD_INPUTS)
def test_bad_input_is_reported_with_line_and_field(tmp_path: Path, old: str, new: str,
                                                   expected: str) -> None:
    assert old in MINIMAL_DAYS
    problems = problems_for(tmp_path, MINIMAL_DAYS.replace(old, new, 1))
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(str(tmp_path / "days.yaml")) for p in problems)


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("    annex: false\n", "    annex: [false\n", 1)
    problems = problems_for(tmp_path, text)
    assert len(problems) == 1
    assert ": YAML syntax error:" in problems[0]
    line = int(problems[0].split(":")[1])
    assert 10 <= line <= 12


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (MINIMAL_DAYS.replace('"03-22"', '"02-30"').replace("sdgs: [6]", "sdgs: [0]")
            .replace("[medio-ambiente, derechos", "[nada, derechos"))
    problems = problems_for(tmp_path, text)
    assert len(problems) == 3, problems


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_days(tmp_path / "nope.yaml")


def test_post_longer_than_280_characters_is_refused(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("es: {summary: El agua es vida.}",
                                "es: {summary: El agua es vida., posts: [" + "a" * 281 + "]}")
    assert any("days[0].content.es.posts[0]: 281 characters; a post must fit 280" in p
               for p in problems_for(tmp_path, text))


def test_malformed_hashtag_is_refused(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("es: {summary: El agua es vida.}",
                                'es: {summary: El agua es vida., hashtags: ["#Día del Agua"]}')
    assert any("days[0].content.es.hashtags[0]: '#Día del Agua' is not a hashtag" in p
               for p in problems_for(tmp_path, text))


def test_placeholder_text_is_refused(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("El agua es vida.", "TODO escribir")
    assert any("days[0].content.es.summary: contains placeholder text" in p
               for p in problems_for(tmp_path, text))


def test_the_spanish_word_todo_is_not_a_placeholder(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("El agua es vida.", "El agua es vida en todo México.")
    assert load_days(write(tmp_path, "days.yaml", text), complete=True).days[0].content["es"]


def test_annex_day_needs_complete_content_in_both_languages(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("annex: false", "annex: true", 1)
    load_days(write(tmp_path, "days.yaml", text))  # loads for serving and sending...
    problems = problems_for(tmp_path, text)  # ...but check refuses it
    for field in ("why", "press_line", "key_messages", "posts"):
        assert any(f"days[0].content.es.{field}" in p for p in problems), field
        assert any(f"days[0].content.en.{field}" in p for p in problems), field


def test_year_override_is_loaded(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace(
        "    sdgs: [6]\n",
        "    sdgs: [6]\n    years:\n      2027:\n        theme: {es: Agua y paz, en: Water and "
        "peace}\n        key_messages: {es: [Cuidemos el agua.]}\n", 1)
    day = load_days(write(tmp_path, "days.yaml", text)).days[0]
    override = day.override_for(2027)
    assert override is not None and override.theme is not None
    assert override.theme.get("en") == "Water and peace"
    assert override.key_messages["es"] == ("Cuidemos el agua.",)
    assert day.override_for(2028) is None


@pytest.mark.parametrize(("rule", "message"), [
    ("FREQ=YEARLY;BYMONTH=4,10;BYDAY=1MO", "the rule gives 2 dates in 1946"),
    ("FREQ=YEARLY;BYDAY=MO", "the rule gives 52 dates in 1946"),
    ("FREQ=YEARLY;INTERVAL=2;BYMONTH=5;BYMONTHDAY=3", "INTERVAL, COUNT and UNTIL are not supported"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "the rule never occurs in 1946"),
    # D8: the last ISO week's Friday is right in most years, and absent or twice in others.
    ("FREQ=YEARLY;BYWEEKNO=-1;BYDAY=FR", "the rule never occurs in 1953"),
])
def test_a_rule_must_give_exactly_one_date_every_year(tmp_path: Path, rule: str, message: str) -> None:
    text = MINIMAL_DAYS.replace('"FREQ=YEARLY;BYMONTH=10;BYDAY=1MO"', f'"{rule}"')
    assert any(f"days.yaml:19: days[1].rule: {message}" in p for p in problems_for(tmp_path, text))
