"""Benchmark of pingan's road network engine (geo.network, geo.isochrones) against its peers.

Run from the repository root::

    PYTHONPATH=. python bench/network.py            # 100,000 and 1,000,000 edges
    PYTHONPATH=. python bench/network.py --quick    # 100,000 edges only

The street networks are irregular grids made here: a jittered grid with bent streets (one
interior vertex each), about 12 % of the blocks' sides missing (dead ends and superblocks),
arterials every 8th street, and a fifth of the local streets one-way. Walking costs (metres)
are used for the distance comparisons.

What is timed
-------------
1. Graph search alone: nearest of 500 facilities (random nodes) for every node. pingan calls
   ``scipy.sparse.csgraph.dijkstra(indices=..., min_only=True, return_predecessors=True)`` on
   the graph it built; networkx runs ``multi_source_dijkstra`` (costs and paths, as the
   predecessors give) on a graph of the same edges; igraph runs ``distances`` from a zero-cost
   super source; pandana runs ``nearest_pois`` on its contraction hierarchy (integer-millimetre
   weights, float32 results, a search radius). Each search is the median of 3 runs for every
   contender; graph construction is timed apart.
2. 1,000,000 demand points evaluated on the 100,000-edge network, snapping included
   (``RoadNetwork.nearest``), with the snapping also timed alone (``RoadNetwork.locate``).
   Its peer is GEOS's ``STRtree.query_nearest`` (on 100,000 points, times 10).
3. The roads reached by 500 facilities x 3 walking thresholds (300, 500, 1,000 m:
   ``geo.isochrones.reached_lines``, graph search and pieces), next to networkx's bounded
   searches alone; then the service areas with a 100 m trim (``service_areas``: the same and
   the polygons).

Peak RSS is the process's high-water mark after each step.
"""

from __future__ import annotations

import argparse
import resource
import time

import geopandas as gpd
import numpy as np
import shapely

from geo.isochrones import reached_lines, service_areas
from geo.network import build_network

GK = 4548
X0, Y0 = 500_000.0, 4_400_000.0


