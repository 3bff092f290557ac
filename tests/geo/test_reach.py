"""Tests for geo.reach: coverage, workload and response along a hand-drawn network."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.coverage import facility_coverage
from geo.errors import ParameterError
from geo.network import build_network
from geo.noding import node_lines
from geo.reach import network_coverage, network_workload, response_shares
from geo.roads import normalise_roads

GK = 4548
X0, Y0 = 500_000.0, 4_400_000.0


def _line(*xy):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in xy])


def _box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


@pytest.fixture
def river():
    """Two banks 200 m apart, one bridge at the far east end (x = 2,000 m)."""
    lines = [_line((0, 0), (2000, 0)), _line((0, 200), (2000, 200)),
             _line((2000, 0), (2000, 200))]
    roads = gpd.GeoDataFrame({"highway": ["residential"] * 3}, geometry=lines, crs=GK)
    edges = node_lines(normalise_roads(roads).frame)
    comms = gpd.GeoDataFrame({"code": ["S", "N"], "name": ["south", "north"],
                              "population": [1000.0, 1000.0]},
                             geometry=[_box(0, -40, 2000, 40), _box(0, 160, 2000, 240)], crs=GK)
    fac = gpd.GeoDataFrame({"id": ["F"], "type": ["police_office"]},
                           geometry=[shapely.Point(X0 + 100, Y0 + 10)], crs=GK)
    return edges, comms, fac


def test_across_the_river_is_near_in_a_line_and_far_by_road(river):
    edges, comms, fac = river
    walk = build_network(edges, mode="walk", metric_crs=GK)
    net = network_coverage(comms, fac, walk, facility_type="police_office", radius_m=500.0,
                           cell_m=50.0)
    line = facility_coverage(comms, fac, facility_type="police_office", radius_m=500.0,
                             cell_m=50.0)
    n_share = net.frame.loc["N", "facility_covered_population_share"]
    s_share = net.frame.loc["S", "facility_covered_population_share"]
    assert n_share == 0.0  # the bridge is 1,900 m away: 4 km round
    assert line.frame.loc["N", "facility_covered_population_share"] > 0.2
    # south bank: residents up to ~600 m east of x = 0 along the street (within 500 m of the
    # station at x = 100 less their offset of up to 40 m)
    assert 0.2 < s_share < 0.31
    # network distance >= straight line: every demand point reached along the roads is
    # within 500 m in a straight line (the areal line share differs by the cells' rounding)
    pts = net.placement.points
    straight = pts.distance(fac.geometry.iloc[0]) <= 500.0
    s_line = pts["population"][straight & (pts["code"] == "S")].sum() / 1000.0
    assert s_share <= s_line
    assert line.frame.loc["S", "facility_covered_population_share"] == pytest.approx(
        s_share, abs=0.01)
    # the north bank's residents walk ~1,900 + 200 + 1,000 m on average
    assert net.frame.loc["N", "facility_distance_m"] > 2500
    assert net.frame.loc["N", "facility_uncovered_population"] == pytest.approx(1000.0)
    assert set(net.gaps["code"]) == {"S", "N"}
    # the service area hugs the south street: it stops short of the north bank's far side
    area = net.areas.to_crs(GK).geometry.iloc[0]
    assert area.contains(shapely.Point(X0 + 100, Y0 + 90))
    assert not area.contains(shapely.Point(X0 + 100, Y0 + 200))
    assert net.frame.loc["N", "facility_covered_area_share"] < 0.05


def test_limits_must_fit_the_mode(river):
    edges, comms, fac = river
    walk = build_network(edges, mode="walk", metric_crs=GK)
    drive = build_network(edges, mode="drive", metric_crs=GK)
    with pytest.raises(ParameterError, match="minutes: walking reach is judged in metres"):
        network_coverage(comms, fac, walk, facility_type="police_office", minutes=5.0)
    with pytest.raises(ParameterError, match="radius_m: driving reach is judged in minutes"):
        network_coverage(comms, fac, drive, facility_type="police_office", radius_m=500.0)
    with pytest.raises(ParameterError, match=r"minutes must be a number of minutes"):
        network_coverage(comms, fac, drive, facility_type="police_office", minutes=-1.0)


def test_workload_and_response_follow_the_roads(river):
    edges, _comms, fac = river
    fac2 = pd.concat([fac, gpd.GeoDataFrame(
        {"id": ["G"], "type": ["police_office"]},
        geometry=[shapely.Point(X0 + 1900, Y0 + 0)], crs=GK)], ignore_index=True)
    # A: next to F across the river (near G by road); B: next to F on its own bank.
    inc = gpd.GeoDataFrame({"id": ["A", "B", "C"]}, geometry=[
        shapely.Point(X0 + 100, Y0 + 200), shapely.Point(X0 + 150, Y0), None], crs=GK)
    walk = build_network(edges, mode="walk", metric_crs=GK)
    res = network_workload(inc, fac2, walk, facility_type="police_office", radius_m=500.0)
    assert res.frame["incidents_catchment"].to_dict() == {"F": 1, "G": 1}
    assert res.frame["incidents_within_radius"].to_dict() == {"F": 1, "G": 0}
    assert (res.incidents_located, res.incidents_unlocated, res.incidents_out_of_reach) == (
        2, 1, 1)
    drive = build_network(edges, mode="drive", metric_crs=GK)
    residents = gpd.GeoDataFrame({"population": [10.0, 30.0]}, geometry=[
        shapely.Point(X0 + 100, Y0 + 200), shapely.Point(X0 + 120, Y0)], crs=GK)
    # residential streets at 25 km/h: 416.7 m a minute; A is 1,800 + 200 + 1,900 m = 9.4 min
    out = response_shares(drive, fac, inc, residents, minutes=(3.0, 10.0))
    assert out.frame["incidents_beyond"].tolist() == [1, 0]
    assert out.frame["residents_beyond"].tolist() == [10.0, 0.0]
    assert out.frame["residents_beyond_share"].tolist() == [0.25, 0.0]
    assert np.isclose(out.residents_total, 40.0) and out.incidents_total == 2


def test_site_plans_along_roads_cross_the_river_where_the_line_would_not(river):
    from geo.network_siting import plan_sites_along_roads

    edges, comms, fac = river
    walk = build_network(edges, mode="walk", metric_crs=GK)
    cands = gpd.GeoDataFrame({"id": ["N1", "S1"]}, geometry=[
        shapely.Point(X0 + 1000, Y0 + 200), shapely.Point(X0 + 1900, Y0)], crs=GK)
    plan = plan_sites_along_roads(comms, fac, walk, facility_type="police_office", k=1,
                                  radius_m=500.0, candidates=cands, cell_m=50.0)
    assert plan.sites["candidate_id"].tolist() == ["N1"]
    # N1 reaches the north bank from x = 500 to 1,500 m: half its residents, less the offsets
    assert 420 < plan.sites["population_newly_covered"].iloc[0] < 520
    assert plan.population_covered_before == pytest.approx(
        0.3 * 1000, abs=15)  # the south bank's first 600 m
    assert plan.coverage_after > plan.coverage_before
    assert plan.solver_status == "Optimal" and plan.radius_m == 500.0
