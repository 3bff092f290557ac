"""Partition counts of a batch on hand-drawn communities, with hand-counted answers."""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.batch import (
    CommunityIndex,
    merge_counts,
    monthly_cases,
    partition_counts,
    period_case_counts,
    period_cell_counts,
    period_months,
)
from geo.cases import CaseDefinition
from geo.errors import ParameterError, PeriodError
from geo.grid import Grid
from geo.period import parse_period

GRID = Grid(1000.0, "EPSG:32650")
COMMS = gpd.GeoDataFrame({"code": ["B", "A"]},
                         geometry=[shapely.box(117.01, 40.0, 117.02, 40.01),
                                   shapely.box(117.0, 40.0, 117.01, 40.01)], crs="EPSG:4326")


def _part(rows: list[tuple]) -> gpd.GeoDataFrame:
    cols = ["occurred_at", "category", "status", "location_precision", "community_code",
            "reported_community"]
    frame = pd.DataFrame([r[:-1] for r in rows], columns=cols)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    geoms = [None if r[-1] is None else shapely.Point(*r[-1]) for r in rows]
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")


ROWS = [
    # local time is UTC+8: 16:30 UTC on 31 December is January in Beijing
    ("2024-12-31T16:30:00Z", "theft", None, "exact", None, None, (117.005, 40.005)),
    ("2025-01-10T00:00:00Z", "theft", "withdrawn", "exact", None, None, (117.005, 40.005)),
    ("2025-01-10T00:00:00Z", "fraud", None, "address", None, None, (117.01, 40.005)),  # edge
    ("2025-01-11T00:00:00Z", "theft", None, "centroid", None, None, (117.015, 40.005)),
    ("2025-02-01T00:00:00Z", "theft", None, None, None, "B", None),  # no point, known code
    ("2025-02-02T00:00:00Z", None, None, None, None, "Z", None),  # no point, unknown code
    ("2025-02-03T00:00:00Z", "theft", None, "exact", "B", None, (118.0, 41.0)),  # outside
]


def test_partition_counts_assign_and_count_by_local_month():
    got = partition_counts(_part(ROWS), CommunityIndex.build(COMMS), grid=GRID,
                           timezone="Asia/Shanghai")
    months = got.months.astype(object).where(got.months.notna(), None)
    assert set(months.itertuples(index=False, name=None)) == {
        (2025, 1, "A", "theft", None, "exact", 1),
        (2025, 1, "A", "theft", "withdrawn", "exact", 1),
        (2025, 1, "A", "fraud", None, "exact", 1),  # on the shared edge: the smaller code
        (2025, 1, "B", "theft", None, "coarse", 1),
        (2025, 2, "B", "theft", None, "none", 1),  # no point: the file's code, known
        (2025, 2, None, None, None, "none", 1),  # no point, unknown code
        (2025, 2, None, "theft", None, "exact", 1),  # outside every community
    }
    assert got.records == 7
    # the archive's own assignment is kept when no communities are given
    kept = partition_counts(_part(ROWS), None, grid=GRID, timezone="Asia/Shanghai")
    assert kept.months.loc[kept.months["community_code"].notna(), "count"].sum() == 1
    # cells: the exact and address points; the centroid and the rows without a point left off
    ix, iy = GRID.bin_lonlat([117.005, 117.005, 117.01, 118.0], [40.005, 40.005, 40.005, 41.0])
    want = Counter(zip(ix.tolist(), iy.tolist(), strict=True))
    have = got.cells.groupby(["ix", "iy"])["count"].sum()
    assert {k: int(v) for k, v in have.items()} == dict(want)
    assert set(got.cells["month"]) == {1, 2}


def test_merge_and_period_counts_apply_the_case_definition():
    one = partition_counts(_part(ROWS[:3]), CommunityIndex.build(COMMS), grid=GRID,
                           timezone="Asia/Shanghai")
    two = partition_counts(_part(ROWS[3:]), CommunityIndex.build(COMMS), grid=GRID,
                           timezone="Asia/Shanghai")
    merged = merge_counts(one, two)
    assert merged.records == 7
    definition = CaseDefinition(exclude_statuses=("withdrawn",))
    q1 = period_case_counts(merged, parse_period("2025-Q1"), definition,
                            timezone="Asia/Shanghai")
    assert q1.by_community().to_dict() == {"A": 2, "B": 2}
    assert q1.unassigned() == 2 and q1.no_location == 1 and q1.not_counted == 1
    jan = period_case_counts(merged, parse_period("2025-01"), definition,
                             timezone="Asia/Shanghai", categories=["theft"])
    assert jan.by_community().to_dict() == {"A": 1, "B": 1} and jan.not_counted == 1
    cells, coarse = period_cell_counts(merged, parse_period("2025"), definition)
    assert int(cells["count"].sum()) == 3 and coarse == 1
    by_month, by_cell = monthly_cases(merged, definition)
    assert int(by_month["cases"].sum()) == 6 and int(by_cell["cases"].sum()) == 3


def test_periods_must_be_whole_months_and_grids_must_match():
    assert period_months(parse_period("2025-Q4")) == [(2025, 10), (2025, 11), (2025, 12)]
    assert period_months(parse_period("2024-12-01..2025-01-31")) == [(2024, 12), (2025, 1)]
    with pytest.raises(PeriodError, match="whole months"):
        period_months(parse_period("2025-W10"))
    one = partition_counts(_part(ROWS[:1]), None, grid=GRID, timezone="Asia/Shanghai")
    two = partition_counts(_part(ROWS[:1]), None, grid=Grid(500.0, "EPSG:32650"),
                           timezone="Asia/Shanghai")
    with pytest.raises(ParameterError, match="different grids"):
        merge_counts(one, two)
    with pytest.raises(ParameterError, match="lacks the columns"):
        partition_counts(_part(ROWS).drop(columns="status"), None, grid=GRID,
                         timezone="Asia/Shanghai")
