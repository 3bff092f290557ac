"""Every word a map shows, in Chinese and English, and how numbers are written.

Labels of metrics come from :data:`geo.catalogue.CATALOGUE` and labels of standard criteria from
the profile; everything else a map writes is in :data:`TEXT`. Values that name things of the data
(incident categories, facility types, measures, device kinds) are translated when they are known
names and shown as they are otherwise.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

from geo.catalogue import CATALOGUE
from maps.options import Language

__all__ = [
    "TEXT",
    "fmt_count",
    "fmt_number",
    "fmt_percent",
    "fmt_ratio",
    "metric_label",
    "table_html",
    "term",
    "text",
]

#: Every label of the maps: key -> (Chinese, English).
TEXT: dict[str, tuple[str, str]] = {
    # titles
    "title.incidents": ("发案分布", "Incidents"),
    "title.rates": ("社区万人发案率", "Case rates by community"),
    "title.hotspots": ("发案热点分析（Gi*）", "Hot spots (Gi*)"),
    "title.protection": ("技防物防", "Technical and physical protection"),
    "title.coverage": ("设施覆盖与服务盲区", "Facility coverage and gaps"),
    "title.standard": ("平安社区达标情况", "Safe-community standard"),
    "period": ("数据期", "Data period"),
    "generated": ("生成时间", "Generated"),
    "no_data": ("无数据", "No data"),
    "none": ("—", "—"),
    "basemap": ("底图", "Basemap"),
    "communities": ("社区边界", "Communities"),
    # community fields
    "field.code": ("代码", "Code"),
    "field.name": ("名称", "Name"),
    "field.community": ("社区", "Community"),
    "field.population": ("常住人口", "Population"),
    "field.count": ("发案数", "Cases"),
    "field.rate": ("万人发案率", "Rate per 10,000"),
    "field.rate_annual": ("年化万人发案率", "Annualised rate per 10,000"),
    "field.rate_eb": ("平滑年化万人发案率", "Smoothed annual rate per 10,000"),
    "field.change": ("发案变化率", "Change"),
    "field.significant_rise": ("显著上升", "significant rise"),
    "field.change_unknown": ("待补数据（对比期无完整数据）",
                             "unknown: the comparison period is not wholly covered"),
    "field.required_value": ("须为：", "must be: "),
    "field.hotspot_class": ("热点类别", "Hot-spot class"),
    "field.gi_z": ("Gi* 得分", "Gi* z-score"),
    "field.p_value": ("p 值（双侧）", "p (two-sided)"),
    "field.value": ("分析值", "Value analysed"),
    "field.cell": ("网格", "Cell"),
    "field.area": ("面积", "Area"),
    "field.score": ("得分", "Score"),
    "field.status": ("达标状态", "Status"),
    "field.criterion": ("指标", "Criterion"),
    "field.metric_value": ("值", "Value"),
    "field.threshold": ("标准", "Threshold"),
    "field.result": ("结果", "Result"),
    "field.todo": ("待办（未达标指标）", "To do (failed criteria)"),
    "field.todo_unknown": ("待补数据", "Missing data"),
    "field.required": ("必达", "required"),
    "legend.classes": ("分级", "Classes"),
    "legend.communities_n": ("个社区", "communities"),
    "legend.creation_rate": ("创建率（达标社区占比）", "Creation rate (communities meeting)"),
    # incidents
    "incidents.points": ("发案点位（聚合）", "Incidents (clustered)"),
    "incidents.heat": ("发案热力", "Incident heat"),
    "incidents.grid": ("发案密度（网格汇总）", "Incident density (grid)"),
    "incidents.cells": ("发案网格（汇总）", "Incident grid (aggregated)"),
    "incidents.category": ("类别", "Category"),
    "incidents.id": ("编号", "ID"),
    "incidents.time": ("时间", "Time"),
    "incidents.address": ("地址", "Address"),
    "incidents.period_control": ("月份", "Month"),
    "incidents.all_months": ("全部月份", "All months"),
    "incidents.unknown_month": ("时间未知", "Unknown time"),
    "incidents.shown": ("显示 {n} 起", "{n} shown"),
    "incidents.cell_count": ("本格发案 {n} 起", "{n} incidents in this cell"),
    "incidents.cell_size": ("网格边长约 {m} 米", "cell about {m} m across"),
    "incidents.per_cell": ("每格发案数", "Incidents per cell"),
    "incidents.suppressed": ("少于 {n} 起（不公开）", "fewer than {n} (suppressed)"),
    "incidents.cell_note": ("{m} 米网格汇总，不含点位", "{m} m grid totals, no locations"),
    "incidents.grid_note": ("超过 {n} 起：按缩放级别网格汇总，不含点位",
                            "over {n} incidents: grid totals per zoom level, no locations"),
    "incidents.unknown_category": ("未分类", "Uncategorised"),
    # hot spots
    "hotspot.hot_99": ("热点（99% 置信）", "Hot spot, 99 % confidence"),
    "hotspot.hot_95": ("热点（95% 置信）", "Hot spot, 95 % confidence"),
    "hotspot.hot_90": ("热点（90% 置信）", "Hot spot, 90 % confidence"),
    "hotspot.not_significant": ("不显著", "Not significant"),
    "hotspot.cold_90": ("冷点（90% 置信）", "Cold spot, 90 % confidence"),
    "hotspot.cold_95": ("冷点（95% 置信）", "Cold spot, 95 % confidence"),
    "hotspot.cold_99": ("冷点（99% 置信）", "Cold spot, 99 % confidence"),
    "hotspot.no_neighbours": ("无相邻单元", "No neighbours"),
    "hotspot.no_value": ("无数据", "No value"),
    "hotspot.layer": ("热点类别", "Hot-spot classes"),
    "hotspot.cells": ("网格热点", "Grid hot spots"),
    # emerging hot spots and density surfaces
    "title.emerging": ("时空新兴热点", "Emerging hot spots"),
    "title.density": ("发案核密度", "Kernel density of incidents"),
    "emerging.layer": ("新兴热点类别", "Emerging hot-spot categories"),
    "emerging.new_hot_spot": ("新增热点", "New hot spot"),
    "emerging.consecutive_hot_spot": ("连续热点", "Consecutive hot spot"),
    "emerging.intensifying_hot_spot": ("加强热点", "Intensifying hot spot"),
    "emerging.persistent_hot_spot": ("持续热点", "Persistent hot spot"),
    "emerging.diminishing_hot_spot": ("减弱热点", "Diminishing hot spot"),
    "emerging.sporadic_hot_spot": ("零星热点", "Sporadic hot spot"),
    "emerging.oscillating_hot_spot": ("振荡热点", "Oscillating hot spot"),
    "emerging.historical_hot_spot": ("历史热点", "Historical hot spot"),
    "emerging.new_cold_spot": ("新增冷点", "New cold spot"),
    "emerging.consecutive_cold_spot": ("连续冷点", "Consecutive cold spot"),
    "emerging.intensifying_cold_spot": ("加强冷点", "Intensifying cold spot"),
    "emerging.persistent_cold_spot": ("持续冷点", "Persistent cold spot"),
    "emerging.diminishing_cold_spot": ("减弱冷点", "Diminishing cold spot"),
    "emerging.sporadic_cold_spot": ("零星冷点", "Sporadic cold spot"),
    "emerging.oscillating_cold_spot": ("振荡冷点", "Oscillating cold spot"),
    "emerging.historical_cold_spot": ("历史冷点", "Historical cold spot"),
    "emerging.no_pattern": ("无模式", "No pattern"),
    "emerging.hidden": ("发案少于 {n} 起（不公开）", "fewer than {n} incidents (suppressed)"),
    "emerging.note": ("{m} 米网格 × {steps} 个{step}，Gi* 时空邻域、FDR、Mann-Kendall 趋势；"
                      "无模式的网格不着色",
                      "{m} m cells × {steps} {step}s, space-time Gi*, FDR, Mann-Kendall "
                      "trend; cells with no pattern are not drawn"),
    "emerging.month": ("月", "month"),
    "emerging.week": ("周", "week"),
    "field.trend_tau": ("趋势 τ（Mann-Kendall）", "Trend τ (Mann-Kendall)"),
    "field.trend_p": ("趋势 p 值", "Trend p"),
    "field.last_z": ("末期 Gi* 得分", "Final-step Gi* z-score"),
    "field.last_p": ("末期 p 值", "Final-step p"),
    "field.incidents": ("发案数", "Incidents"),
    "density.layer": ("核密度（每平方公里）", "Density (per km²)"),
    "density.per_km2": ("密度（起/平方公里）", "Density (incidents per km²)"),
    "density.expected": ("本格期望发案数", "Expected incidents in this cell"),
    "density.note": ("{kernel} 核，带宽 {h} 米，{m} 米网格；低于最大值 1% 的网格不着色",
                     "{kernel} kernel, bandwidth {h} m, {m} m cells; cells under 1 % of the "
                     "maximum are not drawn"),
    "density.quartic": ("四次（双权）", "Quartic (biweight)"),
    # near repeats and early-warning alerts
    "title.near_repeat": ("近重复风险区", "Near-repeat risk zones"),
    "near_repeat.layer": ("近重复风险区", "Near-repeat risk zones"),
    "near_repeat.zone": ("风险区（半径 {r} 米，{d} 天）", "Zone ({r} m, {d} days)"),
    "near_repeat.note": ("近 {days} 天内案件周边的风险区，截至 {as_of}；"
                         "Knox 检验 p ≤ 0.05 且比值 ≥ 1.2 的距离 × 时间带",
                         "Zones around the incidents of the {days} days to {as_of}, from the "
                         "Knox bands with p ≤ 0.05 and ratio ≥ 1.2"),
    "near_repeat.none": ("无显著近重复（无风险区）", "No significant near repeats (no zones)"),
    "field.incident": ("案件", "Incident"),
    "field.occurred_on": ("发案日", "Occurred on"),
    "field.expires_on": ("风险截止日", "At risk until"),
    "field.radius_m": ("半径（米）", "Radius (m)"),
    "title.alerts": ("发案预警", "Early-warning alerts"),
    "alerts.layer": ("预警单元", "Alerting units"),
    "alerts.alert": ("预警", "Alert"),
    "alerts.quiet": ("无预警", "No alert"),
    "alerts.untested": ("历史不足，未检测", "Too little history, not tested"),
    "alerts.note": ("截至 {as_of}，{unit}：{step} 序列；EARS / 改进 Farrington，FDR 控制",
                    "As of {as_of}, {unit}: {step} series; EARS / improved Farrington, "
                    "FDR-controlled"),
    "alerts.community": ("社区", "communities"),
    "alerts.district": ("区", "districts"),
    "alerts.week": ("周", "weekly"),
    "alerts.day": ("日", "daily"),
    "field.observed": ("观测数", "Observed"),
    "field.expected": ("期望数", "Expected"),
    "alerts.threshold": ("阈值", "Threshold"),
    "field.method": ("方法", "Method"),
    "field.first_fired": ("首次预警", "First fired"),
    "field.step": ("检测期", "Step"),
    "density.gaussian": ("高斯", "Gaussian"),
    # protection
    "protection.sectors_working": ("摄像机视域（完好）", "Camera view (working)"),
    "protection.sectors_faulty": ("摄像机视域（故障）", "Camera view (faulty)"),
    "protection.other_devices": ("其他技防设备", "Other devices"),
    "protection.blind_spots": ("视频盲区", "Blind spots"),
    "protection.compounds": ("小区/单位", "Compounds"),
    "protection.compliant": ("物防技防达标", "All required measures"),
    "protection.not_compliant": ("物防技防未达标", "Missing measures"),
    "protection.missing": ("缺少措施", "Missing measures"),
    "protection.device": ("设备", "Device"),
    "protection.kind": ("类型", "Kind"),
    "protection.device_status": ("状态", "Status"),
    "protection.blind_area": ("盲区面积", "Blind area"),
    "status.working": ("完好", "working"),
    "status.faulty": ("故障", "faulty"),
    # coverage
    "coverage.facilities": ("设施", "Facilities"),
    "coverage.service_area": ("服务范围", "Service area"),
    "coverage.gaps": ("服务盲区", "Gaps"),
    "coverage.gap_population": ("盲区估计人口", "Estimated residents in gap"),
    "coverage.gap_area": ("盲区面积", "Gap area"),
    "coverage.sites": ("建议新址", "Suggested new sites"),
    "coverage.site_area": ("新址服务范围", "Service area of new sites"),
    "coverage.newly_covered": ("新增覆盖人口", "Residents newly covered"),
    "coverage.reached": ("服务范围内原未覆盖人口", "Uncovered residents within reach"),
    "coverage.candidate": ("候选点", "Candidate"),
    "coverage.site_community": ("所在社区", "Community"),
    "coverage.site_lonlat": ("经度, 纬度", "Longitude, latitude"),
    "coverage.before_after": ("人口覆盖率 {a} → {b}", "Residents covered {a} → {b}"),
    "coverage.radius": ("半径 {r} 米", "radius {r} m"),
    "coverage.walk": ("沿路步行 {r} 米", "{r} m walk along roads"),
    "coverage.drive": ("驾车 {r} 分钟", "{r} min drive"),
    "coverage.type": ("类型", "Type"),
    # standard
    "standard.meets": ("达标", "Meets"),
    "standard.partly": ("基本达标", "Partly meets"),
    "standard.fails": ("未达标", "Fails"),
    "standard.incomplete": ("待补数据", "Incomplete data"),
    "standard.layer": ("达标状态", "Status"),
    "outcome.pass": ("通过", "pass"),
    "outcome.fail": ("未通过", "fail"),
    "outcome.unknown": ("未知", "unknown"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    # data terms
    "category.theft": ("盗窃", "Theft"),
    "category.fraud": ("诈骗", "Fraud"),
    "category.burglary": ("入室盗窃", "Burglary"),
    "category.vehicle_theft": ("盗窃车辆", "Vehicle theft"),
    "category.assault": ("伤害", "Assault"),
    "category.vandalism": ("故意毁坏财物", "Vandalism"),
    "category.robbery": ("抢劫", "Robbery"),
    "facility.police_station": ("派出所", "Police station"),
    "facility.police_office": ("社区警务室", "Community police office"),
    "facility.service_station": ("社区服务站", "Community service station"),
    "facility.health_station": ("社区卫生服务站", "Community health station"),
    "facility.health_center": ("社区卫生服务中心", "Community health centre"),
    "facility.fire_station": ("消防站", "Fire station"),
    "measure.fence": ("围墙", "Fence"),
    "measure.gate_guard": ("门卫", "Gate guard"),
    "measure.anti_theft_doors": ("防盗门", "Anti-theft doors"),
    "measure.lighting": ("照明", "Lighting"),
    "measure.patrol": ("巡逻", "Patrol"),
    "measure.cctv_entrances": ("出入口视频监控", "CCTV at entrances"),
    "measure.access_control": ("门禁", "Access control"),
    "measure.intrusion_alarm": ("入侵报警", "Intrusion alarm"),
    "measure.intercom": ("楼宇对讲", "Intercom"),
    "measure.plate_recognition": ("车牌识别", "Plate recognition"),
    "device.camera": ("枪式摄像机", "Camera"),
    "device.dome": ("半球摄像机", "Dome camera"),
    "device.ptz": ("云台摄像机", "PTZ camera"),
    "device.face": ("人脸抓拍", "Face capture"),
    "device.plate": ("车牌识别", "Plate camera"),
    "device.alarm": ("报警装置", "Alarm"),
    "device.access": ("门禁", "Access control"),
}

_INDEX = {"zh": 0, "en": 1}


def text(key: str, language: Language) -> str:
    """Return the label ``key`` in ``language``.

    Raises
    ------
    KeyError
        If there is no such label.
    """
    try:
        return TEXT[key][_INDEX[language]]
    except KeyError:
        raise KeyError(f"no map label {key!r} in language {language!r}") from None


def term(group: str, value: Any, language: Language) -> str:
    """Translate a known data value (``category``, ``facility``, ``measure``, ``device``...).

    Unknown values are returned as text unchanged; a missing value gives the no-data label.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or _is_na(value):
        return text("no_data", language)
    entry = TEXT.get(f"{group}.{value}")
    return entry[_INDEX[language]] if entry else str(value)


