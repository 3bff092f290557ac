"""Every difference between SpatiaLite and PostGIS that pingan's storage code needs.

The rest of ``api/`` builds one SQLAlchemy statement for both backends and asks this module
only where they differ: the upsert syntax, the spatial extension at connect time, and
transactional DDL on SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

__all__ = ["configure_engine", "init_gdal_sqlite", "is_sqlite", "upsert_from_select"]


def is_sqlite(bind: Engine | sa.Connection) -> bool:
    """Whether the bind talks to SQLite/SpatiaLite."""
    return bind.dialect.name == "sqlite"


_GDAL_READY: list[bool] = []


def init_gdal_sqlite() -> None:
    """Let GDAL open a GeoPackage once, before any SpatiaLite connection loads mod_spatialite.

    GDAL (in the pyogrio wheel) and mod_spatialite bring two different SQLite libraries; when
    mod_spatialite is loaded first, GDAL's next GeoPackage read or write crashes the process
    (a segmentation fault: ``pingan load x.gpkg`` after the migration, or an uploaded ``.gpkg``
    in a server worker). Opening an in-memory GeoPackage first makes GDAL bind its own SQLite,
    after which both coexist. Done once per process.
    """
    if _GDAL_READY:
        return
    import numpy as np
    import shapely
    from pyogrio.raw import write

    point = np.array([shapely.to_wkb(shapely.Point(0.0, 0.0))], dtype=object)
    write("/vsimem/pingan-gdal-init.gpkg", geometry=point, field_data=[], fields=[],
          geometry_type="Point", crs="EPSG:4326", driver="GPKG")
    _GDAL_READY.append(True)


def configure_engine(engine: Engine) -> None:
    """Install the per-backend connection hooks.

    SQLite: prepare GDAL's own SQLite first (:func:`init_gdal_sqlite`), load mod_spatialite on
    every connection (initialising the spatial metadata once), turn
    on foreign keys, WAL and a busy timeout, and take over transaction control from the DB-API
    module so that DDL (temporary staging tables) is part of the transaction: the pysqlite
    module otherwise commits implicitly before such statements, which would break the rule that
    a failed load leaves nothing behind.
    """
    if not is_sqlite(engine):
        return
    from geoalchemy2 import load_spatialite

    init_gdal_sqlite()
    os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        load_spatialite(dbapi_conn, init_mode="WGS84")
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def upsert_from_select(bind: sa.Connection, table: sa.Table, select: sa.Select,
                       columns: Sequence[str], key: Sequence[str]) -> sa.Executable:
    """Build ``INSERT INTO table (columns) SELECT ... ON CONFLICT (key) DO UPDATE``.

    Parameters
    ----------
    bind
        Connection (selects the dialect).
    table
        Target table.
    select
        Rows to insert, producing ``columns`` in order.
    columns
        Target columns.
    key
        Primary-key columns; every other column is overwritten on conflict.

    Returns
    -------
    sqlalchemy.Executable
    """
    ins: Any = (sqlite.insert(table) if is_sqlite(bind) else postgresql.insert(table))
    if is_sqlite(bind):
        # SQLite needs a WHERE on INSERT ... SELECT to parse a following ON CONFLICT clause.
        select = select.where(sa.true())
    stmt = ins.from_select(list(columns), select)
    updates = {c: stmt.excluded[c] for c in columns if c not in key}
    return stmt.on_conflict_do_update(index_elements=list(key), set_=updates)
