"""End-to-end browser tests of the web apps (marked ``ui``; run with ``pytest -m ui``).

Each app is started the way a user starts it (``implsim explore`` / ``implsim dashboard`` on
127.0.0.1 and a free port) and driven by Playwright in Debian's Chromium, headless, with the
flags this machine needs. Playwright never downloads a browser here: the test uses
``/usr/bin/chromium`` (``apt-get install chromium``) and skips with that reason when it is
missing. Every request the page makes is routed through the test: anything not on 127.0.0.1 is
aborted and recorded, and the test asserts there was none (the apps work offline). The page is
opened at the address the command printed, which carries the launch's token; a page served from
another origin is shown to be refused. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tiny import TINY_STRUCTURE

pytestmark = pytest.mark.ui

REPO = Path(__file__).resolve().parents[1]
IMPLSIM = Path(sys.executable).parent / "implsim"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("IMPLSIM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START_TIMEOUT = 90.0  # seconds for a server to answer
UI_TIMEOUT = 60_000  # ms for the page to show something (first load compiles the page)

TINY_EXPERIMENT = """
name = "tiny"
replicates = 3
seed = 11
weeks = 40
chunk_size = 2
""" + TINY_STRUCTURE + """
[[arms]]
name = "no extra support"

[[arms]]
name = "facilitation"
  [[arms.interventions]]
  type = "facilitation"
  start_week = 1
  end_week = 30
  intensity = 0.8
"""

# The format the sensitivity analysis writes (sim/sensitivity/pipeline.py: indices.csv).
INDICES_CSV = """method,output,factor,factor_2,index,value,conf,conf_low,conf_high,rank
sobol,compliance,q_imitation,,ST,0.62,0.05,0.57,0.67,1
sobol,compliance,p_awareness,,ST,0.25,0.04,0.21,0.29,2
sobol,compliance,turnover_annual,,ST,0.08,0.03,0.05,0.11,3
sobol,compliance,q_imitation,,S1,0.55,0.06,0.49,0.61,1
sobol,compliance,p_awareness,,S1,0.20,0.05,0.15,0.25,2
sobol,compliance,turnover_annual,,S1,0.04,0.03,0.01,0.07,3
sobol,cost,q_imitation,,ST,0.10,0.03,0.07,0.13,2
sobol,cost,p_awareness,,ST,0.05,0.02,0.03,0.07,3
sobol,cost,turnover_annual,,ST,0.80,0.06,0.74,0.86,1
sobol,cost,q_imitation,,S1,0.08,0.03,0.05,0.11,2
sobol,cost,p_awareness,,S1,0.03,0.02,0.01,0.05,3
sobol,cost,turnover_annual,,S1,0.75,0.05,0.70,0.80,1
sobol,compliance,q_imitation,p_awareness,S2,0.02,0.01,0.01,0.03,
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(args: list[str], log: Path) -> Iterator[str]:
    """Start ``implsim ARGS`` on a free port; yield the URL it printed (with this launch's
    token, as a user opens it); stop it (and its children)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "IMPLSIM_UI_TOKEN"}  # a fresh token
    with log.open("w") as out:
        proc = subprocess.Popen([str(IMPLSIM), *args, "--port", str(port), "--host",
                                 "127.0.0.1"], stdout=out, stderr=subprocess.STDOUT,
                                cwd=REPO, env=env, start_new_session=True)
    url = ""
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"implsim {' '.join(args)} exited with {proc.returncode}:\n"
                            f"{log.read_text()}")
            printed = re.search(rf"open (http://127\.0\.0\.1:{port}/\?token=[\w-]+)",
                                log.read_text())
            url = printed.group(1) if printed else ""
            try:
                with urllib.request.urlopen(url or f"http://127.0.0.1:{port}/",
                                            timeout=2) as resp:
                    if resp.status == 200 and url:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"implsim {' '.join(args)} did not answer in {START_TIMEOUT:.0f} s:"
                            f"\n{log.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the group of the server we started, only
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@dataclass
class Traffic:
    """Requests the page tried to make outside 127.0.0.1, and failed responses."""

    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert self.outside == [], f"the page reached outside 127.0.0.1: {self.outside}"
        assert self.failed == [], f"failed responses: {self.failed}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        why = (f"{CHROMIUM} not found: install Debian's browser with `apt-get install -y "
               "chromium chromium-driver` (.ci/run does); Playwright must not download one")
        if os.environ.get("IMPLSIM_UI_REQUIRE_BROWSER"):
            pytest.fail(why)  # CI: a missing browser is a failure, not a skip
        pytest.skip(why)
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS,
                                     headless=True)
        yield browser
        browser.close()


@contextmanager
def open_page(browser, url: str) -> Iterator[tuple[object, Traffic]]:
    """A fresh page whose every non-local request is aborted and recorded."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1500, "height": 1000},
                                  accept_downloads=True)
    page = context.new_page()
    traffic = Traffic()

    def route(r) -> None:
        target = r.request.url
        if target.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:")):
            r.continue_()
        else:
            traffic.outside.append(target)
            r.abort()

    page.route("**/*", route)
    page.on("response", lambda resp: traffic.failed.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 else None)
    page.on("pageerror", lambda exc: traffic.errors.append(str(exc)))
    page.set_default_timeout(UI_TIMEOUT)
    try:
        page.goto(url)
        yield page, traffic
    finally:
        context.close()


