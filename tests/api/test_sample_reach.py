"""Reach along roads on the sample city: walking coverage is visibly below the straight line."""

from __future__ import annotations

import pytest

from api.release import Visibility
from api.services.reach import coverage_by_reach
from tests.api.test_coverage_service import ctx_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("facility_type", ["police_office", "service_station"])
def test_walking_coverage_is_below_the_straight_line_for_the_same_metres(sample_db,
                                                                         facility_type):
    ctx = ctx_for(sample_db)
    admin = Visibility.admin(ctx.settings)
    share = {}
    for reach in ("line", "walk"):
        rep = coverage_by_reach(ctx, admin, reach=reach, facility_type=facility_type,
                                level="city")
        share[reach] = rep.frame.iloc[0]["facility_covered_population_share"]
        assert rep.provenance["radius_m"] in (300.0, 500.0)
    # network distance >= straight line: walking reaches fewer residents within the same
    # metres, and on the sample's streets (a river, detours round blocks) clearly fewer
    assert share["walk"] < share["line"] - 0.05, share
    assert share["walk"] > 0.1, share
