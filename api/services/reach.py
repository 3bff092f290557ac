"""Reach along roads over stored data: coverage, gaps, workload and police response.

``reach`` chooses how a facility's reach is measured:

- ``line``: the straight line (:mod:`api.services.coverage`, the default);
- ``walk``: metres along the stored roads (:mod:`geo.reach`); the type's radius stays in
  metres as GB 50180-2018 gives it, and minutes are shown at :data:`geo.roads.WALK_SPEED_MPS`
  for information;
- ``drive``: minutes along the drivable roads at each class's speed.

Walk and drive need a roads layer (``pingan load roads``); without one they answer with an
error that names that command. The road graph is built once per data version and mode.
Everything here goes through the same trust rules as the straight-line reports: a liaison's
rows cover their communities; workload counts are released by the cell-key method to planner
and client, who get the configured limit of each type only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import pandas as pd

from api import store
from api.release import Selection, Visibility, release_provenance
from api.roads import read_road_edges
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.units import check_level, unit_geometries, world_communities
from geo.coverage import SERVICE_RADIUS_M, FacilityCoverage
from geo.errors import MissingDataError, ParameterError
from geo.inventory import facilities_of_type
from geo.isochrones import DEFAULT_TRIM_M
from geo.network import DEFAULT_MAX_OFFSET_M, RoadNetwork, build_network
from geo.network_siting import plan_sites_along_roads
from geo.period import Period
from geo.population import place_population
from geo.reach import (
    DRIVE_MINUTES_BASIS,
    REACHES,
    RESPONSE_MINUTES,
    NetworkCoverage,
    drive_minutes,
    network_coverage,
    network_workload,
    response_shares,
)
from geo.roads import WALK_SPEED_MPS
from geo.rollup import COVERAGE_RATIOS, COVERAGE_SUMS, Ratio, roll_up_metrics
from maps.coverage import ServiceAreas
from maps.labels import term

__all__ = ["check_reach", "coverage_by_reach", "coverage_for_map", "gaps_by_reach",
           "network_coverage_result", "reach_coverage_report", "reach_gaps_report",
           "reach_site_plan_report", "reach_workload_report", "response_report",
           "road_network", "site_plan_by_reach", "workload_by_reach"]

_SUMS = (*COVERAGE_SUMS, "population_unreachable")
_RATIOS = {**COVERAGE_RATIOS,
           "facility_minutes": Ratio.weighted_mean("facility_minutes", "population")}


def check_reach(reach: str) -> str:
    """Check a ``reach`` value: ``walk``, ``drive`` or ``line``.

    Raises
    ------
    geo.errors.ParameterError
        When it is none of them (the message names ``reach``).
    """
    if reach not in REACHES:
        raise ParameterError(f"reach must be one of {', '.join(REACHES)}; got {reach!r}",
                             parameter="reach")
    return reach


def road_network(ctx: ServiceContext, mode: str) -> RoadNetwork:
    """The stored road network of a mode (cached per data version).

    Raises
    ------
    geo.errors.MissingDataError
        When no roads layer is loaded (the message names ``pingan load roads``).
    """
    def build() -> RoadNetwork:
        with ctx.engine.connect() as conn:
            edges = read_road_edges(conn)
        return build_network(edges, mode=mode, metric_crs=ctx.metric_crs())
    return ctx.cached("road_network", mode, build)


def _walk_radius(ctx: ServiceContext, facility_type: str, radius_m: float | None
                 ) -> float | None:
    """The walking limit: ``radius_m``, else the configured radius (else the type's default)."""
    if radius_m is not None:
        return float(radius_m)
    return ctx.settings.geo.service_radius_m.get(facility_type)


def _limits(ctx: ServiceContext, facility_type: str, reach: str, radius_m: float | None,
            minutes: float | None) -> tuple[float | None, float | None]:
    """(radius_m, minutes) for a network mode; the other one must not be given."""
    if reach == "walk":
        if minutes is not None:
            raise ParameterError("minutes: walking reach is judged in metres (radius_m), as "
                                 "GB 50180-2018 gives its life circles; minutes are for "
                                 "reach=drive", parameter="minutes")
        return _walk_radius(ctx, facility_type, radius_m), None
    if radius_m is not None:
        raise ParameterError("radius_m: reach=drive is judged in minutes (minutes); radius_m "
                             "is for walk and line", parameter="radius_m")
    return None, drive_minutes(facility_type, minutes)


def _require_type(facilities: gpd.GeoDataFrame, facility_type: str) -> None:
    if not (facilities["type"] == facility_type).any():
        known = sorted(set(facilities["type"].dropna()))
        raise MissingDataError(f"no facility of type {facility_type!r} is loaded; types: "
                               f"{', '.join(known) or 'none'}")


def network_coverage_result(ctx: ServiceContext, facility_type: str, *, reach: str,
                            radius_m: float | None, minutes: float | None,
                            period: Period) -> NetworkCoverage:
    """Coverage of every community along the roads (cached; no incidents).

    Raises
    ------
    geo.errors.MissingDataError
        If no roads layer or no facility of the type is loaded.
    """
    radius, limit_min = _limits(ctx, facility_type, reach, radius_m, minutes)
    network = road_network(ctx, reach)

    def compute() -> NetworkCoverage:
        with ctx.engine.connect() as conn:
            facilities = store.read_facilities(conn)
            comps = store.read_compounds(conn)
        _require_type(facilities, facility_type)
        return network_coverage(ctx.communities(), facilities, network,
                                facility_type=facility_type, radius_m=radius,
                                minutes=limit_min, compounds=comps, period=period)
    return ctx.cached("network_coverage",
                      (facility_type, reach, radius, limit_min, period.label), compute)


def _provenance(ctx: ServiceContext, res: NetworkCoverage, p: Period) -> dict[str, Any]:
    prov = period_provenance(p, ctx.timezone)
    walking = res.reach == "walk"
    basis = (("the type's sourced default (geo.coverage.SERVICE_RADIUS_BASIS)"
              if res.threshold == SERVICE_RADIUS_M.get(res.facility_type) else
              "set by the user or the geo.service_radius_m setting") if walking else
             DRIVE_MINUTES_BASIS.get(res.facility_type, "pingan's default of 10 minutes, no "
                                     "published source; set per city with minutes"))
    prov.update({
        "data_version": ctx.data_version(), "facility_type": res.facility_type,
        "reach": res.reach, "unit": res.unit,
        **({"radius_m": res.threshold,
            "walk_minutes": round(res.threshold / res.walk_speed_mps / 60.0, 1)}
           if walking else {"minutes": res.threshold}),
        "radius_basis": basis, "walk_speed_mps": res.walk_speed_mps, "trim_m": res.trim_m,
        "max_offset_m": res.max_offset_m, "facilities_used": res.facilities_used,
        "facilities_unreachable": list(res.facilities_unreachable),
        "population_unreachable": res.population_unreachable,
        "metric_crs": res.metric_crs.to_string(), "notes": list(res.notes),
        "generated_at": generated_at(),
    })
    return prov


def _title(res: NetworkCoverage) -> str:
    if res.reach == "walk":
        return (f"within {res.threshold:g} m walk along roads (about "
                f"{res.threshold / res.walk_speed_mps / 60:.0f} min at "
                f"{res.walk_speed_mps:g} m/s)")
    return f"within {res.threshold:g} min drive"


def reach_coverage_report(ctx: ServiceContext, vis: Visibility, *, facility_type: str,
                          reach: str, radius_m: float | None = None,
                          minutes: float | None = None, level: str = "community",
                          period: Period | str | None = None,
                          selection: Selection | None = None) -> Report:
    """Coverage of a facility type along the roads (``reach`` ``walk`` or ``drive``).

    The columns of :func:`api.services.coverage.coverage_report` and ``facility_minutes``
    and ``population_unreachable``; rolled up as the straight-line report is.

    Returns
    -------
    Report
    """
    check_level(level)
    p = vis.check_period(ctx.period(period))
    res = network_coverage_result(ctx, facility_type, reach=check_reach(reach),
                                  radius_m=radius_m, minutes=minutes, period=p)
    comms = world_communities(ctx, vis)
    frame = res.frame[res.frame.index.isin(comms["code"])]
    if level == "community":
        out = comms[["code", "name", "subdistrict", "district", "geometry"]].merge(
            frame.drop(columns=["name"]), left_on="code", right_index=True, how="left").merge(
            res.ranking[["code", "rank"]], on="code", how="left").sort_values("rank")
        out = _rows_in(out, vis, selection)
    else:
        rolled = roll_up_metrics(frame, comms, level=level, sums=_SUMS,
                                 ratios=_RATIOS).reset_index()
        out = rolled.merge(unit_geometries(ctx, vis, level), on="code", how="left")
    prov = _provenance(ctx, res, p)
    prov["level"] = level
    return Report(gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326"),
                  release_provenance(prov, vis=vis),
                  f"{facility_type} coverage {_title(res)} by {level}, {p.label}")


def _rows_in(frame: pd.DataFrame, vis: Visibility, selection: Selection | None
             ) -> pd.DataFrame:
    keep = vis.in_world(frame["code"].astype("string"))
    if selection is not None and selection.communities is not None:
        keep = keep & frame["code"].isin(selection.communities).to_numpy(dtype=bool)
    return frame[keep].reset_index(drop=True)


def reach_gaps_report(ctx: ServiceContext, vis: Visibility, *, facility_type: str,
                      reach: str, radius_m: float | None = None, minutes: float | None = None,
                      period: Period | str | None = None,
                      selection: Selection | None = None) -> Report:
    """Gap polygons along the roads: community area outside every service-area polygon."""
    p = vis.check_period(ctx.period(period))
    res = network_coverage_result(ctx, facility_type, reach=check_reach(reach),
                                  radius_m=radius_m, minutes=minutes, period=p)
    gaps = _rows_in(res.gaps, vis, selection)
    gaps = gaps.sort_values("population", ascending=False).reset_index(drop=True)
    return Report(gaps, release_provenance(_provenance(ctx, res, p), vis=vis),
                  f"{facility_type} gaps (outside {_title(res)}), {p.label}")


def _protected_limits(ctx: ServiceContext, vis: Visibility, facility_type: str, reach: str,
                      radius_m: float | None, minutes: float | None
                      ) -> tuple[float | None, float | None]:
    """A protected caller's workload limit: the configured one of the type only.

    Counts within two limits would difference into the band between them.
    """
    if reach == "walk":
        configured = ctx.settings.geo.service_radius_m.get(
            facility_type, SERVICE_RADIUS_M.get(facility_type))
        if configured is None or (radius_m is not None and abs(radius_m - configured) > 1e-9):
            raise ParameterError(f"radius_m: a {vis.role} key sees workload within the "
                                 f"configured walking distance of {facility_type!r} only "
                                 f"({configured if configured is not None else 'none'} m)",
                                 parameter="radius_m")
        return float(configured), None
    default = drive_minutes(facility_type, None)
    if minutes is not None and abs(minutes - default) > 1e-9:
        raise ParameterError(f"minutes: a {vis.role} key sees workload within the configured "
                             f"driving time of {facility_type!r} only ({default:g} min)",
                             parameter="minutes")
    return None, default


def reach_workload_report(ctx: ServiceContext, vis: Visibility, *, facility_type: str,
                          reach: str, period: Period | str | None = None,
                          radius_m: float | None = None,
                          minutes: float | None = None) -> Report:
    """Incidents per facility along the roads: catchment and those within reach.

    Counts are released as :func:`api.services.coverage.workload_report` releases them.
    """
    from api.services.coverage import workload_frame

    check_reach(reach)
    p = vis.check_period(ctx.period(period))
    radius, limit_min = (_protected_limits(ctx, vis, facility_type, reach, radius_m, minutes)
                         if vis.protected else
                         _limits(ctx, facility_type, reach, radius_m, minutes))
    network = road_network(ctx, reach)
    scope = (tuple(ctx.communities()["code"].astype(str)) if vis.protected
             else vis.community_filter())

    def compute() -> Any:
        with ctx.engine.connect() as conn:
            facilities = store.read_facilities(conn)
            cases = store.read_incidents(conn, store.IncidentQuery(
                period=p, timezone=ctx.timezone, communities=scope,
                case_definition=ctx.case_definition), keys=True)
        return network_workload(cases, facilities, network, facility_type=facility_type,
                                radius_m=radius, minutes=limit_min, period=p,
                                key_column="rkey")

    res = ctx.cached("network_workload", (facility_type, reach, radius, limit_min, p.label,
                                          vis.protected), compute,
                     vis=None if vis.protected else vis)
    frame = workload_frame(ctx, vis, res, facility_type)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "facility_type": facility_type,
                 "reach": reach, **({"radius_m": radius} if reach == "walk"
                                    else {"minutes": limit_min}),
                 "walk_speed_mps": WALK_SPEED_MPS, "metric_crs": res.metric_crs.to_string(),
                 "incidents_total": res.incidents_total,
                 "left_out": {"incidents_without_location": res.incidents_unlocated},
                 "incidents_out_of_reach": res.incidents_out_of_reach,
                 "case_definition": ctx.case_definition.as_sql_lists(),
                 "generated_at": generated_at()})
    return Report(gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326"),
                  release_provenance(prov, vis=vis),
                  f"{facility_type} workload along roads ({reach}), {p.label}")


