"""The workspace's site plans over HTTP (issue 16, item 5): one plan, three formats, a session.

The page posts a plan as GeoJSON, then the same body as CSV: both are the server's answers,
released for the caller, and name the same sites (the plan is kept per world and body). A
browser session's POST carries the page's CSRF token; the workspace offers the plan and the
basemap's settings (``maps.tiles_crs``) to the page.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from pydantic import ValidationError

from api.settings import MapSettings
from tests.api.appcity import log_in, page_csrf

BODY = {"type": "police_office", "add": 2, "time_limit_s": 20, "period": "2025"}
HTML = {"Accept": "text/html"}


def _plan(client, city, fmt, role="admin", body=BODY):
    return client.post("/api/v1/site-plans", params={"format": fmt}, json=body,
                       headers=city.headers(role))


def _csv_rows(response) -> list[dict[str, str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese names
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.slow  # a solver run per world: over 2 s on a busy machine
@pytest.mark.parametrize("role", ["admin", "liaison", "planner"])
def test_geojson_csv_and_provenance_name_the_same_plan(client, city, role):
    geo = _plan(client, city, "geojson", role)
    assert geo.status_code == 200, geo.text
    plan = geo.json()
    hits = client.app.state.cache.hits
    table = _plan(client, city, "csv", role)
    assert table.status_code == 200, table.text
    assert client.app.state.cache.hits > hits  # the plan was kept, not solved again
    assert table.headers["content-disposition"] == 'attachment; filename="site-plan.csv"'
    rows = _csv_rows(table)
    sites = [(f["properties"]["candidate_id"], f["properties"]["community_code"])
             for f in plan["features"]]
    assert [(r["candidate_id"], r["community_code"]) for r in rows] == sites
    assert len(sites) == plan["pingan"]["k_used"] >= 1
    for row, feature in zip(rows, plan["features"], strict=True):
        assert (float(row["lon"]), float(row["lat"])) == pytest.approx(
            feature["geometry"]["coordinates"])
        assert float(row["population_newly_covered"]) == pytest.approx(
            feature["properties"]["population_newly_covered"])
    if role == "liaison":  # the D1 liaison plans for C1 and C2 only
        assert {code for _, code in sites} <= {"C1", "C2"}
    # the CSV's provenance is the same POST in provenance form: coverage before and after
    link = re.match(r'<([^>]*)>; rel="describedby"', table.headers["link"])
    assert link is not None and link.group(1) == "/api/v1/site-plans?format=provenance"
    described = client.post(link.group(1), json=BODY, headers=city.headers(role))
    assert described.status_code == 200, described.text
    prov = described.json()["provenance"]
    assert prov["coverage_after"] == plan["pingan"]["coverage_after"]
    assert prov["coverage_before"] < prov["coverage_after"] <= 1
    assert described.json()["describes"]["rows"] == len(rows)


def test_an_unknown_format_names_the_parameter(client, city):
    r = _plan(client, city, "xlsx")
    assert r.status_code == 422
    assert "format" in r.text and "csv" in r.text


@pytest.mark.slow
def test_a_session_plans_with_its_pages_token(city):
    with city.client() as c:
        log_in(c, city.tokens["planner"])
        same_site = {"Origin": "http://testserver"}
        refused = c.post("/api/v1/site-plans", params={"format": "geojson"}, json=BODY,
                         headers=same_site)
        assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
        ok = c.post("/api/v1/site-plans", params={"format": "geojson"}, json=BODY,
                    headers={**same_site, "X-CSRF-Token": page_csrf(c)})
        assert ok.status_code == 200 and ok.json()["features"], ok.text


def _config(text: str) -> dict:
    match = re.search(r'<script[^>]*id="ws-config"[^>]*>(.*?)</script>', text, re.S)
    assert match is not None
    return json.loads(match.group(1))


@pytest.mark.parametrize(("role", "offered"), [("admin", True), ("liaison", True),
                                               ("planner", True), ("client", False)])
def test_the_workspace_offers_the_plan_to_peoples_keys(client, city, role, offered):
    page = client.get("/map", headers={**city.headers(role), **HTML})
    config = _config(page.text)
    assert config["plan"] == {"offered": offered, "max_sites": 20}
    assert ('id="ws-plan-form"' in page.text) is offered
    assert "/static/workspace-plan.js" in page.text and "/static/workspace-crs.js" in page.text
    # no tiles configured: the boundaries are the background, nothing is shifted
    assert config["basemap"] == {"tile_url": None, "attribution": "", "tiles_crs": "wgs84",
                                 "shift_gcj02": False}
    # a bearer caller has no session: the page holds no token
    assert '<meta name="csrf-token" content="">' in page.text


def test_gcj02_tiles_shift_the_workspace(city):
    maps = {"tile_url": "/static/favicon.ico?z={z}&x={x}&y={y}", "tiles_crs": "gcj02"}
    with city.client(maps=maps) as c:
        page = c.get("/map", headers={**city.headers("planner"), **HTML})
    assert _config(page.text)["basemap"] == {
        "tile_url": "/static/favicon.ico?z={z}&x={x}&y={y}", "attribution": "",
        "tiles_crs": "gcj02", "shift_gcj02": True}


def test_tiles_crs_accepts_wgs84_and_gcj02_and_refuses_bd09():
    assert MapSettings().tiles_crs == "wgs84"
    assert MapSettings(tiles_crs="GCJ-02").tiles_gcj02 is True
    # the older switch still works, as the same setting
    old = MapSettings(tiles_gcj02=True)
    assert (old.tiles_crs, old.tiles_gcj02) == ("gcj02", True)
    with pytest.raises(ValidationError, match=r"BD-09 \(Baidu\) tiling is out of scope"):
        MapSettings(tiles_crs="bd09")
    with pytest.raises(ValidationError, match="tiles_crs must be 'wgs84' or 'gcj02'; got 'utm'"):
        MapSettings(tiles_crs="utm")
    with pytest.raises(ValidationError, match="tiles_gcj02 = true contradicts"):
        MapSettings(tiles_crs="wgs84", tiles_gcj02=True)
