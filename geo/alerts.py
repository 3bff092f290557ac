"""Early-warning alerts: unusual counts per unit against each unit's own history.

Which communities have an unusual week right now? :func:`count_series` turns incidents into a
count per unit (a district, a community, any column) and step (a local day, or an ISO week from
Monday to Sunday); :func:`detect_alerts` tests the last complete step up to an as-of date in
every unit with one of two documented methods, and says which ran:

EARS (CDC's Early Aberration Reporting System), for short histories
    With the mean ``m`` and sample standard deviation ``sd`` of a baseline of seven steps and
    the statistic ``C = (x_t − m) / max(sd, min_sd)``:

    - C1: baseline ``t−7 … t−1``; alert when ``C > 3`` (the count exceeds ``m + 3 sd``);
    - C2: baseline ``t−9 … t−3`` (two guard steps keep an outbreak's start out of its own
      baseline); same rule;
    - C3: alert when ``Σ max(0, C2_s − 1)`` over ``s = t, t−1, t−2`` exceeds 2.

    ``min_sd`` (default 0.5) is the floor on the standard deviation: with an all-zero baseline
    the threshold is ``3 × 0.5 = 1.5``, so one case does not alert and two do. The p value is
    the normal tail ``P(Z ≥ C)`` of the step's C1 or C2 statistic (for C3 its C2 statistic),
    the model EARS itself rests on. The default EARS variant is C2.

    With ``sd_floor="poisson"`` the floor is also ``√m``, the standard deviation of a Poisson
    count of the baseline's mean: seven counts of ordinary weeks often spread less than
    Poisson counts do, and a baseline that happens to be steady would otherwise alert on an
    ordinary week. The p value is then the Poisson tail ``P(Y ≥ x_t)`` for ``Y ~ Poisson(max(m,
    min_sd²))``, since the normal tail of C is far too small for low counts. On the sample
    city's weekly community series this cuts false alerts from 2.8 to 0.3 per 100
    community-weeks (``bench/alerts.py``) and still finds 23 of its 24 planted outbreaks of
    k ≥ 3 (all 24 without the floor).

The improved Farrington method (Noufaily et al. 2013, "An improved algorithm for outbreak
detection in multiple surveillance systems", Stat. Med. 32:1206), with two or more years of history
    As R's ``surveillance::farringtonFlexible`` with the options Noufaily et al. recommend
    (``noPeriods = 10``, ``weightsThreshold = 2.58``, ``pastWeeksNotIncluded = 26``,
    ``pThresholdTrend = 1``, ``thresholdMethod = "nbPlugin"``), here with ``b`` = up to 5 years
    back (as many whole years as the history holds) and ``w = 3`` steps:

    - the baseline holds the steps from ``b`` years back (less ``w``) up to the step 26 weeks
      (182 days) before the current one; windows of ``2w + 1`` steps around the same step in
      each earlier year form level 10 of a seasonal factor and the stretches between them are
      cut into nine blocks (levels 1–9);
    - a quasi-Poisson GLM ``log μ = α + β t + γ_level`` is fitted (statsmodels); its Anscombe
      residuals, standardised by the dispersion φ = max(Pearson φ, 1) and the leverages, down-weight
      past outbreaks: weight ``s⁻²`` where the residual ``s > 2.58``, rescaled to average one,
      and the model is refitted with those weights;
    - the trend ``β`` is kept only with at least three years of baseline, when the prediction
      does not exceed the largest baseline count and when its p value (the t test of the
      reweighted quasi-Poisson fit, as R's ``summary.glm``) is below ``trend_p``; otherwise
      the model is refitted without it. Noufaily et al. always fit the trend
      (``pThresholdTrend = 1``, the default ``trend_p``); ``trend_p = 0.05`` is the rule of
      Farrington et al. (1996) and ``farringtonFlexible``'s own default;
    - expected ``μ₀ = exp(η₀)`` at the current step in level 10; the threshold is the ``1 −
      alpha`` quantile (default 99 %) of the negative binomial with mean μ₀ and variance φ μ₀
      (Poisson when φ = 1), and ``p = P(Y ≥ x_t)`` under it;
    - an alert needs ``x_t`` above the threshold and at least 5 cases in the last 4 steps
      (R's ``limit54``); a baseline of zeros gives μ₀ = 0 and threshold 0, so any count
      alerts there once those 5 cases are met (``p = 0``);
    - the reference step ``k`` years back is the step holding the same date ``k`` years
      earlier (for weeks the nearest Monday, as R's ``algo.farrington.referencetimepoints``);
      29 February goes back to 1 March, as R's ``seq(date, by = "-1 year")`` does.

Each unit's row says which method ran; p values are adjusted by Benjamini–Hochberg across the
units of the as-of step (``q_value``), and by default an alert also needs ``q ≤ 0.05``
(``fdr``): with many units tested every step, the methods' own thresholds alone would fire on
chance somewhere every few steps. ``first_fired`` is the first step of the unit's current run
of alerting steps, each step judged as of its own end.

No look-ahead: the series is cut at the evaluated step before anything is computed, so data
after the as-of date can never change a result (``tests/geo/test_alerts.py`` proves it).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import statsmodels.api as sm
from numpy.typing import NDArray
from scipy.stats import nbinom, norm, poisson
from scipy.stats import t as student_t

from geo import spacetime as st
from geo.errors import MissingDataError, ParameterError
from geo.period import DEFAULT_TIMEZONE

__all__ = [
    "EARS_VARIANTS",
    "METHODS",
    "RESOLUTIONS",
    "SD_FLOORS",
    "AlertsResult",
    "CountSeries",
    "count_series",
    "detect_alerts",
]

RESOLUTIONS = ("day", "week")
METHODS = ("auto", "ears", "farrington")
EARS_VARIANTS = ("c1", "c2", "c3")
SD_FLOORS = ("fixed", "poisson")
_STEP_DAYS = {"day": 1, "week": 7}
_EARS_BASELINE = 7
_WINDOW = 3
_MAX_YEARS = 5
_PERIODS = 10
_EXCLUDE_DAYS = 182  # 26 weeks
_REWEIGHT = 2.58
_MIN_RECENT = (5, 4)


@dataclass(frozen=True, eq=False)
class CountSeries:
    """Incident counts per unit and step.

    Attributes
    ----------
    frame
        Counts (int64): one row per step (index: the step's first local day, a
        ``DatetimeIndex`` named ``step``), one column per unit.
    resolution
        ``day`` or ``week`` (ISO weeks, Monday to Sunday).
    unit
        The incident column the units come from.
    timezone
        Time zone of the local days.
    no_unit, no_time, outside
        Incidents left out: without a unit (or a unit not in ``units``), without a time,
        outside the steps.
    notes
        Provenance notes.
    """

    frame: pd.DataFrame
    resolution: str
    unit: str
    timezone: str
    no_unit: int
    no_time: int
    outside: int
    notes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class AlertsResult:
    """The early-warning test of every unit at one as-of date.

    Attributes
    ----------
    frame
        One row per unit: ``unit``, ``step`` (first day of the evaluated step), ``last_day``,
        ``observed``, ``expected``, ``threshold`` (an alert needs ``observed`` above it; NaN
        where EARS C3 fires whatever the count), ``method`` (``ears_c1``, ``ears_c2``,
        ``ears_c3`` or ``farrington``; ``none`` without enough history), ``statistic`` (the C
        statistic, or Farrington's ``(x − μ₀) / (threshold − μ₀)``), ``p_value``, ``q_value``
        (Benjamini–Hochberg across the units), ``alert``, ``first_fired`` (first step of the
        current run of alerts; None without an alert), ``history_steps`` (steps up to the
        evaluated one) and ``years`` (Farrington's ``b``).
    as_of
        The as-of date: nothing after it was used.
    step
        First day of the evaluated step (the last complete step up to ``as_of``).
    resolution
        ``day`` or ``week``.
    method, ears
        The method asked for, and the EARS variant.
    fdr
        The q value an alert needed (``None``: none).
    alpha
        Farrington's upper quantile is ``1 − alpha``.
    min_sd
        EARS's floor on the baseline standard deviation.
    timezone
        Time zone of the local days.
    notes
        Method and provenance notes.
    sd_floor
        ``fixed`` (``min_sd``) or ``poisson`` (also ``√mean``).
    """

    frame: pd.DataFrame
    as_of: dt.date
    step: dt.date
    resolution: str
    method: str
    ears: str
    alpha: float
    min_sd: float
    fdr: float | None
    timezone: str
    notes: tuple[str, ...]
    sd_floor: str = "fixed"

    @property
    def alerts(self) -> pd.DataFrame:
        """The rows of :attr:`frame` that alert."""
        return self.frame[self.frame["alert"]]


def count_series(
    incidents: pd.DataFrame,
    *,
    unit: str = "community_code",
    resolution: str = "week",
    start: dt.date | None = None,
    end: dt.date | None = None,
    units: Sequence[str] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> CountSeries:
    """Count incidents per unit and local day or ISO week.

    Parameters
    ----------
    incidents
        Incidents with ``occurred_at`` and the ``unit`` column (a frame of :mod:`geo.layers`,
        with ``community_code`` or a district column joined by the caller).
    unit
        The column that names each incident's unit.
    resolution
        ``day`` or ``week`` (Monday to Sunday, local days).
    start, end
        First and last local day to count (both inclusive; widened to whole weeks); by default
        those of the incidents.
    units
        The units to report, also those without incidents; by default the units seen.
        Incidents of other units are left out.
    timezone
        IANA time zone of the local days.

    Returns
    -------
    CountSeries

    Raises
    ------
    geo.errors.InputError
        If ``incidents`` is not a frame with ``occurred_at`` and ``unit``.
    geo.errors.ParameterError
        If an option is out of range or ``end`` precedes ``start``.
    geo.errors.MissingDataError
        If no incident has a time and no ``start``/``end`` are given.
    """
    st.check_frame(incidents, "incidents", ["occurred_at", unit], geo=False)
    st.check_choice(resolution, "resolution", RESOLUTIONS)
    days = st.local_days(incidents["occurred_at"], timezone)
    names = incidents[unit].astype("string")
    timed = days != st.MISSING_DAY
    if units is not None:
        if isinstance(units, str):
            raise ParameterError(f"units must be a list of units; got the string {units!r}",
                                 parameter="units")
        known = pd.Index(pd.array(list(units), dtype="string")).unique()
    else:
        known = pd.Index(names[timed].dropna().unique()).sort_values()
    first, last = _span(days[timed], start, end, resolution)
    steps = np.arange(first, last + 1, _STEP_DAYS[resolution])
    step_of = _step_start(days, resolution)
    inside = timed & (step_of >= first) & (step_of <= last)
    has_unit = names.isin(known).to_numpy(dtype=bool, na_value=False)
    use = inside & has_unit
    frame = pd.DataFrame(0, index=steps, columns=known, dtype=np.int64)
    if use.any():
        table = pd.crosstab(pd.Series(step_of[use]), pd.Series(names.to_numpy()[use]))
        frame = table.reindex(index=steps, columns=known, fill_value=0).astype(np.int64)
    frame.index = pd.DatetimeIndex(steps.astype("datetime64[D]"), name="step")
    frame.columns = pd.Index(known, name=unit)
    counts = {"no_unit": int((inside & ~has_unit).sum()), "no_time": int((~timed).sum()),
              "outside": int((timed & ~inside).sum())}
    notes = (f"{int(use.sum())} incidents in {len(known)} units x {len(steps)} {resolution}s "
             f"from {st.date_of_day(first)} ({timezone}); left out: {counts['no_unit']} "
             f"without a unit, {counts['no_time']} without a time, {counts['outside']} outside",)
    return CountSeries(frame=frame, resolution=resolution, unit=unit, timezone=timezone,
                       notes=notes, **counts)


def detect_alerts(
    series: CountSeries,
    *,
    as_of: dt.date | None = None,
    method: str = "auto",
    ears: str = "c2",
    alpha: float = 0.01,
    min_sd: float = 0.5,
    fdr: float | None = 0.05,
    max_lookback: int = 52,
    sd_floor: str = "fixed",
    trend_p: float = 1.0,
) -> AlertsResult:
    """Test the last complete step up to ``as_of`` of every unit for an unusual count.

    Parameters
    ----------
    series
        Counts from :func:`count_series`.
    as_of
        The last day whose incidents are known; the step tested is the last one that ends on
        or before it, and no later data is used. By default the series' last day.
    method
        ``auto`` (the improved Farrington method where a unit has two years of history, EARS
        elsewhere), ``ears`` or ``farrington`` (units without two years of history get none).
    ears
        The EARS variant: ``c1``, ``c2`` or ``c3``.
    alpha
        Farrington's threshold is the ``1 − alpha`` quantile (default 99 %).
    min_sd
        EARS's floor on the baseline standard deviation.
    fdr
        An alert also needs its Benjamini–Hochberg q value across the units at most this
        (the false-discovery control of many units tested at once); ``None``: the methods'
        own rules alone.
    max_lookback
        How many steps back ``first_fired`` is looked for.
    sd_floor
        ``fixed``: EARS's standard deviation is at least ``min_sd``; ``poisson``: also at
        least the square root of the baseline's mean.
    trend_p
        Farrington's trend is kept only when its p value is below this (R's
        ``pThresholdTrend``): 1 (the default) always fits it, as Noufaily et al. do; 0.05 is
        the rule of Farrington et al. (1996).

    Returns
    -------
    AlertsResult

    Raises
    ------
    geo.errors.ParameterError
        If an option is out of range or ``series`` is not a :class:`CountSeries`.
    geo.errors.MissingDataError
        If no complete step ends on or before ``as_of``.
    """
    if not isinstance(series, CountSeries):
        raise ParameterError(f"series must be a CountSeries; got {type(series).__name__}",
                             parameter="series")
    st.check_choice(method, "method", METHODS)
    st.check_choice(ears, "ears", EARS_VARIANTS)
    st.check_choice(sd_floor, "sd_floor", SD_FLOORS)
    alpha = st.check_number(alpha, "alpha", minimum=0.0, exclusive=True, maximum=0.5)
    min_sd = st.check_number(min_sd, "min_sd", minimum=0.0)
    max_lookback = st.check_int(max_lookback, "max_lookback", minimum=0)
    trend_p = st.check_number(trend_p, "trend_p", minimum=0.0, maximum=1.0)
    if fdr is not None:
        fdr = st.check_number(fdr, "fdr", minimum=0.0, exclusive=True, maximum=1.0)
    frame = series.frame
    dates = frame.index.to_numpy(dtype="datetime64[D]").astype(np.int64)
    last_day = int(dates[-1]) + _STEP_DAYS[series.resolution] - 1 if len(dates) else None
    if as_of is None:
        if last_day is None:
            raise MissingDataError("the series has no step")
        as_of = st.date_of_day(last_day)
    elif not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise ParameterError(f"as_of must be a date; got {as_of!r}", parameter="as_of")
    t = _evaluated_step(dates, st.day_of_date(as_of), series.resolution)
    # No look-ahead: everything below sees the steps up to t only.
    counts = frame.to_numpy(dtype=np.float64)[: t + 1]
    dates = dates[: t + 1]
    rule = _Rule(series.resolution, method, ears, alpha, min_sd, fdr, sd_floor == "poisson",
                 trend_p)
    steps = _StepTables(rule, counts, dates)
    table = steps.at(t).copy()
    table.insert(0, "unit", frame.columns.to_numpy())
    table.insert(1, "step", st.date_of_day(dates[t]))
    table.insert(2, "last_day", st.date_of_day(dates[t] + _STEP_DAYS[series.resolution] - 1))
    table["first_fired"] = [steps.first_fired(u, t, max_lookback) if alert else None
                            for u, alert in enumerate(table["alert"])]
    table["history_steps"] = t + 1
    order = ["unit", "step", "last_day", "observed", "expected", "threshold", "method",
             "statistic", "p_value", "q_value", "alert", "first_fired", "history_steps", "years"]
    methods = table["method"].value_counts().to_dict()
    notes = (
        f"{len(table)} units as of {as_of}: {series.resolution} from {table['step'].iloc[0]} to "
        f"{table['last_day'].iloc[0]} ({series.timezone}); methods {methods}",
        f"EARS {ears.upper()} with sd floor {min_sd:g}"
        f"{' and sqrt(mean)' if sd_floor == 'poisson' else ''}; improved Farrington "
        f"(Noufaily et al. 2013) at the {100 * (1 - alpha):g} % negative-binomial quantile"
        f"{'' if trend_p >= 1 else f', trend kept when p < {trend_p:g}'}; q: "
        f"Benjamini-Hochberg across units"
        f"{f', alerts need q <= {fdr:g}' if fdr is not None else ''}; "
        f"{int(table['alert'].sum())} alerts",
    )
    return AlertsResult(frame=table[order], as_of=as_of, step=table["step"].iloc[0],
                        resolution=series.resolution, method=method, ears=ears, alpha=alpha,
                        min_sd=min_sd, fdr=fdr, timezone=series.timezone, notes=notes,
                        sd_floor=sd_floor)


class _Evaluation(NamedTuple):
    """One unit's test at one step."""

    observed: float
    expected: float
    threshold: float
    method: str
    statistic: float
    p_value: float
    alert: bool
    years: int


@dataclass(frozen=True)
class _Rule:
    """One configuration of the methods, applied to one unit's counts up to a step."""

    resolution: str
    method: str
    ears: str
    alpha: float
    min_sd: float
    fdr: float | None
    poisson_sd: bool = False
    trend_p: float = 1.0

    def evaluate(self, counts: NDArray[np.float64], dates: NDArray[np.int64]) -> _Evaluation:
        """Test the last entry of ``counts`` (the steps up to it, first days in ``dates``)."""
        years = _farrington_years(dates, self.resolution)
        if self.method != "ears" and years >= 2:
            return _farrington(counts, dates, years, self.resolution, self.alpha,
                               self.trend_p)
        if self.method == "farrington":
            return _Evaluation(counts[-1], np.nan, np.nan, "none", np.nan, np.nan, False, 0)
        return _ears(counts, self.ears, self.min_sd, self.poisson_sd)


def _span(days: NDArray[np.int64], start: dt.date | None, end: dt.date | None,
          resolution: str) -> tuple[int, int]:
    """First days of the first and last steps."""
    if (start is None or end is None) and not len(days):
        raise MissingDataError("no incident has a time; give start and end")
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, dt.date)
                                  or isinstance(value, dt.datetime)):
            raise ParameterError(f"{name} must be a date; got {value!r}", parameter=name)
    first = st.day_of_date(start) if start is not None else int(days.min())
    last = st.day_of_date(end) if end is not None else int(days.max())
    if last < first:
        raise ParameterError(f"end must not precede start; got {start} .. {end}",
                             parameter="end")
    edges = _step_start(np.array([first, last]), resolution)
    return int(edges[0]), int(edges[1])


