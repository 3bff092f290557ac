"""Briefings (周报/月报): one jurisdiction and one period on a few printed pages.

:func:`briefing` gathers what the other services compute and release, for the caller
(:mod:`api.release`), exactly as their JSON routes release it, and only picks rows:

- KPIs of the unit (a district, a subdistrict, or the caller's whole world): cases and
  万人发案率 of the period against the previous period and the same period a year before, with
  the one-sided test of a rise (:func:`api.services.landing.period_kpi`, over
  :func:`api.services.rates.rates_report` at the unit's level);
- the unit's communities with their released annualised rate and their Gi* class over smoothed
  rates (:func:`api.services.rates.hotspots_report`, classes only for planner and client keys):
  the two maps;
- the ten communities whose rate rose most against the previous period;
- the communities' early-warning alerts as of the period's last day of data, and, for admin
  and liaison keys only, the near-repeat risk zones per community (as the landing shows them);
- the standard's status counts and creation rate (创建率) of the period's year and the year
  before;
- provenance: data version, the latest load of each layer (file name and time), the standard
  profile, the release rule for planner and client keys, and when it was made.

A briefing covers a week (``2025-W49``), a month (``2025-11``), a quarter or a year; planner
and client keys see whole months, quarters or years only. A part that cannot be computed (too
little history for alerts, no Knox table) is left out with a note. Rendering (HTML, PDF) is
:mod:`api.briefing`'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import geopandas as gpd
import pandas as pd

from api import store
from api.release import Selection, Visibility, release_provenance, select
from api.services import ServiceContext, generated_at, period_provenance
from api.services.alerts import latest_day
from api.services.landing import (
    PeriodKpi,
    creation_rate,
    current_alerts,
    jurisdiction_names,
    period_kpi,
    rising_communities,
    risk_zones_by_community,
)
from api.services.rates import hotspots_report, rates_report
from api.services.standard import active_profile
from geo.errors import NotFoundError, PeriodError, PinganError
from geo.period import Period

__all__ = ["BRIEFING_KINDS", "Briefing", "briefing"]

#: The kinds of period a briefing covers.
BRIEFING_KINDS = ("week", "month", "quarter", "year")
_LAYERS = ("communities", "incidents", "devices", "compounds", "facilities")


@dataclass(frozen=True)
class Briefing:
    """Everything a briefing shows (see the module docstring).

    Attributes
    ----------
    role
        The caller's role.
    unit
        ``code``, ``name`` and ``level`` (``district``, ``subdistrict`` or ``city``: the
        caller's world, whose ``name`` lists a liaison's jurisdictions).
    period
        The period.
    as_of
        The last day of data the alerts and risk zones use.
    kpi
        The unit's KPIs against the previous period and a year before.
    communities
        The unit's communities (EPSG:4326): ``code``, ``name``, ``cases``,
        ``case_rate_per_10k_annual`` and ``hotspot_class`` as released to the caller.
    rising, alerts
        Rows as :mod:`api.services.landing` gives them.
    zones
        Risk zones per community; ``None`` for a caller who may not read raw incidents.
    zone_incidents
        The recent incidents behind the zones (the raw rows read, for the audit).
    creation
        The standard's status counts and creation rate of the period's year (``None``: not
        computed, see ``notes``).
    provenance
        ``data_version``, ``sources`` (layer, file, loaded_at), ``profile``,
        ``generated_at``, the period bounds and, for a protected caller, the release rule.
    notes
        Parts left out, and why.
    """

    role: str
    unit: dict[str, str]
    period: Period
    as_of: dt.date
    kpi: PeriodKpi
    communities: gpd.GeoDataFrame
    rising: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    zones: list[dict[str, Any]] | None
    zone_incidents: int
    creation: dict[str, Any] | None
    provenance: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _check_period(ctx: ServiceContext, vis: Visibility, period: str | Period) -> Period:
    p = vis.check_period(ctx.period(period))
    if p.kind not in BRIEFING_KINDS:
        raise PeriodError(f"period: a briefing covers a week (2025-W49), a month (2025-11), a "
                          f"quarter (2025-Q4) or a year (2025); got {p.label!r}",
                          parameter="period")
    with ctx.engine.connect() as conn:
        first, last = store.incident_time_range(conn)
    if first is None or last is None:
        raise PeriodError("period: no incidents are loaded, so no period has data",
                          parameter="period")
    lo, hi = p.bounds_utc(ctx.timezone)
    if hi <= first or lo > last:
        span = f"{_local_day(ctx, first)} .. {_local_day(ctx, last)}"
        raise PeriodError(f"period: {p.label} holds no data; the stored incidents run from "
                          f"{span}", parameter="period")
    return p


def _local_day(ctx: ServiceContext, when: dt.datetime) -> dt.date:
    from zoneinfo import ZoneInfo

    return when.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(ctx.timezone)).date()


def _unit(ctx: ServiceContext, vis: Visibility, district: str | None,
          subdistrict: str | None) -> tuple[dict[str, str], Selection | None]:
    """The briefing's unit and the selection of its communities (403/404 as the routes)."""
    if not (district and district.strip()) and not (subdistrict and subdistrict.strip()):
        names = jurisdiction_names(ctx, vis)
        name = "、".join(j["name"] for j in names) if names else ""
        return {"code": "city", "name": name, "level": "city"}, None
    comms = ctx.communities()
    sel = select(vis, comms, district=district, subdistrict=subdistrict)
    level = "subdistrict" if subdistrict and subdistrict.strip() else "district"
    chosen = comms[comms["code"].isin(sel.communities or ())]
    if chosen.empty:
        raise NotFoundError(f"district {district!r} and subdistrict {subdistrict!r} share no "
                            "community", parameter="subdistrict")
    first = chosen.iloc[0]
    return ({"code": str(first[f"{level}_code"]), "name": str(first[level]), "level": level},
            sel)


