"""Tests for geo.coverage, geo.population, geo.nearest and geo.inventory.

Hand-drawn geometry in EPSG:4548 metres, handed over in EPSG:4326.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo.coverage import (
    SERVICE_RADIUS_BASIS,
    SERVICE_RADIUS_M,
    facility_coverage,
    facility_workload,
)
from geo.errors import MissingDataError
from geo.inventory import existing_during
from geo.nearest import nearest_facility
from geo.population import place_population
from geo.projection import choose_metric_crs

GK = 4548  # CGCS2000 3-degree Gauss-Kruger CM 117E
X0, Y0 = 500_000.0, 4_400_000.0


def _wgs84(geoms, crs=GK):
    return gpd.GeoSeries(geoms, crs=crs).to_crs(4326).to_numpy()


def _frame(data, geoms, crs=GK):
    return gpd.GeoDataFrame(data, geometry=_wgs84(geoms, crs), crs=4326)


def _box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def _polygon_area(n, r):
    """Area of a regular n-gon inscribed in a circle of radius r."""
    return n / 2 * r * r * math.sin(2 * math.pi / n)


def _facilities(rows, crs=GK):
    """rows: (id, type, x, y[, opened_on, closed_on]) with x, y absolute in ``crs``."""
    rows = [(*r, None, None)[:6] for r in rows]
    df = pd.DataFrame(rows, columns=["id", "type", "x", "y", "opened_on", "closed_on"])
    for c in ("opened_on", "closed_on"):
        df[c] = pd.to_datetime(df[c])
    geoms = [shapely.Point(x, y) for x, y in zip(df.pop("x"), df.pop("y"), strict=True)]
    df["name"] = df["id"].str.upper()
    return _frame(df, geoms, crs)


def _fac(i, x, y, kind="police_station", opened=None, closed=None):
    return (i, kind, X0 + x, Y0 + y, opened, closed)


# ------------------------------------------------------------------------------ helpers


def test_existing_during_uses_inclusive_start_and_exclusive_end():
    frame = pd.DataFrame({
        "opened_on": pd.to_datetime(["2024-12-31", "2025-01-01", None, None, "2020-01-01"]),
        "closed_on": pd.to_datetime([None, None, "2024-01-01", "2024-01-02", None]),
    })
    keep = existing_during(frame, "2024", start_column="opened_on", end_column="closed_on")
    assert keep.tolist() == [True, False, False, True, True]
    only_end = existing_during(frame, "2024-Q1", start_column=None, end_column="closed_on")
    assert only_end.tolist() == [True, True, False, True, True]
    with pytest.raises(ValueError, match="removed_on: no such column"):
        existing_during(frame, "2024", start_column=None, end_column="removed_on")
    with pytest.raises(ValueError, match="must hold dates"):
        existing_during(frame.assign(opened_on="soon"), "2024", start_column="opened_on",
                        end_column=None)
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        existing_during([1], "2024", start_column=None, end_column=None)


def test_service_radius_defaults_have_a_stated_basis():
    assert set(SERVICE_RADIUS_M) == set(SERVICE_RADIUS_BASIS)
    assert SERVICE_RADIUS_M["police_station"] == 1500 and SERVICE_RADIUS_M["fire_station"] == 3000
    assert "no published source" in SERVICE_RADIUS_BASIS["police_station"]
    assert "GB 50180-2018" in SERVICE_RADIUS_BASIS["health_station"]


def test_choose_metric_crs():
    comm = _frame({"code": ["A"]}, [_box(0, 0, 100, 100)])
    assert choose_metric_crs(comm).to_epsg() == GK
    assert choose_metric_crs(comm, metric_crs="EPSG:32650").to_epsg() == 32650
    with pytest.raises(ValueError, match="metric_crs must be a CRS"):
        choose_metric_crs(comm, metric_crs="not a crs")
    with pytest.raises(MissingDataError, match="no geometry to choose"):
        choose_metric_crs(comm.iloc[:0])


# ------------------------------------------------------------------------------ coverage


def _dumbbell(population=1000.0):
    """Community A: two 100 m squares, one 100-200 m east of the facility, one 1,000 m east."""
    geom = shapely.union(_box(100, 0, 200, 100), _box(1000, 0, 1100, 100))
    return _frame({"code": ["A"], "name": ["Dumbbell"], "population": [population]}, [geom])


def test_community_half_inside_the_service_radius():
    fac = _facilities([_fac("p1", 0, 0)])
    res = facility_coverage(_dumbbell(), fac, facility_type="police_station", radius_m=500,
                            metric_crs=GK)
    row = res.frame.loc["A"]
    assert row["facility_covered_area_share"] == pytest.approx(0.5, abs=1e-9)
    assert row["facility_covered_population_share"] == pytest.approx(0.5, abs=1e-9)
    assert row["facility_uncovered_population"] == pytest.approx(500.0, abs=1e-6)
    assert row["area_km2"] == pytest.approx(0.02, rel=1e-9)
    gap = res.gaps.set_index("code").loc["A"]
    assert gap["gap_area_m2"] == pytest.approx(10_000, rel=1e-9)
    assert gap["population"] == pytest.approx(500.0)
    assert res.gaps.crs.to_epsg() == 4326
    back = gpd.GeoSeries([gap["geometry"]], crs=4326).to_crs(GK).iloc[0]
    assert back.bounds == pytest.approx((X0 + 1000, Y0, X0 + 1100, Y0 + 100), abs=1e-6)
    assert res.effective_radius_m == 500 and res.facilities_used == 1


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_detour_factor_shrinks_the_radius():
    fac = _facilities([_fac("p1", 0, 0)])
    # 1,600 m straight line reaches the far square; at a detour factor of 2 it does not
    straight = facility_coverage(_dumbbell(), fac, facility_type="police_station",
                                 radius_m=1600, metric_crs=GK)
    walked = facility_coverage(_dumbbell(), fac, facility_type="police_station",
                               radius_m=1600, detour_factor=2.0, metric_crs=GK)
    assert straight.frame.loc["A", "facility_covered_area_share"] == pytest.approx(1.0)
    assert walked.frame.loc["A", "facility_covered_area_share"] == pytest.approx(0.5)
    assert walked.effective_radius_m == 800


def test_facility_at_the_middle_of_an_edge_covers_a_half_disc():
    comm = _frame({"code": ["S"], "name": ["Square"], "population": [100.0]},
                  [_box(-500, 0, 500, 1000)])
    fac = _facilities([_fac("p1", 0, 0)])
    res = facility_coverage(comm, fac, facility_type="police_station", radius_m=500,
                            metric_crs=GK)
    share = res.frame.loc["S", "facility_covered_area_share"]
    # the 64-gon has vertices at 0 and 180 degrees: exactly half of it lies in the square
    assert share == pytest.approx(_polygon_area(64, 500) / 2 / 1e6, rel=1e-9)
    bound = 64 / (2 * math.pi) * math.sin(2 * math.pi / 64)
    assert math.pi / 8 * bound <= share * (1 + 1e-12) and share <= math.pi / 8


def _square_with_compounds():
    comm = _frame({"code": ["Q"], "name": ["Q"], "population": [1000.0]},
                  [_box(0, 0, 1000, 1000)])
    compounds = _frame(
        {"id": ["near", "hh"], "population": [600.0, np.nan], "households": [np.nan, 100.0],
         "removed_on": pd.to_datetime([None, None])},
        [_box(0, 0, 100, 100), _pt(900, 900)],
    )
    return comm, compounds


def test_population_is_placed_on_compounds_first():
    comm, compounds = _square_with_compounds()
    fac = _facilities([_fac("p1", 0, 0)])
    res = facility_coverage(comm, fac, facility_type="police_station", radius_m=300,
                            compounds=compounds, metric_crs=GK)
    quarter = _polygon_area(64, 300) / 4  # vertices at 0 and 90 degrees
    # 600 in the near compound (covered), 262 at the far point (not), 138 spread over the rest
    rest = 1000 - 600 - 262
    covered = 600 + rest * (quarter - 10_000) / (1e6 - 10_000)
    row = res.frame.loc["Q"]
    assert row["facility_covered_population_share"] == pytest.approx(covered / 1000, rel=1e-9)
    assert row["facility_uncovered_population"] == pytest.approx(1000 - covered, rel=1e-9)
    assert row["facility_covered_area_share"] == pytest.approx(quarter / 1e6, rel=1e-9)
    parts = res.placement.parts
    assert parts["population"].sum() == pytest.approx(1000)
    assert res.placement.points["population"].sum() == pytest.approx(1000)
    assert res.placement.compounds_used == 2


def test_facility_types_can_share_one_placement():
    comm, compounds = _square_with_compounds()
    fac = _facilities([_fac("p1", 0, 0), _fac("f1", 900, 900, kind="fire_station")])
    placement = place_population(comm, compounds=compounds, metric_crs=GK)
    for kind, radius in (("police_station", 300), ("fire_station", 200)):
        alone = facility_coverage(comm, fac, facility_type=kind, radius_m=radius,
                                  compounds=compounds, metric_crs=GK)
        shared = facility_coverage(comm, fac, facility_type=kind, radius_m=radius,
                                   compounds=compounds, metric_crs=GK, placement=placement)
        pd.testing.assert_frame_equal(shared.frame, alone.frame)
        assert shared.placement is placement
    # the far compound's 262 residents (100 households) are covered by the fire station alone
    fire = facility_coverage(comm, fac, facility_type="fire_station", radius_m=200,
                             compounds=compounds, metric_crs=GK, placement=placement)
    assert fire.frame.loc["Q", "facility_covered_population_share"] > 0.262
    coarse = place_population(comm, compounds=compounds, metric_crs=GK, cell_m=250.0)
    with pytest.raises(ValueError, match=r"placement was made in .* cell_m 250.*expected"):
        facility_coverage(comm, fac, facility_type="police_station", radius_m=300,
                          compounds=compounds, metric_crs=GK, placement=coarse)


def test_population_weighted_distance_on_point_compounds():
    comm = _frame({"code": ["D"], "name": ["D"], "population": [100.0]},
                  [_box(-1000, -1000, 1000, 1000)])
    compounds = _frame({"id": ["a", "b"], "population": [75.0, 25.0]},
                       [_pt(300, 0), _pt(0, -700)])
    fac = _facilities([_fac("p1", 0, 0), _fac("other-type", 300, 0, kind="fire_station")])
    res = facility_coverage(comm, fac, facility_type="police_station", radius_m=500,
                            compounds=compounds, metric_crs=GK)
    row = res.frame.loc["D"]
    assert row["facility_distance_m"] == pytest.approx((75 * 300 + 25 * 700) / 100, abs=1e-6)
    assert row["facility_covered_population_share"] == pytest.approx(0.75)
    assert row["facility_uncovered_population"] == pytest.approx(25.0)


def test_compounds_holding_more_than_the_community_are_scaled_down():
    comm, compounds = _square_with_compounds()
    placement = place_population(comm.assign(population=431.0), compounds=compounds,
                                 metric_crs=GK)
    parts = placement.parts.set_index("compound_id")
    assert placement.scaled_codes == ("Q",)
    assert parts.loc["near", "population"] == pytest.approx(431 * 600 / 862)
    assert placement.population.loc["Q"] == 431.0
    assert (placement.parts["kind"] == "area").sum() == 0


def test_demand_points_split_the_area_by_grid_cells():
    comm = _frame({"code": ["G"], "name": ["G"], "population": [1000.0]},
                  [_box(0, 0, 250, 100)])
    placement = place_population(comm, cell_m=100.0, metric_crs=GK)
    pts = placement.points
    assert len(pts) == 3  # cells cut at x0 + 200 (X0 is a multiple of 100)
    assert sorted(pts["population"].round(6)) == [200.0, 400.0, 400.0]


def test_no_facility_of_the_type_leaves_everything_uncovered_and_ranks_communities():
    comm = _frame({"code": ["A", "B"], "name": ["a", "b"], "population": [10.0, 30.0]},
                  [_box(0, 0, 100, 100), _box(200, 0, 300, 100)])
    fac = _facilities([_fac("p1", 0, 0, closed="2023-01-01")])
    res = facility_coverage(comm, fac, facility_type="police_station", period="2024",
                            metric_crs=GK)
    assert res.facilities_used == 0 and res.notes
    assert (res.frame["facility_covered_area_share"] == 0).all()
    assert res.frame["facility_distance_m"].isna().all()
    assert res.ranking["code"].tolist() == ["B", "A"]
    assert res.ranking["rank"].tolist() == [1, 2]
    assert res.radius_m == SERVICE_RADIUS_M["police_station"]


def test_community_without_population_has_nan_population_metrics():
    comm = _dumbbell(population=np.nan)
    fac = _facilities([_fac("p1", 0, 0)])
    res = facility_coverage(comm, fac, facility_type="police_station", radius_m=500,
                            metric_crs=GK)
    row = res.frame.loc["A"]
    assert row["facility_covered_area_share"] == pytest.approx(0.5)
    assert np.isnan(row["facility_covered_population_share"])
    assert np.isnan(row["facility_uncovered_population"])
    assert np.isnan(row["facility_distance_m"])


def test_coverage_errors():
    comm = _dumbbell()
    fac = _facilities([_fac("p1", 0, 0)])
    with pytest.raises(ValueError, match="detour_factor must be a number >= 1"):
        facility_coverage(comm, fac, facility_type="police_station", detour_factor=0.5)
    with pytest.raises(ValueError, match="has no default radius"):
        facility_coverage(comm, fac, facility_type="library")
    with pytest.raises(TypeError, match="facility_type must be a non-empty str"):
        facility_coverage(comm, fac, facility_type=None)
    with pytest.raises(ValueError, match="radius_m must be a positive number"):
        facility_coverage(comm, fac, facility_type="police_station", radius_m=-1)
    with pytest.raises(ValueError, match="circle_segments must be a multiple of 4"):
        facility_coverage(comm, fac, facility_type="police_station", circle_segments=30)
    with pytest.raises(ValueError, match="facilities lacks column"):
        facility_coverage(comm, fac.drop(columns="type"), facility_type="police_station")
    with pytest.raises(ValueError, match="population must be >= 0"):
        facility_coverage(comm.assign(population=-1.0), fac, facility_type="police_station")
    with pytest.raises(ValueError, match="different CRSs"):
        facility_coverage(comm, fac.to_crs(GK), facility_type="police_station")
    with pytest.raises(ValueError, match="communities has no CRS"):
        facility_coverage(comm.set_crs(None, allow_override=True), fac,
                          facility_type="police_station")
    with pytest.raises(ValueError, match="polygons must be valid"):
        bowtie = shapely.Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)])
        facility_coverage(_frame({"code": ["X"]}, [bowtie]), fac, facility_type="police_station")
    with pytest.raises(ValueError, match="cell_m must be a positive number"):
        place_population(comm, cell_m=0)


# ------------------------------------------------------------------------------ nearest


def test_nearest_facility_hand_case():
    fac = _facilities([_fac("a", 0, 0), _fac("b", 1000, 0), _fac("tie", 0, 0)])
    pts = _frame({"n": [1, 2, 3]}, [_pt(300, 400), _pt(1000, -250), None])
    res = nearest_facility(pts, fac, metric_crs=GK)
    assert res.index.equals(pts.index)
    assert res["distance_m"].iloc[0] == pytest.approx(500.0, abs=1e-6)
    assert res["facility_id"].iloc[0] == "a"  # listed before "tie" at the same spot
    assert res["distance_m"].iloc[1] == pytest.approx(250.0, abs=1e-6)
    assert res["facility_id"].iloc[1] == "b"
    assert np.isnan(res["distance_m"].iloc[2]) and pd.isna(res["facility_id"].iloc[2])


def test_nearest_facility_matches_sjoin_nearest_exactly():
    rng = np.random.default_rng(7)
    pts_m = gpd.GeoSeries(shapely.points(X0 + rng.uniform(-5e3, 5e3, (500, 2))), crs=GK)
    fac_m = gpd.GeoDataFrame({"id": [f"f{i}" for i in range(40)]},
                             geometry=shapely.points(X0 + rng.uniform(-5e3, 5e3, (40, 2))),
                             crs=GK)
    ours = nearest_facility(pts_m, fac_m)
    theirs = gpd.sjoin_nearest(gpd.GeoDataFrame(geometry=pts_m), fac_m, distance_col="d")
    theirs = theirs[~theirs.index.duplicated()]
    assert np.array_equal(ours["distance_m"].to_numpy(), theirs["d"].to_numpy())


def test_nearest_facility_for_many_points_matches_sjoin_nearest_exactly():
    # 64 points or more per facility take the grid path of the nearest-facility query
    rng = np.random.default_rng(8)
    pts_m = gpd.GeoSeries(shapely.points(X0 + rng.uniform(-5e3, 5e3, (4_000, 2))), crs=GK)
    fac_m = gpd.GeoDataFrame({"id": [f"f{i}" for i in range(25)]},
                             geometry=shapely.points(X0 + rng.uniform(-6e3, 6e3, (25, 2))),
                             crs=GK)
    ours = nearest_facility(pts_m, fac_m)
    theirs = gpd.sjoin_nearest(gpd.GeoDataFrame(geometry=pts_m), fac_m, distance_col="d")
    theirs = theirs[~theirs.index.duplicated()]
    assert np.array_equal(ours["distance_m"].to_numpy(), theirs["d"].to_numpy())
    assert (ours["facility_id"].astype(str).to_numpy() == theirs["id"].to_numpy()).all()


def test_nearest_facility_grid_path_gives_ties_to_the_facility_listed_first():
    # Points and facilities on a 10 m lattice: many points are equally far from two or four
    # facilities; the one listed first must win, as on the k-d tree path.
    fx, fy = np.meshgrid(np.arange(0, 100, 20.0), np.arange(0, 100, 20.0))
    order = np.random.default_rng(2).permutation(fx.size)
    fac_xy = np.column_stack([fx.ravel(), fy.ravel()])[order]
    px, py = np.meshgrid(np.arange(-10, 110, 10.0), np.arange(-10, 110, 10.0))
    pt_xy = np.repeat(np.column_stack([px.ravel(), py.ravel()]), 12, axis=0)  # 69 per facility
    fac = gpd.GeoDataFrame({"id": [f"f{i}" for i in range(len(fac_xy))]},
                           geometry=shapely.points(fac_xy + np.array([X0, Y0])), crs=GK)
    res = nearest_facility(gpd.GeoSeries(shapely.points(pt_xy + np.array([X0, Y0])), crs=GK), fac)
    dx = pt_xy[:, None, 0] - fac_xy[None, :, 0]
    dy = pt_xy[:, None, 1] - fac_xy[None, :, 1]
    d = np.sqrt(dx * dx + dy * dy)
    first = d.argmin(axis=1)  # argmin takes the first of equal minima
    assert (d == d.min(axis=1, keepdims=True)).sum(axis=1).max() == 4  # ties are there
    np.testing.assert_array_equal(res["distance_m"].to_numpy(), d.min(axis=1))
    assert (res["facility_id"].astype(str).to_numpy() == fac["id"].to_numpy()[first]).all()


def _ground_tolerance(lon, lat, crs):
    """Largest |k - 1| of the projection's point scale over the points, plus rounding."""
    factors = pyproj.Proj(crs).get_factors(lon, lat)
    return float(np.max(np.abs(np.asarray(factors.meridional_scale) - 1))) + 1e-6


