"""Protection and facility coverage over stored data.

Cameras, compounds, service areas, gaps, workload and new-site plans.

Every computation is :mod:`geo.cameras`, :mod:`geo.compounds`, :mod:`geo.coverage` or
:mod:`geo.siting` on frames read from storage; inventories count for a period only if they
existed during it (:func:`geo.inventory.existing_during`). Results are cached per data version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.release import Selection, Visibility, release_provenance
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.units import check_level, level_zh, unit_geometries, world_communities
from geo.arrays import present
from geo.cameras import CameraMetrics, camera_metrics
from geo.compounds import CompoundCompliance, compound_compliance
from geo.coverage import (
    SERVICE_RADIUS_BASIS,
    SERVICE_RADIUS_M,
    FacilityCoverage,
    FacilityWorkload,
    facility_coverage,
    facility_workload,
)
from geo.errors import MissingDataError, ParameterError
from geo.inventory import existing_during
from geo.period import Period
from geo.population import PopulationPlacement, place_population
from geo.release import KEY_MODULUS, release_counts
from geo.rollup import (
    COVERAGE_RATIOS,
    COVERAGE_SUMS,
    PROTECTION_RATIOS,
    PROTECTION_SUMS,
    roll_up_metrics,
)
from geo.siting import SitePlan, plan_facility_sites
from maps.labels import term

__all__ = [
    "blind_spots_report",
    "camera_result",
    "compound_result",
    "coverage_report",
    "coverage_result",
    "gaps_report",
    "plan_provenance",
    "population_placement",
    "protection_report",
    "service_areas",
    "site_plan_report",
    "workload_frame",
    "workload_report",
]


def _cases_of(ctx: ServiceContext, period: Period, categories: Sequence[str] = (),
              communities: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
    """The period's cases with their record keys (``rkey``: for releasing counts, never shown)."""
    query = store.IncidentQuery(period=period, timezone=ctx.timezone,
                                categories=tuple(categories), communities=communities,
                                case_definition=ctx.case_definition)
    with ctx.engine.connect() as conn:
        return store.read_incidents(conn, query, keys=True)


def _radius(facility_type: str, radius_m: float | None, ctx: ServiceContext) -> float | None:
    if radius_m is not None:
        if not radius_m > 0:
            raise ParameterError(f"radius_m must be > 0 (metres); got {radius_m}",
                                 parameter="radius_m")
        return float(radius_m)
    return ctx.settings.geo.service_radius_m.get(facility_type)


def _rows_in(frame: pd.DataFrame, vis: Visibility, selection: Selection | None,
             column: str = "code") -> pd.DataFrame:
    """Rows of communities in the caller's world (and the selection)."""
    keep = vis.in_world(frame[column].astype("string"))
    if selection is not None and selection.communities is not None:
        keep = keep & frame[column].isin(selection.communities).to_numpy(dtype=bool)
    return frame[keep].reset_index(drop=True)


# --- technical and physical protection -------------------------------------------------------


def camera_result(ctx: ServiceContext, period: Period, *, categories: Sequence[str] = ()
                  ) -> CameraMetrics:
    """Camera metrics of every community of the city for a period (cached; exact).

    ``categories`` restricts the incidents of the in-view share. Per-community figures do not
    depend on other communities, so callers filter the rows to their world.
    """
    cats = tuple(sorted(c.strip() for c in categories if c.strip()))

    def compute() -> CameraMetrics:
        with ctx.engine.connect() as conn:
            devices = store.read_devices(conn)
        return camera_metrics(ctx.communities(), devices,
                              incidents=_cases_of(ctx, period, cats),
                              period=period, camera_kinds=ctx.settings.geo.camera_kinds,
                              metric_crs=ctx.metric_crs(),
                              arc_segments=ctx.settings.geo.arc_segments, key_column="rkey")
    return ctx.cached("cameras", (period.label, cats), compute)


def compound_result(ctx: ServiceContext, period: Period) -> CompoundCompliance:
    """Compound compliance of every community for a period (cached)."""
    def compute() -> CompoundCompliance:
        with ctx.engine.connect() as conn:
            comps = store.read_compounds(conn, include_removed=True)
        return compound_compliance(comps, ctx.communities(), period=period)
    return ctx.cached("compounds", period.label, compute)


#: Key sums of the protection report's incident counts (internal: never released).
_IN_VIEW_KEYS = ("incidents_total_key_sum", "incidents_in_view_key_sum")