def _tried(notes: list[str], what: str, compute: Any, vis: Visibility) -> Any:
    """Run one part; a domain error becomes a note (its text only for an exact caller)."""
    try:
        return compute()
    except PinganError as exc:
        # free text may carry counts the release rules would hide
        notes.append(f"{what}: {'not available' if vis.protected else exc}")
        return None


def _communities(ctx: ServiceContext, vis: Visibility, p: Period, sel: Selection | None,
                 notes: list[str]) -> gpd.GeoDataFrame:
    """The unit's communities with their released rate and hot-spot class (the two maps)."""
    rates = rates_report(ctx, vis, period=p, level="community", selection=sel).frame
    rates = rates[(rates["code"] != "unassigned") & rates.geometry.notna()]
    cols = [c for c in ("code", "name", "cases", "case_rate_per_10k_annual", "geometry")
            if c in rates.columns]
    frame = pd.DataFrame(rates[cols])
    hot = _tried(notes, "hot spots", lambda: hotspots_report(
        ctx, vis, period=p, on="rate", selection=sel).frame, vis)
    classes = (pd.Series(dtype=object) if hot is None
               else pd.Series(hot["hotspot_class"].to_numpy(), index=hot["code"].to_numpy()))
    frame["hotspot_class"] = frame["code"].map(classes).astype(object)
    frame["hotspot_class"] = frame["hotspot_class"].where(frame["hotspot_class"].notna(),
                                                          "no_value")
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry="geometry",
                            crs="EPSG:4326")


def _sources(ctx: ServiceContext) -> list[dict[str, str]]:
    with ctx.engine.connect() as conn:
        frame = store.latest_loads(conn)
    frame = frame[frame["layer"].isin(_LAYERS)]
    # the file's name only: where it lay on the loading machine is nobody's business
    when = frame["loaded_at"].dt.strftime("%Y-%m-%d %H:%M UTC")
    return [{"layer": str(layer), "file": PurePath(str(name)).name, "loaded_at": str(at)}
            for layer, name, at in zip(frame["layer"], frame["file_name"], when, strict=True)]


def _provenance(ctx: ServiceContext, vis: Visibility, p: Period) -> dict[str, Any]:
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "generated_at": generated_at()})
    try:
        profile = active_profile(ctx)
        prov["profile"] = f"{profile.name} {profile.version}"
    except (PinganError, ValueError):
        prov["profile"] = None
    out = release_provenance(prov, vis=vis)
    out["sources"] = _sources(ctx)
    return out


def briefing(ctx: ServiceContext, vis: Visibility, *, period: str | Period,
             district: str | None = None, subdistrict: str | None = None) -> Briefing:
    """A briefing of a district, a subdistrict or the caller's whole world for a period.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller; every part is released for them as the JSON API releases it.
    period
        A week, month, quarter or year (planner and client keys: not a week) that overlaps
        the stored incidents.
    district, subdistrict
        The unit, by code or name (default: the caller's whole world).

    Returns
    -------
    Briefing
        Cached per data version, world, role and parameters.

    Raises
    ------
    geo.errors.PeriodError
        A malformed period, a range, a week for a protected caller, or a period with no data.
    api.errors.ForbiddenError
        A place outside a liaison's jurisdiction.
    geo.errors.NotFoundError
        An unknown district or subdistrict.
    """
    p = _check_period(ctx, vis, period)
    unit, sel = _unit(ctx, vis, district, subdistrict)
    key = (p.label, unit["level"], unit["code"], vis.role, vis.jurisdictions, vis.raw)
    return ctx.cached("briefing", key, lambda: _briefing(ctx, vis, p, unit, sel), vis=vis)


def _briefing(ctx: ServiceContext, vis: Visibility, p: Period, unit: dict[str, str],
              sel: Selection | None) -> Briefing:
    notes: list[str] = []
    as_of = min(p.last_day, latest_day(ctx))
    kpi = period_kpi(ctx, vis, p.kind, p.label, level=unit["level"], code=unit["code"],
                     selection=sel)
    zones: list[dict[str, Any]] | None = None
    zone_incidents = 0
    if vis.raw:
        got = _tried(notes, "near-repeat risk zones",
                     lambda: risk_zones_by_community(ctx, vis, as_of=as_of, selection=sel), vis)
        zones, zone_incidents = got if got is not None else ([], 0)
    year = vis.check_period(ctx.period(str(p.year)))
    creation = _tried(notes, "creation rate", lambda: creation_rate(
        ctx, vis, year, level=unit["level"], code=unit["code"], selection=sel), vis)
    return Briefing(
        role=vis.role, unit=unit, period=p, as_of=as_of, kpi=kpi,
        communities=_communities(ctx, vis, p, sel, notes),
        rising=_tried(notes, "rising communities",
                      lambda: rising_communities(ctx, vis, p, selection=sel), vis) or [],
        alerts=_tried(notes, "alerts",
                      lambda: current_alerts(ctx, vis, as_of=as_of, selection=sel), vis) or [],
        zones=zones, zone_incidents=zone_incidents, creation=creation,
        provenance=_provenance(ctx, vis, p), notes=notes)

