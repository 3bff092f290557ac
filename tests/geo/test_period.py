"""geo.period: the forms a period is written in, its bounds, comparisons and its limits."""

from __future__ import annotations

import datetime as dt

import pytest

from geo.errors import PeriodError
from geo.period import (
    FIRST_DAY,
    LAST_DAY,
    Period,
    local_day_segments,
    parse_period,
    split_months,
)

D = dt.date


@pytest.mark.parametrize(("text", "kind", "start", "end", "label"), [
    ("2025", "year", D(2025, 1, 1), D(2026, 1, 1), "2025"),
    (2024, "year", D(2024, 1, 1), D(2025, 1, 1), "2024"),
    ("2025-Q1", "quarter", D(2025, 1, 1), D(2025, 4, 1), "2025-Q1"),
    ("2025q4", "quarter", D(2025, 10, 1), D(2026, 1, 1), "2025-Q4"),
    ("2025-07", "month", D(2025, 7, 1), D(2025, 8, 1), "2025-07"),
    ("2025-12", "month", D(2025, 12, 1), D(2026, 1, 1), "2025-12"),
    ("2025-2", "month", D(2025, 2, 1), D(2025, 3, 1), "2025-02"),
    ("2025-W49", "week", D(2025, 12, 1), D(2025, 12, 8), "2025-W49"),
    ("2025-W01", "week", D(2024, 12, 30), D(2025, 1, 6), "2025-W01"),
    ("2020-W53", "week", D(2020, 12, 28), D(2021, 1, 4), "2020-W53"),
    (" 2025-01-01 .. 2025-01-01 ", "range", D(2025, 1, 1), D(2025, 1, 2),
     "2025-01-01..2025-01-01"),
    ("1900-01-01..2100-12-31", "range", D(1900, 1, 1), D(2101, 1, 1),
     "1900-01-01..2100-12-31"),
])
def test_forms(text, kind, start, end, label):
    p = parse_period(text)
    assert (p.kind, p.start, p.end, p.label) == (kind, start, end, label)
    assert parse_period(p.label) == p


@pytest.mark.parametrize("text", [
    "", "   ", "2025-13", "2025-00", "2025-02-30", "2025-W53", "2025-W00", "2026-W54",
    "2025-06-30..2025-01-01", "0001", "0000", "9999", "1899-12-31..1900-01-05",
    "2100-12-31..2101-01-01", "9999-12-31..9999-12-31", "0001-01-01..9999-12-31",
    "2025-Q5", "last year", "2025/07",
])
def test_everything_else_is_a_period_error(text):
    with pytest.raises(PeriodError) as err:
        parse_period(text)
    assert err.value.parameter == "period"
    assert "period" in str(err.value)


def test_week_53_only_in_years_that_have_one():
    assert parse_period("2026-W53").start == D(2026, 12, 28)
    with pytest.raises(PeriodError, match="2025 has no ISO week 53"):
        parse_period("2025-W53")


def test_limits_are_the_callers():
    assert D(1900, 1, 1) == FIRST_DAY
    assert D(2100, 12, 31) == LAST_DAY
    with pytest.raises(PeriodError, match=r"within 2000-01-01\.\.2030-12-31; got 1999-12"):
        parse_period("1999-12", first=D(2000, 1, 1), last=D(2030, 12, 31))
    assert parse_period("1850", first=D(1800, 1, 1)).start == D(1850, 1, 1)
    # a Period object is checked against the limits as well
    with pytest.raises(PeriodError):
        parse_period(Period("month", D(1899, 12, 1), D(1900, 1, 1)))


def test_reversed_period_object_is_refused():
    with pytest.raises(PeriodError, match="last day must not be before the first"):
        Period("range", D(2025, 2, 1), D(2025, 1, 1))


