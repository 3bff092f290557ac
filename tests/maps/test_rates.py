import dataclasses

import numpy as np
import pandas as pd
import pytest

from geo.china import wgs84_to_gcj02
from maps import MapOptions, classify, rates_map
from maps.rates import NO_DATA_COLOR
from tests.maps.maphelpers import features_by_key, layer_names, legend, page


def test_quantiles_by_hand():
    c = classify(pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan]), scheme="quantiles", k=5)
    assert c.k == 5
    np.testing.assert_allclose(c.upper, [2.8, 4.6, 6.4, 8.2, 10.0])
    assert c.lower[0] == 1.0
    assert c.classes.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, -1]
    assert c.counts == (2, 2, 2, 2, 2)


def test_natural_breaks_finds_the_gaps_and_repeats():
    values = np.array([1.0, 1.1, 1.2, 10.0, 10.1, 20.0])
    first = classify(values, scheme="natural_breaks", k=3)
    assert first.upper == (1.2, 10.1, 20.0)
    assert first.classes.tolist() == [0, 0, 0, 1, 1, 2]
    state = np.random.get_state()[1].copy()
    again = classify(values, scheme="natural_breaks", k=3)
    assert again.upper == first.upper
    assert np.array_equal(np.random.get_state()[1], state)  # global generator left as it was


def test_few_distinct_values():
    assert classify([3.0, 3.0, np.nan], k=5).counts == (2,)
    two = classify([1.0, 1.0, 2.0], k=5)
    assert two.k == 2 and two.classes.tolist() == [0, 0, 1]
    none = classify([np.nan, np.nan], k=4)
    assert none.k == 0 and none.classes.tolist() == [-1, -1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scheme": "jenks"}, "scheme must be one of"),
    ({"k": 1}, "k must be an integer from 2 to 9"),
    ({"k": 2.5}, "k must be an integer"),
])
def test_classify_refuses(kwargs, message):
    with pytest.raises(ValueError, match=message):
        classify([1.0, 2.0, 3.0], **kwargs)


def test_rates_map_colours_tooltips_and_legend(communities, rates, hotspots, options):
    html = page(rates_map(communities, rates, hotspots=hotspots, options=options))
    feats = features_by_key(html)
    assert set(feats) == {"c1", "c2", "c3", "c4"}
    assert feats["c3"][1]["fillColor"] == NO_DATA_COLOR  # no population: no rate
    colours = {feats[c][1]["fillColor"] for c in ("c1", "c2", "c4")}
    assert len(colours) == 3 and NO_DATA_COLOR not in colours
    tip = feats["c2"][0]["properties"]["t"]
    # c2: 40 cases, 8,000 residents: 50.0 per 10k; 20 cases the year before (leap year)
    for field in ("<th>常住人口</th><td>8,000</td>", "<th>发案数</th><td>40</td>",
                  "<th>万人发案率</th><td>50.0</td>", "<th>平滑年化万人发案率</th>",
                  "<th>发案变化率 (2024)</th><td>+100.5%",
                  "<th>热点类别</th><td>不显著</td>"):
        assert field in tip
    assert "&lt;b&gt;丁&lt;/b&gt;社区" in feats["c4"][0]["properties"]["t"]
    text = legend(html)
    assert "平滑年化万人发案率 (分位数, k=3)" in text
    assert "无数据 (1 个社区)" in text
    assert layer_names(html) == ["平滑年化万人发案率"]
    assert "数据期: 2025" in html and "生成时间: 2026-01-05 09:30" in html


def test_rates_map_in_english(communities, rates, options):
    html = page(rates_map(communities, rates, column="cases", scheme="natural_breaks", k=3,
                          options=dataclasses.replace(options, language="en")))
    tip = features_by_key(html)["c1"][0]["properties"]["t"]
    assert "<th>Population</th><td>5,000</td>" in tip and "<th>Cases</th><td>10</td>" in tip
    text = legend(html)
    assert "Cases (natural breaks, k=3)" in text
    assert "10 (1 communities)" in text and "No data (1 communities)" in text
    assert "<title>Case rates by community</title>" in html


def test_gcj_shift_moves_drawn_coordinates(communities, rates):
    tiles = MapOptions(tile_url="/tiles/{z}/{x}/{y}.png")
    gcj = dataclasses.replace(tiles, tiles_gcj02=True)
    plain = features_by_key(page(rates_map(communities, rates, options=tiles)))["c1"][0]
    shifted = features_by_key(page(rates_map(communities, rates, options=gcj)))["c1"][0]
    assert [116.4, 39.9] in plain["geometry"]["coordinates"][0]
    lon, lat = wgs84_to_gcj02(116.4, 39.9)
    expected = [round(float(lon), 5), round(float(lat), 5)]  # boundaries: boundary_decimals
    assert expected in shifted["geometry"]["coordinates"][0]
    # the GCJ-02 offset in Beijing is some hundreds of metres
    assert 0.003 < expected[0] - 116.4 < 0.01 and 0.0005 < expected[1] - 39.9 < 0.003


def test_rates_map_refuses(communities, rates, hotspots, grid_hotspots):
    with pytest.raises(ValueError, match="column must be one of"):
        rates_map(communities, rates, column="population")
    with pytest.raises(ValueError, match="hotspots must be by community"):
        rates_map(communities, rates, hotspots=grid_hotspots)
    with pytest.raises(TypeError, match="rates must be a RatesResult"):
        rates_map(communities, rates.frame)
    with pytest.raises(TypeError, match="communities must be a GeoDataFrame"):
        rates_map(pd.DataFrame(communities), rates)
    with pytest.raises(ValueError, match="communities has no CRS"):
        rates_map(communities.set_crs(None, allow_override=True), rates)
    with pytest.raises(ValueError, match=r"communities lacks columns \['code'\]"):
        rates_map(communities.drop(columns="code"), rates)


def test_communities_in_another_crs_are_drawn_in_wgs84(communities, rates):
    html = page(rates_map(communities.to_crs(4548), rates))
    ring = features_by_key(html)["c1"][0]["geometry"]["coordinates"][0]
    assert any(abs(x - 116.4) < 1e-6 and abs(y - 39.9) < 1e-6 for x, y in ring)


def test_a_comparison_without_data_reads_unknown_in_the_tooltip(communities, options):
    from geo.cases import CaseCounts
    from geo.period import parse_period
    from geo.rates import compute_rates

    now = CaseCounts(pd.DataFrame({"community_code": ["c1", "c2"], "cases": [10, 40]}),
                     parse_period("2025"))
    before = CaseCounts(pd.DataFrame({"community_code": ["c1", "c2"], "cases": [0, 0]}),
                        parse_period("2024"))
    result = compute_rates(now, pd.Series({"c1": 5000.0, "c2": 8000.0}), compare_counts=before,
                           compare_covered=pd.Series({"c1": False, "c2": True}))
    html = page(rates_map(communities, result, options=options))
    tips = {k: v[0]["properties"]["t"] for k, v in features_by_key(html).items()
            if k in ("c1", "c2")}
    assert "待补数据（对比期无完整数据）" in tips["c1"]
    assert "待补数据" not in tips["c2"] and "显著上升" in tips["c2"]
