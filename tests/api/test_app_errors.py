"""The error contract: problem documents, one status table, nothing internal in a body."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import STATUS_TABLE, status_of
from api.profiles import ProfileConflictError
from geo.readers import InputError
from geo.standard import ProfileError, ProfileProblem


def problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://pingan.dev/problems/{slug}"
    assert body["status"] == status and body["title"] and body["detail"]
    assert isinstance(body["errors"], list)
    return body


def test_unknown_path_is_a_404_problem(client):
    problem(client.get("/api/v1/nothing-here"), 404, "not-found")


def test_validation_errors_name_each_field(client, city):
    body = problem(client.get("/api/v1/communities", params={"limit": 0, "format": "xml"},
                              headers=city.headers("admin")), 422, "invalid-parameter")
    assert {e["field"] for e in body["errors"]} == {"query.limit", "query.format"}


@pytest.mark.parametrize(("params", "field", "text"), [
    ({"period": "2025-13"}, "query.period", "is not a valid date"),
    ({"period": "last year"}, "query.period", "period must look like 2025"),
    ({"bbox": "1,2,3"}, "query.bbox", "expected four numbers"),
    ({"bbox": "116.4,39.9,116.3,40.0"}, "query.bbox", "min < max"),
    ({"bbox": "nan,1,2,3"}, "query.bbox", "expected four numbers"),
])
def test_bad_parameters_are_422_with_the_field(client, city, params, field, text):
    for path in ("/api/v1/aggregates/communities", "/api/v1/incidents"):
        body = problem(client.get(path, params=params, headers=city.headers("admin")), 422,
                       "invalid-parameter")
        assert body["errors"][0]["field"] == field and text in body["errors"][0]["message"]


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/incidents", {"category": "\x00"}, "query.category"),
    ("/api/v1/communities/C%001", {}, "path"),
    ("/api/v1/profiles/x", {"version": "1\x00"}, "query.version"),
])
def test_nul_characters_are_refused_before_any_query(client, city, path, params, field):
    body = problem(client.get(path, params=params, headers=city.headers("admin")), 422,
                   "invalid-parameter")
    assert body["errors"][0]["field"] == field


def test_status_table_maps_domain_errors():
    assert status_of(ProfileError([ProfileProblem(1, "name", "missing")])) == 422
    assert status_of(InputError("bad file")) == 422
    assert status_of(ProfileConflictError("exists")) == 409
    assert status_of(KeyError("x")) == 404
    assert status_of(ValueError("x")) == 400
    assert status_of(RuntimeError("x")) == 500
    classes = [cls for cls, _ in STATUS_TABLE]
    # most specific first: a subclass never comes after one of its bases
    for i, cls in enumerate(classes):
        assert not any(issubclass(cls, base) for base in classes[:i]), cls


def _app_with_failures(city) -> TestClient:
    app = create_app(city.settings, engine=city.engine)

    def boom() -> None:
        raise RuntimeError("secret internals: SELECT * FROM api_keys")

    def db_down() -> None:
        raise sa.exc.OperationalError("SELECT key_hash FROM api_keys", {}, Exception("gone"))

    def missing() -> None:
        raise KeyError("no community with code 'Z'")

    def bad_data() -> None:
        raise sa.exc.DataError("SELECT * FROM incidents WHERE category = %s", {}, Exception("x"))

    def bad_value() -> None:
        raise ValueError("radius_m must be > 0; got -1")

    for path, fn in (("/boom", boom), ("/db", db_down), ("/missing", missing),
                     ("/bad", bad_value), ("/data", bad_data)):
        app.add_api_route(path, fn)
    return TestClient(app, raise_server_exceptions=False)


def test_unexpected_errors_are_500_with_an_id_and_no_internals(city, caplog):
    with _app_with_failures(city) as c, caplog.at_level(logging.ERROR, logger="pingan.api"):
        body = problem(c.get("/boom"), 500, "internal-error")
    assert "SELECT" not in str(body) and "secret" not in str(body)
    assert "Traceback" not in str(body)
    assert body["error_id"] in body["detail"]
    assert body["error_id"] in caplog.text and "secret internals" in caplog.text


def test_domain_errors_map_through_the_table(city):
    with _app_with_failures(city) as c:
        db = problem(c.get("/db"), 503, "database-unavailable")
        assert "SELECT" not in str(db) and c.get("/db").headers["retry-after"] == "5"
        assert problem(c.get("/missing"), 404, "not-found")["detail"] == (
            "no community with code 'Z'")
        assert problem(c.get("/bad"), 400, "bad-request")["detail"] == (
            "radius_m must be > 0; got -1")
        data = problem(c.get("/data"), 400, "bad-request")
        assert "SELECT" not in str(data) and "cannot be used by the database" in data["detail"]
