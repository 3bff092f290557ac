"""Release rules for callers without raw access: the cell-key method and small-count labels.

Planners and API clients see incident counts only as aggregates of fixed units (months,
quarters, years; communities and their roll-ups; the published grid). Two rules protect what
lies behind them (``api/release.py`` applies them on every path; the reasoning, the table and
the differencing test are in ``docs/release.md``):

1. **Small counts are hidden.** A unit with fewer than ``min_count`` (3) counted incidents —
   none included — is released as its id, geometry and the label ``"<3"``, nothing else.
   Zero is hidden too: were an empty unit shown as 0, a hidden parent with two non-empty
   children would give both children away (both are 1).
2. **The cell-key method** (the Australian Bureau of Statistics' TableBuilder perturbation,
   also used by the UK Office for National Statistics). Every incident carries a record key,
   a 32-bit number drawn from its id with a keyed hash (:func:`record_keys`). A unit's cell key
   is the sum of the record keys of the incidents counted, modulo 2³². The released value of a
   count ``n >= min_count`` is read from a fixed table (:data:`PERTURBATION`) at the cell key:
   ``n + d`` with ``|d| <= 2``, never below ``min_count``, and near the threshold sometimes the
   hidden label (so ``"<3"`` does not certify a count below 3). The same set of incidents always
   gets the same outcome (asking again, or under another name, reveals nothing new), and two
   sets that differ by an incident get independent ones, so a year minus its released months,
   or a district minus its released communities, no longer gives a hidden count.

Everything derived from counts (rates, smoothed rates, changes and their tests, hot-spot
classes, shares) is computed from the released values, never from the exact counts: a derived
figure computed from an exact count could be inverted to recover it. A hidden count enters
such computations as :func:`hidden_value` (1 when ``min_count`` is 3).

Record keys are additive, so a count and its key sum can be kept in aggregate tables and
rolled up (the key sum of a district is the sum of its communities' key sums).
"""

from __future__ import annotations

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

#: The outcome of releasing a count ``n >= min_count``, read at its cell key: for
#: ``n = min_count``, ``min_count + 1`` and ``min_count + 2`` or more, the moves ``d`` (``None``:
#: the hidden label) and their weights out of :data:`WEIGHT_TOTAL`. From ``min_count + 2`` on
#: the table is symmetric with mean zero (−2..+2 with 0.1, 0.2, 0.4, 0.2, 0.1); below it, the
#: moves that would fall under ``min_count`` become the hidden label instead.
PERTURBATION: tuple[tuple[tuple[int | None, ...], tuple[int, ...]], ...] = (
    ((None, 0, 1, 2), (6, 8, 4, 2)),
    ((None, -1, 0, 1, 2), (2, 4, 8, 4, 2)),
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
    # hmac.digest: the one-shot C path (same bytes as hmac.new(...).digest()), ~6x faster.
    digest = hmac.digest
    heads = b"".join([digest(secret, str(i).encode("utf-8"), "sha256")[:4] for i in ids])
    return np.frombuffer(heads, dtype=">u4").astype(np.int64)


def cell_key_fraction(key_sums: ArrayLike) -> NDArray[np.float64]:
    """Turn sums of record keys into cell keys: ``(sum mod 2³²) / 2³²`` in [0, 1)."""
    sums = np.asarray(key_sums, dtype=np.int64)
    return np.mod(sums, KEY_MODULUS).astype(np.float64) / KEY_MODULUS


def perturbation(counts: ArrayLike, key_sums: ArrayLike, *, min_count: int = 3
                 ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Return the move of each count at its cell key, and whether it is released hidden.

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
    tuple of numpy.ndarray
        int64 moves (0 where hidden) and the boolean hidden mask: every count below
        ``min_count``, and the counts the table sends to the hidden label.
    """
    n = np.asarray(counts, dtype=np.int64)
    # The cell key stays an integer in [0, 2**32): the class edges are exact integers too.
    key = np.mod(np.asarray(key_sums, dtype=np.int64), KEY_MODULUS)
    d = np.zeros(n.shape, dtype=np.int64)
    hidden = n < min_count
    for j, (moves, weights) in enumerate(PERTURBATION):
        rows = (n >= min_count + j) if j == len(PERTURBATION) - 1 else (n == min_count + j)
        if not rows.any():
            continue
        edges = np.cumsum(weights)[:-1] * KEY_MODULUS // WEIGHT_TOTAL
        pick = np.searchsorted(edges, key[rows], side="right")
        outcome = np.array([-10**9 if m is None else m for m in moves], dtype=np.int64)[pick]
        hide = outcome == -10**9
        d[rows] = np.where(hide, 0, outcome)
        hidden[np.flatnonzero(rows)[hide]] = True
    return d, hidden


@dataclass(frozen=True)
class ReleasedCounts:
    """Counts as released to a protected caller.

    Attributes
    ----------
    shown
        Object array: an int (the perturbed count, at least ``min_count``) or the hidden
        label ``"<3"``.
    value
        float64 array for derived statistics: the perturbed count, or :func:`hidden_value`
        for hidden counts.
    hidden
        Boolean array: the count is released as the hidden label.
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
        Smallest count released as a number (>= 2).

    Returns
    -------
    ReleasedCounts

    Raises
    ------
    geo.errors.ParameterError
        If ``min_count`` < 2, a count is negative, or the arrays differ in length.
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 2:
        raise ParameterError(f"min_count must be an integer >= 2; got {min_count!r}",
                             parameter="min_count")
    n = np.asarray(pd.to_numeric(pd.Series(np.asarray(counts).ravel())), dtype=np.int64)
    k = np.asarray(key_sums, dtype=np.int64).ravel()
    if n.shape != k.shape:
        raise ParameterError(f"counts and key_sums must have the same length; got {len(n)} "
                             f"and {len(k)}", parameter="key_sums")
    if (n < 0).any():
        raise ParameterError(f"counts must be >= 0; got {int(n.min())}", parameter="counts")
    move, hidden = perturbation(n, k, min_count=min_count)
    released = n + move
    shown = released.astype(object)
    shown[hidden] = hidden_label(min_count)
    value = released.astype(np.float64)
    value[hidden] = hidden_value(min_count)
    return ReleasedCounts(shown=shown, value=value, hidden=hidden)
