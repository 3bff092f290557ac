import base64
import dataclasses
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest

from maps import IncidentCells, aggregate_incidents, incident_map
from maps.incidents import grid_levels
from tests.maps.maphelpers import features_by_key, incident_data, layer_names, layers, legend, page


def assert_no_incident_location(html: str, points: gpd.GeoDataFrame) -> None:
    """Neither coordinate of any incident is written (to 6 decimals, about 0.1 m), and no
    coordinate pair of the page lies within 1e-5 degrees (about 1 m) of an incident."""
    for p in points.geometry:
        assert f"{p.x:.6f}" not in html and f"{p.y:.6f}" not in html
    pairs = np.array([(float(a), float(b)) for a, b in
                      re.findall(r"\[(-?\d+\.\d+),(-?\d+\.\d+)\]", html)])
    assert len(pairs)
    for p in points.geometry:
        near = (np.abs(pairs[:, 0] - p.x) < 1e-5) & (np.abs(pairs[:, 1] - p.y) < 1e-5)
        assert not near.any(), (p, pairs[near])


def test_points_page_holds_every_incident_with_its_popup_fields(communities, incidents, options):
    html = page(incident_map(communities, incidents, options=options))
    d = incident_data(html)
    assert d["mode"] == "points"
    assert d["lng"][0] == 116.401234 and d["lat"][0] == 39.901234
    assert d["id"] == ["A1", "A2", "A3", "A4", "A5", "A6"]
    # local time (Asia/Shanghai): the last one is 1 April 01:00, so April is a month too
    assert d["months"] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert d["month"] == [0, 0, 1, 1, 2, 3]
    assert d["time"][5] == "2025-04-01 01:00"
    assert d["categories"] == ["盗窃", "诈骗", "入室盗窃"]  # most frequent first
    assert d["cat"] == [0, 0, 1, 0, 2, 1]
    assert d["addr"][1] is None and d["addr"][0] == "长安街1号"
    assert layer_names(html) == ["社区边界", "发案热力", "发案点位（聚合）", "类别: 盗窃 (3)",
                                 "类别: 诈骗 (2)", "类别: 入室盗窃 (1)"]
    assert "入室盗窃" in legend(html)
    assert "数据期: 2025-01 – 2025-04" in html
    # an address holding markup cannot close the script element
    assert "</script>路" not in html and "<\\/script>路" in html
    assert "leaflet.markercluster.js" in html and "leaflet-heat.js" in html


def test_points_page_in_english_without_communities(incidents, options):
    html = page(incident_map(None, incidents, options=dataclasses.replace(options, language="en")))
    d = incident_data(html)
    assert d["categories"] == ["Theft", "Fraud", "Burglary"]
    assert d["text"]["allMonths"] == "All months"
    assert layer_names(html)[:2] == ["Incident heat", "Incidents (clustered)"]


def test_many_incidents_become_a_grid_without_points(communities, incidents, options):
    html = page(incident_map(communities, incidents, max_points=5, options=options))
    d = incident_data(html)
    assert d["mode"] == "grid" and d["levels"]
    assert_no_incident_location(html, incidents)
    for value in ("A1", "长安街1号"):
        assert value not in html
    assert "超过 5 起：按缩放级别网格汇总，不含点位" in legend(html)
    assert layer_names(html)[:2] == ["社区边界", "发案密度（网格汇总）"]
    assert "leaflet.markercluster" not in html


def decode(level: dict) -> dict[str, np.ndarray]:
    raw = base64.b64decode(level["b64"])
    out = {}
    for name, offset, width in level["layout"]:
        n = level["ne"] if name in ("key", "count") else level["nc"]
        out[name] = np.frombuffer(raw, dtype="<u1" if width == 1 else "<u2", count=n,
                                  offset=offset)
    return out


def mercator_cell(lon: float, lat: float, level: int) -> tuple[int, int]:
    x, y = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    half = 20037508.342789244
    return (int(np.floor((x + half) / (2 * half) * 2 ** level)),
            int(np.floor((half - y) / (2 * half) * 2 ** level)))


