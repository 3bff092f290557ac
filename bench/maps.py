"""Benchmark the incident map: page size and draw time in headless Chromium.

Run ``python bench/maps.py [--quick]`` from the repository root (needs Debian's ``chromium``
and ``chromium-driver`` and the dev extra's selenium). Prints one table:

- the baseline named in the issue: folium's own ``MarkerCluster`` with 10,000 ``Marker``
  children (popups with id, time and category), the way folium's documentation builds a
  clustered point map, its CDN links pointed at pingan's vendored files;
- pingan's point map (``maps.incident_map``: one array payload, markers clustered and a heat
  layer) of the same 10,000 incidents, and of 20,000 (the default ``max_points``);
- pingan's grid map of 1,000,000 incidents (counts pre-aggregated per zoom level, no points),
  with the issue's targets: page <= 5 MB, drawn in <= 3 s.

A second table gives the size of the community boundary layer of the page as it was drawn
before (each polygon simplified alone with ``shapely.simplify`` at 1.5 m in degrees, 6
decimals, GeoJSON; this leaves gaps and overlaps between neighbours) and as pingan draws it now
(the whole coverage simplified with ``shapely.coverage_simplify`` at ``simplify_m`` = 10 m in
the metric CRS, rounded to 5 decimals, written as GeoJSON and packed: integer steps of 1e-5
degree, see ``maps.page.feature_collection``), with the largest boundary displacement
(Hausdorff distance, metres, rounding included) and whether the result is still a coverage.

Incidents are synthetic, over ``geo.sample.generate_boundaries`` (3,000 communities, about
300 vertices each before display simplification): 70 % uniform over the city, 30 % in 40
Gaussian hot spots of 150-400 m, seven categories, times spread over 2025. Each page is written
with its assets and opened as ``file://`` in a fresh headless Chromium (1,400 x 900). "drawn"
is ``performance.now()`` when the page is drawn, from the start of navigation: for pingan the
runtime's ``window.__pinganDrawnAt``; folium has no such signal, so its time is the end of the
``load`` event (its script adds every marker synchronously before it) plus one animation frame.
"zoom +2" is the time to redraw after zooming in two levels (grid: the drawn cells); "bounds MB"
is the community layer's share of the page. Each page is loaded twice and the faster load is
reported (the machine is shared). ``--quick`` uses 300 communities, 2,000 markers for the
baseline and 100,000 incidents for the grid.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import maps
from geo.projection import metric_crs_for
from geo.sample import generate_boundaries
from maps.page import display_geometries, feature_collection

SEED = 20250601
CATEGORIES = ("theft", "fraud", "burglary", "vehicle_theft", "assault", "vandalism", "robbery")
SHARES = (0.44, 0.18, 0.10, 0.09, 0.09, 0.07, 0.03)


def synthetic_incidents(communities: gpd.GeoDataFrame, n: int,
                        rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Incidents (EPSG:4326) over the city: uniform background and Gaussian hot spots."""
    metric = metric_crs_for(*shapely.get_coordinates(
        communities.geometry.union_all().centroid)[0])
    city = shapely.coverage_union_all(communities.to_crs(metric).geometry.to_numpy())
    shapely.prepare(city)
    x0, y0, x1, y1 = city.bounds

    def inside(k: int) -> np.ndarray:
        out = []
        got = 0
        while got < k:
            xy = rng.uniform((x0, y0), (x1, y1), size=(2 * k, 2))
            keep = xy[shapely.contains_xy(city, xy[:, 0], xy[:, 1])]
            out.append(keep)
            got += len(keep)
        return np.vstack(out)[:k]

    n_hot = int(0.3 * n)
    centres = inside(40)
    sigma = rng.uniform(150, 400, 40)
    which = rng.integers(0, 40, n_hot)
    hot = centres[which] + rng.normal(size=(n_hot, 2)) * sigma[which, None]
    xy = np.vstack([inside(n - n_hot), hot])
    rng.shuffle(xy)
    lon, lat = pyproj.Transformer.from_crs(metric, 4326, always_xy=True).transform(xy[:, 0],
                                                                                  xy[:, 1])
    start = pd.Timestamp("2024-12-31T16:00Z").value
    span = pd.Timedelta(days=365).value
    times = pd.to_datetime(start + rng.integers(0, span, n), utc=True)
    return gpd.GeoDataFrame(
        {"id": [f"B{i:07d}" for i in range(n)], "occurred_at": times,
         "category": rng.choice(CATEGORIES, size=n, p=SHARES),
         "address": [f"示例路{i % 997}号" for i in range(n)]},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def folium_baseline(incidents: gpd.GeoDataFrame) -> folium.Map:
    """folium's MarkerCluster with one Marker (and popup) per incident."""
    c = incidents.geometry.union_all().centroid
    m = folium.Map(location=[c.y, c.x], zoom_start=12, tiles=None)
    m.options["maxZoom"] = 19  # what a tile layer would set; clustering needs it
    cluster = folium.plugins.MarkerCluster().add_to(m)
    for p, i, t, cat in zip(incidents.geometry, incidents["id"], incidents["occurred_at"],
                            incidents["category"], strict=True):
        folium.Marker([p.y, p.x], popup=f"{i} {t:%Y-%m-%d %H:%M} {cat}").add_to(cluster)
    return m


_LAYER = re.compile(r"pingan\.geoJsonLayer\(.*?\);\n", re.DOTALL)


def boundary_sizes(communities: gpd.GeoDataFrame) -> list[dict]:
    """The community layer's GeoJSON size as drawn before and now, its error and topology."""
    raw = communities.geometry.to_numpy()
    metric = metric_crs_for(*shapely.get_coordinates(shapely.union_all(raw).centroid)[0])
    before = gpd.GeoSeries(raw, crs=4326).to_crs(metric).to_numpy()
    cases = [
        ("no simplification, 6 decimals", lambda: np.asarray(shapely.transform(
            raw, lambda xy: np.round(xy, 6)), dtype=object)),
        ("each polygon alone, 1.5 m, 6 decimals (before)", lambda: np.asarray(shapely.transform(
            shapely.simplify(raw, 1.5 / 111_320.0, preserve_topology=True),
            lambda xy: np.round(xy, 6)), dtype=object)),
        ("coverage, 10 m, 5 decimals, GeoJSON", lambda: display_geometries(
            communities.geometry, maps.MapOptions(), simplify=True)),
        ("coverage, 10 m, 5 decimals, packed (pingan)", lambda: display_geometries(
            communities.geometry, maps.MapOptions(), simplify=True)),
    ]
    out = []
    for label, make in cases:
        t0 = time.perf_counter()
        shown = make()
        seconds = time.perf_counter() - t0
        text = feature_collection(shown, [0] * len(shown),
                                  keys=list(communities["code"].astype(str)),
                                  packed=5 if "packed" in label else None)
        after = gpd.GeoSeries(shown, crs=4326).to_crs(metric).to_numpy()
        out.append({"case": label, "mb": len(text.encode()) / 1e6, "s": seconds,
                    "vertices": int(shapely.get_num_coordinates(shown).sum()),
                    "hausdorff_m": float(shapely.hausdorff_distance(before, after).max()),
                    "coverage": bool(shapely.coverage_is_valid(shown))})
    return out


def layer_mb(page: Path) -> float:
    """Size of the page's first GeoJSON layer (the community boundaries), MB."""
    found = _LAYER.search(page.read_text(encoding="utf-8"))
    return len(found.group(0).encode()) / 1e6 if found else 0.0


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="pingan-bench-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--window-size=1400,900", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.set_page_load_timeout(600)
    return driver, profile


def measure(page: Path, *, pingan: bool) -> dict:
    """Load a page twice in a fresh browser; the faster load's timings."""
    best: dict | None = None
    for _ in range(2):
        driver, profile = browser()
        try:
            driver.get(page.as_uri())
            deadline = time.monotonic() + 600
            if pingan:
                while not driver.execute_script("return window.__pinganDrawn === true"):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{page} never drawn: {driver.get_log('browser')}")
                    time.sleep(0.02)
                drawn_ms = driver.execute_script("return window.__pinganDrawnAt")
            else:
                drawn_ms = driver.execute_async_script(
                    "var done = arguments[0];"
                    "function wait() { var nav = performance.getEntriesByType('navigation')[0];"
                    "  if (document.readyState === 'complete' && nav.loadEventEnd > 0) {"
                    "    requestAnimationFrame(function () { done(performance.now()); });"
                    "  } else { setTimeout(wait, 20); } } wait();")
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            if errors:
                raise RuntimeError(f"{page}: {errors[:3]}")
            zoom_ms, cells = driver.execute_script(
                "var name = Object.keys(window).filter(function (k) {"
                "  return k.indexOf('map_') === 0; })[0], map = window[name];"
                "var t = performance.now(); map.setZoom(map.getZoom() + 2, {animate: false});"
                "var ms = performance.now() - t;"
                "var c = Object.keys(window).filter(function (k) {"
                "  return k.indexOf('pinganIncidents') === 0; })[0];"
                "var grid = c && window[c].grid;"
                "return [ms, grid ? grid.drawnCells : null];")
            result = {"drawn_s": drawn_ms / 1000.0, "zoom_ms": zoom_ms, "cells": cells}
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        if best is None or result["drawn_s"] < best["drawn_s"]:
            best = result
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    args = parser.parse_args()
    n_comm, n_base, n_big = (300, 2_000, 100_000) if args.quick else (3_000, 10_000, 1_000_000)
    rng = np.random.default_rng(SEED)
    t = time.perf_counter()
    communities = generate_boundaries(n_comm, n_subdistricts=max(12, n_comm // 20),
                                      n_districts=4, seed=SEED)
    incidents = synthetic_incidents(communities, n_big, rng)
    print(f"data: {n_comm} communities, {len(incidents):,} incidents "
          f"({time.perf_counter() - t:.1f} s)")
    out = Path(tempfile.mkdtemp(prefix="pingan-bench-maps-"))
    options = maps.MapOptions(period_label="2025")
    rows = []

    def run(label: str, build, *, pingan: bool = True) -> None:
        t0 = time.perf_counter()
        m = build()
        page = maps.write_map(m, out / f"{len(rows)}.html", assets=not rows)
        build_s = time.perf_counter() - t0
        timing = measure(page, pingan=pingan)
        rows.append({"case": label, "mb": page.stat().st_size / 1e6, "build_s": build_s,
                     "bounds_mb": layer_mb(page) if pingan else 0.0, **timing})
        print(f"  {label}: {rows[-1]['mb']:.2f} MB, drawn {timing['drawn_s']:.2f} s", flush=True)

    base = incidents.iloc[:n_base]
    run(f"folium MarkerCluster, {n_base:,} markers (baseline)", lambda: folium_baseline(base),
        pingan=False)
    run(f"pingan points, {n_base:,} incidents",
        lambda: maps.incident_map(communities, base, options=options))
    run("pingan points, 20,000 incidents",
        lambda: maps.incident_map(communities, incidents.iloc[:20_000], options=options))
    run(f"pingan grid, {n_big:,} incidents",
        lambda: maps.incident_map(communities, incidents, options=options))

    ref = rows[0]
    print()
    print(f"{'case':<46} {'page MB':>8} {'bounds MB':>9} {'build s':>8} {'drawn s':>8} "
          f"{'vs base':>8} {'zoom+2 ms':>10} {'cells':>6}")
    for r in rows:
        cells = "" if r["cells"] is None else f"{r['cells']:,}"
        print(f"{r['case']:<46} {r['mb']:>8.2f} {r['bounds_mb']:>9.2f} {r['build_s']:>8.1f} "
              f"{r['drawn_s']:>8.2f} {r['drawn_s'] / ref['drawn_s']:>8.3f} {r['zoom_ms']:>10.0f} "
              f"{cells:>6}")
    print()
    print(f"community boundaries ({n_comm:,} communities)")
    print(f"{'case':<48} {'layer MB':>8} {'vertices':>9} {'max moved m':>11} {'coverage':>8} "
          f"{'s':>6}")
    for b in boundary_sizes(communities):
        print(f"{b['case']:<48} {b['mb']:>8.2f} {b['vertices']:>9,} {b['hausdorff_m']:>11.2f} "
              f"{'yes' if b['coverage'] else 'NO':>8} {b['s']:>6.1f}")
    big = rows[-1]
    print()
    print(f"target at {n_big:,} incidents and {n_comm:,} communities: page <= 5 MB: "
          f"{big['mb']:.2f} MB "
          f"({'met' if big['mb'] <= 5 else 'NOT met'}); drawn <= 3 s: {big['drawn_s']:.2f} s "
          f"({'met' if big['drawn_s'] <= 3 else 'NOT met'})")
    print(json.dumps({"pages": str(out)}))


if __name__ == "__main__":
    main()
