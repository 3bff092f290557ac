"""Benchmark: early-warning detection (geo.alerts) on cities with planted outbreaks.

By default (``--city sample``) it runs on the **sample city** (``geo.sample.generate_city``),
whose 36 planted outbreaks (12 each of k = 2, 3, 5 times the expected count for two weeks in
one community; ``geo.sample.outbreaks``) are listed in its manifest. Incidents are given the
community whose polygon holds them (records without a point keep their community code), every
record counts (the default case definition), weekly series per community run from Monday
1 January 2024, and every week from the first outbreak week (4 March 2024) to 28 December 2025
is judged as of its Sunday with the alert service's defaults (``api.services.alerts``: EARS C2
with the Poisson floor, q ≤ 0.1; two years of history are never complete, so Farrington
never runs) and, for comparison, EARS as published (sd floor 0.5, normal p, q ≤ 0.05).

With ``--city synthetic`` it builds a synthetic city instead: ``--communities`` square
communities of 1 km (default 40, a grid 8 wide), each with a weekly Poisson background whose
mean is drawn from 3 to 12 and rises and falls by 30 % over the year, for 160 weeks from Monday
6 December 2021 (``geo.outbreaks.background_incidents``). It plants ``--outbreaks`` outbreaks
(default 36: 12 each of k = 2, 3, 5) of two weeks in 2024 with
``geo.outbreaks.plant_outbreaks`` (k times the expected count), counts weekly series per
community (``geo.alerts.count_series``) and replays every week of 2024 as of its Sunday
(``geo.alerts.detect_alerts``), with the default method (the improved Farrington method: every
week of 2024 has two years of history) with and without the FDR condition on alerts, and, for
comparison, EARS C2.

It prints, for each method: recall per k (an outbreak is found when its community alerts in
one of its two weeks, i.e. within two weeks of its start), false alerts per 100
community-weeks outside the outbreaks, and the replay's wall and CPU time.

Run: ``python bench/alerts.py [--city sample|synthetic] [--communities 40] [--outbreaks 36]
[--seed 1]``.
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
import shapely  # noqa: E402

from geo.alerts import count_series, detect_alerts  # noqa: E402
from geo.outbreaks import background_incidents, plant_outbreaks  # noqa: E402

X0, Y0 = 440_000.0, 4_420_000.0
# Three years of history before 2024 plus the three weeks Farrington's window reaches back, so
# that every week of 2024 has two whole years of history.
FIRST_MONDAY = dt.date(2021, 12, 6)
WEEKS = 160
YEAR3 = (dt.date(2024, 1, 1), dt.date(2024, 12, 29))


def city(n: int, seed: int) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Square communities 1 km wide and their expected weekly counts."""
    codes = [f"C{i:03d}" for i in range(n)]
    boxes = [shapely.box(X0 + (i % 8) * 1000, Y0 + (i // 8) * 1000,
                         X0 + (i % 8 + 1) * 1000, Y0 + (i // 8 + 1) * 1000) for i in range(n)]
    communities = gpd.GeoDataFrame({"code": codes}, geometry=boxes, crs="EPSG:4548")
    base = np.random.default_rng(seed).uniform(3, 12, n)
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(WEEKS) / 52.18)
    mondays = pd.date_range(FIRST_MONDAY, periods=WEEKS, freq="7D")
    return communities, pd.DataFrame(np.outer(season, base), index=mondays, columns=codes)


def sample_series():
    """The sample city's weekly community series and its outbreaks' manifest."""
    from geo.sample import generate_city

    city = generate_city()
    inc = city.incidents
    joined = gpd.sjoin(inc, city.communities[["code", "geometry"]], how="left",
                       predicate="within")
    joined = joined[~joined.index.duplicated()]
    code = joined["code"].astype("string").fillna(inc["community_code"])
    inc = inc.assign(community_code=code.to_numpy())
    series = count_series(inc, units=list(city.communities["code"]),
                          start=dt.date(2024, 1, 1), end=dt.date(2025, 12, 28))
    return series, city.outbreaks, city.outbreak_rule, len(inc)


def replay(series, span=YEAR3, **options) -> pd.DataFrame:
    """Every unit and week of the span, each week judged as of its Sunday."""
    out = []
    sunday = span[0] + dt.timedelta(days=6)
    while sunday <= span[1]:
        result = detect_alerts(series, as_of=sunday, **options)
        out.append(result.frame[["unit", "step", "alert", "method"]])
        sunday += dt.timedelta(days=7)
    return pd.concat(out, ignore_index=True)


def score(weekly: pd.DataFrame, manifest: pd.DataFrame) -> dict[str, float]:
    """Recall per k and false alerts per 100 community-weeks outside the outbreaks."""
    inside = np.zeros(len(weekly), dtype=bool)
    found = []
    for row in manifest.itertuples():
        mine = (weekly["unit"] == row.community) & (weekly["step"] >= row.start) & (
            weekly["step"] <= row.end)
        inside |= mine.to_numpy()
        found.append(bool(weekly.loc[mine, "alert"].any()))
    hits = pd.Series(found, index=manifest.index)
    out = {f"recall k={k}": float(hits[manifest["k"] == k].mean()) for k in sorted(set(
        manifest["k"]))}
    out["recall k>=3"] = float(hits[manifest["k"] >= 3].mean())
    outside = ~inside
    out["false per 100"] = 100 * float(weekly.loc[outside, "alert"].sum()) / int(outside.sum())
    out["community-weeks outside"] = int(outside.sum())
    return out


def run_sample() -> None:
    """The sample city's outbreaks, with the service's defaults and EARS as published."""
    from geo.sample.outbreaks import FIRST_DAY, LAST_DAY

    series, manifest, rule, n = sample_series()
    print(f"sample city: {series.frame.shape[1]} communities x {len(series.frame)} weeks, "
          f"{n:,} incidents; {rule}")
    print(manifest.groupby("k")["added"].describe()[["count", "min", "max"]])
    print()
    print(f"{'method (as run)':<40} {'k=2':>6} {'k=3':>6} {'k=5':>6} {'k>=3':>6} "
          f"{'false/100':>10} {'wall s':>8}")
    runs = (("EARS C2, sqrt floor, q <= 0.1 (service)", {"sd_floor": "poisson", "fdr": 0.1}),
            ("EARS C3, sqrt floor, q <= 0.1", {"sd_floor": "poisson", "fdr": 0.1,
                                               "ears": "c3"}),
            ("EARS C2 as published, q <= 0.05", {}))
    for label, options in runs:
        wall = time.perf_counter()
        weekly = replay(series, (FIRST_DAY, LAST_DAY), **options)
        wall = time.perf_counter() - wall
        s = score(weekly, manifest)
        print(f"{label:<40} {s['recall k=2']:>6.0%} {s['recall k=3']:>6.0%} "
              f"{s['recall k=5']:>6.0%} {s['recall k>=3']:>6.0%} {s['false per 100']:>10.2f} "
              f"{wall:>8.1f}")
    print(f"\n(false alerts over {s['community-weeks outside']} community-weeks outside the "
          f"outbreaks, {FIRST_DAY} to {LAST_DAY}; targets: k>=3 recall >= 90 %, <= 1 per 100)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", choices=("sample", "synthetic"), default="sample")
    parser.add_argument("--communities", type=int, default=40)
    parser.add_argument("--outbreaks", type=int, default=36)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    if args.city == "sample":
        run_sample()
        return
    communities, expected = city(args.communities, args.seed)
    background = background_incidents(communities, expected, seed=args.seed + 1)
    planted = plant_outbreaks(communities, expected, start=YEAR3[0], end=YEAR3[1],
                              n_outbreaks=args.outbreaks, seed=args.seed + 2)
    incidents = pd.concat([background, planted.incidents], ignore_index=True)
    series = count_series(incidents, units=list(communities["code"]))
    print(f"{args.communities} communities x {WEEKS} weeks, {len(background):,} background "
          f"incidents; {planted.rule}")
    print(planted.manifest.groupby("k")["added"].describe()[["count", "min", "max"]])
    print()
    print(f"{'method (as run)':<32} {'k=2':>6} {'k=3':>6} {'k=5':>6} {'k>=3':>6} "
          f"{'false/100':>10} {'wall s':>8} {'CPU s':>8}")
    runs = (("auto, q <= 0.05 (default)", {}), ("auto, no FDR", {"fdr": None}),
            ("EARS C2, q <= 0.05", {"method": "ears"}))
    for label, options in runs:
        cpu, wall = time.process_time(), time.perf_counter()
        weekly = replay(series, **options)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        s = score(weekly, planted.manifest)
        weeks_by = weekly.groupby("method")["step"].nunique().to_dict()
        print(f"{label:<32} {s['recall k=2']:>6.0%} {s['recall k=3']:>6.0%} "
              f"{s['recall k=5']:>6.0%} {s['recall k>=3']:>6.0%} {s['false per 100']:>10.2f} "
              f"{wall:>8.1f} {cpu:>8.1f}")
        print(f"{'':<32} weeks per method: {weeks_by}")
    print(f"\n(false alerts counted over {s['community-weeks outside']} community-weeks of the "
          f"2024 outside the outbreaks; targets: k>=3 recall >= 90 %, <= 1 per 100)")


if __name__ == "__main__":
    main()
