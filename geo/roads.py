"""Roads: what a road is for walking and driving, read from any line file or an OSM extract.

A roads layer is a set of lines with a few optional attributes. :func:`normalise_roads` maps a
user's columns onto pingan's canonical road fields and reads their values the way OSM and
Chinese road data write them; :func:`read_roads` reads a file and nodes it into the edge frame
:mod:`geo.network` builds its graph from (:func:`geo.noding.node_lines` for line files,
:func:`geo.osm.read_osm` for ``.osm``/``.pbf`` extracts).

Canonical road fields
---------------------
=============  ========  ===========================================================  =========
field          dtype     meaning                                                      default
=============  ========  ===========================================================  =========
``road_class`` str       one of :data:`ROAD_CLASSES` (see the mapping below)          unclassified
``oneway``     bool      travel only in the direction the line is drawn (``-1`` lines   False
                         are reversed on reading so this always holds)
``speed_kmh``  float     posted speed (OSM ``maxspeed``; ``50 mph`` is 80.47 km/h)      NaN
``bridge``     bool      on a bridge or viaduct                                        False
``tunnel``     bool      in a tunnel                                                   False
``layer``      int       vertical order (OSM ``layer``)                                0
``name``       str       street name                                                   <NA>
=============  ========  ===========================================================  =========

Classes
-------
OSM ``highway`` values map to themselves (``motorway_link`` to ``motorway_link``, ``road`` and
unknown values to ``unclassified``). Chinese classes map by the city road classes of
CJJ 37-2012 (城市道路工程设计规范) and the highway grades of JTG B01-2014:

=====================================  ===============
value                                  class
=====================================  ===============
高速公路, 高速                          motorway
快速路, 城市快速路, 国道, 一级公路       trunk
主干路, 主干道, 省道, 二级公路          primary
次干路, 次干道, 县道, 三级公路          secondary
支路, 乡道, 四级公路                    tertiary
街巷, 胡同, 村道, 小区路                residential
辅路, 快速路辅路                        secondary
人行道, 步行道, 步行街                  footway / pedestrian
台阶, 梯道                              steps
非机动车道, 自行车道                    cycleway
小路, 小径                              path
=====================================  ===============

Modes
-----
- ``walk``: every class except :data:`WALK_EXCLUDED` (motorway and trunk main lanes, i.e.
  高速公路 and 快速路, and their ramps); one-way is ignored (pedestrians walk both ways).
  Costs are metres; minutes are shown at :data:`WALK_SPEED_MPS`.
- ``drive``: every class except :data:`DRIVE_EXCLUDED` (footways, steps, paths, pedestrian
  streets, cycleways, bridleways, corridors and tracks); one-way is obeyed. Costs are seconds
  at the posted speed, else the class's default in :data:`DRIVE_SPEED_KMH` (overridable).

Turn restrictions (OSM ``restriction`` relations, no-left-turn signs) and turn costs are
ignored in both modes: a route may turn wherever two roads share a node.

Speeds
------
:data:`WALK_SPEED_MPS` is 1.2 m/s (4.0 ft/s, 4.32 km/h), the "normal walking speed" the US
Manual on Uniform Traffic Control Devices used for pedestrian signal timing from 1961 on
(LaPlante & Kaeser, *A history of pedestrian signal walking speed assumptions*, 3rd Urban
Street Symposium, 2007). GB 50180-2018 gives its life circles in metres (300 m for 5 minutes,
500 m for 10, 800-1,000 m for 15, about 1.0 m/s), so walking thresholds stay in metres and
minutes are shown for information only.

:data:`DRIVE_SPEED_KMH` takes, for each city road class, the middle of the design speeds of
CJJ 37-2012 (快速路 100/80/60, 主干路 60/50/40, 次干路 50/40/30, 支路 40/30/20 km/h) and
120/100 km/h design speeds of JTG B01-2014 for motorways, lowered to 90: free-flow urban
speeds, not peak-hour ones. Pass ``speeds_kmh`` to :func:`geo.network.build_network` to
override any of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import validate as v
from geo.errors import InputError, ParameterError

if TYPE_CHECKING:
    from geo.noding import RoadEdges

__all__ = [
    "DRIVE_EXCLUDED",
    "DRIVE_SPEED_KMH",
    "MODES",
    "ROAD_CLASSES",
    "ROAD_FIELDS",
    "WALK_EXCLUDED",
    "WALK_SPEED_MPS",
    "RoadLines",
    "mode_mask",
    "normalise_roads",
    "parse_flag",
    "parse_layer",
    "parse_oneway",
    "parse_road_class",
    "parse_speed_kmh",
    "read_roads",
]

#: The road classes pingan knows (OSM ``highway`` names).
ROAD_CLASSES = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
    "living_street", "service", "track", "pedestrian", "footway", "steps", "path", "cycleway",
    "bridleway", "corridor",
)

#: Travel modes.
MODES = ("walk", "drive")

#: Classes a pedestrian may not use: motorway and trunk main lanes (高速公路, 快速路) and ramps.
WALK_EXCLUDED = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})

#: Classes a car may not use.
DRIVE_EXCLUDED = frozenset({"pedestrian", "footway", "steps", "path", "cycleway", "bridleway",
                            "corridor", "track"})

#: Walking speed, metres per second (see the module docstring for the source).
WALK_SPEED_MPS = 1.2

#: Default driving speed per class, km/h, where a road has no posted speed.
DRIVE_SPEED_KMH: Mapping[str, float] = {
    "motorway": 90.0, "motorway_link": 40.0, "trunk": 80.0, "trunk_link": 40.0,
    "primary": 50.0, "primary_link": 30.0, "secondary": 40.0, "secondary_link": 30.0,
    "tertiary": 30.0, "tertiary_link": 25.0, "unclassified": 30.0, "residential": 25.0,
    "living_street": 10.0, "service": 15.0,
}

#: Canonical road fields and the source column names recognised without a mapping.
ROAD_FIELDS: Mapping[str, tuple[str, ...]] = {
    "road_class": ("road_class", "highway", "fclass", "class", "type", "等级", "道路等级",
                   "道路类型", "类型"),
    "oneway": ("oneway", "one_way", "单行", "单向", "单行线"),
    "junction": ("junction",),
    "speed_kmh": ("speed_kmh", "maxspeed", "speed", "max_speed", "限速", "设计速度", "速度"),
    "bridge": ("bridge", "is_bridge", "桥", "桥梁", "高架"),
    "tunnel": ("tunnel", "is_tunnel", "隧道"),
    "layer": ("layer", "z_level", "层", "层级"),
    "name": ("name", "名称", "道路名称", "路名"),
}

_CLASS_SYNONYMS = {
    "高速公路": "motorway", "高速": "motorway", "motorway": "motorway",
    "快速路": "trunk", "城市快速路": "trunk", "国道": "trunk", "一级公路": "trunk",
    "主干路": "primary", "主干道": "primary", "省道": "primary", "二级公路": "primary",
    "次干路": "secondary", "次干道": "secondary", "县道": "secondary", "三级公路": "secondary",
    "辅路": "secondary", "快速路辅路": "secondary",
    "支路": "tertiary", "乡道": "tertiary", "四级公路": "tertiary",
    "街巷": "residential", "胡同": "residential", "村道": "residential", "小区路": "residential",
    "人行道": "footway", "步行道": "footway", "步行街": "pedestrian", "台阶": "steps",
    "梯道": "steps", "非机动车道": "cycleway", "自行车道": "cycleway", "小路": "path",
    "小径": "path", "road": "unclassified",
}
_ONEWAY_FORWARD = {"yes", "true", "1", "y", "是", "单行", "单向", "正向", "f"}
_ONEWAY_REVERSE = {"-1", "reverse", "反向", "t"}
_ONEWAY_BOTH = {"no", "false", "0", "n", "否", "双向", "b", "alternating", "reversible"}
_FALSE = {"no", "false", "0", "n", "f", "否", "无", "building_passage"}
_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$")
_UNIT_KMH = {None: 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}


@dataclass(frozen=True)
class RoadLines:
    """Road lines with pingan's canonical road fields, not yet noded.

    Attributes
    ----------
    frame
        GeoDataFrame of LineStrings (multi-lines are split into their parts), in the CRS of the
        input: the canonical road fields (module docstring) and ``source_row`` (the 1-based
        record number the line came from).
    rejections
        Rows left out, with the reason.
    warnings
        Values read with a default (an unknown class, an unreadable speed).
    """

    frame: gpd.GeoDataFrame
    rejections: tuple[v.Rejection, ...]
    warnings: tuple[str, ...]


def parse_road_class(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Map OSM ``highway`` values and Chinese road classes to :data:`ROAD_CLASSES`.

    Parameters
    ----------
    values
        Source values (text); missing values become ``unclassified``.

    Returns
    -------
    classes : pandas.Series
        Canonical classes (string dtype).
    unknown : pandas.Series
        The non-empty source values that are no known class (read as ``unclassified``).
    """
    text = v.clean_text(values)
    lower = text.str.lower()
    mapped = lower.map(lambda s: s if s in ROAD_CLASSES else _CLASS_SYNONYMS.get(s),
                       na_action="ignore").astype("string")
    unknown = text[text.notna() & mapped.isna()]
    return mapped.fillna("unclassified"), unknown


