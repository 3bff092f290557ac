"""The hot-spot, protection, coverage and standard maps on the hand-made inputs."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geo
from geo.profile import load_profile
from geo.standard import evaluate
from maps import coverage_map, hotspot_map, protection_map, standard_map
from maps.hotspots import HOTSPOT_COLORS
from maps.standard import STATUS_COLORS, format_metric_value
from tests.maps.maphelpers import features_by_key, layer_names, layers, legend, page


# ------------------------------------------------------------------------------ hot spots
def test_hotspot_classes_colours_and_legend(communities, hotspots, options):
    html = page(hotspot_map(communities, hotspots, options=options))
    feats = features_by_key(html)
    assert [feats[c][1]["fillColor"] for c in ("c1", "c2", "c3", "c4")] == [
        HOTSPOT_COLORS["hot_99"], HOTSPOT_COLORS["not_significant"], HOTSPOT_COLORS["no_value"],
        HOTSPOT_COLORS["cold_95"]]
    assert "<th>热点类别</th><td>热点（99% 置信）</td>" in feats["c1"][0]["properties"]["t"]
    assert "<th>Gi* 得分</th><td>2.90</td>" in feats["c1"][0]["properties"]["t"]
    text = legend(html)
    for entry in ("热点（99% 置信） (1)", "热点（90% 置信） (0)", "冷点（95% 置信） (1)",
                  "不显著 (1)", "无数据 (1)", "Gi*, 999 次置换检验"):
        assert entry in text
    assert "无相邻单元" not in text  # listed only when present


def test_grid_hotspots_suppress_small_counts(communities, grid_hotspots, options):
    en = dataclasses.replace(options, language="en")
    html = page(hotspot_map(communities, grid_hotspots, min_count_shown=3, options=en))
    feats = features_by_key(html)
    assert "<th>Value analysed</th><td>12</td>" in feats["g0"][0]["properties"]["t"]
    assert "<th>Value analysed</th><td>&lt;3</td>" in feats["g1"][0]["properties"]["t"]
    assert feats["g2"][1]["fillColor"] == HOTSPOT_COLORS["no_neighbours"]
    assert "No neighbours (1)" in legend(html)
    assert layer_names(html) == ["Communities", "Grid hot spots"]
    with pytest.raises(ValueError, match="min_count_shown"):
        hotspot_map(communities, grid_hotspots, min_count_shown=0)
    with pytest.raises(TypeError, match="HotspotResult"):
        hotspot_map(communities, grid_hotspots.frame)


# ------------------------------------------------------------------------------ protection
def test_protection_layers(communities, devices, cameras, compliance, options):
    html = page(protection_map(communities, devices=devices, cameras=cameras,
                               compliance=compliance, options=options))
    names = layer_names(html)
    assert names == ["社区边界", "视频盲区", "摄像机视域（完好） (2)", "摄像机视域（故障） (1)",
                     "其他技防设备 (1)", "小区/单位"]
    feats = features_by_key(html)
    assert "dashArray" not in feats["D1"][1] and feats["D3"][1]["dashArray"] == "3 2"
    sector = feats["D1"][0]["geometry"]
    assert sector["type"] == "Polygon"
    # a 60° sector of 80 m facing north from its apex: every vertex at or north of the apex
    lats = [y for _, y in sector["coordinates"][0]]
    assert min(lats) == pytest.approx(39.9025, abs=1e-6) and max(lats) > 39.9025 + 0.0006
    # compounds: K1 has every required measure, K2 only a fence, K3 (a point) lacks three
    assert feats["K1"][1]["fillColor"] != feats["K2"][1]["fillColor"]
    assert feats["K3"][1]["radius"] == 6
    popup = feats["K2"][0]["properties"]["p"]
    assert "<th>缺少措施</th><td>门卫、照明、出入口视频监控、门禁</td>" in popup
    assert "<th>缺少措施</th>" not in feats["K1"][0]["properties"]["p"]
    tip = feats["c1"][0]["properties"]["t"]
    assert "<th>视频监控数</th><td>1</td>" in tip
    assert "<th>物防技防达标率</th><td>100.0%</td>" in tip
    text = legend(html)
    assert "物防技防达标 (1)" in text and "物防技防未达标 (2)" in text
    assert "摄像机视域（故障） (1)" in text


def test_protection_map_without_inventories(communities, options):
    html = page(protection_map(communities, options=options))
    assert layer_names(html) == ["社区边界"]
    with pytest.raises(TypeError, match="cameras must be a CameraMetrics"):
        protection_map(communities, cameras=pd.DataFrame())


def test_devices_outside_the_period_are_not_drawn(communities, devices, cameras, options):
    later = devices.copy()
    later["installed_on"] = pd.to_datetime(["2020-01-01", "2026-03-01", "2020-01-01",
                                            "2020-01-01"])
    html = page(protection_map(communities, devices=later, cameras=cameras, options=options))
    assert "D2" not in features_by_key(html)
    assert "摄像机视域（完好） (1)" in layer_names(html)


# ------------------------------------------------------------------------------ coverage
def test_coverage_layers(communities, coverage, facilities, plan, options):
    html = page(coverage_map(communities, coverage, facilities=facilities, plan=plan,
                             options=options))
    names = layer_names(html)
    assert "服务范围: 派出所 (半径 300 米)" in names
    assert "服务盲区: 派出所" in names
    assert {"设施: 派出所", "设施: 社区卫生服务站", "设施: museum"} <= set(names)
    assert "建议新址 (1)" in names and "新址服务范围 (半径 300 米)" in names
    feats = features_by_key(html)
    gap_tip = next(f["properties"]["t"] for coll, _ in layers(html) for f in coll["features"]
                   if "盲区估计人口" in f["properties"].get("t", ""))
    assert "<th>类型</th><td>派出所</td>" in gap_tip
    assert "<th>新增覆盖人口</th><td>3,900</td>" in feats["S7"][0]["properties"]["p"]
    assert feats["F1"][1]["fillColor"] != feats["F2"][1]["fillColor"]
    text = legend(html)
    assert "人口覆盖率 48.0% → 63.6%" in text and "派出所 (1)" in text
    tip = feats["c1"][0]["properties"]["t"]
    assert "<th>派出所: 设施服务人口覆盖率</th>" in tip
    assert "gap:police_station:c1" in feats


def test_coverage_map_refuses(communities, facilities, coverage):
    with pytest.raises(ValueError, match="at least one FacilityCoverage"):
        coverage_map(communities, [], facilities=facilities)
    with pytest.raises(TypeError, match="FacilityCoverage"):
        coverage_map(communities, [coverage.frame], facilities=facilities)
    with pytest.raises(ValueError, match=r"facilities lacks columns \['type'\]"):
        coverage_map(communities, coverage, facilities=facilities.drop(columns="type"))


# ------------------------------------------------------------------------------ standard
def test_standard_bands_popups_and_todo(communities, evaluation, options):
    html = page(standard_map(communities, evaluation,
                             options=dataclasses.replace(options, period_label="2025")))
    feats = features_by_key(html)
    assert [feats[c][1]["fillColor"] for c in ("c1", "c2", "c3", "c4")] == [
        STATUS_COLORS["meets"], STATUS_COLORS["fails"], STATUS_COLORS["incomplete"],
        STATUS_COLORS["partly"]]
    popup = feats["c2"][0]["properties"]["p"]
    assert ("<tr><td>平滑万人发案率 (必达)</td><td>300.0</td><td>≤ 250.0</td>"
            '<td class="pingan-fail">未通过</td></tr>') in popup
    assert ("<tr><td>视频监控完好率</td><td>99.0%</td><td>≥ 98.0%</td>"
            '<td class="pingan-pass">通过</td></tr>') in popup
    assert "<b>待办（未达标指标）</b><ul><li>平滑万人发案率</li></ul>" in popup
    incomplete = feats["c3"][0]["properties"]["p"]
    assert "<b>待补数据</b><ul><li>平滑万人发案率</li></ul>" in incomplete
    assert "<td>无数据</td>" in incomplete
    assert "<th>得分</th><td>100.0 (40.0–100.0)</td>" in incomplete
    text = legend(html)
    for entry in ("达标 (1 个社区)", "基本达标 (1 个社区)", "未达标 (1 个社区)",
                  "待补数据 (1 个社区)", "创建率（达标社区占比）: 25.0%", "测试标准 (t1)"):
        assert entry in text
    assert "数据期: 2025" in html


def test_standard_in_english(communities, evaluation, options):
    html = page(standard_map(communities, evaluation,
                             options=dataclasses.replace(options, language="en")))
    popup = features_by_key(html)["c4"][0]["properties"]["p"]
    assert "<td>Camera working ratio</td><td>50.0%</td><td>≥ 98.0%</td>" in popup
    assert "<b>To do (failed criteria)</b><ul><li>Camera working ratio</li></ul>" in popup
    assert "Partly meets (1 communities)" in legend(html)
    with pytest.raises(TypeError, match="evaluation must be an Evaluation"):
        standard_map(communities, evaluation.communities)


def test_a_yes_no_criterion_reads_in_words(communities, options):
    # Issue 12: "发案同比无显著上升 | 是 | < 1 | 未通过" read as the opposite of the value.
    profile = load_profile(Path(geo.__file__).parent / "profiles" / "beijing-safe-community.toml")
    values = pd.DataFrame({c: np.nan for c in profile.criterion_ids},
                          index=pd.Index(["c1", "c2", "c3", "c4"], name="code"))
    values["no_significant_rise"] = [1.0, 0.0, np.nan, 0.0]
    feats = features_by_key(page(standard_map(communities, evaluate(values, profile),
                                              options=options)))
    row = "<tr><td>发案同比无显著上升</td><td>{}</td><td>须为：无显著上升</td>"
    assert row.format("显著上升") + '<td class="pingan-fail">未通过</td>' in feats["c1"][0][
        "properties"]["p"]
    assert row.format("无显著上升") + '<td class="pingan-pass">通过</td>' in feats["c2"][0][
        "properties"]["p"]
    assert row.format("待补数据") + '<td class="pingan-unknown">未知</td>' in feats["c3"][0][
        "properties"]["p"]
    english = features_by_key(page(standard_map(
        communities, evaluate(values, profile),
        options=dataclasses.replace(options, language="en"))))["c1"][0]["properties"]["p"]
    assert ("<td>significant rise</td><td>must be: no significant rise</td>"
            '<td class="pingan-fail">fail</td>') in english


def test_metric_values_in_their_units():
    assert format_metric_value("camera_area_share", 0.2, "zh") == "20.0%"
    assert format_metric_value("case_rise_significant", 1, "en") == "significant rise"
    assert format_metric_value("case_rise_significant", 0, "zh") == "无显著上升"
    assert format_metric_value("case_rise_significant", float("nan"), "zh") == "待补数据"
    assert format_metric_value("facility_distance_m", 512.4, "zh") == "512 m"
    assert format_metric_value("case_change_pct", 12.5, "en") == "+12.5%"
    assert format_metric_value("camera_count", 12, "zh") == "12"
    assert format_metric_value("not_a_metric", 1.25, "zh") == "1.2"
