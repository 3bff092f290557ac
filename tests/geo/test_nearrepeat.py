import datetime as dt
import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from pointpats.spacetime import Knox
from scipy.stats import poisson

from geo.errors import InputError, LimitError, MissingDataError, ParameterError
from geo.nearrepeat import KnoxResult, knox_table, risk_zones

GK_117 = "EPSG:4548"  # CGCS2000 3-degree Gauss-Kruger CM 117E, metres (Beijing)
X0, Y0 = 440_000.0, 4_420_000.0
# The same transverse Mercator as EPSG:4548, in international feet.
FEET = pyproj.CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=1640419.9475 +y_0=0 "
                             "+ellps=GRS80 +units=ft +no_defs")
DAY0 = pd.Timestamp("2025-01-01 10:00", tz="Asia/Shanghai")


def incidents(xy, days, crs=GK_117, **columns):
    """Incidents at (X0 + x, Y0 + y) on local day DAY0 + days (10:00 local each)."""
    xy = np.asarray(xy, dtype=float)
    occurred = (DAY0 + pd.to_timedelta(np.asarray(days), unit="D")).tz_convert("UTC")
    frame = {"id": [f"i{k}" for k in range(len(xy))], "occurred_at": occurred, **columns}
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]),
                            crs=crs)


# A hand example with pairs exactly on band edges. Bands: same location (<= 0.5 m),
# (0.5, 100], (100, 200] m; same day, 1-7, 8-14 days. Every band is closed on its upper
# edge, so an edge goes to the nearer band.
#   A (0, 0) day 0     B (0, 0) day 0     C (100, 0) day 7
#   D (60, 80) day 14  E (300, 0) day 3   F (0, 0.5) day 15
# Pairs:  AB d=0 t=0 -> same location/same day;  AC d=100 (edge) t=7 (edge) -> 0.5-100/1-7;
#   AD d=100 (edge) t=14 (edge) -> 0.5-100/8-14;  AF d=0.5 (edge) t=15 -> beyond 14 days;
#   BC, BD as AC, AD;  BF as AF;  CD d=89.4 t=7 -> 0.5-100/1-7;  CE d=200 (edge) t=4 ->
#   100-200/1-7;  CF d=100.001 t=8 -> 100-200/8-14;  DF d=99.6 t=1 -> 0.5-100/1-7;
#   AE, BE, DE (253 m), EF beyond 200 m.
HAND_XY = [(0, 0), (0, 0), (100, 0), (60, 80), (300, 0), (0, 0.5)]
HAND_DAYS = [0, 0, 7, 14, 3, 15]
HAND_TABLE = [[1, 0, 0],
              [0, 4, 2],
              [0, 1, 1]]
# Cumulative (d <= 0.5, 100, 200 m; t <= 0, 7, 14 days): the banded table summed up and left.
HAND_CUMULATIVE = [[1, 1, 1],
                   [1, 5, 7],
                   [1, 6, 9]]
# Pairs within each distance (N_s) and within each time (N_t), of C(6, 2) = 15:
# N_s = 3 (AB, AF, BF), 9 (+AC AD BC BD CD DF), 11 (+CE CF);
# days 0 0 3 7 14 15: N_t = 1 (0-0), 8 (+0-3 x2, 0-7 x2, 3-7, 7-14, 14-15), 13 (all but 0-15 x2).
HAND_NS = [3, 9, 11]
HAND_NT = [1, 8, 13]


def hand_knox(**options):
    options.setdefault("permutations", 0)
    options.setdefault("metric_crs", GK_117)
    options.setdefault("space_m", (0, 100, 200))
    options.setdefault("time_days", (0, 7, 14))
    return knox_table(incidents(HAND_XY, HAND_DAYS), **options)


