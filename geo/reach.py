"""Reach along roads: facility coverage, catchments and police response on a road network.

The network counterparts of :func:`geo.coverage.facility_coverage` and
:func:`geo.coverage.facility_workload`, on a :class:`geo.network.RoadNetwork`:

- :func:`network_coverage`: residents (the demand points of
  :func:`geo.population.place_population`) reach the nearest facility of a type along the roads
  (``direction="to"``, resident -> facility). Walking reach is judged in metres (the profile's
  radius, as GB 50180-2018 gives its life circles), driving reach in minutes. The population
  share is the headline. The service-area polygons (:func:`geo.isochrones.service_areas`:
  reached roads buffered by ``trim_m``) give the covered area share and the gap polygons; their
  area therefore depends on the trim, while the residents of a gap are counted from the demand
  points, not from the polygon.
- :func:`network_workload`: each incident's nearest facility along the roads (its catchment) and
  the incidents within reach of each facility (an incident within reach of two counts for both).
- :func:`response_shares`: the incidents and residents beyond 3/5/10 minutes' drive of every
  police station, searched from the stations on the directed graph (``direction="from"``).

Points farther than ``max_offset_m`` from every usable road are *unreachable*: they count as
not reached and are reported. The straight offset from a point to the road is added at walking
speed (:mod:`geo.network`).

Why written here: the pieces (snapping, the search, the isochrones) are :mod:`geo.network` and
:mod:`geo.isochrones`; this module only puts them together the way the straight-line metrics
of :mod:`geo.coverage` are put together, so that the two share their columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo import arrays
from geo.checks import POINT, POINT_OR_POLYGON, check_communities, check_frame, check_same_crs
from geo.coverage import FacilityWorkload, rank_by_uncovered, service_radius
from geo.errors import ParameterError
from geo.inventory import facilities_of_type
from geo.isochrones import DEFAULT_TRIM_M, service_areas
from geo.network import DEFAULT_MAX_OFFSET_M, NearestFacility, RoadNetwork
from geo.period import Period, parse_period
from geo.population import PERSONS_PER_HOUSEHOLD, PopulationPlacement, place_population
from geo.uncovered import uncovered_parts

__all__ = [
    "DRIVE_MINUTES",
    "DRIVE_MINUTES_BASIS",
    "REACHES",
    "RESPONSE_MINUTES",
    "NetworkCoverage",
    "ResponseShares",
    "drive_minutes",
    "network_coverage",
    "network_workload",
    "reach_limit",
    "response_shares",
]

#: Ways of measuring reach: along roads walking or driving, or the straight line.
REACHES = ("walk", "drive", "line")
#: Response-time bands of police response, minutes.
RESPONSE_MINUTES = (3.0, 5.0, 10.0)
#: Default driving time per facility type, minutes (``drive`` reach).
DRIVE_MINUTES: dict[str, float] = {"police_station": 5.0, "fire_station": 5.0}
#: Where each default of :data:`DRIVE_MINUTES` comes from.
DRIVE_MINUTES_BASIS: dict[str, str] = {
    "police_station": "pingan's default, no published source: the middle of the 3/5/10-minute "
                      "response bands pingan reports; set per city",
    "fire_station": "建标 152-2017 城市消防站建设标准: a station's district is what it reaches "
                    "within 5 minutes of the call-out (接到出动指令后5分钟内到达辖区边缘)",
}
_OTHER_MINUTES = 10.0


def drive_minutes(facility_type: str, minutes: float | None) -> float:
    """The driving time of a facility type: ``minutes``, else the type's default, else 10.

    Raises
    ------
    geo.errors.ParameterError
        When ``minutes`` is not a positive number.
    """
    if minutes is None:
        return DRIVE_MINUTES.get(facility_type, _OTHER_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not (
            np.isfinite(minutes) and 0 < minutes <= 240):
        raise ParameterError(f"minutes must be a number of minutes in (0, 240]; got "
                             f"{minutes!r}", parameter="minutes")
    return float(minutes)


@dataclass(frozen=True)
class NetworkCoverage:
    """Coverage of every community by one facility type along the roads.

    Attributes
    ----------
    frame
        Indexed by ``code``, the columns of :attr:`geo.coverage.FacilityCoverage.frame`
        (``facility_distance_m`` is the population-weighted network distance when walking,
        NaN when driving) and ``facility_minutes`` (population-weighted minutes to the nearest
        facility: at walking speed, or driving) and ``population_unreachable`` (residents on
        points farther than ``max_offset_m`` from every road or with no route).
    gaps
        EPSG:4326, one row per community with a gap: ``code``, ``name``, ``gap_area_m2`` (the
        community area outside every service-area polygon), ``population`` (residents not
        reached, from the demand points) and the polygon.
    ranking
        As :attr:`geo.coverage.FacilityCoverage.ranking`.
    areas
        Service-area polygons per facility (EPSG:4326): ``facility_id``, ``threshold``,
        ``unit``, ``reached_length_m``.
    facility_type, reach, threshold, unit
        The type, ``walk`` or ``drive``, and the limit (metres or minutes).
    trim_m, max_offset_m, walk_speed_mps
        The parameters used.
    facilities_used, facilities_unreachable
        Facilities on the network; ids of those farther than ``max_offset_m`` from a road.
    population_unreachable
        Residents farther than ``max_offset_m`` from every road or with no route (city).
    metric_crs, period, placement, notes
        As for :class:`geo.coverage.FacilityCoverage`.
    """

    frame: pd.DataFrame
    gaps: gpd.GeoDataFrame
    ranking: pd.DataFrame
    areas: gpd.GeoDataFrame
    facility_type: str
    reach: str
    threshold: float
    unit: str
    trim_m: float
    max_offset_m: float
    walk_speed_mps: float
    facilities_used: int
    facilities_unreachable: tuple[str, ...]
    population_unreachable: float
    metric_crs: pyproj.CRS
    period: Period | None
    placement: PopulationPlacement
    notes: tuple[str, ...]


def reach_limit(network: RoadNetwork, facility_type: str, radius_m: float | None,
                minutes: float | None) -> tuple[float, str, dict[str, float]]:
    """The limit of a facility type's reach on a network: metres walking, minutes driving.

    Parameters
    ----------
    network
        The network (its mode decides the unit).
    facility_type
        The type (for its default radius or driving time).
    radius_m, minutes
        The limit asked for (one, for the network's mode), or ``None`` for the default.

    Returns
    -------
    threshold : float
        Metres or minutes.
    unit : str
        ``m`` or ``min``.
    limit : dict
        The keyword of :meth:`geo.network.NearestFacility.reached` (``max_m`` or ``max_min``).

    Raises
    ------
    geo.errors.ParameterError
        When the limit given does not fit the mode, or is out of range.
    """
    if network.mode == "walk":
        if minutes is not None:
            raise ParameterError("minutes: walking reach is judged in metres (radius_m), as "
                                 "GB 50180-2018 gives its life circles; minutes are for drive",
                                 parameter="minutes")
        radius = service_radius(facility_type, radius_m)
        return radius, "m", {"max_m": radius}
    if radius_m is not None:
        raise ParameterError("radius_m: driving reach is judged in minutes (minutes); "
                             "radius_m is for walk and line", parameter="radius_m")
    limit = drive_minutes(facility_type, minutes)
    return limit, "min", {"max_min": limit}


def network_coverage(
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    network: RoadNetwork,
    *,
    facility_type: str,
    radius_m: float | None = None,
    minutes: float | None = None,
    compounds: gpd.GeoDataFrame | None = None,
    period: Period | str | int | None = None,
    trim_m: float = DEFAULT_TRIM_M,
    max_offset_m: float = DEFAULT_MAX_OFFSET_M,
    cell_m: float = 100.0,
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    workers: int | None = None,
) -> NetworkCoverage:
    """Measure how many residents of each community reach a facility type along the roads.

    Parameters
    ----------
    communities
        Community polygons with ``code``, ``name`` and ``population``.
    facilities
        Facility points with ``id`` and ``type``.
    network
        The road network of the mode (:func:`geo.network.build_network`); its metric CRS is
        the computation's.
    facility_type
        The type to measure.
    radius_m
        Walking: the distance along roads in metres (default the type's service radius).
    minutes
        Driving: the time in minutes (default :func:`drive_minutes`).
    compounds, period, cell_m, persons_per_household
        As for :func:`geo.coverage.facility_coverage`.
    trim_m
        Width of the service-area polygons around the reached roads (metres).
    max_offset_m
        Points and facilities farther than this from every road are unreachable.
    workers
        Threads for the polygon arithmetic.

    Returns
    -------
    NetworkCoverage

    Raises
    ------
    geo.errors.ParameterError
        When a limit does not fit the mode or is out of range.
    """
    check_communities(communities)
    check_frame(facilities, "facilities", POINT, ("id", "type"))
    if compounds is not None:
        check_frame(compounds, "compounds", POINT_OR_POLYGON, ("id",))
    check_same_crs(communities=communities, facilities=facilities, compounds=compounds)
    threshold, unit, limit = reach_limit(network, facility_type, radius_m, minutes)
    p = None if period is None else parse_period(period)
    crs = network.crs
    placement = place_population(communities, compounds=compounds, period=p, cell_m=cell_m,
                                 persons_per_household=persons_per_household, metric_crs=crs)
    fac = facilities_of_type(facilities, facility_type, p)
    codes = arrays.codes(communities)
    index = pd.Index(codes, name="code", dtype="string")
    placed = placement.population.reindex(index)
    demand = placement.points
    notes: list[str] = []
    if len(fac):
        near = network.nearest(demand, fac, direction="to", max_offset_m=max_offset_m)
        areas = service_areas(network, fac, direction="to", trim_m=trim_m,
                              max_offset_m=max_offset_m, workers=workers,
                              max_m=(threshold,) if unit == "m" else (),
                              max_min=(threshold,) if unit == "min" else ())
    else:
        near = None
        areas = gpd.GeoDataFrame({"facility_id": [], "threshold": [], "unit": [],
                                  "reached_length_m": []}, geometry=[], crs=crs)
        notes.append(f"no facility of type {facility_type!r} existed during the period: every "
                     "community is a gap")
    frame, unreachable = _coverage_frame(communities, index, placed, demand, near, limit)
    comm = arrays.project(arrays.geoms(communities), communities.crs, crs)
    polygons = np.asarray(areas.geometry.array, dtype=object)
    polygons = polygons[~shapely.is_empty(polygons)] if len(polygons) else polygons
    gap = uncovered_parts(comm, polygons, workers=workers)
    comm_area, gap_area = shapely.area(comm), shapely.area(gap)
    frame["facility_covered_area_share"] = np.where(comm_area > 0, np.clip(
        1.0 - gap_area / np.where(comm_area > 0, comm_area, 1.0), 0.0, 1.0), np.nan)
    frame["area_km2"] = comm_area / 1e6
    has_gap = ~shapely.is_empty(gap) & (gap_area > 0)
    gaps = gpd.GeoDataFrame(
        {"code": pd.array(codes[has_gap], dtype="string"),
         "name": frame["name"].to_numpy()[has_gap], "gap_area_m2": gap_area[has_gap],
         "population": frame["facility_uncovered_population"].to_numpy()[has_gap]},
        geometry=arrays.project(gap[has_gap], crs, 4326), crs=4326)
    if near is not None and near.facilities_unreachable:
        notes.append(f"{len(near.facilities_unreachable)} facilities lie farther than "
                     f"{max_offset_m:g} m from every {network.mode} road and reach no one: "
                     f"{', '.join(near.facilities_unreachable[:10])}")
    return NetworkCoverage(
        frame=frame, gaps=gaps, ranking=rank_by_uncovered(frame), areas=areas.to_crs(4326),
        facility_type=facility_type, reach=network.mode, threshold=threshold, unit=unit,
        trim_m=float(trim_m), max_offset_m=float(max_offset_m),
        walk_speed_mps=network.walk_speed_mps,
        facilities_used=0 if near is None else near.facilities_used,
        facilities_unreachable=() if near is None else near.facilities_unreachable,
        population_unreachable=unreachable, metric_crs=crs, period=p, placement=placement,
        notes=tuple(notes))


def _coverage_frame(communities: gpd.GeoDataFrame, index: pd.Index, placed: pd.Series,
                    demand: gpd.GeoDataFrame, near: NearestFacility | None,
                    limit: dict[str, float]) -> tuple[pd.DataFrame, float]:
    """Per community: residents reached, weighted distance and minutes, unreachable residents."""
    pop = demand["population"].to_numpy(dtype=np.float64)
    dcode = demand["code"].to_numpy(dtype=object)
    if near is None:
        hit = np.zeros(len(demand), dtype=bool)
        ok = np.zeros(len(demand), dtype=bool)
        cost = minutes = np.full(len(demand), np.nan)
    else:
        hit = near.reached(**limit)
        ok = (near.frame["status"] == "ok").to_numpy(dtype=bool)
        cost = near.frame["cost"].to_numpy(dtype=np.float64, na_value=np.nan)
        minutes = near.frame["minutes"].to_numpy(dtype=np.float64, na_value=np.nan)

    def by_code(values: NDArray[np.float64]) -> pd.Series:
        return pd.Series(values).groupby(dcode).sum().reindex(index, fill_value=0.0)

    covered = by_code(np.where(hit, pop, 0.0))
    weight = by_code(np.where(ok, pop, 0.0))
    unreachable = by_code(np.where(ok, 0.0, pop))
    walking = near is not None and near.unit == "m"
    distance = (by_code(np.where(ok, cost * pop, 0.0)) / weight.where(weight > 0)
                if walking else pd.Series(np.nan, index=index))
    mean_minutes = by_code(np.where(ok, minutes * pop, 0.0)) / weight.where(weight > 0)
    uncovered = (placed - covered).clip(lower=0.0).where(placed.notna())
    frame = pd.DataFrame({
        "name": arrays.names(communities),
        "population": placed.to_numpy(),
        "area_km2": np.nan,
        "facility_covered_area_share": np.nan,
        "facility_covered_population_share": (covered / placed.where(placed > 0)).to_numpy(),
        "facility_distance_m": distance.to_numpy(),
        "facility_minutes": mean_minutes.to_numpy(),
        "facility_uncovered_population": uncovered.to_numpy(),
        "population_unreachable": unreachable.where(placed.notna()).to_numpy(),
    }, index=index)
    return frame, float(unreachable.sum())


def network_workload(
    incidents: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    network: RoadNetwork,
    *,
    facility_type: str,
    radius_m: float | None = None,
    minutes: float | None = None,
    period: Period | str | int | None = None,
    key_column: str | None = None,
    max_offset_m: float = DEFAULT_MAX_OFFSET_M,
) -> FacilityWorkload:
    """Count the incidents each facility of a type takes along the roads.

    The catchment of a facility holds the incidents whose nearest facility along the roads it
    is (reached from the facility, ``direction="from"``: response); ``incidents_within_radius``
    counts the incidents within the walking distance or driving time of each facility. Points
    farther than ``max_offset_m`` from every road, or with no route, are out of reach.

    Parameters
    ----------
    incidents, facilities, facility_type, period, key_column
        As for :func:`geo.coverage.facility_workload`.
    network
        The road network of the mode.
    radius_m, minutes
        The limit: metres when walking, minutes when driving.
    max_offset_m
        Largest straight offset to the road.

    Returns
    -------
    geo.coverage.FacilityWorkload
        ``radius_m`` holds the limit (metres walking, minutes driving).

    Raises
    ------
    geo.errors.ParameterError
        When no facility of the type existed, or a limit does not fit the mode.
    """
    check_frame(incidents, "incidents", POINT, ())
    check_frame(facilities, "facilities", POINT, ("id", "type"))
    threshold, _, limit = reach_limit(network, facility_type, radius_m, minutes)
    p = None if period is None else parse_period(period)
    fac = facilities_of_type(facilities, facility_type, p)
    fac = _located(fac)
    if not len(fac):
        raise ParameterError(f"facilities: no facility of type {facility_type!r} with a "
                             "location existed during the period; expected at least one")
    pts = _located(incidents)
    ids = pd.Index(fac["id"].astype("string").to_numpy(), name="id", dtype="string")
    key = (pts[key_column].to_numpy(dtype=np.int64) if key_column
           else np.zeros(len(pts), dtype=np.int64))
    near = network.nearest(pts, fac, direction="from", max_offset_m=max_offset_m)
    pos = ids.get_indexer(near.frame["facility_id"].astype("string").fillna(""))
    catch_ok = pos >= 0
    catchment = np.bincount(pos[catch_ok], minlength=len(ids))
    pairs = network.cost_pairs(pts, fac, direction="from", max_offset_m=max_offset_m, **limit)
    within = np.bincount(pairs.candidate, minlength=len(ids))
    key_sums = np.zeros((2, len(ids)), dtype=np.int64)
    np.add.at(key_sums[0], pos[catch_ok], key[catch_ok])
    np.add.at(key_sums[1], pairs.candidate, key[pairs.demand])
    n = len(pts)
    denominator = n if n else np.nan
    frame = pd.DataFrame({
        "name": (fac["name"].astype("string").to_numpy() if "name" in fac.columns
                 else pd.array([None] * len(fac), dtype="string")),
        "incidents_catchment": catchment, "catchment_share": catchment / denominator,
        "incidents_within_radius": within, "within_radius_share": within / denominator,
    }, index=ids)
    if key_column:
        frame["incidents_catchment_key_sum"] = key_sums[0]
        frame["incidents_within_radius_key_sum"] = key_sums[1]
    reached = near.reached(**limit)
    return FacilityWorkload(
        frame=frame, incidents_total=len(incidents), incidents_located=n,
        incidents_unlocated=len(incidents) - n, incidents_out_of_reach=int((~reached).sum()),
        facility_type=facility_type, radius_m=threshold, metric_crs=network.crs, period=p,
        incidents_located_key_sum=int(key.sum()))


@dataclass(frozen=True)
class ResponseShares:
    """Incidents and residents beyond each driving time of every police station.

    Attributes
    ----------
    frame
        One row per threshold: ``minutes``, ``incidents_beyond``, ``incidents_beyond_share``,
        ``residents_beyond``, ``residents_beyond_share`` (beyond includes unreachable).
    incidents_unreachable, residents_unreachable
        Farther than ``max_offset_m`` from every drivable road, or with no route.
    incidents_total, residents_total
        Located incidents and placed residents.
    stations_used
        Stations on the network.
    """

    frame: pd.DataFrame
    incidents_unreachable: int
    residents_unreachable: float
    incidents_total: int
    residents_total: float
    stations_used: int


def response_shares(network: RoadNetwork, stations: gpd.GeoDataFrame,
                    incidents: gpd.GeoDataFrame, residents: gpd.GeoDataFrame, *,
                    minutes: Sequence[float] = RESPONSE_MINUTES,
                    max_offset_m: float = DEFAULT_MAX_OFFSET_M) -> ResponseShares:
    """Share of incidents and residents beyond each driving time of every station.

    Parameters
    ----------
    network
        A ``drive`` network.
    stations
        Police stations (points with ``id``).
    incidents
        Incident points (rows without a point are left out).
    residents
        Demand points with ``population`` (:attr:`geo.population.PopulationPlacement.points`).
    minutes
        The response-time bands.
    max_offset_m
        Largest straight offset to the road.

    Returns
    -------
    ResponseShares

    Raises
    ------
    geo.errors.ParameterError
        When the network is not for driving or a band is not positive.
    """
    if network.mode != "drive":
        raise ParameterError("response times need a drive network", parameter="mode")
    bands = tuple(drive_minutes("police_station", float(m)) for m in minutes)
    pts = _located(incidents)
    inc = network.nearest(pts, stations, direction="from", max_offset_m=max_offset_m)
    res = network.nearest(residents, stations, direction="from", max_offset_m=max_offset_m)
    weights = residents["population"].to_numpy(dtype=np.float64)
    a = inc.shares(max_min=bands)
    b = res.shares(max_min=bands, weights=weights)
    frame = pd.DataFrame({
        "minutes": list(bands),
        "incidents_beyond": a["not_reached"].astype(np.int64).to_numpy(),
        "incidents_beyond_share": (a["not_reached"] / a["total"].where(a["total"] > 0)).to_numpy(),
        "residents_beyond": b["not_reached"].to_numpy(),
        "residents_beyond_share": (b["not_reached"] / b["total"].where(b["total"] > 0)).to_numpy(),
    })
    return ResponseShares(frame, int((inc.frame["status"] != "ok").sum()),
                          float(weights[(res.frame["status"] != "ok").to_numpy()].sum()),
                          len(pts), float(weights.sum()), inc.facilities_used)


def _located(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows with a point (not missing, not empty)."""
    geoms = arrays.geoms(frame)
    return frame[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
