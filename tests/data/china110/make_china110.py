"""Write the Chinese 110-export fixture of issue 12 (run once; the files are committed).

What a district typically hands over: community boundaries as a GBK shapefile without a
``.cpg`` (zipped), the seventh census (七普, reference date 2020-11-01) and year-end estimates
(年末常住人口) for 2022 and 2023, and a 110 alarm export saved from Excel as a GBK CSV with
Chinese column names, ``2024/3/5 14:23`` times, 110 category codes and GCJ-02 coordinates
(the map the call-takers use).

    python tests/data/china110/make_china110.py
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import box

from geo.china import wgs84_to_gcj02

HERE = Path(__file__).parent
WEST, SOUTH, STEP = 116.380, 39.900, 0.008  # about 680 m × 890 m per community
NAMES = ["西长安街社区", "府右街社区", "六部口社区", "新文化街社区", "钱串胡同社区", "文华社区",
         "东交民巷社区", "正义路社区"]
CODES = [f"1101020010{k:02d}" for k in range(1, 9)]
CATEGORY_CODES = {"0101": "盗窃", "0102": "盗窃", "0201": "伤害", "0301": "诈骗", "0401": "纠纷"}


def communities() -> gpd.GeoDataFrame:
    rows = []
    for k, (code, name) in enumerate(zip(CODES, NAMES, strict=True)):
        i, j = k % 4, k // 4
        x0, y0 = WEST + i * STEP, SOUTH + j * STEP
        rows.append({"社区代码": code, "社区名称": name, "街道": "西长安街街道", "区": "西城区",
                     "geometry": box(x0, y0, x0 + STEP, y0 + STEP)})
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def write_shapefile_zip(gdf: gpd.GeoDataFrame, name: str) -> None:
    tmp = HERE / "_shp"
    tmp.mkdir(exist_ok=True)
    gdf.to_file(tmp / f"{name}.shp", encoding="gbk", engine="pyogrio")
    (tmp / f"{name}.cpg").unlink(missing_ok=True)  # the file that says GBK goes missing
    with zipfile.ZipFile(HERE / f"{name}.zip", "w") as zf:
        for p in sorted(tmp.iterdir()):
            zf.write(p, p.name)
            p.unlink()
    tmp.rmdir()


def population() -> tuple[list[list[str]], list[list[str]]]:
    census = [["社区代码", "社区名称", "年份", "常住人口"]]
    yearly = [["社区代码", "年份", "年末常住人口"]]
    base = [4210, 3875, 5120, 2960, 3340, 4480, 3010, 2650]
    for code, name, pop in zip(CODES, NAMES, base, strict=True):
        census.append([code, name, "2020", str(pop)])
        yearly.append([code, "2022", str(round(pop * 1.03))])
        yearly.append([code, "2023", str(round(pop * 1.05))])
    return census, yearly


def incidents(rng: np.random.Generator) -> list[list[str]]:
    rows = [["警情编号", "报警时间", "警情类别代码", "警情类别", "发生地址", "经度", "纬度"]]
    n = 800
    k = rng.integers(0, len(CODES), n)
    lon = WEST + (k % 4 + rng.uniform(0.03, 0.97, n)) * STEP
    lat = SOUTH + (k // 4 + rng.uniform(0.03, 0.97, n)) * STEP
    glon, glat = wgs84_to_gcj02(lon, lat)
    start = np.datetime64("2024-01-01T00:00")
    minutes = np.sort(rng.integers(0, 366 * 1440, n))
    codes = list(CATEGORY_CODES)
    for r in range(n):
        ts = str(start + np.timedelta64(int(minutes[r]), "m"))
        day, hm = ts.split("T")
        y, m, d = (int(p) for p in day.split("-"))
        code = codes[int(rng.integers(0, len(codes)))]
        rows.append([f"J1101020024{r:06d}", f"{y}/{m}/{d} {hm}", code, CATEGORY_CODES[code],
                     f"西城区{NAMES[int(k[r])]}附近{r % 40 + 1}号", f"{glon[r]:.6f}",
                     f"{glat[r]:.6f}"])
    return rows


def main() -> None:
    rng = np.random.default_rng(110)
    write_shapefile_zip(communities(), "社区边界")
    census, yearly = population()
    for name, rows, enc in (("七普人口.csv", census, "utf-8-sig"),
                            ("年末常住人口.csv", yearly, "utf-8-sig"),
                            ("110警情导出.csv", incidents(rng), "gbk")):
        with open(HERE / name, "w", newline="", encoding=enc) as fh:
            csv.writer(fh).writerows(rows)
    with open(HERE / "110类别对照.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["raw", "canonical"]] + [[c, t] for c, t in
                                                          CATEGORY_CODES.items()])


if __name__ == "__main__":
    main()
