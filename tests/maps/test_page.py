"""The parts every map shares (maps/page.py), tested directly with hand-computed values."""

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from maps import MapOptions
from maps.offline import render_html
from maps.page import (
    GeoJsonLayer,
    Legend,
    StyleTable,
    bounds_of,
    community_names,
    community_outline_layer,
    display_geometries,
    display_points,
    feature_collection,
    finish,
    new_map,
    require_columns,
    safe_script_text,
    script_json,
    wgs84_frame,
)

M_PER_DEG = 111_320.0
GCJ_TILES = "https://tiles.example.invalid/{z}/{x}/{y}.png"


def test_style_table_numbers_distinct_styles_in_order_of_first_use():
    table = StyleTable()
    red = {"color": "#ff0000", "weight": 1}
    assert table.add(red) == 0
    assert table.add({"color": "#0000ff"}) == 1
    assert table.add({"weight": 1, "color": "#ff0000"}) == 0  # key order does not matter
    assert table.styles == [red, {"color": "#0000ff"}]
    red["weight"] = 5  # the table keeps its own copy
    assert table.styles[0]["weight"] == 1


def test_script_json_cannot_end_the_script_element():
    value = {"t": "</script><!-- x\u2028y", "n": [1, 2.5]}
    out = script_json(value)
    assert "</" not in out and "<!--" not in out and "\u2028" not in out
    assert out == ('{"t":"<\\/script><\\u0021-- x\\u2028y","n":[1,2.5]}')
    assert json.loads(out) == value
    with pytest.raises(ValueError, match="Out of range float"):
        script_json([math.nan])


def test_safe_script_text_escapes_only_the_dangerous_sequences():
    assert safe_script_text("a</b<!--c\u2029d<e") == "a<\\/b<\\u0021--c\\u2029d<e"


def test_wgs84_frame_reprojects_and_checks():
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(0.0, 0.0)], crs="EPSG:4326")
    assert wgs84_frame(frame, "x") is frame
    # 1 degree of longitude on the Web Mercator sphere is 6378137 × π / 180 m
    merc = gpd.GeoDataFrame(geometry=[shapely.Point(6378137 * math.pi / 180, 0.0)],
                            crs="EPSG:3857")
    back = wgs84_frame(merc, "x")
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].x == pytest.approx(1.0)
    with pytest.raises(TypeError, match="layer must be a GeoDataFrame; got DataFrame"):
        wgs84_frame(pd.DataFrame({"a": [1]}), "layer")
    with pytest.raises(ValueError, match="layer has no CRS"):
        wgs84_frame(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)]), "layer")


def test_require_columns_names_what_is_missing():
    require_columns(pd.DataFrame({"code": [], "name": []}), ["code"], "communities")
    with pytest.raises(ValueError, match=r"communities lacks columns \['name', 'x'\]; "
                                         r"it has \['code'\]"):
        require_columns(pd.DataFrame({"code": []}), ["code", "name", "x"], "communities")


def test_display_geometries_round_and_simplify():
    options = MapOptions(coordinate_decimals=4, simplify_m=1.5)
    point = shapely.Point(116.123456789, 39.987654321)
    assert display_geometries([point], options)[0].equals(shapely.Point(116.1235, 39.9877))
    # a vertex 3 m off a straight edge in Beijing, between vertices 12 m away on either side (a
    # triangle of 36 m², under (10 m)²): dropped when simplifying at 10 m (in metres, in the
    # metric CRS), kept at 0 m; boundaries round to boundary_decimals
    bump, step = 3 / M_PER_DEG, 12 / (M_PER_DEG * math.cos(math.radians(39.9)))
    square = shapely.Polygon([(116.4, 39.9), (116.4 + step, 39.9 + bump),
                              (116.4 + 2 * step, 39.9), (116.41, 39.9), (116.41, 39.91),
                              (116.4, 39.91)])
    coarse = MapOptions(simplify_m=10)
    simplified = display_geometries([square], coarse, simplify=True)[0]
    assert len(simplified.exterior.coords) == 5
    assert simplified.equals(shapely.box(116.4, 39.9, 116.41, 39.91))
    kept = display_geometries([square], MapOptions(simplify_m=0), simplify=True)[0]
    assert len(kept.exterior.coords) == 7
    assert kept.exterior.coords[1] == (round(116.4 + step, 5), round(39.9 + bump, 5))
    # without simplify (sectors, cells) every vertex keeps coordinate_decimals
    fine = display_geometries([square], MapOptions(coordinate_decimals=9))[0]
    assert fine.exterior.coords[1] == (round(116.4 + step, 9), round(39.9 + bump, 9))


