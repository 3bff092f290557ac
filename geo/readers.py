"""Read any of pingan's input layers from a user's file into a validated canonical frame.

Formats: GeoJSON, GeoPackage (choose the layer), Shapefile (zipped or not), GeoParquet and CSV
(longitude/latitude columns or a WKT column; plain Parquet is read like CSV). Field names are
mapped by the user (``code=社区代码``) or recognised from the usual names (:mod:`geo.layers`).
Coordinates in any CRS pyproj knows, or GCJ-02/BD-09, are converted to EPSG:4326.

Every problem is collected before acting (:mod:`geo.validate`): the result holds the valid rows
and a report of every rejected row with its 1-based record number, field and reason. A reader
raises only on file-level problems (unreadable file, a required column missing), in strict mode
when any row is rejected, or when no usable row remains.

:func:`read_layer` runs the steps in order: open the file (:mod:`geo.sources`), map and convert
its columns (:mod:`geo.fields`), find, check and convert its geometries
(:mod:`geo.geometry_checks`), then keep the valid rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import validate as v
from geo.content_ids import content_ids
from geo.crs import CrsSpec, parse_crs
from geo.errors import InputError, ParameterError
from geo.fields import (
    apply_layer_rules,
    check_mapping_targets,
    compound_measures,
    convert_field,
    reject_duplicates,
    reject_over_length,
    resolve_columns,
)
from geo.geometry_checks import (
    check_geometry,
    choose_crs,
    coordinate_columns,
    table_geometry,
)
from geo.hints import SourcePoints
from geo.layers import LayerSpec, layer_spec
from geo.period import DEFAULT_TIMEZONE
from geo.sources import RawLayer, read_source

__all__ = [
    "FORMATS",
    "InputError",
    "ReadResult",
    "RejectedRowsError",
    "Rejection",
    "detect_format",
    "manifest_entries",
    "parse_field_mappings",
    "raise_if_unusable",
    "read_layer",
    "validate_source",
]

Rejection = v.Rejection

#: Formats by name, with the file suffixes that select them.
FORMATS: dict[str, tuple[str, ...]] = {
    "geojson": (".geojson", ".json"),
    "gpkg": (".gpkg",),
    "shapefile": (".shp", ".zip"),
    "parquet": (".parquet", ".geoparquet", ".pq"),
    "csv": (".csv", ".tsv", ".txt"),
}


class RejectedRowsError(InputError):
    """Rows were rejected in strict mode, or no usable row remains.

    Attributes
    ----------
    result
        The read result with every rejection, for reporting.
    """

    def __init__(self, message: str, result: ReadResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class ReadResult:
    """A validated layer read from one file.

    Attributes
    ----------
    layer
        Layer name.
    frame
        Valid rows with the canonical columns (:mod:`geo.layers`), a GeoDataFrame in EPSG:4326
        (a plain DataFrame for ``population``). The index is the 0-based record position in the
        file.
    rejections
        Every problem of every rejected row, sorted by row.
    warnings
        File-level warnings (nothing rejected because of them).
    rows_read
        Records in the file.
    path
        The file read.
    format
        Format name (a key of :data:`FORMATS`).
    source_crs
        The CRS the coordinates were read in (canonical text), ``None`` for tables.
    field_sources
        The file column feeding each canonical field.
    source_points
        For point layers, every record's point as written (rejected records included), for
        the loader's hints (:mod:`geo.hints`).
    """

    layer: str
    frame: pd.DataFrame
    rejections: tuple[Rejection, ...]
    warnings: tuple[str, ...]
    rows_read: int
    path: str
    format: str
    source_crs: str | None = None
    field_sources: Mapping[str, str] = field(default_factory=dict)
    source_points: SourcePoints | None = None

    @property
    def rows_rejected(self) -> int:
        """Number of distinct rejected rows."""
        return len({r.row for r in self.rejections})

    @property
    def rows_valid(self) -> int:
        """Number of rows in :attr:`frame`."""
        return len(self.frame)

    def rejections_frame(self) -> pd.DataFrame:
        """Return the rejections as a table (row, id, field, reason, value)."""
        return pd.DataFrame(
            [(r.row, r.record_id, r.field, r.reason, r.value) for r in self.rejections],
            columns=["row", "id", "field", "reason", "value"],
        )


def detect_format(path: str | Path) -> str:
    """Return the format name of a file from its suffix.

    Raises
    ------
    InputError
        If the suffix is not one pingan reads.
    """
    suffix = Path(path).suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    known = ", ".join(s for group in FORMATS.values() for s in group)
    raise InputError(f"{path}: unknown file type {suffix!r}; expected one of {known}")


def parse_field_mappings(items: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Parse ``target=source`` field mappings (``population=常住人口``).

    Parameters
    ----------
    items
        Strings ``target=source``, or a mapping already parsed.

    Returns
    -------
    dict
        target -> source column name.

    Raises
    ------
    ValueError
        If an item has no ``=``, an empty side, or a target mapped twice.
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k).strip(): str(val).strip() for k, val in items.items()}
    out: dict[str, str] = {}
    for item in items:
        target, sep, source = item.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise InputError(f"--field must look like target=source (e.g. code=社区代码); "
                             f"got {item!r}")
        if target in out:
            raise InputError(f"--field maps {target!r} twice ({out[target]!r} and {source!r})")
        out[target] = source
    return out


def read_layer(
    path: str | Path,
    layer: str,
    *,
    crs: str | int | CrsSpec | None = None,
    encoding: str | None = None,
    fields: Mapping[str, str] | Sequence[str] | None = None,
    gpkg_layer: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    strict: bool = False,
    max_area_change: float = 0.001,
    id_from_content: bool = False,
) -> ReadResult:
    """Read and validate one input layer from a file.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile (``.shp`` or zipped ``.zip``), GeoParquet or CSV file.
    layer
        ``communities``, ``population``, ``incidents``, ``devices``, ``compounds`` or
        ``facilities``.
    crs
        CRS of the coordinates (EPSG/ESRI code, PROJ string, ``gcj02`` or ``bd09``). Overrides
        what the file declares; a file that declares none and a CSV default to EPSG:4326.
    encoding
        Text encoding of the attributes (e.g. ``gbk`` for a Chinese shapefile without ``.cpg``).
        CSV files default to UTF-8 (with or without BOM) and fall back to GB18030 with a warning.
    fields
        ``target=source`` mappings, or a mapping target -> source. Targets are the layer's
        canonical fields, ``lon``/``lat``/``wkt`` for coordinates in tables, and (compounds)
        measure names for yes/no columns.
    gpkg_layer
        Layer inside a GeoPackage or a multi-layer file.
    timezone
        Time zone of naive timestamps (stored as UTC).
    strict
        Raise :class:`RejectedRowsError` if any row is rejected.
    max_area_change
        Largest relative area change accepted when repairing an invalid polygon with
        ``make_valid`` (default 0.1 %); larger changes reject the row.
    id_from_content
        Incidents only, for files without an id column: draw each row's id from its raw
        time, coordinates, category, address and community code and its occurrence among
        identical rows (:func:`geo.content_ids.content_ids`).

    Returns
    -------
    ReadResult

    Raises
    ------
    InputError
        File-level problem (unreadable, unknown format or CRS, required column missing, an id
        column with ``id_from_content``).
    RejectedRowsError
        Strict mode with rejected rows, or no valid row left.
    ValueError
        Bad parameter (unknown layer, mapping target, time zone, ``id_from_content`` for
        another layer).
    """
    spec = layer_spec(layer)
    if id_from_content:
        spec = _without_id_column(spec)
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    v.check_timezone(timezone)
    if not 0 <= max_area_change < 1:
        raise InputError(f"max_area_change must be in [0, 1); got {max_area_change!r}")
    mapping = parse_field_mappings(fields)
    check_mapping_targets(spec, mapping)
    crs_spec = parse_crs(crs) if crs is not None else None
    fmt = detect_format(path)

    source = read_source(path, fmt, encoding=encoding, gpkg_layer=gpkg_layer)
    result = validate_source(source, spec, path=path, fmt=fmt, mapping=mapping, crs=crs_spec,
                             timezone=timezone, max_area_change=max_area_change,
                             id_from_content=id_from_content)
    raise_if_unusable(result, strict=strict)
    return result


def validate_source(source: RawLayer, spec: LayerSpec, *, path: Path, fmt: str,
                    mapping: Mapping[str, str], crs: CrsSpec | None, timezone: str,
                    max_area_change: float = 0.001, id_from_content: bool = False,
                    duplicates: bool = True) -> ReadResult:
    """Validate a file's records as read (the steps of :func:`read_layer` after opening it).

    ``duplicates=False`` leaves repeated ids to the caller (a streaming load finds them
    across batches). Nothing is raised for rejected rows: see :func:`raise_if_unusable`.
    """
    n = len(source.table)
    problems = v.Problems(n)
    for w in source.warnings:
        problems.warn(w)
    if n == 0:
        raise InputError(f"{path}: the file has no records")
    try:
        columns = resolve_columns(spec, source.table, mapping, path)
    except InputError as exc:
        # A column that cannot be found is often one whose name was mis-decoded: the file's
        # warnings (the encoding hint) belong in the error.
        raise InputError("".join([str(exc), *(f"\nwarning: {w}" for w in source.warnings)])
                         ) from None
    if id_from_content and columns.get("id"):
        raise InputError(
            f"{path}: column {columns['id']!r} holds the ids; --id-from-content is for files "
            f"without an id column: load without it to keep the file's ids")
    out = _attributes(spec, source.table, columns, mapping, problems, timezone, duplicates)
    geoms: np.ndarray | None = None
    source_crs: str | None = None
    points: SourcePoints | None = None
    if spec.geometry != "none":
        geoms, use, points = _geometries(spec, source, mapping, columns, crs, out,
                                         problems, path, fmt, max_area_change)
        source_crs = use.text
        _warn_default_timezone(spec, columns, geoms, ~problems.bad, timezone, problems)
    if id_from_content:
        out["id"] = content_ids(_content_values(source, mapping, columns))
    keep = ~problems.bad
    ids = out[spec.id_field] if spec.id_field else None
    frame: pd.DataFrame
    if geoms is not None:
        frame = gpd.GeoDataFrame(out[keep], geometry=gpd.GeoSeries(geoms[keep],
                                 index=out.index[keep]), crs="EPSG:4326")
    else:
        frame = out[keep].copy()
    return ReadResult(spec.name, frame, tuple(problems.with_ids(ids)),
                      tuple(problems.warnings), n, str(path), fmt, source_crs,
                      {k: val for k, val in columns.items() if val}, points)


def _attributes(spec: LayerSpec, raw: pd.DataFrame, columns: dict[str, str | None],
                mapping: Mapping[str, str], problems: v.Problems,
                timezone: str, duplicates: bool = True) -> pd.DataFrame:
    """The canonical columns, converted and checked (rejections go to ``problems``)."""
    n = len(raw)
    out = pd.DataFrame(index=raw.index)
    for f in spec.fields:
        src = columns.get(f.name)
        col = raw[src] if src is not None else pd.Series([pd.NA] * n, index=raw.index)
        out[f.name] = convert_field(f, col, spec, problems, timezone, present=src is not None)
    if spec.name == "compounds":
        out["measures"] = compound_measures(raw, columns, mapping, problems)
    apply_layer_rules(spec, out, problems, timezone=timezone,
                      written={f: raw[c] for f, c in columns.items() if c is not None})
    reject_over_length(spec, out, problems)
    if spec.id_field and duplicates:
        reject_duplicates(out[spec.id_field], spec.id_field, problems)
    if spec.name == "population":
        reject_duplicates(out["code"].astype("string") + "/" + out["year"].astype("string"),
                          "code/year", problems)
    return out


def _geometries(spec: LayerSpec, source: RawLayer, mapping: Mapping[str, str],
                columns: dict[str, str | None], given: CrsSpec | None, out: pd.DataFrame,
                problems: v.Problems, path: Path, fmt: str,
                max_area_change: float
                ) -> tuple[np.ndarray, CrsSpec, SourcePoints | None]:
    """The rows' geometries in EPSG:4326, their CRS, and (point layers) the points as written."""
    geoms, declared = source.geometries, source.declared_crs
    xy_columns = None
    if geoms is None:
        geoms, table_crs, xy_columns = table_geometry(source.table, mapping, columns, path,
                                                      problems)
        declared = declared or table_crs
    use = choose_crs(given, declared, geoms, problems, path, fmt)
    points = (SourcePoints.from_geometries(geoms, use, columns=xy_columns)
              if spec.geometry == "point" else None)
    return check_geometry(spec, geoms, use, out, problems, max_area_change), use, points


