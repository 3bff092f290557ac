"""``/api/v1/areas`` and ``/api/v1/search``: drawn areas, saved areas and the place search.

- ``POST /areas/query``: counts, rate, monthly trend and (raw readers, on request) the
  incidents of a drawn or picked area for a period, released for the caller by
  :func:`api.services.areas.area_report` (a liaison's area is clipped to their jurisdiction;
  a planner's or client's is a sum of released communities).
- ``GET /areas``, ``POST /areas``, ``DELETE /areas/{area_id}``: the caller's saved areas
  (:mod:`api.services.saved_areas`; another key's area is not found).
- ``GET /search?q=``: communities, facilities, roads and (raw readers) incident addresses by
  name inside the caller's world (:mod:`api.services.search`).

Every write (and the query, a POST) from a browser session carries the session's CSRF token
in ``X-CSRF-Token`` (:func:`api.access.authenticate` checks every session write); an incident
list or an address search that releases incidents is audited with its row count.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api import audit
from api.deps import CurrentKey, ServiceDep, VisibilityDep
from api.schemas import responses
from api.schemas_areas import (
    AreaQueryIn,
    AreaQueryOut,
    SavedAreaIn,
    SavedAreaList,
    SavedAreaOut,
    SearchOut,
)
from api.services.areas import area_report
from api.services.saved_areas import delete_area, list_areas, save_area
from api.services.search import search_places

__all__ = ["router"]

router = APIRouter(tags=["areas"])



@router.post("/areas/query", response_model=AreaQueryOut,
             responses=responses(400, 401, 403, 404, 422, 429))
def query_area(request: Request, ctx: ServiceDep, key: CurrentKey, vis: VisibilityDep,
               body: AreaQueryIn) -> dict:
    """Counts, rate per 10,000 residents, monthly trend and incidents of an area."""
    period = ctx.period(body.period, parameter="body.period")
    answer = area_report(ctx, vis, area=body.area.model_dump(exclude_none=True), period=period,
                         categories=body.category, hours=body.hours, weekdays=body.weekdays,
                         cases_only=body.cases_only, list_incidents=body.incidents,
                         limit=body.limit)
    if "items" in answer:
        audit.record_request(ctx.engine, request, "read_incidents", key=key,
                             rows=len(answer["items"]),
                             params=body.model_dump(exclude={"area"})
                             | {"area": answer["area"]["kind"]})
    return answer


@router.get("/areas", response_model=SavedAreaList,
            responses=responses(400, 401, 403, 422, 429))
def get_saved_areas(ctx: ServiceDep, key: CurrentKey, vis: VisibilityDep) -> dict:
    """The caller's saved areas, each re-checked against their jurisdiction now."""
    items = list_areas(ctx, vis, key)
    return {"count": len(items), "items": items}


@router.post("/areas", response_model=SavedAreaOut, status_code=201,
             responses=responses(400, 401, 403, 404, 409, 422, 429))
def post_saved_area(ctx: ServiceDep, key: CurrentKey, vis: VisibilityDep,
                    body: SavedAreaIn) -> dict:
    """Save an area under a name (unique per key)."""
    return save_area(ctx, vis, key, name=body.name,
                     spec=body.area.model_dump(exclude_none=True))


@router.delete("/areas/{area_id}", status_code=204,
               responses=responses(400, 401, 403, 404, 422, 429))
def delete_saved_area(ctx: ServiceDep, key: CurrentKey,
                      area_id: Annotated[int, Path(ge=1, le=2_147_483_647)]) -> Response:
    """Delete one of the caller's saved areas (another key's: 404)."""
    delete_area(ctx.engine, key, area_id)
    return Response(status_code=204)


@router.get("/search", response_model=SearchOut,
            responses=responses(400, 401, 403, 422, 429))
def search(request: Request, ctx: ServiceDep, key: CurrentKey, vis: VisibilityDep,
           q: Annotated[str, Query(min_length=1, max_length=100,
                                   description="text to find in codes and names")],
           limit: Annotated[int, Query(ge=1, le=50, description="results per kind")] = 10
           ) -> dict:
    """Communities, facilities, roads and (admin, liaison) incident addresses by name."""
    found = search_places(ctx, vis, q, limit=limit)
    if found["addresses"]:
        audit.record_request(ctx.engine, request, "read_incidents", key=key,
                             rows=len(found["addresses"]))
    return found
