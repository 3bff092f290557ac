"""``/api/v1/protection``, ``/coverage``, ``/gaps``, ``/workload`` and ``/site-plans``.

Cameras, compounds, facility service areas and gaps hold no incident data and are open to every
role; the incident counts in protection (cases in camera view) and workload (cases per facility)
are suppressed below ``api.min_count_shown`` as for the other aggregates.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import audit
from api.deps import (
    CurrentKey,
    EngineDep,
    ListFormat,
    PeriodParam,
    ServiceDep,
    SessionDep,
    SettingsDep,
    client_address,
    endpoint_label,
    period_or_default,
    render_report,
)
from api.privacy import suppress, suppress_for_level
from api.schemas import (
    BlindSpotList,
    CoverageList,
    GapList,
    ProtectionList,
    SitePlanIn,
    SitePlanOut,
    WorkloadList,
    responses,
)
from api.services.coverage import (
    blind_spots_report,
    coverage_report,
    gaps_report,
    protection_report,
    site_plan_report,
    workload_report,
)

__all__ = ["router"]

router = APIRouter(tags=["coverage"])

Level = Literal["community", "subdistrict", "district", "city"]
LevelParam = Annotated[Level, Query(description="community, or rolled up")]
TypeParam = Annotated[str, Query(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$",
    description="facility type: police_station, police_office, service_station, "
                "health_station, health_center, fire_station or any loaded type")]
RadiusParam = Annotated[float | None, Query(
    gt=0, le=50_000, description="service radius in metres (default: the type's)")]


@router.get("/protection", response_model=ProtectionList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def get_protection(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    level: LevelParam = "community",
    format: ListFormat = "json",
) -> Response:
    """Cameras (count, working ratio, density, view coverage) and compound compliance."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    rep = protection_report(ctx, period=per, level=level)
    frame = suppress_for_level(conn, key, rep.frame, ["incidents_total", "incidents_in_view"],
                               ["incidents_in_view_share"],
                               min_count=settings.api.min_count_shown, level=level)
    return render_report(replace(rep, frame=frame), format, conn, settings,
                         filename=f"protection-{level}")


@router.get("/protection/blind-spots", response_model=BlindSpotList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def get_blind_spots(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    format: ListFormat = "geojson",
) -> Response:
    """Community area outside working camera view, per community (polygons)."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    return render_report(blind_spots_report(ctx, period=per), format, conn, settings,
                         filename="blind-spots")


@router.get("/coverage", response_model=CoverageList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def get_coverage(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    type: TypeParam,
    radius_m: RadiusParam = None,
    level: LevelParam = "community",
    period: PeriodParam = None,
    format: ListFormat = "json",
) -> Response:
    """Shares of area and residents within reach of a facility type, ranked by residents out."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    rep = coverage_report(ctx, facility_type=type, radius_m=radius_m, level=level, period=per)
    return render_report(rep, format, conn, settings, filename=f"coverage-{type}-{level}")


@router.get("/gaps", response_model=GapList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def get_gaps(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    type: TypeParam,
    radius_m: RadiusParam = None,
    period: PeriodParam = None,
    format: ListFormat = "geojson",
) -> Response:
    """Gap polygons (outside every service area of the type) with their estimated residents."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    rep = gaps_report(ctx, facility_type=type, radius_m=radius_m, period=per)
    return render_report(rep, format, conn, settings, filename=f"gaps-{type}")


@router.get("/workload", response_model=WorkloadList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def get_workload(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    type: TypeParam,
    period: PeriodParam = None,
    radius_m: RadiusParam = None,
    format: ListFormat = "json",
) -> Response:
    """Incidents per facility: nearest-facility catchment and incidents within the radius."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    rep = workload_report(ctx, facility_type=type, period=per, radius_m=radius_m)
    # Facility rows have no jurisdiction: their small counts are exact for admins only.
    frame = suppress(rep.frame, ["incidents_catchment", "incidents_within_radius"],
                     ["catchment_share", "within_radius_share"],
                     min_count=settings.api.min_count_shown,
                     where=pd.Series(key.role != "admin", index=rep.frame.index))
    return render_report(replace(rep, frame=frame), format, conn, settings,
                         filename=f"workload-{type}")


@router.post("/site-plans", response_model=SitePlanOut,
             responses=responses(400, 401, 403, 422, 429, geojson=True))
def post_site_plan(
    request: Request,
    ctx: ServiceDep,
    conn: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    key: CurrentKey,
    body: SitePlanIn,
    format: Annotated[Literal["json", "geojson"], Query()] = "json",
) -> Response:
    """Choose new facility sites that cover the most uncovered residents (maximal covering)."""
    per = period_or_default(conn, body.period, timezone=settings.timezone,
                            field="body.period")
    candidates = None
    if body.candidates:
        ids = [c.id or str(i + 1) for i, c in enumerate(body.candidates)]
        candidates = gpd.GeoDataFrame(
            {"id": pd.array(ids, dtype="string")},
            geometry=gpd.points_from_xy([c.lon for c in body.candidates],
                                        [c.lat for c in body.candidates]), crs="EPSG:4326")
    rep = site_plan_report(ctx, facility_type=body.facility_type, k=body.add,
                           radius_m=body.radius_m, candidates=candidates, period=per,
                           time_limit_s=body.time_limit_s)
    audit.record(engine, "site_plan", key=key, endpoint=endpoint_label(request),
                 params=body.model_dump(exclude={"candidates"}), rows=len(rep.frame),
                 status=200, client=client_address(request))
    return render_report(rep, format, conn, settings, filename="site-plan")
