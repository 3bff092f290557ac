"""The map workspace's exports: the layers' CSV/GeoJSON, the map's picture, the briefing link.

The export panel of ``/map`` links each visible layer to the JSON API request it was drawn
from in ``format=csv`` or ``format=geojson`` (``tests/api/test_app_workspace_browser.py``
checks the links the page writes); here those requests are sent as a liaison and a planner
would send them, and the map's picture (``/maps/{kind}?format=png``, rendered on the server by
headless Chromium) is checked: a PNG with a drawn map, refused outside a liaison's
jurisdiction, cached per world and parameters, and a clear 409 without Chromium.
"""

from __future__ import annotations

import csv
import io
import shutil

import pytest

from tests.api.appcity import incident_rows
from tests.maps.test_browser import drawn_pixels

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(_CHROMIUM is None, reason="no Chromium installed")


def _incident_ids(world: set[str], year: str = "2025") -> set[str]:
    return {str(r["id"]) for r in incident_rows()
            if str(r["id"]).split("-")[0] in world and str(r["occurred_at"]).startswith(year)}


def test_a_liaisons_incident_export_holds_only_their_jurisdiction(city, client):
    # the workspace's incidents layer request, as its export panel links it
    params = {"limit": "10000", "period": "2025-01-01..2025-12-31"}
    answer = client.get("/api/v1/incidents", params={**params, "format": "csv"},
                        headers=city.headers("liaison"))
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert 'rel="describedby"' in answer.headers["link"]
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert {r["id"] for r in rows} == _incident_ids({"C1", "C2"}) != set()
    geo = client.get("/api/v1/incidents", params={**params, "format": "geojson"},
                     headers=city.headers("liaison")).json()
    assert {f["properties"]["id"] for f in geo["features"]} == _incident_ids({"C1", "C2"})
    # another district's export is refused, not emptied
    other = client.get("/api/v1/incidents", params={**params, "format": "csv",
                                                    "district": "D2"},
                       headers=city.headers("liaison"))
    assert other.status_code == 403


def test_a_planner_has_no_incident_export(city, client):
    answer = client.get("/api/v1/incidents", params={"format": "csv", "period": "2025"},
                        headers=city.headers("planner"))
    assert answer.status_code == 403
    rates = client.get("/api/v1/rates", params={"format": "csv", "period": "2025"},
                       headers=city.headers("planner"))
    assert rates.status_code == 200 and rates.headers["content-type"].startswith("text/csv")


@pytest.mark.slow
@needs_chromium
def test_the_map_picture_is_a_drawn_png_as_the_caller_may_see_it(city, client):
    params = {"period": "2025", "format": "png"}
    answer = client.get("/maps/incidents", params={**params, "district": "D1"},
                        headers=city.headers("liaison"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["cache-control"] == "no-store"  # raw incidents
    assert answer.content.startswith(PNG_SIGNATURE)
    assert drawn_pixels(answer.content) > 1000
    # another district's picture is refused as the page is
    other = client.get("/maps/incidents", params={**params, "district": "D2"},
                       headers=city.headers("liaison"))
    assert other.status_code == 403 and "D2" in other.json()["detail"]
    # a planner's picture of the released rates; a week is outside their release space
    planner = client.get("/maps/rates", params=params, headers=city.headers("planner"))
    assert planner.status_code == 200 and planner.content.startswith(PNG_SIGNATURE)
    assert planner.headers["cache-control"] == "private, max-age=0"
    week = client.get("/maps/rates", params={**params, "period": "2025-W10"},
                      headers=city.headers("planner"))
    assert week.status_code == 422


@pytest.mark.slow
@needs_chromium
def test_the_picture_is_cached_per_world_and_audited_per_request(city, client):
    params = {"period": "2025-Q1", "format": "png", "on": "grid"}

    def audited() -> int:
        items = client.get("/api/v1/audit", params={"action": "read_incidents",
                                                    "limit": 1000},
                           headers=city.headers("admin")).json()["items"]
        return sum(1 for i in items if i["endpoint"].startswith("GET /maps/")
                   and i["params"].get("format") == "png")

    before = audited()
    first = client.get("/maps/incidents", params=params, headers=city.headers("liaison"))
    again = client.get("/maps/incidents", params=params, headers=city.headers("liaison"))
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert audited() == before + 2
    # the admin's picture of the same parameters holds D2's points too: not the liaison's
    admin = client.get("/maps/incidents", params=params, headers=city.headers("admin"))
    assert admin.status_code == 200 and admin.content != first.content


def test_a_missing_chromium_is_a_409_naming_the_package(city):
    with city.client(maps={**city.settings.maps.model_dump(),
                           "browser": "pingan-no-such-browser"}) as c:
        answer = c.get("/maps/rates", params={"period": "2025", "format": "png"},
                       headers=city.headers("planner"))
        assert answer.status_code == 409
        assert "chromium" in answer.json()["detail"].lower()
        assert "format=html" in answer.json()["detail"]
        page = c.get("/maps/rates", params={"period": "2025"}, headers=city.headers("planner"))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
