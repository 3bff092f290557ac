"""Staging tables of a load: the columns a load writes, and rows as plain values in batches."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from api import dialect

__all__ = ["fill_stage", "python_values", "stage_records", "stage_table", "stored_columns",
           "upsert_stage"]

_BATCH = 5000
_PROGRESS_MIN_ROWS = 10_000


def stored_columns(table: sa.Table, layer: str, canonical: Sequence[str]) -> list[str]:
    """Columns written by a load: the layer's fields, geometry, and the retirement mark.

    A load clears ``retired_on`` of every community in the file; a population load writes
    each row's ``reference_date``.
    """
    cols = [c.name for c in table.columns if c.name != "load_id"]
    if layer == "incidents":
        return cols
    missing = [c for c in canonical if c not in cols]
    assert not missing, f"table {table.name} lacks {missing}"
    return [c for c in cols if c in canonical or c in ("geom", "retired_on", "reference_date")]


def stage_table(table: sa.Table, columns: Sequence[str], *, keyed: bool = True) -> sa.Table:
    """A temporary table for ``columns`` of ``table`` (geometry as ``geom_wkb``) and ``load_id``.

    ``keyed=False`` drops the primary key and adds ``row_no`` (the record's number in the
    file): a streaming load stages repeated ids and finds them at the end.
    """
    md = sa.MetaData()
    cols: list[sa.Column[Any]] = []
    for c in columns:
        if c == "geom":
            cols.append(sa.Column("geom_wkb", sa.LargeBinary))
        else:
            src = table.c[c]
            cols.append(sa.Column(c, src.type, primary_key=keyed and src.primary_key,
                                  index=not keyed and src.primary_key))
    cols.append(sa.Column("load_id", sa.Integer))
    if not keyed:
        cols.append(sa.Column("row_no", sa.Integer))
    return sa.Table(f"pingan_stage_{table.name}", md, *cols, prefixes=["TEMPORARY"])


def fill_stage(conn: sa.Connection, stage: sa.Table, frame: pd.DataFrame,
                columns: Sequence[str], load_id: int, layer: str, progress: bool) -> None:
    """Insert the frame's rows into the stage in batches (a progress bar for large loads)."""
    n = len(frame)
    bar = None
    if progress and n > _PROGRESS_MIN_ROWS:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=f"loading {layer}", unit="rows", file=sys.stderr)
    try:
        for batch in stage_records(frame, columns, load_id):
            conn.execute(stage.insert(), batch)
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()


def stage_records(frame: pd.DataFrame, columns: Sequence[str], load_id: int
                  ) -> Iterator[list[dict[str, Any]]]:
    """Rows as dicts of plain Python values (None for missing), in batches."""
    values: dict[str, np.ndarray] = {}
    for c in columns:
        if c not in frame.columns and c != "geom":
            values[c] = np.full(len(frame), None, dtype=object)
            continue
        if c == "geom":
            geoms = np.asarray(frame.geometry.array, dtype=object)
            wkb = np.full(len(geoms), None, dtype=object)
            present = ~shapely.is_missing(geoms)
            wkb[present] = shapely.to_wkb(geoms[present], include_srid=False)
            values["geom_wkb"] = wkb
            continue
        values[c] = python_values(frame[c])
    names = list(values)
    arrays = [values[k] for k in names]
    n = len(frame)
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        yield [
            {**dict(zip(names, row, strict=True)), "load_id": load_id}
            for row in zip(*(a[start:stop] for a in arrays), strict=True)
        ]


def python_values(s: pd.Series) -> np.ndarray:
    """A column as plain Python values (naive UTC datetimes, dates, ints; None for missing)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        naive = s.dt.tz_convert("UTC").dt.tz_localize(None)
        out = np.asarray(naive.dt.to_pydatetime(), dtype=object)
    elif pd.api.types.is_datetime64_any_dtype(s):
        out = np.asarray([None if pd.isna(x) else x.date() for x in s], dtype=object)
        return out
    elif pd.api.types.is_float_dtype(s):
        out = s.astype(object).to_numpy()
    elif pd.api.types.is_integer_dtype(s):
        out = s.astype(object).to_numpy()
        out = np.array([None if x is pd.NA else int(x) for x in out], dtype=object)
        return out
    else:
        out = s.astype(object).to_numpy()
    missing = pd.isna(s).to_numpy()
    out = out.copy()
    out[missing] = None
    return out


def upsert_stage(conn: sa.Connection, table: sa.Table, stage: sa.Table, columns: Sequence[str],
                 key: Sequence[str]) -> int:
    """Upsert the staged rows into ``table`` by ``key``; the number that already existed."""
    updated = conn.execute(
        sa.select(sa.func.count()).select_from(stage.join(
            table, sa.and_(*[stage.c[k] == table.c[k] for k in key])))).scalar_one()
    select_cols: list[Any] = [stage.c[c] for c in columns if c != "geom"]
    select_cols.append(stage.c.load_id)
    target_cols = [c for c in columns if c != "geom"] + ["load_id"]
    if "geom" in columns:
        select_cols.append(sa.func.ST_GeomFromWKB(stage.c.geom_wkb, 4326))
        target_cols.append("geom")
    conn.execute(dialect.upsert_from_select(
        conn, table, sa.select(*select_cols), target_cols, key))
    return int(updated)
