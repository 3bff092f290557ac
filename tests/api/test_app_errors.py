"""The error contract: problem documents, one status table, nothing internal in a body."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import STATUS_TABLE, TITLES_ZH, ApiError, status_of
from api.profiles import ProfileConflictError
from geo.errors import (
    AmbiguousError,
    InputError,
    LimitError,
    MissingDataError,
    NotFoundError,
    ParameterError,
    PeriodError,
)
from geo.profile import ProfileError, ProfileProblem


def problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://pingan.dev/problems/{slug}"
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["title_zh"] == TITLES_ZH[slug]
    assert isinstance(body["errors"], list)
    return body


def test_every_problem_type_has_a_chinese_title():
    import inspect

    from api import errors

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    slugs = {m.slug for _, m in STATUS_TABLE} | {c.slug for c in subclasses(ApiError)}
    slugs |= {"method-not-allowed", "not-acceptable", "unsupported-media-type",
              "internal-error", "http-error"}
    # slugs written as literals anywhere in the API (security middleware, handlers)
    import re
    from pathlib import Path

    for path in Path(inspect.getfile(errors)).parent.rglob("*.py"):
        slugs |= set(re.findall(r"problem_response\(\s*\d+, \"([a-z-]+)\"",
                                path.read_text(encoding="utf-8")))
    assert "credential-in-url" in slugs
    assert sorted(slugs - set(TITLES_ZH)) == []
    assert all(re.search(r"[\u4e00-\u9fff]", t) for t in TITLES_ZH.values())


def test_unknown_path_is_a_404_problem(client):
    problem(client.get("/api/v1/nothing-here"), 404, "not-found")


def test_validation_errors_name_each_field(client, city):
    body = problem(client.get("/api/v1/communities", params={"limit": 0, "format": "xml"},
                              headers=city.headers("admin")), 422, "invalid-parameter")
    assert {e["field"] for e in body["errors"]} == {"query.limit", "query.format"}


@pytest.mark.parametrize(("params", "field", "slug"), [
    ({"period": "2025-13"}, "query.period", "invalid-period"),
    ({"period": "last year"}, "query.period", "invalid-period"),
    ({"period": "9999-12-31..9999-12-31"}, "query.period", "invalid-period"),
    ({"period": "0001"}, "query.period", "invalid-period"),
    ({"period": "0001-01-01..9999-12-31"}, "query.period", "invalid-period"),
    ({"period": "2025-02-30..2025-03-01"}, "query.period", "invalid-period"),
    ({"period": "2025-06-01..2025-01-01"}, "query.period", "invalid-period"),
    ({"period": ""}, "query.period", "invalid-period"),
    ({"period": "2025-W53"}, "query.period", "invalid-period"),
    ({"period": "1899-12"}, "query.period", "invalid-period"),
    ({"bbox": "1,2,3"}, "query.bbox", "invalid-parameter"),
    ({"bbox": "116.4,39.9,116.3,40.0"}, "query.bbox", "invalid-parameter"),
    ({"bbox": "nan,1,2,3"}, "query.bbox", "invalid-parameter"),
])
def test_bad_parameters_are_422_with_the_field(client, city, params, field, slug):
    for path in ("/api/v1/aggregates/communities", "/api/v1/incidents", "/api/v1/rates",
                 "/maps/rates"):
        body = problem(client.get(path, params=params, headers=city.headers("admin")), 422,
                       slug)
        assert body["errors"][0]["field"] == field


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/incidents", {"category": "\x00"}, "query.category"),
    ("/api/v1/communities/C%001", {}, "path"),
    ("/api/v1/profiles/x", {"version": "1\x00"}, "query.version"),
])
def test_nul_characters_are_refused_before_any_query(client, city, path, params, field):
    body = problem(client.get(path, params=params, headers=city.headers("admin")), 422,
                   "invalid-parameter")
    assert body["errors"][0]["field"] == field


def test_status_table_maps_domain_errors_only():
    assert status_of(ProfileError([ProfileProblem(1, "name", "missing")])) == 422
    assert status_of(InputError("bad file")) == 422
    assert status_of(ProfileConflictError("exists")) == 409
    assert status_of(ParameterError("x", parameter="cell_m")) == 422
    assert status_of(PeriodError("x")) == 422
    assert status_of(AmbiguousError("x")) == 422
    assert status_of(NotFoundError("x")) == 404
    assert status_of(MissingDataError("x")) == 409
    assert status_of(LimitError("x")) == 422
    # a built-in error escaping a handler is a bug, never the client's fault
    assert status_of(KeyError("x")) == 500
    assert status_of(ValueError("x")) == 500
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
        raise NotFoundError("no community with code 'Z'", parameter="code")

    def bug() -> None:
        raise KeyError("code")

    def bad_data() -> None:
        raise sa.exc.DataError("SELECT * FROM incidents WHERE category = %s", {}, Exception("x"))

    def bad_value() -> None:
        raise ParameterError("radius_m must be > 0; got -1", parameter="radius_m")

    def bad_builtin() -> None:
        raise ValueError("radius_m must be > 0; got -1")

    for path, fn in (("/boom", boom), ("/db", db_down), ("/missing", missing),
                     ("/bug", bug), ("/bad", bad_value), ("/builtin", bad_builtin),
                     ("/data", bad_data)):
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
        missing = problem(c.get("/missing"), 404, "not-found")
        assert missing["detail"] == "no community with code 'Z'"
        assert missing["errors"][0]["field"] == "query.code"
        bad = problem(c.get("/bad"), 422, "invalid-parameter")
        assert bad["detail"] == "radius_m must be > 0; got -1"
        assert bad["errors"][0]["field"] == "query.radius_m"
        for path in ("/bug", "/builtin"):
            body = problem(c.get(path), 500, "internal-error")
            assert "radius_m" not in body["detail"] and body["error_id"]
        data = problem(c.get("/data"), 400, "bad-request")
        assert "SELECT" not in str(data) and "cannot be used by the database" in data["detail"]