def _step_start(days: NDArray[np.int64], resolution: str) -> NDArray[np.int64]:
    if resolution == "day":
        return days.copy()
    return days - (days + 3) % 7  # day 0, 1970-01-01, was a Thursday


def _evaluated_step(dates: NDArray[np.int64], as_of: int, resolution: str) -> int:
    """Index of the last step that ends on or before ``as_of``."""
    ends = dates + _STEP_DAYS[resolution] - 1
    t = int(np.searchsorted(ends, as_of, side="right")) - 1
    if t < 0:
        first = st.date_of_day(int(ends[0])) if len(ends) else "none"
        raise MissingDataError(f"no complete {resolution} ends on or before as_of "
                               f"({st.date_of_day(as_of)}); the first ends on {first}")
    return t


def _ears(counts: NDArray[np.float64], variant: str, min_sd: float,
          poisson_sd: bool = False) -> _Evaluation:
    """EARS C1, C2 or C3 at the last step of ``counts``."""
    t = len(counts) - 1
    lag = 1 if variant == "c1" else 3
    need = _EARS_BASELINE + lag + (2 if variant == "c3" else 0)
    if t < need - 1:
        return _Evaluation(counts[-1], np.nan, np.nan, "none", np.nan, np.nan, False, 0)

    def stat(s: int) -> tuple[float, float, float]:
        base = counts[s - lag - _EARS_BASELINE + 1: s - lag + 1]
        mean = float(base.mean())
        sd = max(float(base.std(ddof=1)), min_sd, math.sqrt(mean) if poisson_sd else 0.0)
        if sd > 0:
            return mean, sd, (counts[s] - mean) / sd
        return mean, sd, float(np.sign(counts[s] - mean)) * math.inf

    mean, sd, c = stat(t)
    # The Poisson floor also takes p from the Poisson tail: the normal tail of C is far too
    # small for the low counts of a community's week.
    p = float(poisson.sf(counts[t] - 1, max(mean, min_sd ** 2)) if poisson_sd else norm.sf(c))
    if variant != "c3":
        threshold = mean + 3 * sd
        return _Evaluation(counts[t], mean, threshold, f"ears_{variant}", c, p,
                           bool(counts[t] > threshold), 0)
    parts = sum(max(0.0, stat(s)[2] - 1) for s in (t - 1, t - 2))
    total = max(0.0, c - 1) + parts
    threshold = mean + sd * (3 - parts) if parts <= 2 else np.nan
    return _Evaluation(counts[t], mean, threshold, "ears_c3", total, p, bool(total > 2), 0)


