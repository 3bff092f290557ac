"""``/api/v1/landing/{part}``: one heavy part of the landing dashboard, for the page's script.

The page (``GET /``, :mod:`api.routes.pages`) draws its shell and KPIs at once and fetches each
part listed in :data:`api.services.landing.PARTS` from here (``/static/landing.js``). A part is
computed by :func:`api.services.landing.landing_part` for the caller's world and role (the
same release path as the page) and answered as JSON: its rows as the JSON API releases them,
and the fragment of HTML the page shows, in the page's language (``?lang=`` or the language
cookie). The near-repeat risk zones are for admin and liaison keys only (403 otherwise), and
their answer is audited as a raw-incident read, as ``/api/v1/near-repeat/zones`` audits it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api import audit
from api.deps import CurrentKey, EngineDep, ServiceDep, VisibilityDep
from api.schemas import responses
from api.services.landing import LandingPart, landing_part
from api.web import render_fragment

__all__ = ["router"]

router = APIRouter(prefix="/landing", tags=["workspace"])

PartName = Literal["creation", "coverage", "rising", "alerts", "zones", "todo"]


def _items(part: LandingPart) -> list[dict[str, Any]]:
    """The part's rows (one list, whatever the part's shape)."""
    value = part.value
    if part.part == "creation":
        return [value] if value else []
    if part.part == "coverage":
        return list(value["coverage"])
    if part.part == "zones":
        return list(value["zones"])
    return list(value)


@router.get("/{part}", responses=responses(401, 403, 422, 429))
def get_landing_part(
    request: Request,
    part: Annotated[PartName, Path(description="the part of the landing dashboard")],
    ctx: ServiceDep,
    vis: VisibilityDep,
    engine: EngineDep,
    key: CurrentKey,
    lang: Annotated[Literal["zh", "en"] | None, Query(
        description="language of the fragment (default: the language cookie, else zh)")
    ] = None,
) -> JSONResponse:
    """One part of the landing dashboard (工作台): its rows and its HTML fragment."""
    got = landing_part(ctx, vis, part)
    body = {"part": got.part, "as_of": got.as_of, "year": got.year,
            "month": got.month, "count": len(_items(got)), "items": _items(got),
            "notes": got.notes,
            "html": render_fragment(request, "landing_parts.html", {"p": got})}
    if part == "coverage":
        body["protection"] = got.value["protection"]
    if part == "zones":
        body["zone_incidents"] = got.value["incidents"]
        audit.record_request(engine, request, "read_incidents", key=key,
                             rows=got.value["incidents"])
    return JSONResponse(jsonable_encoder(body), headers={"Cache-Control": "no-store"})
