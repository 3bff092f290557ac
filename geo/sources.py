"""Open a user's file: attribute table, geometries and declared CRS, before any validation.

CSV (separator sniffed; UTF-8 with or without BOM, falling back to GB18030 with a warning) and
plain Parquet give a table of text; GeoJSON, GeoPackage, Shapefile (zipped or not) go through
pyogrio and GeoParquet through geopandas, giving attributes, geometries and the declared CRS. A
shapefile read without ``--encoding`` whose column names or text look mis-decoded gets a warning
that names the encoding and shows the names decoded in it (:func:`geo.hints.misdecoding_hint`).
Problems that make the whole file unreadable raise :class:`geo.errors.InputError`.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyproj
import shapely

from geo.crs import CrsSpec, parse_crs
from geo.errors import InputError
from geo.hints import misdecoding_hint

__all__ = ["STREAMED_FORMATS", "RawLayer", "iter_csv", "iter_source", "parquet_rows", "read_source",
           "short_error"]

#: Formats read batch by batch for a streaming load (:func:`iter_source`). GeoJSON, GeoPackage
#: and shapefiles are read whole: GDAL's Arrow stream (pyogrio ``open_arrow``) turns stored
#: date-times into UTC where its row-by-row reader keeps their offsets or leaves them without
#: a zone, so batches would read some times differently from a whole-file read.
STREAMED_FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class RawLayer:
    """A file as read, before validation.

    Attributes
    ----------
    table
        The attribute columns, with a 0-based record index.
    geometries
        One shapely geometry (or None) per record; ``None`` for tables (CSV, plain Parquet),
        whose coordinates are in columns.
    declared_crs
        The CRS the file declares, if any.
    warnings
        File-level warnings (encoding guesses).
    """

    table: pd.DataFrame
    geometries: np.ndarray | None
    declared_crs: CrsSpec | None
    warnings: list[str]


def read_source(path: Path, fmt: str, *, encoding: str | None,
                gpkg_layer: str | None) -> RawLayer:
    """Read the attribute table, geometries (None for tables), declared CRS and warnings.

    Parameters
    ----------
    path
        The file.
    fmt
        Its format (a key of :data:`geo.readers.FORMATS`).
    encoding
        Text encoding of the attributes, or None to use the file's own or guess.
    gpkg_layer
        Layer inside a multi-layer file.

    Returns
    -------
    RawLayer

    Raises
    ------
    geo.errors.InputError
        When the file cannot be read, or the layer is ambiguous or missing.
    ValueError
        When ``encoding`` is not a known text encoding.
    """
    notes: list[str] = []
    if fmt == "csv":
        return RawLayer(_read_csv(path, encoding, notes), None, None, notes)
    if fmt == "parquet":
        return _read_parquet(path, notes)
    return _read_vector(path, fmt, encoding=encoding, gpkg_layer=gpkg_layer, notes=notes)


def iter_csv(path: Path, *, encoding: str | None, chunk_rows: int) -> Iterator[RawLayer]:
    """Read a CSV file in chunks of ``chunk_rows`` records, each with a 0-based index.

    The same parser and options as a whole-file read, so every value reads the same. Without
    ``encoding`` the file is checked to be UTF-8 (streamed, not held) and read as GB18030
    otherwise, with the same warning as a whole-file read (on the first chunk).

    Raises
    ------
    geo.errors.InputError
        As :func:`read_source` for a CSV file.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1; got {chunk_rows!r}")
    sep = "\t" if path.suffix.lower() == ".tsv" else _sniff_separator(path, encoding)
    guessed = encoding is None and not _is_utf8(path)
    enc = encoding or ("gb18030" if guessed else "utf-8-sig")
    with _csv_errors(path, enc):
        reader = pd.read_csv(path, encoding=enc, chunksize=chunk_rows, **_csv_options(sep))
        with reader:
            for i, chunk in enumerate(reader):
                notes: list[str] = []
                if i == 0 and guessed:
                    notes.append(_gb18030_note(path, chunk))
                chunk.index = pd.RangeIndex(len(chunk))
                yield RawLayer(chunk, None, None, notes)


