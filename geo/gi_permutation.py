"""Conditional permutation inference for Gi*, in compiled kernels cached on disk.

esda runs the permutations of its local G (``esda.crand.crand``) in a numba kernel that takes
the statistic as a function argument. numba cannot cache such a kernel, so every new process
compiles it again before its first Gi*: 10–25 s of one core, paid by every ``pingan hotspots``
run, every server worker's first hot-spot request and every test worker. This module runs the
same algorithm for the star form with binary weights in kernels compiled with ``cache=True``
(written to ``geo/__pycache__`` the first time, loaded in milliseconds afterwards):

- the same permutation draws: ``permutations`` rows of ``max_card`` ids drawn without
  replacement from the ``n - 1`` other units by numba's generator seeded with ``seed``
  (``esda.crand.vec_permutations``);
- the same statistic, ``(Σ_k z_no_i[ids_k] w_k + w_ii z_i) / Σ z`` for each draw, with the
  same floating-point flags (esda's ``_g_local_star_crand`` and ``_prepare_univariate``);
- the same "directed" pseudo p value: the draws at or above the observed value, folded to the
  smaller tail, ``(count + 1) / (permutations + 1)``, kept in float32 as esda keeps it.

The numbers are identical to esda's bit for bit (``tests/geo/test_gi_permutation.py`` compares
them on random data with islands, ties and several seeds). The code follows esda 2.9
(BSD-3-Clause, Copyright (c) 2017–, pysal-esda developers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse

__all__ = ["BLOCK", "PermutationResult", "gi_star_permutations"]

#: Units whose permuted statistics are held at once.
BLOCK = 2048


@dataclass(frozen=True)
class PermutationResult:
    """Pseudo p values and the permutation distribution of each unit's Gi*.

    Attributes
    ----------
    p_sim
        One-sided ("directed") pseudo p value of each unit (float32, as esda keeps it).
    mean, std
        Mean and (population) standard deviation of each unit's permuted statistics.
    """

    p_sim: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def z_sim(self, observed: np.ndarray) -> np.ndarray:
        """The observed statistics standardised by the permutation distribution.

        NaN where every draw was equal (an island's draws are all 0), as in esda.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return (observed - self.mean) / self.std


def gi_star_permutations(y: np.ndarray, weights: scipy.sparse.spmatrix, observed: np.ndarray,
                         *, permutations: int, seed: int) -> PermutationResult:
    """Conditional permutation inference of Gi* (star form, weights with self-weights).

    Parameters
    ----------
    y
        The values (float64), one per unit, in the order of ``weights``' rows.
    weights
        Square sparse weights with each unit's self-weight on the diagonal (esda's transformed
        ``G_Local.w.sparse``).
    observed
        The observed statistics ``G_i*`` (esda's ``G_Local.Gs``).
    permutations, seed
        How many conditional permutations, and the seed of their draws.

    The permuted statistics are summarised block by block of :data:`BLOCK` units, so memory
    stays at ``BLOCK x permutations`` floats whatever the number of units (esda keeps all
    ``n x permutations``); mean and standard deviation are NumPy's, as esda's are.
    """
    y = np.ascontiguousarray(y, dtype="float64")
    observed = np.ascontiguousarray(observed, dtype="float64")
    adjacency = scipy.sparse.csr_matrix(weights, dtype="float64", copy=True)
    self_weights = adjacency.diagonal().astype("float64")
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    adjacency.sort_indices()
    other_weights = np.ascontiguousarray(adjacency.data, dtype="float64")
    offsets = adjacency.indptr.astype("int64")
    draws = _draws(int(np.diff(offsets).max()), len(y), permutations, seed)
    scaling = float(y.sum())
    n = len(y)
    p_sim = np.zeros(n, dtype="float32")
    mean = np.empty(n)
    std = np.empty(n)
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        stats = _gi_star_block(y, observed, offsets, self_weights, other_weights, draws,
                               scaling, p_sim, lo, hi)
        mean[lo:hi] = stats.mean(axis=1)
        std[lo:hi] = stats.std(axis=1)
    return PermutationResult(p_sim=p_sim, mean=mean, std=std)


@numba.njit(cache=True, fastmath=True)
def _draws(max_card, n, permutations, seed):  # pragma: no cover - compiled
    """``permutations`` rows of ``max_card`` ids of the ``n - 1`` other units, no repeats."""
    np.random.seed(seed)
    result = np.empty((permutations, max_card), dtype=np.int64)
    for k in range(permutations):
        result[k] = np.random.choice(n - 1, size=max_card, replace=False)
    return result


@numba.njit(cache=True, fastmath=False)
def _others(i, z, draws, cardinality):  # pragma: no cover - compiled
    """Unit ``i``'s value, and each draw's values of ``cardinality`` other units."""
    mask = np.ones_like(z, dtype=np.bool_)
    mask[i] = False
    z_no_i = z[mask]
    flat = draws[:, :cardinality].flatten()
    return z[i], z_no_i[flat].reshape(-1, cardinality)


@numba.njit(cache=True, fastmath=True)
def _star_statistic(i, z, draws, weights_i, scaling):  # pragma: no cover - compiled
    """Gi* of unit ``i`` in every draw (self-weight first in ``weights_i``)."""
    self_weight = weights_i[0]
    other_weights = weights_i[1:]
    zi, zrand = _others(i, z, draws, len(other_weights))
    return (zrand @ other_weights + self_weight * zi) / scaling


@numba.njit(cache=True, fastmath=False)
def _directed_p(observed, stats):  # pragma: no cover - compiled
    """The share of draws at or above ``observed``, folded to the smaller tail."""
    total = stats.shape[0]
    larger = (stats >= observed).sum()
    if total - larger < larger:
        larger = total - larger
    return (larger + 1.0) / (total + 1.0)


@numba.njit(cache=True, fastmath=True)
def _gi_star_block(z, observed, offsets, self_weights, other_weights, draws, scaling, p_sim,
                   lo, hi):  # pragma: no cover - compiled
    """Units ``lo`` to ``hi``: their pseudo p values (into ``p_sim``) and permuted Gi*."""
    stats = np.empty((hi - lo, draws.shape[0]))
    for i in range(lo, hi):
        cardinality = offsets[i + 1] - offsets[i]
        if cardinality == 0:
            # An island: esda's stand-in neighbour of weight 0 and no self-weight, so every
            # draw is 0 (pingan reports islands without statistics).
            weights_i = np.zeros(2, dtype=other_weights.dtype)
        else:
            weights_i = np.zeros(cardinality + 1, dtype=other_weights.dtype)
            weights_i[0] = self_weights[i]
            weights_i[1:] = other_weights[offsets[i]:offsets[i + 1]]
        row = _star_statistic(i, z, draws, weights_i, scaling)
        p_sim[i] = _directed_p(observed[i], row)
        stats[i - lo] = row
    return stats
