"""Write the loading-hint fixtures of this folder (deterministic; the files are committed).

Run from the repository root: ``python tests/data/loading/make_fixtures.py``.

- ``beijing_grid_communities.geojson``: 8 x 8 communities of about 600 m in Beijing (WGS84).
- ``gcj02_incidents.csv``: 2,000 incidents inside that grid, written in GCJ-02 (火星坐标), as a
  Chinese web map gives them; loaded without ``--crs gcj02`` about a tenth land outside.
- ``wgs84_incidents.csv``: 500 incidents inside the grid in WGS84 (loaded with ``--crs gcj02``
  by mistake, a tenth land outside).
- ``swapped_incidents.csv``: 300 incidents inside the grid whose 经度 column holds latitudes and
  纬度 longitudes (every row is out of range).
- ``chicago_communities.geojson`` and ``chicago_swapped_incidents.csv``: a city-portal export
  whose Latitude and Longitude columns are swapped (still in range: the points land in
  Antarctica).
- ``gbk_communities_no_cpg.zip``: a zipped shapefile with Chinese column names and values in
  GBK and no ``.cpg`` file.
- ``future_incidents.csv``: incidents, one dated 2052/1/5 10:00 (a typo for 2025).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from shapely.geometry import box

from geo.china import wgs84_to_gcj02

HERE = Path(__file__).parent
X0, Y0, DX, DY, N = 116.38, 39.90, 0.007, 0.0054, 8
CATEGORIES = ["盗窃", "诈骗", "纠纷", "伤害"]


def beijing_grid() -> gpd.GeoDataFrame:
    rows = []
    for r in range(N):
        for c in range(N):
            k = r * N + c + 1
            rows.append({"code": f"110101003{k:03d}", "name": f"第{k}社区", "district": "东城区",
                         "population": 3000 + 37 * k,
                         "geometry": box(X0 + c * DX, Y0 + r * DY, X0 + (c + 1) * DX,
                                         Y0 + (r + 1) * DY)})
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def chinese_incidents(rng: np.random.Generator, n: int, prefix: str) -> pd.DataFrame:
    lon = X0 + rng.uniform(0.0, N * DX, n)
    lat = Y0 + rng.uniform(0.0, N * DY, n)
    start = pd.Timestamp("2025-01-01 00:00")
    times = start + pd.to_timedelta(np.sort(rng.integers(0, 365 * 24 * 60, n)), unit="min")
    return pd.DataFrame({"编号": [f"{prefix}{i:05d}" for i in range(n)],
                         "发生时间": times.strftime("%Y-%m-%d %H:%M"),
                         "类别": rng.choice(CATEGORIES, n), "经度": lon, "纬度": lat})


def write_csv(frame: pd.DataFrame, name: str) -> None:
    frame.to_csv(HERE / name, index=False, float_format="%.6f")


def gbk_shapefile_zip(path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"社区代码": ["110101003001", "110101003002", "110101003003"],
         "社区名称": ["和平里社区", "安华里社区", "东四社区"],
         "街道": ["和平里街道", "和平里街道", "东四街道"],
         "常住人口": [5200, 6100, 4300]},
        geometry=[box(X0 + i * DX, Y0, X0 + (i + 1) * DX, Y0 + DY) for i in range(3)],
        crs="EPSG:4326")
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / "社区.shp"
        pyogrio.write_dataframe(gdf, shp, encoding="gbk")
        dbf = shp.with_suffix(".dbf")
        raw = bytearray(dbf.read_bytes())
        raw[1:4] = bytes([125, 1, 1])  # the header's "last update": fixed, for reproducibility
        dbf.write_bytes(bytes(raw))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for suffix in (".shp", ".shx", ".dbf", ".prj"):  # no .cpg, as received
                info = zipfile.ZipInfo(f"shequ{suffix}", date_time=(2025, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, shp.with_suffix(suffix).read_bytes())
    path.write_bytes(buf.getvalue())


def main() -> None:
    rng = np.random.default_rng(12)
    beijing_grid().to_file(HERE / "beijing_grid_communities.geojson", driver="GeoJSON")
    gcj = chinese_incidents(rng, 2000, "JQ")
    gcj["经度"], gcj["纬度"] = wgs84_to_gcj02(gcj["经度"].to_numpy(), gcj["纬度"].to_numpy())
    write_csv(gcj, "gcj02_incidents.csv")
    write_csv(chinese_incidents(rng, 500, "WG"), "wgs84_incidents.csv")
    swapped = chinese_incidents(rng, 300, "SW")
    swapped["经度"], swapped["纬度"] = swapped["纬度"].to_numpy(), swapped["经度"].to_numpy()
    write_csv(swapped, "swapped_incidents.csv")

    cx, cy, side = -87.72, 41.80, 0.02
    chicago = gpd.GeoDataFrame(
        {"code": [str(k + 1) for k in range(9)], "name": [f"AREA {k + 1}" for k in range(9)],
         "population": [20000 + 1000 * k for k in range(9)]},
        geometry=[box(cx + (k % 3) * side, cy + (k // 3) * side, cx + (k % 3 + 1) * side,
                      cy + (k // 3 + 1) * side) for k in range(9)], crs="EPSG:4326")
    chicago.to_file(HERE / "chicago_communities.geojson", driver="GeoJSON")
    n = 400
    lon = cx + rng.uniform(0.0, 3 * side, n)
    lat = cy + rng.uniform(0.0, 3 * side, n)
    portal = pd.DataFrame({
        "ID": [str(13000000 + i) for i in range(n)],
        "Date": (pd.Timestamp("2024-03-01") + pd.to_timedelta(
            np.sort(rng.integers(0, 200 * 24 * 60, n)), unit="min")).strftime(
            "%Y-%m-%d %H:%M:%S"),
        "Primary Type": rng.choice(["THEFT", "BATTERY", "ASSAULT"], n),
        "Latitude": lon,  # swapped, as the user's export had them
        "Longitude": lat})
    write_csv(portal, "chicago_swapped_incidents.csv")

    gbk_shapefile_zip(HERE / "gbk_communities_no_cpg.zip")

    future = chinese_incidents(rng, 5, "FT")
    future["发生时间"] = ["2025/1/5 10:00", "2025/2/5 10:00", "2052/1/5 10:00",
                      "2025/3/5 10:00", "2025/4/5 10:00"]
    write_csv(future, "future_incidents.csv")


if __name__ == "__main__":
    main()