def iter_source(path: Path, fmt: str, *, encoding: str | None,
                chunk_rows: int) -> Iterator[RawLayer]:
    """Read a CSV or (Geo)Parquet file in batches of at most ``chunk_rows`` records.

    Each batch reads exactly as the same records of a whole-file read (:func:`read_source`):
    the same CSV parser, and for Parquet the same Arrow-to-pandas conversion, row groups read
    one batch at a time. A GeoParquet file's geometries (WKB) and declared CRS are read from
    its ``geo`` metadata as geopandas reads them.

    Raises
    ------
    geo.errors.InputError
        As :func:`read_source`; also for a format not in :data:`STREAMED_FORMATS` and for a
        GeoParquet geometry column not encoded as WKB (read such a file whole).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1; got {chunk_rows!r}")
    if fmt == "csv":
        yield from iter_csv(path, encoding=encoding, chunk_rows=chunk_rows)
    elif fmt == "parquet":
        yield from _iter_parquet(path, chunk_rows)
    else:
        raise InputError(f"{path}: {fmt} files are read whole, not in batches "
                         f"(batches: {', '.join(STREAMED_FORMATS)})")


def parquet_rows(path: Path) -> int | None:
    """The number of records a Parquet file holds (from its footer; nothing else is read).

    ``None`` for a GeoParquet file whose geometries are not WKB: :func:`iter_source` cannot
    read it in batches, so it is read whole whatever its size.
    """
    try:
        source = pq.ParquetFile(path)
    except Exception as exc:
        raise InputError(f"{path}: cannot read Parquet: {short_error(exc)}") from None
    try:
        _geo_metadata(path, source.schema_arrow.metadata)
    except InputError:
        return None
    return int(source.metadata.num_rows)


def _iter_parquet(path: Path, chunk_rows: int) -> Iterator[RawLayer]:
    try:
        source = pq.ParquetFile(path)
    except Exception as exc:
        raise InputError(f"{path}: cannot read Parquet: {short_error(exc)}") from None
    geo = _geo_metadata(path, source.schema_arrow.metadata)
    declared = None
    if geo is not None:
        column = geo["columns"][geo["primary_column"]]
        # GeoParquet: no "crs" key means OGC:CRS84; an explicit null, an unknown CRS.
        crs = column.get("crs", "OGC:CRS84")
        if crs is not None:
            declared = parse_crs(pyproj.CRS.from_user_input(crs))
    try:
        for batch in source.iter_batches(batch_size=chunk_rows):
            if batch.num_rows == 0:
                continue
            table = batch.to_pandas()
            geoms = None
            if geo is not None:
                geoms = np.asarray(shapely.from_wkb(table.pop(geo["primary_column"])
                                                    .to_numpy()), dtype=object)
            yield RawLayer(table.reset_index(drop=True), geoms, declared, [])
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read Parquet: {short_error(exc)}") from None


def _geo_metadata(path: Path, metadata: dict[bytes, bytes] | None) -> dict[str, Any] | None:
    """A GeoParquet file's ``geo`` metadata (WKB-encoded primary column), or None for Parquet."""
    if not metadata or b"geo" not in metadata:
        return None
    geo = json.loads(metadata[b"geo"])
    primary = geo.get("primary_column")
    encoding = geo.get("columns", {}).get(primary, {}).get("encoding")
    if str(encoding).upper() != "WKB":
        raise InputError(f"{path}: GeoParquet column {primary!r} is encoded as {encoding!r}; "
                         f"batches read WKB only: load the file whole (batch_rows=0)")
    return dict(geo)