@pytest.mark.parametrize(
    ("source", "origin", "expected_metric"),
    [
        (2263, (-73.95, 40.75), 32618),  # NY Long Island, US survey feet -> UTM 18N
        (3857, (-73.95, 40.75), 32618),  # Web Mercator: 1 unit = cos(lat) ground metres
        (3857, (116.40, 39.90), 4548),  # Beijing in Web Mercator -> CGCS2000 GK CM 117E
    ],
)
def test_distances_are_ground_metres_whatever_the_source_crs(source, origin, expected_metric):
    geod = pyproj.Geod(ellps="WGS84")
    lon0, lat0 = origin
    rng = np.random.default_rng(3)
    fac_lon, fac_lat, _ = geod.fwd([lon0] * 3, [lat0] * 3, [0, 120, 240], [2000, 3000, 4000])
    pt_lon, pt_lat, _ = geod.fwd(np.full(50, lon0), np.full(50, lat0),
                                 rng.uniform(0, 360, 50), rng.uniform(0, 6000, 50))
    to_source = pyproj.Transformer.from_crs(4326, source, always_xy=True)
    sx, sy = to_source.transform(pt_lon, pt_lat)
    fx, fy = to_source.transform(fac_lon, fac_lat)
    # the files come in the source CRS; the readers convert them to EPSG:4326
    pts = gpd.GeoSeries(shapely.points(sx, sy), crs=source).to_crs(4326)
    fac = gpd.GeoDataFrame({"id": ["f0", "f1", "f2"], "type": ["police_station"] * 3},
                           geometry=shapely.points(fx, fy), crs=source).to_crs(4326)
    res = nearest_facility(pts, fac)
    j = res["facility_id"].str[1:].astype(int).to_numpy()
    _, _, ground = geod.inv(pt_lon, pt_lat, np.asarray(fac_lon)[j], np.asarray(fac_lat)[j])
    crs = choose_metric_crs(pts, fac)
    assert crs.to_epsg() == expected_metric
    tol = _ground_tolerance(np.r_[pt_lon, fac_lon], np.r_[pt_lat, fac_lat], crs)
    assert tol < 1e-3
    np.testing.assert_allclose(res["distance_m"], ground, rtol=tol, atol=1e-3)
    # the same distances taken in the source units would be far off
    naive = np.hypot(sx - np.asarray(fx)[j], sy - np.asarray(fy)[j])
    assert np.median(np.abs(naive / ground - 1)) > 0.25


