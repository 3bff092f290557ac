"""The output writers: GeoJSON geometry, rounding, nulls and provenance."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
from shapely.geometry import GeometryCollection, Point, Polygon

from api.output import to_csv_bytes, to_geojson


def test_geojson_rounds_keeps_properties_and_writes_null_geometry():
    frame = gpd.GeoDataFrame(
        {"code": ["a", "b", "c", "d"], "n": [1, np.nan, 3, 4], "名称": ["东", "西", "南", "北"]},
        geometry=[Polygon([(116.123456789, 39.9), (116.2, 39.9), (116.2, 40.0)]), None,
                  Polygon(), GeometryCollection([Point(116.00000004, 40.0)])],
        crs="EPSG:4326")
    doc = json.loads(to_geojson(frame, provenance={"period": "2025", "data_version": 7}))
    assert doc["type"] == "FeatureCollection" and doc["pingan"] == {"period": "2025",
                                                                    "data_version": 7}
    feats = doc["features"]
    assert [f["properties"]["code"] for f in feats] == ["a", "b", "c", "d"]
    assert feats[1]["properties"]["n"] is None and feats[0]["properties"]["名称"] == "东"
    ring = feats[0]["geometry"]["coordinates"][0]
    assert ring[0] == [116.1234568, 39.9] and ring[-1] == ring[0]
    assert feats[1]["geometry"] is None and feats[2]["geometry"] is None  # empty is null
    assert feats[3]["geometry"] == {"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [116.0, 40.0]}]}


def test_geojson_reprojects_to_wgs84():
    frame = gpd.GeoDataFrame({"code": ["a"]}, geometry=[Point(500000, 4419000)],
                             crs="EPSG:4548")
    lon, lat = json.loads(to_geojson(frame))["features"][0]["geometry"]["coordinates"]
    assert abs(lon - 117.0) < 1e-6 and 39.8 < lat < 40.0


def test_csv_has_bom_and_provenance_lines():
    data = to_csv_bytes(gpd.GeoDataFrame({"名称": ["东湖"]}, geometry=[Point(0, 0)]),
                        provenance={"period": "2025"})
    assert data.startswith("\ufeff# period: 2025\n".encode())
    assert "名称\n东湖\n" in data.decode("utf-8")


def test_geojson_keeps_z_and_drops_what_geojson_cannot_hold():
    from shapely import wkt

    frame = gpd.GeoDataFrame({"code": list("abcde")}, geometry=[
        wkt.loads("POINT Z (116.1 39.9 12.345678912)"),
        wkt.loads("GEOMETRYCOLLECTION (POINT (1 2), POLYGON EMPTY)"),
        wkt.loads("MULTILINESTRING ((0 0, 1 1), EMPTY)"),
        Point(np.nan, np.nan),
        wkt.loads("GEOMETRYCOLLECTION (GEOMETRYCOLLECTION (LINESTRING EMPTY), POINT EMPTY)"),
    ], crs="EPSG:4326")
    feats = json.loads(to_geojson(frame))["features"]
    assert feats[0]["geometry"]["coordinates"] == [116.1, 39.9, 12.3456789]
    assert feats[1]["geometry"] == {"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [1.0, 2.0]}]}
    assert feats[2]["geometry"] == {"type": "MultiLineString",
                                    "coordinates": [[[0.0, 0.0], [1.0, 1.0]]]}
    assert feats[3]["geometry"] is None and feats[4]["geometry"] is None
    assert [f["properties"]["code"] for f in feats] == list("abcde")


def test_people_are_whole_numbers_in_tables_and_exact_elsewhere():
    """Residents are estimates with fractions: tables round them, JSON and CSV do not."""
    import pandas as pd

    from api.output import is_people_count, to_json, to_table

    frame = pd.DataFrame({"code": ["a", "b"], "facility_uncovered_population": [14148.343, 0.4],
                          "population_newly_covered": [2.5, 1.0],
                          "facility_covered_population_share": [0.0213, 0.5],
                          "cameras_per_1000_residents": [1.25, 0.5]})
    table = to_table(frame, digits=3)
    assert "14,148 " in table + " " and "14,148.343" not in table
    assert " 0 " in table.splitlines()[3] + " "  # 0.4 people shows as 0
    assert "0.021" in table and "1.250" in table  # shares and rates keep their decimals
    assert json.loads(to_json(frame))["items"][0]["facility_uncovered_population"] == 14148.343
    assert "14148.343" in to_csv_bytes(frame).decode("utf-8-sig")
    assert [is_people_count(c) for c in ("population", "households", "population_reached",
                                          "facility_covered_population_share",
                                          "cameras_per_1000_residents", "case_rate_per_10k")
            ] == [True, True, True, False, False, False]