def _farrington_years(dates: NDArray[np.int64], resolution: str) -> int:
    """Whole years b (at most 5) whose reference windows the history holds."""
    years = 0
    for k in range(1, _MAX_YEARS + 1):
        ref = _reference_step(dates, k, resolution)
        if ref is None or ref - _WINDOW < 0:
            break
        years = k
    return years


def _reference_step(dates: NDArray[np.int64], years: int, resolution: str) -> int | None:
    """Index of the step ``years`` years before the last one (nearest Monday for weeks)."""
    now = st.date_of_day(int(dates[-1]))
    try:
        back = now.replace(year=now.year - years)
    except ValueError:  # 29 February: R's seq(by = "-1 year") rolls on to 1 March
        back = dt.date(now.year - years, 3, 1)
    day = st.day_of_date(back)
    if resolution == "week":
        monday = day - (day + 3) % 7
        day = monday if day - monday <= 3 else monday + 7
    index = (day - int(dates[0])) // _STEP_DAYS[resolution]
    return int(index) if index >= 0 else None


def _season_levels(n: int, refs: list[int], exclude: int) -> NDArray[np.float64]:
    """The seasonal blocks of farringtonFlexible: 10 around reference steps, 1–9 between.

    Steps outside the baseline are NaN.

    ``refs`` are the current step (``n − 1``) and the reference steps, latest first.
    """
    levels = np.full(n, np.nan)
    now = n - 1
    levels[now - _WINDOW: now + 1] = _PERIODS
    for later, ref in itertools.pairwise(refs):
        levels[ref - _WINDOW: ref + _WINDOW + 1] = _PERIODS
        between = later - 2 * _WINDOW - 1 - ref
        size, rest = divmod(between, _PERIODS - 1)
        pos = ref + _WINDOW + 1
        for j in range(_PERIODS - 1):
            length = size + (1 if j < rest else 0)
            levels[pos: pos + length] = j + 1
            pos += length
    levels[max(now - exclude, 0): now + 1] = np.nan
    return levels


