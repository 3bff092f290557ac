"""Geometries of an input layer: found, checked in their source CRS, converted, repaired.

A table's geometry comes from longitude/latitude columns or a WKT column (``SRID=…;`` prefixes
declare the CRS). The CRS used is the one given, else the one the file declares, else EPSG:4326
with a warning when the numbers look projected. Each row's geometry is checked (missing, empty,
wrong type, coordinates outside the CRS's valid range), converted to EPSG:4326, and invalid
polygons are repaired with ``make_valid`` when that barely changes their area. Failing rows are
recorded in the read's :class:`geo.validate.Problems`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo import validate as v
from geo.coords import looks_projected
from geo.crs import CrsSpec, area_of_use_mask, geometries_to_wgs84, parse_crs, valid_range_mask
from geo.errors import InputError
from geo.layers import LayerSpec

__all__ = ["check_geometry", "choose_crs", "coordinate_columns", "table_geometry"]

_LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "point_x")
_LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "point_y")
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape", "几何")

_ALLOWED_TYPES = {
    "polygon": {"Polygon", "MultiPolygon"},
    "point": {"Point"},
    "point_or_polygon": {"Point", "Polygon", "MultiPolygon"},
}


def table_geometry(raw: pd.DataFrame, mapping: Mapping[str, str],
                   columns: Mapping[str, str | None], path: Path, problems: v.Problems
                   ) -> tuple[np.ndarray, CrsSpec | None, tuple[str, str] | None]:
    """Return the geometries of a table (lon/lat columns, or a WKT column) and a declared CRS.

    Parameters
    ----------
    raw
        The file's attribute table.
    mapping
        target -> source column given by the user (``lon``, ``lat``, ``wkt``).
    columns
        field -> column already used by a field (not taken as coordinates).
    path
        The file, for the errors.
    problems
        The read's problems (unparseable coordinates are rejected).

    Returns
    -------
    tuple
        One geometry (or None) per row, the CRS of a single ``SRID=`` prefix, if any, and the
        longitude and latitude columns (None for a WKT column).

    Raises
    ------
    geo.errors.InputError
        When a mapped column is missing or no coordinates can be found.
    """
    lon_col, lat_col, wkt_col = _coordinate_sources(raw, mapping, columns)
    for target in ("lon", "lat", "wkt"):
        if target in mapping and mapping[target] not in raw.columns:
            raise InputError(f"{path}: --field {target}={mapping[target]}: no such column; "
                             f"columns: {', '.join(map(str, raw.columns))}")
    n = len(raw)
    if wkt_col:
        text = v.clean_text(raw[wkt_col])
        srid = text.str.extract(r"^\s*SRID=(\d+)\s*;", expand=False)
        body = text.str.replace(r"^\s*SRID=\d+\s*;", "", regex=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            geoms = shapely.from_wkt(body.fillna("").to_numpy(dtype=object), on_invalid="ignore")
        geoms = np.asarray(geoms, dtype=object)
        geoms[body.isna().to_numpy()] = None
        bad = body.notna().to_numpy() & shapely.is_missing(geoms)
        problems.reject(bad, "geometry", f"column {wkt_col!r} is not valid WKT", raw[wkt_col])
        declared = None
        srids = srid.dropna().unique()
        if len(srids) == 1:
            declared = parse_crs(f"EPSG:{srids[0]}")
        return np.asarray(geoms, dtype=object), declared, None
    if not (lon_col and lat_col):
        raise InputError(
            f"{path}: no coordinates: expected longitude/latitude columns (lon/lng/longitude/x, "
            f"lat/latitude/y, 经度/纬度) or a WKT column; map them with --field lon=COL "
            f"--field lat=COL or --field wkt=COL. Columns: {', '.join(map(str, raw.columns))}")
    x = v.to_float(raw[lon_col], "lon", problems)
    y = v.to_float(raw[lat_col], "lat", problems)
    xa, ya = x.to_numpy(), y.to_numpy()
    both = ~np.isnan(xa) & ~np.isnan(ya)
    one = np.isnan(xa) ^ np.isnan(ya)
    problems.reject(one, "geometry", "only one of longitude/latitude is given")
    geoms = np.full(n, None, dtype=object)
    geoms[both] = shapely.points(xa[both], ya[both])
    return geoms, None, (str(lon_col), str(lat_col))


def coordinate_columns(raw: pd.DataFrame, mapping: Mapping[str, str],
                       columns: Mapping[str, str | None]) -> tuple[str, ...]:
    """Return the columns :func:`table_geometry` reads a table's geometry from, in file order.

    Parameters
    ----------
    raw, mapping, columns
        As for :func:`table_geometry` (call it first: it checks the mapped columns exist).

    Returns
    -------
    tuple of str
        The WKT column, or the longitude and latitude columns (in the order they appear in the
        file), or nothing when the table has no coordinates.
    """
    lon_col, lat_col, wkt_col = _coordinate_sources(raw, mapping, columns)
    used = [wkt_col] if wkt_col else [c for c in (lon_col, lat_col) if c]
    order = {str(c): i for i, c in enumerate(raw.columns)}
    return tuple(sorted(used, key=lambda c: order.get(c, len(order))))


def _coordinate_sources(raw: pd.DataFrame, mapping: Mapping[str, str],
                        columns: Mapping[str, str | None]
                        ) -> tuple[str | None, str | None, str | None]:
    """The longitude, latitude and WKT columns (WKT: when mapped, or with no lon/lat pair)."""
    used = {c for c in columns.values() if c}
    rest = raw.drop(columns=list(used), errors="ignore")
    lon_col = mapping.get("lon") or _find(rest, _LON_NAMES)
    lat_col = mapping.get("lat") or _find(rest, _LAT_NAMES)
    wkt_col = mapping.get("wkt") or (None if (lon_col and lat_col) else _find(raw, _WKT_NAMES))
    return lon_col, lat_col, wkt_col


def choose_crs(given: CrsSpec | None, declared: CrsSpec | None, geoms: np.ndarray,
               problems: v.Problems, path: Path, fmt: str) -> CrsSpec:
    """Return the CRS to read the coordinates in: given, else declared, else EPSG:4326.

    Parameters
    ----------
    given
        The CRS the user passed.
    declared
        The CRS the file declares.
    geoms
        The geometries (to warn when EPSG:4326 is assumed for projected-looking numbers).
    problems
        The read's problems (warnings are added).
    path
        The file, for the warnings.
    fmt
        Its format.

    Returns
    -------
    geo.crs.CrsSpec
    """
    if given is not None:
        if (declared is not None and given.kind == "pyproj" and declared.kind == "pyproj"
                and not given.crs.equals(declared.crs)
                and not (fmt == "geojson" and declared.crs.to_epsg() == 4326)):
            problems.warn(f"{path.name} declares {declared.text}; using {given.text} as given")
        return given
    if declared is not None:
        return declared
    coords = shapely.get_coordinates(geoms[~shapely.is_missing(geoms)])
    if len(coords) and looks_projected(coords[:, 0], coords[:, 1]):
        swapped = ("" if looks_projected(coords[:, 1], coords[:, 0]) else
                   ", or, if they are latitude first, --field lon=… --field lat=… with the "
                   "columns exchanged")
        problems.warn(f"{path.name} declares no CRS, so EPSG:4326 (longitude/latitude) is "
                      f"assumed, but its coordinates look projected (e.g. {coords[0, 0]:.1f}, "
                      f"{coords[0, 1]:.1f}); pass --crs EPSG:xxxx{swapped}")
    elif fmt != "csv":
        problems.warn(f"{path.name} declares no CRS; EPSG:4326 assumed (pass --crs otherwise)")
    return parse_crs("EPSG:4326")


def check_geometry(spec: LayerSpec, geoms: np.ndarray, crs: CrsSpec, out: pd.DataFrame,
                   problems: v.Problems, max_area_change: float) -> np.ndarray:
    """Validate geometries in their source CRS, convert them to EPSG:4326 and repair polygons.

    Parameters
    ----------
    spec
        The layer.
    geoms
        One geometry (or None) per row, in ``crs``.
    crs
        Their CRS (:func:`choose_crs`).
    out
        The canonical columns (incidents with a ``community_code`` may lack a geometry).
    problems
        The read's problems (rejections and warnings are added).
    max_area_change
        Largest relative area change accepted when repairing an invalid polygon.

    Returns
    -------
    numpy.ndarray
        Geometries in EPSG:4326 (None for rejected rows); polygons of a polygon layer as
        multipolygons.
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    ok = _present(spec, geoms, out, problems)
    types = _unwrap_multipoints(geoms, ok)
    allowed = _ALLOWED_TYPES[spec.geometry]
    wrong = ok & ~np.isin(types, list(allowed))
    problems.reject(wrong, "geometry",
                    f"expected {' or '.join(sorted(allowed))} geometry", types)
    ok &= ~wrong
    _reject_out_of_range(geoms, ok, crs, problems)
    result = _to_wgs84(geoms, ok, crs, problems)
    if spec.geometry in ("polygon", "point_or_polygon"):
        _repair_polygons(result, ok, problems, max_area_change)
    _warn_outside_area_of_use(result, ok, crs, problems)
    if spec.geometry == "polygon":
        sel = ok & np.array([g is not None and g.geom_type == "Polygon" for g in result])
        if sel.any():
            result[sel] = [shapely.MultiPolygon([g]) for g in result[sel]]
    return result


