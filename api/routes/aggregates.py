"""``/api/v1/aggregates``: incident counts by community and on the one grid, for every role.

Released by :mod:`api.services.aggregates`: exact for admin and inside a liaison's world; for
planner and client keys by the cell-key method with 1–2 shown as ``"<3"``, on whole months,
quarters or years and the published grid sizes. No incident position appears in any response.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CategoryParam, ListFormat, PeriodDep, SelectionDep, ServiceDep, VisibilityDep
from api.provenance import CsvDep
from api.render import render_report
from api.schemas import CommunityAggregateList, GridCellList, responses
from api.services.aggregates import community_counts_report, grid_counts_report

__all__ = ["router"]

router = APIRouter(prefix="/aggregates", tags=["aggregates"])

CasesOnlyParam = Annotated[bool, Query(
    description="count only records that count as cases under the configured case definition "
                "(as /rates does); false counts every record")]


@router.get("/communities", response_model=CommunityAggregateList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def count_by_community(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    category: CategoryParam = None,
    cases_only: CasesOnlyParam = True,
    format: ListFormat = "json",
) -> Response:
    """Incident counts and the rate per 10,000 residents of each community for a period."""
    rep = community_counts_report(ctx, vis, period=period, categories=category or [],
                                  cases_only=cases_only, selection=area)
    return render_report(ctx, rep, format, filename="incidents-by-community", csv=csv)


@router.get("/grid", response_model=GridCellList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def count_on_grid(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    category: CategoryParam = None,
    cell_m: Annotated[float | None, Query(
        description="cell size in metres: 250, 500, 1000 or 2000 for planner and client keys, "
                    "at least 250 otherwise; default: the configured grid cell",
        le=100_000)] = None,
    cases_only: CasesOnlyParam = True,
    format: ListFormat = "json",
) -> Response:
    """Incident counts in the non-empty cells of the one grid for a period."""
    size = ctx.settings.geo.grid_cell_m if cell_m is None else cell_m
    rep = grid_counts_report(ctx, vis, period=period, cell_m=size, categories=category or [],
                             cases_only=cases_only, selection=area)
    return render_report(ctx, rep, format, filename="incidents-grid", csv=csv)
