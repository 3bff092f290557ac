"""Database engines and the schema migrations.

The embedded default is a SpatiaLite file opened through a DB-API module that can load
extensions (``sqlean``: the stdlib ``sqlite3`` of some Python builds cannot); PostGIS is chosen
by a ``postgresql://`` URL. Nothing here runs at import time.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api import dialect
from api.models import meta

__all__ = [
    "DATA_WRITE_LOCK",
    "DatabaseError",
    "bump_data_version",
    "create_db_engine",
    "data_version",
    "get_meta",
    "lock_data_writes",
    "migrate",
    "schema_is_current",
    "set_meta",
    "utcnow",
]


class DatabaseError(RuntimeError):
    """The database cannot be reached or is not set up; the message says what to do."""


def create_db_engine(url: str, *, echo: bool = False, pool_size: int | None = None,
                     max_overflow: int | None = None,
                     pool_timeout_s: float | None = None) -> Engine:
    """Create an engine for a SpatiaLite file or a PostGIS database.

    Parameters
    ----------
    url
        ``sqlite:///path.db`` or ``postgresql+psycopg://user@host/db``.
    echo
        Log SQL.
    pool_size, max_overflow, pool_timeout_s
        Connection pool limits (SQLAlchemy's defaults: 5, 10 and 30 s). pingan never holds
        two pooled connections in one request, so any pool size serves any number of
        concurrent requests.

    Returns
    -------
    sqlalchemy.engine.Engine

    Raises
    ------
    DatabaseError
        If the SpatiaLite driver module is missing.
    """
    kwargs: dict[str, Any] = {"echo": echo}
    for name, value in (("pool_size", pool_size), ("max_overflow", max_overflow),
                        ("pool_timeout", pool_timeout_s)):
        if value is not None:
            kwargs[name] = value
    if url.startswith("sqlite"):
        try:
            import sqlean
        except ImportError:
            raise DatabaseError("the sqlean.py package is needed for SpatiaLite files "
                                "(pip install sqlean.py)") from None
        kwargs["module"] = sqlean
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = sa.create_engine(url, **kwargs)
    dialect.configure_engine(engine)
    return engine


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("api") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (creating it on an empty database).

    Raises
    ------
    DatabaseError
        If the database cannot be reached or lacks the spatial extension.
    """
    from alembic import command

    if not dialect.is_sqlite(engine):
        _ensure_postgis(engine)
    try:
        command.upgrade(_alembic_config(engine), revision)
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot set up the database: {exc.orig}") from None


def _ensure_postgis(engine: Engine) -> None:
    try:
        with engine.begin() as conn:
            have = conn.execute(sa.text(
                "SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first()
            if not have:
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot reach PostgreSQL: {exc.orig}") from None
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(
            f"the database lacks PostGIS and it cannot be created: {exc.orig}; install "
            f"postgresql-15-postgis-3 and run CREATE EXTENSION postgis as a superuser") from None


def schema_is_current(engine: Engine) -> bool:
    """Whether the database schema is at the latest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    return set(current) == set(script.get_heads())


def utcnow() -> dt.datetime:
    """The current instant as a naive UTC datetime (the storage convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def get_meta(conn: sa.Connection, key: str, default: str | None = None) -> str | None:
    """Read a value from the ``meta`` table."""
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).first()
    return row[0] if row else default


def set_meta(conn: sa.Connection, key: str, value: str) -> None:
    """Write a value to the ``meta`` table."""
    updated = conn.execute(meta.update().where(meta.c.key == key).values(value=value))
    if not updated.rowcount:
        conn.execute(meta.insert().values(key=key, value=value))


def data_version(conn: sa.Connection) -> int:
    """The data version: bumped by every load, it keys every cached result."""
    return int(get_meta(conn, "data_version", "0") or 0)


#: ``pg_advisory_xact_lock`` key of the transactions that write pingan's data ("pingan").
DATA_WRITE_LOCK = 0x70696E67616E


def lock_data_writes(conn: sa.Connection) -> None:
    """Serialise the transactions that write pingan's data: call first in each of them.

    PostgreSQL runs writers side by side (READ COMMITTED): two loads re-sending one incident
    would each take its old day out of the period tables (:func:`api.period_tables.kept_exact`
    counts in its own snapshot), a boundary load beside an incidents load could store an
    assignment to a community that no longer holds the point, and two version bumps could
    write the same number. A transaction-scoped advisory lock makes the second writer wait
    for the first to commit; readers are not blocked. SQLite serialises writers itself (one
    database write lock), so there this does nothing.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": DATA_WRITE_LOCK})


def bump_data_version(conn: sa.Connection) -> int:
    """Increment the data version inside the caller's transaction and return the new value.

    Takes :func:`lock_data_writes` (already held by a load, which takes it first).
    """
    lock_data_writes(conn)
    new = data_version(conn) + 1
    set_meta(conn, "data_version", str(new))
    return new
