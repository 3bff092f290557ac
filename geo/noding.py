"""Noding: turn road lines into a graph's edges, and report how well the graph holds together.

A line file says nothing about where roads connect. :func:`node_lines` decides it from the
geometry, in ground metres (:func:`geo.projection.metric_crs_of`):

1. Where two lines cross or touch, both are split and connect there when they are on the same
   level: the same ``bridge``, ``tunnel`` and ``layer``. A viaduct crossing a street does not
   connect to it. A bridge, tunnel or non-zero layer line that *ends* on another line lands
   there (that is how ramps meet the streets below); a street that ends under a viaduct does
   not connect to the viaduct.
2. Line ends within ``snap_m`` of each other are merged into one node (the first of them,
   in input order, gives the node's position; chains of ends each within ``snap_m`` of the
   next merge into one node).
3. A dangling end within ``snap_m`` of another line's interior is joined onto it (the line is
   split at the nearest point), under the level rule of step 1.

OSM extracts need none of this: :func:`geo.osm.read_osm` connects ways where they share a node.
Both return :class:`RoadEdges` with a :class:`TopologyReport`.

Why this is written here: momepy and osmnx node lines by unioning them (``unary_union``),
which splits at every crossing whatever the level and cannot keep attributes per piece;
GRASS ``v.clean`` is not a Python library. The steps here are vectorised shapely and scipy
calls (a tree query for candidate pairs, one intersection per pair, a k-d tree for ends).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.errors import InputError, ParameterError
from geo.projection import metric_crs_of
from geo.validate import Rejection

__all__ = ["RoadEdges", "TopologyReport", "line_substrings", "node_lines", "topology_report"]

#: Columns of an edge frame, besides ``geometry``.
EDGE_COLUMNS = ("u", "v", "road_class", "oneway", "speed_kmh", "bridge", "tunnel", "layer",
                "name", "source_row", "length_m")
_ATTRIBUTES = ("road_class", "oneway", "speed_kmh", "bridge", "tunnel", "layer", "name",
               "source_row")


@dataclass(frozen=True)
class TopologyReport:
    """How a road graph holds together.

    Attributes
    ----------
    nodes, edges
        Counts.
    components
        Connected components, ignoring one-way.
    largest_component_length_share
        Share of the total length in the largest component (by length).
    length_m
        Total length of the edges.
    isolated
        GeoDataFrame of every other component, longest first: ``component``, ``edges``,
        ``length_m`` and its lines (a MultiLineString), in the edges' CRS.
    """

    nodes: int
    edges: int
    components: int
    largest_component_length_share: float
    length_m: float
    isolated: gpd.GeoDataFrame


@dataclass(frozen=True)
class RoadEdges:
    """Noded roads: the edges of a road graph.

    Attributes
    ----------
    edges
        GeoDataFrame, one row per edge, in the roads' CRS: ``u`` and ``v`` (int64 node ids:
        OSM node ids for extracts, 0..n-1 for line files), the canonical road fields of
        :mod:`geo.roads`, ``source_row`` (record number or OSM way id), ``length_m`` (ground
        metres) and the line from ``u`` to ``v`` (one-way edges run along it).
    report
        :class:`TopologyReport`.
    metric_crs
        The CRS lengths and noding were computed in.
    rejections, warnings
        From reading the attributes.
    """

    edges: gpd.GeoDataFrame
    report: TopologyReport
    metric_crs: pyproj.CRS
    rejections: tuple[Rejection, ...] = ()
    warnings: tuple[str, ...] = ()


def node_lines(lines: gpd.GeoDataFrame, *, snap_m: float = 1.0, metric_crs: Any = None,
               rejections: Sequence[Rejection] = (), warnings: Sequence[str] = ()
               ) -> RoadEdges:
    """Split road lines where they connect and number their ends (see the module docstring).

    Parameters
    ----------
    lines
        LineStrings with the canonical road fields (:func:`geo.roads.normalise_roads`).
    snap_m
        Ends closer than this merge, and dangling ends this close to a line join it (>= 0).
    metric_crs
        Projected CRS in metres; default :func:`geo.projection.metric_crs_of` the lines.
    rejections, warnings
        Carried into the result (from reading the attributes).

    Returns
    -------
    RoadEdges

    Raises
    ------
    geo.errors.ParameterError
        When ``snap_m`` is negative or not a number.
    geo.errors.InputError
        When a canonical column is missing or a geometry is not a LineString.
    """
    if isinstance(snap_m, bool) or not isinstance(snap_m, int | float) or not snap_m >= 0:
        raise ParameterError(f"snap_m must be a number >= 0; got {snap_m!r}", parameter="snap_m")
    missing = [c for c in _ATTRIBUTES if c not in lines.columns]
    if missing:
        raise InputError(f"roads: missing columns {', '.join(missing)}; read them with "
                         "geo.roads.normalise_roads")
    crs = metric_crs_of(lines, metric_crs=metric_crs)
    geoms = np.asarray(lines.geometry.to_crs(crs).array, dtype=object)
    if not (shapely.get_type_id(geoms) == shapely.GeometryType.LINESTRING).all():
        raise InputError("roads: every geometry must be a LineString (explode multi-lines)")
    tol = max(float(snap_m), 1e-6)
    level = pd.MultiIndex.from_arrays(
        [lines["bridge"].to_numpy(bool), lines["tunnel"].to_numpy(bool),
         lines["layer"].to_numpy(np.int64)]).factorize()[0]
    ground = ~lines["bridge"].to_numpy(bool) & ~lines["tunnel"].to_numpy(bool) & (
        lines["layer"].to_numpy(np.int64) == 0)
    cut_line, cut_at = _cuts(geoms, level, ground, tol)
    piece_line, start, end = _pieces(geoms, cut_line, cut_at, tol)
    pieces = line_substrings(geoms[piece_line], start, end)
    u, v, pieces = _number_ends(pieces, tol)
    keep = (u != v) | (shapely.length(pieces) > tol)
    attrs = lines[list(_ATTRIBUTES)].iloc[piece_line[keep]].reset_index(drop=True)
    edges = gpd.GeoDataFrame(
        {"u": u[keep], "v": v[keep], **{c: attrs[c] for c in _ATTRIBUTES},
         "length_m": shapely.length(pieces[keep])},
        geometry=pieces[keep], crs=crs).to_crs(lines.crs)
    return RoadEdges(edges, topology_report(edges), crs, tuple(rejections), tuple(warnings))


def topology_report(edges: gpd.GeoDataFrame) -> TopologyReport:
    """Count nodes, edges and connected components of an edge frame (one-way ignored).

    Parameters
    ----------
    edges
        ``u``, ``v``, ``length_m`` and the lines.

    Returns
    -------
    TopologyReport
    """
    ids, inverse = np.unique(np.r_[edges["u"].to_numpy(np.int64),
                                   edges["v"].to_numpy(np.int64)], return_inverse=True)
    m = len(edges)
    n = len(ids)
    length = edges["length_m"].to_numpy(np.float64)
    if not m:
        empty = gpd.GeoDataFrame({"component": [], "edges": [], "length_m": []},
                                 geometry=[], crs=edges.crs)
        return TopologyReport(0, 0, 0, float("nan"), 0.0, empty)
    graph = coo_matrix((np.ones(m), (inverse[:m], inverse[m:])), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    comp = label[inverse[:m]]
    comp_length = np.bincount(comp, weights=length, minlength=count)
    comp_edges = np.bincount(comp, minlength=count)
    largest = int(np.argmax(comp_length))
    others = np.array([c for c in np.argsort(-comp_length, kind="stable") if c != largest],
                      dtype=np.int64)
    geoms = np.asarray(edges.geometry.array, dtype=object)
    order = np.argsort(comp, kind="stable")
    bounds = np.searchsorted(comp[order], np.arange(count + 1))
    lines = [shapely.multilinestrings(geoms[order[bounds[c]:bounds[c + 1]]]) for c in others]
    isolated = gpd.GeoDataFrame(
        {"component": np.arange(1, len(others) + 1), "edges": comp_edges[others],
         "length_m": comp_length[others]}, geometry=lines, crs=edges.crs)
    total = float(length.sum())
    share = float(comp_length[largest] / total) if total > 0 else float("nan")
    return TopologyReport(n, m, int(count), share, total, isolated)


def line_substrings(lines: NDArray[np.object_], start_m: NDArray[np.float64],
                    end_m: NDArray[np.float64]) -> NDArray[np.object_]:
    """The part of each line between two distances along it, vectorised.

    Parameters
    ----------
    lines
        LineStrings (one per part wanted; repeat a line for several parts).
    start_m, end_m
        Distances along each line, ``0 <= start_m <= end_m <= length``.

    Returns
    -------
    numpy.ndarray
        LineStrings from the point at ``start_m`` to the point at ``end_m``, with the line's
        vertices in between (a part of zero length is a two-point line on one point).
    """
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    n = len(lines)
    if not n:
        return np.empty(0, dtype=object)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    seg[owner[1:] != owner[:-1]] = 0.0
    cum = np.r_[0.0, np.cumsum(seg)]
    first = np.searchsorted(owner, np.arange(n))
    last = np.r_[first[1:], len(owner)] - 1
    base = cum[first]
    start = np.clip(np.asarray(start_m, dtype=np.float64), 0.0, cum[last] - base)
    end = np.clip(np.asarray(end_m, dtype=np.float64), start, cum[last] - base)
    p0 = _point_at(coords, cum, first, last, base + start)
    p1 = _point_at(coords, cum, first, last, base + end)
    lo = np.clip(np.searchsorted(cum, base + start, side="right"), first + 1, last)
    hi = np.clip(np.searchsorted(cum, base + end, side="left"), lo, last)
    inner = hi - lo
    size = inner + 2
    offsets = np.r_[0, np.cumsum(size)]
    out = np.empty((int(offsets[-1]), 2))
    out[offsets[:-1]] = p0
    out[offsets[1:] - 1] = p1
    piece = np.repeat(np.arange(n), inner)
    rank = np.arange(len(piece)) - np.repeat(np.cumsum(inner) - inner, inner)
    out[offsets[piece] + 1 + rank] = coords[lo[piece] + rank]
    # from_ragged_array builds the lines in one call (linestrings(indices=...) is far slower).
    return np.asarray(shapely.from_ragged_array(shapely.GeometryType.LINESTRING, out,
                                                (offsets.astype(np.int64),)), dtype=object)


def _point_at(coords: NDArray[np.float64], cum: NDArray[np.float64], first: NDArray[np.int64],
              last: NDArray[np.int64], at: NDArray[np.float64]) -> NDArray[np.float64]:
    k = np.clip(np.searchsorted(cum, at, side="right") - 1, first, last - 1)
    seg = cum[k + 1] - cum[k]
    t = np.where(seg > 0, (at - cum[k]) / np.where(seg > 0, seg, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)[:, None]
    return np.asarray(coords[k] + t * (coords[k + 1] - coords[k]), dtype=np.float64)


def _cuts(geoms: NDArray[np.object_], level: NDArray[np.int64], ground: NDArray[np.bool_],
          tol: float) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Where each line is cut: (line, distance along) for crossings and joined ends."""
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    parts, which = shapely.get_parts(shapely.intersection(geoms[i], geoms[j]),
                                     return_index=True)
    is_point = shapely.get_type_id(parts) == shapely.GeometryType.POINT
    # An overlap (a line shared by both) connects at its ends.
    ends = shapely.boundary(parts[~is_point])
    ends_parts, ends_which = shapely.get_parts(ends, return_index=True)
    points = np.r_[parts[is_point], ends_parts]
    pair = np.r_[which[is_point], which[~is_point][ends_which]]
    a, b = i[pair], j[pair]
    ok = _connects(geoms, level, ground, a, b, points, tol)
    line = np.r_[a[ok], b[ok]]
    at = np.r_[shapely.line_locate_point(geoms[a[ok]], points[ok]),
               shapely.line_locate_point(geoms[b[ok]], points[ok])]
    # Dangling ends near another line's interior join it.
    starts = shapely.get_point(geoms, 0)
    stops = shapely.get_point(geoms, -1)
    end_pts = np.r_[starts, stops]
    owner = np.r_[np.arange(len(geoms)), np.arange(len(geoms))]
    k, m = tree.query(end_pts, predicate="dwithin", distance=tol)
    near = owner[k] != m
    k, m = k[near], m[near]
    ok = _connects(geoms, level, ground, owner[k], m, end_pts[k], tol)
    line = np.r_[line, m[ok]]
    at = np.r_[at, shapely.line_locate_point(geoms[m[ok]], end_pts[k[ok]])]
    return line.astype(np.int64), at


