"""``/api/v1/aggregates``: incident counts by community and on a fixed grid, for every role.

Small counts are suppressed (:mod:`api.privacy`) for planner and client keys everywhere, and for
liaison keys outside their jurisdiction; admin keys see every count. Grid cells are at least
``settings.api.min_grid_cell_m`` metres on a side for every role, on a fixed origin. No incident
position appears in any response. Results are cached per data version, query and disclosure
rule (in each server process).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.db import data_version
from api.deps import (
    BboxParam,
    CategoryParam,
    CurrentKey,
    ListFormat,
    PeriodParam,
    ServiceDep,
    SessionDep,
    SettingsDep,
    case_definition,
    parse_bbox,
    period_or_default,
    provenance,
    render,
)
from api.errors import FieldError, InvalidParameterError
from api.privacy import community_aggregate, disclosure_for, grid_aggregate, grid_metric_crs
from api.schemas import CommunityAggregateList, GridCellList, responses
from api.store import IncidentQuery

__all__ = ["router"]

router = APIRouter(prefix="/aggregates", tags=["aggregates"])

CasesOnlyParam = Annotated[bool, Query(
    description="count only records that count as cases under the configured case definition "
                "(as /rates does); false counts every record")]


@router.get("/communities", response_model=CommunityAggregateList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def count_by_community(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    category: CategoryParam = None,
    district: Annotated[str | None, Query(description="district code or name",
                                          max_length=200)] = None,
    subdistrict: Annotated[str | None, Query(description="subdistrict code or name",
                                             max_length=200)] = None,
    bbox: BboxParam = None,
    cases_only: CasesOnlyParam = True,
    format: ListFormat = "json",
) -> Response:
    """Incident counts and the rate per 10,000 residents of each community for a period."""
    box = parse_bbox(bbox)
    per = period_or_default(conn, period, timezone=settings.timezone)
    definition = case_definition(settings, cases_only=cases_only)
    disclosure = disclosure_for(conn, key, min_count=settings.api.min_count_shown)
    cats = tuple(sorted(set(category or ())))
    agg = ctx.cached(
        "aggregates.communities",
        (per, cats, district, subdistrict, box, definition, disclosure),
        lambda: community_aggregate(
            conn, period=per, timezone=settings.timezone, definition=definition,
            disclosure=disclosure, categories=cats, district=district,
            subdistrict=subdistrict, bbox=box),
        version=data_version(conn))
    prov = provenance(conn, settings, period=per, left_out=agg.left_out,
                      suppressed=agg.suppressed, counted=agg.total,
                      case_definition=definition.as_sql_lists() | {"cases_only": cases_only})
    return render(agg.frame, format, prov, filename="incidents-by-community")


@router.get("/grid", response_model=GridCellList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def count_on_grid(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    category: CategoryParam = None,
    cell_m: Annotated[float | None, Query(
        description="cell size in metres (at least the configured minimum, 250 m by "
                    "default); default: the configured grid cell", le=100_000)] = None,
    bbox: BboxParam = None,
    cases_only: CasesOnlyParam = True,
    format: ListFormat = "json",
) -> Response:
    """Incident counts in the non-empty cells of the fixed grid for a period."""
    size = settings.geo.grid_cell_m if cell_m is None else cell_m
    floor = settings.api.min_grid_cell_m
    if not size >= floor:
        raise InvalidParameterError(
            f"cell_m must be at least {floor:g} m; got {size:g}",
            errors=[FieldError("query.cell_m", f"must be >= {floor:g} (metres); got {size:g}")])
    box = parse_bbox(bbox)
    per = period_or_default(conn, period, timezone=settings.timezone)
    definition = case_definition(settings, cases_only=cases_only)
    query = IncidentQuery(period=per, timezone=settings.timezone,
                          categories=tuple(sorted(set(category or ()))), bbox=box,
                          case_definition=definition)
    disclosure = disclosure_for(conn, key, min_count=settings.api.min_count_shown)
    agg = ctx.cached(
        "aggregates.grid", (query, size, disclosure),
        lambda: grid_aggregate(conn, query, cell_m=size,
                               metric_crs=grid_metric_crs(conn, settings.geo.metric_crs),
                               disclosure=disclosure),
        version=data_version(conn))
    prov = provenance(conn, settings, period=per, left_out=agg.left_out,
                      suppressed=agg.suppressed, counted=agg.total, metric_crs=agg.metric_crs,
                      cell_m=size,
                      case_definition=definition.as_sql_lists() | {"cases_only": cases_only})
    return render(agg.frame, format, prov, filename="incidents-grid")
