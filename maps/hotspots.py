"""The hot-spot map: Gi* classes of communities or grid cells, red for hot, blue for cold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from geo.hotspots import HOTSPOT_CLASSES, HotspotResult
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

__all__ = ["HOTSPOT_COLORS", "hotspot_map"]

#: Fill of each Gi* class: ColorBrewer RdBu for the confidence levels, light grey for not
#: significant, dark grey for units without neighbours, the no-data grey for units without value.
HOTSPOT_COLORS: dict[str, str] = {
    "hot_99": "#b2182b",
    "hot_95": "#ef8a62",
    "hot_90": "#fddbc7",
    "not_significant": "#f2f2f2",
    "cold_90": "#d1e5f0",
    "cold_95": "#67a9cf",
    "cold_99": "#2166ac",
    "no_neighbours": "#525252",
    "no_value": "#cccccc",
}
# Classes always listed in the legend; the last two only when present.
_ALWAYS = HOTSPOT_CLASSES[:7]


def hotspot_map(
    communities: gpd.GeoDataFrame,
    hotspots: HotspotResult,
    *,
    min_count_shown: int | None = None,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw Gi* hot and cold spots with a confidence legend.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name``, any declared CRS.
    hotspots
        :func:`geo.hotspots.community_hotspots` (communities are coloured) or
        :func:`geo.hotspots.grid_hotspots` (cells are coloured over community outlines). A
        frame released to a reader who sees classes only may lack ``value``,
        ``hotspot_gi_z`` and ``p_value``: the tooltips then show the class alone.
    min_count_shown
        For grid cells: counts below it are written as ``<n`` in tooltips (for readers who
        may see only aggregates). ``None`` shows every count.
    options
        Map options.

    Returns
    -------
    folium.Map

    Raises
    ------
    TypeError
        If an input has the wrong type.
    ValueError
        If a column is missing or ``min_count_shown`` is below 1.
    """
    options = options or MapOptions()
    lang = options.language
    comm = wgs84_frame(communities, "communities")
    require_columns(comm, ["code"], "communities")
    _check_inputs(hotspots, min_count_shown)
    require_columns(hotspots.frame, ["hotspot_class"], "hotspots.frame")
    layout = (_community_layout(comm, hotspots, options) if hotspots.unit == "community"
              else _cell_layout(comm, hotspots, min_count_shown, options))
    m, f = layout.map, layout.frame

    table = StyleTable()
    styles = {c: {"color": "#777777", "weight": 0.7, "opacity": 0.9, "fillColor": col,
                  "fillOpacity": 0.85} for c, col in HOTSPOT_COLORS.items()}
    klass = f["hotspot_class"].astype(str).tolist()
    style_index = [table.add(styles.get(c, styles["no_value"])) for c in klass]
    tooltips = [table_html(_hotspot_rows(f.iloc[i], klass[i], layout.value_text, i, lang),
                           title=name) for i, name in enumerate(layout.names)]
    GeoJsonLayer(feature_collection(layout.geoms, style_index, tooltips=tooltips,
                                    keys=layout.keys),
                 table.styles, name=layout.layer_name).add_to(m)
    return finish(m, _legend(klass, styles, hotspots, lang))


def _check_inputs(hotspots: HotspotResult, min_count_shown: int | None) -> None:
    if not isinstance(hotspots, HotspotResult):
        raise TypeError(f"hotspots must be a HotspotResult; got {type(hotspots).__name__}")
    if min_count_shown is not None and (not isinstance(min_count_shown, int)
                                        or min_count_shown < 1):
        raise ValueError(f"min_count_shown must be a positive integer or None; "
                         f"got {min_count_shown!r}")


@dataclass
class _Layout:
    """What one kind of unit (communities or cells) puts on the map."""

    map: folium.Map
    frame: pd.DataFrame
    geoms: Any
    names: list[str]
    keys: list[str]
    layer_name: str
    value_text: list[str] | None


def _community_layout(comm: gpd.GeoDataFrame, hotspots: HotspotResult,
                      options: MapOptions) -> _Layout:
    """Communities coloured by class."""
    lang = options.language
    codes = comm["code"].astype(str)
    f = hotspots.frame.copy()
    f.index = f.index.astype(str)
    f = f.reindex(pd.Index(codes))
    f["hotspot_class"] = f["hotspot_class"].astype(object).where(
        f["hotspot_class"].notna(), "no_value")
    geoms = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.hotspots", lang), options, bounds_of(geoms), period_label=None)
    value_text = [fmt_number(v, lang) for v in f["value"]] if "value" in f else None
    return _Layout(m, f, geoms, list(community_names(comm)), list(codes),
                   text("hotspot.layer", lang), value_text)


def _cell_layout(comm: gpd.GeoDataFrame, hotspots: HotspotResult,
                 min_count_shown: int | None, options: MapOptions) -> _Layout:
    """Grid cells coloured by class over the community outlines."""
    lang = options.language
    cells = wgs84_frame(hotspots.frame, "hotspots.frame")
    f = pd.DataFrame(cells.drop(columns=cells.geometry.name))
    geoms = display_geometries(cells.geometry, options)
    keys = [str(k) for k in f.index]
    outline = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.hotspots", lang), options, bounds_of(outline), period_label=None)
    community_outline_layer(m, comm, options,
                            tooltips=[table_html([], title=n) for n in community_names(comm)],
                            shapes=outline)
    value_text = ([_count_text(v, min_count_shown, lang) for v in f["value"]]
                  if "value" in f else None)
    return _Layout(m, f, geoms, [f"{text('field.cell', lang)} {k}" for k in keys], keys,
                   text("hotspot.cells", lang), value_text)


def _legend(klass: list[str], styles: dict[str, dict[str, Any]], hotspots: HotspotResult,
            lang: Language) -> Legend:
    """The classes present (and the always-listed ones) with their counts."""
    counts = pd.Series(klass).value_counts()
    shown = [c for c in HOTSPOT_CLASSES if c in _ALWAYS or counts.get(c, 0)]
    entries = [(styles[c], f"{term('hotspot', c, lang)} ({int(counts.get(c, 0))})")
               for c in shown]
    note = (f"Gi*, {hotspots.permutations} "
            + ("次置换检验" if lang == "zh" else "permutations")
            + (", FDR" if hotspots.fdr else ""))
    return Legend().section(text("hotspot.layer", lang), entries, note=note)


def _hotspot_rows(row: pd.Series, klass: str, value_text: list[str] | None, i: int,
                  lang: Language) -> list[tuple[str, str]]:
    """Tooltip rows: the class, and the value and statistics where the frame has them."""
    rows = [(text("field.hotspot_class", lang), term("hotspot", klass, lang))]
    if value_text is not None:
        rows.append((text("field.value", lang), value_text[i]))
    if "hotspot_gi_z" in row.index:
        rows.append((text("field.gi_z", lang), fmt_number(row["hotspot_gi_z"], lang, decimals=2)))
    if "p_value" in row.index:
        rows.append((text("field.p_value", lang), fmt_number(row["p_value"], lang, decimals=3)))
    return rows


def _count_text(value: object, min_count: int | None, lang: Language) -> str:
    if isinstance(value, str) and value.startswith("<"):
        return value
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number):
        return text("no_data", lang)
    n = int(number)
    if min_count is not None and 0 < n < min_count:
        return f"<{min_count}"
    return fmt_count(n, lang)
