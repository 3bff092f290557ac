"""Case counts, case rates per 10,000 residents (万人发案率), trends, roll-ups and time profiles.

The work is split with the storage layer. Storage turns stored incidents into counts with indexed
``GROUP BY community_code[, category]`` queries and hands them over as a :class:`CaseCounts`
(rows whose ``community_code`` is missing are the unassigned cases, exactly what ``GROUP BY``
yields for ``NULL``); :func:`count_cases` builds the same object from a frame of records for batch
use and tests. :func:`compute_rates` and :func:`compute_category_rates` turn counts and
populations into rates, smoothed rates and a significance-tested change;
:func:`roll_up` sums them to subdistricts, districts or the city. :func:`monthly_series` and
:func:`hour_weekday_profile` work on raw records, which storage streams for one period.

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

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import shapely
from esda.smoothing import Empirical_Bayes
from scipy.stats import binomtest, false_discovery_control

from geo.period import DEFAULT_TIMEZONE, Period

__all__ = [
    "DAYS_PER_YEAR",
    "RATE_SCALE",
    "UNASSIGNED",
    "CaseCounts",
    "CaseDefinition",
    "RatesResult",
    "RollUpResult",
    "compute_category_rates",
    "compute_rates",
    "count_cases",
    "hour_weekday_profile",
    "monthly_series",
    "roll_up",
    "select_cases",
]

#: Residents per rate unit: rates are per 10,000 residents.
RATE_SCALE = 10_000.0
#: Days in the year used to annualise (mean Julian year, so leap years weigh correctly).
DAYS_PER_YEAR = 365.25
#: Code of the roll-up line holding the cases that have no community.
UNASSIGNED = "unassigned"
#: Code of the roll-up line holding communities that have no code at the roll-up level.
UNKNOWN = "unknown"

RollUpLevel = Literal["subdistrict", "district", "city"]
_LEVELS = ("subdistrict", "district", "city")
_CODE = "community_code"


# --------------------------------------------------------------------------------------------
# The case definition
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseDefinition:
    """Which incident records count as a case (发案).

    The three lists are normalised to sorted tuples of distinct, stripped strings. A record is a
    case when its category is in ``include_categories`` (when that is given), its category is
    not in ``exclude_categories`` and its status is not in ``exclude_statuses``. A missing
    status never excludes a record; a missing category counts unless ``include_categories`` is
    given. The default counts every record.

    Attributes
    ----------
    include_categories
        Categories that count, or ``None`` for every category.
    exclude_categories
        Categories that never count.
    exclude_statuses
        Statuses that never count (for example withdrawn or unfounded reports).
    """

    include_categories: tuple[str, ...] | None = None
    exclude_categories: tuple[str, ...] = ()
    exclude_statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.include_categories is not None:
            include = _text_tuple(self.include_categories, "include_categories")
            if not include:
                raise ValueError(
                    "include_categories must name at least one category, or be None for every "
                    "category; got an empty list"
                )
            object.__setattr__(self, "include_categories", include)
        exclude = _text_tuple(self.exclude_categories, "exclude_categories")
        object.__setattr__(self, "exclude_categories", exclude)
        object.__setattr__(
            self, "exclude_statuses", _text_tuple(self.exclude_statuses, "exclude_statuses")
        )
        both = sorted(set(self.include_categories or ()) & set(exclude))
        if both:
            raise ValueError(
                f"a category cannot be both included and excluded; got {both} in "
                "include_categories and exclude_categories"
            )

    def mask(self, records: pd.DataFrame) -> pd.Series:
        """Return which records count as cases.

        Parameters
        ----------
        records
            Frame with a ``category`` column, and a ``status`` column when
            ``exclude_statuses`` is not empty.

        Returns
        -------
        pandas.Series
            Boolean, aligned with ``records``.

        Raises
        ------
        ValueError
            If a column the definition needs is missing.
        """
        needed = ["category"] + (["status"] if self.exclude_statuses else [])
        _require_columns(records, needed, "records")
        category = records["category"].astype("string")
        keep = pd.Series(True, index=records.index)
        if self.include_categories is not None:
            keep &= category.isin(self.include_categories).fillna(False).astype(bool)
        if self.exclude_categories:
            keep &= ~category.isin(self.exclude_categories).fillna(False).astype(bool)
        if self.exclude_statuses:
            status = records["status"].astype("string")
            keep &= ~status.isin(self.exclude_statuses).fillna(False).astype(bool)
        return keep

    def as_sql_lists(self) -> dict[str, list[str] | None]:
        """Return the definition as plain lists for a SQL ``WHERE`` clause.

        The predicate with the same meaning as :meth:`mask` is::

            (include_categories IS None OR category IN include_categories)
            AND (category IS NULL OR category NOT IN exclude_categories)
            AND (status IS NULL OR status NOT IN exclude_statuses)

        (the ``IS NULL`` arms matter: ``NULL NOT IN (...)`` is not true in SQL); an empty
        list means the clause is left out.

        Returns
        -------
        dict
            ``include_categories`` (list or ``None``), ``exclude_categories`` and
            ``exclude_statuses`` (lists).
        """
        return {
            "include_categories": (
                None if self.include_categories is None else list(self.include_categories)
            ),
            "exclude_categories": list(self.exclude_categories),
            "exclude_statuses": list(self.exclude_statuses),
        }


# --------------------------------------------------------------------------------------------
# Counts
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CaseCounts:
    """Case counts of one period: what the storage layer hands to the rate computations.

    Attributes
    ----------
    counts
        Columns ``community_code``, optionally ``category``, and ``cases`` (integers >= 0), one
        row per community (and category). Rows with a missing ``community_code`` are the
        unassigned cases (outside every community, or with no location at all), exactly the
        ``NULL`` group of a ``GROUP BY``. Normalised on construction: codes and categories as
        pandas strings, cases as int64, sorted; other columns are dropped.
    period
        The period counted.
    no_location
        Of the unassigned cases, how many have neither coordinates nor a community code (all
        categories together); provenance only.
    not_counted
        Records inside the period that the case definition left out (all categories together).
    case_definition
        The definition the counts were made with.
    timezone
        IANA time zone of the period's local days.

    Raises
    ------
    TypeError
        If ``counts`` is not a DataFrame or ``period`` not a Period.
    ValueError
        If a column is missing, a count is negative, missing or fractional, a community (and
        category) appears twice, a by-category row has no category, or ``no_location`` exceeds
        the unassigned cases.
    """

    counts: pd.DataFrame
    period: Period
    no_location: int = 0
    not_counted: int = 0
    case_definition: CaseDefinition = field(default_factory=CaseDefinition)
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if not isinstance(self.period, Period):
            raise TypeError(f"period must be a Period; got {type(self.period).__name__}")
        _zone(self.timezone)
        object.__setattr__(self, "counts", _normalise_counts(self.counts))
        for name in ("no_location", "not_counted"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.no_location > self.unassigned():
            raise ValueError(
                f"no_location counts unassigned cases, so it cannot exceed them; got "
                f"no_location={self.no_location} with {self.unassigned()} unassigned cases"
            )

    @property
    def by_category(self) -> bool:
        """Whether the counts are split by category."""
        return "category" in self.counts.columns

    @property
    def categories(self) -> list[str]:
        """Categories present in the counts (empty when not split by category)."""
        if not self.by_category:
            return []
        return sorted(self.counts["category"].unique().tolist())

    def unassigned(self, category: str | None = None) -> int:
        """Return the unassigned cases, of one category or of all.

        Parameters
        ----------
        category
            A category of by-category counts, or ``None`` for every category.

        Returns
        -------
        int
        """
        rows = self._rows(category)
        return int(rows.loc[rows[_CODE].isna(), "cases"].sum())

    def by_community(self, category: str | None = None) -> pd.Series:
        """Return the assigned cases per community, of one category or summed over all.

        Parameters
        ----------
        category
            A category of by-category counts, or ``None`` for every category.

        Returns
        -------
        pandas.Series
            Cases (int64) indexed by community code.
        """
        rows = self._rows(category)
        rows = rows[rows[_CODE].notna()]
        return rows.groupby(_CODE)["cases"].sum().astype("int64")

    def _rows(self, category: str | None) -> pd.DataFrame:
        if category is None:
            return self.counts
        if not self.by_category:
            raise ValueError(
                f"category {category!r} was asked for but the counts are not split by category"
            )
        return self.counts[self.counts["category"] == category]


def _normalise_counts(counts: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(counts, pd.DataFrame):
        raise TypeError(
            f"counts must be a DataFrame with columns community_code, [category,] cases; got "
            f"{type(counts).__name__}"
        )
    _require_columns(counts, [_CODE, "cases"], "counts")
    keys = [_CODE] + (["category"] if "category" in counts.columns else [])
    out = counts[[*keys, "cases"]].copy()
    for key in keys:
        out[key] = out[key].astype("string")
    cases = pd.to_numeric(out["cases"], errors="coerce").astype("float64")
    bad = cases.isna() | (cases < 0) | (cases != np.floor(cases))
    if bad.any():
        raise ValueError(
            f"counts['cases'] must be whole numbers >= 0; got "
            f"{out.loc[bad, 'cases'].head(5).tolist()}"
        )
    out["cases"] = cases.astype("int64")
    if "category" in keys and out["category"].isna().any():
        raise ValueError("counts['category'] must not be missing in counts split by category")
    dup = out.duplicated(keys, keep=False)
    if dup.any():
        raise ValueError(
            f"counts must have one row per {' and '.join(keys)}; got duplicates "
            f"{out.loc[dup, keys].head(5).values.tolist()}"
        )
    return out.sort_values(keys, na_position="last").reset_index(drop=True)


def select_cases(
    records: pd.DataFrame,
    period: Period,
    *,
    case_definition: CaseDefinition | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> pd.DataFrame:
    """Return the records that are cases of a period.

    A record is in the period when its ``occurred_at`` instant falls in the period's local days
    in ``timezone`` (``2025-01-01 00:30`` Beijing time belongs to 2025).

    Parameters
    ----------
    records
        Incident records with ``occurred_at`` (timezone-aware) and the columns the case
        definition needs. A GeoDataFrame stays one.
    period
        The reporting period.
    case_definition
        Which records count; ``None`` counts every record.
    timezone
        IANA time zone of the period's local days.

    Returns
    -------
    pandas.DataFrame
        A new frame with the selected rows, in their original order.

    Raises
    ------
    TypeError
        If ``occurred_at`` is not a timezone-aware datetime column.
    ValueError
        If a column is missing or the time zone is unknown.
    """
    definition = case_definition if case_definition is not None else CaseDefinition()
    in_period = _in_period(records, period, timezone)
    return records[in_period & definition.mask(records)].copy()


def count_cases(
    incidents: pd.DataFrame,
    period: Period,
    *,
    case_definition: CaseDefinition | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    by_category: bool = False,
) -> CaseCounts:
    """Count the cases of a period per community (and category) from incident records.

    The batch equivalent of the storage layer's ``GROUP BY`` queries.

    Parameters
    ----------
    incidents
        Records with ``community_code``, ``occurred_at`` (timezone-aware, UTC in the data
        contract), ``category`` and ``status``; with a ``geometry`` column, unassigned records
        without a point are counted as ``no_location``.
    period
        The reporting period.
    case_definition
        Which records count; ``None`` counts every record.
    timezone
        IANA time zone of the period's local days.
    by_category
        Split the counts by ``category``.

    Returns
    -------
    CaseCounts
        Cases per community (missing code: unassigned), with the records of the period the
        definition left out in ``not_counted``.

    Raises
    ------
    TypeError
        If ``occurred_at`` is not a timezone-aware datetime column.
    ValueError
        If a column is missing, the time zone is unknown, or a case has no category when
        counting by category.
    """
    definition = case_definition if case_definition is not None else CaseDefinition()
    _require_columns(incidents, [_CODE], "incidents")
    in_period = _in_period(incidents, period, timezone)
    is_case = definition.mask(incidents)
    cases = incidents[in_period & is_case]
    not_counted = int((in_period & ~is_case).sum())

    codes = cases[_CODE].astype("string")
    no_location = 0
    if "geometry" in cases.columns:
        geometry = np.asarray(cases["geometry"], dtype=object)
        no_point = pd.isna(geometry)
        no_point[~no_point] = shapely.is_empty(geometry[~no_point])
        no_location = int((codes.isna().to_numpy() & no_point).sum())
    keys = {_CODE: codes}
    if by_category:
        keys["category"] = cases["category"].astype("string")
    table = pd.DataFrame(keys)
    if table.empty:
        counts = pd.DataFrame({**{k: pd.Series([], dtype="string") for k in keys},
                               "cases": pd.Series([], dtype="int64")})
    else:
        counts = table.groupby(list(keys), dropna=False).size().rename("cases").reset_index()
    return CaseCounts(
        counts,
        period,
        no_location=no_location,
        not_counted=not_counted,
        case_definition=definition,
        timezone=timezone,
    )


# --------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class RatesResult:
    """Case rates of every community for one period (and one category, or all).

    Attributes
    ----------
    frame
        One row per community, indexed by community code (``community_code``); communities are
        those with a population or with cases in either period. Columns:

        - ``cases``: cases in the period (int).
        - ``population``: residents used (NaN when none is known).
        - ``population_source``: ``year`` (the population table's row for the period's year),
          ``boundary`` (the single population of the communities layer) or missing.
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
          ``<NA>``) without a comparison or where a period has no population.
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
        ``code``, ``year`` and ``population``, of which the period's year (``period.year``) is
        used.
    boundary_populations
        With a population table only: the communities layer's population (Series by code),
        used for communities that have no row for the year. Which source each community used
        is in ``population_source`` and the notes.
    compare_counts
        Cases of the comparison period (previous period or the year before).
    compare_populations
        Populations for the comparison period, in the same forms; by default ``populations``
        (and ``boundary_populations``) taken at the comparison period's year.
    alpha
        False-discovery level of ``case_rise_significant``, in (0, 1).

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
                  compare_populations, alpha, None)


