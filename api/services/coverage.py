"""Protection and facility coverage over stored data.

Cameras, compounds, service areas, gaps, workload and new-site plans.

Every computation is :mod:`geo.protection`, :mod:`geo.coverage` or :mod:`geo.siting` on frames
read from storage; inventories count for a period only if they existed during it. Results are
cached per data version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import pandas as pd

from api import store
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.rates import LEVELS, communities, metric_crs
from geo.coverage import (
    SERVICE_RADIUS_BASIS,
    SERVICE_RADIUS_M,
    FacilityCoverage,
    facility_coverage,
    facility_workload,
)
from geo.period import Period, parse_period
from geo.protection import CameraMetrics, CompoundCompliance, camera_metrics, compound_compliance
from geo.rollup import Ratio, roll_up_metrics
from geo.siting import SitePlan, plan_facility_sites

__all__ = ["coverage_report", "default_period", "gaps_report", "protection_report",
           "site_plan_report", "workload_report"]


def default_period(ctx: ServiceContext, period: Period | str | None) -> Period:
    """The given period, or the calendar year of the latest stored incident (local time).

    With no incidents, the current year.
    """
    if period is not None:
        return parse_period(period)
    import datetime as dt
    from zoneinfo import ZoneInfo

    with ctx.engine.connect() as conn:
        _, last = store.incident_time_range(conn)
    if last is None:
        return parse_period(dt.datetime.now(ZoneInfo(ctx.timezone)).year)
    local = last.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(ctx.timezone))
    return parse_period(local.year)


def _cases_of(ctx: ServiceContext, period: Period, categories: Sequence[str] = ()
              ) -> gpd.GeoDataFrame:
    query = store.IncidentQuery(period=period, timezone=ctx.timezone,
                                categories=tuple(categories),
                                case_definition=ctx.case_definition)
    with ctx.engine.connect() as conn:
        return store.read_incidents(conn, query)


def _radius(facility_type: str, radius_m: float | None, ctx: ServiceContext) -> float | None:
    if radius_m is not None:
        if radius_m <= 0:
            raise ValueError(f"radius_m must be > 0; got {radius_m}")
        return float(radius_m)
    return ctx.settings.geo.service_radius_m.get(facility_type)


# --- technical and physical protection -------------------------------------------------------


def camera_result(ctx: ServiceContext, period: Period, *, categories: Sequence[str] = ()
                  ) -> CameraMetrics:
    """Camera metrics of every community for a period (cached).

    ``categories`` restricts the incidents of the in-view share.
    """
    cats = tuple(sorted(c.strip().lower() for c in categories if c.strip()))

    def compute() -> CameraMetrics:
        with ctx.engine.connect() as conn:
            devices = store.read_devices(conn)
        return camera_metrics(communities(ctx), devices,
                              incidents=_cases_of(ctx, period, cats),
                              period=period, camera_kinds=ctx.settings.geo.camera_kinds,
                              metric_crs=metric_crs(ctx),
                              arc_segments=ctx.settings.geo.arc_segments)
    return ctx.cached("cameras", (period.label, cats), compute)


def compound_result(ctx: ServiceContext, period: Period) -> CompoundCompliance:
    """Compound compliance of every community for a period (cached)."""
    def compute() -> CompoundCompliance:
        with ctx.engine.connect() as conn:
            comps = store.read_compounds(conn, include_removed=True)
        return compound_compliance(comps, communities(ctx), period=period)
    return ctx.cached("compounds", period.label, compute)


_PROTECTION_SUMS = ["camera_count", "cameras_working", "area_km2", "population",
                    "incidents_total", "incidents_in_view", "compounds_total",
                    "compounds_compliant"]
_PROTECTION_RATIOS = {
    "camera_working_ratio": Ratio("cameras_working", "camera_count"),
    "camera_density_per_km2": Ratio("camera_count", "area_km2"),
    "cameras_per_1000_residents": Ratio("camera_count", "population", 1000.0),
    "camera_area_share": Ratio("camera_area_share*area_km2", "area_km2"),
    "incidents_in_view_share": Ratio("incidents_in_view", "incidents_total"),
    "compound_compliance_ratio": Ratio("compounds_compliant", "compounds_total"),
}


def protection_report(ctx: ServiceContext, *, period: Period | str | None = None,
                      level: str = "community") -> Report:
    """Technical protection (cameras) and physical/technical protection of compounds.

    Parameters
    ----------
    ctx
        Service context.
    period
        Devices and compounds that existed during it count (default: the year of the latest
        incident).
    level
        ``community`` or rolled up to ``subdistrict``, ``district`` or ``city`` (counts summed,
        ratios recomputed from the sums).

    Returns
    -------
    Report
        GeoDataFrame (EPSG:4326) with the catalogue's camera and compound metrics and device
        counts by kind.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    p = default_period(ctx, period)
    cams = camera_result(ctx, p)
    comp = compound_result(ctx, p)
    frame = cams.frame.drop(columns=["name"], errors="ignore").join(
        comp.frame[["compounds_total", "compounds_compliant", "compound_compliance_ratio"]],
        how="left")
    comms = communities(ctx)
    if level == "community":
        out = comms[["code", "name", "subdistrict", "district", "geometry"]].merge(
            frame, left_on="code", right_index=True, how="left")
    else:
        kinds = [c for c in frame.columns if c.startswith("devices_")]
        rolled = roll_up_metrics(frame, comms, level=level, sums=_PROTECTION_SUMS + kinds,
                                 ratios=_PROTECTION_RATIOS).reset_index()
        out = rolled.merge(_unit_geoms(ctx, level), on="code", how="left")
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "level": level,
        "metric_crs": cams.metric_crs.to_string(), "arc_segments": cams.arc_segments,
        "camera_kinds": list(cams.camera_kinds),
        "required_measures": {"physical": list(comp.required_physical),
                              "technical": list(comp.required_technical)},
        "left_out": {"devices_outside_communities": cams.devices_unassigned,
                     "incidents_without_location": cams.incidents_unlocated,
                     "incidents_outside_communities": cams.incidents_unassigned,
                     "compounds_outside_communities": comp.compounds_unassigned},
        "generated_at": generated_at(),
    })
    return Report(gdf, prov, f"protection by {level}, {p.label}")


