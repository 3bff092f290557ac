"""The HTTP routes: one router per resource, gathered under the versioned prefix ``/api/v1``.

To add a resource, write ``api/routes/<resource>.py`` with a module-level ``router`` (see
:mod:`api.deps` for the pattern), add it to :data:`RESOURCE_ROUTERS`, and add one row per
endpoint to the role matrix in ``tests/api/test_app_matrix.py``.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    aggregates,
    alerts,
    areas,
    audit,
    auth,
    briefings,
    catalogue,
    communities,
    coverage,
    density,
    emerging,
    incidents,
    landing,
    loads,
    nearrepeat,
    profiles,
    rates,
    standard,
    streets,
)

__all__ = ["API_PREFIX", "RESOURCE_ROUTERS", "api_router"]

API_PREFIX = "/api/v1"

#: The routers mounted under :data:`API_PREFIX`, in the order the docs list them.
RESOURCE_ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    landing.router,
    communities.router,
    incidents.router,
    aggregates.router,
    rates.router,
    emerging.router,
    density.router,
    nearrepeat.router,
    alerts.router,
    coverage.router,
    streets.router,
    areas.router,
    standard.router,
    briefings.router,
    catalogue.router,
    profiles.router,
    loads.router,
    audit.router,
)


def api_router() -> APIRouter:
    """Build a router holding every resource router (mount it at :data:`API_PREFIX`)."""
    router = APIRouter()
    for r in RESOURCE_ROUTERS:
        router.include_router(r)
    return router
