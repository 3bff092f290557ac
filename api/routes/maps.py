"""``/maps/<kind>``: the interactive maps as HTML pages, and ``/maps/assets/…`` they load.

Pages are built for the caller's visibility (:mod:`api.release`): an admin's incident map
shows points; a liaison's the points of their jurisdiction (a district outside it is a 403);
planners and clients get incidents only as cells of the published grid with counts released by
the cell-key method, and hot spots as classes only. A page that holds incident points is
audited like any raw read, with the number of points it holds. Every asset a page needs
is served from ``/maps/assets`` (no request leaves pingan); the assets need no key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from api import audit
from api.deps import (
    CategoryParam,
    CurrentKey,
    EngineDep,
    PeriodDep,
    SelectionDep,
    ServiceDep,
    VisibilityDep,
)
from api.schemas import responses
from api.services.maps import MAP_KINDS, build_map
from api.web import asset_response
from maps import asset_path, render_html

__all__ = ["router"]

router = APIRouter(prefix="/maps", tags=["maps"])

Kind = Literal["incidents", "rates", "hotspots", "emerging", "kde", "near-repeat", "alerts",
               "protection", "coverage", "standard"]
_HTML: dict[int | str, Any] = {200: {"content": {"text/html": {"schema": {"type": "string"}}}}}


@router.get("/assets/{name:path}", include_in_schema=False)
def get_asset(name: str) -> FileResponse:
    """Serve a vendored map asset (Leaflet, plugins, pingan's own script and styles)."""
    return asset_response(asset_path, name, what="map asset")


@router.get("/{kind}", response_class=HTMLResponse,
            responses={**responses(400, 401, 403, 404, 409, 422, 429), **_HTML})
def get_map(
    request: Request,
    kind: Annotated[Kind, Path(description=", ".join(MAP_KINDS))],
    ctx: ServiceDep,
    engine: EngineDep,
    key: CurrentKey,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    category: CategoryParam = None,
    type: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_\-]+$",
                                      description="the coverage map's facility type")] = None,
    on: Annotated[Literal["rate", "grid"], Query(
        description="the hot-spot map's unit")] = "rate",
    lang: Annotated[Literal["zh", "en"] | None, Query(description="labels")] = None,
    reach: Annotated[Literal["line", "walk", "drive"], Query(
        description="the coverage map's reach: straight line, or along roads")] = "line",
) -> HTMLResponse:
    """An interactive map page (Leaflet, offline assets), as the caller may see it."""
    built = build_map(ctx, vis, kind, period=period, categories=category or [],
                      facility_type=type, selection=area, hotspots_on=on, language=lang,
                      reach=reach)
    html = render_html(built.map, asset_base="/maps/assets/")
    raw = built.incidents_released is not None
    if raw:
        audit.record_request(engine, request, "read_incidents", key=key,
                             rows=built.incidents_released)
    return HTMLResponse(html, headers={"Cache-Control": "no-store" if raw
                                       else "private, max-age=0"})