def response_report(ctx: ServiceContext, vis: Visibility, *,
                    period: Period | str | None = None,
                    minutes: Sequence[float] = RESPONSE_MINUTES,
                    facility_type: str = "police_station") -> Report:
    """Police response: incidents and residents beyond each driving time of every station.

    Exact callers only (the counts are of raw incidents): the command line's admin.

    Raises
    ------
    geo.errors.ParameterError
        For a protected caller or a caller with a jurisdiction.
    geo.errors.MissingDataError
        Without a roads layer or a police station.
    """
    if vis.protected or vis.communities is not None:
        raise ParameterError("police response counts raw incidents city-wide: admin only",
                             parameter="role")
    p = vis.check_period(ctx.period(period))
    network = road_network(ctx, "drive")
    with ctx.engine.connect() as conn:
        facilities = store.read_facilities(conn)
        comps = store.read_compounds(conn)
        cases = store.read_incidents(conn, store.IncidentQuery(
            period=p, timezone=ctx.timezone, case_definition=ctx.case_definition))
    _require_type(facilities, facility_type)
    stations = facilities_of_type(facilities, facility_type, p)
    residents = place_population(ctx.communities(), compounds=comps, period=p,
                                 metric_crs=network.crs).points
    res = response_shares(network, stations, cases, residents, minutes=tuple(minutes))
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "facility_type": facility_type,
                 "reach": "drive", "direction": "station -> incident (directed graph)",
                 "stations_used": res.stations_used, "incidents_total": res.incidents_total,
                 "incidents_unreachable": res.incidents_unreachable,
                 "residents_total": res.residents_total,
                 "residents_unreachable": res.residents_unreachable,
                 "max_offset_m": DEFAULT_MAX_OFFSET_M, "trim_m": DEFAULT_TRIM_M,
                 "metric_crs": network.crs.to_string(), "generated_at": generated_at()})
    return Report(res.frame, release_provenance(prov, vis=vis),
                  f"police response: beyond each driving time of every {facility_type}, "
                  f"{p.label}")


