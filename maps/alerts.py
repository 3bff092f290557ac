"""The early-warning map: units (communities or districts) coloured by their alert.

Alerting units are red, units tested without an alert a pale grey, units with too little
history for any method hatched-grey outlines only. Tooltips show what the reader was released:
for readers of exact figures the observed and expected counts, the threshold, the method and
the first step fired; for others the method and the first step fired only.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd

from maps.labels import fmt_number, table_html, text
from maps.options import Language, MapOptions
from maps.page import (
    GeoJsonLayer,
    Legend,
    StyleTable,
    bounds_of,
    community_names,
    community_outline_layer,
    display_geometries,
    feature_collection,
    finish,
    new_map,
    require_columns,
    wgs84_frame,
)

__all__ = ["ALERT_STYLES", "alerts_map"]

ALERT_STYLES = {
    "alert": {"color": "#7f0000", "weight": 2, "opacity": 0.9, "fillColor": "#d7301f",
              "fillOpacity": 0.6},
    "quiet": {"color": "#777777", "weight": 0.5, "opacity": 0.8, "fillColor": "#f0f0f0",
              "fillOpacity": 0.4},
    "untested": {"color": "#999999", "weight": 0.5, "opacity": 0.8, "fillColor": "#ffffff",
                 "fillOpacity": 0.0, "dashArray": "4"},
}
_FIGURES = (("observed", "field.observed", 0), ("expected", "field.expected", 2),
            ("threshold", "alerts.threshold", 2))


def alerts_map(
    communities: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    as_of: str,
    level: str,
    resolution: str,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw the early-warning test of each unit over the community outlines.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name``, any declared CRS.
    units
        Units with ``unit``, ``name``, ``method``, ``alert``, ``first_fired`` and their
        geometry (the rows of :func:`api.services.alerts.alerts_report`); ``observed``,
        ``expected`` and ``threshold`` go into the tooltips when present.
    as_of
        The as-of day (for the legend).
    level
        ``community`` or ``district``.
    resolution
        ``week`` or ``day``.
    options
        Map options.

    Returns
    -------
    folium.Map

    Raises
    ------
    TypeError
        If an input is not a GeoDataFrame.
    ValueError
        If a column is missing or a frame has no CRS.
    """
    options = options or MapOptions()
    lang = options.language
    comm = wgs84_frame(communities, "communities")
    require_columns(comm, ["code"], "communities")
    frame = wgs84_frame(units, "units").reset_index(drop=True)
    require_columns(frame, ["unit", "method", "alert", "first_fired"], "units")
    outline = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.alerts", lang), options, bounds_of(outline), period_label=None)
    community_outline_layer(m, comm, options, fill_opacity=0.0,
                            tooltips=[table_html([], title=n) for n in community_names(comm)],
                            shapes=outline)
    state = ["alert" if bool(a) else ("untested" if mth == "none" else "quiet")
             for a, mth in zip(frame["alert"], frame["method"], strict=True)]
    table = StyleTable()
    index = [table.add(ALERT_STYLES[s]) for s in state]
    tooltips = [table_html(_rows(frame.iloc[i], state[i], lang),
                           title=str(frame["name"].iloc[i] if "name" in frame
                                     and pd.notna(frame["name"].iloc[i])
                                     else frame["unit"].iloc[i]))
                for i in range(len(frame))]
    GeoJsonLayer(feature_collection(display_geometries(frame.geometry, options), index,
                                    tooltips=tooltips, keys=list(frame["unit"].astype(str))),
                 table.styles, name=text("alerts.layer", lang)).add_to(m)
    counts = pd.Series(state, dtype=object).value_counts()
    entries = [(ALERT_STYLES[s], f"{text(f'alerts.{s}', lang)} ({int(counts.get(s, 0))})")
               for s in ("alert", "quiet", "untested") if s == "alert" or s in counts.index]
    note = text("alerts.note", lang).format(as_of=as_of, unit=text(f"alerts.{level}", lang),
                                            step=text(f"alerts.{resolution}", lang))
    return finish(m, Legend().section(text("alerts.layer", lang), entries, note=note))


def _rows(row: pd.Series, state: str, lang: Language) -> list[tuple[str, str]]:
    rows = [(text("alerts.layer", lang), text(f"alerts.{state}", lang)),
            (text("field.method", lang), str(row["method"]))]
    for column, label, decimals in _FIGURES:
        if column in row.index:
            rows.append((text(label, lang), fmt_number(row[column], lang, decimals=decimals)))
    if "step" in row.index:
        rows.append((text("field.step", lang), str(row["step"])))
    if bool(row["alert"]):
        rows.append((text("field.first_fired", lang), str(row["first_fired"])))
    return rows