def blind_spots_report(ctx: ServiceContext, *, period: Period | str | None = None) -> Report:
    """Community area outside working camera view, as polygons (EPSG:4326)."""
    p = default_period(ctx, period)
    cams = camera_result(ctx, p)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "metric_crs": cams.metric_crs.to_string(),
                 "generated_at": generated_at()})
    return Report(cams.blind_spots, prov, f"camera blind spots, {p.label}")


def _unit_geoms(ctx: ServiceContext, level: str) -> pd.DataFrame:
    from api.services.rates import _unit_geometries

    return _unit_geometries(ctx, level)


# --- facility coverage ------------------------------------------------------------------------


def coverage_result(ctx: ServiceContext, facility_type: str, *, radius_m: float | None,
                    period: Period) -> FacilityCoverage:
    """Coverage of every community by one facility type (cached)."""
    radius = _radius(facility_type, radius_m, ctx)

    def compute() -> FacilityCoverage:
        with ctx.engine.connect() as conn:
            facilities = store.read_facilities(conn)
            comps = store.read_compounds(conn)
        if not (facilities["type"] == facility_type).any():
            known = sorted(set(facilities["type"].dropna()))
            raise ValueError(f"no facility of type {facility_type!r} is loaded; types: "
                             f"{', '.join(known) or 'none'}")
        return facility_coverage(communities(ctx), facilities, facility_type=facility_type,
                                 radius_m=radius, detour_factor=ctx.settings.geo.detour_factor,
                                 compounds=comps, period=period, metric_crs=metric_crs(ctx),
                                 circle_segments=ctx.settings.geo.arc_segments)
    return ctx.cached("coverage", (facility_type, radius, period.label), compute)


