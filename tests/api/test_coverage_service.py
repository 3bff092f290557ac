"""Protection, coverage, gaps, workload and site plans over stored data (both backends)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import Point

from api.loading import load_file
from api.output import to_geojson
from api.release import Visibility
from api.services import ServiceContext
from api.services.coverage import (
    coverage_report,
    coverage_result,
    gaps_report,
    population_placement,
    protection_report,
    site_plan_report,
    workload_report,
)
from api.settings import Settings
from api.settings import Settings as _Settings
from geo.errors import MissingDataError
from tests.api.lattice import STEP, centre, lattice_communities

ADMIN = Visibility.admin(_Settings(database_url="sqlite:///unused.db"))

TO_M = pyproj.Transformer.from_crs(4326, 4548, always_xy=True)


def ctx_for(engine, **geo) -> ServiceContext:
    return ServiceContext(engine, Settings(database_url="sqlite:///unused.db", geo=geo))


def cell_m(code: str):
    """The lattice community as a polygon in EPSG:4548 metres (segmentized: its edges are
    straight in degrees, not in metres)."""
    comms = lattice_communities().set_index("code")
    box = shapely.segmentize(comms.loc[code, "geometry"], 1e-5)
    return shapely.transform(box, lambda xy: np.column_stack(TO_M.transform(xy[:, 0], xy[:, 1])))


def point_m(lon: float, lat: float) -> Point:
    return Point(*TO_M.transform(lon, lat))


@pytest.fixture
def equipped(lattice_db, tmp_path):
    """Devices, compounds and facilities on the lattice city."""
    lon, lat = centre("L11")
    pd.DataFrame([
        # a working dome (circle, 100 m) at the centre of L11, and a faulty one beside it
        {"id": "D1", "kind": "dome", "range_m": 100, "status": "working", "lon": lon,
         "lat": lat},
        {"id": "D2", "kind": "dome", "range_m": 100, "status": "faulty", "lon": lon + 0.002,
         "lat": lat},
        # a camera installed after 2025: not counted for 2025
        {"id": "D3", "kind": "camera", "status": "working", "installed_on": "2026-02-01",
         "lon": lon, "lat": lat},
    ]).to_csv(tmp_path / "d.csv", index=False)
    load_file(lattice_db, tmp_path / "d.csv", "devices")
    c00 = centre("L00")
    pd.DataFrame([
        {"id": "K1", "name": "甲", "measures": "fence,gate_guard,lighting,cctv_entrances,"
         "access_control", "population": 3000, "lon": c00[0] - 0.002, "lat": c00[1]},
        {"id": "K2", "name": "乙", "measures": "fence,gate_guard,lighting,cctv_entrances",
         "population": 1000, "lon": c00[0] + 0.002, "lat": c00[1]},
    ]).to_csv(tmp_path / "k.csv", index=False)
    load_file(lattice_db, tmp_path / "k.csv", "compounds")
    c33 = centre("L33")
    pd.DataFrame([
        {"id": "F1", "type": "police_office", "name": "西南警务室", "lon": c00[0],
         "lat": c00[1]},
        {"id": "F2", "type": "police_office", "name": "东北警务室", "lon": c33[0],
         "lat": c33[1]},
    ]).to_csv(tmp_path / "f.csv", index=False)
    load_file(lattice_db, tmp_path / "f.csv", "facilities")
    return lattice_db


def test_protection_community_and_district(equipped):
    ctx = ctx_for(equipped, arc_segments=64)
    rep = protection_report(ctx, ADMIN, period="2025")
    f = rep.frame.set_index("code")
    assert f.loc["L11", "camera_count"] == 2  # the 2026 camera is not counted
    assert f.loc["L11", "camera_working_ratio"] == pytest.approx(0.5)
    circle = point_m(*centre("L11")).buffer(100, quad_segs=16).area  # 64 segments
    assert f.loc["L11", "camera_area_share"] == pytest.approx(
        circle / cell_m("L11").area, rel=1e-3)
    assert f.loc["L00", "camera_count"] == 0 and np.isnan(f.loc["L00", "camera_working_ratio"])
    # K2 lacks access_control, a default required technical measure
    assert f.loc["L00", "compounds_total"] == 2
    assert f.loc["L00", "compound_compliance_ratio"] == pytest.approx(0.5)
    d = protection_report(ctx, ADMIN, period="2025", level="district").frame.set_index("code")
    assert d.loc["D1", "camera_count"] == 2 and d.loc["D1", "compounds_total"] == 2
    assert d.loc["D1", "camera_working_ratio"] == pytest.approx(0.5)
    assert np.isnan(d.loc["D2", "camera_working_ratio"])
    assert d.loc["D1", "camera_area_share"] == pytest.approx(
        circle / sum(cell_m(f"L{i}{j}").area for i in range(2) for j in range(4)), rel=1e-3)
    assert rep.provenance["metric_crs"] == "EPSG:4548"


def test_periods_with_the_same_compounds_share_one_placement(equipped):
    ctx = ctx_for(equipped)
    year = population_placement(ctx, ctx.period("2025"))
    assert population_placement(ctx, ctx.period("2024")) is year  # K1 and K2 in both
    assert population_placement(ctx, ctx.period("2025-03")) is year
    assert year.compounds_used == 2
    placed = year.parts.groupby("code")["population"].sum()
    assert placed["L00"] == pytest.approx(ctx.communities().set_index("code").loc[
        "L00", "population"])
    cov = coverage_result(ctx, "police_office", radius_m=None, period=ctx.period("2025"))
    assert cov.placement is year


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_coverage_gaps_and_ranking(equipped):
    ctx = ctx_for(equipped, arc_segments=64)
    rep = coverage_report(ctx, ADMIN, facility_type="police_office", period="2025")
    f = rep.frame.set_index("code")
    disc = point_m(*centre("L00")).buffer(500, quad_segs=16)
    expected = disc.intersection(cell_m("L00")).area / cell_m("L00").area
    assert f.loc["L00", "facility_covered_area_share"] == pytest.approx(expected, rel=1e-3)
    assert f.loc["L12", "facility_covered_area_share"] == 0.0
    assert f.loc["L12", "facility_uncovered_population"] == pytest.approx(10_000)
    assert list(rep.frame["rank"].iloc[:1]) == [1]
    assert rep.provenance["radius_m"] == 500
    gaps = gaps_report(ctx, ADMIN, facility_type="police_office", period="2025")
    g = gaps.frame.set_index("code")
    assert g.loc["L12", "population"] == pytest.approx(10_000)
    assert g.loc["L12", "geometry"].area == pytest.approx(STEP * STEP, rel=1e-9)
    # QGIS-compatible GeoJSON: valid geometries, read back as EPSG:4326
    doc = to_geojson(gaps.frame, provenance=gaps.provenance)
    back = gpd.read_file(doc, driver="GeoJSON") if False else gpd.GeoDataFrame.from_features(
        json.loads(doc)["features"], crs="EPSG:4326")
    assert back.is_valid.all() and len(back) == len(gaps.frame)
    with pytest.raises(MissingDataError, match="no facility of type 'fire_station'"):
        coverage_report(ctx, ADMIN, facility_type="fire_station", period="2025")
    with pytest.raises(ValueError, match="radius_m must be > 0"):
        coverage_report(ctx, ADMIN, facility_type="police_office", radius_m=0, period="2025")


def test_gap_geojson_file_reads_back_in_gdal(equipped, tmp_path):
    ctx = ctx_for(equipped)
    gaps = gaps_report(ctx, ADMIN, facility_type="police_office", period="2025")
    path = tmp_path / "gaps.geojson"
    path.write_text(to_geojson(gaps.frame, provenance=gaps.provenance), encoding="utf-8")
    back = gpd.read_file(path)
    assert back.crs.to_epsg() == 4326
    assert back.is_valid.all() and set(back.geom_type) <= {"Polygon", "MultiPolygon"}
    assert back["population"].sum() == pytest.approx(gaps.frame["population"].sum())


def test_workload_catchments(equipped):
    rep = workload_report(ctx_for(equipped), ADMIN, facility_type="police_office", period="2025")
    f = rep.frame.set_index("id")
    # 207 located 2025 cases in the lattice plus 1 outside (south-west, nearest to F1);
    # the diagonal splits the lattice: L00 side vs L33 side
    assert f["incidents_catchment"].sum() == 208
    assert f.loc["F1", "incidents_catchment"] > f.loc["F2", "incidents_catchment"]
    assert rep.provenance["incidents_total"] == 208


def test_workload_without_a_radius_counts_catchments_only(equipped, tmp_path):
    """A type with no default radius needs none for its catchments (issue 12, item 12)."""
    c00, c33 = centre("L00"), centre("L33")
    pd.DataFrame([
        {"id": "P1", "type": "patrol_post", "name": "西南岗亭", "lon": c00[0], "lat": c00[1]},
        {"id": "P2", "type": "patrol_post", "name": "东北岗亭", "lon": c33[0], "lat": c33[1]},
    ]).to_csv(tmp_path / "p.csv", index=False)
    load_file(equipped, tmp_path / "p.csv", "facilities")
    ctx = ctx_for(equipped)
    office = workload_report(ctx, ADMIN, facility_type="police_office", period="2025")
    protected = Visibility("planner", None, protected=True, raw=False, unassigned=False,
                           min_count=3, category_groups=ADMIN.category_groups)
    for vis in (ADMIN, protected):
        rep = workload_report(ctx, vis, facility_type="patrol_post", period="2025")
        f = rep.frame.set_index("id")
        assert "incidents_within_radius" not in f.columns
        assert "within_radius_share" not in f.columns
        assert rep.provenance["radius_m"] is None
        assert "incidents_out_of_reach" not in rep.provenance
        if vis is ADMIN:
            assert "catchments only" in rep.provenance["notes"][0]
            # the posts stand where the offices stand: the same catchments
            same = office.frame.set_index("id")["incidents_catchment"]
            assert f.loc["P1", "incidents_catchment"] == same["F1"]
            assert f.loc["P2", "incidents_catchment"] == same["F2"]
    with pytest.raises(ValueError, match="no configured radius"):
        workload_report(ctx, protected, facility_type="patrol_post", period="2025",
                        radius_m=500)
    with_radius = workload_report(ctx, ADMIN, facility_type="patrol_post", period="2025",
                                  radius_m=500)
    assert "incidents_within_radius" in with_radius.frame.columns


def test_site_plan_picks_the_obvious_site(equipped, tmp_path):
    ctx = ctx_for(equipped)
    cand = gpd.GeoDataFrame({"id": ["near_F1", "middle"]},
                            geometry=[Point(*centre("L00")), Point(*centre("L12"))],
                            crs="EPSG:4326")
    rep = site_plan_report(ctx, ADMIN, facility_type="police_office", k=1, candidates=cand,
                           period="2025")
    assert rep.frame["candidate_id"].tolist() == ["middle"]
    pv = rep.provenance
    assert pv["coverage_after"] > pv["coverage_before"]
    with pytest.raises(ValueError, match="between 1 and 100"):
        site_plan_report(ctx, ADMIN, facility_type="police_office", k=0)
