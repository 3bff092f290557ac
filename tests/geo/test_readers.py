"""Readers: every format, every CRS path, every validation rule."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from geo.china import wgs84_to_bd09, wgs84_to_gcj02
from geo.readers import (
    InputError,
    RejectedRowsError,
    parse_field_mappings,
    read_layer,
)

BEIJING = (116.397, 39.909)
GEOD = pyproj.Geod(ellps="WGS84")


def ground_m(lon1, lat1, lon2, lat2) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def communities_frame(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    cells = [box(116.30 + 0.01 * i, 39.90, 116.31 + 0.01 * i, 39.91) for i in range(3)]
    gdf = gpd.GeoDataFrame({
        "社区代码": ["110101001001", "110101001002", "110101001003"],
        "社区名称": ["和平里社区", "安华里社区", "东四社区"],
        "街道": ["和平街道"] * 3,
        "常住人口": [5000, 12000, 8000],
    }, geometry=cells, crs="EPSG:4326")
    return gdf.to_crs(crs)


CN_FIELDS = {"code": "社区代码", "name": "社区名称", "subdistrict": "街道",
             "population": "常住人口"}


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


def incident_rows(n: int = 100) -> list[dict]:
    rng = np.random.default_rng(7)
    return [{"id": f"A{i:04d}", "occurred_at": f"2025-03-{1 + i % 28:02d} 10:{i % 60:02d}:00",
             "category": "theft", "status": "filed",
             "lon": round(116.30 + 0.03 * rng.random(), 6),
             "lat": round(39.90 + 0.01 * rng.random(), 6)} for i in range(n)]


# --- formats --------------------------------------------------------------------------------


def test_geojson_with_chinese_fields_mapped(tmp_path):
    path = tmp_path / "c.geojson"
    communities_frame().to_file(path, driver="GeoJSON")
    res = read_layer(path, "communities", fields=[f"{k}={v}" for k, v in CN_FIELDS.items()])
    assert list(res.frame["code"]) == ["110101001001", "110101001002", "110101001003"]
    assert list(res.frame["name"]) == ["和平里社区", "安华里社区", "东四社区"]
    assert res.frame["population"].tolist() == [5000.0, 12000.0, 8000.0]
    assert res.frame.crs.to_epsg() == 4326
    assert set(res.frame.geom_type) == {"MultiPolygon"}
    assert res.rows_rejected == 0 and res.format == "geojson"


def test_chinese_field_names_recognised_without_mapping(tmp_path):
    path = tmp_path / "c.geojson"
    communities_frame().to_file(path, driver="GeoJSON")
    res = read_layer(path, "communities")
    assert res.frame["population"].sum() == 25000
    assert res.field_sources["code"] == "社区代码"


def test_geopackage_layer_choice(tmp_path):
    path = tmp_path / "c.gpkg"
    gdf = communities_frame()
    gdf.to_file(path, layer="communities", driver="GPKG")
    gdf.iloc[:1].to_file(path, layer="other", driver="GPKG")
    with pytest.raises(InputError, match=r"has 2 layers .*choose one with --layer"):
        read_layer(path, "communities")
    with pytest.raises(InputError, match="no layer 'nope'"):
        read_layer(path, "communities", gpkg_layer="nope")
    assert len(read_layer(path, "communities", gpkg_layer="communities").frame) == 3
    assert len(read_layer(path, "communities", gpkg_layer="other").frame) == 1


def _gbk_shapefile_zip(tmp_path: Path) -> Path:
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf = communities_frame().rename(columns={"社区代码": "code", "社区名称": "name",
                                              "常住人口": "pop", "街道": "jd"})
    gdf.to_file(shp_dir / "c.shp", encoding="gbk")
    cpg = shp_dir / "c.cpg"
    if cpg.exists():
        cpg.unlink()  # Chinese shapefiles often come without one
    out = tmp_path / "c.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f.name)
    return out


def test_zipped_gbk_shapefile_needs_encoding(tmp_path):
    path = _gbk_shapefile_zip(tmp_path)
    res = read_layer(path, "communities", encoding="gbk", fields={"population": "pop"})
    assert list(res.frame["name"]) == ["和平里社区", "安华里社区", "东四社区"]
    wrong = read_layer(path, "communities", fields={"population": "pop"})
    assert list(wrong.frame["name"]) != ["和平里社区", "安华里社区", "东四社区"]
    assert any("--encoding gbk" in w for w in wrong.warnings)


def test_geoparquet(tmp_path):
    path = tmp_path / "c.parquet"
    communities_frame("EPSG:4548").to_parquet(path)
    res = read_layer(path, "communities")
    assert res.source_crs == "EPSG:4548"
    assert res.frame.total_bounds == pytest.approx([116.30, 39.90, 116.33, 39.91], abs=1e-7)


def test_csv_with_wkt_column(tmp_path):
    path = write_csv(tmp_path / "f.csv", [
        {"id": "F1", "type": "police_station", "wkt": "POINT (116.40 39.90)"},
        {"id": "F2", "type": "派出所", "wkt": "SRID=4326;POINT (116.41 39.91)"},
        {"id": "F3", "type": "fire_station", "wkt": "POINT (116.4"},
    ])
    res = read_layer(path, "facilities")
    assert list(res.frame["id"]) == ["F1", "F2"]
    assert list(res.frame["type"]) == ["police_station", "police_station"]
    assert [(r.row, r.field) for r in res.rejections] == [(3, "geometry")]
    assert "not valid WKT" in res.rejections[0].reason


@pytest.mark.parametrize("lon,lat", [("lon", "lat"), ("lng", "latitude"), ("经度", "纬度"),
                                     ("X", "Y"), ("Longitude", "Latitude")])
def test_csv_usual_coordinate_names(tmp_path, lon, lat):
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "type": "police_office",
                                           lon: 116.4, lat: 39.9}])
    res = read_layer(path, "facilities")
    assert res.frame.geometry.iloc[0].equals(Point(116.4, 39.9))


def test_csv_coordinates_by_mapping_and_gbk_fallback(tmp_path):
    path = tmp_path / "f.csv"
    pd.DataFrame([{"编号": "F1", "类型": "社区警务室", "名称": "东四警务室", "东经度": 116.4,
                   "北纬度": 39.9}]).to_csv(path, index=False, encoding="gbk")
    with pytest.raises(InputError, match="no coordinates"):
        read_layer(path, "facilities")
    res = read_layer(path, "facilities", fields=["lon=东经度", "lat=北纬度"])
    assert res.frame["name"].iloc[0] == "东四警务室"
    assert res.frame["type"].iloc[0] == "police_office"
    assert any("GB18030" in w for w in res.warnings)


def test_plain_parquet_read_like_csv(tmp_path):
    path = tmp_path / "f.parquet"
    pd.DataFrame({"id": ["F1"], "type": ["health_station"], "lon": [116.4],
                  "lat": [39.9]}).to_parquet(path)
    assert read_layer(path, "facilities").frame.geometry.iloc[0].equals(Point(116.4, 39.9))


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_layer(tmp_path / "none.csv", "facilities")
    p = tmp_path / "x.xlsx"
    p.write_text("x")
    with pytest.raises(InputError, match=r"unknown file type '\.xlsx'"):
        read_layer(p, "facilities")


def test_missing_required_column_names_it(tmp_path):
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "lon": 116.4, "lat": 39.9}])
    with pytest.raises(InputError, match=r"needs a 'type' column.*--field type=COLUMN"):
        read_layer(path, "facilities")


def test_mapping_errors(tmp_path):
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "type": "x", "lon": 1, "lat": 2}])
    with pytest.raises(ValueError, match="target 'popu' is not a field of layer 'facilities'"):
        read_layer(path, "facilities", fields={"popu": "x"})
    with pytest.raises(InputError, match="no column '名称'"):
        read_layer(path, "facilities", fields={"name": "名称"})
    with pytest.raises(ValueError, match="must look like target=source"):
        parse_field_mappings(["name"])
    with pytest.raises(ValueError, match="maps 'name' twice"):
        parse_field_mappings(["name=a", "name=b"])
    with pytest.raises(ValueError, match="layer must be one of"):
        read_layer(path, "roads")


# --- coordinate systems --------------------------------------------------------------------


def test_gcj02_published_pair(tmp_path):
    # A point in GCJ-02 read with --crs gcj02 lands on the WGS84 point it was shifted from.
    # The forward shift is checked against a published reference pair in tests/geo/test_crs.py;
    # here the reader path must invert it to < 1 cm.
    wlon, wlat = BEIJING
    glon, glat = wgs84_to_gcj02(np.array([wlon]), np.array([wlat]))
    assert ground_m(wlon, wlat, glon[0], glat[0]) > 100  # the shift is real
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "type": "police_office",
                                           "lon": repr(float(glon[0])),
                                           "lat": repr(float(glat[0]))}])
    res = read_layer(path, "facilities", crs="gcj02")
    p = res.frame.geometry.iloc[0]
    assert ground_m(p.x, p.y, wlon, wlat) < 0.01
    assert res.source_crs == "gcj02"


def test_bd09_path(tmp_path):
    blon, blat = wgs84_to_bd09(np.array([BEIJING[0]]), np.array([BEIJING[1]]))
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "type": "x", "lon": repr(float(blon[0])),
                                           "lat": repr(float(blat[0]))}])
    p = read_layer(path, "facilities", crs="bd09").frame.geometry.iloc[0]
    assert ground_m(p.x, p.y, *BEIJING) < 0.01


def test_epsg_4548_csv(tmp_path):
    tr = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    x, y = tr.transform(*BEIJING)
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "type": "x", "x": x, "y": y}])
    with pytest.raises(RejectedRowsError, match="no valid rows"):
        read_layer(path, "facilities")
    p = read_layer(path, "facilities", crs="EPSG:4548").frame.geometry.iloc[0]
    assert ground_m(p.x, p.y, *BEIJING) < 1e-3


def test_projected_numbers_without_crs_warn(tmp_path):
    tr = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    x, y = tr.transform(*BEIJING)
    rows = [{"id": "F1", "type": "x", "x": x, "y": y}, {"id": "F2", "type": "x",
                                                        "x": 116.4, "y": 39.9},
            {"id": "F3", "type": "x", "x": x + 5, "y": y}]
    path = write_csv(tmp_path / "f.csv", rows)
    res = read_layer(path, "facilities")
    assert any("look projected" in w and "--crs" in w for w in res.warnings)
    assert [r.row for r in res.rejections] == [1, 3]
    assert "outside the valid range of EPSG:4326" in res.rejections[0].reason


def test_esri_102649_us_feet(tmp_path):
    lon, lat = -111.93, 33.42  # Tempe, Arizona
    tr = pyproj.Transformer.from_crs("EPSG:4326", "ESRI:102649", always_xy=True)
    x, y = tr.transform(lon, lat)
    rows = [{"id": "F1", "type": "x", "x": x, "y": y},
            {"id": "F2", "type": "x", "x": x + 1000.0, "y": y}]
    path = write_csv(tmp_path / "f.csv", rows)
    res = read_layer(path, "facilities", crs="ESRI:102649")
    a, b = res.frame.geometry.iloc[0], res.frame.geometry.iloc[1]
    assert ground_m(a.x, a.y, lon, lat) < 1e-3
    # 1,000 international feet on the grid are ~304.8 m on the ground (scale factor ~0.9999)
    assert ground_m(a.x, a.y, b.x, b.y) == pytest.approx(304.8, rel=2e-4)
    assert any("area of use" in w for w in res.warnings) is False


def test_file_crs_used_and_override_warned(tmp_path):
    path = tmp_path / "c.gpkg"
    communities_frame("EPSG:4548").to_file(path, driver="GPKG")
    assert read_layer(path, "communities").source_crs == "EPSG:4548"
    res = read_layer(path, "communities", crs="EPSG:4547")
    assert any("declares EPSG:4548; using EPSG:4547" in w for w in res.warnings)


def test_unknown_crs(tmp_path):
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "type": "x", "lon": 1, "lat": 2}])
    with pytest.raises(ValueError, match="EPSG:999999"):
        read_layer(path, "facilities", crs="EPSG:999999")


def test_outside_area_of_use_is_warned_not_rejected(tmp_path):
    # EPSG:4548's area of use is China between 115.5E and 118.5E; Shanghai is outside it
    tr = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    x, y = tr.transform(121.47, 31.23)
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "type": "x", "x": x, "y": y}])
    res = read_layer(path, "facilities", crs="EPSG:4548")
    assert res.rows_valid == 1
    assert any("outside the area of use of EPSG:4548" in w for w in res.warnings)


# --- validation rules ----------------------------------------------------------------------


def test_three_bad_rows_of_100(tmp_path):
    rows = incident_rows(100)
    rows[9]["occurred_at"] = "yesterday-ish"       # row 10
    rows[49]["lat"] = 95.0                          # row 50
    rows[79]["id"] = ""                             # row 80
    path = write_csv(tmp_path / "i.csv", rows)
    res = read_layer(path, "incidents")
    assert res.rows_valid == 97
    assert [(r.row, r.field) for r in res.rejections] == [
        (10, "occurred_at"), (50, "geometry"), (80, "id")]
    assert res.rejections[0].record_id == "A0009"
    with pytest.raises(RejectedRowsError, match="3 of 100 rows rejected") as err:
        read_layer(path, "incidents", strict=True)
    assert err.value.result.rows_rejected == 3


def test_naive_times_are_local_and_stored_utc(tmp_path):
    rows = incident_rows(4)
    rows[0]["occurred_at"] = "2025-01-01 00:30:00"
    rows[1]["occurred_at"] = "2025-01-01T00:30:00+00:00"
    rows[2]["occurred_at"] = "2025年1月2日 8时05分"
    rows[3]["occurred_at"] = "2025/01/03 23:59"
    res = read_layer(write_csv(tmp_path / "i.csv", rows), "incidents")
    t = res.frame["occurred_at"]
    assert str(t.dtype) == "datetime64[ns, UTC]"
    assert t.iloc[0] == pd.Timestamp("2024-12-31 16:30", tz="UTC")
    assert t.iloc[1] == pd.Timestamp("2025-01-01 00:30", tz="UTC")
    assert t.iloc[2] == pd.Timestamp("2025-01-02 00:05", tz="UTC")
    assert t.iloc[3] == pd.Timestamp("2025-01-03 15:59", tz="UTC")
    other = read_layer(write_csv(tmp_path / "j.csv", rows[:1]), "incidents",
                       timezone="Europe/London")
    assert other.frame["occurred_at"].iloc[0] == pd.Timestamp("2025-01-01 00:30", tz="UTC")
    with pytest.raises(ValueError, match="IANA time zone"):
        read_layer(tmp_path / "j.csv", "incidents", timezone="Beijing")


def test_location_precision_default_and_synonyms(tmp_path):
    rows = incident_rows(3)
    res = read_layer(write_csv(tmp_path / "a.csv", rows), "incidents")
    assert res.frame["location_precision"].tolist() == ["exact"] * 3
    rows[0]["location_precision"], rows[1]["location_precision"] = "地址", "Centroid"
    rows[2]["location_precision"] = "fuzzy"
    res = read_layer(write_csv(tmp_path / "b.csv", rows), "incidents")
    assert res.frame["location_precision"].tolist() == ["address", "centroid"]
    assert [(r.row, r.field) for r in res.rejections] == [(3, "location_precision")]


def test_null_geometry_needs_community_code(tmp_path):
    rows = incident_rows(3)
    rows[0].update(lon=None, lat=None, community_code="110101001001")
    rows[1].update(lon=None, lat=None)
    rows[2].update(lat=None)
    res = read_layer(write_csv(tmp_path / "i.csv", rows), "incidents")
    assert list(res.frame["id"]) == ["A0000"]
    assert res.frame.geometry.iloc[0] is None
    assert res.frame["community_code"].iloc[0] == "110101001001"
    reasons = {r.row: r.reason for r in res.rejections}
    assert "no community_code" in reasons[2]
    assert "only one of longitude/latitude" in reasons[3]


def test_duplicate_ids_rejected_every_occurrence(tmp_path):
    rows = incident_rows(5)
    rows[3]["id"] = rows[1]["id"]
    res = read_layer(write_csv(tmp_path / "i.csv", rows), "incidents")
    assert [r.row for r in res.rejections] == [2, 4]
    assert "appears 2 times in the file (rows 2, 4)" in res.rejections[0].reason
    assert res.rows_valid == 3


@pytest.mark.parametrize("value,reason", [("-5", "population must be >= 0"),
                                          ("many", "population must be a number")])
def test_bad_population(tmp_path, value, reason):
    gdf = communities_frame()
    gdf["常住人口"] = gdf["常住人口"].astype(str)
    gdf.loc[1, "常住人口"] = value
    path = tmp_path / "c.geojson"
    gdf.to_file(path, driver="GeoJSON")
    res = read_layer(path, "communities")
    assert [(r.row, r.field, r.reason) for r in res.rejections] == [(2, "population", reason)]


def test_population_by_year(tmp_path):
    path = write_csv(tmp_path / "p.csv", [
        {"code": "110101001001", "year": 2024, "population": 5100},
        {"code": "110101001001", "year": 2025, "population": 5200},
        {"code": "110101001001", "year": 2025, "population": 5300},
        {"code": "110101001002", "year": "2024.5", "population": 1},
    ])
    res = read_layer(path, "population")
    assert res.rows_valid == 1 and isinstance(res.frame, pd.DataFrame)
    assert {r.row for r in res.rejections} == {2, 3, 4}
    assert "year must be a whole number" in next(r.reason for r in res.rejections if r.row == 4)


def test_polygon_repair_small_change_accepted_bowtie_rejected(tmp_path):
    # A ring that touches itself at one point (an "inverted hole"): invalid, and make_valid
    # keeps its area exactly -> accepted. A bowtie: make_valid doubles the shoelace area of
    # the crossed ring -> rejected.
    x0, y0 = 116.30, 39.90
    touching = Polygon([(x0, y0), (x0 + 0.01, y0), (x0 + 0.01, y0 + 0.01), (x0 + 0.005, y0),
                        (x0, y0 + 0.01), (x0, y0)])
    bowtie = Polygon([(x0, y0), (x0 + 0.01, y0 + 0.01), (x0 + 0.01, y0), (x0, y0 + 0.01)])
    ok = box(x0, y0, x0 + 0.01, y0 + 0.01)
    gdf = gpd.GeoDataFrame({"code": ["a", "b", "c"], "name": ["甲", "乙", "丙"]},
                           geometry=[touching, bowtie, ok], crs="EPSG:4326")
    assert not shapely.is_valid(touching) and not shapely.is_valid(bowtie)
    path = tmp_path / "c.geojson"
    gdf.to_file(path, driver="GeoJSON")
    res = read_layer(path, "communities")
    assert list(res.frame["code"]) == ["a", "c"]
    assert res.frame.geometry.is_valid.all()
    assert res.frame.geometry.iloc[0].area == pytest.approx(touching.area, rel=1e-12)
    assert [r.row for r in res.rejections] == [2]
    assert "invalid polygon" in res.rejections[0].reason
    assert any("repaired with make_valid" in w for w in res.warnings)


def test_wrong_and_empty_geometry(tmp_path):
    gdf = gpd.GeoDataFrame({"id": ["F1", "F2", "F3"], "type": ["x"] * 3},
                           geometry=[box(0, 0, 1, 1), Point(116.4, 39.9), Point()],
                           crs="EPSG:4326")
    path = tmp_path / "f.gpkg"
    gdf.to_file(path, driver="GPKG")
    res = read_layer(path, "facilities")
    reasons = {r.row: r.reason for r in res.rejections}
    assert reasons[1] == "expected Point geometry"
    assert reasons[3] in ("geometry is empty", "geometry is missing")
    assert list(res.frame["id"]) == ["F2"]


def test_device_rules(tmp_path):
    rows = [
        {"id": "D1", "kind": "枪机", "azimuth_deg": -30, "fov_deg": 90, "range_m": 50,
         "status": "正常", "installed_on": "2024-01-05", "lon": 116.4, "lat": 39.9},
        {"id": "D2", "kind": "dome", "azimuth_deg": None, "fov_deg": 400, "range_m": 50,
         "status": "working", "lon": 116.4, "lat": 39.9},
        {"id": "D3", "kind": "camera", "azimuth_deg": 10, "fov_deg": 60, "range_m": 0,
         "status": "meh", "lon": 116.4, "lat": 39.9},
        {"id": "D4", "kind": "camera", "status": "故障", "installed_on": "2025-05-01",
         "removed_on": "2025-04-01", "lon": 116.4, "lat": 39.9},
    ]
    res = read_layer(write_csv(tmp_path / "d.csv", rows), "devices")
    d1 = res.frame.iloc[0]
    assert (d1["kind"], d1["azimuth_deg"], d1["status"]) == ("camera", 330.0, "working")
    assert d1["installed_on"] == pd.Timestamp("2024-01-05")
    got = {(r.row, r.field) for r in res.rejections}
    assert got == {(2, "fov_deg"), (3, "range_m"), (3, "status"), (4, "removed_on")}


def test_compound_measures_from_flags_and_list(tmp_path):
    rows = [
        {"id": "C1", "name": "甲小区", "fence": "是", "gate_guard": "1", "门禁": "有",
         "measures": "lighting；巡逻", "wkt": "POINT (116.4 39.9)"},
        {"id": "C2", "name": "乙小区", "fence": "否", "gate_guard": "0", "门禁": "",
         "measures": "", "wkt": "POLYGON ((116.4 39.9, 116.41 39.9, 116.41 39.91, 116.4 39.9))"},
        {"id": "C3", "name": "丙小区", "fence": "maybe", "gate_guard": "", "门禁": "",
         "measures": "", "wkt": "POINT (116.4 39.9)"},
    ]
    res = read_layer(write_csv(tmp_path / "c.csv", rows), "compounds")
    assert list(res.frame["measures"]) == [
        "access_control,fence,gate_guard,lighting,patrol", ""]
    assert [(r.row, r.field) for r in res.rejections] == [(3, "fence")]


def test_nothing_usable_raises(tmp_path):
    path = write_csv(tmp_path / "f.csv", [{"id": "", "type": "x", "lon": 1, "lat": 2}])
    with pytest.raises(RejectedRowsError, match="no valid rows"):
        read_layer(path, "facilities")
    empty = tmp_path / "e.csv"
    empty.write_text("id,type,lon,lat\n")
    with pytest.raises(InputError, match="no records"):
        read_layer(empty, "facilities")


def test_inputs_not_modified_and_dates(tmp_path):
    rows = [{"id": "F1", "type": "health_center", "opened_on": "2020-01-01",
             "closed_on": "2024/6/30", "lon": 116.4, "lat": 39.9}]
    res = read_layer(write_csv(tmp_path / "f.csv", rows), "facilities")
    assert res.frame["closed_on"].iloc[0] == pd.Timestamp(dt.date(2024, 6, 30))
    assert list(res.frame.columns) == ["id", "type", "name", "opened_on", "closed_on",
                                       "geometry"]


def test_daylight_saving_changes(tmp_path):
    rows = incident_rows(3)
    rows[0]["occurred_at"] = "2025-11-02 01:30:00"  # New York: this hour happens twice
    rows[1]["occurred_at"] = "2025-03-09 02:30:00"  # New York: clocks skip 02:00-03:00
    rows[2]["occurred_at"] = "2025-07-01 12:00:00"
    res = read_layer(write_csv(tmp_path / "i.csv", rows), "incidents",
                     timezone="America/New_York")
    assert res.frame["occurred_at"].tolist() == [
        pd.Timestamp("2025-11-02 05:30", tz="UTC"),  # first occurrence, still EDT (-04:00)
        pd.Timestamp("2025-07-01 16:00", tz="UTC")]
    assert [(r.row, r.field) for r in res.rejections] == [(2, "occurred_at")]
    assert "does not exist in America/New_York" in res.rejections[0].reason
    assert "daylight saving" in res.rejections[0].reason
    assert any("repeats when daylight saving time ends" in w for w in res.warnings)


@pytest.mark.parametrize(("values", "expected", "warned"), [
    (["05/03/2025 10:00", "13/03/2025 10:00"], ["2025-03-05", "2025-03-13"], False),
    (["05/03/2025 10:00", "03/13/2025 10:00"], ["2025-05-03", "2025-03-13"], False),
    (["05/03/2025 10:00", "03/12/2025 10:00"], ["2025-05-03", "2025-03-12"], True),
    (["05.03.2025 10:00", "03.12.2025 10:00"], ["2025-03-05", "2025-12-03"], False),
])
def test_day_and_month_order_is_one_for_the_whole_column(tmp_path, values, expected, warned):
    rows = incident_rows(len(values))
    for row, value in zip(rows, values, strict=True):
        row["occurred_at"] = value
    res = read_layer(write_csv(tmp_path / "i.csv", rows), "incidents", timezone="UTC")
    assert res.frame["occurred_at"].dt.strftime("%Y-%m-%d").tolist() == expected
    assert any("could be day/month or month/day" in w for w in res.warnings) is warned


def test_day_first_column_rejects_a_month_first_value(tmp_path):
    rows = incident_rows(3)
    for row, value in zip(rows, ["25/03/2025", "05/03/2025", "03/13/2025"], strict=True):
        row["occurred_at"] = value
    res = read_layer(write_csv(tmp_path / "i.csv", rows), "incidents", timezone="UTC")
    assert res.frame["occurred_at"].dt.strftime("%m-%d").tolist() == ["03-25", "03-05"]
    assert [(r.row, r.field) for r in res.rejections] == [(3, "occurred_at")]


def test_when_nothing_loads_the_error_carries_the_crs_hint(tmp_path):
    tr = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)
    x, y = tr.transform(*BEIJING)
    path = write_csv(tmp_path / "f.csv", [{"id": "F1", "type": "x", "x": x, "y": y}])
    with pytest.raises(RejectedRowsError, match=r"(?s)no valid rows.*look projected.*--crs"):
        read_layer(path, "facilities")


def test_latin1_csv_decoded_as_gb18030_says_so(tmp_path):
    rows = incident_rows(2)
    rows[0]["address"] = "Müllerstraße 12, Köpenick"
    path = tmp_path / "i.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="cp1252")
    res = read_layer(path, "incidents")
    note = next(w for w in res.warnings if "GB18030" in w)
    assert "--encoding" in note and "cp1252" in note and "suggest it is not" in note
    right = read_layer(path, "incidents", encoding="cp1252")
    assert right.frame["address"].iloc[0] == "Müllerstraße 12, Köpenick"


def test_default_time_zone_far_from_china_is_warned_about(tmp_path):
    rows = incident_rows(3)
    for row in rows:
        row["lon"], row["lat"] = row["lon"] - 103.0, row["lat"] + 12.5  # Berlin
    path = write_csv(tmp_path / "i.csv", rows)
    res = read_layer(path, "incidents")
    assert any("far from China: pass --timezone" in w for w in res.warnings)
    berlin = read_layer(path, "incidents", timezone="Europe/Berlin")
    assert not any("--timezone" in w for w in berlin.warnings)
    beijing = read_layer(write_csv(tmp_path / "b.csv", incident_rows(3)), "incidents")
    assert not any("--timezone" in w for w in beijing.warnings)


def test_an_incident_in_the_future_is_rejected(tmp_path):
    rows = incident_rows(2)
    rows[1]["occurred_at"] = (dt.datetime.now() + dt.timedelta(days=400)).strftime(
        "%Y-%m-%d %H:%M")
    res = read_layer(write_csv(tmp_path / "i.csv", rows), "incidents")
    assert [(r.row, r.field, r.reason) for r in res.rejections] == [
        (2, "occurred_at", "occurred_at is in the future")]
    assert res.rows_valid == 1


def test_a_future_time_is_shown_as_written_and_in_the_loads_zone(tmp_path):
    rows = incident_rows(3)
    rows[1]["occurred_at"] = "2052/1/5 10:00"
    rows[2]["occurred_at"] = "2052-01-05T10:00:30+01:00"
    path = write_csv(tmp_path / "i.csv", rows)
    res = read_layer(path, "incidents")
    assert [(r.row, r.reason, r.value) for r in res.rejections] == [
        (2, "occurred_at is in the future",
         "2052-01-05 10:00（Asia/Shanghai；原文 2052/1/5 10:00）"),
        (3, "occurred_at is in the future",
         "2052-01-05 17:00:30（Asia/Shanghai；原文 2052-01-05T10:00:30+01:00）")]
    chicago = read_layer(path, "incidents", timezone="America/Chicago")
    assert [r.value for r in chicago.rejections] == [
        "2052-01-05 10:00（America/Chicago；原文 2052/1/5 10:00）",
        "2052-01-05 03:00:30（America/Chicago；原文 2052-01-05T10:00:30+01:00）"]


GBK_FIXTURE = Path(__file__).parents[1] / "data" / "loading" / "gbk_communities_no_cpg.zip"
GBK_HINT = ("文字疑似乱码 (text looks mis-decoded): gbk_communities_no_cpg.zip was read as "
            "ISO-8859-1 because no .cpg file names its encoding; read as GBK, its column names "
            "are 社区代码, 社区名称, 街道, 常住人口 (read now as ÉçÇø´úÂë, ÉçÇøÃû³Æ, ½ÖµÀ, "
            "³£×¡ÈË¿Ú): pass --encoding gbk (or gb18030)")


def test_a_gbk_shapefile_without_cpg_names_the_encoding_in_the_missing_column_error():
    with pytest.raises(InputError) as missing:
        read_layer(GBK_FIXTURE, "communities")
    assert str(missing.value).endswith(
        "columns: ÉçÇø´úÂë, ÉçÇøÃû³Æ, ½ÖµÀ, ³£×¡ÈË¿Ú. Map one with --field code=COLUMN\n"
        f"warning: {GBK_HINT}")
    with pytest.raises(InputError) as mapped:
        read_layer(GBK_FIXTURE, "communities", fields={"code": "社区代码"})
    assert str(mapped.value).endswith(f"the file has no column '社区代码'; columns: ÉçÇø´úÂë, "
                                      f"ÉçÇøÃû³Æ, ½ÖµÀ, ³£×¡ÈË¿Ú\nwarning: {GBK_HINT}")
    # Mapped by its mis-decoded names, it loads, still with the warning.
    odd = read_layer(GBK_FIXTURE, "communities", fields={"code": "ÉçÇø´úÂë",
                                                          "name": "ÉçÇøÃû³Æ"})
    assert odd.warnings == (GBK_HINT,)
    right = read_layer(GBK_FIXTURE, "communities", encoding="gbk")
    assert right.warnings == ()
    assert list(right.frame["name"]) == ["和平里社区", "安华里社区", "东四社区"]
    assert list(right.frame["population"]) == [5200, 6100, 4300]
