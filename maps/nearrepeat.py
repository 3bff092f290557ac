"""The near-repeat map: risk zones around recent incidents, over the community outlines.

Each zone is the circle of its source incident (radius and duration from the Knox table's
significant bands); its tooltip names the incident, the day it happened and the last day at
raised risk. Only readers of raw incidents get this map.
"""

from __future__ import annotations

import folium
import geopandas as gpd

from maps.labels import fmt_number, table_html, text
from maps.options import MapOptions
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

__all__ = ["ZONE_STYLE", "near_repeat_map"]

ZONE_STYLE = {"color": "#b30000", "weight": 1, "opacity": 0.9, "fillColor": "#fc8d59",
              "fillOpacity": 0.35}


def near_repeat_map(
    communities: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    as_of: str,
    recent_days: int,
    radius_m: float | None,
    days: int | None,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw near-repeat risk zones over the community outlines.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name``, any declared CRS.
    zones
        Zones with ``incident_id``, ``occurred_on``, ``expires_on`` and their circles (the
        rows of :func:`api.services.nearrepeat.risk_zones_report`).
    as_of
        The as-of day (for the legend).
    recent_days
        Incidents of this many days got zones (for the legend).
    radius_m, days
        The zones' radius and duration; ``None`` when no band was significant.
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
    frame = wgs84_frame(zones, "zones").reset_index(drop=True)
    require_columns(frame, ["incident_id", "occurred_on", "expires_on"], "zones")
    outline = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.near_repeat", lang), options, bounds_of(outline), period_label=None)
    community_outline_layer(m, comm, options, fill_opacity=0.05,
                            tooltips=[table_html([], title=n) for n in community_names(comm)],
                            shapes=outline)
    table = StyleTable()
    index = [table.add(ZONE_STYLE)] * len(frame)
    tooltips = [table_html([(text("field.occurred_on", lang), str(r.occurred_on)),
                            (text("field.expires_on", lang), str(r.expires_on)),
                            (text("field.radius_m", lang), fmt_number(r.radius_m, lang,
                                                                      decimals=0))],
                           title=f"{text('field.incident', lang)} {r.incident_id}")
                for r in frame.itertuples()]
    GeoJsonLayer(feature_collection(display_geometries(frame.geometry, options), index,
                                    tooltips=tooltips, keys=list(frame["incident_id"])),
                 table.styles, name=text("near_repeat.layer", lang)).add_to(m)
    if radius_m is None:
        entries = [(ZONE_STYLE, text("near_repeat.none", lang))]
    else:
        label = text("near_repeat.zone", lang).format(r=f"{radius_m:g}", d=days)
        entries = [(ZONE_STYLE, f"{label} ({len(frame)})")]
    note = text("near_repeat.note", lang).format(days=recent_days, as_of=as_of)
    return finish(m, Legend().section(text("near_repeat.layer", lang), entries, note=note))
