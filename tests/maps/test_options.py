import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from maps import MapOptions
from maps.labels import (
    TEXT,
    fmt_count,
    fmt_number,
    fmt_percent,
    fmt_ratio,
    metric_label,
    table_html,
    term,
    text,
)


def test_defaults():
    o = MapOptions()
    assert (o.language, o.tile_url, o.tiles_gcj02, o.shift_gcj02) == ("zh", None, False, False)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"language": "fr"}, "language must be one of"),
    ({"tile_url": "https://t.example/{z}/{x}.png"}, r"lacks \{y\}"),
    ({"tile_url": "ftp://t/{z}/{x}/{y}.png"}, "must be an http"),
    ({"tile_url": "tiles/{z}/{x}/{y}.png"}, "must be an http"),
    ({"tile_max_zoom": 0}, "tile_max_zoom"),
    ({"timezone": "Mars/Base"}, "IANA"),
    ({"simplify_m": -1}, "simplify_m"),
    ({"coordinate_decimals": 3}, "coordinate_decimals"),
])
def test_invalid_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MapOptions(**kwargs)


def test_generated_at_must_be_a_datetime():
    with pytest.raises(TypeError, match="generated_at"):
        MapOptions(generated_at="2025-01-01")  # type: ignore[arg-type]


def test_gcj_shift_needs_tiles():
    assert not MapOptions(tiles_gcj02=True).shift_gcj02
    assert MapOptions(tiles_gcj02=True, tile_url="/tiles/{z}/{x}/{y}.png").shift_gcj02
    assert not MapOptions(tile_url="/tiles/{z}/{x}/{y}.png").shift_gcj02


def test_generated_label_in_local_time():
    utc = dt.datetime(2025, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC"))
    assert MapOptions(generated_at=utc).generated_label() == "2026-01-01 00:30"
    assert MapOptions(generated_at=dt.datetime(2025, 5, 1, 8, 5)).generated_label() == (
        "2025-05-01 08:05")


def test_every_label_has_both_languages():
    for key, (zh, en) in TEXT.items():
        assert zh and en, key
    assert text("title.standard", "zh") == "平安社区达标情况"
    assert text("title.standard", "en") == "Safe-community standard"
    with pytest.raises(KeyError, match="no map label 'nope'"):
        text("nope", "zh")


def test_terms_translate_known_values_and_keep_others():
    assert term("category", "theft", "zh") == "盗窃"
    assert term("category", "theft", "en") == "Theft"
    assert term("category", "电诈", "en") == "电诈"
    assert term("facility", None, "zh") == "无数据"
    assert term("measure", float("nan"), "en") == "No data"
    assert metric_label("camera_working_ratio", "zh") == "视频监控完好率"
    assert metric_label("unlisted", "en") == "unlisted"


def test_number_formats():
    assert fmt_number(1234.56, "zh") == "1,234.6"
    assert fmt_number(float("nan"), "en") == "No data"
    assert fmt_count(12000.0, "zh") == "12,000"
    assert fmt_ratio(0.4567, "en") == "45.7%"
    assert fmt_percent(-3.25, "zh") == "-3.2%"
    assert fmt_percent(12.0, "zh") == "+12.0%"
    assert fmt_number(5, "zh", decimals=0, unit="m") == "5 m"


def test_table_html_escapes_data():
    html = table_html([("名称", "<img src=x onerror=alert(1)>")], title="<b>丁</b>")
    assert "<img" not in html and "&lt;img src=x" in html
    assert html.startswith("<b>&lt;b&gt;丁&lt;/b&gt;</b><table>")
