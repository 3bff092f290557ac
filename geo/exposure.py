"""The population of a period: person-years from populations known on a few dates.

Residents are counted on reference dates: a census (七普: 2020-11-01), a year-end estimate
(年末常住人口: 12-31) or a mid-year estimate (1 July, the default when a row gives only its
year). A period's exposure is its person-years:

1. each community's population is a function of the date, linear between its nearest known
   dates before and after, and flat (the first or last known value) beyond them;
2. integrated over the period's days ``[start, end)`` (so any period is defined: a year, a
   quarter, a period across a year boundary, a rolling 12 months);
3. :func:`period_population` returns the mean residents over the period (person-years divided
   by the period's length in years), the ``population`` of every rate; exposure in
   person-years is that mean × days / 365.25, as before.

With one known date the population is constant. Which rule each community used is returned
with the values (:data:`RULES`) and summarised in a note for provenance.

Written here rather than taken from a library: it is ``numpy.interp`` (which is flat beyond
the ends, the rule above) and the trapezoid rule over the period's breakpoints; the
bookkeeping of reference dates and rules is pingan's own.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.errors import ParameterError

__all__ = [
    "DEFAULT_REFERENCE_DATE",
    "RULES",
    "PeriodPopulation",
    "ReferenceDate",
    "parse_reference_date",
    "period_population",
    "reference_dates",
]

#: Rules a community's period population can come by.
RULES: dict[str, str] = {
    "interpolated": "interpolated between known dates (线性插值)",
    "carried_forward": "carried flat after the last known date (沿用最近一期)",
    "carried_back": "carried flat before the first known date (沿用最早一期)",
    "carried_both": "carried flat beyond both ends (沿用首末期)",
    "constant": "one known date, constant (仅一期，视为不变)",
    "boundary": "the communities layer's population (边界图层人口)",
}


@dataclass(frozen=True)
class ReferenceDate:
    """The day of the year residents were counted on.

    Attributes
    ----------
    month, day
        The day of the year.
    year
        Set when a full date was given: then every row must be of that year.
    """

    month: int
    day: int
    year: int | None = None

    def on(self, year: int) -> dt.date:
        """The reference date in ``year``.

        Raises
        ------
        geo.errors.ParameterError
            If the date does not exist in that year (02-29) or a full date names another year.
        """
        if self.year is not None and year != self.year:
            raise ParameterError(
                f"reference date {self.year:04d}-{self.month:02d}-{self.day:02d} is in "
                f"{self.year}; got a population row of year {year} (give MM-DD to apply it "
                f"to every year)", parameter="reference_date")
        try:
            return dt.date(year, self.month, self.day)
        except ValueError:
            raise ParameterError(
                f"reference date {self.month:02d}-{self.day:02d} does not exist in {year}",
                parameter="reference_date") from None


#: 1 July: the reference date of a population row that gives only its year (mid-year estimate).
DEFAULT_REFERENCE_DATE = ReferenceDate(7, 1)

_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_FULL = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_reference_date(text: str | None) -> ReferenceDate:
    """Parse ``--reference-date``: ``MM-DD`` (every year) or ``YYYY-MM-DD`` (that year only).

    Parameters
    ----------
    text
        ``11-01``, ``12-31``, ``2020-11-01``; ``None`` or empty gives 07-01.

    Returns
    -------
    ReferenceDate

    Raises
    ------
    geo.errors.ParameterError
        If the text is neither form or names no real day.
    """
    if text is None or not str(text).strip():
        return DEFAULT_REFERENCE_DATE
    s = str(text).strip()
    full, short = _FULL.match(s), _MONTH_DAY.match(s)
    if full:
        year, month, day = (int(g) for g in full.groups())
    elif short:
        year, month, day = 2000, int(short.group(1)), int(short.group(2))  # 2000 is leap
    else:
        raise ParameterError(f"reference date must be MM-DD or YYYY-MM-DD (e.g. 11-01); "
                             f"got {s!r}", parameter="reference_date")
    try:
        dt.date(year, month, day)
    except ValueError:
        raise ParameterError(f"reference date {s!r} is not a day of the year",
                             parameter="reference_date") from None
    return ReferenceDate(month, day, year if full else None)


def reference_dates(years: pd.Series, reference: ReferenceDate = DEFAULT_REFERENCE_DATE
                    ) -> pd.Series:
    """The reference date of each population row from its year.

    Parameters
    ----------
    years
        Calendar years.
    reference
        The day of the year (:func:`parse_reference_date`).

    Returns
    -------
    pandas.Series
        ``datetime.date`` objects aligned with ``years``.

    Raises
    ------
    geo.errors.ParameterError
        As for :meth:`ReferenceDate.on`.
    """
    cache = {int(y): reference.on(int(y)) for y in pd.unique(years)}
    return pd.Series([cache[int(y)] for y in years], index=years.index, dtype=object)


@dataclass(frozen=True)
class PeriodPopulation:
    """Each community's population over a period, and how it was found.

    Attributes
    ----------
    population
        Mean residents over the period (person-years / years), float, indexed by code; NaN
        where nothing is known.
    rule
        The rule of each code (a key of :data:`RULES`), ``<NA>`` where nothing is known.
    note
        One line for provenance: the rule and how many communities used each.
    """

    population: pd.Series
    rule: pd.Series
    note: str


def period_population(
    table: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    *,
    boundary: pd.Series | None = None,
    codes: pd.Index | None = None,
) -> PeriodPopulation:
    """Mean residents of each community over the days ``[start, end)``.

    Parameters
    ----------
    table
        Populations by date: ``code``, ``year``, ``population`` and optionally
        ``reference_date`` (a date; missing means 1 July of ``year``).
    start, end
        First day and the day after the last.
    boundary
        Fallback population by code for communities without any row in ``table``.
    codes
        Codes to report (default: those of ``table`` and ``boundary``).

    Returns
    -------
    PeriodPopulation

    Raises
    ------
    geo.errors.ParameterError
        If ``end`` is not after ``start`` or a population is negative.
    """
    if end <= start:
        raise ParameterError(f"a period must end after it starts; got {start}..{end}")
    dates = _row_dates(table)
    pops = pd.to_numeric(table["population"], errors="coerce").to_numpy(dtype="float64")
    if (pops < 0).any():
        raise ParameterError("populations must be >= 0; got a negative population")
    known = np.isfinite(pops) & np.isfinite(dates)
    frame = pd.DataFrame({"code": table["code"].astype("string").to_numpy()[known],
                          "day": dates[known], "population": pops[known]})
    # One value per code and date (the last row wins), sorted by date.
    frame = frame.drop_duplicates(["code", "day"], keep="last").sort_values(["code", "day"])
    s, e = float(start.toordinal()), float(end.toordinal())
    means: dict[str, float] = {}
    rules: dict[str, str] = {}
    for code, rows in frame.groupby("code", sort=False):
        days = rows["day"].to_numpy()
        values = rows["population"].to_numpy()
        means[str(code)] = _mean_over(days, values, s, e)
        rules[str(code)] = _rule(days, s, e)
    population = pd.Series(means, dtype="float64")
    rule = pd.Series(rules, dtype="string")
    if boundary is not None:
        extra = pd.to_numeric(boundary, errors="coerce").astype("float64")
        extra.index = extra.index.astype(str)
        extra = extra.drop(population.index, errors="ignore").dropna()
        population = pd.concat([population, extra])
        rule = pd.concat([rule, pd.Series("boundary", index=extra.index, dtype="string")])
    if codes is None:
        codes = population.index.union(pd.Index(frame["code"].astype(str).unique()))
    index = pd.Index(pd.Index(codes).astype(str), name="code")
    population = population.reindex(index).astype("float64")
    rule = rule.reindex(index).astype("string")
    return PeriodPopulation(population, rule, _note(rule, frame, start, end))


def _row_dates(table: pd.DataFrame) -> np.ndarray:
    """Day ordinal of each row's reference date (1 July of its year where none is given)."""
    years = pd.to_numeric(table["year"], errors="coerce")
    out = np.full(len(table), np.nan)
    given = (table["reference_date"] if "reference_date" in table.columns
             else pd.Series(None, index=table.index, dtype=object))
    for i, (year, ref) in enumerate(zip(years.to_numpy(), given.to_numpy(), strict=True)):
        if ref is not None and not pd.isna(ref):
            out[i] = pd.Timestamp(ref).date().toordinal()
        elif np.isfinite(year):
            out[i] = DEFAULT_REFERENCE_DATE.on(int(year)).toordinal()
    return out


