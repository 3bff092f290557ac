"""Benchmark camera coverage and nearest-facility queries against geopandas.

Run ``python bench/coverage.py [--quick] [--repeat N]`` from the repository root. Prints one
table; the targets are the issue's:

(a) camera coverage of ~3,000 synthetic communities (``geo.sample.generate_boundaries``, ~300
    vertices each) by 50,000 working view sectors. The kernel row runs
    ``geo.uncovered.uncovered_parts`` (each community minus the union of the sectors that
    touch it: Clipper2 through pyclipr when installed, else GEOS) on one thread, against
    geopandas ``overlay(how="intersection")`` + ``dissolve``, both given the same sector
    polygons in the same metric CRS, and shows the largest difference of the coverage shares
    (target: 3 times as fast, shares equal to 1e-9). pingan's kernel returns the blind-spot
    polygons as well; geopandas' returns the covered polygons. A second peer is what a
    competent user writes without overlay: an ``STRtree`` of the sectors, then per community
    the union of the sectors it finds and the intersection with the community (target: 5
    times as fast). Then
    ``geo.cameras.camera_metrics`` end to end (EPSG:4326 devices in; metrics and blind spots
    in EPSG:4326 out) at 50,000 and 1,000,000 cameras (target: a million in under a minute).
(b) nearest facility of 1,000,000 points: ``geo.nearest.nearest_facility`` against
    ``geopandas.sjoin_nearest``, both given the same GeoDataFrames in the metric CRS, and the
    largest distance difference (target: 5 times as fast, identical distances), and against
    the plain way on arrays: ``scipy.spatial.cKDTree(facility_xy).query(point_xy,
    workers=-1)`` given the coordinate arrays ready (their extraction not counted; target:
    twice as fast); then pingan again from EPSG:4326 frames (its projection counted, the
    peers' not).

Cameras are placed like real ones: 60 % along the community boundaries (streets), jittered
10 m and kept inside, 40 % anywhere inside; communities are drawn in proportion to their
population. ``--quick`` uses 600 communities, 10,000 / 100,000 cameras and 100,000 points.

The machine is shared, so every timed row runs its contenders interleaved (pingan, then
the peers, again and again: a burst of load from other users falls on all), ``--repeat``
times each, the same number of runs for every contender (default 5, ``--quick`` 3; the
million-camera row, pingan alone, twice), and reports the minimum and the median of each, and
the ratio of the minima and of the medians. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo import uncovered as uncovered_module
from geo.cameras import camera_metrics, view_sectors
from geo.nearest import nearest_facility
from geo.projection import choose_metric_crs
from geo.sample import generate_boundaries
from geo.uncovered import uncovered_parts

SEED = 20240601


def place_cameras(communities: gpd.GeoDataFrame, n: int, metric: pyproj.CRS,
                  rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Camera devices (EPSG:4326) inside the communities, most of them along the boundaries."""
    comm = communities.to_crs(metric).geometry.to_numpy()
    shapely.prepare(comm)
    pop = communities["population"].to_numpy(dtype=float)
    owner = rng.choice(len(comm), size=n, p=pop / pop.sum())
    x = np.empty(n)
    y = np.empty(n)
    on_edge = rng.random(n) < 0.6
    todo = np.arange(n)
    rings = shapely.boundary(comm)
    bounds = shapely.bounds(comm)
    while len(todo):
        o = owner[todo]
        edge = on_edge[todo]
        px = rng.uniform(bounds[o, 0], bounds[o, 2])
        py = rng.uniform(bounds[o, 1], bounds[o, 3])
        if edge.any():
            along = shapely.line_interpolate_point(rings[o[edge]], rng.random(int(edge.sum())),
                                                   normalized=True)
            px[edge] = shapely.get_x(along) + rng.normal(0, 10, int(edge.sum()))
            py[edge] = shapely.get_y(along) + rng.normal(0, 10, int(edge.sum()))
        inside = shapely.contains_xy(comm[o], px, py)
        x[todo[inside]] = px[inside]
        y[todo[inside]] = py[inside]
        todo = todo[~inside]
    kinds = rng.choice(["camera", "dome", "ptz", "face", "plate"], size=n,
                       p=[0.55, 0.2, 0.05, 0.1, 0.1])
    fov = rng.choice([60.0, 90.0, 110.0], size=n)
    rng_m = rng.choice([20.0, 30.0, 50.0, np.nan], size=n, p=[0.3, 0.3, 0.2, 0.2])
    azimuth = rng.uniform(0, 360, n)
    azimuth[kinds == "ptz"] = np.nan  # a PTZ camera turns: it sees a circle
    to_wgs84 = pyproj.Transformer.from_crs(metric, 4326, always_xy=True)
    lon, lat = to_wgs84.transform(x, y)
    return gpd.GeoDataFrame(
        {
            "id": [f"d{i}" for i in range(n)],
            "kind": kinds,
            "azimuth_deg": azimuth,
            "fov_deg": fov,
            "range_m": rng_m,
            "status": np.where(rng.random(n) < 0.05, "faulty", "working"),
        },
        geometry=shapely.points(lon, lat),
        crs=4326,
    )


