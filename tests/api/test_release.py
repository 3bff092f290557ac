"""The trust layer through the API: jurisdiction, the closed release space, the cell-key method.

The city is the hand-made one of ``appcity`` (D1: C1, C2; D2: C3, C4). Released
counts are recomputed independently from the incident ids, the stored release secret and
:func:`geo.release.release_counts`, so a test fails when a path counts the wrong incidents or
releases an exact count.
"""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from api.db import get_meta
from geo.release import record_keys, release_counts
from tests.api.appcity import X0, Y0, incident_rows


def _ids(response) -> set[str]:
    return {i["id"] for i in response.json()["items"]}


def _secret(city) -> bytes:
    with city.engine.connect() as conn:
        return str(get_meta(conn, "release_secret")).encode("ascii")


def _released(city, ids: list[str]) -> object:
    """The count a protected caller must see for the incidents ``ids``."""
    keys = record_keys(ids, _secret(city))
    return release_counts([len(ids)], [int(keys.sum())]).shown[0]


def _ids_2025(community: str, month: int | None = None) -> list[str]:
    rows = [r for r in incident_rows() if str(r["occurred_at"]).startswith("2025")
            and (str(r["id"]).startswith(f"{community}-"))]
    if month is not None:
        rows = [r for r in rows if str(r["occurred_at"])[5:7] == f"{month:02d}"]
    return [str(r["id"]) for r in rows]


# --- the liaison's world -----------------------------------------------------------------------


def test_liaison_gets_only_incidents_of_their_district(client, city):
    h = city.headers("liaison")
    everything = client.get("/api/v1/incidents", headers=h)
    assert _ids(everything) == {"C1-1", "C1-2", "C1-3", "C1-4", "C1-5", "C1-2024", "C2-1",
                                "C2-2"}
    for fmt in ("csv", "geojson"):
        text = client.get("/api/v1/incidents", params={"format": fmt},
                          headers=h).content.decode("utf-8-sig")
        assert "C2-2" in text and not any(f"{c}-" in text for c in ("C3", "C4", "OUT"))


@pytest.mark.parametrize("params", [
    {"community": ["C3", "C4"]}, {"community": ["C1", "C3"]}, {"district": "D2"},
    {"district": "西城区"}, {"subdistrict": "S21"}, {"subdistrict": "金融街街道"},
    {"bbox": f"{X0 + 0.021},{Y0},{X0 + 0.06},{Y0 + 0.01}"},
])
def test_a_place_outside_the_jurisdiction_is_a_403_naming_the_parameter(client, city, params):
    got = client.get("/api/v1/incidents", params=params, headers=city.headers("liaison"))
    assert got.status_code == 403
    name = next(iter(params))
    assert got.json()["errors"][0]["field"] == f"query.{name}"


def test_a_bbox_reaching_outside_is_clipped_and_says_so(client, city):
    h = city.headers("liaison")
    got = client.get("/api/v1/incidents", headers=h,
                     params={"bbox": f"{X0 + 0.005},{Y0},{X0 + 0.03},{Y0 + 0.01}"})
    assert got.status_code == 200
    assert got.json()["provenance"]["clipped"] is True
    assert _ids(got) <= {"C1-1", "C1-2", "C1-3", "C1-4", "C1-5", "C1-2024", "C2-1", "C2-2"}
    assert {"C2-1", "C2-2"} <= _ids(got)
    inside = client.get("/api/v1/incidents", headers=h,
                        params={"bbox": f"{X0 + 0.001},{Y0 + 0.001},{X0 + 0.019},"
                                        f"{Y0 + 0.009}"})
    assert inside.json()["provenance"]["clipped"] is False


def test_subdistrict_liaison_gets_their_subdistrict_only(client, city):
    got = client.get("/api/v1/incidents", headers=city.headers("liaison_s21"))
    assert _ids(got) == {"C3-1", "C3-2", "C3-3", "C3-4", "C3-noloc", "C4-1"}


def test_unassigned_incidents_are_admin_only(client, city):
    outside = {"bbox": f"{X0 + 0.041},{Y0},{X0 + 0.05},{Y0 + 0.01}"}
    for role in ("liaison", "liaison_s21"):
        got = client.get("/api/v1/incidents", headers=city.headers(role), params=outside)
        assert got.status_code == 403
    assert "OUT-1" in _ids(client.get("/api/v1/incidents", headers=city.headers("admin"),
                                      params=outside))


