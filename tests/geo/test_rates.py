import datetime as dt
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from esda.smoothing import Empirical_Bayes

from geo.cases import CaseCounts, CaseDefinition, count_cases, select_cases
from geo.period import parse_period
from geo.rates import RatesResult, compute_category_rates, compute_rates
from geo.rollup import roll_up
from geo.trends import hour_weekday_profile, monthly_series

Y2025 = parse_period("2025")
Y2024 = parse_period("2024")
# 2025 has 365 days and 2024 has 366: the share of the exposure in 2025 is 365 / 731.
SHARE_2025 = 365 / 731


def counts(rows, period=Y2025, **kwargs):
    """CaseCounts from (code, cases) or (code, category, cases) tuples."""
    columns = ["community_code", "cases"] if len(rows[0]) == 2 else [
        "community_code", "category", "cases"]
    return CaseCounts(pd.DataFrame(rows, columns=columns), period, **kwargs)


def records(rows):
    """Incident records from (community_code, category, status, UTC time) tuples."""
    frame = pd.DataFrame(rows, columns=["community_code", "category", "status", "occurred_at"])
    frame["community_code"] = frame["community_code"].astype("string")
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


def binomial_pmf(k, n, p):
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


def hand_p_rise(n1, n2, share):
    n = n1 + n2
    return sum(binomial_pmf(k, n, share) for k in range(n1, n + 1))


def hand_p_change(n1, n2, share):
    # Two-sided by the likelihood: every outcome no more likely than the one observed.
    n = n1 + n2
    observed = binomial_pmf(n1, n, share)
    return min(1.0, sum(binomial_pmf(k, n, share) for k in range(n + 1)
                        if binomial_pmf(k, n, share) <= observed * (1 + 1e-7)))


def hand_bh(p):
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


# ---------------------------------------------------------------------------------------------
# CaseDefinition
# ---------------------------------------------------------------------------------------------

def test_default_definition_counts_every_record():
    frame = pd.DataFrame({"category": ["theft", None], "status": [None, "withdrawn"]})
    assert CaseDefinition().mask(frame).tolist() == [True, True]


def test_definition_mask_and_missing_values():
    definition = CaseDefinition(exclude_categories=["traffic"], exclude_statuses=["withdrawn"])
    frame = pd.DataFrame({
        "category": ["theft", "traffic", "theft", None, "fraud"],
        "status": ["open", "open", "withdrawn", "open", None],
    })
    assert definition.mask(frame).tolist() == [True, False, False, True, True]
    including = CaseDefinition(include_categories=["theft", " fraud "])
    assert including.include_categories == ("fraud", "theft")
    assert including.mask(frame).tolist() == [True, False, True, False, True]


def test_definition_sql_lists():
    definition = CaseDefinition(exclude_statuses=("unfounded", "withdrawn", "withdrawn"))
    assert definition.as_sql_lists() == {
        "include_categories": None,
        "exclude_categories": [],
        "exclude_statuses": ["unfounded", "withdrawn"],
    }


def test_definition_errors():
    with pytest.raises(TypeError, match="exclude_statuses must be a list of strings"):
        CaseDefinition(exclude_statuses="withdrawn")
    with pytest.raises(ValueError, match="include_categories must name at least one"):
        CaseDefinition(include_categories=[])
    with pytest.raises(ValueError, match="both included and excluded"):
        CaseDefinition(include_categories=["theft"], exclude_categories=["theft"])
    with pytest.raises(ValueError, match="non-empty strings"):
        CaseDefinition(exclude_categories=[" "])
    with pytest.raises(ValueError, match="must have the column"):
        CaseDefinition(exclude_statuses=["withdrawn"]).mask(pd.DataFrame({"category": ["a"]}))


# ---------------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------------

