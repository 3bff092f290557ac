"""The emerging hot-spot and density maps on hand-made cells over the four test communities."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pytest
import shapely

from maps import density_map, emerging_map, render_html
from maps.density import DRAWN_SHARE
from maps.emerging import EMERGING_COLORS
from tests.maps.conftest import X0, Y0
from tests.maps.maphelpers import features_by_key, layer_names, legend, page


def cells(n: int) -> list[shapely.Polygon]:
    d = 0.002
    return [shapely.box(X0 + i * d, Y0, X0 + (i + 1) * d, Y0 + d) for i in range(n)]


@pytest.fixture
def emerging_cells() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"cell_id": ["250m:1:1", "250m:2:1", "250m:3:1", "250m:4:1"],
         "category": ["intensifying_hot_spot", "no_pattern", "new_cold_spot", "<3"],
         "trend_tau": [0.8, 0.0, -0.1, np.nan], "trend_p": [0.001, 0.9, 0.7, np.nan],
         "last_z": [3.1, 0.2, -2.5, np.nan], "last_p": [0.002, 0.8, 0.01, np.nan],
         "incidents": [40, 2, 0, 1]},
        geometry=cells(4), crs="EPSG:4326")


def test_emerging_categories_colours_tooltips_and_legend(communities, emerging_cells, options):
    html = page(emerging_map(communities, emerging_cells, cell_m=250, step="month", steps=12,
                             options=options))
    feats = features_by_key(html)
    assert "250m:2:1" not in feats  # no pattern: not drawn
    assert feats["250m:1:1"][1]["fillColor"] == EMERGING_COLORS["intensifying_hot_spot"]
    assert feats["250m:3:1"][1]["fillColor"] == EMERGING_COLORS["new_cold_spot"]
    tip = feats["250m:1:1"][0]["properties"]["t"]
    assert "加强热点" in tip and "<th>趋势 τ（Mann-Kendall）</th><td>0.800</td>" in tip
    assert "<th>发案数</th><td>40</td>" in tip
    text = legend(html)
    assert "加强热点 (1)" in text and "新增冷点 (1)" in text and "&lt;3 (1)" in text
    assert "250 米网格 × 12 个月" in text
    assert layer_names(html) == ["社区边界", "新兴热点类别"]


def test_emerging_for_a_reader_of_categories_only(communities, emerging_cells, options):
    released = emerging_cells[["cell_id", "category", "geometry"]]
    en = dataclasses.replace(options, language="en")
    html = page(emerging_map(communities, released, cell_m=500, step="month", steps=12,
                             options=en))
    tip = features_by_key(html)["250m:1:1"][0]["properties"]["t"]
    assert "Intensifying hot spot" in tip and "Trend" not in tip and "Gi*" not in tip
    with pytest.raises(ValueError, match="category"):
        emerging_map(communities, released.drop(columns="category"), cell_m=250, step="month",
                     steps=12)


def test_density_classes_and_undrawn_cells(communities, options):
    density = np.array([100.0, 50.0, 10.0, 0.5, 0.0])
    frame = gpd.GeoDataFrame({"cell_id": [f"100m:{i}:0" for i in range(5)],
                              "density_per_km2": density, "expected": density * 0.01},
                             geometry=cells(5), crs="EPSG:4326")
    html = page(density_map(communities, frame, kernel="quartic", bandwidth_m=450, cell_m=100,
                            options=options))
    feats = features_by_key(html)
    # 0.5 is under 1 % of the maximum (100) and 0 is nothing: neither is drawn
    drawn = sorted(k for k in feats if k.startswith("100m:"))
    assert drawn == ["100m:0:0", "100m:1:0", "100m:2:0"] and DRAWN_SHARE == 0.01
    colours = [feats[f"100m:{i}:0"][1]["fillColor"] for i in range(3)]
    assert len(set(colours)) == 3
    tip = feats["100m:0:0"][0]["properties"]["t"]
    assert "<th>密度（起/平方公里）</th><td>100.00</td>" in tip
    assert "<th>本格期望发案数</th><td>1.00</td>" in tip
    assert "四次（双权） 核，带宽 450 米，100 米网格" in legend(html)
    assert "https://" not in render_html(density_map(communities, frame, kernel="gaussian",
                                                     bandwidth_m=450, cell_m=100,
                                                     options=options))


def test_density_of_an_empty_surface_draws_the_communities(communities, options):
    empty = gpd.GeoDataFrame({"cell_id": [], "density_per_km2": [], "expected": []},
                             geometry=[], crs="EPSG:4326")
    html = page(density_map(communities, empty, kernel="quartic", bandwidth_m=500, cell_m=250,
                            options=options))
    assert layer_names(html) == ["社区边界", "核密度（每平方公里）"]


def test_near_repeat_zones_tooltips_and_legend(communities, options):
    from maps import near_repeat_map
    from maps.nearrepeat import ZONE_STYLE

    centres = shapely.points([X0 + 0.003, X0 + 0.012], [Y0 + 0.004, Y0 + 0.004])
    zones = gpd.GeoDataFrame(
        {"incident_id": ["A1", "A2"], "occurred_on": ["2025-12-08", "2025-12-15"],
         "expires_on": ["2026-02-06", "2026-02-13"], "radius_m": [100.0, 100.0]},
        geometry=list(shapely.buffer(centres, 0.001)), crs="EPSG:4326")
    html = page(near_repeat_map(communities, zones, as_of="2025-12-21", recent_days=14,
                                radius_m=100.0, days=60, options=options))
    feats = features_by_key(html)
    assert feats["A1"][1]["fillColor"] == ZONE_STYLE["fillColor"]
    tip = feats["A2"][0]["properties"]["t"]
    assert "<th>风险截止日</th><td>2026-02-13</td>" in tip and "案件 A2" in tip
    assert "风险区（半径 100 米，60 天） (2)" in legend(html)
    assert "截至 2025-12-21" in legend(html)
    empty = page(near_repeat_map(communities, zones.iloc[:0], as_of="2025-12-21",
                                 recent_days=14, radius_m=None, days=None, options=options))
    assert "无显著近重复" in legend(empty)


def test_alerts_states_and_what_each_reader_sees(communities, options):
    from maps import alerts_map
    from maps.alerts import ALERT_STYLES

    units = gpd.GeoDataFrame(
        {"unit": ["U1", "U2", "U3"], "name": ["甲", "乙", "丙"],
         "method": ["ears_c2", "ears_c2", "none"], "alert": [True, False, False],
         "first_fired": ["2025-07-14", None, None], "observed": [36, 4, 0],
         "expected": [5.4, 4.1, np.nan], "threshold": [12.4, 11.2, np.nan],
         "step": ["2025-07-14"] * 3}, geometry=cells(3), crs="EPSG:4326")
    html = page(alerts_map(communities, units, as_of="2025-07-20", level="community",
                           resolution="week", options=options))
    feats = features_by_key(html)
    assert feats["U1"][1]["fillColor"] == ALERT_STYLES["alert"]["fillColor"]
    assert feats["U2"][1]["fillColor"] == ALERT_STYLES["quiet"]["fillColor"]
    assert feats["U3"][1].get("dashArray") == "4"
    tip = feats["U1"][0]["properties"]["t"]
    assert "<th>观测数</th><td>36</td>" in tip and "<th>首次预警</th><td>2025-07-14</td>" in tip
    assert "预警 (1)" in legend(html) and "截至 2025-07-20，社区：周 序列" in legend(html)
    released = units[["unit", "name", "method", "alert", "first_fired", "geometry"]].iloc[:1]
    tip = features_by_key(page(alerts_map(communities, released, as_of="2025-07-20",
                                          level="community", resolution="week",
                                          options=options)))["U1"][0]["properties"]["t"]
    assert "观测数" not in tip and "阈值" not in tip and "ears_c2" in tip