def test_nearest_facility_errors():
    fac = _facilities([_fac("a", 0, 0)])
    pts = _frame({"n": [1]}, [_pt(1, 1)])
    with pytest.raises(TypeError, match="points must be a GeoDataFrame or GeoSeries"):
        nearest_facility([shapely.Point(0, 0)], fac)
    with pytest.raises(ValueError, match="no facility with a location"):
        nearest_facility(pts, fac.set_geometry([None], crs=4326))
    with pytest.raises(ValueError, match="facilities lacks column"):
        nearest_facility(pts, fac.drop(columns="id"))
    with pytest.raises(ValueError, match="points must hold Point"):
        nearest_facility(_frame({"n": [1]}, [_box(0, 0, 1, 1)]), fac)


# ------------------------------------------------------------------------------ workload


def test_facility_workload_hand_case():
    fac = _facilities([_fac("a", 0, 0), _fac("b", 1000, 0), _fac("f", 500, 0, kind="fire_station")])
    inc = _frame({"id": list("abcdef")},
                 [_pt(100, 0), _pt(200, 0), _pt(900, 0), _pt(600, 0), _pt(3000, 0), None])
    res = facility_workload(inc, fac, facility_type="police_station", radius_m=250,
                            metric_crs=GK)
    a, b = res.frame.loc["a"], res.frame.loc["b"]
    assert (a["incidents_catchment"], b["incidents_catchment"]) == (2, 3)
    assert (a["incidents_within_radius"], b["incidents_within_radius"]) == (2, 1)
    assert a["catchment_share"] == pytest.approx(0.4) and b["within_radius_share"] == 0.2
    assert a["name"] == "A"
    assert (res.incidents_total, res.incidents_located, res.incidents_unlocated) == (6, 5, 1)
    assert res.incidents_out_of_reach == 2
    assert "f" not in res.frame.index


