"""The parts every map shares: the page, its layers, legend, title and readiness signal.

Vector layers are drawn by pingan's small runtime (``assets/pingan/pingan-maps.js``) from one
GeoJSON document per layer whose features carry only a style number and prebuilt, escaped
tooltip and popup HTML. folium's own ``GeoJson`` writes a style-function switch and a table
template that inserts raw property values as HTML; pingan's labels are formatted per language in
Python, data values (names from users' files) must be escaped, and pages must stay small.

Community outlines, the largest layer of a city's maps, are simplified as a coverage in metres
(:func:`simplify_display`) and written packed (:func:`feature_collection` with ``packed``:
integer steps of ``10**-boundary_decimals`` degree, unpacked by the runtime), so a
3,000-community incident map stays under 5 MB.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template
from numpy.typing import NDArray

from geo.china import wgs84_to_gcj02
from geo.crs import geometries_from_wgs84, geometries_to_wgs84
from geo.projection import metric_crs_for
from maps.labels import text
from maps.offline import ASSET_SCHEME
from maps.options import MapOptions

_WGS84 = "EPSG:4326"

Style = dict[str, Any]


class Runtime(JSCSSMixin):
    """pingan's map runtime script and style sheet."""

    default_js = [  # noqa: RUF012 - folium declares these as plain lists
        ("pingan_maps_js", f"{ASSET_SCHEME}pingan/pingan-maps.js")]
    default_css = [  # noqa: RUF012
        ("pingan_maps_css", f"{ASSET_SCHEME}pingan/pingan-maps.css")]
    _template = Template("")


class Script(MacroElement):
    """JavaScript run in order with the other elements, after the map is created."""

    _template = Template("{% macro script(this, kwargs) %}\n{{ this.code }}\n{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "PinganScript"
        self.code = code


class JsLayer(Layer):
    """A Leaflet layer made by a JavaScript expression, listed in the layer control."""

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "var {{ this.get_name() }} = {{ this.expression }};\n"
        "{% endmacro %}"
    )

    def __init__(self, expression: str, *, name: str, show: bool = True) -> None:
        super().__init__(name=html.escape(name), overlay=True, control=True, show=show)
        self._name = "PinganLayer"
        self.expression = expression


class GeoJsonLayer(JsLayer):
    """A GeoJSON layer drawn by ``pingan.geoJsonLayer`` from a style table."""

    def __init__(self, collection: str, styles: Sequence[Style], *, name: str,
                 show: bool = True) -> None:
        super().__init__(
            f"pingan.geoJsonLayer({collection}, {script_json(list(styles))})",
            name=name, show=show,
        )


class PageTitle(Element):
    """The ``<title>`` of the page, and an empty icon so browsers do not ask for favicon.ico."""

    def __init__(self, title: str) -> None:
        super().__init__(f'<title>{html.escape(title)}</title>\n<link rel="icon" href="data:,">')


class StyleTable:
    """Distinct Leaflet path styles, numbered in order of first use."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self.styles: list[Style] = []

    def add(self, style: Style) -> int:
        """Return the number of ``style``, adding it when new."""
        key = json.dumps(style, sort_keys=True)
        if key not in self._index:
            self._index[key] = len(self.styles)
            self.styles.append(dict(style))
        return self._index[key]


def script_json(value: Any) -> str:
    """JSON text that is safe inside an HTML ``<script>`` element.

    ``</`` would end the script element and ``<!--`` would open a comment; both are written
    with JSON escapes, which decode to the same string.
    """
    out = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return safe_script_text(out)


def safe_script_text(out: str) -> str:
    """Escape ``</``, ``<!--`` and the JavaScript line separators inside JSON text."""
    return (out.replace("</", "<\\/").replace("<!--", "<\\u0021--")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def wgs84_frame(frame: Any, name: str) -> gpd.GeoDataFrame:
    """Check a GeoDataFrame and return it in EPSG:4326.

    Raises
    ------
    TypeError
        If ``frame`` is not a GeoDataFrame.
    ValueError
        If it has no CRS.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{name} must be a GeoDataFrame; got {type(frame).__name__}")
    if frame.crs is None:
        raise ValueError(f"{name} has no CRS; expected EPSG:4326 (or any declared CRS)")
    if frame.crs.to_epsg() == 4326:
        return frame
    return frame.to_crs(_WGS84)


