"""``/api/v1/incidents``: raw incidents, for admins and for liaisons inside their jurisdiction.

Planner and client keys get 403. A liaison's every query stays inside their world (the
communities of their districts or subdistricts), whatever the filters say; a place named
outside it is a 403, a bbox reaching outside it is clipped (``clipped`` in the provenance);
incidents in no community are admin-only. Every response is audited with its parameters and
the number of rows returned, and is sent with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import audit
from api.deps import (
    CategoryParam,
    EngineDep,
    LimitParam,
    ListFormat,
    OffsetParam,
    PeriodParam,
    RawReaderKey,
    SelectionDep,
    ServiceDep,
    VisibilityDep,
)
from api.provenance import CsvDep
from api.render import render_report
from api.schemas import IncidentList, responses
from api.services.incidents import incidents_report

__all__ = ["router"]

router = APIRouter(prefix="/incidents", tags=["incidents"])


@router.get("", response_model=IncidentList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def list_incidents(
    csv: CsvDep,
    request: Request,
    ctx: ServiceDep,
    engine: EngineDep,
    key: RawReaderKey,
    vis: VisibilityDep,
    area: SelectionDep,
    period: PeriodParam = None,
    category: CategoryParam = None,
    limit: LimitParam = 1000,
    offset: OffsetParam = 0,
    format: ListFormat = "json",
) -> Response:
    """List raw incidents by time, with filters and pagination (audited)."""
    per = ctx.period(period) if period is not None else None
    rep, total = incidents_report(ctx, vis, period=per, categories=category or [],
                                  selection=area, limit=limit, offset=offset)
    response = render_report(ctx, rep, format, filename="incidents",
                             page={"total": total, "limit": limit, "offset": offset},
                             sensitive=True, csv=csv)
    audit.record_request(engine, request, "read_incidents", key=key, rows=len(rep.frame))
    return response