def test_grid_levels_count_every_incident_in_the_right_cell():
    rng = np.random.default_rng(1)
    lon = np.r_[116.40 + rng.uniform(0, 0.02, 50), 116.45]
    lat = np.r_[39.90 + rng.uniform(0, 0.02, 50), 39.95]
    key = np.r_[rng.integers(0, 6, 50), 5]
    levels = grid_levels(lon, lat, key)
    assert [lv["l"] for lv in levels] == list(range(levels[0]["l"], levels[-1]["l"] + 1))
    assert levels[-1]["l"] == 20  # the finest level allowed: cells of about 29 m
    for lv in levels:
        d = decode(lv)
        assert d["ce"].sum() == lv["ne"] and d["count"].sum() == 51
        cells = d["cy"].astype(int) * 65536 + d["cx"]
        assert np.all(np.diff(cells) > 0)  # sorted by row, then column, each cell once
        # the isolated incident: its own cell, key 5, count 1
        x, y = mercator_cell(116.45, 39.95, lv["l"])
        if lv["l"] >= 15:  # from ~1 km cells on, it is alone in its cell
            c = np.flatnonzero((d["cx"].astype(int) + lv["x0"] == x)
                               & (d["cy"].astype(int) + lv["y0"] == y))
            assert len(c) == 1
            start = int(d["ce"][: c[0]].sum())
            assert d["key"][start] == 5 and d["count"][start] == 1


def test_grid_splits_large_counts_and_respects_the_budget():
    lon = np.r_[np.full(600, 116.40), 116.40 + np.arange(10) * 0.01]
    lat = np.r_[np.full(600, 39.90), np.full(10, 39.95)]
    key = np.r_[np.zeros(600, dtype=int), np.arange(1, 11)]
    finest = grid_levels(lon, lat, key)[-1]
    d = decode(finest)
    assert [w for name, _, w in finest["layout"] if name == "count"] == [1]
    assert sorted(d["count"].tolist())[-3:] == [90, 255, 255]
    assert d["count"].sum() == 610
    small = grid_levels(lon, lat, key, max_bytes=1)
    assert len(small) == 1  # the coarsest level is always kept
    assert grid_levels(np.array([]), np.array([]), np.array([], dtype=int)) == []


