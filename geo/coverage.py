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
``metric_crs`` keyword, by default :func:`geo.projection.metric_crs_for` of the data (the CGCS2000
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
The shares need "each community minus the union of the covers that touch it" (service circles
here, camera view sectors in :mod:`geo.protection`) for thousands of communities and up to a
million covers. geopandas' ``overlay`` + ``dissolve`` computes a polygon intersection for every
(cover, community) pair and then unions the pieces; GEOS has no faster route (a cascaded union
costs tens of microseconds per cover, then a difference per community). :func:`uncovered_parts`
hands each community and its covers to Clipper2 (through ``pyclipr``), whose sweep line
subtracts the union in one pass with the non-zero fill rule, on integer coordinates
(:data:`_CLIPPER_BITS`); the rings it returns are turned into shapely polygons here, a hole
going to the smallest shell of its community around it. The covers that may touch a
community are found without a polygon test each: their boxes meet, and their extents overlap
along eight directions (two convex hulls that meet do), a few comparisons per pair that keep
every cover touching the community and a few that only come close, which change nothing
(a GEOS intersection test per pair would cost about as much as the whole sweep). Without pyclipr
the same subtraction runs on GEOS (``shapely.disjoint_subset_union_all``, then one difference
per community, as vectorised calls on a thread pool); the results agree to about 1e-12 of an
area (Clipper2's grid is under a nanometre for a city).

Nearest facilities are exact and single-threaded: with many points per facility (incidents or
residents against a type's facilities) a grid over the points lists, for each cell, the few
facilities that can be nearest to any point in it (a bound from the nearest facility of the
cell's centre), so most points need one distance and none a tree search: about twice as fast
as a k-d tree, on one core. With few points per facility a k-d tree answers (``pykdtree`` when
installed, else ``scipy.spatial.cKDTree``). Distances are ``sqrt(dx² + dy²)``, the formula GEOS
uses for point distances, so they equal ``geopandas.sjoin_nearest``'s bit for bit.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable
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
from geo.projection import metric_crs_for

try:
    # pykdtree answers exact nearest-neighbour queries on OpenMP threads, about 1.5 times as
    # fast as scipy's cKDTree here; scipy serves when it is not installed.
    from pykdtree.kdtree import KDTree as _PyKDTree

    _HAS_PYKDTREE = True
except ImportError:  # pragma: no cover - depends on the environment
    _HAS_PYKDTREE = False
try:
    # Clipper2 subtracts the union of many covers from an area in one sweep, several times
    # faster than GEOS's cascaded union followed by a difference; GEOS serves without it.
    import pyclipr as _pyclipr

    _HAS_CLIPPER = True
except ImportError:  # pragma: no cover - depends on the environment
    _HAS_CLIPPER = False
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
#: :func:`_nearest` uses its grid from this many points per target on (below, a k-d tree).
_GRID_POINTS_PER_TARGET = 64
#: Grid cells per target in :func:`_nearest_grid`: finer cells list fewer candidates each.
_GRID_CELLS_PER_TARGET = 128
#: Points handled at a time by :func:`_nearest_grid` (its buffers stay in cache).
_GRID_BLOCK = 1 << 16
#: Most covers in one chunk of :func:`_subtract_geos` (bounds the padded arrays' memory).
_CHUNK_COVERS = 200_000
#: Vertices (or pairs) per block of the vectorised ring arithmetic (keeps temporaries small).
_BLOCK_VERTICES = 1 << 16
#: Directions on which :func:`_dop_pairs` compares extents (every 22.5 degrees).
_DOP_AXES = 8
#: Slack of those comparisons, metres: far above the rounding of the projections.
_DOP_SLACK = 1e-6
#: Clipper2 works on integers: coordinates are scaled so that the data's extent spans at most
#: 2**46 units, which leaves Clipper2's 64-bit arithmetic (and the doubles it computes
#: intersections in) ample headroom while the grid stays far below a nanometre for a city.
_CLIPPER_BITS = 46
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
        :func:`geo.projection.metric_crs_for` of the WGS84 centres of their geometries.
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
        Threads for the GEOS work (shapely releases the GIL inside GEOS); ``None`` uses every
        CPU. Results do not depend on it. The Clipper2 sweep runs on the calling thread.

    Returns
    -------
    numpy.ndarray of object
        One polygon or multipolygon (possibly empty) per area, in the order of ``areas``; an
        area no cover touches is returned as it was given.

    Raises
    ------
    ValueError
        When ``workers`` is not a positive integer.

    Notes
    -----
    See the module docstring ("Why some of this is written here"). Clipper2 works on integers:
    coordinates are shifted to the middle of the data and scaled so that its extent spans
    about 2**46 units (a grid far finer than a nanometre for a city), so results agree with
    GEOS's floating-point overlay to about 1e-12 of an area.
    """
    n_workers = _workers(workers)
    area_arr = np.asarray(areas, dtype=object).ravel()
    cover_arr = _usable(np.asarray(covers, dtype=object).ravel())
    if not len(cover_arr) or not len(area_arr):
        return area_arr.copy()
    rings = _polygon_rings(cover_arr)
    area_rings = _polygon_rings(area_arr)
    pair_area, pair_cover = _cover_pairs(area_arr, area_rings, cover_arr, rings)
    cut = _subtract_covers(area_arr, area_rings, pair_area, pair_cover, rings=lambda: rings,
                           polygons=lambda: cover_arr, workers=n_workers)
    return cut.geometries()


@dataclass(frozen=True)
class _Rings:
    """Polygon rings as one block of coordinates.

    Ring ``k`` is ``xy[start[k]:start[k + 1]]``, without its closing vertex; ``owner[k]`` is
    the position of the geometry it belongs to (a geometry's rings need not be adjacent, but
    keep their order: its shell first) and ``shell[k]`` whether it is an exterior ring. Shells
    run counter-clockwise and holes clockwise, or all the other way round: either way a
    non-zero winding number means "inside".
    """

    xy: NDArray[np.float64]
    start: NDArray[np.int64]
    owner: NDArray[np.int64]
    shell: NDArray[np.bool_]

    def paths(self, origin: NDArray[np.float64]) -> list[NDArray[np.float64]]:
        """One array per ring, shifted by ``-origin`` (views into one shifted copy)."""
        shifted = self.xy - origin
        bounds = self.start.tolist()
        return [shifted[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class _Subtraction:
    """Areas minus their covers, as left by :func:`_subtract_clipper` or :func:`_subtract_geos`.

    Attributes
    ----------
    areas
        The areas, as given.
    left_m2
        Area left of each (the whole area where no cover touches it).
    touched
        Whether any cover touches each area.
    rings, ring_area
        Clipper2's path: the rings left (``owner`` is the area), with their signed areas
        (positive for exterior rings); ``None`` on the GEOS path.
    parts
        GEOS's path: the geometry left of each touched area; ``None`` on Clipper2's path.
    """

    areas: NDArray[np.object_]
    left_m2: NDArray[np.float64]
    touched: NDArray[np.bool_]
    rings: _Rings | None
    ring_area: NDArray[np.float64] | None
    parts: NDArray[np.object_] | None

    def geometries(
        self,
        transform: Any = None,
        untouched: NDArray[np.object_] | None = None,
    ) -> NDArray[np.object_]:
        """Return the geometry left of every area.

        Parameters
        ----------
        transform
            ``None``, or a function ``(x, y) -> (x, y)`` of coordinate arrays (a pyproj
            ``Transformer.transform``) the coordinates go through.
        untouched
            Geometries to return for the areas no cover touches (already transformed);
            default: the areas themselves, through ``transform``.
        """
        out = np.empty(len(self.areas), dtype=object)
        rest = ~self.touched
        if untouched is not None:
            out[rest] = untouched[rest]
        else:
            out[rest] = _transformed(self.areas[rest], transform)
        if self.parts is not None:
            out[self.touched] = _transformed(self.parts[self.touched], transform)
        elif self.rings is not None and self.ring_area is not None:
            xy = self.rings.xy
            if transform is not None:
                x, y = transform(xy[:, 0], xy[:, 1])
                xy = np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)])
            touched = np.flatnonzero(self.touched)
            out[touched] = _assemble(self.rings, self.ring_area, xy, len(self.areas))[touched]
        return out


def _subtract_covers(
    areas: NDArray[np.object_],
    area_rings: _Rings,
    pair_area: NDArray[np.int64],
    pair_cover: NDArray[np.int64],
    *,
    rings: Callable[[], _Rings],
    polygons: Callable[[], NDArray[np.object_]],
    workers: int,
) -> _Subtraction:
    """Each area minus the union of its covers: with Clipper2 when installed, else GEOS.

    ``area_rings`` are the areas' rings (:func:`_polygon_rings`). ``pair_area``,
    ``pair_cover`` list (area, cover) positions, sorted by area: every cover that meets an
    area must be listed with it (more do no harm). ``rings`` and ``polygons`` give the covers
    as :class:`_Rings` or as shapely polygons; only the one used is asked.
    """
    if not len(pair_area):
        return _Subtraction(areas=areas, left_m2=shapely.area(areas),
                            touched=np.zeros(len(areas), dtype=bool), rings=None,
                            ring_area=None, parts=None)
    if _HAS_CLIPPER:
        return _subtract_clipper(areas, area_rings, rings(), pair_area, pair_cover)
    return _subtract_geos(areas, polygons(), pair_area, pair_cover, workers)


def _usable(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    return geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]


def _transformed(geoms: NDArray[np.object_], transform: Any) -> NDArray[np.object_]:
    if transform is None or not len(geoms):
        return geoms
    return np.asarray(
        shapely.transform(geoms, lambda c: np.column_stack(transform(c[:, 0], c[:, 1]))),
        dtype=object)


def _cover_pairs(
    areas: NDArray[np.object_], area_rings: _Rings, covers: NDArray[np.object_], rings: _Rings
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(area, cover) positions of the covers that may meet each area, sorted by area.

    Candidates are the covers whose box meets the area's box (an STRtree query), kept when
    their extents overlap along every direction of :func:`_dop_pairs`.
    """
    found_area, found_cover = shapely.STRtree(covers).query(areas)
    return _dop_pairs(found_area.astype(np.int64), found_cover.astype(np.int64),
                      _polygon_dops(area_rings, len(areas)),
                      _polygon_dops(rings, len(covers)))


def _polygon_dops(rings: _Rings, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Extent of each geometry of ``rings`` along :data:`_DOP_AXES` directions.

    Returns ``(low, high)``, each ``(n, _DOP_AXES)``: the least and greatest projection of
    the geometry's vertices on the unit vectors at ``k·180/_DOP_AXES`` degrees (a polygon lies
    in the convex hull of its vertices, so these bound it). Empty geometries get
    ``(inf, -inf)``.
    """
    angle = np.arange(_DOP_AXES) * (np.pi / _DOP_AXES)
    ux, uy = np.cos(angle), np.sin(angle)
    low = np.full((n, _DOP_AXES), np.inf)
    high = np.full((n, _DOP_AXES), -np.inf)
    if not len(rings.xy):
        return low, high
    ring_low = np.empty((len(rings.owner), _DOP_AXES))
    ring_high = np.empty((len(rings.owner), _DOP_AXES))
    for lo, hi in _ring_blocks(rings.start):
        a, b = int(rings.start[lo]), int(rings.start[hi])
        first = rings.start[lo:hi] - a
        x, y = rings.xy[a:b, 0], rings.xy[a:b, 1]
        for k in range(_DOP_AXES):
            p = x * ux[k] + y * uy[k]
            ring_low[lo:hi, k] = np.minimum.reduceat(p, first)
            ring_high[lo:hi, k] = np.maximum.reduceat(p, first)
    if len(np.unique(rings.owner)) == len(rings.owner):
        low[rings.owner] = ring_low
        high[rings.owner] = ring_high
    else:
        np.minimum.at(low, rings.owner, ring_low)
        np.maximum.at(high, rings.owner, ring_high)
    return low, high


def _dop_pairs(
    pair_area: NDArray[np.int64],
    pair_cover: NDArray[np.int64],
    area_dops: tuple[NDArray[np.float64], NDArray[np.float64]],
    cover_dops: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The candidate pairs whose extents overlap along every direction, sorted by area.

    Two convex sets that meet overlap in their projections on every direction, so a pair
    kept out here cannot meet; a pair kept in may only come close, which costs the
    difference a few edges and changes nothing. The test is a few comparisons per pair, far
    cheaper than a polygon test. A millionth of a metre of slack absorbs the rounding of the
    projections.
    """
    order = np.argsort(pair_area, kind="stable")
    pair_area, pair_cover = pair_area[order], pair_cover[order]
    area_low, area_high = area_dops
    cover_low, cover_high = cover_dops
    keep = np.empty(len(pair_area), dtype=bool)
    for lo in range(0, len(pair_area), _BLOCK_VERTICES):
        a = pair_area[lo:lo + _BLOCK_VERTICES]
        c = pair_cover[lo:lo + _BLOCK_VERTICES]
        keep[lo:lo + _BLOCK_VERTICES] = (
            (cover_low[c] <= area_high[a] + _DOP_SLACK)
            & (cover_high[c] >= area_low[a] - _DOP_SLACK)).all(axis=1)
    return pair_area[keep], pair_cover[keep]


def _ring_blocks(start: NDArray[np.int64]) -> list[tuple[int, int]]:
    """Runs of whole rings of about ``_BLOCK_VERTICES`` vertices: ``(first, past-last)``."""
    n = len(start) - 1
    cuts = np.unique(np.searchsorted(start, np.arange(0, int(start[-1]), _BLOCK_VERTICES)))
    cuts = np.append(cuts[cuts < n], n)
    return list(itertools.pairwise(cuts.tolist()))


def _polygon_rings(geoms: NDArray[np.object_]) -> _Rings:
    """The rings of polygons and multipolygons, shells one way round and holes the other."""
    types = shapely.get_type_id(geoms)
    if (types == shapely.GeometryType.POLYGON).all() and not shapely.get_num_interior_rings(
            geoms).any():
        # Plain polygons (view sectors, circles): their coordinates are their shells'.
        counts = shapely.get_num_coordinates(geoms).astype(np.int64)
        xy = shapely.get_coordinates(geoms)
        owner = np.arange(len(geoms), dtype=np.int64)
        shell = np.ones(len(geoms), dtype=bool)
    else:
        parts, part_owner = shapely.get_parts(geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        counts = shapely.get_num_coordinates(rings).astype(np.int64)
        xy = shapely.get_coordinates(rings)
        owner = part_owner[ring_part].astype(np.int64)
        shell = np.ones(len(rings), dtype=bool)
        shell[1:] = ring_part[1:] != ring_part[:-1]
    keep = np.ones(len(xy), dtype=bool)
    keep[np.cumsum(counts) - 1] = False  # the closing vertex
    start = np.concatenate([[0], np.cumsum(counts - 1)]).astype(np.int64)
    return _oriented(_Rings(xy[keep], start, owner, shell))


def _oriented(rings: _Rings) -> _Rings:
    """Reverse the rings that run against the others: shells one way, holes the other.

    Shells keep the orientation most of them have (sectors, drawn clockwise, are left as
    they are), so usually nothing moves.
    """
    positive = _signed_areas(rings.xy, rings.start) > 0
    shells_positive = 2 * int(positive[rings.shell].sum()) >= int(rings.shell.sum())
    flip = positive != (rings.shell == shells_positive)
    if not flip.any():
        return rings
    ring = _ring_of_vertex(rings.start)
    pos = np.arange(len(rings.xy))
    source = np.where(flip[ring], rings.start[ring] + rings.start[ring + 1] - 1 - pos, pos)
    return _Rings(rings.xy[source], rings.start, rings.owner, rings.shell)


def _ring_of_vertex(start: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.repeat(np.arange(len(start) - 1, dtype=np.int64), np.diff(start))


def _signed_areas(xy: NDArray[np.float64], start: NDArray[np.int64]) -> NDArray[np.float64]:
    """Shoelace areas of closed rings (positive counter-clockwise), about each first vertex.

    Rings are taken in blocks of about ``_BLOCK_VERTICES`` vertices, so that the temporaries
    stay small and in cache.
    """
    n = len(start) - 1
    out = np.empty(max(n, 0))
    if n <= 0:
        return out
    for lo, hi in _ring_blocks(start):
        a, b = int(start[lo]), int(start[hi])
        local = start[lo:hi + 1] - a
        first = local[:-1]
        counts = np.diff(local)
        # About its first vertex a ring's closing term vanishes, so the products of
        # consecutive vertices along the block serve, once the terms that join rings are zeroed.
        x = xy[a:b, 0] - np.repeat(xy[a + first, 0], counts)
        y = xy[a:b, 1] - np.repeat(xy[a + first, 1], counts)
        cross = np.empty(b - a)
        np.subtract(x[:-1] * y[1:], x[1:] * y[:-1], out=cross[:-1])
        cross[local[1:] - 1] = 0.0
        out[lo:hi] = 0.5 * np.add.reduceat(cross, first)
    return out


def _ranges(first: NDArray[np.int64], count: NDArray[np.int64]) -> NDArray[np.int64]:
    """``first[i], first[i] + 1, ..., first[i] + count[i] - 1`` for every ``i``, joined."""
    ends = np.cumsum(count)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(
        first - (ends - count), count)


def _subtract_clipper(
    areas: NDArray[np.object_],
    subjects: _Rings,
    covers: _Rings,
    pair_area: NDArray[np.int64],
    pair_cover: NDArray[np.int64],
) -> _Subtraction:
    """Each area minus its covers' union, one Clipper2 difference per touched area.

    ``subjects`` are the areas' rings and ``covers`` the covers'. The union and the difference
    are one sweep (non-zero fill: a point is covered when any cover winds around it), so no
    intermediate union is ever built.
    """
    n = len(areas)
    box = shapely.bounds(areas)
    low = np.array([min(np.nanmin(box[:, 0]), covers.xy[:, 0].min()),
                    min(np.nanmin(box[:, 1]), covers.xy[:, 1].min())])
    high = np.array([max(np.nanmax(box[:, 2]), covers.xy[:, 0].max()),
                     max(np.nanmax(box[:, 3]), covers.xy[:, 1].max())])
    # An integer origin keeps the shift exact; a power-of-two scale keeps the conversion exact.
    origin = np.round((low + high) / 2.0)
    reach = float(max(np.abs(np.concatenate([low - origin, high - origin])).max(), 1.0))
    scale = 2.0 ** math.floor(_CLIPPER_BITS - math.log2(reach))
    subject_paths = subjects.paths(origin)
    subject_first = np.searchsorted(subjects.owner, np.arange(n + 1))
    # The covers' rings in the order of the pairs, as views into one shifted copy.
    by_cover = np.argsort(covers.owner, kind="stable")
    cover_first = np.searchsorted(covers.owner[by_cover], np.arange(int(covers.owner.max()) + 2))
    cover_count = np.diff(cover_first)[pair_cover]
    ring_ids = by_cover[_ranges(cover_first[pair_cover], cover_count)]
    shifted = covers.xy - origin
    clip_paths = [shifted[a:b] for a, b in zip(covers.start[ring_ids].tolist(),
                                               covers.start[ring_ids + 1].tolist(), strict=True)]
    touched, pair_start = np.unique(pair_area, return_index=True)
    ring_start = np.concatenate([[0], np.cumsum(cover_count)])[
        np.append(pair_start, len(pair_area))].tolist()

    clipper = _pyclipr.Clipper()
    clipper.scaleFactor = scale
    paths: list[NDArray[np.float64]] = []
    found_per_area: list[int] = []
    subject, clip = _pyclipr.Subject, _pyclipr.Clip
    difference, nonzero = _pyclipr.Difference, _pyclipr.FillRule.NonZero
    first_subject = subject_first.tolist()
    for k, a in enumerate(touched.tolist()):
        clipper.clear()
        clipper.addPaths(subject_paths[first_subject[a]:first_subject[a + 1]], subject)
        clipper.addPaths(clip_paths[ring_start[k]:ring_start[k + 1]], clip)
        found = clipper.execute(difference, nonzero)
        paths.extend(found)
        found_per_area.append(len(found))
    per_area = np.asarray(found_per_area, dtype=np.int64)

    counts = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
    xy = np.concatenate(paths) if paths else np.empty((0, 2))
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ring_area = _signed_areas(xy, start)
    owner = np.repeat(touched.astype(np.int64), per_area)
    left = shapely.area(areas)
    left[touched] = 0.0
    left += np.bincount(owner, weights=ring_area, minlength=n)
    is_touched = np.zeros(n, dtype=bool)
    is_touched[touched] = True
    return _Subtraction(areas=areas, left_m2=left, touched=is_touched,
                        rings=_Rings(xy + origin, start, owner, ring_area > 0),
                        ring_area=ring_area, parts=None)


def _ring_bounds(rings: _Rings) -> NDArray[np.float64]:
    if not len(rings.xy):
        return np.empty((0, 4))
    first = rings.start[:-1]
    return np.column_stack([np.minimum.reduceat(rings.xy[:, 0], first),
                            np.minimum.reduceat(rings.xy[:, 1], first),
                            np.maximum.reduceat(rings.xy[:, 0], first),
                            np.maximum.reduceat(rings.xy[:, 1], first)])


def _assemble(
    rings: _Rings, ring_area: NDArray[np.float64], xy: NDArray[np.float64], n: int
) -> NDArray[np.object_]:
    """Polygons from Clipper2's rings: one (multi)polygon per area, empty where none is left.

    ``xy`` holds the rings' coordinates to build with (``rings.xy`` or a projection of it).
    Clipper2 returns exterior rings with a positive area and holes with a negative one; a
    hole belongs to the smallest exterior ring of its area around it.
    """
    out = np.full(n, shapely.Polygon(), dtype=object)
    if not len(ring_area):
        return out
    owner = rings.owner
    shells = np.flatnonzero(rings.shell)
    holes = np.flatnonzero(~rings.shell)
    n_shells = np.bincount(owner[shells], minlength=n)
    polygon = np.full(len(ring_area), -1, dtype=np.int64)
    polygon[shells] = np.arange(len(shells))
    only = np.full(n, -1, dtype=np.int64)
    only[owner[shells]] = polygon[shells]
    alone = n_shells[owner[holes]] == 1
    polygon[holes[alone]] = only[owner[holes[alone]]]
    hard = holes[~alone]
    if len(hard):
        polygon[hard] = _enclosing_shells(rings, ring_area, hard,
                                          shells[n_shells[owner[shells]] > 1])
    # Rings are built in Clipper2's order and then put in polygon order: shell, its holes.
    ring_geoms = np.asarray(shapely.linearrings(xy, indices=_ring_of_vertex(rings.start)),
                            dtype=object)
    order = np.lexsort((~rings.shell, polygon))
    order = order[polygon[order] >= 0]
    polygons = np.asarray(shapely.polygons(ring_geoms[order], indices=polygon[order]),
                          dtype=object)
    polygon_owner = owner[shells]
    single = n_shells[polygon_owner] == 1
    out[polygon_owner[single]] = polygons[single]
    if not single.all():
        several = np.flatnonzero(~single)
        areas, dense = np.unique(polygon_owner[several], return_inverse=True)
        out[areas] = shapely.multipolygons(polygons[several], indices=dense)
    return out


def _enclosing_shells(
    rings: _Rings,
    ring_area: NDArray[np.float64],
    holes: NDArray[np.int64],
    shells: NDArray[np.int64],
) -> NDArray[np.int64]:
    """The polygon (position among the shells of ``rings``) each hole belongs to.

    A hole belongs to the smallest shell of its area around it (an island in a hole lies
    inside the outer shell too). The middle of a hole's first edge serves as its probe: it
    lies inside its shell and off every other ring, since Clipper2's rings meet at most at
    vertices. Shells whose box holds the probe are the candidates; only a hole with more
    than one candidate is decided by point-in-polygon tests.
    """
    polygon_of = np.cumsum(rings.shell) - 1
    first = rings.start[holes]
    probe = (rings.xy[first] + rings.xy[first + 1]) / 2.0
    box = _ring_bounds(rings)[shells]
    boxes = np.asarray(shapely.box(box[:, 0], box[:, 1], box[:, 2], box[:, 3]), dtype=object)
    hole_at, shell_at = shapely.STRtree(boxes).query(shapely.points(probe))
    owner = rings.owner
    hole_at, shell_at = _same(hole_at, shell_at, owner[holes], owner[shells])
    count = np.bincount(hole_at, minlength=len(holes))
    several = count[hole_at] > 1
    if several.any():
        h, s = hole_at[several], shell_at[several]
        tested, tested_at = np.unique(s, return_inverse=True)
        length = np.diff(rings.start)[shells[tested]]
        outlines = np.asarray(shapely.polygons(shapely.linearrings(
            rings.xy[_ranges(rings.start[shells[tested]], length)],
            indices=np.repeat(np.arange(len(tested)), length))), dtype=object)
        inside = shapely.contains_xy(outlines[tested_at], probe[h, 0], probe[h, 1])
        keep = ~several
        keep[np.flatnonzero(several)[inside]] = True
        hole_at, shell_at = hole_at[keep], shell_at[keep]
    order = np.lexsort((ring_area[shells[shell_at]], hole_at))
    hole_at, shell_at = hole_at[order], shell_at[order]
    smallest = np.unique(hole_at, return_index=True)[1]
    out = np.full(len(holes), -1, dtype=np.int64)
    out[hole_at[smallest]] = polygon_of[shells[shell_at[smallest]]]
    lost = out < 0
    if lost.any():  # pragma: no cover - only if a probe fell on a ring through rounding
        largest = np.full(int(owner.max()) + 1, -1, dtype=np.int64)
        by_area = shells[np.argsort(ring_area[shells], kind="stable")]
        largest[owner[by_area]] = polygon_of[by_area]
        out[lost] = largest[owner[holes[lost]]]
    return out


def _same(
    a: NDArray[np.int64], b: NDArray[np.int64], owner_a: NDArray[np.int64],
    owner_b: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The pairs ``(a, b)`` whose members have the same owner."""
    same = owner_a[a] == owner_b[b]
    return a[same].astype(np.int64), b[same].astype(np.int64)


def _subtract_geos(
    areas: NDArray[np.object_],
    covers: NDArray[np.object_],
    pair_area: NDArray[np.int64],
    pair_cover: NDArray[np.int64],
    workers: int,
) -> _Subtraction:
    """Each area minus its covers' union with GEOS (used when pyclipr is not installed).

    Each group of covers is unioned with ``shapely.disjoint_subset_union_all`` (which unions
    each cluster of overlapping covers on its own) and subtracted from its area; groups of
    similar size are stacked into padded 2-D arrays so that both run as vectorised GEOS
    calls, chunk by chunk on a thread pool.
    """
    touched, first = np.unique(pair_area, return_index=True)
    sizes = np.diff(np.append(first, len(pair_area)))

    def subtract(rows: NDArray[np.int64]) -> NDArray[np.object_]:
        width = int(sizes[rows].max())
        column = np.arange(width)
        filled = column[None, :] < sizes[rows][:, None]
        padded = np.full((len(rows), width), None, dtype=object)
        padded[filled] = covers[pair_cover[(first[rows][:, None] + column[None, :])[filled]]]
        unions = shapely.disjoint_subset_union_all(padded, axis=1)
        return np.asarray(shapely.difference(areas[touched[rows]], unions), dtype=object)

    chunks = _size_chunks(sizes, workers)
    if workers == 1 or len(chunks) == 1:
        results = [subtract(rows) for rows in chunks]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(subtract, chunks))
    parts = np.full(len(areas), None, dtype=object)
    for rows, result in zip(chunks, results, strict=True):
        parts[touched[rows]] = result
    is_touched = np.zeros(len(areas), dtype=bool)
    is_touched[touched] = True
    left = shapely.area(areas)
    left[is_touched] = shapely.area(parts[is_touched])
    return _Subtraction(areas=areas, left_m2=left, touched=is_touched, rings=None,
                        ring_area=None, parts=parts)


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
    area_share = np.where(comm_area > 0, np.clip(
        1.0 - gap_area / np.where(comm_area > 0, comm_area, 1), 0.0, 1.0), np.nan)

    parts = placement.parts
    part_geoms = _geoms(parts)
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
    index = pd.Index(codes, name="code", dtype="string")
    part_code = parts["code"].to_numpy(dtype=object)
    uncovered = pd.Series(part_pop * uncovered_share).groupby(part_code).sum()
    uncovered = uncovered.reindex(index, fill_value=0.0)
    placed = placement.population.reindex(index)
    uncovered = uncovered.where(placed.notna()).clip(lower=0.0, upper=placed)

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
    geoms = _geoms(points)
    x, y = _point_coordinates(geoms)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        # Only missing, empty and non-point geometries have no coordinates to read.
        _check_geometry_types(geoms, "points", _POINT)
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
    x, y = _transform_xy(x, y, points.crs, crs)
    ok &= np.isfinite(x) & np.isfinite(y)
    position, unique_ids = pd.factorize(pd.Series(fac_ids, dtype="string"))
    if ok.all():
        distance, j = _nearest_xy(x, y, fac_xy)
        codes = position[j]
    else:
        distance = np.full(len(x), np.nan)
        codes = np.full(len(x), -1, dtype=np.int64)
        d, j = _nearest_xy(x[ok], y[ok], fac_xy)
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
    return _nearest_xy(xy[:, 0], xy[:, 1], targets)


def _nearest_xy(
    x: NDArray[np.float64], y: NDArray[np.float64], targets: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """:func:`_nearest` of points given as coordinate arrays (finite).

    Many points per target (a city's incidents or residents against its facilities) go
    through :func:`_nearest_grid`, where equal distances go to the target listed first;
    otherwise a k-d tree answers.
    """
    if not len(x):
        return np.empty(0), np.empty(0, dtype=np.int64)
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if len(x) >= _GRID_POINTS_PER_TARGET * len(targets):
        return _nearest_grid(x, y, np.asarray(targets, dtype=np.float64))
    xy = np.column_stack([x, y])
    if _HAS_PYKDTREE:
        _, found = _PyKDTree(np.ascontiguousarray(targets)).query(xy, k=1)
    else:
        _, found = cKDTree(targets).query(xy, k=1, workers=-1)
    j = np.asarray(found, dtype=np.int64)
    dx = x - targets[j, 0]
    dy = y - targets[j, 1]
    return np.sqrt(dx * dx + dy * dy), j


def _nearest_grid(
    x: NDArray[np.float64], y: NDArray[np.float64], targets: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Exact nearest targets through a grid of candidate lists.

    A square grid of side ``s`` covers the points. For a cell with centre ``c``, let ``d`` be
    the distance from ``c`` to its nearest target: every point of the cell lies within
    ``h = s / sqrt(2)`` of ``c``, so its nearest target is within ``d + h`` of it, and a
    target farther than ``d + 2h`` from ``c`` is farther than that from every point of the
    cell. The targets within ``d + 2h`` of the centre, in the order the targets are listed,
    are the cell's candidates: one for most cells, which are a small fraction of the spacing
    of the targets. A point in such a cell needs one distance, computed block by block in
    reused buffers; the others, grouped by their number of candidates, measure each and keep
    the first nearest.
    """
    n_targets = len(targets)
    x0, y0 = float(x.min()), float(y.min())
    width, height = float(x.max()) - x0, float(y.max()) - y0
    n_cells = min(max(_GRID_CELLS_PER_TARGET * n_targets, 64), max(len(x) // 16, 1))
    side = max(math.sqrt(width * height / n_cells), max(width, height) / n_cells, 1e-9)
    nx, ny = int(width // side) + 1, int(height // side) + 1
    centres = np.column_stack([np.tile(x0 + (np.arange(nx) + 0.5) * side, ny),
                               np.repeat(y0 + (np.arange(ny) + 0.5) * side, nx)])
    tree = cKDTree(targets)
    k = min(8, n_targets)
    while True:
        dist, idx = tree.query(centres, k=k)
        dist, idx = dist.reshape(len(centres), k), idx.reshape(len(centres), k)
        # The slack only ever adds candidates: it absorbs rounding in the distances and in
        # the cell a point on a cell border is put in.
        reach = (dist[:, 0] + side * math.sqrt(2.0)) * (1.0 + 1e-9)
        listed = dist <= reach[:, None]
        if k == n_targets or not listed[:, -1].any():
            break
        k = min(2 * k, n_targets)
    count = listed.sum(axis=1)
    table = np.where(listed, idx, n_targets)
    table.sort(axis=1)  # by position: the first of equally near candidates wins
    # A cell's only candidate, or -1 - cell for a cell with several.
    only = np.where(count == 1, table[:, 0], -1 - np.arange(len(count)))
    tx = np.ascontiguousarray(targets[:, 0])
    ty = np.ascontiguousarray(targets[:, 1])
    inv = 1.0 / side
    distance = np.empty(len(x))
    found = np.empty(len(x), dtype=np.int64)
    fx, fy = np.empty(_GRID_BLOCK), np.empty(_GRID_BLOCK)
    ix, iy = np.empty(_GRID_BLOCK, dtype=np.int64), np.empty(_GRID_BLOCK, dtype=np.int64)
    for lo in range(0, len(x), _GRID_BLOCK):
        hi = min(lo + _GRID_BLOCK, len(x))
        bx, by = x[lo:hi], y[lo:hi]
        a, b, i, j = fx[:hi - lo], fy[:hi - lo], ix[:hi - lo], iy[:hi - lo]
        np.subtract(bx, x0, out=a)
        a *= inv
        np.subtract(by, y0, out=b)
        b *= inv
        i[:] = a
        j[:] = b
        np.clip(i, 0, nx - 1, out=i)
        np.clip(j, 0, ny - 1, out=j)
        j *= nx
        j += i
        first = only[j]
        target = np.maximum(first, 0)
        np.subtract(bx, tx[target], out=a)
        a *= a
        np.subtract(by, ty[target], out=b)
        b *= b
        a += b
        np.sqrt(a, out=distance[lo:hi])
        found[lo:hi] = first
    several = np.flatnonzero(found < 0)
    if len(several):
        cell = -1 - found[several]
        n_candidates = count[cell]
        for n in np.flatnonzero(np.bincount(n_candidates)).tolist():
            group = np.flatnonzero(n_candidates == n)
            points = several[group]
            rows = cell[group]
            px, py = x[points], y[points]
            best_at = table[rows, 0]
            dx = px - tx[best_at]
            dy = py - ty[best_at]
            best = np.sqrt(dx * dx + dy * dy)
            for c in range(1, n):
                at = table[rows, c]
                dx = px - tx[at]
                dy = py - ty[at]
                d = np.sqrt(dx * dx + dy * dy)
                nearer = d < best
                best = np.where(nearer, d, best)
                best_at = np.where(nearer, at, best_at)
            distance[points] = best
            found[points] = best_at
    return distance, found


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
    x, y = _point_coordinates(geoms)
    return np.column_stack(_transform_xy(x, y, source, target))


def _point_coordinates(
    geoms: NDArray[np.object_],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Coordinates of point geometries: NaN for missing and empty ones (and other types)."""
    try:
        # Missing points come out as NaN; an empty one makes GEOS refuse the whole call.
        return shapely.get_x(geoms), shapely.get_y(geoms)
    except shapely.errors.GEOSException:
        geoms = geoms.copy()
        geoms[shapely.is_empty(geoms)] = None
        return shapely.get_x(geoms), shapely.get_y(geoms)


def _transform_xy(
    x: NDArray[np.float64], y: NDArray[np.float64], source: Any, target: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if pyproj.CRS.from_user_input(source) != pyproj.CRS.from_user_input(target):
        transformer = pyproj.Transformer.from_crs(source, target, always_xy=True)
        x, y = transformer.transform(x, y)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


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

