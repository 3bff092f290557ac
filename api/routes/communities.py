"""``/api/v1/communities``: community boundaries and attributes (no incident data).

Every role may list communities; a liaison's list holds the communities of their
jurisdiction only, and a community outside it is a 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import LimitParam, ListFormat, OffsetParam, SelectionDep, ServiceDep, VisibilityDep
from api.provenance import CsvDep
from api.render import base_provenance, render, render_one
from api.schemas import CommunityDetail, CommunityList, responses
from api.services.incidents import communities_report, community_report

__all__ = ["router"]

router = APIRouter(prefix="/communities", tags=["communities"])


@router.get("", response_model=CommunityList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def list_communities(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    area: SelectionDep,
    limit: LimitParam = 1000,
    offset: OffsetParam = 0,
    format: ListFormat = "json",
) -> Response:
    """List the caller's communities, by code, with optional filters and pagination."""
    rep = communities_report(ctx, vis, selection=area)
    frame = rep.frame
    prov = base_provenance(ctx) | dict(rep.provenance)
    return render(frame.iloc[offset:offset + limit], format, prov, filename="communities",
                  page={"total": len(frame), "limit": limit, "offset": offset}, csv=csv)


@router.get("/{code}", response_model=CommunityDetail,
            responses=responses(400, 401, 403, 404, 422, 429, geojson=True))
def get_community(
    ctx: ServiceDep,
    vis: VisibilityDep,
    code: Annotated[str, Path(description="community code", max_length=64)],
    format: Annotated[str, Query(pattern="^(json|geojson)$")] = "json",
) -> Response:
    """One community by code (retired communities too, flagged by their absence from lists)."""
    rep = community_report(ctx, vis, code)
    return render_one(rep.frame, format, base_provenance(ctx) | dict(rep.provenance),
                      filename=f"community-{code}")
