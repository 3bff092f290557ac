"""The record-key migration (0003) on both backends: it keys existing incidents and goes down."""

from __future__ import annotations

import datetime as dt

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
