"""The standard map: communities by status band, each criterion and the to-do list in a popup."""

from __future__ import annotations

import html
from operator import ge, gt, le, lt

import folium
import geopandas as gpd
import pandas as pd

from geo.catalogue import CATALOGUE
from geo.standard import Evaluation
from maps.labels import fmt_number, fmt_percent, fmt_ratio, table_html, text
from maps.options import Language, MapOptions
from maps.page import (
    GeoJsonLayer,
    Legend,
    StyleTable,
    bounds_of,
    community_names,
    display_geometries,
    feature_collection,
    finish,
    new_map,
    require_columns,
    wgs84_frame,
)

__all__ = ["STATUS_COLORS", "format_metric_value", "standard_map"]

#: Fill of each status band.
STATUS_COLORS: dict[str, str] = {
    "meets": "#1a9641",
    "partly": "#fdae61",
    "fails": "#d7191c",
    "incomplete": "#bdbdbd",
}
_STATUSES = ("meets", "partly", "fails", "incomplete")
_OPERATORS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}
_OPERATOR_TEST = {"<": lt, "<=": le, ">": gt, ">=": ge}
_WHOLE_UNITS = {"cases", "devices", "compounds", "residents", "m"}


def format_metric_value(metric: str, value: object, language: Language) -> str:
    """Write a metric's value in its catalogue unit (ratios as percentages)."""
    entry = CATALOGUE.get(metric)
    unit = entry.unit if entry else ""
    if unit == "ratio":
        return fmt_ratio(value, language)
    if unit == "%":
        return fmt_percent(value, language)
    if unit == "0/1":
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.isna(number):
            return text("field.todo_unknown", language)
        if entry is not None and entry.words is not None:
            zh, en = entry.words[int(number >= 0.5)]
            return zh if language == "zh" else en
        return text("yes" if number >= 0.5 else "no", language)
    if unit == "m":
        return fmt_number(value, language, decimals=0, unit="m")
    return fmt_number(value, language, decimals=0 if unit in _WHOLE_UNITS else 1)


def _threshold(metric: str, operator: str, threshold: float, language: Language) -> str:
    entry = CATALOGUE.get(metric)
    if entry is not None and entry.words is not None:
        # A yes/no criterion states the value it asks for in words, not "< 1".
        passing = [v for v in (0, 1) if _OPERATOR_TEST[operator](v, threshold)]
        if len(passing) == 1:
            wanted = format_metric_value(metric, passing[0], language)
            return f"{text('field.required_value', language)}{wanted}"
    shown = (format_metric_value(metric, threshold, language)
             if entry is None or entry.unit != "0/1" else f"{threshold:g}")
    return f"{_OPERATORS.get(operator, operator)} {shown}"


