import datetime as dt
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import statsmodels.api as sm
from scipy.stats import nbinom, norm, poisson
from scipy.stats import t as student_t

from geo.alerts import CountSeries, count_series, detect_alerts
from geo.errors import InputError, MissingDataError, ParameterError
from geo.outbreaks import background_incidents, plant_outbreaks


def series(counts, *, resolution="day", first="2025-01-06", units=None):
    """A CountSeries from a list of counts (one unit) or a 2-D array (steps x units)."""
    values = np.asarray(counts, dtype=np.int64)
    values = values[:, None] if values.ndim == 1 else values
    freq = "D" if resolution == "day" else "7D"
    index = pd.DatetimeIndex(pd.date_range(first, periods=len(values), freq=freq), name="step")
    units = units or [f"u{i}" for i in range(values.shape[1])]
    return CountSeries(frame=pd.DataFrame(values, index=index, columns=units),
                       resolution=resolution, unit="unit", timezone="Asia/Shanghai", no_unit=0,
                       no_time=0, outside=0, notes=())


def last_row(counts, **options):
    s = series(counts)
    return detect_alerts(s, fdr=None, **options).frame.iloc[0]


# ----------------------------------------------------------------------------- count_series


def test_count_series_by_local_day_and_iso_week():
    times = pd.to_datetime([
        "2025-01-05 15:59",  # Sunday 23:59 in Beijing
        "2025-01-05 16:01",  # Monday 00:01 in Beijing: the next day and the next ISO week
        "2025-01-07 03:00", "2025-01-07 04:00", None, "2025-01-20 00:00"], utc=True)
    frame = pd.DataFrame({"occurred_at": times,
                          "community_code": ["a", "a", "b", None, "a", "a"]})
    weekly = count_series(frame, units=["a", "b", "c"], end=dt.date(2025, 1, 19))
    assert weekly.frame.index.tolist() == [pd.Timestamp("2024-12-30"), pd.Timestamp("2025-01-06"),
                                           pd.Timestamp("2025-01-13")]
    assert weekly.frame.to_dict("list") == {"a": [1, 1, 0], "b": [0, 1, 0], "c": [0, 0, 0]}
    assert (weekly.no_unit, weekly.no_time, weekly.outside) == (1, 1, 1)
    daily = count_series(frame, resolution="day", start=dt.date(2025, 1, 5),
                         end=dt.date(2025, 1, 7))
    assert daily.frame.to_dict("list") == {"a": [1, 1, 0], "b": [0, 0, 1]}
    utc = count_series(frame, resolution="day", timezone="UTC", start=dt.date(2025, 1, 5),
                       end=dt.date(2025, 1, 7))
    assert utc.frame["a"].tolist() == [2, 0, 0]


# ----------------------------------------------------------------------------------- EARS


def test_ears_c1_by_hand():
    # Baseline of the last step: 2 4 3 5 1 3 2, mean 20/7, variance (68 − 7 (20/7)²) / 6 = 38/21.
    row = last_row([2, 4, 3, 5, 1, 3, 2, 10], method="ears", ears="c1")
    mean, sd = 20 / 7, math.sqrt(38 / 21)
    assert row.method == "ears_c1"
    assert row.expected == pytest.approx(mean)
    assert row.threshold == pytest.approx(mean + 3 * sd)
    assert row.statistic == pytest.approx((10 - mean) / sd)
    assert row.p_value == pytest.approx(norm.sf((10 - mean) / sd))
    assert row.alert
    assert not last_row([2, 4, 3, 5, 1, 3, 2, 6], method="ears", ears="c1").alert  # 6 < 6.89


SERIES_C3 = [1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 6]


def test_ears_c2_by_hand():
    # Step 11: baseline steps 2-8 = 3 2 1 2 3 2 1, mean 2, variance 4/6.
    row = last_row(SERIES_C3, method="ears", ears="c2")
    sd = math.sqrt(2 / 3)
    assert (row.method, row.expected) == ("ears_c2", pytest.approx(2.0))
    assert row.threshold == pytest.approx(2 + 3 * sd)
    assert row.statistic == pytest.approx(4 / sd)
    assert row.alert


