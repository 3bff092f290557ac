"""Prepared results: answers stored in the database per data version, so a restart keeps them.

The in-memory result cache (:class:`api.cache.ResultCache`) dies with the server process, and
the landing dashboard's heavy parts (the standard's creation rate, coverage, near-repeat risk
zones…) take seconds each to compute. Those parts are stored here, as the JSON the page is
drawn from, under a key made of

- what was computed (the part and its parameters),
- the caller's world and release mode (:attr:`api.release.Visibility.world_key`, the role and
  the jurisdiction codes: never the role alone, as the trust layer requires of every cache),
- the settings (a digest of every setting but the operational ones, such as the database URL
  or request limits: a changed release rule such as ``api.min_count_shown`` is a different
  key) and the code (a digest of pingan's own source
  files: an upgrade never serves what older code computed),

and the data version: a load bumps it, and a stored answer of an earlier version is never read
(and is deleted by the next write or by ``pingan prepare``). The first caller of a world after
a load computes the part and stores it; ``pingan prepare`` computes them ahead for the worlds
of every active key.

A failed write (a locked SQLite file, two servers storing the same key) is logged and skipped:
the caller still gets the answer just computed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.db import data_version, utcnow
from api.models import prepared_results
from api.release import Visibility
from api.settings import Settings

__all__ = ["clear_stale", "code_digest", "prepared", "settings_digest", "stored_key"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Bumped when the stored form changes.
FORMAT = 1


#: Distributions whose versions join the code digest: what computes the answers.
_LIBRARIES = ("numpy", "pandas", "scipy", "shapely", "geopandas", "pyproj", "esda", "libpysal",
              "numba", "pulp", "spopt", "statsmodels")


@functools.cache
def code_digest() -> str:
    """SHA-256 of pingan's Python sources (``api``, ``geo``, ``maps``) and library versions.

    Taken once per process, when this module is imported (with the modules it imports), so
    it describes the code that runs, not files changed on disk since.
    """
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for package in ("api", "geo", "maps"):
        for path in sorted((root / package).rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    for dist in ("pingan", *_LIBRARIES):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{dist}=={version};".encode())
    return h.hexdigest()


code_digest()


#: Settings that never change an answer, left out of its key: where the database is (the
#: same city served from a copy), sessions, limits on requests and uploads, allowed origins,
#: and map display. Every other setting joins the key (a new one too, until it is listed here).
OPERATIONAL_SETTINGS: dict[str, Any] = {
    "database_url": True,
    "api": {"secret_key", "session_minutes", "rate_limit_per_minute", "max_upload_mb",
            "max_unzipped_mb", "auth_failures_per_minute", "allowed_origins"},
    # Map display (tiles, their CRS, the language of map pages, the browser for PNG and PDF):
    # the stored answers (the landing's parts) do not read them.
    "maps": True,
}


def settings_digest(settings: Settings) -> str:
    """SHA-256 of every setting but :data:`OPERATIONAL_SETTINGS`."""
    text = settings.model_dump_json(exclude=OPERATIONAL_SETTINGS)
    return hashlib.sha256(text.encode()).hexdigest()


def stored_key(name: str, params: Any, vis: Visibility, settings: Settings) -> str:
    """The key of an answer: what, for whom (world, role, jurisdictions), settings and code."""
    ident = [FORMAT, name, params, vis.role, list(vis.jurisdictions), vis.world_key,
             settings_digest(settings), code_digest()]
    text = json.dumps(ident, default=_plain, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot key a {type(value).__name__}")


def prepared(engine: Engine, key: str, version: int, compute: Callable[[], Any],
             rebuild: Callable[[Any], T]) -> T:
    """The stored answer of ``key`` at ``version``, else ``compute()`` stored and returned.

    ``compute`` returns JSON-able data (dicts, lists, strings, numbers, ``None``);
    ``rebuild`` turns that JSON back into the answer. What is returned is always rebuilt from
    the JSON, so a stored and a fresh answer are alike. A stored answer that cannot be read
    (no access to the table) or rebuilt (written by code of another shape) is computed again;
    one that cannot be stored (a locked file, a read-only user, another server first) is
    answered all the same.
    """
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(prepared_results.c.payload).where(
                prepared_results.c.key == key,
                prepared_results.c.data_version == version)).first()
    except sa.exc.DBAPIError as exc:  # e.g. a database user granted no access to the table
        log.warning("prepared answers not read (%s): %s", key[:12], exc.orig)
        return rebuild(json.loads(json.dumps(compute(), ensure_ascii=False, allow_nan=False)))
    if row is not None:
        try:
            return rebuild(json.loads(row[0]))
        except (ValueError, TypeError, KeyError) as exc:  # stored by code of another shape
            log.warning("prepared answer %s unreadable (%s): computed again", key[:12], exc)
    payload = json.dumps(compute(), ensure_ascii=False, allow_nan=False)
    try:
        with engine.begin() as conn:
            if data_version(conn) == version:
                conn.execute(prepared_results.delete().where(
                    (prepared_results.c.key == key)
                    | (prepared_results.c.data_version != version)))
                conn.execute(prepared_results.insert().values(
                    key=key, data_version=version, payload=payload, created_at=utcnow()))
    except sa.exc.DBAPIError as exc:  # locked, or another server stored the same key first
        log.warning("prepared answer not stored (%s): %s", key[:12], exc.orig)
    return rebuild(json.loads(payload))


def clear_stale(engine: Engine) -> int:
    """Delete the stored answers of earlier data versions; return how many."""
    with engine.begin() as conn:
        return conn.execute(prepared_results.delete().where(
            prepared_results.c.data_version != data_version(conn))).rowcount
