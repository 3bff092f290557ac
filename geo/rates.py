"""Case rates per 10,000 residents (万人发案率), empirical-Bayes smoothing and tested change.

:func:`compute_rates` and :func:`compute_category_rates` turn case counts
(:class:`geo.cases.CaseCounts`) and populations into rates, smoothed rates and a
significance-tested change against a comparison period; :func:`geo.rollup.roll_up` sums them to
subdistricts, districts or the city with the column helpers public here
(:func:`rate_columns`, :func:`comparison_columns`), so a unit's rate and test are computed by
the same code as a community's.

Definitions
-----------
- Period rate: ``cases / population × 10,000``.
- Annualised rate: ``cases / (population × days / 365.25) × 10,000``; the exposure is counted in
  exact days, so a 92-day quarter is scaled by 365.25 / 92.
- Empirical-Bayes rate: esda's global (aspatial) empirical Bayes, ``esda.smoothing.Empirical_Bayes``
  with events ``e = cases`` and population at risk ``b = population × days / 365.25``, times
  10,000. esda's moment estimate of the prior variance, ``Σ b (r − m)² / Σ b − m / mean(b)``,
  can be zero or negative (when communities differ less than Poisson noise alone would make
  them); esda's weights then become negative or infinite. pingan clips that estimate at zero:
  the weight of every community's own rate is 0 and every smoothed rate equals the global mean
  ``m = Σ e / Σ b``. Whenever the estimate is positive the values are esda's.
- Change: ``(annual rate − comparison annual rate) / comparison annual rate × 100``; NaN when the
  comparison rate is zero or unknown.
- Significance: the conditional test for two Poisson counts with exposures ``E = population ×
  days``: given ``n = n1 + n2``, ``n1 ~ Binomial(n, E1 / (E1 + E2))`` when the rates are equal
  (``scipy.stats.binomtest``), two-sided for ``p_change``, one-sided (greater) for ``p_rise``.
  A community is tested when both exposures are positive and ``n > 0``; p-values are adjusted
  with Benjamini–Hochberg across the communities tested (``scipy.stats.false_discovery_control``)
  and ``case_rise_significant`` is 1 where ``q_rise <= alpha``.

Written here rather than taken from a library: only the prior-variance clip around esda's
empirical Bayes (esda has no guard for it) and the bookkeeping of populations, periods and the
cases left out. The statistics themselves are esda's and scipy's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.cases import (
    COMMUNITY_CODE,
    CaseCounts,
    CaseDefinition,
    distinct_texts,
    require_columns,
)
from geo.codes import natural_order
from geo.errors import ParameterError
from geo.exposure import period_population
from geo.period import Period

__all__ = [
    "CHANGE_CLASSES",
    "DAYS_PER_YEAR",
    "RATE_SCALE",
    "RatesResult",
    "comparison_columns",
    "comparison_note",
    "compute_category_rates",
    "compute_rates",
    "no_comparison_columns",
    "rate_columns",
]

#: Residents per rate unit: rates are per 10,000 residents.
RATE_SCALE = 10_000.0
#: What each ``change_class`` means, (zh, en).
CHANGE_CLASSES: dict[str, tuple[str, str]] = {
    "rise": ("显著上升", "significant rise"),
    "no_rise": ("无显著上升", "no significant rise"),
    "unknown": ("待补数据", "unknown: data missing"),
}
#: Days in the year used to annualise (mean Julian year, so leap years weigh correctly).
DAYS_PER_YEAR = 365.25

_CODE = COMMUNITY_CODE


@dataclass(frozen=True, eq=False)
class RatesResult:
    """Case rates of every community for one period (and one category, or all).

    Attributes
    ----------
    frame
        One row per community, indexed by community code (``community_code``); communities are
        those with a population or with cases in either period. Columns:

        - ``cases``: cases in the period (int).
        - ``population``: mean residents over the period (NaN when none is known): from a
          population table, person-years over the period's years by
          :func:`geo.exposure.period_population` (linear between known dates, flat beyond).
        - ``population_source``: ``year`` (the population table), ``boundary`` (the single
          population of the communities layer) or missing.
        - ``population_rule``: how the table gave it (a key of :data:`geo.exposure.RULES`:
          ``interpolated``, ``carried_forward``, ``constant``…; ``boundary``), or missing.
        - ``no_population``: True where the population is 0 or missing; the rates are then NaN
          and the cases are still in ``cases``.
        - ``case_rate_per_10k``: cases per 10,000 residents in the period.
        - ``case_rate_per_10k_annual``: the same scaled to 365.25 days.
        - ``case_rate_eb_per_10k_annual``: empirical-Bayes smoothed annualised rate.
        - ``compare_cases``, ``compare_population``, ``compare_case_rate_per_10k_annual``: the
          comparison period's figures (NaN without a comparison).
        - ``case_change_pct``: change of the annualised rate, percent.
        - ``p_change`` (two-sided) and ``p_rise`` (one-sided, greater): conditional binomial
          test of the two counts; NaN where not tested.
        - ``q_change``, ``q_rise``: Benjamini–Hochberg adjusted across the communities tested.
        - ``case_rise_significant``: 1 where ``q_rise <= alpha``, 0 otherwise; missing (Int64
          ``<NA>``) without a comparison, where a period has no population, or where the
          incident data do not wholly cover the comparison period.
        - ``compare_covered``: whether they do (``compare_covered`` of :func:`compute_rates`).
        - ``change_class``: ``rise`` (显著上升), ``no_rise`` (无显著上升) or ``unknown``
          (待补数据); missing without a comparison.
    period, compare_period
        The period and the comparison period (``None`` without one).
    category
        The category the rates are for; ``None`` for every category counted.
    alpha
        The false-discovery level of ``case_rise_significant``.
    unassigned, compare_unassigned
        Cases without a community (left out of every community, reported in roll-ups).
    no_location
        Of the unassigned cases, those with neither coordinates nor a community code (all
        categories).
    not_counted
        Records of the period the case definition left out (all categories).
    case_definition, timezone
        How the counts were made.
    notes
        Method and provenance notes: population sources, the empirical-Bayes prior and whether
        it was clipped, the test and the number of communities tested.
    """

    frame: pd.DataFrame
    period: Period
    compare_period: Period | None
    category: str | None
    alpha: float
    unassigned: int
    compare_unassigned: int | None
    no_location: int
    not_counted: int
    case_definition: CaseDefinition
    timezone: str
    notes: tuple[str, ...]


Populations = pd.Series | pd.DataFrame


def compute_rates(
    counts: CaseCounts,
    populations: Populations,
    *,
    boundary_populations: pd.Series | None = None,
    compare_counts: CaseCounts | None = None,
    compare_populations: Populations | None = None,
    alpha: float = 0.05,
    compare_covered: pd.Series | None = None,
) -> RatesResult:
    """Compute case rates, smoothed rates and the tested change of every community.

    Counts split by category are summed over the categories.

    Parameters
    ----------
    counts
        Cases of the period (from storage or :func:`count_cases`).
    populations
        Residents per community: a Series indexed by community code, or a DataFrame with
        ``code`` and ``population`` (the communities layer), or a population table with
        ``code``, ``year``, ``population`` (and optionally ``reference_date``), from which
        the period's mean population is found by :func:`geo.exposure.period_population`.
    boundary_populations
        With a population table only: the communities layer's population (Series by code),
        used for communities that have no row in it. Which source and rule each community
        used is in ``population_source``, ``population_rule`` and the notes.
    compare_counts
        Cases of the comparison period (previous period or the year before).
    compare_populations
        Populations for the comparison period, in the same forms; by default ``populations``
        (and ``boundary_populations``) taken over the comparison period.
    alpha
        False-discovery level of ``case_rise_significant``, in (0, 1).
    compare_covered
        Bool per community code: whether the incident loads wholly cover the comparison
        period (:mod:`geo.completeness`); where not (or a code is absent), the change is
        unknown (``change_class`` ``unknown``, 待补数据), never a rise, and the community is left
        out of the test's family. ``None``: every comparison is covered.

    Returns
    -------
    RatesResult

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``alpha`` is outside (0, 1), a population is negative or duplicated, a column is
        missing, or the two counts were made with different case definitions or time zones.
    """
    _check_rate_inputs(counts, compare_counts, alpha)
    return _rates(counts, populations, boundary_populations, compare_counts,
                  compare_populations, alpha, None, compare_covered)


def compute_category_rates(
    counts: CaseCounts,
    populations: Populations,
    *,
    boundary_populations: pd.Series | None = None,
    compare_counts: CaseCounts | None = None,
    compare_populations: Populations | None = None,
    alpha: float = 0.05,
    categories: Sequence[str] | None = None,
    compare_covered: pd.Series | None = None,
) -> dict[str, RatesResult]:
    """Compute the rates of :func:`compute_rates` separately for each category.

    Each category is its own family: its own empirical-Bayes prior (categories differ in level)
    and its own Benjamini–Hochberg correction. The result is a dict from category to a
    :class:`RatesResult` of exactly the total's shape, so a standard criterion or an API call
    for one category reads it like the total; communities without cases of a category have 0.

    Parameters
    ----------
    counts
        Cases of the period split by category.
    populations, boundary_populations, compare_populations, alpha, compare_covered
        As for :func:`compute_rates`.
    compare_counts
        Cases of the comparison period split by category.
    categories
        Categories to compute; by default every category in either period's counts.

    Returns
    -------
    dict of str to RatesResult
        In category order.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        As for :func:`compute_rates`, and if the counts are not split by category.
    """
    _check_rate_inputs(counts, compare_counts, alpha)
    for name, value in (("counts", counts), ("compare_counts", compare_counts)):
        if value is not None and not value.by_category:
            raise ParameterError(
                f"{name} must be split by category (a 'category' column) for category rates"
            )
    if categories is None:
        found = set(counts.categories)
        if compare_counts is not None:
            found |= set(compare_counts.categories)
        wanted = sorted(found)
    else:
        wanted = list(distinct_texts(categories, "categories"))
    return {
        category: _rates(counts, populations, boundary_populations, compare_counts,
                         compare_populations, alpha, category, compare_covered)
        for category in wanted
    }


def _check_rate_inputs(counts: CaseCounts, compare_counts: CaseCounts | None,
                       alpha: float) -> None:
    if not isinstance(counts, CaseCounts):
        raise TypeError(f"counts must be CaseCounts; got {type(counts).__name__}")
    if compare_counts is not None:
        if not isinstance(compare_counts, CaseCounts):
            raise TypeError(
                f"compare_counts must be CaseCounts or None; got {type(compare_counts).__name__}"
            )
        if compare_counts.case_definition != counts.case_definition:
            raise ParameterError(
                "compare_counts must use the same case definition as counts; got "
                f"{compare_counts.case_definition} and {counts.case_definition}"
            )
        if compare_counts.timezone != counts.timezone:
            raise ParameterError(
                f"compare_counts must use the same time zone as counts; got "
                f"{compare_counts.timezone!r} and {counts.timezone!r}"
            )
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ParameterError(f"alpha must be a number in (0, 1); got {alpha!r}")


def _rates(
    counts: CaseCounts,
    populations: Populations,
    boundary_populations: pd.Series | None,
    compare_counts: CaseCounts | None,
    compare_populations: Populations | None,
    alpha: float,
    category: str | None,
    compare_covered: pd.Series | None = None,
) -> RatesResult:
    period = counts.period
    notes = [
        f"period {period.label}: local days {period.start} to {period.last_day} in "
        f"{counts.timezone} ({period.days} days)"
    ]
    population, source, rule, note = _population_for(populations, boundary_populations,
                                                     period, "populations")
    notes.append(note)
    cases = counts.by_community(category)
    codes = population.index.union(cases.index)
    compare = None
    if compare_counts is not None:
        compare = (compare_counts, compare_counts.by_community(category))
        codes = codes.union(compare[1].index)
    codes = codes[natural_order(codes)].rename(_CODE)

    frame = pd.DataFrame(index=codes)
    frame["cases"] = cases.reindex(codes, fill_value=0).astype("int64")
    frame["population"] = population.reindex(codes).astype("float64")
    frame["population_source"] = source.reindex(codes).astype("string")
    frame["population_rule"] = rule.reindex(codes).astype("string")
    frame["no_population"] = ~(frame["population"] > 0)
    rate, annual = rate_columns(frame["cases"], frame["population"], period.days)
    frame["case_rate_per_10k"] = rate
    frame["case_rate_per_10k_annual"] = annual
    eb, note = _empirical_bayes(frame["cases"], _person_years(frame["population"], period.days))
    frame["case_rate_eb_per_10k_annual"] = eb * RATE_SCALE
    notes.append(note)
    n_no_pop = int(frame["no_population"].sum())
    if n_no_pop:
        notes.append(
            f"{n_no_pop} communities without population: rates NaN, flagged no_population; "
            f"their {int(frame.loc[frame['no_population'], 'cases'].sum())} cases stay in cases"
        )

    if compare is None:
        frame = frame.join(no_comparison_columns(codes))
    else:
        before, before_cases = compare
        if compare_populations is None:
            before_population, _, _, note = _population_for(
                populations, boundary_populations, before.period, "populations")
        else:
            before_population, _, _, note = _population_for(
                compare_populations, None, before.period, "compare_populations")
        notes.append(f"comparison {note}")
        frame["compare_cases"] = before_cases.reindex(codes, fill_value=0).astype("Int64")
        frame["compare_population"] = before_population.reindex(codes).astype("float64")
        covered = None
        if compare_covered is not None:
            covered = pd.Series(compare_covered.to_numpy(dtype=bool),
                                index=compare_covered.index.astype("string")).reindex(codes)
            covered = covered.fillna(False).astype(bool)
        frame = frame.join(comparison_columns(
            frame["cases"], frame["population"], period.days,
            frame["compare_cases"], frame["compare_population"], before.period.days, alpha,
            covered=covered,
        ))
        notes.append(comparison_note(frame, before.period, alpha))
    return RatesResult(
        frame=frame,
        period=period,
        compare_period=None if compare_counts is None else compare_counts.period,
        category=category,
        alpha=float(alpha),
        unassigned=counts.unassigned(category),
        compare_unassigned=None if compare_counts is None else compare_counts.unassigned(category),
        no_location=counts.no_location,
        not_counted=counts.not_counted,
        case_definition=counts.case_definition,
        timezone=counts.timezone,
        notes=tuple(notes),
    )


def _person_years(population: pd.Series, days: int) -> pd.Series:
    return population.where(population > 0) * days / DAYS_PER_YEAR


def rate_columns(cases: pd.Series, population: pd.Series,
                 days: int) -> tuple[pd.Series, pd.Series]:
    """Return the period rate and the annualised rate per 10,000 residents.

    Parameters
    ----------
    cases
        Cases per unit (nullable integers allowed).
    population
        Residents per unit; 0 or missing gives NaN rates.
    days
        Days of the period (the exposure of the annualised rate).

    Returns
    -------
    tuple of pandas.Series
        ``case_rate_per_10k`` and ``case_rate_per_10k_annual``, float64, aligned with
        ``cases``.
    """
    numerator = _floats(cases)
    rate = numerator / _floats(population.where(population > 0)) * RATE_SCALE
    annual = numerator / _floats(_person_years(population, days)) * RATE_SCALE
    return rate, annual


def _floats(values: pd.Series) -> pd.Series:
    """Return the values as float64 with NaN for missing (nullable integers included)."""
    return pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)


def _empirical_bayes(events: pd.Series, at_risk: pd.Series) -> tuple[pd.Series, str]:
    """Global empirical-Bayes rates per unit of ``at_risk``; NaN where ``at_risk`` is NaN."""
    out = pd.Series(np.nan, index=events.index, dtype="float64")
    valid = at_risk.notna().to_numpy()
    if not valid.any():
        return out, "empirical Bayes: no community has a population; smoothed rates are NaN"
    e = events.to_numpy(dtype="float64")[valid]
    b = at_risk.to_numpy(dtype="float64")[valid]
    mean = e.sum() / b.sum()
    prior_variance = (b * (e / b - mean) ** 2).sum() / b.sum() - mean / b.mean()
    mean_10k = mean * RATE_SCALE
    if mean == 0:
        out[valid] = 0.0
        return out, "empirical Bayes: no cases in any community; every smoothed rate is 0"
    if prior_variance > 0:
        # Imported here: esda (libpysal, scipy.stats) costs seconds to import, which every
        # command line run (a load too) would otherwise pay.
        from esda.smoothing import Empirical_Bayes

        out[valid] = Empirical_Bayes(e, b).r.ravel()
        return out, (
            f"empirical Bayes (esda global): prior mean {mean_10k:.6g} per 10k per year, "
            f"prior variance {prior_variance:.6g} (per person-year squared), "
            f"{int(valid.sum())} communities"
        )
    out[valid] = mean
    return out, (
        f"empirical Bayes: the moment estimate of the prior variance is {prior_variance:.6g} "
        f"<= 0 (communities differ no more than Poisson noise); clipped to 0, so every smoothed "
        f"rate equals the global mean {mean_10k:.6g} per 10k per year"
    )


def no_comparison_columns(index: pd.Index) -> pd.DataFrame:
    """Return the comparison columns of a result that has no comparison period.

    Parameters
    ----------
    index
        Index of the result's frame.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`comparison_columns` plus ``compare_cases`` and
        ``compare_population``, all missing (NaN, or ``<NA>`` for the Int64 columns).
    """
    frame = pd.DataFrame(index=index)
    frame["compare_cases"] = pd.array([pd.NA] * len(index), dtype="Int64")
    for column in ("compare_population", "compare_case_rate_per_10k_annual",
                   "case_change_pct", "p_change", "p_rise", "q_change", "q_rise"):
        frame[column] = np.nan
    frame["case_rise_significant"] = pd.array([pd.NA] * len(index), dtype="Int64")
    frame["compare_covered"] = pd.array([pd.NA] * len(index), dtype="boolean")
    frame["change_class"] = pd.array([pd.NA] * len(index), dtype="string")
    return frame


def comparison_columns(
    cases: pd.Series,
    population: pd.Series,
    days: int,
    compare_cases: pd.Series,
    compare_population: pd.Series,
    compare_days: int,
    alpha: float,
    *,
    covered: pd.Series | None = None,
) -> pd.DataFrame:
    """Return the comparison rate, the change and the conditional Poisson test per unit.

    Parameters
    ----------
    cases, population, days
        Cases, residents and days of the period.
    compare_cases, compare_population, compare_days
        The same of the comparison period, aligned with ``cases``.
    alpha
        False-discovery level of ``case_rise_significant``.
    covered
        Bool per unit (aligned with ``cases``): whether the incident data wholly cover the
        comparison period; ``None`` means every unit is covered. An uncovered unit gets no
        comparison rate, change or test, and ``case_rise_significant`` missing.

    Returns
    -------
    pandas.DataFrame
        ``compare_case_rate_per_10k_annual``, ``case_change_pct``, ``p_change``, ``p_rise``,
        ``q_change``, ``q_rise`` (Benjamini–Hochberg over the units tested),
        ``case_rise_significant``, as defined in the module docstring, ``compare_covered``
        and ``change_class``: ``rise`` (显著上升), ``no_rise`` (无显著上升) or ``unknown``
        (待补数据: the comparison period is not wholly covered, or a period has no
        population).
    """
    from scipy.stats import binomtest, false_discovery_control  # see _empirical_bayes

    ok = (np.ones(len(cases), dtype=bool) if covered is None
          else covered.reindex(cases.index).fillna(False).to_numpy(dtype=bool))
    _, annual = rate_columns(cases, population, days)
    _, compare_annual = rate_columns(compare_cases, compare_population, compare_days)
    compare_annual = compare_annual.where(ok)
    frame = pd.DataFrame(index=cases.index)
    frame["compare_case_rate_per_10k_annual"] = compare_annual
    change = (annual - compare_annual) / compare_annual * 100.0
    frame["case_change_pct"] = change.where(compare_annual > 0)

    n1 = _floats(cases).to_numpy()
    n2 = _floats(compare_cases).to_numpy()
    e1 = _floats(population.where(population > 0) * days).to_numpy()
    e2 = _floats(compare_population.where(compare_population > 0) * compare_days).to_numpy()
    exposed = (e1 > 0) & (e2 > 0) & ok
    tested = exposed & (n1 + n2 > 0)
    p_change = np.full(len(n1), np.nan)
    p_rise = np.full(len(n1), np.nan)
    for i in np.flatnonzero(tested):
        k, n, share = int(n1[i]), int(n1[i] + n2[i]), e1[i] / (e1[i] + e2[i])
        p_change[i] = binomtest(k, n, share, alternative="two-sided").pvalue
        p_rise[i] = binomtest(k, n, share, alternative="greater").pvalue
    q_change = np.full(len(n1), np.nan)
    q_rise = np.full(len(n1), np.nan)
    if tested.any():
        q_change[tested] = false_discovery_control(p_change[tested], method="bh")
        q_rise[tested] = false_discovery_control(p_rise[tested], method="bh")
    frame["p_change"] = p_change
    frame["p_rise"] = p_rise
    frame["q_change"] = q_change
    frame["q_rise"] = q_rise
    flag = pd.array([pd.NA] * len(n1), dtype="Int64")
    flag[exposed] = (q_rise[exposed] <= alpha).astype("int64")
    frame["case_rise_significant"] = flag
    frame["compare_covered"] = pd.array(ok, dtype="boolean")
    frame["change_class"] = pd.array(
        np.where(~exposed, "unknown", np.where(q_rise <= alpha, "rise", "no_rise")),
        dtype="string")
    return frame


def comparison_note(frame: pd.DataFrame, compare_period: Period, alpha: float) -> str:
    """Return the provenance note of a comparison: the test, units tested, rises found.

    Parameters
    ----------
    frame
        A result frame holding the columns of :func:`comparison_columns`.
    compare_period
        The comparison period.
    alpha
        False-discovery level used.

    Returns
    -------
    str
    """
    tested = int(frame["p_rise"].notna().sum())
    risen = int(frame["case_rise_significant"].fillna(0).sum())
    note = (
        f"change against {compare_period.label} ({compare_period.days} days): conditional "
        f"binomial test of two Poisson counts with exposures population × days, "
        f"Benjamini–Hochberg across the {tested} units tested (both populations > 0, cases in "
        f"either period); {risen} significant rises at q <= {alpha:g}"
    )
    uncovered = int((~frame["compare_covered"].fillna(True)).sum()) if (
        "compare_covered" in frame.columns) else 0
    if uncovered:
        note += (f"; {uncovered} units unknown (待补数据): the incident loads do not wholly "
                 f"cover {compare_period.label}, so no change is computed for them")
    return note


# --------------------------------------------------------------------------------------------
# Populations
# --------------------------------------------------------------------------------------------

def _population_for(
    populations: Populations,
    boundary_populations: pd.Series | None,
    period: Period,
    name: str,
) -> tuple[pd.Series, pd.Series, pd.Series, str]:
    """Return the population per code over ``period``, its source and rule, and a note."""
    if isinstance(populations, pd.DataFrame) and "year" in populations.columns:
        return _population_of_period(populations, boundary_populations, period, name)
    if boundary_populations is not None:
        raise ParameterError(
            f"boundary_populations is the fallback of a population table (code, year, "
            f"population); {name} has no year column, so it is the population itself"
        )
    if isinstance(populations, pd.DataFrame):
        require_columns(populations, ["code", "population"], name)
        populations = populations.set_index("code")["population"]
    elif not isinstance(populations, pd.Series):
        raise TypeError(
            f"{name} must be a Series (code -> population) or a DataFrame with code, "
            f"[year,] population; got {type(populations).__name__}"
        )
    population = _population_series(populations, name)
    source = pd.Series("boundary", index=population.index, dtype="string").where(
        population.notna())
    return population, source, source.copy(), (
        f"population: boundary population for {int(population.notna().sum())} communities"
    )


def _population_of_period(
    table: pd.DataFrame,
    boundary_populations: pd.Series | None,
    period: Period,
    name: str,
) -> tuple[pd.Series, pd.Series, pd.Series, str]:
    require_columns(table, ["code", "year", "population"], name)
    years = pd.to_numeric(table["year"], errors="coerce")
    if years.isna().any():
        raise ParameterError(
            f"{name}['year'] must be whole years; got missing or non-numeric values")
    codes = pd.Index(table["code"].astype("string"), name="code")
    if codes.isna().any():
        raise ParameterError(f"{name} has a population without a community code")
    numbers = pd.to_numeric(table["population"], errors="coerce")
    if (numbers < 0).any():
        raise ParameterError(
            f"{name} must be >= 0; got negative populations for "
            f"{codes[(numbers < 0).to_numpy()].unique().tolist()[:5]}"
        )
    boundary = None
    if boundary_populations is not None:
        boundary = _population_series(boundary_populations, "boundary_populations")
    found = period_population(table, period.start, period.end, boundary=boundary)
    index = pd.Index(found.population.index.astype("string"), name="code")
    population = pd.Series(found.population.to_numpy(), index=index, dtype="float64")
    rule = pd.Series(found.rule.to_numpy(), index=index, dtype="string")
    labels = np.where((rule == "boundary").fillna(False).to_numpy(dtype=bool), "boundary", "year")
    source = pd.Series(labels, index=index, dtype="string").where(population.notna())
    return population, source, rule, found.note


def _population_series(values: pd.Series, name: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise TypeError(f"{name} must be a Series indexed by code; got {type(values).__name__}")
    index = pd.Index(values.index.astype("string"), name="code")
    if index.isna().any():
        raise ParameterError(f"{name} has a population without a community code")
    if index.duplicated().any():
        raise ParameterError(
            f"{name} must have one population per community; got duplicates "
            f"{index[index.duplicated()].unique().tolist()[:5]}"
        )
    numbers = pd.to_numeric(pd.Series(values.to_numpy(), index=index), errors="coerce")
    if (numbers < 0).any():
        raise ParameterError(
            f"{name} must be >= 0; got negative populations for "
            f"{numbers.index[numbers < 0].tolist()[:5]}"
        )
    return numbers.astype("float64")
