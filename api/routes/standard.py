"""``/api/v1/standard``: the safe-community standard per community, its roll-ups and to-do lists.

Evaluated with the active profile (the latest an administrator stored, else the built-in), or a
stored one named in ``profile`` (``name`` or ``name@version``). The standard is one official
assessment computed from exact figures: every caller sees the outcomes, scores and bands of
their communities; planner and client keys see no value computed from incident counts
(:mod:`api.release`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api import profiles as profile_store
from api.deps import (
    ListFormat,
    PeriodDep,
    SelectionDep,
    ServiceDep,
    TableFormat,
    VisibilityDep,
)
from api.provenance import CsvDep
from api.render import render_report
from api.schemas import StandardList, TodoList, responses
from api.services import ServiceContext
from api.services.standard import standard_report, todo_report
from geo.profile import Profile

__all__ = ["router"]

router = APIRouter(prefix="/standard", tags=["standard"])

ProfileParam = Annotated[str | None, Query(
    max_length=300, description="stored profile name, or name@version; default the active")]


def _profile(ctx: ServiceContext, ref: str | None) -> Profile:
    with ctx.engine.connect() as conn:
        if not ref:
            return profile_store.active_profile(conn).profile
        name, _, version = ref.partition("@")
        return profile_store.get_profile(conn, name, version or None).profile


@router.get("", response_model=StandardList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def evaluate_standard(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    level: Annotated[Literal["community", "subdistrict", "district", "city"], Query(
        description="communities, or creation rates rolled up")] = "community",
    profile: ProfileParam = None,
    format: ListFormat = "json",
) -> Response:
    """Each community's score, status band and to-do list, or the creation rate (创建率)."""
    prof = _profile(ctx, profile)
    rep = standard_report(ctx, vis, profile=prof, period=period, level=level, selection=area)
    return render_report(ctx, rep, format, filename=f"standard-{level}", csv=csv)


@router.get("/todo/{code}", response_model=TodoList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True))
def get_todo(
    csv: CsvDep,
    code: str,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    profile: ProfileParam = None,
    format: TableFormat = "json",
) -> Response:
    """A community's failed, then unknown, criteria, most weight first."""
    prof = _profile(ctx, profile)
    rep = todo_report(ctx, vis, code, profile=prof, period=period)
    return render_report(ctx, rep, format, filename=f"todo-{code}", csv=csv)
