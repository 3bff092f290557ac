"""The population of a period: linear between known dates, flat beyond, integrated."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from geo.errors import ParameterError
from geo.exposure import (
    DEFAULT_REFERENCE_DATE,
    ReferenceDate,
    parse_reference_date,
    period_population,
    reference_dates,
)

D = dt.date


def table(rows):
    return pd.DataFrame(rows, columns=["code", "year", "population", "reference_date"])


def test_one_census_is_carried_flat_to_any_later_period():
    # issue 12: population known only for 2020; 2024 must not be NaN
    found = period_population(table([("a", 2020, 5000, None)]), D(2024, 1, 1), D(2025, 1, 1))
    assert found.population["a"] == 5000
    assert found.rule["a"] == "constant"
    assert "one known date, constant (仅一期，视为不变) for 1" in found.note
    assert "known dates 2020-07-01..2020-07-01" in found.note


def test_linear_between_census_and_year_end_estimate():
    # 七普 2020-11-01: 1000; year-end 2022-12-31: 1790 (790 days later, +1 a day)
    t = table([("a", 2020, 1000, D(2020, 11, 1)), ("a", 2022, 1790, D(2022, 12, 31))])
    whole_2021 = period_population(t, D(2021, 1, 1), D(2022, 1, 1))
    # 2021-01-01 is day 61 after 2020-11-01; mean over the year is its middle: 61 + 365/2
    assert whole_2021.population["a"] == pytest.approx(1000 + 61 + 365 / 2)
    assert whole_2021.rule["a"] == "interpolated"
    # across a year boundary: 2021-12-01..2022-02-28 (90 days)
    winter = period_population(t, D(2021, 12, 1), D(2022, 3, 1))
    assert winter.population["a"] == pytest.approx(1000 + 395 + 90 / 2)
    # a rolling 12 months running past the last known date: flat 1790 after 2022-12-31
    rolling = period_population(t, D(2022, 7, 1), D(2023, 7, 1))
    ramp = 183  # 2022-07-01 .. 2022-12-31
    start = 1790 - ramp
    expected = (ramp * (start + 1790) / 2 + (365 - ramp) * 1790) / 365
    assert rolling.population["a"] == pytest.approx(expected)
    assert rolling.rule["a"] == "carried_forward"
    before = period_population(t, D(2019, 1, 1), D(2020, 1, 1))
    assert before.population["a"] == 1000 and before.rule["a"] == "carried_back"


def test_boundary_fallback_and_missing_codes():
    t = table([("a", 2024, 100, None)])
    found = period_population(t, D(2024, 1, 1), D(2025, 1, 1),
                              boundary=pd.Series({"a": 999, "b": 50, "c": None}),
                              codes=pd.Index(["a", "b", "c"]))
    assert found.population.tolist()[:2] == [100, 50]
    assert pd.isna(found.population["c"])
    assert found.rule.tolist()[:2] == ["constant", "boundary"] and pd.isna(found.rule["c"])
    assert found.note.endswith("known dates 2024-07-01..2024-07-01")
    assert "none for 1" in found.note


def test_reference_dates():
    assert parse_reference_date(None) == DEFAULT_REFERENCE_DATE == ReferenceDate(7, 1)
    assert parse_reference_date("11-01") == ReferenceDate(11, 1)
    assert parse_reference_date("2020-11-01") == ReferenceDate(11, 1, 2020)
    years = pd.Series([2022, 2023])
    assert reference_dates(years, parse_reference_date("12-31")).tolist() == [
        D(2022, 12, 31), D(2023, 12, 31)]
    with pytest.raises(ParameterError, match=r"reference date must be MM-DD or YYYY-MM-DD.*"
                                             r"'Nov 1'"):
        parse_reference_date("Nov 1")
    with pytest.raises(ParameterError, match=r"'13-01' is not a day of the year"):
        parse_reference_date("13-01")
    with pytest.raises(ParameterError, match=r"2020-11-01 is in 2020; got a population row "
                                             r"of year 2021"):
        reference_dates(pd.Series([2020, 2021]), parse_reference_date("2020-11-01"))
    with pytest.raises(ParameterError, match="02-29 does not exist in 2023"):
        reference_dates(pd.Series([2023]), parse_reference_date("02-29"))


def test_errors():
    t = table([("a", 2024, -1, None)])
    with pytest.raises(ParameterError, match="populations must be >= 0"):
        period_population(t, D(2024, 1, 1), D(2025, 1, 1))
    with pytest.raises(ParameterError, match="must end after it starts"):
        period_population(t, D(2024, 1, 1), D(2024, 1, 1))