def street_grid(target_edges: int, seed: int = 1, spacing: float = 90.0) -> gpd.GeoDataFrame:
    """An irregular street grid with about ``target_edges`` edges (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = int(np.sqrt(target_edges / 2 / 0.88)) + 1
    ix, iy = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x = ix * spacing + rng.normal(0, spacing * 0.18, ix.shape) + X0
    y = iy * spacing + rng.normal(0, spacing * 0.18, iy.shape) + Y0
    idx = np.arange(n * n).reshape(n, n)
    horizontal = np.c_[idx[:-1].ravel(), idx[1:].ravel()]
    vertical = np.c_[idx[:, :-1].ravel(), idx[:, 1:].ravel()]
    arterial = np.r_[(iy[:-1].ravel() % 8 == 0), (ix[:, :-1].ravel() % 8 == 0)]
    pairs = np.r_[horizontal, vertical]
    keep = arterial | (rng.random(len(pairs)) > 0.12)
    pairs, arterial = pairs[keep], arterial[keep]
    x, y = x.ravel(), y.ravel()
    a, b = pairs[:, 0], pairs[:, 1]
    bend = rng.normal(0, spacing * 0.06, (len(pairs), 2))
    coords = np.stack([np.c_[x[a], y[a]], np.c_[(x[a] + x[b]) / 2, (y[a] + y[b]) / 2] + bend,
                       np.c_[x[b], y[b]]], axis=1)
    lines = shapely.linestrings(coords)
    oneway = ~arterial & (rng.random(len(pairs)) < 0.2)
    return gpd.GeoDataFrame({
        "u": a.astype(np.int64), "v": b.astype(np.int64),
        "road_class": np.where(arterial, "primary", "residential"),
        "oneway": oneway, "speed_kmh": np.nan}, geometry=lines, crs=GK)


HEADER = f"{'network':>8} | {'step':<62} | {'seconds':>8} | {'peak RSS MB':>11} | note"


class Table(list):
    """Rows of the result table, each printed as it comes (a long run shows its progress)."""

    def append(self, row) -> None:
        super().append(row)
        label, step, sec, note, rss = row
        print(f"{label:>8} | {step:<62} | {sec:8.3f} | {rss:11.0f} | {note}", flush=True)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, repeat: int = 1):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def search_rows(edges: gpd.GeoDataFrame, label: str, peers: bool, rows: list) -> None:
    from scipy.sparse.csgraph import dijkstra

    net, t_build = timed(lambda: build_network(edges, mode="walk", metric_crs=GK))
    rows.append((label, "build RoadNetwork (pingan)", t_build, "", peak_mb()))
    graph = net.graph("from")
    rng = np.random.default_rng(5)
    sources = rng.choice(net.nodes, 500, replace=False)
    (dist, _, _), t_cs = timed(lambda: dijkstra(graph, directed=True, indices=sources,
                                                min_only=True, return_predecessors=True),
                               repeat=3)
    rows.append((label, "search: scipy csgraph dijkstra min_only (pingan)", t_cs, "1.0x",
                 peak_mb()))
    if not peers:
        return
    import networkx as nx

    coo = graph.tocoo()
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(),
                                  strict=True))
    (nx_dist, _), t_nx = timed(lambda: nx.multi_source_dijkstra(g, set(sources.tolist())),
                               repeat=3)
    got = np.array([nx_dist.get(i, np.inf) for i in range(net.nodes)])
    both = np.isfinite(got) & np.isfinite(dist)
    diff = np.abs(got[both] - dist[both]).max()
    same_reach = np.array_equal(np.isfinite(got), np.isfinite(dist))
    rows.append((label, "search: networkx multi_source_dijkstra", t_nx,
                 f"{t_nx / t_cs:.0f}x slower; max |d| diff {diff:.2e} m, reach equal "
                 f"{same_reach}", peak_mb()))
    del nx_dist
    _igraph_row(coo, sources, dist, net.nodes, label, t_cs, rows)
    if net.edges.shape[0] <= 200_000:
        _pandana_row(net, coo, sources, dist, label, t_cs, rows)
    else:
        rows.append((label, "search: pandana", float("nan"),
                     "skipped: its contraction hierarchy takes minutes to build at 100k edges",
                     peak_mb()))


def _igraph_row(coo, sources, dist, n, label, t_cs, rows):
    try:
        import igraph as ig
    except ImportError:
        rows.append((label, "search: igraph", float("nan"), "not installed", peak_mb()))
        return
    src = np.r_[coo.row, np.full(len(sources), n)]
    dst = np.r_[coo.col, sources]
    w = np.r_[coo.data, np.zeros(len(sources))]
    (g, t_g) = timed(lambda: ig.Graph(n=n + 1, edges=np.c_[src, dst], directed=True))
    (d, t_i) = timed(lambda: np.asarray(g.distances(source=[n], weights=w,
                                                    algorithm="dijkstra")[0][:n]), repeat=3)
    both = np.isfinite(d) & np.isfinite(dist)
    diff = np.abs(d[both] - dist[both]).max()
    rows.append((label, "search: igraph distances from a super source", t_i,
                 f"{t_i / t_cs:.1f}x slower (+{t_g:.2f} s graph); max |d| diff {diff:.2e} m",
                 peak_mb()))


def _pandana_row(net, coo, sources, dist, label, t_cs, rows):
    try:
        import pandana
        import pandas as pd
    except ImportError:
        rows.append((label, "search: pandana", float("nan"), "not installed", peak_mb()))
        return
    xy = np.c_[shapely.get_coordinates(shapely.get_point(net.edges.geometry.array, 0))]
    node_xy = np.zeros((net.nodes, 2))
    node_xy[net.edge_u] = xy
    node_xy[net.edge_v] = shapely.get_coordinates(shapely.get_point(net.edges.geometry.array,
                                                                    -1))
    nodes = pd.DataFrame({"x": node_xy[:, 0], "y": node_xy[:, 1]})
    # nearest_pois needs no precompute (that is for aggregations: it would store every node
    # within the radius of every node).
    radius = 3000.0

    def build():
        p = pandana.Network(nodes["x"], nodes["y"], pd.Series(coo.row), pd.Series(coo.col),
                            pd.DataFrame({"w": coo.data}), twoway=False)
        p.set_pois("f", radius, 1, pd.Series(node_xy[sources, 0]),
                   pd.Series(node_xy[sources, 1]))
        return p

    p, t_p = timed(build)
    got, t_q = timed(lambda: p.nearest_pois(radius, "f", num_pois=1), repeat=3)
    d = got[1].to_numpy(dtype=np.float64)
    within = d < radius
    diff = np.abs(d[within] - dist[within]).max()
    rows.append((label, f"search: pandana nearest_pois (CH, radius {radius:g} m)", t_q,
                 f"{t_q / t_cs:.1f}x (+{t_p:.1f} s build); max |d| diff {diff:.3f} m "
                 f"(float32, mm weights)", peak_mb()))


def demand_rows(edges: gpd.GeoDataFrame, rows: list) -> None:
    label = f"{len(edges) // 1000}k"
    net = build_network(edges, mode="walk", metric_crs=GK)
    rng = np.random.default_rng(9)
    x0, y0, x1, y1 = edges.total_bounds
    demand = gpd.GeoSeries(shapely.points(rng.uniform(x0, x1, 1_000_000),
                                          rng.uniform(y0, y1, 1_000_000)), crs=GK)
    fac = gpd.GeoDataFrame({"id": [f"F{i}" for i in range(500)]},
                           geometry=shapely.points(rng.uniform(x0, x1, 500),
                                                   rng.uniform(y0, y1, 500)), crs=GK)
    net.locate(demand.iloc[:10])  # compiles the snapping kernel (cached on disk after)
    located, t_loc = timed(lambda: net.locate(demand))
    rows.append((label, "locate 1,000,000 points (snapping only)", t_loc, "1.0x", peak_mb()))
    _geos_snap_row(net, demand, located, label, t_loc, rows)
    got, t_all = timed(lambda: net.nearest(demand, fac))
    ok = (got.frame["status"] == "ok").mean()
    rows.append((label, "nearest of 500 for 1,000,000 points, snapping included", t_all,
                 f"{ok:.1%} ok; search and evaluation {t_all - t_loc:.2f} s; limit 30 s",
                 peak_mb()))
    service_areas(net, fac.iloc[:2], max_m=(300.0,))  # compiles the kernels
    thresholds = (300.0, 500.0, 1000.0)
    lines, t_lines = timed(lambda: reached_lines(net, fac, max_m=thresholds))
    rows.append((label, "reached roads 500 facilities x 3 thresholds (search + pieces)",
                 t_lines, f"{sum(len(shapely.get_parts(g)) for g in lines.geometry.array)} "
                 "pieces", peak_mb()))
    _networkx_iso_row(net, fac, max(thresholds), label, t_lines, rows)
    areas, t_iso = timed(lambda: service_areas(net, fac, max_m=thresholds))
    rows.append((label, "service areas 500 facilities x 3 thresholds (100 m trim)", t_iso,
                 f"{len(areas)} polygons; limit 30 s", peak_mb()))


def _geos_snap_row(net, demand, located, label, t_loc, rows):
    """GEOS's nearest-edge query (``STRtree.query_nearest``) on a tenth of the points."""
    geoms = np.asarray(net.edges.geometry.array, dtype=object)
    tree = shapely.STRtree(geoms)
    pts = np.asarray(demand.array[:100_000], dtype=object)
    ((i, _), dist), t = timed(lambda: tree.query_nearest(pts, return_distance=True,
                                                          all_matches=False))
    diff = np.abs(dist - located.offset_m[i]).max()
    rows.append((label, "locate: shapely STRtree.query_nearest, 100,000 points x 10", t * 10,
                 f"{t * 10 / t_loc:.1f}x slower; max |offset| diff {diff:.1e} m", peak_mb()))


