"""``/api/v1/near-repeat``: the Knox table of near repeats, and ``/near-repeat/zones``.

Computed and released by :mod:`api.services.nearrepeat` for the caller (:mod:`api.release`):
an admin's or a liaison's table is made of the incidents of their selection (a liaison's of
their jurisdiction only) with every statistic; planner and client keys get the class of each
band only, over the city, a district or a subdistrict, and a selection of at least 50
incidents. Risk zones (incident positions and days) are for admin and liaison keys only:
planner and client keys get 403, and every answer is audited as a raw-incident read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import audit
from api.deps import (
    CategoryParam,
    EngineDep,
    ListFormat,
    PeriodDep,
    RawReaderKey,
    SelectionDep,
    ServiceDep,
    VisibilityDep,
)
from api.errors import FieldError, InvalidParameterError
from api.provenance import CsvDep
from api.render import render_report
from api.routes.alerts import as_of_date
from api.schemas import responses
from api.schemas_spacetime import KnoxList, RiskZoneList
from api.services.nearrepeat import knox_report, risk_zones_report

__all__ = ["router"]

router = APIRouter(prefix="/near-repeat", tags=["space-time"])

SpaceParam = Annotated[str, Query(
    max_length=200, pattern=r"^[0-9.,\s]+$",
    description="distance band edges in metres: 0 gives 'same location' (<= 0.5 m), then "
                "(0.5, 100], (100, 200] …")]
TimeParam = Annotated[str, Query(
    max_length=200, pattern=r"^[0-9,\s]+$",
    description="time band edges in whole days: 0 gives 'same day', then 1-7, 8-14 …")]
PermutationsParam = Annotated[int, Query(ge=0, le=9_999,
                                         description="Monte Carlo permutations of the days")]
SeedParam = Annotated[int, Query(ge=0, le=2**31 - 1, description="seed of the permutations")]


def _edges(text: str, name: str, kind: type) -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidParameterError(
            f"{name} must be comma-separated numbers",
            errors=[FieldError(f"query.{name}", f"not a list of numbers: {text!r}")]) from None


@router.get("", response_model=KnoxList,
            responses=responses(400, 401, 403, 404, 409, 422, 429, csv=True))
def get_near_repeat(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    space_m: SpaceParam = "0,100,200,400,800",
    time_days: TimeParam = "0,7,14,30,60",
    cumulative: Annotated[bool, Query(
        description="classic Knox counts d <= delta and t <= tau instead of bands")] = False,
    permutations: PermutationsParam = 999,
    seed: SeedParam = 20250101,
    category: CategoryParam = None,
    format: ListFormat = "json",
) -> Response:
    """Near repeats (近重复): the Knox table over distance × time bands (Near Repeat Calculator)."""
    rep = knox_report(ctx, vis, period=period, categories=category or [], selection=area,
                      space_m=_edges(space_m, "space_m", float),
                      time_days=_edges(time_days, "time_days", int), cumulative=cumulative,
                      permutations=permutations, seed=seed)
    return render_report(ctx, rep, format, filename="near-repeat", csv=csv)


@router.get("/zones", response_model=RiskZoneList,
            responses=responses(400, 401, 403, 404, 409, 422, 429, csv=True, geojson=True))
def get_risk_zones(
    csv: CsvDep,
    request: Request,
    ctx: ServiceDep,
    engine: EngineDep,
    key: RawReaderKey,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    as_of: Annotated[str | None, Query(
        max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="last day of data (default: the latest incident day of the selection)")
    ] = None,
    recent_days: Annotated[int, Query(
        ge=1, le=366, description="incidents of this many days up to as_of get zones")] = 14,
    space_m: SpaceParam = "0,100,200,400,800",
    time_days: TimeParam = "0,7,14,30,60",
    permutations: PermutationsParam = 999,
    seed: SeedParam = 20250101,
    category: CategoryParam = None,
    format: ListFormat = "json",
) -> Response:
    """Near-repeat risk zones (近重复风险区) around recent incidents (admin and liaison keys)."""
    rep, _ = risk_zones_report(ctx, vis, period=period, as_of=as_of_date(as_of),
                               recent_days=recent_days, categories=category or [],
                               selection=area, space_m=_edges(space_m, "space_m", float),
                               time_days=_edges(time_days, "time_days", int),
                               permutations=permutations, seed=seed)
    response = render_report(ctx, rep, format, filename="near-repeat-zones", sensitive=True,
                             csv=csv)
    audit.record_request(engine, request, "read_incidents", key=key, rows=len(rep.frame))
    return response
