"""Coordinate reference systems: parsing users' CRSs, China's offset systems, metric CRS choice.

pingan reads coordinates in whatever system a user's file is in and stores everything in
EPSG:4326 (WGS84 lon/lat). :func:`parse_crs` turns a user's CRS text into a :class:`CrsSpec`
that converts to and from WGS84. Everything that PROJ knows (EPSG and ESRI codes, PROJ strings,
WKT) goes through pyproj. Metric work happens in a projected CRS chosen by
:func:`metric_crs_for`.

GCJ-02 (the "Mars" offset of Chinese web maps, 火星坐标) and BD-09 (Baidu's further offset of it,
百度坐标) are not in PROJ: they are not published geodetic systems but obfuscations of WGS84,
known only through the widely circulated forward formulas implemented here. They are
hand-written because the Python packages that carry them (eviltransform, coordtransform and
similar) work one point at a time in pure Python and invert with a single approximate step
that is off by up to metres; here the forward transforms are vectorised numpy, and the inverses
iterate on the forward functions until every point is within a stated tolerance in metres.

Units and conventions
---------------------
- Longitude first everywhere (``x, y`` = ``lon, lat``); every pyproj transformer is built with
  ``always_xy=True``.
- Coordinates that cannot be converted come out as NaN, never as pyproj's ``inf``.
- Azimuths are clockwise from true north; see :func:`grid_convergence_deg` for turning one into
  a bearing on a projected grid.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError

__all__ = [
    "CHINA_BOUNDS",
    "WGS84",
    "CrsSpec",
    "area_of_use_mask",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "geometries_from_wgs84",
    "geometries_to_wgs84",
    "grid_bearing_deg",
    "grid_convergence_deg",
    "looks_projected",
    "metric_crs_for",
    "out_of_china",
    "parse_crs",
    "valid_range_mask",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

CrsKind = Literal["pyproj", "gcj02", "bd09"]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

WGS84 = pyproj.CRS.from_epsg(4326)
"""The storage CRS (EPSG:4326, used with longitude first)."""

CHINA_BOUNDS = (72.004, 0.8293, 137.8347, 55.8271)
"""``(west, south, east, north)`` in degrees: the rectangle inside which GCJ-02 offsets points.

It is the rectangle every published GCJ-02 implementation uses; it also stands for "China" when
choosing a metric CRS and as the area of use of GCJ-02 and BD-09.
"""

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formulas.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# Baidu's angular constant for the BD-09 offset.
_X_PI = math.pi * 3000.0 / 180.0
# WGS84 ellipsoid, for turning a residual in degrees into metres.
_WGS84_A = 6378137.0
_WGS84_E2 = 0.00669437999014

# CGCS2000 3-degree Gauss-Kruger CM zones (no zone prefix on the easting): EPSG:4534 is CM 75E,
# each next code 3 degrees further east, up to EPSG:4554 at CM 135E.
_GK3_FIRST_EPSG = 4534
_GK3_FIRST_CM = 75
_GK3_LAST_EPSG = 4554

_ROUND_TRIP_TOLERANCE_M = 1.0

_ALIASES: dict[str, tuple[CrsKind, str]] = {
    "gcj02": ("gcj02", "gcj02"),
    "火星坐标": ("gcj02", "gcj02"),
    "火星坐标系": ("gcj02", "gcj02"),
    "bd09": ("bd09", "bd09"),
    "bd09ll": ("bd09", "bd09"),
    "百度坐标": ("bd09", "bd09"),
    "百度坐标系": ("bd09", "bd09"),
    "wgs84": ("pyproj", "EPSG:4326"),
    "cgcs2000": ("pyproj", "EPSG:4490"),
}
_ALIAS_SEPARATORS = re.compile(r"[\s_\-]+")
_AUTHORITY_CODE = re.compile(r"^([A-Za-z]+)\s*:\s*(\w+)$")


# --------------------------------------------------------------------------------------------
# Array helpers
# --------------------------------------------------------------------------------------------


def _as_float(values: ArrayLike, name: str) -> FloatArray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numbers; got {values!r}") from exc


def _as_pair(
    x: ArrayLike, y: ArrayLike, names: tuple[str, str] = ("lon", "lat")
) -> tuple[FloatArray, FloatArray]:
    """Return ``x`` and ``y`` as float arrays of one broadcast shape (read-only views)."""
    xa = _as_float(x, names[0])
    ya = _as_float(y, names[1])
    try:
        xb, yb = np.broadcast_arrays(xa, ya)
    except ValueError as exc:
        raise ValueError(
            f"{names[0]} and {names[1]} must have matching shapes; got {xa.shape} and {ya.shape}"
        ) from exc
    return xb, yb


def _nan_if_not_finite(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Make both coordinates NaN wherever either is NaN or infinite."""
    bad = ~(np.isfinite(x) & np.isfinite(y))
    return np.where(bad, np.nan, x), np.where(bad, np.nan, y)


