"""The record-key migration (0003) on both backends: it keys existing incidents and goes down."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from api.db import create_db_engine, get_meta, migrate, set_meta
from geo.release import record_keys


def _config(engine):
    cfg = Config()
    cfg.set_main_option("script_location", "api:migrations")
    cfg.attributes["engine"] = engine
    return cfg


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_record_keys_are_drawn_for_existing_incidents_and_the_column_goes_down(db_url):
    engine = create_db_engine(db_url)
    try:
        command.upgrade(_config(engine), "0002")
        with engine.begin() as conn:
            load = conn.execute(sa.text(
                "INSERT INTO loads (layer, file_name, sha256, loaded_at, rows_read, "
                "rows_loaded, rows_updated, rows_rejected) VALUES ('incidents', 'f', 'x', "
                ":t, 2, 2, 0, 0) RETURNING id"), {"t": dt.datetime(2025, 1, 1)}).scalar_one()
            for ident in ("A-1", "事件-2"):
                conn.execute(sa.text(
                    "INSERT INTO incidents (id, occurred_at, category, location_precision, "
                    "load_id) VALUES (:i, :t, 'theft', 'exact', :l)"),
                    {"i": ident, "t": dt.datetime(2025, 1, 1), "l": load})
        migrate(engine)
        with engine.connect() as conn:
            secret = str(get_meta(conn, "release_secret")).encode("ascii")
            keys = dict(conn.execute(sa.text("SELECT id, rkey FROM incidents")).all())
        assert keys == dict(zip(["A-1", "事件-2"], record_keys(["A-1", "事件-2"], secret).tolist(),
                                strict=True))
        command.downgrade(_config(engine), "0002")
        assert "rkey" not in {c["name"] for c in sa.inspect(engine).get_columns("incidents")}
        migrate(engine)
        with engine.connect() as conn:
            assert dict(conn.execute(sa.text("SELECT id, rkey FROM incidents")).all()) == keys
    finally:
        engine.dispose()


def test_load_tolerances_are_added_and_snapped_incidents_unassigned_going_down(db_url):
    engine = create_db_engine(db_url)
    try:
        command.upgrade(_config(engine), "0003")
        with engine.begin() as conn:
            load = conn.execute(sa.text(
                "INSERT INTO loads (layer, file_name, sha256, loaded_at, rows_read, "
                "rows_loaded, rows_updated, rows_rejected) VALUES ('incidents', 'f', 'x', "
                ":t, 1, 1, 0, 0) RETURNING id"), {"t": dt.datetime(2025, 1, 1)}).scalar_one()
        migrate(engine)
        with engine.begin() as conn:
            # a load before the migration snapped nothing
            assert conn.execute(sa.text("SELECT snap_m FROM loads")).scalar_one() is None
            conn.execute(sa.text("UPDATE loads SET snap_m = 1.5"))
            for ident, by in (("P-1", "point"), ("S-1", "snap")):
                conn.execute(sa.text(
                    "INSERT INTO incidents (id, occurred_at, category, location_precision, "
                    "community_code, assigned_by, load_id) VALUES (:i, :t, 'theft', 'exact', "
                    "'C1', :b, :l)"), {"i": ident, "t": dt.datetime(2025, 1, 1), "b": by,
                                       "l": load})
            set_meta(conn, "data_version", "7")
        command.downgrade(_config(engine), "0003")
        assert "snap_m" not in {c["name"] for c in sa.inspect(engine).get_columns("loads")}
        with engine.connect() as conn:
            got = dict((r[0], (r[1], r[2])) for r in conn.execute(sa.text(
                "SELECT id, community_code, assigned_by FROM incidents")))
            assert got == {"P-1": ("C1", "point"), "S-1": (None, None)}
            assert get_meta(conn, "data_version") == "8"  # cached results are stale
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT snap_m FROM loads")).scalar_one() is None
    finally:
        engine.dispose()


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_population_dates_and_load_coverage_are_added_and_backfilled(db_url):
    engine = create_db_engine(db_url)
    try:
        command.upgrade(_config(engine), "0003")
        with engine.begin() as conn:
            load = conn.execute(sa.text(
                "INSERT INTO loads (layer, file_name, sha256, loaded_at, rows_read, "
                "rows_loaded, rows_updated, rows_rejected) VALUES ('incidents', 'f', 'x', "
                ":t, 3, 3, 0, 0) RETURNING id"), {"t": dt.datetime(2025, 1, 1)}).scalar_one()
            for code, district in (("C1", "D1"), ("C2", "D2")):
                conn.execute(sa.text(
                    "INSERT INTO communities (code, name, district_code, load_id, geom) VALUES "
                    "(:c, :c, :d, :l, ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))', "
                    "4326))"), {"c": code, "d": district, "l": load})
            conn.execute(sa.text(
                "INSERT INTO community_population (code, year, population, load_id) VALUES "
                "('C1', 2020, 100, :l)"), {"l": load})
            for ident, when, code in (("A", dt.datetime(2024, 1, 3, 5), "C1"),
                                      ("B", dt.datetime(2024, 11, 30, 23), "C1"),
                                      ("C", dt.datetime(2024, 6, 1), None)):
                conn.execute(sa.text(
                    "INSERT INTO incidents (id, occurred_at, category, location_precision, "
                    "community_code, load_id) VALUES (:i, :t, 'theft', 'exact', :c, :l)"),
                    {"i": ident, "t": when, "c": code, "l": load})
        migrate(engine)
        with engine.connect() as conn:
            # the load's first..last day (UTC), for the one district its incidents lie in
            rows = conn.execute(sa.text(
                "SELECT load_id, district_code, first_day, last_day FROM load_coverage")).all()
            assert [(r[0], r[1], str(r[2]), str(r[3])) for r in rows] == [
                (load, "D1", "2024-01-03", "2024-11-30")]
            assert conn.execute(sa.text(
                "SELECT reference_date FROM community_population")).scalar_one() is None
        command.downgrade(_config(engine), "0003")
        assert "load_coverage" not in sa.inspect(engine).get_table_names()
        assert "reference_date" not in {
            c["name"] for c in sa.inspect(engine).get_columns("community_population")}
        migrate(engine)
    finally:
        engine.dispose()


def test_the_roads_table_comes_and_goes(db_url):
    engine = create_db_engine(db_url)
    try:
        migrate(engine)
        cols = {c["name"] for c in sa.inspect(engine).get_columns("roads")}
        assert {"u", "v", "road_class", "oneway", "speed_kmh", "bridge", "tunnel", "layer",
                "length_m", "removed_on", "geom"} <= cols
        command.downgrade(_config(engine), "0005")
        assert "roads" not in sa.inspect(engine).get_table_names()
        migrate(engine)
        assert "roads" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
