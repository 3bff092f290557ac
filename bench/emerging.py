"""Benchmark: emerging hot spots (geo.emerging) against a straightforward peer.

Two space-time cubes, each run once per ``--repeat`` in the same process:

- the **sample city** (``geo.sample.generate_city``): its incidents of 2024-2025 on 250 m cells
  meeting its communities, by week (104 steps) and by month (24 steps);
- a **synthetic city** of ``--incidents`` incidents (default 500,000) over ``--side-km`` km
  (default 30, so 14,400 cells of 250 m) and 104 weeks of 2024-2025: 80 % of them in 200
  Gaussian hot spots of 150 m to 1 km, each with its own start, end and growth, 20 % spread
  evenly.

pingan's time is ``emerging_hot_spots`` end to end (locating, counting the cube, Gi*, FDR,
Mann-Kendall, categories). The peer takes pingan's count cube and recomputes the statistics
the straightforward way: Gi* by summing the shifted neighbours of a dense (x, y, t) array in
Python loops over the offsets, Benjamini–Hochberg by ``statsmodels.stats.multitest``
(``fdr_bh``) and Mann-Kendall by ``pymannkendall.original_test`` cell by cell. The table
prints both times and the largest differences of z, q, Mann-Kendall z and p (they must be at
round-off), and the categories found.

Run: ``python bench/emerging.py [--incidents 500000] [--side-km 30] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

# bench/ holds a coverage.py that would shadow the coverage package numba imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402
import pymannkendall  # noqa: E402
import shapely  # noqa: E402
from scipy.stats import norm  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402

from geo.emerging import emerging_hot_spots  # noqa: E402

X0, Y0 = 440_000.0, 4_400_000.0
CRS = "EPSG:4548"
CELL = 250.0
FIRST_MONDAY = pd.Timestamp("2024-01-01")
PERIOD = "2024-01-01..2025-12-31"


def synthetic_city(n: int, side_m: float, seed: int) -> gpd.GeoDataFrame:
    """Incidents over 104 weeks: hot spots that start, stop, grow or fade, and a background."""
    rng = np.random.default_rng(seed)
    n_hot = int(0.8 * n)
    spots = 200
    centres = rng.uniform(0.1 * side_m, 0.9 * side_m, (spots, 2))
    sigma = rng.uniform(150, 1000, spots)
    start = rng.integers(0, 80, spots)
    end = np.minimum(start + rng.integers(20, 104, spots), 104)
    growth = rng.uniform(-0.02, 0.04, spots)
    # Each hot-spot incident: a spot, then a week inside the spot's life weighted by its growth.
    k = rng.integers(0, spots, n_hot)
    u = rng.uniform(size=n_hot)
    life = end[k] - start[k]
    g = growth[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(np.abs(g) < 1e-9, u * life,
                          np.log1p(u * np.expm1(g * life)) / g)
    weeks = np.empty(n, dtype=np.int64)
    weeks[:n_hot] = start[k] + np.minimum(offset.astype(np.int64), life - 1)
    weeks[n_hot:] = rng.integers(0, 104, n - n_hot)
    xy = np.empty((n, 2))
    xy[:n_hot] = centres[k] + rng.normal(size=(n_hot, 2)) * sigma[k, None]
    xy[n_hot:] = rng.uniform(0, side_m, (n - n_hot, 2))
    seconds = rng.integers(0, 7 * 86_400, n)
    local = FIRST_MONDAY + pd.to_timedelta(weeks * 7 * 86_400 + seconds, unit="s")
    occurred = pd.DatetimeIndex(local).tz_localize("Asia/Shanghai").tz_convert("UTC")
    return gpd.GeoDataFrame({"id": np.arange(n).astype(str), "occurred_at": occurred},
                            geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]), crs=CRS)


def peer(counts: np.ndarray, ix: np.ndarray, iy: np.ndarray, rings: int, lags: int,
         alpha: float) -> dict[str, np.ndarray]:
    """Gi*, BH q values and Mann-Kendall the straightforward way, from the same count cube."""
    x0, y0 = ix.min(), iy.min()
    nx, ny = ix.max() - x0 + 1, iy.max() - y0 + 1
    steps = counts.shape[1]
    pad = rings
    dense = np.zeros((nx + 2 * pad, ny + 2 * pad, steps + lags))
    member = np.zeros((nx + 2 * pad, ny + 2 * pad, steps + lags))
    dense[ix - x0 + pad, iy - y0 + pad, lags:] = counts
    member[ix - x0 + pad, iy - y0 + pad, lags:] = 1.0
    local = np.zeros((len(ix), steps))
    weights = np.zeros((len(ix), steps))
    for dx in range(-rings, rings + 1):
        for dy in range(-rings, rings + 1):
            for lag in range(lags + 1):
                sel = (ix - x0 + pad + dx, iy - y0 + pad + dy)
                local += dense[sel][:, lags - lag:lags - lag + steps]
                weights += member[sel][:, lags - lag:lags - lag + steps]
    n = counts.size
    mean = counts.mean()
    sd = counts.std()
    z = (local - mean * weights) / (sd * np.sqrt((n * weights - weights ** 2) / (n - 1)))
    p = 2 * norm.sf(np.abs(z))
    q = multipletests(p.ravel(), alpha=alpha, method="fdr_bh")[1].reshape(p.shape)
    tests = [pymannkendall.original_test(row, alpha=alpha) for row in z]
    # pymannkendall's own z has a continuity correction; the test (and pingan) has
    # none: S / sqrt(var S) with its ties-corrected variance.
    s = np.array([t.s for t in tests], dtype=np.float64)
    var = np.array([t.var_s for t in tests], dtype=np.float64)
    mk_z = np.divide(s, np.sqrt(var), out=np.zeros_like(s), where=var > 0)
    return {"z": z, "q": q, "mk_z": mk_z, "mk_p": 2 * norm.sf(np.abs(mk_z))}


def run(label: str, incidents: gpd.GeoDataFrame, area, step: str, repeat: int) -> None:
    walls, cpus = [], []
    result = None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        result = emerging_hot_spots(incidents, area, cell_m=CELL, step=step, period=PERIOD)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    assert result is not None
    counts = result.counts.to_numpy()
    ix = result.frame["ix"].to_numpy()
    iy = result.frame["iy"].to_numpy()
    cpu, wall = time.process_time(), time.perf_counter()
    other = peer(counts, ix, iy, rings=1, lags=1, alpha=0.05)
    peer_wall, peer_cpu = time.perf_counter() - wall, time.process_time() - cpu
    dz = np.nanmax(np.abs(result.gi_z.to_numpy() - other["z"]))
    dq = np.nanmax(np.abs(result.q_values.to_numpy() - other["q"]))
    frame = result.frame
    dtau = np.nanmax(np.abs(frame["trend_z"].to_numpy() - other["mk_z"]))
    dp = np.nanmax(np.abs(frame["trend_p"].to_numpy() - other["mk_p"]))
    wall, cpu = float(np.median(walls)), float(np.median(cpus))
    print(f"{label:<34} {counts.shape[0]:>7,} {counts.shape[1]:>5} {int(counts.sum()):>9,} "
          f"{wall:>8.2f} {cpu:>7.2f} {peer_wall:>8.2f} {peer_cpu:>7.2f} {peer_wall / wall:>6.1f}x "
          f"{dz:>8.1e} {dq:>8.1e} {dtau:>8.1e} {dp:>8.1e}")
    found = frame["category"].value_counts()
    print(f"{'':<34} categories: "
          + ", ".join(f"{k} {v}" for k, v in found.items() if k != "no_pattern")
          + f"; no_pattern {int(found.get('no_pattern', 0))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=500_000)
    parser.add_argument("--side-km", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print("cells of 250 m, 1 ring of neighbours, 1 earlier step, alpha 0.05; peer: dense "
          "shifts + statsmodels fdr_bh + pymannkendall.original_test per cell, on pingan's cube")
    print()
    print(f"{'cube':<34} {'cells':>7} {'steps':>5} {'incidents':>9} {'wall s':>8} {'CPU s':>7} "
          f"{'peer s':>8} {'CPU s':>7} {'ratio':>7} {'max dz':>8} {'max dq':>8} {'max dMKz':>8} "
          f"{'max dp':>8}")
    from geo.sample import generate_city

    city = generate_city()
    communities = city.communities
    for step in ("week", "month"):
        run(f"sample city, {step}s", city.incidents, communities, step, args.repeat)
    side = args.side_km * 1000
    incidents = synthetic_city(args.incidents, side, args.seed)
    area = gpd.GeoSeries([shapely.box(X0, Y0, X0 + side, Y0 + side)], crs=CRS)
    run(f"synthetic {args.side_km:g} km, weeks", incidents, area, "week", args.repeat)


if __name__ == "__main__":
    main()