def test_a_name_matching_two_places_is_a_422(fresh):
    with fresh.engine.begin() as conn:
        conn.execute(sa.text("UPDATE communities SET district = '东城区' WHERE code = 'C3'"))
    with fresh.client() as c:
        got = c.get("/api/v1/rates", params={"district": "东城区", "period": "2025"},
                    headers=fresh.headers("admin"))
    assert got.status_code == 422
    assert "matches 2 places" in got.json()["detail"]


def test_an_empty_jurisdiction_is_an_empty_world_never_everything(fresh, tmp_path):
    """Leak 1: an empty set of permitted communities must never mean "no filter"."""
    import geopandas as gpd
    from shapely.geometry import box

    from api.loading import load_file

    # D1's communities are retired by a boundary file without them: the D1 liaison's
    # jurisdiction now holds no community.
    only_d2 = gpd.GeoDataFrame(
        {"code": ["C3", "C4"], "name": ["金融街社区", "月坛社区"],
         "subdistrict_code": ["S21", "S21"], "district_code": ["D2", "D2"],
         "district": ["西城区", "西城区"], "population": [20000, 2000]},
        geometry=[box(X0 + 0.02, Y0, X0 + 0.03, Y0 + 0.01),
                  box(X0 + 0.03, Y0, X0 + 0.04, Y0 + 0.01)], crs="EPSG:4326")
    path = tmp_path / "d2.geojson"
    only_d2.to_file(path, driver="GeoJSON")
    load_file(fresh.engine, path, "communities", replace=True)
    with fresh.client() as c:
        h = fresh.headers("liaison")
        assert c.get("/api/v1/incidents", headers=h).json()["total"] == 0
        page = c.get("/maps/incidents", params={"period": "2025-03"}, headers=h)
        assert page.status_code == 200
        assert not any(i in page.text for i in ("C3-1", "C4-1", "OUT-1"))
        assert c.get("/api/v1/rates", params={"period": "2025"},
                     headers=h).json()["count"] == 0


# --- leak 1: the liaison's incident map -----------------------------------------------------------


@pytest.mark.parametrize("district", ["D2", "西城区"])
@pytest.mark.parametrize("period", ["2025-03", "2025"])
def test_liaison_map_of_another_district_is_a_403(client, city, district, period):
    got = client.get("/maps/incidents", params={"period": period, "district": district},
                     headers=city.headers("liaison"))
    assert got.status_code == 403
    assert "C3-" not in got.text


def test_liaison_map_holds_their_points_only(client, city):
    page = client.get("/maps/incidents", params={"period": "2025"},
                      headers=city.headers("liaison"))
    assert page.status_code == 200
    assert "C1-1" in page.text and "C2-2" in page.text
    assert not any(f"{c}-" in page.text for c in ("C3", "C4", "OUT"))


# --- leak 2: small counts on the maps of protected callers ---------------------------------------


def test_client_map_of_a_day_is_refused(client, city):
    got = client.get("/maps/rates", params={"period": "2025-03-15..2025-03-15"},
                     headers=city.headers("client"))
    assert got.status_code == 422
    assert got.json()["errors"][0]["field"] == "query.period"


def _unescaped(page: str) -> str:
    """A page's text with the escapes of JSON embedded in scripts undone."""
    return page.replace("\\u003c", "<").replace("\\/", "/").replace('\\"', '"')


def _count_cells(page: str) -> list[str]:
    """The values of the 发案数 (cases) rows of every tooltip in a page."""
    return re.findall(r"<th>发案数</th><td>([^<]*)</td>", _unescaped(page))


def test_client_rate_map_shows_small_counts_as_a_label(client, city):
    # March 2025: C1 1, C2 1, C3 1, C4 1 (see incident_rows: months cycle 1..9).
    page = client.get("/maps/rates", params={"period": "2025-03"},
                      headers=city.headers("client"))
    assert page.status_code == 200
    cells = _count_cells(page.text)
    assert cells and all(c in ("&amp;lt;3", "&lt;3", "<3", "0", "无数据") for c in cells), cells


def test_planner_protection_releases_no_exact_in_view_share(client, city):
    # March 2025: C1 holds 1 case; the admin sees its in-view share exactly.
    admin = client.get("/maps/protection", params={"period": "2025-03"},
                       headers=city.headers("admin")).text
    shares = re.findall(r"<th>视域内发案占比</th><td>([^<]*)</td>", _unescaped(admin))
    assert any(v.endswith("%") for v in shares), shares
    page = client.get("/maps/protection", params={"period": "2025-03"},
                      headers=city.headers("planner"))
    assert page.status_code == 200
    shares = re.findall(r"<th>视域内发案占比</th><td>([^<]*)</td>", _unescaped(page.text))
    assert not any(v.endswith("%") for v in shares), shares
    rows = client.get("/api/v1/protection", params={"period": "2025-03"},
                      headers=city.headers("planner")).json()["items"]
    c1 = next(r for r in rows if r["code"] == "C1")
    assert c1.get("incidents_in_view_share") is None
    assert c1.get("incidents_in_view") in (None, "<3", 0)


