"""The density map: a kernel density surface as coloured grid cells, offline.

The surface is drawn as the squares of its cells (GeoJSON, the same squares as every grid
product of pingan), not as an image: a raster in the metric CRS would have to be warped to
the web map's projection, and tiles would need a server. Densities are classed into quantiles
of the cells drawn (YlOrRd); cells below 1 % of the maximum density are left undrawn, which
keeps pages small over large areas with sparse incidents.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
from branca.utilities import color_brewer

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
from maps.rates import classify

__all__ = ["DRAWN_SHARE", "density_map"]

#: Cells below this share of the maximum density are not drawn.
DRAWN_SHARE = 0.01
_CLASSES = 7


def density_map(
    communities: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    kernel: str,
    bandwidth_m: float,
    cell_m: float,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw a kernel density surface over the community outlines.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name``, any declared CRS.
    cells
        The surface's cells with a value: ``cell_id``, ``density_per_km2``, ``expected`` and
        their squares (the rows of :func:`api.services.density.density_report`).
    kernel
        ``quartic`` or ``gaussian`` (for the legend).
    bandwidth_m, cell_m
        Bandwidth and cell side in metres (for the legend).
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
    require_columns(frame, ["cell_id", "density_per_km2", "expected"], "cells")
    density = frame["density_per_km2"].to_numpy(dtype=float)
    top = float(np.nanmax(density)) if np.isfinite(density).any() else 0.0
    drawn = frame[np.isfinite(density) & (density >= DRAWN_SHARE * top) & (density > 0)]
    drawn = drawn.reset_index(drop=True)
    outline = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.density", lang), options, bounds_of(outline), period_label=None)
    community_outline_layer(m, comm, options, fill_opacity=0.05,
                            tooltips=[table_html([], title=n) for n in community_names(comm)],
                            shapes=outline)
    klass = classify(drawn["density_per_km2"], k=_CLASSES)
    ramp = list(color_brewer("YlOrRd", max(klass.k, 3)))[-max(klass.k, 1):]
    table = StyleTable()
    styles = [{"stroke": False, "fillColor": ramp[j], "fillOpacity": 0.75}
              for j in range(klass.k)]
    index = [table.add(styles[int(c)]) for c in klass.classes]
    tooltips = [table_html([(text("density.per_km2", lang), fmt_number(d, lang, decimals=2)),
                            (text("density.expected", lang), fmt_number(e, lang, decimals=2))],
                           title=f"{text('field.cell', lang)} {c}")
                for c, d, e in zip(drawn["cell_id"], drawn["density_per_km2"],
                                   drawn["expected"], strict=True)]
    GeoJsonLayer(feature_collection(display_geometries(drawn.geometry, options), index,
                                    tooltips=tooltips, keys=list(drawn["cell_id"].astype(str))),
                 table.styles, name=text("density.layer", lang)).add_to(m)
    entries = [(styles[j], f"{fmt_number(klass.lower[j], lang, decimals=1)} – "
                           f"{fmt_number(klass.upper[j], lang, decimals=1)}")
               for j in range(klass.k)]
    note = text("density.note", lang).format(kernel=text(f"density.{kernel}", lang),
                                             h=f"{bandwidth_m:.0f}", m=f"{cell_m:g}")
    return finish(m, Legend().section(text("density.layer", lang), entries, note=note))
