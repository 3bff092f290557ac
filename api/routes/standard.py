"""``/api/v1/standard``: the safe-community standard per community, its roll-ups and to-do lists.

Evaluated with the active profile (the latest an administrator stored, else the built-in), or a
stored one named in ``profile`` (``name`` or ``name@version``). Values of criteria computed from
case counts are suppressed where the community's count is below ``api.min_count_shown`` for
roles that may not see small counts there; outcomes, scores and bands are shown.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api import profiles as profile_store
from api.deps import (
    CurrentKey,
    ListFormat,
    PeriodParam,
    ServiceDep,
    SessionDep,
    SettingsDep,
    TableFormat,
    period_or_default,
    render_report,
)
from api.privacy import disclosure_for
from api.schemas import StandardList, TodoList, responses
from api.services.rates import rates_result
from api.services.standard import standard_report, todo_report
from geo.catalogue import metric
from geo.period import Period
from geo.standard import Profile

__all__ = ["router"]

router = APIRouter(prefix="/standard", tags=["standard"])

ProfileParam = Annotated[str | None, Query(
    max_length=300, description="stored profile name, or name@version; default the active")]


def _profile(conn: sa.Connection, ref: str | None) -> Profile:
    if not ref:
        return profile_store.active_profile(conn).profile
    name, _, version = ref.partition("@")
    return profile_store.get_profile(conn, name, version or None).profile


def _count_based(profile: Profile) -> list[str]:
    """Criterion ids whose values are computed from incident counts."""
    return [c.id for c in profile.criteria
            if metric(c.metric).producer in ("rates", "hotspots")
            or c.metric == "incidents_in_view_share"]


def _small_case_rows(ctx: ServiceDep, conn: sa.Connection, key: CurrentKey, codes: pd.Series,
                     period: Period, min_count: int) -> np.ndarray:
    """Rows whose community has 1..min_count-1 cases that this key may not see exactly."""
    cases = rates_result(ctx, period).frame["cases"]
    n = codes.map(cases).fillna(0).to_numpy(dtype="float64")
    hidden = ~disclosure_for(conn, key, min_count=min_count).exempt(codes.astype("string"))
    return hidden & (n >= 1) & (n < min_count)


@router.get("", response_model=StandardList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True, geojson=True))
def evaluate_standard(
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    level: Annotated[Literal["community", "subdistrict", "district", "city"], Query(
        description="communities, or creation rates rolled up")] = "community",
    profile: ProfileParam = None,
    format: ListFormat = "json",
) -> Response:
    """Each community's score, status band and to-do list, or the creation rate (创建率)."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    prof = _profile(conn, profile)
    rep = standard_report(ctx, profile=prof, period=per, level=level)
    frame = rep.frame
    if level == "community":
        hide = _small_case_rows(ctx, conn, key, frame["code"], per,
                                settings.api.min_count_shown)
        frame = frame.copy()
        for cid in _count_based(prof):
            col = frame[cid].astype("float64")
            col[hide] = np.nan
            frame[cid] = col
        frame["suppressed"] = hide
    prov = dict(rep.provenance, profile_version=prof.version_key)
    return render_report(replace(rep, frame=frame, provenance=prov), format, conn, settings,
                         filename=f"standard-{level}")


@router.get("/todo/{code}", response_model=TodoList,
            responses=responses(400, 401, 403, 404, 422, 429, csv=True))
def get_todo(
    code: str,
    ctx: ServiceDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: CurrentKey,
    period: PeriodParam = None,
    profile: ProfileParam = None,
    format: TableFormat = "json",
) -> Response:
    """A community's failed, then unknown, criteria, most weight first."""
    per = period_or_default(conn, period, timezone=settings.timezone)
    prof = _profile(conn, profile)
    rep = todo_report(ctx, code, profile=prof, period=per)
    frame = rep.frame
    if _small_case_rows(ctx, conn, key, pd.Series([code]), per,
                        settings.api.min_count_shown)[0]:
        frame = frame.copy()
        frame.loc[frame["criterion_id"].isin(_count_based(prof)), "value"] = np.nan
    prov = dict(rep.provenance, profile_version=prof.version_key)
    return render_report(replace(rep, frame=frame, provenance=prov), format, conn, settings,
                         filename=f"todo-{code}")
