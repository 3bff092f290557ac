"""Issue 16's acceptance scenarios (a) and (c) in headless Chromium, through a real server.

(a) A liaison of D1 logs in through the form, lands on ``/``, follows the landing's link to
the map, switches the layers to grid hot spots of the latest month by clicking the controls,
clicks a hot-spot cell holding an incident and reads its incidents, draws an area and reads
its count, fetches the export CSV link and opens the briefing PDF: every answer is D1's only,
and the browser requests nothing from another host (screenshots in ``test-artefacts/``).
(c) The liaison cannot get out: panning over D2 and redrawing fetches nothing of D2; an area
wholly over D2 is refused, one straddling the border is clipped; the search offers nothing of
D2; a direct area query of a D2 community is refused (403). Scenario (b) is
``test_app_workspace_plan_browser.py``. Tests wait on the attributes the page sets.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from tests.api.appcity import X0, Y0
from tests.api.test_app_areas_browser import _click_at, _draw_polygon, _rect
from tests.api.test_app_browser import (
    ARTEFACTS,
    _log_in,
    _requests,
    log_in_at_root,
    server_fixture,
    wait_until,
)
from tests.api.test_app_workspace_browser import _exports, _fetch, _open, _outside
from tests.maps.test_browser import drawn_pixels, driver

__all__ = ["driver", "server_fixture"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

D1_EAST = X0 + 0.02  # C1 and C2 (D1) span X0..X0+0.02; C3 and C4 (D2) lie east of it


def _shot(d, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / f"acceptance-{name}.png"
    d.save_screenshot(str(shot))
    assert drawn_pixels(shot.read_bytes()) > 1000, name


def _ready(d) -> int:
    return int(d.execute_script("return document.body.getAttribute('data-ws-ready')"))


def _click_layer(d, layer: str, count: int) -> int:
    """Tick or untick a layer's box in the controls (a real click); wait for the redraw."""
    d.find_element("css selector", f'#ws-layers input[value="{layer}"]').click()
    wait_until(d, f"Number(document.body.getAttribute('data-ws-ready')) > {count}",
               what=f"the redraw after the {layer} box")
    return _ready(d)


def _fetch_bytes(d, url: str) -> dict:
    """Fetch a link in the page (the session's cookie): status, type and the body in base64."""
    return d.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch(arguments[0], {credentials: 'same-origin'}).then(function (r) {
            return r.blob().then(function (b) {
                var reader = new FileReader();
                reader.onload = function () {
                    done({status: r.status, type: r.headers.get('content-type'),
                          body: String(reader.result).split(',')[1] || ''}); };
                reader.readAsDataURL(b);
            });
        }).catch(function (e) { done({error: String(e)}); });""", url)


def _pdf_text(raw: bytes, folder: Path) -> str:
    path = folder / "briefing.pdf"
    path.write_bytes(raw)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def _features(d) -> list[dict]:
    """Every drawn layer feature: its properties and its (WGS84) bounds."""
    return d.execute_script("""
        var out = [];
        window.PinganWorkspace.map.eachLayer(function (l) {
            if (!l.feature) { return; }
            var b = l.feature.geometry ? L.geoJSON(l.feature).getBounds() : null;
            out.push({p: l.feature.properties,
                      west: b ? b.getWest() : null, east: b ? b.getEast() : null}); });
        return out;""")


def _area_answer(d) -> tuple[str | None, str | None]:
    wait_until(d, "document.body.getAttribute('data-ws-area') !== null || "
                  "document.body.getAttribute('data-ws-area-error') !== null",
               what="the drawn area's answer")
    return tuple(d.execute_script("return [document.body.getAttribute('data-ws-area'), "
                            "document.body.getAttribute('data-ws-area-error')]"))


def _fit(d, west: float, east: float) -> None:
    d.execute_script(f"""
        window.PinganWorkspace.map.fitBounds([[{Y0 - 0.002}, {west}], [{Y0 + 0.012}, {east}]],
            {{paddingTopLeft: [400, 20], paddingBottomRight: [20, 20], animate: false}});""")


def _query_community(d, code: str) -> dict:
    """POST an area query of a community from the page (its session and CSRF token)."""
    return d.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch('/api/v1/areas/query', {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/json', Accept: 'application/json',
                        'X-CSRF-Token': document.querySelector('input[name="csrf_token"]').value},
              body: JSON.stringify({area: {community: arguments[0]}, period: '2025'})})
          .then(function (r) { return r.text().then(function (t) {
              done({status: r.status, text: t}); }); });""", code)


