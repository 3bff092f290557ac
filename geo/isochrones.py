"""Service areas (isochrones): the roads reached from each facility within each threshold.

For every facility and threshold, :func:`service_areas` runs one search from the facility (a
node inserted on its edge, as :meth:`geo.network.RoadNetwork.nearest` does) up to the largest
threshold, and keeps

- every edge whose whole length is reached (from either end, or from the facility on its own
  edge), and
- the reached part of every partly reached edge: from an end reached at cost ``c``, the first
  ``(threshold - c) / cost_per_m`` metres along the edge in a direction it may be travelled.

The reached lines are buffered by ``trim_m`` to make the polygon. That width plays the part of
ArcGIS Network Analyst's polygon trim distance (``TrimPolygonDistance``: how far the service
area polygon extends from the reached roads, 100 m by default), which keeps sparse networks from
claiming the land between distant roads. The polygons' areas therefore depend on the trim, so
coverage is judged by population share (:meth:`geo.network.NearestFacility.shares`); the
polygons are for maps and for gap polygons.

Each area is a polygon per facility; overlapping areas of different facilities are not merged.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from geo import arrays
from geo.errors import ParameterError
from geo.network import DEFAULT_MAX_OFFSET_M, Direction, RoadNetwork, check_direction
from geo.noding import line_substrings

__all__ = ["DEFAULT_TRIM_M", "reached_lines", "service_areas"]

#: Buffer around reached roads, metres (Network Analyst's default polygon trim distance).
DEFAULT_TRIM_M = 100.0


def reached_lines(network: RoadNetwork, facilities: gpd.GeoDataFrame | gpd.GeoSeries, *,
                  max_m: tuple[float, ...] = (), max_min: tuple[float, ...] = (),
                  direction: Direction = "from",
                  max_offset_m: float = DEFAULT_MAX_OFFSET_M) -> gpd.GeoDataFrame:
    """The roads reached from each facility within each threshold, as lines.

    Parameters
    ----------
    network
        The road network.
    facilities
        Facility points; an ``id`` column names them (else the index).
    max_m, max_min
        Thresholds in metres (walking) and minutes.
    direction
        ``from`` the facility (response) or ``to`` it (residents walking in); the same when
        walking.
    max_offset_m
        Facilities farther than this from every road get no area.

    Returns
    -------
    geopandas.GeoDataFrame
        In the network's metric CRS, one row per located facility and threshold:
        ``facility_id``, ``threshold``, ``unit`` (``m`` or ``min``), ``reached_length_m`` (the
        length of road reached, partly reached edges counted by their reached part) and a
        MultiLineString of the reached roads.

    Raises
    ------
    geo.errors.ParameterError
        When no threshold is given, or one is out of range.
    """
    check_direction(direction)
    limits = [(float(t), "m", network._limit_cost(t, None)) for t in max_m] + [
        (float(t), "min", network._limit_cost(None, t)) for t in max_min]
    if not limits:
        raise ParameterError("give at least one threshold (max_m or max_min)",
                             parameter="max_m")
    ids = arrays.frame_ids(facilities)
    fac = network.locate(facilities, max_offset_m=max_offset_m)
    graph, sources = network._augmented(fac, direction)
    located = np.flatnonzero(fac.ok)
    top = max(c for _, _, c in limits)
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    step = max(1, min(64, 2_000_000 // (network.nodes + len(located))))
    for lo in range(0, len(located), step):
        dist = dijkstra(graph, directed=True, indices=sources[lo:lo + step], limit=top)
        for k, f in enumerate(located[lo:lo + step]):
            for threshold, unit, cost in limits:
                line, length = _reached(network, dist[k], fac.edge[f], fac.along_m[f],
                                        cost, direction)
                rows.append({"facility_id": ids[f], "threshold": threshold, "unit": unit,
                             "reached_length_m": length})
                geoms.append(line)
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=network.crs)
    if len(frame):
        frame["facility_id"] = frame["facility_id"].astype("string")
        return frame
    return gpd.GeoDataFrame({"facility_id": [], "threshold": [], "unit": [],
                             "reached_length_m": []}, geometry=[], crs=network.crs)


def service_areas(network: RoadNetwork, facilities: gpd.GeoDataFrame | gpd.GeoSeries, *,
                  max_m: tuple[float, ...] = (), max_min: tuple[float, ...] = (),
                  direction: Direction = "from", trim_m: float = DEFAULT_TRIM_M,
                  quad_segs: int = 2, max_offset_m: float = DEFAULT_MAX_OFFSET_M,
                  workers: int | None = None) -> gpd.GeoDataFrame:
    """Service-area polygons per facility and threshold: reached roads buffered by ``trim_m``.

    Parameters
    ----------
    network
        The road network.
    facilities
        Facility points; an ``id`` column names them (else the index).
    max_m, max_min
        Thresholds in metres (walking) and minutes.
    direction
        ``from`` the facility or ``to`` it.
    trim_m
        Buffer width around the reached roads (module docstring).
    quad_segs
        Segments per quarter circle of the buffer's round ends and joins (2: an octagon, 90 %
        of a circle's area, only at the free ends of the reached roads).
    max_offset_m
        Facilities farther than this from every road get no area.
    workers
        Threads uniting the buffers; ``None`` uses every CPU.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows of :func:`reached_lines` with a (multi)polygon each, in the network's metric
        CRS (empty where nothing is reached).

    Raises
    ------
    geo.errors.ParameterError
        When a threshold, ``trim_m`` or ``quad_segs`` is out of range.
    """
    if isinstance(trim_m, bool) or not isinstance(trim_m, int | float) or not trim_m > 0:
        raise ParameterError(f"trim_m must be a number > 0; got {trim_m!r}", parameter="trim_m")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ParameterError(f"workers must be an integer >= 1 or None; got {workers!r}",
                             parameter="workers")
    if isinstance(quad_segs, bool) or not isinstance(quad_segs, int) or quad_segs < 1:
        raise ParameterError(f"quad_segs must be an integer >= 1; got {quad_segs!r}",
                             parameter="quad_segs")
    lines = reached_lines(network, facilities, max_m=max_m, max_min=max_min,
                          direction=direction, max_offset_m=max_offset_m)
    # Buffering each part and uniting the buffers is some 30x faster in GEOS than buffering
    # the MultiLineString whole (which unites overlapping, un-noded linework first). GEOS
    # releases the GIL, so areas are united on a thread pool.
    def area(lines_: Any) -> Any:
        return shapely.union_all(shapely.buffer(shapely.get_parts(lines_), float(trim_m),
                                                quad_segs=quad_segs))

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        polygons = list(pool.map(area, lines.geometry.array))
    out = lines.drop(columns="geometry")
    return gpd.GeoDataFrame(out, geometry=polygons, crs=network.crs)


def _reached(network: RoadNetwork, dist: NDArray[np.float64], f_edge: int, f_along: float,
             limit: float, direction: Direction) -> tuple[Any, float]:
    """The reached parts of the network within ``limit``: (MultiLineString, length)."""
    n = network.nodes
    d = dist[:n]
    u, v = network.edge_u, network.edge_v
    rate, length = network._rate, network._length
    # Moving away from the facility along an edge from u needs u -> v when the search runs
    # from the facility, and v -> u when it runs towards it.
    from_u_ok = network._forward if direction == "from" else network._backward
    from_v_ok = network._backward if direction == "from" else network._forward
    du, dv = d[u], d[v]
    reach_u = np.where(from_u_ok & (du <= limit), (limit - du) / rate, -1.0)
    reach_v = np.where(from_v_ok & (dv <= limit), (limit - dv) / rate, -1.0)
    # An edge reached from both ends far enough is one whole piece, else one piece per end.
    both = (reach_u >= 0) & (reach_v >= 0) & (reach_u + reach_v >= length)
    only_u = np.flatnonzero((reach_u >= 0) & ~both)
    only_v = np.flatnonzero((reach_v >= 0) & ~both)
    whole = np.flatnonzero(both)
    seg_edge = [whole, only_u, only_v]
    start = [np.zeros(len(whole)), np.zeros(len(only_u)),
             np.maximum(length[only_v] - reach_v[only_v], 0.0)]
    end = [length[whole], np.minimum(reach_u[only_u], length[only_u]), length[only_v]]
    # The facility's own edge, straight from the facility in the directions allowed.
    span = limit / rate[f_edge]
    if (network._forward if direction == "from" else network._backward)[f_edge]:
        seg_edge.append(np.array([f_edge]))
        start.append(np.array([f_along]))
        end.append(np.array([min(f_along + span, length[f_edge])]))
    if (network._backward if direction == "from" else network._forward)[f_edge]:
        seg_edge.append(np.array([f_edge]))
        start.append(np.array([max(f_along - span, 0.0)]))
        end.append(np.array([f_along]))
    e = np.concatenate(seg_edge)
    s = np.concatenate(start)
    t = np.concatenate(end)
    keep = t > s
    e, s, t = e[keep], s[keep], t[keep]
    if not len(e):
        return shapely.MultiLineString([]), 0.0
    total = _union_length(e, s, t, float(length.max()) + 1.0)
    geoms = np.asarray(network.edges.geometry.array, dtype=object)
    pieces = line_substrings(geoms[e], s, t)
    return shapely.multilinestrings(pieces), total


def _union_length(edge: NDArray[np.int64], start: NDArray[np.float64],
                  end: NDArray[np.float64], scale: float) -> float:
    """Length of the union of intervals, grouped by edge (overlaps counted once)."""
    lo = edge * scale + start
    hi = edge * scale + end
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    covered_to = np.maximum.accumulate(np.r_[-np.inf, hi[:-1]])
    return float(np.maximum(hi - np.maximum(lo, covered_to), 0.0).sum())