def test_liaison_grid_hot_spots_hold_no_cell_outside_the_jurisdiction(client, city):
    from tests.api.appcity import cluster_cells

    got = client.get("/api/v1/hotspots", params={"period": "2025", "on": "grid"},
                     headers=city.headers("liaison")).json()
    ids = {i["cell_id"] for i in got["items"]}
    for code in ("C3", "C4", "OUT"):
        ix, iy = cluster_cells()[code]
        assert f"250m:{ix}:{iy}" not in ids and f"{ix}_{iy}" not in ids
    page = client.get("/maps/hotspots", params={"period": "2025", "on": "grid"},
                      headers=city.headers("liaison")).text
    for code in ("C3", "C4", "OUT"):
        ix, iy = cluster_cells()[code]
        assert f"{ix}_{iy}" not in page and f"250m:{ix}:{iy}" not in page


# --- leak 3: no Gi* statistic reaches a protected caller -----------------------------------------

_STATS = ("hotspot_gi_z", "gi_z_sim", "p_sim", "p_value", "q_value", "z_sim")


@pytest.mark.parametrize("on", ["rate", "grid"])
@pytest.mark.parametrize("fmt", ["json", "csv", "geojson"])
def test_protected_hot_spots_are_classes_only(client, city, on, fmt):
    got = client.get("/api/v1/hotspots", params={"period": "2025", "on": on, "format": fmt},
                     headers=city.headers("planner"))
    assert got.status_code == 200
    text = got.content.decode("utf-8-sig")
    assert not any(s in text for s in _STATS)
    assert "notes" not in text and "left_out" not in text
    if fmt == "json":
        for item in got.json()["items"]:
            assert set(item) <= {"code", "name", "subdistrict", "district", "cell_id", "ix",
                                 "iy", "hotspot_class"}


def test_protected_hot_spot_map_has_no_statistic(client, city):
    page = client.get("/maps/hotspots", params={"period": "2025", "on": "grid"},
                      headers=city.headers("client")).text
    assert "Gi* 得分" not in page and "p 值" not in page


# --- the cell-key method end to end ---------------------------------------------------------------


def test_planner_counts_are_released_by_the_cell_key_method(client, city):
    got = client.get("/api/v1/aggregates/communities", params={"period": "2025"},
                     headers=city.headers("planner")).json()
    counts = {i["code"]: i["incidents"] for i in got["items"]}
    for code in ("C1", "C2", "C3", "C4"):
        assert counts[code] == _released(city, _ids_2025(code)), code
    assert counts["C2"] == "<3" and counts["C4"] == "<3"
    assert got["provenance"]["release"]["method"].startswith("cell-key")
    exact = client.get("/api/v1/aggregates/communities", params={"period": "2025"},
                       headers=city.headers("admin")).json()
    assert {i["code"]: i["incidents"] for i in exact["items"]} == {
        "C1": 5, "C2": 2, "C3": 5, "C4": 1}


def test_a_district_is_released_with_its_own_key_not_as_a_sum(client, city):
    got = client.get("/api/v1/rates", params={"period": "2025", "level": "district"},
                     headers=city.headers("planner")).json()
    cases = {i["code"]: i["cases"] for i in got["items"]}
    assert cases["D1"] == _released(city, _ids_2025("C1") + _ids_2025("C2"))
    assert cases["D2"] == _released(city, _ids_2025("C3") + _ids_2025("C4"))
    assert "unassigned" not in cases


def test_planner_periods_categories_and_cells_are_a_closed_space(client, city):
    h = city.headers("planner")
    for params, field in [({"period": "2025-01-01..2025-01-31"}, "period"),
                          ({"period": "2025-W10"}, "period"),
                          ({"period": "2025", "category": "theft"}, "category"),
                          ({"period": "2025", "on": "grid", "cell_m": 300}, "cell_m")]:
        url = "/api/v1/hotspots" if "cell_m" in params else "/api/v1/rates"
        got = client.get(url, params=params, headers=h)
        assert got.status_code == 422, params
        assert got.json()["errors"][0]["field"] == f"query.{field}"
    by = client.get("/api/v1/trend", params={"period": "2025", "by": "hour-weekday"},
                    headers=h)
    assert by.status_code == 422


