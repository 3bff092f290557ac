"""Bulk staging of a streaming incidents load: rows as column arrays, written and merged fast.

A streaming load stages each batch as plain column values (text times, ints, the point as
``x``/``y`` doubles) through the backend's bulk path (:mod:`api.bulk_sqlite`: prepared
``executemany`` of tuples; :mod:`api.bulk_postgres`: ``COPY ... FROM STDIN``), never through
per-row SQLAlchemy parameter dicts. The merge into ``incidents`` is one ``INSERT ... SELECT ...
ON CONFLICT`` that builds the points; on a load at least as large as the table already is,
the table's secondary indexes are dropped before it and rebuilt after it, in the same
transaction (a sorted index build beats as many random index inserts; a failed load rolls the
drop back with everything else).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from api import bulk_postgres, bulk_sqlite
from api.dialect import is_sqlite
from api.staging import python_values

__all__ = ["create_stage_indexes", "incident_stage", "merge_stage", "stage_ids", "stage_rows",
           "write_stage"]


def incident_stage(table: sa.Table, columns: Sequence[str]) -> sa.Table:
    """A temporary stage for ``columns`` of ``table``: the point as ``x``/``y``, no key.

    Besides the columns: ``load_id`` and ``row_no`` (the record's number in the file, from 1).
    Its id index is created after the rows are staged (:func:`create_stage_indexes`).
    """
    cols: list[sa.Column[Any]] = [sa.Column(c, table.c[c].type) for c in columns if c != "geom"]
    cols += [sa.Column("load_id", sa.Integer), sa.Column("row_no", sa.Integer),
             sa.Column("x", sa.Float), sa.Column("y", sa.Float)]
    return sa.Table(f"pingan_stage_{table.name}", sa.MetaData(), *cols, prefixes=["TEMPORARY"])


def stage_ids() -> sa.Table:
    """A temporary table of every id read (valid or rejected) and its row number."""
    return sa.Table("pingan_stage_ids", sa.MetaData(), sa.Column("id", sa.String(100)),
                    sa.Column("row_no", sa.Integer), prefixes=["TEMPORARY"])


def create_stage_indexes(conn: sa.Connection, stage: sa.Table, ids: sa.Table) -> None:
    """Index the staged ids (built once, after all batches are staged)."""
    for t in (stage, ids):
        sa.Index(f"ix_{t.name}_id", t.c.id).create(conn)


def stage_rows(frame: pd.DataFrame, stage: sa.Table, load_id: int, row_no: np.ndarray
               ) -> list[list[Any]]:
    """The frame's rows as one list of plain values per stage column (None for missing).

    Times are naive UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``, as SQLAlchemy writes them to
    SQLite; PostgreSQL parses the same text); the point is its ``x`` and ``y``.
    """
    n = len(frame)
    out: list[list[Any]] = []
    geoms = np.asarray(frame.geometry.array, dtype=object)
    for col in stage.columns:
        name = col.name
        if name == "load_id":
            out.append([load_id] * n)
        elif name == "row_no":
            out.append(np.asarray(row_no, dtype=np.int64).tolist())
        elif name in ("x", "y"):
            xy = (shapely.get_x if name == "x" else shapely.get_y)(geoms)
            vals = xy.astype(object)
            vals[np.isnan(xy)] = None
            out.append(vals.tolist())
        elif name not in frame.columns:
            out.append([None] * n)
        elif isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            out.append(_utc_text(frame[name]))
        else:
            out.append(python_values(frame[name]).tolist())
    return out


def _utc_text(s: pd.Series) -> list[str | None]:
    """Aware times as naive UTC text with microseconds (None for missing)."""
    naive = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    text = np.char.replace(np.datetime_as_string(naive, unit="us"), "T", " ").astype(object)
    text[np.isnat(naive)] = None
    return list(text.tolist())


def write_stage(conn: sa.Connection, table: sa.Table, columns: Sequence[str],
                values: Sequence[Sequence[Any]]) -> None:
    """Append rows (one sequence of values per column) to a stage through the bulk path."""
    if not len(values) or not len(values[0]):
        return
    if is_sqlite(conn):
        bulk_sqlite.write_rows(conn, table.name, columns, values)
    else:
        bulk_postgres.write_rows(conn, table.name, columns, values)


def merge_stage(conn: sa.Connection, table: sa.Table, stage: sa.Table,
                columns: Sequence[str]) -> int:
    """Upsert the staged rows into ``table`` by ``id``; the number whose id already existed.

    The points are built from ``x``/``y`` (EPSG:4326). When the stage holds at least as many
    rows as the table, its secondary indexes are rebuilt around the insert (same transaction).
    On SpatiaLite the geometry triggers' work is done once for all rows
    (:func:`api.bulk_sqlite.spatial_work_once`); the stage must be indexed on ``id``.
    """
    updated = int(conn.execute(sa.select(sa.func.count()).select_from(
        stage.join(table, stage.c.id == table.c.id))).scalar_one())
    existing = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    staged = int(conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one())
    plain = [c for c in columns if c != "geom"] + ["load_id"]
    module: Any = bulk_sqlite if is_sqlite(conn) else bulk_postgres
    rebuild = staged > 0 and staged >= existing
    recreate = module.drop_indexes(conn, table.name) if rebuild else []
    cols = [f'"{c}"' for c in plain]
    select = list(cols)
    if "geom" in columns:
        cols.append('"geom"')
        select.append(module.POINT_SQL)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != '"id"')
    same = 'X(t."geom") IS s.x AND Y(t."geom") IS s.y'  # the point as it is stored
    spatial = (bulk_sqlite.spatial_work_once(conn, table.name, stage.name, same=same,
                                             inserted=staged > updated, updated=updated > 0)
               if is_sqlite(conn) and "geom" in columns else nullcontext())
    with spatial:
        # The WHERE lets SQLite parse the ON CONFLICT that follows an INSERT ... SELECT.
        conn.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({", ".join(cols)}) SELECT {", ".join(select)} '
            f'FROM "{stage.name}" WHERE true ORDER BY "id" '
            f'ON CONFLICT ("id") DO UPDATE SET {updates}')
    for sql in recreate:
        conn.exec_driver_sql(sql)
    return updated
