"""``/api/v1/emerging``: emerging hot spots of the grid cells (space-time Gi*, Mann-Kendall).

Computed and released by :mod:`api.services.emerging` for the caller (:mod:`api.release`):
exact inside an admin's or a liaison's world, with the statistics and the count of every
step; for planner and client keys the category of each published cell only, from counts
released by the cell-key method.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import (
    CategoryParam,
    ListFormat,
    PeriodDep,
    SelectionDep,
    ServiceDep,
    VisibilityDep,
)
from api.provenance import CsvDep
from api.render import render_report
from api.schemas import responses
from api.schemas_spacetime import EmergingList
from api.services.emerging import emerging_report

__all__ = ["router"]

router = APIRouter(tags=["space-time"])


@router.get("/emerging", response_model=EmergingList,
            responses=responses(400, 401, 403, 404, 409, 422, 429, csv=True, geojson=True))
def get_emerging(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    step: Annotated[Literal["month", "week"], Query(
        description="time step of the cube: calendar months, or weeks Monday to Sunday (not "
                    "for planner and client keys); the period must hold at least 10")
    ] = "month",
    cell_m: Annotated[float | None, Query(
        description="grid cell in metres: 250, 500, 1000 or 2000 (planner and client keys), "
                    "at least 250 otherwise", le=100_000)] = None,
    cell_neighbours: Annotated[int, Query(
        ge=0, le=5, description="rings of neighbouring cells (1: the 3 × 3 square)")] = 1,
    time_neighbours: Annotated[int, Query(
        ge=0, le=12, description="earlier steps in a bin's neighbourhood")] = 1,
    category: CategoryParam = None,
    format: ListFormat = "json",
) -> Response:
    """Emerging hot spots (新增/连续/加强/持续/减弱/零星/振荡/历史热点): ArcGIS Pro's categories."""
    rep = emerging_report(ctx, vis, period=period, step=step, cell_m=cell_m,
                          cell_neighbours=cell_neighbours, time_neighbours=time_neighbours,
                          categories=category or [], selection=area)
    return render_report(ctx, rep, format, filename=f"emerging-{step}", csv=csv)
