"""The cell-key method and small-count labels (geo/release.py), checked value by value."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest

from geo.errors import ParameterError
from geo.release import (
    KEY_MODULUS,
    PERTURBATION,
    WEIGHT_TOTAL,
    cell_key_fraction,
    hidden_label,
    hidden_value,
    perturbation,
    record_keys,
    release_counts,
)

SECRET = b"0123456789abcdef0123"


def test_record_keys_are_the_first_four_bytes_of_the_keyed_hash():
    keys = record_keys(["A-1", "事件-2"], SECRET)
    expected = [int.from_bytes(hmac.new(SECRET, i.encode(), hashlib.sha256).digest()[:4], "big")
                for i in ("A-1", "事件-2")]
    assert keys.tolist() == expected
    assert keys.dtype == np.int64 and ((keys >= 0) & (keys < KEY_MODULUS)).all()
    # another secret gives other keys: nobody without the secret can compute them
    assert record_keys(["A-1"], SECRET + b"x").tolist() != expected[:1]


def test_record_keys_need_a_real_secret():
    with pytest.raises(ParameterError, match="at least 16 bytes; got 5"):
        record_keys(["A"], b"short")


def test_cell_key_is_the_key_sum_modulo_two_to_the_32():
    assert cell_key_fraction([0, KEY_MODULUS, KEY_MODULUS + KEY_MODULUS // 2, 3 * 2**30]
                             ).tolist() == [0.0, 0.0, 0.5, 0.75]


@pytest.mark.parametrize(("count", "u", "move", "hidden"), [
    (0, 0.99, 0, True), (1, 0.5, 0, True), (2, 0.0, 0, True),    # below min_count: hidden
    (3, 0.0, 0, True), (3, 0.2999, 0, True), (3, 0.3, 0, False), (3, 0.6999, 0, False),
    (3, 0.7, 1, False), (3, 0.9, 2, False),
    (4, 0.0, 0, True), (4, 0.1, -1, False), (4, 0.3, 0, False), (4, 0.7, 1, False),
    (4, 0.9, 2, False),
    (5, 0.0, -2, False), (5, 0.0999, -2, False), (5, 0.1, -1, False), (5, 0.3, 0, False),
    (5, 0.7, 1, False), (5, 0.9, 2, False), (1000, 0.95, 2, False),
])
def test_perturbation_reads_the_table_at_the_cell_key(count, u, move, hidden):
    key_sum = round(u * KEY_MODULUS)
    d, h = perturbation([count], [key_sum], min_count=3)
    assert (d.tolist(), h.tolist()) == ([move], [hidden])


def test_the_table_is_bounded_and_symmetric_above_the_threshold():
    for moves, weights in PERTURBATION:
        assert sum(weights) == WEIGHT_TOTAL
        assert max(abs(m) for m in moves if m is not None) <= 2
    moves, weights = PERTURBATION[-1]
    assert list(moves) == [-m for m in reversed(moves)]  # type: ignore[operator]
    assert sum(m * w for m, w in zip(moves, weights, strict=True)) == 0  # type: ignore[operator]


def test_released_counts_stay_at_or_above_min_count_and_near_the_truth():
    rng = np.random.default_rng(7)
    n = rng.integers(0, 60, 20_000)
    keys = rng.integers(0, 2**40, 20_000)
    rel = release_counts(n, keys, min_count=3)
    numeric = ~rel.hidden
    released = rel.value[numeric]
    assert (released >= 3).all()
    assert np.abs(released - n[numeric]).max() == 2
    assert rel.hidden[n < 3].all() and not rel.hidden[n >= 5].any()
    # about 30 % of threes and 10 % of fours are hidden too
    assert rel.hidden[n == 3].mean() == pytest.approx(0.3, abs=0.06)
    assert rel.hidden[n == 4].mean() == pytest.approx(0.1, abs=0.05)
    # frequencies follow the table for counts of 5 and more
    d = rel.value[n >= 5] - n[n >= 5]
    share = [(d == m).mean() for m in (-2, -1, 0, 1, 2)]
    assert share == pytest.approx([0.1, 0.2, 0.4, 0.2, 0.1], abs=0.015)


def test_release_labels_small_counts_including_zero():
    rel = release_counts([0, 1, 2, 3, 7], [11, 22, 33, 2**31, 0], min_count=3)
    assert rel.shown.tolist() == ["<3", "<3", "<3", 3, 5]  # key 0: u = 0, the lowest move
    assert rel.hidden.tolist() == [True, True, True, False, False]
    assert rel.value.tolist() == [hidden_value(3)] * 3 + [3.0, 5.0]
    assert hidden_label(5) == "<5" and hidden_value(5) == 2.0


def test_the_same_incidents_always_get_the_same_release():
    a = release_counts([12, 12], [987654321, 987654321 + KEY_MODULUS]).shown.tolist()
    assert a[0] == a[1]


def test_release_counts_errors_name_the_parameter():
    with pytest.raises(ParameterError, match="min_count must be an integer >= 2; got 1"):
        release_counts([1], [1], min_count=1)
    with pytest.raises(ParameterError, match="same length; got 2 and 1"):
        release_counts([1, 2], [1])
    with pytest.raises(ParameterError, match="counts must be >= 0; got -1"):
        release_counts([-1], [1])