def text_of(page, selector: str) -> str:
    return page.locator(selector).first.inner_text()


def wait_text(page, selector: str, needle: str, timeout: int = UI_TIMEOUT) -> None:
    """Wait until the first element matching ``selector`` contains ``needle``."""
    page.wait_for_function(
        "([sel, needle]) => { const el = document.querySelector(sel);"
        " return el !== null && el.innerText.includes(needle); }",
        arg=[selector, needle], timeout=timeout)


def image_bytes(page, selector: str) -> bytes:
    """The pixels of an image element as a PNG screenshot (changes when the plot does)."""
    return page.locator(selector).first.screenshot()


def type_into(page, selector: str, value: str) -> None:
    """Type a value into a text field and submit it (Enter), as a user would."""
    field_ = page.locator(f"{selector} input").first
    field_.fill(value)
    field_.press("Enter")


def snap(page, name: str, height: int = 2400) -> None:
    """Save a screenshot of the whole page to test-artifacts/NAME.png.

    The page scrolls inside its layout, not the document, so the window is made tall enough
    for everything and restored afterwards.
    """
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(700)  # let the layout and images settle
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def download(page, figure: str) -> bytes:
    with page.expect_download() as info:
        page.locator(f".figure-{figure}-download button").first.click()
    return Path(info.value.path()).read_bytes()


