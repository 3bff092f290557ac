"""Write the city-portal-style fixture of issue 12 (run once; the files are committed).

A small US city published the way city data portals publish it: twelve community areas
numbered 1–12 with upper-case names (``area_numbe``, ``community``), a census table for 2020
only, and a raw incident export with ``MM/DD/YYYY hh:mm:ss AM/PM`` local times, upper-case
categories, rows without coordinates (some with a community area, some without), and one time
in the hour that repeats when daylight saving ends (2024-11-03 01:30 AM, America/Chicago).
``crimes_2024.csv`` is every third 2024 row of the same export: data that start in 2024, so a
comparison with 2023 has nothing to compare against (issue 12, item 2).

    python tests/data/portal/make_portal.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
WEST, SOUTH, STEP_X, STEP_Y = -87.80, 41.78, 0.05, 0.04
COLS, ROWS = 4, 3
NAMES = ["ROGERS PARK", "WEST RIDGE", "UPTOWN", "LINCOLN SQUARE", "NORTH CENTER", "LAKE VIEW",
         "LINCOLN PARK", "NEAR NORTH SIDE", "EDISON PARK", "NORWOOD PARK", "JEFFERSON PARK",
         "FOREST GLEN"]
CATEGORIES = ["THEFT", "BATTERY", "CRIMINAL DAMAGE", "ASSAULT", "BURGLARY",
              "MOTOR VEHICLE THEFT", "DECEPTIVE PRACTICE"]


def _edge(a: tuple[float, float], b: tuple[float, float], n: int) -> list[list[float]]:
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    return [[round(a[0] + (b[0] - a[0]) * s, 7), round(a[1] + (b[1] - a[1]) * s, 7)] for s in t]


def communities() -> dict:
    features = []
    for k in range(COLS * ROWS):
        i, j = k % COLS, k // COLS
        x0, y0 = WEST + i * STEP_X, SOUTH + j * STEP_Y
        x1, y1 = x0 + STEP_X, y0 + STEP_Y
        ring = (_edge((x0, y0), (x1, y0), 40) + _edge((x1, y0), (x1, y1), 40)
                + _edge((x1, y1), (x0, y1), 40) + _edge((x0, y1), (x0, y0), 40))
        ring.append(ring[0])
        features.append({"type": "Feature",
                         "properties": {"area_numbe": str(k + 1), "community": NAMES[k],
                                        "shape_area": None},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": features}


def census() -> list[list[str]]:
    rows = [["Community Area", "Community Area Name", "Year", "Total Population"]]
    pops = [55628, 77122, 57182, 40494, 35114, 103050, 70492, 105481, 11525, 40081, 26216, 19596]
    for k in range(COLS * ROWS):
        rows.append([str(k + 1), NAMES[k].title(), "2020", str(pops[k])])
    return rows


def _clock(ts: np.datetime64) -> str:
    s = str(ts.astype("datetime64[s]"))
    day, time = s.split("T")
    y, m, d = day.split("-")
    hh, mm, ss = (int(p) for p in time.split(":"))
    ampm = "AM" if hh < 12 else "PM"
    h12 = hh % 12 or 12
    return f"{m}/{d}/{y} {h12:02d}:{mm:02d}:{ss:02d} {ampm}"


def incidents(rng: np.random.Generator) -> list[list[str]]:
    header = ["ID", "Case Number", "Date", "Block", "IUCR", "Primary Type", "Description",
              "Location Description", "Arrest", "Domestic", "Beat", "District", "Ward",
              "Community Area", "FBI Code", "X Coordinate", "Y Coordinate", "Year",
              "Updated On", "Latitude", "Longitude", "Location"]
    n = 1500
    start = np.datetime64("2023-01-01T00:00:00")
    seconds = rng.integers(0, 2 * 365 * 86400, n)
    times = np.sort(start + seconds.astype("timedelta64[s]"))
    rows = [header]
    for r in range(n):
        k = int(rng.integers(0, COLS * ROWS))
        i, j = k % COLS, k // COLS
        lon = WEST + (i + rng.uniform(0.02, 0.98)) * STEP_X
        lat = SOUTH + (j + rng.uniform(0.02, 0.98)) * STEP_Y
        cat = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
        ts = times[r]
        if r == 1200:  # the repeated hour: 1:30 AM happens twice on 2024-11-03 in Chicago
            ts = np.datetime64("2024-11-03T01:30:00")
        no_coords = r % 37 == 5  # 2.7 % of rows
        area = "" if (no_coords and r % 2) else str(k + 1)
        lat_s, lon_s = ("", "") if no_coords else (f"{lat:.9f}", f"{lon:.9f}")
        loc = "" if no_coords else f"({lat_s}, {lon_s})"
        rows.append([str(13000000 + r), f"JH{100000 + r}", _clock(ts),
                     f"0{r % 90:02d}XX N SAMPLE AVE", "0820", cat, "SIMPLE",
                     "STREET", "false", "false", "1923", "019", "44", area, "06",
                     "", "", str(ts.astype("datetime64[Y]")), "01/02/2025 03:45:12 PM",
                     lat_s, lon_s, loc])
    return rows


def main() -> None:
    rng = np.random.default_rng(20261202)
    (HERE / "community_areas.geojson").write_text(json.dumps(communities()), encoding="utf-8")
    crimes = incidents(rng)
    late = [crimes[0], *[r for r in crimes[1:] if r[17] == "2024"][::3]]
    for name, rows in (("census_2020.csv", census()), ("crimes_portal.csv", crimes),
                       ("crimes_2024.csv", late)):
        with open(HERE / name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)


if __name__ == "__main__":
    main()
