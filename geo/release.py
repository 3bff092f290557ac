"""Release rules for callers without raw access: the cell-key method and small-count labels.

Planners and API clients see incident counts only as aggregates. Two rules protect what lies
behind them (the trust layer in ``api/release.py`` applies them on every path; the reasoning
and parameters are in ``docs/release.md``):

1. **Small counts.** A unit (a community, a roll-up, a grid cell, a facility's catchment) with
   1 to ``min_count - 1`` counted incidents is released as its id, geometry and the label
   ``"<3"`` (``f"<{min_count}"``), nothing else. A zero stays zero: an empty area reveals no
   one.
2. **The cell-key method** (the Australian Bureau of Statistics' TableBuilder perturbation,
   also used by the UK Office for National Statistics). Every incident carries a record key,
   a 32-bit number drawn from its id with a keyed hash (:func:`record_keys`). A released count
   of ``n >= min_count`` is ``n + d``, where the perturbation ``d`` is read from a fixed table
   (:data:`PERTURBATION`) at the cell key: the sum of the record keys of the incidents counted,
   modulo 2³², as a fraction of 2³² (:func:`cell_key_fraction`). The same set of incidents
   always gets the same ``d`` (asking again, or under another name, reveals nothing new), and
   two different sets get independent ones, so a year minus its released months, or a
   district minus its released communities, no longer gives a hidden count: the difference
   carries the noise of every term. The table is symmetric with mean zero, never takes a count
   below ``min_count`` and moves it by at most two.

Everything derived from counts (rates, smoothed rates, changes and their tests, hot-spot
classes, shares) is computed from the released counts, never from the exact ones: a derived
figure computed from an exact count could be inverted to recover it. A hidden count enters
such computations as :func:`hidden_value` (1 when ``min_count`` is 3).

Record keys are additive, so a count and its key sum can be kept in aggregate tables and
rolled up (the key sum of a district is the sum of its communities' key sums).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from geo.errors import ParameterError

__all__ = [
    "HOTSPOT_CLASSES",
    "KEY_MODULUS",
    "PERTURBATION",
    "WEIGHT_TOTAL",
    "ReleasedCounts",
    "cell_key_fraction",
    "hidden_label",
    "hidden_value",
    "perturbation",
    "record_keys",
    "release_counts",
]

#: Record keys are integers in [0, KEY_MODULUS).
KEY_MODULUS = 2**32

#: The perturbation table: for counts of ``min_count + j`` (j = 0, 1, and 2 or more) the
#: possible moves and their weights out of :data:`WEIGHT_TOTAL` (probabilities 0.25/0.5/0.25
#: and 0.1/0.2/0.4/0.2/0.1). Symmetric with mean zero; the move never exceeds j, so a released
#: count is never below ``min_count`` and never differs from the truth by more than 2.
PERTURBATION: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((0,), (20,)),
    ((-1, 0, 1), (5, 10, 5)),
    ((-2, -1, 0, 1, 2), (2, 4, 8, 4, 2)),
)
#: The weights of each row of :data:`PERTURBATION` sum to this.
WEIGHT_TOTAL = 20

#: The hot-spot classes released to protected callers (no z, p or simulated values).
HOTSPOT_CLASSES = ("hot_99", "hot_95", "hot_90", "cold_99", "cold_95", "cold_90",
                   "not_significant", "no_neighbours", "no_value")


def hidden_label(min_count: int) -> str:
    """The label shown instead of a small count: ``"<3"`` for ``min_count=3``."""
    return f"<{min_count}"


def hidden_value(min_count: int) -> float:
    """The value a hidden count takes in derived statistics: ``max(1, min_count // 2)``.

    A whole number, so that derived statistics that need counts (the Poisson tests) take it;
    1 for the usual ``min_count`` of 3.
    """
    return float(max(1, min_count // 2))


def record_keys(ids: Iterable[str], secret: bytes) -> NDArray[np.int64]:
    """Return the record key of each incident id: the first 4 bytes of HMAC-SHA256(secret, id).

    Parameters
    ----------
    ids
        Incident ids (text).
    secret
        The release secret (at least 16 bytes); without it nobody can compute a key.

    Returns
    -------
    numpy.ndarray
        int64 keys in [0, :data:`KEY_MODULUS`).

    Raises
    ------
    geo.errors.ParameterError
        If the secret is shorter than 16 bytes.
    """
    if len(secret) < 16:
        raise ParameterError(f"the release secret must be at least 16 bytes; got {len(secret)}",
                             parameter="secret")
    out = [int.from_bytes(hmac.new(secret, str(i).encode("utf-8"), hashlib.sha256)
                          .digest()[:4], "big") for i in ids]
    return np.asarray(out, dtype=np.int64)


def cell_key_fraction(key_sums: ArrayLike) -> NDArray[np.float64]:
    """Turn sums of record keys into cell keys: ``(sum mod 2³²) / 2³²`` in [0, 1)."""
    sums = np.asarray(key_sums, dtype=np.int64)
    return np.mod(sums, KEY_MODULUS).astype(np.float64) / KEY_MODULUS


def perturbation(counts: ArrayLike, key_sums: ArrayLike, *, min_count: int = 3
                 ) -> NDArray[np.int64]:
    """Return the perturbation ``d`` of each count at its cell key (0 below ``min_count``).

    Parameters
    ----------
    counts
        Exact counts (integers >= 0).
    key_sums
        Sums of the record keys of the incidents counted (any integers; taken mod 2³²).
    min_count
        Smallest count released as a number.

    Returns
    -------
    numpy.ndarray
        int64 moves; ``counts + d >= min_count`` wherever ``counts >= min_count``.
    """
    n = np.asarray(counts, dtype=np.int64)
    # The cell key stays an integer in [0, 2**32): the class edges are exact integers too.
    key = np.mod(np.asarray(key_sums, dtype=np.int64), KEY_MODULUS)
    d = np.zeros(n.shape, dtype=np.int64)
    for j, (moves, weights) in enumerate(PERTURBATION):
        rows = (n >= min_count + j) if j == len(PERTURBATION) - 1 else (n == min_count + j)
        if not rows.any():
            continue
        edges = np.cumsum(weights)[:-1] * KEY_MODULUS // WEIGHT_TOTAL
        d[rows] = np.asarray(moves, dtype=np.int64)[np.searchsorted(edges, key[rows],
                                                                    side="right")]
    return d


@dataclass(frozen=True)
class ReleasedCounts:
    """Counts as released to a protected caller.

    Attributes
    ----------
    shown
        Object array: an int (the perturbed count, or 0) or the hidden label ``"<3"``.
    value
        float64 array for derived statistics: the perturbed count, 0, or
        :func:`hidden_value` for hidden counts.
    hidden
        Boolean array: the count is hidden (1 to ``min_count - 1``).
    """

    shown: NDArray[np.object_]
    value: NDArray[np.float64]
    hidden: NDArray[np.bool_]


def release_counts(counts: ArrayLike, key_sums: ArrayLike, *, min_count: int = 3
                   ) -> ReleasedCounts:
    """Release counts by the cell-key method with small counts hidden.

    Parameters
    ----------
    counts
        Exact counts (integers >= 0).
    key_sums
        Sums of the record keys of the incidents counted.
    min_count
        Smallest count released as a number (>= 1; 1 hides nothing but still perturbs).

    Returns
    -------
    ReleasedCounts

    Raises
    ------
    geo.errors.ParameterError
        If ``min_count`` < 1, a count is negative, or the arrays differ in length.
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ParameterError(f"min_count must be an integer >= 1; got {min_count!r}",
                             parameter="min_count")
    n = np.asarray(pd.to_numeric(pd.Series(np.asarray(counts).ravel())), dtype=np.int64)
    k = np.asarray(key_sums, dtype=np.int64).ravel()
    if n.shape != k.shape:
        raise ParameterError(f"counts and key_sums must have the same length; got {len(n)} "
                             f"and {len(k)}", parameter="key_sums")
    if (n < 0).any():
        raise ParameterError(f"counts must be >= 0; got {int(n.min())}", parameter="counts")
    hidden = (n >= 1) & (n < min_count)
    released = n + perturbation(n, k, min_count=min_count)
    shown = released.astype(object)
    shown[hidden] = hidden_label(min_count)
    value = released.astype(np.float64)
    value[hidden] = hidden_value(min_count)
    return ReleasedCounts(shown=shown, value=value, hidden=hidden)
