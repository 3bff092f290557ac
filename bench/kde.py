"""Benchmark: pingan's kernel density surfaces (geo.density) against direct sums and scikit-learn.

Draws a seeded synthetic city: ``--incidents`` incidents (default 1,000,000) over a 30 × 30 km
study area, 85 % in 300 Gaussian hot spots of 100 m to 1 km and 15 % spread evenly, and a
grid of 600 × 600 cells of 50 m. Then, in one run, it times:

- pingan binned mode, quartic kernel, ArcGIS's default bandwidth (the issue's target: <= 5 s);
- pingan binned mode, Gaussian kernel with σ = half that bandwidth;
- pingan exact mode (numba direct sums over the points within reach): the reference the
  binned surfaces are compared with (max |binned − exact| / max exact); for the Gaussian,
  whose reach is 8.6 σ, on a subsample of ``--gauss-sample`` incidents (binned and exact both);
- scikit-learn ``KernelDensity(kernel="gaussian", algorithm="kd_tree", rtol=0)`` on a random
  subsample of ``--sklearn-sample`` incidents, scored at the 360,000 cell centres; its time is
  scaled by incidents / sample to the full set (the tree sums every point within reach of a
  centre, so its work grows in proportion to the points), and its surface (times the same
  factor) is compared with pingan exact mode on the same subsample.

Each timing is the median of ``--repeat`` runs after one warm-up (numba compiles its kernels
once per machine); wall and CPU seconds are printed because the machine is shared.

Run: ``python bench/kde.py [--incidents 1000000] [--repeat 3] [--quick]``.
"""

from __future__ import annotations

import argparse
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
import shapely  # noqa: E402

from geo.density import default_bandwidth_m, kernel_density  # noqa: E402

X0, Y0, SIDE = 440_000.0, 4_400_000.0, 30_000.0
CRS = "EPSG:4548"


def city(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    n_hot = int(n * 0.85)
    centres = rng.uniform(0, SIDE, (300, 2))
    sigma = rng.uniform(100, 1000, 300)
    k = rng.integers(0, 300, n_hot)
    xy = np.empty((n, 2))
    xy[:n_hot] = centres[k] + rng.normal(size=(n_hot, 2)) * sigma[k, None]
    xy[n_hot:] = rng.uniform(0, SIDE, (n - n_hot, 2))
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]), crs=CRS)


def timed(repeat: int, fn):
    fn()  # warm-up
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.median(cpus)), out


def sklearn_surface(points: gpd.GeoDataFrame, sigma: float, result) -> np.ndarray:
    from sklearn.neighbors import KernelDensity

    xy = np.column_stack([points.geometry.x, points.geometry.y])
    model = KernelDensity(kernel="gaussian", bandwidth=sigma, algorithm="kd_tree", rtol=0.0)
    model.fit(xy)
    cols = np.arange(result.width)
    rows = np.arange(result.height)
    cx = result.transform[2] + (cols + 0.5) * result.cell_m
    cy = result.transform[5] - (rows + 0.5) * result.cell_m
    gx, gy = np.meshgrid(cx, cy)
    density = np.exp(model.score_samples(np.column_stack([gx.ravel(), gy.ravel()])))
    return density.reshape(result.height, result.width) * len(xy) * 1e6


def max_relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.nanmax(np.abs(a - b)) / np.nanmax(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--sklearn-sample", type=int, default=10_000)
    parser.add_argument("--gauss-sample", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100,000 incidents, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.incidents, args.repeat, args.sklearn_sample = 100_000, 1, 2_000
        args.gauss_sample = 10_000
    points = city(args.incidents, seed=20250101)
    area = gpd.GeoSeries([shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE)], crs=CRS)
    h = default_bandwidth_m(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    sigma = h / 2
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"{args.incidents:,} incidents, 600 x 600 cells of 50 m; quartic radius {h:.1f} m "
          f"(ArcGIS default), Gaussian sigma {sigma:.1f} m")

    def run(kernel: str, mode: str, bandwidth: float, data: gpd.GeoDataFrame = points):
        return lambda: kernel_density(data, area, cell_m=50.0, kernel=kernel, mode=mode,
                                      bandwidth_m=bandwidth)

    rows = []
    quartic_binned = timed(args.repeat, run("quartic", "binned", h))
    quartic_exact = timed(args.repeat, run("quartic", "exact", h))
    gauss_binned = timed(args.repeat, run("gaussian", "binned", sigma))
    subset = points.sample(args.gauss_sample, random_state=2)
    gauss_exact = timed(1, run("gaussian", "exact", sigma, subset))
    gauss_sub = run("gaussian", "binned", sigma, subset)()
    q_err = max_relative(quartic_binned[2].density_per_km2, quartic_exact[2].density_per_km2)
    g_err = max_relative(gauss_sub.density_per_km2, gauss_exact[2].density_per_km2)
    rows.append(("pingan binned, quartic", quartic_binned, f"{q_err:.1e}"))
    rows.append(("pingan exact, quartic", quartic_exact, "reference"))
    rows.append(("pingan binned, gaussian", gauss_binned,
                 f"{g_err:.1e} (on {args.gauss_sample:,})"))
    rows.append((f"pingan exact, gaussian ({args.gauss_sample:,})", gauss_exact, "reference"))

    sample = points.sample(args.sklearn_sample, random_state=1)
    scale = args.incidents / args.sklearn_sample
    sk = timed(args.repeat, lambda: sklearn_surface(sample, sigma, gauss_exact[2]))
    ours = kernel_density(sample, area, cell_m=50.0, kernel="gaussian", mode="exact",
                          bandwidth_m=sigma).density_per_km2
    sk_err = max_relative(sk[2], ours)
    rows.append((f"sklearn KernelDensity x{scale:g} (scaled)",
                 (sk[0] * scale, sk[1] * scale, None), f"{sk_err:.1e} vs exact"))

    print()
    print(f"{'surface':<36} {'wall s':>9} {'CPU s':>9}  max |diff| / max")
    for name, (wall, cpu, _), err in rows:
        print(f"{name:<36} {wall:>9.2f} {cpu:>9.2f}  {err}")
    print()
    print(f"binned quartic vs sklearn (scaled): {sk[0] * scale / quartic_binned[0]:.0f}x; "
          f"vs pingan exact: {quartic_exact[0] / quartic_binned[0]:.1f}x")


if __name__ == "__main__":
    main()
