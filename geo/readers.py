"""Read any of pingan's input layers from a user's file into a validated canonical frame.

Formats: GeoJSON, GeoPackage (choose the layer), Shapefile (zipped or not), GeoParquet and CSV
(longitude/latitude columns or a WKT column; plain Parquet is read like CSV). Field names are
mapped by the user (``code=社区代码``) or recognised from the usual names (:mod:`geo.layers`).
Coordinates in any CRS pyproj knows, or GCJ-02/BD-09, are converted to EPSG:4326.

Every problem is collected before acting (:mod:`geo._validate`): the result holds the valid rows
and a report of every rejected row with its 1-based record number, field and reason. A reader
raises only on file-level problems (unreadable file, a required column missing), in strict mode
when any row is rejected, or when no usable row remains.
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely

from geo import _validate as v
from geo.coords import looks_projected
from geo.crs import (
    CrsSpec,
    area_of_use_mask,
    geometries_to_wgs84,
    parse_crs,
    valid_range_mask,
)
from geo.errors import InputError
from geo.layers import COMPOUND_MEASURES, LOCATION_PRECISIONS, Field, LayerSpec, layer_spec
from geo.period import DEFAULT_TIMEZONE

__all__ = [
    "FORMATS",
    "InputError",
    "ReadResult",
    "RejectedRowsError",
    "Rejection",
    "detect_format",
    "parse_field_mappings",
    "read_layer",
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

#: Extra mapping targets (besides a layer's canonical fields) that name geometry sources.
GEOMETRY_SOURCES = ("lon", "lat", "wkt")

_LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "point_x")
_LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "point_y")
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape", "几何")

_PRECISION_SYNONYMS = {"精确": "exact", "坐标": "exact", "地址": "address", "地址匹配": "address",
                       "质心": "centroid", "中心点": "centroid", "社区中心": "centroid"}
_STATUS_SYNONYMS = {"working": "working", "ok": "working", "normal": "working", "正常": "working",
                    "完好": "working", "在用": "working", "online": "working",
                    "faulty": "faulty", "fault": "faulty", "broken": "faulty", "故障": "faulty",
                    "损坏": "faulty", "离线": "faulty", "offline": "faulty"}
_DEVICE_KIND_SYNONYMS = {"枪机": "camera", "摄像机": "camera", "球机": "dome", "半球": "dome",
                         "云台": "ptz", "人脸": "face", "人脸识别": "face", "车牌": "plate",
                         "车牌识别": "plate", "报警": "alarm", "一键报警": "alarm",
                         "门禁": "access"}
_FACILITY_SYNONYMS = {"派出所": "police_station", "社区警务室": "police_office",
                      "警务室": "police_office", "社区服务站": "service_station",
                      "社区卫生服务站": "health_station", "卫生服务站": "health_station",
                      "社区卫生服务中心": "health_center", "卫生服务中心": "health_center",
                      "消防站": "fire_station"}
_MEASURE_SYNONYMS = {"围墙": "fence", "围栏": "fence", "门卫": "gate_guard", "保安": "gate_guard",
                     "防盗门": "anti_theft_doors", "照明": "lighting", "巡逻": "patrol",
                     "出入口监控": "cctv_entrances", "门禁": "access_control",
                     "入侵报警": "intrusion_alarm", "对讲": "intercom", "楼宇对讲": "intercom",
                     "车牌识别": "plate_recognition"}
_KNOWN_MEASURES = tuple(m for group in COMPOUND_MEASURES.values() for m in group)


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
            raise ValueError(f"--field must look like target=source (e.g. code=社区代码); "
                             f"got {item!r}")
        if target in out:
            raise ValueError(f"--field maps {target!r} twice ({out[target]!r} and {source!r})")
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

    Returns
    -------
    ReadResult

    Raises
    ------
    InputError
        File-level problem (unreadable, unknown format or CRS, required column missing).
    RejectedRowsError
        Strict mode with rejected rows, or no valid row left.
    ValueError
        Bad parameter (unknown layer, mapping target, time zone).
    """
    spec = layer_spec(layer)
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    v.check_timezone(timezone)
    if not 0 <= max_area_change < 1:
        raise ValueError(f"max_area_change must be in [0, 1); got {max_area_change!r}")
    mapping = parse_field_mappings(fields)
    _check_mapping_targets(spec, mapping)
    crs_spec = parse_crs(crs) if crs is not None else None
    fmt = detect_format(path)

    raw, geoms, declared, problems_warnings = _read_raw(path, fmt, encoding=encoding,
                                                        gpkg_layer=gpkg_layer)
    n = len(raw)
    problems = v.Problems(n)
    for w in problems_warnings:
        problems.warn(w)
    if n == 0:
        raise InputError(f"{path}: the file has no records")

    columns = _resolve_columns(spec, raw, mapping, path)
    out = pd.DataFrame(index=raw.index)
    for f in spec.fields:
        src = columns.get(f.name)
        col = raw[src] if src is not None else pd.Series([pd.NA] * n, index=raw.index)
        out[f.name] = _convert(f, col, spec, problems, timezone, present=src is not None)
    if spec.name == "compounds":
        out["measures"] = _measures(raw, columns, mapping, problems)
    _layer_rules(spec, out, problems)
    ids = out[spec.id_field] if spec.id_field else None
    if spec.id_field:
        _reject_duplicates(out[spec.id_field], spec.id_field, problems)
    if spec.name == "population":
        _reject_duplicates(out["code"].astype("string") + "/" + out["year"].astype("string"),
                           "code/year", problems)

    source_crs: str | None = None
    if spec.geometry != "none":
        if geoms is None:
            geoms, table_crs = _table_geometry(raw, mapping, columns, path, problems)
            declared = declared or table_crs
        use = _choose_crs(crs_spec, declared, geoms, problems, path, fmt)
        source_crs = use.text
        geoms = _check_geometry(spec, geoms, use, out, problems, max_area_change)
        _warn_default_timezone(spec, columns, geoms, ~problems.bad, timezone, problems)
    keep = ~problems.bad
    rejections = tuple(problems.with_ids(ids))
    frame: pd.DataFrame
    if spec.geometry != "none":
        assert geoms is not None
        frame = gpd.GeoDataFrame(out[keep], geometry=gpd.GeoSeries(geoms[keep],
                                 index=out.index[keep]), crs="EPSG:4326")
    else:
        frame = out[keep].copy()
    result = ReadResult(spec.name, frame, rejections, tuple(problems.warnings), n, str(path),
                        fmt, source_crs, {k: val for k, val in columns.items() if val})
    # When nothing loads, the warnings (a CRS that looks wrong, an encoding guess) are often
    # the explanation: they go into the error.
    hints = "".join(f"\nwarning: {w}" for w in problems.warnings)
    if strict and result.rows_rejected:
        raise RejectedRowsError(
            f"{path}: {result.rows_rejected} of {n} rows rejected (strict mode: nothing loaded); "
            f"first: row {rejections[0].row}, {rejections[0].field}: {rejections[0].reason}"
            f"{hints}", result)
    if result.rows_valid == 0:
        first = (f"; first: row {rejections[0].row}, {rejections[0].field}: "
                 f"{rejections[0].reason}" if rejections else "")
        raise RejectedRowsError(f"{path}: no valid rows ({n} rejected){first}{hints}", result)
    return result