def require_columns(frame: Any, columns: Sequence[str], name: str) -> None:
    """Raise ValueError naming the columns ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; it has {list(frame.columns)}")


def display_geometries(geoms: Any, options: MapOptions, *,
                       simplify: bool = False) -> NDArray[np.object_]:
    """Prepare WGS84 geometries for the page: simplify, shift to GCJ-02 when asked, round.

    Parameters
    ----------
    geoms
        Shapely geometries in WGS84 (array, list or GeoSeries).
    options
        The map options (``simplify_m``, ``tiles_gcj02``, ``coordinate_decimals``,
        ``boundary_decimals``).
    simplify
        Boundaries (communities, areas, gaps): simplify them with :func:`simplify_display`
        and round to ``boundary_decimals``. Otherwise (points and small shapes such as sectors
        and grid cells) every vertex is kept and rounded to ``coordinate_decimals``.

    Returns
    -------
    numpy.ndarray of object
    """
    arr = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    if simplify:
        arr = simplify_display(arr, options.simplify_m)
    if options.shift_gcj02:
        arr = geometries_from_wgs84(arr, "gcj02")
    decimals = options.boundary_decimals if simplify else options.coordinate_decimals
    return np.asarray(shapely.transform(arr, lambda xy: np.round(xy, decimals)), dtype=object)


def simplify_display(geoms: NDArray[np.object_], tolerance_m: float) -> NDArray[np.object_]:
    """Simplify WGS84 boundaries for display, in metres, keeping neighbours' shared edges.

    The geometries are projected to the metric CRS of their extent
    (:func:`geo.projection.metric_crs_for`). When the polygons form a valid coverage (no
    overlaps, neighbours' edges matching, as community boundaries do) they are simplified as a
    coverage (``shapely.coverage_simplify``): each shared edge is simplified once, so neighbours
    still share it and no gap or overlap opens between them. Otherwise (overlapping areas,
    lines) each geometry is simplified on its own with its topology preserved. Missing and
    empty geometries are kept as they are.

    Parameters
    ----------
    geoms
        Shapely geometries in WGS84.
    tolerance_m
        Tolerance in metres; 0 returns ``geoms`` unchanged.

    Returns
    -------
    numpy.ndarray of object
        The simplified geometries in WGS84, same length as ``geoms``.
    """
    arr = np.asarray(geoms, dtype=object)
    present = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    if tolerance_m <= 0 or not present.any():
        return arr
    shown = arr[present]
    x0, y0, x1, y1 = shapely.total_bounds(shown)
    if not np.all(np.isfinite([x0, y0, x1, y1])):
        return arr
    metric = metric_crs_for((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    projected = geometries_from_wgs84(shown, metric)
    kinds = shapely.get_type_id(projected)
    polygonal = bool(np.isin(kinds, (3, 6)).all())
    if polygonal and bool(shapely.coverage_is_valid(projected)):
        simplified = shapely.coverage_simplify(projected, tolerance_m)
    else:
        simplified = shapely.simplify(projected, tolerance_m, preserve_topology=True)
    out = arr.copy()
    out[present] = geometries_to_wgs84(simplified, metric)
    return out


def display_points(lon: NDArray[np.float64], lat: NDArray[np.float64],
                   options: MapOptions) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Shift point coordinates to GCJ-02 when asked and round them for the page."""
    if options.shift_gcj02:
        lon, lat = wgs84_to_gcj02(lon, lat)
    d = options.coordinate_decimals
    return np.round(np.asarray(lon, dtype=float), d), np.round(np.asarray(lat, dtype=float), d)


def feature_collection(
    geoms: NDArray[np.object_],
    style_index: Sequence[int],
    *,
    tooltips: Sequence[str | None] | None = None,
    popups: Sequence[str | None] | None = None,
    keys: Sequence[str | None] | None = None,
    packed: int | None = None,
) -> str:
    """Write a GeoJSON FeatureCollection for :class:`GeoJsonLayer`, safe inside a script.

    Features carry ``s`` (style number), and when given ``t`` (tooltip HTML), ``p`` (popup
    HTML) and ``k`` (the feature's code or id). Missing and empty geometries are left out.

    ``packed`` (decimals, for boundaries already rounded to them) writes polygons the way
    TopoJSON quantises them, about half the text of GeoJSON: each ring is one flat list of
    integers, its first vertex in units of ``10**-packed`` degree and every next one as the
    difference from the previous; the collection carries ``"packed": 10**packed`` and the
    runtime unpacks it before drawing. Other geometry types are written as GeoJSON.
    """
    n = len(geoms)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    texts = np.full(n, None, dtype=object)
    if present.any():
        texts[present] = shapely.to_geojson(geoms[present])
    head = '{"type":"FeatureCollection",'
    if packed is not None:
        scale = 10**packed
        head += f'"packed":{scale},'
        kinds = shapely.get_type_id(geoms)
        for j in np.flatnonzero(present & np.isin(kinds, (3, 6))).tolist():
            texts[j] = _packed_polygons(geoms[j], scale)
    parts = []
    for i in range(n):
        if not present[i]:
            continue
        props: dict[str, Any] = {"s": int(style_index[i])}
        if tooltips is not None and tooltips[i]:
            props["t"] = tooltips[i]
        if popups is not None and popups[i]:
            props["p"] = popups[i]
        if keys is not None and keys[i] is not None:
            props["k"] = str(keys[i])
        parts.append('{"type":"Feature","geometry":' + texts[i] + ',"properties":'
                     + json.dumps(props, ensure_ascii=False, separators=(",", ":")) + "}")
    return safe_script_text(head + '"features":[' + ",".join(parts) + "]}")


def _packed_polygons(geom: Any, scale: int) -> str:
    """A Polygon or MultiPolygon as :func:`feature_collection` packs it."""
    polygons = [geom] if geom.geom_type == "Polygon" else list(geom.geoms)
    written = []
    for polygon in polygons:
        rings = []
        for ring in (polygon.exterior, *polygon.interiors):
            units = np.rint(np.asarray(ring.coords)[:, :2] * scale).astype(np.int64)
            steps = np.concatenate([units[:1], np.diff(units, axis=0)]).ravel()
            rings.append("[" + ",".join(map(str, steps.tolist())) + "]")
        written.append("[" + ",".join(rings) + "]")
    if geom.geom_type == "Polygon":
        return '{"type":"Polygon","coordinates":' + written[0] + "}"
    return '{"type":"MultiPolygon","coordinates":[' + ",".join(written) + "]}"


def bounds_of(geoms: NDArray[np.object_]) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` of display geometries, or None when there are none."""
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(present):
        return None
    w, s, e, n = shapely.total_bounds(present)
    if not np.all(np.isfinite([w, s, e, n])):
        return None
    return float(w), float(s), float(e), float(n)


def new_map(default_title: str, options: MapOptions,
            bounds: tuple[float, float, float, float] | None, *, period_label: str | None,
            assets: Sequence[JSCSSMixin] = ()) -> folium.Map:
    """Create the page of a map: no default tiles, scale bar, runtime, title, extent.

    Parameters
    ----------
    default_title
        The title when ``options.title`` is None.
    options
        The map options.
    bounds
        ``(west, south, east, north)`` of what is drawn, in display coordinates.
    period_label
        The data period of the result, used when ``options.period_label`` is None.
    assets
        Elements that declare further vendored scripts (plugins).
    """
    m = folium.Map(tiles=None, control_scale=False, zoom_start=12, location=[39.9, 116.4])
    # Without tiles Leaflet has no zoom limit, which the marker clustering needs.
    m.options["maxZoom"] = options.tile_max_zoom if options.tile_url else 19
    Runtime().add_to(m)
    for element in assets:
        element.add_to(m)
    title = options.title or default_title
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(PageTitle(title), name="pingan_title")
    if options.tile_url:
        folium.TileLayer(
            tiles=options.tile_url,
            attr=html.escape(options.tile_attribution or text("basemap", options.language)),
            name=html.escape(text("basemap", options.language)),
            max_zoom=options.tile_max_zoom,
            overlay=False,
            control=True,
        ).add_to(m)
    view = ""
    if bounds is not None:
        w, s, e, n = bounds
        # Without animation, so that what is drawn first is the final view.
        view = (f"{m.get_name()}.fitBounds({script_json([[s, w], [n, e]])}, "
                "{animate: false, padding: [20, 20]});\n")
    Script(f"{view}L.control.scale({{imperial: false, maxWidth: 160}}).addTo({m.get_name()});"
           ).add_to(m)
    period = options.period_label or period_label
    lang = options.language
    sub = []
    if period:
        sub.append(f"{text('period', lang)}: {period}")
    sub.append(f"{text('generated', lang)}: {options.generated_label()}")
    title_html = (f'<div class="pingan-title-main">{html.escape(title)}</div>'
                  f'<div class="pingan-title-sub">{html.escape(" · ".join(sub))}</div>')
    Script(f"pingan.title({m.get_name()}, {script_json(title_html)});").add_to(m)
    return m


class Legend:
    """The legend of a map: sections of swatches with labels."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def section(self, title: str, entries: Sequence[tuple[Style, str]], *,
                note: str | None = None) -> Legend:
        """Add a section: a title and ``(style, label)`` entries.

        A style with ``radius`` is drawn as a circle, one with ``fill`` False as a line, any
        other as a filled square (``dashArray`` draws a dashed outline).
        """
        rows = "".join(f'<div class="pingan-legend-row">{_swatch(style)}'
                       f"<span>{html.escape(label)}</span></div>" for style, label in entries)
        extra = f'<div class="pingan-legend-note">{html.escape(note)}</div>' if note else ""
        self._parts.append(f'<div class="pingan-legend-section"><div class="pingan-legend-title">'
                           f"{html.escape(title)}</div>{rows}{extra}</div>")
        return self

    def raw_section(self, title: str, element_id: str) -> Legend:
        """Add a section whose rows the runtime fills (the incident grid's classes)."""
        self._parts.append(f'<div class="pingan-legend-section"><div class="pingan-legend-title">'
                           f'{html.escape(title)}</div><div id="{html.escape(element_id)}">'
                           f"</div></div>")
        return self

    def html(self) -> str:
        """Return the legend's HTML."""
        return "".join(self._parts)


def _swatch(style: Style) -> str:
    color = str(style.get("color", "#333333"))
    fill = str(style.get("fillColor", color))
    fill_opacity = style.get("fillOpacity", 0.6)
    weight = min(float(style.get("weight", 1)), 3.0)
    dash = "dashed" if style.get("dashArray") else "solid"
    if "radius" in style:
        css = (f"background:{fill};opacity:{max(fill_opacity, 0.5)};border:{weight}px solid "
               f"{color};border-radius:50%;width:10px;height:10px;margin:2px 4px")
    elif style.get("fill") is False:
        css = f"border-top:{max(weight, 2)}px {dash} {color};height:0;margin-top:8px"
    else:
        css = (f"background:{_rgba(fill, fill_opacity)};border:{weight}px {dash} "
               f"{color if style.get('stroke', True) else 'transparent'}")
    return f'<i class="pingan-swatch" style="{html.escape(css)}"></i>'


def _rgba(color: str, opacity: float) -> str:
    c = color.lstrip("#")
    if len(c) != 6:
        return color
    r, g, b = (int(c[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{opacity})"


def finish(m: folium.Map, legend: Legend) -> folium.Map:
    """Add the layer control, the legend and the readiness signal; return the map."""
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    Script(f"pingan.legend({m.get_name()}, {script_json(legend.html())});").add_to(m)
    Script("pingan.loaded();").add_to(m)
    return m


def community_outline_layer(m: folium.Map, communities: gpd.GeoDataFrame, options: MapOptions,
                            *, tooltips: Sequence[str | None] | None = None,
                            name: str | None = None,
                            fill_opacity: float = 0.25,
                            shapes: NDArray[np.object_] | None = None) -> NDArray[np.object_]:
    """Draw communities as the base (outlines, a light fill) and return their display shapes.

    ``shapes`` are the communities' display shapes when the caller already made them
    (``display_geometries(communities.geometry, options, simplify=True)``, which simplifies
    the whole coverage: worth doing once per page).
    """
    geoms = (display_geometries(communities.geometry, options, simplify=True)
             if shapes is None else shapes)
    table = StyleTable()
    idx = table.add({"color": "#555555", "weight": 1, "opacity": 0.8, "fillColor": "#ffffff",
                     "fillOpacity": fill_opacity})
    collection = feature_collection(
        geoms, [idx] * len(geoms), tooltips=tooltips,
        keys=list(communities["code"].astype(str)) if "code" in communities else None,
        packed=options.boundary_decimals)
    GeoJsonLayer(collection, table.styles,
                 name=name or text("communities", options.language)).add_to(m)
    return geoms


def community_names(communities: gpd.GeoDataFrame) -> list[str]:
    """Community names (the code when a name is missing)."""
    codes = communities["code"].astype(str).tolist() if "code" in communities else []
    if "name" not in communities:
        return codes
    names = communities["name"].astype(object).tolist()
    return [str(n) if isinstance(n, str) and n else c for n, c in zip(names, codes, strict=True)]