def _without_id_column(spec: LayerSpec) -> LayerSpec:
    """The incidents layer with its id drawn from content: no id column is needed."""
    if spec.name != "incidents":
        raise ParameterError(f"--id-from-content applies to incidents only; not to "
                             f"{spec.name!r}", parameter="id_from_content")
    fields = tuple(dataclasses.replace(f, required=False) if f.name == "id" else f
                   for f in spec.fields)
    return dataclasses.replace(spec, fields=fields)


def _content_values(source: RawLayer, mapping: Mapping[str, str],
                    columns: Mapping[str, str | None]) -> list[pd.Series]:
    """The raw values an incident's content id hashes, as in the file (before conversion).

    In this order: time; the coordinates (a table's longitude and latitude columns in file
    order, so a corrected lon/lat mapping keeps the ids, or its WKT column; a vector file's
    geometry as WKB in the file's CRS); category; address; community code. Status is left
    out: a record whose status changes keeps its id.
    """
    raw = source.table
    none = pd.Series([None] * len(raw), index=raw.index, dtype=object)

    def column(name: str) -> pd.Series:
        src = columns.get(name)
        return raw[src] if src else none

    if source.geometries is not None:
        geoms = source.geometries
        wkb = np.full(len(geoms), None, dtype=object)
        present = ~shapely.is_missing(geoms)
        wkb[present] = shapely.to_wkb(geoms[present], hex=True)
        coords = [pd.Series(wkb, index=raw.index)]
    else:
        coords = [raw[c] for c in coordinate_columns(raw, mapping, columns)]
    return [column("occurred_at"), *coords, column("category"), column("address"),
            column("community_code")]