def parse_oneway(values: pd.Series, junction: pd.Series | None = None) -> np.ndarray:
    """Read one-way values: ``1`` along the line, ``-1`` against it, ``0`` both ways.

    ``yes``/``true``/``1``/``是`` are one-way along the line, ``-1``/``reverse`` against it;
    single letters follow Geofabrik's shapefiles (``F`` forward, ``T`` backward, ``B`` both).
    A ``junction`` of ``roundabout`` or ``circular`` is one-way unless ``oneway`` says ``no``.

    Parameters
    ----------
    values
        Source one-way values; missing means both ways.
    junction
        OSM ``junction`` values, or ``None``.

    Returns
    -------
    numpy.ndarray
        int8 per row.
    """
    text = v.clean_text(values.astype("string")).str.lower()
    out = np.zeros(len(values), dtype=np.int8)
    out[text.isin(_ONEWAY_FORWARD).to_numpy(dtype=bool)] = 1
    out[text.isin(_ONEWAY_REVERSE).to_numpy(dtype=bool)] = -1
    if junction is not None:
        ring = v.clean_text(junction).str.lower().isin({"roundabout", "circular"})
        implied = ring.to_numpy(dtype=bool) & text.isna().to_numpy(dtype=bool)
        out[implied] = 1
    return out


