"""Drawn areas, the place search and saved areas (``/api/v1/areas…``, ``/api/v1/search``).

On the app city (``tests/api/appcity.py``): four 0.01-degree squares C1..C4 west to east
(C1, C2 in D1; C3, C4 in D2), 2025 incidents C1 5, C2 2, C3 4 (+1 without location), C4 1, one
east of C4 in no community. A liaison of D1 drawing over the whole city counts C1 and C2 only
and is told 60 % of the area lay outside; a planner's area is a sum of published community
figures, so two drawn areas never difference into a hidden count.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.api.appcity import X0, Y0, incident_points, log_in

QUERY = "/api/v1/areas/query"


def box(x0: float, x1: float, y0: float = Y0, y1: float = Y0 + 0.01) -> dict:
    """A GeoJSON rectangle in the city's longitude/latitude."""
    return {"type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def ask(client, city, role: str, area: dict, **body):
    return client.post(QUERY, json={"area": area, "period": "2025", **body},
                       headers=city.headers(role))


def test_admin_counts_every_located_incident_inside_a_drawn_polygon(city, client):
    # C1 and C2 and a sliver beyond: 5 + 2 (the no-location C3 record has no place)
    r = ask(client, city, "admin", {"geometry": box(X0 - 0.001, X0 + 0.02)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["incidents"] == 7 and body["area"]["clipped"] is False
    # population: all of C1 (10,000) and C2 (5,000); the sliver west holds nobody
    assert body["population"] == pytest.approx(15_000, rel=1e-3)
    assert body["incidents_per_10k"] == pytest.approx(7 / 15_000 * 1e4, rel=1e-3)
    # incidents of 2025 fall on months 1 + i % 9: C1 months 1-5, C2 months 1-2
    trend = {row["month"]: row["incidents"] for row in body["trend"]}
    assert len(trend) == 12 and trend["2025-01"] == 2 and trend["2025-02"] == 2
    assert trend["2025-05"] == 1 and sum(trend.values()) == 7
    assert {c["category"]: c["incidents"] for c in body["by_category"]} == {"fraud": 2,
                                                                            "theft": 5}
    assert "items" not in body
    # the unassigned incident east of C4 exists for admin only
    east = ask(client, city, "admin", {"geometry": box(X0 + 0.04, X0 + 0.05)})
    assert east.json()["incidents"] == 1


def test_hours_weekdays_and_categories_filter_an_exact_callers_count(city, client):
    # every incident is at 10:00 local time
    area = {"geometry": box(X0, X0 + 0.02)}
    assert ask(client, city, "liaison", area, hours=[10]).json()["incidents"] == 7
    assert ask(client, city, "liaison", area, hours=[9, 11]).json()["incidents"] == 0
    # the 15th of January 2025 was a Wednesday (2): C1-1 and C2-1
    assert ask(client, city, "admin", area, weekdays=[2],
               period="2025-01").json()["incidents"] == 2
    assert ask(client, city, "admin", area, category=["fraud"]).json()["incidents"] == 2


def test_liaisons_area_is_clipped_to_their_jurisdiction(city, client):
    whole = {"geometry": box(X0, X0 + 0.05)}
    r = ask(client, city, "liaison", whole, incidents=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["incidents"] == 7 and body["area"]["clipped"] is True
    assert body["area"]["outside_share"] == pytest.approx(0.6, abs=0.01)
    xs = [p[0] for ring in body["area"]["geometry"]["coordinates"] for p in ring]
    assert max(xs) == pytest.approx(X0 + 0.02)
    assert sorted(i["id"] for i in body["items"]) == sorted(
        i for i in incident_points() if i.startswith(("C1-", "C2-")) and i != "C1-2024")
    assert body["provenance"]["jurisdictions"] == ["D1"]
    assert not re.search(r"\b(C3|C4|OUT)-\d", r.text) and "C3胡同" not in r.text
    # the other district's liaison sees theirs: C3 4 located + C4 1
    assert ask(client, city, "liaison_s21", whole).json()["incidents"] == 5
    # the incident list is a raw read: audited with its rows (the counts alone are not)
    log = client.get("/api/v1/audit", params={"action": "read_incidents", "limit": 1000},
                     headers=city.headers("admin")).json()["items"]
    mine = [i for i in log if i["endpoint"] == "POST /api/v1/areas/query"]
    assert [(i["key_name"], i["rows"], i["params"]["area"]) for i in mine] == [
        ("东城联络员", 7, "polygon")]


@pytest.mark.parametrize("area", [
    {"geometry": box(X0 + 0.021, X0 + 0.05)},
    {"circle": {"lon": X0 + 0.035, "lat": Y0 + 0.005, "radius_m": 300}},
    {"community": "C3"}, {"community": "金融街社区"},
    {"facility": "F3", "radius_m": 300},
    # a facility of D2 whose circle would reach into D1 is not D1's to pick either
    {"facility": "金融街警务室", "radius_m": 2000},
])
def test_liaison_cannot_draw_or_pick_their_way_into_another_district(city, client, area):
    r = ask(client, city, "liaison", area, incidents=True)
    assert r.status_code == 403, r.text
    assert r.json()["errors"][0]["field"].startswith("body.area")
    assert "C3-" not in r.text


def test_circle_community_and_facility_areas(city, client):
    # the C1 cluster sits within 50 m of its cell's centre; the 2024 record too (other year)
    from tests.api.appcity import cell_centre, cluster_cells

    lon, lat = cell_centre(*cluster_cells()["C1"])
    r = ask(client, city, "admin", {"circle": {"lon": lon, "lat": lat, "radius_m": 150}})
    assert r.json()["incidents"] == 5 and r.json()["area"]["kind"] == "circle"
    assert r.json()["area"]["area_km2"] == pytest.approx(3.1416 * 0.15 ** 2, rel=0.01)
    assert ask(client, city, "liaison", {"community": "和平社区"}).json()["incidents"] == 5
    # the police office F1 lies in the middle of C1: 1,000 m reaches into C2 (2 more)
    assert ask(client, city, "admin", {"facility": "和平警务室", "radius_m": 1000}
               ).json()["incidents"] == 7
    assert ask(client, city, "admin", {"community": "ZZ"}).status_code == 404


def _released(client, city, role: str, period: str) -> dict:
    rows = client.get("/api/v1/aggregates/communities", params={"period": period},
                      headers=city.headers(role)).json()["items"]
    return {row["code"]: row["incidents"] for row in rows}


@pytest.mark.parametrize("role", ["planner", "client"])
def test_protected_area_is_a_sum_of_published_community_figures(city, client, role):
    released = _released(client, city, role, "2025")
    assert released["C4"] == "<3" and released["C2"] == "<3"
    # representative points of C1, C2, C3 inside; C4's outside
    r = ask(client, city, role, {"geometry": box(X0, X0 + 0.03)})
    assert r.status_code == 200, r.text
    body = r.json()
    shown = [v for c, v in released.items() if c in ("C1", "C2", "C3") and v != "<3"]
    assert body["incidents"] == sum(shown)
    assert body["protected_units"] == 1 and body["units"] == 3
    assert body["unit_codes"] == ["C1", "C2", "C3"] and "items" not in body
    assert body["population"] == 30_000  # C1 and C3: the units summed
    for row in body["trend"]:
        month = _released(client, city, role, row["month"])
        wanted = [month[c] for c in ("C1", "C2", "C3")]
        assert row["incidents"] == sum(v for v in wanted if v != "<3"), row
        assert row["protected_units"] == sum(v == "<3" for v in wanted), row


@pytest.mark.parametrize("role", ["planner", "client"])
def test_two_overlapping_protected_areas_do_not_difference_into_a_hidden_count(
        city, client, role):
    # C3 + C4 minus C3 would be C4's one incident: the difference is 0 (C4 is hidden)
    both = ask(client, city, role, {"geometry": box(X0 + 0.02, X0 + 0.04)}).json()
    one = ask(client, city, role, {"geometry": box(X0 + 0.02, X0 + 0.03)}).json()
    assert both["incidents"] - one["incidents"] == 0
    assert both["protected_units"] - one["protected_units"] == 1
    # a sliver cutting C1's cluster in half counts no unit at all: no new, smaller unit
    half = ask(client, city, role, {"geometry": box(X0, X0 + 0.004)}).json()
    assert half["incidents"] == 0 and half["units"] == 0


@pytest.mark.parametrize(("body", "field", "status"), [
    ({"hours": [10]}, "body.hours", 422),
    ({"weekdays": [1]}, "body.weekdays", 422),
    ({"period": "2025-03-15..2025-03-15"}, "body.period", 422),
    ({"incidents": True}, None, 403),
])
@pytest.mark.parametrize("role", ["planner", "client"])
def test_protected_callers_get_whole_months_and_no_incident_list(city, client, role, body,
                                                                 field, status):
    r = ask(client, city, role, {"geometry": box(X0, X0 + 0.03)}, **body)
    assert r.status_code == status, r.text
    if field is not None:
        assert r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(("area", "field", "message"), [
    ({"geometry": {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 0.01, Y0 + 0.01],
                                                       [X0 + 0.01, Y0], [X0, Y0 + 0.01],
                                                       [X0, Y0]]]}},
     "body.area.geometry", "Self-intersection"),
    ({"geometry": {"type": "Polygon", "coordinates": [
        [[X0 + 0.01 * k / 3000, Y0 + (k % 2) * 0.001] for k in range(2500)] + [[X0, Y0]]]}},
     "body.area.geometry.coordinates", "at most 2000 vertices"),
    ({"geometry": box(450_000, 460_000, 4_400_000, 4_410_000)},
     "body.area.geometry.coordinates", "projected CRS"),
    ({"geometry": {"type": "Point", "coordinates": [X0, Y0]}}, "body.area.geometry.type",
     "Polygon or MultiPolygon"),
    ({"geometry": box(X0, X0 + 0.01), "crs": "EPSG:3857"}, "body.area.crs", "EPSG:4326"),
    ({"geometry": {**box(X0, X0 + 0.01),
                   "crs": {"type": "name", "properties": {"name": "EPSG:4548"}}}},
     "body.area.crs", "transform"),
    ({"circle": {"lon": X0, "lat": Y0, "radius_m": 1}}, "body.area.circle.radius_m", "10..20000"),
    ({"circle": {"lon": X0, "lat": Y0, "radius_m": 50_000}}, "body.area.circle.radius_m",
     "10..20000"),
    ({"geometry": box(X0, X0 + 0.01), "community": "C1"}, "body.area", "exactly one"),
    ({}, "body.area", "exactly one"),
])
def test_a_bad_area_is_a_422_naming_the_field(city, client, area, field, message):
    r = ask(client, city, "admin", area)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert errors[0]["field"] == field and message in r.json()["detail"], r.json()


def test_search_finds_places_in_the_callers_world_and_addresses_for_raw_readers(city, client):
    def search(role: str, q: str) -> dict:
        r = client.get("/api/v1/search", params={"q": q}, headers=city.headers(role))
        assert r.status_code == 200, r.text
        return r.json()

    admin = search("admin", "和平")
    assert [c["code"] for c in admin["communities"]] == ["C1"]
    assert [f["id"] for f in admin["facilities"]] == ["F1"]
    assert admin["addresses"] == []
    assert sorted(a["id"] for a in search("admin", "C1胡同")["addresses"]) == [
        "C1-1", "C1-2", "C1-2024", "C1-3", "C1-4", "C1-5"]
    # a liaison of D1: nothing of D2, by name, facility or address
    assert search("liaison", "金融街") == {"q": "金融街", "communities": [], "facilities": [],
                                          "roads": [], "addresses": []}
    assert search("liaison", "C3胡同")["addresses"] == []
    assert len(search("liaison", "C2胡同")["addresses"]) == 2
    # planner and client: places yes, addresses never
    for role in ("planner", "client"):
        found = search(role, "胡同")
        assert found["addresses"] is None and "胡同" not in str(found["communities"])
        assert [c["code"] for c in search(role, "金融街")["communities"]] == ["C3"]
    assert client.get("/api/v1/search", params={"q": " "},
                      headers=city.headers("admin")).status_code == 422


@pytest.mark.slow
def test_a_road_picked_by_name_is_a_buffer_along_it(fresh, tmp_path):
    import geopandas as gpd
    from shapely.geometry import LineString

    from api.roads import load_roads
    from tests.api.appcity import cell_centre, cluster_cells

    # a north-south street through the C1 cluster's cell centre and one along C3's east edge
    lon, _ = cell_centre(*cluster_cells()["C1"])
    path = tmp_path / "named.geojson"
    gpd.GeoDataFrame({"highway": ["residential", "primary"], "name": ["和平路", "金融大街"]},
                     geometry=[LineString([(lon, Y0), (lon, Y0 + 0.01)]),
                               LineString([(X0 + 0.03, Y0), (X0 + 0.03, Y0 + 0.01)])],
                     crs="EPSG:4326").to_file(path, driver="GeoJSON")
    load_roads(fresh.engine, path, replace=True)
    with fresh.client() as client:
        # the cluster spreads 40 m either side of the centre: 50 m holds all 5 of C1
        road = {"road": "和平路", "buffer_m": 50}
        body = ask(client, fresh, "liaison", road).json()
        assert body["incidents"] == 5 and body["area"]["kind"] == "road"
        assert ask(client, fresh, "admin", {"road": "和平路", "buffer_m": 10}
                   ).json()["incidents"] < 5
        assert ask(client, fresh, "liaison", {"road": "金融大街"}).status_code == 403
        assert ask(client, fresh, "admin", {"road": "无名路"}).status_code == 404
        found = client.get("/api/v1/search", params={"q": "路"},
                           headers=fresh.headers("liaison")).json()
        assert [r["name"] for r in found["roads"]] == ["和平路"]
        assert [r["name"] for r in client.get("/api/v1/search", params={"q": "金融"},
                                              headers=fresh.headers("planner")
                                              ).json()["roads"]] == ["金融大街"]


def test_the_workspace_offers_the_area_panel_in_both_languages(city, client):
    zh = client.get("/map", headers=city.headers("planner")).text
    en = client.get("/map", params={"lang": "en"}, headers=city.headers("liaison")).text
    assert "区域分析" in zh and "社区、设施或道路" in zh and 'src="/static/workspace-draw.js"' in zh
    assert "Area analysis" in en and "Community, facility, road or address" in en
    assert "ws_area_hint_polygon" in en  # the script's texts travel with the page


# --- saved areas (they write: a city of their own) ------------------------------------------


def _key_id(engine: sa.Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT id FROM api_keys WHERE name = :n"),
                                {"n": name}).scalar_one())