def _metres_between(dlon_deg: FloatArray, dlat_deg: FloatArray, lat_deg: FloatArray) -> FloatArray:
    """Length in metres of a small lon/lat difference, with the ellipsoid's radii at ``lat``."""
    phi = np.radians(lat_deg)
    w = 1.0 - _WGS84_E2 * np.sin(phi) ** 2
    meridian_radius = _WGS84_A * (1.0 - _WGS84_E2) / w**1.5
    parallel_radius = _WGS84_A / np.sqrt(w) * np.cos(phi)
    return np.hypot(np.radians(dlon_deg) * parallel_radius, np.radians(dlat_deg) * meridian_radius)


def _check_tolerance(tol_m: float, max_iter: int) -> None:
    if not (isinstance(tol_m, int | float) and math.isfinite(tol_m) and tol_m > 0):
        raise ValueError(f"tol_m must be a positive number of metres; got {tol_m!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer; got {max_iter!r}")


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
    start_lon: FloatArray,
    start_lat: FloatArray,
    *,
    tol_m: float,
    max_iter: int,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration, point by point.

    The offsets of GCJ-02 and BD-09 change by less than a hundredth of their size per unit of
    position, so ``x <- x - (forward(x) - target)`` is a strong contraction: each step divides
    the error by more than a hundred. A point stops once its step is shorter than ``tol_m``
    (its error is then about a hundredth of ``tol_m``); only the others are iterated again.
    Points with no solution (a thin band along the edge of :data:`CHINA_BOUNDS`, where the
    forward function jumps) keep their last iterate after ``max_iter`` steps.
    """
    shape = lon.shape
    target_x = np.ravel(lon)
    target_y = np.ravel(lat)
    x = np.array(start_lon, dtype=np.float64).ravel()
    y = np.array(start_lat, dtype=np.float64).ravel()
    active = np.flatnonzero(np.isfinite(target_x) & np.isfinite(target_y))
    for _ in range(max_iter):
        if active.size == 0:
            break
        fx, fy = forward(x[active], y[active])
        dx = fx - target_x[active]
        dy = fy - target_y[active]
        x[active] -= dx
        y[active] -= dy
        # The step just taken bounds the error before it; the error after it is a hundredth
        # of that, so a step under tol_m leaves the point well within tol_m.
        active = active[~(_metres_between(dx, dy, target_y[active]) < tol_m)]
    return x.reshape(shape), y.reshape(shape)


# --------------------------------------------------------------------------------------------
# GCJ-02 and BD-09
# --------------------------------------------------------------------------------------------


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> BoolArray:
    """Return which points lie outside the rectangle where GCJ-02 applies its offset.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (any array shape, broadcast together).

    Returns
    -------
    numpy.ndarray of bool
        True outside :data:`CHINA_BOUNDS` (and for NaN); GCJ-02 is the identity there.

    Raises
    ------
    ValueError
        When ``lon`` and ``lat`` cannot be broadcast together.
    """
    x, y = _as_pair(lon, lat)
    west, south, east, north = CHINA_BOUNDS
    inside = (x >= west) & (x <= east) & (y >= south) & (y <= north)
    return np.asarray(~inside)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset in degrees at WGS84 ``lon, lat`` (every point treated as inside China)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    # Two polynomial trends plus sinusoids; the constants are the published ones.
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    north_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    east_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    phi = np.radians(lat)
    w = 1.0 - _GCJ_EE * np.sin(phi) ** 2
    sqrt_w = np.sqrt(w)
    dlat = north_m * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (w * sqrt_w) * pi)
    dlon = east_m * 180.0 / (_GCJ_A / sqrt_w * np.cos(phi) * pi)
    return dlon, dlat


def _wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    inside = ~out_of_china(lon, lat)
    # Infinite inputs make sin() warn; they come out NaN below anyway.
    with np.errstate(invalid="ignore"):
        dlon, dlat = _gcj_offset(lon, lat)
    return _nan_if_not_finite(np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat))


def _gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    with np.errstate(invalid="ignore"):
        z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
        theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return _nan_if_not_finite(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006)


def _bd09_to_gcj02_closed_form(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the published approximate inverse of BD-09 (the iteration's first guess)."""
    x = lon - 0.0065
    y = lat - 0.006
    with np.errstate(invalid="ignore"):
        z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
        theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _nan_if_not_finite(z * np.cos(theta), z * np.sin(theta))


