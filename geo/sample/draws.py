"""Seeded random streams and the random draws every layer of the sample city shares.

Each layer draws from its own generator, seeded by ``(seed, stream)``, so changing one layer's
recipe leaves the others as they were. The Lloyd relaxation is hand-written because scipy's
``kmeans2`` compares every point with every centre, far too slow for 10^5 points, while a k-d
tree makes it linear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from geo.errors import ParameterError

__all__ = [
    "DEFAULT_SEED",
    "STREAM_BOUNDARIES",
    "STREAM_COMPOUNDS",
    "STREAM_DEVICES",
    "STREAM_FACILITIES",
    "STREAM_INCIDENTS",
    "STREAM_OUTBREAKS",
    "STREAM_POPULATION",
    "STREAM_QUALITY",
    "STREAM_ROADS",
    "FloatArray",
    "IntArray",
    "check_int",
    "lloyd",
    "n_name_roots",
    "name_roots",
    "pick_spread",
    "points_in",
    "random_dates",
    "rng_for",
    "sigmoid",
    "unique_names",
]

#: Seed of the committed sample city (``data/boundaries/communities.geojson``).
DEFAULT_SEED = 20250101

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Random streams: each layer draws from its own generator.
STREAM_BOUNDARIES = 1
STREAM_QUALITY = 2
STREAM_POPULATION = 3
STREAM_COMPOUNDS = 4
STREAM_DEVICES = 5
STREAM_FACILITIES = 6
STREAM_INCIDENTS = 7
STREAM_OUTBREAKS = 8
STREAM_ROADS = 9

_NAME_FIRST = "安和华平新兴永康德福光明长春文景清宁瑞祥丰惠泰嘉金玉龙凤青翠松柏桃李月星云朝阳"
_NAME_SECOND = "平和华安定宁兴盛德化源泉园丰乐康泰祥瑞福明光顺通达成新秀美林湖河桥山苑"


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer of at least ``minimum``.

    Parameters
    ----------
    name
        The parameter's name, for the error.
    value
        The value given.
    minimum
        The smallest value allowed.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``value`` is not an integer (booleans are not).
    ValueError
        If it is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """Return the generator of one random stream (``STREAM_*``) of a seed.

    Parameters
    ----------
    seed
        The city's seed.
    stream
        The layer's stream number.

    Returns
    -------
    numpy.random.Generator
    """
    return np.random.default_rng([seed, stream])


def n_name_roots() -> int:
    """Return how many distinct two-character name roots :func:`unique_names` can make.

    Returns
    -------
    int
    """
    first, second = dict.fromkeys(_NAME_FIRST), dict.fromkeys(_NAME_SECOND)
    return sum(1 for a in first for b in second if a != b)


def unique_names(rng: np.random.Generator, n: int, suffixes: Sequence[str]) -> list[str]:
    """Return ``n`` distinct names (two-character root plus a suffix) in random order.

    Parameters
    ----------
    rng
        The generator to draw from.
    n
        How many names.
    suffixes
        Suffixes to combine with the roots (``""`` for bare roots).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If fewer than ``n`` distinct names can be made.
    """
    first = list(dict.fromkeys(_NAME_FIRST))
    second = list(dict.fromkeys(_NAME_SECOND))
    pool = [a + b + s for s in dict.fromkeys(suffixes) for a in first for b in second if a != b]
    order = rng.permutation(len(pool))
    used: set[str] = set()
    out: list[str] = []
    for i in order:
        name = pool[int(i)]
        if name in used:
            continue
        used.add(name)
        out.append(name)
        if len(out) == n:
            return out
    raise ParameterError(f"cannot make {n} distinct names (only {len(out)} available)")


def name_roots(names: pd.Series) -> list[str]:
    """Return community names without their ``社区`` suffix.

    Parameters
    ----------
    names
        Community names.

    Returns
    -------
    list of str
    """
    return [str(s).removesuffix("社区") for s in names]


def lloyd(points: FloatArray, samples: FloatArray, n_iter: int) -> FloatArray:
    """Move each point to the mean of the samples nearest to it (density-weighted Lloyd).

    Parameters
    ----------
    points
        ``(k, 2)`` starting points.
    samples
        ``(m, 2)`` samples of the density.
    n_iter
        Number of iterations.

    Returns
    -------
    numpy.ndarray
        The moved points (a new array).
    """
    p = points.copy()
    for _ in range(n_iter):
        _, nearest = cKDTree(p).query(samples)
        counts = np.bincount(nearest, minlength=len(p))
        sx = np.bincount(nearest, weights=samples[:, 0], minlength=len(p))
        sy = np.bincount(nearest, weights=samples[:, 1], minlength=len(p))
        has = counts > 0
        p[has, 0] = sx[has] / counts[has]
        p[has, 1] = sy[has] / counts[has]
    return p


def pick_spread(rng: np.random.Generator, points: FloatArray, k: int) -> IntArray:
    """Pick ``k`` distinct points spread like the points themselves (nearest to k-means centres).

    Parameters
    ----------
    rng
        The generator to draw from.
    points
        ``(m, 2)`` candidate points.
    k
        How many to pick (at most ``m``).

    Returns
    -------
    numpy.ndarray
        Indices of the chosen points.
    """
    centres = points[np.sort(rng.choice(len(points), k, replace=False))]
    centres = lloyd(centres, points, 10)
    tree = cKDTree(points)
    used = np.zeros(len(points), dtype=bool)
    chosen = np.empty(k, dtype=np.int64)
    for i, c in enumerate(centres):
        kk = min(len(points), 8)
        while True:
            _, idx = tree.query(c, k=kk)
            free = [int(j) for j in np.atleast_1d(idx) if not used[int(j)]]
            if free:
                break
            kk = min(len(points), kk * 4)
        chosen[i] = free[0]
        used[free[0]] = True
    return chosen


def points_in(rng: np.random.Generator, polygon: BaseGeometry, n: int) -> FloatArray:
    """Draw ``n`` uniform random points inside ``polygon`` (rejection sampling in its bounds).

    Parameters
    ----------
    rng
        The generator to draw from.
    polygon
        The polygon (prepared in place for fast tests).
    n
        How many points.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` coordinates.
    """
    if n <= 0:
        return np.empty((0, 2))
    x0, y0, x1, y1 = polygon.bounds
    ratio = (x1 - x0) * (y1 - y0) / max(polygon.area, 1e-9)
    shapely.prepare(polygon)
    chunks: list[FloatArray] = []
    got = 0
    while got < n:
        m = int((n - got) * ratio * 1.3) + 16
        x, y = rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)
        ok = shapely.contains_xy(polygon, x, y)
        chunks.append(np.column_stack([x[ok], y[ok]]))
        got += int(ok.sum())
    return np.concatenate(chunks)[:n]


def random_dates(rng: np.random.Generator, start: str, end: str, n: int) -> pd.Series:
    """Draw ``n`` uniform random calendar dates in ``[start, end]``.

    Parameters
    ----------
    rng
        The generator to draw from.
    start, end
        ISO dates, both included.
    n
        How many dates.

    Returns
    -------
    pandas.Series
        ``datetime64[ns]`` midnights.
    """
    d0, d1 = np.datetime64(start, "D"), np.datetime64(end, "D")
    days = rng.integers(0, int((d1 - d0).astype(int)) + 1, n)
    return pd.Series((d0 + days).astype("datetime64[ns]"))


def sigmoid(x: FloatArray) -> FloatArray:
    """Return the logistic function of ``x``.

    Parameters
    ----------
    x
        Log-odds.

    Returns
    -------
    numpy.ndarray
        Probabilities.
    """
    return 1.0 / (1.0 + np.exp(-x))
