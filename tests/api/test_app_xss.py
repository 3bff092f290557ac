"""Stored XSS: markup in loaded names, categories and addresses never runs in a served page.

A city whose community name closes the script element (``</script><script>…``), whose incident
category and address are ``<img src=x onerror=…>`` and whose facility and compound names carry
event handlers is loaded, served by uvicorn and opened in headless Chromium after a login. Every
map page draws, shows the payloads as text in its popups, tooltips, layer control and legend,
and no script from the data runs (nor in the map workspace, ``/map``, its tooltips, labels
and drill-down list): ``alert`` is replaced before any page script by one that
records its calls, and the payloads also set ``window.__pwned``. Each page carries the CSP, every
script element its nonce, and the console shows no CSP violation. Finally an inline handler
added at run time is shown to be blocked by the page's policy.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from api.app import create_app
from api.auth import create_key
from api.loading import load_file
from tests.api.appcity import app_settings, write_city, write_inventories
from tests.api.test_app_browser import _log_in, serve, server_fixture, wait_until
from tests.maps.test_browser import assert_offline, driver, open_page

__all__ = ["driver", "server_fixture"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "</script><script>window.__pwned='name';alert('name')</script>"
CATEGORY = "<img src=x onerror=\"window.__pwned='category';alert('category')\">"
ADDRESS = "<img src=x onerror=\"window.__pwned='address';alert('address')\">"
PLACE = "\"><svg onload=\"window.__pwned='place';alert('place')\">"
KINDS = ("incidents", "rates", "hotspots", "emerging", "kde", "protection", "coverage",
         "standard")
RECORD_ALERTS = """
window.__alerts = [];
window.alert = function (m) { window.__alerts.push(String(m)); };
window.confirm = window.prompt = window.alert;
"""
# Open every popup and tooltip: hover and click every drawn shape, and (incident points) every
# marker through the runtime's controller.
OPEN_EVERYTHING = """
var texts = [];
function collect() {
  document.querySelectorAll('.leaflet-tooltip, .leaflet-popup-content').forEach(function (e) {
    texts.push(e.textContent);
  });
}
var shapes = document.querySelectorAll('path.leaflet-interactive, .leaflet-marker-icon');
shapes.forEach(function (el) {
  ['mouseover', 'click'].forEach(function (type) {
    el.dispatchEvent(new MouseEvent(type, {bubbles: true, cancelable: true, view: window}));
    collect();
  });
});
Object.keys(window).filter(function (n) { return n.indexOf('pinganIncidents') === 0; })
  .forEach(function (n) {
    var c = window[n];
    if (!c.cluster) { return; }
    for (var i = 0; i < c.data.lat.length; i++) {
      c.cluster.fire('click', {layer: c._marker(i)});
      var p = document.querySelector('.leaflet-popup-content');
      if (p) { texts.push(p.textContent); }
    }
  });
return texts;
"""


def load_hostile_city(engine, directory: Path) -> None:
    """The test city with markup in every name, category and address a page may show."""
    c_path, i_path = write_city(directory)
    comms = gpd.read_file(c_path)
    comms.loc[comms["code"] == "C1", "name"] = NAME
    comms.loc[comms["code"] == "C2", ["subdistrict", "district"]] = [PLACE, PLACE]
    comms.to_file(c_path, driver="GeoJSON")
    inc = pd.read_csv(i_path)
    inc["category"] = inc["category"].where(~inc["id"].str.startswith("C1"), CATEGORY)
    inc["address"] = ADDRESS
    inc.to_csv(i_path, index=False)
    load_file(engine, c_path, "communities")
    load_file(engine, i_path, "incidents")
    for layer, path in write_inventories(directory).items():
        frame = pd.read_csv(path)
        if "name" in frame:
            frame["name"] = PLACE
        frame.to_csv(path, index=False)
        load_file(engine, path, layer)


def served_page(host: str, path: str, token: str) -> tuple[str, dict[str, str]]:
    request = urllib.request.Request(f"http://{host}{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read().decode("utf-8"), dict(response.headers)


def test_data_markup_never_runs_in_served_pages(driver, engine, tmp_path):
    load_hostile_city(engine, tmp_path)
    token = create_key(engine, name="管理员", role="admin").token
    url = engine.url.render_as_string(hide_password=False)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ALERTS})
    with serve(create_app(app_settings(url), engine=engine)) as host:
        _log_in(driver, host, token)
        shown: list[str] = []
        for kind in KINDS:
            page, headers = served_page(host, f"/maps/{kind}?period=2025", token)
            csp = headers["content-security-policy"]
            nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
            assert csp.startswith("default-src 'self'") and "frame-ancestors 'none'" in csp
            tags = re.findall(r"<script\b[^>]*>", page)
            assert tags and all(f'nonce="{nonce}"' in t for t in tags), kind
            assert NAME not in page and CATEGORY not in page and ADDRESS not in page, kind

            result = open_page(driver, f"http://{host}/maps/{kind}?period=2025")
            assert_offline(result, allowed_hosts=(host,))  # no error, no CSP violation
            assert driver.find_elements("css selector", ".leaflet-container"), kind
            assert driver.execute_script(
                "return Array.from(document.scripts).every(function (s) { return s.nonce; })")
            shown.extend(driver.execute_script(OPEN_EVERYTHING))
            shown.append(driver.execute_script("return document.body.textContent"))
            assert driver.execute_script("return window.__alerts") == [], kind
            assert driver.execute_script("return window.__pwned === undefined"), kind
            console = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert console == [], (kind, console)
        # the map workspace: its configuration, tooltips, labels and drill-down list (C1's
        # incidents with their categories and addresses) show the payloads as text
        page, _ = served_page(host, "/map", token)
        assert NAME not in page and PLACE not in page
        driver.get(f"http://{host}/map?layers=rates,standard,incidents&period=2025&community=C1")
        wait_until(driver, "document.body.getAttribute('data-ws-drill') !== null",
                   what="the workspace's drill-down list of C1")
        drill = driver.find_element("id", "ws-drill").text
        assert CATEGORY in drill and ADDRESS in drill
        shown.extend(driver.execute_script(OPEN_EVERYTHING))
        shown.append(driver.execute_script("return document.body.textContent"))
        assert driver.execute_script("return window.__alerts") == []
        assert driver.execute_script("return window.__pwned === undefined")
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        text = "\n".join(shown)
        # the payloads are there, as text
        assert CATEGORY in text and ADDRESS in text and "window.__pwned='name'" in text

        # the policy itself: an inline handler added at run time does not run
        driver.execute_script(
            "document.body.insertAdjacentHTML('beforeend', "
            "'<img id=\"probe\" src=\"/no-such-image\" onerror=\"window.__pwned=1\">');")
        wait_until(driver, "document.getElementById('probe').complete",
                   what="the probe image to fail")
        assert driver.execute_script("return window.__pwned === undefined")
        violations = [e["message"] for e in driver.get_log("browser")
                      if "Content Security Policy" in e["message"]]
        assert violations and "script-src" in violations[0]


def test_the_api_docs_and_login_pages_work_under_the_policy(driver, server, city):
    driver.delete_all_cookies()
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get(f"http://{server}/docs")
    wait_until(driver, "document.querySelector('.swagger-ui .info .title')",
               what="Swagger UI to draw")
    assert "pingan" in driver.find_element("css selector", ".swagger-ui .info .title").text
    driver.get(f"http://{server}/login")
    assert driver.find_element("id", "key")
    violations = [e["message"] for e in driver.get_log("browser")
                  if "Content Security Policy" in e["message"]]
    assert violations == []
