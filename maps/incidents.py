"""The incident map: points, heat and clusters; a pre-aggregated grid for many incidents; cells.

Three ways to draw incidents, chosen by what the reader may see and how many there are:

- **points** (at most ``max_points``): every incident in one compact set of arrays, drawn by
  pingan's runtime as clustered markers (Leaflet.markercluster) and a heat layer
  (Leaflet.heat), with a popup per incident (id, time, category, address). folium's
  ``MarkerCluster`` writes one JavaScript statement per marker, and pages with 10,000 markers
  have been reported to take over 30 s to draw; one loop over arrays is what folium's
  ``FastMarkerCluster`` does, but that has no popups from data and no filters.
- **grid** (more than ``max_points``): no point is shipped. Incidents are counted per cell of
  Web Mercator grids, one grid per zoom level (a cell of level ``l`` is ``1 / 2**l`` of the
  world's width, about 16 screen pixels at zoom ``l - 4``), per category and month, so the
  category layers and the month control still filter. Levels are kept from the coarsest up to
  the finest whose data fits ``max_grid_bytes``, and never finer than level 20 (cells of about
  30 m); beyond it the finest level is drawn with larger cells. The runtime draws the level
  of the current zoom on a canvas, only the cells in view, so at most a few thousand cells are
  drawn at a time. Web Mercator rather than a metric CRS because its cells are squares of
  constant size on screen at every zoom, which a metric grid is not in Leaflet's projection.
- **cells**: counts already aggregated on a metric grid with small counts suppressed
  (:class:`IncidentCells`, made by :func:`aggregate_incidents` or by storage); the page holds
  cell squares and counts only, never an incident's coordinates. This is the planner's and API
  client's incident map.

Grid data layout (per level, base64 of little-endian arrays, widest first so every typed array
view is aligned): cell columns ``cx`` and rows ``cy`` (uint16, relative to ``x0``/``y0``), the
number of entries of each cell ``ce``, then one entry per (cell, category, month) that has
incidents: ``key = category × months + month`` and ``count``. Entry counts above the count
width's maximum are split into several entries of the same key, which the runtime sums.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from branca.utilities import color_brewer
from folium.elements import JSCSSMixin
from folium.template import Template
from numpy.typing import NDArray

from geo.errors import LimitError
from geo.projection import metric_crs_for
from maps.labels import fmt_count, table_html, term, text
from maps.offline import ASSET_SCHEME
from maps.options import Language, MapOptions
from maps.page import (
    GeoJsonLayer,
    JsLayer,
    Legend,
    Script,
    StyleTable,
    bounds_of,
    community_names,
    community_outline_layer,
    display_geometries,
    display_points,
    feature_collection,
    finish,
    new_map,
    require_columns,
    script_json,
    wgs84_frame,
)

__all__ = [
    "DEFAULT_MAX_GRID_BYTES",
    "DEFAULT_MAX_POINTS",
    "GRID_CELL_PX",
    "IncidentCells",
    "aggregate_incidents",
    "incident_map",
]

#: Above this many incidents the page holds grid counts instead of points.
DEFAULT_MAX_POINTS = 20_000
#: Size budget of the grid data embedded in a page (base64 text), bytes.
DEFAULT_MAX_GRID_BYTES = 2_500_000
#: Screen size of a grid cell at the zoom its level is made for, pixels.
GRID_CELL_PX = 16
#: Colours of the count classes (ColorBrewer YlOrRd).
COUNT_COLORS: tuple[str, ...] = tuple(color_brewer("YlOrRd", 6))
_SUPPRESSED = {"color": "#999999", "weight": 0.6, "opacity": 0.9, "fillColor": "#ffffcc",
               "fillOpacity": 0.5, "dashArray": "3 3"}

_MAX_LAT = 85.0511287798  # Web Mercator's limit
_MAX_RELATIVE = 1 << 20  # cell offsets of the finest level stay below this (code packing)
# About 29 m cells at Beijing's latitude (38 m at the equator): the grid stays a summary even
# when every level fits the budget.
_FINEST_LEVEL = 20
_KEY_LIMIT = 1 << 16


class IncidentAssets(JSCSSMixin):
    """The clustering and heat plugins of the point incident map."""

    default_js = [  # noqa: RUF012 - folium declares these as plain lists
        ("leaflet_markercluster_js",
         f"{ASSET_SCHEME}leaflet.markercluster/leaflet.markercluster.js"),
        ("leaflet_heat_js", f"{ASSET_SCHEME}leaflet.heat/leaflet-heat.js"),
    ]
    default_css = [  # noqa: RUF012
        ("leaflet_markercluster_css", f"{ASSET_SCHEME}leaflet.markercluster/MarkerCluster.css"),
        ("leaflet_markercluster_default_css",
         f"{ASSET_SCHEME}leaflet.markercluster/MarkerCluster.Default.css"),
    ]
    _template = Template("")


@dataclass(frozen=True)
class IncidentCells:
    """Incident counts on a square metric grid, small counts suppressed.

    Attributes
    ----------
    frame
        One row per cell with incidents: ``ix``, ``iy`` (the cell's column and row: its
        south-west corner is at ``(ix × cell_m, iy × cell_m)`` in ``metric_crs``), ``count``
        (Int64, ``<NA>`` where suppressed) and ``suppressed`` (bool: the count is below
        ``min_count``).
    cell_m
        Cell size, metres.
    metric_crs
        The projected CRS of the grid.
    min_count
        Counts below it are suppressed.
    by_category
        The same per category (a ``category`` column added), or None.
    total
        Incidents counted (suppressed cells included).
    no_location
        Incidents left out for having no point.
    """

    frame: pd.DataFrame
    cell_m: float
    metric_crs: pyproj.CRS
    min_count: int
    by_category: pd.DataFrame | None = None
    total: int = 0
    no_location: int = 0

    def __post_init__(self) -> None:
        for name, table in (("frame", self.frame), ("by_category", self.by_category)):
            if table is None:
                continue
            require_columns(table, ["ix", "iy", "count", "suppressed"], f"cells.{name}")
            count = pd.to_numeric(table["count"], errors="coerce")
            suppressed = table["suppressed"].astype(bool)
            shown = count[~suppressed]
            if shown.isna().any() or (shown < self.min_count).any():
                raise ValueError(
                    f"cells.{name} shows counts below min_count={self.min_count}; suppress them "
                    "(count <NA>, suppressed True)"
                )
            if count[suppressed].notna().any():
                raise ValueError(f"cells.{name} keeps counts of suppressed cells; "
                                 "set them to <NA>")
        if self.by_category is not None:
            require_columns(self.by_category, ["category"], "cells.by_category")
        if not (isinstance(self.cell_m, int | float) and self.cell_m > 0):
            raise ValueError(f"cell_m must be a positive number of metres; got {self.cell_m!r}")
        if not isinstance(self.min_count, int) or self.min_count < 1:
            raise ValueError(f"min_count must be a positive integer; got {self.min_count!r}")


def aggregate_incidents(
    incidents: gpd.GeoDataFrame,
    *,
    cell_m: float = 250.0,
    min_count: int = 3,
    by_category: bool = False,
    metric_crs: Any = None,
) -> IncidentCells:
    """Count incidents per cell of a square metric grid and suppress small counts.

    Parameters
    ----------
    incidents
        Incident points (any declared CRS); rows without a point are counted as
        ``no_location``.
    cell_m
        Cell size in metres (the API's planner maps use at least 250 m).
    min_count
        Counts below it are suppressed (``<NA>`` and ``suppressed``); 3 means "<3".
    by_category
        Also count per ``category``.
    metric_crs
        Projected CRS in metres; default :func:`geo.projection.metric_crs_for` of the points.

    Returns
    -------
    IncidentCells

    Raises
    ------
    TypeError
        If ``incidents`` is not a GeoDataFrame.
    ValueError
        If it has no CRS, ``cell_m`` or ``min_count`` is not positive, or ``category`` is
        missing when counting by category.
    """
    inc = wgs84_frame(incidents, "incidents")
    if not (isinstance(cell_m, int | float) and not isinstance(cell_m, bool) and cell_m > 0):
        raise ValueError(f"cell_m must be a positive number of metres; got {cell_m!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a positive integer; got {min_count!r}")
    if by_category:
        require_columns(inc, ["category"], "incidents")
    geoms = inc.geometry.to_numpy()
    located = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    lon, lat = shapely.get_x(geoms[located]), shapely.get_y(geoms[located])
    if metric_crs is None:
        crs = metric_crs_for(lon, lat) if len(lon) else pyproj.CRS("EPSG:3857")
    else:
        crs = pyproj.CRS(metric_crs)
    if not crs.is_projected:
        raise ValueError(f"metric_crs must be a projected CRS in metres; got {crs.name}")
    x, y = pyproj.Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    table = pd.DataFrame({"ix": np.floor(np.asarray(x) / cell_m).astype(np.int64),
                          "iy": np.floor(np.asarray(y) / cell_m).astype(np.int64)})
    totals = _suppress(table.groupby(["ix", "iy"]).size().rename("count").reset_index(),
                       min_count)
    per_category = None
    if by_category:
        cat = inc["category"].astype("string").fillna("")[located].to_numpy()
        table["category"] = cat
        per_category = _suppress(
            table.groupby(["ix", "iy", "category"]).size().rename("count").reset_index(),
            min_count)
    return IncidentCells(frame=totals, cell_m=float(cell_m), metric_crs=crs, min_count=min_count,
                         by_category=per_category, total=int(located.sum()),
                         no_location=int((~located).sum()))


def _suppress(counts: pd.DataFrame, min_count: int) -> pd.DataFrame:
    out = counts.copy()
    small = out["count"] < min_count
    out["count"] = out["count"].astype("Int64").mask(small)
    out["suppressed"] = small.to_numpy()
    return out


def incident_map(
    communities: gpd.GeoDataFrame | None,
    incidents: gpd.GeoDataFrame | None = None,
    *,
    cells: IncidentCells | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    max_grid_bytes: int = DEFAULT_MAX_GRID_BYTES,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw incidents: points with heat and clusters, a zoom-level grid, or aggregated cells.

    Give ``incidents`` to readers allowed to see points (liaisons), or ``cells`` to those who
    may see aggregates only (planners, API clients): then the page holds no coordinate of any
    incident.

    Parameters
    ----------
    communities
        Community polygons drawn as the base (``code``, ``name``); None draws none.
    incidents
        Incident points with ``occurred_at`` (UTC; naive times are read as UTC, the storage
        convention) and ``category``, optionally ``id`` and ``address``; rows without a point
        are left out. Filter them to the period, categories and area first.
    cells
        Pre-aggregated counts instead of points (:func:`aggregate_incidents`).
    max_points
        Above this many located incidents, the page holds grid counts instead of points.
    max_grid_bytes
        Size budget of the grid data in the page, bytes.
    options
        Map options (``timezone`` sets the local times and months shown).

    Returns
    -------
    folium.Map

    Raises
    ------
    TypeError
        If an input has the wrong type.
    ValueError
        If both or neither of ``incidents`` and ``cells`` are given, a column is missing, or a
        limit is not positive.
    """
    options = options or MapOptions()
    if (incidents is None) == (cells is None):
        raise ValueError("give exactly one of incidents (points) and cells (aggregates)")
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 0:
        raise ValueError(f"max_points must be a non-negative integer; got {max_points!r}")
    if (isinstance(max_grid_bytes, bool) or not isinstance(max_grid_bytes, int)
            or max_grid_bytes < 10_000):
        raise ValueError(f"max_grid_bytes must be an integer of at least 10000; "
                         f"got {max_grid_bytes!r}")
    comm = None
    if communities is not None:
        comm = wgs84_frame(communities, "communities")
        require_columns(comm, ["code"], "communities")
    if cells is not None:
        if not isinstance(cells, IncidentCells):
            raise TypeError(f"cells must be IncidentCells; got {type(cells).__name__}")
        return _cells_map(comm, cells, options)
    assert incidents is not None
    inc = wgs84_frame(incidents, "incidents")
    require_columns(inc, ["occurred_at", "category"], "incidents")
    data = _incident_arrays(inc, options)
    if len(data.lon) <= max_points:
        return _points_map(comm, data, options)
    return _grid_map(comm, data, options, max_grid_bytes, max_points)


# --------------------------------------------------------------------------------------------
# Shared preparation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Arrays:
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    category: NDArray[np.int64]
    month: NDArray[np.int64]
    categories: list[str]
    category_labels: list[str]
    months: list[str]
    frame: pd.DataFrame  # the located rows, in the order of the arrays


def _incident_arrays(inc: gpd.GeoDataFrame, options: MapOptions) -> _Arrays:
    lang = options.language
    geoms = inc.geometry.to_numpy()
    located = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    frame = pd.DataFrame(inc.drop(columns=inc.geometry.name)).loc[located].reset_index(drop=True)
    lon, lat = display_points(shapely.get_x(geoms[located]), shapely.get_y(geoms[located]),
                              options)
    times = _local_times(frame["occurred_at"], options.timezone)
    frame["_local"] = times
    stamp = times.dt.year * 12 + times.dt.month - 1
    known = stamp.notna()
    months: list[str] = []
    month = np.zeros(len(frame), dtype=np.int64)
    if known.any():
        first, last = int(stamp[known].min()), int(stamp[known].max())
        months = [f"{s // 12:04d}-{s % 12 + 1:02d}" for s in range(first, last + 1)]
        month[known.to_numpy()] = stamp[known].to_numpy(dtype=np.int64) - first
    if not known.all():
        month[~known.to_numpy()] = len(months)
        months.append(text("incidents.unknown_month", lang))
    raw = frame["category"].astype("string").fillna("")
    counts = raw.value_counts()
    categories = sorted(counts.index.tolist(), key=lambda c: (-int(counts[c]), c))
    code = pd.Categorical(raw, categories=categories).codes.astype(np.int64)
    labels = [term("category", c, lang) if c else text("incidents.unknown_category", lang)
              for c in categories]
    if len(categories) * max(len(months), 1) > _KEY_LIMIT:
        raise LimitError(
            f"incidents span {len(categories)} categories × {len(months)} months, more than "
            f"{_KEY_LIMIT} combinations; filter them to fewer categories or a shorter period"
        )
    return _Arrays(lon=lon, lat=lat, category=code, month=month, categories=categories,
                   category_labels=labels, months=months, frame=frame)


def _local_times(values: pd.Series, timezone: str) -> pd.Series:
    times = pd.to_datetime(values, errors="coerce", utc=False)
    if getattr(times.dt, "tz", None) is None:
        times = times.dt.tz_localize("UTC")
    return times.dt.tz_convert(timezone)


def _category_colors(n: int) -> list[str]:
    palette = list(color_brewer("Set1", 9))
    palette = [c for c in palette if c.lower() != "#ffff33"]  # yellow is unreadable on white
    return [palette[i % len(palette)] for i in range(n)]


def _js_text(lang: Language) -> dict[str, str]:
    return {
        "period": text("incidents.period_control", lang),
        "allMonths": text("incidents.all_months", lang),
        "id": text("incidents.id", lang),
        "time": text("incidents.time", lang),
        "category": text("incidents.category", lang),
        "address": text("incidents.address", lang),
        "none": text("none", lang),
        "shown": text("incidents.shown", lang),
        "cellCount": text("incidents.cell_count", lang),
        "cellSize": text("incidents.cell_size", lang),
    }


def _period_label(months: list[str]) -> str | None:
    real = [m for m in months if m[:1].isdigit()]
    if not real:
        return None
    return real[0] if len(real) == 1 else f"{real[0]} – {real[-1]}"


def _bounds(lon: NDArray[np.float64], lat: NDArray[np.float64],
            base: NDArray[np.object_] | None) -> tuple[float, float, float, float] | None:
    if base is not None:
        b = bounds_of(base)
        if b is not None:
            return b
    if not len(lon):
        return None
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def _add_category_layers(m: folium.Map, controller: str, data: _Arrays, lang: Language) -> None:
    counts = np.bincount(data.category, minlength=len(data.categories))
    for i, label in enumerate(data.category_labels):
        JsLayer(f"{controller}.category({i})",
                name=f"{text('incidents.category', lang)}: {label} ({fmt_count(counts[i], lang)})"
                ).add_to(m)


# --------------------------------------------------------------------------------------------
# Points
# --------------------------------------------------------------------------------------------


def _points_map(comm: gpd.GeoDataFrame | None, data: _Arrays, options: MapOptions) -> folium.Map:
    lang = options.language
    base = display_geometries(comm.geometry, options, simplify=True) if comm is not None else None
    m = new_map(text("title.incidents", lang), options, _bounds(data.lon, data.lat, base),
                period_label=_period_label(data.months), assets=[IncidentAssets()])
    if comm is not None:
        community_outline_layer(m, comm, options, fill_opacity=0.0,
                                tooltips=[table_html([], title=n) for n in community_names(comm)],
                                shapes=base)
    f = data.frame
    ids = f["id"].astype("string").fillna("").tolist() if "id" in f else [""] * len(f)
    addr = (f["address"].astype("string").astype(object).where(f["address"].notna(), None)
            .tolist() if "address" in f else [None] * len(f))
    when = f["_local"].dt.strftime("%Y-%m-%d %H:%M").astype(object)
    when = when.where(when.notna(), text("none", lang)).tolist()
    colors = _category_colors(len(data.categories))
    payload = {
        "mode": "points",
        "lat": data.lat.tolist(),
        "lng": data.lon.tolist(),
        "cat": data.category.tolist(),
        "month": data.month.tolist(),
        "id": ids,
        "time": when,
        "addr": addr,
        "categories": data.category_labels,
        "colors": colors,
        "months": data.months,
        "text": _js_text(lang),
    }
    controller = f"pinganIncidents_{m._id}"
    Script(f"var {controller} = pingan.incidents({m.get_name()}, {script_json(payload)});\n"
           f"{controller}.addPeriodControl();").add_to(m)
    JsLayer(f"{controller}.heat", name=text("incidents.heat", lang)).add_to(m)
    JsLayer(f"{controller}.cluster", name=text("incidents.points", lang)).add_to(m)
    _add_category_layers(m, controller, data, lang)
    legend = Legend().section(
        text("incidents.category", lang),
        [({"color": "#333333", "weight": 1, "fillColor": c, "fillOpacity": 0.9, "radius": 5},
          label) for c, label in zip(colors, data.category_labels, strict=True)])
    return finish(m, legend)


# --------------------------------------------------------------------------------------------
# Grid of many incidents
# --------------------------------------------------------------------------------------------


def _mercator(lon: NDArray[np.float64],
              lat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Web Mercator coordinates as fractions of the world, ``v`` growing southwards."""
    u = (np.asarray(lon, dtype=float) + 180.0) / 360.0
    phi = np.radians(np.clip(np.asarray(lat, dtype=float), -_MAX_LAT, _MAX_LAT))
    v = (1.0 - np.log(np.tan(np.pi / 4.0 + phi / 2.0)) / np.pi) / 2.0
    return np.clip(u, 0.0, 1.0 - 1e-12), np.clip(v, 0.0, 1.0 - 1e-12)


@dataclass(frozen=True)
class _Level:
    level: int
    x: NDArray[np.int64]  # absolute cell columns, one per entry
    y: NDArray[np.int64]
    key: NDArray[np.int64]
    count: NDArray[np.int64]


def _levels(u: NDArray[np.float64], v: NDArray[np.float64], key: NDArray[np.int64]) -> list[_Level]:
    """Count per (cell, key) at every level from the finest down to one or two cells."""
    extent = max(float(u.max() - u.min()), float(v.max() - v.min()), 1e-12)
    finest = int(min(_FINEST_LEVEL, math.floor(math.log2(_MAX_RELATIVE / 2 / extent))))
    coarsest = max(0, min(finest, math.floor(math.log2(1.0 / extent)) - 1))
    scale = float(2 ** finest)
    x = np.floor(u * scale).astype(np.int64)
    y = np.floor(v * scale).astype(np.int64)
    count = np.ones(len(x), dtype=np.int64)
    out = []
    for level in range(finest, coarsest - 1, -1):
        if level < finest:
            x, y = x >> 1, y >> 1
        x0, y0 = int(x.min()), int(y.min())
        code = ((y - y0) << 36) | ((x - x0) << 16) | key
        uniq, inverse = np.unique(code, return_inverse=True)
        count = np.bincount(inverse, weights=count).astype(np.int64)
        x = ((uniq >> 16) & (_MAX_RELATIVE - 1)) + x0
        y = (uniq >> 36) + y0
        key = uniq & (_KEY_LIMIT - 1)
        out.append(_Level(level, x, y, key, count))
    return out[::-1]


def _encode(lv: _Level) -> dict[str, Any] | None:
    """Encode a level as the runtime reads it; None when its cells exceed uint16 offsets."""
    x0, y0 = int(lv.x.min()), int(lv.y.min())
    if lv.x.max() - x0 >= 65536 or lv.y.max() - y0 >= 65536:
        return None
    small = int(np.ceil(lv.count / 255).sum())
    count_width, cap = (1, 255) if small <= 1.25 * len(lv.count) else (2, 65535)
    parts = -(-lv.count // cap)
    idx = np.repeat(np.arange(len(lv.count)), parts)
    first = np.r_[0, np.cumsum(parts)[:-1]]
    within = np.arange(len(idx)) - np.repeat(first, parts)
    counts = np.where(within < parts[idx] - 1, cap, lv.count[idx] - cap * (parts[idx] - 1))
    cell = (lv.y[idx] - y0) * 65536 + (lv.x[idx] - x0)
    starts = np.r_[True, cell[1:] != cell[:-1]]
    cell_ids = cell[starts]
    entries = np.diff(np.r_[np.flatnonzero(starts), len(cell)])
    key = lv.key[idx]
    arrays = [
        ("cx", (cell_ids % 65536).astype("<u2")),
        ("cy", (cell_ids // 65536).astype("<u2")),
        ("ce", entries.astype("<u1" if entries.max() <= 255 else "<u2")),
        ("key", key.astype("<u1" if key.max() <= 255 else "<u2")),
        ("count", counts.astype("<u1" if count_width == 1 else "<u2")),
    ]
    arrays.sort(key=lambda a: -a[1].dtype.itemsize)  # aligned views: 2-byte arrays first
    layout, chunks, offset = [], [], 0
    for name, arr in arrays:
        layout.append([name, offset, arr.dtype.itemsize])
        chunks.append(arr.tobytes())
        offset += arr.nbytes
    return {"l": lv.level, "x0": x0, "y0": y0, "nc": len(cell_ids), "ne": len(counts),
            "layout": layout, "b64": base64.b64encode(b"".join(chunks)).decode("ascii")}


def grid_levels(lon: NDArray[np.float64], lat: NDArray[np.float64], key: NDArray[np.int64], *,
                max_bytes: int = DEFAULT_MAX_GRID_BYTES) -> list[dict[str, Any]]:
    """Encode incident counts per zoom level, coarsest first, within a size budget.

    Parameters
    ----------
    lon, lat
        Display coordinates of the incidents.
    key
        ``category × months + month`` of each incident (below 65,536).
    max_bytes
        Budget of the encoded levels (base64 text); the coarsest level is always kept.

    Returns
    -------
    list of dict
        Per level: ``l``, ``x0``, ``y0``, ``nc`` (cells), ``ne`` (entries), ``layout`` and
        ``b64`` (see the module docstring).
    """
    if not len(lon):
        return []
    u, v = _mercator(lon, lat)
    out: list[dict[str, Any]] = []
    used = 0
    for lv in _levels(u, v, np.asarray(key, dtype=np.int64)):
        enc = _encode(lv)
        if enc is None:
            break
        size = len(enc["b64"]) + 100
        if out and used + size > max_bytes:
            break
        out.append(enc)
        used += size
    return out


def _grid_map(comm: gpd.GeoDataFrame | None, data: _Arrays, options: MapOptions,
              max_grid_bytes: int, max_points: int) -> folium.Map:
    lang = options.language
    base = display_geometries(comm.geometry, options, simplify=True) if comm is not None else None
    m = new_map(text("title.incidents", lang), options, _bounds(data.lon, data.lat, base),
                period_label=_period_label(data.months))
    if comm is not None:
        community_outline_layer(m, comm, options, fill_opacity=0.0,
                                tooltips=[table_html([], title=n) for n in community_names(comm)],
                                shapes=base)
    key = data.category * len(data.months) + data.month
    legend_id = f"pingan-grid-legend-{m._id}"
    payload = {
        "mode": "grid",
        "levels": grid_levels(data.lon, data.lat, key, max_bytes=max_grid_bytes),
        "cellPx": GRID_CELL_PX,
        "categories": data.category_labels,
        "months": data.months,
        "colors": list(COUNT_COLORS),
        "legendId": legend_id,
        "text": _js_text(lang),
    }
    controller = f"pinganIncidents_{m._id}"
    Script(f"var {controller} = pingan.incidents({m.get_name()}, {script_json(payload)});\n"
           f"{controller}.addPeriodControl();").add_to(m)
    JsLayer(f"{controller}.grid", name=text("incidents.grid", lang)).add_to(m)
    _add_category_layers(m, controller, data, lang)
    note = text("incidents.grid_note", lang).format(n=fmt_count(max_points, lang))
    legend = Legend().raw_section(text("incidents.per_cell", lang), legend_id)
    legend.section(text("incidents.grid", lang), [], note=note)
    return finish(m, legend)


# --------------------------------------------------------------------------------------------
# Aggregated cells
# --------------------------------------------------------------------------------------------


def _cell_polygons(frame: pd.DataFrame, cells: IncidentCells) -> NDArray[np.object_]:
    ix = frame["ix"].to_numpy(dtype=np.int64)
    iy = frame["iy"].to_numpy(dtype=np.int64)
    c = cells.cell_m
    boxes = shapely.box(ix * c, iy * c, (ix + 1) * c, (iy + 1) * c)
    return np.asarray(gpd.GeoSeries(boxes, crs=cells.metric_crs).to_crs(4326).to_numpy(),
                      dtype=object)


def _count_breaks(counts: NDArray[np.float64]) -> list[int]:
    """Class upper bounds: quantiles of the counts without repeats, as the runtime's grid."""
    values = np.sort(counts[np.isfinite(counts)])
    n, k = len(values), len(COUNT_COLORS)
    out: list[int] = []
    for j in range(1, k + 1):
        b = int(values[min(n - 1, math.ceil(j * n / k) - 1)]) if n else 0
        if n and (not out or b > out[-1]):
            out.append(b)
    return out


def _cells_layer(m: folium.Map, frame: pd.DataFrame, cells: IncidentCells,
                 options: MapOptions, *, name: str, show: bool,
                 title: str | None = None) -> list[tuple[dict[str, Any], str]]:
    lang = options.language
    counts = pd.to_numeric(frame["count"], errors="coerce").to_numpy(dtype=float,
                                                                     na_value=np.nan)
    suppressed = frame["suppressed"].astype(bool).to_numpy()
    breaks = _count_breaks(counts[~suppressed])
    base = {"color": "#888888", "weight": 0.5, "opacity": 0.8, "fillOpacity": 0.75}
    colors = [COUNT_COLORS[round(j * (len(COUNT_COLORS) - 1) / max(len(breaks) - 1, 1))]
              if len(breaks) > 1 else COUNT_COLORS[-1] for j in range(len(breaks))]
    class_styles = [{**base, "fillColor": c} for c in colors]
    table = StyleTable()
    index, tips = [], []
    below = text("incidents.suppressed", lang).format(n=cells.min_count)
    for n, hidden in zip(counts, suppressed, strict=True):
        if hidden:
            index.append(table.add(_SUPPRESSED))
            shown = below
        else:
            j = next((i for i, b in enumerate(breaks) if n <= b), len(breaks) - 1)
            index.append(table.add(class_styles[j]))
            shown = fmt_count(n, lang)
        tips.append(table_html([(text("field.count", lang), shown)], title=title))
    geoms = display_geometries(_cell_polygons(frame, cells), options)
    GeoJsonLayer(feature_collection(geoms, index, tooltips=tips), table.styles, name=name,
                 show=show).add_to(m)
    entries = []
    lo = cells.min_count
    for j, b in enumerate(breaks):
        entries.append((class_styles[j], fmt_count(lo, lang) if lo >= b
                        else f"{fmt_count(lo, lang)}–{fmt_count(b, lang)}"))
        lo = b + 1
    entries.append((_SUPPRESSED, below))
    return entries


def _cells_map(comm: gpd.GeoDataFrame | None, cells: IncidentCells,
               options: MapOptions) -> folium.Map:
    lang = options.language
    base = display_geometries(comm.geometry, options, simplify=True) if comm is not None else None
    outline = display_geometries(_cell_polygons(cells.frame, cells), options)
    bounds = bounds_of(base) if base is not None else None
    m = new_map(text("title.incidents", lang), options, bounds or bounds_of(outline),
                period_label=None)
    if comm is not None:
        community_outline_layer(m, comm, options,
                                tooltips=[table_html([], title=n) for n in community_names(comm)],
                                shapes=base)
    entries = _cells_layer(m, cells.frame, cells, options, name=text("incidents.cells", lang),
                           show=True)
    if cells.by_category is not None:
        cat = cells.by_category["category"].astype("string").fillna("")
        for value in sorted(cat.unique(), key=str):
            label = term("category", value, lang) if value else text(
                "incidents.unknown_category", lang)
            _cells_layer(m, cells.by_category[(cat == value).to_numpy()], cells, options,
                         name=f"{text('incidents.category', lang)}: {label}", show=False,
                         title=label)
    note = text("incidents.cell_note", lang).format(m=fmt_count(cells.cell_m, lang))
    legend = Legend().section(text("incidents.per_cell", lang), entries, note=note)
    return finish(m, legend)

