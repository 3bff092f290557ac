"""Nearest facility: the nearest target of every point and its straight-line distance.

:func:`nearest_facility` answers for frames (incidents or residents against a type's
facilities); :func:`nearest` and :func:`nearest_xy` answer for coordinate arrays in a metric
CRS, for :mod:`geo.coverage` (distances of residents, workload catchments) and
:mod:`geo.siting`.

Why this is written here
------------------------
Nearest facilities are exact and single-threaded: with many points per facility (incidents or
residents against a type's facilities) a grid over the points lists, for each cell, the few
facilities that can be nearest to any point in it (a bound from the nearest facility of the
cell's centre), so most points need one distance and none a tree search: about twice as fast
as a k-d tree, on one core. With few points per facility a k-d tree answers (``pykdtree`` when
installed, else ``scipy.spatial.cKDTree``). Distances are ``sqrt(dx² + dy²)``, the formula GEOS
uses for point distances, so they equal ``geopandas.sjoin_nearest``'s bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo import arrays
from geo.checks import POINT, check_frame, check_geometry_types, check_same_crs
from geo.errors import ParameterError
from geo.projection import choose_metric_crs

try:
    # pykdtree answers exact nearest-neighbour queries on OpenMP threads, about 1.5 times as
    # fast as scipy's cKDTree here; scipy serves when it is not installed.
    from pykdtree.kdtree import KDTree as _PyKDTree

    _HAS_PYKDTREE = True
except ImportError:  # pragma: no cover - depends on the environment
    _HAS_PYKDTREE = False

__all__ = ["nearest", "nearest_facility", "nearest_xy"]

#: :func:`nearest` uses its grid from this many points per target on (below, a k-d tree).
_GRID_POINTS_PER_TARGET = 64
#: Grid cells per target in :func:`_nearest_grid`: finer cells list fewer candidates each.
_GRID_CELLS_PER_TARGET = 128
#: Points handled at a time by :func:`_nearest_grid` (its buffers stay in cache).
_GRID_BLOCK = 1 << 16


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
    geoms = arrays.geoms(points)
    x, y = arrays.point_coordinates(geoms)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        # Only missing, empty and non-point geometries have no coordinates to read.
        check_geometry_types(geoms, "points", POINT)
    if points.crs is None:
        raise ParameterError("points has no CRS; set one (EPSG:4326 for pingan's layers)")
    check_frame(facilities, "facilities", POINT, ("id",))
    check_same_crs(points=points, facilities=facilities)
    fac_geoms = arrays.geoms(facilities)
    usable = ~(shapely.is_missing(fac_geoms) | shapely.is_empty(fac_geoms))
    if not usable.any():
        raise ParameterError("facilities: no facility with a location; expected at least one point")
    crs = choose_metric_crs(points, facilities, metric_crs=metric_crs)
    fac_xy = arrays.xy(arrays.project(fac_geoms[usable], facilities.crs, crs))
    fac_ids = facilities["id"].astype("string").to_numpy(dtype=object)[usable]
    x, y = arrays.transform_xy(x, y, points.crs, crs)
    ok &= np.isfinite(x) & np.isfinite(y)
    position, unique_ids = pd.factorize(pd.Series(fac_ids, dtype="string"))
    if ok.all():
        distance, j = nearest_xy(x, y, fac_xy)
        codes = position[j]
    else:
        distance = np.full(len(x), np.nan)
        codes = np.full(len(x), -1, dtype=np.int64)
        d, j = nearest_xy(x[ok], y[ok], fac_xy)
        distance[ok] = d
        codes[ok] = position[j]
    # Categorical: a million ids are a million codes into the facilities' ids, not strings.
    ids = pd.Categorical.from_codes(codes, categories=pd.Index(unique_ids, dtype="string"))
    return pd.DataFrame({"distance_m": distance, "facility_id": ids}, index=points.index)


def nearest(
    xy: NDArray[np.float64], targets: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Return the nearest target of each point: distance ``sqrt(dx² + dy²)`` and position.

    Parameters
    ----------
    xy
        Points, ``(n, 2)`` finite coordinates in a metric CRS.
    targets
        Targets, ``(m, 2)`` coordinates in the same CRS (``m >= 1``).

    Returns
    -------
    distance : numpy.ndarray of float
        Distance to the nearest target, per point.
    position : numpy.ndarray of int64
        Its row in ``targets`` (equal distances: see :func:`nearest_xy`).
    """
    return nearest_xy(xy[:, 0], xy[:, 1], targets)


def nearest_xy(
    x: NDArray[np.float64], y: NDArray[np.float64], targets: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Return :func:`nearest` of points given as coordinate arrays (finite).

    Many points per target (a city's incidents or residents against its facilities) go
    through :func:`_nearest_grid`, where equal distances go to the target listed first;
    otherwise a k-d tree answers.

    Parameters
    ----------
    x, y
        Point coordinates in a metric CRS.
    targets
        Targets, ``(m, 2)`` coordinates in the same CRS (``m >= 1``).

    Returns
    -------
    distance : numpy.ndarray of float
    position : numpy.ndarray of int64
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
