import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from sklearn.neighbors import KernelDensity

from geo.density import default_bandwidth_m, kernel_density
from geo.errors import InputError, LimitError, MissingDataError, ParameterError
from geo.grid import Grid

GK_117 = "EPSG:4548"
# The same transverse Mercator as EPSG:4548, in international feet.
FEET = pyproj.CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=1640419.9475 +y_0=0 "
                             "+ellps=GRS80 +units=ft +no_defs")
X0, Y0 = 440_000.0, 4_420_000.0  # multiples of 50 and 250 m: grid cells start here


def points(xy, crs=GK_117, **columns):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame({"id": [f"i{k}" for k in range(len(xy))], **columns},
                            geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]), crs=crs)


def square(side_m, crs=GK_117, origin=(0.0, 0.0)):
    ox, oy = origin
    return gpd.GeoSeries([shapely.box(X0 + ox, Y0 + oy, X0 + ox + side_m, Y0 + oy + side_m)],
                         crs=crs)


def centres(result):
    """Cell-centre coordinates of a result's arrays (rows north to south)."""
    a, _, c, _, e, f = result.transform
    cols = np.arange(result.width)
    rows = np.arange(result.height)
    return np.meshgrid(c + (cols + 0.5) * a, f + (rows + 0.5) * e)


def direct_sum(result, xy, kernel, h):
    """Incidents per km² at every cell centre, summed over every incident (no cut-off)."""
    gx, gy = centres(result)
    d2 = ((gx[..., None] - (X0 + xy[:, 0])) ** 2 + (gy[..., None] - (Y0 + xy[:, 1])) ** 2)
    if kernel == "quartic":
        k = np.where(d2 < h * h, 3 / (math.pi * h * h) * (1 - d2 / (h * h)) ** 2, 0.0)
    else:
        k = np.exp(-d2 / (2 * h * h)) / (2 * math.pi * h * h)
    return k.sum(axis=-1) * 1e6


