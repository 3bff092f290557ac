"""``/api/v1/communities``: community boundaries and attributes (no incident data: every role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import (
    BboxParam,
    CurrentKey,
    LimitParam,
    ListFormat,
    OffsetParam,
    SessionDep,
    SettingsDep,
    parse_bbox,
    provenance,
    render,
    render_one,
)
from api.errors import NotFoundError
from api.schemas import CommunityDetail, CommunityList, responses
from api.store import read_communities

__all__ = ["router"]

router = APIRouter(prefix="/communities", tags=["communities"])

_COLUMNS = ["code", "name", "subdistrict_code", "subdistrict", "district_code", "district",
            "population", "households", "geometry"]


@router.get("", response_model=CommunityList,
            responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
def list_communities(
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    district: Annotated[str | None, Query(description="district code or name",
                                          max_length=200)] = None,
    subdistrict: Annotated[str | None, Query(description="subdistrict code or name",
                                             max_length=200)] = None,
    bbox: BboxParam = None,
    limit: LimitParam = 1000,
    offset: OffsetParam = 0,
    format: ListFormat = "json",
) -> Response:
    """List the current communities, by code, with optional filters and pagination."""
    box = parse_bbox(bbox)
    frame = read_communities(conn, district=district, subdistrict=subdistrict, bbox=box)
    page = frame.iloc[offset:offset + limit]
    return render(page[_COLUMNS], format, provenance(conn, settings), filename="communities",
                  page={"total": len(frame), "limit": limit, "offset": offset})


@router.get("/{code}", response_model=CommunityDetail,
            responses=responses(400, 401, 403, 404, 422, 429, geojson=True))
def get_community(
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    code: Annotated[str, Path(description="community code", max_length=64)],
    format: Annotated[str, Query(pattern="^(json|geojson)$")] = "json",
) -> Response:
    """One community by code (retired communities too, flagged by their absence from lists)."""
    frame = read_communities(conn, codes=[code], include_retired=True)
    if frame.empty:
        raise NotFoundError(f"no community with code {code!r}")
    return render_one(frame[_COLUMNS], format, provenance(conn, settings),
                      filename=f"community-{code}")
