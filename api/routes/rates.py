"""``/api/v1/rates``, ``/api/v1/trend`` and ``/api/v1/hotspots``: case rates, series, hot spots.

Everything is computed and released by the services for the caller (:mod:`api.release`):
exact inside an admin's or a liaison's world; for planner and client keys from counts released
by the cell-key method, with hot spots as classes only. The serialised answers are cached per
data version, parameters, format and visibility key (:func:`api.render.cached_response`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import (
    CategoryParam,
    ListFormat,
    PeriodDep,
    SelectionDep,
    ServiceDep,
    TableFormat,
    VisibilityDep,
)
from api.provenance import CsvDep
from api.render import cached_response, render_report
from api.schemas import HotspotList, RateList, TrendList, responses
from api.services.rates import hotspots_report, rates_report, trend_report

__all__ = ["router"]

router = APIRouter(tags=["rates"])

Level = Literal["community", "subdistrict", "district", "city"]
LevelParam = Annotated[Level, Query(description="community, or rolled up")]
CompareParam = Annotated[Literal["previous", "last-year"] | None, Query(
    description="compare with the previous period of the same kind or the same period a "
                "year before")]


@router.get("/rates", response_model=RateList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def get_rates(
    request: Request,
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    compare: CompareParam = None,
    level: LevelParam = "community",
    category: CategoryParam = None,
    format: ListFormat = "json",
) -> Response:
    """Case rates per 10,000 residents (万人发案率), smoothed, with the tested change."""
    def build() -> Response:
        rep = rates_report(ctx, vis, period=period, compare=compare, level=level,
                           categories=category or [], selection=area)
        return render_report(ctx, rep, format, filename=f"rates-{level}", csv=csv)
    return cached_response(ctx, vis, request, build)


@router.get("/trend", response_model=TrendList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True))
def get_trend(
    request: Request,
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    by: Annotated[Literal["month", "hour-weekday"], Query(
        description="monthly series, or local weekday (0 = Monday) × hour (not for planner "
                    "and client keys)")] = "month",
    category: CategoryParam = None,
    format: TableFormat = "json",
) -> Response:
    """Cases by month, or by local weekday and hour, of a place or the caller's whole area."""
    def build() -> Response:
        rep = trend_report(ctx, vis, period=period, by=by, selection=area,
                           categories=category or [])
        return render_report(ctx, rep, format, filename=f"trend-{by}", csv=csv)
    return cached_response(ctx, vis, request, build)


@router.get("/hotspots", response_model=HotspotList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def get_hotspots(
    request: Request,
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    on: Annotated[Literal["rate", "grid"], Query(
        description="smoothed community rates, or a square grid of incident counts")] = "rate",
    cell_m: Annotated[float | None, Query(
        description="grid cell in metres: 250, 500, 1000 or 2000 (planner and client keys), "
                    "at least 250 otherwise", le=100_000)] = None,
    category: CategoryParam = None,
    fdr: Annotated[bool, Query(description="class on FDR-adjusted p-values")] = False,
    format: ListFormat = "json",
) -> Response:
    """Getis-Ord Gi* hot and cold spots at 90/95/99 % confidence (999 permutations)."""
    def build() -> Response:
        rep = hotspots_report(ctx, vis, period=period, on=on, cell_m=cell_m,
                              categories=category or [], fdr=fdr, selection=area)
        return render_report(ctx, rep, format, filename=f"hotspots-{on}", csv=csv)
    return cached_response(ctx, vis, request, build)
