"""A 4 × 4 lattice city with known counts, shared by the service and route tests."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

#: 4 × 4 lattice of 0.01-degree squares; districts D1 (west half) and D2 (east half);
#: subdistricts S1..S4 by quadrant. Code "Lij" for column i, row j.
X0, Y0, STEP = 116.30, 39.90, 0.01


def lattice_communities() -> gpd.GeoDataFrame:
    rows = []
    for i in range(4):
        for j in range(4):
            district = "D1" if i < 2 else "D2"
            sub = f"S{1 + (i >= 2) * 2 + (j >= 2)}"
            rows.append({"code": f"L{i}{j}", "name": f"格{i}{j}社区", "subdistrict_code": sub,
                         "subdistrict": f"{sub}街道", "district_code": district,
                         "district": f"{district}区", "population": 10_000.0,
                         "geometry": box(X0 + i * STEP, Y0 + j * STEP, X0 + (i + 1) * STEP,
                                         Y0 + (j + 1) * STEP)})
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def centre(code: str) -> tuple[float, float]:
    i, j = int(code[1]), int(code[2])
    return X0 + (i + 0.5) * STEP, Y0 + (j + 0.5) * STEP


def lattice_incidents() -> pd.DataFrame:
    """Known counts: 2025 and 2024 per community, plus edge cases.

    - L00: 60 cases in 2025, 10 in 2024 (a real rise); L33: 5 and 5; every other: 10 and 10;
      2025 cases alternate theft/fraud, 2024 cases are theft.
    - L11 has one more in each year: at 2025-01-01 00:30 Beijing time (2024-12-31 16:30 UTC,
      so 2025) and at 2024-12-31 23:30 Beijing time (2024).
    - one 2025 record outside every community; one more L22 record in 2025, withdrawn.
    """
    rows = []
    n = 0

    def add(code: str | None, when: str, status: str = "filed", category: str = "theft"):
        nonlocal n
        n += 1
        lon, lat = centre(code) if code else (X0 - 0.05, Y0 - 0.05)
        rows.append({"id": f"E{n:05d}", "occurred_at": when, "category": category,
                     "status": status, "lon": lon + (n % 7) * 1e-4, "lat": lat})

    for i in range(4):
        for j in range(4):
            code = f"L{i}{j}"
            k25, k24 = {"L00": (60, 10), "L33": (5, 5)}.get(code, (10, 10))
            for m in range(k25):
                add(code, f"2025-{1 + m % 12:02d}-15 10:00", category=(
                    "fraud" if m % 2 else "theft"))
            for m in range(k24):
                add(code, f"2024-{1 + m % 12:02d}-15 10:00")
    add("L11", "2025-01-01 00:30")
    add("L11", "2024-12-31 23:30")
    add(None, "2025-06-01 12:00")
    add("L22", "2025-06-01 12:00", status="withdrawn")
    return pd.DataFrame(rows)


def l00_population(period: str) -> float:
    """L00's mean residents over a period, worked by hand from its two mid-year counts.

    8,000 on 2024-07-01 and 12,000 on 2025-07-01 (365 days apart), linear between and flat
    beyond (geo.exposure). On 2025-01-01, 184 days after the first count, it is
    8,000 + 4,000 × 184 / 365.
    """
    jan1 = 8000 + 4000 * 184 / 365
    if period == "2025":  # up to 12,000 over 181 days, then flat for 184
        return (181 * (jan1 + 12_000) / 2 + 184 * 12_000) / 365
    if period == "2024":  # flat 8,000 for 182 days, then up to jan1 over 184
        return (182 * 8000 + 184 * (8000 + jan1) / 2) / 366
    if period == "2025-Q1":  # 90 days on the line from jan1: its value at the middle
        return jan1 + 4000 / 365 * 45
    raise ValueError(period)
