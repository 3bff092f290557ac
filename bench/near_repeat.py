"""Benchmark: pingan's Knox table (geo.nearrepeat) against the straightforward peer.

Draws a seeded synthetic city of ``--incidents`` incidents over a square of ``--side-km``
kilometres (default 200,000 over 30 × 30 km = 900 km²) across two years: 80 % uniform in space
and time, 20 % near repeats (within ~100 m and two weeks of an earlier incident). Bands are the
issue's: 0, 100, 200, 400, 800 m and 0, 7, 14, 30, 60 days. Then, each in a fresh process so
their memory is measured apart, it runs:

- pingan: ``geo.nearrepeat.knox_table`` on the GeoDataFrame (projection, local days, the
  numba cell-list pair query, the observed table and ``--permutations`` permutations);
- the peer: ``scipy.spatial.cKDTree.query_pairs(r, output_type='ndarray')`` on the same metric
  coordinates, distance and time bands with ``numpy.searchsorted``, and a numpy loop over the
  same number of permutations (gather the permuted days of both ends of every pair, bin,
  ``bincount``). The peer gets the projected coordinates and day numbers ready-made, which
  favours it.

It prints a table: wall and CPU time (median of ``--repeat`` runs for each, after one untimed
warm-up each, which for pingan compiles the numba kernels), peak additional resident memory
(VmHWM after reset through /proc/self/clear_refs, minus the resident set before the run),
pairs within the largest band, bytes per pair, and whether the observed tables are identical.

Run: ``python bench/near_repeat.py [--incidents 200000] [--permutations 99] [--quick]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

# bench/ holds a coverage.py that would shadow the coverage package numba imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPACE_M = (0.0, 100.0, 200.0, 400.0, 800.0)
TIME_DAYS = (0, 7, 14, 30, 60)
ORIGIN = (440_000.0, 4_400_000.0)  # EPSG:4548 (CGCS2000 GK CM 117E), near Beijing
CRS = "EPSG:4548"


def make_city(n: int, side_km: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y (metres, EPSG:4548) and day numbers of a synthetic city with near repeats."""
    rng = np.random.default_rng(seed)
    side = side_km * 1000.0
    n_rep = n // 5
    n_bg = n - n_rep
    x = np.empty(n)
    y = np.empty(n)
    day = np.empty(n, dtype=np.int64)
    x[:n_bg] = ORIGIN[0] + rng.uniform(0, side, n_bg)
    y[:n_bg] = ORIGIN[1] + rng.uniform(0, side, n_bg)
    day[:n_bg] = rng.integers(0, 730, n_bg)
    parent = rng.integers(0, n_bg, n_rep)
    x[n_bg:] = np.clip(x[parent] + rng.normal(0, 70, n_rep), ORIGIN[0], ORIGIN[0] + side)
    y[n_bg:] = np.clip(y[parent] + rng.normal(0, 70, n_rep), ORIGIN[1], ORIGIN[1] + side)
    day[n_bg:] = np.minimum(day[parent] + rng.integers(0, 15, n_rep), 729)
    return x, y, day + 19_723  # 2024-01-01


def frame(x: np.ndarray, y: np.ndarray, day: np.ndarray):
    import geopandas as gpd
    import pandas as pd

    seconds = np.random.default_rng(1).integers(0, 86_400, len(day))
    local = pd.to_datetime(day * 86_400 + seconds, unit="s")
    occurred = pd.DatetimeIndex(local).tz_localize("Asia/Shanghai").tz_convert("UTC")
    return gpd.GeoDataFrame({"id": np.arange(len(x)).astype(str), "occurred_at": occurred},
                            geometry=gpd.points_from_xy(x, y), crs=CRS)


def run_pingan(gdf, permutations: int):
    from geo.nearrepeat import knox_table

    result = knox_table(gdf, space_m=SPACE_M, time_days=TIME_DAYS, permutations=permutations,
                        seed=7, metric_crs=CRS)
    return result.table("observed").to_numpy(), result.n_pairs


def run_peer(x: np.ndarray, y: np.ndarray, day: np.ndarray, permutations: int):
    from scipy.spatial import cKDTree

    pairs = cKDTree(np.column_stack([x, y])).query_pairs(SPACE_M[-1], output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    dx = x[i] - x[j]
    dy = y[i] - y[j]
    uppers = np.array([0.5, *SPACE_M[1:]])
    sband = np.searchsorted(uppers, np.sqrt(dx * dx + dy * dy), side="left")
    del dx, dy
    t_uppers = np.array(TIME_DAYS)
    n_t = len(t_uppers)

    def table(d: np.ndarray) -> np.ndarray:
        gap = np.abs(d[i] - d[j])
        keep = gap <= t_uppers[-1]
        tband = np.searchsorted(t_uppers, gap[keep], side="left")
        cells = sband[keep] * n_t + tband
        return np.bincount(cells, minlength=len(uppers) * n_t).reshape(len(uppers), n_t)

    observed = table(day)
    rng = np.random.default_rng(7)
    for _ in range(permutations):
        table(rng.permutation(day))
    return observed, len(i)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _child(which: str, n: int, side_km: float, permutations: int, repeat: int, queue) -> None:
    x, y, day = make_city(n, side_km, seed=20250101)
    gdf = frame(x, y, day) if which == "pingan" else None
    times = []
    runs = repeat + 1  # one untimed warm-up each (pingan's compiles the numba kernels)
    for k in range(runs):
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current resident set
        before = _status_kib("VmRSS")
        cpu = time.process_time()
        start = time.perf_counter()
        if which == "pingan":
            observed, n_pairs = run_pingan(gdf, permutations)
        else:
            observed, n_pairs = run_peer(x, y, day, permutations)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        peak = _status_kib("VmHWM") - before
        if k > 0:
            times.append((elapsed, cpu))
    wall, cpu = np.median(np.array(times), axis=0)
    queue.put((float(wall), peak, n_pairs, observed, float(cpu)))


def measure(which: str, n: int, side_km: float, permutations: int, repeat: int):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(which, n, side_km, permutations, repeat, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--side-km", type=float, default=30.0)
    parser.add_argument("--permutations", type=int, default=99)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 incidents, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.incidents, args.repeat = 20_000, 1
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"{args.incidents:,} incidents over {args.side_km:g} x {args.side_km:g} km, bands "
          f"{SPACE_M[-1]:g} m / {TIME_DAYS[-1]} days, {args.permutations} permutations")
    ours = measure("pingan", args.incidents, args.side_km, args.permutations, args.repeat)
    peer = measure("peer", args.incidents, args.side_km, args.permutations, args.repeat)
    same = ours[2] == peer[2] and np.array_equal(ours[3], peer[3])
    rows = [("pingan knox_table", ours), ("cKDTree.query_pairs + numpy loop", peer)]
    print()
    print(f"{'implementation':<34} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'pairs':>12} "
          f"{'B/pair':>7}")
    for name, (secs, peak_kib, pairs, _, cpu) in rows:
        print(f"{name:<34} {secs:>8.2f} {cpu:>8.2f} {peak_kib / 1024:>9.0f} {pairs:>12,} "
              f"{peak_kib * 1024 / max(pairs, 1):>7.1f}")
    print()
    print(f"speed-up: {peer[0] / ours[0]:.1f}x wall, {peer[4] / ours[4]:.1f}x CPU (pingan "
          f"uses both cores); identical observed tables and pair counts: {same}")
    print("observed (rows: same location, 0.5-100, 100-200, 200-400, 400-800 m; "
          "columns: same day, 1-7, 8-14, 15-30, 31-60 days):")
    print(ours[3])


if __name__ == "__main__":
    main()
