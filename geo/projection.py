"""The one metric-CRS rule: which projected CRS in metres a computation works in.

Distances, areas, grids and buffers are computed in a projected CRS in metres, never in
degrees. Which one is decided here, once, so that every path (hot-spot grids, aggregates,
coverage, maps, space-time analysis) agrees:

1. the CRS the operator configured (``geo.metric_crs``), checked to be projected and in metres;
2. otherwise :func:`metric_crs_for` of the data: the CGCS2000 3° Gauss-Krüger zone in
   China (Beijing: EPSG:4548), the WGS84 UTM zone elsewhere, chosen from the median of the
   centres of the geometries' bounding boxes (a strided sample of large frames: the median of
   a sample picks the same zone).

The services apply rule 2 to the stored communities once per data version and pass the result
down explicitly, so a request's filters never change the grid; geo's functions, called on
their own, apply it to their main input.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.china import out_of_china
from geo.coords import coordinate_pair
from geo.errors import MissingDataError, ParameterError

__all__ = ["check_metric_crs", "choose_metric_crs", "metric_crs_for", "metric_crs_of"]

_SAMPLE = 50_000
#: Geometries sampled by :func:`choose_metric_crs` (a strided sample of larger frames).
_CRS_SAMPLE = 100_000

# CGCS2000 3-degree Gauss-Kruger CM zones (no zone prefix on the easting): EPSG:4534 is CM 75E,
# each next code 3 degrees further east, up to EPSG:4554 at CM 135E.
_GK3_FIRST_EPSG = 4534
_GK3_FIRST_CM = 75
_GK3_LAST_EPSG = 4554


def check_metric_crs(crs: Any, *, parameter: str = "metric_crs") -> pyproj.CRS:
    """Return ``crs`` as a :class:`pyproj.CRS` after checking it is projected and in metres.

    Parameters
    ----------
    crs
        Anything pyproj accepts (``4548``, ``"EPSG:32650"``, WKT, a ``pyproj.CRS``).
    parameter
        The name to blame in the error.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    geo.errors.ParameterError
        If pyproj does not know it, or it is not projected, or its axes are not in metres.
    """
    try:
        out = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise ParameterError(f"{parameter} is not a CRS pyproj knows: {crs!r} ({exc})",
                             parameter=parameter) from None
    units = {a.unit_name for a in out.axis_info}
    if not out.is_projected or not units <= {"metre", "meter"}:
        raise ParameterError(
            f"{parameter} must be a projected CRS in metres; got {out.to_string()} "
            f"(units: {', '.join(sorted(units)) or 'none'})", parameter=parameter)
    return out


def metric_crs_of(*frames: gpd.GeoDataFrame | gpd.GeoSeries | None,
                  metric_crs: Any = None) -> pyproj.CRS:
    """Return the metric CRS for some data: the one given, else the default of the data.

    Parameters
    ----------
    *frames
        The data (``None`` and empty entries are skipped); each must carry a CRS.
    metric_crs
        A configured CRS, or ``None`` for the default of the data.

    Returns
    -------
    pyproj.CRS
        A projected CRS whose axes are in metres.

    Raises
    ------
    geo.errors.ParameterError
        When ``metric_crs`` is given and is not a projected CRS in metres, or a frame has no
        CRS.
    geo.errors.MissingDataError
        When there is no geometry to choose a default from.
    """
    if metric_crs is not None:
        return check_metric_crs(metric_crs)
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    for frame in frames:
        if frame is None or len(frame) == 0:
            continue
        if frame.crs is None:
            raise ParameterError("data without a CRS: every frame must carry one",
                                 parameter="crs")
        geoms = np.asarray(frame.geometry.array if isinstance(frame, gpd.GeoDataFrame)
                           else frame.array, dtype=object)
        step = max(1, len(geoms) // _SAMPLE)
        bounds = shapely.bounds(geoms[::step])
        x = (bounds[:, 0] + bounds[:, 2]) / 2.0
        y = (bounds[:, 1] + bounds[:, 3]) / 2.0
        ok = np.isfinite(x) & np.isfinite(y)
        if frame.crs.equals(pyproj.CRS.from_epsg(4326)):
            lon, lat = x[ok], y[ok]
        else:
            t = pyproj.Transformer.from_crs(frame.crs, 4326, always_xy=True)
            lon, lat = t.transform(x[ok], y[ok])
        lons.append(np.asarray(lon, dtype=np.float64))
        lats.append(np.asarray(lat, dtype=np.float64))
    if not lons or not sum(len(v) for v in lons):
        raise MissingDataError("no geometry to choose a metric CRS from; load communities "
                               "or set geo.metric_crs")
    return metric_crs_for(np.concatenate(lons), np.concatenate(lats))


def metric_crs_for(lon: ArrayLike, lat: ArrayLike) -> pyproj.CRS:
    """Choose the default metric CRS of a data set from the median of its WGS84 points.

    Inside :data:`geo.china.CHINA_BOUNDS`: the CGCS2000 3-degree Gauss-Kruger CM zone nearest the
    median longitude (EPSG:4534 = CM 75E ... EPSG:4554 = CM 135E; Beijing -> CM 117E =
    EPSG:4548), the projection Chinese surveying and planning data use. Elsewhere: the WGS84
    UTM zone of the median point (EPSG:326zz north of the equator, 327zz south), without the
    Norway and Svalbard exceptions, which exist for map sheets, not for accuracy.

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
    x, y = coordinate_pair(lon, lat)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        raise ParameterError("lon, lat: no finite coordinate to choose a metric CRS from")
    median_lon = float(np.median(x[finite]))
    median_lat = float(np.median(y[finite]))
    if not out_of_china(median_lon, median_lat):
        # floor(v + 0.5) rounds halves up, unlike round(), so a zone edge picks the east zone.
        offset = math.floor((median_lon - _GK3_FIRST_CM) / 3.0 + 0.5)
        code = min(max(_GK3_FIRST_EPSG + offset, _GK3_FIRST_EPSG), _GK3_LAST_EPSG)
        return pyproj.CRS.from_epsg(code)
    zone = min(max(math.floor((median_lon + 180.0) / 6.0) + 1, 1), 60)
    return pyproj.CRS.from_epsg((32600 if median_lat >= 0 else 32700) + zone)