def test_ears_c3_by_hand():
    # C2 at step 11: (6 − 2)/√(2/3) = 4.899. At step 10: baseline 2 3 2 1 2 3 2 (mean 15/7,
    # variance 10/21): (3 − 15/7)/√(10/21) = 1.242. At step 9: baseline 1 2 3 2 1 2 3 (mean 2):
    # (2 − 2)/sd = 0. Sum of max(0, C2 − 1): 3.899 + 0.242 + 0 = 4.141 > 2: alert.
    row = last_row(SERIES_C3, method="ears", ears="c3")
    c11 = 4 / math.sqrt(2 / 3)
    c10 = (3 - 15 / 7) / math.sqrt(10 / 21)
    assert row.method == "ears_c3"
    assert row.statistic == pytest.approx((c11 - 1) + (c10 - 1))
    assert row.alert
    # Today alone must bring the sum above 2: C2 above 3 − 0.242, a count above 2 + sd·2.758.
    assert row.threshold == pytest.approx(2 + math.sqrt(2 / 3) * (3 - (c10 - 1)))
    quiet = last_row([1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 4], method="ears", ears="c3")
    assert not quiet.alert and quiet.threshold > 4
    # Two high days before: the unit fires whatever today's count (threshold NaN).
    after = last_row([1, 2, 3, 2, 1, 2, 3, 2, 1, 9, 9, 0], method="ears", ears="c3")
    assert after.alert and math.isnan(after.threshold)


def test_sd_floor_stops_single_cases_on_zero_baselines():
    assert not last_row([0] * 10 + [1], method="ears").alert  # threshold 3 x 0.5 = 1.5
    assert last_row([0] * 10 + [2], method="ears").alert
    assert last_row([0] * 10 + [1], method="ears").threshold == pytest.approx(1.5)
    assert last_row([0] * 10 + [1], method="ears", min_sd=0.2).alert


def test_poisson_sd_floor_by_hand():
    # A steady baseline of fives: sample sd 0, so the floor decides. Fixed: 0.5, threshold
    # 6.5; Poisson: √5, threshold 5 + 3√5 = 11.71, p the Poisson tail P(Y ≥ x | 5).
    counts = [5] * 10
    fixed = last_row([*counts, 7], method="ears")
    assert fixed.alert and fixed.threshold == pytest.approx(6.5)
    quiet = last_row([*counts, 11], method="ears", sd_floor="poisson")
    assert not quiet.alert and quiet.threshold == pytest.approx(5 + 3 * math.sqrt(5))
    assert quiet.statistic == pytest.approx(6 / math.sqrt(5))
    assert quiet.p_value == pytest.approx(poisson.sf(10, 5))
    loud = last_row([*counts, 12], method="ears", sd_floor="poisson")
    assert loud.alert and loud.p_value == pytest.approx(poisson.sf(11, 5))
    # an all-zero baseline: the floor min_sd² = 0.25 stands in for the Poisson mean
    zero = last_row([0] * 10 + [2], method="ears", sd_floor="poisson")
    assert zero.alert and zero.p_value == pytest.approx(poisson.sf(1, 0.25))
    with pytest.raises(ParameterError, match="sd_floor must be one of fixed, poisson"):
        detect_alerts(series(counts), sd_floor="normal")


def test_spike_alerts_and_flat_series_do_not():
    rng = np.random.default_rng(1)
    days = rng.poisson(4, 120)
    spiked = days.copy()
    spiked[-1] = 20
    flat = np.full(120, 4)
    for ears in ("c1", "c2", "c3"):
        assert last_row(spiked, method="ears", ears=ears).alert
        assert not last_row(flat, method="ears", ears=ears).alert
        frame = detect_alerts(series(np.column_stack([spiked, flat]), units=["spike", "flat"]),
                              method="ears", ears=ears).frame
        assert frame["alert"].tolist() == [True, False]


