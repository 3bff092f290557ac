"""Checks of the frames and options handed to the coverage, protection and siting metrics.

Each check raises at the first problem, with a message that names the input, what was
received and what was expected: ``TypeError`` for the wrong kind of object, ``ValueError`` for
a wrong value. (The readers' row-by-row validation, which collects every problem of a file, is
:mod:`geo._validate`; these check whole frames given to a metric.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from geo import arrays
from geo.errors import ParameterError

__all__ = [
    "POINT",
    "POINT_OR_POLYGON",
    "POLYGONAL",
    "check_communities",
    "check_detour_factor",
    "check_frame",
    "check_geometry_types",
    "check_positive",
    "check_same_crs",
    "check_workers",
]

#: Geometry types of polygon layers (communities).
POLYGONAL = ("Polygon", "MultiPolygon")
#: Geometry types of point layers (facilities, devices, incidents).
POINT = ("Point",)
#: Geometry types of layers that hold points or polygons (compounds).
POINT_OR_POLYGON = ("Point", "Polygon", "MultiPolygon")

_TYPE_NAMES = {"Point": "POINT", "Polygon": "POLYGON", "MultiPolygon": "MULTIPOLYGON"}


def check_positive(value: float, name: str) -> None:
    """Check that ``value`` is a finite number > 0.

    Parameters
    ----------
    value
        The option's value.
    name
        The option's name, for the message.

    Raises
    ------
    ValueError
        When it is not (a bool is not a number here).
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a positive number; got {value!r}")


def check_detour_factor(detour_factor: float) -> None:
    """Check a detour factor: the ratio of travel distance to straight-line distance, >= 1.

    Parameters
    ----------
    detour_factor
        The factor given.

    Raises
    ------
    ValueError
        When it is not a number >= 1.
    """
    if not (isinstance(detour_factor, int | float) and detour_factor >= 1.0):
        raise ParameterError(f"detour_factor must be a number >= 1; got {detour_factor!r}")


def check_workers(workers: int | None) -> int:
    """Return the number of threads to use: ``workers``, or every CPU for ``None``.

    Parameters
    ----------
    workers
        A positive integer or ``None``.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        When ``workers`` is not a positive integer or ``None``.
    """
    if workers is None:
        return max(os.cpu_count() or 1, 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(f"workers must be a positive integer or None; got {workers!r}")
    return workers


def check_frame(
    frame: object, name: str, geometry_types: tuple[str, ...], columns: Iterable[str]
) -> None:
    """Check that ``frame`` is a GeoDataFrame with a CRS, the columns and geometry types given.

    Parameters
    ----------
    frame
        The input.
    name
        Its name, for the messages (``facilities``).
    geometry_types
        Allowed geometry types (:data:`POINT`, :data:`POLYGONAL`, :data:`POINT_OR_POLYGON`);
        missing geometries are allowed.
    columns
        Columns it must have.

    Raises
    ------
    TypeError
        When it is not a GeoDataFrame.
    ValueError
        When it has no CRS, lacks a column or holds another geometry type.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{name} must be a GeoDataFrame; got {type(frame).__name__}")
    if frame.crs is None:
        raise ParameterError(f"{name} has no CRS; set one (EPSG:4326 for pingan's layers)")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{name} lacks column(s) {', '.join(missing)}; columns: "
            f"{', '.join(map(str, frame.columns))}"
        )
    check_geometry_types(arrays.geoms(frame), name, geometry_types)


def check_geometry_types(
    geoms: NDArray[np.object_], name: str, geometry_types: tuple[str, ...]
) -> None:
    """Check that every present geometry has one of the allowed types.

    Parameters
    ----------
    geoms
        Shapely geometries (``None`` entries are skipped).
    name
        The input's name, for the message.
    geometry_types
        Allowed types: ``Point``, ``Polygon``, ``MultiPolygon``.

    Raises
    ------
    ValueError
        When a geometry has another type.
    """
    # get_type_id is -1 for a missing geometry; bincount keeps this one pass over the array.
    counts = np.bincount(np.asarray(shapely.get_type_id(geoms), dtype=np.int64) + 1)
    types = {int(t) - 1 for t in np.flatnonzero(counts)} - {-1}
    allowed = {int(getattr(shapely.GeometryType, _TYPE_NAMES[t])) for t in geometry_types}
    wrong = types - allowed
    if wrong:
        got = ", ".join(sorted(shapely.GeometryType(t).name.title() for t in wrong))
        raise ParameterError(
            f"{name} must hold {' or '.join(geometry_types)} geometries; got {got}")


def check_communities(communities: object) -> None:
    """Check the communities: polygons with a CRS and unique, present codes, all valid.

    Parameters
    ----------
    communities
        The input.

    Raises
    ------
    TypeError
        When it is not a GeoDataFrame.
    ValueError
        When it has no CRS or no ``code``, a code is missing or repeated, or a polygon is
        missing, of another type or invalid.
    """
    check_frame(communities, "communities", POLYGONAL, ("code",))
    assert isinstance(communities, gpd.GeoDataFrame)
    codes = communities["code"].astype("string")
    if codes.isna().any():
        raise ParameterError("communities: every row needs a code; found missing codes")
    dup = codes[codes.duplicated()].unique()
    if len(dup):
        raise ParameterError(f"communities: codes must be unique; repeated: {', '.join(dup[:5])}")
    geoms = arrays.geoms(communities)
    if shapely.is_missing(geoms).any():
        raise ParameterError("communities: every community needs a polygon; found missing ones")
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        raise ParameterError(
            "communities: polygons must be valid (the readers repair them); invalid: "
            f"{', '.join(codes[invalid].head(5))}"
        )


def check_same_crs(**frames: gpd.GeoDataFrame | gpd.GeoSeries | None) -> None:
    """Check that the frames given (``None`` ones skipped) share the first one's CRS.

    Parameters
    ----------
    **frames
        The inputs by name, for the messages.

    Raises
    ------
    ValueError
        When one has no CRS or another CRS than the first.
    """
    given = {k: f for k, f in frames.items() if f is not None}
    names = list(given)
    first = given[names[0]].crs
    for name in names[1:]:
        crs = given[name].crs
        if crs is None:
            raise ParameterError(f"{name} has no CRS; set one (EPSG:4326 for pingan's layers)")
        if crs != first:
            raise ParameterError(
                f"{names[0]} and {name} have different CRSs ({first.to_string()} vs "
                f"{crs.to_string()}); convert them to one CRS first"
            )
