"""Briefings as pages: self-contained A4 HTML, printed to PDF by headless Chromium.

:func:`briefing_html` renders a :class:`api.services.briefing.Briefing` with the template
``api/templates/briefing.html``: its style sheet and its two maps (static SVG drawn by
:func:`maps.svg_map`: the communities' released rates and their hot-spot classes) are inside
the page, so it loads nothing and prints the same anywhere. :func:`briefing_pdf` prints it
with headless Chromium (:func:`maps.print_pdf`), which embeds the subset of the CJK font it
used (Debian's ``fonts-wqy-microhei``; ``pdffonts`` shows ``emb yes``).

Why Chromium rather than WeasyPrint: pingan already needs Chromium for PNG export and the
browser tests, and a second layout engine (with Pango and its own font handling) would be a
second way for a printed page to differ from the screen. A missing browser is a
:class:`RendererMissingError` naming the package to install and the setting to point at one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from api.services.briefing import Briefing
from api.web import render_template
from api.web_text import TEXT
from geo.errors import MissingDataError
from geo.hotspots import HOTSPOT_CLASSES
from maps import BrowserNotFoundError, classify, print_pdf, svg_map
from maps.hotspots import HOTSPOT_COLORS
from maps.labels import term
from maps.rates import NO_DATA_COLOR, class_colors

__all__ = ["BRIEFING_TEXT", "RendererMissingError", "briefing_html", "briefing_pdf",
           "briefing_title"]

Language = Literal["zh", "en"]

#: Communities labelled by name on the maps, at most (more would overlap on A4).
MAX_LABELS = 40
_HIDDEN_COLOR = "#e8e8e8"

#: The briefing's own texts (key -> (Chinese, English)); the landing's serve the rest.
BRIEFING_TEXT: dict[str, tuple[str, str]] = {
    "kind_week": ("周报", "weekly briefing"),
    "kind_month": ("月报", "monthly briefing"),
    "kind_quarter": ("季报", "quarterly briefing"),
    "kind_year": ("年报", "annual briefing"),
    "this_period": ("本期", "This period"),
    "level_district": ("区", "district"),
    "level_subdistrict": ("街道", "subdistrict"),
    "level_city": ("辖区", "jurisdiction"),
    "days": ("统计期", "Days"),
    "maps_title": ("发案分布", "Where cases were"),
    "rates_map": ("社区万人发案率（年化）", "Case rate per 10,000 residents (annualised)"),
    "hotspot_map": ("热点分析（Gi*，平滑发案率）", "Hot spots (Gi* over smoothed rates)"),
    "no_value": ("无数据或未发布", "No data or not released"),
    "hidden_class": ("未发布（<3）", "Not released (<3)"),
    "provenance": ("数据来源", "Data provenance"),
    "data_version": ("数据版本", "Data version"),
    "generated_at": ("生成时间", "Generated"),
    "profile": ("达标标准", "Standard profile"),
    "timezone": ("时区", "Time zone"),
    "layer": ("图层", "Layer"),
    "file": ("文件", "File"),
    "loaded_at": ("载入时间", "Loaded"),
    "release_rule": ("发布规则：规划和数据用户只得到汇总数；1–2 起显示为 <3，"
                     "其余按 cell-key 扰动发布。",
                     "Release rule: planner and client keys get aggregates only; counts of 1–2 "
                     "show as <3, the rest are released by cell-key perturbation."),
    "alerts_as_of": ("预警截至", "Alerts as of"),
    "km": ("公里", "km"),
    "m": ("米", "m"),
}


class RendererMissingError(MissingDataError):
    """No browser to print a PDF with (HTML still works)."""


def briefing_title(b: Briefing, language: Language) -> str:
    """The briefing's title: the unit's name, the kind of briefing and the period."""
    index = 0 if language == "zh" else 1
    kind = BRIEFING_TEXT[f"kind_{b.period.kind}"][index]
    name = b.unit["name"] or ("全市" if language == "zh" else "The whole city")
    return f"{name} {kind} {b.period.label}" if language == "zh" else \
        f"{name}: {kind}, {b.period.label}"


def _labels(frame: pd.DataFrame) -> list[str] | None:
    return None if len(frame) > MAX_LABELS else [str(n) for n in frame["name"]]


def _rates_svg(b: Briefing, language: Language, t: Any) -> str:
    frame = b.communities
    values = pd.to_numeric(frame["case_rate_per_10k_annual"], errors="coerce")
    cls = classify(values.to_numpy(dtype=float, na_value=np.nan), k=5)
    colors = class_colors(cls.k)
    fills = [colors[c] if c >= 0 else NO_DATA_COLOR for c in cls.classes]
    legend = [(colors[j], f"{cls.lower[j]:,.1f} – {cls.upper[j]:,.1f}") for j in range(cls.k)]
    if (cls.classes < 0).any():
        legend.append((NO_DATA_COLOR, t("no_value")))
    return svg_map(frame.geometry, fills, legend=legend, legend_title=t("rate"),
                   labels=_labels(frame), title=t("rates_map"), units=(t("m"), t("km")))


def _hotspot_svg(b: Briefing, language: Language, t: Any) -> str:
    frame = b.communities
    klass = frame["hotspot_class"].astype(str)
    fills = [HOTSPOT_COLORS.get(k, _HIDDEN_COLOR) for k in klass]
    present = set(klass)
    legend = [(HOTSPOT_COLORS[k], term("hotspot", k, language)) for k in HOTSPOT_CLASSES
              if k in present or k in HOTSPOT_CLASSES[:7]]
    if present - set(HOTSPOT_COLORS):
        legend.append((_HIDDEN_COLOR, t("hidden_class")))
    return svg_map(frame.geometry, fills, legend=legend,
                   legend_title=term("hotspot", "layer", language), labels=_labels(frame),
                   title=t("hotspot_map"), units=(t("m"), t("km")))


def briefing_html(b: Briefing, language: Language = "zh") -> str:
    """The briefing as one self-contained A4 HTML page (inline style and SVG maps).

    Parameters
    ----------
    b
        The briefing (already released for its caller).
    language
        ``zh`` or ``en``.

    Returns
    -------
    str
    """
    index = 0 if language == "zh" else 1

    def t(key: str) -> str:
        return (BRIEFING_TEXT.get(key) or TEXT[key])[index]

    return render_template("briefing.html", language, {
        "b": b, "title": briefing_title(b, language),
        "rates_svg": _rates_svg(b, language, t), "hotspot_svg": _hotspot_svg(b, language, t),
    }, text=BRIEFING_TEXT)


def briefing_pdf(html: str, *, browser: str | None = None, timeout_s: float = 120.0) -> bytes:
    """Print a briefing page to PDF (A4) with headless Chromium.

    Parameters
    ----------
    html
        The page (:func:`briefing_html`).
    browser
        The Chromium executable (the ``maps.browser`` setting); default the first found.
    timeout_s
        Wall-clock limit of the browser run.

    Returns
    -------
    bytes
        The PDF.

    Raises
    ------
    RendererMissingError
        If no Chromium is installed.
    RuntimeError
        If the browser fails.
    """
    with tempfile.TemporaryDirectory(prefix="pingan-briefing-") as folder:
        page = Path(folder) / "briefing.html"
        page.write_text(html, encoding="utf-8")
        try:
            out = print_pdf(page, Path(folder) / "briefing.pdf", browser=browser,
                            timeout_s=timeout_s)
        except BrowserNotFoundError as exc:
            raise RendererMissingError(f"a PDF briefing needs headless Chromium: {exc}; "
                                       "format=html works without it") from None
        return out.read_bytes()