def race(contenders: dict[str, Callable[[], Any]], repeat: int
         ) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Run the contenders in turn, ``repeat`` rounds; their last results and all wall times.

    Alternating keeps a burst of load from other users of the machine from falling on one
    contender only.
    """
    results: dict[str, Any] = {}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
    return results, times


def row(case: str, size: str, ours: list[float], theirs: list[float] | None, diff: float,
        target: str, note: str) -> dict[str, Any]:
    base_min = min(theirs) if theirs else np.nan
    base_med = statistics.median(theirs) if theirs else np.nan
    return {
        "case": case, "size": size, "runs": len(ours),
        "pingan_min_s": min(ours), "pingan_med_s": statistics.median(ours),
        "base_min_s": base_min, "base_med_s": base_med,
        "ratio_min": base_min / min(ours), "ratio_med": base_med / statistics.median(ours),
        "max_abs_diff": diff, "target": target, "note": note,
    }


def geopandas_shares(sectors: gpd.GeoDataFrame, comm: gpd.GeoDataFrame) -> np.ndarray:
    pieces = gpd.overlay(sectors, comm[["code", "geometry"]], how="intersection",
                         keep_geom_type=True)
    covered = pieces.dissolve(by="code").area
    area = comm.set_index("code").area
    return (covered.reindex(area.index).fillna(0.0) / area).to_numpy()


def strtree_shares(sectors: np.ndarray, comm: np.ndarray) -> np.ndarray:
    """The plain way: per community, the union of the sectors an STRtree finds, clipped."""
    tree = shapely.STRtree(sectors)
    owner, found = tree.query(comm, predicate="intersects")
    order = np.argsort(owner, kind="stable")
    owner, found = owner[order], found[order]
    starts = np.searchsorted(owner, np.arange(len(comm) + 1))
    covered = np.zeros(len(comm))
    for c in range(len(comm)):
        hits = found[starts[c]:starts[c + 1]]
        if len(hits):
            covered[c] = shapely.area(shapely.intersection(
                comm[c], shapely.union_all(sectors[hits])))
    return covered / shapely.area(comm)


def pingan_shares(sectors: np.ndarray, comm: np.ndarray) -> np.ndarray:
    blind = uncovered_parts(comm, sectors, workers=1)
    return 1.0 - shapely.area(blind) / shapely.area(comm)


def nearest_rows(communities: gpd.GeoDataFrame, comm_m: gpd.GeoDataFrame, metric: pyproj.CRS,
                 n_comm: int, n_pts: int, repeat: int) -> list[dict[str, Any]]:
    """(b): pingan's nearest_facility against geopandas.sjoin_nearest."""
    rng = np.random.default_rng(SEED + 1)
    n_fac = max(50, n_comm // 10)
    fac_idx = rng.choice(len(communities), size=n_fac, replace=False)
    facilities = gpd.GeoDataFrame(
        {"id": [f"f{i}" for i in range(n_fac)], "type": "police_station"},
        geometry=communities.geometry.iloc[fac_idx].representative_point().to_numpy(),
        crs=4326)
    xmin, ymin, xmax, ymax = comm_m.total_bounds
    px = rng.uniform(xmin, xmax, n_pts)
    py = rng.uniform(ymin, ymax, n_pts)
    lon, lat = pyproj.Transformer.from_crs(metric, 4326, always_xy=True).transform(px, py)
    points = gpd.GeoDataFrame({"n": np.arange(n_pts)}, geometry=shapely.points(lon, lat),
                              crs=4326)
    points_m = points.to_crs(metric)
    facilities_m = facilities.to_crs(metric)
    point_xy = shapely.get_coordinates(points_m.geometry.to_numpy())
    facility_xy = shapely.get_coordinates(facilities_m.geometry.to_numpy())
    out, t = race({
        "pingan": lambda: nearest_facility(points_m, facilities_m, metric_crs=metric),
        "geopandas": lambda: gpd.sjoin_nearest(points_m, facilities_m, how="left",
                                               distance_col="distance"),
        "ckdtree": lambda: cKDTree(facility_xy).query(point_xy, k=1, workers=-1),
        "pingan_4326": lambda: nearest_facility(points, facilities, metric_crs=metric),
    }, repeat=repeat)
    joined = out["geopandas"]
    joined = joined[~joined.index.duplicated(keep="first")]
    size = f"{n_pts:,} points / {n_fac} facilities"
    diff = np.abs(out["pingan"]["distance_m"].to_numpy() - joined["distance"].to_numpy())
    diff_4326 = np.abs(out["pingan_4326"]["distance_m"].to_numpy()
                       - joined["distance"].to_numpy())
    diff_kd = np.abs(out["pingan"]["distance_m"].to_numpy() - out["ckdtree"][0])
    return [
        row("nearest facility (same CRS)", size, t["pingan"], t["geopandas"], float(diff.max()),
            ">= 5x, equal distances",
            "sjoin_nearest" + (", distances identical" if diff.max() == 0 else "")),
        row("nearest facility (same CRS)", size, t["pingan"], t["ckdtree"],
            float(diff_kd.max()), ">= 2x",
            "cKDTree.query(workers=-1) on ready arrays"),
        row("nearest facility (from 4326)", size, t["pingan_4326"], t["geopandas"],
            float(diff_4326.max()), "", "projection counted for pingan only"),
    ]


def camera_rows(communities: gpd.GeoDataFrame, comm_m: gpd.GeoDataFrame, metric: pyproj.CRS,
                n_cam: int, n_big: int, repeat: int) -> list[dict[str, Any]]:
    """(a): the coverage kernel against overlay + dissolve, then camera_metrics end to end."""
    rng = np.random.default_rng(SEED)
    devices = place_cameras(communities, n_cam, metric, rng)
    working = devices[(devices["status"] == "working").to_numpy()]
    sectors = view_sectors(working, metric_crs=metric)
    sector_frame = gpd.GeoDataFrame({"sector": np.arange(len(sectors))},
                                    geometry=sectors.to_numpy(), crs=metric)
    sector_array, comm_array = sectors.to_numpy(), comm_m.geometry.to_numpy()
    out, t = race({
        "pingan": lambda: pingan_shares(sector_array, comm_array),
        "geopandas": lambda: geopandas_shares(sector_frame, comm_m),
        "strtree": lambda: strtree_shares(sector_array, comm_array),
    }, repeat=repeat)
    ours, theirs = out["pingan"], out["geopandas"]
    engine = "Clipper2" if uncovered_module._HAS_CLIPPER else "GEOS"
    rows = [row("camera area share (kernel, 1 thread)", f"{len(sectors):,} sectors",
                t["pingan"], t["geopandas"], float(np.max(np.abs(ours - theirs))),
                ">= 3x, shares to 1e-9", f"{engine} vs overlay + dissolve"),
            row("camera area share (kernel, 1 thread)", f"{len(sectors):,} sectors",
                t["pingan"], t["strtree"], float(np.max(np.abs(ours - out["strtree"]))),
                ">= 5x, shares to 1e-9", f"{engine} vs STRtree + union + intersection")]
    print("  (a) kernel done", flush=True)

    _, t_full = race({"pingan": lambda: camera_metrics(communities, devices,
                                                       metric_crs=metric)}, repeat=repeat)
    share = camera_metrics(communities, devices, metric_crs=metric).frame["camera_area_share"]
    rows.append(row("camera_metrics end to end", f"{n_cam:,} cameras", t_full["pingan"], None,
                    float(np.max(np.abs(share.to_numpy() - ours))), "",
                    "diff vs the kernel's shares"))
    big = place_cameras(communities, n_big, metric, rng)
    _, t_big = race({"pingan": lambda: camera_metrics(communities, big, metric_crs=metric)},
                    repeat=2)
    rows.append(row("camera_metrics end to end", f"{n_big:,} cameras", t_big["pingan"], None,
                    np.nan, "< 60 s", "pingan alone, default threads"))
    print("  (a) end to end done", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds per timed row (default 5, --quick 3)")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 5)
    n_comm, n_cam, n_big, n_pts = (600, 10_000, 100_000, 100_000) if args.quick else (
        3000, 50_000, 1_000_000, 1_000_000)
    start = time.perf_counter()
    print(f"load average at start (1, 5, 15 min): {os.getloadavg()}; "
          f"{os.cpu_count()} CPUs", flush=True)

    communities = generate_boundaries(n_comm, seed=SEED)
    metric = choose_metric_crs(communities)
    comm_m = communities.to_crs(metric)
    vertices = shapely.get_num_coordinates(comm_m.geometry.to_numpy())
    print(f"{len(communities)} communities, {vertices.mean():.0f} vertices on average, "
          f"metric CRS {metric.to_string()}", flush=True)

    # (b) runs first, before the large allocations of (a), and is printed last
    nearest = nearest_rows(communities, comm_m, metric, n_comm, n_pts, repeat)
    print("  (b) nearest facility done", flush=True)
    rows = camera_rows(communities, comm_m, metric, n_cam, n_big, repeat) + nearest

    table = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"\nload average at end (1, 5, 15 min): {os.getloadavg()}; "
          f"whole run {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
