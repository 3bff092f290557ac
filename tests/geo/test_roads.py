"""Tests for geo.roads, geo.noding and geo.osm: attributes, noding rules, OSM node topology."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import InputError, ParameterError
from geo.noding import line_substrings, node_lines
from geo.osm import read_osm
from geo.roads import (
    mode_mask,
    normalise_roads,
    parse_flag,
    parse_layer,
    parse_oneway,
    parse_road_class,
    parse_speed_kmh,
    read_roads,
)

GK = 4548
X0, Y0 = 500_000.0, 4_400_000.0
OSM = Path(__file__).parents[1] / "data" / "roads" / "crossing.osm"


def _line(*xy):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in xy])


def _roads(lines, **columns):
    n = len(lines)
    data = {"highway": ["residential"] * n, **columns}
    return gpd.GeoDataFrame(data, geometry=lines, crs=GK)


def _noded(lines, snap_m=1.0, **columns):
    return node_lines(normalise_roads(_roads(lines, **columns)).frame, snap_m=snap_m)


# --- attributes ------------------------------------------------------------------------------


def test_classes_map_osm_and_chinese_values():
    classes, unknown = parse_road_class(pd.Series(
        ["primary", "快速路", "主干路", "次干路", "支路", "Footway", "台阶", None, "马路"]))
    assert list(classes) == ["primary", "trunk", "primary", "secondary", "tertiary", "footway",
                             "steps", "unclassified", "unclassified"]
    assert list(unknown) == ["马路"]


def test_speeds_parse_units_lists_and_zones():
    speeds, bad = parse_speed_kmh(pd.Series(["50", "30 mph", "40;60", "CN:urban", "none",
                                             None, "60 km/h", "0"]))
    assert speeds[0] == 50.0
    assert speeds[1] == pytest.approx(48.28032)
    assert speeds[2] == 40.0
    assert np.isnan(speeds[[3, 4, 5, 7]]).all()
    assert speeds[6] == 60.0
    assert list(bad) == ["CN:urban", "none"]
    numeric, _ = parse_speed_kmh(pd.Series([0, 50]))
    assert np.isnan(numeric[0]) and numeric[1] == 50.0


def test_oneway_values_and_roundabouts():
    got = parse_oneway(pd.Series(["yes", "-1", "no", None, "1", "true", "T", "B", None]),
                       pd.Series([None, None, None, "roundabout", None, None, None, None,
                                  "circular"]))
    assert list(got) == [1, -1, 0, 1, 1, 1, -1, 0, 1]
    # An explicit oneway=no wins over the roundabout.
    assert list(parse_oneway(pd.Series(["no"]), pd.Series(["roundabout"]))) == [0]


def test_bridge_tunnel_layer_values():
    assert list(parse_flag(pd.Series(["yes", "viaduct", "no", None, "building_passage",
                                      "是", "F"]))) == [True, True, False, False, False, True,
                                                        False]
    layers, bad = parse_layer(pd.Series(["1", "-1", None, "x", "1.5"]))
    assert list(layers) == [1, -1, 0, 0, 0]
    assert list(bad) == ["x", "1.5"]


def test_modes_exclude_motorways_for_walking_and_footways_for_driving():
    classes = np.array(["motorway", "trunk", "primary", "footway", "steps", "residential"])
    assert list(mode_mask(classes, "walk")) == [False, False, True, True, True, True]
    assert list(mode_mask(classes, "drive")) == [True, True, True, False, False, True]
    with pytest.raises(ParameterError, match="mode must be one of walk, drive; got 'bike'"):
        mode_mask(classes, "bike")


def test_normalise_reverses_minus_one_and_reads_chinese_columns():
    frame = gpd.GeoDataFrame(
        {"等级": ["主干路", "支路"], "单行": ["-1", None], "限速": ["60", None],
         "桥梁": ["否", "是"]},
        geometry=[_line((0, 0), (100, 0)), shapely.MultiLineString(
            [[(X0, Y0 + 50), (X0 + 10, Y0 + 50)], [(X0, Y0 + 60), (X0 + 10, Y0 + 60)]])],
        crs=GK)
    out = normalise_roads(frame).frame
    assert list(out["road_class"]) == ["primary", "tertiary", "tertiary"]
    assert list(out["oneway"]) == [True, False, False]
    assert list(out["bridge"]) == [False, True, True]
    assert list(out["source_row"]) == [1, 2, 2]
    # Drawn west to east with oneway=-1: travel runs east to west, so the line is reversed.
    assert shapely.get_coordinates(out.geometry.iloc[0])[0, 0] == X0 + 100


def test_normalise_rejects_bad_geometry_and_reports_rows():
    frame = gpd.GeoDataFrame({"highway": ["primary", "primary", "primary"]},
                             geometry=[_line((0, 0), (1, 0)), shapely.Point(X0, Y0), None],
                             crs=GK)
    got = normalise_roads(frame)
    assert len(got.frame) == 1
    assert [(r.row, r.reason) for r in got.rejections] == [
        (3, "geometry is missing"), (2, "expected LineString or MultiLineString geometry")]


def test_normalise_errors():
    with pytest.raises(InputError, match="no CRS"):
        normalise_roads(gpd.GeoDataFrame({"a": [1]}, geometry=[_line((0, 0), (1, 0))]))
    with pytest.raises(InputError, match="fields: road_class=等级: no such column"):
        normalise_roads(_roads([_line((0, 0), (1, 0))]), fields={"road_class": "等级"})
    with pytest.raises(ParameterError, match="'colour' is no road field"):
        normalise_roads(_roads([_line((0, 0), (1, 0))]), fields={"colour": "highway"})
    with pytest.raises(InputError, match="no usable line; first: row 1"):
        normalise_roads(_roads([shapely.Point(X0, Y0)]))


# --- noding ----------------------------------------------------------------------------------


def test_crossing_streets_are_split_and_connected():
    got = _noded([_line((0, 0), (200, 0)), _line((100, -100), (100, 100))])
    assert got.report.nodes == 5
    assert got.report.edges == 4
    assert sorted(got.edges["length_m"].round(9)) == [100.0] * 4
    assert got.report.components == 1


def test_bridge_over_a_road_does_not_connect_but_its_ends_land():
    # A ring of ground streets and a viaduct from the south street to the north one, crossing
    # the middle street (y = 0) without a junction.
    ring = [_line((0, -200), (400, -200)), _line((0, 200), (400, 200)),
            _line((0, -200), (0, 200)), _line((400, -200), (400, 200)), _line((0, 0), (400, 0))]
    viaduct = _line((200, -200), (200, 200))
    got = _noded([*ring, viaduct], bridge=["no"] * 5 + ["yes"])
    ends = shapely.get_coordinates(shapely.boundary(got.edges.to_crs(GK).geometry))
    assert not np.any(np.hypot(ends[:, 0] - (X0 + 200), ends[:, 1] - Y0) < 1.0)
    viaduct_edges = got.edges[got.edges["bridge"]]
    assert len(viaduct_edges) == 1
    assert viaduct_edges["length_m"].iloc[0] == pytest.approx(400.0)
    # Its ends split the south and north streets (2 + 2 edges); the west and east streets are
    # split by the middle street (2 + 2); the middle street and the viaduct stay whole.
    assert got.report.components == 1
    assert got.report.edges == 2 + 2 + 2 + 2 + 1 + 1
    # At street level the crossing splits both the middle street and the viaduct.
    flat = _noded([*ring, viaduct])
    assert flat.report.edges == got.report.edges + 2


def test_different_layers_do_not_connect_at_a_crossing():
    got = _noded([_line((0, 0), (200, 0)), _line((100, -100), (100, 100))], layer=["0", "-1"])
    assert got.report.edges == 2
    assert got.report.components == 2
    assert got.report.largest_component_length_share == pytest.approx(0.5)
    assert len(got.report.isolated) == 1


def test_near_ends_merge_and_dangling_ends_join_within_snap():
    lines = [_line((0, 0), (100, 0)), _line((100.6, 0.3), (200, 0)),  # a gap of 0.67 m
             _line((50, 0.8), (50, 100)),  # dangles 0.8 m from the first street
             _line((150, 3), (150, 100))]  # 3 m away: stays apart
    got = _noded(lines, snap_m=1.0)
    assert got.report.components == 2
    assert got.report.edges == 5
    isolated = got.report.isolated
    assert isolated["length_m"].iloc[0] == pytest.approx(97.0)
    tight = _noded(lines, snap_m=0.5)
    assert tight.report.components == 4


def test_node_lines_errors():
    frame = normalise_roads(_roads([_line((0, 0), (1, 0))])).frame
    with pytest.raises(ParameterError, match="snap_m must be a number >= 0; got -1"):
        node_lines(frame, snap_m=-1)
    with pytest.raises(InputError, match="missing columns layer"):
        node_lines(frame.drop(columns="layer"))


def test_line_substrings_cut_at_distances_keep_vertices():
    line = _line((0, 0), (100, 0), (100, 100))
    got = line_substrings(np.array([line, line, line]), np.array([50.0, 0.0, 120.0]),
                          np.array([150.0, 100.0, 200.0]))
    assert shapely.get_coordinates(got[0]).tolist() == [[X0 + 50, Y0], [X0 + 100, Y0],
                                                        [X0 + 100, Y0 + 50]]
    assert shapely.length(got).tolist() == pytest.approx([100.0, 100.0, 80.0])


def test_read_roads_reads_a_geojson_line_file(tmp_path):
    path = tmp_path / "roads.geojson"
    _roads([_line((0, 0), (200, 0)), _line((100, -100), (100, 100))]).to_crs(4326).to_file(path)
    got = read_roads(path)
    assert got.report.edges == 4
    assert got.edges.crs.to_epsg() == 4326
    assert got.edges["length_m"].sum() == pytest.approx(400.0, abs=0.01)
    with pytest.raises(InputError, match="no such file"):
        read_roads(tmp_path / "missing.geojson")


# --- OSM ------------------------------------------------------------------------------------


def test_osm_crossing_ways_without_a_shared_node_do_not_connect():
    got = read_osm(OSM)
    pairs = {(int(u), int(v)) for u, v in zip(got.edges["u"], got.edges["v"], strict=True)}
    # Street 100 is split only at node 2 (shared with 300), not where viaduct 200 crosses it.
    assert pairs == {(1, 2), (2, 3), (4, 5), (2, 6), (3, 7), (9, 9)}
    assert got.report.components == 3
    assert list(got.report.isolated["edges"]) == [1, 1]
    by_way = got.edges.set_index("source_row")
    assert by_way.loc[200, "bridge"] and by_way.loc[200, "layer"] == 1
    assert by_way.loc[400, "oneway"]
    assert by_way.loc[600, "oneway"]
    assert not by_way.loc[300, "oneway"]
    assert by_way.loc[100, "speed_kmh"].tolist() == pytest.approx([48.28032] * 2)
    assert 500 not in by_way.index
    # 0.001 degrees of longitude at 39.9 N is about 85.5 m.
    assert by_way.loc[100, "length_m"].sum() == pytest.approx(171.04, abs=0.05)


def test_osm_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_osm(tmp_path / "none.osm")
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="0" lon="0"/>'
                     "</osm>", encoding="utf-8")
    with pytest.raises(InputError, match="no road"):
        read_osm(empty)


def test_read_roads_sends_osm_files_to_the_osm_reader():
    got = read_roads(OSM)
    assert got.report.edges == 6
    assert set(got.edges["u"]) == {1, 2, 3, 4, 9}


def test_pbf_reads_like_the_xml(tmp_path):
    import osmium

    pbf = tmp_path / "crossing.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    for obj in osmium.FileProcessor(str(OSM)):
        writer.add(obj)
    writer.close()
    xml, binary = read_osm(OSM), read_roads(pbf)
    assert binary.edges[["u", "v", "source_row"]].values.tolist() == (
        xml.edges[["u", "v", "source_row"]].values.tolist())
    assert binary.edges["length_m"].to_numpy() == pytest.approx(xml.edges["length_m"].to_numpy())
