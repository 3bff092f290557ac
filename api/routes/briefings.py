"""``/api/v1/briefings``: a briefing (周报/月报) of a district, a subdistrict or the caller's world.

Assembled by :func:`api.services.briefing.briefing` for the caller (:mod:`api.release`), every
part released as its own JSON route releases it: a liaison names only places inside their
jurisdiction (403 otherwise) and gets the rest of their world by default; planner and client
keys get aggregates only (whole months, quarters or years, counts released by the cell-key
method, hot spots as classes, no near-repeat zone). A raw reader's briefing holds the risk
zones of recent incidents and is audited as a raw-incident read with their number, as the
landing page is. The page is rendered as A4 HTML and printed to PDF by headless Chromium
(:mod:`api.briefing`); the printed bytes are cached per data version, world, role and
parameters.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api import audit
from api.briefing import briefing_html, briefing_pdf
from api.deps import CurrentKey, DistrictParam, ServiceDep, SubdistrictParam, VisibilityDep
from api.schemas import responses
from api.services.briefing import briefing

__all__ = ["router"]

router = APIRouter(tags=["briefings"])

PDF_MEDIA_TYPE = "application/pdf"


@router.get("/briefings", response_class=Response,
            responses=responses(401, 403, 404, 409, 422, 429, media={
                PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "text/html": {"schema": {"type": "string"}}}))
def get_briefing(
    request: Request,
    ctx: ServiceDep,
    vis: VisibilityDep,
    key: CurrentKey,
    period: Annotated[str, Query(
        max_length=40, description="a week (2025-W49), month (2025-11), quarter (2025-Q4) or "
                                   "year; planner and client keys: not a week")],
    district: DistrictParam = None,
    subdistrict: SubdistrictParam = None,
    format: Annotated[Literal["pdf", "html"], Query(
        description="an A4 PDF (headless Chromium), or the page it is printed from")] = "pdf",
    lang: Annotated[Literal["zh", "en"], Query(description="Chinese or English")] = "zh",
) -> Response:
    """A briefing (周报/月报): KPIs, rates and hot-spot maps, alerts, rising communities, 创建率."""
    b = briefing(ctx, vis, period=period, district=district, subdistrict=subdistrict)
    if vis.raw:
        audit.record_request(ctx.engine, request, "read_incidents", key=key,
                             rows=b.zone_incidents)
    page = briefing_html(b, lang)
    headers = {"Cache-Control": "no-store"}
    if format == "html":
        return HTMLResponse(page, headers=headers)
    params = (b.period.label, b.unit["level"], b.unit["code"], vis.role, lang)
    pdf = ctx.cached("briefing_pdf", params, lambda: briefing_pdf(
        page, browser=ctx.settings.maps.browser), vis=vis)
    # a header is Latin-1: a code in other letters becomes underscores
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"briefing-{b.unit['code']}-{b.period.label}.pdf")
    return Response(pdf, media_type=PDF_MEDIA_TYPE, headers={
        **headers, "Content-Disposition": f'inline; filename="{name}"'})
