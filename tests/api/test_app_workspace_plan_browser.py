"""The workspace's planner view and basemap in headless Chromium (issue 16, items 5 and 7).

Scenario (b): a planner logs in, shows the health stations' gaps, plans three sites from the
page (a POST carrying the page's CSRF token), sees them as numbered markers and downloads the
plan as GeoJSON and CSV, and the browser requests nothing from another host. With GCJ-02 tiles
configured (``maps.tiles_crs = "gcj02"``) every vector layer is drawn shifted to GCJ-02: a
community's drawn corners are ``geo.china.wgs84_to_gcj02`` of its corners. Tests wait on the
attributes the page sets (``body[data-ws-ready]``, ``body[data-ws-plan]``), never on a timer.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from api.app import create_app
from api.loading import load_file
from api.settings import Settings
from geo.china import wgs84_to_gcj02
from tests.api.appcity import X0, Y0
from tests.api.test_app_browser import ARTEFACTS, _log_in, _requests, serve, wait_until
from tests.api.test_app_workspace_browser import _open, _outside
from tests.maps.test_browser import drawn_pixels, driver

__all__ = ["driver"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _downloaded(folder: Path, name: str, *, timeout_s: float = 20.0) -> bytes:
    """The bytes of a finished download (Chromium writes ``name.crdownload`` until then)."""
    deadline = time.monotonic() + timeout_s
    path = folder / name
    while not path.exists() or (folder / f"{name}.crdownload").exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{name} was not downloaded; {sorted(p.name for p in folder.iterdir())}")
        time.sleep(0.05)
    return path.read_bytes()


@pytest.fixture(name="health_city")
def health_city_fixture(fresh, tmp_path):
    """The test city with one health station (in C2): the type the planner plans."""
    path = tmp_path / "health.csv"
    pd.DataFrame([{"id": "H1", "type": "health_station", "name": "安定卫生服务站",
                   "lon": X0 + 0.015, "lat": Y0 + 0.005}]).to_csv(path, index=False)
    load_file(fresh.engine, path, "facilities")
    return fresh


def test_planner_plans_three_health_stations_and_exports_them(driver, health_city, tmp_path):
    city = health_city
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    with serve(create_app(city.settings, engine=city.engine)) as host:
        _log_in(driver, host, city.tokens["planner"])
        count = _open(driver, f"http://{host}/map?layers=rates&period=2025")
        # the gaps of the health stations, through the panel
        driver.execute_script("""
            var f = document.getElementById('ws-plan-form');
            f.elements.plan_type.value = 'health_station';
            document.getElementById('ws-plan-gaps').click();""")
        wait_until(driver, f"Number(document.body.getAttribute('data-ws-ready')) > {count} && "
                           "document.getElementById('ws-plan-coverage').hasAttribute('data-share')",
                   what="the health stations' gaps and coverage")
        state = parse_qs(urlparse(driver.current_url).query)
        assert state["layers"] == ["rates,gaps"] and state["type"] == ["health_station"]
        ws = driver.execute_script("return window.__pinganWorkspace")
        assert ws["errors"] == [] and ws["counts"]["gaps"] >= 1
        with city.client() as c:
            share = c.get("/api/v1/coverage", params={
                "type": "health_station", "level": "city", "period": "2025"},
                headers=city.headers("planner")).json()["items"][0][
                "facility_covered_population_share"]
        shown = driver.execute_script(
            "return document.getElementById('ws-plan-coverage').getAttribute('data-share')")
        assert float(shown) == pytest.approx(share) and 0 < share < 1
        # plan three sites: numbered markers with their community
        driver.execute_script("""
            var f = document.getElementById('ws-plan-form');
            f.elements.k.value = '3';
            document.getElementById('ws-plan-run').click();""")
        wait_until(driver, "document.body.getAttribute('data-ws-plan') !== null",
                   what="the site plan", timeout_s=60)
        plan = driver.execute_script("return window.__pinganPlan")
        assert plan.get("error") is None and plan["sites"] == 3, plan
        assert plan["coverage_before"] == pytest.approx(share)
        assert plan["coverage_after"] > plan["coverage_before"]
        markers = driver.find_elements("css selector", ".leaflet-marker-pane .ws-plan-site")
        assert [m.text for m in markers] == ["1", "2", "3"]
        rows = driver.find_elements("css selector", "#ws-plan-sites tbody tr")
        assert len(rows) == 3 and all(r.text.split()[1].endswith("社区") for r in rows)
        assert "规划完成" in driver.find_element("id", "ws-plan-status").text
        # the exports: the server's GeoJSON and CSV of the plan, downloaded
        driver.find_element("id", "ws-plan-geojson").click()
        geo = json.loads(_downloaded(downloads, "site-plan.geojson"))
        assert len(geo["features"]) == 3
        assert geo["pingan"]["coverage_after"] == pytest.approx(plan["coverage_after"])
        drawn = driver.execute_script("""
            var out = [];
            window.PinganWorkspaceMap.eachLayer(function (l) {
                var icon = l.options && l.options.icon;
                if (icon && icon.options.className === 'ws-plan-site') {
                    out.push([l.getLatLng().lng, l.getLatLng().lat]); } });
            return out;""")
        assert np.array(sorted(drawn)) == pytest.approx(np.array(sorted(
            f["geometry"]["coordinates"] for f in geo["features"])), abs=1e-12)
        driver.find_element("id", "ws-plan-csv").click()
        raw = _downloaded(downloads, "site-plan.csv")
        assert raw.startswith(b"\xef\xbb\xbf")
        rows_csv = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
        assert [r["candidate_id"] for r in rows_csv] == [
            f["properties"]["candidate_id"] for f in geo["features"]]
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTEFACTS / "workspace-planner-site-plan.png"
        driver.save_screenshot(str(shot))
        assert drawn_pixels(shot.read_bytes()) > 1000
        # a refused plan: the server's reason, naming the field, in the panel
        driver.execute_script("""
            var f = document.getElementById('ws-plan-form');
            f.elements.minutes.value = '5';
            document.getElementById('ws-plan-run').click();""")
        wait_until(driver, "document.body.getAttribute('data-ws-plan') === '-1'",
                   what="the refused plan")
        status = driver.find_element("id", "ws-plan-status").text
        assert status.startswith("规划未能完成") and "minutes applies to reach=drive" in status
        assert not driver.find_element("id", "ws-plan-run").get_attribute("disabled")
        requests = _requests(driver)
        assert any("/api/v1/gaps?" in u and "type=health_station" in u for u in requests)
        assert any(u.endswith("/api/v1/site-plans?format=geojson") for u in requests)
        assert _outside(requests, host) == []
        # the refused POST is the only failed request the console reports
        severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert all("/api/v1/site-plans" in m and "422" in m for m in severe), severe


def test_gcj02_tiles_shift_every_layer_and_clicks_come_back_in_wgs84(driver, city):
    tiles = "/static/favicon.ico?z={z}&x={x}&y={y}"  # served by pingan: nothing leaves the site
    settings = Settings(**{**city.settings.model_dump(),
                           "maps": {"tile_url": tiles, "tiles_crs": "gcj02"}})
    with serve(create_app(settings, engine=city.engine)) as host:
        _log_in(driver, host, city.tokens["planner"])
        _open(driver, f"http://{host}/map?layers=rates&period=2025")
        out = driver.execute_script("""
            var rings = [];
            window.PinganWorkspaceMap.eachLayer(function (l) {
                if (l.feature && l.feature.properties.code === 'C1' && l.getLatLngs) {
                    var ring = l.getLatLngs();  // a (multi)polygon: its first outer ring
                    while (Array.isArray(ring[0])) { ring = ring[0]; }
                    rings.push(ring.map(function (p) { return [p.lng, p.lat]; }));
                } });
            var C = window.PinganCrs;
            var pts = [[116.30, 39.90], [121.4737, 31.2304], [2.35, 48.85]];
            return {rings: rings, shifted: C.shifted(),
                    tiles: document.querySelectorAll('#ws-map .leaflet-tile').length,
                    forward: pts.map(function (p) { return C.wgsToGcj(p[0], p[1]); }),
                    back: pts.map(function (p) {
                        var g = C.wgsToGcj(p[0], p[1]); return C.gcjToWgs(g[0], g[1]); }),
                    server: C.toServer(C.toDisplay(116.31, 39.905))};""")
    assert out["shifted"] is True and out["tiles"] >= 1
    # C1 is drawn by the background and by the rates layer: both shifted, corner by corner
    corners = {(X0, Y0), (X0 + 0.01, Y0), (X0 + 0.01, Y0 + 0.01), (X0, Y0 + 0.01)}
    assert len(out["rings"]) == 2
    expected_corners = [tuple(map(float, wgs84_to_gcj02(x, y))) for x, y in sorted(corners)]
    for ring in out["rings"]:
        assert len(ring) == 4
        for gx, gy in expected_corners:
            drawn = min(ring, key=lambda p, gx=gx, gy=gy: abs(p[0] - gx) + abs(p[1] - gy))
            assert drawn == pytest.approx((gx, gy), abs=1e-12)
        # and shifted indeed (some 500 m here), not drawn where WGS84 puts it
        assert min(abs(p[0] - x) + abs(p[1] - y) for p in ring for x, y in corners) > 1e-3
    pts = np.array([[116.30, 39.90], [121.4737, 31.2304], [2.35, 48.85]])
    expected = np.column_stack(wgs84_to_gcj02(pts[:, 0], pts[:, 1]))
    assert np.array(out["forward"]) == pytest.approx(expected, abs=1e-12)
    assert tuple(expected[2]) == (2.35, 48.85)  # outside China: unchanged
    assert np.array(out["back"]) == pytest.approx(pts, abs=1e-9)
    assert (out["server"]["lon"], out["server"]["lat"]) == pytest.approx((116.31, 39.905),
                                                                         abs=1e-9)
    assert _outside(_requests(driver), host) == []