def test_half_past_midnight_on_new_year_local_time_is_in_2025():
    frame = records([
        ("a", "theft", None, "2024-12-31T16:30:00Z"),  # 2025-01-01 00:30 in Beijing
        ("a", "theft", None, "2024-12-31T15:59:00Z"),  # 2024-12-31 23:59 in Beijing
        ("a", "theft", None, "2025-12-31T15:59:59Z"),  # last second of 2025 in Beijing
        ("a", "theft", None, "2025-12-31T16:00:00Z"),  # 2026-01-01 00:00 in Beijing
    ])
    result = count_cases(frame, Y2025)
    assert result.by_community().to_dict() == {"a": 2}
    assert select_cases(frame, Y2025).index.tolist() == [0, 2]
    assert select_cases(frame, Y2025, timezone="UTC").index.tolist() == [2, 3]


def test_count_cases_left_out_and_categories():
    frame = records([
        ("a", "theft", "open", "2025-03-01T00:00:00Z"),
        ("a", "theft", "withdrawn", "2025-03-01T00:00:00Z"),
        ("a", "fraud", "open", "2025-03-01T00:00:00Z"),
        ("b", "theft", None, "2025-03-01T00:00:00Z"),
        (None, "theft", "open", "2025-03-01T00:00:00Z"),
        (None, "fraud", "open", "2025-03-01T00:00:00Z"),
        ("b", "theft", "open", "2024-03-01T00:00:00Z"),
    ])
    definition = CaseDefinition(exclude_statuses=["withdrawn"])
    total = count_cases(frame, Y2025, case_definition=definition)
    assert total.by_community().to_dict() == {"a": 2, "b": 1}
    assert total.unassigned() == 2
    assert total.not_counted == 1
    assert total.no_location == 0
    by_category = count_cases(frame, Y2025, case_definition=definition, by_category=True)
    assert by_category.categories == ["fraud", "theft"]
    assert by_category.by_community("theft").to_dict() == {"a": 1, "b": 1}
    assert by_category.unassigned("fraud") == 1
    assert by_category.by_community().to_dict() == {"a": 2, "b": 1}


def test_count_cases_no_location_needs_neither_point_nor_code():
    frame = gpd.GeoDataFrame(
        records([
            (None, "theft", None, "2025-05-01T00:00:00Z"),
            (None, "theft", None, "2025-05-01T00:00:00Z"),
            ("a", "theft", None, "2025-05-01T00:00:00Z"),
        ]),
        geometry=[shapely.Point(116.4, 39.9), None, None],
        crs=4326,
    )
    result = count_cases(frame, Y2025)
    assert (result.unassigned(), result.no_location) == (2, 1)


def test_count_cases_errors():
    naive = records([("a", "theft", None, "2025-03-01T00:00:00Z")])
    naive["occurred_at"] = naive["occurred_at"].dt.tz_localize(None)
    with pytest.raises(TypeError, match="occurred_at must be a timezone-aware"):
        count_cases(naive, Y2025)
    good = records([("a", "theft", None, "2025-03-01T00:00:00Z")])
    with pytest.raises(ValueError, match="timezone must be an IANA time zone"):
        count_cases(good, Y2025, timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="incidents must have the column"):
        count_cases(good.drop(columns="community_code"), Y2025)
    with pytest.raises(TypeError, match="period must be a Period"):
        count_cases(good, "2025")


def test_case_counts_validation():
    with pytest.raises(ValueError, match="whole numbers >= 0"):
        counts([("a", -1)])
    with pytest.raises(ValueError, match="whole numbers >= 0"):
        counts([("a", 1.5)])
    with pytest.raises(ValueError, match="one row per community_code"):
        counts([("a", 1), ("a", 2)])
    with pytest.raises(ValueError, match="must have the column"):
        CaseCounts(pd.DataFrame({"community_code": ["a"]}), Y2025)
    with pytest.raises(TypeError, match="counts must be a DataFrame"):
        CaseCounts(pd.Series([1]), Y2025)
    with pytest.raises(ValueError, match="no_location counts unassigned cases"):
        counts([("a", 1), (None, 1)], no_location=2)
    with pytest.raises(ValueError, match="not_counted must be an integer >= 0"):
        counts([("a", 1)], not_counted=-3)
    with pytest.raises(ValueError, match="must not be missing"):
        counts([("a", None, 1)])
    with pytest.raises(ValueError, match="not split by category"):
        counts([("a", 1)]).by_community("theft")


