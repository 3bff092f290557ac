"""Coordinate reference systems: parsing users' CRSs and converting coordinates to and from WGS84.

pingan reads coordinates in whatever system a user's file is in and stores everything in
EPSG:4326 (WGS84 lon/lat). :func:`parse_crs` turns a user's CRS text into a :class:`CrsSpec`
that converts to and from WGS84. Everything that PROJ knows (EPSG and ESRI codes, PROJ strings,
WKT) goes through pyproj; GCJ-02 and BD-09, which PROJ does not know, through :mod:`geo.china`.
Metric work happens in a projected CRS chosen by :mod:`geo.projection`.

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

from geo.china import CHINA_BOUNDS, bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from geo.coords import BoolArray, FloatArray, as_float_array, coordinate_pair, nan_if_not_finite
from geo.errors import InputError

__all__ = [
    "WGS84",
    "CrsSpec",
    "area_of_use_mask",
    "geometries_from_wgs84",
    "geometries_to_wgs84",
    "grid_bearing_deg",
    "grid_convergence_deg",
    "parse_crs",
    "valid_range_mask",
]

CrsKind = Literal["pyproj", "gcj02", "bd09"]

WGS84 = pyproj.CRS.from_epsg(4326)
"""The storage CRS (EPSG:4326, used with longitude first)."""

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
        xa, ya = coordinate_pair(x, y, ("x", "y"))
        if self.kind == "gcj02":
            return gcj02_to_wgs84(xa, ya)
        if self.kind == "bd09":
            return bd09_to_wgs84(xa, ya)
        return nan_if_not_finite(*_pyproj_transform(_to_wgs84_transformer(self.crs), xa, ya))

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
        lon_a, lat_a = coordinate_pair(lon, lat)
        if self.kind == "gcj02":
            return wgs84_to_gcj02(lon_a, lat_a)
        if self.kind == "bd09":
            return wgs84_to_bd09(lon_a, lat_a)
        transformer = _to_wgs84_transformer(self.crs)
        return nan_if_not_finite(
            *_pyproj_transform(transformer, lon_a, lat_a, TransformDirection.INVERSE)
        )


def _authority_text(crs: pyproj.CRS) -> str | None:
    authority = crs.to_authority(min_confidence=100)
    return None if authority is None else f"{authority[0]}:{authority[1]}"


def _checked_spec(text: str, crs: pyproj.CRS, given: object) -> CrsSpec:
    if not (crs.is_geographic or crs.is_projected):
        raise InputError(
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
            raise InputError(
                f"crs: unknown coordinate reference system {value!r}; expected a positive EPSG code"
            )
        text = f"EPSG:{value}"
    else:
        text = value.strip()
        if not text:
            raise InputError(f"crs: empty coordinate reference system {value!r}")
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
        raise InputError(
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
    xa, ya = coordinate_pair(x, y, ("x", "y"))
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
        The CRS the points came in. GCJ-02 and BD-09 use :data:`geo.china.CHINA_BOUNDS`; an
        area that crosses the antimeridian (west > east) wraps around it.

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
    x, y = coordinate_pair(lon, lat)
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
    x, y = coordinate_pair(lon, lat)
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
    azimuth = as_float_array(azimuth_deg, "azimuth_deg")
    gamma = grid_convergence_deg(lon, lat, crs)
    try:
        return np.asarray(np.mod(azimuth - gamma, 360.0))
    except ValueError as exc:
        raise InputError(
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