def test_too_short_for_ears_gives_no_test():
    row = last_row([1, 2, 3, 9], method="ears")
    assert row.method == "none" and not row.alert and math.isnan(row.p_value)


# ------------------------------------------------------------------------------ Farrington


def weekly_background(weeks, seed, base=8.0):
    """Overdispersed weekly counts (gamma-Poisson, variance about 2.6 times the mean)."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    mean = base * (1 + 0.4 * np.sin(2 * np.pi * t / 52.18)) * (1 + 0.002 * t)
    return rng.poisson(mean * rng.gamma(5.0, 1 / 5.0, weeks))


def independent_farrington(counts, first_monday, alpha=0.01, trend=True):
    """farringtonFlexible with Noufaily's options at the last week, written out step by step.

    Reference weeks: the Monday nearest the same date 1..b years back (b = 3 here); level 10 =
    those weeks ± 3 and the current week's window; each stretch between two windows is cut
    into 9 blocks, the first (stretch % 9) one week longer; the last 27 weeks (the current one
    and 26 before) are left out. Fit y ~ wtime + C(level) (quasi-Poisson), standardised
    Anscombe residuals s = 3/2 (y^(2/3) μ^(−1/6) − μ^(1/2)) / √(φ (1 − h)), weights γ s^−2 for
    s > 2.58 and γ otherwise with mean 1, refit; keep the trend (3 years, prediction not above
    the largest count); μ₀ = exp(η₀) at level 10; threshold the 99 % quantile of the negative
    binomial with size μ₀/(φ − 1) and probability 1/φ. With ``trend=False`` the model has no
    trend term. Also returns the trend's two-sided t-test p value in the reweighted fit (as R's
    summary.glm; NaN without a trend).
    """
    n = len(counts)
    now = n - 1
    now_date = first_monday + dt.timedelta(weeks=now)
    refs = [now]
    for k in (1, 2, 3):
        back = now_date.replace(year=now_date.year - k)
        monday = back - dt.timedelta(days=back.weekday())
        if (back - monday).days > 3:
            monday += dt.timedelta(days=7)
        refs.append((monday - first_monday).days // 7)
    level = {}
    for i in range(refs[-1] - 3, now - 26):
        if any(abs(i - r) <= 3 for r in refs[1:]):
            level[i] = 10
            continue
        later = min(r for r in refs if r > i)
        earlier = max(r for r in refs[1:] if r < i)
        stretch = list(range(earlier + 4, later - 3))
        sizes = [len(stretch) // 9 + (1 if j < len(stretch) % 9 else 0) for j in range(9)]
        bounds = np.cumsum(sizes)
        level[i] = int(np.searchsorted(bounds, stretch.index(i), side="right")) + 1
    idx = np.array(sorted(level))
    data = pd.DataFrame({"y": counts[idx].astype(float), "wtime": idx - idx[0],
                         "level": pd.Categorical([level[i] for i in idx])})
    design = pd.get_dummies(data["level"], prefix="l", drop_first=True, dtype=float)
    x = pd.concat([pd.Series(1.0, index=data.index, name="const"), data["wtime"].astype(float),
                   design], axis=1)
    if not trend:
        x = x.drop(columns="wtime")
    x_now = pd.Series(0.0, index=x.columns)
    x_now["const"] = 1.0
    if trend:
        x_now["wtime"] = now - idx[0]
    if "l_10" in x_now:
        x_now["l_10"] = 1.0
    first = sm.GLM(data["y"], x, family=sm.families.Poisson()).fit(scale="X2")
    phi = max(first.scale, 1.0)
    s = first.resid_anscombe_unscaled / np.sqrt(phi * (1 - first.get_hat_matrix_diag()))
    raw = np.where(s > 2.58, s**-2.0, 1.0)
    omega = raw / raw.mean()
    second = sm.GLM(data["y"], x, family=sm.families.Poisson(), var_weights=omega).fit(
        scale="X2")
    mu0 = float(np.exp(x_now @ second.params))
    assert mu0 <= data["y"].max()  # no over-extrapolation in these examples
    phi = max(second.scale, 1.0)
    assert phi > 1.5  # overdispersed: the negative binomial applies
    size, prob = mu0 / (phi - 1), 1 / phi
    trend_p = (2 * student_t.sf(abs(second.tvalues["wtime"]), second.df_resid) if trend
               else math.nan)
    return (mu0, float(nbinom.ppf(1 - alpha, size, prob)),
            float(nbinom.sf(counts[-1] - 1, size, prob)), trend_p)


def test_farrington_equals_an_independent_computation():
    counts = weekly_background(3 * 52 + 20, seed=4)
    counts[-1] = 25
    first = dt.date(2022, 1, 3)
    result = detect_alerts(series(counts, resolution="week", first=str(first)), fdr=None)
    row = result.frame.iloc[0]
    mu0, threshold, p, _ = independent_farrington(counts, first)
    assert (row.method, row.years) == ("farrington", 3)
    assert row.expected == pytest.approx(mu0, rel=1e-6)
    assert row.threshold == threshold
    assert row.p_value == pytest.approx(p, rel=1e-6)
    assert row.alert == (counts[-1] > threshold)


def test_method_follows_the_history():
    counts = weekly_background(2 * 52 + 2, seed=5)  # two years minus the window: EARS
    assert detect_alerts(series(counts, resolution="week")).frame["method"].iloc[0] == "ears_c2"
    longer = weekly_background(2 * 52 + 4, seed=5)
    row = detect_alerts(series(longer, resolution="week")).frame.iloc[0]
    assert (row.method, row.years) == ("farrington", 2)
    none = detect_alerts(series(counts, resolution="week"), method="farrington").frame
    assert none["method"].iloc[0] == "none" and not none["alert"].iloc[0]
    ears = detect_alerts(series(longer, resolution="week"), method="ears", ears="c1").frame
    assert ears["method"].iloc[0] == "ears_c1"


def test_farrington_spike_and_flat():
    counts = weekly_background(3 * 52 + 10, seed=6)
    spiked = counts.copy()
    spiked[-1] = counts[-1] + 30
    frame = detect_alerts(series(np.column_stack([spiked, counts]), resolution="week",
                                 units=["spike", "calm"])).frame
    assert frame["alert"].tolist() == [True, False]
    assert frame["method"].tolist() == ["farrington", "farrington"]
    zeros = detect_alerts(series(np.zeros(3 * 52, dtype=int), resolution="week")).frame
    assert zeros["expected"].iloc[0] == 0 and not zeros["alert"].iloc[0]


def test_farrington_runs_on_two_years_of_weekly_history():
    # Two years and six weeks of weekly counts (b = 2 whole years): the improved Farrington
    # method runs, not EARS. A spike of 30 on top of the last week alerts; the same seasonal,
    # overdispersed series without it does not, and neither does a flat one.
    counts = weekly_background(2 * 52 + 6, seed=8)
    spiked = counts.copy()
    spiked[-1] += 30
    flat = np.full(len(counts), 8)
    frame = detect_alerts(series(np.column_stack([spiked, counts, flat]), resolution="week",
                                 units=["spike", "seasonal", "flat"])).frame.set_index("unit")
    assert frame["method"].tolist() == ["farrington"] * 3
    assert frame["years"].tolist() == [2, 2, 2]
    assert frame["alert"].tolist() == [True, False, False]
    assert frame.loc["spike", "observed"] > frame.loc["spike", "threshold"]
    assert frame.loc["seasonal", "observed"] <= frame.loc["seasonal", "threshold"]
    # A flat series of 8 has no dispersion: Poisson's 99 % quantile of 8 is the threshold.
    assert frame.loc["flat", "expected"] == pytest.approx(8.0)
    assert frame.loc["flat", "threshold"] == poisson.ppf(0.99, 8.0)


def test_farrington_runs_on_two_years_of_daily_history():
    # Daily district series: two years and ten days, with a weekly rhythm and a seasonal wave.
    rng = np.random.default_rng(9)
    t = np.arange(2 * 365 + 10)
    mean = 6 * (1 + 0.3 * np.sin(2 * np.pi * t / 365.25)) * np.where(t % 7 >= 5, 1.4, 1.0)
    calm = rng.poisson(mean)
    spiked = calm.copy()
    spiked[-1] = calm[-1] + 25
    frame = detect_alerts(series(np.column_stack([spiked, calm]), units=["spike", "calm"],
                                 first="2023-01-02")).frame
    assert frame["method"].tolist() == ["farrington", "farrington"]
    assert frame["years"].tolist() == [2, 2]
    assert frame["alert"].tolist() == [True, False]
    # One day less than two years and a window: EARS runs.
    short = detect_alerts(series(calm[: 2 * 365 + 2], first="2023-01-02")).frame
    assert short["method"].iloc[0] == "ears_c2"


def test_farrington_on_a_baseline_of_zeros():
    # Expected 0 and threshold 0: a week of 6 cases alerts (6 >= 5 cases in the last four
    # weeks); a week of 2 is above the threshold too but below the 5-in-4-weeks rule.
    for last, alerts in ((6, True), (2, False), (0, False)):
        counts = np.zeros(3 * 52, dtype=int)
        counts[-1] = last
        row = detect_alerts(series(counts, resolution="week")).frame.iloc[0]
        assert (row.method, row.expected, row.threshold) == ("farrington", 0.0, 0.0)
        assert row.alert == alerts
        assert row.p_value == (0.0 if last else 1.0)


@pytest.mark.parametrize(("slope", "kept"), [(0.0, False), (0.01, True)])
def test_farrington_trend_p_threshold(slope, kept):
    # trend_p = 0.05 (Farrington et al. 1996, farringtonFlexible's default) keeps the trend
    # only when its t test is significant; trend_p = 1 (Noufaily et al.) always keeps it.
    rng = np.random.default_rng(10)
    t = np.arange(3 * 52 + 20)
    counts = rng.poisson(10 * np.exp(slope * t) * rng.gamma(5.0, 1 / 5.0, len(t)))
    first = dt.date(2022, 1, 3)
    with_trend = independent_farrington(counts, first)
    without = independent_farrington(counts, first, trend=False)
    assert (with_trend[3] < 0.05) == kept
    strict = detect_alerts(series(counts, resolution="week", first=str(first)), fdr=None,
                           trend_p=0.05).frame.iloc[0]
    always = detect_alerts(series(counts, resolution="week", first=str(first)),
                           fdr=None).frame.iloc[0]
    assert always.expected == pytest.approx(with_trend[0], rel=1e-6)
    assert strict.expected == pytest.approx((with_trend if kept else without)[0], rel=1e-6)
    assert strict.threshold == (with_trend if kept else without)[1]
    with pytest.raises(ParameterError, match="trend_p"):
        detect_alerts(series(counts, resolution="week"), trend_p=1.5)


def test_first_fired_and_q_values():
    rng = np.random.default_rng(7)
    days = rng.poisson(3, (60, 5))
    days[-3:, 0] += 15  # unit 0 high for three days
    days[-1, 1] += 15   # unit 1 high today
    result = detect_alerts(series(days), method="ears")
    frame = result.frame.set_index("unit")
    assert frame.loc["u0", "first_fired"] == dt.date(2025, 1, 6) + dt.timedelta(days=57)
    assert frame.loc["u1", "first_fired"] == dt.date(2025, 1, 6) + dt.timedelta(days=59)
    assert frame["first_fired"].isna().sum() == 3
    p = frame["p_value"].to_numpy()
    order = np.argsort(p)
    bh = np.minimum.accumulate((p[order] * 5 / np.arange(1, 6))[::-1])[::-1]
    np.testing.assert_allclose(frame["q_value"].to_numpy()[order], np.minimum(bh, 1))
    assert result.step == dt.date(2025, 3, 6) and len(result.alerts) == 2


def test_fdr_condition():
    # 100 units; unit 0's C2 baseline is 16 24 16 24 16 24 16 (mean 136/7, variance 768/42)
    # and today 33: C2 = 3.17 > 3, p = 0.00075. Alone it alerts; among 100 units whose other
    # 99 are flat (p = 0.5) its q is 100 p = 0.075 > 0.05, so with the FDR condition it does not.
    days = np.full((60, 100), 20)
    days[-10:-3, 0] = [16, 24, 16, 24, 16, 24, 16]
    days[-1, 0] = 33
    c2 = (33 - 136 / 7) / math.sqrt(768 / 42)
    assert 3 < c2 < 3.2
    ears = detect_alerts(series(days), method="ears", fdr=None).frame
    assert ears["statistic"].iloc[0] == pytest.approx(c2)
    assert ears["alert"].iloc[0]
    controlled = detect_alerts(series(days), method="ears").frame
    assert controlled["q_value"].iloc[0] == pytest.approx(100 * norm.sf(c2))
    assert not controlled["alert"].any()


# ----------------------------------------------------------------------- no look-ahead, as_of


def city_incidents(seed=1):
    communities = gpd.GeoDataFrame(
        {"code": ["a", "b", "c"]},
        geometry=[shapely.box(440_000 + i * 1000, 4_420_000, 441_000 + i * 1000, 4_421_000)
                  for i in range(3)], crs="EPSG:4548")
    mondays = pd.date_range("2022-01-03", periods=3 * 52, freq="7D")
    expected = pd.DataFrame(np.outer(1 + 0.3 * np.sin(np.arange(len(mondays)) / 8.3),
                                     [4.0, 7.0, 10.0]), index=mondays, columns=["a", "b", "c"])
    return communities, expected, background_incidents(communities, expected, seed=seed)


@pytest.mark.parametrize("resolution", ["week", "day"])
def test_as_of_does_not_look_ahead(resolution):
    incidents = city_incidents()[2]
    as_of = dt.date(2024, 6, 12)  # a Wednesday: the weekly test is of the week to 9 June
    local = incidents["occurred_at"].dt.tz_convert("Asia/Shanghai").dt.date
    known = incidents[local <= as_of]
    # The future: a huge outbreak in every community the day after, and ordinary weeks on.
    future = incidents[local > as_of].copy()
    burst = incidents.iloc[:400].copy()
    burst["occurred_at"] = pd.Timestamp("2024-06-13 02:00", tz="UTC")
    everything = pd.concat([known, future, burst], ignore_index=True)
    options = {"resolution": resolution, "units": ["a", "b", "c"],
               "start": dt.date(2022, 1, 3)}
    before = detect_alerts(count_series(known, **options), as_of=as_of)
    after = detect_alerts(count_series(everything, **options), as_of=as_of)
    pd.testing.assert_frame_equal(before.frame, after.frame)
    expected_step = dt.date(2024, 6, 3) if resolution == "week" else as_of
    assert before.step == expected_step
    # Judged a day later, the burst is seen.
    later = detect_alerts(count_series(everything, **options),
                          as_of=as_of + dt.timedelta(days=1 if resolution == "day" else 4))
    assert later.frame["observed"].sum() > before.frame["observed"].sum() + 300


def test_as_of_before_the_first_complete_step():
    s = series([1, 2, 3], resolution="week", first="2025-01-06")
    with pytest.raises(MissingDataError, match="no complete week"):
        detect_alerts(s, as_of=dt.date(2025, 1, 11))
    assert detect_alerts(s, as_of=dt.date(2025, 1, 12)).step == dt.date(2025, 1, 6)


# ------------------------------------------------------------------ detection on a city


def detection_city(n=24, seed=11):
    codes = [f"C{i:02d}" for i in range(n)]
    communities = gpd.GeoDataFrame(
        {"code": codes}, crs="EPSG:4548",
        geometry=[shapely.box(440_000 + (i % 6) * 1000, 4_420_000 + (i // 6) * 1000,
                              441_000 + (i % 6) * 1000, 4_421_000 + (i // 6) * 1000)
                  for i in range(n)])
    # Two years and three weeks of history before 2024, then 2024: weekly Poisson means of 3
    # to 12 with a 30 % season.
    mondays = pd.date_range("2021-12-06", periods=160, freq="7D")
    base = np.random.default_rng(seed).uniform(3, 12, n)
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(160) / 52.18)
    expected = pd.DataFrame(np.outer(season, base), index=mondays, columns=codes)
    return communities, expected


@pytest.mark.slow
def test_planted_outbreaks_are_found_with_few_false_alerts():
    communities, expected = detection_city()
    background = background_incidents(communities, expected, seed=12)
    planted = plant_outbreaks(communities, expected, start=dt.date(2024, 1, 1),
                              end=dt.date(2024, 12, 29), n_outbreaks=36, seed=13)
    counts = count_series(pd.concat([background, planted.incidents], ignore_index=True),
                          units=list(communities["code"]))
    weeks = []
    for sunday in pd.date_range("2024-01-07", "2024-12-29", freq="7D"):
        weeks.append(detect_alerts(counts, as_of=sunday.date()).frame)
    weekly = pd.concat(weeks, ignore_index=True)
    assert set(weekly["method"]) == {"farrington"}
    inside = np.zeros(len(weekly), dtype=bool)
    found = []
    for row in planted.manifest.itertuples():
        mine = ((weekly["unit"] == row.community) & (weekly["step"] >= row.start)
                & (weekly["step"] <= row.end)).to_numpy()
        inside |= mine
        found.append(bool(weekly.loc[mine, "alert"].any()))
    found = pd.Series(found)
    strong = (planted.manifest["k"] >= 3).to_numpy()
    recall = found[strong].mean()
    false_per_100 = 100 * weekly.loc[~inside, "alert"].sum() / (~inside).sum()
    # Targets: 90 % and 1 per 100 community-weeks; this city gives 100 % and 0.51.
    assert recall >= 0.95
    assert false_per_100 <= 0.75


# ----------------------------------------------------------------------------------- errors


def test_errors():
    s = series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    frame = pd.DataFrame({"occurred_at": pd.to_datetime(["2025-01-01"], utc=True),
                          "community_code": ["a"]})
    with pytest.raises(ParameterError, match="method"):
        detect_alerts(s, method="cusum")
    with pytest.raises(ParameterError, match="ears"):
        detect_alerts(s, ears="c4")
    with pytest.raises(ParameterError, match="alpha"):
        detect_alerts(s, alpha=0.7)
    with pytest.raises(ParameterError, match="fdr"):
        detect_alerts(s, fdr=0)
    with pytest.raises(ParameterError, match="min_sd"):
        detect_alerts(s, min_sd=-1)
    with pytest.raises(ParameterError, match="as_of"):
        detect_alerts(s, as_of="2025-01-10")
    with pytest.raises(ParameterError, match="CountSeries"):
        detect_alerts(s.frame)
    with pytest.raises(InputError, match="district"):
        count_series(frame, unit="district")
    with pytest.raises(ParameterError, match="resolution"):
        count_series(frame, resolution="month")
    with pytest.raises(ParameterError, match="units"):
        count_series(frame, units="a")
    with pytest.raises(ParameterError, match="end"):
        count_series(frame, start=dt.date(2025, 2, 1), end=dt.date(2025, 1, 1))
    with pytest.raises(MissingDataError, match="no incident has a time"):
        count_series(frame.iloc[:0])