# ---------------------------------------------------------------------------------------------
# Rates
# ---------------------------------------------------------------------------------------------

def test_rate_per_10k_full_year_and_quarter():
    year = compute_rates(counts([("a", 25)]), pd.Series({"a": 12500}))
    row = year.frame.loc["a"]
    assert row["case_rate_per_10k"] == pytest.approx(20.0)
    assert row["case_rate_per_10k_annual"] == pytest.approx(20.0 * 365.25 / 365)
    assert row["population_source"] == "boundary"

    q3 = parse_period("2025-Q3")
    assert q3.days == 92
    quarter = compute_rates(counts([("a", 25)], period=q3), pd.Series({"a": 12500}))
    row = quarter.frame.loc["a"]
    assert row["case_rate_per_10k"] == pytest.approx(20.0)
    assert row["case_rate_per_10k_annual"] == pytest.approx(20.0 * 365.25 / 92)


def test_population_zero_or_missing_gives_nan_and_flag():
    result = compute_rates(
        counts([("a", 4), ("b", 2), ("zero", 3), ("nopop", 1)]),
        pd.Series({"a": 10000, "b": 5000, "zero": 0, "empty": 2000}),
    )
    frame = result.frame
    assert frame.index.tolist() == ["a", "b", "empty", "nopop", "zero"]
    assert frame["no_population"].tolist() == [False, False, False, True, True]
    for code in ("zero", "nopop"):
        assert np.isnan(frame.loc[code, "case_rate_per_10k"])
        assert np.isnan(frame.loc[code, "case_rate_per_10k_annual"])
        assert np.isnan(frame.loc[code, "case_rate_eb_per_10k_annual"])
    assert frame.loc["zero", "cases"] == 3
    assert frame.loc["empty", "cases"] == 0
    assert frame.loc["empty", "case_rate_per_10k"] == 0.0
    assert any("2 communities without population" in note for note in result.notes)


