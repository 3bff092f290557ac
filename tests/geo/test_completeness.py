"""Which days the incident loads cover, and whether a period is wholly covered."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from geo.completeness import covered_districts, is_covered, parse_covers
from geo.errors import ParameterError

D = dt.date


def test_parse_covers():
    assert parse_covers("2024-01-01..2024-12-31") == (D(2024, 1, 1), D(2024, 12, 31))
    assert parse_covers("2024") == (D(2024, 1, 1), D(2024, 12, 31))
    assert parse_covers(" 2024-Q2 ") == (D(2024, 4, 1), D(2024, 6, 30))
    with pytest.raises(ParameterError, match=r"covers must be FIRST..LAST .*'2024/01/01'"):
        parse_covers("2024/01/01")
    with pytest.raises(ParameterError, match="covers must be"):
        parse_covers("2024-12-31..2024-01-01")


def test_is_covered_joins_adjacent_and_overlapping_intervals():
    year = (D(2023, 1, 1), D(2023, 12, 31))
    assert is_covered([year], *year)
    halves = [(D(2023, 7, 1), D(2023, 12, 31)), (D(2023, 1, 1), D(2023, 6, 30))]
    assert is_covered(halves, *year)
    gap = [(D(2023, 1, 1), D(2023, 6, 29)), (D(2023, 7, 1), D(2024, 3, 1))]
    assert not is_covered(gap, *year)
    assert not is_covered([(D(2023, 1, 2), D(2023, 12, 31))], *year)
    assert not is_covered([], *year)


def test_covered_districts_by_code_with_missing_codes():
    coverage = pd.DataFrame({
        "district_code": ["110102", None, "110105"],
        "first_day": [D(2023, 1, 1), D(2024, 1, 1), D(2024, 1, 1)],
        "last_day": [D(2024, 12, 31), D(2024, 12, 31), D(2024, 12, 31)],
    })
    got = covered_districts(coverage, D(2023, 1, 1), D(2023, 12, 31),
                            ["110102", "110105", None, "110108"])
    assert got.tolist() == [True, False, False, False]
    assert covered_districts(coverage, D(2024, 1, 1), D(2024, 12, 31), [None]).tolist() == [True]
    with pytest.raises(ParameterError, match="coverage lacks columns"):
        covered_districts(coverage.drop(columns="last_day"), D(2024, 1, 1), D(2024, 1, 2), [])