def _mean_over(days: np.ndarray, values: np.ndarray, s: float, e: float) -> float:
    """Mean of the piecewise-linear, flat-beyond-the-ends population over ``[s, e)``."""
    inside = days[(days > s) & (days < e)]
    x = np.concatenate([[s], inside, [e]])
    y = np.interp(x, days, values)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / (e - s))


def _rule(days: np.ndarray, s: float, e: float) -> str:
    if len(days) == 1:
        return "constant"
    before, after = s < days[0], e - 1 > days[-1]
    if before and after:
        return "carried_both"
    if after:
        return "carried_forward"
    if before:
        return "carried_back"
    return "interpolated"


def _note(rule: pd.Series, frame: pd.DataFrame, start: dt.date, end: dt.date) -> str:
    counts = rule.value_counts()
    parts = [f"{RULES[r]} for {int(counts[r])}" for r in RULES if counts.get(r, 0)]
    missing = int(rule.isna().sum())
    if missing:
        parts.append(f"none for {missing}")
    span = ""
    if len(frame):
        first = dt.date.fromordinal(int(frame["day"].min()))
        last = dt.date.fromordinal(int(frame["day"].max()))
        span = f"; known dates {first}..{last}"
    last_day = dt.date.fromordinal(end.toordinal() - 1)
    return (f"population of {start}..{last_day}: person-years, linear between known dates and "
            f"flat beyond them: " + (", ".join(parts) or "no community") + span)
