"""The record-key migration (0003) on both backends: it keys existing incidents and goes down."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from api.db import create_db_engine, get_meta, migrate
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
