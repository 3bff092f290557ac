"""``/api/v1/incidents``: raw incidents, for admins and for liaisons inside their jurisdiction.

Planner and client keys get 403. A liaison's every query is intersected with their
jurisdiction (the assigned community's district or subdistrict code), whatever the filters
say; incidents in no community are in no jurisdiction. Every response is audited with its
parameters and the number of rows returned, and is sent with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import audit
from api.deps import (
    BboxParam,
    CategoryParam,
    EngineDep,
    LimitParam,
    ListFormat,
    OffsetParam,
    PeriodParam,
    RawReaderKey,
    SessionDep,
    SettingsDep,
    parse_bbox,
    provenance,
    render,
)
from api.errors import FieldError, InvalidParameterError
from api.schemas import IncidentList, responses
from api.store import IncidentQuery, count_incidents, read_incidents
from geo.period import parse_period

__all__ = ["INCIDENT_COLUMNS", "router"]

router = APIRouter(prefix="/incidents", tags=["incidents"])

#: Columns of an incident row (plus ``geometry`` in GeoJSON).
INCIDENT_COLUMNS = ["id", "occurred_at", "category", "status", "address", "location_precision",
                    "community_code", "reported_community", "longitude", "latitude"]


@router.get("", response_model=IncidentList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def list_incidents(
    request: Request,
    conn: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    key: RawReaderKey,
    period: PeriodParam = None,
    category: CategoryParam = None,
    community: Annotated[list[str] | None, Query(
        description="only incidents assigned to these community codes (repeatable)")] = None,
    bbox: BboxParam = None,
    limit: LimitParam = 1000,
    offset: OffsetParam = 0,
    format: ListFormat = "json",
) -> Response:
    """List raw incidents by time, with filters and pagination (audited)."""
    box = parse_bbox(bbox)
    per = None
    if period is not None and period.strip():
        try:
            per = parse_period(period)
        except ValueError as exc:
            raise InvalidParameterError(str(exc), errors=[FieldError("query.period", str(exc))]
                                   ) from None
    query = IncidentQuery(
        period=per, timezone=settings.timezone, categories=tuple(category or ()),
        communities=tuple(community or ()), bbox=box,
        jurisdictions=key.jurisdictions if key.restricted else None)
    total = count_incidents(conn, query)
    frame = read_incidents(conn, query, limit=limit, offset=offset)
    frame["occurred_at"] = frame["occurred_at"].dt.tz_convert(settings.timezone)
    located = ~frame.geometry.isna().to_numpy()
    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    if located.any():
        lon[located] = frame.geometry[located].x.to_numpy()
        lat[located] = frame.geometry[located].y.to_numpy()
    frame["longitude"] = lon
    frame["latitude"] = lat
    prov = provenance(conn, settings, period=per,
                      jurisdictions=list(key.jurisdictions) if key.restricted else None)
    response = render(frame[[*INCIDENT_COLUMNS, "geometry"]], format, prov, filename="incidents",
                      page={"total": total, "limit": limit, "offset": offset}, sensitive=True)
    audit.record_request(engine, request, "read_incidents", key=key, rows=len(frame))
    return response
