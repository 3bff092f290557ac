"""pingan's cached Gi* permutation kernels give esda's numbers bit for bit."""

import warnings

import numpy as np
import pytest
from esda.getisord import G_Local
from libpysal.weights import W, lat2W

import geo.gi_permutation as gp


def _with_island(rows, cols):
    """A lattice of rook neighbours plus one unit without neighbours (an island)."""
    lattice = lat2W(rows, cols, rook=True)
    neighbours = {int(k): [int(v) for v in vs] for k, vs in lattice.neighbors.items()}
    neighbours[rows * cols] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal warns about the island
        return W(neighbours, silence_warnings=True)


def _both(y, weights, permutations, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        esda = G_Local(y, weights, transform="B", star=True, permutations=permutations,
                       seed=seed, n_jobs=1)
        plain = G_Local(y, weights, transform="B", star=True, permutations=0)
    ours = gp.gi_star_permutations(y, plain.w.sparse, plain.Gs, permutations=permutations,
                                   seed=seed)
    return esda, plain, ours


@pytest.mark.slow  # esda compiles its kernel in each process: over 2 s
@pytest.mark.parametrize(("weights", "values", "permutations", "seed"), [
    (lambda: lat2W(7, 9, rook=False), "poisson", 999, 11),   # ties between draws
    (lambda: lat2W(12, 5, rook=True), "uniform", 199, 4321),
    (lambda: _with_island(6, 6), "poisson", 499, 7),
    (lambda: lat2W(3, 3, rook=False), "uniform", 99, 0),
])
def test_equal_to_esda_bit_for_bit(weights, values, permutations, seed):
    w = weights()
    rng = np.random.default_rng(seed)
    y = rng.poisson(2, w.n).astype(float) if values == "poisson" else rng.random(w.n)
    esda, plain, ours = _both(y, w, permutations, seed)
    assert np.array_equal(esda.Gs, plain.Gs)
    assert ours.p_sim.dtype == np.float32
    assert np.array_equal(ours.p_sim, esda.p_sim)
    assert np.array_equal(ours.mean, esda.EG_sim)
    assert np.array_equal(ours.std, esda.seG_sim)
    assert np.array_equal(ours.z_sim(plain.Gs), esda.z_sim, equal_nan=True)


def test_blocks_do_not_change_the_numbers(monkeypatch):
    w = lat2W(8, 8, rook=False)
    y = np.random.default_rng(3).poisson(3, w.n).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = G_Local(y, w, transform="B", star=True, permutations=0)
    whole = gp.gi_star_permutations(y, plain.w.sparse, plain.Gs, permutations=99, seed=5)
    monkeypatch.setattr(gp, "BLOCK", 5)
    blocks = gp.gi_star_permutations(y, plain.w.sparse, plain.Gs, permutations=99, seed=5)
    for name in ("p_sim", "mean", "std"):
        assert np.array_equal(getattr(whole, name), getattr(blocks, name))


def test_a_planted_peak_has_the_smallest_p_and_draws_average_the_others():
    # Unit 4 (centre of a 3 x 3 queen lattice, every unit its neighbour) holds 100, the rest 1:
    # its Gi* is the total, so every draw is at or below it, and draws equal it only never
    # (the centre's own 100 is fixed and the others are all 1) -> p = 1 / (p + 1) folded.
    w = lat2W(3, 3, rook=False)
    y = np.ones(9)
    y[4] = 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = G_Local(y, w, transform="B", star=True, permutations=0)
    ours = gp.gi_star_permutations(y, plain.w.sparse, plain.Gs, permutations=99, seed=1)
    assert plain.Gs[4] == pytest.approx(1.0)
    # Every draw of the centre is the same (its eight neighbours are all the 1-valued units),
    # equal to the observed value: all 99 draws at or above -> folded to 0 -> p = 1 / 100.
    assert ours.p_sim[4] == np.float32(1 / 100)
    assert ours.std[4] == 0.0
    # A corner has the centre among its 3 neighbours: its observed Gi* (1 + 1 + 1 + 100) is the
    # largest a draw can give. A draw takes 3 of the 8 others, whose mean value is 107 / 8, so
    # the draws average (1 + 3 * 107 / 8) / 108 (99 draws: within 15 %).
    assert plain.Gs[0] == pytest.approx(103 / 108)
    assert ours.mean[0] == pytest.approx((1 + 3 * 107 / 8) / 108, rel=0.15)
