"""Arrays out of frames: geometries, codes and names, and their projection to a metric CRS.

The vectorised metrics (:mod:`geo.coverage`, :mod:`geo.population`, :mod:`geo.nearest`,
:mod:`geo.cameras`, :mod:`geo.compounds`, :mod:`geo.siting`, :mod:`geo.network`) work on
numpy arrays of shapely geometries and coordinates rather than on frames. These helpers take
the arrays out of the frames, move them between CRSs and put points in polygons the same way
for every metric.
"""

from __future__ import annotations

import functools
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo.assign import assign_points
from geo.errors import ParameterError

__all__ = [
    "codes",
    "containing",
    "float_column",
    "frame_ids",
    "geoms",
    "names",
    "point_coordinates",
    "population",
    "present",
    "project",
    "project_xy",
    "ratio",
    "transform_xy",
    "xy",
]


def geoms(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> NDArray[np.object_]:
    """Return the geometries of a frame or series as an object array.

    Parameters
    ----------
    frame
        A GeoDataFrame (its active geometry column) or a GeoSeries.

    Returns
    -------
    numpy.ndarray of object
        Shapely geometries (``None`` where missing), in the frame's order.
    """
    return np.asarray(frame.geometry.array, dtype=object)


def codes(communities: gpd.GeoDataFrame) -> NDArray[np.object_]:
    """Return the communities' ``code`` column as an object array of text.

    Parameters
    ----------
    communities
        A frame with a ``code`` column.

    Returns
    -------
    numpy.ndarray of object
        One code per row (``pd.NA`` where missing).
    """
    return communities["code"].astype("string").to_numpy(dtype=object)


def names(communities: gpd.GeoDataFrame) -> NDArray[np.object_]:
    """Return the communities' ``name`` column as an object array, ``None`` without one.

    Parameters
    ----------
    communities
        A frame, with or without a ``name`` column.

    Returns
    -------
    numpy.ndarray of object
        One name per row; all ``None`` when the frame has no ``name`` column.
    """
    if "name" in communities.columns:
        return communities["name"].astype("string").to_numpy(dtype=object)
    return np.full(len(communities), None, dtype=object)


def population(communities: gpd.GeoDataFrame, name: str) -> NDArray[np.float64]:
    """Return the ``population`` column as floats after checking that none is negative.

    Parameters
    ----------
    communities
        A frame, with or without a ``population`` column.
    name
        The input's name for messages (``communities``).

    Returns
    -------
    numpy.ndarray of float
        Residents per row; NaN where missing, or everywhere without the column.

    Raises
    ------
    ValueError
        When the column is not numeric or a value is negative.
    """
    pop = float_column(communities, "population", name)
    if (pop < 0).any():
        raise ParameterError(f"{name}: population must be >= 0; got {float(np.nanmin(pop))}")
    return pop


def float_column(frame: pd.DataFrame, column: str, name: str) -> NDArray[np.float64]:
    """Return a numeric column as floats, NaN where missing or when the column is absent.

    Parameters
    ----------
    frame
        Any frame.
    column
        The column to read.
    name
        The input's name for messages.

    Returns
    -------
    numpy.ndarray of float

    Raises
    ------
    ValueError
        When the column holds values that are not numbers.
    """
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        return pd.to_numeric(frame[column]).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name}: {column} must be numeric; got {frame[column].dtype}") from None


def present(frame: pd.DataFrame, column: str) -> str | None:
    """Return ``column`` when the frame has it, else ``None`` (for optional date columns).

    Parameters
    ----------
    frame
        Any frame.
    column
        The column asked for.

    Returns
    -------
    str or None
    """
    return column if column in frame.columns else None


