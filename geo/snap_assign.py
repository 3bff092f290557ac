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
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import ArrayLike

from geo.assign import PolygonIndex, assign_to_communities
from geo.errors import ParameterError
from geo.projection import metric_crs_of

__all__ = ["BY_POINT", "BY_SNAP", "CommunityAssigner", "SnappedAssignment", "XYAssignment",
           "assign_with_snap"]

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
    hits, tree_codes = _communities_within(shapely.get_x(geoms[todo]),
                                           shapely.get_y(geoms[todo]), tolerance[todo],
                                           communities, code_field, crs)
    one, snap_codes, many = _snap(hits, tree_codes, todo.size)
    codes.iloc[todo[one]] = snap_codes
    by.iloc[todo[one]] = BY_SNAP
    ambiguous.iloc[todo[many]] = True
    return SnappedAssignment(codes, by, ambiguous, crs)


@dataclass(frozen=True)
class XYAssignment:
    """Community and method per point given as coordinates (:meth:`CommunityAssigner.assign_xy`).

    Attributes
    ----------
    codes
        Object array: the community code, or ``None`` in no community.
    assigned_by
        Object array: ``"point"``, ``"snap"`` or ``None``.
    ambiguous
        Boolean array: in no community, within the tolerance of two or more.
    """

    codes: np.ndarray
    assigned_by: np.ndarray
    ambiguous: np.ndarray


@dataclass(frozen=True)
class CommunityAssigner:
    """The rule of :func:`assign_with_snap` with the communities indexed once, for coordinates.

    A re-assignment of millions of stored incidents assigns them batch by batch; building the
    point-in-polygon index (:class:`geo.assign.PolygonIndex`) once for all batches and taking
    plain coordinate arrays (no point geometries) is what makes it fast. Results equal
    :func:`assign_with_snap` point for point.

    Build it with :meth:`build`.
    """

    communities: gpd.GeoDataFrame
    code_field: str
    index: PolygonIndex
    sorted_codes: np.ndarray  # code of each index position (the communities in code order)
    metric_crs: Any = None

    @classmethod
    def build(cls, communities: gpd.GeoDataFrame, *, code_field: str = "code",
              metric_crs: Any = None) -> CommunityAssigner:
        """Index ``communities`` (unique, non-missing ``code_field``; a CRS).

        Raises
        ------
        ValueError, TypeError
            As :func:`geo.assign.assign_to_communities` for the communities.
        """
        # the checks of assign_to_communities, on no points
        assign_to_communities(gpd.GeoSeries([], crs=communities.crs), communities,
                              code_field=code_field)
        codes = communities[code_field]
        order = np.argsort(codes.to_numpy(), kind="stable")
        polygons = np.asarray(communities.geometry.array, dtype=object)[order]
        return cls(communities, code_field, PolygonIndex.build(polygons),
                   codes.astype("string").to_numpy(dtype=object)[order], metric_crs)

    @cached_property
    def communities_codes(self) -> np.ndarray:
        """The code of each community, in the order of :attr:`communities`."""
        return self.communities[self.code_field].astype("string").to_numpy(dtype=object)

    @cached_property
    def _metric_tree(self) -> tuple[pyproj.Transformer, shapely.STRtree]:
        """To the metric CRS, and every community densified and projected there (built once)."""
        crs = metric_crs_of(self.communities, metric_crs=self.metric_crs)
        geoms = np.asarray(self.communities.geometry.array, dtype=object)
        return (pyproj.Transformer.from_crs(self.communities.crs, crs, always_xy=True),
                _projected_tree(geoms, self.communities.crs, crs))

    def assign_xy(self, x: ArrayLike, y: ArrayLike, snap_m: float | ArrayLike = 0.0
                  ) -> XYAssignment:
        """Assign points given by coordinates (NaN: no point) in the communities' CRS.

        Parameters
        ----------
        x, y
            Coordinates, same length.
        snap_m
            Tolerance in ground metres, one for all points or one per point.

        Returns
        -------
        XYAssignment

        Raises
        ------
        geo.errors.ParameterError
            If ``snap_m`` is negative or not finite, or has the wrong length.
        """
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        tolerance = _tolerances(snap_m, xa.size)
        position = self.index.assign(xa, ya)
        codes = np.full(xa.size, None, dtype=object)
        by = np.full(xa.size, None, dtype=object)
        found = position >= 0
        codes[found] = self.sorted_codes[position[found]]
        by[found] = BY_POINT
        ambiguous = np.zeros(xa.size, dtype=bool)
        todo = np.flatnonzero(~found & (tolerance > 0) & np.isfinite(xa) & np.isfinite(ya))
        if not todo.size or not len(self.communities):
            return XYAssignment(codes, by, ambiguous)
        to_metric, tree = self._metric_tree
        hits = _within(tree, xa[todo], ya[todo], tolerance[todo], to_metric)
        one, snap_codes, many = _snap(hits, self.communities_codes, todo.size)
        codes[todo[one]] = snap_codes
        by[todo[one]] = BY_SNAP
        ambiguous[todo[many]] = True
        return XYAssignment(codes, by, ambiguous)


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


