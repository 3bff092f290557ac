"""``/health`` and ``/version``: public, no key needed."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.db import data_version
from api.deps import EngineDep
from api.schemas import HealthOut, VersionOut

__all__ = ["API_VERSION", "package_version", "router"]

router = APIRouter(tags=["system"])

API_VERSION = "v1"


def package_version() -> str:
    """Return the installed pingan version (``0+unknown`` when run from a source tree)."""
    try:
        return version("pingan")
    except PackageNotFoundError:
        return "0+unknown"


@router.get("/health", response_model=HealthOut,
            responses={503: {"model": HealthOut, "description": "the database is unreachable"}})
def get_health(engine: EngineDep) -> JSONResponse:
    """Whether the server can reach its database (200) or not (503)."""
    try:
        with engine.connect() as conn:
            dv = data_version(conn)
    except sa.exc.SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable",
                             "data_version": None}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "data_version": dv})


@router.get("/version", response_model=VersionOut)
def get_version(engine: EngineDep) -> JSONResponse:
    """Report the pingan version, the API version, the schema revision and the data version."""
    from alembic.runtime.migration import MigrationContext

    revision: str | None = None
    dv: int | None = None
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
            revision = ",".join(heads) or None
            dv = data_version(conn)
    except sa.exc.SQLAlchemyError:
        pass  # the version of the server is still worth answering without a database
    return JSONResponse({"pingan": package_version(), "api": API_VERSION,
                         "schema_revision": revision, "data_version": dv})
