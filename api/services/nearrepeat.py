"""Near-repeat analysis over stored incidents, as each caller may see it.

:func:`geo.nearrepeat.knox_table` and :func:`geo.nearrepeat.risk_zones` do the statistics;
this service chooses the incidents and shapes what leaves:

- an exact caller (admin; a liaison inside their world) gets the Knox table of the incidents
  of their selection (period, categories, district, subdistrict, communities, bbox; a
  liaison's never holds an incident outside their jurisdiction): per distance band × time
  band the observed pairs, the Monte Carlo expectation, the Knox ratio and the pseudo p (and
  for ``cumulative`` tables the analytic expectation and the Poisson p), plus the band's
  class (:data:`CLASSES`). Risk zones (:func:`risk_zones_report`) are for them only: one
  circle per incident of the last ``recent_days`` days, with the source incident and the
  expiry date, as a list and a map layer;
- a protected caller (planner, client) gets the table's **classes only**, and only over a
  released area: the whole city, a district or a subdistrict (not communities or a bbox),
  a whole month, quarter or year, one category group, and a selection of at least
  :data:`MIN_PROTECTED_INCIDENTS` incidents. A band is ``raised``, ``not raised``, or
  ``"<3"`` when it holds one or two pairs; no pair count, expectation, ratio or p value. Risk
  zones are refused (403): they are incident positions and days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.release import Selection, Visibility, release_provenance
from api.services import Report, ServiceContext, generated_at, period_provenance
from geo.errors import MissingDataError, ParameterError
from geo.nearrepeat import (
    DEFAULT_PERMUTATIONS,
    DEFAULT_SEED,
    DEFAULT_SPACE_M,
    DEFAULT_TIME_DAYS,
    KnoxResult,
    RiskZones,
    knox_table,
    risk_zones,
)
from geo.period import Period
from geo.release import hidden_label

__all__ = ["CLASSES", "MIN_PROTECTED_INCIDENTS", "PROTECTED_COLUMNS", "ZONE_COLUMNS",
           "knox_report", "knox_result", "risk_zones_report", "selected_incidents"]

#: The class of a band: raised risk (p ≤ alpha and Knox ratio ≥ min_ratio) or not.
CLASSES = ("raised", "not raised")
#: Fewest incidents a protected caller's table may be computed from.
MIN_PROTECTED_INCIDENTS = 50
#: Most permutations a request may ask for.
MAX_PERMUTATIONS = 9_999
#: Columns of a protected caller's table.
PROTECTED_COLUMNS = ("space_band", "time_band", "space_from_m", "space_to_m", "time_from_days",
                     "time_to_days", "near_repeat_class")
#: Columns of a risk zone.
ZONE_COLUMNS = ("incident_id", "community_code", "occurred_on", "radius_m", "days",
                "expires_on")
_ALPHA = 0.05
_MIN_RATIO = 1.2


def selected_incidents(ctx: ServiceContext, vis: Visibility, p: Period,
                       cats: tuple[str, ...], selection: Selection | None) -> gpd.GeoDataFrame:
    """The raw incidents of a selection inside the caller's world (their points, ids, days).

    The selection's communities (else the caller's world) and its bbox; the period and the
    categories; the cases of the case definition. The caller must be a raw reader.
    """
    scope = selection.communities if selection is not None else None
    if scope is None:
        scope = vis.community_filter()
    query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                communities=scope, case_definition=ctx.case_definition,
                                bbox=selection.bbox if selection is not None else None)
    with ctx.engine.connect() as conn:
        return store.read_incidents(conn, query)


def _check_protected(vis: Visibility, selection: Selection | None) -> None:
    """A protected caller's area is the city, a district or a subdistrict.

    Raises
    ------
    geo.errors.ParameterError
        Naming ``community`` or ``bbox``.
    """
    if selection is None:
        return
    for name, _ in selection.params:
        if name in ("community", "bbox"):
            raise ParameterError(f"{name}: a {vis.role} key sees near-repeat classes over the "
                                 f"city, a district or a subdistrict only", parameter=name)


def _check_bands(space_m: Sequence[float], time_days: Sequence[int], permutations: int) -> None:
    if not 0 <= permutations <= MAX_PERMUTATIONS:
        raise ParameterError(f"permutations must be between 0 and {MAX_PERMUTATIONS}; got "
                             f"{permutations}", parameter="permutations")
    if len(space_m) > 12 or len(time_days) > 12:
        raise ParameterError("space_m and time_days hold at most 12 edges each",
                             parameter="space_m" if len(space_m) > 12 else "time_days")
    if space_m and max(space_m) > 5_000:
        raise ParameterError(f"space_m: the largest band must be at most 5000 m; got "
                             f"{max(space_m):g}", parameter="space_m")


def knox_result(ctx: ServiceContext, vis: Visibility, *, period: Period,
                categories: tuple[str, ...], selection: Selection | None,
                space_m: tuple[float, ...], time_days: tuple[int, ...], cumulative: bool,
                permutations: int, seed: int) -> KnoxResult:
    """The Knox table of the incidents of the caller's selection (cached per world).

    Parameters are those of :func:`knox_report`, already checked.

    Returns
    -------
    geo.nearrepeat.KnoxResult
    """
    def compute() -> KnoxResult:
        incidents = selected_incidents(ctx, vis, period, categories, selection)
        if vis.protected and len(incidents) < MIN_PROTECTED_INCIDENTS:
            raise MissingDataError(
                f"a {vis.role} key sees near-repeat classes of at least "
                f"{MIN_PROTECTED_INCIDENTS} incidents; this selection holds fewer: choose a "
                f"longer period or a larger area")
        return knox_table(incidents, space_m=space_m, time_days=time_days,
                          cumulative=cumulative, permutations=permutations, seed=seed,
                          timezone=ctx.timezone, metric_crs=ctx.metric_crs())

    key = (period.label, categories, selection.key if selection else None, space_m, time_days,
           cumulative, permutations, seed)
    return ctx.cached("near-repeat", key, compute, vis=vis)


def _classes(frame: pd.DataFrame, vis: Visibility) -> pd.Series:
    raised = (frame["p_value"] <= _ALPHA) & (frame["knox_ratio"] >= _MIN_RATIO)
    out = pd.Series(np.where(raised, CLASSES[0], CLASSES[1]), index=frame.index, dtype=object)
    if vis.protected:
        small = (frame["observed"] > 0) & (frame["observed"] < vis.min_count)
        out[small] = hidden_label(vis.min_count)
    return out


def _provenance(ctx: ServiceContext, p: Period, result: KnoxResult,
                categories: Sequence[str], selection: Selection | None) -> dict[str, Any]:
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "generated_at": generated_at(),
        "metric_crs": result.metric_crs.to_string(), "space_m": list(result.space_m),
        "time_days": list(result.time_days), "cumulative": result.cumulative,
        "permutations": result.permutations, "seed": result.seed, "alpha": _ALPHA,
        "min_ratio": _MIN_RATIO, "categories": list(categories),
        "case_definition": ctx.case_definition.as_sql_lists(),
        "method": "Knox test over distance x time bands (Ratcliffe's Near Repeat Calculator), "
                  "Monte Carlo permutations of the days",
        "incidents": result.n_incidents, "pairs_within_largest_band": result.n_pairs,
        "left_out": {"no_location": result.no_location,
                     "coarse_location": result.coarse_location, "no_time": result.no_time},
        "notes": list(result.notes),
        **(selection.provenance() if selection else {}),
    })
    return prov


def knox_report(ctx: ServiceContext, vis: Visibility, *, period: Period | str | None,
                categories: Sequence[str] = (), selection: Selection | None = None,
                space_m: Sequence[float] = DEFAULT_SPACE_M,
                time_days: Sequence[int] = DEFAULT_TIME_DAYS, cumulative: bool = False,
                permutations: int = DEFAULT_PERMUTATIONS, seed: int = DEFAULT_SEED) -> Report:
    """The Knox table of near repeats, as the caller may see it.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    period
        The period (default: the year of the latest incident; a whole month, quarter or year
        for a protected caller).
    categories
        Only these categories (a protected caller names one category group).
    selection
        The area (a protected caller's: the city, a district or a subdistrict).
    space_m, time_days
        Band edges (metres; whole days), in the Near Repeat Calculator's form.
    cumulative
        Classic Knox counts (d ≤ δ and t ≤ τ) instead of bands.
    permutations, seed
        Monte Carlo permutations of the days and their seed.

    Returns
    -------
    Report
        One row per band: the labels and edges, ``near_repeat_class``; exact callers also
        ``observed``, ``expected``, ``knox_ratio``, ``p_value`` (and the analytic columns of
        a cumulative table).

    Raises
    ------
    geo.errors.ParameterError
        A band or option out of range, or an area a protected caller may not name.
    geo.errors.MissingDataError
        Fewer than two incidents (fewer than 50 for a protected caller).
    """
    p = vis.check_period(ctx.period(period))
    cats = vis.check_categories(categories)
    if vis.protected:
        _check_protected(vis, selection)
    _check_bands(space_m, time_days, permutations)
    result = knox_result(ctx, vis, period=p, categories=cats, selection=selection,
                         space_m=tuple(float(v) for v in space_m),
                         time_days=tuple(int(v) for v in time_days),
                         cumulative=bool(cumulative), permutations=int(permutations),
                         seed=int(seed))
    frame = result.frame.copy()
    frame["near_repeat_class"] = _classes(frame, vis)
    if vis.protected:
        frame = frame[list(PROTECTED_COLUMNS)]
    prov = _provenance(ctx, p, result, categories, selection)
    if vis.protected:
        prov["min_incidents"] = MIN_PROTECTED_INCIDENTS
    kind = "cumulative" if result.cumulative else "banded"
    return Report(frame.reset_index(drop=True), release_provenance(prov, vis=vis),
                  f"near-repeat Knox table ({kind}), {p.label}")


def risk_zones_report(ctx: ServiceContext, vis: Visibility, *, period: Period | str | None,
                      as_of: dt.date | None = None, recent_days: int = 14,
                      categories: Sequence[str] = (), selection: Selection | None = None,
                      space_m: Sequence[float] = DEFAULT_SPACE_M,
                      time_days: Sequence[int] = DEFAULT_TIME_DAYS,
                      permutations: int = DEFAULT_PERMUTATIONS,
                      seed: int = DEFAULT_SEED) -> tuple[Report, RiskZones]:
    """Near-repeat risk zones around the recent incidents (admin and liaisons only).

    The Knox table (banded) of the selection says how far and how long the risk is raised:
    the farthest distance band with ``p ≤ 0.05`` and Knox ratio ``≥ 1.2`` and the longest such
    time band of it. Every incident of the ``recent_days`` days up to ``as_of`` gets a circle
    of that radius lasting until its expiry date.

    Parameters
    ----------
    ctx, vis, period, categories, selection, space_m, time_days, permutations, seed
        As for :func:`knox_report`.
    as_of
        The last day of data (default: the latest incident day of the selection).
    recent_days
        Incidents of this many days up to ``as_of`` get zones (1–366).

    Returns
    -------
    tuple
        The zones as a :class:`Report` (GeoDataFrame, EPSG:4326; :data:`ZONE_COLUMNS` and the
        circle), and the :class:`geo.nearrepeat.RiskZones` (the source incidents' count is
        ``len(report.frame)``).

    Raises
    ------
    api.errors.ForbiddenError
        For a caller who may not read raw incidents.
    geo.errors.ParameterError
        An option out of range.
    """
    vis.check_raw("near-repeat risk zones (incident positions and days)")
    if not 1 <= recent_days <= 366:
        raise ParameterError(f"recent_days must be between 1 and 366; got {recent_days}",
                             parameter="recent_days")
    p = vis.check_period(ctx.period(period))
    cats = vis.check_categories(categories)
    _check_bands(space_m, time_days, permutations)
    knox = knox_result(ctx, vis, period=p, categories=cats, selection=selection,
                       space_m=tuple(float(v) for v in space_m),
                       time_days=tuple(int(v) for v in time_days), cumulative=False,
                       permutations=int(permutations), seed=int(seed))
    incidents = selected_incidents(ctx, vis, p, cats, selection)
    zones = risk_zones(incidents, knox, as_of=as_of, recent_days=recent_days, alpha=_ALPHA,
                       min_ratio=_MIN_RATIO)
    frame = zones.frame.to_crs("EPSG:4326")
    codes = incidents.set_index(incidents["id"].astype(str))["community_code"]
    frame.insert(1, "community_code", frame["incident_id"].astype(str).map(codes).to_numpy())
    frame = frame[[*ZONE_COLUMNS, "geometry"]].reset_index(drop=True)
    prov = _provenance(ctx, p, knox, categories, selection)
    prov.update({"as_of": zones.as_of.isoformat(), "recent_days": recent_days,
                 "radius_m": zones.radius_m, "zone_days": zones.days,
                 "expired": zones.expired, "notes": [*prov["notes"], *zones.notes],
                 "significant_bands": [f"{a} x {b}" for a, b in zip(
                     zones.bands["space_band"], zones.bands["time_band"], strict=True)]})
    return (Report(frame, release_provenance(prov, vis=vis),
                   f"near-repeat risk zones as of {zones.as_of}"), zones)
