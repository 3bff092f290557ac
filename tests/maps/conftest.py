"""Small hand-made inputs for the map builders: four square communities in central Beijing.

The communities are a 2 × 2 block of 0.005° squares whose south-west corner is at
(116.400, 39.900): c1 south-west, c2 south-east, c3 north-west, c4 north-east. Results are made
by geo's own functions on tiny data, or written by hand where the map only reads them.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

import maps
from geo.cameras import camera_metrics
from geo.cases import CaseCounts
from geo.compounds import compound_compliance
from geo.coverage import facility_coverage
from geo.hotspots import HotspotResult
from geo.period import parse_period
from geo.profile import load_profile
from geo.rates import compute_rates
from geo.siting import SitePlan
from geo.standard import evaluate
from maps import MapOptions

X0, Y0, D = 116.400, 39.900, 0.005
CODES = ["c1", "c2", "c3", "c4"]
NAMES = ["甲社区", "乙社区", "丙社区", "<b>丁</b>社区"]
WHEN = dt.datetime(2026, 1, 5, 9, 30)


def square(ix: int, iy: int) -> shapely.Polygon:
    return shapely.box(X0 + ix * D, Y0 + iy * D, X0 + (ix + 1) * D, Y0 + (iy + 1) * D)


@pytest.fixture
def options() -> MapOptions:
    return MapOptions(generated_at=WHEN)


@pytest.fixture
def communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": CODES, "name": NAMES, "population": [5000.0, 8000.0, 0.0, 12000.0]},
        geometry=[square(0, 0), square(1, 0), square(0, 1), square(1, 1)],
        crs="EPSG:4326",
    )


@pytest.fixture
def incidents() -> gpd.GeoDataFrame:
    """Six incidents with distinctive coordinates (checked for absence in aggregate pages)."""
    lon = [116.401234, 116.402345, 116.406789, 116.403456, 116.408765, 116.407654]
    lat = [39.901234, 39.902345, 39.901987, 39.907654, 39.908123, 39.906543]
    times = pd.to_datetime(["2025-01-03T02:00Z", "2025-01-20T10:30Z", "2025-02-11T23:50Z",
                            "2025-02-12T08:00Z", "2025-03-01T12:00Z", "2025-03-31T17:00Z"])
    return gpd.GeoDataFrame(
        {
            "id": [f"A{i}" for i in range(1, 7)],
            "occurred_at": times,
            "category": ["theft", "theft", "fraud", "theft", "burglary", "fraud"],
            "status": ["filed"] * 6,
            "address": ["长安街1号", None, "<script>x</script>路", "北街2号", "南巷3号", "西路4号"],
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    )


@pytest.fixture
def rates() -> object:
    period, before = parse_period("2025"), parse_period("2024")
    counts = CaseCounts(pd.DataFrame({"community_code": ["c1", "c2", "c4"], "cases": [10, 40, 30]}),
                        period)
    previous = CaseCounts(pd.DataFrame({"community_code": ["c1", "c2", "c4"],
                                        "cases": [10, 20, 30]}), before)
    population = pd.Series({"c1": 5000.0, "c2": 8000.0, "c4": 12000.0})
    return compute_rates(counts, population, compare_counts=previous)


def hotspot_frame(classes: list[str]) -> pd.DataFrame:
    n = len(classes)
    return pd.DataFrame({
        "value": np.linspace(10.0, 40.0, n),
        "neighbours": [3] * n,
        "hotspot_gi_z": np.linspace(2.9, -2.9, n),
        "gi_z_sim": np.linspace(2.5, -2.5, n),
        "p_sim": [0.004] * n,
        "p_value": [0.008] * n,
        "q_value": [np.nan] * n,
        "hotspot_class": classes,
    })


@pytest.fixture
def hotspots() -> HotspotResult:
    frame = hotspot_frame(["hot_99", "not_significant", "no_value", "cold_95"])
    frame.index = pd.Index(CODES, name="code")
    return HotspotResult(frame=frame, unit="community", weights="queen", permutations=999,
                         seed=1, fdr=False, islands=())


@pytest.fixture
def grid_hotspots() -> HotspotResult:
    cells = [shapely.box(X0 + i * D / 2, Y0, X0 + (i + 1) * D / 2, Y0 + D / 2) for i in range(3)]
    frame = gpd.GeoDataFrame(hotspot_frame(["hot_95", "not_significant", "no_neighbours"]),
                             geometry=cells, crs="EPSG:4326")
    frame["value"] = [12.0, 2.0, 1.0]
    frame.index = pd.Index(["g0", "g1", "g2"], name="cell")
    return HotspotResult(frame=frame, unit="cell", weights="queen", permutations=99, seed=1,
                         fdr=False, islands=("g2",), metric_crs=pyproj.CRS("EPSG:4548"),
                         cell_m=250.0)


@pytest.fixture
def devices() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["D1", "D2", "D3", "D4"],
            "kind": ["camera", "dome", "camera", "alarm"],
            "azimuth_deg": [0.0, 90.0, 180.0, np.nan],
            "fov_deg": [60.0, 90.0, 60.0, np.nan],
            "range_m": [80.0, 50.0, 80.0, np.nan],
            "status": ["working", "working", "faulty", "working"],
            "installed_on": pd.to_datetime(["2020-01-01"] * 4),
            "removed_on": pd.to_datetime([None, None, None, None]),
        },
        geometry=gpd.points_from_xy([116.4025, 116.4075, 116.4025, 116.4080],
                                    [39.9025, 39.9025, 39.9075, 39.9080]),
        crs="EPSG:4326",
    )


@pytest.fixture
def cameras(communities, devices):
    return camera_metrics(communities, devices, period="2025")


@pytest.fixture
def compounds() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["K1", "K2", "K3"],
            "name": ["和平小区", "幸福里", "东门单位"],
            "kind": ["residential", "residential", "unit"],
            "households": [300.0, 200.0, np.nan],
            "population": [np.nan, np.nan, 150.0],
            "measures": ["access_control,cctv_entrances,fence,gate_guard,lighting", "fence",
                         "fence,lighting"],
            "removed_on": pd.to_datetime([None, None, None]),
        },
        geometry=[shapely.box(116.401, 39.901, 116.402, 39.902),
                  shapely.box(116.406, 39.901, 116.407, 39.902),
                  shapely.Point(116.4085, 39.9085)],
        crs="EPSG:4326",
    )


@pytest.fixture
def compliance(compounds, communities):
    return compound_compliance(compounds, communities)


@pytest.fixture
def facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": ["F1", "F2", "F3"], "type": ["police_station", "health_station", "museum"],
         "name": ["东城派出所", "卫生站", "博物馆"]},
        geometry=gpd.points_from_xy([116.4020, 116.4080, 116.4050], [39.9020, 39.9080, 39.9050]),
        crs="EPSG:4326",
    )


@pytest.fixture
def coverage(communities, facilities):
    return facility_coverage(communities, facilities, facility_type="police_station",
                             radius_m=300.0)


@pytest.fixture
def plan() -> SitePlan:
    sites = gpd.GeoDataFrame({"candidate_id": ["S7"], "population_reached": [4200.0],
                              "population_newly_covered": [3900.0]},
                             geometry=[shapely.Point(116.4085, 39.9085)], crs="EPSG:4326")
    return SitePlan(sites=sites, population_total=25000.0, population_covered_before=12000.0,
                    population_covered_after=15900.0, coverage_before=0.48, coverage_after=0.636,
                    k_requested=1, k_used=1, radius_m=300.0, solver_status="Optimal",
                    solution_status="Optimal Solution Found", candidates_given=10,
                    candidates_reaching=4, candidates_used=4, demand_rows=12,
                    metric_crs=pyproj.CRS("EPSG:4548"), notes=())


PROFILE = """\
name = "测试标准"
version = "t1"
effective_date = 2025-01-01
source_notes = "hand-written for tests"