@contextlib.contextmanager
def _csv_errors(path: Path, encoding: str | None) -> Iterator[None]:
    """Turn pandas' errors reading a CSV file into :class:`InputError` naming the file."""
    try:
        yield
    except LookupError:
        raise InputError(f"encoding {encoding!r} is not a known text encoding") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot decode as {encoding}: {exc}") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: malformed CSV: {short_error(exc)}") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty") from None


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    with open(path, "rb") as fh:
        try:
            for block in iter(lambda: fh.read(1 << 24), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _csv_options(sep: str) -> dict[str, Any]:
    return {"sep": sep, "dtype": str, "keep_default_na": False, "na_values": [""],
            "skipinitialspace": True}


def _gb18030_note(path: Path, frame: pd.DataFrame) -> str:
    return (f"{path.name} is not UTF-8; read it as GB18030 (GBK), the usual "
            f"encoding of Chinese files. If its text is not Chinese, pass "
            f"--encoding (e.g. cp1252 for Western European, cp1251 for Cyrillic)"
            + _gb18030_sample(frame))


def short_error(exc: BaseException) -> str:
    """Return the first line of an exception's message (at most 300 characters).

    Parameters
    ----------
    exc
        The exception.

    Returns
    -------
    str
        The line, or the exception's class name when it has no message.
    """
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _read_parquet(path: Path, notes: list[str]) -> RawLayer:
    if _is_geoparquet(path):
        try:
            gdf = gpd.read_parquet(path)
        except Exception as exc:
            raise InputError(f"{path}: cannot read GeoParquet: {exc}") from None
        return _split_gdf(gdf, notes)
    try:
        return RawLayer(pd.read_parquet(path).reset_index(drop=True), None, None, notes)
    except Exception as exc:
        raise InputError(f"{path}: cannot read Parquet: {exc}") from None


def _read_vector(path: Path, fmt: str, *, encoding: str | None, gpkg_layer: str | None,
                 notes: list[str]) -> RawLayer:
    import pyogrio

    target = str(path)
    if fmt == "shapefile" and path.suffix.lower() == ".zip":
        _check_zip(path)
    try:
        layers = pyogrio.list_layers(target)
    except Exception as exc:
        raise InputError(f"{path}: cannot open as {fmt}: {short_error(exc)}") from None
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
        raise InputError(f"encoding {encoding!r} is not a known text encoding") from None
    except Exception as exc:
        raise InputError(f"{path}: cannot read: {short_error(exc)}") from None
    notes.extend(str(w.message) for w in caught if "encoding" in str(w.message).lower())
    if encoding is None and fmt == "shapefile":
        _warn_misdecoded(gdf, path, notes)
    return _split_gdf(gdf, notes)


def _warn_misdecoded(gdf: gpd.GeoDataFrame, path: Path, notes: list[str]) -> None:
    """Warn when names or text read as ISO-8859-1 (a shapefile with no .cpg) are GBK/UTF-8."""
    text_columns = [c for c in gdf.columns if c != gdf.geometry.name and (
        gdf[c].dtype == object or pd.api.types.is_string_dtype(gdf[c]))]
    hint = misdecoding_hint(list(gdf.columns),
                            ((str(c), gdf[c].dropna().head(2000)) for c in text_columns),
                            file_name=path.name)
    if hint:
        notes.append(hint)


def _split_gdf(gdf: gpd.GeoDataFrame, notes: list[str]) -> RawLayer:
    geom_name = gdf.geometry.name
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    declared = parse_crs(gdf.crs) if gdf.crs is not None else None
    attrs = pd.DataFrame(gdf.drop(columns=[geom_name])).reset_index(drop=True)
    return RawLayer(attrs, geoms, declared, notes)


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
        raise InputError(f"{path}: cannot read Parquet: {short_error(exc)}") from None
    return b"geo" in meta


def _read_csv(path: Path, encoding: str | None, notes: list[str]) -> pd.DataFrame:
    sep = "\t" if path.suffix.lower() == ".tsv" else _sniff_separator(path, encoding)
    opts = _csv_options(sep)
    with _csv_errors(path, encoding):
        if encoding:
            return pd.read_csv(path, encoding=encoding, **opts)
        try:
            return pd.read_csv(path, encoding="utf-8-sig", **opts)
        except UnicodeDecodeError:
            df = pd.read_csv(path, encoding="gb18030", **opts)
            notes.append(_gb18030_note(path, df))
            return df


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