def _wgs84_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj02_to_bd09(*_wgs84_to_gcj02(lon, lat))


def _gcj02_start(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """First guess of the WGS84 point under a GCJ-02 point: subtract the offset found there."""
    glon, glat = _wgs84_to_gcj02(lon, lat)
    return 2.0 * lon - glon, 2.0 * lat - glat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 lon/lat to GCJ-02 (the offset of Chinese web maps such as AMap, Tencent).

    Parameters
    ----------
    lon, lat
        WGS84 longitudes and latitudes in degrees (any array shape, broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; unchanged outside :data:`CHINA_BOUNDS`; NaN stays NaN.

    Raises
    ------
    ValueError
        When ``lon`` and ``lat`` cannot be broadcast together.
    TypeError
        When they are not numbers.
    """
    x, y = _as_pair(lon, lat)
    return _wgs84_to_gcj02(x, y)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_m: float = 1e-3, max_iter: int = 30
) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 lon/lat to WGS84 by inverting :func:`wgs84_to_gcj02` iteratively.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees (any array shape, broadcast together).
    tol_m
        Stop iterating a point once its WGS84 estimate maps forward to within this many metres
        of the given GCJ-02 point.
    max_iter
        Most iterations per point (about four reach a millimetre).

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 ``(lon, lat)``; unchanged outside :data:`CHINA_BOUNDS`; NaN stays NaN.

    Raises
    ------
    ValueError
        When ``tol_m`` or ``max_iter`` is not positive, or ``lon`` and ``lat`` cannot be
        broadcast together.
    TypeError
        When ``lon`` or ``lat`` is not numbers.
    """
    _check_tolerance(tol_m, max_iter)
    x, y = _as_pair(lon, lat)
    return _invert(_wgs84_to_gcj02, x, y, *_gcj02_start(x, y), tol_m=tol_m, max_iter=max_iter)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 lon/lat to BD-09 (Baidu Maps' lon/lat).

    The BD-09 offset is applied everywhere, as Baidu's published formula does.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees (any array shape, broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``; NaN stays NaN.

    Raises
    ------
    ValueError
        When ``lon`` and ``lat`` cannot be broadcast together.
    TypeError
        When they are not numbers.
    """
    x, y = _as_pair(lon, lat)
    return _gcj02_to_bd09(x, y)


def bd09_to_gcj02(
    lon: ArrayLike, lat: ArrayLike, *, tol_m: float = 1e-3, max_iter: int = 30
) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 lon/lat to GCJ-02 by inverting :func:`gcj02_to_bd09` iteratively.

    The published closed-form inverse is off by up to a few decimetres; it is only the first
    guess here.

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees (any array shape, broadcast together).
    tol_m
        Stop iterating a point once its estimate maps forward to within this many metres.
    max_iter
        Most iterations per point.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; NaN stays NaN.

    Raises
    ------
    ValueError
        When ``tol_m`` or ``max_iter`` is not positive, or ``lon`` and ``lat`` cannot be
        broadcast together.
    TypeError
        When ``lon`` or ``lat`` is not numbers.
    """
    _check_tolerance(tol_m, max_iter)
    x, y = _as_pair(lon, lat)
    start = _bd09_to_gcj02_closed_form(x, y)
    return _invert(_gcj02_to_bd09, x, y, *start, tol_m=tol_m, max_iter=max_iter)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 lon/lat to BD-09 (GCJ-02, then Baidu's offset).

    Parameters
    ----------
    lon, lat
        WGS84 longitudes and latitudes in degrees (any array shape, broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``; NaN stays NaN.

    Raises
    ------
    ValueError
        When ``lon`` and ``lat`` cannot be broadcast together.
    TypeError
        When they are not numbers.
    """
    x, y = _as_pair(lon, lat)
    return _wgs84_to_bd09(x, y)


def bd09_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_m: float = 1e-3, max_iter: int = 30
) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 lon/lat to WGS84 by inverting :func:`wgs84_to_bd09` iteratively.

    The iteration runs on the whole WGS84 -> BD-09 chain, so ``tol_m`` bounds the end-to-end
    residual rather than adding up the errors of two separate inversions.

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees (any array shape, broadcast together).
    tol_m
        Stop iterating a point once its estimate maps forward to within this many metres.
    max_iter
        Most iterations per point.

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 ``(lon, lat)``; NaN stays NaN.

    Raises
    ------
    ValueError
        When ``tol_m`` or ``max_iter`` is not positive, or ``lon`` and ``lat`` cannot be
        broadcast together.
    TypeError
        When ``lon`` or ``lat`` is not numbers.
    """
    _check_tolerance(tol_m, max_iter)
    x, y = _as_pair(lon, lat)
    start = _gcj02_start(*_bd09_to_gcj02_closed_form(x, y))
    return _invert(_wgs84_to_bd09, x, y, *start, tol_m=tol_m, max_iter=max_iter)


# --------------------------------------------------------------------------------------------
# pyproj plumbing
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def _transformer(source_wkt: str, target_wkt: str) -> pyproj.Transformer:
    # Building a Transformer searches PROJ's database for operations: tens of milliseconds.
    # Sharing cached ones between threads is safe: pyproj >= 3.1 gives each thread its own
    # PROJ context behind the same Transformer object.
    return pyproj.Transformer.from_crs(
        pyproj.CRS.from_wkt(source_wkt), pyproj.CRS.from_wkt(target_wkt), always_xy=True
    )


@functools.lru_cache(maxsize=64)
def _proj(crs_wkt: str) -> pyproj.Proj:
    return pyproj.Proj(pyproj.CRS.from_wkt(crs_wkt))


def _wkt(crs: pyproj.CRS) -> str:
    return str(crs.to_wkt())


def _to_wgs84_transformer(crs: pyproj.CRS) -> pyproj.Transformer:
    return _transformer(_wkt(crs), _wkt(WGS84))


def _pyproj_transform(
    transformer: pyproj.Transformer,
    x: FloatArray,
    y: FloatArray,
    direction: TransformDirection = TransformDirection.FORWARD,
) -> tuple[FloatArray, FloatArray]:
    """Transform arrays of any shape; pyproj's ``inf`` for failed points stays ``inf``."""
    shape = x.shape
    tx, ty = transformer.transform(np.ravel(x).copy(), np.ravel(y).copy(), direction=direction)
    return (
        np.asarray(tx, dtype=np.float64).reshape(shape),
        np.asarray(ty, dtype=np.float64).reshape(shape),
    )


def _axis_unit_factor(crs: pyproj.CRS) -> float:
    """Size of the first axis' unit in SI units (metres, or radians for angles)."""
    return float(crs.axis_info[0].unit_conversion_factor)


def _lonlat_limits(crs: pyproj.CRS) -> tuple[float, float]:
    """Half-ranges of longitude and latitude in the units of a geographic CRS's axes."""
    degrees_per_unit = math.degrees(_axis_unit_factor(crs))
    return 180.0 / degrees_per_unit, 90.0 / degrees_per_unit


# --------------------------------------------------------------------------------------------
# CrsSpec and parse_crs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrsSpec:
    """A parsed input CRS that converts coordinates to and from WGS84.

    Attributes
    ----------
    text
        Canonical text: ``"EPSG:4548"``, ``"ESRI:102649"``, ``"gcj02"``, ``"bd09"``, or the PROJ
        string or WKT as given.
    kind
        ``"pyproj"`` for everything PROJ knows; ``"gcj02"`` or ``"bd09"`` for China's offset
        systems.
    crs
        The pyproj CRS; for GCJ-02 and BD-09 their underlying geographic CRS, EPSG:4326.
    """

    text: str
    kind: CrsKind
    crs: pyproj.CRS

    @property
    def is_geographic(self) -> bool:
        """Whether coordinates are longitude/latitude angles (always so for GCJ-02 and BD-09)."""
        return self.kind != "pyproj" or bool(self.crs.is_geographic)

    def to_wgs84(self, x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Convert coordinates in this CRS to WGS84 lon/lat.

        Parameters
        ----------
        x, y
            Coordinates in this CRS, easting/longitude first (any shape, broadcast together).

        Returns
        -------
        tuple of numpy.ndarray
            WGS84 ``(lon, lat)`` in degrees; NaN where the input is NaN or cannot be converted.

        Raises
        ------
        ValueError
            When ``x`` and ``y`` cannot be broadcast together.
        TypeError
            When they are not numbers.
        """
        xa, ya = _as_pair(x, y, ("x", "y"))
        if self.kind == "gcj02":
            return gcj02_to_wgs84(xa, ya)
        if self.kind == "bd09":
            return bd09_to_wgs84(xa, ya)
        return _nan_if_not_finite(*_pyproj_transform(_to_wgs84_transformer(self.crs), xa, ya))

    def from_wgs84(self, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Convert WGS84 lon/lat to coordinates in this CRS.

        Parameters
        ----------
        lon, lat
            WGS84 longitudes and latitudes in degrees (any shape, broadcast together).

        Returns
        -------
        tuple of numpy.ndarray
            ``(x, y)`` in this CRS, easting/longitude first; NaN where the input is NaN or
            cannot be converted.

        Raises
        ------
        ValueError
            When ``lon`` and ``lat`` cannot be broadcast together.
        TypeError
            When they are not numbers.
        """
        lon_a, lat_a = _as_pair(lon, lat)
        if self.kind == "gcj02":
            return _wgs84_to_gcj02(lon_a, lat_a)
        if self.kind == "bd09":
            return _wgs84_to_bd09(lon_a, lat_a)
        transformer = _to_wgs84_transformer(self.crs)
        return _nan_if_not_finite(
            *_pyproj_transform(transformer, lon_a, lat_a, TransformDirection.INVERSE)
        )


def _authority_text(crs: pyproj.CRS) -> str | None:
    authority = crs.to_authority(min_confidence=100)
    return None if authority is None else f"{authority[0]}:{authority[1]}"


def _checked_spec(text: str, crs: pyproj.CRS, given: object) -> CrsSpec:
    if not (crs.is_geographic or crs.is_projected):
        raise ValueError(
            f"crs: {given!r} is a {crs.type_name}; expected a geographic or projected "
            "(horizontal) CRS"
        )
    return CrsSpec(text=text, kind="pyproj", crs=crs)


def parse_crs(value: str | int | pyproj.CRS | CrsSpec) -> CrsSpec:
    """Parse a user's CRS into a :class:`CrsSpec`.

    Parameters
    ----------
    value
        One of: an EPSG code (``4548``, ``"4548"``, ``"EPSG:4548"``, ``"epsg:4548"``); any
        ``AUTHORITY:CODE`` PROJ knows (``"ESRI:102649"``); a PROJ string; WKT; a
        ``pyproj.CRS``; ``"gcj02"`` (also ``"GCJ-02"``, ``"火星坐标"``); ``"bd09"`` (also
        ``"BD-09"``, ``"百度坐标"``); ``"wgs84"`` (EPSG:4326); ``"cgcs2000"`` (EPSG:4490); or a
        ``CrsSpec`` (returned as it is). Names are case-insensitive and ignore spaces, hyphens
        and underscores.

    Returns
    -------
    CrsSpec
        The parsed CRS.

    Raises
    ------
    ValueError
        When the CRS is unknown, empty, or not horizontal (vertical, geocentric); the message
        names the value.
    TypeError
        When ``value`` is not a string, integer, ``pyproj.CRS`` or ``CrsSpec``.
    """
    if isinstance(value, CrsSpec):
        return value
    if isinstance(value, pyproj.CRS):
        return _checked_spec(_authority_text(value) or str(value.srs), value, value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(
            "crs must be a string, an EPSG integer code, a pyproj.CRS or a CrsSpec; "
            f"got {type(value).__name__}: {value!r}"
        )
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(
                f"crs: unknown coordinate reference system {value!r}; expected a positive EPSG code"
            )
        text = f"EPSG:{value}"
    else:
        text = value.strip()
        if not text:
            raise ValueError(f"crs: empty coordinate reference system {value!r}")
        alias = _ALIASES.get(_ALIAS_SEPARATORS.sub("", text).lower())
        if alias is not None and alias[0] != "pyproj":
            return CrsSpec(text=alias[1], kind=alias[0], crs=WGS84)
        if alias is not None:
            text = alias[1]
        elif text.isdigit():
            text = f"EPSG:{int(text)}"
        elif match := _AUTHORITY_CODE.fullmatch(text):
            text = f"{match[1].upper()}:{match[2]}"
    try:
        crs = pyproj.CRS.from_user_input(text)
    except CRSError as exc:
        raise ValueError(
            f"crs: unknown coordinate reference system {value!r}; expected an EPSG or ESRI "
            "code, a PROJ string, WKT, 'wgs84', 'cgcs2000', 'gcj02' or 'bd09'"
        ) from exc
    return _checked_spec(text, crs, value)


# --------------------------------------------------------------------------------------------
# Checking coordinates
# --------------------------------------------------------------------------------------------


def valid_range_mask(x: ArrayLike, y: ArrayLike, crs: CrsSpec) -> BoolArray:
    """Return which coordinates lie inside the valid numeric range of their CRS.

    Geographic CRSs (and GCJ-02, BD-09): finite, ``|lon| <= 180``, ``|lat| <= 90`` (in the
    CRS's angle unit). Projected CRSs: the point must convert to finite WGS84 lon/lat inside
    those bounds, and converting that back must land within 1 m of the point, which rejects
    numbers the projection's inverse folds onto the globe (a northing of 9e9 comes out as a
    latitude of -16 in a Gauss-Kruger zone).

    Parameters
    ----------
    x, y
        Coordinates in ``crs``, easting/longitude first (any shape, broadcast together).
    crs
        Their CRS.

    Returns
    -------
    numpy.ndarray of bool
        True where the coordinates are valid; NaN is invalid.

    Raises
    ------
    ValueError
        When ``x`` and ``y`` cannot be broadcast together.
    TypeError
        When they are not numbers, or ``crs`` is not a ``CrsSpec``.
    """
    if not isinstance(crs, CrsSpec):
        raise TypeError(f"crs must be a CrsSpec (see parse_crs); got {type(crs).__name__}")
    xa, ya = _as_pair(x, y, ("x", "y"))
    if crs.is_geographic:
        lon_limit, lat_limit = _lonlat_limits(crs.crs)
        with np.errstate(invalid="ignore"):
            return np.asarray((np.abs(xa) <= lon_limit) & (np.abs(ya) <= lat_limit))
    transformer = _to_wgs84_transformer(crs.crs)
    lon, lat = _pyproj_transform(transformer, xa, ya)
    with np.errstate(invalid="ignore"):
        on_globe = (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
    back_x, back_y = _pyproj_transform(transformer, lon, lat, TransformDirection.INVERSE)
    with np.errstate(invalid="ignore"):
        drift_m = np.hypot(back_x - xa, back_y - ya) * _axis_unit_factor(crs.crs)
        return np.asarray(on_globe & (drift_m <= _ROUND_TRIP_TOLERANCE_M))


def area_of_use_mask(lon: ArrayLike, lat: ArrayLike, crs: CrsSpec) -> BoolArray:
    """Return which WGS84 points lie inside the area of use a CRS advertises.

    Points outside are worth a warning (wrong CRS chosen, or a typo), not a rejection.

    Parameters
    ----------
    lon, lat
        WGS84 longitudes and latitudes in degrees (any shape, broadcast together).
    crs
        The CRS the points came in. GCJ-02 and BD-09 use :data:`CHINA_BOUNDS`; an area that
        crosses the antimeridian (west > east) wraps around it.

    Returns
    -------
    numpy.ndarray of bool
        True inside the area (bounds inclusive), False outside or for NaN; all True when the
        CRS advertises no area of use.

    Raises
    ------
    ValueError
        When ``lon`` and ``lat`` cannot be broadcast together.
    TypeError
        When they are not numbers, or ``crs`` is not a ``CrsSpec``.
    """
    if not isinstance(crs, CrsSpec):
        raise TypeError(f"crs must be a CrsSpec (see parse_crs); got {type(crs).__name__}")
    x, y = _as_pair(lon, lat)
    if crs.kind != "pyproj":
        west, south, east, north = CHINA_BOUNDS
    else:
        area = crs.crs.area_of_use
        if area is None:
            return np.ones(x.shape, dtype=bool)
        west, south, east, north = area.west, area.south, area.east, area.north
    in_lat = (y >= south) & (y <= north)
    in_lon = (x >= west) & (x <= east) if west <= east else (x >= west) | (x <= east)
    return np.asarray(in_lat & in_lon)


def looks_projected(x: ArrayLike, y: ArrayLike, *, min_share: float = 0.5) -> bool:
    """Return whether numbers cannot be lon/lat: most pairs have ``|x| > 180`` or ``|y| > 90``.

    Used to catch a projected file declared (or defaulted) as lon/lat. Small projected numbers
    (a local grid near its origin) pass for lon/lat; nothing can tell them apart.

    Parameters
    ----------
    x, y
        Coordinates (any shape, broadcast together); pairs with a NaN are ignored.
    min_share
        Share of the finite pairs that must be out of lon/lat range (strictly more than it).

    Returns
    -------
    bool
        True when more than ``min_share`` of the finite pairs are out of range; False when
        there is no finite pair.

    Raises
    ------
    ValueError
        When ``min_share`` is not in [0, 1), or ``x`` and ``y`` cannot be broadcast together.
    TypeError
        When ``x`` or ``y`` is not numbers.
    """
    if not (isinstance(min_share, int | float) and 0.0 <= min_share < 1.0):
        raise ValueError(f"min_share must be in [0, 1); got {min_share!r}")
    xa, ya = _as_pair(x, y, ("x", "y"))
    finite = np.isfinite(xa) & np.isfinite(ya)
    count = int(finite.sum())
    if count == 0:
        return False
    out_of_range = (np.abs(xa[finite]) > 180.0) | (np.abs(ya[finite]) > 90.0)
    return bool(out_of_range.sum() > min_share * count)


# --------------------------------------------------------------------------------------------
# Metric CRS and grid convergence
# --------------------------------------------------------------------------------------------


def metric_crs_for(lon: ArrayLike, lat: ArrayLike) -> pyproj.CRS:
    """Choose the default metric CRS of a data set from the median of its WGS84 points.

    Inside :data:`CHINA_BOUNDS`: the CGCS2000 3-degree Gauss-Kruger CM zone nearest the median
    longitude (EPSG:4534 = CM 75E ... EPSG:4554 = CM 135E; Beijing -> CM 117E = EPSG:4548), the
    projection Chinese surveying and planning data use. Elsewhere: the WGS84 UTM zone of the
    median point (EPSG:326zz north of the equator, 327zz south), without the Norway and
    Svalbard exceptions, which exist for map sheets, not for accuracy.

    Parameters
    ----------
    lon, lat
        WGS84 longitudes and latitudes in degrees (any shape, broadcast together); pairs with a
        NaN are ignored.

    Returns
    -------
    pyproj.CRS
        The projected CRS, in metres.

    Raises
    ------
    ValueError
        When there is no finite pair, or ``lon`` and ``lat`` cannot be broadcast together.
    TypeError
        When they are not numbers.
    """
    x, y = _as_pair(lon, lat)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        raise ValueError("lon, lat: no finite coordinate to choose a metric CRS from")
    median_lon = float(np.median(x[finite]))
    median_lat = float(np.median(y[finite]))
    if not out_of_china(median_lon, median_lat):
        # floor(v + 0.5) rounds halves up, unlike round(), so a zone edge picks the east zone.
        offset = math.floor((median_lon - _GK3_FIRST_CM) / 3.0 + 0.5)
        code = min(max(_GK3_FIRST_EPSG + offset, _GK3_FIRST_EPSG), _GK3_LAST_EPSG)
        return pyproj.CRS.from_epsg(code)
    zone = min(max(math.floor((median_lon + 180.0) / 6.0) + 1, 1), 60)
    return pyproj.CRS.from_epsg((32600 if median_lat >= 0 else 32700) + zone)


def grid_convergence_deg(lon: ArrayLike, lat: ArrayLike, crs: pyproj.CRS | CrsSpec) -> FloatArray:
    """Return the meridian (grid) convergence of a projected CRS at WGS84 points.

    The convergence γ is pyproj's ``Proj(crs).get_factors(...).meridian_convergence``: the
    angle from true north to grid north, positive when grid north lies clockwise (east) of
    true north. For transverse Mercator (Gauss-Kruger, UTM) γ ≈ Δλ·sin φ, so it is positive
    east of the central meridian in the northern hemisphere. Turn an azimuth from true north
    into a bearing on the grid with ``grid_bearing = true_azimuth - γ``
    (:func:`grid_bearing_deg`).

    Parameters
    ----------
    lon, lat
        WGS84 longitudes and latitudes in degrees (any shape, broadcast together); they are
        converted to the CRS's own geographic CRS first.
    crs
        The CRS; a geographic one (and GCJ-02, BD-09) has zero convergence by definition.

    Returns
    -------
    numpy.ndarray
        γ in degrees; NaN where the input is NaN or outside the projection's domain.

    Raises
    ------
    ValueError
        When ``lon`` and ``lat`` cannot be broadcast together.
    TypeError
        When they are not numbers, or ``crs`` is not a ``pyproj.CRS`` or ``CrsSpec``.
    """
    if isinstance(crs, CrsSpec):
        spec = crs
    elif isinstance(crs, pyproj.CRS):
        spec = CrsSpec(text=_authority_text(crs) or str(crs.srs), kind="pyproj", crs=crs)
    else:
        raise TypeError(f"crs must be a pyproj.CRS or a CrsSpec; got {type(crs).__name__}")
    x, y = _as_pair(lon, lat)
    if spec.is_geographic:
        return np.where(np.isfinite(x) & np.isfinite(y), 0.0, np.nan)
    geodetic = spec.crs.geodetic_crs
    if geodetic is None:
        base_lon, base_lat = x, y
    else:
        base_lon, base_lat = _pyproj_transform(_transformer(_wkt(WGS84), _wkt(geodetic)), x, y)
    factors = _proj(_wkt(spec.crs)).get_factors(
        np.ravel(base_lon), np.ravel(base_lat), errcheck=False
    )
    gamma = np.asarray(factors.meridian_convergence, dtype=np.float64).reshape(x.shape)
    return np.where(np.isfinite(gamma), gamma, np.nan)


def grid_bearing_deg(
    azimuth_deg: ArrayLike, lon: ArrayLike, lat: ArrayLike, crs: pyproj.CRS | CrsSpec
) -> FloatArray:
    """Turn azimuths from true north into bearings from grid north of a projected CRS.

    Parameters
    ----------
    azimuth_deg
        Azimuths in degrees, clockwise from true north (broadcast with ``lon``, ``lat``).
    lon, lat
        WGS84 positions where the azimuths are taken.
    crs
        The CRS whose grid the bearings refer to.

    Returns
    -------
    numpy.ndarray
        ``(azimuth_deg - grid_convergence_deg(lon, lat, crs)) % 360``, clockwise from grid
        north; NaN where any input is NaN.

    Raises
    ------
    ValueError
        When the inputs cannot be broadcast together.
    TypeError
        When they are not numbers, or ``crs`` is not a ``pyproj.CRS`` or ``CrsSpec``.
    """
    azimuth = _as_float(azimuth_deg, "azimuth_deg")
    gamma = grid_convergence_deg(lon, lat, crs)
    try:
        return np.asarray(np.mod(azimuth - gamma, 360.0))
    except ValueError as exc:
        raise ValueError(
            f"azimuth_deg must broadcast with lon and lat; got {azimuth.shape} and {gamma.shape}"
        ) from exc


# --------------------------------------------------------------------------------------------
# Geometries
# --------------------------------------------------------------------------------------------


def _geometry_array(geoms: Any, name: str) -> NDArray[np.object_]:
    array = np.asarray(geoms, dtype=object)
    if array.ndim == 0:
        array = array.reshape(1)
    if not bool(np.all(shapely.is_valid_input(array))):
        raise TypeError(f"{name} must hold shapely geometries or None; got {geoms!r}")
    return array


def _transform_geometries(
    geoms: Any,
    convert: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
) -> NDArray[np.object_]:
    array = _geometry_array(geoms, "geoms")

    def _xy(x: FloatArray, y: FloatArray, *z: FloatArray) -> tuple[FloatArray, ...]:
        return (*convert(x, y), *z)

    # types-shapely does not describe the interleaved=False form of the callback.
    transform: Any = shapely.transform
    return np.asarray(transform(array, _xy, include_z=None, interleaved=False))


def geometries_to_wgs84(geoms: Any, crs: CrsSpec | str | int | pyproj.CRS) -> NDArray[np.object_]:
    """Convert shapely geometries from a CRS to WGS84 lon/lat.

    Parameters
    ----------
    geoms
        Shapely geometries of any type (a numpy array, a GeoSeries or a list); None and empty
        geometries are kept as they are; Z values are carried through unchanged.
    crs
        Their CRS (anything :func:`parse_crs` accepts).

    Returns
    -------
    numpy.ndarray of object
        New geometries in WGS84, same shape as ``geoms`` (a GeoSeries gives a 1-D array, a
        single geometry a one-element array).
        Coordinates that cannot be converted become NaN.

    Raises
    ------
    TypeError
        When ``geoms`` holds something other than shapely geometries or None.
    ValueError
        When ``crs`` cannot be parsed.
    """
    return _transform_geometries(geoms, parse_crs(crs).to_wgs84)


def geometries_from_wgs84(geoms: Any, crs: CrsSpec | str | int | pyproj.CRS) -> NDArray[np.object_]:
    """Convert shapely geometries from WGS84 lon/lat to a CRS.

    For instance, shift overlays to GCJ-02 so they sit on Chinese web map tiles.

    Parameters
    ----------
    geoms
        Shapely geometries in WGS84 of any type (a numpy array, a GeoSeries or a list); None
        and empty geometries are kept as they are; Z values are carried through unchanged.
    crs
        The target CRS (anything :func:`parse_crs` accepts).

    Returns
    -------
    numpy.ndarray of object
        New geometries in ``crs``, same shape as ``geoms`` (a single geometry gives a
        one-element array). Coordinates that cannot be converted become NaN.

    Raises
    ------
    TypeError
        When ``geoms`` holds something other than shapely geometries or None.
    ValueError
        When ``crs`` cannot be parsed.
    """
    return _transform_geometries(geoms, parse_crs(crs).from_wgs84)
