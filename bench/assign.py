"""Benchmark: pingan's point-in-polygon engine (geo.assign) against geopandas.sjoin.

Builds the sample city's boundaries at ~3,000 communities (``geo.sample.generate_boundaries``),
draws seeded incident-like points (clustered around hot spots inside the city, a spread of
points over and beyond the city's extent, and some exactly on boundary vertices), and for each
point count prints, from this one run:

- pingan: index build time, assignment time, points/s end to end (build + assign) and for the
  assignment alone (median of ``--repeat`` runs);
- geopandas.sjoin(predicate="intersects") followed by the same boundary rule (smallest polygon
  position per point): time and points/s (median of as many runs as pingan's; the points'
  GeoDataFrame is built before the clock starts, which favours sjoin);
- the ratio of the two throughputs, and how many points got a different polygon (must be 0);
- pingan's peak additional memory for build + assign, measured in a fresh process as the
  kernel's resident-set high-water mark (VmHWM, reset through /proc/self/clear_refs) minus the
  resident set before the build, against the size of the coordinate arrays (x and y float64).

Run: ``python bench/assign.py [--communities 3000] [--points 1000000 5000000] [--quick]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.assign import PolygonIndex
from geo.sample import generate_boundaries

METRES_PER_DEGREE = 111_320.0


def draw_points(polygons: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Incident-like points: hot spots, a background spread, points outside, vertices."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = shapely.total_bounds(polygons)
    x = np.empty(n)
    y = np.empty(n)
    n_hot = int(n * 0.85)
    n_vertex = max(int(n * 0.002), 1)
    n_spread = n - n_hot - n_vertex
    # Hot spots at communities' representative points, each a Gaussian of 100 m to 1 km.
    anchors = shapely.get_coordinates(shapely.point_on_surface(polygons))
    n_spots = min(400, len(anchors))
    centre = anchors[rng.choice(len(anchors), n_spots, replace=False)]
    sigma_deg = rng.uniform(100, 1000, n_spots) / METRES_PER_DEGREE
    k = rng.integers(0, n_spots, n_hot)
    x[:n_hot] = centre[k, 0] + rng.normal(size=n_hot) * sigma_deg[k] / np.cos(np.radians(39.9))
    y[:n_hot] = centre[k, 1] + rng.normal(size=n_hot) * sigma_deg[k]
    # Background over the extent and 10 % beyond it (the city outline is irregular, so a
    # good share of these fall outside every community).
    pad_x, pad_y = 0.1 * (xmax - xmin), 0.1 * (ymax - ymin)
    x[n_hot : n_hot + n_spread] = rng.uniform(xmin - pad_x, xmax + pad_x, n_spread)
    y[n_hot : n_hot + n_spread] = rng.uniform(ymin - pad_y, ymax + pad_y, n_spread)
    coords = shapely.get_coordinates(polygons)
    v = rng.integers(0, len(coords), n_vertex)
    x[n - n_vertex :], y[n - n_vertex :] = coords[v, 0], coords[v, 1]
    order = rng.permutation(n)
    return x[order], y[order]


def sjoin_assign(points: gpd.GeoDataFrame, polys: gpd.GeoDataFrame) -> np.ndarray:
    """geopandas.sjoin(predicate="intersects") + the smallest polygon position per point."""
    joined = gpd.sjoin(points, polys, predicate="intersects", how="inner")
    out = np.full(len(points), -1, dtype=np.int64)
    smallest = joined.groupby(level=0)["index_right"].min()
    out[smallest.index.to_numpy()] = smallest.to_numpy()
    return out


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _measure_memory(wkb: np.ndarray, x: np.ndarray, y: np.ndarray, queue) -> None:
    polygons = shapely.from_wkb(wkb)
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current resident set
    base = _status_kib("VmRSS")
    index = PolygonIndex.build(polygons)
    result = index.assign(x, y)
    peak = _status_kib("VmHWM")
    queue.put(((peak - base) * 1024, index.nbytes, int(result.size)))


def peak_memory(polygons: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """Peak additional resident memory of build + assign in a fresh process, and index size."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure_memory, args=(shapely.to_wkb(polygons), x, y, queue))
    proc.start()
    extra, index_bytes, _ = queue.get()
    proc.join()
    return extra, index_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communities", type=int, default=3000)
    parser.add_argument("--points", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="pingan runs per size (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="300 communities, 200k points")
    args = parser.parse_args()
    if args.quick:
        args.communities, args.points, args.repeat = 300, [200_000], 1

    n_sub = max(2, args.communities // 50)
    t0 = time.perf_counter()
    frame = generate_boundaries(
        args.communities, n_subdistricts=n_sub, n_districts=min(6, n_sub), seed=args.seed
    )
    t_gen = time.perf_counter() - t0
    polygons = np.asarray(frame.geometry.array, dtype=object)
    vertices = shapely.get_num_coordinates(polygons)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, shapely {shapely.__version__} (GEOS "
          f"{shapely.geos_version_string}), geopandas {gpd.__version__}")
    print(f"boundaries: {len(polygons)} communities, {vertices.sum():,} vertices "
          f"(median {np.median(vertices):.0f} per community), generated in {t_gen:.1f} s")
    x_all, y_all = draw_points(polygons, max(args.points), args.seed + 1)
    polys = gpd.GeoDataFrame(geometry=polygons, crs=frame.crs)

    header = (
        f"{'points':>10} {'build s':>8} {'assign s':>9} {'pingan Mpt/s':>13} "
        f"{'assign Mpt/s':>13} {'sjoin s':>8} {'sjoin Mpt/s':>12} {'ratio':>7} "
        f"{'ratio assign':>13} {'diffs':>6} {'in polys':>9} {'peak MB':>8} "
        f"{'coords MB':>10} {'peak/coords':>12}"
    )
    rows = []
    for n in args.points:
        x, y = x_all[:n], y_all[:n]
        builds, assigns = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            index = PolygonIndex.build(polygons)
            t1 = time.perf_counter()
            got = index.assign(x, y)
            t2 = time.perf_counter()
            builds.append(t1 - t0)
            assigns.append(t2 - t1)
        build, assign = float(np.median(builds)), float(np.median(assigns))
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=frame.crs)
        sjoins = []
        for _ in range(args.repeat):  # as many runs as pingan's
            t0 = time.perf_counter()
            want = sjoin_assign(points, polys)
            sjoins.append(time.perf_counter() - t0)
        t_sjoin = float(np.median(sjoins))
        del points
        extra, index_bytes = peak_memory(polygons, x, y)
        coords = x.nbytes + y.nbytes
        rows.append(
            f"{n:>10,} {build:>8.3f} {assign:>9.3f} {n / (build + assign) / 1e6:>13.1f} "
            f"{n / assign / 1e6:>13.1f} {t_sjoin:>8.2f} {n / t_sjoin / 1e6:>12.2f} "
            f"{t_sjoin / (build + assign):>7.1f} {t_sjoin / assign:>13.1f} "
            f"{int((got != want).sum()):>6} {(want >= 0).mean():>9.1%} {extra / 1e6:>8.1f} "
            f"{coords / 1e6:>10.1f} {extra / coords:>12.2f}"
        )
        print(f"  done {n:,} points (index {index_bytes / 1e6:.0f} MB, {index})", flush=True)
    print()
    print(header)
    print("\n".join(rows))
    print(
        "\npingan and sjoin times are the median of", args.repeat, "runs each; Mpt/s = million "
        "points per second; ratio = sjoin time / pingan (build + assign) time; diffs = points "
        "assigned differently from sjoin + rule; peak MB = resident high-water mark of build + "
        "assign in a fresh process minus its resident set before (VmHWM), including the index "
        "and the result array."
    )


if __name__ == "__main__":
    main()