# --- one entry per report, any reach ------------------------------------------------------------


def _line_only(minutes: float | None) -> None:
    if minutes is not None:
        raise ParameterError("minutes applies to reach=drive; reach=line and walk are judged "
                             "in metres (radius_m)", parameter="minutes")


def coverage_by_reach(ctx: ServiceContext, vis: Visibility, *, reach: str = "line",
                      minutes: float | None = None, **kwargs: Any) -> Report:
    """Coverage with the reach asked for: straight line, or along roads.

    ``kwargs`` are those of :func:`api.services.coverage.coverage_report`.
    """
    if check_reach(reach) != "line":
        return reach_coverage_report(ctx, vis, reach=reach, minutes=minutes, **kwargs)
    from api.services.coverage import coverage_report

    _line_only(minutes)
    return coverage_report(ctx, vis, **kwargs)


def gaps_by_reach(ctx: ServiceContext, vis: Visibility, *, reach: str = "line",
                  minutes: float | None = None, **kwargs: Any) -> Report:
    """Gap polygons with the reach asked for (see :func:`coverage_by_reach`)."""
    if check_reach(reach) != "line":
        return reach_gaps_report(ctx, vis, reach=reach, minutes=minutes, **kwargs)
    from api.services.coverage import gaps_report

    _line_only(minutes)
    return gaps_report(ctx, vis, **kwargs)


