"""``/api/v1/alerts``: early-warning alerts per community (weekly) or district (daily).

Computed and released by :mod:`api.services.alerts` for the caller (:mod:`api.release`): an
admin's or a liaison's units carry the test (observed, expected, threshold, method, p, q, the
first step fired) and a link to their incidents; planner and client keys get only the units
that alert with at least three cases, with no count or statistic.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CategoryParam, ListFormat, SelectionDep, ServiceDep, VisibilityDep
from api.errors import FieldError, InvalidParameterError
from api.provenance import CsvDep
from api.render import render_report
from api.schemas import responses
from api.schemas_spacetime import AlertList
from api.services.alerts import alerts_report

__all__ = ["as_of_date", "router"]

router = APIRouter(tags=["space-time"])


def as_of_date(text: str | None) -> dt.date | None:
    """Parse an ``as_of`` day (YYYY-MM-DD).

    Raises
    ------
    api.errors.InvalidParameterError
        When it is not a calendar day.
    """
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidParameterError(
            "as_of must be a calendar day YYYY-MM-DD",
            errors=[FieldError("query.as_of", f"not a day: {text!r}")]) from None


@router.get("/alerts", response_model=AlertList,
            responses=responses(400, 401, 403, 404, 409, 422, 429, csv=True, geojson=True))
def get_alerts(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    area: SelectionDep,
    level: Annotated[Literal["community", "district"], Query(
        description="community: weekly series per community; district: daily per district")
    ] = "community",
    as_of: Annotated[str | None, Query(
        max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="last day of data used (replays history without looking ahead); "
                    "default: the day of the latest incident")] = None,
    method: Annotated[Literal["auto", "ears", "farrington"], Query(
        description="auto: improved Farrington with two years of history, EARS otherwise")
    ] = "auto",
    ears: Annotated[Literal["c1", "c2", "c3"], Query(description="EARS variant")] = "c2",
    fdr: Annotated[float, Query(gt=0, le=1, description="q value an alert needs")] = 0.1,
    alerts_only: Annotated[bool, Query(
        description="only the units that alert (always so for planner and client keys)")
    ] = False,
    category: CategoryParam = None,
    format: ListFormat = "json",
) -> Response:
    """Early-warning alerts (预警): EARS C1/C2/C3 or improved Farrington, FDR-controlled."""
    rep = alerts_report(ctx, vis, level=level, as_of=as_of_date(as_of),
                        categories=category or [], method=method, ears=ears, fdr=fdr,
                        alerts_only=alerts_only, selection=area)
    return render_report(ctx, rep, format, filename=f"alerts-{level}", csv=csv)