def released_in_view(frame: pd.DataFrame, vis: Visibility) -> pd.DataFrame:
    """The protection report's incident columns as the caller may see them.

    Exact callers get the counts and their share; protected callers the counts released by
    the cell-key method (:func:`geo.release.release_counts`, ``"<3"`` when hidden) and the
    share of the released values (none when either count is hidden). The key sums go.
    """
    out = frame.drop(columns=list(_IN_VIEW_KEYS))
    if not vis.protected:
        return out
    total = release_counts(frame["incidents_total"].fillna(0).to_numpy(dtype=np.int64),
                           frame["incidents_total_key_sum"].fillna(0).to_numpy(dtype=np.int64),
                           min_count=vis.min_count)
    view = release_counts(frame["incidents_in_view"].fillna(0).to_numpy(dtype=np.int64),
                          frame["incidents_in_view_key_sum"].fillna(0).to_numpy(dtype=np.int64),
                          min_count=vis.min_count)
    share = view.value / total.value
    share[total.hidden | view.hidden] = np.nan
    out["incidents_total"] = total.shown
    out["incidents_in_view"] = view.shown
    out["incidents_in_view_share"] = share
    return out


def protection_report(ctx: ServiceContext, vis: Visibility, *,
                      period: Period | str | None = None, level: str = "community",
                      selection: Selection | None = None) -> Report:
    """Technical protection (cameras) and physical/technical protection of compounds.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    period
        Devices and compounds that existed during it count (default: the year of the latest
        incident).
    level
        ``community`` or rolled up to ``subdistrict``, ``district`` or ``city`` (counts summed,
        ratios recomputed from the sums) over the caller's communities.
    selection
        Only these communities' rows (or units holding them).

    Returns
    -------
    Report
        GeoDataFrame (EPSG:4326) with the catalogue's camera and compound metrics and device
        counts by kind.
    """
    check_level(level)
    p = vis.check_period(ctx.period(period))
    cams = camera_result(ctx, p)
    comp = compound_result(ctx, p)
    frame = cams.frame.drop(columns=["name"], errors="ignore").join(
        comp.frame[["compounds_total", "compounds_compliant", "compound_compliance_ratio"]],
        how="left")
    comms = world_communities(ctx, vis)
    frame = frame[frame.index.isin(comms["code"])]
    if level == "community":
        out = comms[["code", "name", "subdistrict", "district", "geometry"]].merge(
            frame, left_on="code", right_index=True, how="left")
        out = _rows_in(out, vis, selection)
    else:
        kinds = [c for c in frame.columns if c.startswith("devices_")]
        sums = [c for c in [*PROTECTION_SUMS, *kinds, *_IN_VIEW_KEYS] if c in frame.columns]
        # Only a key sum's remainder modulo 2**32 matters; reduced, a roll-up's sum stays exact
        # in the float arithmetic of roll_up_metrics for up to 2**21 communities.
        frame = frame.assign(**{c: frame[c] % KEY_MODULUS for c in _IN_VIEW_KEYS})
        rolled = roll_up_metrics(frame, comms, level=level, sums=sums,
                                 ratios=PROTECTION_RATIOS).reset_index()
        out = rolled.merge(unit_geometries(ctx, vis, level), on="code", how="left")
    out = released_in_view(out, vis)
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "level": level,
        "metric_crs": cams.metric_crs.to_string(), "arc_segments": cams.arc_segments,
        "camera_kinds": list(cams.camera_kinds),
        "required_measures": {"physical": list(comp.required_physical),
                              "technical": list(comp.required_technical)},
        # What was left out is counted over the whole city: only a caller whose world is the
        # city may see it (a liaison's would reveal incidents outside their jurisdiction).
        **({"left_out": {"devices_outside_communities": cams.devices_unassigned,
                         "incidents_without_location": cams.incidents_unlocated,
                         "incidents_outside_communities": cams.incidents_unassigned,
                         "compounds_outside_communities": comp.compounds_unassigned}}
           if vis.communities is None else {}),
        "generated_at": generated_at(), **(selection.provenance() if selection else {}),
    })
    return Report(gdf, release_provenance(prov, vis=vis), f"protection by {level}, {p.label}",
                  f"技防物防（{level_zh(level)}），{p.label}")


def blind_spots_report(ctx: ServiceContext, vis: Visibility, *,
                       period: Period | str | None = None,
                       selection: Selection | None = None) -> Report:
    """Community area outside working camera view, as polygons (EPSG:4326)."""
    p = vis.check_period(ctx.period(period))
    cams = camera_result(ctx, p)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "metric_crs": cams.metric_crs.to_string(),
                 "generated_at": generated_at()})
    return Report(_rows_in(cams.blind_spots, vis, selection),
                  release_provenance(prov, vis=vis), f"camera blind spots, {p.label}",
                  f"视频监控盲区，{p.label}")