def standard_map(
    communities: gpd.GeoDataFrame,
    evaluation: Evaluation,
    *,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw communities by their status against the safe-community standard.

    Each community's popup lists every criterion with its value, threshold and result
    (required criteria marked), the score, and the to-do list: the failed criteria (most
    weight first) and those without data.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name``, any declared CRS.
    evaluation
        :func:`geo.standard.evaluate` of the period.
    options
        Map options; ``period_label`` should name the evaluated period.

    Returns
    -------
    folium.Map

    Raises
    ------
    TypeError
        If an input has the wrong type.
    ValueError
        If ``communities`` has no ``code``.
    """
    options = options or MapOptions()
    lang = options.language
    comm = wgs84_frame(communities, "communities")
    require_columns(comm, ["code"], "communities")
    if not isinstance(evaluation, Evaluation):
        raise TypeError(f"evaluation must be an Evaluation; got {type(evaluation).__name__}")

    codes = comm["code"].astype(str)
    wide = evaluation.communities.copy()
    wide["code"] = wide["code"].astype(str)
    wide = wide.set_index("code").reindex(pd.Index(codes))
    crit_label = {c.id: (c.label_zh if lang == "zh" else c.label_en)
                  for c in evaluation.profile.criteria}
    long = evaluation.criteria.copy()
    long["code"] = long["code"].astype(str)
    by_code = {code: rows for code, rows in long.groupby("code", sort=False)}

    table = StyleTable()
    base = {"color": "#555555", "weight": 0.8, "opacity": 0.9, "fillOpacity": 0.75}
    styles = {s: {**base, "fillColor": c} for s, c in STATUS_COLORS.items()}
    styles["incomplete"] = {**styles["incomplete"], "dashArray": "4 3"}
    names = community_names(comm)
    status = [s if isinstance(s, str) and s in styles else "incomplete"
              for s in wide["status"].astype(object).tolist()]
    style_index = [table.add(styles[s]) for s in status]
    tooltips, popups = [], []
    for i, code in enumerate(codes):
        row = wide.iloc[i]
        score = _score_text(row, lang)
        status_text = text(f"standard.{status[i]}", lang)
        tooltips.append(table_html([(text("field.status", lang), status_text),
                                    (text("field.score", lang), score)], title=names[i]))
        popups.append(_popup(names[i], status_text, score, by_code.get(code), row, crit_label,
                             lang))

    geoms = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.standard", lang), options, bounds_of(geoms), period_label=None)
    GeoJsonLayer(feature_collection(geoms, style_index, tooltips=tooltips, popups=popups,
                                    keys=list(codes)),
                 table.styles, name=text("standard.layer", lang)).add_to(m)

    counts = pd.Series(status).value_counts()
    unit = text("legend.communities_n", lang)
    entries = [(styles[s], f"{text(f'standard.{s}', lang)} ({int(counts.get(s, 0))} {unit})")
               for s in _STATUSES]
    total = len(status)
    rate = fmt_ratio(counts.get("meets", 0) / total if total else float("nan"), lang)
    note = (f"{text('legend.creation_rate', lang)}: {rate}. "
            f"{evaluation.profile.name} ({evaluation.profile.version})")
    legend = Legend().section(text("standard.layer", lang), entries, note=note)
    return finish(m, legend)


def _score_text(row: pd.Series, lang: Language) -> str:
    score = fmt_number(row.get("score"), lang)
    lo = pd.to_numeric(pd.Series([row.get("score_min")]), errors="coerce").iloc[0]
    hi = pd.to_numeric(pd.Series([row.get("score_max")]), errors="coerce").iloc[0]
    if pd.notna(lo) and pd.notna(hi) and abs(float(hi) - float(lo)) > 1e-9:
        return f"{score} ({fmt_number(lo, lang)}–{fmt_number(hi, lang)})"
    return score


def _popup(name: str, status: str, score: str, rows: pd.DataFrame | None, wide: pd.Series,
           crit_label: dict[str, str], lang: Language) -> str:
    head = table_html([(text("field.status", lang), status), (text("field.score", lang), score)],
                      title=name)
    out = [head]
    if rows is not None and len(rows):
        cells = [f"<tr><th>{html.escape(text('field.criterion', lang))}</th>"
                 f"<th>{html.escape(text('field.metric_value', lang))}</th>"
                 f"<th>{html.escape(text('field.threshold', lang))}</th>"
                 f"<th>{html.escape(text('field.result', lang))}</th></tr>"]
        for r in rows.itertuples(index=False):
            label = crit_label.get(str(r.criterion_id), str(r.criterion_id))
            if bool(r.required):
                label += f" ({text('field.required', lang)})"
            outcome = str(r.outcome)
            shown = format_metric_value(str(r.metric), r.value, lang)
            limit = pd.to_numeric(pd.Series([r.threshold]), errors="coerce").iloc[0]
            threshold = _threshold(str(r.metric), str(r.operator), float(limit), lang)
            cells.append(
                f"<tr><td>{html.escape(label)}</td><td>{html.escape(shown)}</td>"
                f"<td>{html.escape(threshold)}</td>"
                f'<td class="pingan-{html.escape(outcome)}">'
                f"{html.escape(text(f'outcome.{outcome}', lang))}</td></tr>")
        out.append(f'<table class="pingan-criteria">{"".join(cells)}</table>')
    for key, column in (("field.todo", "todo"), ("field.todo_unknown", "todo_unknown")):
        todo = wide.get(column)
        ids = [v for v in str(todo).split(",") if v] if isinstance(todo, str) else []
        if ids:
            items = "".join(f"<li>{html.escape(crit_label.get(v, v))}</li>" for v in ids)
            out.append(f"<b>{html.escape(text(key, lang))}</b><ul>{items}</ul>")
    return "".join(out)
