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

Speed and memory: the facilities are searched a batch at a time (one
:func:`scipy.sparse.csgraph.dijkstra` call bounded by the largest threshold), and the pieces
of the whole batch are cut at once from the edges at reached nodes. A facility's areas are
made from its smallest threshold up: each is the one before it united with the buffers of the
pieces that add to it (roads wholly reached before, and buffers inside the smaller area, are
left out), the same union from far fewer buffers. ``max_pieces`` (default
:data:`DEFAULT_MAX_PIECES`) caps the pieces of one call, facilities x thresholds x reached
edges, which long driving thresholds would otherwise make grow to most of the network per
facility; beyond it a :class:`geo.errors.LimitError` names the parameter.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from geo import arrays
from geo.errors import LimitError, ParameterError
from geo.network import DEFAULT_MAX_OFFSET_M, Direction, RoadNetwork, check_direction
from geo.noding import line_substrings

__all__ = ["DEFAULT_MAX_PIECES", "DEFAULT_TRIM_M", "reached_lines", "service_areas"]

#: Buffer around reached roads, metres (Network Analyst's default polygon trim distance).
DEFAULT_TRIM_M = 100.0

#: Largest number of reached road pieces (an edge or its reached part, per facility and
#: threshold) that one call may make: driving thresholds of many minutes reach most of a
#: city's edges from every facility, and the pieces' lines and buffers grow with facilities x
#: thresholds x reached edges.
DEFAULT_MAX_PIECES = 5_000_000

_EMPTY_LINES = shapely.MultiLineString([])