@pytest.mark.slow
def test_saved_areas_are_per_key_and_rechecked_when_the_jurisdiction_changes(fresh):
    with fresh.client() as client:
        liaison = fresh.headers("liaison")
        saved = client.post("/api/v1/areas", json={"name": "东片", "area": {
            "geometry": box(X0, X0 + 0.02)}}, headers=liaison)
        assert saved.status_code == 201, saved.text
        assert client.post("/api/v1/areas", json={"name": "和平", "area": {
            "community": "C1"}}, headers=liaison).status_code == 201
        across = client.post("/api/v1/areas", json={"name": "跨区", "area": {
            "geometry": box(X0 + 0.01, X0 + 0.03)}}, headers=liaison)
        assert across.json()["status"] == "clipped"
        assert client.post("/api/v1/areas", json={"name": "东片", "area": {
            "community": "C1"}}, headers=liaison).status_code == 409
        assert client.post("/api/v1/areas", json={"name": "西城", "area": {
            "community": "C3"}}, headers=liaison).status_code == 403
        listed = client.get("/api/v1/areas", headers=liaison).json()
        assert [(a["name"], a["status"]) for a in listed["items"]] == [
            ("跨区", "clipped"), ("和平", "inside"), ("东片", "inside")]
        # another key sees none of them, and cannot delete one
        ident = saved.json()["id"]
        assert client.get("/api/v1/areas", headers=fresh.headers("planner")).json() == {
            "count": 0, "items": []}
        assert client.delete(f"/api/v1/areas/{ident}",
                             headers=fresh.headers("liaison_s21")).status_code == 404
        # the liaison is moved to subdistrict S21 (C3, C4): their areas are checked again
        with fresh.engine.begin() as conn:
            conn.execute(sa.text("UPDATE api_keys SET jurisdictions = :j WHERE id = :i"),
                         {"j": '["S21"]', "i": _key_id(fresh.engine, "东城联络员")})
        moved = {a["name"]: a for a in client.get("/api/v1/areas", headers=liaison)
                 .json()["items"]}
        assert moved["东片"]["status"] == "outside" and moved["东片"]["geometry"] is None
        assert moved["跨区"]["status"] == "clipped"
        assert (moved["和平"]["status"], moved["和平"]["geometry"]) == ("outside", None)
        xs = [p[0] for ring in moved["跨区"]["geometry"]["coordinates"] for p in ring]
        assert min(xs) == pytest.approx(X0 + 0.02)
        # and querying the old area is now refused; the clipped one counts C3's 4 only
        assert ask(client, fresh, "liaison", moved["东片"]["area"]).status_code == 403
        assert ask(client, fresh, "liaison", moved["跨区"]["area"]).json()["incidents"] == 4
        assert client.delete(f"/api/v1/areas/{ident}", headers=liaison).status_code == 204
        assert client.delete(f"/api/v1/areas/{ident}", headers=liaison).status_code == 404


@pytest.mark.slow
def test_a_sessions_writes_need_its_csrf_token(fresh):
    with fresh.client() as client:
        log_in(client, fresh.tokens["liaison"])
        page = client.get("/map", headers={"Accept": "text/html"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        body = {"name": "a", "area": {"community": "C1"}}
        origin = {"Origin": "http://testserver"}
        refused = client.post("/api/v1/areas", json=body, headers=origin)
        assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
        assert client.post(QUERY, json={"area": {"community": "C1"}},
                           headers={**origin, "X-CSRF-Token": "0" * 64}).status_code == 403
        ok = client.post("/api/v1/areas", json=body,
                         headers={**origin, "X-CSRF-Token": token.group(1)})
        assert ok.status_code == 201, ok.text
        assert client.delete(f"/api/v1/areas/{ok.json()['id']}", headers=origin
                             ).status_code == 403
