"""Render result frames as terminal tables, CSV, JSON and GeoJSON, with their provenance.

Shared by the command line and the HTTP API so that both print the same numbers the same way.
CSV is UTF-8 with a byte-order mark so that Excel opens Chinese text correctly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["FORMATS", "csv_text", "display_width", "is_people_count", "plain", "to_csv_bytes",
           "to_geojson", "to_json", "to_table"]

FORMATS = ("table", "csv", "json", "geojson")

_PEOPLE = re.compile(r"(^|_)(population|residents|households)(_|$)")
_NOT_A_COUNT = re.compile(r"(share|ratio|rate|per_|density|pct)")


def is_people_count(column: str) -> bool:
    """Whether a column holds a number of people (or households): shown as a whole number.

    Residents are placed on parts of communities, so covered and uncovered residents are
    estimates with fractions (14,148.343). Tables and maps show them rounded to whole people;
    JSON, GeoJSON and CSV keep full precision, and totals are computed from the unrounded
    values (rounding is for display only). Shares, rates and densities of people are not
    counts.

    Parameters
    ----------
    column
        A column name such as ``population`` or ``facility_uncovered_population``.

    Returns
    -------
    bool
    """
    return bool(_PEOPLE.search(column)) and not _NOT_A_COUNT.search(column)


def display_width(text: str) -> int:
    """Terminal columns a string takes (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _cell(v: Any, digits: int) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        if float(v).is_integer() and abs(float(v)) < 1e15:
            return f"{int(v):,}"
        return f"{float(v):,.{digits}f}"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, pd.Timestamp | dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    return str(v)


def to_table(frame: pd.DataFrame, *, columns: Sequence[str] | None = None,
             headers: Mapping[str, str] | None = None, digits: int = 2,
             max_rows: int | None = None) -> str:
    """Format a frame as an aligned text table (numbers right-aligned, CJK-aware).

    Parameters
    ----------
    frame
        Rows to print (the index is not printed: reset it first if it matters).
    columns
        Columns to print, in order (default: all but geometry).
    headers
        Display names of columns.
    digits
        Decimals for non-integral floats; columns of people (:func:`is_people_count`) are
        rounded to whole numbers.
    max_rows
        Print at most this many rows and say how many were left out.

    Returns
    -------
    str
    """
    cols = list(columns) if columns is not None else [
        c for c in frame.columns if c != "geometry"]
    headers = headers or {}
    shown = frame if max_rows is None else frame.head(max_rows)
    cells = [[_cell(v, 0 if is_people_count(str(c)) else digits) for v in shown[c].tolist()]
             for c in cols]
    numeric = [pd.api.types.is_numeric_dtype(shown[c]) and not pd.api.types.is_bool_dtype(
        shown[c]) for c in cols]
    names = [headers.get(c, c) for c in cols]
    widths = [max([display_width(n)] + [display_width(x) for x in col])
              for n, col in zip(names, cells, strict=True)]

    def pad(text: str, width: int, right: bool) -> str:
        space = " " * (width - display_width(text))
        return space + text if right else text + space

    lines = ["  ".join(pad(n, w, r) for n, w, r in zip(names, widths, numeric, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for i in range(len(shown)):
        lines.append("  ".join(pad(cells[j][i], widths[j], numeric[j])
                               for j in range(len(cols))).rstrip())
    if max_rows is not None and len(frame) > max_rows:
        lines.append(f"… {len(frame) - max_rows} more rows")
    return "\n".join(lines)


def plain(v: Any) -> Any:
    """A value as JSON can hold it (NaN -> None, numpy scalars -> Python, times ISO 8601)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating):
        return None if math.isnan(v) or math.isinf(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, Mapping):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple | np.ndarray):
        return [plain(x) for x in v]
    return v


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN -> null, timestamps ISO 8601), without geometry."""
    cols = [c for c in frame.columns if c != "geometry"]
    return [{c: plain(v) for c, v in zip(cols, row, strict=True)}
            for row in frame[cols].itertuples(index=False, name=None)]


def to_json(frame: pd.DataFrame, *, provenance: Mapping[str, Any] | None = None,
            key: str = "items") -> str:
    """Serialise rows and provenance as one JSON document ``{provenance, count, items}``."""
    doc = {"provenance": plain(dict(provenance or {})), "count": len(frame),
           key: records(frame)}
    return json.dumps(doc, ensure_ascii=False, indent=1)


def to_geojson(frame: gpd.GeoDataFrame, *, provenance: Mapping[str, Any] | None = None,
               precision: int = 7) -> str:
    """Serialise a GeoDataFrame as a GeoJSON FeatureCollection in EPSG:4326 (RFC 7946).

    Provenance goes into a foreign member ``pingan`` of the collection.

    Raises
    ------
    ValueError
        If the frame has no CRS.
    """
    if frame.crs is None:
        raise ValueError("frame has no CRS; cannot write GeoJSON")
    gdf = frame.to_crs("EPSG:4326") if not frame.crs.equals("EPSG:4326") else frame
    props = records(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)))
    # GEOS writes the geometries (vectorised; coordinates rounded to `precision` decimals,
    # 1e-7 degrees is about 1 cm); the features are joined as text around them.
    geoms = _geojson_ready(np.asarray(gdf.geometry.values, dtype=object))
    # include_z=None keeps each geometry's own dimension (shapely >= 2.1; the stubs lag).
    rounded = shapely.transform(geoms, lambda c: np.round(c, precision),
                                include_z=None)  # type: ignore[call-overload]
    texts: np.ndarray = shapely.to_geojson(rounded)
    parts = []
    for p, g in zip(props, texts, strict=True):
        parts.append('{"type":"Feature","properties":' + json.dumps(p, ensure_ascii=False)
                     + ',"geometry":' + (g if g is not None else "null") + "}")
    pingan = json.dumps(plain(dict(provenance or {})), ensure_ascii=False)
    return ('{"type":"FeatureCollection","features":[' + ",".join(parts)
            + '],"pingan":' + pingan + "}")


def _geojson_ready(geoms: np.ndarray) -> np.ndarray:
    """Geometries as GeoJSON can hold them (RFC 7946).

    Empty parts of multi-part geometries and collections are dropped; a geometry that is empty
    (GEOS would write an empty polygon as ``[[]]``) or has a non-finite x or y becomes ``None``
    (written as ``null``).
    """
    out = geoms.copy()
    present = ~shapely.is_missing(out)
    kind = shapely.get_type_id(out)
    multi = np.flatnonzero(present & (kind >= 4))
    if len(multi):
        parts, owner = shapely.get_parts(out[multi], return_index=True)
        fix = set(multi[np.unique(owner[shapely.is_empty(parts)])].tolist())
        fix |= set(multi[kind[multi] == 7].tolist())  # collections may nest empties deeper
        for row in sorted(fix):
            out[row] = _without_empty_parts(out[row])
    xy, owner = shapely.get_coordinates(out, return_index=True)
    out[np.unique(owner[~np.isfinite(xy).all(axis=1)])] = None
    out[~shapely.is_missing(out) & shapely.is_empty(out)] = None
    return out


def _without_empty_parts(geom: Any) -> Any:
    if geom is None or geom.is_empty:
        return None
    if not hasattr(geom, "geoms"):
        return geom
    kept = [p for p in (_without_empty_parts(g) for g in geom.geoms) if p is not None]
    return type(geom)(kept) if kept else None


#: First characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection
#: list, with the full-width forms a Chinese input method types).
_FORMULA_START = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: Characters that are dangerous as the very first character of a cell (not skipped as space).
_CONTROL_START = frozenset("\t\r\x00")
_PLAIN_NUMBER = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")


def csv_text(value: str) -> str:
    """Return a text cell as it may be written to CSV without a spreadsheet running it.

    A text that begins with a tab, carriage return or NUL, or whose first non-blank character is
    ``=``, ``+``, ``-`` or ``@`` (or their full-width forms), is prefixed with ``'``, which Excel
    and LibreOffice show as the start of a text. A text that is a plain number (``-1.96``) is
    left alone: a spreadsheet reads it as that number, not as a formula.

    Parameters
    ----------
    value
        The cell's text.

    Returns
    -------
    str
    """
    if not value:
        return value
    if value[0] in _CONTROL_START:
        return "'" + value
    first = value.lstrip()[:1]
    if first in _FORMULA_START and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _csv_cell(v: Any) -> Any:
    return csv_text(v) if isinstance(v, str) else v


def _csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell (and column name) passed through :func:`csv_text`."""
    out = frame.rename(columns=lambda c: csv_text(c) if isinstance(c, str) else c)
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        elif not (col.dtype == object or pd.api.types.is_string_dtype(col)):
            continue
        out.isetitem(i, col.map(_csv_cell, na_action="ignore").to_numpy(dtype=object))
    return out


def _comment_line(key: Any, value: Any) -> str:
    """One ``# key: value`` provenance line, on one line and with no formula in any of its cells.

    Spreadsheets split the line at commas; a piece that would start a formula is prefixed as
    :func:`csv_text` does.
    """
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    line = re.sub(r"[\r\n\x00]+", " ", f"# {key}: {text}")
    return ",".join(csv_text(piece) for piece in line.split(","))


def to_csv_bytes(frame: pd.DataFrame, *, provenance: Mapping[str, Any] | None = None,
                 bom: bool = True) -> bytes:
    """Serialise rows as CSV: UTF-8 (with BOM by default), optional ``# key: value`` lines.

    Every CSV pingan writes goes through here. Fields are quoted as RFC 4180 says (a field
    holding a comma, quote or line break is quoted and its quotes doubled); text cells that a
    spreadsheet would run as a formula are prefixed with ``'`` (:func:`csv_text`), while numbers
    stay numbers, in every form (with or without BOM and comment lines). JSON and GeoJSON keep
    the original text. The comment lines are only written when ``provenance`` is given
    (``--csv-comments``); Excel shows them as the first rows, but they make the file unreadable
    as plain CSV, so pingan normally puts provenance beside the CSV (:mod:`api.provenance`).
    ``bom=False`` leaves out the byte-order mark (Excel on Chinese Windows needs it).
    """
    buf = io.StringIO()
    if provenance:
        for k, val in plain(dict(provenance)).items():
            buf.write(_comment_line(k, val) + "\n")
    cols = [c for c in frame.columns if c != "geometry"]
    _csv_safe_frame(pd.DataFrame(frame[cols])).to_csv(
        buf, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL, doublequote=True)
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")
