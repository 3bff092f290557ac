"""China's offset coordinate systems: GCJ-02 and BD-09, to and from WGS84.

GCJ-02 (the "Mars" offset of Chinese web maps, 火星坐标) and BD-09 (Baidu's further offset of it,
百度坐标) are not in PROJ: they are not published geodetic systems but obfuscations of WGS84,
known only through the widely circulated forward formulas implemented here. They are
hand-written because the Python packages that carry them (eviltransform, coordtransform and
similar) work one point at a time in pure Python and invert with a single approximate step
that is off by up to metres; here the forward transforms are vectorised numpy, and the inverses
iterate on the forward functions until every point is within a stated tolerance in metres.
:func:`geo.crs.parse_crs` turns ``"gcj02"`` and ``"bd09"`` into CRSs that use these.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from geo.coords import BoolArray, FloatArray, coordinate_pair, nan_if_not_finite
from geo.errors import InputError

__all__ = [
    "CHINA_BOUNDS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

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
    x, y = coordinate_pair(lon, lat)
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
    return nan_if_not_finite(np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat))


def _gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    with np.errstate(invalid="ignore"):
        z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
        theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return nan_if_not_finite(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006)


def _bd09_to_gcj02_closed_form(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the published approximate inverse of BD-09 (the iteration's first guess)."""
    x = lon - 0.0065
    y = lat - 0.006
    with np.errstate(invalid="ignore"):
        z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
        theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return nan_if_not_finite(z * np.cos(theta), z * np.sin(theta))


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
    x, y = coordinate_pair(lon, lat)
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
    x, y = coordinate_pair(lon, lat)
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
    x, y = coordinate_pair(lon, lat)
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
    x, y = coordinate_pair(lon, lat)
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
    x, y = coordinate_pair(lon, lat)
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
    x, y = coordinate_pair(lon, lat)
    start = _gcj02_start(*_bd09_to_gcj02_closed_form(x, y))
    return _invert(_wgs84_to_bd09, x, y, *start, tol_m=tol_m, max_iter=max_iter)


# --- iterative inversion -----------------------------------------------------------------


def _metres_between(dlon_deg: FloatArray, dlat_deg: FloatArray, lat_deg: FloatArray) -> FloatArray:
    """Length in metres of a small lon/lat difference, with the ellipsoid's radii at ``lat``."""
    phi = np.radians(lat_deg)
    w = 1.0 - _WGS84_E2 * np.sin(phi) ** 2
    meridian_radius = _WGS84_A * (1.0 - _WGS84_E2) / w**1.5
    parallel_radius = _WGS84_A / np.sqrt(w) * np.cos(phi)
    return np.hypot(np.radians(dlon_deg) * parallel_radius, np.radians(dlat_deg) * meridian_radius)


def _check_tolerance(tol_m: float, max_iter: int) -> None:
    if not (isinstance(tol_m, int | float) and math.isfinite(tol_m) and tol_m > 0):
        raise InputError(f"tol_m must be a positive number of metres; got {tol_m!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise InputError(f"max_iter must be a positive integer; got {max_iter!r}")


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