def test_category_groups_are_released_units(city):
    groups = {"property": ["theft", "burglary"], "fraud": ["fraud"]}
    with city.client(api={"rate_limit_per_minute": 0, "category_groups": groups}) as c:
        h = city.headers("planner")
        got = c.get("/api/v1/aggregates/communities",
                    params={"period": "2025", "category": "property"}, headers=h).json()
        counts = {i["code"]: i["incidents"] for i in got["items"]}
        theft = [str(r["id"]) for r in incident_rows()
                 if str(r["occurred_at"]).startswith("2025") and r["category"] == "theft"
                 and str(r["id"]).startswith("C1-")]
        assert counts["C1"] == _released(city, theft)
        both = c.get("/api/v1/rates", params={"period": "2025", "category": ["property",
                                                                                "fraud"]},
                     headers=h)
        assert both.status_code == 422


def test_caches_are_keyed_by_what_the_caller_may_see(client, city):
    url, params = "/api/v1/aggregates/communities", {"period": "2025"}
    admin = client.get(url, params=params, headers=city.headers("admin")).json()
    planner = client.get(url, params=params, headers=city.headers("planner")).json()
    liaison = client.get(url, params=params, headers=city.headers("liaison")).json()
    assert {i["code"]: i["incidents"] for i in admin["items"]}["C2"] == 2
    assert {i["code"]: i["incidents"] for i in planner["items"]}["C2"] == "<3"
    assert {i["code"] for i in liaison["items"]} == {"C1", "C2"}
    again = client.get(url, params=params, headers=city.headers("admin")).json()
    assert again["items"] == admin["items"]


def test_protected_provenance_carries_no_exact_total(client, city):
    for url, params in [("/api/v1/rates", {"period": "2025"}),
                        ("/api/v1/aggregates/grid", {"period": "2025"}),
                        ("/api/v1/workload", {"type": "police_station", "period": "2025"})]:
        prov = client.get(url, params=params, headers=city.headers("client")).json()[
            "provenance"]
        text = json.dumps(prov, ensure_ascii=False)
        assert "left_out" not in text and "notes" not in text
        assert "incidents_total" not in text and "counted" not in text
        assert prov["release"]["min_count_shown"] == 3


def test_released_values_never_reveal_a_small_count(client, city):
    """Every count a protected caller sees is 0, a label, or at least min_count."""
    h = city.headers("planner")
    for url, params, key in [
            ("/api/v1/aggregates/communities", {"period": "2025-02"}, "incidents"),
            ("/api/v1/aggregates/grid", {"period": "2025-02"}, "incidents"),
            ("/api/v1/rates", {"period": "2025-Q1", "level": "subdistrict"}, "cases"),
            ("/api/v1/trend", {"period": "2025"}, "cases")]:
        items = client.get(url, params=params, headers=h).json()["items"]
        values = [i[key] for i in items]
        assert values and all(v == 0 or v == "<3" or (isinstance(v, int) and v >= 3)
                              for v in values), (url, values)


# --- protection and workload: counts released by the cell-key method -----------------------


def _located_2025(community: str) -> list[str]:
    return [i for i in _ids_2025(community) if i != "C3-noloc"]


def _close_or_hidden(released, exact) -> bool:
    return released == "<3" or (isinstance(released, int) and released >= 3
                                 and abs(released - exact) <= 2)


@pytest.mark.parametrize("role", ["planner", "client"])
def test_protected_protection_counts_are_released_not_dropped(client, city, role):
    admin = {r["code"]: r for r in client.get(
        "/api/v1/protection", params={"period": "2025"},
        headers=city.headers("admin")).json()["items"]}
    rows = {r["code"]: r for r in client.get(
        "/api/v1/protection", params={"period": "2025"},
        headers=city.headers(role)).json()["items"]}
    assert admin["C1"]["incidents_total"] == 5  # the exact count, for the admin only
    for code in ("C1", "C2", "C3", "C4"):
        row = rows[code]
        assert not any(k.endswith("_key_sum") for k in row), row
        assert row["incidents_total"] == _released(city, _located_2025(code)), code
        assert _close_or_hidden(row["incidents_in_view"], admin[code]["incidents_in_view"])
        if "<3" in (row["incidents_total"], row["incidents_in_view"]):
            assert row["incidents_in_view_share"] is None
        else:
            assert row["incidents_in_view_share"] == pytest.approx(
                row["incidents_in_view"] / row["incidents_total"])
    # a district is released with the key sum of its own incidents, not as a sum of parts
    d1 = next(r for r in client.get(
        "/api/v1/protection", params={"period": "2025", "level": "district"},
        headers=city.headers(role)).json()["items"] if r["code"] == "D1")
    assert d1["incidents_total"] == _released(city, _located_2025("C1") + _located_2025("C2"))