@pytest.mark.parametrize(("text", "previous", "year_before"), [
    ("2025", "2024", "2024"),
    ("2025-Q1", "2024-Q4", "2024-Q1"),
    ("2025-01", "2024-12", "2024-01"),
    ("2025-W01", "2024-W52", "2024-W01"),
    ("2026-W53", "2026-W52", "2026-W01"),
    ("2025-03-01..2025-03-10", "2025-02-19..2025-02-28", "2024-03-01..2024-03-10"),
    ("2024-02-29..2024-03-01", "2024-02-27..2024-02-28", "2023-02-28..2023-03-01"),
])
def test_comparisons(text, previous, year_before):
    p = parse_period(text)
    assert p.compare_period("previous").label == previous
    assert p.compare_period("last-year").label == year_before
    assert p.previous().days == p.days or p.kind in ("year", "quarter", "month")


def test_2026_w53_year_before_is_52_weeks_earlier():
    # 2025 has no week 53: the namesake a year earlier is the week 52 weeks before
    p = parse_period("2026-W53").year_before()
    assert (p.start, p.end) == (D(2025, 12, 29), D(2026, 1, 5))
    assert p.label == "2026-W01"


def test_unknown_comparison_names_the_parameter():
    with pytest.raises(PeriodError) as err:
        parse_period("2025").compare_period("next-year")
    assert err.value.parameter == "compare"


def test_bounds_are_local_midnights():
    p = parse_period("2025")
    start, end = p.bounds()
    assert start.isoformat() == "2025-01-01T00:00:00+08:00"
    assert end.isoformat() == "2026-01-01T00:00:00+08:00"
    assert p.bounds_utc() == (dt.datetime(2024, 12, 31, 16), dt.datetime(2025, 12, 31, 16))
    chicago = parse_period("2025-03-09..2025-03-09").bounds_utc("America/Chicago")
    # the day of the spring change has 23 hours
    assert chicago == (dt.datetime(2025, 3, 9, 6), dt.datetime(2025, 3, 10, 5))


def test_days_year_and_membership():
    p = parse_period("2024-12-20..2025-01-20")
    assert p.days == 32
    assert p.year == 2025  # the middle day (2025-01-04) is in 2025
    assert parse_period("2024").days == 366
    assert p.contains_day(D(2025, 1, 20)) and not p.contains_day(D(2025, 1, 21))


def test_out_of_range_labels_are_written_as_given():
    with pytest.raises(PeriodError, match=r"got 0001$"):
        parse_period("0001")


def test_split_months_into_whole_months_and_edge_days():
    d = dt.date
    year = split_months(parse_period("2025"))
    assert year.months == (d(2025, 1, 1), d(2026, 1, 1)) and year.days == ()
    ranged = split_months(parse_period("2025-01-15..2025-03-10"))
    assert ranged.months == (d(2025, 2, 1), d(2025, 3, 1))
    assert ranged.days == ((d(2025, 1, 15), d(2025, 2, 1)), (d(2025, 3, 1), d(2025, 3, 11)))
    assert split_months(parse_period("2025-W10")).months is None
    assert split_months(parse_period("2025-W10")).days == ((d(2025, 3, 3), d(2025, 3, 10)),)
    # within one month, even from its first day: days only
    assert split_months(parse_period("2025-02-01..2025-02-27")).months is None
    assert split_months(parse_period("2024-12-31..2025-01-31")).months == (d(2025, 1, 1),
                                                                          d(2025, 2, 1))


def test_local_day_segments_follow_the_period_bounds():
    d = dt.date
    (only,) = local_day_segments("Asia/Shanghai", d(2000, 1, 1), d(2030, 12, 31))
    assert only.offset_s == 8 * 3600 and only.start_utc == dt.datetime(1999, 12, 31, 16)
    berlin = local_day_segments("Europe/Berlin", d(2024, 1, 1), d(2024, 12, 31))
    assert [(s.offset_s, s.day) for s in berlin] == [
        (3600, None), (None, d(2024, 3, 31)), (7200, None), (None, d(2024, 10, 27)),
        (3600, None)]
    # every day's first instant is its period's first instant
    for seg in berlin:
        if seg.day is not None:
            start, _ = Period("range", seg.day, seg.day + dt.timedelta(days=1)).bounds_utc(
                "Europe/Berlin")
            assert seg.start_utc == start
