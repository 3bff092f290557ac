"""SQLite/SpatiaLite bulk path of a streaming load: prepared ``executemany``, index rebuilds.

SpatiaLite's row triggers keep the spatial index (R*Tree) of the merged rows. Doing their work
once per statement instead (dropping and recreating the triggers inside the transaction) was
measured no faster at 200k rows: the R*Tree inserts themselves dominate, so the triggers stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["POINT_SQL", "drop_indexes", "write_rows"]

#: The stage's ``x``/``y`` as a point in EPSG:4326 (NULL without coordinates).
POINT_SQL = "MakePoint(x, y, 4326)"


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
