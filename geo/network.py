"""Reach along roads: a road graph built once, queried for many points and facilities at once.

:func:`build_network` turns noded road edges (:class:`geo.noding.RoadEdges`) into a
:class:`RoadNetwork` for one travel mode (:mod:`geo.roads`: walking in metres, driving in
seconds). Its queries answer, for every demand point at once:

- :meth:`RoadNetwork.nearest`: the nearest facility by network cost (the catchment), the
  cost and the minutes, for resident -> facility (``direction="to"``, walking reach) or
  facility -> point (``direction="from"``, police response on the directed graph);
- :meth:`RoadNetwork.cost_pairs`: every (demand point, candidate site) pair within a cost, a
  sparse matrix for maximal covering location;
- :func:`geo.isochrones.service_areas` draws the reached roads as polygons.

Joining points to the network
-----------------------------
Every point is located on its nearest edge (:meth:`RoadNetwork.locate`), in ground metres of
the network's metric CRS whatever the points' CRS. Points farther than ``max_offset_m``
(default 500 m) from every usable road are *unreachable* and counted.

- Facilities are inserted by splitting their edge at the located point: each becomes a node
  joined to the edge's ends by the two parts (one-way edges only along their direction).
  Their straight offset to the road is reported, not added.
- Demand points are evaluated on their edge without splitting it:
  ``cost = min(d_u + along, d_v + (length - along))`` in the allowed directions, where ``d_u``
  and ``d_v`` are the costs between the edge's ends and the nearest facility; a facility on the
  same edge is also reached directly along it. The straight offset from the point to the road
  is added at walking speed (metres when walking, ``offset / WALK_SPEED_MPS`` seconds when
  driving) and reported.
- Points on a part of the network no facility can reach get the status ``no_route``.

The engine
----------
Nearest-of-many is one call of :func:`scipy.sparse.csgraph.dijkstra` with every facility as a
source (``min_only=True``), which returns the cost and the nearest source of every node in one
pass over the graph. ``bench/network.py`` (500 facilities, every node, one shared 2-core
machine) measured it against

- networkx ``multi_source_dijkstra``: 39-67x slower on 100,000 edges, 29-43x on 1,000,000
  (three runs), equal costs;
- igraph ``distances`` from a zero-cost super source: 2.4-6x slower, plus 1 s (100,000 edges)
  to 14-19 s (1,000,000) to build its graph, equal costs;
- pandana ``nearest_pois`` (contraction hierarchies): the hierarchy took minutes to build for
  100,000 edges and each query was slower than the whole csgraph search; its weights are
  integer millimetres and its results float32 (up to 0.014 m off), and it answers only within
  a search radius.

So pingan uses csgraph: fastest here, exact, and scipy is already a dependency.

Points are located on edges by :mod:`geo.snapping` (exact, vectorised).

Costs are float64 throughout; ties (two facilities at exactly the same cost) go to whichever
the search settles first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo import arrays
from geo.errors import InputError, MissingDataError, ParameterError
from geo.projection import metric_crs_of
from geo.roads import DRIVE_SPEED_KMH, MODES, WALK_SPEED_MPS, mode_mask
from geo.snapping import Located, Segments

__all__ = [
    "DEFAULT_MAX_OFFSET_M",
    "CostPairs",
    "Located",
    "NearestFacility",
    "RoadNetwork",
    "build_network",
    "check_direction",
]

#: Points farther than this from every road are unreachable (metres).
DEFAULT_MAX_OFFSET_M = 500.0
Direction = Literal["to", "from"]
_DIRECTIONS = ("to", "from")


@dataclass(frozen=True)
class NearestFacility:
    """Each demand point's nearest facility along the network.

    Attributes
    ----------
    frame
        Indexed like the demand points: ``facility_id`` (categorical of the facility ids),
        ``cost`` (metres walking, seconds driving; offset included), ``minutes``,
        ``offset_m`` and ``status`` (``ok``, ``no_route``, ``unreachable``, ``missing``).
        ``cost``, ``minutes`` and ``facility_id`` are missing unless the status is ``ok``.
    mode, direction, unit
        Travel mode, ``to`` (point -> facility) or ``from`` (facility -> point), and the unit
        of ``cost`` (``m`` or ``s``).
    facilities_used
        Facilities located on the network.
    facilities_unreachable
        Ids of facilities farther than ``max_offset_m`` from every road (left out).
    max_offset_m, walk_speed_mps
        The parameters used.
    """

    frame: pd.DataFrame
    mode: str
    direction: str
    unit: str
    facilities_used: int
    facilities_unreachable: tuple[str, ...]
    max_offset_m: float
    walk_speed_mps: float

    def reached(self, *, max_m: float | None = None, max_min: float | None = None
                ) -> NDArray[np.bool_]:
        """Whether each point is within a distance (walking only) or a time of a facility.

        Parameters
        ----------
        max_m
            Largest walking distance in metres.
        max_min
            Largest time in minutes.

        Returns
        -------
        numpy.ndarray
            bool per point (False where not ``ok``).

        Raises
        ------
        geo.errors.ParameterError
            Unless exactly one limit is given, or ``max_m`` is given for driving.
        """
        column, limit = _limit_column(self.unit, max_m, max_min)
        values = self.frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(np.nan_to_num(values, nan=np.inf) <= limit, dtype=bool)

    def shares(self, *, max_min: tuple[float, ...] = (), max_m: tuple[float, ...] = (),
               weights: Any = None) -> pd.DataFrame:
        """Reached and not reached points (or weights, e.g. residents) per threshold.

        Parameters
        ----------
        max_min, max_m
            Thresholds in minutes and (walking) metres.
        weights
            A weight per point (residents); ``None`` counts points.

        Returns
        -------
        pandas.DataFrame
            One row per threshold: ``threshold``, ``unit``, ``reached``, ``not_reached``
            (including unreachable and no-route points), ``unreachable``, ``total`` and
            ``reached_share`` (of the total; NaN when the total is 0).
        """
        w = (np.ones(len(self.frame)) if weights is None
             else np.asarray(weights, dtype=np.float64).ravel())
        if len(w) != len(self.frame):
            raise ParameterError(f"weights must have one value per point ({len(self.frame)}); "
                                 f"got {len(w)}", parameter="weights")
        status = self.frame["status"].to_numpy(dtype=object)
        total = float(w.sum())
        rows = []
        for unit, limits in (("min", max_min), ("m", max_m)):
            for limit in limits:
                hit = self.reached(**{f"max_{unit}": limit})
                reached = float(w[hit].sum())
                rows.append({"threshold": float(limit), "unit": unit, "reached": reached,
                             "not_reached": total - reached,
                             "unreachable": float(w[status == "unreachable"].sum()),
                             "total": total,
                             "reached_share": reached / total if total > 0 else np.nan})
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class CostPairs:
    """Demand point x candidate pairs within a cost, for maximal covering location.

    Attributes
    ----------
    demand, candidate
        Row positions of the pair in the demand points and the candidates.
    cost
        Network cost of the pair (metres walking, seconds driving; offset included).
    shape
        (demand points, candidates).
    unit
        ``m`` or ``s``.
    """

    demand: NDArray[np.int64]
    candidate: NDArray[np.int64]
    cost: NDArray[np.float64]
    shape: tuple[int, int]
    unit: str

    def matrix(self) -> csr_matrix:
        """The pairs as a sparse demand x candidate matrix of costs.

        A pair at cost 0 is stored as an explicit zero: test membership with the matrix's
        structure (``.indices``), not its values.
        """
        return csr_matrix((self.cost, (self.demand, self.candidate)), shape=self.shape)


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A road graph for one travel mode, in ground metres; built by :func:`build_network`.

    Attributes
    ----------
    mode
        ``walk`` or ``drive``.
    unit
        Unit of costs: ``m`` (walking) or ``s`` (driving).
    crs
        The metric CRS of every coordinate and length.
    walk_speed_mps
        Walking speed for offsets and walking minutes.
    edges
        The usable edges in the metric CRS: the input's columns, ``length_m`` recomputed,
        ``cost_per_m`` (1 walking; ``3.6 / speed`` seconds per metre driving), ``speed_kmh``
        (the speed used, driving), and ``forward``/``backward`` (may be travelled from ``u``
        to ``v``, from ``v`` to ``u``).
    node_ids
        Original node id of each graph node (position = node index).
    edge_u, edge_v
        Node index of each edge's ends.
    """

    mode: str
    unit: str
    crs: pyproj.CRS
    walk_speed_mps: float
    edges: gpd.GeoDataFrame
    node_ids: NDArray[np.int64]
    edge_u: NDArray[np.int64]
    edge_v: NDArray[np.int64]
    _length: NDArray[np.float64]
    _rate: NDArray[np.float64]
    _forward: NDArray[np.bool_]
    _backward: NDArray[np.bool_]
    _graph: csr_matrix
    _graph_t: csr_matrix
    _segments: Segments

    @property
    def nodes(self) -> int:
        """Number of graph nodes."""
        return len(self.node_ids)

    def graph(self, direction: Direction = "from") -> csr_matrix:
        """The directed graph as a sparse matrix of costs (``to``: transposed)."""
        check_direction(direction)
        return self._graph if direction == "from" else self._graph_t

    def locate(self, points: gpd.GeoDataFrame | gpd.GeoSeries, *,
               max_offset_m: float = DEFAULT_MAX_OFFSET_M) -> Located:
        """Locate points on their nearest usable edge.

        Parameters
        ----------
        points
            Points with a CRS (any; they are projected to :attr:`crs`).
        max_offset_m
            Points farther than this from every road are ``unreachable``.

        Returns
        -------
        Located

        Raises
        ------
        geo.errors.InputError
            When ``points`` is not a GeoDataFrame/GeoSeries of points with a CRS.
        geo.errors.ParameterError
            When ``max_offset_m`` is not a positive number.
        """
        _check_positive(max_offset_m, "max_offset_m")
        xy, missing = _points_xy(points, self.crs, "points")
        return self._segments.locate(xy, missing, float(max_offset_m))

    def nearest(self, demand: gpd.GeoDataFrame | gpd.GeoSeries,
                facilities: gpd.GeoDataFrame | gpd.GeoSeries, *, direction: Direction = "to",
                max_offset_m: float = DEFAULT_MAX_OFFSET_M) -> NearestFacility:
        """Find each demand point's nearest facility by network cost (its catchment).

        Parameters
        ----------
        demand
            Demand points (incidents, residents' points), any CRS.
        facilities
            Facility points; an ``id`` column names them (else the index).
        direction
            ``to``: from each point to a facility (walking reach of residents); ``from``: from
            a facility to each point (police response on the directed graph).
        max_offset_m
            Largest straight offset from a point or facility to the road.

        Returns
        -------
        NearestFacility

        Raises
        ------
        geo.errors.InputError
            When an input is not points with a CRS.
        geo.errors.ParameterError
            When ``direction`` or ``max_offset_m`` is out of range.
        geo.errors.MissingDataError
            When no facility lies within ``max_offset_m`` of a road.
        """
        check_direction(direction)
        fac_ids, fac = self._facilities(facilities, max_offset_m)
        pts = self.locate(demand, max_offset_m=max_offset_m)
        graph, sources = self._augmented(fac, direction)
        dist, _, nearest_source = dijkstra(graph, directed=True, indices=sources,
                                           min_only=True, return_predecessors=True)
        n = self.nodes
        owner = np.where(nearest_source >= n, nearest_source - n, -1)
        cost, which = self._evaluate(pts, fac, dist, owner, direction)
        return self._nearest_frame(demand, pts, cost, which, fac_ids, fac, direction,
                                   max_offset_m)

    def cost_pairs(self, demand: gpd.GeoDataFrame | gpd.GeoSeries,
                   candidates: gpd.GeoDataFrame | gpd.GeoSeries, *,
                   max_m: float | None = None, max_min: float | None = None,
                   direction: Direction = "to",
                   max_offset_m: float = DEFAULT_MAX_OFFSET_M) -> CostPairs:
        """Every (demand point, candidate) pair within a walking distance or a time.

        Parameters
        ----------
        demand
            Demand points.
        candidates
            Candidate sites (points).
        max_m, max_min
            The coverage limit: metres (walking) or minutes; exactly one.
        direction
            ``to`` (point -> candidate) or ``from`` (candidate -> point).
        max_offset_m
            Largest straight offset to the road.

        Returns
        -------
        CostPairs
            Candidates farther than ``max_offset_m`` from every road reach nothing.

        Raises
        ------
        geo.errors.ParameterError
            When the limits or ``direction`` are out of range.
        geo.errors.InputError
            When an input is not points with a CRS.
        """
        check_direction(direction)
        limit = self._limit_cost(max_m, max_min)
        pts = self.locate(demand, max_offset_m=max_offset_m)
        xy, missing = _points_xy(candidates, self.crs, "candidates")
        cand = self._segments.locate(xy, missing, float(max_offset_m))
        graph, sources = self._augmented(cand, direction)
        where = np.flatnonzero(cand.ok)
        rows, cols, costs = [], [], []
        # Searches are run a chunk of candidates at a time (a row of node costs each).
        step = max(1, min(256, 4_000_000 // (len(pts.edge) + self.nodes + 1)))
        for lo in range(0, len(where), step):
            dist = dijkstra(graph, directed=True, indices=sources[lo:lo + step], limit=limit)
            for k, c in enumerate(where[lo:lo + step]):
                one = _subset(cand, np.array([c]))
                reached = np.where(np.isfinite(dist[k]), 0, -1)
                cost, _ = self._evaluate(pts, one, dist[k], reached, direction)
                hit = np.flatnonzero(cost <= limit)
                rows.append(hit)
                cols.append(np.full(len(hit), c))
                costs.append(cost[hit])

        def joined(parts: list[NDArray[Any]], dtype: Any) -> NDArray[Any]:
            return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)

        return CostPairs(joined(rows, np.int64), joined(cols, np.int64),
                         joined(costs, np.float64), (len(pts.edge), len(cand.edge)), self.unit)

    def _limit_cost(self, max_m: float | None, max_min: float | None) -> float:
        """A limit given in metres (walking) or minutes, in the network's cost unit."""
        column, limit = _limit_column(self.unit, max_m, max_min)
        if column == "cost":
            return limit
        return limit * 60.0 * (self.walk_speed_mps if self.unit == "m" else 1.0)

    # --- internals ------------------------------------------------------------------------

    def _facilities(self, facilities: gpd.GeoDataFrame | gpd.GeoSeries,
                    max_offset_m: float) -> tuple[NDArray[np.object_], Located]:
        ids = arrays.frame_ids(facilities)
        fac = self.locate(facilities, max_offset_m=max_offset_m)
        if not fac.ok.any():
            raise MissingDataError(
                f"no facility lies within max_offset_m={max_offset_m:g} m of a {self.mode} road "
                f"({len(ids)} given)")
        return ids, fac

    def _offset_cost(self, offset_m: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(offset_m if self.unit == "m" else offset_m / self.walk_speed_mps,
                          dtype=np.float64)

    def _augmented(self, fac: Located, direction: Direction
                   ) -> tuple[csr_matrix, NDArray[np.int64]]:
        """The graph with one extra node per located facility, joined to its edge's ends.

        Returns the graph and the facilities' node indices (in the order of ``fac.ok``).
        """
        base = self.graph(direction)
        n = self.nodes
        where = np.flatnonzero(fac.ok)
        e = fac.edge[where]
        b = fac.along_m[where]
        rate = self._rate[e]
        length = self._length[e]
        # Leaving the facility towards v needs the edge's own direction when going "from"
        # the facility, and the opposite one when the search runs backwards ("to").
        to_v = self._forward[e] if direction == "from" else self._backward[e]
        to_u = self._backward[e] if direction == "from" else self._forward[e]
        k = np.arange(len(where))
        src = np.r_[k[to_v], k[to_u]]
        dst = np.r_[self.edge_v[e][to_v], self.edge_u[e][to_u]]
        w = np.r_[((length - b) * rate)[to_v], (b * rate)[to_u]]
        order = np.lexsort((dst, src))
        counts = np.bincount(src, minlength=len(where))
        indptr = np.r_[base.indptr, base.indptr[-1] + np.cumsum(counts)]
        size = n + len(where)
        graph = csr_matrix((np.r_[base.data, w[order]],
                            np.r_[base.indices, dst[order]].astype(np.int32), indptr),
                           shape=(size, size))
        return graph, (n + k).astype(np.int64)

    def _evaluate(self, pts: Located, fac: Located, dist: NDArray[np.float64],
                  owner: NDArray[np.int64], direction: Direction
                  ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Cost and facility (position among the located facilities) of each point.

        ``dist`` and ``owner`` are the search's cost and nearest facility per node.
        """
        n_pts = len(pts.edge)
        cost = np.full(n_pts, np.inf)
        which = np.full(n_pts, -1, dtype=np.int64)
        ok = np.flatnonzero(pts.ok)
        e = pts.edge[ok]
        a = pts.along_m[ok]
        u, v = self.edge_u[e], self.edge_v[e]
        rate, length = self._rate[e], self._length[e]
        via_u_ok = self._forward[e] if direction == "from" else self._backward[e]
        via_v_ok = self._backward[e] if direction == "from" else self._forward[e]
        cu = np.where(via_u_ok, dist[u] + a * rate, np.inf)
        cv = np.where(via_v_ok, dist[v] + (length - a) * rate, np.inf)
        best = np.minimum(cu, cv)
        pick = np.where(cu <= cv, owner[u], owner[v])
        same_cost, same_which = self._same_edge(pts, ok, fac, direction)
        closer = same_cost < best
        best = np.where(closer, same_cost, best)
        pick = np.where(closer, same_which, pick)
        cost[ok] = best + self._offset_cost(pts.offset_m[ok])
        which[ok] = np.where(np.isfinite(best), pick, -1)
        return cost, which

    def _same_edge(self, pts: Located, ok: NDArray[np.int64], fac: Located,
                   direction: Direction) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Cost to the nearest facility on a point's own edge, straight along it."""
        where = np.flatnonzero(fac.ok)
        scale = float(self._length.max()) * 2.0 + 1.0
        fkey = fac.edge[where] * scale + fac.along_m[where]
        order = np.argsort(fkey, kind="stable")
        fkey, fpos = fkey[order], np.arange(len(where))[order]
        fedge = fac.edge[where][order]
        e = pts.edge[ok]
        a = pts.along_m[ok]
        pkey = e * scale + a
        i = np.searchsorted(fkey, pkey, side="right")
        rate = self._rate[e]
        before_ok = self._forward[e] if direction == "from" else self._backward[e]
        after_ok = self._backward[e] if direction == "from" else self._forward[e]
        cost = np.full(len(ok), np.inf)
        which = np.full(len(ok), -1, dtype=np.int64)
        for j, allowed in ((i - 1, before_ok), (i, after_ok)):
            jj = np.clip(j, 0, max(len(fkey) - 1, 0))
            valid = (j >= 0) & (j < len(fkey)) & allowed
            if len(fkey):
                valid &= fedge[jj] == e
            c = np.where(valid, np.abs(pkey - fkey[jj] if len(fkey) else 0.0) * rate, np.inf)
            better = c < cost
            cost = np.where(better, c, cost)
            which = np.where(better, fpos[jj] if len(fkey) else -1, which)
        return cost, which

    def _nearest_frame(self, demand: gpd.GeoDataFrame | gpd.GeoSeries, pts: Located,
                       cost: NDArray[np.float64], which: NDArray[np.int64],
                       fac_ids: NDArray[np.object_], fac: Located, direction: Direction,
                       max_offset_m: float) -> NearestFacility:
        located_ids = fac_ids[fac.ok]
        status = pts.status.copy()
        status[(status == "ok") & ~np.isfinite(cost)] = "no_route"
        good = status == "ok"
        codes = np.where(good, which, -1)
        # Categories are the located facilities' ids: a catchment per facility, in order.
        cats, position = np.unique(located_ids, return_inverse=True)
        facility = pd.Categorical.from_codes(
            np.where(codes >= 0, position[np.maximum(codes, 0)], -1),
            categories=pd.Index(cats, dtype="string"))
        final = np.where(good, cost, np.nan)
        minutes = final / 60.0 if self.unit == "s" else final / self.walk_speed_mps / 60.0
        frame = pd.DataFrame({"facility_id": facility, "cost": final, "minutes": minutes,
                              "offset_m": pts.offset_m, "status": status}, index=demand.index)
        return NearestFacility(frame, self.mode, direction, self.unit, int(fac.ok.sum()),
                               tuple(str(i) for i in fac_ids[~fac.ok]), float(max_offset_m),
                               self.walk_speed_mps)


def build_network(roads: Any, *, mode: str, metric_crs: Any = None,
                  speeds_kmh: Mapping[str, float] | None = None,
                  walk_speed_mps: float = WALK_SPEED_MPS) -> RoadNetwork:
    """Build the road graph of one travel mode from noded road edges.

    Parameters
    ----------
    roads
        :class:`geo.noding.RoadEdges`, or its ``edges`` frame (``u``, ``v``, ``road_class``,
        ``oneway``, ``speed_kmh`` and LineStrings from ``u`` to ``v``), in any CRS.
    mode
        ``walk`` (metres; one-way ignored; motorways and trunk roads left out) or ``drive``
        (seconds; one-way obeyed; footways, steps, paths… left out).
    metric_crs
        Projected CRS in metres; default :func:`geo.projection.metric_crs_of` the edges.
    speeds_kmh
        Driving speed per class, overriding :data:`geo.roads.DRIVE_SPEED_KMH`; a road's own
        ``speed_kmh`` wins over both.
    walk_speed_mps
        Walking speed for point offsets and walking minutes.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    geo.errors.ParameterError
        When ``mode``, a speed or ``walk_speed_mps`` is out of range.
    geo.errors.InputError
        When a column is missing or a geometry is not a LineString.
    geo.errors.MissingDataError
        When no road is usable in the mode.
    """
    edges = getattr(roads, "edges", roads)
    if not isinstance(edges, gpd.GeoDataFrame):
        raise InputError(f"roads must be RoadEdges or a GeoDataFrame; got {type(roads).__name__}")
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {', '.join(MODES)}; got {mode!r}",
                             parameter="mode")
    _check_positive(walk_speed_mps, "walk_speed_mps")
    speeds = dict(DRIVE_SPEED_KMH)
    for name, value in (speeds_kmh or {}).items():
        _check_positive(value, f"speeds_kmh[{name!r}]")
        speeds[name] = float(value)
    missing = [c for c in ("u", "v", "road_class", "oneway") if c not in edges.columns]
    if missing:
        raise InputError(f"roads: missing columns {', '.join(missing)}")
    crs = metric_crs_of(edges, metric_crs=metric_crs)
    use = edges[mode_mask(edges["road_class"].to_numpy(dtype=object), mode)]
    if not len(use):
        raise MissingDataError(f"no road may be used for {mode!r}")
    use = use.to_crs(crs).reset_index(drop=True)
    geoms = np.asarray(use.geometry.array, dtype=object)
    if not (shapely.get_type_id(geoms) == shapely.GeometryType.LINESTRING).all():
        raise InputError("roads: every edge must be a LineString")
    length = shapely.length(geoms)
    if mode == "walk":
        rate = np.ones(len(use))
        backward = np.ones(len(use), dtype=bool)
    else:
        own = (use["speed_kmh"].to_numpy(dtype=np.float64, na_value=np.nan)
               if "speed_kmh" in use.columns else np.full(len(use), np.nan))
        default = use["road_class"].map(lambda c: speeds.get(c, speeds["unclassified"]))
        speed = np.where(np.isfinite(own) & (own > 0), own, default.to_numpy(np.float64))
        use["speed_kmh"] = speed
        rate = 3.6 / speed
        backward = ~use["oneway"].to_numpy(dtype=bool)
    forward = np.ones(len(use), dtype=bool)
    node_ids, inverse = np.unique(np.r_[use["u"].to_numpy(np.int64),
                                        use["v"].to_numpy(np.int64)], return_inverse=True)
    eu, ev = inverse[:len(use)], inverse[len(use):]
    use["length_m"] = length
    use["cost_per_m"] = rate
    use["forward"] = forward
    use["backward"] = backward
    graph = _graph(eu, ev, length * rate, forward, backward, len(node_ids))
    return RoadNetwork(mode, "m" if mode == "walk" else "s", crs, float(walk_speed_mps), use,
                       node_ids, eu.astype(np.int64), ev.astype(np.int64), length, rate,
                       forward, backward, graph, graph.T.tocsr(), Segments(geoms, length))


def _graph(u: NDArray[np.int64], v: NDArray[np.int64], cost: NDArray[np.float64],
           forward: NDArray[np.bool_], backward: NDArray[np.bool_], n: int) -> csr_matrix:
    """Directed cost matrix; of parallel edges the cheapest wins; loops are left out."""
    src = np.r_[u[forward], v[backward]]
    dst = np.r_[v[forward], u[backward]]
    w = np.r_[cost[forward], cost[backward]]
    keep = src != dst
    src, dst, w = src[keep], dst[keep], w[keep]
    order = np.lexsort((w, dst, src))
    src, dst, w = src[order], dst[order], w[order]
    first = np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])]
    return csr_matrix((w[first], (src[first], dst[first])), shape=(n, n))