@pytest.mark.slow
def test_hand_table_with_pairs_on_band_edges():
    result = hand_knox()
    assert result.table("observed").to_numpy().tolist() == HAND_TABLE
    assert list(result.table().index) == ["same location", "0.5-100 m", "100-200 m"]
    assert list(result.table().columns) == ["same day", "1-7 days", "8-14 days"]
    assert (result.n_incidents, result.total_pairs) == (6, 15)
    # Pairs within 200 m: AB AC AD AF BC BD BF CD CE CF DF.
    assert result.n_pairs == 11
    row = result.frame.iloc[4]
    assert (row.space_from_m, row.space_to_m, row.time_from_days, row.time_to_days) == (
        0.5, 100.0, 1, 7)


def test_hand_cumulative_table_and_analytic_statistics():
    result = hand_knox(cumulative=True)
    assert result.table("observed").to_numpy().tolist() == HAND_CUMULATIVE
    assert result.table("space_pairs").to_numpy()[:, 0].tolist() == HAND_NS
    assert result.table("time_pairs").to_numpy()[0].tolist() == HAND_NT
    expected = np.outer(HAND_NS, HAND_NT) / 15
    np.testing.assert_allclose(result.table("expected_analytic").to_numpy(), expected)
    # P(X >= observed) for X ~ Poisson(E): at (<= 100 m, <= 7 days) 5 pairs against 9 * 8 / 15.
    p = result.table("p_poisson").to_numpy()
    assert p[1, 1] == pytest.approx(1 - sum(poisson.pmf(k, 4.8) for k in range(5)), rel=1e-12)
    assert p[0, 0] == pytest.approx(1 - poisson.pmf(0, 0.2), rel=1e-12)


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_monte_carlo_expectation_and_pseudo_p():
    # Under a random permutation of the days, a pair in distance band s falls in time band t
    # with probability (pairs of days in t) / C(n, 2), so the exact expectation of a banded
    # cell is (pairs in s) * (day pairs in t) / C(n, 2); 20,000 permutations get within 2 %.
    result = hand_knox(permutations=19_999)
    exact = np.outer([3, 6, 2], [1, 7, 5]) / 15
    np.testing.assert_allclose(result.table("expected").to_numpy(), exact, rtol=0.02, atol=0.01)
    p = result.table("p_value").to_numpy()
    assert np.all(np.isclose(p * 20_000, np.round(p * 20_000)))  # (1 + count) / (N + 1)
    # A cell observed 0 times is met or beaten by every permutation: p = 1.
    assert p[2, 0] == 1.0
    ratio = result.table("knox_ratio").to_numpy()
    np.testing.assert_allclose(ratio, np.array(HAND_TABLE) / result.table("expected").to_numpy())


def test_seeded_permutations_are_reproducible():
    a = hand_knox(permutations=99, seed=5).frame
    b = hand_knox(permutations=99, seed=5).frame
    c = hand_knox(permutations=99, seed=6).frame
    pd.testing.assert_frame_equal(a, b)
    assert not a["expected"].equals(c["expected"])


def test_days_are_local_calendar_days():
    # 23:59 and 00:01 Beijing time are two minutes apart but on two calendar days there, and on
    # one day in UTC (15:59 and 16:01).
    times = pd.to_datetime(["2024-12-31 15:59", "2024-12-31 16:01"], utc=True)
    frame = gpd.GeoDataFrame({"id": ["a", "b"], "occurred_at": times},
                             geometry=gpd.points_from_xy([X0, X0 + 10], [Y0, Y0]), crs=GK_117)
    local = knox_table(frame, space_m=(0, 100), time_days=(0, 7), permutations=0)
    utc = knox_table(frame, space_m=(0, 100), time_days=(0, 7), permutations=0, timezone="UTC")
    assert local.table().to_numpy().tolist() == [[0, 0], [0, 1]]
    assert utc.table().to_numpy().tolist() == [[0, 0], [1, 0]]


def test_left_out_incidents_are_counted():
    frame = incidents(HAND_XY, HAND_DAYS, location_precision=["exact", "address", "exact",
                                                               "centroid", "exact", "exact"])
    frame.loc[4, "geometry"] = None
    frame.loc[5, "occurred_at"] = pd.NaT
    result = knox_table(frame, space_m=(0, 100, 200), time_days=(0, 7, 14), permutations=0,
                        metric_crs=GK_117)
    assert (result.no_location, result.coarse_location, result.no_time) == (1, 1, 1)
    assert result.n_incidents == 3  # A, B and C: pairs AB and AC, BC
    assert result.table().to_numpy().tolist() == [[1, 0, 0], [0, 2, 0], [0, 0, 0]]


