"""Coordinate arrays: numbers in, checked float arrays out; and telling lon/lat from metres.

Shared by :mod:`geo.crs` and :mod:`geo.china`: every conversion takes ``x, y`` (longitude first)
as anything array-like, of any shape, and broadcasts them together here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import InputError

__all__ = [
    "BoolArray",
    "FloatArray",
    "as_float_array",
    "coordinate_pair",
    "looks_projected",
    "nan_if_not_finite",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    """Return ``values`` as a float array.

    Parameters
    ----------
    values
        Numbers (any shape).
    name
        The parameter's name, for the error.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    TypeError
        When ``values`` are not numbers.
    """
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numbers; got {values!r}") from exc


def coordinate_pair(
    x: ArrayLike, y: ArrayLike, names: tuple[str, str] = ("lon", "lat")
) -> tuple[FloatArray, FloatArray]:
    """Return ``x`` and ``y`` as float arrays of one broadcast shape (read-only views).

    Parameters
    ----------
    x, y
        Coordinates (any shapes that broadcast together).
    names
        Their parameter names, for the errors.

    Returns
    -------
    tuple of numpy.ndarray

    Raises
    ------
    ValueError
        When they cannot be broadcast together.
    TypeError
        When they are not numbers.
    """
    xa = as_float_array(x, names[0])
    ya = as_float_array(y, names[1])
    try:
        xb, yb = np.broadcast_arrays(xa, ya)
    except ValueError as exc:
        raise InputError(
            f"{names[0]} and {names[1]} must have matching shapes; got {xa.shape} and {ya.shape}"
        ) from exc
    return xb, yb


def nan_if_not_finite(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Make both coordinates NaN wherever either is NaN or infinite.

    Parameters
    ----------
    x, y
        Coordinates of one shape.

    Returns
    -------
    tuple of numpy.ndarray
        New arrays.
    """
    bad = ~(np.isfinite(x) & np.isfinite(y))
    return np.where(bad, np.nan, x), np.where(bad, np.nan, y)


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
        raise InputError(f"min_share must be in [0, 1); got {min_share!r}")
    xa, ya = coordinate_pair(x, y, ("x", "y"))
    finite = np.isfinite(xa) & np.isfinite(ya)
    count = int(finite.sum())
    if count == 0:
        return False
    out_of_range = (np.abs(xa[finite]) > 180.0) | (np.abs(ya[finite]) > 90.0)
    return bool(out_of_range.sum() > min_share * count)