def metric_label(name: str, language: Language) -> str:
    """Return the catalogue's label of a metric (the name itself when it is not listed)."""
    m = CATALOGUE.get(name)
    if m is None:
        return name
    return m.label_zh if language == "zh" else m.label_en


def _is_na(value: Any) -> bool:
    try:
        return value is not None and bool(value != value)  # NaN and pandas NA
    except TypeError:  # pd.NA refuses bool()
        return True


def _missing(value: Any) -> bool:
    return value is None or _is_na(value)


def fmt_number(value: Any, language: Language, *, decimals: int = 1, unit: str = "") -> str:
    """Write a number with thousands separators, or the no-data label when it is missing."""
    if _missing(value):
        return text("no_data", language)
    out = f"{float(value):,.{decimals}f}"
    return f"{out} {unit}" if unit else out


def fmt_count(value: Any, language: Language) -> str:
    """Write a whole number with thousands separators, a hidden count's label, or no data.

    A count released as a label (``"<3"``) is written as it is.
    """
    if isinstance(value, str) and value.startswith("<"):
        return value
    return fmt_number(value, language, decimals=0)


def fmt_ratio(value: Any, language: Language, *, decimals: int = 1) -> str:
    """Write a 0–1 ratio as a percentage, or the no-data label."""
    if _missing(value):
        return text("no_data", language)
    return f"{100.0 * float(value):.{decimals}f}%"


def fmt_percent(value: Any, language: Language, *, decimals: int = 1, signed: bool = True) -> str:
    """Write a value already in percent (``+12.5%``), or the no-data label."""
    if _missing(value):
        return text("no_data", language)
    sign = "+" if signed else ""
    return f"{float(value):{sign}.{decimals}f}%"


def table_html(rows: Iterable[tuple[str, str]], *, title: str | None = None) -> str:
    """Build the HTML of a tooltip or popup: an optional bold title and a two-column table.

    Every text is HTML-escaped, so names from the data cannot inject markup.
    """
    head = f"<b>{html.escape(title)}</b>" if title else ""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in rows)
    return f"{head}<table>{body}</table>"
