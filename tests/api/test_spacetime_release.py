"""A planner's emerging hot spots and density surface on the sample city: released counts only.

Both are recomputed here from what ``/aggregates/grid`` releases to the same planner (its
``incidents`` per cell and month, ``"<3"`` or a perturbed count), never from exact counts: the
planner's categories must be those of the cube of released counts, and their surface the
kernel density of the released counts spread from the cells' centres. The release secret is
random per database, so the sample database is copied (with its secret) for each run; the
test runs the comparison on whatever secret it holds.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from api.release import Visibility
from api.services import ServiceContext
from api.services.aggregates import grid_counts_report
from api.services.density import density_report, density_surface
from api.services.emerging import PROTECTED_COLUMNS, emerging_report, month_periods
from api.services.units import world_communities
from api.settings import Settings
from geo.density import kernel_density
from geo.emerging import classify_cube
from geo.errors import ParameterError, PeriodError
from geo.grid import Grid

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")

PLANNER = Visibility("planner", None, protected=True, raw=False, unassigned=False)


@pytest.fixture(scope="module")
def ctx(sample_db):
    return ServiceContext(sample_db, Settings(database_url="sqlite://"))


def released(ctx, period, cell_m=250.0):
    frame = grid_counts_report(ctx, PLANNER, period=ctx.period(period), cell_m=cell_m).frame
    return frame.set_index("cell_id")


def test_planner_emerging_is_the_categories_of_the_released_cube(ctx):
    rep = emerging_report(ctx, PLANNER, period="2025")
    frame = rep.frame.set_index("cell_id")
    assert list(rep.frame.columns) == [*PROTECTED_COLUMNS, "geometry"]
    assert "notes" not in rep.provenance and "left_out" not in rep.provenance
    months = [released(ctx, m.label) for m in month_periods(ctx.period("2025"))]
    ids = frame.index
    cube = np.column_stack([
        [1.0 if v == "<3" else float(v) for v in m["incidents"].reindex(ids)] for m in months])
    classes = classify_cube(cube, frame["ix"].to_numpy(), frame["iy"].to_numpy())
    year = released(ctx, "2025")["incidents"].reindex(ids)
    want = np.where(year.to_numpy() == "<3", "<3", np.array(classes.categories, dtype=object))
    assert list(frame["category"]) == list(want)
    assert (frame["category"] == "<3").any()
    assert frame["category"].str.endswith("hot_spot").sum() > 20


def test_planner_emerging_refuses_weeks_and_short_periods(ctx):
    with pytest.raises(ParameterError, match="sees whole months") as err:
        emerging_report(ctx, PLANNER, period="2025", step="week")
    assert err.value.parameter == "step"
    with pytest.raises(ParameterError, match="holds 3") as err:
        emerging_report(ctx, PLANNER, period="2025-Q2")
    assert err.value.parameter == "period"
    with pytest.raises(ParameterError, match="cell_m must be one of"):
        emerging_report(ctx, PLANNER, period="2025", cell_m=300)


def test_planner_surface_is_the_density_of_released_counts(ctx):
    rep = density_report(ctx, PLANNER, period="2025")
    prov = rep.provenance
    assert prov["bandwidth_m"] == 500.0 and prov["bandwidth_rule"] == "arcgis raised to the minimum"
    assert prov["cell_m"] == 250.0 and prov["min_expected"] == 3.0
    assert (rep.frame["expected"] >= 3.0).all()
    cells = released(ctx, "2025")
    grid = Grid(250.0, ctx.metric_crs())
    weight = np.array([0 if v == "<3" else int(v) for v in cells["incidents"]])
    x = np.repeat((cells["ix"].to_numpy() + 0.5) * 250.0, weight)
    y = np.repeat((cells["iy"].to_numpy() + 0.5) * 250.0, weight)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=grid.crs)
    area = world_communities(ctx, PLANNER).to_crs(grid.crs)
    want = kernel_density(points, area, cell_m=250.0, bandwidth_m=500.0,
                          metric_crs=grid.crs).frame.set_index("cell")
    got = rep.frame.set_index("cell_id")
    np.testing.assert_allclose(got["density_per_km2"],
                               want.loc[got.index, "density_per_km2"], rtol=1e-12)
    # the cells left out are exactly those under 3 expected incidents
    assert set(want.index[want["expected"] >= 3.0]) == set(got.index)
    # an exact caller's surface at the same settings differs: it is made of the points
    admin = density_surface(ctx, Visibility.admin(ctx.settings), period="2025",
                            bandwidth_m=500.0, cell_m=250.0).result.frame.set_index("cell")
    assert not np.allclose(admin.loc[got.index, "density_per_km2"], got["density_per_km2"])


def test_planner_surface_refuses_finer_requests(ctx):
    for options, parameter in (({"bandwidth_m": 499.0}, "bandwidth_m"),
                               ({"cell_m": 100.0}, "cell_m"), ({"cell_m": 300.0}, "cell_m")):
        with pytest.raises(ParameterError) as err:
            density_report(ctx, PLANNER, period="2025", **options)
        assert err.value.parameter == parameter
    with pytest.raises(PeriodError):
        density_report(ctx, PLANNER, period="2025-03-01..2025-03-31")