def test_display_geometries_and_points_shift_to_gcj02_only_with_gcj02_tiles():
    lon, lat = np.array([116.397]), np.array([39.909])
    plain_lon, plain_lat = display_points(lon, lat, MapOptions(tiles_gcj02=True))
    assert (plain_lon[0], plain_lat[0]) == (116.397, 39.909)  # no tiles: nothing to match
    gcj = MapOptions(tiles_gcj02=True, tile_url=GCJ_TILES)
    shifted_lon, shifted_lat = display_points(lon, lat, gcj)
    # GCJ-02 moves central Beijing roughly 600 m east and 150 m north
    assert 0.005 < shifted_lon[0] - 116.397 < 0.008
    assert 0.0005 < shifted_lat[0] - 39.909 < 0.003
    assert shifted_lon[0] == round(shifted_lon[0], 6)
    point = display_geometries([shapely.Point(116.397, 39.909)], gcj)[0]
    assert (point.x, point.y) == (shifted_lon[0], shifted_lat[0])


def test_feature_collection_skips_missing_and_empty_geometries():
    geoms = np.array([shapely.Point(1, 2), None, shapely.Point(), shapely.Point(3, 4)],
                     dtype=object)
    out = feature_collection(geoms, [0, 1, 1, 2], tooltips=["<b>a</b>", "x", "y", None],
                             popups=[None, None, None, "</script>"], keys=["k1", "k2", "k3", 7])
    assert "</" not in out
    features = json.loads(out)["features"]
    assert len(features) == 2
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [1.0, 2.0]}
    assert features[0]["properties"] == {"s": 0, "t": "<b>a</b>", "k": "k1"}
    assert features[1]["properties"] == {"s": 2, "p": "</script>", "k": "7"}
    empty = feature_collection(np.array([None], dtype=object), [0])
    assert json.loads(empty) == {"type": "FeatureCollection", "features": []}


def test_bounds_of_ignores_missing_and_empty():
    geoms = np.array([shapely.box(1, 2, 3, 4), None, shapely.Point(), shapely.Point(5, -1)],
                     dtype=object)
    assert bounds_of(geoms) == (1.0, -1.0, 5.0, 4.0)
    assert bounds_of(np.array([None, shapely.Point()], dtype=object)) is None


def test_new_map_sets_title_extent_and_zoom_limit():
    options = MapOptions(title="<平安> map", period_label=None,
                         generated_at=pd.Timestamp("2026-01-05 09:30").to_pydatetime())
    m = new_map("default", options, (116.0, 39.5, 117.0, 40.5), period_label="2025")
    assert m.options["maxZoom"] == 19  # no tiles
    page = render_html(finish(m, Legend()))
    assert "<title>&lt;平安&gt; map</title>" in page
    assert f"{m.get_name()}.fitBounds([[39.5,116.0],[40.5,117.0]]" in page
    assert "2025" in page and "2026-01-05 09:30" in page
    tiled = new_map("默认", MapOptions(tile_url=GCJ_TILES, tile_max_zoom=16), None,
                    period_label=None)
    assert tiled.options["maxZoom"] == 16
    page = render_html(finish(tiled, Legend()))
    assert "<title>默认</title>" in page and "fitBounds" not in page
    assert "tiles.example.invalid" in page


