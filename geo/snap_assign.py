"""Assigning points to communities with a snapping tolerance for points just outside them all.

City portals often snap incident points to street centre lines. Where a street runs along the
city's outer boundary (a lake shore, a river, the city limit), its points fall exactly on that
boundary or, after a change of coordinates, a few centimetres outside it, and end up in no
community. :func:`assign_with_snap` is the point-in-polygon rule of :mod:`geo.assign` plus an
opt-in tolerance for them:

1. a point that a community intersects (interior or boundary) belongs to it, as always
   (``assigned_by = "point"``);
2. a point in no community goes to the community within ``snap_m`` ground metres of it when
   there is exactly one (``assigned_by = "snap"``);
3. a point within ``snap_m`` of two or more communities stays in no community and is counted as
   ambiguous: which side of a border it belongs to is not for a tolerance to decide.

The geometry is never changed: only the assignment. Distances are measured in the metric CRS
of :func:`geo.projection.metric_crs_of` for the communities (the CGCS2000 Gauss-Krüger or UTM
zone of the data, whose scale is within 0.1 % of the ground's across a city), whatever CRS the
data are stored in; a tolerance is a ground distance, so it is not measured in a configured
grid CRS (which may be any projected CRS, such as Web Mercator, 35 % long at 42° N). The
communities' edges, straight in the stored coordinates, are densified before they are
projected, so that they keep their place to a fraction of a millimetre. The candidates are found
with a ``dwithin`` query of a :class:`shapely.STRtree` over the projected communities near the
points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import ArrayLike

from geo.assign import assign_to_communities
from geo.errors import ParameterError
from geo.projection import metric_crs_of

__all__ = ["BY_POINT", "BY_SNAP", "SnappedAssignment", "assign_with_snap"]

#: ``assigned_by`` of a point inside (or on the boundary of) its community.
BY_POINT = "point"
#: ``assigned_by`` of a point in no community, given to the only community within the tolerance.
BY_SNAP = "snap"

# The candidate search box around a point is this many tolerances wide on each side, in the
# metric CRS, before it is taken back to the communities' CRS through eight points of its
# outline: twice the tolerance covers the curvature of the box's edges at any city's scale.
_SEARCH_FACTOR = 2.0
#: Community edges are cut into pieces no longer than this (in degrees, or in the units of a
#: projected CRS) before projecting: an edge straight in degrees is curved in the metric CRS.
#: Along the parallel 41.6 N in UTM 16N, an edge projected from its ends alone strays 11 cm from
#: its place over 2.5 km and 1.7 m over 10 km; pieces of 0.001 degree stray less than 0.2 mm.
_DENSIFY_DEG = 1e-3
_DENSIFY_UNITS = 100.0
_OUTLINE = np.array([(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)],
                    dtype=np.float64)


@dataclass(frozen=True)
class SnappedAssignment:
    """The community of each point, and how it was found.

    Attributes
    ----------
    community_code
        Community code per point (string dtype, the points' index); ``<NA>`` in no community.
    assigned_by
        ``"point"`` (a community intersects the point), ``"snap"`` (the only community within
        the tolerance), or ``<NA>`` (no community).
    ambiguous
        Points in no community within the tolerance of two or more communities (left
        unassigned).
    metric_crs
        The CRS distances were measured in; ``None`` when no point needed snapping.
    """

    community_code: pd.Series
    assigned_by: pd.Series
    ambiguous: pd.Series
    metric_crs: pyproj.CRS | None = None

    @property
    def n_snapped(self) -> int:
        """Points assigned by the tolerance."""
        return int((self.assigned_by == BY_SNAP).sum())

    @property
    def n_ambiguous(self) -> int:
        """Points within the tolerance of two or more communities, left unassigned."""
        return int(self.ambiguous.sum())


def assign_with_snap(
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    snap_m: float | ArrayLike = 0.0,
    code_field: str = "code",
    metric_crs: Any = None,
) -> SnappedAssignment:
    """Assign points to communities, snapping those in none to the only one within ``snap_m``.

    Parameters
    ----------
    points
        Point geometries (a GeoSeries, or a GeoDataFrame's active geometry); missing or
        empty ones get no community.
    communities
        Community polygons with a unique ``code_field``, in the CRS of ``points``.
    snap_m
        Tolerance in ground metres, one for all points or one per point; 0 (the default)
        snaps nothing.
    code_field
        Column of ``communities`` holding the code.
    metric_crs
        The CRS to measure distances in; default the metric zone of the communities
        (:func:`geo.projection.metric_crs_of`).

    Returns
    -------
    SnappedAssignment

    Raises
    ------
    geo.errors.ParameterError
        If ``snap_m`` is negative or not finite, or has the wrong length.
    TypeError, ValueError
        As :func:`geo.assign.assign_to_communities`.
    """
    tolerance = _tolerances(snap_m, len(points))
    codes = assign_to_communities(points, communities, code_field=code_field)
    by = pd.Series(pd.NA, index=points.index, dtype="string")
    by[codes.notna().to_numpy()] = BY_POINT
    ambiguous = pd.Series(False, index=points.index)
    geoms = np.asarray(points.geometry.array if isinstance(points, gpd.GeoDataFrame)
                       else points.array, dtype=object)
    todo = np.flatnonzero(codes.isna().to_numpy() & (tolerance > 0)
                          & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    if not todo.size or not len(communities):
        return SnappedAssignment(codes, by, ambiguous)
    crs = metric_crs_of(communities, metric_crs=metric_crs)
    hits, tree_codes = _communities_within(geoms[todo], tolerance[todo], communities,
                                           code_field, crs)
    n_hits = np.bincount(hits[0], minlength=todo.size)
    one = n_hits == 1
    first = np.full(todo.size, -1)
    first[hits[0]] = hits[1]  # the community of each point with exactly one
    snapped = todo[one]
    codes.iloc[snapped] = tree_codes[first[one]]
    by.iloc[snapped] = BY_SNAP
    ambiguous.iloc[todo[n_hits > 1]] = True
    return SnappedAssignment(codes, by, ambiguous, crs)


def _tolerances(snap_m: float | ArrayLike, n: int) -> np.ndarray:
    values = np.asarray(snap_m, dtype=np.float64)
    if values.ndim > 1 or (values.ndim == 1 and values.size != n):
        raise ParameterError(f"snap_m must be one number or one per point ({n}); got shape "
                             f"{values.shape}", parameter="snap_m")
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        raise ParameterError(f"snap_m must be a distance in metres >= 0; got "
                             f"{float(np.atleast_1d(values)[np.atleast_1d(bad)][0])!r}",
                             parameter="snap_m")
    return np.broadcast_to(values, (n,))


def _communities_within(points: np.ndarray, tolerance: np.ndarray,
                        communities: gpd.GeoDataFrame, code_field: str, crs: pyproj.CRS
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (point, community) within the tolerance, and the codes of those communities.

    Only the communities near some point are projected (densified first): a box of twice the
    tolerance around each projected point, taken back to the communities' CRS, selects them.
    """
    source = communities.crs
    to_metric = pyproj.Transformer.from_crs(source, crs, always_xy=True)
    to_source = pyproj.Transformer.from_crs(crs, source, always_xy=True)
    mx, my = to_metric.transform(shapely.get_x(points), shapely.get_y(points))
    reach = _SEARCH_FACTOR * tolerance[:, None]
    ox, oy = to_source.transform(np.asarray(mx)[:, None] + reach * _OUTLINE[:, 0],
                                 np.asarray(my)[:, None] + reach * _OUTLINE[:, 1])
    boxes = shapely.box(ox.min(axis=1), oy.min(axis=1), ox.max(axis=1), oy.max(axis=1))
    all_geoms = np.asarray(communities.geometry.array, dtype=object)
    near = np.unique(shapely.STRtree(all_geoms).query(boxes)[1])
    piece = _DENSIFY_DEG if pyproj.CRS(source).is_geographic else _DENSIFY_UNITS
    dense = shapely.segmentize(all_geoms[near], piece)
    projected = gpd.GeoSeries(dense, crs=source).to_crs(crs)
    tree = shapely.STRtree(np.asarray(projected.array, dtype=object))
    hits = tree.query(shapely.points(mx, my), predicate="dwithin", distance=tolerance)
    codes = communities[code_field].astype("string").to_numpy(dtype=object)[near]
    return hits, codes
