"""Collect every problem of an input file before acting on any of them.

Readers convert and check whole columns at once (vectorised: a million-row incident file must not
be validated row by row in Python) and record each failing row here with its field and reason.
Only at the end do they drop the rejected rows, so one pass reports every problem of the file.
Used by the layer readers (:mod:`geo.readers`) and the roads reader (:mod:`geo.roads`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from geo.errors import InputError

__all__ = [
    "Problems",
    "Rejection",
    "blank",
    "check_timezone",
    "clean_code",
    "clean_text",
    "to_bool",
    "to_date",
    "to_float",
    "to_instant",
    "to_int",
]

_TRUE = {"1", "true", "t", "yes", "y", "是", "有", "√", "✓", "x", "on"}
_FALSE = {"0", "false", "f", "no", "n", "否", "无", "", "off", "-"}


@dataclass(frozen=True)
class Rejection:
    """One problem of one input row.

    Attributes
    ----------
    row
        1-based record number in the file (the header of a CSV is not a record: record 1 is on
        line 2).
    field
        Canonical field the problem is about (``geometry`` for geometry problems).
    reason
        What is wrong and what was expected.
    value
        The offending value as text (truncated), or ``None``.
    record_id
        The row's id where the layer has one and it could be read.
    """

    row: int
    field: str
    reason: str
    value: str | None = None
    record_id: str | None = None


@dataclass
class Problems:
    """Mutable collector of row rejections and file-level warnings for one read."""

    n_rows: int
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _bad: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._bad = np.zeros(self.n_rows, dtype=bool)

    @property
    def bad(self) -> np.ndarray:
        """Boolean mask of rows rejected so far."""
        assert self._bad is not None
        return self._bad

    def reject(self, mask: np.ndarray | pd.Series, field_name: str, reason: str,
               values: Iterable[Any] | pd.Series | None = None) -> None:
        """Reject the rows where ``mask`` is true, all for the same reason.

        Parameters
        ----------
        mask
            Boolean, one entry per row of the file.
        field_name
            Canonical field the problem is about.
        reason
            What is wrong and what was expected.
        values
            The offending values, aligned with the rows (only the masked ones are read).
        """
        m = np.asarray(mask, dtype=bool)
        if not m.any():
            return
        rows = np.flatnonzero(m)
        vals: list[Any]
        if values is None:
            vals = [None] * len(rows)
        else:
            arr = np.asarray(pd.Series(values).array if isinstance(values, pd.Series)
                             else list(values), dtype=object)
            vals = list(arr[rows])
        for r, v in zip(rows, vals, strict=True):
            self.rejections.append(Rejection(int(r) + 1, field_name, reason, _text(v)))
        self.bad[rows] = True

    def reject_rows(self, rows: Iterable[int], field_name: str, reasons: Iterable[str],
                    values: Iterable[Any] | None = None) -> None:
        """Reject individual rows (0-based positions), each with its own reason."""
        rows = list(rows)
        reasons = list(reasons)
        vals = list(values) if values is not None else [None] * len(rows)
        for r, why, v in zip(rows, reasons, vals, strict=True):
            self.rejections.append(Rejection(int(r) + 1, field_name, why, _text(v)))
            self.bad[int(r)] = True

    def rejected_for(self, field_name: str) -> np.ndarray:
        """Boolean mask of rows already rejected because of ``field_name``."""
        mask = np.zeros(self.n_rows, dtype=bool)
        for r in self.rejections:
            if r.field == field_name:
                mask[r.row - 1] = True
        return mask

    def warn(self, message: str) -> None:
        """Record a file-level warning (nothing is rejected)."""
        if message not in self.warnings:
            self.warnings.append(message)

    def with_ids(self, ids: pd.Series | None) -> list[Rejection]:
        """Return the rejections, sorted by row, with each row's id filled in where known."""
        out = sorted(self.rejections, key=lambda r: (r.row, r.field))
        if ids is None:
            return out
        idv = np.asarray(ids.astype(object), dtype=object)
        return [
            Rejection(r.row, r.field, r.reason, r.value,
                      None if _missing(idv[r.row - 1]) else str(idv[r.row - 1]))
            for r in out
        ]


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def _text(v: Any) -> str | None:
    if _missing(v):
        return None
    s = str(v)
    return s if len(s) <= 80 else s[:77] + "..."


def blank(series: pd.Series) -> np.ndarray:
    """Rows where a text column has no value (missing or only whitespace)."""
    s = series.astype("string")
    return np.asarray(s.isna() | (s.str.strip() == ""), dtype=bool)


def clean_text(series: pd.Series) -> pd.Series:
    """Strip whitespace and turn empty strings into ``<NA>`` (pandas string dtype)."""
    s = series.astype("string").str.strip()
    return s.mask(s == "")