def test_aggregate_incidents_by_hand():
    crs = pyproj.CRS("EPSG:4548")
    # metric points: two in cell (1796, 17680), one in (1797, 17680), three in (1796, 17681)
    x = np.array([449_010.0, 449_240.0, 449_260.0, 449_010.0, 449_100.0, 449_200.0])
    y = np.array([4_420_010.0, 4_420_240.0, 4_420_010.0, 4_420_260.0, 4_420_300.0, 4_420_499.0])
    lon, lat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
    points = gpd.GeoDataFrame({"category": ["a", "a", "b", "a", "a", "b"]},
                              geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    points = pd.concat([points, gpd.GeoDataFrame({"category": ["a"]}, geometry=[None],
                                                 crs="EPSG:4326")], ignore_index=True)
    cells = aggregate_incidents(points, cell_m=250.0, min_count=3, by_category=True,
                                metric_crs=crs)
    got = cells.frame.set_index(["ix", "iy"])
    assert got.loc[(1796, 17681), "count"] == 3 and not got.loc[(1796, 17681), "suppressed"]
    assert pd.isna(got.loc[(1796, 17680), "count"]) and got.loc[(1796, 17680), "suppressed"]
    assert pd.isna(got.loc[(1797, 17680), "count"])
    assert (cells.total, cells.no_location, cells.min_count) == (6, 1, 3)
    by_cat = cells.by_category.set_index(["ix", "iy", "category"])
    assert by_cat["suppressed"].all()  # 2 + 1 in the top cell: each below 3


def test_cells_page_holds_no_incident_coordinates(communities, incidents, options):
    cells = aggregate_incidents(incidents, cell_m=250.0, min_count=2, by_category=True)
    html = page(incident_map(communities, cells=cells, options=options))
    assert_no_incident_location(html, incidents)
    for value in ("A1", "长安街1号", "南巷3号"):
        assert value not in html
    assert "pingan.incidents(" not in html
    names = layer_names(html)
    assert names[:2] == ["社区边界", "发案网格（汇总）"]
    assert "类别: 盗窃" in names
    tips = [f["properties"]["t"] for f in layers(html)[1][0]["features"]]
    assert any("少于 2 起（不公开）" in t for t in tips)
    assert sum("<td>2</td>" in t for t in tips) == int((cells.frame["count"] == 2).sum())
    assert "250 米网格汇总，不含点位" in legend(html)


def test_cells_are_checked(incidents):
    cells = aggregate_incidents(incidents, min_count=3)
    leaked = cells.frame.assign(count=cells.frame["count"].fillna(1), suppressed=False)
    with pytest.raises(ValueError, match="shows counts below min_count=3"):
        dataclasses.replace(cells, frame=leaked)
    kept = cells.frame.assign(count=1, suppressed=True)
    with pytest.raises(ValueError, match="keeps counts of suppressed cells"):
        dataclasses.replace(cells, frame=kept)
    with pytest.raises(ValueError, match="cell_m must be a positive"):
        dataclasses.replace(cells, cell_m=0)
    with pytest.raises(ValueError, match=r"lacks columns \['suppressed'\]"):
        IncidentCells(frame=cells.frame.drop(columns="suppressed"), cell_m=250.0,
                      metric_crs=cells.metric_crs, min_count=3)


def test_incident_map_refuses(communities, incidents):
    cells = aggregate_incidents(incidents)
    with pytest.raises(ValueError, match="exactly one of incidents"):
        incident_map(communities)
    with pytest.raises(ValueError, match="exactly one of incidents"):
        incident_map(communities, incidents, cells=cells)
    with pytest.raises(ValueError, match="max_points"):
        incident_map(communities, incidents, max_points=-1)
    with pytest.raises(ValueError, match="max_grid_bytes"):
        incident_map(communities, incidents, max_grid_bytes=10)
    with pytest.raises(ValueError, match=r"incidents lacks columns \['category'\]"):
        incident_map(communities, incidents.drop(columns="category"))
    with pytest.raises(TypeError, match="cells must be IncidentCells"):
        incident_map(communities, cells=cells.frame)
    with pytest.raises(ValueError, match="cell_m must be a positive"):
        aggregate_incidents(incidents, cell_m=-5)
    with pytest.raises(ValueError, match="min_count must be a positive"):
        aggregate_incidents(incidents, min_count=0)
    with pytest.raises(ValueError, match="projected CRS"):
        aggregate_incidents(incidents, metric_crs="EPSG:4326")


def test_gcj_shift_applies_to_incident_points(incidents, options):
    from geo.china import wgs84_to_gcj02

    gcj = dataclasses.replace(options, tile_url="/tiles/{z}/{x}/{y}.png", tiles_gcj02=True)
    d = incident_data(page(incident_map(None, incidents, options=gcj)))
    lon, lat = wgs84_to_gcj02(116.401234, 39.901234)
    assert d["lng"][0] == round(float(lon), 6) and d["lat"][0] == round(float(lat), 6)


def test_points_without_location_are_left_out(incidents, options):
    missing = incidents.copy()
    missing.loc[2, "geometry"] = None
    d = incident_data(page(incident_map(None, missing, options=options)))
    assert d["id"] == ["A1", "A2", "A4", "A5", "A6"]
    assert features_by_key(page(incident_map(None, missing, options=options))) == {}


def test_count_classes_are_quantiles_without_repeats():
    from maps.incidents import _count_breaks

    fib = np.array([1, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89], dtype=float)
    assert _count_breaks(fib) == [1, 2, 5, 13, 34, 89]
    assert _count_breaks(np.array([3.0, 3.0, np.nan])) == [3]
    assert _count_breaks(np.array([])) == []