def reached_lines(network: RoadNetwork, facilities: gpd.GeoDataFrame | gpd.GeoSeries, *,
                  max_m: tuple[float, ...] = (), max_min: tuple[float, ...] = (),
                  direction: Direction = "from",
                  max_offset_m: float = DEFAULT_MAX_OFFSET_M,
                  max_pieces: int = DEFAULT_MAX_PIECES) -> gpd.GeoDataFrame:
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
    max_pieces
        Largest number of reached road pieces over all facilities and thresholds (module
        docstring).

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
    geo.errors.LimitError
        When the pieces would exceed ``max_pieces``.
    """
    frames, geoms = [], []
    for batch in _batches(network, facilities, max_m, max_min, direction, max_offset_m,
                          max_pieces):
        out = np.full(len(batch.rows), _EMPTY_LINES, dtype=object)
        if len(batch.pieces):
            shapely.multilinestrings(batch.pieces, indices=batch.group, out=out)
        frames.append(batch.rows)
        geoms.append(out)
    return _frame(frames, geoms, network)


def service_areas(network: RoadNetwork, facilities: gpd.GeoDataFrame | gpd.GeoSeries, *,
                  max_m: tuple[float, ...] = (), max_min: tuple[float, ...] = (),
                  direction: Direction = "from", trim_m: float = DEFAULT_TRIM_M,
                  quad_segs: int = 2, max_offset_m: float = DEFAULT_MAX_OFFSET_M,
                  workers: int | None = None,
                  max_pieces: int = DEFAULT_MAX_PIECES) -> gpd.GeoDataFrame:
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
    max_pieces
        Largest number of reached road pieces over all facilities and thresholds (module
        docstring).

    Returns
    -------
    geopandas.GeoDataFrame
        The rows of :func:`reached_lines` with a (multi)polygon each, in the network's metric
        CRS (empty where nothing is reached).

    Raises
    ------
    geo.errors.ParameterError
        When a threshold, ``trim_m`` or ``quad_segs`` is out of range.
    geo.errors.LimitError
        When the pieces would exceed ``max_pieces``.
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
    frames, geoms = [], []
    costs = [network._limit_cost(t, None) for t in max_m] + [
        network._limit_cost(None, t) for t in max_min]
    rank = np.argsort(costs, kind="stable")
    # Buffering each piece and uniting the buffers is some 30x faster in GEOS than buffering
    # the MultiLineString whole (which unites overlapping, un-noded linework first). GEOS
    # releases the GIL, so the buffers are made and united on a thread pool.
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for batch in _batches(network, facilities, max_m, max_min, direction, max_offset_m,
                              max_pieces):
            bounds = np.searchsorted(batch.group, np.arange(len(batch.rows) + 1))

            def areas(k: int, batch: _Batch = batch, bounds: Any = bounds) -> list[Any]:
                # A facility's thresholds from the smallest: each area is the one before it
                # with the buffers of the pieces not in it already (the roads wholly reached
                # before are), the same union made of far fewer buffers.
                out: list[Any] = [None] * len(rank)
                before: Any = None
                whole_before = np.empty(0, dtype=np.int64)
                for j in rank:
                    lo, hi = bounds[k * len(rank) + j], bounds[k * len(rank) + j + 1]
                    edge = batch.edge[lo:hi]
                    whole = ((batch.start[lo:hi] <= 0.0)
                             & (batch.end[lo:hi] >= network._length[edge]))
                    new = ~(whole & np.isin(edge, whole_before))
                    buffers = shapely.buffer(batch.pieces[lo:hi][new], float(trim_m),
                                             quad_segs=quad_segs)
                    if before is not None:
                        # Buffers inside the smaller area add nothing to it.
                        shapely.prepare(before)
                        buffers = buffers[~shapely.covers(before, buffers)]
                    parts = buffers if before is None else np.r_[np.array([before]), buffers]
                    before = out[j] = shapely.union_all(parts)
                    whole_before = edge[whole]
                return out

            frames.append(batch.rows)
            geoms.append(np.asarray([a for per in pool.map(areas, range(batch.facilities))
                                     for a in per], dtype=object))
    return _frame(frames, geoms, network)


@dataclass(frozen=True)
class _Batch:
    """Reached pieces of a batch of facilities.

    ``rows`` has one row per facility and threshold (of ``facilities``); ``pieces`` are
    LineStrings with the position of their row (``group``), in row order, and the edge and
    the stretch of it (``start``, ``end``) they follow.
    """

    rows: pd.DataFrame
    pieces: NDArray[np.object_]
    group: NDArray[np.int64]
    edge: NDArray[np.int64]
    start: NDArray[np.float64]
    end: NDArray[np.float64]
    facilities: int


def _batches(network: RoadNetwork, facilities: gpd.GeoDataFrame | gpd.GeoSeries,
             max_m: tuple[float, ...], max_min: tuple[float, ...], direction: Direction,
             max_offset_m: float, max_pieces: int) -> Iterator[_Batch]:
    """Search from a batch of facilities at a time and yield the pieces they reach."""
    check_direction(direction)
    limits = [(float(t), "m", network._limit_cost(t, None)) for t in max_m] + [
        (float(t), "min", network._limit_cost(None, t)) for t in max_min]
    if not limits:
        raise ParameterError("give at least one threshold (max_m or max_min)",
                             parameter="max_m")
    if isinstance(max_pieces, bool) or not isinstance(max_pieces, int) or max_pieces < 1:
        raise ParameterError(f"max_pieces must be an integer >= 1; got {max_pieces!r}",
                             parameter="max_pieces")
    ids = arrays.frame_ids(facilities)
    fac = network.locate(facilities, max_offset_m=max_offset_m)
    graph, sources = network._augmented(fac, direction)
    located = np.flatnonzero(fac.ok)
    costs = np.array([c for _, _, c in limits])
    incidence = _incidence(network)
    total = 0
    step = max(1, min(64, 2_000_000 // (network.nodes + len(located))))
    for lo in range(0, len(located), step):
        which = located[lo:lo + step]
        dist = dijkstra(graph, directed=True, indices=sources[lo:lo + step],
                        limit=float(costs.max()))[:, :network.nodes]
        group, edge, start, end = _pieces(network, incidence, dist, fac.edge[which],
                                          fac.along_m[which], costs, direction)
        total += len(edge)
        if total > max_pieces:
            raise LimitError(
                f"the service areas reach more than max_pieces ({max_pieces}) road pieces "
                f"(facilities x thresholds x reached edges; {total} after {lo + len(which)} of "
                f"{len(located)} facilities); give fewer facilities or smaller thresholds",
                parameter="max_pieces")
        rows = pd.DataFrame({
            "facility_id": np.repeat(ids[which], len(limits)),
            "threshold": np.tile([t for t, _, _ in limits], len(which)),
            "unit": np.tile([u for _, u, _ in limits], len(which)),
            "reached_length_m": _union_lengths(group, edge, start, end, len(which) * len(limits))})
        geoms = np.asarray(network.edges.geometry.array, dtype=object)
        yield _Batch(rows, line_substrings(geoms[edge], start, end), group, edge, start,
                     end, len(which))


def _frame(frames: list[pd.DataFrame], geoms: list[NDArray[np.object_]],
           network: RoadNetwork) -> gpd.GeoDataFrame:
    if frames and sum(len(f) for f in frames):
        frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True),
                                 geometry=np.concatenate(geoms), crs=network.crs)
        frame["facility_id"] = frame["facility_id"].astype("string")
        return frame
    return gpd.GeoDataFrame({"facility_id": [], "threshold": [], "unit": [],
                             "reached_length_m": []}, geometry=[], crs=network.crs)


def _incidence(network: RoadNetwork) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The edges at each node: (pointers by node, edge positions)."""
    ends = np.r_[network.edge_u, network.edge_v]
    order = np.argsort(ends, kind="stable")
    ptr = np.searchsorted(ends[order], np.arange(network.nodes + 1))
    return ptr.astype(np.int64), (order % len(network.edge_u)).astype(np.int64)


