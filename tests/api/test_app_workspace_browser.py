"""The map workspace (``/map``) in headless Chromium, through a real server and a login.

The selection's URL form is tested as pure functions (``window.PinganState``) in the page;
a liaison opens the workspace, changes the period and the category, and the page redraws
from the JSON API without reloading, requesting nothing from another host; a planner's
workspace steps by whole months and refuses hours. Tests wait on the attributes the page's
script sets once its layers have drawn (``body[data-ws-ready]``), never on a timer.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.api.test_app_browser import ARTEFACTS, _log_in, _requests, server_fixture, wait_until
from tests.maps.test_browser import INTERNAL_SCHEMES, drawn_pixels, driver

__all__ = ["driver", "server_fixture"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _open(d, url: str, *, timeout_s: float = 20.0) -> int:
    """Open a workspace URL and wait until its first drawing; return the ready counter."""
    d.get("about:blank")
    d.get_log("performance")
    d.get(url)
    wait_until(d, "document.body && document.body.getAttribute('data-ws-ready') !== null",
               what="the workspace's layers", timeout_s=timeout_s)
    return int(d.execute_script("return document.body.getAttribute('data-ws-ready')"))


def _redrawn_after(d, count: int) -> int:
    wait_until(d, f"Number(document.body.getAttribute('data-ws-ready')) > {count}",
               what="the redraw after a control change")
    return int(d.execute_script("return document.body.getAttribute('data-ws-ready')"))


def _state(d) -> dict[str, list[str]]:
    return parse_qs(urlparse(d.current_url).query)


def _outside(requests: list[str], server: str) -> list[str]:
    return [u for u in requests if urlparse(u).scheme not in INTERNAL_SCHEMES
            and urlparse(u).netloc != server]


def test_the_selection_round_trips_through_the_url(driver, server, city):
    _log_in(driver, server, city.tokens["liaison"])
    _open(driver, f"http://{server}/map")
    out = driver.execute_script("""
        var S = window.PinganState;
        var c = JSON.parse(document.getElementById('ws-config').textContent);
        var s = S.parse('?layers=incidents,rates,zz&from=2025-03-01&to=2025-03-31&step=week'
                        + '&category=theft&category=nope&district=D2&subdistrict=S11&hours=9,23,25'
                        + '&weekdays=6,0&type=police_station&cell=500', c);
        var again = S.parse(S.serialise(s, c), c);
        return {s: s, same: JSON.stringify(again) === JSON.stringify(s), query: S.serialise(s, c),
                period: S.period(s, c), url: S.layerUrl('hotspots_grid', s, c),
                yearly: S.layerUrl('standard', s, c), alerts: S.layerUrl('alerts', s, c),
                slid: S.atSlider(s, 1, c), index: S.sliderIndex(S.atSlider(s, 3, c), c),
                keepMonday9: S.keepIncident({occurred_at: '2025-03-17T09:30:00+08:00'}, s),
                dropTuesday9: S.keepIncident({occurred_at: '2025-03-18T09:30:00+08:00'}, s),
                dropMonday10: S.keepIncident({occurred_at: '2025-03-17T10:00:00+08:00'}, s),
                bad: S.parse('?from=2025-02-30&step=fortnight&layers=', c)};
    """)
    s = out["s"]
    # unknown layers, categories and places outside the offer are dropped (D2 is not D1's)
    assert s["layers"] == ["incidents", "rates"] and s["categories"] == ["theft"]
    assert s["district"] == "" and s["subdistrict"] == "S11"
    assert s["hours"] == [9, 23] and s["weekdays"] == [0, 6] and s["cell"] == 500
    assert s["type"] == "police_station" and s["step"] == "week"
    assert out["same"] is True
    assert out["query"] == ("?layers=incidents%2Crates&from=2025-03-01&to=2025-03-31&step=week"
                            "&category=theft&subdistrict=S11&hours=9%2C23&weekdays=0%2C6"
                            "&type=police_station&cell=500")
    assert out["period"] == "2025-03-01..2025-03-31"
    assert out["url"] == ("/api/v1/hotspots?format=geojson&on=grid&period=2025-03-01..2025-03-31"
                          "&cell_m=500&category=theft&subdistrict=S11")
    assert out["yearly"] == "/api/v1/standard?format=geojson&period=2025&subdistrict=S11"
    assert out["alerts"] == ("/api/v1/alerts?format=geojson&as_of=2025-03-31&category=theft"
                             "&subdistrict=S11")
    # the slider's weeks start on the Monday of the first data day's week (2024-03-01: Friday)
    assert (out["slid"]["from"], out["slid"]["to"]) == ("2024-03-04", "2024-03-10")
    assert out["index"] == 3
    assert (out["keepMonday9"], out["dropTuesday9"], out["dropMonday10"]) == (True, False, False)
    # an impossible day and an unknown step fall back to the defaults: the latest month
    bad = out["bad"]
    assert (bad["from"], bad["to"], bad["step"], bad["layers"]) == (
        "2025-06-01", "2025-06-30", "month", [])


def test_liaison_changes_period_and_category_and_nothing_leaves_the_site(driver, server, city):
    driver.get_log("browser")  # the shared browser's log of earlier tests, read and dropped
    _log_in(driver, server, city.tokens["liaison"])
    count = _open(driver, f"http://{server}/map?layers=rates,incidents&from=2025-01-01"
                          "&to=2025-12-31&step=month")
    assert driver.execute_script(
        "return performance.getEntriesByName('layers-ready').length") >= 1
    ws = driver.execute_script("return window.__pinganWorkspace")
    assert ws["errors"] == []
    # D1's 2025 incidents: C1 5 and C2 2 located; its rates layer is C1 and C2 (and no other)
    assert ws["counts"] == {"rates": 2, "incidents": 7}
    assert driver.find_element("id", "jurisdiction").text.endswith("东城区")
    # the streets meeting D1 are drawn under the layers
    wait_until(driver, "Number(document.body.getAttribute('data-ws-roads')) > 50",
               what="the streets of D1")
    assert "西城区" not in driver.page_source and "金融街" not in driver.page_source
    # the period: January alone holds C1-1 and C2-1 (both fraud)
    driver.execute_script("""
        var f = document.getElementById('ws-controls');
        f.elements.to.value = '2025-01-31';
        f.elements.to.dispatchEvent(new Event('change', {bubbles: true}));""")
    count = _redrawn_after(driver, count)
    ws = driver.execute_script("return window.__pinganWorkspace")
    assert ws["counts"]["incidents"] == 2
    assert _state(driver)["to"] == ["2025-01-31"]
    # the category: theft in January is none; the URL holds it, the page did not reload
    driver.execute_script("""
        var sel = document.getElementById('ws-controls').elements.category;
        Array.prototype.forEach.call(sel.options,
                                     function (o) { o.selected = o.value === 'theft'; });
        sel.dispatchEvent(new Event('change', {bubbles: true}));""")
    count = _redrawn_after(driver, count)
    ws = driver.execute_script("return window.__pinganWorkspace")
    assert ws["counts"]["incidents"] == 0 and ws["errors"] == []
    assert _state(driver)["category"] == ["theft"]
    # the language switch keeps the selection
    switch = parse_qs(urlparse(driver.find_element("id", "lang-switch").get_attribute("href"))
                      .query)
    assert switch["lang"] == ["en"] and switch["category"] == ["theft"]
    assert switch["to"] == ["2025-01-31"]
    assert driver.execute_script(
        "return performance.getEntriesByType('navigation').length") == 1
    requests = _requests(driver)
    assert any("/api/v1/incidents?" in u and "category=theft" in u for u in requests)
    assert _outside(requests, server) == []
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    # opening the URL again restores the selection
    shared = driver.current_url
    _open(driver, shared)
    assert driver.execute_script(
        "return document.getElementById('ws-controls').elements.to.value") == "2025-01-31"
    assert driver.execute_script("return window.__pinganWorkspace.counts.incidents") == 0
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "workspace-liaison.png"
    driver.save_screenshot(str(shot))
    assert drawn_pixels(shot.read_bytes()) > 1000


def test_clicking_a_community_lists_its_incidents(driver, server, city):
    _log_in(driver, server, city.tokens["liaison"])
    _open(driver, f"http://{server}/map?layers=rates&from=2025-01-01&to=2025-12-31&step=month")
    driver.execute_script("""
        var map = null;
        document.querySelectorAll('path.leaflet-interactive').forEach(function (p) {
            if (!map) { map = p; } });
        map.dispatchEvent(new MouseEvent('click', {bubbles: true}));""")
    wait_until(driver, "document.body.getAttribute('data-ws-drill') !== null",
               what="the drill-down list")
    rows = driver.find_elements("css selector", "#ws-drill tbody tr")
    ids = sorted(r.find_elements("css selector", "td")[0].text for r in rows)
    assert ids in (["C1-1", "C1-2", "C1-3", "C1-4", "C1-5"], ["C2-1", "C2-2"])
    driver.find_element("id", "ws-drill-close").click()
    assert not driver.find_element("id", "ws-drill").is_displayed()


def test_planner_steps_by_whole_months_without_hours(driver, server, city):
    _log_in(driver, server, city.tokens["planner"])
    count = _open(driver, f"http://{server}/map?layers=rates,hotspots&from=2025-03-12"
                          "&to=2025-03-20&step=week&hours=9")
    state = _state(driver)
    # snapped to the whole month; the week step and the hour filter are not offered
    assert (state["from"], state["to"], state["step"]) == (["2025-03-01"], ["2025-03-31"],
                                                         ["month"])
    assert "hours" not in state and not driver.find_elements("id", "ws-hours")
    assert driver.execute_script(
        "return document.getElementById('ws-controls').elements.cell.value") == "250"
    assert not driver.find_elements("css selector", 'input[name="layer"][value="incidents"]')
    ws = driver.execute_script("return window.__pinganWorkspace")
    assert ws["errors"] == [] and ws["counts"] == {"rates": 4, "hotspots": 4}
    driver.execute_script("""
        var f = document.getElementById('ws-controls');
        f.elements.slider.value = String(Number(f.elements.slider.value) + 1);
        f.elements.slider.dispatchEvent(new Event('change', {bubbles: true}));""")
    count = _redrawn_after(driver, count)
    assert _state(driver)["from"] == ["2025-04-01"]
    assert driver.find_element("id", "ws-period").text == "2025-04"
    # a district: its communities only, and only its subdistricts offered
    driver.execute_script("""
        var d = document.getElementById('ws-controls').elements.district;
        d.value = 'D2'; d.dispatchEvent(new Event('change', {bubbles: true}));""")
    _redrawn_after(driver, count)
    assert _state(driver)["district"] == ["D2"]
    assert driver.execute_script("return window.__pinganWorkspace.counts") == {
        "rates": 2, "hotspots": 2}
    offered = driver.execute_script("""
        return Array.prototype.filter.call(
            document.getElementById('ws-controls').elements.subdistrict.options,
            function (o) { return o.value && !o.hidden; })
            .map(function (o) { return o.value; });""")
    assert offered == ["S21"]
    assert _outside(_requests(driver), server) == []


@pytest.mark.parametrize("role", ["admin", "planner"])
def test_every_offered_layer_draws_from_the_api(driver, server, city, role):
    _log_in(driver, server, city.tokens[role])
    _open(driver, f"http://{server}/map")
    layers = driver.execute_script(
        "return JSON.parse(document.getElementById('ws-config').textContent).layers")
    # a process's first grid hot spots compile the permutation code (about 25 s on this machine)
    _open(driver, f"http://{server}/map?layers={','.join(layers)}&period=2025", timeout_s=90)
    ws = driver.execute_script("return window.__pinganWorkspace")
    failed = {e["layer"] for e in ws["errors"]}
    # the test city is too sparse for a protected caller's space-time cube (a 409)
    assert failed == (set() if role == "admin" else {"emerging"}), ws["errors"]
    drawn = {k: v for k, v in ws["counts"].items() if v}
    assert {"rates", "hotspots", "hotspots_grid", "protection", "coverage", "gaps",
            "standard"} <= set(drawn)
    assert ("incidents" in drawn) == (role == "admin")
    legend = driver.find_element("id", "ws-legend").text
    assert "万人发案率" in legend and "创建标准" in legend
    shapes = driver.execute_script(
        "return document.querySelectorAll('path.leaflet-interactive').length")
    assert shapes >= sum(drawn.values()) - drawn.get("incidents", 0) - 1
    assert _outside(_requests(driver), server) == []
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTEFACTS / f"workspace-{role}-all-layers.png"))


@pytest.mark.parametrize(("role", "expected"), [
    ("liaison", ["C1-1", "C1-2", "C1-3", "C1-4", "C1-5"]),
    ("planner", ["C1"]),
])
def test_a_landing_link_to_a_community_opens_what_lies_behind_it(driver, server, city, role,
                                                                 expected):
    """``/map?…&community=C1`` (a landing item) zooms to C1 and lists it: incidents or counts."""
    _log_in(driver, server, city.tokens[role])
    _open(driver, f"http://{server}/map?layers=rates&period=2025&community=C1")
    wait_until(driver, "document.body.getAttribute('data-ws-drill') !== null",
               what="the drill-down list of C1")
    rows = [[c.text for c in r.find_elements("css selector", "td")]
            for r in driver.find_elements("css selector", "#ws-drill tbody tr")]
    assert sorted(r[0] for r in rows) == expected
    if role == "planner":
        # C1's 2025 count as /api/v1/aggregates releases it to a planner (cell-key method)
        with city.client() as c:
            api = c.get("/api/v1/aggregates/communities", params={"community": "C1",
                                                                  "period": "2025"},
                        headers=city.headers("planner")).json()["items"][0]
        assert rows[0][2] == str(api["incidents"])
        assert not driver.find_elements("css selector", 'a[href*="/api/v1/incidents"]')
    assert _state(driver)["community"] == ["C1"]


def test_play_steps_the_slider_until_paused(driver, server, city):
    _log_in(driver, server, city.tokens["client"])
    _open(driver, f"http://{server}/map?layers=rates&period=2025-03")
    driver.find_element("id", "ws-play").click()
    # each step waits for the previous drawing: two steps on, April then May have drawn
    wait_until(driver, "document.body.getAttribute('data-ws-state').indexOf('from=2025-05-01')"
                       " >= 0", what="two steps of the player")
    driver.find_element("id", "ws-play").click()
    assert driver.find_element("id", "ws-play").text == "播放"
    assert _state(driver)["from"][0] >= "2025-05-01"
    assert driver.execute_script(
        "return performance.getEntriesByType('navigation').length") == 1


def _exports(d) -> dict:
    """The export panel's links: per layer its CSV, GeoJSON and PNG, and the briefing's."""
    return d.execute_script("""
        var out = {layers: {}, briefing: null};
        document.querySelectorAll('#ws-export-layers li').forEach(function (li) {
            var get = function (c) {
                return li.querySelector('a.ws-export-' + c).getAttribute('href'); };
            out.layers[li.getAttribute('data-layer')] = {csv: get('csv'), geojson: get('geojson'),
                                                         png: get('png')};
        });
        var b = document.getElementById('ws-export-briefing');
        if (!b.hidden) { out.briefing = b.getAttribute('href'); }
        return out;""")


def _fetch(d, url: str) -> dict:
    """Fetch a link in the page (the session's cookie): status, type, text or first bytes."""
    return d.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch(arguments[0], {credentials: 'same-origin'}).then(function (r) {
            return r.arrayBuffer().then(function (b) {
                var bytes = Array.from(new Uint8Array(b.slice(0, 8)));
                done({status: r.status, type: r.headers.get('content-type'),
                      disposition: r.headers.get('content-disposition'), head: bytes,
                      text: new TextDecoder().decode(b)});
            });
        }).catch(function (e) { done({error: String(e)}); });""", url)


def test_liaison_exports_what_is_on_screen(driver, server, city):
    _log_in(driver, server, city.tokens["liaison"])
    count = _open(driver, f"http://{server}/map?layers=incidents,rates&from=2025-01-01"
                          "&to=2025-03-31&step=month")
    links = _exports(driver)
    assert sorted(links["layers"]) == ["incidents", "rates"]
    period = "period=2025-01-01..2025-03-31"
    assert links["layers"]["incidents"] == {
        "csv": f"/api/v1/incidents?format=csv&limit=10000&{period}",
        "geojson": f"/api/v1/incidents?format=geojson&limit=10000&{period}",
        "png": f"/maps/incidents?format=png&{period}"}
    # a whole quarter: its briefing
    assert links["briefing"] == "/api/v1/briefings?period=2025-Q1&format=pdf"
    # the CSV is the layer's request: D1's incidents of the quarter, and no other
    answer = _fetch(driver, links["layers"]["incidents"]["csv"])
    assert answer["status"] == 200 and answer["disposition"].startswith("attachment")
    ids = sorted(line.split(",")[0] for line in answer["text"].lstrip("\ufeff").splitlines()[1:])
    assert ids == ["C1-1", "C1-2", "C1-3", "C2-1", "C2-2"]
    picture = _fetch(driver, links["layers"]["rates"]["png"])
    assert picture["status"] == 200 and picture["type"] == "image/png"
    assert bytes(picture["head"]) == b"\x89PNG\r\n\x1a\n"
    pdf = _fetch(driver, links["briefing"])
    assert pdf["status"] == 200 and bytes(pdf["head"][:5]) == b"%PDF-"
    # the briefing's periods: a whole year, ISO weeks across a new year, nothing else
    periods = driver.execute_script("""
        var S = window.PinganState;
        var c = JSON.parse(document.getElementById('ws-config').textContent);
        return [['2025-01-01', '2025-12-31'], ['2024-12-30', '2025-01-05'],
                ['2026-12-28', '2027-01-03'], ['2025-03-04', '2025-03-10'],
                ['2025-02-01', '2025-03-31']].map(function (r) {
            return S.briefingPeriod({layers: [], from: r[0], to: r[1], step: 'day',
                                     categories: [], district: '', subdistrict: '', hours: [],
                                     weekdays: [], type: '', cell: 250, community: ''}, c);
        });""")
    assert periods == ["2025", "2025-W01", "2026-W53", None, None]
    # a district, and a period no briefing covers (no briefing offered)
    driver.execute_script("""
        var f = document.getElementById('ws-controls');
        f.elements.district.value = 'D1';
        f.elements.to.value = '2025-01-20';
        f.elements.to.dispatchEvent(new Event('change', {bubbles: true}));""")
    count = _redrawn_after(driver, count)
    links = _exports(driver)
    assert links["briefing"] is None
    assert links["layers"]["rates"]["csv"] == ("/api/v1/rates?format=csv"
                                               "&period=2025-01-01..2025-01-20&district=D1")
    # a whole ISO week (Monday 2025-03-03 to Sunday): the weekly briefing of D1
    driver.execute_script("""
        var f = document.getElementById('ws-controls');
        f.elements.from.value = '2025-03-03'; f.elements.to.value = '2025-03-09';
        f.elements.to.dispatchEvent(new Event('change', {bubbles: true}));""")
    _redrawn_after(driver, count)
    assert _exports(driver)["briefing"] == (
        "/api/v1/briefings?period=2025-W10&district=D1&format=pdf")
    assert _outside(_requests(driver), server) == []


def test_planner_panel_offers_no_incident_export(driver, server, city):
    _log_in(driver, server, city.tokens["planner"])
    _open(driver, f"http://{server}/map?layers=incidents,rates,hotspots_grid&period=2025-03")
    links = _exports(driver)
    assert sorted(links["layers"]) == ["hotspots_grid", "rates"]
    assert "/api/v1/incidents" not in driver.find_element("id", "ws-export").get_attribute(
        "innerHTML")
    assert links["layers"]["hotspots_grid"] == {
        "csv": "/api/v1/hotspots?format=csv&on=grid&period=2025-03&cell_m=250",
        "geojson": "/api/v1/hotspots?format=geojson&on=grid&period=2025-03&cell_m=250",
        "png": "/maps/hotspots?format=png&on=grid&period=2025-03"}
    assert links["briefing"] == "/api/v1/briefings?period=2025-03&format=pdf"
    answer = _fetch(driver, links["layers"]["rates"]["csv"])
    assert answer["status"] == 200 and answer["type"].startswith("text/csv")
