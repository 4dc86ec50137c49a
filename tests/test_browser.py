"""The web page in a real headless Chromium: layout on a phone, keyboard, contrast, copy, links.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); without them
every test here is skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webtools import NOW, ROOT, TODAY, renderer, serving

from calendar_service.data.loader import load_days
from calendar_service.publishing.feed import Publication
from calendar_service.publishing.site import build_site
from calendar_service.publishing.state import PublishState
from calendar_service.publishing.web import SiteState, create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _missing() -> str | None:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found: install Debian's {package} to run the browser tests"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


CARD_DAYS = ("world-water-day", "international-womens-day")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled days served by the real app; links point at this very server. Two days get
    their image cards (drawing all of them would only cost time here)."""
    from dataclasses import replace

    from calendar_service.publishing.cards.site_cards import site_cards

    catalog = load_days(ROOT / "days.yaml")
    r = renderer()
    cards = site_cards(replace(catalog, days=tuple(d for d in catalog.days if d.id in CARD_DAYS)),
                       TODAY, tmp_path_factory.mktemp("cards"))

    def site(url: str) -> Any:
        return build_site(catalog, today=TODAY, now=NOW, state=PublishState(),
                          publication=Publication(url, "calendar-service.conago.example"),
                          renderer=r, cards=cards)[0]

    state = SiteState(site("http://placeholder.invalid"))
    with serving(create_app(state)) as url:
        state.swap(site(url))
        yield url


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    d.set_page_load_timeout(30)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def desktop(driver: Any) -> Any:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return driver


def _phone(driver: Any) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})


def test_home_page_renders_and_a_screenshot_is_taken(desktop: Any, base: str,
                                                     tmp_path: Path) -> None:
    desktop.get(base + "/")
    assert desktop.execute_script("return document.documentElement.lang") == "es"
    assert desktop.title == "Días internacionales"
    for selector in ("header", "nav", "main#main", "footer", "h1"):
        assert desktop.find_elements("css selector", selector), selector
    months = [h.text for h in desktop.find_elements("css selector", ".month h3")]
    assert months[:2] == ["Marzo de 2027", "Abril de 2027"] and len(months) == 12
    shot = tmp_path / "home-desktop.png"
    assert desktop.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    errors = [e for e in desktop.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


@pytest.mark.parametrize("path", ["/", "/en/", "/days/world-water-day/",
                                  "/en/days/international-womens-day/"])
def test_no_horizontal_scroll_on_a_phone(driver: Any, base: str, path: str,
                                         tmp_path: Path) -> None:
    _phone(driver)
    try:
        driver.get(base + path)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        viewport = driver.execute_script("return window.innerWidth")
        assert viewport == 360 and width <= viewport, f"{path}: {width}px wide in a 360px screen"
        shot = tmp_path / "phone.png"
        driver.save_screenshot(str(shot))
        assert shot.read_bytes().startswith(b"\x89PNG")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_keyboard_skip_link_and_visible_focus(desktop: Any, base: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    desktop.get(base + "/")
    ActionChains(desktop).send_keys(Keys.TAB).perform()
    first = desktop.switch_to.active_element
    assert first.text == "Saltar al contenido"
    assert first.value_of_css_property("outline-style") != "none"
    ActionChains(desktop).send_keys(Keys.ENTER).perform()
    assert desktop.execute_script("return document.activeElement.id") == "main"
    seen = []
    for _ in range(12):  # onward from the content: the subscribe buttons come first
        ActionChains(desktop).send_keys(Keys.TAB).perform()
        el = desktop.switch_to.active_element
        seen.append(el.text or el.get_attribute("id"))
        width = float(el.value_of_css_property("outline-width").removesuffix("px"))
        assert el.value_of_css_property("outline-style") != "none" and width >= 2, seen[-1]
    assert "Google Calendar" in seen and "Outlook" in seen and "feed-url" in seen


def test_subscribe_links_point_at_the_feed(desktop: Any, base: str) -> None:
    desktop.get(base + "/")
    links = {a.text: a.get_attribute("href")
             for a in desktop.find_elements("css selector", "#subscribe .buttons a")}
    host = base.removeprefix("http://")
    assert links["Apple Calendar (webcal)"] == f"webcal://{host}/calendar.ics"
    assert links["Google Calendar"] == (
        f"https://calendar.google.com/calendar/r?cid=webcal://{host}/calendar.ics")
    assert links["Outlook"].startswith("https://outlook.live.com/calendar/0/addfromweb?url=http%3A")
    assert links["Descargar .ics"] == f"{base}/calendar.ics"
    fetched = desktop.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => done([r.status, r.headers.get('content-type')]))",
        links["Descargar .ics"])
    assert fetched == [200, "text/calendar; charset=utf-8"]
    assert desktop.find_element("id", "feed-url").get_attribute("value") == f"{base}/calendar.ics"


