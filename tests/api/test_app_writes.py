"""Admin writes over HTTP: uploads, profile versions, and the audit log they leave."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from api.db import data_version
from api.models import audit_log, incidents, profiles
from geo.profile import DEFAULT_PROFILE_PATH
from tests.api.appcity import (
    X0,
    Y0,
)

BUILTIN = DEFAULT_PROFILE_PATH.read_text(encoding="utf-8")


def profile_text(name: str = "西城区标准", version: str = "2026.1", first_threshold: int = 250
                 ) -> str:
    text = re.sub(r'(?m)^name = ".*"$', f'name = "{name}"', BUILTIN, count=1)
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', text, count=1)
    return re.sub(r"(?m)^threshold = 250$", f"threshold = {first_threshold}", text, count=1)


def incidents_csv(rows: list[tuple[str, str]]) -> bytes:
    frame = pd.DataFrame([{"编号": i, "发生时间": t, "类别": "盗窃", "lon": X0 + 0.005,
                           "lat": Y0 + 0.005, "location_precision": "exact"} for i, t in rows])
    return frame.to_csv(index=False).encode("utf-8")


def state(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one()
        return int(n), data_version(conn)


def audit_rows(engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(audit_log).where(audit_log.c.action == action)
                            .order_by(audit_log.c.id)).all()


def upload(client, city, body: bytes, *, name="新警情.csv", role="admin", layer="incidents",
           **form):
    return client.post(f"/api/v1/loads/{layer}", headers=city.headers(role),
                       files={"file": (name, body, "text/csv")}, data=form)


def test_upload_loads_the_file_and_reports_like_the_cli(fresh):
    before = state(fresh.engine)
    with fresh.client() as c:
        r = upload(c, fresh, incidents_csv([("N1", "2025-07-01 08:00"), ("N2", "2025-07-02")]))
        assert r.status_code == 200, r.text
        rep = r.json()
        assert (rep["layer"], rep["file_name"], rep["rows_read"], rep["rows_loaded"],
                rep["rows_rejected"]) == ("incidents", "新警情.csv", 2, 2, 0)
        assert rep["data_version"] == before[1] + 1 and len(rep["sha256"]) == 64
        got = c.get("/api/v1/incidents", params={"community": "C1", "period": "2025-07"},
                    headers=fresh.headers("admin")).json()
        assert sorted(i["id"] for i in got["items"]) == ["N1", "N2"]
    assert state(fresh.engine) == (before[0] + 2, before[1] + 1)
    (row,) = audit_rows(fresh.engine, "load")
    assert (row.status, row.rows, row.key_name) == (200, 2, "管理员")
    assert '"file_name": "新警情.csv"' in row.params


def test_bad_rows_are_reported_and_the_good_ones_loaded(fresh):
    before = state(fresh.engine)
    body = incidents_csv([("N1", "2025-07-01"), ("N2", "not a time"), ("N3", "2025-07-03")])
    with fresh.client() as c:
        r = upload(c, fresh, body)
    assert r.status_code == 200
    rep = r.json()
    assert (rep["rows_loaded"], rep["rows_rejected"]) == (2, 1)
    assert rep["rejections"][0]["row"] == 2 and rep["rejections"][0]["field"] == "occurred_at"
    assert rep["rejections"][0]["record_id"] == "N2"
    assert state(fresh.engine)[0] == before[0] + 2


def test_strict_upload_with_bad_rows_is_422_and_changes_nothing(fresh):
    before = state(fresh.engine)
    body = incidents_csv([("N1", "2025-07-01"), ("N2", "not a time")])
    with fresh.client() as c:
        r = upload(c, fresh, body, strict="true")
    assert r.status_code == 422
    problem = r.json()
    assert problem["type"] == "https://pingan.dev/problems/rejected-rows"
    assert problem["report"]["rows_rejected"] == 1
    assert problem["report"]["rejections"][0]["field"] == "occurred_at"
    assert problem["errors"][0]["field"] == "row 2.occurred_at"
    assert state(fresh.engine) == before
    assert [row.status for row in audit_rows(fresh.engine, "load")] == [422]


def test_upload_larger_than_the_limit_is_413_and_stops_early(fresh):
    before = state(fresh.engine)
    big = incidents_csv([(f"N{i}", "2025-07-01") for i in range(200)])
    assert len(big) > 2048
    with fresh.client(api={"rate_limit_per_minute": 0, "max_upload_mb": 0.001}) as c:
        r = upload(c, fresh, big)
        assert r.status_code == 413
        assert r.json()["type"] == "https://pingan.dev/problems/payload-too-large"
        # without a Content-Length the stream is cut as it passes the limit
        boundary = "pinganboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"i.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        sent = []

        def chunks():
            for part in (head, *(big[i:i + 256] for i in range(0, len(big), 256)), tail):
                sent.append(len(part))
                yield part

        r = c.post("/api/v1/loads/incidents", content=chunks(),
                   headers={**fresh.headers("admin"),
                            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 413
    assert state(fresh.engine) == before


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"content": b"code,name\n", "headers": {"Content-Type": "text/csv"}}, "body"),
    ({"files": {"strict": (None, "true")}}, "body.file"),
    ({"files": {"file": ("a.csv", b"x", "text/csv")}, "data": {"strict": "maybe"}},
     "body.strict"),
    ({"files": {"file": ("a.csv", b"x", "text/csv")}, "data": {"field": "nonsense"}},
     "body.field"),
])
def test_upload_form_errors_name_the_field(fresh, kwargs, field):
    with fresh.client() as c:
        headers = {**kwargs.pop("headers", {}), **fresh.headers("admin")}
        r = c.post("/api/v1/loads/incidents", headers=headers, **kwargs)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field


def test_unreadable_upload_is_422(fresh):
    with fresh.client() as c:
        r = upload(c, fresh, b"\x00\x01", name="x.unknown")
        assert r.status_code == 422
        assert r.json()["type"] == "https://pingan.dev/problems/invalid-input"
        assert "unknown file type '.unknown'" in r.json()["detail"]
        r = upload(c, fresh, b"a,b\n1,2\n", layer="rivers")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path.layer"


def test_roads_upload_is_admin_only_one_transaction_and_needs_replace(fresh):
    grid = (Path(__file__).parents[1] / "data" / "roads" / "grid_viaduct.geojson").read_bytes()
    fields = {"field": ["class=等级", "oneway=单行", "bridge=高架", "name=名称"]}
    with fresh.client() as c:
        for role in ("planner", "client", "liaison"):
            assert upload(c, fresh, grid, name="路网.geojson", layer="roads",
                          role=role).status_code == 403
        before = state(fresh.engine)
        # The city has a street network: a second one needs replace, and nothing is stored.
        again = upload(c, fresh, grid, name="路网.geojson", layer="roads", **fields)
        assert again.status_code == 422 and "--replace" in again.json()["detail"]
        assert state(fresh.engine) == before
        r = upload(c, fresh, grid, name="路网.geojson", layer="roads", replace="true", **fields)
        assert r.status_code == 200, r.text
        rep = r.json()
        # As on the command line: the viaduct crosses the grid without a junction.
        assert (rep["layer"], rep["nodes"], rep["edges"], rep["components"],
                rep["snap_m"], rep["edges_removed"]) == ("roads", 13, 14, 3, 1.0, 148)
        assert rep["data_version"] == before[1] + 1
        r = upload(c, fresh, grid, name="路网.geojson", layer="roads", replace="true",
                   snap_m="0.5", **fields)
        assert (r.status_code, r.json()["edges_removed"], r.json()["snap_m"]) == (200, 14, 0.5)
    rows = [(a.status, a.rows) for a in audit_rows(fresh.engine, "load")]
    assert rows[-3:] == [(422, None), (200, 14), (200, 14)]


def test_profile_versions_conflicts_and_the_active_profile(fresh):
    with fresh.client() as c:
        h = fresh.headers("admin")
        r = c.put("/api/v1/profiles/西城区标准", content=profile_text().encode(),
                  headers={**h, "Content-Type": "application/toml"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert (created["name"], created["version"], created["builtin"], created["active"]) == (
            "西城区标准", "2026.1", False, True)
        assert created["created_by"] == "管理员"
        again = c.put("/api/v1/profiles/西城区标准", content=profile_text().encode(), headers=h)
        assert again.status_code == 200 and again.json()["version_key"] == created["version_key"]
        changed = profile_text(first_threshold=200).encode()
        conflict = c.put("/api/v1/profiles/西城区标准", content=changed, headers=h)
        assert conflict.status_code == 409
        assert "already stored with other content" in conflict.json()["detail"]
        assert c.put("/api/v1/profiles/西城区标准", headers=h,
                     content=profile_text(version="2026.2", first_threshold=200).encode()
                     ).status_code == 201
        active = c.get("/api/v1/profiles/active", headers=fresh.headers("planner")).json()
        assert (active["version"], active["builtin"]) == ("2026.2", False)
        assert "threshold = 200" in active["content"]
        listed = c.get("/api/v1/profiles", headers=h).json()["items"]
        assert [(p["version"], p["builtin"], p["active"]) for p in listed] == [
            ("2025.1", True, False), ("2026.1", False, False), ("2026.2", False, True)]
        old = c.get("/api/v1/profiles/西城区标准", params={"version": "2026.1"}, headers=h)
        assert old.json()["version_key"] == created["version_key"]
        builtin_conflict = c.put(f"/api/v1/profiles/{listed[0]['name']}", headers=h,
                                 content=profile_text(name=listed[0]["name"], version="2025.1",
                                                      first_threshold=1).encode())
        assert builtin_conflict.status_code == 409
    with fresh.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(profiles)).scalar_one() == 2
    assert [r.status for r in audit_rows(fresh.engine, "profile_put")] == [201, 200, 409, 201,
                                                                            409]


def test_bad_profile_is_422_with_line_numbers(fresh):
    bad = profile_text().replace('operator = "<="', 'operator = "=="', 1)
    bad = bad.replace("threshold = 1\n", 'threshold = "one"\n', 1)
    with fresh.client() as c:
        h = fresh.headers("admin")
        r = c.put("/api/v1/profiles/西城区标准", content=bad.encode(), headers=h)
        assert r.status_code == 422
        problem = r.json()
        assert problem["type"] == "https://pingan.dev/problems/invalid-profile"
        lines = {(e["line"], e["field"].split()[-1]) for e in problem["errors"]}
        assert {(33, "operator"), (46, "threshold")} <= lines
        syntax = c.put("/api/v1/profiles/x", content=b"name = \n", headers=h)
        assert syntax.status_code == 422 and syntax.json()["errors"][0]["line"] == 1
        other = c.put("/api/v1/profiles/另一个", content=profile_text().encode(), headers=h)
        assert other.status_code == 422 and "differs from the name" in other.json()["detail"]
        empty = c.put("/api/v1/profiles/x", content=b"  ", headers=h)
        assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
        latin = c.put("/api/v1/profiles/x", content="name = 'é'".encode("latin-1"), headers=h)
        assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
    with fresh.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(profiles)).scalar_one() == 0


def test_audit_log_lists_raw_reads_and_admin_actions(fresh):
    with fresh.client() as c:
        c.get("/api/v1/incidents", params={"community": ["C1", "C2"], "limit": 3},
              headers=fresh.headers("liaison"))
        c.get("/api/v1/incidents", params={"format": "csv"}, headers=fresh.headers("admin"))
        c.get("/api/v1/aggregates/grid", headers=fresh.headers("liaison"))  # not raw: no row
        h = fresh.headers("admin")
        reads = c.get("/api/v1/audit", params={"action": "read_incidents"}, headers=h).json()
        assert reads["total"] == 2
        newest, oldest = reads["items"]
        assert (oldest["key_name"], oldest["role"], oldest["rows"], oldest["status"]) == (
            "东城联络员", "liaison", 3, 200)
        assert oldest["params"] == {"community": ["C1", "C2"], "limit": "3"}
        assert oldest["endpoint"] == "GET /api/v1/incidents"
        assert (newest["role"], newest["rows"]) == ("admin", 15)
        future = c.get("/api/v1/audit", params={"since": "2999-01-01T00:00:00"}, headers=h)
        assert future.json()["total"] == 0
        text = c.get("/api/v1/audit", params={"format": "csv"}, headers=h).content
        assert text.startswith("\ufeff".encode()) and b"read_incidents" in text


def test_geopackage_upload_with_field_mapping(fresh, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    path = tmp_path / "新社区.gpkg"
    gpd.GeoDataFrame({"社区代码": ["C5"], "社区名称": ["新社区"], "区代码": ["D2"],
                      "人口数": [800.0]},
                     geometry=[box(X0 + 0.04, Y0, X0 + 0.05, Y0 + 0.01)],
                     crs="EPSG:4326").to_file(path, layer="社区", driver="GPKG")
    with fresh.client() as c:
        r = c.post("/api/v1/loads/communities", headers=fresh.headers("admin"),
                   files={"file": ("新社区.gpkg", path.read_bytes(), "application/geopackage")},
                   data={"field": ["population=人口数"], "layer_name": "社区"})
        assert r.status_code == 200, r.text
        rep = r.json()
        assert (rep["rows_loaded"], rep["incidents_reassigned"]) == (1, 1)
        c5 = c.get("/api/v1/communities/C5", headers=fresh.headers("planner")).json()["item"]
        assert (c5["name"], c5["district_code"], c5["population"]) == ("新社区", "D2", 800.0)
        out = c.get("/api/v1/incidents", params={"community": "C5"},
                    headers=fresh.headers("admin")).json()
        assert [i["id"] for i in out["items"]] == ["OUT-1"]
