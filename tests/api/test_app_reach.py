"""Reach along roads through the API and the services: walk, drive and line on the app city."""

from __future__ import annotations

import pytest

from api.release import Visibility
from api.services.reach import coverage_by_reach
from geo.errors import MissingDataError
from tests.api.appcity import city_fixture, client_fixture  # noqa: F401  (fixtures)
from tests.api.test_coverage_service import ctx_for


def _city(client, city, role="admin", **params):
    r = client.get("/api/v1/coverage", params={"type": "police_office", "level": "city",
                                               **params}, headers=city.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def test_walking_coverage_is_at_most_the_straight_line_one(client, city):
    line = _city(client, city, radius_m=500)
    walk = _city(client, city, radius_m=500, reach="walk")
    share = {k: b["items"][0]["facility_covered_population_share"]
             for k, b in (("line", line), ("walk", walk))}
    # network distance >= straight line; the line's areal share and the walk's demand points
    # differ by the cells' rounding only (at most a point)
    assert 0 < share["walk"] < share["line"] + 0.01
    # on a grid the walk is the Manhattan distance: clearly less than the circle's reach
    assert share["walk"] < 0.9 * share["line"]
    prov = walk["provenance"]
    assert (prov["reach"], prov["radius_m"], prov["walk_speed_mps"]) == ("walk", 500.0, 1.2)
    assert prov["walk_minutes"] == pytest.approx(6.9)
    assert walk["items"][0]["facility_minutes"] > 0


def test_drive_is_in_minutes_and_parameters_are_checked(client, city):
    drive = _city(client, city, reach="drive", minutes=1)
    assert drive["provenance"]["minutes"] == 1.0
    assert 0 < drive["items"][0]["facility_covered_population_share"] <= 1
    bad = client.get("/api/v1/coverage", params={"type": "police_office", "reach": "bike"},
                     headers=city.headers("admin"))
    assert bad.status_code == 422 and "reach" in bad.text
    for params, name in (({"reach": "walk", "minutes": 5}, "minutes"),
                         ({"reach": "drive", "radius_m": 500}, "radius_m"),
                         ({"reach": "line", "minutes": 5}, "minutes")):
        r = client.get("/api/v1/coverage", params={"type": "police_office", **params},
                       headers=city.headers("admin"))
        assert r.status_code == 422 and name in r.text, (params, r.text)


def test_gaps_and_workload_along_roads(client, city):
    gaps = client.get("/api/v1/gaps", params={"type": "police_office", "reach": "walk"},
                      headers=city.headers("admin"))
    assert gaps.status_code == 200
    codes = {f["properties"]["code"] for f in gaps.json()["features"]}
    assert "C4" in codes  # 1 km and more from both offices along the streets
    work = client.get("/api/v1/workload", params={"type": "police_office", "reach": "walk"},
                      headers=city.headers("admin")).json()
    by_id = {r["id"]: r for r in work["items"]}
    # every located 2025 incident is caught by one of the two offices
    assert by_id["F1"]["incidents_catchment"] + by_id["F3"]["incidents_catchment"] == 13
    planner = client.get("/api/v1/workload", params={"type": "police_office", "reach": "drive",
                                                     "minutes": 5},
                         headers=city.headers("planner"))
    assert planner.status_code == 422 and "minutes" in planner.text
    released = client.get("/api/v1/workload", params={"type": "police_office",
                                                      "reach": "drive"},
                          headers=city.headers("planner")).json()
    for row in released["items"]:
        assert row["incidents_catchment"] in ("<3", 0) or int(row["incidents_catchment"]) >= 3


def test_walk_without_roads_names_the_load_command(lattice_db):
    ctx = ctx_for(lattice_db)
    with pytest.raises(MissingDataError, match="pingan load roads"):
        coverage_by_reach(ctx, Visibility.admin(ctx.settings), reach="walk",
                          facility_type="police_office")


def test_the_coverage_map_draws_service_areas_along_roads(client, city):
    walk = client.get("/maps/coverage", params={"type": "police_office", "reach": "walk"},
                      headers=city.headers("planner"))
    assert walk.status_code == 200
    assert "沿路步行 500 米" in walk.text
    line = client.get("/maps/coverage", params={"type": "police_office"},
                      headers=city.headers("planner"))
    assert "沿路步行" not in line.text and "半径 500 米" in line.text


def test_site_plans_along_roads(client, city):
    body = {"type": "police_office", "add": 1, "time_limit_s": 20, "reach": "walk"}
    r = client.post("/api/v1/site-plans", json=body, headers=city.headers("planner"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["provenance"]["reach"] == "walk" and doc["provenance"]["radius_m"] == 500.0
    # the new office covers residents no existing one reaches along the streets
    assert doc["provenance"]["coverage_after"] > doc["provenance"]["coverage_before"]
    assert len(doc["items"]) == 1
    # a site chosen along the roads carries its position and community as every plan does
    site = doc["items"][0]
    codes = {c["code"] for c in client.get("/api/v1/communities",
                                           headers=city.headers("admin")).json()["items"]}
    assert site["community_code"] in codes and site["community_name"]
    assert -180 <= site["lon"] <= 180 and -90 <= site["lat"] <= 90
    bad = client.post("/api/v1/site-plans", json={**body, "reach": "bike"},
                      headers=city.headers("planner"))
    assert bad.status_code == 422 and "reach" in bad.text
