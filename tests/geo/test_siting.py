"""Tests for geo.siting: maximal covering location on hand-made cases (EPSG:4548 metres)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import LimitError
from geo.siting import candidate_sites, plan_facility_sites, plan_sites

GK = 4548
X0, Y0 = 500_000.0, 4_400_000.0


def _points(xy, data=None):
    geoms = gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y) for x, y in xy], crs=GK).to_crs(4326)
    return gpd.GeoDataFrame(data or {}, geometry=geoms.to_numpy(), crs=4326)


def _box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


# 100 residents around the origin, 10 residents 5 km east
DEMAND = _points([(0, 0), (50, 0), (5000, 0)])
WEIGHTS = np.array([60.0, 40.0, 10.0])
CANDIDATES = _points([(5000, 0), (20, 0), (20_000, 0), (30, 0)],
                     {"id": ["far", "near", "nowhere", "near-too"]})


def test_mclp_picks_the_site_that_covers_the_most_residents():
    plan = plan_sites(DEMAND, WEIGHTS, CANDIDATES, None, k=1, radius_m=500, metric_crs=GK)
    assert plan.sites["candidate_id"].tolist() == ["near"]
    assert plan.sites["population_newly_covered"].tolist() == [100.0]
    assert plan.solver_status == "Optimal"
    assert plan.coverage_before == 0.0
    assert plan.coverage_after == pytest.approx(100 / 110)
    assert (plan.candidates_given, plan.candidates_reaching, plan.candidates_used) == (4, 3, 3)
    assert plan.demand_rows == 2  # the two cluster points are reached by the same candidates
    assert any("reach no uncovered resident" in n for n in plan.notes)
    assert plan.sites.crs.to_epsg() == 4326
    back = plan.sites.to_crs(GK).geometry.iloc[0]
    assert (back.x, back.y) == pytest.approx((X0 + 20, Y0), abs=1e-6)


def test_existing_facilities_remove_the_demand_they_already_cover():
    existing = _points([(10, 10)])
    plan = plan_sites(DEMAND, WEIGHTS, CANDIDATES, existing, k=1, radius_m=500, metric_crs=GK)
    assert plan.sites["candidate_id"].tolist() == ["far"]
    assert plan.coverage_before == pytest.approx(100 / 110)
    assert plan.coverage_after == 1.0
    assert plan.population_covered_after == 110.0


def test_two_sites_and_more_sites_than_useful_candidates():
    plan = plan_sites(DEMAND, WEIGHTS, CANDIDATES, None, k=5, radius_m=500, metric_crs=GK)
    assert plan.k_requested == 5 and plan.k_used == 3
    assert plan.coverage_after == 1.0
    assert any("placing 3 sites instead of 5" in n for n in plan.notes)
    # the two near sites share the cluster: newly covered goes to the nearest, reached to both
    sites = plan.sites.set_index("candidate_id")
    assert sites["population_newly_covered"].sum() == 110.0
    assert sites.loc["near", "population_reached"] == 100.0
    assert sites.loc["near-too", "population_reached"] == 100.0


def test_the_candidate_cap_keeps_the_strongest_candidates():
    plan = plan_sites(DEMAND, WEIGHTS, CANDIDATES, None, k=1, radius_m=500, metric_crs=GK,
                      max_candidates=1)
    assert plan.candidates_used == 1
    assert plan.sites["candidate_id"].tolist() == ["near"]
    assert any("kept the 1 that alone reach the most" in n for n in plan.notes)


def test_the_matrix_bound_keeps_fewer_candidates():
    # 3 candidates make 2 rows (the cluster, the far point): 6 cells; 3 allowed
    plan = plan_sites(DEMAND, WEIGHTS, CANDIDATES, None, k=1, radius_m=500, metric_crs=GK,
                      max_matrix_cells=3)
    assert plan.candidates_used == 2 and plan.demand_rows == 1
    assert plan.sites["candidate_id"].tolist() == ["near"]
    assert any("within max_matrix_cells=3" in n for n in plan.notes)


def test_nothing_to_cover_does_not_run_the_solver():
    existing = _points([(0, 0), (5000, 0)])
    plan = plan_sites(DEMAND, WEIGHTS, CANDIDATES, existing, k=1, radius_m=500, metric_crs=GK)
    assert plan.solver_status == "not run" and plan.sites.empty
    assert plan.coverage_before == plan.coverage_after == 1.0


def test_candidate_sites_from_compounds_and_a_grid():
    comm = gpd.GeoDataFrame({"code": ["A"], "population": [1.0]},
                            geometry=gpd.GeoSeries([_box(0, 0, 1000, 1000)], crs=GK)
                            .to_crs(4326).to_numpy(), crs=4326)
    compounds = gpd.GeoDataFrame(
        {"id": ["c1", "outside"]},
        geometry=gpd.GeoSeries([_box(100, 100, 300, 300), _box(5000, 0, 5100, 100)], crs=GK)
        .to_crs(4326).to_numpy(), crs=4326)
    cands = candidate_sites(comm, compounds=compounds, spacing_m=250, metric_crs=GK)
    assert (cands["source"] == "grid").sum() == 16
    assert cands.loc[cands["source"] == "compound", "id"].tolist() == ["compound:c1"]
    centre = cands.set_index("id").to_crs(GK).loc["compound:c1", "geometry"]
    assert (centre.x, centre.y) == pytest.approx((X0 + 200, Y0 + 200), abs=1e-6)
    assert (cands["code"] == "A").all() and cands.crs.to_epsg() == 4326


def test_plan_facility_sites_end_to_end():
    # A (1,000 residents) is 3 km from the only police station, B (500) next to it
    comm = gpd.GeoDataFrame(
        {"code": ["A", "B"], "name": ["a", "b"], "population": [1000.0, 500.0]},
        geometry=gpd.GeoSeries([_box(3000, 0, 3400, 400), _box(0, 0, 400, 400)], crs=GK)
        .to_crs(4326).to_numpy(), crs=4326)
    fac = _points([(200, 200)], {"id": ["p1"], "type": ["police_station"]})
    plan = plan_facility_sites(comm, fac, facility_type="police_station", k=1, radius_m=500,
                               cell_m=100, candidate_spacing_m=200, metric_crs=GK)
    assert plan.coverage_before == pytest.approx(500 / 1500)
    assert plan.coverage_after == pytest.approx(1.0)
    site = plan.sites.iloc[0]
    assert (site["community_code"], site["community_name"]) == ("A", "a")
    assert (site["lon"], site["lat"]) == pytest.approx((site.geometry.x, site.geometry.y),
                                                       abs=1e-7)
    assert "code" not in plan.sites.columns
    assert plan.sites["population_newly_covered"].iloc[0] == pytest.approx(1000.0)


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_plan_coverage_before_is_the_coverage_reports():
    """Issue 12, item 11: the plan's "before" is facility_coverage's covered residents.

    B's station covers 44 % of B's area at 150 m, but only 4 of B's 16 demand points; the
    plan used to count the points (25 %).
    """
    from geo.coverage import facility_coverage

    comm = gpd.GeoDataFrame(
        {"code": ["A", "B"], "name": ["a", "b"], "population": [1000.0, 500.0]},
        geometry=gpd.GeoSeries([_box(3000, 0, 3400, 400), _box(0, 0, 400, 400)], crs=GK)
        .to_crs(4326).to_numpy(), crs=4326)
    fac = _points([(200, 200)], {"id": ["p1"], "type": ["police_station"]})
    options = {"facility_type": "police_station", "radius_m": 150, "cell_m": 100,
               "metric_crs": GK}
    res = facility_coverage(comm, fac, **options)
    covered = float((res.frame["population"] - res.frame["facility_uncovered_population"]).sum())
    assert covered == pytest.approx(500 * np.pi * 150**2 / 400**2, rel=2e-3)
    plan = plan_facility_sites(comm, fac, k=1, candidate_spacing_m=200, **options)
    assert plan.population_covered_before == pytest.approx(covered, rel=1e-12)
    assert plan.coverage_before == pytest.approx(covered / 1500, rel=1e-12)
    assert plan.population_total == pytest.approx(1500)
    # after: the same rule with the new site's circle added
    with_site = pd.concat([fac, _points([(0, 0)], {"id": ["new"], "type": ["police_station"]})
                           .set_geometry(plan.sites.geometry.to_numpy())], ignore_index=True)
    after = facility_coverage(comm, gpd.GeoDataFrame(with_site, crs=4326), **options)
    assert plan.population_covered_after == pytest.approx(float(
        (after.frame["population"] - after.frame["facility_uncovered_population"]).sum()))
    assert any("as the coverage report measures it" in n for n in plan.notes)


def test_plan_sites_errors():
    with pytest.raises(ValueError, match="one value per demand point"):
        plan_sites(DEMAND, WEIGHTS[:2], CANDIDATES, None, k=1, radius_m=500)
    with pytest.raises(ValueError, match="finite and >= 0"):
        plan_sites(DEMAND, -WEIGHTS, CANDIDATES, None, k=1, radius_m=500)
    with pytest.raises(ValueError, match="k must be >= 1"):
        plan_sites(DEMAND, WEIGHTS, CANDIDATES, None, k=0, radius_m=500)
    with pytest.raises(TypeError, match="k must be an integer"):
        plan_sites(DEMAND, WEIGHTS, CANDIDATES, None, k=1.5, radius_m=500)
    with pytest.raises(ValueError, match="radius_m must be a positive number"):
        plan_sites(DEMAND, WEIGHTS, CANDIDATES, None, k=1, radius_m=0)
    with pytest.raises(ValueError, match="different CRSs"):
        plan_sites(DEMAND, WEIGHTS, CANDIDATES.to_crs(GK), None, k=1, radius_m=500)
    with pytest.raises(TypeError, match="candidates must be a GeoDataFrame"):
        plan_sites(DEMAND, WEIGHTS, pd.DataFrame(CANDIDATES), None, k=1, radius_m=500)
    with pytest.raises(ValueError, match="max_candidates must be an integer >= 1"):
        plan_sites(DEMAND, WEIGHTS, CANDIDATES, None, k=1, radius_m=500, max_candidates=0)


def _random_case(seed=3, n_demand=400, n_cand=60):
    rng = np.random.default_rng(seed)
    demand = _points(rng.uniform(0, 4000, size=(n_demand, 2)))
    weights = rng.integers(1, 50, size=n_demand).astype(float)
    cands = _points(rng.uniform(0, 4000, size=(n_cand, 2)),
                    {"id": [f"c{i}" for i in range(n_cand)]})
    return demand, weights, cands


def _brute_force_rows(demand, cands, radius):
    """Distinct non-empty sets of candidates reaching each demand point (the model's rows)."""
    d = demand.to_crs(GK).geometry
    c = cands.to_crs(GK).geometry
    dist = np.hypot(d.x.to_numpy()[:, None] - c.x.to_numpy()[None, :],
                    d.y.to_numpy()[:, None] - c.y.to_numpy()[None, :])
    return {tuple(np.flatnonzero(row)) for row in dist <= radius if row.any()}


def test_chunked_reach_and_row_merging_match_brute_force(monkeypatch):
    import geo.siting as siting

    demand, weights, cands = _random_case()
    whole = plan_sites(demand, weights, cands, None, k=3, radius_m=700, metric_crs=GK)
    assert whole.demand_rows == len(_brute_force_rows(demand, cands, 700))
    monkeypatch.setattr(siting, "PAIRS_PER_CHUNK", 7)  # many tiny KD-tree chunks
    chunked = plan_sites(demand, weights, cands, None, k=3, radius_m=700, metric_crs=GK)
    assert chunked.demand_rows == whole.demand_rows
    assert chunked.sites["candidate_id"].tolist() == whole.sites["candidate_id"].tolist()
    assert chunked.coverage_after == whole.coverage_after


def test_too_many_pairs_is_refused_before_any_work(monkeypatch):
    import geo.siting as siting

    demand, weights, cands = _random_case()
    monkeypatch.setattr(siting, "MAX_PAIRS", 1000)
    with pytest.raises(ValueError, match=r"reach 2\d,\d{3} uncovered demand points.*"
                                         r"radius_m=50000 is too large for 60 candidates"):
        plan_sites(demand, weights, cands, None, k=1, radius_m=50_000, metric_crs=GK)


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_a_candidate_grid_too_fine_is_refused_before_it_is_made():
    # 1 km² at 0.5 m spacing is 4 million points: refused, naming what the caller set
    comm = gpd.GeoDataFrame({"code": ["A"], "population": [1.0]},
                            geometry=gpd.GeoSeries([_box(0, 0, 1000, 1000)], crs=GK)
                            .to_crs(4326).to_numpy(), crs=4326)
    with pytest.raises(LimitError, match=r"spacing_m: a 0.5 m candidate grid .* 4,00\d,\d{3} "
                                         r"points \(limit 2,000,000\)") as info:
        candidate_sites(comm, spacing_m=0.5, metric_crs=GK)
    assert info.value.parameter == "spacing_m"
    assert len(candidate_sites(comm, spacing_m=2.0, metric_crs=GK)) == 250_000
    fac = _points([(200, 200)], {"id": ["p1"], "type": ["police_station"]})
    # a 1e-6 m radius gives a 5e-7 m spacing: the error names radius_m
    with pytest.raises(LimitError, match="radius_m: ") as info:
        plan_facility_sites(comm, fac, facility_type="police_station", k=1, radius_m=1e-6,
                            cell_m=100, metric_crs=GK)
    assert info.value.parameter == "radius_m"
