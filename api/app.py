"""The FastAPI application, built by :func:`create_app` from settings.

Nothing happens at import time: ``create_app`` reads the settings (unless given), creates the
engine (which connects only when first used) and the rate limiter, mounts the routes and the
offline API docs, and installs the problem-details error handlers. ``pingan serve`` runs it
with uvicorn (``uvicorn --factory api.app:create_app``).

Layout: ``/health`` and ``/version`` (public), ``/`` (the landing dashboard, or the login
form), ``/login`` and ``/logout`` (browser sessions; a browser page without a valid session
is sent to ``/login?next=…``), ``/static`` and ``/favicon.ico`` (page assets),
``/docs`` (Swagger UI served from pingan itself: intranets have no CDN) and
``/openapi.json``, and every resource under ``/api/v1``.

Every response passes through :class:`api.security.SecurityMiddleware` (Content-Security-Policy
with per-response script nonces, ``frame-ancestors 'none'``, ``nosniff``, Referrer-Policy) and
requests with a credential in the query string are refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from api.audit import RepeatedEvents
from api.cache import ResultCache
from api.db import create_db_engine
from api.deps import reject_nul_bytes
from api.errors import install_error_handlers
from api.ratelimit import RateLimiter
from api.routes import API_PREFIX, api_router, auth, system
from api.routes import maps as maps_routes
from api.routes import pages as page_routes
from api.schemas import move_problems_to_problem_json
from api.security import SecurityMiddleware, install_access_log_redaction, tile_source
from api.settings import Settings, load_settings
from api.uploads import harden_gdal
from api.web import install_login_redirect

__all__ = ["create_app"]

_DESCRIPTION = """\
pingan (平安) serves community boundaries, incident data and safe-community metrics.

**Authentication**: `Authorization: Bearer pa_…` with a key from `pingan keys create`, or a
session cookie from `/login` in a browser.

**Roles**: *admin* — everything; *liaison* — raw incidents and every statistic of their
jurisdiction (district or subdistrict codes) only; *planner* and *client* — released
aggregates only: whole months, quarters or years, communities and their roll-ups or the
published grid (250, 500, 1,000, 2,000 m), counts released by the cell-key method with 0–2
shown as `"<3"`, hot spots as classes (see docs/release.md). No incident reaches these roles.

**Formats**: lists take `format=json|csv|geojson`; CSV is UTF-8 with a byte-order mark (Excel
shows Chinese correctly). Every response carries the provenance of its numbers.

**Errors** are `application/problem+json` documents (type, title, title_zh, status, detail, errors).
Requests are rate limited per key, per server process.
"""


def _swagger_assets() -> Path:
    import swagger_ui

    return Path(swagger_ui.__file__).with_name("static")


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings
        Settings; default: read from ``pingan.toml`` and ``PINGAN_*`` variables.
    engine
        Database engine (tests share one); default: created from ``settings.database_url``
        and disposed of when the app shuts down. The schema must be migrated
        (``pingan init``; ``pingan serve`` does it).

    Returns
    -------
    fastapi.FastAPI
    """
    settings = settings or load_settings()
    owns_engine = engine is None
    db = engine if engine is not None else create_db_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.audit_repeats.flush(db)
        if owns_engine:
            db.dispose()

    app = FastAPI(title="pingan", version=system.package_version(), description=_DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  lifespan=lifespan, dependencies=[Depends(reject_nul_bytes)])
    app.state.settings = settings
    app.state.engine = db
    app.state.limiter = RateLimiter(settings.api.rate_limit_per_minute)
    app.state.failure_limiter = RateLimiter(settings.api.auth_failures_per_minute)
    app.state.audit_repeats = RepeatedEvents()
    app.state.cache = ResultCache()
    install_error_handlers(app)
    install_login_redirect(app)
    app.include_router(system.router)
    app.include_router(auth.pages)
    app.include_router(page_routes.router)
    app.include_router(api_router(), prefix=API_PREFIX)
    app.include_router(maps_routes.router)
    app.mount("/docs/assets", StaticFiles(directory=_swagger_assets()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="pingan API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon-32x32.png")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            app.openapi_schema = move_problems_to_problem_json(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    _install_page_policy(app, settings)
    harden_gdal()  # the server never needs GDAL to reach the network
    return app


def _install_page_policy(app: FastAPI, settings: Settings) -> None:
    """Wrap the whole middleware stack in :class:`api.security.SecurityMiddleware`.

    It goes outside Starlette's error middleware (which ``add_middleware`` cannot reach), so a
    500 answer carries the headers too; and uvicorn's access log loses credentials in URLs.
    """
    tiles = tile_source(settings.maps.tile_url)
    build = app.build_middleware_stack

    def build_with_policy() -> Any:
        return SecurityMiddleware(build(), img_sources=[tiles] if tiles else [])

    app.build_middleware_stack = build_with_policy  # type: ignore[method-assign]
    install_access_log_redaction()