def parse_speed_kmh(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Read posted speeds in km/h: ``50``, ``50 km/h``, ``30 mph``, ``50;60`` (the lowest).

    Zero (Geofabrik's "unknown") and zone or text values (``CN:urban``, ``none``, ``signals``)
    give NaN, so the class default applies.

    Parameters
    ----------
    values
        Source speeds (numbers or text).

    Returns
    -------
    speeds : numpy.ndarray
        float64 km/h, NaN where unknown.
    unreadable : pandas.Series
        The non-empty values that were not a speed.
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        num = values.astype("float64").to_numpy()
        return np.where(num > 0, num, np.nan), values.iloc[0:0]
    text = v.clean_text(values.astype("string"))
    out = np.full(len(values), np.nan)
    bad = np.zeros(len(values), dtype=bool)
    for i, s in enumerate(text.to_numpy(dtype=object)):
        if s is pd.NA or s is None:
            continue
        speeds = []
        for part in str(s).lower().replace("|", ";").split(";"):
            m = _SPEED.match(part)
            if m:
                speeds.append(float(m.group(1)) * _UNIT_KMH[m.group(2)])
        if speeds and min(speeds) > 0:
            out[i] = min(speeds)
        elif not speeds or min(speeds) < 0:
            bad[i] = True
    return out, values[bad]


def parse_flag(values: pd.Series) -> np.ndarray:
    """Read ``bridge``/``tunnel`` values: any value but a no (``no``, ``0``, ``F``, 否) is yes.

    OSM writes the kind of bridge as the value (``viaduct``, ``boardwalk``), so any such value
    counts; ``building_passage`` (a passage through a building at street level) does not.

    Parameters
    ----------
    values
        Source values; missing is no.

    Returns
    -------
    numpy.ndarray
        bool per row.
    """
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values):
        return (values.fillna(0).to_numpy(dtype=np.float64) != 0)
    text = v.clean_text(values.astype("string")).str.lower()
    return (text.notna() & ~text.isin(_FALSE)).to_numpy(dtype=bool)


def parse_layer(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Read OSM ``layer`` values (whole numbers, ``-5`` to ``5`` in practice); missing is 0.

    Returns
    -------
    layers : numpy.ndarray
        int64 per row, 0 where missing or unreadable.
    unreadable : pandas.Series
        The non-empty values that were not a whole number.
    """
    num = pd.to_numeric(v.clean_text(values.astype("string")), errors="coerce")
    bad = (num.isna() & v.clean_text(values.astype("string")).notna()) | (
        num.notna() & (num != np.floor(num)))
    return np.where(num.notna() & ~bad, num, 0).astype(np.int64), values[bad.to_numpy()]


def mode_mask(road_class: pd.Series | np.ndarray, mode: str) -> np.ndarray:
    """Whether each road may be used in a travel mode.

    Parameters
    ----------
    road_class
        Canonical classes.
    mode
        ``walk`` or ``drive``.

    Returns
    -------
    numpy.ndarray
        bool per road.

    Raises
    ------
    geo.errors.ParameterError
        If ``mode`` is not a mode.
    """
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {', '.join(MODES)}; got {mode!r}",
                             parameter="mode")
    excluded = WALK_EXCLUDED if mode == "walk" else DRIVE_EXCLUDED
    return ~np.isin(np.asarray(road_class, dtype=object), list(excluded))


def normalise_roads(lines: gpd.GeoDataFrame, *,
                    fields: Mapping[str, str] | None = None) -> RoadLines:
    """Map a line frame's columns onto the canonical road fields and read their values.

    Parameters
    ----------
    lines
        LineStrings or MultiLineStrings with a CRS, and any attribute columns.
    fields
        Canonical field -> source column (``{"road_class": "等级"}``); fields not given are
        looked up by the names in :data:`ROAD_FIELDS` (case-insensitive), else take their
        defaults.

    Returns
    -------
    RoadLines

    Raises
    ------
    geo.errors.InputError
        When ``lines`` has no CRS, a mapped column does not exist, or no line is usable.
    geo.errors.ParameterError
        When ``fields`` names an unknown canonical field.
    """
    if not isinstance(lines, gpd.GeoDataFrame):
        raise InputError(f"roads must be a GeoDataFrame; got {type(lines).__name__}")
    if lines.crs is None:
        raise InputError("roads have no CRS; every frame must carry one")
    mapping = dict(fields or {})
    for target, source in mapping.items():
        if target not in ROAD_FIELDS:
            raise ParameterError(f"fields: {target!r} is no road field; expected one of "
                                 f"{', '.join(ROAD_FIELDS)}", parameter="fields")
        if source not in lines.columns:
            raise InputError(f"fields: {target}={source}: no such column; columns: "
                             f"{', '.join(map(str, lines.columns))}")
    problems = v.Problems(len(lines))
    raw = pd.DataFrame(lines.drop(columns=lines.geometry.name)).reset_index(drop=True)
    cols = {f: mapping.get(f) or _find(raw, names) for f, names in ROAD_FIELDS.items()}

    def column(name: str) -> pd.Series:
        src = cols[name]
        return raw[src] if src is not None else pd.Series([pd.NA] * len(raw), dtype="string")

    road_class, unknown = parse_road_class(column("road_class"))
    if len(unknown):
        problems.warn(f"{len(unknown)} roads have a class pingan does not know (read as "
                      f"unclassified): {', '.join(map(str, unknown.unique()[:8]))}")
    speed, bad_speed = parse_speed_kmh(column("speed_kmh"))
    if len(bad_speed):
        problems.warn(f"{len(bad_speed)} speeds are not a speed (the class default is used): "
                      f"{', '.join(map(str, bad_speed.unique()[:8]))}")
    layer, bad_layer = parse_layer(column("layer"))
    if len(bad_layer):
        problems.warn(f"{len(bad_layer)} layers are not whole numbers (read as 0): "
                      f"{', '.join(map(str, bad_layer.unique()[:8]))}")
    junction = column("junction") if cols["junction"] else None
    oneway = parse_oneway(column("oneway"), junction)
    geoms = _check_lines(np.asarray(lines.geometry.array, dtype=object), problems)
    frame = pd.DataFrame({
        "road_class": road_class.to_numpy(dtype=object),
        "oneway": oneway != 0,
        "speed_kmh": speed,
        "bridge": parse_flag(column("bridge")),
        "tunnel": parse_flag(column("tunnel")),
        "layer": layer,
        "name": v.clean_text(column("name").astype("string")).to_numpy(dtype=object),
        "source_row": np.arange(1, len(raw) + 1),
    })
    geoms = np.where(oneway < 0, shapely.reverse(geoms), geoms)
    keep = ~problems.bad
    if not keep.any():
        first = problems.rejections[0] if problems.rejections else None
        raise InputError("roads: no usable line" + (
            f"; first: row {first.row}: {first.reason}" if first else ""))
    out = gpd.GeoDataFrame(frame[keep], geometry=list(geoms[keep]), crs=lines.crs)
    out = out.explode(index_parts=False, ignore_index=True)
    out["name"] = out["name"].astype("string")
    out["road_class"] = out["road_class"].astype("string")
    return RoadLines(out, tuple(problems.rejections), tuple(problems.warnings))


def read_roads(path: str | Path, *, fields: Mapping[str, str] | None = None,
               crs: Any = None, layer: str | None = None, encoding: str | None = None,
               snap_m: float = 1.0, metric_crs: Any = None) -> RoadEdges:
    """Read a roads file and node it into a road graph's edges.

    ``.osm`` and ``.pbf`` extracts go to :func:`geo.osm.read_osm` (ways connect where they
    share a node); any other file pyogrio reads (GeoJSON, GeoPackage, Shapefile, GeoParquet
    through geopandas, and CSV or Parquet tables with a WKT column) is read as lines in the
    given or declared CRS (GCJ-02 and BD-09 converted to WGS84 by :mod:`geo.china`),
    normalised with :func:`normalise_roads` and noded with :func:`geo.noding.node_lines`.

    Parameters
    ----------
    path
        The file.
    fields
        Canonical field -> source column, as for :func:`normalise_roads`; ``wkt`` names the
        column of a CSV or Parquet table that holds the lines as WKT (found by name when not
        given, as for the other layers).
    crs
        CRS of the coordinates: an EPSG/ESRI code, a PROJ string, ``gcj02`` or ``bd09``; it
        wins over what the file declares (default: the file's, else EPSG:4326).
    layer
        Layer inside a multi-layer file.
    encoding
        Attribute encoding (``gbk`` for a Chinese shapefile without ``.cpg``).
    snap_m
        Noding tolerance for line files (see :func:`geo.noding.node_lines`).
    metric_crs
        Projected CRS in metres for noding and lengths; default
        :func:`geo.projection.metric_crs_of` the roads.

    Returns
    -------
    geo.noding.RoadEdges

    Raises
    ------
    geo.errors.InputError
        When the file is missing or unreadable, or holds no usable road.
    """
    from geo.noding import node_lines
    from geo.osm import read_osm

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    suffixes = "".join(p.suffixes).lower()
    if suffixes.endswith((".osm", ".pbf", ".osm.bz2", ".osm.gz")):
        return read_osm(p, metric_crs=metric_crs)
    frame, notes = _read_lines(p, crs=crs, layer=layer, encoding=encoding,
                               wkt=(fields or {}).get("wkt"))
    read = normalise_roads(frame, fields={k: c for k, c in (fields or {}).items()
                                          if k != "wkt"} or None)
    return node_lines(read.frame, snap_m=snap_m, metric_crs=metric_crs,
                      rejections=(*notes.rejections, *read.rejections),
                      warnings=(*notes.warnings, *read.warnings))


def _read_lines(path: Path, *, crs: Any, layer: str | None, encoding: str | None,
                wkt: str | None) -> tuple[gpd.GeoDataFrame, v.Problems]:
    """A line file (or a CSV/Parquet table with a WKT column) in EPSG:4326.

    Read as the other layers are (:func:`geo.sources.read_source`), so that the CRS rules are
    the same: ``crs`` (an EPSG code, a PROJ string, ``gcj02`` or ``bd09``) wins over what the
    file declares, else EPSG:4326; China's offset systems are converted by :mod:`geo.china`.
    """
    from geo.crs import geometries_to_wgs84, parse_crs
    from geo.geometry_checks import choose_crs, table_geometry
    from geo.readers import detect_format
    from geo.sources import read_source

    fmt = detect_format(path)
    given = parse_crs(crs) if crs is not None else None
    source = read_source(path, fmt, encoding=encoding, gpkg_layer=layer)
    problems = v.Problems(len(source.table))
    for w in source.warnings:
        problems.warn(w)
    geoms, declared = source.geometries, source.declared_crs
    if geoms is None:
        mapping = {"wkt": wkt} if wkt else {}
        geoms, table_crs, _ = table_geometry(source.table, mapping, {}, path, problems)
        declared = declared or table_crs
    use = choose_crs(given, declared, geoms, problems, path, fmt)
    lines = geometries_to_wgs84(np.asarray(geoms, dtype=object), use)
    # The coordinates' own column is no attribute (and may be called "geometry").
    table = source.table.drop(columns=[c for c in (wkt, "geometry") if c in source.table.columns])
    return gpd.GeoDataFrame(table.reset_index(drop=True), geometry=list(lines),
                            crs="EPSG:4326"), problems


def _find(raw: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in raw.columns}
    for n in names:
        if n.lower() in lower:
            return str(lower[n.lower()])
    return None


def _check_lines(geoms: np.ndarray, problems: v.Problems) -> np.ndarray:
    missing = shapely.is_missing(geoms)
    problems.reject(missing, "geometry", "geometry is missing")
    empty = np.zeros(len(geoms), dtype=bool)
    empty[~missing] = shapely.is_empty(geoms[~missing])
    problems.reject(empty, "geometry", "geometry is empty")
    ok = ~missing & ~empty
    types = np.full(len(geoms), -1)
    types[ok] = shapely.get_type_id(geoms[ok])
    wrong = ok & ~np.isin(types, [shapely.GeometryType.LINESTRING,
                                  shapely.GeometryType.MULTILINESTRING])
    problems.reject(wrong, "geometry", "expected LineString or MultiLineString geometry")
    out = geoms.copy()
    good = ok & ~wrong
    out[good] = shapely.force_2d(geoms[good])
    short = np.zeros(len(geoms), dtype=bool)
    short[good] = shapely.length(out[good]) <= 0
    problems.reject(short, "geometry", "line has zero length")
    return out