# --- reading --------------------------------------------------------------------------------


def _read_raw(path: Path, fmt: str, *, encoding: str | None, gpkg_layer: str | None
              ) -> tuple[pd.DataFrame, np.ndarray | None, CrsSpec | None, list[str]]:
    """Return the attribute table, geometries (None for tables), declared CRS and warnings."""
    notes: list[str] = []
    if fmt == "csv":
        return _read_csv(path, encoding, notes), None, None, notes
    if fmt == "parquet":
        if _is_geoparquet(path):
            try:
                gdf = gpd.read_parquet(path)
            except Exception as exc:
                raise InputError(f"{path}: cannot read GeoParquet: {exc}") from None
            return _split_gdf(gdf, notes)
        try:
            return pd.read_parquet(path).reset_index(drop=True), None, None, notes
        except Exception as exc:
            raise InputError(f"{path}: cannot read Parquet: {exc}") from None
    import pyogrio

    target = str(path)
    if fmt == "shapefile" and path.suffix.lower() == ".zip":
        _check_zip(path)
    try:
        layers = pyogrio.list_layers(target)
    except Exception as exc:
        raise InputError(f"{path}: cannot open as {fmt}: {_short(exc)}") from None
    names = [str(x) for x in layers[:, 0]]
    if gpkg_layer is None and len(names) > 1:
        raise InputError(f"{path} has {len(names)} layers ({', '.join(names)}); "
                         f"choose one with --layer")
    if gpkg_layer is not None and gpkg_layer not in names:
        raise InputError(f"{path} has no layer {gpkg_layer!r}; layers: {', '.join(names)}")
    kwargs: dict[str, Any] = {"layer": gpkg_layer}
    if encoding:
        kwargs["encoding"] = encoding
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gdf = pyogrio.read_dataframe(target, **kwargs)
    except LookupError:
        raise ValueError(f"encoding {encoding!r} is not a known text encoding") from None
    except Exception as exc:
        raise InputError(f"{path}: cannot read: {_short(exc)}") from None
    notes.extend(str(w.message) for w in caught if "encoding" in str(w.message).lower())
    if encoding is None and fmt == "shapefile":
        _warn_mojibake(gdf, notes)
    return _split_gdf(gdf, notes)


