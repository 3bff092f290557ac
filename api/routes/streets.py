"""``/api/v1/roads``: the street lines of the caller's area (the workspace's background).

No incident data: every role may read them; a liaison gets the streets meeting their own
communities, and a place named outside their jurisdiction is a 403 as everywhere else
(:mod:`api.services.streets`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import SelectionDep, ServiceDep, VisibilityDep
from api.render import render_report
from api.schemas import responses
from api.services.streets import streets_report

__all__ = ["router"]

router = APIRouter(tags=["roads"])


@router.get("/roads", responses=responses(400, 401, 403, 404, 422, 429, geojson=True))
def get_roads(
    ctx: ServiceDep,
    vis: VisibilityDep,
    area: SelectionDep,
    format: Annotated[Literal["json", "geojson"], Query(
        description="GeoJSON lines (default), or rows without geometry")] = "geojson",
) -> Response:
    """Street lines (class and name) meeting the caller's area or the places selected."""
    rep = streets_report(ctx, vis, selection=area)
    frame = rep.frame.drop(columns="geometry") if format == "json" else rep.frame
    return render_report(ctx, type(rep)(frame, rep.provenance, rep.title), format,
                         filename="roads")
