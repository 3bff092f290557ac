"""The maps as pingan serves them, in headless Chromium, through a real server and a login.

A uvicorn server runs the app of the test city on loopback. Opening ``/`` shows the login form;
a liaison who logs in lands on the dashboard of their district, and the browser requests
nothing but pingan's own pages and assets (screenshot in ``$PINGAN_TEST_ARTEFACTS``, default
``test-artefacts/``). The browser logs in at ``/login``
with a key (the session cookie carries it from then on) and opens every ``/maps/<kind>`` page:
each draws its layers and legend with no JavaScript error and requests nothing from any host
but pingan's (its assets come from ``/maps/assets``). A planner's incident map draws cells, not
points, and its page holds no incident position.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import uvicorn

from api.app import create_app
from tests.api.appcity import City
from tests.api.test_app_matrix import _incident_pairs_in
from tests.maps.test_browser import (
    INTERNAL_SCHEMES,
    assert_offline,
    drawn_pixels,
    driver,
    open_page,
)

# driver: the module-scoped Chromium of the maps tests
__all__ = ["driver", "log_in_at_root", "serve", "wait_until"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The emerging map is left out: the test city is too sparse for a planner's cube (a 409).
KINDS = ("incidents", "rates", "hotspots", "kde", "protection", "coverage", "standard")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Run an app with uvicorn in a thread on loopback; yield its ``host:port``."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(name="server", scope="module")
def server_fixture(city: City) -> Iterator[str]:
    """``host:port`` of a uvicorn server running the city's app in a thread."""
    with serve(create_app(city.settings, engine=city.engine)) as host:
        yield host


def wait_until(d, script: str, *, timeout_s: float = 20.0, what: str = "the condition") -> None:
    """Poll a JavaScript expression in the page until it is true (fail with the page's text)."""
    deadline = time.monotonic() + timeout_s
    while True:
        # a page that is still loading may not run the script yet
        with contextlib.suppress(Exception):
            if d.execute_script(f"return Boolean({script});"):
                return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; at {d.current_url}: "
                        f"{d.page_source[:300]}")
        time.sleep(0.05)


def _log_in(d, host: str, token: str) -> None:
    """Log in through the form and wait until ``/api/v1/me`` shows the key (not just the URL).

    The login URL ``/login?next=/api/v1/me`` already contains ``/api/v1/me``: only the page at
    that path holding the key's JSON proves that the redirect happened and the cookie works.
    """
    d.delete_all_cookies()
    d.get(f"http://{host}/login?next=/api/v1/me")
    d.find_element("id", "key").send_keys(token)
    d.find_element("css selector", "button[type=submit]").click()
    wait_until(d, "location.pathname === '/api/v1/me' && document.body && "
                  "document.body.textContent.indexOf('\"role\"') >= 0",
               what="the key's JSON at /api/v1/me after the login")


@pytest.mark.parametrize("role", ["admin", "planner"])
def test_served_maps_draw_offline_after_login(driver, server, city, role):
    _log_in(driver, server, city.tokens[role])
    assert f'"role":"{role}"' in driver.page_source.replace(" ", "")
    for kind in KINDS:
        result = open_page(driver, f"http://{server}/maps/{kind}?period=2025")
        assert_offline(result, allowed_hosts=(server,))
        assert any(u.endswith("/maps/assets/leaflet/leaflet.js") for u in result["requests"])
        assert driver.find_elements("css selector", ".pingan-legend"), kind
        assert driver.find_elements("css selector", ".leaflet-control-scale-line"), kind
        shapes = driver.execute_script(
            "return document.querySelectorAll('path.leaflet-interactive').length")
        assert shapes >= 4, kind  # at least the test city's communities
        assert drawn_pixels(driver.get_screenshot_as_png()) > 1000, kind
        if kind == "incidents":
            markers = driver.execute_script(
                "return document.querySelectorAll('.leaflet-marker-icon').length")
            if role == "admin":
                assert markers > 0  # points (clustered)
            else:
                assert markers == 0  # cells only
                assert _incident_pairs_in(driver.page_source) == []
                assert not any("/api/v1/incidents" in u for u in result["requests"])


def test_a_map_without_a_session_goes_to_the_login_page(driver, server):
    driver.delete_all_cookies()
    driver.get(f"http://{server}/maps/rates?period=2025")
    wait_until(driver, "location.pathname === '/login' && document.getElementById('key')",
               what="the login page after a map without a session")
    assert "next=%2Fmaps%2Frates%3Fperiod%3D2025" in driver.current_url
    assert not driver.find_elements("css selector", ".leaflet-container")


ARTEFACTS = Path(os.environ.get("PINGAN_TEST_ARTEFACTS", "test-artefacts"))


def _requests(d) -> list[str]:
    out = []
    for entry in d.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            out.append(msg["params"]["request"]["url"])
    return out


def log_in_at_root(d, host: str, token: str) -> None:
    """Open ``/`` without a session (the performance log emptied first), log in through the
    login form shown there and wait for the landing's ready mark."""
    d.delete_all_cookies()
    d.get("about:blank")
    d.get_log("performance")
    d.get(f"http://{host}/")
    wait_until(d, "document.getElementById('key') !== null", what="the login form at /")
    d.find_element("id", "key").send_keys(token)
    d.find_element("css selector", "button[type=submit]").click()
    wait_until(d, "location.pathname === '/' && window.__pinganLanding === true",
               what="the landing dashboard after the login")


def test_liaison_opens_root_logs_in_and_lands_on_their_district(driver, server, city):
    """/ -> login page -> log in as the D1 liaison -> their landing, with nothing off-site."""
    log_in_at_root(driver, server, city.tokens["liaison"])
    assert driver.find_element("id", "jurisdiction").text.endswith("东城区")
    rows = driver.find_elements("css selector", "#kpis tr.kpi")
    assert [(r.get_attribute("data-kind"), r.get_attribute("data-compare")) for r in rows] == [
        ("week", "previous"), ("week", "last-year"), ("month", "previous"),
        ("month", "last-year")]
    month = driver.find_element("css selector",
                                'tr.kpi[data-kind="month"][data-compare="previous"]')
    cells = [c.text for c in month.find_elements("css selector", "td.num")]
    # D1's data reach 2025-05-15: the latest whole month is April, 1 case against March's 1
    assert cells[0] == "1" and cells[2] == "1"
    assert "西城区" not in driver.page_source and "金融街社区" not in driver.page_source
    assert driver.execute_script(
        "return performance.getEntriesByName('landing-ready').length") == 1
    # every heavy part was fetched and drawn by the page's script
    states = driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-part]'), "
        "e => [e.dataset.part, e.dataset.state])")
    assert states == [[p, "ready"] for p in ("creation", "coverage", "rising", "alerts",
                                            "zones", "todo")]
    todo = driver.find_elements("css selector", "#todo tr.todo")
    assert todo and {r.get_attribute("data-code") for r in todo} <= {"C1", "C2"}
    assert "计算中" not in driver.page_source
    requests = _requests(driver)
    assert any(u.endswith("/static/landing.js") for u in requests)
    assert any("/api/v1/landing/zones?lang=zh" in u for u in requests)
    assert any(u.endswith("/static/app.css") for u in requests)
    assert any(u.endswith("/favicon.ico") for u in requests)
    outside = [u for u in requests if urlparse(u).scheme not in INTERNAL_SCHEMES
               and urlparse(u).netloc != server]
    assert outside == []
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "landing-liaison.png"
    driver.save_screenshot(str(shot))
    assert drawn_pixels(shot.read_bytes()) > 1000
