"""``/maps/<kind>``: the interactive maps as HTML pages, and ``/maps/assets/…`` they load.

Pages are built for the caller's visibility (:mod:`api.release`): an admin's incident map
shows points; a liaison's the points of their jurisdiction (a district outside it is a 403);
planners and clients get incidents only as cells of the published grid with counts released by
the cell-key method, and hot spots as classes only. A page that holds incident points is
audited like any raw read, with the number of points it holds. Every asset a page needs
is served from ``/maps/assets`` (no request leaves pingan); the assets need no key.

``format=png`` answers a picture of the same page, taken on the server by headless Chromium
(:func:`api.services.maps.map_png`): the map is built by the same call for the same caller, so
the release rules are the page's; the picture is cached per data version, the caller's world
(:attr:`api.release.Visibility.world_key`), role and parameters, and a raw reader's picture of
incident points is audited as the page is. Without Chromium the answer is a 409 naming the
package to install.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

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
from api.services.maps import MAP_KINDS, build_map, map_png
from api.web import asset_response
from maps import asset_path, render_html

__all__ = ["router"]

router = APIRouter(prefix="/maps", tags=["maps"])

Kind = Literal["incidents", "rates", "hotspots", "emerging", "kde", "near-repeat", "alerts",
               "protection", "coverage", "standard"]
_HTML: dict[int | str, Any] = {200: {"content": {
    "text/html": {"schema": {"type": "string"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}}}}}


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
    format: Annotated[Literal["html", "png"], Query(
        description="the page, or a picture of it taken on the server (headless Chromium)")
    ] = "html",
) -> Response:
    """An interactive map page (Leaflet, offline assets), or its picture, as the caller sees it."""
    def build() -> Any:
        return build_map(ctx, vis, kind, period=period, categories=category or [],
                         facility_type=type, selection=area, hotspots_on=on, language=lang,
                         reach=reach)

    if format == "png":
        params = (kind, period.label, tuple(category or ()), type, on, lang, reach, area.key,
                  vis.role)

        def picture() -> tuple[bytes, int | None]:
            built = build()
            return map_png(built, browser=ctx.settings.maps.browser), built.incidents_released

        png, released = ctx.cached("map_png", params, picture, vis=vis)
    else:
        built = build()
        released = built.incidents_released
    raw = released is not None
    if raw:
        audit.record_request(engine, request, "read_incidents", key=key, rows=released)
    headers = {"Cache-Control": "no-store" if raw else "private, max-age=0"}
    if format == "png":
        return Response(png, media_type="image/png", headers={
            **headers, "Content-Disposition": f'inline; filename="map-{kind}.png"'})
    return HTMLResponse(render_html(built.map, asset_base="/maps/assets/"), headers=headers)
