"""Codes in natural order: community area 2 before 10; Chinese 12-digit codes as before."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.codes import natural_key, sort_by_code, sorted_codes


def test_portal_numbers_sort_as_numbers():
    codes = [str(k) for k in range(1, 13)]
    assert sorted(codes) == ["1", "10", "11", "12", "2", "3", "4", "5", "6", "7", "8", "9"]
    assert sorted_codes(reversed(sorted(codes))) == codes


def test_chinese_12_digit_codes_keep_their_text_order():
    rng = np.random.default_rng(12)
    codes = [f"1101{int(v):08d}" for v in rng.integers(0, 10**8, 200)]
    assert sorted_codes(codes) == sorted(codes)


def test_mixed_text_leading_zeros_and_missing_values():
    codes = ["C10", "C2", "B1", None, "C02", "10a", "9b", np.nan, "unassigned"]
    assert sorted_codes(codes)[:7] == ["9b", "10a", "B1", "C2", "C02", "C10", "unassigned"]
    assert [natural_key(c)[0] for c in sorted_codes(codes)[7:]] == [1, 1]
    # "C2" and "C02" are the same number: the shorter text first, the same way every time
    assert sorted_codes(["C2", "C02"]) == sorted_codes(["C02", "C2"]) == ["C2", "C02"]


def test_sort_by_code_keeps_rows_and_index():
    frame = pd.DataFrame({"code": ["10", "2", None, "1"], "v": [10, 2, 0, 1]},
                         index=["a", "b", "c", "d"])
    out = sort_by_code(frame)
    assert out["v"].tolist() == [1, 2, 10, 0] and out.index.tolist() == ["d", "b", "a", "c"]
    assert frame["v"].tolist() == [10, 2, 0, 1]  # the input is not modified
    by_index = sort_by_code(frame.set_index("code"), None)
    assert by_index["v"].tolist() == [1, 2, 10, 0]