# --- facility coverage ------------------------------------------------------------------------


def population_placement(ctx: ServiceContext, period: Period) -> PopulationPlacement:
    """The residents placed on compounds and community areas for a period (cached).

    Every facility type's coverage of the period is measured on this one placement
    (:func:`geo.population.place_population`). A placement depends on the period only
    through the compounds that existed during it, so it is cached per data version and set
    of those compounds: periods with the same compounds (this year and last, mostly) share it.
    """
    with ctx.engine.connect() as conn:
        comps = store.read_compounds(conn)
    comps = comps[existing_during(comps, period, start_column=None,
                                  end_column=present(comps, "removed_on"))]
    ids = hashlib.sha256("\0".join(sorted(comps["id"].astype(str))).encode()).hexdigest()
    return ctx.cached("population-placement", ids, lambda: place_population(
        ctx.communities(), compounds=comps, metric_crs=ctx.metric_crs()))


def coverage_result(ctx: ServiceContext, facility_type: str, *, radius_m: float | None,
                    period: Period) -> FacilityCoverage:
    """Coverage of every community of the city by one facility type (cached; no incidents).

    Raises
    ------
    geo.errors.MissingDataError
        If no facility of the type is loaded.
    """
    radius = _radius(facility_type, radius_m, ctx)

    def compute() -> FacilityCoverage:
        with ctx.engine.connect() as conn:
            facilities = store.read_facilities(conn)
            comps = store.read_compounds(conn)
        if not (facilities["type"] == facility_type).any():
            known = sorted(set(facilities["type"].dropna()))
            raise MissingDataError(f"no facility of type {facility_type!r} is loaded; types: "
                                   f"{', '.join(known) or 'none'}")
        return facility_coverage(ctx.communities(), facilities, facility_type=facility_type,
                                 radius_m=radius, detour_factor=ctx.settings.geo.detour_factor,
                                 compounds=comps, period=period, metric_crs=ctx.metric_crs(),
                                 circle_segments=ctx.settings.geo.arc_segments,
                                 placement=population_placement(ctx, period))
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


def coverage_report(ctx: ServiceContext, vis: Visibility, *, facility_type: str,
                    radius_m: float | None = None, level: str = "community",
                    period: Period | str | None = None,
                    selection: Selection | None = None) -> Report:
    """Covered share of area and residents, and distance to the nearest facility of a type.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller (a liaison's rows and roll-ups cover their communities only).
    facility_type
        e.g. ``police_office``.
    radius_m
        Service radius (default: the ``geo.service_radius_m`` setting, else the type's sourced
        default in :data:`geo.coverage.SERVICE_RADIUS_M`).
    level
        ``community`` (ranked by uncovered residents) or rolled up.
    period
        Facilities open during it count (default: the year of the latest incident).
    selection
        Only these communities' rows.

    Returns
    -------
    Report
    """
    check_level(level)
    p = vis.check_period(ctx.period(period))
    res = coverage_result(ctx, facility_type, radius_m=radius_m, period=p)
    comms = world_communities(ctx, vis)
    frame = res.frame[res.frame.index.isin(comms["code"])]
    if level == "community":
        ranked = res.ranking[["code", "rank"]]
        out = comms[["code", "name", "subdistrict", "district", "geometry"]].merge(
            frame.drop(columns=["name"], errors="ignore"), left_on="code", right_index=True,
            how="left").merge(ranked, on="code", how="left")
        out = _rows_in(out.sort_values("rank"), vis, selection)
    else:
        rolled = roll_up_metrics(frame, comms, level=level, sums=COVERAGE_SUMS,
                                 ratios=COVERAGE_RATIOS).reset_index()
        out = rolled.merge(unit_geometries(ctx, vis, level), on="code", how="left")
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
    prov = _coverage_provenance(ctx, res, p)
    prov["level"] = level
    return Report(gdf, release_provenance(prov, vis=vis),
                  f"{facility_type} coverage within {res.radius_m:g} m by {level}, {p.label}",
                  f"{term('facility', facility_type, 'zh')} {res.radius_m:g} 米服务覆盖（"
                  f"{level_zh(level)}），{p.label}")