def spread_points(n, side_m, seed):
    """Points with no pair within 0.1 m of 0.5, 100, 200, 400 or 800 m."""
    xy = np.random.default_rng(seed).uniform(0, side_m, (n, 2))
    edges = np.array([0.5, 100, 200, 400, 800])
    while True:
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        bad = (np.abs(d[..., None] - edges).min(axis=-1) < 0.1) & ~np.eye(len(xy), dtype=bool)
        if not bad.any():
            return xy
        xy = np.delete(xy, bad.sum(axis=1).argmax(), axis=0)


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_feet_and_degrees_give_the_same_table():
    xy = spread_points(400, 3000, seed=3)
    days = np.random.default_rng(4).integers(0, 120, len(xy))
    metric = incidents(xy, days)
    tables = [knox_table(frame, permutations=49, cumulative=cumulative)
              for frame in (metric, metric.to_crs(FEET), metric.to_crs(4326))
              for cumulative in (False, True)]
    assert all(t.metric_crs.to_epsg() == 4548 for t in tables)
    assert tables[0].table().to_numpy().sum() > 500
    for k in (0, 1):
        for other in tables[2 + k::2]:
            pd.testing.assert_frame_equal(other.frame, tables[k].frame)


@pytest.mark.slow
def test_cumulative_counts_equal_pointpats_knox():
    rng = np.random.default_rng(11)
    n = 5000
    xy = rng.uniform(0, 6000, (n, 2))
    days = rng.integers(0, 365, n)
    frame = incidents(xy, days)
    result = knox_table(frame, cumulative=True, permutations=0, metric_crs=GK_117)
    coords = np.column_stack([X0 + xy[:, 0], Y0 + xy[:, 1]])
    # pointpats builds Python sets of neighbours: two thresholds keep this test short.
    for delta, tau in [(100, 7), (800, 60)]:
        ours = result.frame.query("space_to_m == @delta and time_to_days == @tau").iloc[0]
        theirs = Knox(coords, days.reshape(-1, 1).astype(float), delta=delta, tau=tau,
                      permutations=0)
        assert ours.observed == theirs.nst
        # Their expected space-time count is N_s N_t / C(n, 2) too (not a p value).
        assert ours.expected_analytic == pytest.approx(theirs.expected[0][0], rel=1e-12)


def test_pair_list_matches_brute_force_counts():
    rng = np.random.default_rng(8)
    xy = np.round(rng.uniform(0, 2000, (700, 2)), 0)  # integer metres: many exact edges
    days = rng.integers(0, 90, len(xy))
    result = knox_table(incidents(xy, days), permutations=0, metric_crs=GK_117)
    i, j = np.triu_indices(len(xy), 1)
    d = np.sqrt(((xy[i] - xy[j]) ** 2).sum(axis=1))
    gap = np.abs(days[i] - days[j])
    s_band = np.searchsorted([0.5, 100, 200, 400, 800], d, side="left")
    t_band = np.searchsorted([0, 7, 14, 30, 60], gap, side="left")
    keep = (s_band < 5) & (t_band < 5)
    brute = np.zeros((5, 5), dtype=int)
    np.add.at(brute, (s_band[keep], t_band[keep]), 1)
    assert np.array_equal(result.table().to_numpy(), brute)
    assert result.n_pairs == int((d <= 800).sum())


