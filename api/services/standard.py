"""The safe-community standard over stored data: metric values, evaluation, creation rates.

A profile's criteria name catalogue metrics with parameters; :func:`metric_values` computes each
distinct (metric, parameters) request once with the producing service, and
:func:`geo.standard.evaluate` applies the profile. Results are cached by data version and
profile version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from api import profiles as profile_store
from api.release import Selection, Visibility, release_provenance
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.coverage import camera_result, compound_result, coverage_result
from api.services.rates import hotspots_report, rates_result
from api.services.units import communities_in_period, level_zh, unit_geometries
from geo.catalogue import CATALOGUE, metric
from geo.errors import MissingDataError, NotFoundError, ParameterError
from geo.period import Period
from geo.profile import Profile, load_profile
from geo.standard import (
    STATUS_LABELS_ZH,
    Evaluation,
    MetricRequest,
    evaluate,
    metric_requests,
    roll_up_creation,
)

__all__ = ["active_profile", "catalogue_frame", "evaluation", "incident_criteria",
           "metric_values", "standard_report", "todo_report"]


def catalogue_frame() -> pd.DataFrame:
    """The metric catalogue as a table."""
    rows = [{"name": m.name, "unit": m.unit, "label_zh": m.label_zh, "label_en": m.label_en,
             "better": m.better, "producer": m.producer, "params": ",".join(m.params),
             "required_params": ",".join(m.required_params),
             "description_zh": m.description_zh, "description_en": m.description_en}
            for m in CATALOGUE.values()]
    return pd.DataFrame(rows)


# --- profiles ---------------------------------------------------------------------------------


def active_profile(ctx: ServiceContext, source: str | Path | None = None) -> Profile:
    """The profile to evaluate with.

    Parameters
    ----------
    ctx
        Service context.
    source
        A profile file; default the active stored profile (:func:`api.profiles.active_profile`:
        the latest upload, else the built-in ``beijing-safe-community``).

    Returns
    -------
    geo.profile.Profile

    Raises
    ------
    geo.profile.ProfileError
        If the profile is invalid (the message names the line and field).
    """
    if source is not None:
        return load_profile(Path(source))
    with ctx.engine.connect() as conn:
        return profile_store.active_profile(conn).profile


# --- metric values ----------------------------------------------------------------------------


def _value(ctx: ServiceContext, req: MetricRequest, notes: list[str]) -> pd.Series:
    admin = Visibility.admin(ctx.settings)
    m = metric(req.metric)
    kw = req.kwargs
    period = ctx.period(str(kw["period"]) if "period" in kw else None)
    category = kw.get("category")
    cats = [str(category)] if category else []
    if m.producer == "rates":
        compare = str(kw["compare"]) if "compare" in kw else None
        result = rates_result(ctx, admin, period, compare=compare, categories=cats)
        frame = result.frame
        if compare and result.compare_period is not None:
            uncovered = int((~frame["compare_covered"].fillna(True).astype(bool)).sum())
            if uncovered:
                notes.append(
                    f"{', '.join(req.criterion_ids)}: {uncovered} communities have no complete "
                    f"incident data for {result.compare_period.label} (待补数据); the "
                    f"comparison is unknown, not a rise")
        return frame[m.name]
    if m.producer == "hotspots":
        rep = hotspots_report(ctx, admin, period=period, on="rate", categories=cats)
        return rep.frame.set_index("code")[m.name]
    if m.producer == "cameras":
        return camera_result(ctx, period, categories=cats).frame[m.name]
    if m.producer == "compounds":
        comp = compound_result(ctx, period)
        if m.name == "measure_presence_rate":
            rates = comp.measure_rates
            rates = rates[rates["measure"] == str(kw["measure"])]
            return rates.set_index("code")["measure_presence_rate"]
        return comp.frame[m.name]
    radius = float(kw["radius_m"]) if "radius_m" in kw else None
    cov = coverage_result(ctx, str(kw["facility_type"]), radius_m=radius, period=period)
    return cov.frame[m.name]


def metric_values(ctx: ServiceContext, profile: Profile, period: Period) -> pd.DataFrame:
    """One column per criterion id, one row per community: the values the profile needs.

    A facility type with no facility loaded leaves its criteria unknown (never a silent pass or
    fail), and says so in :attr:`DataFrame.attrs` ``["missing"]``.
    """
    codes = pd.Index(ctx.communities()["code"].astype(str), name="code")
    out = pd.DataFrame(index=codes)
    missing: list[str] = []
    for req in metric_requests(profile, period=period):
        try:
            series = _value(ctx, req, missing)
            values = pd.Series(series.to_numpy(dtype="float64", na_value=float("nan")),
                               index=series.index.astype(str)).reindex(codes)
        except MissingDataError as exc:
            values = pd.Series(float("nan"), index=codes)
            missing.append(f"{', '.join(req.criterion_ids)}: {exc}")
        for cid in req.criterion_ids:
            out[cid] = values
    out.attrs["missing"] = missing
    return out


@dataclass(frozen=True)
class StandardResult:
    """An evaluation and the criteria left unknown for want of data (with the reason)."""

    evaluation: Evaluation
    missing: tuple[str, ...]


def evaluation(ctx: ServiceContext, *, profile: Profile, period: Period) -> StandardResult:
    """Evaluate every community of the city (cached by data version, profile and period).

    The standard is one official assessment, computed from exact figures; callers see the
    rows of their world, and protected callers no value computed from incident counts
    (:func:`standard_report`).
    """
    def compute() -> StandardResult:
        values = metric_values(ctx, profile, period)
        ev = evaluate(values, profile, communities=ctx.communities())
        return StandardResult(ev, tuple(values.attrs.get("missing", ())))
    return ctx.cached("standard", (profile.version_key, period.label), compute)


def _provenance(ctx: ServiceContext, profile: Profile, period: Period, res: StandardResult,
                **extra: Any) -> dict[str, Any]:
    prov = period_provenance(period, ctx.timezone)
    prov.update({"data_version": ctx.data_version(),
                 "profile": f"{profile.name} {profile.version}",
                 "profile_version": profile.version_key,
                 "criteria": len(profile.criteria),
                 "unknown_because": list(res.missing),
                 "generated_at": generated_at()})
    prov.update(extra)
    return prov


def incident_criteria(profile: Profile) -> list[str]:
    """Criterion ids whose values are computed from incident counts."""
    return [c.id for c in profile.criteria
            if metric(c.metric).producer in ("rates", "hotspots")
            or c.metric == "incidents_in_view_share"]


def standard_report(ctx: ServiceContext, vis: Visibility, *, profile: Profile | None = None,
                    period: Period | str | None = None, level: str = "community",
                    selection: Selection | None = None) -> Report:
    """Per-community scores and status bands, or creation rates rolled up.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller: rows of their world; a protected caller gets outcomes, scores and bands
        but no value computed from incident counts.
    profile
        The profile (default :func:`active_profile`).
    period
        The evaluated period (default: the year of the latest incident).
    level
        ``community``, ``subdistrict``, ``district`` or ``city`` (creation rates over the
        caller's communities).
    selection
        Only these communities' rows (or the units holding them).

    Returns
    -------
    Report
        Communities: score, status, counts and to-do list (and each criterion's value in a
        column named after it). Roll-ups: counts per status and the creation rate, plain and
        population-weighted.
    """
    if level not in ("community", "subdistrict", "district", "city"):
        raise ParameterError(f"level must be community, subdistrict, district or city; "
                             f"got {level!r}", parameter="level")
    prof = profile or active_profile(ctx)
    p = vis.check_period(ctx.period(period))
    res = evaluation(ctx, profile=prof, period=p)
    ev = res.evaluation
    # Weights and displayed residents: the evaluated period's population (geo.exposure).
    comms = communities_in_period(ctx, vis, p)
    world = set(comms["code"])
    if level == "community":
        wide = ev.communities[ev.communities["code"].isin(world)].copy()
        wide["status_zh"] = wide["status"].map(STATUS_LABELS_ZH)
        values = ev.criteria.pivot(index="code", columns="criterion_id", values="value")
        values = values[[c.id for c in prof.criteria]]
        if vis.protected:
            values[incident_criteria(prof)] = np.nan
        out = comms[["code", "name", "subdistrict", "district", "population",
                     "geometry"]].merge(wide, on="code", how="left").merge(
            values, left_on="code", right_index=True, how="left")
        if selection is not None and selection.communities is not None:
            out = out[out["code"].isin(selection.communities)]
    else:
        mine = _evaluation_of(ev, world)
        units = roll_up_creation(mine, comms, level=level).units
        out = units.merge(unit_geometries(ctx, vis, level), on="code", how="left")
    gdf = gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs="EPSG:4326")
    counts = ev.communities[ev.communities["code"].isin(world)]["status"].value_counts()
    prov = _provenance(ctx, prof, p, res, level=level, status_counts=counts.to_dict(),
                       **(selection.provenance() if selection else {}))
    return Report(gdf, release_provenance(prov, vis=vis),
                  f"safe-community standard by {level}, {p.label} ({prof.name} {prof.version})",
                  f"平安社区标准评价（{level_zh(level)}），{p.label}（{prof.name} "
                  f"{prof.version}）")


def _evaluation_of(ev: Evaluation, codes: set[str]) -> Evaluation:
    """The evaluation restricted to some communities (for roll-ups over a caller's world)."""
    from dataclasses import replace

    return replace(ev, communities=ev.communities[ev.communities["code"].isin(codes)],
                   criteria=ev.criteria[ev.criteria["code"].isin(codes)])


def todo_report(ctx: ServiceContext, vis: Visibility, code: str, *,
                profile: Profile | None = None, period: Period | str | None = None) -> Report:
    """A community's failed (then unknown) criteria, most weight first: its to-do list.

    Raises
    ------
    geo.errors.NotFoundError
        If no current community has that code.
    api.errors.ForbiddenError
        If it lies outside the caller's world.
    """
    from api.errors import ForbiddenError

    prof = profile or active_profile(ctx)
    p = vis.check_period(ctx.period(period))
    if code not in set(ctx.communities()["code"]):
        raise NotFoundError(f"no community with code {code!r}", parameter="code")
    if not vis.in_world([code])[0]:
        raise ForbiddenError(f"community {code!r} lies outside this key's jurisdiction")
    res = evaluation(ctx, profile=prof, period=p)
    ev = res.evaluation
    crit = ev.criteria[(ev.criteria["code"] == code)
                       & ev.criteria["outcome"].isin(["fail", "unknown"])].copy()
    if vis.protected:
        crit.loc[crit["criterion_id"].isin(incident_criteria(prof)), "value"] = np.nan
    info = pd.DataFrame([{"criterion_id": c.id, "label_zh": c.label_zh,
                          "label_en": c.label_en, "source": c.source} for c in prof.criteria])
    crit = crit.merge(info, on="criterion_id", how="left")
    crit["order"] = crit["outcome"].map({"fail": 0, "unknown": 1})
    crit = crit.sort_values(["order", "weight", "criterion_id"],
                            ascending=[True, False, True]).drop(columns="order")
    row = ev.communities.set_index("code").loc[code]
    name = ctx.communities().set_index("code").loc[code, "name"]
    prov = _provenance(ctx, prof, p, res, community=code, name=name, status=row["status"],
                       score=row["score"])
    return Report(crit.reset_index(drop=True), release_provenance(prov, vis=vis),
                  f"to-do list of {name} ({code}): {STATUS_LABELS_ZH.get(str(row['status']))}, "
                  f"score {row['score']:.0f}",
                  f"{name}（{code}）整改清单：{STATUS_LABELS_ZH.get(str(row['status']))}，"
                  f"得分 {row['score']:.0f}")
