"""Facility coverage: who lives within reach of a police station, a service station, a clinic.

For one facility type, :func:`facility_coverage` answers per community: which share of the area
and of the residents lies within the type's service radius, how far residents live from the
nearest facility, and where the gaps are and how many people live in them.
:func:`facility_workload` counts the incidents each facility's catchment takes. The residents
are placed by :func:`geo.population.place_population`, the gaps cut by
:func:`geo.uncovered.uncovered_parts` and the distances measured by :mod:`geo.nearest`.

Units and CRSs
--------------
Inputs are EPSG:4326 frames with the columns of :mod:`geo.layers` (any CRS is accepted as long
as all inputs share it). Distances and areas are computed in a projected metric CRS: the
``metric_crs`` keyword, by default :func:`geo.crs.metric_crs_for` of the data (the CGCS2000
3-degree Gauss-Kruger zone in China, UTM elsewhere). Lengths on such a grid are ground lengths
times the projection's scale factor, which stays within 1 ± 0.0004 inside a 3-degree zone at
Chinese latitudes (UTM: 0.9996 to about 1.001), so distances here are true ground metres to
within 0.04 % in China and 0.1 % elsewhere (areas twice that). Gap polygons come back in
EPSG:4326. Points are put in communities in the stored coordinates with
:func:`geo.assign.assign_points`, the rule incidents are assigned by.

Service areas and their tolerance
---------------------------------
A service area is the union of circles of the effective radius ``radius_m / detour_factor``
around the facilities, each circle a buffer polygon with ``circle_segments`` (default 64)
segments. A polygon inscribed in a circle with ``n`` segments has ``(n / 2π)·sin(2π / n)`` of the
circle's area: 99.84 % for 64 segments, so covered areas are at most 0.16 % low near the rim,
and its edges come at most ``radius·(1 − cos(π / n))`` (0.12 % of the radius, 1.8 m at
1,500 m) inside the true circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo import arrays
from geo.checks import (
    POINT,
    POINT_OR_POLYGON,
    check_communities,
    check_detour_factor,
    check_frame,
    check_positive,
    check_same_crs,
    check_workers,
)
from geo.codes import sort_by_code
from geo.errors import ParameterError
from geo.inventory import facilities_of_type
from geo.nearest import nearest
from geo.period import Period, parse_period
from geo.population import PERSONS_PER_HOUSEHOLD, PopulationPlacement, place_population
from geo.projection import choose_metric_crs
from geo.uncovered import uncovered_parts

__all__ = [
    "SERVICE_RADIUS_BASIS",
    "SERVICE_RADIUS_M",
    "FacilityCoverage",
    "FacilityWorkload",
    "covered_residents",
    "facility_coverage",
    "facility_workload",
    "rank_by_uncovered",
    "service_circles",
    "service_radius",
]

#: Default service radius per facility type, metres (straight line); the basis of each value is
#: in :data:`SERVICE_RADIUS_BASIS`.
SERVICE_RADIUS_M: dict[str, float] = {
    "police_station": 1_500.0,
    "police_office": 500.0,
    "service_station": 300.0,
    "health_station": 300.0,
    "health_center": 1_000.0,
    "fire_station": 3_000.0,
}
_GB50180 = (
    "GB 50180-2018 城市居住区规划设计标准 defines 15-, 10- and 5-minute life circles with "
    "walking distances of 800-1,000 m, 500 m and 300 m"
)
_UNCONFIRMED = (
    "the assignment of this facility to that level in the standard's appendix tables could not "
    "be confirmed from a retrievable copy of the tables and should be checked against the text"
)
#: Where each default of :data:`SERVICE_RADIUS_M` comes from, or that it has no published source.
SERVICE_RADIUS_BASIS: dict[str, str] = {
    "police_station": (
        "pingan's default, no published source: no national standard gives a service radius "
        "for a police station (派出所); 1,500 m is a planning placeholder to be set per city"
    ),
    "police_office": (
        "pingan's default, no published source: 500 m is the 10-minute walking distance of "
        f"{_GB50180}, used for a community police office (社区警务室) by analogy only"
    ),
    "service_station": (
        f"{_GB50180}; a community service station (社区服务站) is taken as a 5-minute life-circle "
        f"facility (300 m); {_UNCONFIRMED}"
    ),
    "health_station": (
        f"{_GB50180}; a community health station (社区卫生服务站) is taken as a 5-minute "
        f"life-circle facility (300 m); {_UNCONFIRMED}"
    ),
    "health_center": (
        f"{_GB50180}; a community health centre (社区卫生服务中心) is taken as a 15-minute "
        f"life-circle facility (1,000 m, the upper walking distance); {_UNCONFIRMED}"
    ),
    "fire_station": (
        "pingan's default, no published source: 3,000 m is a planning placeholder; fire "
        "station districts are set by response time and area in their own standard, which is "
        "not modelled here"
    ),
}


@dataclass(frozen=True)
class FacilityCoverage:
    """Coverage of every community by the facilities of one type.

    Attributes
    ----------
    frame
        One row per community, indexed by ``code``: ``name``, ``population`` (residents
        placed), ``area_km2``, ``facility_covered_area_share``,
        ``facility_covered_population_share`` (NaN without residents),
        ``facility_distance_m`` (population-weighted straight-line distance to the nearest
        facility of the type; NaN without residents or facilities) and
        ``facility_uncovered_population``.
    gaps
        GeoDataFrame in EPSG:4326, one row per community with a gap: ``code``, ``name``,
        ``gap_area_m2``, ``population`` (estimated residents of the gap, equal to
        ``facility_uncovered_population``) and the gap (multi)polygon.
    ranking
        Communities by uncovered residents, most first: ``rank``, ``code``, ``name``,
        ``population``, ``facility_uncovered_population``,
        ``facility_covered_population_share``.
    facility_type, radius_m, detour_factor, effective_radius_m
        The type and its radius; ``effective_radius_m = radius_m / detour_factor``.
    facilities_used
        Facilities of the type that existed during the period.
    circle_segments
        Segments per service circle (see the module docstring for the tolerance).
    metric_crs, period
        The CRS of the computation and the period (``None``: every facility row counted).
    placement
        The population placement the shares and distances were computed on.
    notes
        Remarks on the computation (for example, no facility of the type).
    """

    frame: pd.DataFrame
    gaps: gpd.GeoDataFrame
    ranking: pd.DataFrame
    facility_type: str
    radius_m: float
    detour_factor: float
    effective_radius_m: float
    facilities_used: int
    circle_segments: int
    metric_crs: pyproj.CRS
    period: Period | None
    placement: PopulationPlacement
    notes: tuple[str, ...]


def facility_coverage(
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    facility_type: str,
    radius_m: float | None = None,
    detour_factor: float = 1.0,
    compounds: gpd.GeoDataFrame | None = None,
    period: Period | str | int | None = None,
    metric_crs: Any = None,
    circle_segments: int = 64,
    cell_m: float = 100.0,
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    workers: int | None = None,
    placement: PopulationPlacement | None = None,
) -> FacilityCoverage:
    """Measure how much of each community's area and residents a facility type reaches.

    Parameters
    ----------
    communities
        Community polygons with ``code``, ``name`` and ``population``.
    facilities
        Facility points with ``id`` and ``type`` (``opened_on``/``closed_on`` used with
        ``period``). Facilities outside the communities count: their circles reach in.
    facility_type
        The type to measure (``police_station``, ``health_station``...).
    radius_m
        Service radius in metres; default ``SERVICE_RADIUS_M[facility_type]``.
    detour_factor
        Ratio of walking distance to straight-line distance (>= 1); the effective radius is
        ``radius_m / detour_factor``.
    compounds
        Compounds with residents, to place the population (see :func:`place_population`).
    period
        Only facilities and compounds that existed during it count; ``None`` counts every row.
    metric_crs
        Projected CRS in metres; default :func:`choose_metric_crs` of the communities.
    circle_segments
        Segments per service circle (a multiple of 4, at least 8).
    cell_m
        Grid cell of the demand points used for distances, metres.
    persons_per_household
        Residents per household for compounds without a population.
    workers
        Threads for the polygon arithmetic (:func:`uncovered_parts`); ``None`` uses every CPU.
    placement
        The residents already placed by :func:`place_population` from the same communities,
        compounds and period (several facility types share one placement); it must be in the
        metric CRS and have ``cell_m`` and ``persons_per_household`` as given. ``None``:
        placed here.

    Returns
    -------
    FacilityCoverage

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame or ``facility_type`` is not text.
    ValueError
        When a column is missing, the CRSs differ, geometries have the wrong type, a number is
        out of range, or the type has no default radius and ``radius_m`` is not given.
    """
    check_workers(workers)
    check_communities(communities)
    check_frame(facilities, "facilities", POINT, ("id", "type"))
    if compounds is not None:
        check_frame(compounds, "compounds", POINT_OR_POLYGON, ("id",))
    check_same_crs(communities=communities, facilities=facilities, compounds=compounds)
    radius = service_radius(facility_type, radius_m)
    check_detour_factor(detour_factor)
    if not (isinstance(circle_segments, int) and circle_segments >= 8
            and circle_segments % 4 == 0):
        raise ParameterError(
            f"circle_segments must be a multiple of 4, at least 8; got {circle_segments!r}"
        )
    check_positive(cell_m, "cell_m")
    check_positive(persons_per_household, "persons_per_household")
    p = None if period is None else parse_period(period)
    crs = choose_metric_crs(communities, metric_crs=metric_crs)
    effective = radius / float(detour_factor)

    comm = arrays.project(arrays.geoms(communities), communities.crs, crs)
    if placement is None:
        placement = place_population(communities, compounds=compounds, period=p, cell_m=cell_m,
                                     persons_per_household=persons_per_household,
                                     metric_crs=crs)
    elif (placement.metric_crs != crs or placement.cell_m != cell_m
          or placement.persons_per_household != persons_per_household):
        raise ParameterError(
            f"placement was made in {placement.metric_crs.to_string()} with cell_m "
            f"{placement.cell_m:g} and persons_per_household "
            f"{placement.persons_per_household:g}; expected {crs.to_string()}, {cell_m:g} and "
            f"{persons_per_household:g}", parameter="placement")
    fac = facilities_of_type(facilities, facility_type, p)
    fac_xy = arrays.xy(arrays.project(arrays.geoms(fac), fac.crs, crs))
    circles = service_circles(fac_xy, effective, circle_segments=circle_segments)
    notes: list[str] = []
    if not len(fac_xy):
        notes.append(f"no facility of type {facility_type!r} existed during the period: "
                     "every community is a gap and distances are NaN")

    codes = arrays.codes(communities)
    gap = uncovered_parts(comm, circles, workers=workers)
    comm_area = shapely.area(comm)
    gap_area = shapely.area(gap)
    area_share = np.where(comm_area > 0, np.clip(
        1.0 - gap_area / np.where(comm_area > 0, comm_area, 1), 0.0, 1.0), np.nan)

    index = pd.Index(codes, name="code", dtype="string")
    placed = placement.population.reindex(index)
    uncovered = _uncovered_population(placement, circles, index, workers)
    distance = _mean_distance(placement, fac_xy, index)
    frame = pd.DataFrame(
        {
            "name": arrays.names(communities),
            "population": placed.to_numpy(),
            "area_km2": comm_area / 1e6,
            "facility_covered_area_share": area_share,
            "facility_covered_population_share": (
                (placed - uncovered) / placed.where(placed > 0)).to_numpy(),
            "facility_distance_m": distance.to_numpy(),
            "facility_uncovered_population": uncovered.to_numpy(),
        },
        index=index,
    )
    has_gap = ~shapely.is_empty(gap) & (gap_area > 0)
    gaps = gpd.GeoDataFrame(
        {
            "code": pd.array(codes[has_gap], dtype="string"),
            "name": frame["name"].to_numpy()[has_gap],
            "gap_area_m2": gap_area[has_gap],
            "population": uncovered.to_numpy()[has_gap],
        },
        geometry=arrays.project(gap[has_gap], crs, 4326),
        crs=4326,
    )
    return FacilityCoverage(
        frame=frame,
        gaps=gaps,
        ranking=rank_by_uncovered(frame),
        facility_type=facility_type,
        radius_m=radius,
        detour_factor=float(detour_factor),
        effective_radius_m=effective,
        facilities_used=len(fac_xy),
        circle_segments=circle_segments,
        metric_crs=crs,
        period=p,
        placement=placement,
        notes=tuple(notes),
    )

def service_circles(centres_xy: NDArray[np.float64], radius_m: float, *,
                    circle_segments: int = 64) -> NDArray[np.object_]:
    """Service circles: buffers of ``radius_m`` with ``circle_segments`` segments each.

    Parameters
    ----------
    centres_xy
        (n, 2) facility coordinates in a metric CRS.
    radius_m
        The (effective) radius.
    circle_segments
        Segments per circle (a multiple of 4; see the module docstring for the tolerance).

    Returns
    -------
    numpy.ndarray
        One polygon per centre, in the centres' CRS.
    """
    return np.asarray(shapely.buffer(shapely.points(centres_xy), radius_m,
                                     quad_segs=circle_segments // 4), dtype=object)


def covered_residents(placement: PopulationPlacement, centres_xy: NDArray[np.float64], *,
                      radius_m: float, circle_segments: int = 64,
                      workers: int | None = None) -> tuple[float, float]:
    """Residents within ``radius_m`` of a centre, and all residents placed, as coverage counts.

    The rule of :func:`facility_coverage`: the part of each placed area (compound, rest of a
    community) inside the service circles, by area, and placed points inside a circle. Site
    plans measure coverage before and after with it, so that their "before" is the coverage
    report's figure.

    Parameters
    ----------
    placement
        The residents (:func:`geo.population.place_population`, in the centres' metric CRS).
    centres_xy
        (n, 2) facility coordinates in that CRS.
    radius_m
        The effective radius.
    circle_segments
        Segments per circle.
    workers
        Threads for the polygon arithmetic.

    Returns
    -------
    tuple of float
        ``(covered, total)``.
    """
    index = pd.Index(placement.population.index.astype("string"), name="code", dtype="string")
    circles = service_circles(centres_xy, radius_m, circle_segments=circle_segments)
    uncovered = _uncovered_population(placement, circles, index, workers)
    total = float(placement.population.sum())
    return total - float(uncovered.sum()), total


def _uncovered_population(
    placement: PopulationPlacement,
    circles: NDArray[np.object_],
    index: pd.Index,
    workers: int | None,
) -> pd.Series:
    """Residents outside every service circle, per community (NaN without a population)."""
    parts = placement.parts
    part_geoms = arrays.geoms(parts)
    part_pop = parts["population"].to_numpy(dtype=np.float64)
    is_point = shapely.get_type_id(part_geoms) == shapely.GeometryType.POINT
    uncovered_share = np.ones(len(parts))
    poly = np.flatnonzero(~is_point)
    whole = shapely.area(part_geoms[poly])
    left = shapely.area(uncovered_parts(part_geoms[poly], circles, workers=workers))
    # The difference can exceed the whole by a rounding error: a share is kept within [0, 1].
    uncovered_share[poly] = np.clip(
        np.where(whole > 0, left / np.where(whole > 0, whole, 1.0), 0.0), 0.0, 1.0)
    pts = np.flatnonzero(is_point)
    if len(circles) and len(pts):
        hit, _ = shapely.STRtree(circles).query(part_geoms[pts], predicate="intersects")
        uncovered_share[pts[np.unique(hit)]] = 0.0
    part_code = parts["code"].to_numpy(dtype=object)
    uncovered = pd.Series(part_pop * uncovered_share).groupby(part_code).sum()
    uncovered = uncovered.reindex(index, fill_value=0.0)
    placed = placement.population.reindex(index)
    return uncovered.where(placed.notna()).clip(lower=0.0, upper=placed)


def _mean_distance(
    placement: PopulationPlacement, fac_xy: NDArray[np.float64], index: pd.Index
) -> pd.Series:
    """Population-weighted distance to the nearest facility, per community (NaN: none)."""
    distance = pd.Series(np.nan, index=index)
    demand = placement.points
    if len(fac_xy) and len(demand):
        d, _ = nearest(arrays.xy(arrays.geoms(demand)), fac_xy)
        w = demand["population"].to_numpy(dtype=np.float64)
        dcode = demand["code"].to_numpy(dtype=object)
        num = pd.Series(d * w).groupby(dcode).sum()
        den = pd.Series(w).groupby(dcode).sum()
        distance = (num / den.where(den > 0)).reindex(index)
    return distance


def rank_by_uncovered(frame: pd.DataFrame) -> pd.DataFrame:
    """Rank communities by uncovered residents, most first (:attr:`FacilityCoverage.ranking`).

    Parameters
    ----------
    frame
        A coverage frame indexed by ``code``.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``code``, ``name``, ``population``, ``facility_uncovered_population``,
        ``facility_covered_population_share``.
    """
    # Ties (equal uncovered residents) in the natural order of their codes.
    ranking = (
        sort_by_code(frame[["name", "population", "facility_uncovered_population",
                            "facility_covered_population_share"]].reset_index())
        .sort_values("facility_uncovered_population", ascending=False, na_position="last",
                     kind="stable")
        .reset_index(drop=True)
    )
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
    return ranking


@dataclass(frozen=True)
class FacilityWorkload:
    """Incidents per facility: its catchment and the incidents within its radius.

    Attributes
    ----------
    frame
        One row per facility of the type, indexed by facility ``id``: ``name``,
        ``incidents_catchment`` (incidents whose nearest facility it is), ``catchment_share``
        (of the located incidents), ``incidents_within_radius`` (incidents within
        ``radius_m``; an incident within reach of two facilities counts for both) and
        ``within_radius_share`` (these two only when there is a radius).
    incidents_total
        Incident rows given.
    incidents_located
        Incidents with a point (the denominator of the shares).
    incidents_unlocated
        Incidents without a point (left out).
    incidents_out_of_reach
        Located incidents farther than ``radius_m`` from every facility (``None`` without a
        radius).
    facility_type, radius_m
        The type and radius (``None``: catchments only).
    metric_crs, period
        CRS of the computation; period the facilities were filtered to (``None``: all).
    incidents_located_key_sum
        Sum of the record keys of the located incidents when the workload was computed with
        a ``key_column`` (else 0).
    """

    frame: pd.DataFrame
    incidents_total: int
    incidents_located: int
    incidents_unlocated: int
    incidents_out_of_reach: int | None
    facility_type: str
    radius_m: float | None
    metric_crs: pyproj.CRS
    period: Period | None
    incidents_located_key_sum: int = 0


def facility_workload(
    incidents: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    facility_type: str,
    radius_m: float | None = None,
    period: Period | str | int | None = None,
    metric_crs: Any = None,
    key_column: str | None = None,
) -> FacilityWorkload:
    """Count the incidents each facility of a type takes.

    Parameters
    ----------
    incidents
        Incident points, already filtered to the period and case definition; rows without a
        point are counted as unlocated.
    facilities
        Facility points with ``id`` and ``type`` (``name``, ``opened_on``, ``closed_on``
        optional).
    facility_type
        The type whose facilities share the incidents.
    radius_m
        Radius for ``incidents_within_radius``; default ``SERVICE_RADIUS_M[facility_type]``.
        A type with no default and no ``radius_m`` gets its catchments only (the nearest
        facility needs no radius).
    period
        Only facilities that existed during it count; ``None`` counts every row.
    metric_crs
        Projected CRS in metres; default :func:`choose_metric_crs` of the facilities and
        incidents.

    key_column
        A column of ``incidents`` holding integer record keys
        (:func:`geo.release.record_keys`): the frame then also carries
        ``incidents_catchment_key_sum`` and ``incidents_within_radius_key_sum``, and
        ``incidents_located_key_sum`` is set, so that the counts can be released by the
        cell-key method.

    Returns
    -------
    FacilityWorkload

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame.
    ValueError
        When columns are missing, the CRSs differ, geometries are not points, the radius is
        not positive, or no facility of the type existed during the period.
    """
    check_frame(incidents, "incidents", POINT, ())
    check_frame(facilities, "facilities", POINT, ("id", "type"))
    check_same_crs(incidents=incidents, facilities=facilities)
    # The catchment needs no radius: without one (none given, no default for the type) only
    # the catchment is counted.
    radius = (service_radius(facility_type, radius_m)
              if radius_m is not None or facility_type in SERVICE_RADIUS_M else None)
    p = None if period is None else parse_period(period)
    fac = facilities_of_type(facilities, facility_type, p)
    fac_geoms = arrays.geoms(fac)
    fac = fac[~(shapely.is_missing(fac_geoms) | shapely.is_empty(fac_geoms))]
    if not len(fac):
        raise ParameterError(
            f"facilities: no facility of type {facility_type!r} with a location existed during "
            "the period; expected at least one"
        )
    crs = choose_metric_crs(fac, incidents, metric_crs=metric_crs)
    fac_xy = arrays.xy(arrays.project(arrays.geoms(fac), fac.crs, crs))
    inc_xy = arrays.project_xy(arrays.geoms(incidents), incidents.crs, crs)
    located = np.isfinite(inc_xy).all(axis=1)
    xy = inc_xy[located]
    n = len(xy)
    catchment = np.zeros(len(fac), dtype=np.int64)
    key = (incidents[key_column].to_numpy(dtype=np.int64)[located] if key_column
           else np.zeros(n, dtype=np.int64))
    catchment_keys = np.zeros(len(fac), dtype=np.int64)
    if n:
        _, j = nearest(xy, fac_xy)
        catchment = np.bincount(j, minlength=len(fac))
        np.add.at(catchment_keys, j, key)
    denominator = n if n else np.nan
    frame = pd.DataFrame(
        {
            "name": (fac["name"].astype("string").to_numpy() if "name" in fac.columns
                     else pd.array([None] * len(fac), dtype="string")),
            "incidents_catchment": catchment,
            "catchment_share": catchment / denominator,
        },
        index=pd.Index(fac["id"].astype("string").to_numpy(), name="id", dtype="string"),
    )
    if key_column:
        frame["incidents_catchment_key_sum"] = catchment_keys
    out_of_reach = None
    if radius is not None:
        within, within_keys, out_of_reach = _within_radius(xy, fac_xy, key, radius)
        frame["incidents_within_radius"] = within
        frame["within_radius_share"] = within / denominator
        if key_column:
            frame["incidents_within_radius_key_sum"] = within_keys
    return FacilityWorkload(
        frame=frame,
        incidents_total=len(incidents),
        incidents_located=n,
        incidents_unlocated=len(incidents) - n,
        incidents_out_of_reach=out_of_reach,
        facility_type=facility_type,
        radius_m=radius,
        metric_crs=crs,
        period=p,
        incidents_located_key_sum=int(key.sum()),
    )


def _within_radius(xy: NDArray[np.float64], fac_xy: NDArray[np.float64],
                   key: NDArray[np.int64], radius: float
                   ) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
    """Incidents (and their key sums) within ``radius`` of each facility, and those of none."""
    within = np.zeros(len(fac_xy), dtype=np.int64)
    keys = np.zeros(len(fac_xy), dtype=np.int64)
    if not len(xy):
        return within, keys, 0
    d, _ = nearest(xy, fac_xy)
    reached = cKDTree(xy).query_ball_point(fac_xy, r=radius)
    within = np.array([len(r) for r in reached], dtype=np.int64)
    keys = np.array([int(key[r].sum()) if len(r) else 0 for r in reached], dtype=np.int64)
    return within, keys, int((d > radius).sum())


def service_radius(facility_type: str, radius_m: float | None) -> float:
    """Return the service radius of a facility type: ``radius_m``, or the type's default.

    Parameters
    ----------
    facility_type
        The type (``police_station``...).
    radius_m
        A radius in metres, or ``None`` for ``SERVICE_RADIUS_M[facility_type]``.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        When ``facility_type`` is not a non-empty str.
    ValueError
        When the type has no default and ``radius_m`` is not given, or ``radius_m`` is not
        a positive number.
    """
    if not isinstance(facility_type, str) or not facility_type:
        raise TypeError(f"facility_type must be a non-empty str; got {facility_type!r}")
    if radius_m is None:
        if facility_type not in SERVICE_RADIUS_M:
            raise ParameterError(
                f"radius_m: facility_type {facility_type!r} has no default radius (known: "
                f"{', '.join(SERVICE_RADIUS_M)}); pass radius_m"
            )
        return SERVICE_RADIUS_M[facility_type]
    check_positive(radius_m, "radius_m")
    return float(radius_m)