# --- the explorer ---------------------------------------------------------------------------------
def test_explorer_end_to_end(browser, tmp_path):
    started = time.monotonic()
    with serve(["explore"], tmp_path / "explore.log") as url, \
            open_page(browser, url) as (page, traffic):
        wait_text(page, ".readout-week", "week 0")
        assert "staff in" in text_of(page, ".readout-size")
        page.locator("img.figure-network-image").first.wait_for()

        # run ten weeks: the read-outs and the plots follow
        page.locator(".btn-run").first.click()
        wait_text(page, ".readout-week", "week 10")
        page.locator("img.figure-spc-0-image").first.wait_for()  # two monthly audits by now
        before = text_of(page, ".readout-compliance")
        plot_before = image_bytes(page, "img.figure-compliance-image")
        assert download(page, "compliance").startswith(PNG_SIGNATURE)
        assert download(page, "network").startswith(PNG_SIGNATURE)

        # change parameters: the model is rebuilt at week 0; ten weeks give other results
        type_into(page, ".param-p-awareness-input", "0.5")
        wait_text(page, ".readout-week", "week 0")
        type_into(page, ".param-p-innovation-input", "0.5")
        page.wait_for_timeout(300)
        wait_text(page, ".readout-week", "week 0")
        page.locator(".btn-run").first.click()
        wait_text(page, ".readout-week", "week 10")
        after = text_of(page, ".readout-compliance")
        assert after != before, f"compliance read-out unchanged: {before!r}"
        page.wait_for_timeout(500)  # let the image element receive its new bytes
        assert image_bytes(page, "img.figure-compliance-image") != plot_before

        # another strategy: training and facilitation start at week 4 and cost money
        assert text_of(page, ".readout-cost") == "cost so far 0.00 M NOK"
        page.locator(".strategy").first.click()
        page.get_by_role("option", name="training + facilitation").click()
        wait_text(page, ".readout", "training + facilitation")
        page.locator(".btn-run").first.click()
        wait_text(page, ".readout-week", "week 10")
        assert text_of(page, ".readout-cost") != "cost so far 0.00 M NOK"
        snap(page, "explorer")

        # bad input: a message in the page, the model keeps its value, the app stays alive
        type_into(page, ".param-q-imitation-input", "abc")
        wait_text(page, ".param-q-imitation .input-error", "must be a number in [0, 1]")
        type_into(page, ".param-weeks-input", "-3")
        wait_text(page, ".param-weeks .input-error", "must be an integer in [1, 5200]")
        type_into(page, ".param-run-weeks-input", "1.5")
        wait_text(page, ".param-run-weeks .input-error", "must be an integer")
        for field_ in ("q-imitation", "weeks"):  # earlier messages stay until fixed
            assert "must be" in text_of(page, f".param-{field_} .input-error")
        # a scenario file that does not exist
        type_into(page, ".scenario-path", "no/such/scenario.toml")
        page.locator(".input-error", has_text="scenario file not found").first.wait_for()
        # a path outside the folder the app may read (here the repository) is never opened
        type_into(page, ".scenario-path", "/dev/zero")
        page.locator(".input-error", has_text="'/dev/zero' is outside").first.wait_for()
        snap(page, "explorer_bad_input")
        page.locator(".btn-step").first.click()
        wait_text(page, ".readout-week", "week 11")

        # play runs weeks on its own until paused
        page.locator(".btn-play").first.click()
        wait_text(page, ".readout-week", "week 12")
        page.locator(".btn-play").first.click()
        traffic.check()
    print(f"explorer end-to-end: {time.monotonic() - started:.1f} s")


