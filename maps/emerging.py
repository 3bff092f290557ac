"""The emerging hot-spot map: grid cells coloured by their ArcGIS Pro category.

Hot categories are reds (darkest for intensifying and persistent clustering), cold ones the
matching blues, cells with no pattern are not drawn (only the community outlines show under
them), and cells whose count is hidden from the reader are grey.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd

from geo.emerging import CATEGORIES
from maps.labels import fmt_count, fmt_number, table_html, term, text
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

__all__ = ["EMERGING_COLORS", "emerging_map"]

#: Fill of each category (ColorBrewer Reds and Blues, strongest for the lasting patterns).
EMERGING_COLORS: dict[str, str] = {
    "intensifying_hot_spot": "#99000d", "persistent_hot_spot": "#cb181d",
    "consecutive_hot_spot": "#ef3b2c", "new_hot_spot": "#fb6a4a",
    "oscillating_hot_spot": "#fc9272", "sporadic_hot_spot": "#fcbba1",
    "diminishing_hot_spot": "#fee0d2", "historical_hot_spot": "#fff5f0",
    "intensifying_cold_spot": "#084594", "persistent_cold_spot": "#2171b5",
    "consecutive_cold_spot": "#4292c6", "new_cold_spot": "#6baed6",
    "oscillating_cold_spot": "#9ecae1", "sporadic_cold_spot": "#c6dbef",
    "diminishing_cold_spot": "#deebf7", "historical_cold_spot": "#f7fbff",
}
_HIDDEN_COLOR = "#bdbdbd"
_STATS = (("trend_tau", "field.trend_tau", 3), ("trend_p", "field.trend_p", 3),
          ("last_z", "field.last_z", 2), ("last_p", "field.last_p", 3))


def emerging_map(
    communities: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    cell_m: float,
    step: str,
    steps: int,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw the emerging hot-spot category of grid cells over the community outlines.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name``, any declared CRS.
    cells
        Cells with ``cell_id``, ``category`` (one of :data:`geo.emerging.CATEGORIES`, or a
        hidden label such as ``"<3"``) and their squares; ``trend_tau``, ``trend_p``,
        ``last_z``, ``last_p`` and ``incidents`` go into the tooltips when present (a frame
        released to a reader who sees categories only has none of them).
    cell_m
        Cell side in metres (for the legend).
    step
        ``month`` or ``week``.
    steps
        Number of time steps of the cube.
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
    frame = wgs84_frame(cells, "cells")
    require_columns(frame, ["cell_id", "category"], "cells")
    shown = frame[frame["category"].astype(str) != "no_pattern"].reset_index(drop=True)
    outline = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.emerging", lang), options, bounds_of(outline), period_label=None)
    community_outline_layer(m, comm, options,
                            tooltips=[table_html([], title=n) for n in community_names(comm)],
                            shapes=outline)
    table = StyleTable()
    klass = shown["category"].astype(str).tolist()
    styles = {c: {"color": "#777777", "weight": 0.5, "opacity": 0.8, "fillColor": col,
                  "fillOpacity": 0.85} for c, col in EMERGING_COLORS.items()}
    hidden = {"color": "#777777", "weight": 0.5, "opacity": 0.8, "fillColor": _HIDDEN_COLOR,
              "fillOpacity": 0.6}
    index = [table.add(styles.get(c, hidden)) for c in klass]
    tooltips = [table_html(_rows(shown.iloc[i], klass[i], lang),
                           title=f"{text('field.cell', lang)} {shown['cell_id'].iloc[i]}")
                for i in range(len(shown))]
    GeoJsonLayer(feature_collection(display_geometries(shown.geometry, options), index,
                                    tooltips=tooltips, keys=list(shown["cell_id"].astype(str))),
                 table.styles, name=text("emerging.layer", lang)).add_to(m)
    counts = pd.Series(klass, dtype=object).value_counts()
    entries = [(styles[c], f"{term('emerging', c, lang)} ({int(counts[c])})")
               for c in CATEGORIES if c in counts.index and c in styles]
    entries += [(hidden, f"{c} ({int(counts[c])})") for c in counts.index if c not in styles]
    note = text("emerging.note", lang).format(m=f"{cell_m:g}", steps=steps,
                                              step=text(f"emerging.{step}", lang))
    return finish(m, Legend().section(text("emerging.layer", lang), entries, note=note))


def _rows(row: pd.Series, klass: str, lang: Language) -> list[tuple[str, str]]:
    """Tooltip rows: the category, and the statistics where the frame has them."""
    rows = [(text("field.hotspot_class", lang), term("emerging", klass, lang))]
    for column, label, decimals in _STATS:
        if column in row.index:
            rows.append((text(label, lang), fmt_number(row[column], lang, decimals=decimals)))
    if "incidents" in row.index:
        rows.append((text("field.incidents", lang), fmt_count(row["incidents"], lang)))
    return rows
