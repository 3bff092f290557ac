import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pymannkendall
import pyproj
import pytest
import shapely
from scipy.stats import kendalltau, norm

from geo.emerging import CATEGORIES, classify_cube, emerging_hot_spots, mann_kendall
from geo.errors import InputError, MissingDataError, ParameterError, PeriodError

GK_117 = "EPSG:4548"
# The same transverse Mercator as EPSG:4548, in international feet.
FEET = pyproj.CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=1640419.9475 +y_0=0 "
                             "+ellps=GRS80 +units=ft +no_defs")
X0, Y0 = 440_000.0, 4_420_000.0  # multiples of 250 m: cell (X0 / 250, Y0 / 250) starts here
CELL = 250.0
IX0, IY0 = int(X0 // CELL), int(Y0 // CELL)
MONDAY = pd.Timestamp("2025-01-06 12:00")  # local time; 20 weeks end on Sunday 25 May
PERIOD = "2025-01-06..2025-05-25"


def cube_incidents(cube, weekday=2):
    """Incidents at the centre of cell (IX0 + i, IY0 + j) in week t: cube[i, j, t] of them."""
    i, j, t = np.nonzero(cube)
    n = cube[i, j, t]
    i, j, t = (np.repeat(a, n) for a in (i, j, t))
    local = MONDAY + pd.to_timedelta(t * 7 + weekday, unit="D")
    occurred = pd.DatetimeIndex(local).tz_localize("Asia/Shanghai").tz_convert("UTC")
    return gpd.GeoDataFrame({"id": np.arange(len(i)).astype(str), "occurred_at": occurred},
                            geometry=gpd.points_from_xy(X0 + (i + 0.5) * CELL,
                                                        Y0 + (j + 0.5) * CELL), crs=GK_117)


def area(cols, rows):
    return gpd.GeoSeries([shapely.box(X0, Y0, X0 + cols * CELL, Y0 + rows * CELL)], crs=GK_117)


# Each category's 3 x 3 block of cells, on a background of 20 incidents per cell and week, over
# 20 weeks; high is 50, low is 0. Time neighbourhood 0 (each week on its own), so a week's bins
# are hot exactly when the block is high that week.
STEPS = np.arange(20)


def block_series(category):
    s = np.full(20, 20)
    hot, cold = 50, 0
    designs = {
        "persistent_hot_spot": lambda: np.where(STEPS % 2 == 0, 50, 52),  # hot, no trend
        "intensifying_hot_spot": lambda: 40 + 2 * STEPS,                  # hot, rising
        "diminishing_hot_spot": lambda: 80 - 2 * STEPS,                   # hot, falling
        "persistent_cold_spot": lambda: np.where(STEPS % 2 == 0, 0, 1),
        "intensifying_cold_spot": lambda: np.repeat([6, 4, 2, 0], 5),     # cold, colder
        "diminishing_cold_spot": lambda: np.repeat([0, 2, 4, 6], 5),
    }
    if category in designs:
        return designs[category]()
    kind = hot if "hot" in category else cold
    opposite = cold if kind == hot else hot
    if category.startswith("historical"):
        s[:-1] = kind           # 19 of 20 weeks (95 %), not the last
    elif category.startswith("new"):
        s[-1] = kind            # the last week only
    elif category.startswith("consecutive"):
        s[-3:] = kind           # a run of three at the end
    elif category.startswith("sporadic"):
        s[[3, 8, 12, 19]] = kind
    elif category.startswith("oscillating"):
        s[[4, 5]] = opposite
        s[[10, 19]] = kind
    return s


def category_cube():
    cube = np.full((24, 24, 20), 20)
    centres = {}
    for k, category in enumerate(c for c in CATEGORIES if c != "no_pattern"):
        cx, cy = 3 + 6 * (k % 4), 3 + 6 * (k // 4)
        cube[cx - 1:cx + 2, cy - 1:cy + 2, :] = block_series(category)
        centres[category] = (cx, cy)
    return cube, centres


@pytest.fixture(scope="module")
def categories_result():
    cube, centres = category_cube()
    result = emerging_hot_spots(cube_incidents(cube), area(24, 24), period=PERIOD,
                                time_neighbours=0)
    return cube, centres, result


def test_each_category_from_a_constructed_cube(categories_result):
    _, centres, result = categories_result
    frame = result.frame.set_index(["ix", "iy"])
    got = {c: frame.loc[(IX0 + x, IY0 + y), "category"] for c, (x, y) in centres.items()}
    assert got == {c: c for c in centres}
    assert frame.loc[(IX0 + 0, IY0 + 0), "category"] == "no_pattern"  # background corner
    assert set(result.frame["category"]) == set(CATEGORIES)
    # The trend statistics behind intensifying and diminishing.
    rising = frame.loc[(IX0 + centres["intensifying_hot_spot"][0],
                        IY0 + centres["intensifying_hot_spot"][1])]
    assert rising.trend_tau == pytest.approx(1.0) and rising.trend_p < 1e-6
    assert (rising.hot_steps, rising.cold_steps) == (20, 0)
    steady = frame.loc[(IX0 + centres["persistent_hot_spot"][0],
                        IY0 + centres["persistent_hot_spot"][1])]
    assert steady.trend_p > 0.05


def test_classify_cube_gives_the_categories_of_a_cube_counted_elsewhere(categories_result):
    cube, _, result = categories_result
    ix = result.frame["ix"].to_numpy()
    iy = result.frame["iy"].to_numpy()
    counts = result.counts.to_numpy()
    assert (counts == cube[ix - IX0, iy - IY0, :]).all()
    classes = classify_cube(counts, ix, iy, time_neighbours=0)
    assert list(classes.categories) == list(result.frame["category"])
    np.testing.assert_allclose(classes.gi_z, result.gi_z.to_numpy())
    np.testing.assert_allclose(classes.q_values, result.q_values.to_numpy())
    assert (classes.hot.sum(axis=1) == result.frame["hot_steps"].to_numpy()).all()


def test_classify_cube_errors():
    ix, iy = np.arange(4), np.zeros(4, dtype=int)
    with pytest.raises(ParameterError, match="at least 10 steps; the cube has 9") as err:
        classify_cube(np.arange(36).reshape(4, 9), ix, iy)
    assert err.value.parameter == "period"
    with pytest.raises(ParameterError, match="one row per cell"):
        classify_cube(np.ones((3, 12)), ix, iy)
    with pytest.raises(MissingDataError, match="same count"):
        classify_cube(np.ones((4, 12)), ix, iy)
    with pytest.raises(ParameterError, match="cell_neighbours"):
        classify_cube(np.arange(48).reshape(4, 12), ix, iy, cell_neighbours=-1)


def test_cube_frames(categories_result):
    cube, centres, result = categories_result
    assert result.steps[0] == dt.date(2025, 1, 6) and len(result.steps) == 20
    assert result.end == dt.date(2025, 5, 26)
    assert result.n_incidents == int(cube.sum())
    x, y = centres["new_hot_spot"]
    cell_id = f"250m:{IX0 + x}:{IY0 + y}"
    np.testing.assert_array_equal(result.counts.loc[cell_id].to_numpy(), cube[x, y])
    assert result.frame.loc[cell_id, "incidents"] == cube[x, y].sum()
    bins = result.bins
    assert len(bins) == 24 * 24 * 20
    mine = bins[bins["cell"] == cell_id]
    assert mine["bin"].tolist() == [""] * 19 + ["hot"]
    assert mine["gi_z"].iloc[-1] == result.frame.loc[cell_id, "last_z"]
    assert result.frame.crs.to_epsg() == 4548
    assert result.frame.geometry.iloc[0].equals(
        shapely.box(X0, Y0, X0 + CELL, Y0 + CELL))


def dense_gi_star(cube, rings, lags):
    """Gi* of every bin, written out from Ord & Getis (1995) with a dense weight matrix."""
    cols, rows, steps = cube.shape
    i, j, t = (a.ravel() for a in np.meshgrid(np.arange(cols), np.arange(rows),
                                               np.arange(steps), indexing="ij"))
    x = cube.ravel().astype(float)
    w = ((np.abs(i[:, None] - i[None, :]) <= rings) & (np.abs(j[:, None] - j[None, :]) <= rings)
         & (t[:, None] - t[None, :] >= 0) & (t[:, None] - t[None, :] <= lags)).astype(float)
    n = len(x)
    mean = x.mean()
    s = np.sqrt((x**2).mean() - mean**2)
    wi = w.sum(axis=1)
    z = (w @ x - mean * wi) / (s * np.sqrt((n * (w**2).sum(axis=1) - wi**2) / (n - 1)))
    return z.reshape(cube.shape)


def benjamini_hochberg(p):
    """q_i = min over p_j >= p_i of m p_j / rank_j (ranks from 1, ties get the larger rank)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    rank = np.searchsorted(np.sort(p), p, side="right")  # count of p_j <= p_i
    ratio = np.minimum(m * p / rank, 1.0)
    return np.array([ratio[p >= value].min() for value in p])


@pytest.mark.parametrize(("rings", "lags"), [(1, 1), (2, 0), (0, 2)])
def test_gi_star_and_fdr_equal_the_formulas(rings, lags):
    rng = np.random.default_rng(rings * 10 + lags)
    cube = rng.poisson(3, (6, 5, 12))
    cube[2:4, 2:4, 8:] += 9
    result = emerging_hot_spots(cube_incidents(cube), area(6, 5), period="2025-01-06..2025-03-30",
                                cell_neighbours=rings, time_neighbours=lags)
    ids = [f"250m:{IX0 + a}:{IY0 + b}" for b in range(5) for a in range(6)]  # row-major
    z = result.gi_z.loc[ids].to_numpy()
    expected = dense_gi_star(cube, rings, lags).transpose(1, 0, 2).reshape(30, 12)
    np.testing.assert_allclose(z, expected, rtol=1e-10)
    p = 2 * norm.sf(np.abs(expected))
    np.testing.assert_allclose(result.p_values.loc[ids].to_numpy(), p, rtol=1e-9)
    q = benjamini_hochberg(p.ravel()).reshape(p.shape)
    np.testing.assert_allclose(result.q_values.loc[ids].to_numpy(), q, rtol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_mann_kendall_equals_pymannkendall(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 60))
    # Integer values make ties; a drift makes some series trend.
    series = np.round(rng.normal(0, 2, n) + rng.normal(0, 0.1) * np.arange(n))
    ours = mann_kendall(series)
    theirs = pymannkendall.original_test(series)
    assert ours.s[0] == theirs.s
    assert ours.var_s[0] == pytest.approx(theirs.var_s, rel=1e-12)
    # No continuity correction here; pymannkendall uses (S - sign(S)) / sqrt(var).
    assert ours.z[0] == pytest.approx(theirs.s / np.sqrt(theirs.var_s), rel=1e-12)
    if theirs.s != 0:
        assert theirs.z == pytest.approx((theirs.s - np.sign(theirs.s)) / np.sqrt(theirs.var_s))
    assert ours.p_value[0] == pytest.approx(2 * norm.sf(abs(ours.z[0])), rel=1e-12)
    assert ours.tau[0] == pytest.approx(kendalltau(np.arange(n), series).statistic, rel=1e-12)
    if len(np.unique(series)) == n:  # without ties tau-b is pymannkendall's tau-a
        assert ours.tau[0] == pytest.approx(theirs.Tau)


def test_mann_kendall_by_hand():
    # 1 3 2 4: pairs (1,3)+ (1,2)+ (1,4)+ (3,2)- (3,4)+ (2,4)+  S = 4; var = 4·3·13/18.
    result = mann_kendall([[1, 3, 2, 4], [5, 5, 5, 5], [1, 1, 2, 2]])
    assert result.s.tolist() == [4, 0, 4]
    assert result.var_s[0] == pytest.approx(4 * 3 * 13 / 18)
    # Two tie groups of two: var = (156 − 2·2·1·9) / 18.
    assert result.var_s[2] == pytest.approx((156 - 36) / 18)
    assert result.tau[0] == pytest.approx(4 / 6)
    assert np.isnan(result.tau[1]) and result.p_value[1] == 1.0 and result.z[1] == 0.0
    with pytest.raises(ParameterError, match="three values"):
        mann_kendall([1, 2])


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_feet_and_degrees_give_the_same_cube(categories_result):
    # Incidents and area in a transverse Mercator in feet and in EPSG:4326 (the incidents at
    # cell centres, far from any cell edge), gridded in EPSG:4548: the same cells, counts and
    # categories.
    cube, _, metric = categories_result
    incidents = cube_incidents(cube)
    # The area inset by 1 m: a round trip through degrees must not let a sliver of it into
    # the next ring of cells.
    inset = gpd.GeoSeries([shapely.box(X0 + 1, Y0 + 1, X0 + 24 * CELL - 1, Y0 + 24 * CELL - 1)],
                          crs=GK_117)
    for crs in (FEET, 4326):
        other = emerging_hot_spots(incidents.to_crs(crs), inset.to_crs(crs), period=PERIOD,
                                   time_neighbours=0, metric_crs=GK_117)
        assert other.n_incidents == metric.n_incidents == int(cube.sum())
        pd.testing.assert_frame_equal(other.counts, metric.counts)
        assert other.frame["category"].tolist() == metric.frame["category"].tolist()
        np.testing.assert_allclose(other.gi_z.to_numpy(), metric.gi_z.to_numpy(), rtol=1e-12)


def test_weeks_are_local_monday_to_sunday():
    cube = np.full((3, 3, 12), 2)
    cube[1, 1, -1] = 9
    frame = cube_incidents(cube)
    # One more incident on Sunday 23:30 local (Sunday 15:30 UTC) of the first week and one on
    # Monday 00:10 local (Sunday 16:10 UTC) of the second.
    extra = gpd.GeoDataFrame(
        {"id": ["sun", "mon"],
         "occurred_at": pd.to_datetime(["2025-01-12 15:30", "2025-01-12 16:10"], utc=True)},
        geometry=gpd.points_from_xy([X0 + 10, X0 + 10], [Y0 + 10, Y0 + 10]), crs=GK_117)
    result = emerging_hot_spots(pd.concat([frame, extra], ignore_index=True), area(3, 3),
                                period="2025-01-06..2025-03-30")
    first = result.counts.loc[f"250m:{IX0}:{IY0}"]
    assert first.iloc[0] == 3 and first.iloc[1] == 3
    assert result.steps[1] == dt.date(2025, 1, 13)


def test_period_takes_whole_steps_and_counts_the_rest():
    cube = np.full((3, 3, 12), 2)
    cube[1, 1, -1] = 5
    frame = cube_incidents(cube)
    # From Wednesday 8 January: the first whole week starts on Monday 13 January.
    result = emerging_hot_spots(frame, area(3, 3), period="2025-01-08..2025-03-30")
    assert result.steps[0] == dt.date(2025, 1, 13) and len(result.steps) == 11
    assert result.outside_steps == 18 and result.n_incidents == 18 * 11 + 3
    with pytest.raises(ParameterError, match="at least 10 whole weeks") as info:
        emerging_hot_spots(frame, area(3, 3), period="2025-01-08..2025-03-20")
    assert info.value.parameter == "period"


def test_default_span_and_months():
    cube = np.zeros((3, 3, 60), dtype=int)
    cube[:, :, ::5] = 1
    cube[1, 1, 40:] += 3
    frame = cube_incidents(cube)
    weeks = emerging_hot_spots(frame, area(3, 3))
    assert weeks.steps[0] == dt.date(2025, 1, 6) and len(weeks.steps) == 60
    months = emerging_hot_spots(frame, area(3, 3), step="month")
    # Wednesday 8 January 2025 to Wednesday 25 February 2026: January 2025 to February 2026.
    assert months.steps[0] == dt.date(2025, 1, 1) and months.steps[-1] == dt.date(2026, 2, 1)
    assert int(months.counts.to_numpy().sum()) == int(cube.sum())


def test_left_out_incidents_are_counted():
    cube = np.full((3, 3, 12), 2)
    frame = cube_incidents(cube)
    frame["location_precision"] = "exact"
    frame.loc[0, "location_precision"] = "centroid"
    frame.loc[1, "geometry"] = None
    frame.loc[2, "occurred_at"] = pd.NaT
    frame.loc[3, "geometry"] = shapely.Point(X0 - 500, Y0)  # west of the area
    result = emerging_hot_spots(frame, area(3, 3), period="2025-01-06..2025-03-30")
    assert (result.coarse_location, result.no_location, result.no_time,
            result.outside_cells, result.outside_steps) == (1, 1, 1, 1, 0)
    assert result.n_incidents == len(frame) - 4


def test_errors():
    cube = np.full((3, 3, 12), 2)
    frame = cube_incidents(cube)
    good = {"period": "2025-01-06..2025-03-30"}
    with pytest.raises(InputError, match="GeoDataFrame"):
        emerging_hot_spots(pd.DataFrame(frame), area(3, 3))
    with pytest.raises(InputError, match="study_area must share"):
        emerging_hot_spots(frame, area(3, 3).to_crs(4326))
    with pytest.raises(InputError, match="study_area must be"):
        emerging_hot_spots(frame, shapely.box(0, 0, 1, 1))
    with pytest.raises(InputError, match="occurred_at"):
        emerging_hot_spots(frame.drop(columns="occurred_at"), area(3, 3))
    with pytest.raises(ParameterError, match="step"):
        emerging_hot_spots(frame, area(3, 3), step="day", **good)
    with pytest.raises(ParameterError, match="cell_neighbours"):
        emerging_hot_spots(frame, area(3, 3), cell_neighbours=-1, **good)
    with pytest.raises(ParameterError, match="time_neighbours"):
        emerging_hot_spots(frame, area(3, 3), time_neighbours=1.5, **good)
    with pytest.raises(ParameterError, match="alpha"):
        emerging_hot_spots(frame, area(3, 3), alpha=1.5, **good)
    with pytest.raises(ParameterError, match="cell_m"):
        emerging_hot_spots(frame, area(3, 3), cell_m=-250, **good)
    with pytest.raises(PeriodError, match="period"):
        emerging_hot_spots(frame, area(3, 3), period="last spring")
    with pytest.raises(MissingDataError, match="same count"):
        emerging_hot_spots(frame, area(3, 3), **good)  # 2 in every bin
    with pytest.raises(MissingDataError, match="same count"):
        emerging_hot_spots(frame, area(3, 3), period="2024")  # no incident in 2024
    with pytest.raises(MissingDataError, match="give a period"):
        emerging_hot_spots(frame.iloc[:0], area(3, 3))
    with pytest.raises(MissingDataError, match="no area"):
        emerging_hot_spots(frame, gpd.GeoSeries([shapely.Point(X0, Y0)], crs=GK_117), **good)


def test_inputs_are_not_modified():
    cube = np.full((3, 3, 12), 2)
    cube[1, 1, 6:] = 7
    frame = cube_incidents(cube)
    before = frame.copy()
    emerging_hot_spots(frame, area(3, 3), period="2025-01-06..2025-03-30")
    pd.testing.assert_frame_equal(frame, before)