def _coverage_provenance(ctx: ServiceContext, res: FacilityCoverage, p: Period
                         ) -> dict[str, Any]:
    default = res.radius_m == SERVICE_RADIUS_M.get(res.facility_type)
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "facility_type": res.facility_type,
        "radius_m": res.radius_m, "detour_factor": res.detour_factor,
        "effective_radius_m": res.effective_radius_m,
        "radius_basis": (SERVICE_RADIUS_BASIS.get(res.facility_type, "")
                         if default else "set by the user or the geo.service_radius_m setting"),
        "facilities_used": res.facilities_used, "circle_segments": res.circle_segments,
        "metric_crs": res.metric_crs.to_string(), "notes": list(res.notes),
        "generated_at": generated_at(),
    })
    return prov


_COVERAGE_SUMS = ["population", "area_km2", "facility_uncovered_population"]
_COVERAGE_RATIOS = {
    "facility_covered_area_share": Ratio("facility_covered_area_share*area_km2", "area_km2"),
    "facility_covered_population_share": Ratio(
        "facility_covered_population_share*population", "population"),
    "facility_distance_m": Ratio("facility_distance_m*population", "population"),
}


def coverage_report(ctx: ServiceContext, *, facility_type: str, radius_m: float | None = None,
                    level: str = "community", period: Period | str | None = None) -> Report:
    """Covered share of area and residents, and distance to the nearest facility of a type.

    Parameters
    ----------
    ctx
        Service context.
    facility_type
        e.g. ``police_office``.
    radius_m
        Service radius (default: the ``geo.service_radius_m`` setting, else the type's sourced
        default in :data:`geo.coverage.SERVICE_RADIUS_M`).
    level
        ``community`` (ranked by uncovered residents) or rolled up.
    period
        Facilities open during it count (default: the year of the latest incident).

    Returns
    -------
    Report
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    p = default_period(ctx, period)
    res = coverage_result(ctx, facility_type, radius_m=radius_m, period=p)
    comms = communities(ctx)
    if level == "community":
        ranked = res.ranking[["code", "rank"]]
        frame = res.frame.drop(columns=["name"], errors="ignore")
        out = comms[["code", "name", "subdistrict", "district", "geometry"]].merge(
            frame, left_on="code", right_index=True, how="left").merge(ranked, on="code",
                                                                       how="left")
        out = out.sort_values("rank")
    else:
        rolled = roll_up_metrics(res.frame, comms, level=level, sums=_COVERAGE_SUMS,
                                 ratios=_COVERAGE_RATIOS).reset_index()
        out = rolled.merge(_unit_geoms(ctx, level), on="code", how="left")
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
    prov = _coverage_provenance(ctx, res, p)
    prov["level"] = level
    return Report(gdf, prov, f"{facility_type} coverage within {res.radius_m:g} m by {level}, "
                             f"{p.label}")


def gaps_report(ctx: ServiceContext, *, facility_type: str, radius_m: float | None = None,
                period: Period | str | None = None) -> Report:
    """Gap polygons: community area outside every service area of the type, with residents."""
    p = default_period(ctx, period)
    res = coverage_result(ctx, facility_type, radius_m=radius_m, period=p)
    gaps = res.gaps.sort_values("population", ascending=False).reset_index(drop=True)
    return Report(gaps, _coverage_provenance(ctx, res, p),
                  f"{facility_type} gaps (outside {res.radius_m:g} m), {p.label}")


def service_areas(ctx: ServiceContext, *, facility_type: str, radius_m: float | None = None,
                  period: Period | str | None = None) -> gpd.GeoDataFrame:
    """Facilities of a type open during the period with their service circles (EPSG:4326)."""
    from geo.coverage import existing_during

    p = default_period(ctx, period)
    res = coverage_result(ctx, facility_type, radius_m=radius_m, period=p)
    with ctx.engine.connect() as conn:
        fac = store.read_facilities(conn, facility_type=facility_type)
    fac = fac[existing_during(fac, p, start_column="opened_on", end_column="closed_on")]
    crs = res.metric_crs
    circles = fac.to_crs(crs).buffer(res.effective_radius_m,
                                     quad_segs=max(2, res.circle_segments // 4)).to_crs(4326)
    return gpd.GeoDataFrame(fac[["id", "type", "name"]].assign(
        radius_m=res.effective_radius_m), geometry=circles.to_numpy(), crs="EPSG:4326")


# --- workload and site plans ------------------------------------------------------------------


def workload_report(ctx: ServiceContext, *, facility_type: str, period: Period | str | None = None,
                    radius_m: float | None = None) -> Report:
    """Incidents per facility: its nearest-facility catchment and those within its radius."""
    p = default_period(ctx, period)
    radius = _radius(facility_type, radius_m, ctx)

    def compute() -> Any:
        with ctx.engine.connect() as conn:
            facilities = store.read_facilities(conn)
        cases = _cases_of(ctx, p)
        return facility_workload(cases, facilities, facility_type=facility_type,
                                 radius_m=radius, period=p, metric_crs=metric_crs(ctx))

    res = ctx.cached("workload", (facility_type, radius, p.label), compute)
    with ctx.engine.connect() as conn:
        fac = store.read_facilities(conn, facility_type=facility_type).set_index("id")
    frame = res.frame.join(fac[["geometry"]], how="left").reset_index()
    frame = frame.sort_values("incidents_catchment", ascending=False)
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "facility_type": facility_type,
                 "radius_m": res.radius_m, "metric_crs": res.metric_crs.to_string(),
                 "incidents_total": res.incidents_total,
                 "left_out": {"incidents_without_location": res.incidents_unlocated},
                 "incidents_out_of_reach": res.incidents_out_of_reach,
                 "case_definition": ctx.case_definition.as_sql_lists(),
                 "generated_at": generated_at()})
    return Report(gdf, prov, f"{facility_type} workload, {p.label}")


def site_plan_report(ctx: ServiceContext, *, facility_type: str, k: int,
                     radius_m: float | None = None, candidates: gpd.GeoDataFrame | None = None,
                     period: Period | str | None = None, time_limit_s: float = 60.0) -> Report:
    """Suggest ``k`` new sites for a facility type (maximal covering location).

    Parameters
    ----------
    ctx
        Service context.
    facility_type
        The type to site.
    k
        Number of new sites (1-100).
    radius_m
        Service radius (default as for coverage).
    candidates
        Candidate points (EPSG:4326, optional ``id``); default compound centroids and a grid.
    period
        Existing facilities open during it are fixed.
    time_limit_s
        Solver time limit.

    Returns
    -------
    Report
        The chosen sites; coverage before and after in the provenance.
    """
    if not 1 <= int(k) <= 100:
        raise ValueError(f"k (--add) must be between 1 and 100; got {k}")
    p = default_period(ctx, period)
    radius = _radius(facility_type, radius_m, ctx)
    with ctx.engine.connect() as conn:
        facilities = store.read_facilities(conn)
        comps = store.read_compounds(conn)
    plan: SitePlan = plan_facility_sites(
        communities(ctx), facilities, facility_type=facility_type, k=int(k), radius_m=radius,
        detour_factor=ctx.settings.geo.detour_factor, compounds=comps, candidates=candidates,
        period=p, metric_crs=metric_crs(ctx), time_limit_s=time_limit_s)
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "facility_type": facility_type,
        "radius_m": plan.radius_m, "k_requested": plan.k_requested, "k_used": plan.k_used,
        "population_total": plan.population_total,
        "population_covered_before": plan.population_covered_before,
        "population_covered_after": plan.population_covered_after,
        "coverage_before": plan.coverage_before, "coverage_after": plan.coverage_after,
        "solver_status": plan.solver_status, "solution_status": plan.solution_status,
        "candidates_given": plan.candidates_given,
        "candidates_reaching": plan.candidates_reaching,
        "candidates_used": plan.candidates_used, "metric_crs": plan.metric_crs.to_string(),
        "notes": list(plan.notes), "generated_at": generated_at(),
    })
    return Report(plan.sites, prov, f"{plan.k_used} new {facility_type} sites, {p.label}")