def choose_metric_crs(
    *frames: gpd.GeoDataFrame | gpd.GeoSeries | None,
    metric_crs: Any = None,
) -> pyproj.CRS:
    """Return the metric CRS to work in: the one given, or the default for the data.

    The form of :func:`metric_crs_of` the coverage, protection and siting metrics use: the
    same rule (:func:`metric_crs_for`), sampling up to 100,000 geometries of a frame.

    Parameters
    ----------
    *frames
        The data (``None`` entries are skipped); the default is
        :func:`metric_crs_for` of the WGS84 centres of their geometries.
    metric_crs
        A CRS pyproj accepts (``4548``, ``"EPSG:32650"``, a ``pyproj.CRS``), or ``None``.

    Returns
    -------
    pyproj.CRS
        A projected CRS whose axes are in metres.

    Raises
    ------
    geo.errors.ParameterError
        When ``metric_crs`` is not a CRS, is not projected or not in metres.
    geo.errors.MissingDataError
        When there is no geometry to choose a default from.
    """
    if metric_crs is not None:
        try:
            crs = pyproj.CRS.from_user_input(metric_crs)
        except pyproj.exceptions.CRSError as exc:
            raise ParameterError(f"metric_crs must be a CRS; got {metric_crs!r} ({exc})",
                                 parameter="metric_crs") from None
        units = {a.unit_name for a in crs.axis_info}
        if not crs.is_projected or not units <= {"metre", "meter"}:
            raise ParameterError(
                f"metric_crs must be a projected CRS in metres; got {crs.to_string()} "
                f"(units: {', '.join(sorted(units)) or 'none'})", parameter="metric_crs")
        return crs
    lons: list[NDArray[np.float64]] = []
    lats: list[NDArray[np.float64]] = []
    for frame in frames:
        if frame is None or len(frame) == 0:
            continue
        geoms = np.asarray(frame.geometry.array, dtype=object)
        # The zone depends on the median position only: a strided sample of a large frame
        # chooses it as well and keeps this cheap for a million points.
        step = max(1, len(geoms) // _CRS_SAMPLE)
        bounds = shapely.bounds(geoms[::step])
        x = (bounds[:, 0] + bounds[:, 2]) / 2.0
        y = (bounds[:, 1] + bounds[:, 3]) / 2.0
        ok = np.isfinite(x) & np.isfinite(y)
        to_wgs84 = pyproj.Transformer.from_crs(frame.crs, 4326, always_xy=True)
        lon, lat = to_wgs84.transform(x[ok], y[ok])
        lons.append(np.asarray(lon, dtype=np.float64))
        lats.append(np.asarray(lat, dtype=np.float64))
    if not lons or not sum(len(v) for v in lons):
        raise MissingDataError("metric_crs: no geometry to choose a metric CRS from; pass "
                               "metric_crs", parameter="metric_crs")
    return metric_crs_for(np.concatenate(lons), np.concatenate(lats))