def test_explorer_bad_scenario_argument_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("weeks = -1\n")
    proc = subprocess.run([str(IMPLSIM), "explore", str(bad), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "weeks" in proc.stderr and "Traceback" not in proc.stderr


# --- the dashboard --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def results_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny finished experiment store, and a sensitivity directory with indices.csv."""
    from sim.experiment import load_experiment, run_experiment

    root = tmp_path_factory.mktemp("results")
    exp_file = root / "tiny.toml"
    exp_file.write_text(TINY_EXPERIMENT)
    store = root / "store"
    run_experiment(load_experiment(exp_file), store, serial=True, quiet=True)
    sa = root / "sensitivity"
    sa.mkdir()
    (sa / "indices.csv").write_text(INDICES_CSV)
    return store, sa


def test_dashboard_end_to_end(browser, results_dirs, tmp_path):
    store, sa = results_dirs
    started = time.monotonic()
    with serve(["dashboard", str(store), "--root", str(store.parent)],
               tmp_path / "dashboard.log") as url, \
            open_page(browser, url) as (page, traffic):
        wait_text(page, ".arms-table", "facilitation")
        assert "no extra support" in text_of(page, ".arms-table")
        wait_text(page, ".incremental-table", "comparator")  # the comparator's own rows
        assert "all bundles" in text_of(page, ".incremental-table")
        page.locator("img.figure-uptake-image").first.wait_for()
        page.locator("img.figure-effect-vs-cost-image").first.wait_for()
        table_95 = text_of(page, ".arms-table")
        uptake_95 = image_bytes(page, "img.figure-uptake-image")
        assert download(page, "uptake").startswith(PNG_SIGNATURE)
        assert download(page, "effect-vs-cost").startswith(PNG_SIGNATURE)
        snap(page, "dashboard")

        # a narrower interval level: the table's intervals and the bands change
        type_into(page, ".param-interval-level-input", "0.5")
        page.wait_for_function(
            "(old) => { const el = document.querySelector('.arms-table');"
            " return el !== null && el.innerText !== old; }", arg=table_95, timeout=UI_TIMEOUT)
        page.wait_for_timeout(500)
        assert image_bytes(page, "img.figure-uptake-image") != uptake_95

        # bad input: messages in the page, the last good view stays
        type_into(page, ".param-interval-level-input", "2")
        wait_text(page, ".param-interval-level .input-error", "must be a number in [0.5, 0.999]")
        type_into(page, ".results-dir", str(store / "nope"))
        page.locator(".input-error", has_text="no such directory").first.wait_for()
        type_into(page, ".results-dir", "/etc")  # outside --root
        page.locator(".input-error", has_text="'/etc' is outside").first.wait_for()
        assert "facilitation" in text_of(page, ".arms-table")
        assert "got '2'" in text_of(page, ".param-interval-level .input-error")
        snap(page, "dashboard_bad_input")

        # open the sensitivity directory: its indices are shown, and follow the chosen output
        type_into(page, ".results-dir", str(sa))
        page.locator("img.figure-indices-image").first.wait_for()
        wait_text(page, ".indices", "q_imitation")
        first = image_bytes(page, "img.figure-indices-image")
        page.locator(".indices-output").first.click()
        page.get_by_role("option", name="cost").click()
        wait_text(page, ".indices", "turnover_annual")
        page.wait_for_timeout(500)
        assert image_bytes(page, "img.figure-indices-image") != first
        assert download(page, "indices").startswith(PNG_SIGNATURE)
        snap(page, "dashboard_indices")
        traffic.check()
    print(f"dashboard end-to-end: {time.monotonic() - started:.1f} s")


def test_dashboard_refuses_a_directory_that_is_not_results(tmp_path):
    proc = subprocess.run([str(IMPLSIM), "dashboard", str(tmp_path), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "experiment.json" in proc.stderr and "Traceback" not in proc.stderr


# --- a page of another origin ---------------------------------------------------------------------
#: What a hostile page would run: open a WebSocket to the app and say whether it opened.
PROBE = """() => new Promise(resolve => {
  const ws = new WebSocket("ws://127.0.0.1:%d/jupyter/api/kernels/%s/channels?session_id=%s");
  ws.onopen = () => { resolve("open"); ws.close(); };
  ws.onclose = (event) => resolve("closed " + event.code);
})"""


@contextmanager
def other_origin(folder: Path) -> Iterator[str]:
    """A tiny http.server on another loopback port, serving ``folder``."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_of_another_origin_cannot_drive_the_app(browser, tmp_path):
    with serve(["explore"], tmp_path / "explore.log") as url, \
            open_page(browser, url) as (page, traffic):
        port = int(url.split(":")[2].split("/")[0])
        wait_text(page, ".readout-week", "week 0")  # the app works at its printed address
        # the app's own page may open a WebSocket (the browser holds the token cookie) ...
        assert page.evaluate(PROBE % (port, "k-own", "s-own")) == "open"
        # ... a page on another port of 127.0.0.1, in the same browser, with the cookie sent
        # along (cookies do not tell ports apart), may not
        site = tmp_path / "site"
        site.mkdir()
        (site / "index.html").write_text("<!doctype html><title>another site</title>"
                                         "<p>nothing to see</p>")
        with other_origin(site) as elsewhere:
            hostile = page.context.new_page()
            hostile.goto(f"{elsewhere}/index.html")
            assert hostile.title() == "another site"
            assert hostile.evaluate(PROBE % (port, "k-evil", "s-evil")) == "closed 1006"
            hostile.close()
        traffic.check()
        # and without the token (a fresh browser), the address alone gives a one-line 403
        context = browser.new_context()
        bare = context.new_page()
        answer = bare.goto(url.split("?")[0])
        assert answer is not None and answer.status == 403
        assert "token" in bare.inner_text("body")
        context.close()
