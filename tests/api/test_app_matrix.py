"""The role × endpoint matrix: every documented endpoint, every role, the expected status.

One row per request: method, concrete path, the route it exercises, query parameters or body,
and the status each role must get (401 without a key). A new endpoint is one new row;
``test_matrix_covers_every_endpoint`` fails until it has one. The bodies of every response a
planner or client gets are then searched for incident positions and ids, and those of the D1
liaison for any incident outside D1.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.appcity import (
    ROLES,
    incident_points,
)

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")

A, L, P, C = "admin", "liaison", "planner", "client"
BAD_PROFILE = "name = 'x'\nversion = 1\n"


def everyone(status: int = 200) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def only(*roles: str, ok: int = 200) -> dict[str, int]:
    return {r: ok if r in roles else 403 for r in ROLES}


def outside_for_liaison(status: int = 200, **others: int) -> dict[str, int]:
    """Every role gets ``status`` but the D1 liaison, for whom the place is outside: 403."""
    return {**dict.fromkeys(ROLES, status), "liaison": 403, **others}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    route: str
    expected: dict[str, int]
    params: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    anonymous: int = 401

    @property
    def id(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")


_RECT_ALL = {"type": "Polygon", "coordinates": [[[116.299, 39.9], [116.351, 39.9],
                                                  [116.351, 39.91], [116.299, 39.91],
                                                  [116.299, 39.9]]]}

_STRICT_BAD_UPLOAD = {
    "files": {"file": ("c.csv", b"code,name,wkt\nX1,,POINT(1 2)\n", "text/csv")},
    "data": {"strict": "true"},
}

MATRIX: list[Row] = [
    Row("GET", "/health", "/health", everyone(), anonymous=200),
    Row("GET", "/version", "/version", everyone(), anonymous=200),
    Row("GET", "/api/v1/me", "/api/v1/me", everyone()),
    Row("GET", "/api/v1/communities", "/api/v1/communities", everyone()),
    Row("GET", "/api/v1/communities", "/api/v1/communities", outside_for_liaison(),
        {"format": "geojson", "district": "D2"}),
    Row("GET", "/api/v1/communities", "/api/v1/communities", everyone(), {"format": "csv"}),
    Row("GET", "/api/v1/communities/C3", "/api/v1/communities/{code}", outside_for_liaison()),
    Row("GET", "/api/v1/communities/C3", "/api/v1/communities/{code}", outside_for_liaison(),
        {"format": "geojson"}),
    Row("GET", "/api/v1/communities/C1", "/api/v1/communities/{code}", everyone()),
    Row("GET", "/api/v1/incidents", "/api/v1/incidents", only(A, L)),
    Row("GET", "/api/v1/incidents", "/api/v1/incidents", only(A, L),
        {"format": "geojson", "period": "2025"}),
    Row("GET", "/api/v1/incidents", "/api/v1/incidents", {**only(A, L), L: 403},
        {"format": "csv", "community": "C3"}),
    Row("GET", "/api/v1/incidents", "/api/v1/incidents", only(A, L),
        {"bbox": "116.32,39.90,116.35,39.91"}),
    Row("GET", "/api/v1/aggregates/communities", "/api/v1/aggregates/communities", everyone(),
        {"period": "2025"}),
    Row("GET", "/api/v1/aggregates/communities", "/api/v1/aggregates/communities", everyone(),
        {"period": "2025", "format": "geojson"}),
    Row("GET", "/api/v1/aggregates/communities", "/api/v1/aggregates/communities",
        outside_for_liaison(), {"period": "2025", "format": "csv", "district": "D2"}),
    Row("GET", "/api/v1/aggregates/grid", "/api/v1/aggregates/grid", everyone(),
        {"period": "2025"}),
    Row("GET", "/api/v1/aggregates/grid", "/api/v1/aggregates/grid", everyone(),
        {"period": "2025", "format": "geojson", "cell_m": "250"}),
    Row("GET", "/api/v1/aggregates/grid", "/api/v1/aggregates/grid", everyone(),
        {"period": "2025", "format": "csv", "bbox": "116.32,39.90,116.35,39.91"}),
    Row("GET", "/api/v1/aggregates/grid", "/api/v1/aggregates/grid", everyone(422),
        {"cell_m": "100"}),
    Row("GET", "/api/v1/catalogue", "/api/v1/catalogue", everyone()),
    Row("GET", "/api/v1/catalogue", "/api/v1/catalogue", everyone(), {"format": "csv"}),
    Row("GET", "/api/v1/profiles", "/api/v1/profiles", everyone()),
    Row("GET", "/api/v1/profiles/active", "/api/v1/profiles/active", everyone()),
    Row("GET", "/api/v1/profiles/nope", "/api/v1/profiles/{name}", everyone(404)),
    # Writes: the admin's request is refused by validation, so the shared city stays unchanged.
    Row("PUT", "/api/v1/profiles/x", "/api/v1/profiles/{name}", only(A, ok=422),
        request={"content": BAD_PROFILE.encode(), "headers": {"Content-Type": "text/plain"}}),
    Row("POST", "/api/v1/loads/communities", "/api/v1/loads/{layer}", only(A, ok=422),
        request=_STRICT_BAD_UPLOAD),
    Row("POST", "/api/v1/loads/roads", "/api/v1/loads/{layer}", only(A, ok=422),
        request={"files": {"file": ("r.csv", b"a,b\n1,2\n", "text/csv")}}),
    Row("GET", "/api/v1/rates", "/api/v1/rates", everyone(), {"period": "2025"}),
    Row("GET", "/api/v1/rates", "/api/v1/rates", everyone(),
        {"period": "2025", "compare": "last-year", "level": "district", "format": "geojson"}),
    Row("GET", "/api/v1/rates", "/api/v1/rates", everyone(), {"format": "csv"}),
    Row("GET", "/api/v1/trend", "/api/v1/trend", everyone(), {"period": "2025"}),
    Row("GET", "/api/v1/trend", "/api/v1/trend", outside_for_liaison(planner=422, client=422),
        {"period": "2025", "community": "C3", "by": "hour-weekday", "format": "csv"}),
    Row("GET", "/api/v1/trend", "/api/v1/trend", everyone(404), {"community": "ZZ"}),
    Row("GET", "/api/v1/hotspots", "/api/v1/hotspots", everyone(), {"period": "2025"}),
    Row("GET", "/api/v1/hotspots", "/api/v1/hotspots", everyone(),
        {"period": "2025", "on": "grid", "format": "geojson"}),
    Row("GET", "/api/v1/hotspots", "/api/v1/hotspots", everyone(422),
        {"on": "grid", "cell_m": "100"}),
    Row("GET", "/api/v1/emerging", "/api/v1/emerging",
        {**everyone(), "planner": 409, "client": 409}, {"period": "2025"}),
    Row("GET", "/api/v1/emerging", "/api/v1/emerging", everyone(422), {"period": "2025-Q1"}),
    Row("GET", "/api/v1/emerging", "/api/v1/emerging",
        outside_for_liaison(planner=422, client=422),
        {"period": "2025", "step": "week", "district": "D2", "format": "geojson"}),
    Row("GET", "/api/v1/kde", "/api/v1/kde", everyone(), {"period": "2025"}),
    Row("GET", "/api/v1/kde", "/api/v1/kde", everyone(),
        {"period": "2025", "format": "tif", "bandwidth_m": "600", "cell_m": "250"}),
    Row("GET", "/api/v1/kde", "/api/v1/kde", {**everyone(), "planner": 422, "client": 422},
        {"period": "2025", "cell_m": "100", "format": "csv"}),
    # near repeats: a planner's table needs at least 50 incidents (the app city has fewer)
    Row("GET", "/api/v1/near-repeat", "/api/v1/near-repeat",
        {**everyone(), "planner": 409, "client": 409}, {"period": "2025", "permutations": "9"}),
    Row("GET", "/api/v1/near-repeat/zones", "/api/v1/near-repeat/zones",
        only("admin", "liaison"), {"period": "2025", "permutations": "9"}),
    Row("GET", "/api/v1/alerts", "/api/v1/alerts", everyone(), {"as_of": "2025-03-16"}),
    Row("GET", "/api/v1/protection", "/api/v1/protection", everyone()),
    Row("GET", "/api/v1/protection", "/api/v1/protection", everyone(),
        {"level": "district", "format": "geojson"}),
    Row("GET", "/api/v1/protection/blind-spots", "/api/v1/protection/blind-spots", everyone()),
    Row("GET", "/api/v1/coverage", "/api/v1/coverage", everyone(), {"type": "police_office"}),
    Row("GET", "/api/v1/coverage", "/api/v1/coverage", everyone(409), {"type": "fire_station"}),
    Row("GET", "/api/v1/gaps", "/api/v1/gaps", everyone(), {"type": "police_office"}),
    Row("GET", "/api/v1/workload", "/api/v1/workload", everyone(),
        {"type": "police_office", "period": "2025"}),
    Row("POST", "/api/v1/site-plans", "/api/v1/site-plans", everyone(),
        request={"json": {"facility_type": "police_office", "add": 1, "time_limit_s": 20}}),
    Row("POST", "/api/v1/site-plans", "/api/v1/site-plans", everyone(422),
        request={"json": {"facility_type": "police_office", "add": 0}}),
    *[Row("POST", "/api/v1/site-plans", "/api/v1/site-plans", everyone(), {"format": fmt},
          request={"json": {"type": "police_office", "add": 2, "time_limit_s": 20}})
      for fmt in ("geojson", "csv", "provenance")],
    Row("POST", "/api/v1/site-plans", "/api/v1/site-plans", everyone(422), {"format": "xlsx"},
        request={"json": {"type": "police_office", "add": 1}}),
    # a radius so small that the candidate grid would not fit in memory: refused before it is made
    Row("POST", "/api/v1/site-plans", "/api/v1/site-plans", everyone(422),
        request={"json": {"facility_type": "police_office", "add": 1, "radius_m": 1e-6}}),
    Row("GET", "/api/v1/standard", "/api/v1/standard", everyone(), {"period": "2025"}),
    Row("GET", "/api/v1/standard", "/api/v1/standard", everyone(),
        {"level": "district", "format": "csv"}),
    # briefings: a liaison's own district; another's is refused; no week for aggregate roles
    Row("GET", "/api/v1/briefings", "/api/v1/briefings", everyone(),
        {"period": "2025-03", "format": "html"}),
    Row("GET", "/api/v1/briefings", "/api/v1/briefings", outside_for_liaison(),
        {"period": "2025-03", "district": "D2", "format": "html"}),
    Row("GET", "/api/v1/briefings", "/api/v1/briefings", everyone(),
        {"period": "2025-Q1", "district": "D1"}),
    Row("GET", "/api/v1/briefings", "/api/v1/briefings",
        {**everyone(), "planner": 422, "client": 422}, {"period": "2025-W10", "format": "html"}),
    Row("GET", "/api/v1/briefings", "/api/v1/briefings", everyone(422), {"period": "2025-13"}),
    Row("GET", "/api/v1/standard/todo/C1", "/api/v1/standard/todo/{code}", everyone()),
    Row("GET", "/api/v1/standard/todo/ZZ", "/api/v1/standard/todo/{code}", everyone(404)),
    *[Row("GET", f"/maps/{kind}", "/maps/{kind}", everyone(), {"period": "2025"})
      for kind in ("incidents", "rates", "hotspots", "kde", "protection", "coverage",
                   "standard")],
    Row("GET", "/maps/emerging", "/maps/{kind}", {**everyone(), "planner": 409, "client": 409},
        {"period": "2025"}),
    Row("GET", "/maps/hotspots", "/maps/{kind}", everyone(), {"period": "2025", "on": "grid"}),
    Row("GET", "/maps/roads", "/maps/{kind}", everyone(422)),
    # a map's picture (headless Chromium on the server): the page's release rules
    Row("GET", "/maps/incidents", "/maps/{kind}", everyone(), {"period": "2025", "format": "png"}),
    Row("GET", "/maps/incidents", "/maps/{kind}", outside_for_liaison(),
        {"period": "2025", "district": "D2", "format": "png"}),
    Row("GET", "/maps/rates", "/maps/{kind}", {**everyone(), "planner": 422, "client": 422},
        {"period": "2025-W10", "format": "png"}),
    Row("GET", "/maps/rates", "/maps/{kind}", everyone(422), {"period": "2025", "format": "gif"}),
    # The web workspace's pages (not in the OpenAPI document): without a key, / is the login
    # form; its content per role is checked in tests/api/trust_matrix.py and test_app_pages.py.
    Row("GET", "/", "/", everyone(), anonymous=200),
    Row("GET", "/", "/", everyone(), {"lang": "en"}, anonymous=200),
    # The landing's heavy parts, fetched by its script; the zones only for raw readers.
    *[Row("GET", f"/api/v1/landing/{part}", "/api/v1/landing/{part}", everyone())
      for part in ("creation", "coverage", "rising", "alerts", "todo")],
    Row("GET", "/api/v1/landing/todo", "/api/v1/landing/{part}", everyone(), {"lang": "en"}),
    Row("GET", "/api/v1/landing/zones", "/api/v1/landing/{part}", only(A, L)),
    Row("GET", "/api/v1/landing/nope", "/api/v1/landing/{part}", everyone(422)),
    # the streets of the caller's area (no incident data)
    Row("GET", "/api/v1/roads", "/api/v1/roads", everyone()),
    Row("GET", "/api/v1/roads", "/api/v1/roads", outside_for_liaison(),
        {"district": "D2", "format": "json"}),
    # the map workspace: every role (layers it may not read are not offered); no key: 401
    Row("GET", "/map", "/map", everyone()),
    Row("GET", "/map", "/map", everyone(), {"lang": "en", "layers": "incidents,rates"}),
    Row("GET", "/favicon.ico", "/favicon.ico", everyone(), anonymous=200),
    Row("GET", "/static/landing.js", "/static/{name}", everyone(), anonymous=200),
    Row("GET", "/static/app.css", "/static/{name}", everyone(), anonymous=200),
    Row("GET", "/static/nope.css", "/static/{name}", everyone(404), anonymous=404),
    # drawn areas: a liaison's area over the other district is refused; a planner's or client's
    # incident list is refused, and so is an hour filter (422)
    Row("POST", "/api/v1/areas/query", "/api/v1/areas/query", everyone(),
        request={"json": {"area": {"geometry": _RECT_ALL}, "period": "2025"}}),
    Row("POST", "/api/v1/areas/query", "/api/v1/areas/query", outside_for_liaison(),
        request={"json": {"area": {"community": "C3"}, "period": "2025-03"}}),
    Row("POST", "/api/v1/areas/query", "/api/v1/areas/query", only(A, L),
        request={"json": {"area": {"geometry": _RECT_ALL}, "incidents": True}}),
    Row("POST", "/api/v1/areas/query", "/api/v1/areas/query",
        {**everyone(), P: 422, C: 422},
        request={"json": {"area": {"geometry": _RECT_ALL}, "hours": [10]}}),
    Row("POST", "/api/v1/areas/query", "/api/v1/areas/query", everyone(422),
        request={"json": {"area": {"circle": {"lon": 116.3, "lat": 39.9, "radius_m": 1}}}}),
    Row("GET", "/api/v1/search", "/api/v1/search", everyone(), {"q": "胡同"}),
    Row("GET", "/api/v1/search", "/api/v1/search", everyone(422), {"q": ""}),
    # saved areas: everyone keeps their own; another key's id (or none) is not found
    Row("GET", "/api/v1/areas", "/api/v1/areas", everyone()),
    Row("POST", "/api/v1/areas", "/api/v1/areas", everyone(422),
        request={"json": {"name": "", "area": {"community": "C1"}}}),
    Row("DELETE", "/api/v1/areas/999999", "/api/v1/areas/{area_id}", everyone(404)),
    Row("GET", "/api/v1/audit", "/api/v1/audit", only(A)),
    Row("GET", "/api/v1/audit", "/api/v1/audit", only(A), {"format": "csv"}),
]


def _send(client, row: Row, headers: dict[str, str]):
    kwargs = dict(row.request)
    kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
    return client.request(row.method, row.path, params=row.params, **kwargs)


def test_matrix_covers_every_endpoint(client):
    from api.routes import pages

    documented = {(method.upper(), path)
                  for path, ops in client.app.openapi()["paths"].items() for method in ops}
    documented |= {(method, route.path) for route in pages.router.routes  # type: ignore[attr-defined]
                   for method in route.methods if method != "HEAD"}  # type: ignore[attr-defined]
    assert documented == {(r.method, r.route) for r in MATRIX}


@pytest.mark.parametrize("row", MATRIX, ids=lambda r: r.id)
def test_role_matrix_and_every_error_is_a_problem_document(city, client, row):
    got = {}
    for role in ROLES:
        response = _send(client, row, city.headers(role))
        got[role] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
            body = response.json()
            assert body["status"] == response.status_code
            assert body["type"].startswith("https://pingan.dev/problems/")
            assert "Traceback" not in response.text and "SELECT" not in response.text
    assert got == row.expected
    assert _send(client, row, {}).status_code == row.anonymous


_NUMBER = re.compile(r"-?\d+\.\d+")


def _incident_pairs_in(text: str) -> list[str]:
    """Incident ids whose position appears as a (lon, lat) pair of numbers in ``text``."""
    numbers = [float(x) for x in _NUMBER.findall(text)]
    found = []
    for ident, (lon, lat) in incident_points().items():
        for a, b in itertools.pairwise(numbers):
            if abs(a - lon) < 2e-6 and abs(b - lat) < 2e-6:
                found.append(ident)
                break
        if any(abs(n - lat) < 2e-7 for n in numbers):
            found.append(f"{ident} (latitude)")
    return found


@pytest.mark.parametrize("role", ["planner", "client"])
def test_no_incident_position_or_id_reaches_aggregate_roles(city, client, role):
    bodies = [_send(client, row, city.headers(role)) for row in MATRIX]
    seen = 0
    for response in bodies:
        if response.status_code != 200:
            continue
        seen += 1
        text = response.text
        assert _incident_pairs_in(text) == []
        assert "longitude" not in text and "latitude" not in text
        assert not re.search(r"\b(C[1-4]|OUT)-(\d|noloc|2024)", text)
    assert seen >= 18


def test_the_position_search_finds_positions_when_they_are_there(city, client):
    # The same search over an admin's incident export finds every located incident.
    response = client.get("/api/v1/incidents", params={"format": "geojson"},
                          headers=city.headers("admin"))
    assert sorted(i for i in _incident_pairs_in(response.text) if "(" not in i) == sorted(
        incident_points())


def test_liaison_sees_no_incident_outside_their_jurisdiction_anywhere(city, client):
    outside = {k: v for k, v in incident_points().items() if not k.startswith(("C1", "C2"))}
    for row in MATRIX:
        response = _send(client, row, city.headers("liaison"))
        text = response.text
        leaked = [i for i in _incident_pairs_in(text) if i.split(" ")[0] in outside]
        assert leaked == [], row.id
        assert not re.search(r"\b(C3|C4|OUT)-(\d|noloc)", text), row.id
