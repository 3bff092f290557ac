"""Drawn areas in the map workspace, in headless Chromium, through a real server and a login.

The pure part of ``workspace-draw.js`` (``window.PinganArea``) is tested in the page; then a
user draws a polygon with real mouse clicks on the Leaflet map and reads its counts: a
liaison of D1 drawing over the whole city is told the area was cut to their jurisdiction and
counts D1's incidents only, and an area wholly over D2 is refused; a planner's area is a sum of
released communities. A place picked in the search box and a saved area are asked the same
way. Tests wait on the attributes the script sets (``body[data-ws-area]``), never on a timer.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder

from tests.api.appcity import X0, Y0
from tests.api.test_app_browser import _log_in, server_fixture, wait_until
from tests.api.test_app_workspace_browser import _open
from tests.maps.test_browser import driver

__all__ = ["driver", "server_fixture"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WHOLE_2025 = "/map?layers=rates&from=2025-01-01&to=2025-12-31&step=month"


def _show(d, west: float, east: float) -> None:
    """Fit the map to a longitude band of the city, clear of the area panel (bottom left)."""
    d.execute_script(f"""
        var map = window.PinganWorkspace.map;
        map.fitBounds([[{Y0 - 0.002}, {west}], [{Y0 + 0.012}, {east}]],
                      {{paddingTopLeft: [400, 20], paddingBottomRight: [20, 20], animate: false}});
    """)


def _click_at(d, lon: float, lat: float, *, double: bool = False) -> None:
    """Click (a real pointer event) at a longitude/latitude of the map."""
    x, y = d.execute_script(f"""
        var map = window.PinganWorkspace.map;
        var p = map.latLngToContainerPoint([{lat}, {lon}]);
        var r = map.getContainer().getBoundingClientRect();
        return [Math.round(r.left + p.x), Math.round(r.top + p.y)];
    """)
    actions = ActionBuilder(d)
    actions.pointer_action.move_to_location(x, y).click()
    if double:
        actions.pointer_action.double_click()
    actions.perform()


def _draw_polygon(d, corners: list[tuple[float, float]]) -> None:
    d.find_element("css selector", "#ws-area [data-draw=polygon]").click()
    for lon, lat in corners[:-1]:
        _click_at(d, lon, lat)
    _click_at(d, *corners[-1], double=True)


def _rect(west: float, east: float) -> list[tuple[float, float]]:
    return [(west, Y0 - 0.001), (east, Y0 - 0.001), (east, Y0 + 0.011), (west, Y0 + 0.011)]


def _answer(d) -> int:
    wait_until(d, "document.body.getAttribute('data-ws-area') !== null || "
                  "document.body.getAttribute('data-ws-area-error') !== null",
               what="the drawn area's answer")
    error = d.execute_script("return document.body.getAttribute('data-ws-area-error')")
    assert error is None, error
    return int(d.execute_script("return document.body.getAttribute('data-ws-area')"))


def test_the_pure_functions_build_the_requests(driver, server, city):
    _log_in(driver, server, city.tokens["liaison"])
    _open(driver, f"http://{server}{WHOLE_2025}&category=theft&hours=10")
    out = driver.execute_script("""
        var A = window.PinganArea, S = window.PinganState;
        var c = JSON.parse(document.getElementById('ws-config').textContent);
        var s = S.parse(window.location.search, c);
        return {body: A.queryBody({community: 'C1'}, s, c, S),
                planner: A.queryBody({community: 'C1'}, s, Object.assign({}, c, {raw: false}), S),
                polygon: A.polygonOf([[39.9, 116.3], [39.9, 116.31], [39.91, 116.31]]),
                circle: A.circleOf([39.9051234567, 116.3], 4.4),
                spark: A.sparkline([0, 2, 4], 200, 36), flat: A.sparkline([0, 0], 10, 10),
                road: A.areaOfResult({kind: 'road', name: '和平路'}),
                address: A.areaOfResult({kind: 'address', lon: 116.3, lat: 39.9}),
                noloc: A.areaOfResult({kind: 'address', lon: null, lat: null})};
    """)
    assert out["body"] == {"area": {"community": "C1"}, "period": "2025-01-01..2025-12-31",
                           "category": ["theft"], "incidents": True, "limit": 200,
                           "hours": [10], "weekdays": []}
    # a protected caller's body has no hour, weekday or list
    assert "hours" not in out["planner"] and out["planner"]["incidents"] is False
    assert out["polygon"] == {"type": "Polygon", "coordinates": [[
        [116.3, 39.9], [116.31, 39.9], [116.31, 39.91], [116.3, 39.9]]]}
    assert out["circle"] == {"lon": 116.3, "lat": 39.905123, "radius_m": 10}
    assert out["spark"] == "0.0,36.0 100.0,18.0 200.0,0.0"
    assert out["flat"] == "0.0,10.0 10.0,10.0"
    assert out["road"] == {"road": "和平路"}
    assert out["address"] == {"circle": {"lon": 116.3, "lat": 39.9, "radius_m": 200}}
    assert out["noloc"] is None


def test_liaison_draws_over_the_city_and_counts_their_own_jurisdiction_only(driver, server,
                                                                             city):
    _log_in(driver, server, city.tokens["liaison"])
    _open(driver, f"http://{server}{WHOLE_2025}")
    _show(driver, X0 - 0.002, X0 + 0.052)
    _draw_polygon(driver, _rect(X0 - 0.001, X0 + 0.051))
    # D1's 2025 incidents: C1 5 and C2 2; the part over D2 (about 60 %) was cut off
    assert _answer(driver) == 7
    panel = driver.find_element("id", "ws-area")
    assert "已裁去" in panel.text and "C3胡同" not in driver.page_source
    rows = driver.find_elements("css selector", "#ws-area .ws-area-items tbody tr")
    assert len(rows) == 7 and all(("C1胡同" in r.text or "C2胡同" in r.text) for r in rows)
    # the orange outline drawn is the part kept: it ends at D1's eastern edge
    east = driver.execute_script("""
        var east = -180;
        window.PinganWorkspace.map.eachLayer(function (l) {
          if (l.options && l.options.color === '#e6550d' && l.getBounds && !l.options.dashArray) {
            east = Math.max(east, l.getBounds().getEast());
          }
        });
        return east;""")
    assert east == pytest.approx(X0 + 0.02, abs=1e-6)
    # a circle wholly over D2 is refused, and nothing of D2 is shown
    driver.find_element("css selector", "#ws-area [data-draw=circle]").click()
    _click_at(driver, X0 + 0.035, Y0 + 0.005)
    _click_at(driver, X0 + 0.037, Y0 + 0.005)
    wait_until(driver, "document.body.getAttribute('data-ws-area-error') !== null",
               what="the refusal of an area over D2")
    assert "outside this key's jurisdiction" in driver.find_element("id", "ws-area-hint").text
    assert driver.find_element("id", "ws-area-result").is_displayed() is False


def test_planner_draws_and_gets_the_sum_of_released_communities(driver, server, city, client):
    _log_in(driver, server, city.tokens["planner"])
    _open(driver, f"http://{server}/map?layers=rates&from=2025-01-01&to=2025-12-31&step=year")
    _show(driver, X0 - 0.002, X0 + 0.032)
    _draw_polygon(driver, _rect(X0 - 0.001, X0 + 0.029))
    released = {r["code"]: r["incidents"] for r in client.get(
        "/api/v1/aggregates/communities", params={"period": "2025"},
        headers=city.headers("planner")).json()["items"]}
    wanted = sum(v for c, v in released.items() if c in ("C1", "C2", "C3") and v != "<3")
    assert _answer(driver) == wanted
    notes = driver.find_element("css selector", "#ws-area .ws-area-notes").text
    assert "1 个受保护社区" in notes and "2 个社区" in notes
    assert driver.find_element("css selector", "#ws-area .ws-area-items").is_displayed() is False


def test_pick_a_place_in_the_search_box_save_it_and_load_it(driver, server, city):
    _log_in(driver, server, city.tokens["admin"])
    _open(driver, f"http://{server}{WHOLE_2025}")
    before = int(driver.execute_script("return document.body.getAttribute('data-ws-saved') || 0"))
    box = driver.find_element("id", "ws-area-search")
    box.send_keys("和平")
    wait_until(driver, "Number(document.body.getAttribute('data-ws-search')) >= 2",
               what="the search results")
    buttons = driver.find_elements("css selector", "#ws-area-found button")
    assert [b.text for b in buttons][:2] == ["社区 · 和平社区", "设施 · 和平警务室"]
    buttons[0].click()
    assert _answer(driver) == 5
    name = driver.find_element("css selector", "#ws-area-save input[name=name]")
    name.send_keys(f"和平 {before}")
    driver.find_element("css selector", "#ws-area-save button").click()
    wait_until(driver, f"Number(document.body.getAttribute('data-ws-saved')) === {before + 1}",
               what="the saved area in the list")
    driver.find_element("id", "ws-area-clear").click()
    assert driver.execute_script("return document.body.getAttribute('data-ws-area')") is None
    saved = driver.find_elements("css selector", "#ws-area-saved li button:first-child")
    ActionChains(driver).click(saved[0]).perform()
    assert _answer(driver) == 5
    # the period control asks the same area again: January holds C1-1 only
    driver.execute_script("""
        var f = document.getElementById('ws-controls');
        f.elements.to.value = '2025-01-31';
        f.elements.to.dispatchEvent(new Event('change', {bubbles: true}));""")
    wait_until(driver, "document.body.getAttribute('data-ws-area') === '1'",
               what="the area asked again for January")
    driver.find_element("css selector", "#ws-area-saved .ws-area-delete").click()
    wait_until(driver, f"Number(document.body.getAttribute('data-ws-saved')) === {before}",
               what="the deleted area gone from the list")
