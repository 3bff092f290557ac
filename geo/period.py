"""Reporting periods: a calendar year, quarter, month, or an inclusive range of days.

A period is a half-open interval of local calendar days ``[start, end)``; its instants are the
local midnights of those days in a time zone (Asia/Shanghai by default), so an incident at
2025-01-01 00:30 Beijing time (2024-12-31 16:30 UTC) belongs to 2025.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_TIMEZONE", "Period", "parse_period"]

DEFAULT_TIMEZONE = "Asia/Shanghai"

PeriodKind = Literal["year", "quarter", "month", "range"]

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Period:
    """A reporting period of whole local days.

    Attributes
    ----------
    kind
        ``year``, ``quarter``, ``month`` or ``range``.
    start
        First local day (inclusive).
    end
        Day after the last local day (exclusive).
    """

    kind: PeriodKind
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(
                f"period end must be after its start; got {self.start} .. {self.end}"
            )

    @property
    def label(self) -> str:
        """The period written the way :func:`parse_period` reads it."""
        if self.kind == "year":
            return f"{self.start.year}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.isoformat()}..{self.last_day.isoformat()}"

    @property
    def last_day(self) -> dt.date:
        """Last local day of the period (inclusive)."""
        return self.end - dt.timedelta(days=1)

    @property
    def days(self) -> int:
        """Length in days (exposure time for rates)."""
        return (self.end - self.start).days

    @property
    def year(self) -> int:
        """The calendar year whose population applies: the year holding the period's middle day."""
        return (self.start + dt.timedelta(days=(self.days - 1) // 2)).year

    def bounds(self, timezone: str = DEFAULT_TIMEZONE) -> tuple[dt.datetime, dt.datetime]:
        """Return the period's first and past-the-end instants as aware local datetimes.

        Parameters
        ----------
        timezone
            IANA time zone name of the local days.

        Returns
        -------
        tuple of datetime
            ``(start, end)``, aware, in ``timezone``.
        """
        tz = ZoneInfo(timezone)
        return (
            dt.datetime.combine(self.start, dt.time(), tz),
            dt.datetime.combine(self.end, dt.time(), tz),
        )

    def bounds_utc(self, timezone: str = DEFAULT_TIMEZONE) -> tuple[dt.datetime, dt.datetime]:
        """Return the period's bounds as naive UTC datetimes (the storage convention).

        Parameters
        ----------
        timezone
            IANA time zone name of the local days.

        Returns
        -------
        tuple of datetime
            ``(start, end)``, naive, in UTC.
        """
        start, end = self.bounds(timezone)
        return (
            start.astimezone(dt.UTC).replace(tzinfo=None),
            end.astimezone(dt.UTC).replace(tzinfo=None),
        )

    def previous(self) -> Period:
        """Return the period of the same kind just before this one.

        The previous of a range is the range of equal length ending the day before it starts.
        """
        if self.kind == "year":
            return _year(self.start.year - 1)
        if self.kind == "quarter":
            q = (self.start.month - 1) // 3
            y, q = (self.start.year, q - 1) if q else (self.start.year - 1, 3)
            return _quarter(y, q + 1)
        if self.kind == "month":
            y, m = (self.start.year, self.start.month - 1) if self.start.month > 1 else (
                self.start.year - 1, 12)
            return _month(y, m)
        return Period("range", self.start - dt.timedelta(days=self.days), self.start)

    def year_before(self) -> Period:
        """Return the same period one year earlier (29 February becomes 28 February)."""
        if self.kind == "year":
            return _year(self.start.year - 1)
        if self.kind == "quarter":
            return _quarter(self.start.year - 1, (self.start.month - 1) // 3 + 1)
        if self.kind == "month":
            return _month(self.start.year - 1, self.start.month)
        return Period("range", _minus_year(self.start),
                      _minus_year(self.last_day) + dt.timedelta(days=1))

    def compare_period(self, compare: str) -> Period:
        """Return the period to compare with: ``previous`` or ``last-year``.

        Raises
        ------
        ValueError
            If ``compare`` is neither.
        """
        if compare == "previous":
            return self.previous()
        if compare in ("last-year", "last_year", "year-before"):
            return self.year_before()
        raise ValueError(f"compare must be 'previous' or 'last-year'; got {compare!r}")

    def contains_day(self, day: dt.date) -> bool:
        """Whether a local calendar day lies inside the period."""
        return self.start <= day < self.end

    def __str__(self) -> str:
        return self.label


def _year(y: int) -> Period:
    return Period("year", dt.date(y, 1, 1), dt.date(y + 1, 1, 1))


def _quarter(y: int, q: int) -> Period:
    start = dt.date(y, 3 * (q - 1) + 1, 1)
    end = dt.date(y + 1, 1, 1) if q == 4 else dt.date(y, 3 * q + 1, 1)
    return Period("quarter", start, end)


def _month(y: int, m: int) -> Period:
    start = dt.date(y, m, 1)
    end = dt.date(y + 1, 1, 1) if m == 12 else dt.date(y, m + 1, 1)
    return Period("month", start, end)


def _minus_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def parse_period(text: str | int | Period) -> Period:
    """Parse a period written as ``2025``, ``2025-Q3``, ``2025-07`` or ``2025-01-01..2025-06-30``.

    Parameters
    ----------
    text
        The period; a range's end day is inclusive. A :class:`Period` is returned unchanged.

    Returns
    -------
    Period

    Raises
    ------
    ValueError
        If the text is none of the accepted forms, or names an impossible date.
    """
    if isinstance(text, Period):
        return text
    s = str(text).strip()
    try:
        if m := _YEAR.match(s):
            return _year(int(m[1]))
        if m := _QUARTER.match(s):
            return _quarter(int(m[1]), int(m[2]))
        if m := _MONTH.match(s):
            if not 1 <= int(m[2]) <= 12:
                raise ValueError(f"month {m[2]} is not 1-12")
            return _month(int(m[1]), int(m[2]))
        if m := _RANGE.match(s):
            first, last = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            return Period("range", first, last + dt.timedelta(days=1))
    except ValueError as exc:
        raise ValueError(f"period {s!r} is not a valid date: {exc}") from None
    raise ValueError(
        f"period must look like 2025, 2025-Q3, 2025-07 or 2025-01-01..2025-06-30; got {s!r}"
    )
