"""The one metric-CRS rule: which projected CRS in metres a computation works in.

Distances, areas, grids and buffers are computed in a projected CRS in metres, never in
degrees. Which one is decided here, once, so that every path (hot-spot grids, aggregates,
coverage, maps, space-time analysis) agrees:

1. the CRS the operator configured (``geo.metric_crs``), checked to be projected and in metres;
2. otherwise :func:`geo.crs.metric_crs_for` of the data: the CGCS2000 3° Gauss-Krüger zone in
   China (Beijing: EPSG:4548), the WGS84 UTM zone elsewhere, chosen from the median of the
   centres of the geometries' bounding boxes (a strided sample of large frames: the median of
   a sample picks the same zone).

The services apply rule 2 to the stored communities once per data version and pass the result
down explicitly, so a request's filters never change the grid; geo's functions, called on
their own, apply it to their main input.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

from geo.crs import metric_crs_for
from geo.errors import MissingDataError, ParameterError

__all__ = ["check_metric_crs", "choose_metric_crs", "metric_crs_of"]

_SAMPLE = 50_000
#: Geometries sampled by :func:`choose_metric_crs` (a strided sample of larger frames).
_CRS_SAMPLE = 100_000


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


def choose_metric_crs(
    *frames: gpd.GeoDataFrame | gpd.GeoSeries | None,
    metric_crs: Any = None,
) -> pyproj.CRS:
    """Return the metric CRS to work in: the one given, or the default for the data.

    The form of :func:`metric_crs_of` the coverage, protection and siting metrics use: the
    same rule, but it raises ``ValueError`` (not the domain errors) and samples up to 100,000
    geometries of a frame.

    Parameters
    ----------
    *frames
        The data (``None`` entries are skipped); the default is
        :func:`geo.crs.metric_crs_for` of the WGS84 centres of their geometries.
    metric_crs
        A CRS pyproj accepts (``4548``, ``"EPSG:32650"``, a ``pyproj.CRS``), or ``None``.

    Returns
    -------
    pyproj.CRS
        A projected CRS whose axes are in metres.

    Raises
    ------
    ValueError
        When ``metric_crs`` is not a CRS, is not projected or not in metres, or when there is no
        geometry to choose a default from.
    """
    if metric_crs is not None:
        try:
            crs = pyproj.CRS.from_user_input(metric_crs)
        except pyproj.exceptions.CRSError as exc:
            raise ValueError(f"metric_crs must be a CRS; got {metric_crs!r} ({exc})") from None
        units = {a.unit_name for a in crs.axis_info}
        if not crs.is_projected or not units <= {"metre", "meter"}:
            raise ValueError(
                f"metric_crs must be a projected CRS in metres; got {crs.to_string()} "
                f"(units: {', '.join(sorted(units)) or 'none'})"
            )
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
        raise ValueError("metric_crs: no geometry to choose a metric CRS from; pass metric_crs")
    return metric_crs_for(np.concatenate(lons), np.concatenate(lats))

