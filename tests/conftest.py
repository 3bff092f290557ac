"""Shared fixtures: fresh databases on both backends, and small hand-made layers.

PostGIS tests use ``PINGAN_TEST_POSTGIS_URL`` (default: the local server's ``pingan_test``
database) and a fresh schema per test. When the server is unreachable they are skipped, unless
``PINGAN_REQUIRE_POSTGIS=1`` (set by CI), in which case they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa

os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")

POSTGIS_URL = os.environ.get(
    "PINGAN_TEST_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/pingan_test")
REQUIRE_POSTGIS = os.environ.get("PINGAN_REQUIRE_POSTGIS") == "1"


def _postgis_available() -> str | None:
    """None when PostGIS can be used, else the reason."""
    try:
        eng = sa.create_engine(POSTGIS_URL)
        with eng.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not available here"
        return f"PostGIS at {POSTGIS_URL} not available: {str(exc).splitlines()[0]}"


_POSTGIS_REASON: list[str | None] = []


def postgis_reason() -> str | None:
    if not _POSTGIS_REASON:
        _POSTGIS_REASON.append(_postgis_available())
    return _POSTGIS_REASON[0]


@pytest.fixture(params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A URL of a fresh, empty database on each backend."""
    if request.param == "spatialite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    reason = postgis_reason()
    if reason:
        if REQUIRE_POSTGIS:
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGIS_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGIS_URL else "?"
    yield f"{POSTGIS_URL}{sep}options={quote(f'-csearch_path={schema},public')}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def engine(db_url: str):
    """A migrated engine on a fresh database (each backend)."""
    from api.db import create_db_engine, migrate

    eng = create_db_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()
