"""Redraw the documentation's screenshots: ``python docs/screenshots.py`` (needs Debian's chromium).

The pictures come from a real build of the bundled data on a fixed date, so they change only when
the site does. The month view is an illustration drawn here from the built ``calendar.ics`` (what
a calendar application shows once subscribed), not a screenshot of any calendar application.
"""

from __future__ import annotations

import calendar
import html
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import icalendar

IMG = Path(__file__).resolve().parent / "img"
TODAY = "2027-03-01"
BASE_URL = "https://dias.example.org"
DAY_PAGE = "days/world-water-day/index.html"
MONTH = (2027, 3)
WEEKDAYS = ["dom", "lun", "mar", "mié", "jue", "vie", "sáb"]  # weeks start on Sunday in Mexico


def build_site(target: Path) -> None:
    env = {**os.environ, "CALENDAR_SERVICE_BASE_URL": BASE_URL,
           "CALENDAR_SERVICE_DATA_DIR": str(target.parent / "data")}
    subprocess.run([sys.executable, "-m", "calendar_service", "build", str(target), "--today", TODAY],
                   check=True, env=env)


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 900) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed: sudo apt install chromium")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={out}", f"--window-size={width},{height}", page.as_uri()],
                   check=True, capture_output=True)
    print(f"wrote {out}")


def events_by_date(feed: Path) -> dict[date, list[str]]:
    days: dict[date, list[str]] = {}
    for event in icalendar.Calendar.from_ical(feed.read_bytes()).walk("VEVENT"):
        start = event.decoded("DTSTART")
        days.setdefault(start, []).append(str(event.get("SUMMARY")))
    return days


def month_view(feed: Path, out: Path) -> None:
    """An HTML month grid of the feed's all-day events, in the style of a calendar application."""
    year, month = MONTH
    events = events_by_date(feed)
    cells = []
    for week in calendar.Calendar(firstweekday=6).monthdatescalendar(year, month):
        row = []
        for day in week:
            chips = "".join(f'<div class="chip">{html.escape(name)}</div>'
                            for name in sorted(events.get(day, [])))
            other = "" if day.month == month else " other"
            row.append(f'<td class="{other.strip()}"><div class="num">{day.day}</div>{chips}</td>')
        cells.append("<tr>" + "".join(row) + "</tr>")
    head = "".join(f"<th>{d}</th>" for d in WEEKDAYS)
    page = f"""<!doctype html><html lang="es"><meta charset="utf-8"><style>
body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #1b1b1b; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} p.note {{ margin: 0 0 14px; color: #555; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
th {{ text-align: left; font-weight: 600; color: #555; padding: 4px 6px; }}
td {{ border: 1px solid #ddd; vertical-align: top; height: 104px; padding: 4px; }}
td.other .num {{ color: #aaa; }} .num {{ font-size: 12px; margin-bottom: 3px; }}
.chip {{ background: #0b5394; color: #fff; border-radius: 4px; padding: 2px 5px; margin: 2px 0;
         font-size: 12px; line-height: 1.3; }}
</style><h1>Marzo de 2027 · Días internacionales</h1>
<p class="note">Illustration drawn from the site's <code>/calendar.ics</code>: the all-day events a
calendar application shows once subscribed. Not a screenshot of any calendar application.</p>
<table><tr>{head}</tr>{''.join(cells)}</table></html>"""
    html_file = out.with_suffix(".html")
    html_file.write_text(page, encoding="utf-8")
    screenshot(html_file, out, 1280, 724)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build_site(site)
        screenshot(site / "index.html", IMG / "site.png")
        screenshot(site / DAY_PAGE, IMG / "day-page.png")
        month_view(site / "calendar.ics", Path(tmp) / "feed-month.png")
        shutil.copy(Path(tmp) / "feed-month.png", IMG / "feed-month.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