@pytest.mark.slow
def test_one_incident_by_hand():
    # One incident at the centre of the cell (4, 4) of a 10 x 10 block of 50 m cells; quartic
    # of radius 100 m: 3 / (π h²) at its own centre, (1 − 1/4)² of that 50 m away, 0 at 100 m.
    result = kernel_density(points([(225, 225)]), square(500), cell_m=50, bandwidth_m=100)
    peak = 3 / (math.pi * 100**2) * 1e6
    grid = result.density_per_km2[::-1]  # rows south to north: grid[iy, ix]
    assert grid[4, 4] == pytest.approx(peak, rel=1e-12)
    assert grid[4, 5] == pytest.approx(peak * 0.75**2, rel=1e-12)
    assert grid[5, 5] == pytest.approx(peak * 0.5**2, rel=1e-12)  # 70.7 m: 1 − 5000/10000
    assert grid[4, 6] == 0.0 and grid[4, 2] == 0.0
    assert result.expected_per_cell[::-1][4, 4] == pytest.approx(peak * 0.0025, rel=1e-12)
    assert result.transform == (50.0, 0.0, X0, 0.0, -50.0, Y0 + 500)
    assert (result.width, result.height, result.ix0, result.iy0) == (
        10, 10, int(X0 // 50), int(Y0 // 50))
    assert result.bandwidth_rule == "given" and result.n_incidents == 1


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_exact_mode_equals_the_direct_sum(kernel):
    rng = np.random.default_rng(1)
    xy = np.vstack([rng.normal(800, 150, (300, 2)), rng.uniform(0, 2000, (200, 2))])
    h = 180.0 if kernel == "quartic" else 90.0
    result = kernel_density(points(xy), square(2000), cell_m=50, kernel=kernel,
                            bandwidth_m=h, mode="exact")
    np.testing.assert_allclose(result.density_per_km2, direct_sum(result, xy, kernel, h),
                               rtol=1e-9, atol=1e-12 * np.nanmax(result.density_per_km2))


def test_gaussian_exact_mode_equals_scikit_learn():
    rng = np.random.default_rng(2)
    xy = rng.normal(1000, 300, (400, 2))
    result = kernel_density(points(xy), square(2000), cell_m=50, kernel="gaussian",
                            bandwidth_m=120, mode="exact")
    gx, gy = centres(result)
    model = KernelDensity(kernel="gaussian", bandwidth=120, algorithm="kd_tree", rtol=0)
    model.fit(np.column_stack([X0 + xy[:, 0], Y0 + xy[:, 1]]))
    theirs = np.exp(model.score_samples(np.column_stack([gx.ravel(), gy.ravel()])))
    theirs = theirs.reshape(gx.shape) * len(xy) * 1e6
    big = theirs > 1e-6 * theirs.max()
    np.testing.assert_allclose(result.density_per_km2[big], theirs[big], rtol=1e-9)
    np.testing.assert_allclose(result.density_per_km2, theirs, atol=1e-12 * theirs.max())


@pytest.mark.parametrize(("kernel", "h", "n", "tolerance"), [
    ("quartic", 500.0, 300, 1e-9),     # sparse: isolated kernels, rims everywhere
    ("quartic", 75.0, 5000, 1e-9),     # 1.5 cells
    ("quartic", 35.0, 2000, 1e-9),     # narrower than a cell
    ("gaussian", 250.0, 5000, 1e-3),
    ("gaussian", 100.0, 300, 1e-3),    # two cells
])
@pytest.mark.slow
def test_binned_mode_agrees_with_exact(kernel, h, n, tolerance):
    rng = np.random.default_rng(3)
    hot = rng.normal(1500, 200, (n // 2, 2))
    xy = np.vstack([hot, rng.uniform(-500, 3500, (n - n // 2, 2))])  # some outside the area
    area = square(3000)
    exact = kernel_density(points(xy), area, cell_m=50, kernel=kernel, bandwidth_m=h,
                           mode="exact")
    binned = kernel_density(points(xy), area, cell_m=50, kernel=kernel, bandwidth_m=h,
                            mode="binned")
    top = np.nanmax(exact.density_per_km2)
    assert np.nanmax(np.abs(binned.density_per_km2 - exact.density_per_km2)) <= tolerance * top
    assert binned.transform == exact.transform


def test_default_bandwidth_by_hand():
    # Five points: the corners of a 200 m square and its centre. Mean centre: the centre;
    # distances 0 and four times 141.42 m, median D_m = 141.42 m; standard distance
    # SD = √(4·100²/5 + 4·100²/5) = 126.49 m < √(1/ln 2)·D_m = 169.86 m;
    # bandwidth = 0.9 · 126.49 · 5^−0.2 = 82.51 m.
    xy = np.array([(0, 0), (200, 0), (0, 200), (200, 200), (100, 100)], dtype=float)
    expected = 0.9 * math.sqrt(16_000) * 5 ** -0.2
    assert default_bandwidth_m(xy[:, 0], xy[:, 1]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(82.51, abs=0.01)
    # An outlier leaves the median alone but inflates SD: then the median term decides.
    far = np.vstack([xy, [(100_000, 100)]])
    dx = far[:, 0] - far[:, 0].mean()
    dy = far[:, 1] - far[:, 1].mean()
    d_m = np.median(np.hypot(dx, dy))
    assert default_bandwidth_m(far[:, 0], far[:, 1]) == pytest.approx(
        0.9 * math.sqrt(1 / math.log(2)) * d_m * 6 ** -0.2, rel=1e-12)
    result = kernel_density(points(xy), square(400, origin=(-100, -100)), cell_m=10)
    assert result.bandwidth_m == pytest.approx(expected, rel=1e-12)
    assert result.bandwidth_rule == "arcgis"


def test_surface_is_masked_to_the_study_area_on_the_grid():
    # An L-shaped area: three 100 m squares; the cells of the missing square are NaN.
    area = gpd.GeoSeries([shapely.union_all([
        shapely.box(X0, Y0, X0 + 100, Y0 + 100), shapely.box(X0 + 100, Y0, X0 + 200, Y0 + 100),
        shapely.box(X0, Y0 + 100, X0 + 100, Y0 + 200)])], crs=GK_117)
    result = kernel_density(points([(50, 50), (150, 50)]), area, cell_m=25, bandwidth_m=60)
    grid = result.density_per_km2[::-1]
    assert grid.shape == (8, 8)
    assert np.isnan(grid[4:, 4:]).all() and np.isfinite(grid[:4, :]).all()
    frame = result.frame
    assert len(frame) == 48
    ix, iy = Grid(25.0, GK_117).bin_xy(X0 + 12.5, Y0 + 12.5)
    first = frame.iloc[0]
    assert (first.ix, first.iy, first.cell) == (ix, iy, f"25m:{ix}:{iy}")
    assert first.density_per_km2 == grid[0, 0]
    assert frame["expected"].sum() == pytest.approx(np.nansum(result.expected_per_cell))


def test_expected_incidents_add_up():
    # Kernels well inside the area and cells much smaller than the bandwidth: the expected
    # incidents of all cells add up to the incidents.
    rng = np.random.default_rng(4)
    xy = rng.uniform(900, 1100, (100, 2))
    for kernel, h in (("quartic", 300.0), ("gaussian", 100.0)):
        result = kernel_density(points(xy), square(2000), cell_m=20, kernel=kernel,
                                bandwidth_m=h, mode="binned")
        assert np.nansum(result.expected_per_cell) == pytest.approx(100, rel=1e-3)


def test_left_out_incidents_and_incidents_outside_the_area():
    frame = points([(100, 100), (110, 100), (120, 100), (600, 100)],
                   location_precision=["exact", "centroid", "address", None])
    frame.loc[2, "geometry"] = None
    result = kernel_density(frame, square(300), cell_m=50, bandwidth_m=100)
    assert (result.n_incidents, result.no_location, result.coarse_location) == (2, 1, 1)
    # The incident 600 m away is outside the area and out of reach: no effect.
    alone = kernel_density(points([(100, 100)]), square(300), cell_m=50, bandwidth_m=100)
    np.testing.assert_array_equal(result.density_per_km2, alone.density_per_km2)
    # Moved to 350 m (outside the area, 50 m from its edge) it reaches in.
    near = kernel_density(points([(100, 100), (350, 100)]), square(300), cell_m=50,
                          bandwidth_m=100)
    assert np.nanmax(near.density_per_km2 - alone.density_per_km2) > 0


def test_any_input_crs_gives_the_same_surface():
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 1000, (200, 2))
    # The area is inset by 1 m: its edges do not lie on cell edges, where a round trip through
    # degrees could let a sliver of it into the next cell.
    area = square(998, origin=(1, 1))
    metric = kernel_density(points(xy), area, cell_m=50, bandwidth_m=150)
    for crs in (4326, FEET):
        other = kernel_density(points(xy).to_crs(crs), area.to_crs(crs), cell_m=50,
                               bandwidth_m=150, metric_crs=GK_117)
        assert other.transform == metric.transform
        np.testing.assert_allclose(other.density_per_km2, metric.density_per_km2, rtol=1e-6,
                                   equal_nan=True)
        assert other.n_incidents == 200


def test_release_options():
    rng = np.random.default_rng(6)
    xy = rng.normal(1000, 100, (50, 2))
    area = square(2000)
    masked = kernel_density(points(xy), area, cell_m=250, bandwidth_m=500, min_expected=3,
                            min_bandwidth_m=500, min_cell_m=250)
    plain = kernel_density(points(xy), area, cell_m=250, bandwidth_m=500)
    low = plain.expected_per_cell < 3
    assert masked.masked_cells == int(low.sum()) > 0
    assert np.isnan(masked.expected_per_cell[low]).all()
    np.testing.assert_array_equal(masked.expected_per_cell[~low], plain.expected_per_cell[~low])
    raised = kernel_density(points(xy), area, cell_m=250, min_bandwidth_m=500)
    assert (raised.bandwidth_m, raised.bandwidth_rule) == (500.0, "arcgis raised to the minimum")
    with pytest.raises(ParameterError, match="bandwidth_m must be at least 500"):
        kernel_density(points(xy), area, cell_m=250, bandwidth_m=400, min_bandwidth_m=500)
    with pytest.raises(ParameterError, match="cell_m must be at least 250"):
        kernel_density(points(xy), area, cell_m=50, bandwidth_m=500, min_cell_m=250)


@pytest.mark.parametrize(("options", "parameter"), [
    ({"cell_m": 0}, "cell_m"),
    ({"cell_m": "50"}, "cell_m"),
    ({"kernel": "epanechnikov"}, "kernel"),
    ({"mode": "fast"}, "mode"),
    ({"bandwidth_m": -5}, "bandwidth_m"),
    ({"bandwidth_m": float("nan")}, "bandwidth_m"),
    ({"min_expected": -1}, "min_expected"),
    ({"max_cells": 0}, "max_cells"),
    ({"metric_crs": 4326}, "metric_crs"),
    ({"exclude_precisions": ["nearby"]}, "exclude_precisions"),
])
def test_bad_options_are_refused(options, parameter):
    with pytest.raises(ParameterError, match=parameter) as info:
        kernel_density(points([(10, 10), (20, 30)]), square(100), **options)
    assert info.value.parameter == parameter


def test_bad_inputs_are_refused():
    frame = points([(10, 10), (20, 30)])
    with pytest.raises(InputError, match="GeoDataFrame"):
        kernel_density(pd.DataFrame(frame), square(100))
    with pytest.raises(InputError, match="study_area must be"):
        kernel_density(frame, shapely.box(0, 0, 1, 1))
    with pytest.raises(InputError, match="study_area must share"):
        kernel_density(frame, square(100).to_crs(4326))
    with pytest.raises(InputError, match="points"):
        kernel_density(gpd.GeoDataFrame(geometry=square(10), crs=GK_117), square(100))
    with pytest.raises(MissingDataError, match="no area"):
        kernel_density(frame, gpd.GeoSeries([shapely.LineString([(X0, Y0), (X0 + 50, Y0)])],
                                            crs=GK_117), bandwidth_m=10)
    with pytest.raises(LimitError, match="max_cells"):
        kernel_density(frame, square(1000), cell_m=10, max_cells=100)
    with pytest.raises(MissingDataError, match="at least two"):
        kernel_density(frame.iloc[:1], square(100))
    with pytest.raises(MissingDataError, match="one place"):
        kernel_density(points([(10, 10), (10, 10)]), square(100))


def test_inputs_are_not_modified():
    frame = points([(10, 10), (20, 30), (60, 60)])
    area = square(100)
    before, area_before = frame.copy(), area.copy()
    kernel_density(frame, area, cell_m=10, bandwidth_m=30, mode="binned")
    pd.testing.assert_frame_equal(frame, before)
    assert area.equals(area_before)
