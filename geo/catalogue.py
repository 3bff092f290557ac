"""The catalogue: one registry of every per-community metric pingan computes.

Each metric names the computation that produces it (``producer``) and the parameters that
computation needs. The column of that name in the producer's per-community result frame holds
the metric's value; the safe-community standard (:mod:`geo.standard`) refers to metrics only by
these names, and the API serves this table as ``/api/v1/catalogue``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from geo.errors import NotFoundError

__all__ = ["CATALOGUE", "Metric", "metric"]

Producer = Literal["rates", "hotspots", "cameras", "compounds", "coverage"]
Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Metric:
    """One per-community metric.

    Attributes
    ----------
    name
        Column name in the producer's result, and the name profiles use.
    unit
        Unit of the value (``ratio`` is 0–1).
    label_zh, label_en
        Short labels.
    description_zh, description_en
        One-sentence definitions.
    better
        ``higher`` or ``lower``: which direction is better.
    producer
        The computation that produces it: ``rates`` (:mod:`geo.rates`), ``hotspots``
        (:mod:`geo.hotspots`), ``cameras`` (:mod:`geo.cameras`), ``compounds``
        (:mod:`geo.compounds`), ``coverage`` (:mod:`geo.coverage`).
    params
        Parameters the metric takes in a profile criterion (others are refused).
    required_params
        Parameters a criterion must give.
    words
        For a ``0/1`` metric: what 0 and 1 mean, each as ``(zh, en)``, so a value is shown in
        words (``无显著上升`` rather than ``0``).
    """

    name: str
    unit: str
    label_zh: str
    label_en: str
    description_zh: str
    description_en: str
    better: Better
    producer: Producer
    params: tuple[str, ...] = ()
    required_params: tuple[str, ...] = ()
    words: tuple[tuple[str, str], tuple[str, str]] | None = None


_M = Metric

CATALOGUE: dict[str, Metric] = {m.name: m for m in (
    _M("cases", "cases", "发案数", "Cases",
       "统计期内按案件口径计入的发案数。", "Incidents counted as cases in the period.",
       "lower", "rates", ("period", "category")),
    _M("case_rate_per_10k", "per 10,000 residents", "万人发案率", "Case rate",
       "统计期内每万名常住人口的发案数。", "Cases per 10,000 residents in the period.",
       "lower", "rates", ("period", "category")),
    _M("case_rate_per_10k_annual", "per 10,000 residents per year", "年化万人发案率",
       "Annualised case rate",
       "按统计期天数折算为一年的万人发案率。",
       "Cases per 10,000 residents, scaled to 365.25 days.",
       "lower", "rates", ("period", "category")),
    _M("case_rate_eb_per_10k_annual", "per 10,000 residents per year", "平滑年化万人发案率",
       "Smoothed annualised case rate",
       "经验贝叶斯平滑后的年化万人发案率，小人口社区向全市水平收缩。",
       "Empirical-Bayes smoothed annualised rate: small populations shrink toward the city rate.",
       "lower", "rates", ("period", "category")),
    _M("case_change_pct", "%", "发案变化率", "Change in cases",
       "与对比期相比的发案率变化百分比。",
       "Change of the case rate against the comparison period, in percent.",
       "lower", "rates", ("period", "category", "compare")),
    _M("case_rise_significant", "0/1", "发案显著上升", "Significant rise",
       "与对比期相比发案率显著上升（单侧泊松检验，经Benjamini–Hochberg校正，5%）为1，否则为0；"
       "对比期未被发案数据完整覆盖时为待补数据。",
       "1 when the case rate rose significantly against the comparison period (one-sided "
       "conditional Poisson test, Benjamini–Hochberg corrected across communities, 5 %), else 0; "
       "unknown when the incident data do not wholly cover the comparison period.",
       "lower", "rates", ("period", "category", "compare"),
       words=(("无显著上升", "no significant rise"), ("显著上升", "significant rise"))),
    _M("hotspot_gi_z", "z-score", "热点Gi*得分", "Hot-spot Gi* z",
       "平滑发案率的Getis-Ord Gi*标准分，正值越大越“热”。",
       "Getis-Ord Gi* z-score of the smoothed case rate; large positive values are hot spots.",
       "lower", "hotspots", ("period", "category")),
    _M("camera_count", "devices", "视频监控数", "Cameras",
       "统计期内在用的视频监控设备数。", "Video devices in place during the period.",
       "higher", "cameras", ("period",)),
    _M("camera_working_ratio", "ratio", "视频监控完好率", "Camera working ratio",
       "在用视频监控中状态完好的比例。", "Share of the period's video devices that work.",
       "higher", "cameras", ("period",)),
    _M("camera_density_per_km2", "per km²", "视频监控密度", "Camera density",
       "每平方公里在用视频监控数。", "Video devices per square kilometre.",
       "higher", "cameras", ("period",)),
    _M("cameras_per_1000_residents", "per 1,000 residents", "千人视频监控数",
       "Cameras per 1,000 residents",
       "每千名常住人口在用视频监控数。", "Video devices per 1,000 residents.",
       "higher", "cameras", ("period",)),
    _M("camera_area_share", "ratio", "视频监控覆盖率", "Camera coverage of area",
       "社区面积中位于完好摄像机视域内的比例（重叠只计一次）。",
       "Share of the community's area inside working camera view sectors (overlaps once).",
       "higher", "cameras", ("period",)),
    _M("incidents_in_view_share", "ratio", "视域内发案占比", "Cases in camera view",
       "统计期内发生在完好摄像机视域内的案件比例。",
       "Share of the period's cases that happened inside working camera view.",
       "higher", "cameras", ("period", "category")),
    _M("compounds_total", "compounds", "小区/单位数", "Compounds",
       "在册小区/单位数。", "Compounds in the inventory.",
       "higher", "compounds"),
    _M("compound_compliance_ratio", "ratio", "物防技防达标率", "Compound compliance",
       "具备全部规定物防、技防措施的小区/单位占比。",
       "Share of compounds that have every required physical and technical measure.",
       "higher", "compounds"),
    _M("measure_presence_rate", "ratio", "措施具备率", "Measure presence",
       "具备某项措施的小区/单位占比。", "Share of compounds that have the given measure.",
       "higher", "compounds", ("measure",), ("measure",)),
    _M("facility_covered_area_share", "ratio", "设施服务面积覆盖率", "Area within reach",
       "社区面积中位于某类设施服务半径内的比例。",
       "Share of the community's area within the service radius of a facility of the type.",
       "higher", "coverage", ("facility_type", "radius_m", "period"), ("facility_type",)),
    _M("facility_covered_population_share", "ratio", "设施服务人口覆盖率",
       "Residents within reach",
       "常住人口中位于某类设施服务半径内的比例（人口按小区分布，无小区时按面积均匀分布）。",
       "Share of residents within the service radius of a facility of the type (placed on "
       "compounds, else spread evenly over the area).",
       "higher", "coverage", ("facility_type", "radius_m", "period"), ("facility_type",)),
    _M("facility_distance_m", "m", "至最近设施距离", "Distance to nearest facility",
       "人口加权的至最近某类设施直线距离。",
       "Population-weighted straight-line distance to the nearest facility of the type.",
       "lower", "coverage", ("facility_type", "period"), ("facility_type",)),
    _M("facility_uncovered_population", "residents", "服务盲区人口", "Residents out of reach",
       "位于某类设施服务半径外的估计人口。",
       "Estimated residents outside every service area of the type.",
       "lower", "coverage", ("facility_type", "radius_m", "period"), ("facility_type",)),
)}


def metric(name: str) -> Metric:
    """Return the catalogue entry called ``name``.

    Raises
    ------
    KeyError
        If no metric has that name; the message lists the known ones.
    """
    try:
        return CATALOGUE[name]
    except KeyError:
        raise NotFoundError(
            f"unknown metric {name!r}; known metrics: {', '.join(sorted(CATALOGUE))}"
        ) from None
