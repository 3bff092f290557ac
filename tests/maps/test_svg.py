"""Static SVG maps (maps/svg.py): two hand-drawn squares of 0.01 degrees near Beijing."""

from __future__ import annotations

import re

import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from maps import svg_map

X0, Y0 = 116.30, 39.90
SQUARES = [box(X0, Y0, X0 + 0.01, Y0 + 0.01), box(X0 + 0.01, Y0, X0 + 0.02, Y0 + 0.01)]


def _paths(svg: str) -> list[tuple[str, str]]:
    """(path data, fill) of the units drawn (not the scale bar or the north arrow)."""
    units = re.search(r'<g class="units"[^>]*>(.*?)</g>', svg, re.DOTALL)
    return re.findall(r'<path d="(M[^"]*)" fill="([^"]*)"/>', units.group(1) if units else "")


def test_each_polygon_is_one_path_with_its_fill_and_the_map_keeps_its_shape():
    svg = svg_map(SQUARES, ["#ff0000", "#00ff00"], legend=[("#ff0000", "热点")],
                  width=700, height=340)
    paths = _paths(svg)
    assert [fill for _, fill in paths] == ["#ff0000", "#00ff00"]
    xs = [float(v) for d, _ in paths for v in re.findall(r"(-?[\d.]+),", d)]
    ys = [float(v) for d, _ in paths for v in re.findall(r",(-?[\d.]+)", d)]
    # 0.02 x 0.01 degrees at 39.9 N is about 1.71 x 1.11 km: the map keeps that ratio
    ratio = (max(xs) - min(xs)) / (max(ys) - min(ys))
    assert ratio == pytest.approx(0.02 * 85.4 / (0.01 * 111.0), rel=0.02)
    # wider than the map area (700 - 210 legend - 3 x 8 padding = 466 px): it fills its width
    assert (min(xs), max(xs)) == (pytest.approx(8.0, abs=0.2), pytest.approx(474, abs=0.5))
    assert min(ys) == pytest.approx(8.0, abs=0.2) and max(ys) < 332
    # no longitude or latitude is written: pixels with one decimal only
    assert not re.search(r"\d\.\d\d", svg)


def test_the_scale_bar_is_a_round_length_and_holes_are_drawn():
    ring = Polygon(SQUARES[0].exterior.coords,
                   [box(X0 + 0.004, Y0 + 0.004, X0 + 0.006, Y0 + 0.006).exterior.coords])
    svg = svg_map([MultiPolygon([ring]), SQUARES[1]], ["#111", "#222"], legend=[],
                  units=("米", "公里"))
    assert _paths(svg)[0][0].count("M") == 2  # the exterior and the hole
    # 1.71 km wide: a quarter is 427 m, so the bar is 200 m
    assert re.search(r">200 米</text>", svg)
    km = svg_map([box(X0, Y0, X0 + 0.2, Y0 + 0.1)], ["#111"], legend=[], units=("m", "km"))
    assert re.search(r">2 km</text>", km)  # 17.1 km wide: a quarter is 4.3 km


def test_texts_are_escaped_and_missing_geometries_left_out():
    svg = svg_map([SQUARES[0], None], ["#111", "#222"], legend=[("#111", "<b>&")],
                  labels=["<script>x</script>", "不画"], legend_title="图例")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;&amp;" in svg
    assert len(_paths(svg)) == 1 and "不画" not in svg and ">图例</text>" in svg


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="one entry per geometry"):
        svg_map(SQUARES, ["#111"], legend=[])
    with pytest.raises(ValueError, match="at least 200 px"):
        svg_map(SQUARES, ["#111", "#222"], legend=[], width=100)