def workload_by_reach(ctx: ServiceContext, vis: Visibility, *, reach: str = "line",
                      minutes: float | None = None, **kwargs: Any) -> Report:
    """Workload with the reach asked for (see :func:`coverage_by_reach`)."""
    if check_reach(reach) != "line":
        return reach_workload_report(ctx, vis, reach=reach, minutes=minutes, **kwargs)
    from api.services.coverage import workload_report

    _line_only(minutes)
    return workload_report(ctx, vis, **kwargs)


def coverage_for_map(ctx: ServiceContext, facility_type: str, *, reach: str, period: Period
                     ) -> tuple[FacilityCoverage, ServiceAreas | None]:
    """A type's coverage for the coverage map, and its service-area polygons along roads.

    ``line`` gives the straight-line result (circles drawn by the map, no polygons).
    """
    from api.services.coverage import coverage_result

    if check_reach(reach) == "line":
        return coverage_result(ctx, facility_type, radius_m=None, period=period), None
    res = network_coverage_result(ctx, facility_type, reach=reach, radius_m=None,
                                  minutes=None, period=period)
    as_line = FacilityCoverage(
        frame=res.frame, gaps=res.gaps, ranking=res.ranking, facility_type=facility_type,
        radius_m=res.threshold, detour_factor=1.0, effective_radius_m=res.threshold,
        facilities_used=res.facilities_used, circle_segments=0, metric_crs=res.metric_crs,
        period=res.period, placement=res.placement, notes=res.notes)
    return as_line, ServiceAreas(res.areas, reach, res.threshold)