[bands]
meets_min_score = 80
partly_min_score = 60

[[criteria]]
id = "case_rate"
label_zh = "平滑万人发案率"
label_en = "Smoothed case rate"
metric = "case_rate_eb_per_10k_annual"
operator = "<="
threshold = 250
weight = 60
required = true
source = "test"
params = { period = "year" }

[[criteria]]
id = "camera_working"
label_zh = "视频监控完好率"
label_en = "Camera working ratio"
metric = "camera_working_ratio"
operator = ">="
threshold = 0.98
weight = 40
source = "test"
params = { period = "evaluated" }
"""


@pytest.fixture
def evaluation():
    profile = load_profile(PROFILE)
    metrics = pd.DataFrame({"case_rate": [120.0, 300.0, np.nan, 200.0],
                            "camera_working": [0.99, 0.99, 0.99, 0.5]},
                           index=pd.Index(CODES, name="code"))
    # c1 meets (100), c2 fails a required criterion (40), c3 is incomplete, c4 partly (60)
    return evaluate(metrics, profile)


@pytest.fixture
def all_maps(communities, incidents, rates, hotspots, grid_hotspots, cameras, compliance, devices,
             coverage, facilities, plan, evaluation, options) -> dict:
    """Every map kind (and every incident mode) built from the hand-made inputs."""
    return {
        "incidents": maps.incident_map(communities, incidents, options=options),
        "incidents_grid": maps.incident_map(communities, incidents, max_points=2,
                                            options=options),
        "incidents_cells": maps.incident_map(
            communities, cells=maps.aggregate_incidents(incidents, min_count=1), options=options),
        "rates": maps.rates_map(communities, rates, hotspots=hotspots, options=options),
        "hotspots": maps.hotspot_map(communities, hotspots, options=options),
        "hotspots_grid": maps.hotspot_map(communities, grid_hotspots, options=options),
        "protection": maps.protection_map(communities, devices=devices, cameras=cameras,
                                          compliance=compliance, options=options),
        "coverage": maps.coverage_map(communities, coverage, facilities=facilities, plan=plan,
                                      options=options),
        "standard": maps.standard_map(communities, evaluation, options=options),
    }