def _subset(located: Located, rows: NDArray[np.int64]) -> Located:
    mask = np.zeros(len(located.edge), dtype=bool)
    mask[rows] = True
    return Located(np.where(mask, located.edge, -1), located.along_m, located.offset_m,
                   located.xy, located.status)


def _points_xy(points: Any, crs: pyproj.CRS, name: str
               ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    if not isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(f"{name} must be a GeoDataFrame or GeoSeries; got "
                         f"{type(points).__name__}")
    if points.crs is None:
        raise InputError(f"{name} have no CRS; every frame must carry one")
    geoms = np.asarray(points.geometry.array if isinstance(points, gpd.GeoDataFrame)
                       else points.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms[~missing])
    if len(types) and (types != shapely.GeometryType.POINT).any():
        raise InputError(f"{name} must be points; got "
                         f"{shapely.get_type_id(geoms[~missing])[0]!r} geometry type ids")
    xy = np.full((len(geoms), 2), np.nan)
    if (~missing).any():
        t = pyproj.Transformer.from_crs(points.crs, crs, always_xy=True)
        x, y = t.transform(shapely.get_x(geoms[~missing]), shapely.get_y(geoms[~missing]))
        xy[~missing] = np.c_[x, y]
    missing = missing | ~np.isfinite(xy).all(axis=1)
    return xy, missing


def _limit_column(unit: str, max_m: float | None, max_min: float | None) -> tuple[str, float]:
    if (max_m is None) == (max_min is None):
        raise ParameterError("give exactly one of max_m and max_min", parameter="max_m")
    if max_m is not None:
        if unit != "m":
            raise ParameterError("max_m is for walking; driving reach is given in minutes "
                                 "(max_min)", parameter="max_m")
        _check_positive(max_m, "max_m", zero=True)
        return "cost", float(max_m)
    assert max_min is not None
    _check_positive(max_min, "max_min", zero=True)
    return "minutes", float(max_min)


def check_direction(direction: str) -> None:
    """Check that a travel direction is ``to`` (towards the facilities) or ``from`` them.

    Parameters
    ----------
    direction
        The direction asked for.

    Raises
    ------
    geo.errors.ParameterError
        When it is neither.
    """
    if direction not in _DIRECTIONS:
        raise ParameterError(f"direction must be one of {', '.join(_DIRECTIONS)}; got "
                             f"{direction!r}", parameter="direction")


def _check_positive(value: Any, name: str, *, zero: bool = False) -> None:
    ok = (not isinstance(value, bool) and isinstance(value, int | float | np.floating)
          and np.isfinite(value) and (value >= 0 if zero else value > 0))
    if not ok:
        raise ParameterError(f"{name} must be a number {'>=' if zero else '>'} 0; got "
                             f"{value!r}", parameter=name)