def raise_if_unusable(result: ReadResult, *, strict: bool) -> None:
    """Raise :class:`RejectedRowsError` when strict mode meets a rejection, or no row is left."""
    rejections = result.rejections
    # When nothing loads, the warnings (a CRS that looks wrong, an encoding guess) are often
    # the explanation: they go into the error.
    hints = "".join(f"\nwarning: {w}" for w in result.warnings)
    path, n = result.path, result.rows_read
    if strict and result.rows_rejected:
        raise RejectedRowsError(
            f"{path}: {result.rows_rejected} of {n} rows rejected (strict mode: nothing loaded); "
            f"first: row {rejections[0].row}, {rejections[0].field}: {rejections[0].reason}"
            f"{hints}", result)
    if result.rows_valid == 0:
        first = (f"; first: row {rejections[0].row}, {rejections[0].field}: "
                 f"{rejections[0].reason}" if rejections else "")
        raise RejectedRowsError(f"{path}: no valid rows ({n} rejected){first}{hints}", result)


def _warn_default_timezone(spec: LayerSpec, columns: dict[str, str | None], geoms: np.ndarray,
                           keep: np.ndarray, timezone: str, problems: v.Problems) -> None:
    """Warn when times are read in the default zone (Beijing) but the data lie far from China."""
    if timezone != DEFAULT_TIMEZONE or not any(
            f.type == "datetime" and columns.get(f.name) for f in spec.fields):
        return
    located = geoms[keep & ~shapely.is_missing(geoms)]
    if not len(located):
        return
    centre = shapely.centroid(located)
    lon = float(np.median(shapely.get_x(centre)))
    lat = float(np.median(shapely.get_y(centre)))
    if not (73.0 <= lon <= 136.0 and 17.0 <= lat <= 54.0):
        problems.warn(f"times without an offset were read as local times in {timezone} (the "
                      f"default), but the data lie at about {lon:.2f}, {lat:.2f}, far from "
                      f"China: pass --timezone (e.g. Europe/Berlin) if they are local there")


def manifest_entries(manifest_path: str | Path) -> list[dict[str, Any]]:
    """Read a sample manifest (``sample.json``) and return its layer entries with full paths.

    Raises
    ------
    InputError
        If the manifest is missing or malformed.
    """
    p = Path(manifest_path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        entries = list(data["layers"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{p}: not a pingan sample manifest: {exc}") from None
    for e in entries:
        e["path"] = str(p.parent / e["file"])
    return entries
