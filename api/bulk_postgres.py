"""PostgreSQL/PostGIS bulk path of a streaming load: ``COPY ... FROM STDIN``, index rebuilds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["POINT_SQL", "drop_indexes", "write_rows"]

#: The stage's ``x``/``y`` as a point in EPSG:4326 (NULL without coordinates).
POINT_SQL = "ST_SetSRID(ST_MakePoint(x, y), 4326)"


def write_rows(conn: sa.Connection, table: str, columns: Sequence[str],
               values: Sequence[Sequence[Any]]) -> None:
    """Copy rows (one sequence per column) into ``table`` with ``COPY ... FROM STDIN``.

    On the psycopg connection that SQLAlchemy holds: the same transaction.
    """
    names = ", ".join(f'"{c}"' for c in columns)
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in zip(*values, strict=True):
            copy.write_row(row)


def drop_indexes(conn: sa.Connection, table: str) -> list[str]:
    """Drop ``table``'s secondary indexes, the spatial one too.

    Returns the statements that recreate them as they were.
    """
    rows = conn.exec_driver_sql(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = to_regclass(%(t)s) AND NOT i.indisprimary AND NOT i.indisunique "
        "ORDER BY 1", {"t": table}).all()
    for name, _ in rows:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    return [sql for _, sql in rows]
