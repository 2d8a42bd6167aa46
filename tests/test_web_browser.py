"""The page in a real headless Chromium (Debian's ``chromium`` package, driven by Playwright
for Python): load it, simulate, switch a mechanism off, compare two regimens, put three
in one table and download its figure as SVG, start a
trial, reload the page while it runs, cancel it, and download a result.

Screenshots are kept as test artefacts: in ``$IVIGSIM_ARTEFACTS/web`` when that is set
(CI), otherwise in pytest's temporary folder (the path is printed). Skipped, with the
reason, where Playwright or a Chromium executable is missing: Playwright's own browser
download does not work on these machines, so the test uses the system's Chromium
(``apt-get install chromium``) or the one named by ``$IVIGSIM_CHROMIUM``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                                     "(pip install playwright; no browser download is needed)")
uvicorn = pytest.importorskip("uvicorn")

CHROMIUM = os.environ.get("IVIGSIM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium executable found (apt-get install chromium, "
                                "or set IVIGSIM_CHROMIUM to one)")

#: Flags a headless Chromium needs on these machines: as root, no sandbox; no background
#: connections (the network is closed, and each refused connection slows the start).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``ivigsim serve`` as the CLI starts it (create_app + uvicorn), on a free local port."""
    from ivigsim.web import create_app

    port = _free_port()
    app = create_app(tmp_path_factory.mktemp("web") / "runs.sqlite")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    base = os.environ.get("IVIGSIM_ARTEFACTS")
    folder = Path(base) / "web" if base else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server + "/")
    yield page
    context.close()


def _figure_loaded(page, selector: str) -> None:
    """Wait until the image under ``selector`` has been fetched and decoded (a PNG drawn by the server)."""
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 100; }",
        arg=selector)


@pytest.mark.slow  # 4-17 s: in CI and with --run-slow (the README command stays under 5 minutes)
def test_simulate_switch_off_compare_and_download(page, artefacts, tmp_path):
    expect = playwright_api.expect
    expect(page.locator("h1")).to_have_text("ivigsim")
    page.fill("input[name=days]", "28")
    page.click("#simulate")
    result = page.locator("#result article.simulation")
    expect(result).to_be_visible()
    expect(result.locator("ul.summary")).to_contain_text("platelets_1e9_per_L")
    expect(page.locator("#result article.safety")).to_contain_text("rate")
    _figure_loaded(page, "#result article.simulation img.figure")
    page.screenshot(path=str(artefacts / "1-simulation.png"), full_page=True)

    # A download of the result: the CSV the CLI would write.
    with page.expect_download() as info:
        result.locator("a[data-format=csv]").click()
    saved = tmp_path / "result.csv"
    info.value.save_as(saved)
    header = saved.read_text().splitlines()[0]
    assert header.startswith("patient,time_day,") and "platelets_1e9_per_L" in header

    # Switch Fc-receptor blockade off: the page shows both runs and what changed.
    page.uncheck("input[name=mech_fcgr_blockade]")
    page.click("#simulate")
    compared = page.locator("#result article.compare")
    expect(compared).to_contain_text("without fcgr_blockade")
    _figure_loaded(page, "#result article.compare > img.figure")
    page.screenshot(path=str(artefacts / "2-mechanism-off.png"), full_page=True)
    page.check("input[name=mech_fcgr_blockade]")

    # Two regimens side by side.
    page.select_option("#regimen_b", "itp-single")
    page.click("#compare")
    expect(page.locator("#result article.compare h3")).to_contain_text("vs")
    expect(page.locator("#result article.compare .columns > div")).to_have_count(2)
    _figure_loaded(page, "#result article.compare > img.figure")
    page.screenshot(path=str(artefacts / "3-compare.png"), full_page=True)

    # Three regimens in one table (regimen C written out), with the overlay and its SVG download.
    page.select_option("#regimen_c", "written")
    page.click("#regimens")
    table = page.locator("#result article.regimens")
    expect(table.locator("table.regimen-table tr").first).to_contain_text("C")
    expect(table).to_contain_text("grams, first year")
    _figure_loaded(page, "#result article.regimens img.figure")
    page.screenshot(path=str(artefacts / "3b-regimens.png"), full_page=True)
    with page.expect_download() as info:
        table.locator("a[data-format=svg]").click()
    svg = tmp_path / "regimens.svg"
    info.value.save_as(svg)
    import xml.etree.ElementTree as ET

    assert ET.parse(svg).getroot().tag.endswith("svg")
    page.select_option("#regimen_c", "")

    # An input error is one line where the result goes, naming the field.
    page.fill("input[name=weight_kg]", "-5")
    page.click("#simulate")
    expect(page.locator("#result .error")).to_contain_text("patient.weight_kg: expected")


def test_trial_progress_survives_a_reload_and_cancels(page, artefacts):
    expect = playwright_api.expect
    page.fill("input[name=trial_size]", "600")
    page.fill("input[name=trial_days]", "28")
    page.click("#trial")
    trial = page.locator("#trials article.trial").first
    expect(trial).to_have_attribute("data-status", "running")
    page.wait_for_function("() => { const p = document.querySelector('#trials article.trial progress');"
                           " return p && Number(p.value) > 0; }")
    page.reload()  # the trial goes on: its state is in the catalogue, not the page
    trial = page.locator("#trials article.trial").first
    expect(trial).to_have_attribute("data-status", "running")
    page.screenshot(path=str(artefacts / "4-trial-running.png"), full_page=True)
    trial.locator("button.cancel").click()
    expect(page.locator("#trials article.trial").first).to_have_attribute("data-status", "cancelled", timeout=60_000)
    page.screenshot(path=str(artefacts / "5-trial-cancelled.png"), full_page=True)