def _networkx_iso_row(net, fac, limit, label, t_lines, rows):
    """networkx's bounded searches (``single_source_dijkstra_path_length`` with a cutoff)
    from the 500 facilities' nearest nodes: the graph search alone, no pieces."""
    import networkx as nx

    coo = net.graph("from").tocoo()
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(),
                                  strict=True))
    at = net.locate(fac)
    nodes = np.where(at.along_m < net.edges["length_m"].to_numpy()[at.edge] / 2,
                     net.edge_u[at.edge], net.edge_v[at.edge])

    def run():
        return sum(len(nx.single_source_dijkstra_path_length(g, int(n), cutoff=limit))
                   for n in nodes)

    reached, t = timed(run)
    rows.append((label, f"search: networkx bounded dijkstra x 500 (cutoff {limit:g} m)", t,
                 f"{t / t_lines:.1f}x the pieces' time; {reached} nodes reached", peak_mb()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 edges only")
    args = parser.parse_args()
    rows = Table()
    print(HEADER)
    print("-" * 130, flush=True)
    small = street_grid(100_000)
    search_rows(small, f"{len(small) // 1000}k", True, rows)
    demand_rows(small, rows)
    if not args.quick:
        del small
        big = street_grid(1_000_000, seed=2)
        search_rows(big, f"{len(big) // 1000}k", True, rows)
    print("\n" + HEADER)
    print("-" * 130)
    for label, step, sec, note, rss in rows:
        print(f"{label:>8} | {step:<62} | {sec:8.3f} | {rss:11.0f} | {note}")


if __name__ == "__main__":
    main()
