"""Loading into SpatiaLite and PostGIS: transactions, idempotence, replace, assignment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely.geometry import box

from api.db import data_version
from api.loading import load_file
from api.models import communities, devices, incidents, loads
from geo.readers import RejectedRowsError

X0, Y0 = 116.30, 39.90


def write_communities(path: Path, *, shift: float = 0.0, codes=("C1", "C2")) -> Path:
    cells = {"C1": box(X0, Y0, X0 + 0.01 + shift, Y0 + 0.01),
             "C2": box(X0 + 0.01 + shift, Y0, X0 + 0.02, Y0 + 0.01),
             "C3": box(X0 + 0.02, Y0, X0 + 0.03, Y0 + 0.01)}
    gdf = gpd.GeoDataFrame({"code": list(codes), "name": [f"社区{c}" for c in codes],
                            "district": ["东城区"] * len(codes),
                            "population": [5000.0] * len(codes)},
                           geometry=[cells[c] for c in codes], crs="EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")
    return path


def write_incidents(path: Path, n: int, *, category: str = "theft") -> Path:
    # Exactly a third in C1, a third in C2 and a third east of both (x offsets 0.001..0.009
    # inside each 0.01-degree column).
    third = n // 3
    rows = [{"id": f"I{i:06d}", "occurred_at": "2025-05-01 08:00:00", "category": category,
             "lon": X0 + 0.01 * (i % 3) + 0.001 + 0.008 * (i // 3) / third,
             "lat": Y0 + 0.005} for i in range(n)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(
            *where)).scalar_one())


def test_load_then_reload_is_idempotent(engine, tmp_path):
    rep_c = load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    assert (rep_c.rows_loaded, rep_c.rows_updated) == (2, 0)
    path = write_incidents(tmp_path / "i.csv", 300)
    first = load_file(engine, path, "incidents")
    assert (first.rows_read, first.rows_loaded, first.rows_updated) == (300, 300, 0)
    assert first.incidents_unassigned == 100
    second = load_file(engine, path, "incidents")
    assert (second.rows_loaded, second.rows_updated) == (0, 300)
    assert count(engine, incidents) == 300
    assert count(engine, incidents, incidents.c.community_code == "C1") == 100
    assert count(engine, incidents, incidents.c.community_code.is_(None)) == 100
    with engine.connect() as conn:
        assert data_version(conn) == 3
        log = conn.execute(sa.select(loads.c.layer, loads.c.rows_loaded, loads.c.rows_updated,
                                     loads.c.sha256).order_by(loads.c.id)).all()
    assert [(r[0], r[1], r[2]) for r in log] == [("communities", 2, 0), ("incidents", 300, 0),
                                                 ("incidents", 0, 300)]
    assert log[1][3] == log[2][3] and len(log[1][3]) == 64


def test_stored_values_round_trip(engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    pd.DataFrame([{"id": "A1", "occurred_at": "2025-01-01 00:30:00", "category": "Fraud",
                   "status": "filed", "address": "东四北大街1号", "lon": X0 + 0.001,
                   "lat": Y0 + 0.001}]).to_csv(tmp_path / "i.csv", index=False)
    load_file(engine, tmp_path / "i.csv", "incidents")
    with engine.connect() as conn:
        row = conn.execute(sa.select(
            incidents.c.occurred_at, incidents.c.category, incidents.c.address,
            incidents.c.community_code, incidents.c.assigned_by,
            sa.func.ST_X(incidents.c.geom), sa.func.ST_Y(incidents.c.geom))).one()
    assert row[0] == dt.datetime(2024, 12, 31, 16, 30)  # naive UTC
    assert row[1:5] == ("Fraud", "东四北大街1号", "C1", "point")  # as written (issue 12)
    assert (row[5], row[6]) == pytest.approx((X0 + 0.001, Y0 + 0.001), abs=1e-12)


def _fail_on_statement(engine, prefix: str):
    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith(prefix):
            raise RuntimeError("injected failure after the merge")

    sa.event.listen(engine, "before_cursor_execute", before)
    return lambda: sa.event.remove(engine, "before_cursor_execute", before)


def _spatial_triggers(engine) -> list[str]:
    if engine.dialect.name != "sqlite":
        return []
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'incidents'"))


@pytest.mark.slow
def test_failure_midway_leaves_database_unchanged(engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    load_file(engine, write_incidents(tmp_path / "a.csv", 12_000), "incidents")
    with engine.connect() as conn:
        version_before = data_version(conn)
    loads_before = count(engine, loads)
    triggers = _spatial_triggers(engine)
    assert engine.dialect.name != "sqlite" or "gii_incidents_geom" in triggers
    # Re-load with another category, failing once the rows are merged: on SpatiaLite at the
    # R*Tree write, while the geometry triggers are dropped (their drop is rolled back too).
    path = write_incidents(tmp_path / "b.csv", 14_000, category="burglary")
    sqlite_ = engine.dialect.name == "sqlite"
    remove = _fail_on_statement(engine, 'INSERT INTO "idx_incidents_geom"' if sqlite_
                                else "UPDATE loads")
    try:
        with pytest.raises(RuntimeError, match="injected failure"):
            load_file(engine, path, "incidents")
    finally:
        remove()
    assert count(engine, incidents) == 12_000
    assert count(engine, incidents, incidents.c.category == "burglary") == 0
    assert count(engine, loads) == loads_before
    assert _spatial_triggers(engine) == triggers
    with engine.connect() as conn:
        assert data_version(conn) == version_before
    # the same file then loads normally
    rep = load_file(engine, path, "incidents")
    assert (rep.rows_loaded, rep.rows_updated) == (2_000, 12_000)


def test_strict_mode_loads_nothing(engine, tmp_path):
    rows = [{"id": "D1", "kind": "camera", "lon": X0, "lat": Y0},
            {"id": "D2", "kind": "camera", "lon": X0, "lat": 99.0}]
    pd.DataFrame(rows).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(RejectedRowsError, match="strict mode"):
        load_file(engine, tmp_path / "d.csv", "devices", strict=True)
    assert count(engine, devices) == 0 and count(engine, loads) == 0
    rep = load_file(engine, tmp_path / "d.csv", "devices")
    assert (rep.rows_loaded, rep.rows_rejected) == (1, 1)


def test_replace_marks_missing_rows_removed_never_deletes(engine, tmp_path):
    def write(ids):
        pd.DataFrame([{"id": i, "kind": "camera", "lon": X0, "lat": Y0} for i in ids]).to_csv(
            tmp_path / "d.csv", index=False)
        return tmp_path / "d.csv"

    load_file(engine, write(["D1", "D2", "D3"]), "devices")
    rep = load_file(engine, write(["D1", "D3"]), "devices", replace=True,
                    timezone="Asia/Shanghai")
    assert rep.rows_removed == 1
    today = dt.datetime.now(dt.UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date()
    with engine.connect() as conn:
        got = dict(conn.execute(sa.select(devices.c.id, devices.c.removed_on)).all())
    assert got == {"D1": None, "D2": today, "D3": None}
    # a replace without D2 again does not move its removal date; with D2 it comes back
    assert load_file(engine, write(["D1", "D3"]), "devices", replace=True).rows_removed == 0
    load_file(engine, write(["D1", "D2", "D3"]), "devices", replace=True)
    assert count(engine, devices, devices.c.removed_on.is_(None)) == 3
    with pytest.raises(ValueError, match="--replace applies to"):
        load_file(engine, write(["D1"]), "incidents", replace=True)


def test_boundary_reload_reassigns_incidents(engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    load_file(engine, write_incidents(tmp_path / "i.csv", 300), "incidents")
    assert count(engine, incidents, incidents.c.community_code == "C2") == 100
    # move the C1/C2 border east by 0.005 deg: C1 gains the incidents in that strip
    rep = load_file(engine, write_communities(tmp_path / "c2.geojson", shift=0.005),
                    "communities")
    c1 = count(engine, incidents, incidents.c.community_code == "C1")
    assert rep.incidents_reassigned == c1 - 100 > 40
    # add C3 covering the unassigned third; replace without C2 retires it
    rep = load_file(engine, write_communities(tmp_path / "c3.geojson", codes=("C1", "C3")),
                    "communities", replace=True)
    assert rep.rows_removed == 1
    assert count(engine, communities, communities.c.retired_on.is_(None)) == 2
    assert count(engine, incidents, incidents.c.community_code == "C2") == 0
    assert count(engine, incidents, incidents.c.community_code == "C3") == 100
    assert rep.incidents_unassigned == 100  # the former C2 strip is now in no community


def test_code_only_incidents_and_mismatch(engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    pd.DataFrame([
        {"id": "A1", "occurred_at": "2025-02-01 10:00", "category": "fraud",
         "community_code": "C2", "lon": None, "lat": None},
        {"id": "A2", "occurred_at": "2025-02-01 10:00", "category": "fraud",
         "community_code": "C2", "lon": X0 + 0.001, "lat": Y0 + 0.001},
        {"id": "A3", "occurred_at": "2025-02-01 10:00", "category": "fraud",
         "community_code": "ZZ", "lon": None, "lat": None},
    ]).to_csv(tmp_path / "i.csv", index=False)
    rep = load_file(engine, tmp_path / "i.csv", "incidents")
    assert rep.community_mismatches == 1 and rep.incidents_unassigned == 1
    assert any("their point wins" in w for w in rep.warnings)
    with engine.connect() as conn:
        got = {r[0]: (r[1], r[2]) for r in conn.execute(sa.select(
            incidents.c.id, incidents.c.community_code, incidents.c.assigned_by))}
    assert got == {"A1": ("C2", "code"), "A2": ("C1", "point"), "A3": (None, None)}
    # A boundary reload re-assigns the same way, records without a location included.
    rep = load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    assert rep.incidents_reassigned == 0 and rep.incidents_unassigned == 1
    rep = load_file(engine, write_communities(tmp_path / "c1.geojson", codes=("C1",)),
                    "communities", replace=True)
    with engine.connect() as conn:
        got = {r[0]: (r[1], r[2]) for r in conn.execute(sa.select(
            incidents.c.id, incidents.c.community_code, incidents.c.assigned_by))}
    assert got == {"A1": (None, None), "A2": ("C1", "point"), "A3": (None, None)}
    assert rep.incidents_reassigned == 1 and rep.incidents_unassigned == 2


def test_incidents_before_communities_are_assigned_later(engine, tmp_path):
    rep = load_file(engine, write_incidents(tmp_path / "i.csv", 30), "incidents")
    assert rep.incidents_unassigned == 30
    assert any("no communities are loaded yet" in w for w in rep.warnings)
    rep = load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    assert rep.incidents_reassigned == 20 and rep.incidents_unassigned == 10


def test_population_by_year_upserts(engine, tmp_path):
    from api.models import community_population

    path = tmp_path / "p.csv"
    pd.DataFrame({"code": ["C1", "C1"], "year": [2024, 2025],
                  "population": [5000, 5100]}).to_csv(path, index=False)
    load_file(engine, path, "population")
    pd.DataFrame({"code": ["C1"], "year": [2025], "population": [5200]}).to_csv(
        path, index=False)
    rep = load_file(engine, path, "population")
    assert (rep.rows_loaded, rep.rows_updated) == (0, 1)
    with engine.connect() as conn:
        got = conn.execute(sa.select(community_population.c.year,
                                     community_population.c.population)
                           .order_by(community_population.c.year)).all()
    assert [tuple(r) for r in got] == [(2024, 5000.0), (2025, 5200.0)]