def gaps_report(ctx: ServiceContext, vis: Visibility, *, facility_type: str,
                radius_m: float | None = None, period: Period | str | None = None,
                selection: Selection | None = None) -> Report:
    """Gap polygons: community area outside every service area of the type, with residents."""
    p = vis.check_period(ctx.period(period))
    res = coverage_result(ctx, facility_type, radius_m=radius_m, period=p)
    gaps = _rows_in(res.gaps, vis, selection)
    gaps = gaps.sort_values("population", ascending=False).reset_index(drop=True)
    return Report(gaps, release_provenance(_coverage_provenance(ctx, res, p), vis=vis),
                  f"{facility_type} gaps (outside {res.radius_m:g} m), {p.label}",
                  f"{term('facility', facility_type, 'zh')}服务盲区（{res.radius_m:g} 米以外），"
                  f"{p.label}")


def service_areas(ctx: ServiceContext, *, facility_type: str, radius_m: float | None = None,
                  period: Period | str | None = None) -> gpd.GeoDataFrame:
    """Facilities of a type open during the period with their service circles (EPSG:4326)."""
    p = ctx.period(period)
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


def _configured_radius(ctx: ServiceContext, vis: Visibility, facility_type: str,
                       radius: float | None) -> float | None:
    """A protected caller's workload radius: the configured one (``None``: catchments only).

    Counts within two radii would difference into the ring between them, so a protected
    caller's release space holds one radius per facility type. A type with no configured
    radius has catchments only.

    Raises
    ------
    geo.errors.ParameterError
        When another radius is asked for, or a radius is asked for a type with none configured.
    """
    configured = ctx.settings.geo.service_radius_m.get(facility_type,
                                                       SERVICE_RADIUS_M.get(facility_type))
    if configured is None and radius is None:
        return None
    if configured is None:
        raise ParameterError(f"radius_m: {facility_type!r} has no configured radius (setting "
                             f"geo.service_radius_m), and a {vis.role} key sees workload "
                             "within the configured radius only", parameter="radius_m")
    if radius is not None and abs(radius - configured) > 1e-9:
        raise ParameterError(f"radius_m: a {vis.role} key sees workload within the configured "
                             f"radius of {facility_type!r} only ({configured:g} m); got "
                             f"{radius:g}", parameter="radius_m")
    return float(configured)


_WORKLOAD_KEYS = ("incidents_catchment_key_sum", "incidents_within_radius_key_sum")


def released_workload(frame: pd.DataFrame, res: FacilityWorkload, vis: Visibility
                      ) -> pd.DataFrame:
    """Workload counts and shares as the caller may see them.

    Protected callers get each facility's catchment and within-radius counts released by the
    cell-key method (``"<3"`` when hidden) and shares of the released total of located
    incidents (none in a row where either count is hidden). The key sums go.
    """
    out = frame.drop(columns=[c for c in _WORKLOAD_KEYS if c in frame.columns])
    if not vis.protected:
        return out
    total = release_counts([res.incidents_located], [res.incidents_located_key_sum],
                           min_count=vis.min_count)
    pairs = tuple((count, share) for count, share in (
        ("incidents_catchment", "catchment_share"),
        ("incidents_within_radius", "within_radius_share")) if count in frame.columns)
    released = {count: release_counts(frame[count].to_numpy(dtype=np.int64),
                                      frame[f"{count}_key_sum"].to_numpy(dtype=np.int64),
                                      min_count=vis.min_count) for count, _ in pairs}
    # A row with a hidden count carries no share at all (as every released row: no derived
    # figure stands next to a "<3").
    any_hidden = np.logical_or.reduce([r.hidden for r in released.values()]) | total.hidden[0]
    for count, share in pairs:
        ratio = released[count].value / total.value[0]
        ratio[any_hidden] = np.nan
        out[count] = released[count].shown
        out[share] = ratio
    return out


def workload_frame(ctx: ServiceContext, vis: Visibility, res: Any,
                   facility_type: str) -> gpd.GeoDataFrame:
    """A workload result's rows with each facility's point, ordered and released for ``vis``.

    Shared by the straight-line and the along-roads workload (``res`` has ``frame`` indexed by
    facility id and the attributes :func:`released_workload` reads).
    """
    with ctx.engine.connect() as conn:
        fac = store.read_facilities(conn, facility_type=facility_type).set_index("id")
    frame = res.frame.join(fac[["geometry"]], how="left").reset_index()
    # Exact callers see the busiest first; a protected caller's order must not rank the exact
    # counts behind released ones, so theirs is by facility id.
    frame = (frame.sort_values("id") if vis.protected
             else frame.sort_values("incidents_catchment", ascending=False))
    frame = released_workload(frame, res, vis)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def plan_provenance(plan: SitePlan) -> dict[str, Any]:
    """What a site plan's provenance says of the plan itself (both reaches share it)."""
    return {
        "k_requested": plan.k_requested, "k_used": plan.k_used,
        "population_total": plan.population_total,
        "population_covered_before": plan.population_covered_before,
        "population_covered_after": plan.population_covered_after,
        "coverage_before": plan.coverage_before, "coverage_after": plan.coverage_after,
        "solver_status": plan.solver_status, "solution_status": plan.solution_status,
        "candidates_given": plan.candidates_given,
        "candidates_reaching": plan.candidates_reaching,
        "candidates_used": plan.candidates_used, "metric_crs": plan.metric_crs.to_string(),
        "notes": list(plan.notes), "generated_at": generated_at(),
    }