def _present(spec: LayerSpec, geoms: np.ndarray, out: pd.DataFrame,
             problems: v.Problems) -> np.ndarray:
    """Reject missing and empty geometries; flatten the others to 2-D (in place)."""
    n = len(geoms)
    missing = shapely.is_missing(geoms)
    allow_null = problems.rejected_for("geometry")
    if spec.name == "incidents":
        allow_null |= out["community_code"].notna().to_numpy()
    problems.reject(missing & ~allow_null, "geometry",
                    "geometry is missing" + (" (and no community_code)" if not
                                             spec.geometry_required else ""))
    present = ~missing
    empty = np.zeros(n, dtype=bool)
    empty[present] = shapely.is_empty(geoms[present])
    problems.reject(empty, "geometry", "geometry is empty")
    ok = present & ~empty
    geoms[ok] = shapely.force_2d(geoms[ok])
    return ok


#: Geometry type names by shapely type id, then "" for a missing geometry (id -1).
_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                        "MultiLineString", "MultiPolygon", "GeometryCollection", ""],
                       dtype=object)


def _unwrap_multipoints(geoms: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Geometry type names, after turning single-part multipoints into points (in place).

    Single-part multipoints are points written by tools that always write multi-types.
    """
    types = _TYPE_NAMES[shapely.get_type_id(geoms)]
    multi_pt = ok & (types == "MultiPoint")
    if multi_pt.any():
        parts = shapely.get_num_geometries(geoms[multi_pt])
        idx = np.flatnonzero(multi_pt)[parts == 1]
        geoms[idx] = shapely.get_geometry(geoms[idx], 0)
        types[idx] = "Point"
    return types


def _reject_out_of_range(geoms: np.ndarray, ok: np.ndarray, crs: CrsSpec,
                         problems: v.Problems) -> None:
    """Reject rows with a coordinate outside the valid range of the CRS (clears ``ok``)."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return
    coords, which = shapely.get_coordinates(geoms[idx], return_index=True)
    good = valid_range_mask(coords[:, 0], coords[:, 1], crs)
    bad_rows = np.unique(which[~good])
    if len(bad_rows):
        sample = {int(w): coords[which == w][0] for w in bad_rows[:1000]}
        reasons = [
            f"coordinates outside the valid range of {crs.text}"
            + (f" (e.g. {sample[int(w)][0]:.6g}, {sample[int(w)][1]:.6g})"
               if int(w) in sample else "")
            for w in bad_rows
        ]
        problems.reject_rows(idx[bad_rows], "geometry", reasons)
        ok[idx[bad_rows]] = False


def _to_wgs84(geoms: np.ndarray, ok: np.ndarray, crs: CrsSpec,
              problems: v.Problems) -> np.ndarray:
    """Convert the rows still ``ok`` to EPSG:4326, rejecting those that cannot be converted."""
    idx = np.flatnonzero(ok)
    result = np.full(len(geoms), None, dtype=object)
    if len(idx):
        converted = geometries_to_wgs84(geoms[idx], crs)
        result[idx] = converted
        c = shapely.get_coordinates(converted)
        if len(c) and not np.isfinite(c).all():
            fin = np.array([np.isfinite(shapely.get_coordinates(g)).all() for g in converted])
            problems.reject_rows(idx[~fin], "geometry",
                                 [f"coordinates cannot be converted from {crs.text}"] * int(
                                     (~fin).sum()))
            ok[idx[~fin]] = False
    return result


def _warn_outside_area_of_use(result: np.ndarray, ok: np.ndarray, crs: CrsSpec,
                              problems: v.Problems) -> None:
    kept = np.flatnonzero(ok & ~problems.bad)
    if len(kept):  # only rows that stay: a rejected bow-tie's centroid says nothing
        centre = shapely.centroid(result[kept])
        inside = area_of_use_mask(shapely.get_x(centre), shapely.get_y(centre), crs)
        outside = int((~inside).sum())
        if outside:
            problems.warn(f"{outside} rows lie outside the area of use of {crs.text} "
                          f"(kept; check the CRS)")


def _repair_polygons(geoms: np.ndarray, ok: np.ndarray, problems: v.Problems,
                     max_area_change: float) -> None:
    idx = np.flatnonzero(ok)
    if not len(idx):
        return
    polys = geoms[idx]
    is_poly = np.array([g.geom_type in ("Polygon", "MultiPolygon") for g in polys])
    invalid = np.zeros(len(idx), dtype=bool)
    invalid[is_poly] = ~shapely.is_valid(polys[is_poly])
    rows, reasons = [], []
    for j in np.flatnonzero(invalid):
        g = polys[j]
        why = shapely.is_valid_reason(g)
        fixed = shapely.make_valid(g)
        parts = [p for p in shapely.get_parts(fixed)
                 if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
        repaired = shapely.union_all(parts) if parts else None
        before, after = float(g.area), float(repaired.area) if repaired is not None else 0.0
        change = abs(after - before) / max(before, after) if max(before, after) > 0 else 1.0
        if repaired is None or repaired.is_empty or change >= max_area_change:
            rows.append(idx[j])
            reasons.append(f"invalid polygon ({why}); repair would change its area by "
                           f"{change:.2%} (limit {max_area_change:.2%})")
            ok[idx[j]] = False
        else:
            if repaired.geom_type == "GeometryCollection":
                repaired = shapely.MultiPolygon(list(shapely.get_parts(repaired)))
            geoms[idx[j]] = repaired
    if rows:
        problems.reject_rows(rows, "geometry", reasons)
    if invalid.any() and len(rows) < int(invalid.sum()):
        problems.warn(f"{int(invalid.sum()) - len(rows)} invalid polygons repaired with "
                      f"make_valid (area change < {max_area_change:.2%})")


def _find(raw: pd.DataFrame, names: Sequence[str]) -> str | None:
    lower = {str(c).strip().lower(): c for c in raw.columns}
    for n in names:
        if n.lower() in lower:
            return str(lower[n.lower()])
    return None