def clean_code(series: pd.Series) -> pd.Series:
    """Codes as text: numbers read as floats lose their ``.0`` (``110101001001.0``)."""
    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if (whole == np.floor(whole)).all():
            return clean_text(series.astype("Int64").astype("string"))
    return clean_text(series)


def to_float(series: pd.Series, field_name: str, problems: Problems, *,
             non_negative: bool = False, required: bool = False) -> pd.Series:
    """Convert a column to float64, rejecting text that is not a number.

    Parameters
    ----------
    series
        The source column.
    field_name
        Canonical field name (for the report).
    problems
        Collector.
    non_negative
        Reject negative values.
    required
        Reject missing values.

    Returns
    -------
    pandas.Series
        float64, NaN where missing or rejected.
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        num = series.astype("float64")
        missing = num.isna().to_numpy()
        bad_text = np.zeros(len(series), dtype=bool)
    else:
        text = clean_text(series).str.replace(",", "", regex=False)
        missing = text.isna().to_numpy()
        num = pd.to_numeric(text, errors="coerce").astype("float64")
        bad_text = num.isna().to_numpy() & ~missing
    problems.reject(bad_text, field_name, f"{field_name} must be a number", series)
    inf = np.isinf(num.to_numpy())
    problems.reject(inf, field_name, f"{field_name} must be finite", series)
    num = num.mask(inf)
    if required:
        problems.reject(missing, field_name, f"{field_name} is required but empty")
    if non_negative:
        neg = (num < 0).to_numpy()
        problems.reject(neg, field_name, f"{field_name} must be >= 0", series)
    return num


def to_int(series: pd.Series, field_name: str, problems: Problems, *,
           required: bool = False) -> pd.Series:
    """Convert a column to nullable Int64, rejecting non-integers."""
    num = to_float(series, field_name, problems, required=required)
    frac = (num.notna() & (num != np.floor(num))).to_numpy()
    problems.reject(frac, field_name, f"{field_name} must be a whole number", series)
    return num.mask(frac).round().astype("Int64")


def check_timezone(timezone: str) -> ZoneInfo:
    """Return the ZoneInfo for ``timezone``.

    Raises
    ------
    ValueError
        If it is not an IANA time zone name.
    """
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"timezone must be an IANA time zone name such as Asia/Shanghai; got {timezone!r}"
        ) from None


def to_instant(series: pd.Series, field_name: str, problems: Problems, *, timezone: str,
               required: bool = False) -> pd.Series:
    """Parse timestamps to tz-aware UTC; naive values are local times in ``timezone``.

    Accepts ISO 8601 (with or without offset), ``YYYY/MM/DD HH:MM[:SS]``, Chinese dates
    (``2025年1月2日 8时30分``), and Excel-style numbers are *not* guessed (rejected).

    Returns
    -------
    pandas.Series
        ``datetime64[ns, UTC]``; NaT where missing or rejected.
    """
    check_timezone(timezone)
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_any_dtype(series):
        missing = series.isna().to_numpy()
        if getattr(series.dt, "tz", None) is None:
            out = _localize(series, timezone, field_name, problems)
        else:
            out = series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    else:
        text = _day_month_order(_normalise_time_text(clean_text(series)), field_name, problems)
        missing = text.isna().to_numpy()
        has_offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).fillna(
            False).to_numpy(dtype=bool)
        if has_offset.any():
            aware = pd.to_datetime(text[has_offset], errors="coerce", utc=True, format="mixed")
            out[has_offset] = aware.astype("datetime64[ns, UTC]")
        naive_rows = ~missing & ~has_offset
        naive = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
        if naive_rows.any():
            naive[naive_rows] = pd.to_datetime(text[naive_rows], errors="coerce",
                                               format="mixed")
        unparsed = (~missing & ~has_offset & naive.isna().to_numpy()) | (
            has_offset & out.isna().to_numpy())
        problems.reject(unparsed, field_name,
                        f"{field_name} is not a date and time (expected e.g. 2025-03-01 14:30:00)",
                        series)
        if naive_rows.any():
            local = _localize(naive, timezone, field_name, problems, values=series)
            out[naive_rows] = local[naive_rows]
    if required:
        problems.reject(missing, field_name, f"{field_name} is required but empty")
    return out


def _localize(naive: pd.Series, timezone: str, field_name: str, problems: Problems, *,
              values: pd.Series | None = None) -> pd.Series:
    """Naive local times in ``timezone`` as UTC instants, across daylight-saving changes.

    A time in the hour that repeats when daylight saving ends is read as its first occurrence
    (still daylight time), with a warning; a time in the hour skipped when it starts does not
    exist and its row is rejected, saying so.
    """
    first = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    failed = first.isna().to_numpy() & naive.notna().to_numpy()
    if failed.any():
        earlier = naive.dt.tz_localize(timezone, ambiguous=np.ones(len(naive), dtype=bool),
                                       nonexistent="NaT")
        repeated = failed & earlier.notna().to_numpy()
        if repeated.any():
            first = first.where(~repeated, earlier)
            problems.warn(f"{int(repeated.sum())} {field_name} values fall in the hour that "
                          f"repeats when daylight saving time ends in {timezone}; each was "
                          f"read as the first occurrence (daylight time)")
        problems.reject(failed & ~repeated, field_name,
                        f"{field_name}: this local time does not exist in {timezone} (the "
                        f"clocks skip it when daylight saving time starts)",
                        naive if values is None else values)
    return first.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


_SLASH_DATE = r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?=\D|$)"


def _day_month_order(text: pd.Series, field_name: str, problems: Problems) -> pd.Series:
    """Rewrite ``dd/mm/yyyy`` or ``mm/dd/yyyy`` dates as ISO, one order for the whole column.

    The order is day first when some value's first number exceeds 12, month first when some
    value's second number does (when both occur, day first wins and the values that contradict
    it are rejected). When every value could be either, dotted dates (``05.03.2025``) are day
    first and slashed ones month first, with a warning.
    """
    parts = text.str.extract(_SLASH_DATE)
    rows = parts[0].notna().to_numpy()
    if not rows.any():
        return text
    a = parts[0].astype("float").to_numpy()
    b = parts[1].astype("float").to_numpy()
    day_first = bool(np.nanmax(a) > 12)
    dotted = bool(text[rows].str.contains(r"^\d{1,2}\.", regex=True).all())
    if not day_first and not np.nanmax(b) > 12 and dotted:
        day_first = True  # 05.03.2025 is day first wherever dots are written
    elif not day_first and not np.nanmax(b) > 12:
        problems.warn(f"{field_name}: dates such as {text[rows].iloc[0]!r} could be day/month or "
                      f"month/day; read as month/day/year. Write them as YYYY-MM-DD if they are "
                      f"day/month")
    iso = r"\3-\2-\1" if day_first else r"\3-\1-\2"
    return text.str.replace(_SLASH_DATE, iso, regex=True)


def to_date(series: pd.Series, field_name: str, problems: Problems) -> pd.Series:
    """Parse calendar dates to naive ``datetime64[ns]`` at midnight."""
    if pd.api.types.is_datetime64_any_dtype(series):
        s = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) else series
        return s.dt.normalize().astype("datetime64[ns]")
    text = _normalise_time_text(clean_text(series.astype("string")))
    missing = text.isna().to_numpy()
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy() & ~missing
    problems.reject(bad, field_name, f"{field_name} is not a date (expected e.g. 2024-06-30)",
                    series)
    parsed = parsed.dt.tz_localize(None) if getattr(parsed.dt, "tz", None) else parsed
    return parsed.dt.normalize().astype("datetime64[ns]")


def _normalise_time_text(text: pd.Series) -> pd.Series:
    """Rewrite Chinese date/time notation as ISO-like text that pandas parses."""
    if not text.str.contains("[年月日时分秒]", regex=True).fillna(False).any():
        return text
    t = text.str.replace(r"(\d{4})年(\d{1,2})月(\d{1,2})日", r"\1-\2-\3", regex=True)
    t = t.str.replace(r"(\d{1,2})[时点](\d{1,2})分(?:(\d{1,2})秒)?",
                      lambda m: f" {m[1]}:{m[2]}:{m[3] or '00'}", regex=True)
    return t.str.replace(r"\s+", " ", regex=True).str.strip()


def to_bool(series: pd.Series, field_name: str, problems: Problems) -> pd.Series:
    """Read yes/no columns (1/0, true/false, 是/否, 有/无, y/n); missing is no."""
    if pd.api.types.is_bool_dtype(series):
        return series.fillna(False).astype(bool)
    if pd.api.types.is_numeric_dtype(series):
        num = series.astype("float64")
        bad = (num.notna() & ~num.isin([0.0, 1.0])).to_numpy()
        problems.reject(bad, field_name, f"{field_name} must be yes/no (1/0, 是/否)", series)
        return (num == 1.0).fillna(False).astype(bool)
    text = clean_text(series).str.lower().fillna("")
    yes = text.isin(_TRUE).to_numpy()
    no = text.isin(_FALSE).to_numpy()
    problems.reject(~yes & ~no, field_name, f"{field_name} must be yes/no (1/0, 是/否)", series)
    return pd.Series(yes, index=series.index)