def test_facility_workload_without_a_radius_counts_catchments_only():
    fac = _facilities([_fac("a", 0, 0, kind="patrol_post"), _fac("b", 1000, 0, kind="patrol_post")])
    inc = _frame({"id": list("abcd")}, [_pt(100, 0), _pt(200, 0), _pt(900, 0), _pt(600, 0)])
    res = facility_workload(inc, fac, facility_type="patrol_post", metric_crs=GK)
    assert res.frame["incidents_catchment"].to_dict() == {"a": 2, "b": 2}
    assert "incidents_within_radius" not in res.frame.columns
    assert res.radius_m is None and res.incidents_out_of_reach is None
    with pytest.raises(ValueError, match="radius_m must be"):
        facility_workload(inc, fac, facility_type="patrol_post", radius_m=-1, metric_crs=GK)


def test_facility_workload_errors():
    fac = _facilities([_fac("a", 0, 0, closed="2020-01-01")])
    inc = _frame({"id": ["x"]}, [_pt(1, 1)])
    with pytest.raises(ValueError, match="no facility of type 'police_station'"):
        facility_workload(inc, fac, facility_type="police_station", period="2024")
    with pytest.raises(ValueError, match="incidents must hold Point"):
        facility_workload(_frame({"id": ["x"]}, [_box(0, 0, 1, 1)]), fac,
                          facility_type="police_station")