def _connects(geoms: NDArray[np.object_], level: NDArray[np.int64], ground: NDArray[np.bool_],
              a: NDArray[np.int64], b: NDArray[np.int64], points: NDArray[np.object_],
              tol: float) -> NDArray[np.bool_]:
    """Whether lines ``a`` and ``b`` connect at ``points`` (the level rule)."""
    end_a = _at_end(geoms[a], points, tol)
    end_b = _at_end(geoms[b], points, tol)
    same = level[a] == level[b]
    return np.asarray(same | (end_a & end_b) | (end_a & ~ground[a]) | (end_b & ~ground[b]),
                      dtype=bool)


def _at_end(lines: NDArray[np.object_], points: NDArray[np.object_], tol: float
            ) -> NDArray[np.bool_]:
    d0 = shapely.distance(shapely.get_point(lines, 0), points)
    d1 = shapely.distance(shapely.get_point(lines, -1), points)
    return np.asarray((d0 <= tol) | (d1 <= tol), dtype=bool)


def _pieces(geoms: NDArray[np.object_], cut_line: NDArray[np.int64],
            cut_at: NDArray[np.float64], tol: float
            ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(line, start, end) of every piece between consecutive cuts of every line.

    Cuts within ``tol`` of a line's ends, or of the previous cut, are dropped: they would
    make pieces shorter than the snapping tolerance.
    """
    length = shapely.length(geoms)
    n = len(geoms)
    inner = (cut_at > tol) & (cut_at < length[cut_line] - tol)
    line, at = cut_line[inner], cut_at[inner]
    order = np.lexsort((at, line))
    line, at = line[order], at[order]
    fresh = np.r_[True, (line[1:] != line[:-1]) | (np.diff(at) > tol)][:len(line)]
    line = np.r_[line[fresh], np.arange(n), np.arange(n)]
    at = np.r_[at[fresh], np.zeros(n), length]
    order = np.lexsort((at, line))
    line, at = line[order], at[order]
    same = line[1:] == line[:-1]
    return line[:-1][same], at[:-1][same], at[1:][same]


def _number_ends(pieces: NDArray[np.object_], tol: float
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.object_]]:
    """Merge piece ends within ``tol`` into nodes; move each end onto its node."""
    n = len(pieces)
    ends = np.r_[shapely.get_coordinates(shapely.get_point(pieces, 0)),
                 shapely.get_coordinates(shapely.get_point(pieces, -1))]
    pairs = cKDTree(ends).query_pairs(tol, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                       shape=(2 * n, 2 * n))
    _, label = connected_components(graph, directed=False)
    # Nodes are numbered in the order of their first end; the first end places the node.
    first = np.full(label.max() + 1, 2 * n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(2 * n))
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    node = rank[label]
    node_xy = ends[np.sort(first)]
    coords, owner = shapely.get_coordinates(pieces, return_index=True)
    start = np.searchsorted(owner, np.arange(n))
    stop = np.r_[start[1:], len(owner)] - 1
    coords[start] = node_xy[node[:n]]
    coords[stop] = node_xy[node[n:]]
    moved = shapely.set_coordinates(pieces.copy(), coords)
    return node[:n].astype(np.int64), node[n:].astype(np.int64), moved
