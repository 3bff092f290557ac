"""``/api/v1/rates``, ``/api/v1/trend`` and ``/api/v1/hotspots``: case rates, series, hot spots.

Counts of 1–2 (below ``api.min_count_shown``) and every figure derived from them are suppressed
for planner and client keys, and for liaison keys outside their jurisdiction (:mod:`api.privacy`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import (
    CategoryParam,
    CurrentKey,
    ListFormat,
    PeriodParam,
    ServiceDep,
    SessionDep,
    SettingsDep,
    TableFormat,
    period_or_default,
    render_report,
)
from api.errors import FieldError, InvalidParameterError
from api.privacy import suppress, suppress_for_key, suppress_for_level
from api.schemas import HotspotList, RateList, TrendList, responses
from api.services.rates import hotspots_report, rates_report, rates_result, trend_report

__all__ = ["RATE_COUNTS", "RATE_DERIVED", "router"]

router = APIRouter(tags=["rates"])

Level = Literal["community", "subdistrict", "district", "city"]
LevelParam = Annotated[Level, Query(description="community, or rolled up")]
CompareParam = Annotated[Literal["previous", "last-year"] | None, Query(
    description="compare with the previous period of the same kind or the same period a "
                "year before")]

RATE_COUNTS = ["cases", "compare_cases"]
RATE_DERIVED = ["case_rate_per_10k", "case_rate_per_10k_annual", "case_rate_eb_per_10k_annual",
                "compare_case_rate_per_10k_annual", "case_change_pct", "p_change", "p_rise",
                "q_change", "q_rise", "case_rise_significant"]


@router.get("/rates", response_model=RateList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def get_rates(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    compare: CompareParam = None,
    level: LevelParam = "community",
    category: CategoryParam = None,
    format: ListFormat = "json",
) -> Response:
    """Case rates per 10,000 residents (万人发案率), smoothed, with the tested change."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    rep = rates_report(ctx, period=per, compare=compare, level=level,
                       categories=category or [])
    frame = rep.frame
    counts = [c for c in RATE_COUNTS if c in frame.columns]
    derived = [c for c in RATE_DERIVED if c in frame.columns]
    frame = suppress_for_level(conn, key, frame, counts, derived,
                               min_count=settings.api.min_count_shown, level=level)
    return render_report(replace(rep, frame=frame), format, conn, settings,
                         filename=f"rates-{level}")


@router.get("/trend", response_model=TrendList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True))
def get_trend(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    by: Annotated[Literal["month", "hour-weekday"], Query(
        description="monthly series, or local weekday (0 = Monday) × hour")] = "month",
    community: Annotated[str | None, Query(max_length=64,
                                           description="a community code; default the city")
                         ] = None,
    category: CategoryParam = None,
    format: TableFormat = "json",
) -> Response:
    """Cases by month, or by local weekday and hour, of one community or the whole city."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    rep = trend_report(ctx, period=per, by=by, community=community,
                       categories=category or [])
    frame = suppress_for_key(conn, key, rep.frame, ["cases"], [],
                             min_count=settings.api.min_count_shown)
    return render_report(replace(rep, frame=frame), format, conn, settings,
                         filename=f"trend-{by}")


@router.get("/hotspots", response_model=HotspotList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def get_hotspots(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    on: Annotated[Literal["rate", "grid"], Query(
        description="smoothed community rates, or a square grid of incident counts")] = "rate",
    cell_m: Annotated[float | None, Query(
        description="grid cell in metres (at least the configured minimum, 250 m)",
        le=100_000)] = None,
    category: CategoryParam = None,
    fdr: Annotated[bool, Query(description="class on FDR-adjusted p-values")] = False,
    format: ListFormat = "json",
) -> Response:
    """Getis-Ord Gi* hot and cold spots at 90/95/99 % confidence (999 permutations)."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    size = settings.geo.grid_cell_m if cell_m is None else cell_m
    if on == "grid" and not size >= settings.api.min_grid_cell_m:
        floor = settings.api.min_grid_cell_m
        raise InvalidParameterError(
            f"cell_m must be at least {floor:g} m; got {size:g}",
            errors=[FieldError("query.cell_m", f"must be >= {floor:g} (metres); got {size:g}")])
    rep = hotspots_report(ctx, period=per, on=on, cell_m=size, categories=category or [],
                          fdr=fdr)
    min_count = settings.api.min_count_shown
    if on == "grid":
        # A cell's value is its incident count: shown exactly to admins only.
        frame = suppress(rep.frame, ["value"], [], min_count=min_count,
                         where=pd.Series(key.role != "admin", index=rep.frame.index))
    else:
        # A community's value is its smoothed rate, derived from its case count.
        cases = rates_result(ctx, per, categories=category or []).frame["cases"]
        frame = rep.frame.assign(cases=rep.frame["code"].map(cases).fillna(0))
        frame = suppress_for_key(conn, key, frame, ["cases"], ["value"],
                                 min_count=min_count).drop(columns="cases")
    return render_report(replace(rep, frame=frame), format, conn, settings,
                         filename=f"hotspots-{on}")
