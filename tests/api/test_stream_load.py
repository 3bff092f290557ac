"""Streaming incidents loads (api.stream_load): batches, duplicates across batches, strict,
kill -9 mid-load, idempotent re-loads, and the streaming re-assignment after a boundary load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from api.assignment import reassign_incidents
from api.db import data_version
from api.loading import load_file
from api.models import incidents, load_coverage, loads
from geo.readers import RejectedRowsError
from tests.api.test_loading import Y0, count, write_communities, write_incidents

ROOT = Path(__file__).resolve().parents[2]


def _bad_file(path: Path) -> Path:
    """250 incidents; row 240 (record 241) has a bad time, records 6 and 206 share an id."""
    write_incidents(path, 250)
    df = pd.read_csv(path, dtype=str)
    df.loc[240, "occurred_at"] = "not a time"
    df.loc[205, "id"] = df.loc[5, "id"]
    df.to_csv(path, index=False)
    return path


def _snapshot(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(
            incidents.c.id, incidents.c.occurred_at, incidents.c.category,
            incidents.c.community_code, incidents.c.assigned_by, incidents.c.rkey,
            sa.func.ST_X(incidents.c.geom), sa.func.ST_Y(incidents.c.geom))
            .order_by(incidents.c.id)).all()]


def test_bad_rows_across_batches_are_rejected_valid_rows_land(engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    rep = load_file(engine, _bad_file(tmp_path / "i.csv"), "incidents", batch_rows=100)
    assert (rep.rows_read, rep.rows_rejected, rep.rows_loaded, rep.rows_updated) == (250, 3, 247, 0)
    assert sorted({r.row for r in rep.rejections}) == [6, 206, 241]
    dup = [r for r in rep.rejections if r.field == "id"]
    assert [r.row for r in dup] == [6, 206]
    assert "appears 2 times in the file (rows 6, 206)" in dup[0].reason
    assert [r.field for r in rep.rejections if r.row == 241] == ["occurred_at"]
    assert count(engine, incidents) == 247
    assert count(engine, incidents, incidents.c.id == "I000005") == 0
    # a third of the records lie east of both communities: records 2, 5, 8, … (index % 3 == 2)
    east = sum(1 for i in range(250) if i % 3 == 2 and i not in (5, 205, 240))
    assert rep.incidents_unassigned == east
    assert count(engine, incidents, incidents.c.community_code.is_(None)) == east
    with engine.connect() as conn:
        assert conn.execute(sa.select(loads.c.rows_read, loads.c.rows_rejected)
                            .where(loads.c.id == rep.load_id)).one() == (250, 3)
        days = conn.execute(sa.select(load_coverage.c.first_day, load_coverage.c.last_day)
                            .where(load_coverage.c.load_id == rep.load_id)).all()
    assert {(str(a), str(b)) for a, b in days} == {("2025-05-01", "2025-05-01")}


def test_strict_stores_nothing_when_the_last_batch_has_a_bad_row(engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    path = write_incidents(tmp_path / "i.csv", 250)
    df = pd.read_csv(path, dtype=str)
    df.loc[249, "lat"] = "north"
    df.to_csv(path, index=False)
    with engine.connect() as conn:
        version, n_loads = data_version(conn), count(engine, loads)
    with pytest.raises(RejectedRowsError, match="1 of 250 rows rejected") as err:
        load_file(engine, path, "incidents", batch_rows=100, strict=True)
    assert {r.row for r in err.value.result.rejections} == {250}
    assert count(engine, incidents) == 0
    assert count(engine, loads) == n_loads
    with engine.connect() as conn:
        assert data_version(conn) == version


def test_streaming_equals_whole_file_and_reload_is_idempotent(engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    path = write_incidents(tmp_path / "i.csv", 300)
    streamed = load_file(engine, path, "incidents", batch_rows=64)
    after_stream = _snapshot(engine)
    assert (streamed.rows_loaded, streamed.incidents_unassigned) == (300, 100)
    again = load_file(engine, path, "incidents", batch_rows=64)
    assert (again.rows_loaded, again.rows_updated) == (0, 300)
    assert _snapshot(engine) == after_stream
    whole = load_file(engine, path, "incidents", batch_rows=0)
    assert (whole.rows_loaded, whole.rows_updated) == (0, 300)
    assert _snapshot(engine) == after_stream
    assert whole.incidents_unassigned == streamed.incidents_unassigned


@pytest.mark.parametrize("kind", ["parquet", "geoparquet"])
def test_parquet_streams_in_batches_as_it_reads_whole(engine, tmp_path, kind):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    frame = pd.read_csv(write_incidents(tmp_path / "i.csv", 300))
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"])
    path = tmp_path / f"i.{kind}"
    if kind == "geoparquet":
        frame = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]),
                                 geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                                 crs="EPSG:4326")
    frame.to_parquet(path)
    # Row groups of 50 records: batches of 64 cut across them.
    pq.write_table(pq.read_table(path), path, row_group_size=50)
    streamed = load_file(engine, path, "incidents", batch_rows=64)
    assert (streamed.rows_read, streamed.rows_loaded, streamed.incidents_unassigned) == (
        300, 300, 100)
    with engine.connect() as conn:
        options = conn.execute(sa.select(loads.c.options).where(
            loads.c.id == streamed.load_id)).scalar_one()
    assert '"batch_rows": 64' in options  # the streaming path recorded its batches
    after_stream = _snapshot(engine)
    assert after_stream[0][0] == "I000000" and after_stream[0][3] == "C1"
    whole = load_file(engine, path, "incidents", batch_rows=0)
    assert (whole.rows_loaded, whole.rows_updated) == (0, 300)
    assert _snapshot(engine) == after_stream


def test_parquet_of_more_records_than_a_batch_streams_by_default(engine, tmp_path, monkeypatch):
    import api.loading

    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    frame = pd.read_csv(write_incidents(tmp_path / "i.csv", 120))
    frame.to_parquet(tmp_path / "i.parquet")
    seen = []
    real = api.loading.stream_incidents

    def spy(*args, **kwargs):
        seen.append((kwargs["fmt"], kwargs["batch_rows"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(api.loading, "stream_incidents", spy)
    monkeypatch.setattr(api.loading, "LOAD_BATCH_ROWS", 100)
    assert load_file(engine, tmp_path / "i.parquet", "incidents").rows_loaded == 120
    assert seen == [("parquet", 100)]
    # 100 records or fewer: read whole.
    frame.head(100).to_parquet(tmp_path / "j.parquet")
    assert load_file(engine, tmp_path / "j.parquet", "incidents").rows_updated == 100
    assert seen == [("parquet", 100)]
    # GeoParquet with GeoArrow-encoded points cannot be read in batches: read whole, any size
    points = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]),
                              geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                              crs="EPSG:4326")
    points.to_parquet(tmp_path / "k.parquet", geometry_encoding="geoarrow")
    assert load_file(engine, tmp_path / "k.parquet", "incidents").rows_updated == 120
    assert seen == [("parquet", 100)]


def test_streaming_reassignment_in_small_batches(engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    load_file(engine, write_incidents(tmp_path / "i.csv", 300), "incidents")
    # C1 widened by 0.005°: incidents at x offsets 0.010..0.015 move from C2 to C1.
    rep = load_file(engine, write_communities(tmp_path / "c2.geojson", shift=0.005),
                    "communities")
    moved = count(engine, incidents, incidents.c.community_code == "C1")
    with engine.begin() as conn:
        again = reassign_incidents(conn, batch_rows=7)
    assert again["reassigned"] == 0
    assert again["unassigned"] == rep.incidents_unassigned == 100
    expected = sum(1 for i in range(300) if i % 3 == 0
                   or (i % 3 == 1 and 0.001 + 0.008 * (i // 3) / 100 < 0.005))
    assert moved == expected
    assert rep.incidents_reassigned == expected - 100


_KILLED = """
import sys
from api.db import create_db_engine
from api.loading import load_file
load_file(create_db_engine(sys.argv[1]), sys.argv[2], "incidents", batch_rows=500)
"""


@pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")
def test_kill_during_a_streaming_load_leaves_the_database_as_before(db_url, engine, tmp_path):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    load_file(engine, write_incidents(tmp_path / "first.csv", 30), "incidents")
    before = _snapshot(engine)
    with engine.connect() as conn:
        version = data_version(conn)
    n_loads = count(engine, loads)
    engine.dispose()
    path = write_incidents(tmp_path / "big.csv", 60_000, category="burglary")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, db_url, str(path)], env=env,
                            cwd=ROOT)
    # Kill once the load's transaction has staged rows (the load log row exists).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if _staging(db_url, tmp_path):
            break
    assert proc.poll() is None, "the load ended before it could be killed"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _snapshot(engine) == before
    assert count(engine, loads) == n_loads
    with engine.connect() as conn:
        assert data_version(conn) == version
    # and the database still takes the load
    rep = load_file(engine, path, "incidents", batch_rows=20_000)
    assert (rep.rows_loaded, rep.rows_updated) == (60_000 - 30, 30)


def _staging(db_url: str, tmp_path: Path) -> bool:
    """Whether the killed load holds its transaction open (a journal, or an open PG xact)."""
    if db_url.startswith("sqlite"):
        db = Path(db_url.removeprefix("sqlite:///"))
        return any(Path(str(db) + s).exists() for s in ("-journal", "-wal"))
    eng = sa.create_engine(db_url)
    try:
        with eng.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE "
                                     "state = 'idle in transaction' OR query LIKE "
                                     "'%pingan_stage%'")).scalar_one()
        return bool(n)
    finally:
        eng.dispose()


def _index_definitions(engine) -> list[tuple]:
    insp = sa.inspect(engine)
    return sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                  for ix in insp.get_indexes("incidents"))


def test_rebuilt_indexes_are_restored_and_cli_loads_show_progress(engine, tmp_path, capsys,
                                                                   monkeypatch):
    """A load larger than the table rebuilds its indexes around the merge: same definitions
    after it; the command line's bar of rows read appears past PROGRESS_MIN_ROWS."""
    import api.stream_load as stream_load

    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    before = _index_definitions(engine)
    assert {"ix_incidents_occurred_at", "ix_incidents_category",
            "ix_incidents_community_time"} <= {name for name, *_ in before}
    monkeypatch.setattr(stream_load, "PROGRESS_MIN_ROWS", 120)
    path = write_incidents(tmp_path / "i.csv", 300)
    rep = load_file(engine, path, "incidents", batch_rows=100, progress=True)
    assert rep.rows_loaded == 300
    assert _index_definitions(engine) == before
    err = capsys.readouterr().err
    assert "loading incidents" in err and "300" in err
    load_file(engine, path, "incidents", batch_rows=100)
    assert "loading incidents" not in capsys.readouterr().err
    if engine.dialect.name == "sqlite":  # SpatiaLite's R*Tree holds every merged point
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM idx_incidents_geom").scalar() == 300
    else:  # PostGIS: the GiST index is among the rebuilt ones
        assert "idx_incidents_geom" in {name for name, *_ in before}