def test_protected_workload_counts_are_released_not_dropped(client, city):
    params = {"type": "police_office", "period": "2025"}
    admin = {r["id"]: r for r in client.get("/api/v1/workload", params=params,
                                            headers=city.headers("admin")).json()["items"]}
    rows = client.get("/api/v1/workload", params=params,
                      headers=city.headers("planner")).json()["items"]
    assert {r["id"] for r in rows} == {"F1", "F3"}
    assert sum(isinstance(a["incidents_catchment"], int) for a in admin.values()) == 2
    catchments = {"F1": _located_2025("C1") + _located_2025("C2"),
                  "F3": _located_2025("C3") + _located_2025("C4")}
    for row in rows:
        assert not any(k.endswith("_key_sum") for k in row), row
        assert row["incidents_catchment"] == _released(city, catchments[row["id"]])
        # the admin's count also holds OUT-1 (in no community), the planner's never does
        within, exact = row["incidents_within_radius"], admin[row["id"]]["incidents_within_radius"]
        assert within == "<3" or (isinstance(within, int) and 3 <= within <= exact + 2)
        hidden = "<3" in (row["incidents_catchment"], row["incidents_within_radius"])
        for share in ("catchment_share", "within_radius_share"):
            assert (row[share] is None) == hidden
    csv = client.get("/api/v1/workload", params={**params, "format": "csv"},
                     headers=city.headers("planner")).content.decode("utf-8-sig")
    assert "key_sum" not in csv


def test_protected_workload_radius_is_the_configured_one(client, city):
    """Within-radius counts at two radii would difference into an annulus: one radius only."""
    h = city.headers("planner")
    ok = client.get("/api/v1/workload", params={"type": "police_office", "period": "2025",
                                                "radius_m": 500}, headers=h)
    assert ok.status_code == 200, ok.text
    for radius in (499, 5000):
        r = client.get("/api/v1/workload", params={"type": "police_office", "period": "2025",
                                                   "radius_m": radius}, headers=h)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "query.radius_m"
    admin = client.get("/api/v1/workload", params={"type": "police_office", "period": "2025",
                                                   "radius_m": 5000},
                       headers=city.headers("admin"))
    assert admin.status_code == 200


def test_protected_workload_counts_assigned_incidents_only_in_id_order(client, city):
    """OUT-1 (in no community) is the admin's: it is in no planner's count, and the rows'
    order does not rank the exact counts behind the released ones."""
    params = {"type": "police_office", "period": "2025"}
    admin = {r["id"]: r["incidents_catchment"] for r in client.get(
        "/api/v1/workload", params=params, headers=city.headers("admin")).json()["items"]}
    assert admin == {"F1": 7, "F3": 6}  # F3's nearest: C3's four located, C4-1 and OUT-1
    rows = client.get("/api/v1/workload", params=params,
                      headers=city.headers("planner")).json()["items"]
    assert [r["id"] for r in rows] == ["F1", "F3"]
    by_id = {r["id"]: r["incidents_catchment"] for r in rows}
    assert by_id["F1"] == _released(city, _located_2025("C1") + _located_2025("C2"))
    assert by_id["F3"] == _released(city, _located_2025("C3") + _located_2025("C4"))


def test_liaison_protection_provenance_counts_nothing_outside_the_jurisdiction(client, city):
    prov = client.get("/api/v1/protection", params={"period": "2025"},
                      headers=city.headers("liaison")).json()["provenance"]
    assert "left_out" not in prov
    admin = client.get("/api/v1/protection", params={"period": "2025"},
                       headers=city.headers("admin")).json()["provenance"]
    assert admin["left_out"]["incidents_outside_communities"] == 1


@pytest.mark.parametrize("params", [{"district": "D1"}, {"community": "C3"}])
def test_protected_grid_hot_spots_of_a_selection(client, city, params):
    """A selection filters the released cells (it once misaligned the hidden flags: 500)."""
    r = client.get("/api/v1/hotspots", params={"period": "2025", "on": "grid", **params},
                   headers=city.headers("planner"))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(set(i) <= {"cell_id", "ix", "iy", "hotspot_class"} for i in items)
    everything = client.get("/api/v1/hotspots", params={"period": "2025", "on": "grid"},
                            headers=city.headers("planner")).json()["items"]
    assert len(items) < len(everything)