def test_empirical_bayes_equals_esda_when_prior_variance_positive():
    cases = {"a": 5, "b": 30, "c": 2, "d": 12, "park": 1}
    population = {"a": 5000, "b": 10000, "c": 2000, "d": 8000, "park": 0}
    result = compute_rates(counts(list(cases.items())), pd.Series(population))
    e = np.array([5, 30, 2, 12], dtype=float)
    b = np.array([5000, 10000, 2000, 8000], dtype=float) * 365 / 365.25
    m = e.sum() / b.sum()
    assert (b * (e / b - m) ** 2).sum() / b.sum() - m / b.mean() > 0
    expected = Empirical_Bayes(e, b).r.ravel() * 1e4
    got = result.frame.loc[["a", "b", "c", "d"], "case_rate_eb_per_10k_annual"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Shrinkage: the small community moves most toward the mean.
    raw = result.frame["case_rate_per_10k_annual"]
    smoothed = result.frame["case_rate_eb_per_10k_annual"]
    assert abs(smoothed["c"] - raw["c"]) > abs(smoothed["b"] - raw["b"])
    assert np.isnan(smoothed["park"])


def test_empirical_bayes_clipped_when_prior_variance_not_positive():
    result = compute_rates(counts([("a", 10), ("b", 12), ("c", 11)]),
                           pd.Series({"a": 10000, "b": 10000, "c": 10000}))
    b = 10000 * 365 / 365.25
    mean_per_10k = 33 / (3 * b) * 1e4
    np.testing.assert_allclose(result.frame["case_rate_eb_per_10k_annual"], mean_per_10k)
    # esda's own formula breaks down here (a negative prior variance): its values are not rates.
    esda_values = Empirical_Bayes(np.array([10.0, 12, 11]), np.full(3, b)).r.ravel() * 1e4
    assert not np.allclose(esda_values, mean_per_10k)
    assert any("clipped to 0" in note for note in result.notes)


def test_no_cases_anywhere_smooths_to_zero():
    result = compute_rates(counts([("a", 0)]), pd.Series({"a": 100, "b": 200}))
    assert result.frame["case_rate_eb_per_10k_annual"].tolist() == [0.0, 0.0]


def test_poisson_comparison_worked_example():
    result = compute_rates(
        counts([("a", 15)]), pd.Series({"a": 10000}),
        compare_counts=counts([("a", 5)], period=Y2024),
    )
    row = result.frame.loc["a"]
    assert row["p_rise"] == pytest.approx(hand_p_rise(15, 5, SHARE_2025), rel=1e-9)
    assert row["p_change"] == pytest.approx(hand_p_change(15, 5, SHARE_2025), rel=1e-9)
    assert row["p_rise"] == pytest.approx(0.0203932, rel=1e-5)
    # One community tested: the adjusted p values are the p values.
    assert row["q_rise"] == pytest.approx(row["p_rise"])
    assert row["case_rise_significant"] == 1
    assert row["compare_cases"] == 5
    assert row["case_change_pct"] == pytest.approx(((15 / 365) / (5 / 366) - 1) * 100)
    assert result.compare_period == Y2024


def test_benjamini_hochberg_worked_example_and_flags():
    np.testing.assert_allclose(hand_bh([0.01, 0.04, 0.03, 0.20]),
                               [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    now = [("a", 15), ("b", 9), ("c", 30), ("d", 4), ("quiet", 0)]
    before = [("a", 5), ("b", 3), ("c", 20), ("d", 4), ("quiet", 0)]
    population = pd.Series(dict.fromkeys(["a", "b", "c", "d", "quiet"], 10000))
    result = compute_rates(counts(now), population,
                           compare_counts=counts(before, period=Y2024))
    frame = result.frame
    tested = ["a", "b", "c", "d"]
    p_rise = [hand_p_rise(n1, n2, SHARE_2025)
              for (_, n1), (_, n2) in zip(now[:4], before[:4], strict=True)]
    np.testing.assert_allclose(frame.loc[tested, "p_rise"], p_rise, rtol=1e-9)
    np.testing.assert_allclose(frame.loc[tested, "q_rise"], hand_bh(p_rise), rtol=1e-9)
    p_change = frame.loc[tested, "p_change"].to_numpy()
    np.testing.assert_allclose(frame.loc[tested, "q_change"], hand_bh(p_change), rtol=1e-9)
    # a alone would be a significant rise (p = 0.020); among four it is not (q = 0.082).
    assert frame.loc["a", "p_rise"] < 0.05 < frame.loc["a", "q_rise"]
    assert frame["case_rise_significant"].tolist() == [0, 0, 0, 0, 0]
    # No cases in either period: not tested, and no rise.
    assert np.isnan(frame.loc["quiet", "p_rise"])
    loose = compute_rates(counts(now), population,
                          compare_counts=counts(before, period=Y2024), alpha=0.1)
    assert loose.frame["case_rise_significant"].tolist() == [1, 0, 0, 0, 0]


def test_no_comparison_leaves_comparison_columns_missing():
    frame = compute_rates(counts([("a", 3)]), pd.Series({"a": 100})).frame
    assert pd.isna(frame.loc["a", "case_rise_significant"])
    assert np.isnan(frame.loc["a", "p_rise"])
    assert pd.isna(frame.loc["a", "compare_cases"])


def test_population_of_the_period_is_person_years_with_boundary_fallback():
    # a: mid-year (07-01) counts of 2024 and 2025; b: 2024 only; c: the boundary layer only.
    table = pd.DataFrame({"code": ["a", "a", "b"], "year": [2025, 2024, 2024],
                          "population": [12000, 10000, 3000]})
    boundary = pd.Series({"a": 11000, "b": 2500, "c": 800})
    result = compute_rates(
        counts([("a", 6), ("b", 1), ("c", 1)]), table, boundary_populations=boundary,
        compare_counts=counts([("a", 5), ("b", 1), ("c", 1)], period=Y2024),
    )
    frame = result.frame
    # 2025 for a: linear from 2024-07-01 (10000) to 2025-07-01 (12000), flat after. On
    # 2025-01-01, 184 of the 365 days are gone: 10000 + 2000 × 184 / 365.
    jan1 = 10000 + 2000 * 184 / 365
    a_2025 = (181 * (jan1 + 12000) / 2 + 184 * 12000) / 365
    # 2024 (366 days) for a: flat 10000 to 07-01 (182 days), then up to jan1 (184 days).
    a_2024 = (182 * 10000 + 184 * (10000 + jan1) / 2) / 366
    assert frame["population"].tolist() == pytest.approx([a_2025, 3000, 800])
    assert frame["population_source"].tolist() == ["year", "year", "boundary"]
    assert frame["population_rule"].tolist() == ["carried_forward", "constant", "boundary"]
    assert frame["compare_population"].tolist() == pytest.approx([a_2024, 3000, 800])
    assert frame.loc["a", "case_rate_per_10k"] == pytest.approx(6 / a_2025 * 1e4)
    assert any("carried flat after the last known date (沿用最近一期) for 1" in note
               and "the communities layer's population (边界图层人口) for 1" in note
               for note in result.notes)
    without_fallback = compute_rates(counts([("a", 6), ("c", 1)]), table)
    assert without_fallback.frame.loc["c", "no_population"]
    assert pd.isna(without_fallback.frame.loc["c", "population_source"])


def test_compute_rates_errors():
    one = counts([("a", 1)])
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 1\)"):
        compute_rates(one, pd.Series({"a": 10}), alpha=1.5)
    with pytest.raises(ValueError, match="must be >= 0"):
        compute_rates(one, pd.Series({"a": -10}))
    with pytest.raises(ValueError, match="one population per community"):
        compute_rates(one, pd.Series([10, 20], index=["a", "a"]))
    with pytest.raises(TypeError, match="counts must be CaseCounts"):
        compute_rates(pd.DataFrame({"community_code": ["a"], "cases": [1]}),
                      pd.Series({"a": 10}))
    with pytest.raises(TypeError, match="populations must be a Series"):
        compute_rates(one, {"a": 10})
    with pytest.raises(ValueError, match="same case definition"):
        compute_rates(one, pd.Series({"a": 10}), compare_counts=counts(
            [("a", 1)], period=Y2024,
            case_definition=CaseDefinition(exclude_statuses=["withdrawn"])))
    with pytest.raises(ValueError, match="boundary_populations is the fallback"):
        compute_rates(one, pd.Series({"a": 10}), boundary_populations=pd.Series({"a": 10}))
    with pytest.raises(ValueError, match="populations must have the column"):
        compute_rates(one, pd.DataFrame({"code": ["a"], "year": [2025]}))


def test_category_rates_are_their_own_families():
    now = counts([("a", "theft", 10), ("b", "theft", 2), ("a", "fraud", 1), (None, "fraud", 4)])
    result = compute_category_rates(now, pd.Series({"a": 10000, "b": 5000}))
    assert list(result) == ["fraud", "theft"]
    assert all(isinstance(r, RatesResult) for r in result.values())
    fraud = result["fraud"]
    assert fraud.category == "fraud"
    assert fraud.frame["cases"].to_dict() == {"a": 1, "b": 0}
    assert fraud.unassigned == 4
    assert result["theft"].frame.loc["b", "case_rate_per_10k"] == pytest.approx(4.0)
    assert result["theft"].unassigned == 0
    total = compute_rates(now, pd.Series({"a": 10000, "b": 5000}))
    assert total.frame["cases"].to_dict() == {"a": 11, "b": 2}
    with pytest.raises(ValueError, match="counts must be split by category"):
        compute_category_rates(counts([("a", 1)]), pd.Series({"a": 10}))


# ---------------------------------------------------------------------------------------------
# Roll-ups
# ---------------------------------------------------------------------------------------------

COMMUNITIES = pd.DataFrame({
    "code": ["a", "b", "c", "d"],
    "subdistrict_code": ["s1", "s1", "s1", "s2"],
    "subdistrict": ["East", "East", "East", "West"],
    "district_code": ["d1", "d1", "d1", "d1"],
})


def rolled_example():
    now = counts([("a", 30), ("b", 1), ("c", 5), ("d", 10), (None, 3)])
    before = counts([("a", 20), ("b", 1), ("c", 0), ("d", 10), (None, 1)], period=Y2024)
    population = pd.Series({"a": 10000, "b": 1000, "c": 0, "d": 5000})
    return compute_rates(now, population, compare_counts=before)


def test_roll_up_is_sums_over_sums():
    result = rolled_example()
    rolled = roll_up(result, COMMUNITIES, level="subdistrict")
    frame = rolled.frame
    assert frame.index.tolist() == ["s1", "s2", "unassigned"]
    east = frame.loc["s1"]
    assert east["name"] == "East"
    assert east["case_rate_per_10k"] == pytest.approx(31 / 11000 * 1e4)
    mean_of_rates = result.frame.loc[["a", "b"], "case_rate_per_10k"].mean()
    assert mean_of_rates == pytest.approx(20.0)
    assert east["case_rate_per_10k"] != pytest.approx(mean_of_rates)
    assert east["case_rate_per_10k_annual"] == pytest.approx(31 / (11000 * 365 / 365.25) * 1e4)
    # The community without population: out of the denominator, its cases reported.
    assert (east["communities"], east["communities_no_population"]) == (3, 1)
    assert (east["cases"], east["cases_no_population"], east["population"]) == (36, 5, 11000)
    assert frame.loc["unassigned", "cases"] == 3
    assert frame.loc["unassigned", "compare_cases"] == 1
    assert np.isnan(frame.loc["unassigned", "case_rate_per_10k"])
    assert pd.isna(frame.loc["unassigned", "case_rise_significant"])


def test_roll_up_retests_the_change_on_summed_counts():
    rolled = roll_up(rolled_example(), COMMUNITIES, level="subdistrict").frame
    p_east = hand_p_rise(31, 21, SHARE_2025)
    p_west = hand_p_rise(10, 10, SHARE_2025)
    assert rolled.loc["s1", "p_rise"] == pytest.approx(p_east, rel=1e-9)
    assert rolled.loc["s2", "p_rise"] == pytest.approx(p_west, rel=1e-9)
    np.testing.assert_allclose(rolled.loc[["s1", "s2"], "q_rise"], hand_bh([p_east, p_west]))
    assert rolled.loc["s1", "compare_cases"] == 21
    assert rolled.loc["s1", "p_change"] == pytest.approx(
        hand_p_change(31, 21, SHARE_2025), rel=1e-9)


def test_roll_up_city_and_unknown_parent():
    result = rolled_example()
    city = roll_up(result, COMMUNITIES, level="city").frame
    assert city.index.tolist() == ["city", "unassigned"]
    assert city.loc["city", "case_rate_per_10k"] == pytest.approx(41 / 16000 * 1e4)
    partial = COMMUNITIES.assign(district_code=["d1", "d1", None, None])
    district = roll_up(result, partial, level="district")
    assert district.frame.index.tolist() == ["d1", "unknown", "unassigned"]
    assert district.frame.loc["unknown", "cases"] == 15
    assert district.frame.loc["unknown", "case_rate_per_10k"] == pytest.approx(20.0)


def test_roll_up_errors():
    result = rolled_example()
    with pytest.raises(ValueError, match="level must be one of"):
        roll_up(result, COMMUNITIES, level="province")
    with pytest.raises(ValueError, match="communities must have the column"):
        roll_up(result, COMMUNITIES.drop(columns="subdistrict_code"), level="subdistrict")
    with pytest.raises(ValueError, match="must be unique"):
        roll_up(result, pd.concat([COMMUNITIES, COMMUNITIES.head(1)]), level="district")
    with pytest.raises(TypeError, match="result must be a RatesResult"):
        roll_up(result.frame, COMMUNITIES, level="city")


# ---------------------------------------------------------------------------------------------
# Time profiles
# ---------------------------------------------------------------------------------------------

def test_monthly_series_zero_filled_in_local_months():
    frame = records([
        ("a", "theft", None, "2025-03-31T15:30:00Z"),  # 2025-03-31 23:30 local: March
        ("a", "theft", None, "2025-03-31T16:10:00Z"),  # 2025-04-01 00:10 local: not in Q1
        ("a", "fraud", None, "2024-12-31T16:30:00Z"),  # 2025-01-01 00:30 local: January
        (None, "theft", None, "2025-02-01T00:00:00Z"),
    ])
    q1 = parse_period("2025-Q1")
    series = monthly_series(frame, q1, community_codes=["b"])
    assert series.columns.tolist() == ["community_code", "month", "days", "cases"]
    assert series["community_code"].tolist() == ["a"] * 3 + ["b"] * 3
    assert series["month"].tolist() == ["2025-01", "2025-02", "2025-03"] * 2
    assert series["days"].tolist() == [31, 28, 31] * 2
    assert series["cases"].tolist() == [1, 0, 1, 0, 0, 0]
    split = monthly_series(frame, q1, by_category=True)
    assert len(split) == 1 * 2 * 3
    theft = split[split["category"] == "theft"]
    assert theft["cases"].tolist() == [0, 0, 1]


def test_monthly_series_partial_months_of_a_range():
    frame = records([("a", "theft", None, "2025-01-20T00:00:00Z")])
    series = monthly_series(frame, parse_period("2025-01-15..2025-02-10"))
    assert series["month"].tolist() == ["2025-01", "2025-02"]
    assert series["days"].tolist() == [17, 10]
    assert series["cases"].tolist() == [1, 0]


def test_hour_weekday_profile_in_local_time():
    frame = records([
        ("a", "theft", None, "2025-01-05T17:00:00Z"),  # Monday 2025-01-06 01:00 local
        ("a", "theft", None, "2025-01-05T17:59:00Z"),  # Monday 01:59 local
        ("a", "theft", "withdrawn", "2025-01-05T17:59:00Z"),
    ])
    profile = hour_weekday_profile(
        frame, Y2025, case_definition=CaseDefinition(exclude_statuses=["withdrawn"]))
    assert len(profile) == 168
    assert profile["cases"].sum() == 2
    hit = profile[profile["cases"] > 0]
    assert (hit["weekday"].tolist(), hit["hour"].tolist(), hit["cases"].tolist()) == (
        [0], [1], [2])
    table = profile.pivot(index="weekday", columns="hour", values="cases")
    assert table.shape == (7, 24)
    assert dt.date(2025, 1, 6).weekday() == 0
    in_utc = hour_weekday_profile(frame, Y2025, timezone="UTC")
    assert in_utc.loc[in_utc["cases"] > 0, ["weekday", "hour"]].values.tolist() == [[6, 17]]


def test_profile_errors():
    with pytest.raises(ValueError, match="records must have the column"):
        monthly_series(pd.DataFrame({"community_code": ["a"]}), Y2025)
    with pytest.raises(TypeError, match="community_codes must be a list of strings"):
        hour_weekday_profile(records([("a", "theft", None, "2025-01-05T17:00:00Z")]), Y2025,
                             community_codes="a")
