"""Image cards: what they show, contrast, layout inside the safe area, stable bytes, the cache,
and what ``check`` and ``cards --sheet`` say. Layout tests use font metrics only (fast); a few
tests draw real PNGs."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from conftest import MINIMAL_DAYS, MINIMAL_OFFICES, ROOT, write
from PIL import Image, ImageDraw
from test_cli import run

from calendar_service.data.loader import load_days
from calendar_service.publishing.cards.cache import RenderStats, render_cards
from calendar_service.publishing.cards.draw import draw, png
from calendar_service.publishing.cards.layout import FONT, font, layout, settle, text_width
from calendar_service.publishing.cards.palette import (
    AA_NORMAL,
    SDG_COLORS,
    card_colors,
    contrast,
    text_color,
)
from calendar_service.publishing.cards.spec import SIZES, card_spec, catalog_cards

TODAY = date(2027, 3, 1)
GOLDEN = Path(__file__).resolve().parent / "golden" / "cards"
LONGEST = "Día de las Naciones Unidas para los Derechos de la Mujer y la Paz Internacional"


@pytest.fixture(scope="module")
def shipped():  # type: ignore[no-untyped-def]
    return load_days(ROOT / "days.yaml")


@pytest.fixture(scope="module")
def shipped_cards(shipped):  # type: ignore[no-untyped-def]
    return [settle(s) for s in catalog_cards(shipped, TODAY)]


def minimal(tmp_path: Path, text: str = MINIMAL_DAYS):  # type: ignore[no-untyped-def]
    return load_days(write(tmp_path, "days.yaml", text))


# -- colours ---------------------------------------------------------------------------------


def test_contrast_follows_the_wcag_formula() -> None:
    assert contrast("#FFFFFF", "#000000") == pytest.approx(21)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
    assert contrast("#FFFFFF", "#777777") == contrast("#777777", "#FFFFFF")


@pytest.mark.parametrize("goal", sorted(SDG_COLORS))
def test_every_sdg_colour_gets_a_text_colour_that_meets_aa(goal: int) -> None:
    background = SDG_COLORS[goal]
    assert contrast(background, text_color(background)) >= AA_NORMAL


def test_a_card_takes_the_first_sdg_colour_else_the_first_coloured_theme() -> None:
    assert card_colors((6, 11), ("#123456",))[0] == SDG_COLORS[6]
    assert card_colors((), (None, "#5A2D82"))[0] == "#5A2D82"
    assert contrast(*card_colors((), ("#5A2D82",))) >= AA_NORMAL


def test_a_theme_colour_in_days_yaml_colours_a_day_without_sdgs(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("medio-ambiente: {es: Medio ambiente, en: Environment}",
                                'medio-ambiente: {es: Medio ambiente, en: Environment, '
                                'color: "#1f6f8b"}')
    habitat = minimal(tmp_path, text).day("world-habitat-day")
    spec = card_spec(habitat, "es", "1200x630", year=2027)
    assert spec is not None and spec.background == "#1F6F8B"


def test_a_theme_colour_that_is_not_hex_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "days.yaml", MINIMAL_DAYS.replace(
        "medio-ambiente: {es: Medio ambiente, en: Environment}",
        "medio-ambiente: {es: Medio ambiente, en: Environment, color: blue}"))
    result = run("check", "--days", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{bad}:3: themes.medio-ambiente.color: 'blue' is not a colour" in result.stderr


# -- what a card shows -------------------------------------------------------------------------


def test_a_card_shows_the_official_name_date_first_key_message_and_first_hashtag(shipped) -> None:  # type: ignore[no-untyped-def]
    day = shipped.day("zero-discrimination-day")
    spec = card_spec(day, "es", "1080x1080")
    assert spec.name == day.official_name.es == "Día de la Cero Discriminación"
    assert spec.date_text == "1 de marzo"
    assert spec.line == day.content["es"].key_messages[0] and not spec.line_given
    assert card_spec(day, "en", "1080x1080").date_text == "1 March"
    cancer = shipped.day("world-cancer-day")  # the only organiser hashtag the fact-check kept
    assert card_spec(cancer, "en", "1080x1080").hashtag == "#WorldCancerDay"


def test_a_card_never_shows_an_official_name_in_the_other_language(shipped) -> None:  # type: ignore[no-untyped-def]
    day = shipped.day("holocaust-remembrance-day")  # official name known in English only
    assert card_spec(day, "es", "1080x1080").name == day.name.es
    assert card_spec(day, "en", "1080x1080").name == day.official_name.en


def test_card_line_in_days_yaml_replaces_the_key_message(tmp_path: Path) -> None:
    text = MINIMAL_DAYS.replace("es: {summary: El agua es vida.}",
                                "es: {summary: El agua es vida., key_messages: [Uno., Dos.], "
                                "card_line: Cada gota cuenta.}")
    spec = card_spec(minimal(tmp_path, text).day("world-water-day"), "es", "1200x630")
    assert spec.line == "Cada gota cuenta." and spec.line_given


def test_a_language_without_content_gets_no_card(tmp_path: Path) -> None:
    habitat = minimal(tmp_path).day("world-habitat-day")  # Spanish content only
    assert card_spec(habitat, "en", "1200x630", year=2027) is None
    langs = {s.lang for s in catalog_cards(minimal(tmp_path), TODAY) if s.day_id == habitat.id}
    assert langs == {"es"}


def test_days_defined_by_a_rule_get_cards_per_year_with_the_year_written(tmp_path: Path) -> None:
    specs = [s for s in catalog_cards(minimal(tmp_path), TODAY)
             if s.day_id == "world-habitat-day" and s.size == "1200x630"]
    assert [(s.year, s.date_text) for s in specs] == [
        (2027, "4 de octubre de 2027"), (2028, "2 de octubre de 2028"),
        (2029, "1 de octubre de 2029")]
    assert specs[0].path == "/cards/world-habitat-day-2027-es-1200x630.png"


def test_the_site_has_every_size_of_every_day_in_both_languages(shipped, shipped_cards) -> None:  # type: ignore[no-untyped-def]
    fixed = [d for d in shipped.days if d.month_day]
    got = {(s.day_id, s.lang, s.size) for s in shipped_cards}
    assert {(d.id, lang, size) for d in fixed for lang in ("es", "en") for size in SIZES} <= got


# -- layout ------------------------------------------------------------------------------------


def test_text_width_is_exactly_the_sum_of_character_advances() -> None:
    for size, weight in ((37, 400), (64, 700), (101, 600)):
        for text in (LONGEST, "#DíaInternacionalDeLasVíctimas", "Ñandú «ÁÉÍÓÚ» Wy"):
            assert text_width(text, size, weight) == font(size, weight).getlength(text)


def test_no_text_box_leaves_the_safe_area_on_any_card_of_the_shipped_days(shipped_cards) -> None:  # type: ignore[no-untyped-def]
    for spec in shipped_cards:
        placed = layout(spec)
        assert placed.problems == (), (spec.path, placed.problems)
        left, top, right, bottom = placed.safe
        for box in placed.boxes:
            x0, y0, x1, y1 = box.bbox
            assert left <= x0 and top <= y0 and x1 <= right and y1 <= bottom, (spec.path, box)


def test_text_boxes_never_overlap(shipped_cards) -> None:  # type: ignore[no-untyped-def]
    for spec in shipped_cards[::7]:
        boxes = sorted((b.bbox for b in layout(spec).boxes), key=lambda bb: bb[1])
        for upper, lower in zip(boxes, boxes[1:], strict=False):
            assert upper[3] <= lower[1], spec.path


def test_the_longest_name_fits_every_size_with_its_line(shipped, shipped_cards) -> None:  # type: ignore[no-untyped-def]
    day = next(d for d in shipped.days if d.name.es == LONGEST)
    for size in SIZES:
        spec = card_spec(day, "es", size)
        placed = layout(replace(spec, name=LONGEST))
        assert placed.problems == ()
        assert " ".join(" ".join(b.lines) for b in placed.boxes if b.role == "name") == LONGEST


def test_every_letter_on_the_cards_has_a_glyph_in_the_bundled_font(shipped_cards) -> None:  # type: ignore[no-untyped-def]
    f = font(40, 400)

    def glyph(c: str) -> bytes:
        image = Image.new("L", (80, 80))
        ImageDraw.Draw(image).text((10, 10), c, font=f, fill=255)
        return image.tobytes()

    missing = glyph("\U0010FFFD")  # a code point no font has: drawn as .notdef
    letters = {c for s in shipped_cards for c in s.name + s.date_text + s.line + s.hashtag
               if not c.isspace()}
    assert {"á", "é", "í", "ó", "ú", "ñ", "Á", "É", "«", "»"} & letters
    for c in sorted(letters | set("áéíóúüñÁÉÍÓÚÜÑ¿¡«»")):
        assert glyph(c) != missing, c


def test_a_card_line_too_long_to_fit_is_a_problem_but_a_borrowed_one_is_dropped(shipped) -> None:  # type: ignore[no-untyped-def]
    day = shipped.day("world-water-day")
    spec = card_spec(day, "es", "1200x630")
    long_line = " ".join(["Una frase demasiado larga para una tarjeta."] * 8)
    given = layout(replace(spec, line=long_line, line_given=True))
    assert [what for what, _ in given.problems] == ["card_line"]
    borrowed = replace(spec, line=long_line, line_given=False)
    assert layout(borrowed).problems == ()
    assert settle(borrowed).line == ""


def test_a_signature_is_drawn_at_the_bottom_inside_the_safe_area(shipped) -> None:  # type: ignore[no-untyped-def]
    spec = card_spec(shipped.day("world-water-day"), "es", "1080x1920",
                     signature="Gobierno de Jalisco · Asuntos Internacionales")
    placed = layout(spec)
    sig = next(b for b in placed.boxes if b.role == "signature")
    assert sig.bbox[3] <= placed.safe[3] and sig == max(placed.boxes, key=lambda b: b.bbox[3])


# -- pixels ------------------------------------------------------------------------------------


def test_the_same_card_gives_the_same_bytes_without_time_or_software_chunks(shipped) -> None:  # type: ignore[no-untyped-def]
    spec = card_spec(shipped.day("world-water-day"), "es", "1200x630")
    first, second = png(spec), png(spec)
    assert first == second
    for chunk in (b"tIME", b"tEXt", b"iTXt", b"zTXt", b"eXIf"):
        assert chunk not in first
    with Image.open(io.BytesIO(first)) as image:
        assert image.size == (1200, 630)


def test_drawn_ink_stays_inside_the_safe_area(shipped) -> None:  # type: ignore[no-untyped-def]
    for day_id in ("un-day-for-womens-rights-and-international-peace",
                   "rwanda-genocide-reflection-day", "holocaust-remembrance-day"):
        for size in SIZES:
            spec = replace(card_spec(shipped.day(day_id), "es", size),
                           signature="Gobierno de Jalisco · Asuntos Internacionales")
            image = draw(spec)
            ink = Image.eval(image.convert("L"), lambda v: 0).getbbox()  # sanity: blank is None
            assert ink is None
            coverage = Image.frombytes("L", image.size, image.tobytes())  # palette index = ink
            left, top, right, bottom = coverage.getbbox()
            safe = layout(spec).safe
            assert safe[0] <= left and safe[1] <= top and right <= safe[2] and bottom <= safe[3]


def _distance(a: bytes, b: bytes) -> float:
    with Image.open(io.BytesIO(a)) as x, Image.open(io.BytesIO(b)) as y:
        assert x.size == y.size
        pa, pb = x.convert("L").tobytes(), y.convert("L").tobytes()
    return sum(abs(p - q) for p, q in zip(pa, pb, strict=True)) / len(pa)


GOLDEN_CARDS = [("un-day-for-womens-rights-and-international-peace", "es", "1200x630"),
                ("world-water-day", "en", "1080x1080"),
                ("rwanda-genocide-reflection-day", "es", "1080x1920")]


@pytest.mark.parametrize(("day_id", "lang", "size"), GOLDEN_CARDS)
def test_cards_match_the_golden_images(shipped, day_id: str, lang: str, size: str) -> None:  # type: ignore[no-untyped-def]
    """Golden files: tests/golden/cards/; regenerate with UPDATE_GOLDEN=1 after a deliberate
    change (and bump RENDERER_VERSION). The tolerance absorbs anti-aliasing differences between
    FreeType builds, not a moved or missing word."""
    got = png(settle(card_spec(shipped.day(day_id), lang, size)))
    path = GOLDEN / f"{day_id}-{lang}-{size}.png"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(got)
    assert _distance(got, path.read_bytes()) < 1.0  # mean grey-level difference, of 255


# -- cache -------------------------------------------------------------------------------------


def test_the_cache_redraws_only_the_cards_whose_content_changed(tmp_path: Path, shipped) -> None:  # type: ignore[no-untyped-def]
    day = shipped.day("world-water-day")
    specs = [card_spec(day, lang, "1200x630") for lang in ("es", "en")]
    cold = RenderStats()
    first = render_cards(specs, tmp_path, stats=cold)
    warm = RenderStats()
    assert render_cards(specs, tmp_path, stats=warm) == first
    assert (cold.drawn, warm.drawn, warm.cached) == (2, 0, 2)
    changed = RenderStats()
    render_cards([replace(specs[0], line="Otra frase."), specs[1]], tmp_path, stats=changed)
    assert (changed.drawn, changed.cached) == (1, 1)


def test_the_cache_key_follows_the_font_and_the_renderer_version(shipped) -> None:  # type: ignore[no-untyped-def]
    spec = card_spec(shipped.day("world-water-day"), "es", "1200x630")
    assert spec.key("font-a") != spec.key("font-b")
    assert FONT.with_name("OFL.txt").is_file()


# -- commands ----------------------------------------------------------------------------------


def test_check_reports_a_card_line_that_cannot_fit_with_file_and_line(tmp_path: Path) -> None:
    long_line = " ".join(["Una frase demasiado larga para caber en una tarjeta."] * 10)
    days = write(tmp_path, "days.yaml", MINIMAL_DAYS.replace(
        "es: {summary: El agua es vida.}", f"es: {{summary: El agua es vida., card_line: {long_line}}}"))
    result = run("check", "--days", str(days), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{days}:16: days[0].content.es.card_line: does not fit below the name" in result.stderr
    assert "on the 1200x630, 1080x1080, 1080x1920 cards; shorten it" in result.stderr


def test_check_reports_a_signature_that_does_not_fit(tmp_path: Path) -> None:
    days = write(tmp_path, "days.yaml", MINIMAL_DAYS)
    offices = write(tmp_path, "offices.yaml", MINIMAL_OFFICES + "    signature: "
                    + "Gobierno del Estado Libre y Soberano de Quintana Roo · " * 3 + "\n")
    result = run("check", "--days", str(days), "--offices", str(offices), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{offices}:3: offices[0].signature:" in result.stderr
    assert "does not fit on one line" in result.stderr


def test_cards_sheet_writes_one_contact_sheet_of_every_card(tmp_path: Path) -> None:
    days = write(tmp_path, "days.yaml", MINIMAL_DAYS)
    sheet = tmp_path / "sheet.png"
    result = run("cards", "--days", str(days), "--data-dir", str(tmp_path / "data"),
                 "--today", "2027-03-01", "--sheet", str(sheet), cwd=tmp_path,
                 env={"CALENDAR_SERVICE_CARD_CACHE": ""})  # the default: DATA_DIR/cache/cards
    assert result.returncode == 0, result.stderr
    assert (f"15 cards (15 drawn, 0 from the cache in {tmp_path / 'data' / 'cache' / 'cards'})"
            in result.stdout)  # water: 2 languages x 3 sizes; habitat: Spanish, 3 years x 3
    with Image.open(sheet) as image:
        assert image.height > 4 * 200  # one row per day and year


def test_site_cards_come_from_the_cache_one_file_at_a_time(tmp_path: Path) -> None:
    from calendar_service.publishing.cards.site_cards import site_cards

    catalog = minimal(tmp_path)
    cold, warm = RenderStats(), RenderStats()
    first = site_cards(catalog, TODAY, tmp_path / "cache", stats=cold)
    second = site_cards(catalog, TODAY, tmp_path / "cache", stats=warm)
    assert (cold.drawn, warm.drawn, warm.cached) == (15, 0, 15)
    path = "/cards/world-water-day-es-1200x630.png"
    assert first.images[path] == second.images[path] == png(
        settle(card_spec(catalog.day("world-water-day"), "es", "1200x630")))
    assert len(list((tmp_path / "cache").rglob("*.png"))) == 15


def test_a_cache_that_cannot_be_written_still_gives_every_card(tmp_path: Path) -> None:
    from calendar_service.publishing.cards.site_cards import site_cards

    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    cards = site_cards(minimal(tmp_path), TODAY, blocked)
    assert cards.images["/cards/world-water-day-en-1080x1920.png"].startswith(b"\x89PNG")
