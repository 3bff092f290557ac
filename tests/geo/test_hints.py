"""Loading hints: mis-decoded text, swapped longitude/latitude, a forgotten GCJ-02/BD-09."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPoint, Point, box

from geo.assign import PolygonIndex
from geo.china import wgs84_to_bd09, wgs84_to_gcj02
from geo.crs import parse_crs
from geo.hints import (
    OFFSET_INSIDE_SHARE,
    OFFSET_MIN_SHARE,
    SWAP_INSIDE_SHARE,
    SWAP_MIN_SHARE,
    SourcePoints,
    coordinate_hints,
    misdecoding_hint,
    offset_crs_hint,
    swapped_axes_hint,
)

WGS84 = parse_crs("EPSG:4326")


def latin1(text: str, encoding: str) -> str:
    """``text`` as a reader that assumes ISO-8859-1 shows it."""
    return text.encode(encoding).decode("latin-1")


# --- encodings --------------------------------------------------------------------------------


def test_gbk_column_names_read_as_latin1_are_named_and_shown_decoded():
    names = [latin1(n, "gbk") for n in ("社区代码", "社区名称", "常住人口")] + ["geometry"]
    assert names[0] == "ÉçÇø´úÂë"
    hint = misdecoding_hint(names, [], file_name="社区.zip")
    assert hint == (
        "文字疑似乱码 (text looks mis-decoded): 社区.zip was read as ISO-8859-1 because no .cpg "
        "file names its encoding; read as GBK, its column names are 社区代码, 社区名称, 常住人口 "
        "(read now as ÉçÇø´úÂë, ÉçÇøÃû³Æ, ³£×¡ÈË¿Ú): pass --encoding gbk (or gb18030)")


def test_utf8_text_read_as_latin1_asks_for_utf8():
    names = [latin1(n, "utf-8") for n in ("社区代码", "名称")]
    hint = misdecoding_hint(names, [], file_name="c.shp")
    assert hint is not None
    assert "read as UTF-8, its column names are 社区代码, 名称 " in hint
    assert hint.endswith("pass --encoding utf-8")


def test_gb18030_only_characters_ask_for_gb18030():
    # 㐀 (U+3400) is in GB18030's four-byte range, which GBK lacks.
    names = [latin1("㐀社区", "gb18030")]
    assert misdecoding_hint(names, [], file_name="c.shp").endswith("--encoding gb18030")


def test_mis_decoded_values_are_shown_when_the_names_are_plain():
    values = [("name", [latin1("和平里社区", "gbk"), latin1("东四社区", "gbk")]),
              ("code", ["110101001001"])]
    hint = misdecoding_hint(["code", "name"], values, file_name="c.shp")
    assert hint is not None
    assert ("read as GBK, values such as 'ºÍÆ½ÀïÉçÇø' in column 'name' read 和平里社区: "
            "pass --encoding gbk") in hint


@pytest.mark.parametrize("text", ["Müller", "São Paulo", "Zürich", "Café de Flore", "Ærø",
                                  "plain ascii", "110101001001"])
def test_western_text_read_correctly_is_not_called_mis_decoded(text):
    assert misdecoding_hint([text, "name"], [("name", [text] * 3)], file_name="c.shp") is None


def test_a_minority_of_odd_values_does_not_make_a_file_mis_decoded():
    # Two of three suspects decode as Chinese in no encoding: less than half decodes.
    odd = ["ÿþý", "ÿþÿ", latin1("社区", "gbk")]
    assert misdecoding_hint(odd, [], file_name="c.shp") is None


# --- source points ----------------------------------------------------------------------------


def test_source_points_take_each_records_point_as_written():
    geoms = np.array([Point(1, 2), None, MultiPoint([(3, 4)]), box(0, 0, 1, 1),
                      shapely.Point(), MultiPoint([(1, 1), (2, 2)])], dtype=object)
    pts = SourcePoints.from_geometries(geoms, WGS84, columns=("经度", "纬度"))
    assert pts.x[[0, 2]].tolist() == [1.0, 3.0] and pts.y[[0, 2]].tolist() == [2.0, 4.0]
    assert pts.located.tolist() == [True, False, True, False, False, False]
    assert (pts.lon_column, pts.lat_column) == ("经度", "纬度")


# --- swapped axes -----------------------------------------------------------------------------

AREA = box(60.0, 10.0, 61.0, 11.0)  # swapped points (lon 10.5, lat 60.5) fall in here


def swap_case(good: int, fixable: int, unfixable: int, *, out_of_range: int = 0):
    """Records: ``good`` inside, ``fixable`` outside but inside when swapped, ``unfixable``
    outside either way, ``out_of_range`` with a latitude of 100 that swapping fixes."""
    x = np.r_[[60.5] * good, [10.5] * fixable, [5.0] * unfixable, [10.5] * out_of_range]
    y = np.r_[[10.5] * good, [60.5] * fixable, [5.0] * unfixable, [100.5] * out_of_range]
    loaded = np.r_[[True] * (good + fixable + unfixable), [False] * out_of_range]
    inside = np.r_[[True] * good, [False] * (fixable + unfixable + out_of_range)]
    area = box(100.0, 10.0, 101.0, 11.0) if out_of_range else AREA
    index = PolygonIndex.build([AREA, area])
    return SourcePoints(x, y, WGS84, "lng", "lat"), loaded, inside, index


def test_the_swap_thresholds_are_the_documented_ones():
    assert (SWAP_MIN_SHARE, SWAP_INSIDE_SHARE) == (0.5, 0.9)


def test_swapped_axes_need_half_of_the_rows_outside():
    pts, loaded, inside, index = swap_case(50, 50, 0)
    assert swapped_axes_hint(pts, loaded=loaded, inside=inside, areas=index) == (
        "经纬度疑似颠倒 (longitude and latitude look swapped): 50 of 100 (50.0%) located rows are "
        "out of range or in no community; read with longitude and latitude swapped, 50 of "
        "those 50 (100.0%) fall inside communities: pass --field lon=lat --field lat=lng")
    pts, loaded, inside, index = swap_case(51, 49, 0)  # 49 %
    assert swapped_axes_hint(pts, loaded=loaded, inside=inside, areas=index) is None


def test_swapping_must_bring_ninety_percent_inside():
    pts, loaded, inside, index = swap_case(0, 90, 10)
    hint = swapped_axes_hint(pts, loaded=loaded, inside=inside, areas=index)
    assert hint is not None and "90 of those 100 (90.0%) fall inside" in hint
    pts, loaded, inside, index = swap_case(0, 89, 11)
    assert swapped_axes_hint(pts, loaded=loaded, inside=inside, areas=index) is None


def test_rows_out_of_range_count_as_outside_and_swap_into_range():
    pts, loaded, inside, index = swap_case(0, 0, 0, out_of_range=10)
    hint = swapped_axes_hint(pts, loaded=loaded, inside=inside, areas=index)
    assert hint is not None and "10 of 10 (100.0%) located rows" in hint
    # Rows rejected for another reason (in range, not loaded) are not looked at.
    pts2 = SourcePoints(np.r_[pts.x, [60.5] * 30], np.r_[pts.y, [10.5] * 30], WGS84)
    hint = swapped_axes_hint(pts2, loaded=np.r_[loaded, [False] * 30],
                             inside=np.r_[inside, [False] * 30], areas=index)
    assert hint is not None and "10 of 10 (100.0%)" in hint
    assert hint.endswith("the points give latitude first: write them as x = longitude, "
                         "y = latitude")


# --- GCJ-02 / BD-09 ---------------------------------------------------------------------------

SQUARE = box(116.400, 39.900, 116.4035, 39.9027)  # about 300 m; the GCJ-02 offset is ~550 m
TRUE_LON, TRUE_LAT = 116.40175, 39.90135  # its centre, in WGS84


def offset_case(good: int, fixable: int, unfixable: int, *, written: str = "gcj02"):
    """``fixable`` points written in ``written`` (one of gcj02, bd09, wgs84) of the square's
    centre, outside the square as read; ``unfixable`` points far away."""
    conv = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09,
            "wgs84": lambda x, y: (x, y)}[written]
    fx, fy = conv(np.full(fixable, TRUE_LON), np.full(fixable, TRUE_LAT))
    x = np.r_[[TRUE_LON] * good, fx, [116.5] * unfixable]
    y = np.r_[[TRUE_LAT] * good, fy, [39.95] * unfixable]
    n = good + fixable + unfixable
    inside = np.r_[[True] * good, [False] * (fixable + unfixable)]
    return x, y, np.ones(n, dtype=bool), inside, PolygonIndex.build([SQUARE])


def test_the_offset_thresholds_are_the_documented_ones():
    assert (OFFSET_MIN_SHARE, OFFSET_INSIDE_SHARE) == (0.05, 0.8)


def test_a_forgotten_gcj02_needs_more_than_five_percent_outside():
    x, y, loaded, inside, index = offset_case(94, 6, 0)
    hint = offset_crs_hint(SourcePoints(x, y, WGS84), loaded=loaded, inside=inside, areas=index)
    assert hint == (
        "坐标系疑误 (coordinate system looks wrong): 6 of 100 (6.0%) loaded points are in no "
        "community; read as GCJ-02 (火星坐标) instead of EPSG:4326, 6 of those 6 (100.0%) fall "
        "inside communities: pass --crs gcj02")
    x, y, loaded, inside, index = offset_case(95, 5, 0)  # exactly 5 %: not more
    assert offset_crs_hint(SourcePoints(x, y, WGS84), loaded=loaded, inside=inside,
                           areas=index) is None


def test_reading_as_gcj02_must_bring_eighty_percent_inside():
    x, y, loaded, inside, index = offset_case(0, 80, 20)
    hint = offset_crs_hint(SourcePoints(x, y, WGS84), loaded=loaded, inside=inside, areas=index)
    assert hint is not None and "80 of those 100 (80.0%) fall inside" in hint
    x, y, loaded, inside, index = offset_case(0, 79, 21)
    assert offset_crs_hint(SourcePoints(x, y, WGS84), loaded=loaded, inside=inside,
                           areas=index) is None


def test_bd09_points_read_as_wgs84_ask_for_bd09():
    x, y, loaded, inside, index = offset_case(50, 50, 0, written="bd09")
    hint = offset_crs_hint(SourcePoints(x, y, parse_crs("EPSG:4490")), loaded=loaded,
                           inside=inside, areas=index)
    assert hint is not None
    assert "read as BD-09 (百度坐标) instead of EPSG:4490" in hint
    assert hint.endswith("pass --crs bd09")


def test_wgs84_points_declared_gcj02_ask_for_wgs84():
    x, y, loaded, inside, index = offset_case(50, 50, 0, written="wgs84")
    pts = SourcePoints(x, y, parse_crs("gcj02"))
    # As stored (converted from "GCJ-02"), the points lie about 550 m west of the square.
    assert not SQUARE.contains(Point(*pts.crs.to_wgs84(TRUE_LON, TRUE_LAT)))
    hint = offset_crs_hint(pts, loaded=loaded, inside=inside, areas=index)
    assert hint is not None and "read as WGS84 instead of gcj02" in hint
    assert hint.endswith("pass --crs EPSG:4326 instead of --crs gcj02")


def test_no_offset_hint_outside_china_or_in_projected_coordinates():
    chicago = box(-87.7, 41.8, -87.6, 41.9)
    x, y = np.full(10, -87.5), np.full(10, 41.85)
    pts = SourcePoints(x, y, WGS84)
    args = {"loaded": np.ones(10, bool), "inside": np.zeros(10, bool),
            "areas": PolygonIndex.build([chicago])}
    assert offset_crs_hint(pts, **args) is None
    x, y, loaded, inside, index = offset_case(0, 10, 0)
    projected = SourcePoints(x, y, parse_crs("EPSG:4548"))
    assert offset_crs_hint(projected, loaded=loaded, inside=inside, areas=index) is None


# --- both, from polygons ----------------------------------------------------------------------


def test_coordinate_hints_locate_the_loaded_points_themselves():
    x, y, loaded, _, _ = offset_case(90, 10, 0)
    pts = SourcePoints(x, y, WGS84)
    hints = coordinate_hints(pts, loaded=loaded, areas=[SQUARE])
    assert len(hints) == 1 and "10 of 100 (10.0%) loaded points" in hints[0]
    assert coordinate_hints(pts, loaded=loaded, areas=[]) == []
    assert coordinate_hints(pts, loaded=loaded, areas=[SQUARE], inside=np.ones(100, bool)) == []


def test_swapped_axes_win_over_an_offset():
    lon, lat = TRUE_LON, TRUE_LAT
    pts = SourcePoints(np.full(10, lat), np.full(10, lon), WGS84, "经度", "纬度")
    hints = coordinate_hints(pts, loaded=np.zeros(10, bool), areas=[SQUARE])
    assert len(hints) == 1 and hints[0].endswith("pass --field lon=纬度 --field lat=经度")
