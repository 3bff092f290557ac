"""The case definition (发案) and case counts per community and period.

The work is split with the storage layer. Storage turns stored incidents into counts with indexed
``GROUP BY community_code[, category]`` queries and hands them over as a :class:`CaseCounts`
(rows whose ``community_code`` is missing are the unassigned cases, exactly what ``GROUP BY``
yields for ``NULL``); :func:`count_cases` builds the same object from a frame of records for batch
use and tests. :class:`CaseDefinition` says which records count, for both paths: as a mask over
records here and as SQL lists for storage. Rates are computed from the counts by
:mod:`geo.rates`, time profiles by :mod:`geo.trends`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import shapely

from geo.errors import ParameterError
from geo.period import DEFAULT_TIMEZONE, Period

__all__ = [
    "COMMUNITY_CODE",
    "CaseCounts",
    "CaseDefinition",
    "count_cases",
    "distinct_texts",
    "require_columns",
    "select_cases",
]

#: Column of counts and records naming the community a case belongs to.
COMMUNITY_CODE = "community_code"
_CODE = COMMUNITY_CODE

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
            include = distinct_texts(self.include_categories, "include_categories")
            if not include:
                raise ParameterError(
                    "include_categories must name at least one category, or be None for every "
                    "category; got an empty list"
                )
            object.__setattr__(self, "include_categories", include)
        exclude = distinct_texts(self.exclude_categories, "exclude_categories")
        object.__setattr__(self, "exclude_categories", exclude)
        object.__setattr__(
            self, "exclude_statuses", distinct_texts(self.exclude_statuses, "exclude_statuses")
        )
        both = sorted(set(self.include_categories or ()) & set(exclude))
        if both:
            raise ParameterError(
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
        require_columns(records, needed, "records")
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

    def expanded(self, expand: Callable[[Iterable[str]], tuple[str, ...]]) -> CaseDefinition:
        """Return the definition with its categories expanded to the raw ones they name.

        With a category mapping (:meth:`geo.categories.CategoryMap.expand`), a setting that
        excludes ``盗窃`` also excludes the raw categories mapped to it (``0101``, ``THEFT``).
        An exclusion wins over an inclusion that reaches the same raw category.

        Parameters
        ----------
        expand
            Names → the raw categories they match.

        Returns
        -------
        CaseDefinition

        Raises
        ------
        geo.errors.ParameterError
            If every included category is also excluded after expansion.
        """
        exclude = expand(self.exclude_categories)
        include = None
        if self.include_categories is not None:
            dropped = set(exclude)
            include = tuple(c for c in expand(self.include_categories) if c not in dropped)
        return CaseDefinition(include_categories=include, exclude_categories=exclude,
                              exclude_statuses=self.exclude_statuses)

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
                raise ParameterError(f"{name} must be an integer >= 0; got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.no_location > self.unassigned():
            raise ParameterError(
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
            raise ParameterError(
                f"category {category!r} was asked for but the counts are not split by category"
            )
        return self.counts[self.counts["category"] == category]


def _normalise_counts(counts: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(counts, pd.DataFrame):
        raise TypeError(
            f"counts must be a DataFrame with columns community_code, [category,] cases; got "
            f"{type(counts).__name__}"
        )
    require_columns(counts, [_CODE, "cases"], "counts")
    keys = [_CODE] + (["category"] if "category" in counts.columns else [])
    out = counts[[*keys, "cases"]].copy()
    for key in keys:
        out[key] = out[key].astype("string")
    cases = pd.to_numeric(out["cases"], errors="coerce").astype("float64")
    bad = cases.isna() | (cases < 0) | (cases != np.floor(cases))
    if bad.any():
        raise ParameterError(
            f"counts['cases'] must be whole numbers >= 0; got "
            f"{out.loc[bad, 'cases'].head(5).tolist()}"
        )
    out["cases"] = cases.astype("int64")
    if "category" in keys and out["category"].isna().any():
        raise ParameterError("counts['category'] must not be missing in counts split by category")
    dup = out.duplicated(keys, keep=False)
    if dup.any():
        raise ParameterError(
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
    require_columns(incidents, [_CODE], "incidents")
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
# Shared checks
# --------------------------------------------------------------------------------------------

def _in_period(records: pd.DataFrame, period: Period, timezone: str) -> pd.Series:
    if not isinstance(records, pd.DataFrame):
        raise TypeError(f"records must be a DataFrame; got {type(records).__name__}")
    if not isinstance(period, Period):
        raise TypeError(f"period must be a Period; got {type(period).__name__}")
    _zone(timezone)
    require_columns(records, ["occurred_at"], "records")
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
        raise ParameterError(
            f"timezone must be an IANA time zone name such as 'Asia/Shanghai'; got {timezone!r}"
        ) from None


def require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    """Check that a frame has the columns a computation needs.

    Parameters
    ----------
    frame
        The frame to check.
    columns
        Column names it must have.
    name
        What the frame is called in the message (``records``, ``communities``…).

    Raises
    ------
    ValueError
        Naming every missing column and the columns the frame has.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{name} must have the column(s) {', '.join(missing)}; got columns "
            f"{', '.join(map(str, frame.columns))}"
        )


def distinct_texts(values: Iterable[str], name: str) -> tuple[str, ...]:
    """Return a list of names as a sorted tuple of distinct, stripped strings.

    Parameters
    ----------
    values
        Names (categories, statuses, community codes); a bare string is refused, since it
        would be read as its characters.
    name
        The parameter's name, for the message.

    Returns
    -------
    tuple of str

    Raises
    ------
    TypeError
        If ``values`` is a string or not iterable.
    ValueError
        If a value is not a string or is blank.
    """
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise TypeError(
            f"{name} must be a list of strings; got {type(values).__name__} {values!r}"
        )
    out = set()
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ParameterError(f"{name} must hold non-empty strings; got {value!r}")
        out.add(value.strip())
    return tuple(sorted(out))