def test_spatial_index_holds_the_moved_points_after_a_reload(engine, tmp_path):
    """SpatiaLite's geometry-trigger work done once per load (api.bulk_sqlite): after a
    re-load that moves every point, the R*Tree holds one box per located incident, each its
    new point's (rounded outward to single precision), and none of the old ones; the
    modification times are stamped; the triggers are back. The same file again (whole-file
    path) moves nothing: the R*Tree entries kept must still be the points'."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SpatiaLite's R*Tree")
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    load_file(engine, write_incidents(tmp_path / "a.csv", 300), "incidents", batch_rows=100)
    moved = pd.read_csv(write_incidents(tmp_path / "b.csv", 330), dtype=str)
    moved["lat"] = moved["lat"].astype(float) + 0.002
    moved.to_csv(tmp_path / "b.csv", index=False)
    for batch in (100, 0):  # streaming, then the whole-file path
        rep = load_file(engine, tmp_path / "b.csv", "incidents", batch_rows=batch)
        assert rep.rows_loaded + rep.rows_updated == 330
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT i.rowid, X(i.geom), Y(i.geom), r.pkid, r.xmin, r.xmax, r.ymin, r.ymax "
                "FROM incidents i LEFT JOIN idx_incidents_geom r ON r.pkid = i.rowid").all()
            n_index = conn.exec_driver_sql("SELECT count(*) FROM idx_incidents_geom").scalar()
            stamps = conn.exec_driver_sql(
                "SELECT last_insert, last_update FROM geometry_columns_time "
                "WHERE f_table_name = 'incidents'").one()
            triggers = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'incidents' AND name LIKE 'gi%_incidents_geom'").scalar()
        located = [r for r in rows if r[1] is not None]
        assert len(located) == len(rows) == n_index == 330
        for _, x, y, pkid, x0, x1, y0, y1 in located:
            assert pkid is not None and x0 <= x <= x1 and y0 <= y <= y1
            assert x1 - x0 < 3e-5 and y1 - y0 < 3e-5  # float32 steps: 7.6e-6 at 116°
        assert min(r[2] for r in located) == pytest.approx(Y0 + 0.007)  # all moved north
        assert stamps[0] is not None and stamps[1] is not None
        assert triggers == 3
