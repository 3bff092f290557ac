"""The sample city's incidents: two years with planted trends, hot spots and imperfections.

Case rates follow each community's latent quality; a few communities double or halve from 2024
to 2025; four Gaussian hot spots sit in low-quality communities far apart; times follow
per-category hour and season profiles; some records are geocoded addresses, community
centroids, lack coordinates or lie outside the city.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.period import DEFAULT_TIMEZONE
from geo.sample.draws import FloatArray, IntArray, name_roots, points_in, sigmoid, unique_names
from geo.sample.frames import WGS84, canonical_frame

__all__ = ["CATEGORIES", "CATEGORY_SHARE", "day_weights", "draw_incidents"]

CATEGORIES = ("theft", "fraud", "burglary", "vehicle_theft", "assault", "vandalism", "robbery")
CATEGORY_SHARE = (0.44, 0.18, 0.10, 0.09, 0.09, 0.07, 0.03)
_HOTSPOT_CATEGORY_SHARE = (0.62, 0.10, 0.07, 0.08, 0.07, 0.04, 0.02)
_BASE_RATE_PER_10K_YEAR = 235.0
_ROAD_SUFFIXES = ("路", "街", "大街", "胡同", "东路", "西街", "北里", "南巷")


def _hour_profile(category: str) -> FloatArray:
    h = np.arange(24.0)
    day = np.exp(-((h - 15.0) ** 2) / (2 * 4.0 ** 2))
    evening = np.exp(-((h - 21.0) ** 2) / (2 * 2.5 ** 2))
    night = np.exp(-(((h + 3.0) % 24.0 - 4.0) ** 2) / (2 * 2.5 ** 2))
    mix = {
        "theft": (1.0, 0.6, 0.1), "fraud": (1.2, 0.3, 0.05), "burglary": (0.8, 0.2, 0.6),
        "vehicle_theft": (0.2, 0.3, 1.0), "assault": (0.2, 1.0, 0.6),
        "vandalism": (0.2, 0.6, 0.8), "robbery": (0.2, 0.8, 0.7),
    }[category]
    w = 0.04 + mix[0] * day + mix[1] * evening + mix[2] * night
    return w / w.sum()


def day_weights(category: str, days: pd.DatetimeIndex) -> FloatArray:
    """Share of a category's incidents of a year on each of its ``days`` (season, weekday)."""
    month = days.month.to_numpy()
    season = 1.0 + 0.18 * np.cos(2.0 * np.pi * (month - 7) / 12.0)
    if category == "burglary":  # empty homes over the Spring Festival holiday
        season = season + 0.45 * (month == 2)
    if category == "fraud":
        season = 1.0 + 0.15 * np.cos(2.0 * np.pi * (month - 12) / 12.0)
    weekend = days.day_of_week.to_numpy() >= 5
    if category == "fraud":
        week = np.where(weekend, 0.7, 1.1)
    elif category in ("assault", "theft", "vandalism"):
        week = np.where(weekend, 1.25, 0.95)
    else:
        week = np.ones(len(days))
    w = season * week
    return w / w.sum()


