"""POST /site-plans: one name for the facility type, and sites that say where they are
(issue 12, item 11)."""

from __future__ import annotations

import pytest


def _plan(client, city, body, fmt="json", role="admin"):
    return client.post("/api/v1/site-plans", params={"format": fmt},
                       json={"add": 1, "time_limit_s": 20, "period": "2025", **body},
                       headers=city.headers(role))


@pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")
def test_type_names_the_facility_type_and_facility_type_still_works(client, city):
    new = _plan(client, city, {"type": "police_office"})
    old = _plan(client, city, {"facility_type": "police_office"})
    assert new.status_code == old.status_code == 200, (new.text, old.text)
    assert new.json()["items"] == old.json()["items"]
    for body in ({}, {"type": "police_office", "facility_type": "health_station"}):
        r = _plan(client, city, body)
        assert r.status_code == 422, body
        assert "type" in r.text
    same = _plan(client, city, {"type": "police_office", "facility_type": "police_office"})
    assert same.status_code == 200  # both, agreeing: no conflict
    spec = client.app.openapi()["components"]["schemas"]["SitePlanIn"]["properties"]
    assert spec["facility_type"]["deprecated"] is True
    assert "deprecated alias of type" in spec["facility_type"]["description"]


@pytest.mark.parametrize("role", ["admin", "liaison", "planner"])
@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_each_site_has_its_position_and_community(client, city, role):
    body = _plan(client, city, {"type": "police_office"}, role=role).json()
    assert body["items"], body
    for item in body["items"]:
        assert -180 <= item["lon"] <= 180 and -90 <= item["lat"] <= 90
        assert item["community_code"] in {"C1", "C2", "C3", "C4"}
        if role == "liaison":
            assert item["community_code"] in {"C1", "C2"}
        assert item["community_name"].endswith("社区")
    geo = _plan(client, city, {"type": "police_office"}, fmt="geojson", role=role).json()
    for feature, item in zip(geo["features"], body["items"], strict=True):
        props = feature["properties"]
        assert (props["lon"], props["lat"]) == pytest.approx(feature["geometry"]["coordinates"])
        assert props["community_code"] == item["community_code"]
        assert props["community_name"] == item["community_name"]