def _split_gdf(gdf: gpd.GeoDataFrame, notes: list[str]
               ) -> tuple[pd.DataFrame, np.ndarray, CrsSpec | None, list[str]]:
    geom_name = gdf.geometry.name
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    declared = parse_crs(gdf.crs) if gdf.crs is not None else None
    attrs = pd.DataFrame(gdf.drop(columns=[geom_name])).reset_index(drop=True)
    return attrs, geoms, declared, notes


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            shps = [n for n in zf.namelist() if n.lower().endswith(".shp")]
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a valid zip file") from None
    if not shps:
        raise InputError(f"{path}: the zip file holds no .shp file")


def _is_geoparquet(path: Path) -> bool:
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:
        raise InputError(f"{path}: cannot read Parquet: {_short(exc)}") from None
    return b"geo" in meta


def _read_csv(path: Path, encoding: str | None, notes: list[str]) -> pd.DataFrame:
    sep = "\t" if path.suffix.lower() == ".tsv" else _sniff_separator(path, encoding)
    opts: dict[str, Any] = {"sep": sep, "dtype": str, "keep_default_na": False,
                            "na_values": [""], "skipinitialspace": True}
    try:
        if encoding:
            return pd.read_csv(path, encoding=encoding, **opts)
        try:
            return pd.read_csv(path, encoding="utf-8-sig", **opts)
        except UnicodeDecodeError:
            df = pd.read_csv(path, encoding="gb18030", **opts)
            notes.append(f"{path.name} is not UTF-8; read it as GB18030 (GBK), the usual "
                         f"encoding of Chinese files. If its text is not Chinese, pass "
                         f"--encoding (e.g. cp1252 for Western European, cp1251 for Cyrillic)"
                         + _gb18030_sample(df))
            return df
    except LookupError:
        raise ValueError(f"encoding {encoding!r} is not a known text encoding") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot decode as {encoding}: {exc}") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: malformed CSV: {_short(exc)}") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty") from None


