"""The sample city's street network: river with few bridges, an elevated road, dead ends."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.network import build_network
from geo.noding import node_lines
from geo.projection import metric_crs_of
from geo.roads import normalise_roads
from geo.sample.roads import RIVER_BRIDGES, river_line


def test_the_river_is_crossed_by_bridges_only_and_the_expressway_meets_no_street(sample_city):
    roads = sample_city.roads
    crs = metric_crs_of(sample_city.communities)
    lines = roads.to_crs(crs)
    river = river_line(tuple(sample_city.communities.to_crs(crs).total_bounds))
    over = lines[lines.intersects(river)]
    assert set(over["高架"]) == {"是"}
    assert (over["等级"] != "快速路").sum() == RIVER_BRIDGES
    edges = node_lines(normalise_roads(roads).frame, metric_crs=crs)
    assert edges.report.components == 1
    expressway = edges.edges[edges.edges["name"] == "环城高架"]
    # it crosses dozens of streets but is one edge: no junction below it
    crossed = lines[lines["等级"] != "快速路"].intersects(
        lines[lines["等级"] == "快速路"].geometry.iloc[0]).sum()
    assert len(expressway) == 1 and crossed > 20
    # dead ends: nodes of degree 1
    degree = np.bincount(np.r_[edges.edges["u"], edges.edges["v"]])
    assert (degree == 1).sum() > 10


def test_walking_round_the_river_is_far_longer_than_the_straight_line(sample_city):
    edges = node_lines(normalise_roads(sample_city.roads).frame)
    walk = build_network(edges, mode="walk")
    river = river_line(tuple(sample_city.communities.to_crs(walk.crs).total_bounds))
    # two points 150 m either side of the river, halfway between the two bridges farthest apart
    roads = sample_city.roads.to_crs(walk.crs)
    bridges = roads[roads["名称"].str.endswith("桥")].geometry.centroid.x.sort_values()
    x0, _, x1, _ = sample_city.communities.to_crs(walk.crs).total_bounds
    xs = np.r_[x0, bridges.to_numpy(), x1]
    gap = int(np.argmax(np.diff(xs)))
    x = float(xs[gap] + xs[gap + 1]) / 2
    y = float(np.interp(x, *shapely.get_coordinates(river).T))

    south = gpd.GeoDataFrame({"id": ["S"]}, geometry=[shapely.Point(x, y - 150)], crs=walk.crs)
    north = gpd.GeoSeries([shapely.Point(x, y + 150)], crs=walk.crs)
    cost = walk.nearest(north, south).frame["cost"].iloc[0]
    assert cost > 5 * 300  # the straight line is 300 m
