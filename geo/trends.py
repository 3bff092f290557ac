"""Time profiles of cases: monthly series and the hour × weekday profile.

Both work on raw incident records, which storage streams for one period, and count the cases
(:class:`geo.cases.CaseDefinition`) of each community in the period's local time zone,
zero-filled so that a month or an hour without cases is a row with 0, not a missing row.
The change of a rate against an earlier period, with its significance test, is in
:mod:`geo.rates`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd

from geo.cases import (
    COMMUNITY_CODE,
    CaseDefinition,
    distinct_texts,
    require_columns,
    select_cases,
)
from geo.period import DEFAULT_TIMEZONE, Period

__all__ = ["hour_weekday_profile", "monthly_series"]

_CODE = COMMUNITY_CODE


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

    Records without a community are left out (their totals are in :class:`geo.cases.CaseCounts`).

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

    Records without a community are left out (their totals are in :class:`geo.cases.CaseCounts`).

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
    require_columns(records, [_CODE, "category", "occurred_at"], "records")
    cases = select_cases(records, period, case_definition=case_definition, timezone=timezone)
    cases = cases[cases[_CODE].notna()]
    local = cases["occurred_at"].dt.tz_convert(timezone)
    extra = () if community_codes is None else distinct_texts(community_codes, "community_codes")
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
