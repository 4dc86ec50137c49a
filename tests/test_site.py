"""The static build: every file the service serves, written atomically, links that resolve."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from conftest import ROOT
from hypothesis import example, given, settings
from hypothesis import strategies as st
from webtools import GOLDEN, NOW, TODAY, publication, renderer

from calendar_service.base.paths import file_name, relative
from calendar_service.data.loader import load_days
from calendar_service.publishing.site import MARKER, build_site, write_site
from calendar_service.publishing.state import PublishState


def build(*args: str, data_dir: Path, days: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CALENDAR_SERVICE_DATA_DIR": str(data_dir),
           "CALENDAR_SERVICE_BASE_URL": "https://dias.example.org"}
    env.pop("CALENDAR_SERVICE_DEBUG", None)
    extra = ["--days", str(days)] if days else []
    return subprocess.run([sys.executable, "-m", "calendar_service", "build", *extra, *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    result = build(str(out / "site"), "--today", "2027-03-01", data_dir=out / "data")
    assert result.returncode == 0, result.stderr
    assert "files" in result.stdout
    return out / "site"


@pytest.fixture(scope="module")
def golden_site():  # type: ignore[no-untyped-def]
    site, _ = build_site(load_days(GOLDEN / "days.yaml"), today=TODAY, now=NOW,
                         state=PublishState(), publication=publication(), renderer=renderer())
    return site


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key] or "")


def test_build_writes_feeds_pages_json_and_assets(built: Path) -> None:
    for name in ("calendar.ics", "en/calendar.ics", "alarms/calendar.ics",
                 "themes/medio-ambiente.ics", "en/themes/medio-ambiente.ics", "index.html",
                 "en/index.html", "days/world-water-day/index.html",
                 "en/days/world-water-day/index.html", "days.json", "en/days.json",
                 "static/style.css", "static/copy.js", "404.html", MARKER):
        assert (built / name).is_file(), name


def test_every_internal_link_of_every_page_resolves_to_a_built_file(built: Path) -> None:
    pages = list(built.rglob("*.html"))
    assert len(pages) > 90
    checked = 0
    for page in pages:
        if page.name == "404.html":
            continue  # absolute links: it is served at any depth
        parser = Links()
        parser.feed(page.read_text(encoding="utf-8"))
        url = "file://" + str(page)
        for link in parser.links:
            target = urlsplit(urljoin(url, link))
            if target.scheme != "file":
                continue
            path = Path(unquote(target.path))
            if path.is_dir():
                path = path / "index.html"
            assert path.is_file(), f"{page.relative_to(built)}: broken link {link}"
            checked += 1
    assert checked > 500


def test_files_carry_the_last_modified_time_as_mtime(built: Path) -> None:
    assert (built / "calendar.ics").stat().st_mtime == pytest.approx(
        parsedate_to_datetime("Mon, 01 Mar 2027 00:00:00 GMT").timestamp())


def test_rebuilding_replaces_the_folder_and_keeps_unchanged_dates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert build(str(tmp_path / "site"), "--today", "2027-03-01", data_dir=data).returncode == 0
    stale = tmp_path / "site" / "stale.txt"
    stale.write_text("from an older build")
    feed_mtime = (tmp_path / "site" / "calendar.ics").stat().st_mtime
    result = build(str(tmp_path / "site"), "--now", "2027-03-01T18:00:00Z", data_dir=data)
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert (tmp_path / "site" / "calendar.ics").stat().st_mtime == feed_mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "site"]  # no temp leftovers


def test_build_refuses_to_replace_a_folder_it_did_not_write(tmp_path: Path) -> None:
    precious = tmp_path / "docs"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    result = build(str(precious), data_dir=tmp_path / "data")
    assert result.returncode == 2
    assert "not empty" in result.stderr and "Traceback" not in result.stderr
    assert (precious / "thesis.txt").read_text() == "keep me"


def test_build_on_bad_data_exits_2_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "days.yaml"
    bad.write_text((GOLDEN / "days.yaml").read_text().replace('"03-22"', '"02-30"'))
    result = build(str(tmp_path / "site"), data_dir=tmp_path / "data", days=bad)
    assert result.returncode == 2
    assert re.search(r"days\.yaml:\d+: days\[0\]\.date: \"02-30\" is not a date", result.stderr)
    assert not (tmp_path / "site").exists()


def test_days_json_lists_every_day_with_its_next_date(built: Path) -> None:
    doc = json.loads((built / "days.json").read_text(encoding="utf-8"))
    catalog = load_days(ROOT / "days.yaml")
    assert doc["language"] == "es" and doc["today"] == "2027-03-01"
    assert {d["id"] for d in doc["days"]} == {d.id for d in catalog.days}
    dates = [d["date"] for d in doc["days"]]
    assert dates == sorted(dates) and dates[0] >= "2027-03-01"
    water = next(d for d in doc["days"] if d["id"] == "world-water-day")
    assert water["date"] == "2027-03-22"
    assert water["page"] == "https://dias.example.org/days/world-water-day/"
    en = json.loads((built / "en" / "days.json").read_text(encoding="utf-8"))
    assert next(d for d in en["days"] if d["id"] == "world-water-day")["name"] == "World Water Day"


def test_index_lists_coming_months_and_subscribe_links(golden_site) -> None:  # type: ignore[no-untyped-def]
    html = golden_site.resources["/"].body.decode()
    assert '<html lang="es">' in html
    assert html.index("Marzo de 2027") < html.index("Octubre de 2027") < html.index(
        "Diciembre de 2027")
    assert "webcal://dias.example.org/calendar.ics" in html
    assert ("https://calendar.google.com/calendar/r?cid=webcal://dias.example.org/calendar.ics"
            in html)
    assert ("https://outlook.live.com/calendar/0/addfromweb?url=https%3A%2F%2Fdias.example.org"
            "%2Fcalendar.ics&amp;name=D%C3%ADas%20internacionales" in html)
    assert 'href="calendar.ics" download' in html
    en = golden_site.resources["/en/"].body.decode()
    assert '<html lang="en">' in en and "March 2027" in en
    assert "webcal://dias.example.org/en/calendar.ics" in en


def test_day_page_uses_the_year_override_and_invents_nothing(golden_site) -> None:  # type: ignore[no-untyped-def]
    water = golden_site.resources["/days/world-water-day/"].body.decode()
    assert "Tema de 2027" in water and "Agua y glaciares" in water
    assert 'href="https://www.unwater.org/2027"' in water
    assert "lunes 22 de marzo de 2027" in water
    # only a summary in the data: no empty sections for messages, posts or hashtags
    for heading in ("Mensajes clave", "Publicaciones para redes sociales", "Línea para prensa",
                    "Etiquetas"):
        assert heading not in water
    assert "Todavía no hay comunicaciones sugeridas" in water
    rights = golden_site.resources["/en/days/human-rights-day/"].body.decode()
    assert '<h1 id="day-title" lang="es">Día de los Derechos Humanos</h1>' in rights
    assert '<div lang="es">' in rights  # the Spanish summary is marked as Spanish


def test_day_page_offers_every_suggested_text_to_copy(tmp_path: Path) -> None:
    text = (GOLDEN / "days.yaml").read_text().replace(
        '      en: {summary: Cities for all.}',
        '      en:\n        summary: Cities for all.\n        key_messages: [One., Two., Three.]\n'
        '        posts: ["A post #Habitat"]\n        press_line: A line for the press.\n'
        '        hashtags: ["#Habitat", "#Cities"]')
    days = tmp_path / "days.yaml"
    days.write_text(text)
    site, _ = build_site(load_days(days), today=TODAY, now=NOW, state=PublishState(),
                         publication=publication(), renderer=renderer())
    html = site.resources["/en/days/world-habitat-day/"].body.decode()
    for ident, content in (("km-1", "One."), ("km-3", "Three."), ("post-1", "A post #Habitat"),
                           ("press", "A line for the press."), ("hashtags", "#Habitat #Cities")):
        assert f'<p id="{ident}">{content}</p>' in html
        assert f'data-copy="{ident}" hidden' in html


def test_text_from_the_data_is_escaped(tmp_path: Path) -> None:
    days = tmp_path / "days.yaml"
    days.write_text((GOLDEN / "days.yaml").read_text().replace(
        "Ciudades para todos.", "Ciudades <script>alert(1)</script> & pueblos."))
    site, _ = build_site(load_days(days), today=TODAY, now=NOW, state=PublishState(),
                         publication=publication(), renderer=renderer())
    html = site.resources["/days/world-habitat-day/"].body.decode()
    assert "<script>alert" not in html
    assert "Ciudades &lt;script&gt;alert(1)&lt;/script&gt; &amp; pueblos." in html


def test_resources_have_types_etags_and_gzip(golden_site) -> None:  # type: ignore[no-untyped-def]
    feed = golden_site.resources["/calendar.ics"]
    assert feed.content_type == "text/calendar; charset=utf-8"
    assert feed.etag.startswith('"') and feed.etag.endswith('"')
    assert feed.http_last_modified == "Fri, 15 Jan 2027 12:00:00 GMT"
    import gzip

    assert gzip.decompress(feed.gzipped) == feed.body
    assert golden_site.resources["/days.json"].content_type == "application/json"


def test_relative_links_and_file_names() -> None:
    assert relative("/", "/calendar.ics") == "calendar.ics"
    assert relative("/en/days/x/", "/static/style.css") == "../../../static/style.css"
    assert relative("/days/x/", "/") == "../../"
    assert relative("/", "/") == "./"
    assert relative("/en/", "/") == "../"
    assert file_name("/") == "index.html"
    assert file_name("/en/days/x/") == "en/days/x/index.html"


def test_write_site_is_all_or_nothing_on_a_file_target(tmp_path: Path, golden_site) -> None:  # type: ignore[no-untyped-def]
    from calendar_service.base.errors import ConfigError

    target = tmp_path / "a-file"
    target.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        write_site(golden_site, target)
    write_site(golden_site, tmp_path / "site")
    assert (tmp_path / "site" / "calendar.ics").read_bytes() == \
        golden_site.resources["/calendar.ics"].body


def test_a_build_written_file_by_file_has_the_bytes_and_dates_of_the_site_in_memory(
        tmp_path: Path, golden_site) -> None:  # type: ignore[no-untyped-def]
    """``build`` streams to disk; ``serve`` keeps the site in memory: the same files either way."""
    from calendar_service.base.settings import load_settings
    from calendar_service.publishing.site import build_into

    settings = load_settings({"days": str(GOLDEN / "days.yaml"), "data_dir": str(tmp_path / "d")},
                             environ={"CALENDAR_SERVICE_BASE_URL": "https://dias.example.org"})
    from calendar_service.publishing.cards.site_cards import site_cards

    catalog = load_days(GOLDEN / "days.yaml")
    count, feeds = build_into(catalog, settings, tmp_path / "site", today=TODAY, now=NOW)
    in_memory, _ = build_site(catalog, today=TODAY, now=NOW, state=PublishState(),
                              publication=publication(), renderer=renderer(),
                              cards=site_cards(catalog, TODAY, settings.card_cache_dir))
    assert count == len(in_memory.resources) > len(golden_site.resources)  # cards too
    assert feeds == sum(1 for p in in_memory.resources if p.endswith(".ics"))
    for path, res in in_memory.resources.items():
        file = tmp_path / "site" / file_name(path)
        assert file.read_bytes() == res.body, path
        assert file.stat().st_mtime == res.last_modified.timestamp(), path


def test_a_failed_build_leaves_the_previous_site_and_no_half_written_folder(
        tmp_path: Path, golden_site) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from calendar_service.base.errors import TemplateError
    from calendar_service.base.settings import load_settings
    from calendar_service.publishing.site import build_into

    write_site(golden_site, tmp_path / "site")
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "site" / "static" / "icon.svg").unlink()  # the last file a build writes
    settings = load_settings({"days": str(GOLDEN / "days.yaml"), "data_dir": str(tmp_path / "d")},
                             environ={"CALENDAR_SERVICE_TEMPLATES": str(templates)})
    with pytest.raises(TemplateError, match="icon.svg"):
        build_into(load_days(GOLDEN / "days.yaml"), settings, tmp_path / "site", today=TODAY,
                   now=NOW)
    # "d" holds only the cards drawn before the failure (a cache: harmless to keep)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "site", "templates"]
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["cache"]
    assert (tmp_path / "site" / "calendar.ics").read_bytes() == \
        golden_site.resources["/calendar.ics"].body


def test_build_writes_every_card_and_days_json_lists_them_with_alt_text(built: Path) -> None:
    catalog = load_days(ROOT / "days.yaml")
    doc = json.loads((built / "days.json").read_text(encoding="utf-8"))
    for day in doc["days"]:
        assert [c["size"] for c in day["cards"]] == ["1200x630", "1080x1080", "1080x1920"]
        for card in day["cards"]:
            assert card["url"].startswith("https://dias.example.org/cards/")
            assert (built / card["url"].removeprefix("https://dias.example.org/")).is_file()
            assert day["name"] in card["alt"] or (day["official_name"] or "") in card["alt"]
    water = next(d for d in doc["days"] if d["id"] == "world-water-day")["cards"][0]
    assert water["alt"].startswith("Imagen con el texto «Día Mundial del Agua», 22 de marzo.")
    habitat = next(d for d in doc["days"] if d["id"] == "world-habitat-day")["cards"][0]
    assert habitat["url"].endswith("/cards/world-habitat-day-2027-es-1200x630.png")
    en = json.loads((built / "en" / "days.json").read_text(encoding="utf-8"))
    assert next(d for d in en["days"] if d["id"] == "world-water-day")["cards"][0]["alt"].startswith(
        "Image reading “World Water Day”, 22 March.")
    fixed = sum(1 for d in catalog.days if d.month_day)
    assert len(list((built / "cards").glob("*.png"))) == fixed * 6 + (len(catalog.days) - fixed) * 18


def test_a_day_page_shows_its_cards_with_download_buttons_and_meta_tags(built: Path) -> None:
    html = (built / "days" / "world-water-day" / "index.html").read_text(encoding="utf-8")
    assert 'src="../../cards/world-water-day-es-1080x1080.png"' in html
    assert 'download="world-water-day-es-1080x1920.png"' in html
    assert 'alt="Imagen con el texto «Día Mundial del Agua», 22 de marzo.' in html
    assert ('<meta property="og:image" content="https://dias.example.org/cards/'
            'world-water-day-es-1200x630.png">') in html
    assert ('<meta name="twitter:image" content="https://dias.example.org/cards/'
            'world-water-day-es-1200x630.png">') in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html


def test_no_link_preview_tags_when_base_url_is_a_loopback_address(tmp_path: Path) -> None:
    days = tmp_path / "days.yaml"
    days.write_text((GOLDEN / "days.yaml").read_text())
    env_url = {"CALENDAR_SERVICE_BASE_URL": "http://localhost:8000"}
    result = subprocess.run([sys.executable, "-m", "calendar_service", "build", str(tmp_path / "site"),
                             "--days", str(days), "--today", "2027-03-01"], capture_output=True,
                            text=True, timeout=300,
                            env={**os.environ, "CALENDAR_SERVICE_DATA_DIR": str(tmp_path / "d"),
                                 **env_url})
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "site" / "days" / "world-water-day" / "index.html").read_text()
    assert "og:image" not in html and "cards/world-water-day-es-1200x630.png" in html


def test_day_page_says_the_origin_and_shows_the_sources(golden_site) -> None:  # type: ignore[no-untyped-def]
    water = golden_site.resources["/days/world-water-day/"].body.decode()
    assert ("Proclamado por la Asamblea General de las Naciones Unidas en 1992 (resolución "
            "47/193); se celebra desde 1993.") in water
    assert '<h2 id="sources-title">Fuentes</h2>' in water
    assert '<a href="https://undocs.org/A/RES/47/193" rel="noopener">' in water
    assert "(copia del texto de la resolución)" in water  # the note of a secondary source
    assert "Datos verificados con estas fuentes el jueves 3 de diciembre de 2026." in water
    en = golden_site.resources["/en/days/world-water-day/"].body.decode()
    assert "Proclaimed by the United Nations General Assembly in 1992 (resolution 47/193); " \
           "observed since 1993." in en
    assert '<h2 id="sources-title">Sources</h2>' in en and "(copy of the resolution" in en


def test_a_body_name_is_escaped_in_the_origin_sentence(tmp_path: Path) -> None:
    days = tmp_path / "days.yaml"
    days.write_text((GOLDEN / "days.yaml").read_text().replace(
        "by: {es: la Asamblea General de las Naciones Unidas,",
        "by: {es: la <b>Asamblea</b>,"))
    site, _ = build_site(load_days(days), today=TODAY, now=NOW, state=PublishState(),
                         publication=publication(), renderer=renderer())
    html = site.resources["/days/world-water-day/"].body.decode()
    assert "Proclamado por la &lt;b&gt;Asamblea&lt;/b&gt; en 1992" in html


def test_days_json_carries_the_facts_and_their_sources(golden_site) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(golden_site.resources["/en/days.json"].body)
    water = next(d for d in doc["days"] if d["id"] == "world-water-day")
    assert water["proclaimed"] == "1992-12-22" and water["since"] == 1993
    assert water["observed_before_proclamation"] is False
    assert water["origin"] == ("Proclaimed by the United Nations General Assembly in 1992 "
                               "(resolution 47/193); observed since 1993.")
    assert water["sources"][0] == {"url": "https://undocs.org/A/RES/47/193", "note": None}
    assert water["verified"] == "2026-12-03"
    assert water["url"] == "https://www.unwater.org/2027"  # the year's own page first


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="/.ab-é", max_size=16), st.text(alphabet="/.ab-é", min_size=1, max_size=16))
@example("/days/x/", "/static/style.css")
@example("/", "/")
@example("//a", "/a/")
@example("/a/./b/", "/a/")
def test_relative_paths_are_what_posixpath_relpath_gives(path: str, start: str) -> None:
    """The fast path of ``relative`` (the site's own absolute paths) is ``relpath`` exactly."""
    import posixpath

    from calendar_service.base.paths import _relpath

    try:
        expected = posixpath.relpath(path, start)
    except ValueError as exc:
        with pytest.raises(ValueError, match=str(exc)):
            _relpath(path, start)
        return
    assert _relpath(path, start) == expected


def _generate(out, templates: Path):  # type: ignore[no-untyped-def]
    from calendar_service.publishing.render import Renderer
    from calendar_service.publishing.site import generate

    return generate(load_days(ROOT / "days.yaml"), out, today=TODAY, now=NOW,
                    state=PublishState(), publication=publication(),
                    renderer=Renderer(templates))


@pytest.fixture
def two_processes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A build in two processes even on a busy machine or a one-core runner (it forks only with
    a core free); the pids of the children it forked."""
    import os

    from calendar_service.base import twocores
    from calendar_service.publishing import site

    monkeypatch.setattr(site, "core_free", lambda: True)
    monkeypatch.setattr(twocores, "cores", lambda: 2)
    children: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return children


def test_a_build_in_two_processes_writes_what_one_process_writes(tmp_path: Path,
                                                                 two_processes: list[int]
                                                                 ) -> None:
    """``build`` writes the second language in a forked child: same files, digests, lists."""
    from calendar_service.publishing.site import InMemory, ToFolder

    folder, memory = ToFolder(tmp_path), InMemory()
    state, lists = _generate(folder, ROOT / "templates")
    assert two_processes  # it did fork
    state_one, lists_one = _generate(memory, ROOT / "templates")
    assert folder.digests() == memory.digests()
    assert state == state_one and lists == lists_one
    for path, body in memory.bodies.items():
        assert (tmp_path / file_name(path)).read_bytes() == body, path


@pytest.mark.usefixtures("two_processes")
@pytest.mark.parametrize("broken", ["words/en.j2", "feed/description.txt", "site/day.html"])
def test_a_build_in_two_processes_fails_as_one_process_does(tmp_path: Path, broken: str) -> None:
    import shutil

    from calendar_service.base.errors import TemplateError
    from calendar_service.publishing.site import InMemory, ToFolder

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    with (templates / broken).open("a", encoding="utf-8") as f:
        f.write("{{ no_such_name }}{% if %}\n")
    with pytest.raises(TemplateError) as one:
        _generate(InMemory(), templates)
    with pytest.raises(TemplateError) as two:
        _generate(ToFolder(tmp_path / "site"), templates)
    assert str(two.value) == str(one.value)