def test_a_liaison_from_login_to_briefing(driver, server, city, tmp_path):
    requests: list[str] = []
    # log in through the form at / and land on D1's dashboard
    log_in_at_root(driver, server, city.tokens["liaison"])
    assert driver.find_element("id", "jurisdiction").text.endswith("东城区")
    _shot(driver, "a1-landing")
    # the landing's link to the map: the latest whole month (D1's data reach 2025-05-15)
    link = driver.find_element("css selector", 'a[href^="/map?layers=rates&period="]')
    assert link.get_attribute("href").endswith("/map?layers=rates&period=2025-04")
    requests += _requests(driver)
    link.click()
    wait_until(driver, "location.pathname === '/map' && document.body && "
                       "document.body.getAttribute('data-ws-ready') !== null",
               what="the workspace from the landing's link")
    count = _ready(driver)
    # the layers, by clicking the controls: grid hot spots on, rates off
    count = _click_layer(driver, "hotspots_grid", count)
    count = _click_layer(driver, "rates", count)
    ws = driver.execute_script("return window.__pinganWorkspace")
    assert ws["errors"] == [] and list(ws["counts"]) == ["hotspots_grid"]
    assert ws["counts"]["hotspots_grid"] >= 1
    assert "?layers=hotspots_grid&from=2025-04-01&to=2025-04-30&" in driver.current_url
    cells = [f for f in _features(driver) if f["p"].get("cell_id")]
    assert cells and all(f["east"] <= D1_EAST + 0.004 for f in cells)
    # April in D1: C1-4 alone (C2's two are of January and February): one cell holds it
    hot = [f for f in cells if f["p"].get("value")]
    assert [f["p"]["value"] for f in hot] == [1]
    _shot(driver, "a2-hotspots")
    # click that cell where the map draws it
    cell_id = hot[0]["p"]["cell_id"]
    lon, lat = driver.execute_script("""
        var hit = null;
        window.PinganWorkspace.map.eachLayer(function (l) {
            if (l.feature && l.feature.properties.cell_id === arguments[0]) { hit = l; } });
        var map = window.PinganWorkspace.map;
        map.fitBounds(hit.getBounds().pad(3), {paddingTopLeft: [400, 20], animate: false});
        var c = window.PinganCrs.toServer(hit.getBounds().getCenter());
        return [c.lon, c.lat];""".replace("arguments[0]", repr(cell_id)))
    _click_at(driver, lon, lat)
    wait_until(driver, "document.body.getAttribute('data-ws-drill') !== null",
               what="the hot-spot cell's incidents")
    rows = [[c.text for c in r.find_elements("css selector", "td")]
            for r in driver.find_elements("css selector", "#ws-drill tbody tr")]
    assert [r[0] for r in rows] == ["C1-4"] and rows[0][4] == "C1胡同4号"
    _shot(driver, "a3-drill-down")
    driver.find_element("id", "ws-drill-close").click()
    # draw an area over D1 (C1 and C2): April's count is C1-4's one, not clipped
    _fit(driver, X0 - 0.002, D1_EAST + 0.002)
    _draw_polygon(driver, [(X0 + 0.001, Y0 + 0.001), (D1_EAST - 0.001, Y0 + 0.001),
                           (D1_EAST - 0.001, Y0 + 0.009), (X0 + 0.001, Y0 + 0.009)])
    assert _area_answer(driver) == ("1", None)
    items = driver.find_elements("css selector", "#ws-area .ws-area-items tbody tr")
    assert [r.text.split()[-1] for r in items] == ["C1胡同4号"]
    assert "已裁去" not in driver.find_element("id", "ws-area").text
    _shot(driver, "a4-area")
    # the export CSV links: the incidents of the month (D1's one) and the cells drawn
    count = _click_layer(driver, "incidents", count)
    links = _exports(driver)
    csv = _fetch(driver, links["layers"]["incidents"]["csv"])
    assert csv["status"] == 200 and csv["disposition"].startswith("attachment")
    assert [line.split(",")[0] for line in csv["text"].lstrip("\ufeff").splitlines()[1:]] == [
        "C1-4"]
    grid = _fetch(driver, links["layers"]["hotspots_grid"]["csv"])
    assert grid["status"] == 200 and grid["type"].startswith("text/csv")
    grid_rows = grid["text"].lstrip("\ufeff").splitlines()[1:]
    assert len(grid_rows) == len(cells) and any(cell_id in r for r in grid_rows)
    _shot(driver, "a5-exports")
    # the briefing: D1's April as a PDF
    assert links["briefing"] == "/api/v1/briefings?period=2025-04&format=pdf"
    pdf = _fetch_bytes(driver, links["briefing"])
    raw = base64.b64decode(pdf["body"])
    assert pdf["status"] == 200 and pdf["type"] == "application/pdf" and raw.startswith(b"%PDF")
    (ARTEFACTS / "acceptance-a6-briefing.pdf").write_bytes(raw)  # headless shows no PDF
    text = _pdf_text(raw, tmp_path)
    assert "东城区" in text and "西城区" not in text
    requests += _requests(driver)
    assert any("/api/v1/hotspots?" in u and "on=grid" in u for u in requests)
    assert any("/api/v1/briefings?" in u for u in requests)
    assert _outside(requests, server) == []


