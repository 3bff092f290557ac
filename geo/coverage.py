"""Facility coverage: who lives within reach of a police station, a service station, a clinic.

For one facility type, :func:`facility_coverage` answers per community: which share of the area
and of the residents lies within the type's service radius, how far residents live from the
nearest facility, and where the gaps are and how many people live in them.
:func:`nearest_facility` is the fast nearest-neighbour query behind it, and
:func:`facility_workload` counts the incidents each facility's catchment takes. The population
placement (:func:`place_population`) is shared with :mod:`geo.siting`, whose demand points it
supplies.

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

Population placement
--------------------
Residents are placed where they live as far as the data tells (:func:`place_population`):

1. Compounds (小区) that existed during the period and carry a ``population`` (or
   ``households`` × ``persons_per_household``) hold that many residents: a point compound at
   its point, a polygon compound spread evenly over its polygon. A compound belongs to the
   community containing its representative point (``shapely.point_on_surface``).
2. The rest of the community's ``population`` is spread evenly over the community's area
   outside every populated compound polygon (over the whole community if nothing is left).
3. When a community's compounds hold more residents than its ``population``, they are scaled
   down to it (the community population is the official denominator); the codes are listed in
   :attr:`PopulationPlacement.scaled_codes`.
4. A community without a population gets no residents; its population metrics are NaN.

Coverage shares and uncovered populations are exact areal arithmetic on this placement
(uncovered part of each polygon × its density). Distances need points: each populated polygon
is cut into the cells of a square grid of ``cell_m`` metres (aligned on multiples of ``cell_m``
in the metric CRS) and each piece's residents sit at the piece's centroid, so a resident's
distance is off by at most half a cell diagonal (71 m for 100 m cells), and much less on
average. The same points are :mod:`geo.siting`'s demand points.

Why some of this is written here
--------------------------------
The shares need "each community minus the union of the service areas that touch it" for
thousands of communities. geopandas' ``overlay`` + ``dissolve`` computes a polygon intersection
for every (circle, community) pair and then unions them; :func:`uncovered_parts` instead unions
the circles that touch each community first (``shapely.disjoint_subset_union_all``, which unions
each cluster of overlapping pieces separately) and subtracts that union once per community,
as vectorised GEOS calls on a small thread pool (shapely releases the GIL inside GEOS).
Nearest facilities are a k-d tree query on projected coordinates (``pykdtree`` when installed,
whose OpenMP queries are the fastest exact ones available, else ``scipy.spatial.cKDTree``), with
the distance recomputed as ``sqrt(dx² + dy²)``, the formula GEOS uses for point distances, so
they equal ``geopandas.sjoin_nearest``'s bit for bit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from geo.assign import assign_points
from geo.crs import metric_crs_for

try:
    # pykdtree answers exact nearest-neighbour queries on OpenMP threads, about 1.5 times as
    # fast as scipy's cKDTree here; scipy serves when it is not installed.
    from pykdtree.kdtree import KDTree as _PyKDTree

    _HAS_PYKDTREE = True
except ImportError:  # pragma: no cover - depends on the environment
    _HAS_PYKDTREE = False
from geo.period import Period, parse_period

__all__ = [
    "PERSONS_PER_HOUSEHOLD",
    "SERVICE_RADIUS_BASIS",
    "SERVICE_RADIUS_M",
    "FacilityCoverage",
    "FacilityWorkload",
    "PopulationPlacement",
    "choose_metric_crs",
    "existing_during",
    "facility_coverage",
    "facility_workload",
    "nearest_facility",
    "place_population",
    "uncovered_parts",
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

#: Persons per family household used to turn ``households`` into residents: 2.62, the national
#: average household size of China's 2020 census (第七次全国人口普查).
PERSONS_PER_HOUSEHOLD = 2.62

_CRS_SAMPLE = 100_000
#: Most covers in one chunk of :func:`uncovered_parts` (bounds the padded arrays' memory).
_CHUNK_COVERS = 200_000
_POLYGONAL = ("Polygon", "MultiPolygon")
_POINT = ("Point",)
_POINT_OR_POLYGON = ("Point", "Polygon", "MultiPolygon")


# --------------------------------------------------------------------------------------------
# Shared helpers (also used by geo.protection and geo.siting)
# --------------------------------------------------------------------------------------------


def existing_during(
    frame: pd.DataFrame,
    period: Period | str | int,
    *,
    start_column: str | None,
    end_column: str | None,
) -> pd.Series:
    """Mark the rows of an inventory that existed during a period.

    A row existed during ``period`` when it started on or before the period's last day
    (``start < period.end``, the end being exclusive) and had not ended by the period's first
    day (``end`` missing or ``end > period.start``). A missing start counts as "always there".

    Parameters
    ----------
    frame
        The inventory (devices, facilities, compounds).
    period
        The reporting period (a :class:`~geo.period.Period` or text :func:`parse_period` reads).
    start_column, end_column
        Date columns (``installed_on``/``removed_on``, ``opened_on``/``closed_on``); ``None``
        when the layer has no such column.

    Returns
    -------
    pandas.Series of bool
        Aligned with ``frame``.

    Raises
    ------
    ValueError
        When a named column is absent or does not hold dates, or the period is invalid.
    TypeError
        When ``frame`` is not a DataFrame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    p = parse_period(period)
    start = pd.Timestamp(p.start)
    end = pd.Timestamp(p.end)
    keep = pd.Series(True, index=frame.index)
    if start_column is not None:
        began = _dates(frame, start_column)
        keep &= began.isna() | (began < end)
    if end_column is not None:
        ended = _dates(frame, end_column)
        keep &= ended.isna() | (ended > start)
    return keep