def _farrington(counts: NDArray[np.float64], dates: NDArray[np.int64], years: int,
                resolution: str, alpha: float, trend_p: float = 1.0) -> _Evaluation:
    """The improved Farrington method at the last step of ``counts``."""
    n = len(counts)
    refs = [n - 1] + [_reference_step(dates, k, resolution) for k in range(1, years + 1)]
    levels = _season_levels(n, [int(r) for r in refs if r is not None],
                            _EXCLUDE_DAYS // _STEP_DAYS[resolution])
    used = np.flatnonzero(~np.isnan(levels))
    y = counts[used]
    observed = counts[-1]
    recent = counts[-_MIN_RECENT[1]:].sum() >= _MIN_RECENT[0]
    if not y.any():
        # Expected 0, threshold 0 (R's quantiles of a mean of 0): any count is above it.
        p = 1.0 if observed == 0 else 0.0
        return _Evaluation(observed, 0.0, 0.0, "farrington", np.nan, p,
                           bool(recent and observed > 0), years)
    wtime = (used - used[0]).astype(np.float64)
    now_time = float(n - 1 - used[0])
    mu0, phi = _fit_noufaily(y, wtime, levels[used], now_time, years, trend_p)
    if phi > 1:
        size, prob = mu0 / (phi - 1), 1 / phi
        threshold = float(nbinom.ppf(1 - alpha, size, prob)) if mu0 > 0 else 0.0
        p = float(nbinom.sf(observed - 1, size, prob)) if mu0 > 0 else float(observed <= 0)
    else:
        threshold = float(poisson.ppf(1 - alpha, mu0))
        p = float(poisson.sf(observed - 1, mu0))
    score = (observed - mu0) / (threshold - mu0) if threshold != mu0 else np.nan
    alert = bool(recent and observed > threshold and observed > 0)
    return _Evaluation(observed, mu0, threshold, "farrington", score, p, alert, years)


def _fit_noufaily(y: NDArray[np.float64], wtime: NDArray[np.float64],
                  levels: NDArray[np.float64], now_time: float, years: int,
                  trend_p: float = 1.0) -> tuple[float, float]:
    """Expected count μ₀ at ``now_time`` in level 10, and the dispersion φ (≥ 1)."""
    present = np.unique(levels)
    dummies = (levels[:, None] == present[None, 1:]).astype(np.float64)
    now_dummies = (present[1:] == _PERIODS).astype(np.float64)
    if years >= 3:  # the trend is only ever kept with three years of baseline
        design = np.column_stack([np.ones(len(y)), wtime, dummies])
        now_trend = np.concatenate([[1.0, now_time], now_dummies])
        trended = _reweighted_fit(y, design, now_trend, with_trend=True)
        if (trended.converged and math.exp(trended.eta) <= y.max()
                and trended.trend_p < trend_p):
            return math.exp(trended.eta), trended.phi
    flat = _reweighted_fit(y, np.column_stack([np.ones(len(y)), dummies]),
                           np.concatenate([[1.0], now_dummies]))
    return math.exp(flat.eta), flat.phi


class _Fit(NamedTuple):
    """A reweighted quasi-Poisson fit: η₀ at the current step, φ, convergence, trend p."""

    eta: float
    phi: float
    converged: bool
    trend_p: float


def _reweighted_fit(y: NDArray[np.float64], x: NDArray[np.float64], x_now: NDArray[np.float64],
                    with_trend: bool = False) -> _Fit:
    """Quasi-Poisson fit, Anscombe reweighting, refit.

    The trend's p value (column 1 of ``x`` when ``with_trend``; NaN otherwise) is R's
    ``summary.glm`` test of a quasi-Poisson fit: ``t = β / se(β)`` with the dispersion
    estimated, two-sided, on the residual degrees of freedom.
    """
    # Fitted with the Poisson scale of 1 and the dispersion taken afterwards (Pearson χ² over
    # the residual degrees of freedom): the estimates are the same, and statsmodels' own
    # scale="X2" fails on a perfect fit (a constant series), whose Pearson χ² is 0.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = sm.GLM(y, x, family=sm.families.Poisson()).fit()
        phi = max(_dispersion(first), 1.0)
        mu = first.fittedvalues
        hat = first.get_hat_matrix_diag()
        resid = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - np.sqrt(mu))
        s = resid / np.sqrt(phi * np.clip(1.0 - hat, 1e-12, None))
        weight = np.where(s > _REWEIGHT, s ** -2.0, 1.0)
        omega = weight * len(s) / weight.sum()
        second = sm.GLM(y, x, family=sm.families.Poisson(), var_weights=omega).fit(
            start_params=first.params)
    dispersion = _dispersion(second)
    eta = float(x_now @ second.params)
    trend_p = math.nan
    if with_trend:
        se = float(second.bse[1]) * math.sqrt(dispersion)
        t = float(second.params[1]) / se if se > 0 else math.inf
        trend_p = float(2.0 * student_t.sf(abs(t), second.df_resid))
    return _Fit(eta, max(dispersion, 1.0), bool(first.converged and second.converged), trend_p)


