"""Uploads with ids from content and a snapping tolerance; ``assigned_by`` in incident lists."""

from __future__ import annotations

import pandas as pd
import pyproj
import pytest

from tests.api.appcity import X0, Y0

# 0.3 m east of C4's east edge (the city's outer boundary), in the grid's metric CRS
_TO_M = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
_TO_DEG = pyproj.Transformer.from_crs(4548, 4326, always_xy=True)
_EDGE = _TO_M.transform(X0 + 0.04, Y0 + 0.005)
JUST_EAST = _TO_DEG.transform(_EDGE[0] + 0.3, _EDGE[1])


def no_id_csv() -> bytes:
    rows = [("2025-08-01 08:00", X0 + 0.035, Y0 + 0.005),   # inside C4
            ("2025-08-01 09:00", *JUST_EAST)]                 # 0.3 m outside C4
    frame = pd.DataFrame([{"发生时间": t, "类别": "盗窃", "lon": f"{x:.9f}", "lat": f"{y:.9f}"}
                          for t, x, y in rows])
    return frame.to_csv(index=False).encode("utf-8")


def post(client, city, form: dict[str, str]):
    return client.post("/api/v1/loads/incidents", headers=city.headers("admin"),
                       files={"file": ("无编号.csv", no_id_csv(), "text/csv")}, data=form)


def test_upload_without_ids_snaps_and_lists_how_each_incident_was_assigned(fresh):
    with fresh.client() as c:
        r = post(c, fresh, {"id_from_content": "true", "snap_m": "1"})
        assert r.status_code == 200, r.text
        rep = r.json()
        assert (rep["rows_loaded"], rep["rows_updated"], rep["incidents_unassigned"],
                rep["incidents_snapped"], rep["incidents_snap_ambiguous"], rep["snap_m"]
                ) == (2, 0, 0, 1, 0, 1.0)
        got = c.get("/api/v1/incidents", params={"community": "C4", "period": "2025-08"},
                    headers=fresh.headers("admin")).json()
        by = {i["occurred_at"][11:16]: (i["id"][:2], i["assigned_by"]) for i in got["items"]}
        assert by == {"08:00": ("h:", "point"), "09:00": ("h:", "snap")}
        # the same export again: updates, nothing new
        rep = post(c, fresh, {"id_from_content": "true", "snap_m": "1"}).json()
        assert (rep["rows_loaded"], rep["rows_updated"], rep["incidents_snapped"]) == (0, 2, 1)
        # without the tolerance the outside point goes back to no community
        rep = post(c, fresh, {"id_from_content": "true"}).json()
        assert (rep["rows_updated"], rep["incidents_unassigned"], rep["snap_m"]) == (2, 1, 0.0)


@pytest.mark.parametrize(("form", "field"), [
    ({"id_from_content": "sometimes"}, "body.id_from_content"),
    ({"id_from_content": "true", "snap_m": "-2"}, "body.snap_m"),
    ({"id_from_content": "true", "snap_m": "one metre"}, "body.snap_m"),
    ({"id_from_content": "true", "covers": "last year"}, "body.covers"),
    ({"id_from_content": "true", "reference_date": "11/01"}, "body.reference_date"),
])
def test_bad_options_are_422_naming_the_field(fresh, form, field):
    with fresh.client() as c:
        r = post(c, fresh, form)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field


def test_without_ids_or_the_flag_the_upload_is_refused_with_the_hint(fresh):
    with fresh.client() as c:
        r = post(c, fresh, {})
    assert r.status_code == 422
    assert "--id-from-content" in r.json()["detail"]


def test_upload_records_the_days_it_covers(fresh):
    from api import store

    with fresh.client() as c:
        rep = post(c, fresh, {"id_from_content": "true", "covers": "2025-01-01..2025-12-31"})
        assert rep.status_code == 200, rep.text
        with fresh.engine.connect() as conn:
            cov = store.read_coverage(conn)
        mine = cov[cov["load_id"] == rep.json()["load_id"]]
        assert [(str(a), str(b)) for a, b in zip(mine["first_day"], mine["last_day"],
                                                 strict=True)] == [("2025-01-01",
                                                                    "2025-12-31")] * len(mine)
        assert len(mine) >= 1
        r = c.post("/api/v1/loads/population", headers=fresh.headers("admin"),
                   files={"file": ("人口.csv", "社区代码,年份,常住人口\nC4,2024,100\n".encode(),
                                   "text/csv")}, data={"covers": "2024"})
        assert r.status_code == 422 and "--covers applies to incidents only" in r.text
