"""``/api/v1/protection``, ``/coverage``, ``/gaps``, ``/workload`` and ``/site-plans``.

Cameras, compounds, facility service areas and gaps hold no incident data and are open to every
role (a liaison sees their own communities' rows); the incident counts in protection (cases in
camera view) and workload (cases per facility) are released as every other count is
(:mod:`api.release`).
"""

from __future__ import annotations

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
    PeriodDep,
    SelectionDep,
    ServiceDep,
    VisibilityDep,
    client_address,
    endpoint_label,
)
from api.provenance import CsvDep
from api.release import Visibility
from api.render import render_report
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
from api.services import Report, ServiceContext
from api.services.coverage import blind_spots_report, protection_report
from api.services.reach import (
    coverage_by_reach,
    gaps_by_reach,
    site_plan_by_reach,
    workload_by_reach,
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
ReachParam = Annotated[Literal["line", "walk", "drive"], Query(
    description="line: straight line; walk: metres along the roads; drive: minutes along "
                "drivable roads (walk and drive need a roads layer)")]
MinutesParam = Annotated[float | None, Query(
    gt=0, le=240, description="reach=drive: driving time in minutes (default: the type's)")]


@router.get("/protection", response_model=ProtectionList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def get_protection(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    level: LevelParam = "community",
    format: ListFormat = "json",
) -> Response:
    """Cameras (count, working ratio, density, view coverage) and compound compliance."""
    rep = protection_report(ctx, vis, period=period, level=level, selection=area)
    return render_report(ctx, rep, format, filename=f"protection-{level}", csv=csv)


@router.get("/protection/blind-spots", response_model=BlindSpotList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def get_blind_spots(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    format: ListFormat = "geojson",
) -> Response:
    """Community area outside working camera view, per community (polygons)."""
    rep = blind_spots_report(ctx, vis, period=period, selection=area)
    return render_report(ctx, rep, format, filename="blind-spots", csv=csv)


@router.get("/coverage", response_model=CoverageList,
            responses=responses(400, 401, 403, 404, 409, 422, 429, csv=True, geojson=True))
def get_coverage(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    type: TypeParam,
    radius_m: RadiusParam = None,
    level: LevelParam = "community",
    format: ListFormat = "json",
    reach: ReachParam = "line",
    minutes: MinutesParam = None,
) -> Response:
    """Shares of area and residents within reach of a facility type, ranked by residents out."""
    rep = coverage_by_reach(ctx, vis, reach=reach, minutes=minutes, facility_type=type,
                            radius_m=radius_m, level=level, period=period, selection=area)
    return render_report(ctx, rep, format, filename=f"coverage-{type}-{level}", csv=csv)


@router.get("/gaps", response_model=GapList,
            responses=responses(400, 401, 403, 404, 409, 422, 429, csv=True, geojson=True))
def get_gaps(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    type: TypeParam,
    radius_m: RadiusParam = None,
    format: ListFormat = "geojson",
    reach: ReachParam = "line",
    minutes: MinutesParam = None,
) -> Response:
    """Gap polygons (outside every service area of the type) with their estimated residents."""
    rep = gaps_by_reach(ctx, vis, reach=reach, minutes=minutes, facility_type=type,
                        radius_m=radius_m, period=period, selection=area)
    return render_report(ctx, rep, format, filename=f"gaps-{type}", csv=csv)


@router.get("/workload", response_model=WorkloadList,
            responses=responses(400, 401, 403, 409, 422, 429, csv=True, geojson=True))
def get_workload(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    type: TypeParam,
    radius_m: RadiusParam = None,
    format: ListFormat = "json",
    reach: ReachParam = "line",
    minutes: MinutesParam = None,
) -> Response:
    """Incidents per facility: nearest-facility catchment and incidents within the radius.

    ``radius_m`` is optional: without it the type's configured radius is used, and a type
    with none gets its catchments only (the nearest facility needs no radius).
    """
    rep = workload_by_reach(ctx, vis, reach=reach, minutes=minutes, facility_type=type,
                            period=period, radius_m=radius_m)
    return render_report(ctx, rep, format, filename=f"workload-{type}", csv=csv)


def _site_plan(ctx: ServiceContext, vis: Visibility, body: SitePlanIn) -> Report:
    per = ctx.period(body.period, parameter="body.period")
    candidates = None
    if body.candidates:
        ids = [c.id or str(i + 1) for i, c in enumerate(body.candidates)]
        candidates = gpd.GeoDataFrame(
            {"id": pd.array(ids, dtype="string")},
            geometry=gpd.points_from_xy([c.lon for c in body.candidates],
                                        [c.lat for c in body.candidates]), crs="EPSG:4326")
    return site_plan_by_reach(ctx, vis, reach=body.reach, minutes=body.minutes,
                              facility_type=body.site_type, k=body.add,
                              radius_m=body.radius_m, candidates=candidates, period=per,
                              time_limit_s=body.time_limit_s)


@router.post("/site-plans", response_model=SitePlanOut,
             responses=responses(400, 401, 403, 409, 422, 429, csv=True, geojson=True))
def post_site_plan(
    request: Request,
    csv: CsvDep,
    ctx: ServiceDep,
    engine: EngineDep,
    key: CurrentKey,
    vis: VisibilityDep,
    body: SitePlanIn,
    format: Annotated[Literal["json", "geojson", "csv", "provenance"], Query(
        description="json, geojson (points), csv (UTF-8 with BOM), or provenance (the "
                    "provenance document of the CSV of the same request and body)")] = "json",
) -> Response:
    """Choose new facility sites that cover the most uncovered residents (maximal covering).

    The body names the facility type ``type`` (``facility_type`` is a deprecated alias that
    still works). Each site comes with ``lon``/``lat`` and the community it lies in; the
    provenance's coverage before is the coverage report's figure (``/coverage``, city level).
    The plan is kept per caller's world, body and data version, so the same body sent again
    for another format (the workspace's CSV after its GeoJSON) gets the same sites at once.
    """
    rep = ctx.cached("site_plan", body.model_dump_json(), lambda: _site_plan(ctx, vis, body),
                     vis=vis)
    audit.record(engine, "site_plan", key=key, endpoint=endpoint_label(request),
                 params={**body.model_dump(exclude={"candidates"}), "format": format},
                 rows=len(rep.frame), status=200, client=client_address(request))
    return render_report(ctx, rep, format, filename="site-plan", csv=csv)
