"""The language of the command line's tables: titles, column headers and provenance lines.

``pingan --lang zh|en`` chooses it; without the option it follows the locale
(:func:`default_language`). Only what a person reads in a printed table changes: CSV, JSON and
GeoJSON keep their column names and English provenance keys, and error messages stay English
(the HTTP API's problem documents carry a Chinese ``title_zh`` besides).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, Literal

import pandas as pd

from api.services import Report
from geo.standard import STATUS_LABELS_ZH

__all__ = ["HEADERS_EN", "HEADERS_ZH", "Bilingual", "Language", "classes_line",
           "current_language", "default_language", "headers_for", "in_language",
           "provenance_lines", "retitled", "shown_in", "title_of", "use_language"]

Language = Literal["zh", "en"]
#: A line printed above a table, in Chinese and in English.
Bilingual = tuple[str, str]

_LANGUAGE: ContextVar[Language | None] = ContextVar("pingan_cli_language", default=None)

#: Column -> English header of a printed table (other columns show their name).
HEADERS_EN: dict[str, str] = {
    "code": "code", "name": "name", "district": "district", "subdistrict": "subdistrict",
    "communities": "communities", "population": "population", "cases": "cases",
    "case_rate_per_10k": "rate per 10k", "case_rate_per_10k_annual": "rate per 10k (annual)",
    "case_rate_eb_per_10k_annual": "smoothed rate (annual)", "compare_cases": "cases before",
    "compare_case_rate_per_10k_annual": "rate before", "case_change_pct": "change %",
    "q_rise": "q (rise)", "case_rise_significant": "significant rise",
    "change_class": "change", "month": "month",
    "days": "days", "weekday": "weekday", "value": "value", "hotspot_gi_z": "Gi* z",
    "p_value": "p (two-sided)", "hotspot_class": "class", "cell_id": "cell", "ix": "ix",
    "iy": "iy", "camera_count": "cameras", "camera_working_ratio": "working",
    "camera_density_per_km2": "per km²", "cameras_per_1000_residents": "per 1,000",
    "camera_area_share": "area in view", "incidents_in_view_share": "incidents in view",
    "compounds_total": "compounds", "compound_compliance_ratio": "compliant",
    "rank": "rank", "facility_covered_area_share": "area covered",
    "facility_covered_population_share": "residents covered",
    "facility_distance_m": "weighted distance (m)",
    "facility_uncovered_population": "residents uncovered", "gap_area_m2": "gap area (m²)",
    "id": "id", "incidents_catchment": "catchment incidents", "catchment_share": "share",
    "incidents_within_radius": "within radius", "within_radius_share": "share within radius",
    "candidate_id": "candidate", "population_reached": "uncovered reached",
    "population_newly_covered": "newly covered", "label_zh": "名称 (zh)",
    "better": "better when", "score": "score", "status_zh": "status",
    "n_failed": "failed", "n_unknown": "unknown", "todo": "to do", "meets": "meets",
    "partly": "partly", "fails": "fails", "incomplete": "incomplete",
    "creation_rate": "creation rate", "creation_rate_pop": "creation rate (residents)",
    "criterion_id": "criterion", "outcome": "outcome", "operator": "operator",
    "threshold": "threshold", "weight": "weight", "required": "required",
    "category": "category", "trend_tau": "trend τ", "trend_p": "trend p", "last_z": "last z",
    "last_p": "last p", "hot_steps": "hot steps", "cold_steps": "cold steps",
    "incidents": "incidents", "density_per_km2": "density per km²", "expected": "expected",
    "layer": "layer", "current": "current", "retired": "removed/retired",
}

#: Column -> Chinese header, for columns a command does not name itself.
HEADERS_ZH: dict[str, str] = {
    "code": "代码", "name": "名称", "district": "区", "subdistrict": "街道", "month": "月份",
    "days": "天数", "cases": "发案数", "weekday": "星期", "population": "人口",
    "communities": "社区数", "unit": "单位", "metric": "指标", "layer": "图层",
    "current": "现有", "retired": "已移除/撤销", "category": "类别", "incidents": "发案数",
    "lon": "经度", "lat": "纬度", "id": "编号", "params": "参数", "producer": "来源",
    "label_en": "英文名称", "better": "越…越好",
}


def default_language(environ: Mapping[str, str] | None = None) -> Language:
    """The language of the locale: ``zh`` unless the locale names another language.

    The locale is the first of ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` that is set (POSIX
    precedence). pingan is Chinese first: a Chinese locale (``zh_CN.UTF-8``) and a locale
    that names no language (unset, ``C``, ``C.UTF-8``, ``POSIX``) give ``zh``; any other
    language (``en_US.UTF-8``, ``de_DE``) gives ``en``, the language its speaker more likely
    reads.

    Parameters
    ----------
    environ
        The environment (default ``os.environ``).

    Returns
    -------
    str
        ``zh`` or ``en``.
    """
    env = os.environ if environ is None else environ
    value = next((env[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(k)), "")
    lang = value.split(".")[0].split("@")[0].split("_")[0].lower()
    return "zh" if lang in ("", "c", "posix", "zh") else "en"


def current_language() -> Language:
    """The language of the running command (:func:`use_language`), else the locale's."""
    return _LANGUAGE.get() or default_language()


def use_language(lang: Language) -> None:
    """Set the language of this invocation's tables (``pingan --lang``).

    A context variable, so concurrent invocations in one process do not share it.
    """
    _LANGUAGE.set(lang)


def headers_for(columns: Sequence[str], headers: Mapping[str, str], lang: Language,
                english: Mapping[str, str] | None = None) -> dict[str, str]:
    """Column -> header in the language: the command's Chinese headers, or English ones.

    ``english`` holds a command's own English headers where the shared ones
    (:data:`HEADERS_EN`) would mislead (a one-sided ``p_value``, for instance).
    """
    if lang == "en":
        own = english or {}
        return {c: own.get(c) or HEADERS_EN.get(c, c) for c in columns}
    return {c: headers.get(c) or HEADERS_ZH.get(c) or c for c in columns}


def title_of(report: Report, lang: Language) -> str:
    """The report's title in the language (English when it has no Chinese one)."""
    return report.title_zh if lang == "zh" and report.title_zh else report.title


def retitled(report: Report, frame: pd.DataFrame, *, en: str, zh: str) -> Report:
    """The report with other rows and a note added to both titles, e.g. "(20 densest cells)"."""
    return replace(report, frame=frame, title=f"{report.title} {en}",
                   title_zh=f"{report.title_zh or report.title}{zh}")


_LEFT_OUT_ZH = {"unassigned": "不在任何社区", "no_location": "无位置", "not_counted": "不计入发案",
                "coarse_location": "位置粗略", "outside_grid": "网格外", "suppressed": "已隐藏",
                "no_time": "无时间"}


def provenance_lines(prov: Mapping[str, Any], lang: Language) -> list[str]:
    """The provenance lines printed above a table: period, versions, mapping, left out."""
    zh = lang == "zh"
    out = []
    if "period" in prov:
        cmp = prov.get("compare_period")
        cmp_text = (f" 对比 {cmp}" if zh else f" vs {cmp}") if cmp else ""
        out.append(f"{'时段' if zh else 'period'} {prov['period']}{cmp_text}: "
                   f"{prov.get('period_start', '')} .. {prov.get('period_end', '')} "
                   f"({prov.get('timezone', '')})")
    extras = [f"{'数据版本' if zh else 'data version'} {prov.get('data_version')}"]
    if prov.get("profile"):
        extras.append(f"{'标准' if zh else 'profile'} {prov['profile']}")
    if prov.get("metric_crs"):
        extras.append(f"{'量算坐标系' if zh else 'metric CRS'} {prov['metric_crs']}")
    if prov.get("category_map"):
        m = prov["category_map"]
        extras.append(f"类别对照 {m['file']} (sha256 {m['sha256']})" if zh else
                      f"categories mapped by {m['file']} (sha256 {m['sha256']})")
    out.append("; ".join(extras))
    if prov.get("population"):
        # which population rule each community used
        note = str(prov["population"])
        out.append(population_note_zh(note) if zh else note)
    left = prov.get("left_out")
    if left:
        def label(k: str) -> str:
            return _LEFT_OUT_ZH.get(k, k) if zh else k.replace("_", " ")
        out.append(("未计入: " if zh else "left out: ") + ", ".join(
            f"{label(k)} {v:,}" if isinstance(v, int) else f"{label(k) if zh else k} {v}"
            for k, v in left.items()))
    return out


def in_language(line: str | Bilingual, lang: Language) -> str:
    """A summary line in the language (a plain string is printed as it is)."""
    if isinstance(line, tuple):
        return line[0] if lang == "zh" else line[1]
    return line


_POPULATION = re.compile(r"population of (?P<span>\S+): person-years, linear between known "
                         r"dates and flat beyond them: (?P<parts>.*?)(?:; known dates "
                         r"(?P<known>\S+))?$")
_RULE_ZH = re.compile(r"^.*\((?P<zh>[^)]+)\) for (?P<n>\d+)$")


def population_note_zh(note: str) -> str:
    """The population rule of a result (:mod:`geo.exposure`) in Chinese.

    The note is written by :func:`geo.exposure.period_population`; a note of another form is
    returned unchanged.
    """
    m = _POPULATION.match(note)
    if m is None:
        return note
    parts = []
    # parts end with their count ("… for 12"); a rule's own text may hold a comma
    for part in re.split(r"(?<=\d), ", m["parts"]):
        rule = _RULE_ZH.match(part)
        if rule is not None:
            parts.append(f"{rule['zh']} {rule['n']} 个社区")
        elif part.startswith("none for "):
            parts.append(f"无人口 {part.removeprefix('none for ')} 个社区")
        else:
            parts.append("无社区" if part == "no community" else part)
    known = f"；已知日期 {m['known']}" if m["known"] else ""
    return (f"人口（{m['span']}）按人年计，已知日期之间线性插值、之外沿用：" + "，".join(parts)
            + known)


#: Codes of classes and categories a Chinese table shows in words.
WORDS_ZH: dict[str, str] = {
    "same location": "同一地点", "same day": "同一天", "raised": "升高", "not raised": "未升高",
    "hot_99": "热点 (99%)", "hot_95": "热点 (95%)", "hot_90": "热点 (90%)",
    "cold_99": "冷点 (99%)", "cold_95": "冷点 (95%)", "cold_90": "冷点 (90%)",
    "not_significant": "不显著", "no_pattern": "无模式", **STATUS_LABELS_ZH,
    **{f"{kind}_{spot}": f"{word}{spot_zh}"
       for kind, word in (("new", "新增"), ("consecutive", "连续"), ("intensifying", "加强"),
                          ("persistent", "持续"), ("diminishing", "逐渐减弱"),
                          ("sporadic", "分散"), ("oscillating", "振荡"), ("historical", "历史"))
       for spot, spot_zh in (("hot_spot", "热点"), ("cold_spot", "冷点"))},
}
_BANDS_ZH = ((re.compile(r"^(\d+)-(\d+) days$"), r"\1-\2 天"),
             (re.compile(r"^<= (\d+) days$"), r"≤ \1 天"),
             (re.compile(r"^([\d.]+)-([\d.]+) m$"), r"\1-\2 米"),
             (re.compile(r"^<= ([\d.]+) m$"), r"≤ \1 米"))
#: Integer columns that mean yes (1) or no (0).
YES_NO_COLUMNS = frozenset({"case_rise_significant", "alert"})


def _word_zh(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value in WORDS_ZH:
        return WORDS_ZH[value]
    for pattern, repl in _BANDS_ZH:
        if pattern.match(value):
            return pattern.sub(repl, value)
    return value


def shown_in(frame: pd.DataFrame, columns: Sequence[str], lang: Language) -> pd.DataFrame:
    """The frame as a printed table shows it: yes/no in words, codes in Chinese words.

    Columns of booleans, and the integer columns of :data:`YES_NO_COLUMNS`, print 是/否 (or
    yes/no); in Chinese, class codes and band labels print in words (:data:`WORDS_ZH`).
    CSV, JSON and GeoJSON keep the codes.
    """
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    out = frame.copy()
    for c in columns:
        col = out[c]
        if pd.api.types.is_bool_dtype(col) or (
                c in YES_NO_COLUMNS and pd.api.types.is_numeric_dtype(col)):
            out[c] = [None if pd.isna(v) else (yes if bool(v) else no) for v in col.tolist()]
        elif lang == "zh" and not pd.api.types.is_numeric_dtype(col):
            out[c] = [_word_zh(v) for v in col.tolist()]
    return out


def classes_line(counts: Mapping[str, Any] | pd.Series, zh: str, en: str) -> Bilingual:
    """``类别: 热点 (99%) 3, …`` / ``classes: hot_99 3, …``: how many rows of each class."""
    return (f"{zh}: " + ", ".join(f"{_word_zh(k)} {v}" for k, v in counts.items()),
            f"{en}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