def test_c_liaison_cannot_pan_draw_or_pick_their_way_out(driver, server, city):
    _log_in(driver, server, city.tokens["liaison"])
    count = _open(driver, f"http://{server}/map?layers=rates,incidents,hotspots_grid"
                          "&from=2025-01-01&to=2025-12-31&step=month")
    # pan over D2 and let the layers redraw (a period change asks every layer again)
    driver.execute_script(f"window.PinganWorkspace.map.setView([{Y0 + 0.005}, {X0 + 0.035}], 16,"
                          " {animate: false});")
    driver.execute_script("""
        var f = document.getElementById('ws-controls');
        f.elements.to.value = '2025-12-30';
        f.elements.to.dispatchEvent(new Event('change', {bubbles: true}));""")
    wait_until(driver, f"Number(document.body.getAttribute('data-ws-ready')) > {count}",
               what="the redraw over D2")
    ws = driver.execute_script("return window.__pinganWorkspace")
    assert ws["errors"] == [] and ws["counts"]["rates"] == 2 and ws["counts"]["incidents"] == 7
    features = _features(driver)
    codes = {f["p"]["code"] for f in features if "code" in f["p"] and "cell_id" not in f["p"]}
    assert codes == {"C1", "C2"}
    ids = {f["p"]["id"] for f in features if str(f["p"].get("id", "")).startswith("C")}
    assert {i.split("-")[0] for i in ids} == {"C1", "C2"} and len(ids) == 7
    cells = [f for f in features if f["p"].get("cell_id")]
    assert cells and all(f["east"] <= D1_EAST + 0.004 for f in cells)
    assert "C3胡同" not in driver.page_source and "金融街社区" not in driver.page_source
    _shot(driver, "c1-panned-over-d2")
    # an area wholly over D2: refused, no counts
    _fit(driver, X0 - 0.002, X0 + 0.052)
    _draw_polygon(driver, _rect(D1_EAST + 0.002, X0 + 0.039))
    count_shown, error = _area_answer(driver)
    assert count_shown is None and "outside this key's jurisdiction" in error
    assert "outside this key's jurisdiction" in driver.find_element("id", "ws-area-hint").text
    assert driver.find_element("id", "ws-area-result").is_displayed() is False
    _shot(driver, "c2-area-over-d2")
    # one straddling the border (C2 and C3): clipped, C2's two only
    driver.find_element("id", "ws-area-clear").click()
    _draw_polygon(driver, _rect(X0 + 0.011, X0 + 0.029))
    assert _area_answer(driver) == ("2", None)
    assert "已裁去" in driver.find_element("id", "ws-area").text
    items = driver.find_elements("css selector", "#ws-area .ws-area-items tbody tr")
    assert len(items) == 2 and all("C2胡同" in r.text for r in items)
    _shot(driver, "c3-area-straddling")
    # the search offers nothing of D2 (a community and a police office in C3)
    box = driver.find_element("id", "ws-area-search")
    box.send_keys("金融街")
    wait_until(driver, "document.body.getAttribute('data-ws-search') !== null",
               what="the search's answer")
    assert driver.find_elements("css selector", "#ws-area-found button") == []
    # a direct area query of a D2 community, with the page's session and CSRF token: 403
    answer = _query_community(driver, "C3")
    assert answer["status"] == 403 and "jurisdiction" in answer["text"]
    # the same request of D1's own community is answered: C1's five of 2025
    mine = _query_community(driver, "C1")
    assert mine["status"] == 200 and '"incidents":5' in mine["text"].replace(" ", "")
    assert _outside(_requests(driver), server) == []