def frame_ids(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> NDArray[np.object_]:
    """Return the ids of a frame's rows: its ``id`` column as text, else its index as text.

    Parameters
    ----------
    frame
        A GeoDataFrame (with or without ``id``) or a GeoSeries.

    Returns
    -------
    numpy.ndarray of object
        One id per row.
    """
    if isinstance(frame, gpd.GeoDataFrame) and "id" in frame.columns:
        return frame["id"].astype("string").to_numpy(dtype=object)
    return np.array([str(i) for i in frame.index], dtype=object)


def containing(points: NDArray[np.object_], polygons: NDArray[np.object_]) -> NDArray[np.int64]:
    """Return the position of the polygon containing each point (the first one listed), or -1.

    :func:`geo.assign.assign_points` does the work, with its rule for boundary points (the
    polygon listed first among those touching the point): the rule incidents are assigned by
    when they are loaded.

    Parameters
    ----------
    points
        Point geometries (missing and empty ones get -1).
    polygons
        Polygons in the same CRS as the points.

    Returns
    -------
    numpy.ndarray of int64
        One polygon position per point, -1 where no polygon contains it.
    """
    if not len(points) or not len(polygons):
        return np.full(len(points), -1, dtype=np.int64)
    located = np.asarray(points, dtype=object).copy()
    located[shapely.is_empty(located)] = None  # GEOS has no coordinates for an empty point
    x = shapely.get_x(located)  # NaN where the point is missing
    y = shapely.get_y(located)
    return np.asarray(assign_points(x, y, polygons), dtype=np.int64)


@functools.lru_cache(maxsize=64)
def _transformer(source: pyproj.CRS, target: pyproj.CRS) -> pyproj.Transformer:
    # Building a Transformer searches PROJ's database: tens of milliseconds each time, which
    # a coverage or standard computation paid dozens of times. pyproj >= 3.1 gives each thread
    # its own PROJ context behind one Transformer, so a cached one is shared safely.
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def project(geometries: NDArray[np.object_], source: Any, target: Any) -> NDArray[np.object_]:
    """Return geometries moved from one CRS to another (a copy when the CRSs are equal).

    Parameters
    ----------
    geometries
        Shapely geometries in ``source``.
    source, target
        CRSs pyproj accepts.

    Returns
    -------
    numpy.ndarray of object
        The geometries in ``target``.
    """
    src, dst = pyproj.CRS.from_user_input(source), pyproj.CRS.from_user_input(target)
    if src == dst:
        return geometries.copy()
    transformer = _transformer(src, dst)
    return np.asarray(
        shapely.transform(geometries,
                          lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1]))),
        dtype=object,
    )


def project_xy(geometries: NDArray[np.object_], source: Any, target: Any) -> NDArray[np.float64]:
    """Return the coordinates of points in another CRS; NaN rows for missing or empty points.

    Parameters
    ----------
    geometries
        Point geometries in ``source``.
    source, target
        CRSs pyproj accepts.

    Returns
    -------
    numpy.ndarray of float, shape (n, 2)
        x, y in ``target``.
    """
    x, y = point_coordinates(geometries)
    return np.column_stack(transform_xy(x, y, source, target))


def point_coordinates(
    geometries: NDArray[np.object_],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the coordinates of points: NaN for missing and empty ones (and other types).

    Parameters
    ----------
    geometries
        Shapely geometries.

    Returns
    -------
    x, y : numpy.ndarray of float
    """
    try:
        # Missing points come out as NaN; an empty one makes GEOS refuse the whole call.
        return shapely.get_x(geometries), shapely.get_y(geometries)
    except shapely.errors.GEOSException:
        geometries = geometries.copy()
        geometries[shapely.is_empty(geometries)] = None
        return shapely.get_x(geometries), shapely.get_y(geometries)


def transform_xy(
    x: NDArray[np.float64], y: NDArray[np.float64], source: Any, target: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return coordinate arrays moved from one CRS to another (unchanged when equal).

    Parameters
    ----------
    x, y
        Coordinates in ``source``.
    source, target
        CRSs pyproj accepts.

    Returns
    -------
    x, y : numpy.ndarray of float
        Coordinates in ``target``.
    """
    src, dst = pyproj.CRS.from_user_input(source), pyproj.CRS.from_user_input(target)
    if src != dst:
        x, y = _transformer(src, dst).transform(x, y)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def xy(points: NDArray[np.object_]) -> NDArray[np.float64]:
    """Return the coordinates of point geometries as an ``(n, 2)`` float array.

    Parameters
    ----------
    points
        Point geometries.

    Returns
    -------
    numpy.ndarray of float, shape (n, 2)
    """
    return np.column_stack([shapely.get_x(points), shapely.get_y(points)]).astype(np.float64)


def ratio(numerator: Any, denominator: Any) -> NDArray[np.float64]:
    """Return ``numerator / denominator`` element-wise, NaN where the denominator is not > 0.

    Parameters
    ----------
    numerator, denominator
        Numbers or arrays that broadcast together.

    Returns
    -------
    numpy.ndarray of float
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    positive = np.isfinite(den) & (den > 0)
    return np.where(positive, num / np.where(positive, den, 1.0), np.nan)
