"""SQLite/SpatiaLite bulk path of a streaming load: prepared ``executemany``, set-wise triggers.

SpatiaLite keeps a geometry column's spatial index (R*Tree), type/SRID constraint and
modification times by row triggers. Fired once per merged row they cost more than the insert
itself (200k points: 7.5 s with the triggers against 1.8 s for the insert and 1.6 s for the
R*Tree rows written by one statement). :func:`spatial_work_once` drops the triggers inside the
load's transaction, and after the merge does their work by whole statements over the merged
rows: the constraint checked once, the R*Tree entries of the merged rows deleted and written
again (the same boxes: SQLite rounds them outward to single precision as ``RTreeAlign`` does),
the modification times stamped once; then the triggers are recreated as they were. A failed or
killed load rolls the dropped triggers back with everything else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

__all__ = ["POINT_SQL", "drop_indexes", "spatial_work_once", "write_rows"]

#: The stage's ``x``/``y`` as a point in EPSG:4326 (NULL without coordinates).
POINT_SQL = "MakePoint(x, y, 4326)"

#: Prefixes of SpatiaLite's triggers on a geometry column (constraints, times, R*Tree).
_TRIGGER_PREFIXES = ("ggi", "ggu", "tmi", "tmu", "tmd", "gii", "giu", "gid", "gci", "gcu")


def write_rows(conn: sa.Connection, table: str, columns: Sequence[str],
               values: Sequence[Sequence[Any]]) -> None:
    """Insert rows (one sequence per column) with one prepared ``executemany``.

    On the DB-API connection that SQLAlchemy holds: the same transaction.
    """
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    raw: Any = conn.connection.driver_connection
    raw.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                    zip(*values, strict=True))


def drop_indexes(conn: sa.Connection, table: str) -> list[str]:
    """Drop ``table``'s secondary indexes; the statements that recreate them as they were."""
    rows = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL ORDER BY name", (table,)).all()
    for name, _ in rows:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


@contextmanager
def spatial_work_once(conn: sa.Connection, table: str, stage: str, *, inserted: bool,
                      updated: bool, same: str | None = None, key: str = "id",
                      geom: str = "geom") -> Iterator[None]:
    """Do SpatiaLite's per-row trigger work on ``table.geom`` once, for the block's writes.

    The block upserts rows of ``table`` whose ``key`` values are the ``stage`` table's (indexed
    on ``key``), inserting new rows if ``inserted`` and updating existing ones if ``updated``;
    it must not delete rows. ``same``: an SQL condition on a stage row ``s`` and its existing
    row ``t`` saying the block leaves that row's geometry as it is; such rows keep their
    R*Tree entries (a re-load of unchanged points rewrites none: deleting R*Tree entries costs
    more than inserting them). See the module docstring.

    Raises
    ------
    sqlalchemy.exc.IntegrityError
        A merged geometry violates the column's declared type or SRID (as the trigger would).
    """
    names = {f"{p}_{table}_{geom}" for p in _TRIGGER_PREFIXES}
    triggers = [(str(n), str(s)) for n, s in conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
        "ORDER BY name", (table,)).all() if n in names]
    if not triggers:
        yield
        return
    index = f"idx_{table}_{geom}"
    joined = f'FROM "{stage}" s JOIN "{table}" t ON t."{key}" = s."{key}"'
    changed = "true"
    if updated and same is not None:
        conn.exec_driver_sql(f'CREATE TEMPORARY TABLE "{_SAME}" (r INTEGER PRIMARY KEY)')
        conn.exec_driver_sql(f'INSERT INTO "{_SAME}" SELECT t.rowid {joined} WHERE {same}')
        changed = f't.rowid NOT IN (SELECT r FROM "{_SAME}")'
    for name, _ in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    if any(n.startswith("ggi_") for n, _ in triggers):
        _check_constraints(conn, table, geom, joined, changed)
    if any(n.startswith("gii_") for n, _ in triggers):
        if conn.exec_driver_sql(f'SELECT 1 FROM "{index}" LIMIT 1').first() is not None:
            conn.exec_driver_sql(f'DELETE FROM "{index}" WHERE pkid IN '
                                 f'(SELECT t.rowid {joined} WHERE {changed})')
        conn.exec_driver_sql(
            f'INSERT INTO "{index}" (pkid, xmin, xmax, ymin, ymax) SELECT t.rowid, '
            f'MbrMinX(t."{geom}"), MbrMaxX(t."{geom}"), MbrMinY(t."{geom}"), '
            f'MbrMaxY(t."{geom}") {joined} WHERE t."{geom}" IS NOT NULL AND {changed}')
    if any(n.startswith("tm") for n, _ in triggers):
        _stamp_times(conn, table, geom, inserted=inserted, updated=updated)
    if changed != "true":
        conn.exec_driver_sql(f'DROP TABLE "{_SAME}"')
    for _, sql in triggers:
        conn.exec_driver_sql(sql)


_SAME = "pingan_geometry_unchanged"


def _check_constraints(conn: sa.Connection, table: str, geom: str, joined: str,
                       changed: str) -> None:
    """Raise as SpatiaLite's constraint trigger would if a merged geometry is not allowed."""
    bad = conn.exec_driver_sql(
        f'SELECT count(*) {joined} JOIN geometry_columns g '
        f'ON Lower(g.f_table_name) = Lower(?) AND Lower(g.f_geometry_column) = Lower(?) '
        f'WHERE t."{geom}" IS NOT NULL AND {changed} '
        f'AND GeometryConstraints(t."{geom}", g.geometry_type, g.srid) IS NOT 1',
        (table, geom)).scalar_one()
    if bad:
        raise sa.exc.IntegrityError(
            f"{table}.{geom}", None,
            Exception(f"{table}.{geom} violates Geometry constraint [geom-type or SRID not "
                      f"allowed] ({bad} rows)"))


def _stamp_times(conn: sa.Connection, table: str, geom: str, *, inserted: bool,
                 updated: bool) -> None:
    """Stamp the column's last insert/update times once (SpatiaLite's ``tm*`` triggers)."""
    cols = [c for c, done in (("last_insert", inserted), ("last_update", updated)) if done]
    if not cols:
        return
    now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    conn.exec_driver_sql(
        f"UPDATE geometry_columns_time SET {', '.join(f'{c} = {now}' for c in cols)} "
        f"WHERE Lower(f_table_name) = Lower(?) AND Lower(f_geometry_column) = Lower(?)",
        (table, geom))