def compute_category_rates(
    counts: CaseCounts,
    populations: Populations,
    *,
    boundary_populations: pd.Series | None = None,
    compare_counts: CaseCounts | None = None,
    compare_populations: Populations | None = None,
    alpha: float = 0.05,
    categories: Sequence[str] | None = None,
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
    populations, boundary_populations, compare_populations, alpha
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
            raise ValueError(
                f"{name} must be split by category (a 'category' column) for category rates"
            )
    if categories is None:
        found = set(counts.categories)
        if compare_counts is not None:
            found |= set(compare_counts.categories)
        wanted = sorted(found)
    else:
        wanted = list(_text_tuple(categories, "categories"))
    return {
        category: _rates(counts, populations, boundary_populations, compare_counts,
                         compare_populations, alpha, category)
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
            raise ValueError(
                "compare_counts must use the same case definition as counts; got "
                f"{compare_counts.case_definition} and {counts.case_definition}"
            )
        if compare_counts.timezone != counts.timezone:
            raise ValueError(
                f"compare_counts must use the same time zone as counts; got "
                f"{compare_counts.timezone!r} and {counts.timezone!r}"
            )
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number in (0, 1); got {alpha!r}")


def _rates(
    counts: CaseCounts,
    populations: Populations,
    boundary_populations: pd.Series | None,
    compare_counts: CaseCounts | None,
    compare_populations: Populations | None,
    alpha: float,
    category: str | None,
) -> RatesResult:
    period = counts.period
    notes = [
        f"period {period.label}: local days {period.start} to {period.last_day} in "
        f"{counts.timezone} ({period.days} days)"
    ]
    population, source, note = _population_for(populations, boundary_populations, period.year,
                                               "populations")
    notes.append(note)
    cases = counts.by_community(category)
    codes = population.index.union(cases.index)
    compare = None
    if compare_counts is not None:
        compare = (compare_counts, compare_counts.by_community(category))
        codes = codes.union(compare[1].index)
    codes = codes.sort_values().rename(_CODE)

    frame = pd.DataFrame(index=codes)
    frame["cases"] = cases.reindex(codes, fill_value=0).astype("int64")
    frame["population"] = population.reindex(codes).astype("float64")
    frame["population_source"] = source.reindex(codes).astype("string")
    frame["no_population"] = ~(frame["population"] > 0)
    rate, annual = _rate_columns(frame["cases"], frame["population"], period.days)
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
        frame = frame.join(_no_comparison(codes))
    else:
        before, before_cases = compare
        if compare_populations is None:
            before_population, _, note = _population_for(
                populations, boundary_populations, before.period.year, "populations")
        else:
            before_population, _, note = _population_for(
                compare_populations, None, before.period.year, "compare_populations")
        notes.append(f"comparison {note}")
        frame["compare_cases"] = before_cases.reindex(codes, fill_value=0).astype("Int64")
        frame["compare_population"] = before_population.reindex(codes).astype("float64")
        frame = frame.join(_comparison_columns(
            frame["cases"], frame["population"], period.days,
            frame["compare_cases"], frame["compare_population"], before.period.days, alpha,
        ))
        notes.append(_comparison_note(frame, before.period, alpha))
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


def _rate_columns(cases: pd.Series, population: pd.Series,
                  days: int) -> tuple[pd.Series, pd.Series]:
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


def _no_comparison(index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame(index=index)
    frame["compare_cases"] = pd.array([pd.NA] * len(index), dtype="Int64")
    for column in ("compare_population", "compare_case_rate_per_10k_annual",
                   "case_change_pct", "p_change", "p_rise", "q_change", "q_rise"):
        frame[column] = np.nan
    frame["case_rise_significant"] = pd.array([pd.NA] * len(index), dtype="Int64")
    return frame


def _comparison_columns(
    cases: pd.Series,
    population: pd.Series,
    days: int,
    compare_cases: pd.Series,
    compare_population: pd.Series,
    compare_days: int,
    alpha: float,
) -> pd.DataFrame:
    """Comparison rate, change and the conditional Poisson test, BH-adjusted over the tested."""
    _, annual = _rate_columns(cases, population, days)
    _, compare_annual = _rate_columns(compare_cases, compare_population, compare_days)
    frame = pd.DataFrame(index=cases.index)
    frame["compare_case_rate_per_10k_annual"] = compare_annual
    change = (annual - compare_annual) / compare_annual * 100.0
    frame["case_change_pct"] = change.where(compare_annual > 0)

    n1 = _floats(cases).to_numpy()
    n2 = _floats(compare_cases).to_numpy()
    e1 = _floats(population.where(population > 0) * days).to_numpy()
    e2 = _floats(compare_population.where(compare_population > 0) * compare_days).to_numpy()
    exposed = (e1 > 0) & (e2 > 0)
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
    return frame


def _comparison_note(frame: pd.DataFrame, compare_period: Period, alpha: float) -> str:
    tested = int(frame["p_rise"].notna().sum())
    risen = int(frame["case_rise_significant"].fillna(0).sum())
    return (
        f"change against {compare_period.label} ({compare_period.days} days): conditional "
        f"binomial test of two Poisson counts with exposures population × days, "
        f"Benjamini–Hochberg across the {tested} units tested (both populations > 0, cases in "
        f"either period); {risen} significant rises at q <= {alpha:g}"
    )


# --------------------------------------------------------------------------------------------
# Populations
# --------------------------------------------------------------------------------------------

def _population_for(
    populations: Populations,
    boundary_populations: pd.Series | None,
    year: int,
    name: str,
) -> tuple[pd.Series, pd.Series, str]:
    """Return the population per code for ``year``, the source of each, and a note."""
    if isinstance(populations, pd.DataFrame) and "year" in populations.columns:
        return _population_of_year(populations, boundary_populations, year, name)
    if boundary_populations is not None:
        raise ValueError(
            f"boundary_populations is the fallback of a population table (code, year, "
            f"population); {name} has no year column, so it is the population itself"
        )
    if isinstance(populations, pd.DataFrame):
        _require_columns(populations, ["code", "population"], name)
        populations = populations.set_index("code")["population"]
    elif not isinstance(populations, pd.Series):
        raise TypeError(
            f"{name} must be a Series (code -> population) or a DataFrame with code, "
            f"[year,] population; got {type(populations).__name__}"
        )
    population = _population_series(populations, name)
    source = pd.Series("boundary", index=population.index, dtype="string").where(
        population.notna())
    return population, source, (
        f"population: boundary population for {int(population.notna().sum())} communities"
    )


def _population_of_year(
    table: pd.DataFrame,
    boundary_populations: pd.Series | None,
    year: int,
    name: str,
) -> tuple[pd.Series, pd.Series, str]:
    _require_columns(table, ["code", "year", "population"], name)
    years = pd.to_numeric(table["year"], errors="coerce")
    if years.isna().any():
        raise ValueError(f"{name}['year'] must be whole years; got missing or non-numeric values")
    of_year = table[years == year].set_index("code")["population"]
    population = _population_series(of_year, f"{name} ({year})").dropna()
    source = pd.Series("year", index=population.index, dtype="string")
    fallback = 0
    if boundary_populations is not None:
        boundary = _population_series(boundary_populations, "boundary_populations")
        extra = boundary.drop(population.index, errors="ignore").dropna()
        fallback = len(extra)
        population = pd.concat([population, extra])
        source = pd.concat([source, pd.Series("boundary", index=extra.index, dtype="string")])
    missing = pd.Index(table["code"].astype("string").dropna().unique()).difference(
        population.index)
    population = pd.concat([population, pd.Series(np.nan, index=missing)]).astype("float64")
    source = pd.concat([source, pd.Series(pd.NA, index=missing, dtype="string")])
    note = (
        f"population: the {year} table for {len(population) - fallback - len(missing)} "
        f"communities, the boundary population for {fallback} without a {year} row"
    )
    if len(missing):
        note += f", none for {len(missing)}"
    return population, source, note


def _population_series(values: pd.Series, name: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise TypeError(f"{name} must be a Series indexed by code; got {type(values).__name__}")
    index = pd.Index(values.index.astype("string"), name="code")
    if index.isna().any():
        raise ValueError(f"{name} has a population without a community code")
    if index.duplicated().any():
        raise ValueError(
            f"{name} must have one population per community; got duplicates "
            f"{index[index.duplicated()].unique().tolist()[:5]}"
        )
    numbers = pd.to_numeric(pd.Series(values.to_numpy(), index=index), errors="coerce")
    if (numbers < 0).any():
        raise ValueError(
            f"{name} must be >= 0; got negative populations for "
            f"{numbers.index[numbers < 0].tolist()[:5]}"
        )
    return numbers.astype("float64")


# --------------------------------------------------------------------------------------------
# Roll-ups
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class RollUpResult:
    """Rates summed to subdistricts, districts or the city.

    Attributes
    ----------
    frame
        One row per unit, indexed by ``code`` (the unit's code; ``city`` for the city), plus
        the line ``unassigned`` for the cases without a community and, when some communities
        lack a code at the level, the line ``unknown`` holding them. Columns: ``name``,
        ``communities``, ``communities_no_population``, ``cases`` (all cases of the unit's
        communities), ``cases_no_population`` (the part of ``cases`` in communities without
        population: left out of the rates, whose numerator is ``cases −
        cases_no_population``), ``population`` (sum over communities with population),
        ``case_rate_per_10k``, ``case_rate_per_10k_annual``, ``compare_cases``,
        ``compare_cases_no_population``, ``compare_population``,
        ``compare_case_rate_per_10k_annual``, ``case_change_pct``, ``p_change``, ``p_rise``,
        ``q_change``, ``q_rise`` and ``case_rise_significant``, defined as in
        :class:`RatesResult` but on the unit's summed counts and exposures; the
        Benjamini–Hochberg family is the units of the level (not the unassigned line).
    level
        ``subdistrict``, ``district`` or ``city``.
    period, compare_period, category
        As in the rates rolled up.
    notes
        Method and provenance notes.
    """

    frame: pd.DataFrame
    level: str
    period: Period
    compare_period: Period | None
    category: str | None
    notes: tuple[str, ...]


def roll_up(result: RatesResult, communities: pd.DataFrame, *,
            level: RollUpLevel) -> RollUpResult:
    """Sum community rates to subdistricts, districts or the city.

    Rates are sums of cases over sums of population (never a mean of rates); the change test is
    recomputed on the summed counts and exposures. Unassigned cases get their own line
    (``unassigned``), never dropped. Communities without population are left out of the
    denominator and their cases out of the numerator, and both are reported
    (``communities_no_population``, ``cases_no_population``). Empirical-Bayes smoothing is not
    rolled up: whole units are large enough not to need it.

    Parameters
    ----------
    result
        Community rates from :func:`compute_rates` or :func:`compute_category_rates`.
    communities
        The communities layer (a DataFrame or GeoDataFrame) with ``code`` and, for
        subdistricts and districts, ``subdistrict_code``/``district_code``; the name columns
        ``subdistrict``/``district`` are used when present.
    level
        ``subdistrict``, ``district`` or ``city``.

    Returns
    -------
    RollUpResult

    Raises
    ------
    TypeError
        If ``result`` is not a RatesResult or ``communities`` not a DataFrame.
    ValueError
        If ``level`` is unknown, a column is missing or community codes are duplicated.
    """
    if not isinstance(result, RatesResult):
        raise TypeError(f"result must be a RatesResult; got {type(result).__name__}")
    if not isinstance(communities, pd.DataFrame):
        raise TypeError(f"communities must be a DataFrame; got {type(communities).__name__}")
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {', '.join(_LEVELS)}; got {level!r}")
    frame = result.frame
    notes = [
        "rates are sums of cases over sums of population of the communities with population; "
        "communities without population are left out of both and counted in "
        "communities_no_population / cases_no_population"
    ]
    if level == "city":
        keys = pd.Series("city", index=frame.index, dtype="string")
        names = pd.Series(dtype="string")
    else:
        key_column = f"{level}_code"
        _require_columns(communities, ["code", key_column], "communities")
        layer = communities.assign(code=communities["code"].astype("string"))
        if layer["code"].duplicated().any():
            raise ValueError(
                f"communities['code'] must be unique; got duplicates "
                f"{layer.loc[layer['code'].duplicated(), 'code'].tolist()[:5]}"
            )
        lookup = layer.set_index("code")[key_column].astype("string")
        keys = pd.Series(lookup.reindex(frame.index).to_numpy(), index=frame.index,
                         dtype="string")
        n_unknown = int(keys.isna().sum())
        if n_unknown:
            notes.append(f"{n_unknown} communities without {key_column}: line {UNKNOWN!r}")
        keys = keys.fillna(UNKNOWN)
        names = pd.Series(dtype="string")
        if level in layer.columns:
            named = layer[[key_column, level]].dropna().drop_duplicates(key_column)
            names = named.set_index(key_column)[level].astype("string")

    in_rate = ~frame["no_population"]
    compare_in_rate = frame["compare_population"] > 0
    parts = pd.DataFrame({
        "communities": 1,
        "communities_no_population": frame["no_population"].astype("int64"),
        "cases": frame["cases"],
        "cases_no_population": frame["cases"].where(~in_rate, 0),
        "population": frame["population"].where(in_rate, 0.0),
        "compare_cases": frame["compare_cases"].fillna(0),
        "compare_cases_no_population": frame["compare_cases"].where(~compare_in_rate, 0),
        "compare_population": frame["compare_population"].where(compare_in_rate, 0.0),
    }, index=frame.index)
    sums = parts.groupby(keys.rename("code").to_numpy()).sum()
    sums.index = pd.Index(sums.index.astype("string"), name="code")

    out = pd.DataFrame(index=sums.index)
    out["name"] = names.reindex(sums.index).astype("string")
    out["communities"] = sums["communities"].astype("int64")
    out["communities_no_population"] = sums["communities_no_population"].astype("int64")
    out["cases"] = sums["cases"].astype("int64")
    out["cases_no_population"] = sums["cases_no_population"].astype("int64")
    out["population"] = sums["population"].astype("float64")
    in_rate_cases = out["cases"] - out["cases_no_population"]
    rate, annual = _rate_columns(in_rate_cases, out["population"], result.period.days)
    out["case_rate_per_10k"] = rate
    out["case_rate_per_10k_annual"] = annual
    if result.compare_period is not None:
        out["compare_cases"] = sums["compare_cases"].astype("Int64")
        out["compare_cases_no_population"] = sums["compare_cases_no_population"].astype(
            "Int64")
        out["compare_population"] = sums["compare_population"].astype("float64")
        out = out.join(_comparison_columns(
            in_rate_cases, out["population"], result.period.days,
            out["compare_cases"] - out["compare_cases_no_population"],
            out["compare_population"], result.compare_period.days, result.alpha,
        ))
        notes.append(_comparison_note(out, result.compare_period, result.alpha))
    else:
        none = _no_comparison(out.index)
        none.insert(1, "compare_cases_no_population",
                    pd.Series(pd.NA, index=out.index, dtype="Int64"))
        out = out.join(none)

    known = {
        "communities": 0,
        "communities_no_population": 0,
        "cases": result.unassigned,
        "cases_no_population": 0,
    }
    if result.compare_unassigned is not None:
        known["compare_cases"] = result.compare_unassigned
    line = pd.DataFrame(
        {c: pd.Series([known.get(c)], dtype=out[c].dtype).array for c in out.columns},
        index=pd.Index([UNASSIGNED], name="code", dtype="string"),
    )
    out = pd.concat([out.sort_index(), line])
    notes.append(
        f"{result.unassigned} cases without a community are the line {UNASSIGNED!r}, outside "
        "every rate"
    )
    return RollUpResult(
        frame=out,
        level=level,
        period=result.period,
        compare_period=result.compare_period,
        category=result.category,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# Time profiles
# --------------------------------------------------------------------------------------------

def monthly_series(
    records: pd.DataFrame,
    period: Period,
    *,
    case_definition: CaseDefinition | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    by_category: bool = False,
    community_codes: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Count the cases of each community per local calendar month, zero-filled.

    Records without a community are left out (their totals are in :class:`CaseCounts`).

    Parameters
    ----------
    records
        Incident records with ``community_code``, ``category``, ``occurred_at``
        (timezone-aware) and the columns the case definition needs.
    period
        The reporting period; every month it touches gets a row.
    case_definition
        Which records count; ``None`` counts every record.
    timezone
        IANA time zone of the local months.
    by_category
        Split by ``category`` (zero-filled over the categories present).
    community_codes
        Communities to include even without cases; communities with cases are always included.

    Returns
    -------
    pandas.DataFrame
        Columns ``community_code``, [``category``,] ``month`` (``YYYY-MM``), ``days`` (days of
        the month inside the period: fewer in the partial months of a range) and ``cases``;
        one row per community (× category) × month, sorted.

    Raises
    ------
    TypeError
        If ``occurred_at`` is not a timezone-aware datetime column.
    ValueError
        If a column is missing or the time zone is unknown.
    """
    cases, local, codes = _local_cases(records, period, case_definition, timezone,
                                       community_codes)
    months = _months(period)
    month_of = pd.Series(local.dt.year * 12 + local.dt.month - 1, index=cases.index)
    keys: dict[str, pd.Series] = {_CODE: cases[_CODE].astype("string")}
    levels: list[Sequence[object]] = [codes]
    if by_category:
        keys["category"] = cases["category"].astype("string")
        levels.append(sorted(keys["category"].dropna().unique().tolist()))
    keys["month_key"] = month_of
    levels.append(list(months))
    out = _zero_filled(keys, levels)
    labels = {k: f"{k // 12:04d}-{k % 12 + 1:02d}" for k in months}
    out.insert(len(keys) - 1, "month", out["month_key"].map(labels).astype("string"))
    out.insert(len(keys), "days", out["month_key"].map(months).astype("int64"))
    return out.drop(columns="month_key")


def hour_weekday_profile(
    records: pd.DataFrame,
    period: Period,
    *,
    case_definition: CaseDefinition | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    community_codes: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Count the cases of each community by local weekday and hour (7 × 24), zero-filled.

    Records without a community are left out (their totals are in :class:`CaseCounts`).

    Parameters
    ----------
    records
        Incident records with ``community_code``, ``category``, ``occurred_at``
        (timezone-aware) and the columns the case definition needs.
    period
        The reporting period.
    case_definition
        Which records count; ``None`` counts every record.
    timezone
        IANA time zone of the local weekday and hour.
    community_codes
        Communities to include even without cases; communities with cases are always included.

    Returns
    -------
    pandas.DataFrame
        Columns ``community_code``, ``weekday`` (0 = Monday … 6 = Sunday), ``hour`` (0–23,
        local) and ``cases``; 168 rows per community, sorted. ``pivot(index="weekday",
        columns="hour", values="cases")`` of one community gives the 7 × 24 table.

    Raises
    ------
    TypeError
        If ``occurred_at`` is not a timezone-aware datetime column.
    ValueError
        If a column is missing or the time zone is unknown.
    """
    cases, local, codes = _local_cases(records, period, case_definition, timezone,
                                       community_codes)
    keys = {
        _CODE: cases[_CODE].astype("string"),
        "weekday": pd.Series(local.dt.day_of_week, index=cases.index),
        "hour": pd.Series(local.dt.hour, index=cases.index),
    }
    return _zero_filled(keys, [codes, range(7), range(24)])


def _local_cases(
    records: pd.DataFrame,
    period: Period,
    case_definition: CaseDefinition | None,
    timezone: str,
    community_codes: Iterable[str] | None,
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    _require_columns(records, [_CODE, "category", "occurred_at"], "records")
    cases = select_cases(records, period, case_definition=case_definition, timezone=timezone)
    cases = cases[cases[_CODE].notna()]
    local = cases["occurred_at"].dt.tz_convert(timezone)
    extra = () if community_codes is None else _text_tuple(community_codes, "community_codes")
    codes = sorted(set(cases[_CODE].astype("string").tolist()) | set(extra))
    return cases, local, codes


def _months(period: Period) -> dict[int, int]:
    """Month keys (year × 12 + month − 1) the period touches, with their days in the period."""
    months: dict[int, int] = {}
    day = period.start
    while day < period.end:
        key = day.year * 12 + day.month - 1
        next_month = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        stop = min(next_month, period.end)
        months[key] = (stop - day).days
        day = stop
    return months


def _zero_filled(keys: dict[str, pd.Series], levels: list[Sequence[object]]) -> pd.DataFrame:
    full = pd.MultiIndex.from_product(levels, names=list(keys))
    table = pd.DataFrame(keys)
    if table.empty:
        counts = pd.Series(0, index=full, dtype="int64")
    else:
        counts = table.groupby(list(keys)).size().reindex(full, fill_value=0)
    out = counts.rename("cases").astype("int64").reset_index()
    out[_CODE] = out[_CODE].astype("string")
    if "category" in out.columns:
        out["category"] = out["category"].astype("string")
    return out


# --------------------------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------------------------

def _in_period(records: pd.DataFrame, period: Period, timezone: str) -> pd.Series:
    if not isinstance(records, pd.DataFrame):
        raise TypeError(f"records must be a DataFrame; got {type(records).__name__}")
    if not isinstance(period, Period):
        raise TypeError(f"period must be a Period; got {type(period).__name__}")
    _zone(timezone)
    _require_columns(records, ["occurred_at"], "records")
    occurred = records["occurred_at"]
    if not isinstance(occurred.dtype, pd.DatetimeTZDtype):
        raise TypeError(
            f"occurred_at must be a timezone-aware datetime column (UTC in the data contract); "
            f"got dtype {occurred.dtype}"
        )
    start, end = period.bounds(timezone)
    return (occurred >= pd.Timestamp(start)) & (occurred < pd.Timestamp(end))


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"timezone must be an IANA time zone name such as 'Asia/Shanghai'; got {timezone!r}"
        ) from None


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} must have the column(s) {', '.join(missing)}; got columns "
            f"{', '.join(map(str, frame.columns))}"
        )


def _text_tuple(values: Iterable[str], name: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise TypeError(
            f"{name} must be a list of strings; got {type(values).__name__} {values!r}"
        )
    out = set()
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must hold non-empty strings; got {value!r}")
        out.add(value.strip())
    return tuple(sorted(out))