def choose_metric_crs(
    *frames: gpd.GeoDataFrame | gpd.GeoSeries | None,
    metric_crs: Any = None,
) -> pyproj.CRS:
    """Return the metric CRS to work in: the one given, or the default for the data.

    Parameters
    ----------
    *frames
        The data (``None`` entries are skipped); the default is
        :func:`geo.crs.metric_crs_for` of the WGS84 centres of their geometries.
    metric_crs
        A CRS pyproj accepts (``4548``, ``"EPSG:32650"``, a ``pyproj.CRS``), or ``None``.

    Returns
    -------
    pyproj.CRS
        A projected CRS whose axes are in metres.

    Raises
    ------
    ValueError
        When ``metric_crs`` is not a CRS, is not projected or not in metres, or when there is no
        geometry to choose a default from.
    """
    if metric_crs is not None:
        try:
            crs = pyproj.CRS.from_user_input(metric_crs)
        except pyproj.exceptions.CRSError as exc:
            raise ValueError(f"metric_crs must be a CRS; got {metric_crs!r} ({exc})") from None
        units = {a.unit_name for a in crs.axis_info}
        if not crs.is_projected or not units <= {"metre", "meter"}:
            raise ValueError(
                f"metric_crs must be a projected CRS in metres; got {crs.to_string()} "
                f"(units: {', '.join(sorted(units)) or 'none'})"
            )
        return crs
    lons: list[NDArray[np.float64]] = []
    lats: list[NDArray[np.float64]] = []
    for frame in frames:
        if frame is None or len(frame) == 0:
            continue
        geoms = np.asarray(frame.geometry.array, dtype=object)
        # The zone depends on the median position only: a strided sample of a large frame
        # chooses it as well and keeps this cheap for a million points.
        step = max(1, len(geoms) // _CRS_SAMPLE)
        bounds = shapely.bounds(geoms[::step])
        x = (bounds[:, 0] + bounds[:, 2]) / 2.0
        y = (bounds[:, 1] + bounds[:, 3]) / 2.0
        ok = np.isfinite(x) & np.isfinite(y)
        to_wgs84 = pyproj.Transformer.from_crs(frame.crs, 4326, always_xy=True)
        lon, lat = to_wgs84.transform(x[ok], y[ok])
        lons.append(np.asarray(lon, dtype=np.float64))
        lats.append(np.asarray(lat, dtype=np.float64))
    if not lons or not sum(len(v) for v in lons):
        raise ValueError("metric_crs: no geometry to choose a metric CRS from; pass metric_crs")
    return metric_crs_for(np.concatenate(lons), np.concatenate(lats))


def uncovered_parts(
    areas: ArrayLike, covers: ArrayLike, *, workers: int | None = None
) -> NDArray[np.object_]:
    """Return each area minus the union of the covers that touch it.

    Parameters
    ----------
    areas
        Polygons (one per community, compound...), in the same projected CRS as ``covers``.
    covers
        Polygons that cover (view sectors, service circles); ``None`` and empty ones are
        ignored. Overlapping covers count once.
    workers
        Threads to run the GEOS work on (shapely releases the GIL inside GEOS); ``None`` uses
        every CPU. Results do not depend on it.

    Returns
    -------
    numpy.ndarray of object
        One polygon or multipolygon (possibly empty) per area, in the order of ``areas``.

    Raises
    ------
    ValueError
        When ``workers`` is not a positive integer.

    Notes
    -----
    The covers are grouped by the areas they intersect with an STRtree (the areas, as query
    geometries, are prepared). Each group is unioned with ``shapely.disjoint_subset_union_all``
    (which unions each cluster of overlapping covers on its own) and subtracted from its area
    with ``shapely.difference``. Groups of similar size are stacked into padded 2-D arrays so
    that both run as vectorised GEOS calls, chunk by chunk on a thread pool. The arithmetic is
    exact; a cover touching several areas is unioned into each group.
    """
    n_workers = _workers(workers)
    area_arr = np.asarray(areas, dtype=object).ravel()
    cover_arr = np.asarray(covers, dtype=object).ravel()
    cover_arr = cover_arr[~(shapely.is_missing(cover_arr) | shapely.is_empty(cover_arr))]
    out = area_arr.copy()
    if not len(cover_arr) or not len(area_arr):
        return out
    tree = shapely.STRtree(cover_arr)
    area_idx, cover_idx = tree.query(area_arr, predicate="intersects")
    if not len(area_idx):
        return out
    order = np.argsort(area_idx, kind="stable")
    area_idx, cover_idx = area_idx[order], cover_idx[order]
    touched, first = np.unique(area_idx, return_index=True)
    sizes = np.diff(np.append(first, len(area_idx)))

    def subtract(rows: NDArray[np.int64]) -> NDArray[np.object_]:
        width = int(sizes[rows].max())
        column = np.arange(width)
        filled = column[None, :] < sizes[rows][:, None]
        padded = np.full((len(rows), width), None, dtype=object)
        padded[filled] = cover_arr[cover_idx[(first[rows][:, None] + column[None, :])[filled]]]
        unions = shapely.disjoint_subset_union_all(padded, axis=1)
        return np.asarray(shapely.difference(area_arr[touched[rows]], unions), dtype=object)

    chunks = _size_chunks(sizes, n_workers)
    if n_workers == 1 or len(chunks) == 1:
        results = [subtract(rows) for rows in chunks]
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            results = list(pool.map(subtract, chunks))
    for rows, result in zip(chunks, results, strict=True):
        out[touched[rows]] = result
    return out


def _size_chunks(sizes: NDArray[np.int64], workers: int) -> list[NDArray[np.int64]]:
    """Split group positions, sorted by size, into chunks of similar total size.

    Sorting keeps the padding of each chunk small; several chunks per worker balance the load.
    """
    order = np.argsort(sizes, kind="stable")
    total = int(sizes.sum())
    target = max(min(total // (4 * workers) + 1, _CHUNK_COVERS), 1)
    bounds = np.searchsorted(np.cumsum(sizes[order]), np.arange(target, total, target))
    return [chunk for chunk in np.split(order, np.unique(bounds)) if len(chunk)]


def _workers(workers: int | None) -> int:
    if workers is None:
        return max(os.cpu_count() or 1, 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None; got {workers!r}")
    return workers


# --------------------------------------------------------------------------------------------
# Population placement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PopulationPlacement:
    """Residents placed on compounds and community areas, in a metric CRS.

    Attributes
    ----------
    parts
        GeoDataFrame in ``metric_crs``, one row per populated piece: ``code`` (community),
        ``kind`` (``compound`` or ``area``), ``compound_id`` (missing for ``area``),
        ``population`` (residents of the piece) and its geometry (a polygon spread evenly, or a
        point compound).
    points
        GeoDataFrame in ``metric_crs`` of demand points: ``code``, ``kind``, ``compound_id``,
        ``population`` and a point geometry (grid-piece centroids for polygons, the point
        itself for point compounds). Per community the points' populations sum to the placed
        population.
    population
        Series indexed by community code: residents placed (NaN where the community has no
        population).
    metric_crs
        The CRS of ``parts`` and ``points``.
    cell_m
        Grid cell size used for the points, metres.
    persons_per_household
        Factor used for compounds that give households only.
    scaled_codes
        Communities whose compounds held more residents than the community population and were
        scaled down to it.
    compounds_used, compounds_unassigned
        Compounds that placed residents; compounds of the period whose representative point
        lies in no community.
    """

    parts: gpd.GeoDataFrame
    points: gpd.GeoDataFrame
    population: pd.Series
    metric_crs: pyproj.CRS
    cell_m: float
    persons_per_household: float
    scaled_codes: tuple[str, ...]
    compounds_used: int
    compounds_unassigned: int


def place_population(
    communities: gpd.GeoDataFrame,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    period: Period | str | int | None = None,
    cell_m: float = 100.0,
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    metric_crs: Any = None,
) -> PopulationPlacement:
    """Place each community's residents on its compounds and the rest of its area.

    See the module docstring ("Population placement") for the rules.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``population``.
    compounds
        Compounds (points or polygons) with ``id``, and ``population`` and/or ``households``;
        ``removed_on`` is used with ``period``.
    period
        Only compounds that existed during it are used; ``None`` uses every row.
    cell_m
        Grid cell size in metres for the demand points.
    persons_per_household
        Residents per household for compounds without a population.
    metric_crs
        Projected CRS in metres; default :func:`choose_metric_crs` of the communities.

    Returns
    -------
    PopulationPlacement

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame.
    ValueError
        When a required column is missing, a population or household count is negative, the
        CRSs differ, a geometry has the wrong type, codes repeat, or an option is out of range.
    """
    _check_communities(communities)
    if compounds is not None:
        _check_frame(compounds, "compounds", _POINT_OR_POLYGON, ("id",))
        _check_same_crs(communities=communities, compounds=compounds)
    _check_positive(cell_m, "cell_m")
    _check_positive(persons_per_household, "persons_per_household")
    crs = choose_metric_crs(communities, metric_crs=metric_crs)
    comm = _project(_geoms(communities), communities.crs, crs)
    return _place(communities, comm, compounds, period, cell_m, persons_per_household, crs)


def _place(
    communities: gpd.GeoDataFrame,
    comm: NDArray[np.object_],
    compounds: gpd.GeoDataFrame | None,
    period: Period | str | int | None,
    cell_m: float,
    persons_per_household: float,
    crs: pyproj.CRS,
) -> PopulationPlacement:
    codes = _codes(communities)
    pop = _population(communities, "communities")
    comp_code = np.empty(0, dtype=object)
    comp_geom = np.empty(0, dtype=object)
    comp_pop = np.empty(0, dtype=np.float64)
    comp_id = np.empty(0, dtype=object)
    unassigned = 0
    if compounds is not None and len(compounds):
        comps = compounds if period is None else compounds[
            existing_during(compounds, period, start_column=None,
                            end_column=_present(compounds, "removed_on"))]
        residents = _compound_residents(comps, persons_per_household)
        geoms = _project(_geoms(comps), comps.crs, crs)
        owner = _assign(shapely.point_on_surface(_geoms(comps)), _geoms(communities))
        unassigned = int((owner < 0).sum())
        use = (owner >= 0) & np.isfinite(residents) & ~shapely.is_empty(geoms)
        use &= np.isfinite(pop[np.where(owner >= 0, owner, 0)])
        comp_code = codes[owner[use]]
        comp_geom = geoms[use]
        comp_pop = residents[use]
        comp_id = comps["id"].astype("string").to_numpy(dtype=object)[use]
        owner = owner[use]
    else:
        owner = np.empty(0, dtype=np.int64)

    held = np.bincount(owner, weights=comp_pop, minlength=len(codes))
    safe_pop = np.where(np.isfinite(pop), pop, 0.0)
    over = held > safe_pop
    scale = np.where(over & (held > 0), safe_pop / np.where(held > 0, held, 1.0), 1.0)
    comp_pop = comp_pop * scale[owner]
    rest = np.where(np.isfinite(pop), np.maximum(safe_pop - np.minimum(held, safe_pop), 0.0),
                    np.nan)

    polygonal = shapely.get_type_id(comp_geom) != shapely.GeometryType.POINT
    populated = polygonal & (comp_pop > 0)
    free = uncovered_parts(comm, comp_geom[populated])
    nothing_left = shapely.area(free) <= 1e-9 * np.maximum(shapely.area(comm), 1.0)
    free = np.where(nothing_left, comm, free)
    area_rows = np.flatnonzero(np.isfinite(rest) & (rest > 0))

    parts = gpd.GeoDataFrame(
        {
            "code": pd.array(np.concatenate([comp_code, codes[area_rows]]), dtype="string"),
            "kind": pd.array(["compound"] * len(comp_code) + ["area"] * len(area_rows),
                             dtype="string"),
            "compound_id": pd.array(np.concatenate(
                [comp_id, np.full(len(area_rows), None, dtype=object)]), dtype="string"),
            "population": np.concatenate([comp_pop, rest[area_rows]]).astype(np.float64),
        },
        geometry=np.concatenate([comp_geom, free[area_rows]]),
        crs=crs,
    )
    points = _demand_points(parts, cell_m)
    # Scaled compounds plus the rest add up to the community population exactly.
    placed = pd.Series(pop, index=pd.Index(codes, name="code", dtype="string"),
                       name="population")
    return PopulationPlacement(
        parts=parts,
        points=points,
        population=placed,
        metric_crs=crs,
        cell_m=float(cell_m),
        persons_per_household=float(persons_per_household),
        scaled_codes=tuple(str(c) for c in codes[over & (held > 0) & np.isfinite(pop)]),
        compounds_used=len(comp_code),
        compounds_unassigned=unassigned,
    )


def _compound_residents(comps: gpd.GeoDataFrame, persons_per_household: float) -> NDArray[Any]:
    population = _float_column(comps, "population", "compounds")
    households = _float_column(comps, "households", "compounds")
    for name, values in (("population", population), ("households", households)):
        if (values < 0).any():
            raise ValueError(f"compounds: {name} must be >= 0; got {float(values.min())}")
    return np.where(np.isfinite(population), population, households * persons_per_household)


def _demand_points(parts: gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    geoms = _geoms(parts)
    pop = parts["population"].to_numpy(dtype=np.float64)
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    poly_rows = np.flatnonzero(~is_point)
    owner, pieces = _grid_pieces(geoms[poly_rows], cell_m)
    piece_area = shapely.area(pieces)
    # Normalised by the kept pieces, so each polygon's points carry all its residents.
    whole = np.bincount(owner, weights=piece_area, minlength=len(poly_rows))
    # A polygon smaller than a sliver keeps its residents at its representative point.
    tiny = poly_rows[whole <= 0]
    single = np.concatenate([np.flatnonzero(is_point), tiny])
    rows = np.concatenate([single, poly_rows[owner]])
    share = np.concatenate([np.ones(len(single)), piece_area / whole[owner]])
    points = np.concatenate([geoms[is_point], shapely.point_on_surface(geoms[tiny]),
                             shapely.centroid(pieces)])
    order = np.argsort(rows, kind="stable")
    rows, share, points = rows[order], share[order], points[order]
    out = parts.iloc[rows].drop(columns="geometry").reset_index(drop=True)
    out["population"] = pop[rows] * share
    return gpd.GeoDataFrame(out, geometry=points, crs=parts.crs)


def _grid_pieces(
    polygons: NDArray[np.object_], cell_m: float
) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """Cut each polygon by a square grid aligned on multiples of ``cell_m``."""
    if not len(polygons):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    b = shapely.bounds(polygons)
    x0 = np.floor(b[:, 0] / cell_m) * cell_m
    y0 = np.floor(b[:, 1] / cell_m) * cell_m
    nx = np.maximum(np.ceil((b[:, 2] - x0) / cell_m), 1).astype(np.int64)
    ny = np.maximum(np.ceil((b[:, 3] - y0) / cell_m), 1).astype(np.int64)
    counts = nx * ny
    owner = np.repeat(np.arange(len(polygons)), counts)
    local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    cx = x0[owner] + (local % nx[owner]) * cell_m
    cy = y0[owner] + (local // nx[owner]) * cell_m
    cells = shapely.box(cx, cy, cx + cell_m, cy + cell_m)
    shapely.prepare(polygons)
    inside = shapely.contains_properly(polygons[owner], cells)
    edge = ~inside & shapely.intersects(polygons[owner], cells)
    pieces = cells.copy()
    pieces[edge] = shapely.intersection(cells[edge], polygons[owner][edge])
    # Slivers where a polygon edge runs along a grid line (off by rounding) carry no one.
    keep = (inside | edge) & (shapely.area(pieces) > 1e-9 * cell_m * cell_m)
    return owner[keep], pieces[keep]


# --------------------------------------------------------------------------------------------
# Facility coverage
# --------------------------------------------------------------------------------------------


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
    _workers(workers)
    _check_communities(communities)
    _check_frame(facilities, "facilities", _POINT, ("id", "type"))
    if compounds is not None:
        _check_frame(compounds, "compounds", _POINT_OR_POLYGON, ("id",))
    _check_same_crs(communities=communities, facilities=facilities, compounds=compounds)
    radius = _radius(facility_type, radius_m)
    if not (isinstance(detour_factor, int | float) and detour_factor >= 1.0):
        raise ValueError(f"detour_factor must be a number >= 1; got {detour_factor!r}")
    if not (isinstance(circle_segments, int) and circle_segments >= 8
            and circle_segments % 4 == 0):
        raise ValueError(
            f"circle_segments must be a multiple of 4, at least 8; got {circle_segments!r}"
        )
    _check_positive(cell_m, "cell_m")
    _check_positive(persons_per_household, "persons_per_household")
    p = None if period is None else parse_period(period)
    crs = choose_metric_crs(communities, metric_crs=metric_crs)
    effective = radius / float(detour_factor)

    comm = _project(_geoms(communities), communities.crs, crs)
    placement = _place(communities, comm, compounds, p, cell_m, persons_per_household, crs)
    fac = _facilities_of_type(facilities, facility_type, p)
    fac_xy = _xy(_project(_geoms(fac), fac.crs, crs))
    circles = np.asarray(
        shapely.buffer(shapely.points(fac_xy), effective, quad_segs=circle_segments // 4),
        dtype=object)
    notes: list[str] = []
    if not len(fac_xy):
        notes.append(f"no facility of type {facility_type!r} existed during the period: "
                     "every community is a gap and distances are NaN")

    codes = _codes(communities)
    gap = uncovered_parts(comm, circles, workers=workers)
    comm_area = shapely.area(comm)
    gap_area = shapely.area(gap)
    area_share = np.where(comm_area > 0, 1.0 - gap_area / np.where(comm_area > 0, comm_area, 1),
                          np.nan)

    parts = placement.parts
    part_geoms = _geoms(parts)
    part_pop = parts["population"].to_numpy(dtype=np.float64)
    is_point = shapely.get_type_id(part_geoms) == shapely.GeometryType.POINT
    uncovered_share = np.ones(len(parts))
    poly = np.flatnonzero(~is_point)
    whole = shapely.area(part_geoms[poly])
    left = shapely.area(uncovered_parts(part_geoms[poly], circles, workers=workers))
    uncovered_share[poly] = np.where(whole > 0, left / np.where(whole > 0, whole, 1.0), 0.0)
    pts = np.flatnonzero(is_point)
    if len(circles) and len(pts):
        hit, _ = shapely.STRtree(circles).query(part_geoms[pts], predicate="intersects")
        uncovered_share[pts[np.unique(hit)]] = 0.0
    index = pd.Index(codes, name="code", dtype="string")
    part_code = parts["code"].to_numpy(dtype=object)
    uncovered = pd.Series(part_pop * uncovered_share).groupby(part_code).sum()
    uncovered = uncovered.reindex(index, fill_value=0.0)
    placed = placement.population.reindex(index)
    uncovered = uncovered.where(placed.notna())

    distance = pd.Series(np.nan, index=index)
    demand = placement.points
    if len(fac_xy) and len(demand):
        d, _ = _nearest(_xy(_geoms(demand)), fac_xy)
        w = demand["population"].to_numpy(dtype=np.float64)
        dcode = demand["code"].to_numpy(dtype=object)
        num = pd.Series(d * w).groupby(dcode).sum()
        den = pd.Series(w).groupby(dcode).sum()
        distance = (num / den.where(den > 0)).reindex(index)

    frame = pd.DataFrame(
        {
            "name": _names(communities),
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
        geometry=_project(gap[has_gap], crs, 4326),
        crs=4326,
    )
    ranking = (
        frame[["name", "population", "facility_uncovered_population",
               "facility_covered_population_share"]]
        .reset_index()
        .sort_values(["facility_uncovered_population", "code"], ascending=[False, True],
                     na_position="last", kind="stable")
        .reset_index(drop=True)
    )
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
    return FacilityCoverage(
        frame=frame,
        gaps=gaps,
        ranking=ranking,
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


# --------------------------------------------------------------------------------------------
# Nearest facility and workload
# --------------------------------------------------------------------------------------------


def nearest_facility(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    facilities: gpd.GeoDataFrame,
    *,
    metric_crs: Any = None,
) -> pd.DataFrame:
    """Find the nearest facility of every point and its straight-line distance.

    Parameters
    ----------
    points
        Points (a GeoSeries or GeoDataFrame); missing or empty geometries get NaN.
    facilities
        Facility points with an ``id`` column, in the same CRS as ``points``; filter them to
        one type and period first.
    metric_crs
        Projected CRS in metres; default :func:`choose_metric_crs` of points and facilities.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``points``: ``distance_m`` (float) and ``facility_id`` (categorical of
        the facility ids); both missing where a point is. For equal distances the facility
        listed first wins.

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame/GeoSeries.
    ValueError
        When the CRSs differ, geometries are not points, ``id`` is missing, or there is no
        facility.
    """
    if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        raise TypeError(
            f"points must be a GeoDataFrame or GeoSeries; got {type(points).__name__}"
        )
    _check_geometry_types(_geoms(points), "points", _POINT)
    if points.crs is None:
        raise ValueError("points has no CRS; set one (EPSG:4326 for pingan's layers)")
    _check_frame(facilities, "facilities", _POINT, ("id",))
    _check_same_crs(points=points, facilities=facilities)
    fac_geoms = _geoms(facilities)
    usable = ~(shapely.is_missing(fac_geoms) | shapely.is_empty(fac_geoms))
    if not usable.any():
        raise ValueError("facilities: no facility with a location; expected at least one point")
    crs = choose_metric_crs(points, facilities, metric_crs=metric_crs)
    fac_xy = _xy(_project(fac_geoms[usable], facilities.crs, crs))
    fac_ids = facilities["id"].astype("string").to_numpy(dtype=object)[usable]
    pt_xy = _project_xy(_geoms(points), points.crs, crs)
    position, unique_ids = pd.factorize(pd.Series(fac_ids, dtype="string"))
    ok = np.isfinite(pt_xy[:, 0])
    if ok.all():
        distance, j = _nearest(pt_xy, fac_xy)
        codes = position[j]
    else:
        distance = np.full(len(pt_xy), np.nan)
        codes = np.full(len(pt_xy), -1, dtype=np.int64)
        d, j = _nearest(pt_xy[ok], fac_xy)
        distance[ok] = d
        codes[ok] = position[j]
    # Categorical: a million ids are a million codes into the facilities' ids, not strings.
    ids = pd.Categorical.from_codes(codes, categories=pd.Index(unique_ids, dtype="string"))
    return pd.DataFrame({"distance_m": distance, "facility_id": ids}, index=points.index)


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
        ``within_radius_share``.
    incidents_total
        Incident rows given.
    incidents_located
        Incidents with a point (the denominator of the shares).
    incidents_unlocated
        Incidents without a point (left out).
    incidents_out_of_reach
        Located incidents farther than ``radius_m`` from every facility.
    facility_type, radius_m
        The type and radius.
    metric_crs, period
        CRS of the computation; period the facilities were filtered to (``None``: all).
    """

    frame: pd.DataFrame
    incidents_total: int
    incidents_located: int
    incidents_unlocated: int
    incidents_out_of_reach: int
    facility_type: str
    radius_m: float
    metric_crs: pyproj.CRS
    period: Period | None


def facility_workload(
    incidents: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    facility_type: str,
    radius_m: float | None = None,
    period: Period | str | int | None = None,
    metric_crs: Any = None,
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
    period
        Only facilities that existed during it count; ``None`` counts every row.
    metric_crs
        Projected CRS in metres; default :func:`choose_metric_crs` of the facilities and
        incidents.

    Returns
    -------
    FacilityWorkload

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame.
    ValueError
        When columns are missing, the CRSs differ, geometries are not points, the radius is
        unknown or not positive, or no facility of the type existed during the period.
    """
    _check_frame(incidents, "incidents", _POINT, ())
    _check_frame(facilities, "facilities", _POINT, ("id", "type"))
    _check_same_crs(incidents=incidents, facilities=facilities)
    radius = _radius(facility_type, radius_m)
    p = None if period is None else parse_period(period)
    fac = _facilities_of_type(facilities, facility_type, p)
    fac_geoms = _geoms(fac)
    fac = fac[~(shapely.is_missing(fac_geoms) | shapely.is_empty(fac_geoms))]
    if not len(fac):
        raise ValueError(
            f"facilities: no facility of type {facility_type!r} with a location existed during "
            "the period; expected at least one"
        )
    crs = choose_metric_crs(fac, incidents, metric_crs=metric_crs)
    fac_xy = _xy(_project(_geoms(fac), fac.crs, crs))
    inc_xy = _project_xy(_geoms(incidents), incidents.crs, crs)
    located = np.isfinite(inc_xy).all(axis=1)
    xy = inc_xy[located]
    n = len(xy)
    catchment = np.zeros(len(fac), dtype=np.int64)
    within = np.zeros(len(fac), dtype=np.int64)
    out_of_reach = 0
    if n:
        d, j = _nearest(xy, fac_xy)
        catchment = np.bincount(j, minlength=len(fac))
        out_of_reach = int((d > radius).sum())
        within = np.asarray(
            cKDTree(xy).query_ball_point(fac_xy, r=radius, return_length=True), dtype=np.int64
        )
    denominator = n if n else np.nan
    frame = pd.DataFrame(
        {
            "name": (fac["name"].astype("string").to_numpy() if "name" in fac.columns
                     else pd.array([None] * len(fac), dtype="string")),
            "incidents_catchment": catchment,
            "catchment_share": catchment / denominator,
            "incidents_within_radius": within,
            "within_radius_share": within / denominator,
        },
        index=pd.Index(fac["id"].astype("string").to_numpy(), name="id", dtype="string"),
    )
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
    )


# --------------------------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------------------------


def _nearest(
    xy: NDArray[np.float64], targets: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Nearest target of each point: distance ``sqrt(dx² + dy²)`` and target position."""
    if not len(xy):
        return np.empty(0), np.empty(0, dtype=np.int64)
    if _HAS_PYKDTREE:
        _, found = _PyKDTree(np.ascontiguousarray(targets)).query(np.ascontiguousarray(xy), k=1)
    else:
        _, found = cKDTree(targets).query(xy, k=1, workers=-1)
    j = np.asarray(found, dtype=np.int64)
    dx = xy[:, 0] - targets[j, 0]
    dy = xy[:, 1] - targets[j, 1]
    return np.sqrt(dx * dx + dy * dy), j


def _radius(facility_type: str, radius_m: float | None) -> float:
    if not isinstance(facility_type, str) or not facility_type:
        raise TypeError(f"facility_type must be a non-empty str; got {facility_type!r}")
    if radius_m is None:
        if facility_type not in SERVICE_RADIUS_M:
            raise ValueError(
                f"radius_m: facility_type {facility_type!r} has no default radius (known: "
                f"{', '.join(SERVICE_RADIUS_M)}); pass radius_m"
            )
        return SERVICE_RADIUS_M[facility_type]
    _check_positive(radius_m, "radius_m")
    return float(radius_m)


def _facilities_of_type(
    facilities: gpd.GeoDataFrame, facility_type: str, period: Period | None
) -> gpd.GeoDataFrame:
    keep = (facilities["type"].astype("string") == facility_type).fillna(False)
    if period is not None:
        keep &= existing_during(facilities, period,
                                start_column=_present(facilities, "opened_on"),
                                end_column=_present(facilities, "closed_on"))
    return facilities[keep.to_numpy(dtype=bool)]


def _assign(points: NDArray[np.object_], polygons: NDArray[np.object_]) -> NDArray[np.int64]:
    """Position of the polygon containing each point (the first one listed), or -1.

    :func:`geo.assign.assign_points` does the work, with its rule for boundary points (the
    polygon listed first among those touching the point): the rule incidents are assigned by
    when they are loaded. Points and polygons share one CRS.
    """
    if not len(points) or not len(polygons):
        return np.full(len(points), -1, dtype=np.int64)
    located = np.asarray(points, dtype=object).copy()
    located[shapely.is_empty(located)] = None  # GEOS has no coordinates for an empty point
    x = shapely.get_x(located)  # NaN where the point is missing
    y = shapely.get_y(located)
    return np.asarray(assign_points(x, y, polygons), dtype=np.int64)


def _project(geoms: NDArray[np.object_], source: Any, target: Any) -> NDArray[np.object_]:
    if pyproj.CRS.from_user_input(source) == pyproj.CRS.from_user_input(target):
        return geoms.copy()
    transformer = pyproj.Transformer.from_crs(source, target, always_xy=True)
    return np.asarray(
        shapely.transform(geoms, lambda c: np.column_stack(transformer.transform(c[:, 0],
                                                                                 c[:, 1]))),
        dtype=object,
    )


def _project_xy(geoms: NDArray[np.object_], source: Any, target: Any) -> NDArray[np.float64]:
    """Projected x, y of point geometries; NaN rows for missing or empty points."""
    empty = shapely.is_empty(geoms)
    if empty.any():
        # GEOS refuses the coordinates of an empty point; missing ones come out as NaN.
        geoms = geoms.copy()
        geoms[empty] = None
    x = shapely.get_x(geoms)
    y = shapely.get_y(geoms)
    if pyproj.CRS.from_user_input(source) != pyproj.CRS.from_user_input(target):
        transformer = pyproj.Transformer.from_crs(source, target, always_xy=True)
        x, y = transformer.transform(x, y)
    return np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])


def _xy(points: NDArray[np.object_]) -> NDArray[np.float64]:
    return np.column_stack([shapely.get_x(points), shapely.get_y(points)]).astype(np.float64)


def _geoms(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> NDArray[np.object_]:
    return np.asarray(frame.geometry.array, dtype=object)


def _codes(communities: gpd.GeoDataFrame) -> NDArray[np.object_]:
    return communities["code"].astype("string").to_numpy(dtype=object)


def _names(communities: gpd.GeoDataFrame) -> NDArray[np.object_]:
    if "name" in communities.columns:
        return communities["name"].astype("string").to_numpy(dtype=object)
    return np.full(len(communities), None, dtype=object)


def _population(communities: gpd.GeoDataFrame, name: str) -> NDArray[np.float64]:
    pop = _float_column(communities, "population", name)
    if (pop < 0).any():
        raise ValueError(f"{name}: population must be >= 0; got {float(np.nanmin(pop))}")
    return pop


def _float_column(frame: pd.DataFrame, column: str, name: str) -> NDArray[np.float64]:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        return pd.to_numeric(frame[column]).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {column} must be numeric; got {frame[column].dtype}") from None


def _present(frame: pd.DataFrame, column: str) -> str | None:
    return column if column in frame.columns else None


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise ValueError(
            f"{column}: no such column; columns: {', '.join(map(str, frame.columns))}"
        )
    values = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, format="ISO8601")
        except (TypeError, ValueError):
            raise ValueError(f"{column} must hold dates; got {values.dtype}") from None
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    return values


def _check_positive(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number; got {value!r}")


def _check_frame(
    frame: object, name: str, geometry_types: tuple[str, ...], columns: Iterable[str]
) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{name} must be a GeoDataFrame; got {type(frame).__name__}")
    if frame.crs is None:
        raise ValueError(f"{name} has no CRS; set one (EPSG:4326 for pingan's layers)")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} lacks column(s) {', '.join(missing)}; columns: "
            f"{', '.join(map(str, frame.columns))}"
        )
    _check_geometry_types(_geoms(frame), name, geometry_types)


def _check_geometry_types(
    geoms: NDArray[np.object_], name: str, geometry_types: tuple[str, ...]
) -> None:
    # get_type_id is -1 for a missing geometry; bincount keeps this one pass over the array.
    counts = np.bincount(np.asarray(shapely.get_type_id(geoms), dtype=np.int64) + 1)
    types = {int(t) - 1 for t in np.flatnonzero(counts)} - {-1}
    allowed = {int(getattr(shapely.GeometryType, _TYPE_NAMES[t])) for t in geometry_types}
    wrong = types - allowed
    if wrong:
        got = ", ".join(sorted(shapely.GeometryType(t).name.title() for t in wrong))
        raise ValueError(f"{name} must hold {' or '.join(geometry_types)} geometries; got {got}")


_TYPE_NAMES = {"Point": "POINT", "Polygon": "POLYGON", "MultiPolygon": "MULTIPOLYGON"}


def _check_communities(communities: object) -> None:
    _check_frame(communities, "communities", _POLYGONAL, ("code",))
    assert isinstance(communities, gpd.GeoDataFrame)
    codes = communities["code"].astype("string")
    if codes.isna().any():
        raise ValueError("communities: every row needs a code; found missing codes")
    dup = codes[codes.duplicated()].unique()
    if len(dup):
        raise ValueError(f"communities: codes must be unique; repeated: {', '.join(dup[:5])}")
    geoms = _geoms(communities)
    if shapely.is_missing(geoms).any():
        raise ValueError("communities: every community needs a polygon; found missing ones")
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        raise ValueError(
            "communities: polygons must be valid (the readers repair them); invalid: "
            f"{', '.join(codes[invalid].head(5))}"
        )


def _check_same_crs(**frames: gpd.GeoDataFrame | gpd.GeoSeries | None) -> None:
    given = {k: f for k, f in frames.items() if f is not None}
    names = list(given)
    first = given[names[0]].crs
    for name in names[1:]:
        crs = given[name].crs
        if crs is None:
            raise ValueError(f"{name} has no CRS; set one (EPSG:4326 for pingan's layers)")
        if crs != first:
            raise ValueError(
                f"{names[0]} and {name} have different CRSs ({first.to_string()} vs "
                f"{crs.to_string()}); convert them to one CRS first"
            )

