"""The real site in a real browser: `tracker serve` in its own process, headless Debian Chromium.

Every request that is not to the local site is blocked and recorded: the dashboard
must draw its charts with no internet. A screenshot of the dashboard is saved to
test-artifacts/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
SERIES_HEADER = "period,group_type,group_id,n_documents,n_sentences,stance_mean,stance_low,stance_high"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, installed by scripts/ensure-chromium.sh when missing."""
    if not os.access(CHROMIUM, os.X_OK):
        done = subprocess.run(["sh", str(ROOT / "scripts" / "ensure-chromium.sh")], capture_output=True, text=True)
        if done.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
            pytest.fail(f"{CHROMIUM} is missing and could not be installed: {done.stderr.strip()}")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tracker_command() -> list[str]:
    script = Path(sys.executable).with_name("tracker")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker.cli"]


@pytest.fixture(scope="module")
def site_url(demo_db):
    """``tracker serve`` on a free port, in its own process, until the module's tests end."""
    port = free_port()
    log = ARTIFACTS / "serve.log"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(log, "w") as out:
        server = subprocess.Popen(
            [*tracker_command(), "serve", "--db", str(demo_db), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                pytest.fail(f"tracker serve exited with {server.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"tracker serve did not answer within 30 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site_url):
    """A page whose requests to anywhere but the local site are blocked and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    blocked: list[str] = []
    errors: list[str] = []

    def route(route):
        url = urlparse(route.request.url)
        if url.scheme in ("data", "blob") or url.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.blocked, page.errors = blocked, errors
    yield page
    context.close()


DRAWN = """
(slug) => {
  const el = document.querySelector('#chart-' + slug);
  if (!el) return false;
  const canvas = el.querySelector('canvas');
  if (canvas && canvas.width > 0 && canvas.height > 0) {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) painted++; }
    return painted > 500;
  }
  const svg = el.querySelector('svg');
  return !!svg && svg.querySelectorAll('path, rect, line, circle, text').length > 5;
}
"""


def test_dashboard_draws_its_charts_offline(page, site_url, demo_db):
    from tracker.site import load_metadata

    charts = load_metadata()["plugins"]["datasette-dashboards"]["stance"]["charts"]
    page.goto(f"{site_url}/-/dashboards/stance", wait_until="networkidle")
    for slug, chart in charts.items():
        if chart["library"] == "vega-lite":
            page.wait_for_function(DRAWN, arg=slug, timeout=15000)
        elif chart["library"] == "metric":
            page.wait_for_function(
                "(slug) => document.querySelector('#chart-' + slug + ' p')?.textContent.trim().length > 0",
                arg=slug, timeout=15000,
            )
        elif chart["library"] == "table":
            page.wait_for_function(
                "(slug) => document.querySelectorAll('#chart-' + slug + ' tbody tr').length > 0",
                arg=slug, timeout=15000,
            )
    from tracker import store

    scored = store.open_db(demo_db).execute(
        "select count(*) from documents where stance_score is not null and published is not null"
    ).fetchone()[0]
    assert page.locator("#chart-n-documents p").inner_text().strip() == str(scored)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert page.blocked == [], f"the dashboard asked for the internet: {page.blocked}"
    assert page.errors == []


def test_search_finds_a_known_document(page, site_url):
    page.goto(f"{site_url}/tracker/documents")
    page.fill("input[name=_search]", "Ezubao Ponzi")
    with page.expect_navigation():
        page.press("input[name=_search]", "Enter")
    assert "_search=Ezubao" in page.url
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 1
    assert "Ezubao investigation reveals scale of online lending fraud" in rows.first.inner_text()
    assert page.blocked == []


def test_canned_query_csv_downloads_with_the_documented_columns(page, site_url):
    page.goto(f"{site_url}/tracker/stance_series?freq=month&by=regulator")
    with page.expect_download() as info:
        page.click("a.download-csv")
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == SERIES_HEADER
    assert len(lines) > 100 and all(line.split(",")[1] == "regulator" for line in lines[1:])
    assert download.suggested_filename.endswith(".csv")
    shutil.copy(download.path(), ARTIFACTS / "stance_series.csv")
    assert page.blocked == []
