"""Reporting periods: a calendar year, quarter, month, ISO week, or an inclusive range of days.

A period is a half-open interval of local calendar days ``[start, end)``; its instants are the
local midnights of those days in a time zone (Asia/Shanghai by default), so an incident at
2025-01-01 00:30 Beijing time (2024-12-31 16:30 UTC) belongs to 2025.

Accepted forms: ``2025``, ``2025-Q3``, ``2025-07``, ``2025-W49`` (ISO 8601 week, Monday to
Sunday; ``W53`` only in years that have one) and ``2025-01-01..2025-06-30`` (both days
inclusive). Every period must lie within ``FIRST_DAY``..``LAST_DAY`` (1900-01-01..2100-12-31
unless the caller passes other limits); anything else raises :class:`geo.errors.PeriodError`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from geo.errors import ParameterError, PeriodError

__all__ = ["DEFAULT_TIMEZONE", "FIRST_DAY", "LAST_DAY", "DaySegment", "MonthSplit", "Period",
           "local_day_segments", "parse_period", "split_months"]

DEFAULT_TIMEZONE = "Asia/Shanghai"

#: The default range of days a period may cover (``periods.first``/``periods.last`` in settings).
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)

PeriodKind = Literal["year", "quarter", "month", "week", "range"]

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_WEEK = re.compile(r"^(\d{4})-?[Ww](\d{1,2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Period:
    """A reporting period of whole local days.

    Attributes
    ----------
    kind
        ``year``, ``quarter``, ``month``, ``week`` (ISO) or ``range``.
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
            raise PeriodError(
                f"period: the last day must not be before the first; got {self.start} .. "
                f"{self.end - dt.timedelta(days=1)}", parameter="period")

    @property
    def label(self) -> str:
        """The period written the way :func:`parse_period` reads it."""
        if self.kind == "year":
            return f"{self.start.year:04d}"
        if self.kind == "quarter":
            return f"{self.start.year:04d}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "month":
            return f"{self.start.year:04d}-{self.start.month:02d}"
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year:04d}-W{week:02d}"
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
        if self.kind == "week":
            return Period("week", self.start - dt.timedelta(days=7), self.start)
        return Period("range", self.start - dt.timedelta(days=self.days), self.start)

    def year_before(self) -> Period:
        """Return the same period one year earlier (29 February becomes 28 February).

        A week's year before is the week 52 weeks earlier (same weekdays; ISO week 53 has no
        namesake in most years).
        """
        if self.kind == "year":
            return _year(self.start.year - 1)
        if self.kind == "quarter":
            return _quarter(self.start.year - 1, (self.start.month - 1) // 3 + 1)
        if self.kind == "month":
            return _month(self.start.year - 1, self.start.month)
        if self.kind == "week":
            start = self.start - dt.timedelta(weeks=52)
            return Period("week", start, start + dt.timedelta(days=7))
        return Period("range", _minus_year(self.start),
                      _minus_year(self.last_day) + dt.timedelta(days=1))

    def compare_period(self, compare: str) -> Period:
        """Return the period to compare with: ``previous`` or ``last-year``.

        Raises
        ------
        geo.errors.PeriodError
            If ``compare`` is neither, or the period compared with lies before 0001.
        """
        try:
            if compare == "previous":
                return self.previous()
            if compare in ("last-year", "last_year", "year-before"):
                return self.year_before()
        except (ValueError, OverflowError):
            raise PeriodError(f"compare: no period before {self.label} to compare with",
                              parameter="compare") from None
        raise PeriodError(f"compare must be 'previous' or 'last-year'; got {compare!r}",
                          parameter="compare")

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


def _week(y: int, w: int) -> Period:
    try:
        start = dt.date.fromisocalendar(y, w, 1)
    except ValueError:
        raise PeriodError(f"period: {y} has no ISO week {w} (its weeks are 1-"
                          f"{dt.date(y, 12, 28).isocalendar()[1]})", parameter="period") from None
    return Period("week", start, start + dt.timedelta(days=7))


def _minus_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def parse_period(text: str | int | Period, *, first: dt.date = FIRST_DAY,
                 last: dt.date = LAST_DAY) -> Period:
    """Parse a period: ``2025``, ``2025-Q3``, ``2025-07``, ``2025-W49`` or a range of days.

    Parameters
    ----------
    text
        The period; a range's end day is inclusive. A :class:`Period` is checked against the
        limits and returned unchanged.
    first, last
        The first and last day any period may cover.

    Returns
    -------
    Period

    Raises
    ------
    geo.errors.PeriodError
        If the text is empty or none of the accepted forms, names an impossible date
        (``2025-02-30``, week 53 of a year without one), is reversed, or reaches outside
        ``first``..``last``.
    """
    period = text if isinstance(text, Period) else _parse(str(text).strip())
    if period.start < first or period.last_day > last:
        raise PeriodError(f"period must lie within {first}..{last}; got {period.label}",
                          parameter="period")
    return period


def _parse(s: str) -> Period:
    if not s:
        raise PeriodError("period is empty; expected e.g. 2025, 2025-Q3, 2025-07, 2025-W49 or "
                          "2025-01-01..2025-06-30", parameter="period")
    try:
        if m := _YEAR.match(s):
            return _year(int(m[1]))
        if m := _QUARTER.match(s):
            return _quarter(int(m[1]), int(m[2]))
        if m := _MONTH.match(s):
            if not 1 <= int(m[2]) <= 12:
                raise ParameterError(f"month {m[2]} is not 1-12")
            return _month(int(m[1]), int(m[2]))
        if m := _WEEK.match(s):
            return _week(int(m[1]), int(m[2]))
        if m := _RANGE.match(s):
            first, last = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            return Period("range", first, last + dt.timedelta(days=1))
    except PeriodError:
        raise
    except (ValueError, OverflowError) as exc:
        raise PeriodError(f"period {s!r} is not a valid date: {exc}",
                          parameter="period") from None
    raise PeriodError(
        f"period must look like 2025, 2025-Q3, 2025-07, 2025-W49 or 2025-01-01..2025-06-30; "
        f"got {s!r}", parameter="period")


@dataclass(frozen=True)
class MonthSplit:
    """A period as whole calendar months plus the days at its edges.

    Attributes
    ----------
    months
        ``(first, end)``: the first days of the first whole month and of the month after the
        last whole one (half-open), or ``None`` when the period holds no whole month.
    days
        Half-open ``(first, end)`` day ranges outside those months (zero, one or two; none
        empty), in order.
    """

    months: tuple[dt.date, dt.date] | None
    days: tuple[tuple[dt.date, dt.date], ...]


def split_months(period: Period) -> MonthSplit:
    """Split a period into whole calendar months and its edge days.

    ``2025`` is twelve whole months and no day; ``2025-01-15..2025-03-10`` is February plus
    15-31 January and 1-10 March; ``2025-W10`` is seven days.

    Parameters
    ----------
    period
        The period.

    Returns
    -------
    MonthSplit
    """
    first = period.start if period.start.day == 1 else _month_after(period.start)
    end = period.end.replace(day=1)
    if first >= end:
        return MonthSplit(None, ((period.start, period.end),))
    edges = ((period.start, first), (end, period.end))
    return MonthSplit((first, end), tuple((a, b) for a, b in edges if a < b))


def _month_after(day: dt.date) -> dt.date:
    return dt.date(day.year + 1, 1, 1) if day.month == 12 else dt.date(day.year, day.month + 1, 1)


@dataclass(frozen=True)
class DaySegment:
    """A stretch of instants whose local day follows one rule (see :func:`local_day_segments`).

    Attributes
    ----------
    start_utc
        First instant of the stretch (naive UTC).
    offset_s
        The local day is the UTC instant plus this many seconds, truncated to its date; or
        ``None`` when the stretch is the single local day ``day``.
    day
        The local day of every instant of the stretch, when ``offset_s`` is ``None``.
    """

    start_utc: dt.datetime
    offset_s: int | None
    day: dt.date | None = None


def local_day_segments(timezone: str, first: dt.date, last: dt.date) -> tuple[DaySegment, ...]:
    """The rule giving the local day of any instant, for the days ``first``..``last``.

    An instant belongs to local day D when it lies in ``Period(D, D + 1).bounds_utc(timezone)``
    (the same bounds as every period). Over a stretch of days whose local midnights share one
    UTC offset, that day is the instant plus the offset, truncated; a day whose next midnight
    has another offset (a day of 23 or 25 hours, or a change of standard offset) is a segment
    of its own. A zone without changes in the range is one segment.

    Parameters
    ----------
    timezone
        IANA zone name.
    first, last
        The range of local days the instants fall in (inclusive); instants before ``first``
        follow the first segment, after ``last`` the last.

    Returns
    -------
    tuple of DaySegment
        Sorted by ``start_utc``.
    """
    tz = ZoneInfo(timezone)

    def start(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC).replace(tzinfo=None)

    out: list[DaySegment] = []
    day = first
    begin = start(day)
    while day <= last:
        nxt = day + dt.timedelta(days=1)
        after = start(nxt)
        offset = int((dt.datetime.combine(day, dt.time()) - begin).total_seconds())
        regular = (dt.datetime.combine(nxt, dt.time()) - after).total_seconds() == offset
        if not regular:
            out.append(DaySegment(begin, None, day))
        elif not out or out[-1].offset_s != offset:
            out.append(DaySegment(begin, offset))
        day, begin = nxt, after
    return tuple(out)