def _pieces(network: RoadNetwork, incidence: tuple[NDArray[np.int64], NDArray[np.int64]],
            dist: NDArray[np.float64], f_edge: NDArray[np.int64], f_along: NDArray[np.float64],
            costs: NDArray[np.float64], direction: Direction
            ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64],
                       NDArray[np.float64]]:
    """The reached parts of the network from each facility within each cost.

    ``dist`` has a row of node costs per facility. Returns (row x len(costs) + cost position,
    edge, start, end) per piece, sorted by row and cost, then whole edges, edges reached from u,
    from v, and the facility's own edge (each by edge).
    """
    n_cost = len(costs)
    # Edges at a reached node, once per facility.
    row, node = np.nonzero(dist <= costs.max())
    ptr, inc = incidence
    count = ptr[node + 1] - ptr[node]
    first = np.repeat(ptr[node] - (np.cumsum(count) - count), count)
    key = np.unique(np.repeat(row, count) * len(network.edge_u)
                    + inc[first + np.arange(int(count.sum()))])
    r, e = key // len(network.edge_u), key % len(network.edge_u)
    rate, length = network._rate[e], network._length[e]
    # Moving away from the facility along an edge from u needs u -> v when the search runs
    # from the facility, and v -> u when it runs towards it.
    fwd, bwd = network._forward, network._backward
    from_u_ok = (fwd if direction == "from" else bwd)[e]
    from_v_ok = (bwd if direction == "from" else fwd)[e]
    du, dv = dist[r, network.edge_u[e]], dist[r, network.edge_v[e]]
    k = np.arange(len(f_edge))
    fe, fa = f_edge, f_along
    f_len, f_rate = network._length[fe], network._rate[fe]
    f_out = (fwd if direction == "from" else bwd)[fe]
    f_in = (bwd if direction == "from" else fwd)[fe]
    parts: list[tuple[Any, ...]] = []
    for j, limit in enumerate(costs):
        reach_u = np.where(from_u_ok & (du <= limit), (limit - du) / rate, -1.0)
        reach_v = np.where(from_v_ok & (dv <= limit), (limit - dv) / rate, -1.0)
        # An edge reached from both ends far enough is one whole piece, else one per end.
        both = (reach_u >= 0) & (reach_v >= 0) & (reach_u + reach_v >= length)
        only_u = (reach_u >= 0) & ~both
        only_v = (reach_v >= 0) & ~both
        g = r * n_cost + j
        parts.append((g[both], 0, e[both], np.zeros(int(both.sum())), length[both]))
        parts.append((g[only_u], 1, e[only_u], np.zeros(int(only_u.sum())),
                      np.minimum(reach_u, length)[only_u]))
        parts.append((g[only_v], 2, e[only_v], np.maximum(length - reach_v, 0.0)[only_v],
                      length[only_v]))
        # The facility's own edge, straight from the facility in the directions allowed.
        span = limit / f_rate
        gk = k * n_cost + j
        parts.append((gk[f_out], 3, fe[f_out], fa[f_out], np.minimum(fa + span, f_len)[f_out]))
        parts.append((gk[f_in], 4, fe[f_in], np.maximum(fa - span, 0.0)[f_in], fa[f_in]))
    group = np.concatenate([p[0] for p in parts]).astype(np.int64)
    kind = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    edge = np.concatenate([p[2] for p in parts]).astype(np.int64)
    start = np.concatenate([p[3] for p in parts]).astype(np.float64)
    end = np.concatenate([p[4] for p in parts]).astype(np.float64)
    keep = end > start
    order = np.lexsort((edge[keep], kind[keep], group[keep]))
    return group[keep][order], edge[keep][order], start[keep][order], end[keep][order]


def _union_lengths(group: NDArray[np.int64], edge: NDArray[np.int64],
                   start: NDArray[np.float64], end: NDArray[np.float64],
                   n_groups: int) -> NDArray[np.float64]:
    """Per group, the length of the union of its pieces' intervals (overlaps counted once)."""
    order = np.lexsort((start, edge, group))
    return np.asarray(_interval_union(group[order], edge[order], start[order], end[order],
                                      n_groups), dtype=np.float64)


@numba.njit(cache=True)
def _interval_union(group, edge, start, end, n_groups):  # pragma: no cover - compiled
    out = np.zeros(n_groups)
    covered = -np.inf
    for i in range(len(group)):
        if i == 0 or group[i] != group[i - 1] or edge[i] != edge[i - 1]:
            covered = -np.inf
        lo = max(start[i], covered)
        if end[i] > lo:
            out[group[i]] += end[i] - lo
        covered = max(covered, end[i])
    return out