def near_repeat_city(seed=2):
    """300 scattered incidents over a year plus 120 repeats 5-40 m and 1-5 days after one."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 5000, (300, 2))
    days = rng.integers(0, 365, 300)
    parent = rng.choice(300, 120, replace=False)
    angle = rng.uniform(0, 2 * np.pi, 120)
    dist = rng.uniform(5, 40, 120)
    rep_xy = xy[parent] + np.column_stack([np.cos(angle), np.sin(angle)]) * dist[:, None]
    rep_days = days[parent] + rng.integers(1, 6, 120)
    return np.vstack([xy, rep_xy]), np.concatenate([days, rep_days])


def test_near_repeats_are_found():
    xy, days = near_repeat_city()
    result = knox_table(incidents(xy, days), space_m=(0, 100, 200, 400),
                        time_days=(0, 7, 14, 30), permutations=999, metric_crs=GK_117)
    cell = result.frame.query("space_band == '0.5-100 m' and time_band == '1-7 days'").iloc[0]
    assert cell.observed >= 120
    assert cell.knox_ratio > 10
    assert cell.p_value == pytest.approx(1 / 1000)
    # At 0.005 a chance cell among the 20 is unlikely (at 0.05 one is expected).
    significant = result.significant(alpha=0.005)
    assert list(zip(significant.space_band, significant.time_band, strict=True)) == [
        ("0.5-100 m", "1-7 days")]


def hand_result(rows):
    """A KnoxResult whose table is given: (space_to_m, time_to_days, p_value, knox_ratio)."""
    frame = pd.DataFrame(rows, columns=["space_to_m", "time_to_days", "p_value", "knox_ratio"])
    frame["space_band"] = [f"{s}" for s in frame.space_to_m]
    frame["time_band"] = [f"{t}" for t in frame.time_to_days]
    return KnoxResult(frame=frame, cumulative=False, space_m=(0, 100, 200, 400),
                      time_days=(0, 7, 14), permutations=99, seed=1, timezone="Asia/Shanghai",
                      metric_crs=pyproj.CRS(GK_117), n_incidents=0, n_pairs=0, total_pairs=0,
                      no_location=0, coarse_location=0, no_time=0, notes=())


def test_risk_zones_on_a_constructed_case():
    table = hand_result([
        (100.0, 7, 0.01, 2.0),    # significant
        (200.0, 14, 0.03, 1.5),   # significant: the farthest, so radius 200 m for 14 days
        (200.0, 7, 0.20, 1.5),    # p too large
        (400.0, 0, 0.01, 1.1),    # ratio too small
        (400.0, 7, 0.05, 1.2),    # on both limits: significant, farther still
        (400.0, 14, 0.04, 1.3),   # significant too: 400 m lasts 14 days
    ])
    as_of = dt.date(2025, 3, 31)
    local = ["2025-03-31 08:00", "2025-03-18 23:00", "2025-03-17 12:00", "2025-04-01 09:00",
             "2025-03-30 12:00", "2025-03-25 12:00"]
    occurred = pd.DatetimeIndex(local).tz_localize("Asia/Shanghai").tz_convert("UTC")
    frame = gpd.GeoDataFrame(
        {"id": ["new", "edge", "old", "future", "coarse", "mid"], "occurred_at": occurred,
         "location_precision": ["exact", "exact", "exact", "exact", "centroid", "address"]},
        geometry=gpd.points_from_xy(X0 + np.arange(6) * 1000.0, np.full(6, Y0)), crs=GK_117)
    zones = risk_zones(frame, table, as_of=as_of)
    assert (zones.radius_m, zones.days) == (400.0, 14)
    assert zones.frame["incident_id"].tolist() == ["new", "edge", "mid"]
    assert zones.frame["expires_on"].tolist() == [dt.date(2025, 4, 14), dt.date(2025, 4, 1),
                                                  dt.date(2025, 4, 8)]
    assert zones.frame["occurred_on"].tolist() == [as_of, dt.date(2025, 3, 18),
                                                   dt.date(2025, 3, 25)]
    circle = zones.frame.geometry.iloc[0]
    assert circle.contains(shapely.Point(X0 + 399, Y0))
    assert not circle.contains(shapely.Point(X0 + 401, Y0))
    assert circle.area == pytest.approx(np.pi * 400**2, rel=0.01)
    # A shorter window: "edge" (18 March) is no longer recent.
    short = risk_zones(frame, table, as_of=as_of, recent_days=13)
    assert short.frame["incident_id"].tolist() == ["new", "mid"]
    # With a stricter ratio only the 100 m / 7 day cell and 200 m / 14 day cell remain: the
    # 25 March incident's 14-day zone is still active, nothing has expired.
    strict = risk_zones(frame, table, as_of=as_of, min_ratio=1.5)
    assert (strict.radius_m, strict.days, strict.expired) == (200.0, 14, 0)


def test_risk_zones_expire_and_follow_the_incidents_crs():
    table = hand_result([(100.0, 7, 0.01, 2.0)])
    frame = incidents([(0, 0), (10, 0)], [0, 9]).to_crs(4326)
    zones = risk_zones(frame, table, as_of=dt.date(2025, 1, 10))
    # Day 0 is 1 January: its zone ran to 8 January and has expired; day 9 runs to 17 January.
    assert zones.frame["incident_id"].tolist() == ["i1"]
    assert zones.expired == 1
    assert zones.frame.crs.to_epsg() == 4326
    assert zones.frame["expires_on"].iloc[0] == dt.date(2025, 1, 17)


def test_risk_zones_from_a_computed_table():
    xy, days = near_repeat_city()
    frame = incidents(xy, days)
    table = knox_table(frame, space_m=(0, 100, 200, 400), time_days=(0, 7, 14, 30),
                       permutations=999)
    zones = risk_zones(frame, table, alpha=0.005)
    assert (zones.radius_m, zones.days) == (100.0, 7)
    last = DAY0.date() + dt.timedelta(days=int(days.max()))
    assert zones.as_of == last
    recent = days > days.max() - 14
    assert len(zones.frame) + zones.expired == int(recent.sum())
    none = risk_zones(frame, table, alpha=0.005, min_ratio=1000)
    assert none.frame.empty and none.radius_m is None


@pytest.mark.parametrize(("options", "parameter"), [
    ({"space_m": (10, 100)}, "space_m"),
    ({"space_m": (0, 0.5, 100)}, "space_m"),
    ({"space_m": (0, 200, 100)}, "space_m"),
    ({"space_m": "0,100"}, "space_m"),
    ({"space_m": (0, -1)}, "space_m"),
    ({"time_days": (0, 7.5)}, "time_days"),
    ({"time_days": (1, 7)}, "time_days"),
    ({"time_days": (0,)}, "time_days"),
    ({"permutations": -1}, "permutations"),
    ({"permutations": True}, "permutations"),
    ({"seed": 1.5}, "seed"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"exclude_precisions": "centroid"}, "exclude_precisions"),
    ({"exclude_precisions": ["rough"]}, "exclude_precisions"),
    ({"metric_crs": 4326}, "metric_crs"),
])
def test_bad_options_are_refused(options, parameter):
    with pytest.raises(ParameterError, match=parameter) as info:
        hand_knox(**options)
    assert info.value.parameter == parameter


def test_bad_inputs_are_refused():
    frame = incidents(HAND_XY, HAND_DAYS)
    with pytest.raises(InputError, match="GeoDataFrame"):
        knox_table(pd.DataFrame(frame))
    with pytest.raises(InputError, match="occurred_at"):
        knox_table(frame.drop(columns="occurred_at"))
    with pytest.raises(InputError, match="CRS"):
        knox_table(frame.set_crs(None, allow_override=True))
    lines = frame.copy()
    lines.loc[0, "geometry"] = shapely.LineString([(X0, Y0), (X0 + 1, Y0)])
    with pytest.raises(InputError, match="points"):
        knox_table(lines)
    with pytest.raises(MissingDataError, match="at least two"):
        knox_table(frame.iloc[:1], metric_crs=GK_117)
    with pytest.raises(LimitError, match="max_pairs"):
        knox_table(frame, metric_crs=GK_117, max_pairs=5)
    with pytest.raises(ParameterError, match="column"):
        hand_knox().table("nonsense")
    with pytest.raises(ParameterError, match="alpha"):
        hand_knox().significant(alpha=0)
    with pytest.raises(ParameterError, match="as_of"):
        risk_zones(frame, hand_knox(), as_of="2025-01-01")
    with pytest.raises(ParameterError, match="knox"):
        risk_zones(frame, "table")
    with pytest.raises(InputError, match="id"):
        risk_zones(frame.drop(columns="id"), hand_knox())
    with pytest.raises(ParameterError, match="recent_days"):
        risk_zones(frame, hand_knox(), recent_days=0)


def test_inputs_are_not_modified():
    frame = incidents(HAND_XY, HAND_DAYS)
    before = frame.copy()
    hand_knox()
    risk_zones(frame, hand_knox(permutations=19))
    pd.testing.assert_frame_equal(frame, before)


def test_every_pair_is_counted_once():
    # Points on a lattice 50 m apart in bucket corners: pairs straddle bucket edges every way.
    xy = np.array(list(itertools.product(range(0, 1000, 50), repeat=2)), dtype=float)
    days = np.zeros(len(xy), dtype=int)
    result = knox_table(incidents(xy, days), space_m=(0, 100), time_days=(0, 1),
                        permutations=0, metric_crs=GK_117)
    i, j = np.triu_indices(len(xy), 1)
    d = np.hypot(*(xy[i] - xy[j]).T)
    assert result.table().iloc[1, 0] == int(((d > 0.5) & (d <= 100)).sum())


def test_published_case_series_burkitt_lymphoma():
    # 188 cases of Burkitt's lymphoma in the West Nile district of Uganda, 1961-1975
    # (Williams et al. 1978, Br J Cancer 37:109), as shipped with libpysal: X and Y in km,
    # T in days. The cumulative Knox counts must equal the pairs counted directly.
    from libpysal.examples import get_path

    cases = gpd.read_file(get_path("burkitt.shp"))
    x = cases["X"].to_numpy() * 1000.0
    y = cases["Y"].to_numpy() * 1000.0
    days = cases["T"].to_numpy().astype(int)
    frame = gpd.GeoDataFrame(
        {"id": cases["ID"].astype(int).astype(str),
         "occurred_at": (pd.Timestamp("2000-01-01 12:00", tz="Asia/Shanghai")
                         + pd.to_timedelta(days, unit="D")).tz_convert("UTC")},
        geometry=gpd.points_from_xy(X0 + x, Y0 + y), crs=GK_117)
    result = knox_table(frame, space_m=(0, 1000, 5000, 10_000, 20_000),
                        time_days=(0, 30, 60, 180, 365), cumulative=True, permutations=0)
    i, j = np.triu_indices(len(x), 1)
    d = np.hypot(x[i] - x[j], y[i] - y[j])
    gap = np.abs(days[i] - days[j])
    for row in result.frame.itertuples():
        delta = 0.5 if row.space_band == "same location" else row.space_to_m
        assert row.observed == int(((d <= delta) & (gap <= row.time_to_days)).sum())
    # and the classic Knox pair at 5 km and 60 days as pointpats counts it
    knox = Knox(np.column_stack([x, y]), days.reshape(-1, 1).astype(float), delta=5000,
                tau=60, permutations=0)
    assert result.frame.query("space_to_m == 5000 and time_to_days == 60").observed.iloc[0] \
        == knox.nst


def test_threads_may_call_at_once():
    # A threaded server runs requests side by side; the parallel kernels must not clash.
    from concurrent.futures import ThreadPoolExecutor

    xy, days = near_repeat_city()
    frame = incidents(xy, days)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda seed: knox_table(frame, permutations=99, seed=seed),
                                [1, 1, 2, 2]))
    pd.testing.assert_frame_equal(results[0].frame, results[1].frame)
    pd.testing.assert_frame_equal(results[2].frame, results[3].frame)


@pytest.mark.parametrize("options, name", [({"space_m": []}, "space_m"),
                                           ({"time_days": []}, "time_days"),
                                           ({"space_m": [0]}, "space_m")])
def test_empty_or_single_band_edges_are_refused(options, name):
    # found by schemathesis: an empty space_m raised IndexError (a 500) instead of a 422
    with pytest.raises(ParameterError, match=f"{name} must") as info:
        knox_table(incidents(HAND_XY, HAND_DAYS), permutations=0, **options)
    assert info.value.parameter == name
