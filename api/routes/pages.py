"""The web workspace's pages: ``/`` (the login page, or the landing dashboard), ``/map``, assets.

``GET /`` without credentials shows the login form; with a session (or a bearer key) it shows
the landing dashboard of the caller's jurisdiction: its shell and KPIs at once
(:func:`api.services.landing.landing_shell`), and a small script (``/static/landing.js``) that
fetches each heavy part from ``/api/v1/landing/{part}`` (:mod:`api.routes.landing`, where the
near-repeat risk zones are audited as the JSON route audits them), all released for the
caller exactly as the JSON API releases each part.

``GET /map`` is the map workspace: the page holds only its configuration for the caller
(:func:`api.services.workspace.workspace_config`: layers, places and categories the caller may
choose, the outline of their world); its script fetches every layer from the JSON API, which
releases it. Without a valid key a browser goes to the login page, an API client gets 401.

Page assets (``/static/…``, ``/favicon.ico``) need no key. The pages are not part of the
OpenAPI document; the role matrix (``tests/api/test_app_matrix.py``) lists them with the JSON
endpoints.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse

from api.access import authenticate
from api.auth import SESSION_COOKIE, ApiKey
from api.deps import CurrentKey, VisibilityDep, get_service_context
from api.errors import NotAuthenticatedError
from api.release import visibility_for
from api.routes.auth import login_form
from api.services import ServiceContext
from api.services.landing import landing_shell
from api.services.workspace import workspace_config
from api.web import (
    asset_response,
    csrf_token,
    page_language,
    render_page,
    server_secret,
    static_path,
)
from api.web_text import workspace_texts

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The icon of pingan's pages."""
    return asset_response(static_path, "favicon.ico", what="page asset")


@router.get("/static/{name}")
def get_static(name: str) -> FileResponse:
    """A page asset (style sheet, icon)."""
    return asset_response(static_path, name, what="page asset")


def _landing_context(ctx: ServiceContext, key: ApiKey) -> dict:
    """Compute the dashboard's shell (blocking: services read the database)."""
    with ctx.engine.connect() as conn:
        vis = visibility_for(conn, key, ctx.settings)
    return {"board": landing_shell(ctx, vis), "key_name": key.name, "role": key.role,
            "raw": vis.raw}


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    ctx: Annotated[ServiceContext, Depends(get_service_context)],
) -> HTMLResponse:
    """The landing dashboard of the caller's jurisdiction, or the login form without a session."""
    session = request.cookies.get(SESSION_COOKIE)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" and value.strip() else None
    if bearer is None and not session:
        return await login_form(request, next_url="/")
    try:
        key = await run_in_threadpool(authenticate, request, bearer=bearer, cookie=session)
    except NotAuthenticatedError:
        return await login_form(request, next_url="/")
    context = await run_in_threadpool(_landing_context, ctx, key)
    context["csrf"] = (csrf_token(await server_secret(request), session)
                       if bearer is None and session else None)
    return render_page(request, "landing.html", context)


def _session_csrf(request: Request, secret: str) -> str | None:
    session = request.cookies.get(SESSION_COOKIE)
    if request.headers.get("authorization") or not session:
        return None
    return csrf_token(secret, session)


@router.get("/map", response_class=HTMLResponse)
async def map_workspace(
    request: Request,
    ctx: Annotated[ServiceContext, Depends(get_service_context)],
    key: CurrentKey,
    vis: VisibilityDep,
) -> HTMLResponse:
    """The map workspace: layers and in-page controls over the caller's jurisdiction."""
    config = await run_in_threadpool(workspace_config, ctx, vis)
    csrf = _session_csrf(request, await server_secret(request))
    return render_page(request, "workspace.html",
                       {"config": config, "key_name": key.name, "role": key.role,
                        "csrf": csrf, "texts": workspace_texts(page_language(request))})