def test_legend_draws_circles_lines_and_squares():
    legend = Legend().section("Title <1>", [
        ({"radius": 4, "color": "#000000", "fillColor": "#00ff00"}, "dot"),
        ({"fill": False, "color": "#123456", "weight": 1}, "line"),
        ({"color": "#333333", "fillColor": "#ff0000", "fillOpacity": 0.5}, "a < b"),
        ({"fillColor": "red", "dashArray": "4"}, "named"),
    ], note="n & m").raw_section("Grid", "grid-classes")
    out = legend.html()
    assert "Title &lt;1&gt;" in out and "a &lt; b" in out and "n &amp; m" in out
    assert "border-radius:50%" in out
    assert "border-top:2px solid #123456" in out  # lines at least 2 px
    assert "background:rgba(255,0,0,0.5)" in out
    assert "background:red" in out and "dashed" in out  # a named colour is left as it is
    assert '<div id="grid-classes"></div>' in out


def test_finish_adds_the_legend_and_the_readiness_signal():
    m = new_map("t", MapOptions(), None, period_label=None)
    page = render_html(finish(m, Legend().section("L", [({"color": "#000000"}, "x")])))
    assert "pingan.loaded();" in page
    assert f"pingan.legend({m.get_name()}, " in page
    assert "L.control.layers" in page


def test_geojson_layer_and_community_outlines():
    communities = gpd.GeoDataFrame(
        {"code": ["c1", "c2"], "name": ["甲", None]},
        geometry=[shapely.box(116.0, 39.0, 116.01, 39.01), shapely.box(116.01, 39.0, 116.02,
                                                                        39.01)],
        crs="EPSG:4326")
    m = new_map("t", MapOptions(), None, period_label=None)
    geoms = community_outline_layer(m, communities, MapOptions(), tooltips=["a", None],
                                    fill_opacity=0.1)
    assert len(geoms) == 2 and geoms[0].equals(shapely.box(116.0, 39.0, 116.01, 39.01))
    page = render_html(finish(m, Legend()))
    assert '"k":"c1"' in page and '"k":"c2"' in page
    assert '"fillOpacity":0.1' in page
    layer = GeoJsonLayer('{"type":"FeatureCollection","features":[]}', [{"color": "#111111"}],
                         name="<x>")
    assert layer.expression == ('pingan.geoJsonLayer({"type":"FeatureCollection",'
                                '"features":[]}, [{"color":"#111111"}])')
    assert layer.layer_name == "&lt;x&gt;"


def test_community_names_fall_back_to_the_code():
    frame = pd.DataFrame({"code": [1, "c2", "c3"], "name": ["甲", "", None]})
    assert community_names(frame) == ["甲", "c2", "c3"]
    assert community_names(pd.DataFrame({"code": ["a"]})) == ["a"]


def test_packed_collection_unpacks_to_the_same_coordinates():
    from tests.maps.maphelpers import unpack

    shell = [(116.40001, 39.9), (116.41, 39.90002), (116.41, 39.91), (116.4, 39.91)]
    hole = [(116.403, 39.903), (116.404, 39.903), (116.404, 39.904)]
    polygon = shapely.Polygon(shell, [hole])
    multi = shapely.MultiPolygon([polygon, shapely.box(116.42, 39.92, 116.43, 39.93)])
    geoms = np.array([polygon, multi, shapely.Point(116.5, 39.95), None], dtype=object)
    plain = json.loads(feature_collection(geoms, [0, 0, 0, 0]))
    text = feature_collection(geoms, [0, 0, 0, 0], packed=5)
    packed = json.loads(text)
    assert packed["packed"] == 100000
    # first vertex in 1e-5 degree units, then differences; the ring closes back to it
    assert packed["features"][0]["geometry"]["coordinates"][0][:4] == [11640001, 3990000,
                                                                      999, 2]
    assert sum(packed["features"][0]["geometry"]["coordinates"][0][2::2]) == 0
    assert packed["features"][2]["geometry"] == {"type": "Point", "coordinates": [116.5, 39.95]}
    assert unpack(packed) == plain
    assert len(text) < len(json.dumps(plain, separators=(",", ":")))