def test_every_control_has_a_label_and_every_button_a_name(desktop: Any, base: str) -> None:
    for path in ("/", "/days/world-water-day/"):
        desktop.get(base + path)
        unlabeled = desktop.execute_script(
            "return [...document.querySelectorAll('input, select, textarea')]"
            ".filter(e => !e.labels.length).map(e => e.id)")
        assert unlabeled == []
        nameless = desktop.execute_script(
            "return [...document.querySelectorAll('button, a')]"
            ".filter(e => !(e.textContent.trim() || e.getAttribute('aria-label'))).length")
        assert nameless == 0


CONTRAST = """
function lum(c) {
  const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map(v => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function bg(el) {
  for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;
  }
  return 'rgb(255, 255, 255)';
}
return [...document.querySelectorAll(arguments[0])].filter(e => e.offsetParent !== null).map(e => {
  const a = lum(getComputedStyle(e).color), b = lum(bg(e));
  return [e.tagName + ' ' + e.textContent.trim().slice(0, 30),
          (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
});
"""


def test_text_contrast_meets_wcag_aa(desktop: Any, base: str) -> None:
    desktop.get(base + "/days/world-water-day/")
    desktop.get(base + "/")
    for path in ("/", "/days/world-water-day/"):
        desktop.get(base + path)
        ratios = desktop.execute_script(CONTRAST, "p, li, a, h1, h2, h3, h4, time, .button, dt, dd")
        assert ratios
        low = [(what, round(r, 2)) for what, r in ratios if r < 4.5]
        assert not low, low


def test_copy_buttons_copy_the_suggested_text(desktop: Any, base: str) -> None:
    desktop.get(base + "/days/world-water-day/")
    desktop.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    buttons = desktop.find_elements("css selector", "button[data-copy]")
    assert buttons and all(b.is_displayed() for b in buttons)  # shown by the script
    target = buttons[0].get_attribute("data-copy")
    expected = desktop.find_element("id", target).text.strip()
    buttons[0].click()
    status = desktop.find_element("id", "copy-status")
    assert status.get_attribute("textContent") == "Copiado"
    copied = desktop.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('error: ' + e))")
    assert copied == expected


def test_english_page_and_language_switch(desktop: Any, base: str) -> None:
    desktop.get(base + "/days/world-water-day/")
    desktop.find_element("css selector", "nav a[hreflang='en']").click()
    assert desktop.current_url == base + "/en/days/world-water-day/"
    assert desktop.execute_script("return document.documentElement.lang") == "en"
    assert desktop.find_element("tag name", "h1").text == "World Water Day"


def test_a_day_page_loads_its_cards_and_has_no_broken_link(desktop: Any, base: str) -> None:
    import httpx

    desktop.get(base + "/days/world-water-day/")
    images = desktop.find_elements("css selector", ".cards img")
    assert len(images) == 3
    from selenium.webdriver.support.ui import WebDriverWait

    for img in images:
        desktop.execute_script("arguments[0].scrollIntoView()", img)  # they load lazily
        loaded = WebDriverWait(desktop, 15).until(lambda d, i=img: d.execute_script(
            "const i = arguments[0]; return i.complete && i.naturalWidth > 0 && "
            "[i.naturalWidth, i.naturalHeight].join('x')", i))
        assert loaded in ("1200x630", "1080x1080", "1080x1920")
        assert img.get_attribute("alt").startswith("Imagen con el texto «Día Mundial del Agua»")
    downloads = desktop.find_elements("css selector", ".cards a[download]")
    assert [a.get_attribute("download") for a in downloads] == [
        "world-water-day-es-1200x630.png", "world-water-day-es-1080x1080.png",
        "world-water-day-es-1080x1920.png"]
    links = desktop.find_elements("css selector", "a[href], link[href]")
    sources = desktop.find_elements("css selector", "[src]")
    targets = ({e.get_attribute("href") for e in links}
               | {e.get_attribute("src") for e in sources})
    local = sorted(t for t in targets if t and t.startswith(base))
    assert len(local) > 10
    with httpx.Client() as client:
        for url in local:
            assert client.get(url.split("#")[0]).status_code == 200, url
    errors = [e for e in desktop.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