def _dispersion(fit: Any) -> float:
    """The quasi-Poisson dispersion of a fit: Pearson χ² over the residual degrees of freedom."""
    return float(fit.pearson_chi2 / fit.df_resid) if fit.df_resid > 0 else 1.0


class _StepTables:
    """Every unit's test at a step, each step judged as of its own end, computed once."""

    def __init__(self, rule: _Rule, counts: NDArray[np.float64], dates: NDArray[np.int64]):
        self.rule = rule
        self.counts = counts
        self.dates = dates
        self.tables: dict[int, pd.DataFrame] = {}

    def at(self, t: int) -> pd.DataFrame:
        """The units' evaluations at step ``t``, with q values and the alerts."""
        if t not in self.tables:
            rows = [self.rule.evaluate(self.counts[: t + 1, u], self.dates[: t + 1])
                    for u in range(self.counts.shape[1])]
            table = pd.DataFrame(rows, columns=list(_Evaluation._fields))
            table["q_value"] = st.bh_q_values(table["p_value"].to_numpy())
            if self.rule.fdr is not None:
                table["alert"] = table["alert"] & (table["q_value"] <= self.rule.fdr)
            self.tables[t] = table
        return self.tables[t]

    def first_fired(self, unit: int, t: int, lookback: int) -> dt.date:
        """First step of the run of alerting steps of ``unit`` ending at ``t``."""
        first = t
        while first > 0 and t - first < lookback and self.at(first - 1)["alert"].iloc[unit]:
            first -= 1
        return st.date_of_day(int(self.dates[first]))