def reach_site_plan_report(ctx: ServiceContext, vis: Visibility, *, facility_type: str,
                           k: int, reach: str, radius_m: float | None = None,
                           minutes: float | None = None,
                           candidates: gpd.GeoDataFrame | None = None,
                           period: Period | str | None = None,
                           time_limit_s: float = 60.0) -> Report:
    """New sites (maximal covering location) with reach along the roads.

    As :func:`api.services.coverage.site_plan_report`, with the walking distance or driving
    time of :func:`geo.network_siting.plan_sites_along_roads`.
    """
    from api.services.coverage import plan_provenance

    p = vis.check_period(ctx.period(period))
    radius, limit_min = _limits(ctx, facility_type, check_reach(reach), radius_m, minutes)
    network = road_network(ctx, reach)
    with ctx.engine.connect() as conn:
        facilities = store.read_facilities(conn)
        comps = store.read_compounds(conn)
    plan = plan_sites_along_roads(
        world_communities(ctx, vis), facilities, network, facility_type=facility_type,
        k=int(k), radius_m=radius, minutes=limit_min, compounds=comps, candidates=candidates,
        period=p, time_limit_s=time_limit_s)
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "facility_type": facility_type, "reach": reach,
        **({"radius_m": plan.radius_m} if reach == "walk" else {"minutes": plan.radius_m}),
        "walk_speed_mps": network.walk_speed_mps, **plan_provenance(plan),
    })
    return Report(plan.sites, release_provenance(prov, vis=vis),
                  f"{plan.k_used} new {facility_type} sites along roads ({reach}), {p.label}",
                  f"沿道路（{'步行' if reach == 'walk' else '驾车'}）新增 {plan.k_used} 处"
                  f"{term('facility', facility_type, 'zh')}选址，{p.label}")


def site_plan_by_reach(ctx: ServiceContext, vis: Visibility, *, reach: str = "line",
                       minutes: float | None = None, **kwargs: Any) -> Report:
    """A site plan with the reach asked for (see :func:`coverage_by_reach`)."""
    if check_reach(reach) != "line":
        return reach_site_plan_report(ctx, vis, reach=reach, minutes=minutes, **kwargs)
    from api.services.coverage import site_plan_report

    _line_only(minutes)
    return site_plan_report(ctx, vis, **kwargs)