def _snap(hits: np.ndarray, tree_codes: np.ndarray, n: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Snap ``n`` points in no community from their (point, community) pairs within tolerance.

    Returns the boolean mask of points with exactly one community within their tolerance, its
    code for each of those, and the mask of points with two or more (ambiguous).
    """
    n_hits = np.bincount(hits[0], minlength=n)
    one = n_hits == 1
    first = np.full(n, -1)
    first[hits[0]] = hits[1]  # the community of each point with exactly one
    return one, tree_codes[first[one]], n_hits > 1


def _communities_within(x: np.ndarray, y: np.ndarray, tolerance: np.ndarray,
                        communities: gpd.GeoDataFrame, code_field: str, crs: pyproj.CRS
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (point, community) within the tolerance, and the codes of those communities.

    ``x``, ``y``: the points' coordinates in the communities' CRS.

    Only the communities near some point are projected (densified first): a box of twice the
    tolerance around each projected point, taken back to the communities' CRS, selects them.
    """
    source = communities.crs
    to_source = pyproj.Transformer.from_crs(crs, source, always_xy=True)
    to_metric = pyproj.Transformer.from_crs(source, crs, always_xy=True)
    mx, my = to_metric.transform(x, y)
    reach = _SEARCH_FACTOR * tolerance[:, None]
    ox, oy = to_source.transform(np.asarray(mx)[:, None] + reach * _OUTLINE[:, 0],
                                 np.asarray(my)[:, None] + reach * _OUTLINE[:, 1])
    boxes = shapely.box(ox.min(axis=1), oy.min(axis=1), ox.max(axis=1), oy.max(axis=1))
    all_geoms = np.asarray(communities.geometry.array, dtype=object)
    near = np.unique(shapely.STRtree(all_geoms).query(boxes)[1])
    tree = _projected_tree(all_geoms[near], source, crs)
    hits = _within(tree, x, y, tolerance, to_metric)
    codes = communities[code_field].astype("string").to_numpy(dtype=object)[near]
    return hits, codes


def _projected_tree(polygons: np.ndarray, source: Any, crs: pyproj.CRS) -> shapely.STRtree:
    """A tree of the polygons densified (:data:`_DENSIFY_DEG`) and projected to ``crs``."""
    piece = _DENSIFY_DEG if pyproj.CRS(source).is_geographic else _DENSIFY_UNITS
    dense = shapely.segmentize(polygons, piece)
    projected = gpd.GeoSeries(dense, crs=source).to_crs(crs)
    return shapely.STRtree(np.asarray(projected.array, dtype=object))


def _within(tree: shapely.STRtree, x: np.ndarray, y: np.ndarray, tolerance: np.ndarray,
            to_metric: pyproj.Transformer) -> np.ndarray:
    """Pairs (point, tree position) within the tolerance, measured after ``to_metric``."""
    mx, my = to_metric.transform(x, y)
    return tree.query(shapely.points(mx, my), predicate="dwithin", distance=tolerance)
