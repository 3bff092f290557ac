"""Which days the incident data cover: a comparison against days without data is unknown.

Each incidents load says which local days it covers (``pingan load incidents --covers
2024-01-01..2024-12-31``; by default the first..last day in the file), for each district
present in it. A period is *wholly covered* for a district when the union of that district's
covered days holds every day of the period. A change against a comparison period that is not
wholly covered is unknown (待补数据), never a rise: no incidents in days nobody loaded is no
evidence of a low count.

Written here: interval bookkeeping over dates, which no library in the stack offers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from geo.errors import ParameterError, PeriodError
from geo.period import parse_period

__all__ = ["COVERAGE_COLUMNS", "covered_districts", "is_covered", "parse_covers"]

#: Columns of a coverage table: one row per load and district (``district_code`` may be
#: missing: the communities without a district code).
COVERAGE_COLUMNS = ("district_code", "first_day", "last_day")


def parse_covers(text: str) -> tuple[dt.date, dt.date]:
    """Parse ``--covers``: ``FIRST..LAST`` (inclusive days) or a period (``2024``, ``2024-Q1``).

    Parameters
    ----------
    text
        The option's value.

    Returns
    -------
    tuple of datetime.date
        First and last covered day (both inclusive).

    Raises
    ------
    geo.errors.ParameterError
        If the text is neither form, or the range is reversed.
    """
    s = str(text).strip()
    try:
        period = parse_period(s)
    except PeriodError as exc:
        raise ParameterError(f"covers must be FIRST..LAST (e.g. 2024-01-01..2024-12-31) or a "
                             f"period such as 2024; got {s!r} ({exc})",
                             parameter="covers") from None
    return period.start, period.last_day


def is_covered(intervals: Iterable[tuple[dt.date, dt.date]], first: dt.date,
               last: dt.date) -> bool:
    """Whether the union of inclusive day intervals holds every day of ``first..last``.

    Parameters
    ----------
    intervals
        ``(first_day, last_day)`` pairs, both inclusive, in any order.
    first, last
        The days to check, inclusive.

    Returns
    -------
    bool
    """
    reach = first - dt.timedelta(days=1)  # every day up to here is covered
    for a, b in sorted(intervals):
        if a > reach + dt.timedelta(days=1):
            break
        reach = max(reach, b)
        if reach >= last:
            return True
    return reach >= last


def covered_districts(coverage: pd.DataFrame, first: dt.date, last: dt.date,
                      districts: Iterable[object]) -> pd.Series:
    """Whether ``first..last`` is wholly covered, for each district.

    Parameters
    ----------
    coverage
        Rows with :data:`COVERAGE_COLUMNS`.
    first, last
        The period's first and last day (inclusive).
    districts
        District codes to answer for; a missing code (None/NA) stands for the communities
        without a district code and matches coverage rows without one.

    Returns
    -------
    pandas.Series
        Bool per district (missing codes as ``None`` keys), in the order given.

    Raises
    ------
    geo.errors.ParameterError
        If a coverage column is missing or ``last`` is before ``first``.
    """
    missing = [c for c in COVERAGE_COLUMNS if c not in coverage.columns]
    if missing:
        raise ParameterError(f"coverage lacks columns {missing}; expected {COVERAGE_COLUMNS}")
    if last < first:
        raise ParameterError(f"the days to check must not be reversed; got {first}..{last}")
    spans: dict[object, list[tuple[dt.date, dt.date]]] = {}
    for code, a, b in coverage[list(COVERAGE_COLUMNS)].itertuples(index=False):
        spans.setdefault(_key(code), []).append((_date(a), _date(b)))
    keys = [_key(d) for d in districts]
    return pd.Series([is_covered(spans.get(k, ()), first, last) for k in keys],
                     index=pd.Index(keys, dtype=object), dtype=bool)


def _key(code: object) -> object:
    missing = code is None or (isinstance(code, float) and code != code) or code is pd.NA
    return None if missing else str(code)


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(str(value)).date()