def workload_report(ctx: ServiceContext, vis: Visibility, *, facility_type: str,
                    period: Period | str | None = None,
                    radius_m: float | None = None) -> Report:
    """Incidents per facility: its nearest-facility catchment and those within its radius.

    An exact caller's incidents are those of their world; a protected caller's counts are
    released by the cell-key method (:func:`released_workload`). Without ``radius_m`` the
    type's configured or default radius is used; a type with neither gets its catchments only
    (the nearest facility needs no radius).
    """
    p = vis.check_period(ctx.period(period))
    radius = _radius(facility_type, radius_m, ctx)
    if radius is None:
        radius = SERVICE_RADIUS_M.get(facility_type)
    if vis.protected:
        radius = _configured_radius(ctx, vis, facility_type, radius)

    # A protected caller's counts hold incidents assigned to a community only (those in no
    # community are the admin's); an exact caller's, the incidents of their world.
    scope = (tuple(ctx.communities()["code"].astype(str)) if vis.protected
             else vis.community_filter())

    def compute() -> Any:
        with ctx.engine.connect() as conn:
            facilities = store.read_facilities(conn)
        cases = _cases_of(ctx, p, communities=scope)
        return facility_workload(cases, facilities, facility_type=facility_type, key_column="rkey",
                                 radius_m=radius, period=p, metric_crs=ctx.metric_crs())

    res = ctx.cached("workload", (facility_type, radius, p.label, vis.protected), compute,
                     vis=None if vis.protected else vis)
    gdf = workload_frame(ctx, vis, res, facility_type)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "facility_type": facility_type,
                 "radius_m": res.radius_m, "metric_crs": res.metric_crs.to_string(),
                 "incidents_total": res.incidents_total,
                 "left_out": {"incidents_without_location": res.incidents_unlocated},
                 **({"incidents_out_of_reach": res.incidents_out_of_reach}
                    if res.radius_m is not None else
                    {"notes": [f"{facility_type!r} has no service radius (none given, none "
                               "configured): catchments only"]}),
                 "case_definition": ctx.case_definition.as_sql_lists(),
                 "generated_at": generated_at()})
    return Report(gdf, release_provenance(prov, vis=vis), f"{facility_type} workload, {p.label}",
                  f"{term('facility', facility_type, 'zh')}工作量，{p.label}")


def site_plan_report(ctx: ServiceContext, vis: Visibility, *, facility_type: str, k: int,
                     radius_m: float | None = None, candidates: gpd.GeoDataFrame | None = None,
                     period: Period | str | None = None, time_limit_s: float = 60.0) -> Report:
    """Suggest ``k`` new sites for a facility type (maximal covering location).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller (a liaison plans for the residents of their communities).
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
        The chosen sites with their position and community; coverage before and after in
        the provenance, measured as :func:`coverage_report` measures it.

    Raises
    ------
    geo.errors.ParameterError
        If ``k`` is outside 1..100.
    """
    if not 1 <= int(k) <= 100:
        raise ParameterError(f"k (--add) must be between 1 and 100; got {k}", parameter="add")
    p = vis.check_period(ctx.period(period))
    radius = _radius(facility_type, radius_m, ctx)
    with ctx.engine.connect() as conn:
        facilities = store.read_facilities(conn)
        comps = store.read_compounds(conn)
    plan: SitePlan = plan_facility_sites(
        world_communities(ctx, vis), facilities, facility_type=facility_type, k=int(k),
        radius_m=radius, detour_factor=ctx.settings.geo.detour_factor, compounds=comps,
        candidates=candidates, period=p, metric_crs=ctx.metric_crs(),
        time_limit_s=time_limit_s, circle_segments=ctx.settings.geo.arc_segments)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "facility_type": facility_type,
                 "radius_m": plan.radius_m, **plan_provenance(plan)})
    return Report(plan.sites, release_provenance(prov, vis=vis),
                  f"{plan.k_used} new {facility_type} sites, {p.label}",
                  f"新增 {plan.k_used} 处{term('facility', facility_type, 'zh')}选址，{p.label}")