def _sniff_separator(path: Path, encoding: str | None) -> str:
    with open(path, "rb") as fh:
        head = fh.readline()
    for enc in (encoding or "utf-8-sig", "gb18030", "latin-1"):
        try:
            line = head.decode(enc)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    counts = {s: line.count(s) for s in (",", ";", "\t", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def _warn_mojibake(gdf: pd.DataFrame, notes: list[str]) -> None:
    """Warn when text decoded as Latin-1 looks like GBK/UTF-8 bytes (a shapefile with no .cpg)."""
    for col in gdf.columns:
        if gdf[col].dtype == object or pd.api.types.is_string_dtype(gdf[col]):
            sample = " ".join(str(s) for s in gdf[col].dropna().head(50))
            high = sum(1 for ch in sample if "\u0080" <= ch <= "\u00ff")
            cjk = sum(1 for ch in sample if "\u4e00" <= ch <= "\u9fff")
            if high > 4 and cjk == 0:
                notes.append(f"text in column {col!r} looks mis-decoded (e.g. {sample[:20]!r}); "
                             f"the file declares no encoding: pass --encoding gbk (or utf-8)")
                return


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


# --- columns ---------------------------------------------------------------------------------


def _check_mapping_targets(spec: LayerSpec, mapping: Mapping[str, str]) -> None:
    allowed = set(spec.columns)
    if spec.geometry != "none":
        allowed |= set(GEOMETRY_SOURCES)
    extra: set[str] = set()
    if spec.name == "compounds":
        extra = {t for t in mapping if t not in allowed}
    unknown = [t for t in mapping if t not in allowed and t not in extra]
    if unknown:
        raise ValueError(
            f"--field target {unknown[0]!r} is not a field of layer {spec.name!r}; "
            f"targets: {', '.join(sorted(allowed))}"
            + (" and measure names" if spec.name == "compounds" else "")
        )


def _resolve_columns(spec: LayerSpec, raw: pd.DataFrame, mapping: Mapping[str, str],
                     path: Path) -> dict[str, str | None]:
    """Map each canonical field to a source column (None when absent)."""
    lower = {str(c).strip().lower(): c for c in raw.columns}
    out: dict[str, str | None] = {}
    for f in spec.fields:
        if f.name in mapping:
            src = mapping[f.name]
            if src not in raw.columns:
                match = lower.get(src.lower())
                if match is None:
                    raise InputError(
                        f"{path}: --field {f.name}={src}: the file has no column {src!r}; "
                        f"columns: {', '.join(map(str, raw.columns))}")
                src = match
            out[f.name] = src
            continue
        found = None
        for name in (f.name, *f.aliases):
            if name.lower() in lower:
                found = lower[name.lower()]
                break
        out[f.name] = found
        if found is None and f.required:
            raise InputError(
                f"{path}: layer {spec.name!r} needs a {f.name!r} column ({f.description}); "
                f"looked for {', '.join((f.name, *f.aliases))}; columns: "
                f"{', '.join(map(str, raw.columns))}. Map one with --field {f.name}=COLUMN")
    return out


def _convert(f: Field, col: pd.Series, spec: LayerSpec, problems: v.Problems, timezone: str,
             *, present: bool) -> pd.Series:
    non_negative = f.name in ("population", "households")
    if f.type == "str":
        s = v.clean_code(col) if f.name.endswith("code") or f.name == "id" else v.clean_text(col)
        if f.required:
            problems.reject(s.isna().to_numpy(), f.name, f"{f.name} is required but empty")
        return s
    if f.type == "float":
        return v.to_float(col, f.name, problems, non_negative=non_negative, required=f.required)
    if f.type == "int":
        return v.to_int(col, f.name, problems, required=f.required)
    if f.type == "datetime":
        return v.to_instant(col, f.name, problems, timezone=timezone, required=f.required)
    if f.type == "date":
        return v.to_date(col, f.name, problems)
    if f.type == "measures":
        return col  # replaced by _measures
    raise AssertionError(f"unhandled field type {f.type}")


def _measures(raw: pd.DataFrame, columns: Mapping[str, str | None], mapping: Mapping[str, str],
              problems: v.Problems) -> pd.Series:
    """Build the sorted comma-separated measures list from a list column and yes/no columns."""
    n = len(raw)
    present: list[set[str]] = [set() for _ in range(n)]
    src = columns.get("measures")
    if src is not None:
        text = v.clean_text(raw[src]).fillna("")
        for i, cell in enumerate(text):
            for part in re.split(r"[,;，；、|/\s]+", cell):
                part = part.strip()
                if part:
                    present[i].add(_MEASURE_SYNONYMS.get(part, part.lower()))
    lower = {str(c).strip().lower(): c for c in raw.columns}
    flag_cols: dict[str, Any] = {}
    for name in _KNOWN_MEASURES:
        if name in lower:
            flag_cols[name] = lower[name]
    for zh, name in _MEASURE_SYNONYMS.items():
        if zh in raw.columns and name not in flag_cols:
            flag_cols[name] = zh
    canonical = {"id", "name", "kind", "households", "population", "measures", "removed_on",
                 *GEOMETRY_SOURCES}
    for target, source in mapping.items():
        if target in canonical:
            continue
        if source not in raw.columns:
            raise InputError(f"--field {target}={source}: the file has no column {source!r}; "
                             f"columns: {', '.join(map(str, raw.columns))}")
        flag_cols[target] = source
    for name, col in flag_cols.items():
        yes = v.to_bool(raw[col], name, problems).to_numpy()
        for j in np.flatnonzero(yes):
            present[j].add(name)
    return pd.Series([",".join(sorted(p)) for p in present], index=raw.index, dtype="string")


def _normalise(s: pd.Series, synonyms: Mapping[str, str]) -> pd.Series:
    """Lower-case codes, with Chinese synonyms replaced by their canonical names."""
    s = s.astype("string")
    out = s.str.lower()
    for word, canonical in synonyms.items():
        out = out.mask((s == word).fillna(False).astype(bool), canonical)
    return out


def _layer_rules(spec: LayerSpec, out: pd.DataFrame, problems: v.Problems) -> None:
    """Layer-specific value rules and normalisations, in place on the canonical frame."""
    if spec.name == "incidents":
        prec = _normalise(out["location_precision"], _PRECISION_SYNONYMS)
        bad = (prec.notna() & ~prec.isin(LOCATION_PRECISIONS)).to_numpy()
        problems.reject(bad, "location_precision",
                        f"location_precision must be one of {', '.join(LOCATION_PRECISIONS)}",
                        out["location_precision"])
        out["location_precision"] = prec.fillna("exact")
        # A record from the future is a typo (01/05/2052); kept, it would also move every
        # default period to its year.
        tomorrow = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
        problems.reject((out["occurred_at"] > tomorrow).fillna(False).to_numpy(dtype=bool),
                        "occurred_at", "occurred_at is in the future", out["occurred_at"])
        out["category"] = out["category"].str.lower()
        out["status"] = out["status"].str.lower()
    elif spec.name == "devices":
        out["kind"] = _normalise(out["kind"], _DEVICE_KIND_SYNONYMS)
        status = _normalise(out["status"], _STATUS_SYNONYMS)
        bad = (status.notna() & ~status.isin(["working", "faulty"])).to_numpy()
        problems.reject(bad, "status", "status must be working or faulty (正常/故障)",
                        out["status"])
        out["status"] = status.fillna("working")
        az = out["azimuth_deg"]
        out["azimuth_deg"] = az % 360.0
        fov = out["fov_deg"]
        problems.reject(((fov <= 0) | (fov > 360)).to_numpy(), "fov_deg",
                        "fov_deg must be in (0, 360]", fov)
        rng = out["range_m"]
        problems.reject((rng <= 0).to_numpy(), "range_m", "range_m must be > 0", rng)
        _date_order(out, "installed_on", "removed_on", problems)
    elif spec.name == "facilities":
        out["type"] = _normalise(out["type"], _FACILITY_SYNONYMS)
        _date_order(out, "opened_on", "closed_on", problems)
    elif spec.name == "compounds":
        out["kind"] = out["kind"].str.lower()
    elif spec.name == "population":
        year = out["year"]
        problems.reject(((year < 1900) | (year > 2200)).fillna(False).to_numpy(), "year",
                        "year must be a calendar year (1900-2200)", year)


def _date_order(out: pd.DataFrame, first: str, last: str, problems: v.Problems) -> None:
    bad = (out[first].notna() & out[last].notna() & (out[last] < out[first])).to_numpy()
    problems.reject(bad, last, f"{last} is before {first}", out[last])


def _reject_duplicates(ids: pd.Series, field_name: str, problems: v.Problems) -> None:
    dup = ids.notna() & ids.duplicated(keep=False)
    if not dup.any():
        return
    positions = pd.Series(np.arange(len(ids)) + 1, index=ids.index)[dup]
    groups = positions.groupby(ids[dup].astype(str)).agg(list)
    rows, reasons, values = [], [], []
    for key, rownums in groups.items():
        listed = ", ".join(map(str, rownums[:6])) + (" ..." if len(rownums) > 6 else "")
        for r in rownums:
            rows.append(int(r) - 1)
            reasons.append(f"{field_name} {key!r} appears {len(rownums)} times in the file "
                           f"(rows {listed}); ids must be unique")
            values.append(key)
    problems.reject_rows(rows, field_name, reasons, values)


# --- geometry --------------------------------------------------------------------------------


def _find(raw: pd.DataFrame, names: Sequence[str]) -> str | None:
    lower = {str(c).strip().lower(): c for c in raw.columns}
    for n in names:
        if n.lower() in lower:
            return str(lower[n.lower()])
    return None


def _table_geometry(raw: pd.DataFrame, mapping: Mapping[str, str],
                    columns: Mapping[str, str | None], path: Path, problems: v.Problems
                    ) -> tuple[np.ndarray, CrsSpec | None]:
    """Geometries of a table: lon/lat columns, or a WKT column."""
    used = {c for c in columns.values() if c}
    lon_col = mapping.get("lon") or _find(raw.drop(columns=list(used), errors="ignore"),
                                          _LON_NAMES)
    lat_col = mapping.get("lat") or _find(raw.drop(columns=list(used), errors="ignore"),
                                          _LAT_NAMES)
    wkt_col = mapping.get("wkt") or (None if (lon_col and lat_col) else _find(raw, _WKT_NAMES))
    for target in ("lon", "lat", "wkt"):
        if target in mapping and mapping[target] not in raw.columns:
            raise InputError(f"{path}: --field {target}={mapping[target]}: no such column; "
                             f"columns: {', '.join(map(str, raw.columns))}")
    n = len(raw)
    if wkt_col and not (lon_col and lat_col and "wkt" not in mapping):
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
        return np.asarray(geoms, dtype=object), declared
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
    return geoms, None


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


def _gb18030_sample(frame: pd.DataFrame) -> str:
    """A few words of a GB18030-decoded table that mix Latin letters and CJK characters.

    Latin-1 or Windows-1252 text decoded as GB18030 turns ``Müller`` into ``M黮ler``: showing
    such words makes a wrong guess obvious.
    """
    mixed: list[str] = []
    for col in [*map(str, frame.columns), *frame.astype("string").stack().head(2000)]:
        mixed += re.findall(r"[A-Za-z]+[\u4e00-\u9fff]+[A-Za-z]+", str(col))
        if len(mixed) >= 3:
            break
    return f"; decoded words such as {', '.join(mixed[:3])} suggest it is not" if mixed else ""


def _choose_crs(given: CrsSpec | None, declared: CrsSpec | None, geoms: np.ndarray,
                problems: v.Problems, path: Path, fmt: str) -> CrsSpec:
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
        problems.warn(f"{path.name} declares no CRS, so EPSG:4326 (longitude/latitude) is "
                      f"assumed, but its coordinates look projected (e.g. {coords[0, 0]:.1f}, "
                      f"{coords[0, 1]:.1f}); pass --crs EPSG:xxxx")
    elif fmt != "csv":
        problems.warn(f"{path.name} declares no CRS; EPSG:4326 assumed (pass --crs otherwise)")
    return parse_crs("EPSG:4326")


_ALLOWED_TYPES = {
    "polygon": {"Polygon", "MultiPolygon"},
    "point": {"Point"},
    "point_or_polygon": {"Point", "Polygon", "MultiPolygon"},
}


def _check_geometry(spec: LayerSpec, geoms: np.ndarray, crs: CrsSpec, out: pd.DataFrame,
                    problems: v.Problems, max_area_change: float) -> np.ndarray:
    """Validate geometries in their source CRS, convert them to EPSG:4326 and repair polygons."""
    n = len(geoms)
    geoms = np.asarray(geoms, dtype=object).copy()
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
    # Single-part multipoints are points written by tools that always write multi-types.
    types = np.array([g.geom_type if g is not None else "" for g in geoms], dtype=object)
    multi_pt = ok & (types == "MultiPoint")
    if multi_pt.any():
        parts = shapely.get_num_geometries(geoms[multi_pt])
        idx = np.flatnonzero(multi_pt)[parts == 1]
        geoms[idx] = shapely.get_geometry(geoms[idx], 0)
        types[idx] = "Point"
    allowed = _ALLOWED_TYPES[spec.geometry]
    wrong = ok & ~np.isin(types, list(allowed))
    problems.reject(wrong, "geometry",
                    f"expected {' or '.join(sorted(allowed))} geometry", types)
    ok &= ~wrong
    idx = np.flatnonzero(ok)
    if len(idx):
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
    idx = np.flatnonzero(ok)
    result = np.full(n, None, dtype=object)
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
            idx = idx[fin]
    if spec.geometry in ("polygon", "point_or_polygon"):
        _repair_polygons(result, ok, problems, max_area_change)
    kept = np.flatnonzero(ok & ~problems.bad)
    if len(kept):  # only rows that stay: a rejected bow-tie's centroid says nothing
        centre = shapely.centroid(result[kept])
        inside = area_of_use_mask(shapely.get_x(centre), shapely.get_y(centre), crs)
        outside = int((~inside).sum())
        if outside:
            problems.warn(f"{outside} rows lie outside the area of use of {crs.text} "
                          f"(kept; check the CRS)")
    if spec.geometry == "polygon":
        sel = ok & np.array([g is not None and g.geom_type == "Polygon" for g in result])
        if sel.any():
            result[sel] = [shapely.MultiPolygon([g]) for g in result[sel]]
    return result


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
