"""Static SVG maps of communities: a projected, simplified choropleth with a legend, no tiles.

Printed briefings (周报/月报) need maps that are part of the page itself: no tiles (an intranet
has none, and a raster basemap cannot be printed sharply), no script, nothing fetched. Folium
pages are made for the screen, so the printed maps are drawn here as one ``<svg>`` element:
the polygons are simplified as a coverage for the size they are drawn at
(:func:`maps.page.simplify_display`, so neighbours keep their shared edges), projected to the
metric CRS of their extent (:func:`geo.projection.metric_crs_for`, so shapes and the scale bar
are true), and written with one decimal of a pixel. Every text is escaped: names from the data
cannot become markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from geo.crs import geometries_from_wgs84
from geo.projection import metric_crs_for
from maps.page import simplify_display

__all__ = ["svg_map"]

_PAD = 8.0
_LEGEND_W = 210.0
_SWATCH = 14.0


def _nice_length(span_m: float) -> float:
    """A round length (1, 2 or 5 × 10^k metres) near a quarter of ``span_m``."""
    target = max(span_m / 4.0, 1.0)
    power = 10.0 ** math.floor(math.log10(target))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target)


def _ring(coords: Any, x0: float, y1: float, scale: float) -> str:
    xy = np.asarray(coords)[:, :2]
    px = np.round((xy[:, 0] - x0) * scale + _PAD, 1)
    py = np.round((y1 - xy[:, 1]) * scale + _PAD, 1)
    points = " ".join(f"{a:g},{b:g}" for a, b in zip(px, py, strict=True))
    return f"M{points}Z"


def _path_data(geom: Any, x0: float, y1: float, scale: float) -> str:
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        parts.append(_ring(poly.exterior.coords, x0, y1, scale))
        parts.extend(_ring(r.coords, x0, y1, scale) for r in poly.interiors)
    return "".join(parts)


def _legend(entries: Sequence[tuple[str, str]], title: str, left: float) -> list[str]:
    out = [f'<g class="legend" transform="translate({left:g},{_PAD:g})">']
    if title:
        out.append(f'<text x="0" y="12" font-size="12">{html.escape(title)}</text>')
    for i, (color, label) in enumerate(entries):
        y = 22 + i * (_SWATCH + 6)
        out.append(f'<rect x="0" y="{y}" width="{_SWATCH:g}" height="{_SWATCH:g}" '
                   f'fill="{html.escape(color)}" stroke="#666" stroke-width="0.5"/>')
        out.append(f'<text x="{_SWATCH + 6:g}" y="{y + 11}" font-size="11">'
                   f'{html.escape(label)}</text>')
    out.append("</g>")
    return out


def _scale_bar(span_m: float, scale: float, height: float, unit_m: str, unit_km: str
               ) -> list[str]:
    length = _nice_length(span_m)
    px = length * scale
    y = height - _PAD - 4
    label = f"{length / 1000:g} {unit_km}" if length >= 1000 else f"{length:g} {unit_m}"
    return [f'<g class="scale"><path d="M{_PAD:g},{y - 4:g}V{y:g}H{_PAD + px:.1f}V{y - 4:g}" '
            f'fill="none" stroke="#333" stroke-width="1"/>'
            f'<text x="{_PAD + px + 4:.1f}" y="{y:g}" font-size="10">{label}</text></g>']


def svg_map(geoms: Any, fills: Sequence[str], *, legend: Sequence[tuple[str, str]],
            legend_title: str = "", labels: Sequence[str] | None = None,
            title: str = "", width: int = 700, height: int = 340,
            units: tuple[str, str] = ("m", "km")) -> str:
    """Draw polygons as an SVG choropleth with a legend, a scale bar and a north arrow.

    Parameters
    ----------
    geoms
        Polygons or multipolygons in WGS84 (array, list or GeoSeries); missing or empty ones
        are left out.
    fills
        A CSS colour per geometry.
    legend
        ``(colour, label)`` entries, in order.
    legend_title
        Heading of the legend.
    labels
        A text per geometry, written at its representative point (``None``: no labels).
    title
        The SVG's accessible title.
    width, height
        Size in CSS pixels (the map takes what the legend leaves).
    units
        The words for metres and kilometres on the scale bar.

    Returns
    -------
    str
        One ``<svg>`` element.

    Raises
    ------
    ValueError
        If ``fills`` (or ``labels``) and ``geoms`` differ in length, or a size is below 200 px.
    """
    arr = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    if len(fills) != len(arr) or (labels is not None and len(labels) != len(arr)):
        raise ValueError(f"fills and labels need one entry per geometry ({len(arr)}); got "
                         f"{len(fills)} fills, {None if labels is None else len(labels)} labels")
    if width < 200 or height < 200:
        raise ValueError(f"width and height must be at least 200 px; got {width} x {height}")
    map_w, map_h = width - _LEGEND_W - 3 * _PAD, height - 2 * _PAD
    present = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="map" role="img" '
           f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet">',
           f"<title>{html.escape(title)}</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']
    if present.any():
        lon0, lat0, lon1, lat1 = shapely.total_bounds(arr[present])
        crs = metric_crs_for((lon0 + lon1) / 2.0, (lat0 + lat1) / 2.0)
        probe = geometries_from_wgs84(arr[present], crs)
        x0, y0, x1, y1 = shapely.total_bounds(probe)
        span = max(x1 - x0, y1 - y0, 1.0)
        scale = min(map_w / max(x1 - x0, 1e-9), map_h / max(y1 - y0, 1e-9))
        # half a pixel: finer detail cannot be seen at the size the map is drawn
        shown = geometries_from_wgs84(simplify_display(arr[present], 0.5 / scale), crs)
        out.append('<g class="units" stroke="#555" stroke-width="0.6" fill-rule="evenodd">')
        for geom, fill in zip(shown, np.asarray(fills, dtype=object)[present], strict=True):
            out.append(f'<path d="{_path_data(geom, x0, y1, scale)}" fill="{html.escape(fill)}"/>')
        out.append("</g>")
        if labels is not None:
            out += _labels(probe, np.asarray(labels, dtype=object)[present], x0, y1, scale)
        out += _scale_bar(span, scale, height, *units)
    out += _north(_PAD + map_w - 14)
    out += _legend(legend, legend_title, width - _LEGEND_W - _PAD)
    out.append("</svg>")
    return "\n".join(out)


def _labels(geoms: Any, labels: Any, x0: float, y1: float, scale: float) -> list[str]:
    points = shapely.point_on_surface(geoms)
    out = ['<g class="labels" font-size="10" text-anchor="middle" fill="#111">']
    for point, label in zip(points, labels, strict=True):
        if label is None or str(label) == "":
            continue
        x = (point.x - x0) * scale + _PAD
        y = (y1 - point.y) * scale + _PAD
        out.append(f'<text x="{x:.1f}" y="{y:.1f}">{html.escape(str(label))}</text>')
    out.append("</g>")
    return out


def _north(x: float) -> list[str]:
    y = _PAD + 2
    return [f'<g class="north"><path d="M{x:g},{y:g}l6,18l-6,-5l-6,5z" fill="#333"/>'
            f'<text x="{x:g}" y="{y + 30:g}" font-size="10" text-anchor="middle">N</text></g>']
