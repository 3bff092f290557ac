"""Hints for a load that went wrong in a recognisable way: what the user most likely forgot.

Three mistakes account for most failed first loads, and each leaves a signature that can be
tested before anything is stored:

- **Text read in the wrong encoding.** A shapefile without a ``.cpg`` file is read as
  ISO-8859-1, so GBK (or UTF-8) Chinese comes out as ``ÉçÇø´úÂë``. Such text encodes back to
  Latin-1 bytes that decode cleanly as GBK into Chinese characters (``社区代码``):
  :func:`misdecoding_hint` says so and names ``--encoding``.
- **Longitude and latitude swapped.** In China every row is then out of range (a latitude of
  116); elsewhere the points stay on the globe but land outside every community.
  :func:`swapped_axes_hint` fires when at least :data:`SWAP_MIN_SHARE` of the located rows are
  out of range or in no community and reading them with the axes swapped puts at least
  :data:`SWAP_INSIDE_SHARE` of those inside communities; it names ``--field lon=… --field
  lat=…`` with the file's columns exchanged.
- **GCJ-02/BD-09 read as WGS84, or the reverse.** Chinese web-map coordinates are offset by
  several hundred metres, so a share of the points falls just outside their community.
  :func:`offset_crs_hint` fires when more than :data:`OFFSET_MIN_SHARE` of the loaded points
  are in no community and reading them in another of WGS84/GCJ-02/BD-09 puts at least
  :data:`OFFSET_INSIDE_SHARE` of those inside communities; it names the ``--crs`` to pass.

The functions are pure: coordinates as written in the file (:class:`SourcePoints`, kept by the
reader), masks from the load, and the community polygons in, a hint (or None) out. The loader
(:mod:`api.loading`) adds the hints to the load's warnings and to the error when nothing loads.
Every hint starts with a short Chinese label and then says, in English, what was seen and what
to pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.assign import PolygonIndex
from geo.china import out_of_china
from geo.coords import BoolArray, FloatArray
from geo.crs import CrsSpec, parse_crs, valid_range_mask

__all__ = [
    "OFFSET_INSIDE_SHARE",
    "OFFSET_MIN_SHARE",
    "SWAP_INSIDE_SHARE",
    "SWAP_MIN_SHARE",
    "AreaIndex",
    "SourcePoints",
    "coordinate_hints",
    "misdecoding_hint",
    "offset_crs_hint",
    "swapped_axes_hint",
]

SWAP_MIN_SHARE = 0.5
"""Share of the located rows (out of range, or loaded) that must be out of range or in no
community before swapped axes are suspected (at least this share)."""

SWAP_INSIDE_SHARE = 0.9
"""Share of those rows that swapping must bring inside a community (at least this share)."""

OFFSET_MIN_SHARE = 0.05
"""Share of the loaded points in no community above which a wrong offset system is suspected
(strictly more than this share)."""

OFFSET_INSIDE_SHARE = 0.8
"""Share of those points that reading them in another system must bring inside a community
(at least this share)."""

# The encodings a Chinese file mis-read as ISO-8859-1 is most likely in, tried in this order:
# UTF-8 first because GBK bytes almost never form valid UTF-8, while UTF-8 bytes often form
# valid (meaningless) GBK.
_ENCODINGS = (("utf-8", "UTF-8", ""), ("gbk", "GBK", " (or gb18030)"),
              ("gb18030", "GB18030", ""))
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_VALUES_PER_COLUMN = 50
_SHOWN = 6


class AreaIndex(Protocol):
    """What the hints need of the community polygons: :meth:`geo.assign.PolygonIndex.assign`."""

    def assign(self, x: ArrayLike, y: ArrayLike) -> NDArray[Any]:
        """Position of the polygon containing each point, -1 for none."""
        ...


@dataclass
class _LazyIndex:
    """A :class:`geo.assign.PolygonIndex` built on first use: most loads need none."""

    polygons: NDArray[np.object_]
    _index: PolygonIndex | None = field(default=None, repr=False)

    def assign(self, x: ArrayLike, y: ArrayLike) -> NDArray[Any]:
        if self._index is None:
            self._index = PolygonIndex.build(self.polygons)
        return self._index.assign(x, y)


@dataclass(frozen=True)
class SourcePoints:
    """The point of each record as written in the file, before any check or conversion.

    Attributes
    ----------
    x, y
        One coordinate pair per record of the file, in :attr:`crs` (longitude/easting first);
        NaN where the record has no point.
    crs
        The CRS the coordinates were read in.
    lon_column, lat_column
        The table columns the coordinates came from; ``None`` for a file with geometries.
    """

    x: FloatArray
    y: FloatArray
    crs: CrsSpec
    lon_column: str | None = None
    lat_column: str | None = None

    @classmethod
    def from_geometries(cls, geoms: ArrayLike, crs: CrsSpec, *,
                        columns: tuple[str, str] | None = None) -> SourcePoints:
        """Take the point of each record (a single-part multipoint counts as its point).

        Parameters
        ----------
        geoms
            One geometry (or None) per record, in ``crs``.
        crs
            Their CRS.
        columns
            The longitude and latitude columns they were built from, if any.

        Returns
        -------
        SourcePoints
            NaN for records without a point (missing, empty, other geometry types).
        """
        g = np.asarray(geoms, dtype=object)
        x = np.full(g.size, np.nan)
        y = np.full(g.size, np.nan)
        ok = ~shapely.is_missing(g)
        ok[ok] = ~shapely.is_empty(g[ok]) & np.isin(shapely.get_type_id(g[ok]), (0, 4))
        ok[ok] = shapely.get_num_coordinates(g[ok]) == 1
        if ok.any():
            xy = shapely.get_coordinates(g[ok])
            x[ok], y[ok] = xy[:, 0], xy[:, 1]
        lon_column, lat_column = columns if columns is not None else (None, None)
        return cls(x, y, crs, lon_column, lat_column)

    @property
    def located(self) -> BoolArray:
        """Records with both coordinates."""
        return np.isfinite(self.x) & np.isfinite(self.y)


# ------------------------------------------------------------------------------------ encoding


def _misdecoded(text: str) -> bool:
    """Whether text decoded as ISO-8859-1 looks like the bytes of a multi-byte encoding.

    Chinese in GBK or UTF-8 read as Latin-1 is almost all characters U+0080–U+00FF; Western
    text read correctly (``Müller``, ``São Paulo``) has a few of them among ASCII letters.
    """
    if not text or max(map(ord, text)) > 0xFF:
        return False
    high = sum(1 for ch in text if ch >= "\u0080")
    letters = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return high >= 2 and high >= letters


def _decoded(text: str, encoding: str) -> str | None:
    """``text`` re-read in ``encoding`` when that gives Chinese characters, else None."""
    try:
        out = text.encode("latin-1").decode(encoding)
    except UnicodeError:
        return None
    return out if _CJK.search(out) else None


def _suspect_values(values: Iterable[tuple[str, Iterable[object]]]) -> list[tuple[str, str]]:
    """``(column, text)`` of the distinct values that look mis-decoded (50 per column)."""
    out: list[tuple[str, str]] = []
    for column, column_values in values:
        seen: set[str] = set()
        for value in column_values:
            text = str(value)
            if text not in seen and _misdecoded(text):
                out.append((column, text))
            seen.add(text)
            if len(seen) >= _VALUES_PER_COLUMN:
                break
    return out


def _shown_decoded(bad_names: list[str], bad_values: list[tuple[str, str]], encoding: str
                   ) -> str:
    """The column names (or, when they are plain, one value) as they read in ``encoding``."""
    if bad_names:
        shown = [(n, d) for n in bad_names if (d := _decoded(n, encoding)) is not None]
        shown = shown[:_SHOWN]
        return (f"its column names are {', '.join(d for _, d in shown)} (read now as "
                f"{', '.join(n for n, _ in shown)})")
    column, text, decoded = next((c, t, d) for c, t in bad_values
                                 if (d := _decoded(t, encoding)) is not None)
    return f"values such as {text!r} in column {column!r} read {decoded}"


def misdecoding_hint(names: Sequence[object], values: Iterable[tuple[str, Iterable[object]]], *,
                     file_name: str) -> str | None:
    """Say which encoding a file read as ISO-8859-1 is really in, when its text shows it.

    Text counts as mis-decoded when it is made mostly of characters U+0080–U+00FF (at least two,
    and no fewer than its ASCII letters) and its Latin-1 bytes decode, in UTF-8, GBK or GB18030
    (tried in that order), into text with Chinese characters. The first encoding that decodes at
    least half of the mis-decoded column names and values is named.

    Parameters
    ----------
    names
        The column names as read.
    values
        ``(column, values)`` pairs of the text columns as read; the first 50 distinct values of
        each are looked at.
    file_name
        The file, for the message.

    Returns
    -------
    str or None
        The hint, naming ``--encoding`` and showing the column names (or, when the names are
        plain ASCII, a value) decoded that way; None when nothing looks mis-decoded.
    """
    bad_names = [str(n) for n in names if _misdecoded(str(n))]
    bad_values = _suspect_values(values)
    suspects = bad_names + [text for _, text in bad_values]
    for encoding, label, alternative in _ENCODINGS:
        decoded = sum(_decoded(t, encoding) is not None for t in suspects)
        if suspects and decoded * 2 >= len(suspects):
            what = _shown_decoded(bad_names, bad_values, encoding)
            return (f"文字疑似乱码 (text looks mis-decoded): {file_name} was read as ISO-8859-1 "
                    f"because no .cpg file names its encoding; read as {label}, {what}: pass "
                    f"--encoding {encoding}{alternative}")
    return None


# --------------------------------------------------------------------------------- coordinates


def _inside(lon: FloatArray, lat: FloatArray, areas: AreaIndex) -> BoolArray:
    return np.asarray(areas.assign(lon, lat) >= 0)


def _read_in(x: FloatArray, y: FloatArray, crs: CrsSpec, areas: AreaIndex) -> BoolArray:
    """Which points, read in ``crs``, are valid there and fall inside an area."""
    if not len(x):
        return np.zeros(0, dtype=bool)
    valid = valid_range_mask(x, y, crs)
    lon, lat = crs.to_wgs84(np.where(valid, x, np.nan), np.where(valid, y, np.nan))
    return valid & _inside(lon, lat, areas)


def _share(part: int, whole: int, those: str = "") -> str:
    return f"{part:,} of {those}{whole:,} ({part / whole:.1%})"


def swapped_axes_hint(points: SourcePoints, *, loaded: ArrayLike, inside: ArrayLike,
                      areas: AreaIndex) -> str | None:
    """Say that longitude and latitude look swapped, when swapping them fixes most points.

    The rows looked at are the located ones that are out of the valid range of their CRS or were
    loaded. When at least :data:`SWAP_MIN_SHARE` of them are out of range or in no community,
    and reading those with x and y exchanged puts at least :data:`SWAP_INSIDE_SHARE` of them
    inside an area, the axes look swapped.

    Parameters
    ----------
    points
        The records' coordinates as written.
    loaded
        Records kept by the load (boolean, one per record).
    inside
        Records whose point lies inside an area (boolean, one per record).
    areas
        Index over the community polygons in EPSG:4326 (a :class:`geo.assign.PolygonIndex`).

    Returns
    -------
    str or None
        The hint, naming ``--field lon=… --field lat=…`` with the columns exchanged (for a file
        with geometries: to write x as longitude); None otherwise.
    """
    located = points.located
    kept = np.asarray(loaded, dtype=bool)
    # Loaded rows passed the range check: only the others need it.
    out_of_range = np.zeros(located.size, dtype=bool)
    rest = located & ~kept
    out_of_range[rest] = ~valid_range_mask(points.x[rest], points.y[rest], points.crs)
    considered = located & (out_of_range | kept)
    outside = considered & ~np.asarray(inside, dtype=bool)
    n, bad = int(considered.sum()), int(outside.sum())
    if n == 0 or bad < SWAP_MIN_SHARE * n:
        return None
    fixed = int(_read_in(points.y[outside], points.x[outside], points.crs, areas).sum())
    if fixed < SWAP_INSIDE_SHARE * bad:
        return None
    seen = (f"{_share(bad, n)} located rows are out of range or in no community; read with "
            f"longitude and latitude swapped, {_share(fixed, bad, 'those ')} fall inside "
            f"communities")
    if points.lon_column is not None and points.lat_column is not None:
        fix = f"pass --field lon={points.lat_column} --field lat={points.lon_column}"
    else:
        fix = "the points give latitude first: write them as x = longitude, y = latitude"
    return f"经纬度疑似颠倒 (longitude and latitude look swapped): {seen}: {fix}"


def _alternatives(crs: CrsSpec) -> list[tuple[str, str]]:
    """Other readings of lon/lat numbers in China: (CRS text, how to ask for it)."""
    options = [("gcj02", "--crs gcj02"), ("bd09", "--crs bd09"),
               ("EPSG:4326", f"--crs EPSG:4326 instead of --crs {crs.text}")]
    if crs.kind == "pyproj":
        return options[:2]
    return [o for o in options if o[0] != crs.kind]


def offset_crs_hint(points: SourcePoints, *, loaded: ArrayLike, inside: ArrayLike,
                    areas: AreaIndex) -> str | None:
    """Say that the points look like GCJ-02/BD-09 read as WGS84 (or the reverse).

    Only for longitude/latitude in China. When more than :data:`OFFSET_MIN_SHARE` of the loaded
    located points are in no community, and reading those in another of WGS84, GCJ-02 and
    BD-09 puts at least :data:`OFFSET_INSIDE_SHARE` of them inside an area, the system that
    brings in the most is named.

    Parameters
    ----------
    points
        The records' coordinates as written.
    loaded
        Records kept by the load (boolean, one per record).
    inside
        Records whose point lies inside an area (boolean, one per record).
    areas
        Index over the community polygons in EPSG:4326 (a :class:`geo.assign.PolygonIndex`).

    Returns
    -------
    str or None
        The hint, naming the ``--crs`` to pass; None otherwise.
    """
    if not points.crs.is_geographic:
        return None
    kept = points.located & np.asarray(loaded, dtype=bool)
    outside = kept & ~np.asarray(inside, dtype=bool)
    n, bad = int(kept.sum()), int(outside.sum())
    if n == 0 or bad <= OFFSET_MIN_SHARE * n:
        return None
    x, y = points.x[outside], points.y[outside]
    if out_of_china(x, y).all():
        return None
    best: tuple[int, str, str] | None = None
    for text, flag in _alternatives(points.crs):
        fixed = int(_read_in(x, y, parse_crs(text), areas).sum())
        if fixed >= OFFSET_INSIDE_SHARE * bad and (best is None or fixed > best[0]):
            best = (fixed, text, flag)
    if best is None:
        return None
    fixed, text, flag = best
    name = {"gcj02": "GCJ-02 (火星坐标)", "bd09": "BD-09 (百度坐标)"}.get(text, "WGS84")
    return (f"坐标系疑误 (coordinate system looks wrong): {_share(bad, n)} loaded points are "
            f"in no community; read as {name} instead of {points.crs.text}, "
            f"{_share(fixed, bad, 'those ')} fall inside communities: pass {flag}")


def coordinate_hints(points: SourcePoints, *, loaded: ArrayLike, areas: Sequence[object],
                     inside: ArrayLike | None = None) -> list[str]:
    """The coordinate hints of a load: swapped axes, else a wrong offset system.

    Parameters
    ----------
    points
        The records' coordinates as written.
    loaded
        Records kept by the load (boolean, one per record).
    areas
        The community polygons (EPSG:4326); no hint without any.
    inside
        Records whose point lies inside a community, when the load has assigned them; computed
        from ``areas`` (for the loaded records) when None.

    Returns
    -------
    list of str
        At most one hint.
    """
    polygons = np.asarray(areas, dtype=object)
    if not len(polygons) or not points.located.any():
        return []
    index = _LazyIndex(polygons)
    kept = np.asarray(loaded, dtype=bool)
    if inside is None:
        lon, lat = points.crs.to_wgs84(points.x, points.y)
        inside = kept & _inside(lon, lat, index)
    for hint in (swapped_axes_hint, offset_crs_hint):
        text = hint(points, loaded=kept, inside=inside, areas=index)
        if text is not None:
            return [text]
    return []