def draw_incidents(rng: np.random.Generator, comm_m: gpd.GeoDataFrame,
               quality: FloatArray
               ) -> tuple[gpd.GeoDataFrame, FloatArray, NDArray[np.bool_], FloatArray]:
    """Draw the incidents of 2024-2025 with trends, hot spots and the usual imperfections.

    Parameters
    ----------
    rng
        The incidents stream's generator.
    comm_m
        Communities in a metric CRS.
    quality
        Latent quality per community.

    Returns
    -------
    tuple
        Canonical incidents in the metric CRS; the planted 2025/2024 rate factor per community;
        the mask of communities within one hot-spot radius of a hot-spot centre; and each
        community's expected background incidents of 2024 and 2025 (communities x 2).
    """
    n = len(comm_m)
    polys = comm_m.geometry.to_numpy()
    pop = comm_m["population"].to_numpy()
    # The representative point of each WGS84 polygon (what a reader of the files would compute),
    # in metric coordinates: after the round trip it rounds back to the same point.
    reps = shapely.get_coordinates(
        comm_m.to_crs(WGS84).geometry.representative_point().to_crs(comm_m.crs).to_numpy())
    city = shapely.union_all(polys)
    shapely.prepare(city)
    level = np.exp(-0.45 * quality + rng.normal(0.0, 0.25, n))
    level /= level.mean()
    # Planted trends: a few communities double, two halve, the rest drift a little.
    factor = np.clip(rng.normal(0.98, 0.03, n), 0.9, 1.06)
    n_rising, n_falling = max(3, n // 25), max(2, n // 60)
    big = np.flatnonzero(pop >= 6000)  # large enough for a doubling to be significant
    candidates = big if len(big) >= n_rising + n_falling else np.arange(n)
    picks = rng.choice(candidates, n_rising + n_falling, replace=False)
    rising, falling = picks[:n_rising], picks[n_rising:]
    factor[rising] = rng.uniform(2.0, 2.4, len(rising))
    factor[falling] = rng.uniform(0.45, 0.55, len(falling))
    # Hot spots: Gaussian clusters centred in low-quality communities far apart.
    n_hot = 4
    order = np.argsort(quality, kind="stable")
    hot_centres: list[FloatArray] = []
    for c in order:
        if len(hot_centres) == n_hot:
            break
        if c in rising or c in falling:
            continue
        if all(np.hypot(*(reps[c] - h)) > 2500.0 for h in hot_centres):
            hot_centres.append(reps[c])
    hot_sigma = rng.uniform(220.0, 380.0, len(hot_centres))
    hot_count = rng.integers(1500, 2300, len(hot_centres))

    xs: list[FloatArray] = []
    owner: list[IntArray] = []
    years: list[IntArray] = []
    source: list[IntArray] = []  # 0 background, 1 hot spot
    means = np.empty((n, 2))
    for year, yf in ((2024, np.ones(n)), (2025, factor)):
        lam = pop / 1e4 * _BASE_RATE_PER_10K_YEAR * level * yf
        means[:, year - 2024] = lam
        counts = rng.poisson(lam)
        for c in range(n):
            xs.append(points_in(rng, polys[c], int(counts[c])))
            owner.append(np.full(int(counts[c]), c, dtype=np.int64))
            years.append(np.full(int(counts[c]), year, dtype=np.int64))
            source.append(np.zeros(int(counts[c]), dtype=np.int64))
        for centre, sigma, total in zip(hot_centres, hot_sigma, hot_count, strict=True):
            k = int(total) // 2
            pts = centre + rng.normal(0.0, sigma, (3 * k, 2))
            pts = pts[shapely.contains_xy(city, pts[:, 0], pts[:, 1])][:k]
            xs.append(pts)
            owner.append(np.full(len(pts), -1, dtype=np.int64))
            years.append(np.full(len(pts), year, dtype=np.int64))
            source.append(np.ones(len(pts), dtype=np.int64))
    xy = np.concatenate(xs)
    comm = np.concatenate(owner)
    year_of = np.concatenate(years)
    hot_src = np.concatenate(source) == 1
    # Hot-spot points lie inside the city: the nearest community is the one containing them.
    pt_idx, poly_idx = shapely.STRtree(polys).query_nearest(shapely.points(xy[hot_src]))
    comm[np.flatnonzero(hot_src)[pt_idx]] = poly_idx

    # Points beyond the city outline (a mistyped coordinate, a neighbouring town).
    n_out = int(rng.integers(8, 16))
    out_pts: list[FloatArray] = []
    x0, y0, x1, y1 = city.bounds
    while len(out_pts) < n_out:
        p = rng.uniform([x0 - 3000.0, y0 - 3000.0], [x1 + 3000.0, y1 + 3000.0])
        if 300.0 < city.distance(shapely.Point(p)) < 3000.0:
            out_pts.append(p)
    xy = np.vstack([xy, np.array(out_pts)])
    comm = np.concatenate([comm, np.full(n_out, -1)])
    year_of = np.concatenate([year_of, rng.choice([2024, 2025], n_out)])
    hot_src = np.concatenate([hot_src, np.zeros(n_out, dtype=bool)])
    m = len(xy)

    category = np.empty(m, dtype=object)
    cat_idx = np.where(hot_src, rng.choice(len(CATEGORIES), m, p=_HOTSPOT_CATEGORY_SHARE),
                       rng.choice(len(CATEGORIES), m, p=CATEGORY_SHARE))
    category[:] = np.array(CATEGORIES, dtype=object)[cat_idx]
    local = np.empty(m, dtype="datetime64[s]")
    for year in (2024, 2025):
        days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
        for ci, cat in enumerate(CATEGORIES):
            sel = np.flatnonzero((year_of == year) & (cat_idx == ci))
            day = rng.choice(len(days), len(sel), p=day_weights(cat, days))
            hour = rng.choice(24, len(sel), p=_hour_profile(cat))
            sec = rng.integers(0, 3600, len(sel))
            local[sel] = (days.to_numpy().astype("datetime64[s]")[day]
                          + (hour * 3600 + sec).astype("timedelta64[s]"))
    solved_p = sigmoid(-0.45 + 0.3 * quality[np.maximum(comm, 0)])
    u = rng.random(m)
    status = np.where(u < 0.04, "withdrawn", np.where(u < 0.07, "unfounded",
                      np.where(rng.random(m) < solved_p, "solved", "filed")))

    # Imperfect locations: geocoded addresses, community centroids, and no coordinates.
    u = rng.random(m)
    inside_rows = (comm >= 0) & ~hot_src
    precision = np.where(u < 0.075, "address", "exact").astype(object)
    snapped = np.round(xy / 60.0) * 60.0  # an address point: the building's, not the event's
    use_snap = (precision == "address") & shapely.contains_xy(city, snapped[:, 0],
                                                              snapped[:, 1])
    xy[use_snap] = snapped[use_snap]
    precision[(precision == "address") & ~use_snap] = "exact"
    centroid = inside_rows & (u > 0.985)
    precision[centroid] = "centroid"
    xy[centroid] = reps[comm[centroid]]
    no_xy = inside_rows & (u > 0.075) & (u < 0.08)
    precision[no_xy] = None
    community_code = np.full(m, None, dtype=object)
    codes = comm_m["code"].astype(str).to_numpy()
    community_code[no_xy] = codes[comm[no_xy]]

    address = _addresses(rng, comm_m, comm, precision)
    order = np.lexsort((np.arange(m), local))
    local, xy, no_xy = local[order], xy[order], no_xy[order]
    year_sorted = local.astype("datetime64[Y]").astype(int) + 1970
    seq = np.zeros(m, dtype=np.int64)
    for year in (2024, 2025):
        sel = year_sorted == year
        seq[sel] = np.arange(1, int(sel.sum()) + 1)
    occurred = (pd.DatetimeIndex(local).tz_localize(DEFAULT_TIMEZONE).tz_convert("UTC"))
    frame = pd.DataFrame({
        "id": [f"A{y}{s:06d}" for y, s in zip(year_sorted, seq, strict=True)],
        "occurred_at": occurred,
        "category": category[order],
        "status": status[order],
        "address": address[order],
        "location_precision": precision[order],
        "community_code": community_code[order],
    })
    geoms = np.full(m, None, dtype=object)
    geoms[~no_xy] = shapely.points(xy[~no_xy])
    hot_comm = np.zeros(n, dtype=bool)
    for centre, sigma in zip(hot_centres, hot_sigma, strict=True):
        hot_comm |= shapely.distance(shapely.points(centre), polys) <= sigma
    return (canonical_frame(frame, "incidents", geoms, crs=comm_m.crs), factor, hot_comm,
            means)


def _addresses(rng: np.random.Generator, comm_m: gpd.GeoDataFrame, comm: IntArray,
               precision: NDArray[Any]) -> NDArray[Any]:
    """Synthetic Chinese addresses: a road of the community and a house number."""
    roots = name_roots(comm_m["name"])
    districts = comm_m["district"].astype(str).to_numpy()
    names = comm_m["name"].astype(str).to_numpy()
    m = len(comm)
    road = rng.integers(0, len(_ROAD_SUFFIXES), m)
    number = rng.integers(1, 220, m)
    building = rng.integers(1, 25, m)
    outer = unique_names(rng, 6, ("村", "庄", "屯"))
    out = np.empty(m, dtype=object)
    for i in range(m):
        c = int(comm[i])
        if c < 0:
            out[i] = f"北京市{outer[i % len(outer)]}{int(number[i])}号"
        elif precision[i] == "centroid" or precision[i] is None:
            out[i] = f"北京市{districts[c]}{names[c]}"
        else:
            out[i] = (f"北京市{districts[c]}{roots[c]}{_ROAD_SUFFIXES[int(road[i])]}"
                      f"{int(number[i])}号院{int(building[i])}号楼")
    return out

