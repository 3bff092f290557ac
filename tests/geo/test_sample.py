"""Tests of the synthetic sample city (geo/sample/): the frames it returns."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.layers import COMPOUND_MEASURES, DEVICE_KINDS, FACILITY_TYPES, LAYERS
from geo.sample import SampleCity, generate_boundaries, generate_city
from geo.sample.manifest import sample_manifest

METRIC = "EPSG:4548"
MEASURES = {m for group in COMPOUND_MEASURES.values() for m in group}


@pytest.fixture(scope="module")
def city(sample_city: SampleCity) -> SampleCity:
    return sample_city


@pytest.fixture(scope="module")
def communities_m(city: SampleCity) -> gpd.GeoDataFrame:
    return city.communities.to_crs(METRIC)


def _assert_geoframes_equal(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                  pd.DataFrame(b.drop(columns="geometry")))
    ga, gb = np.asarray(a.geometry.array), np.asarray(b.geometry.array)
    assert (shapely.is_missing(ga) == shapely.is_missing(gb)).all()
    present = ~shapely.is_missing(ga)
    assert shapely.equals_exact(ga[present], gb[present], tolerance=0.0).all()
    assert a.crs == b.crs


# --- determinism -------------------------------------------------------------------------------


def test_boundaries_are_deterministic_and_depend_on_the_seed() -> None:
    a = generate_boundaries(25, seed=7, n_subdistricts=4)
    b = generate_boundaries(25, seed=7, n_subdistricts=4)
    c = generate_boundaries(25, seed=8, n_subdistricts=4)
    _assert_geoframes_equal(a, b)
    assert not shapely.equals_exact(np.asarray(a.geometry.array),
                                    np.asarray(c.geometry.array), tolerance=0.0).all()


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_city_is_deterministic() -> None:
    a = generate_city(seed=3, n_communities=20)
    b = generate_city(seed=3, n_communities=20)
    for layer in ("communities", "incidents", "devices", "compounds", "facilities"):
        _assert_geoframes_equal(getattr(a, layer), getattr(b, layer))
    pd.testing.assert_frame_equal(a.population, b.population)
    pd.testing.assert_frame_equal(a.truth, b.truth)


# --- boundaries --------------------------------------------------------------------------------


def test_communities_form_a_valid_partition(city: SampleCity,
                                            communities_m: gpd.GeoDataFrame) -> None:
    geoms = np.asarray(city.communities.geometry.array)
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)  # no overlaps; shared edges match vertex for vertex
    total = communities_m.area.sum()
    union = shapely.union_all(np.asarray(communities_m.geometry.array))
    assert abs(total - union.area) / total < 1e-9
    assert union.geom_type == "Polygon"  # one piece
    assert shapely.get_num_interior_rings(union) == 0  # no holes
    assert 40.0 < union.area / 1e6 < 150.0  # km², central-Beijing scale


def test_neighbours_share_identical_edge_vertices(city: SampleCity) -> None:
    geoms = np.asarray(city.communities.geometry.array)
    vertex_sets = [set(map(tuple, shapely.get_coordinates(g))) for g in geoms]
    coords = shapely.get_coordinates(geoms)
    owner = np.repeat(np.arange(len(geoms)), shapely.get_num_coordinates(geoms))
    pts = shapely.points(coords)
    pt_idx, poly_idx = shapely.STRtree(shapely.boundary(geoms)).query(pts, predicate="intersects")
    shared = owner[pt_idx] != poly_idx
    assert shared.sum() > 10_000  # most vertices lie on a neighbour's boundary
    for p, q in zip(pt_idx[shared], poly_idx[shared], strict=True):
        assert tuple(coords[p]) in vertex_sets[q]


def test_polygons_have_hundreds_of_vertices(city: SampleCity) -> None:
    n_vertices = shapely.get_num_coordinates(np.asarray(city.communities.geometry.array))
    assert np.median(n_vertices) >= 200
    assert n_vertices.min() >= 80


def test_shapes_are_not_voronoi_cells(city: SampleCity) -> None:
    geoms = np.asarray(city.communities.geometry.array)
    convexity = shapely.area(geoms) / shapely.area(shapely.convex_hull(geoms))
    assert (convexity < 0.9).mean() > 0.5  # a Voronoi cell would be exactly convex


def test_codes_names_and_hierarchy(city: SampleCity,
                                   communities_m: gpd.GeoDataFrame) -> None:
    c = city.communities
    assert len(c) == 130 and c["code"].is_unique and c["name"].is_unique
    assert c["code"].str.fullmatch(r"1101\d{8}").all()
    assert (c["code"].str[:9] == c["subdistrict_code"]).all()
    assert (c["subdistrict_code"].str[:6] == c["district_code"]).all()
    assert set(c["district_code"]) == {"110191", "110192"}
    assert c["name"].str.endswith("社区").all()
    assert c["subdistrict"].str.endswith("街道").all()
    assert c["subdistrict_code"].nunique() == 12 == c["subdistrict"].nunique()
    assert c.groupby("subdistrict_code")["subdistrict"].nunique().eq(1).all()
    assert dict(c.groupby("district_code")["district"].first()) == {"110191": "西山区",
                                                                      "110192": "东湖区"}
    x = communities_m.geometry.centroid.x.groupby(c["district_code"]).mean()
    assert x["110191"] < x["110192"]  # 西山区 is the western district
    assert list(c["code"]) == sorted(c["code"])


def test_population_and_households(city: SampleCity) -> None:
    c = city.communities
    assert c["population"].between(2000, 20000).all()
    assert (c["population"] < 2600).sum() >= 3  # small ones, for empirical-Bayes smoothing
    assert ((c["households"] * 2.6 / c["population"]) - 1).abs().max() < 0.06
    pop = city.population
    assert list(pop.columns) == ["code", "year", "population"]
    assert sorted(pop["year"].unique()) == [2024, 2025]
    by_year = pop.pivot(index="code", columns="year", values="population")
    assert (by_year[2025] == c.set_index("code")["population"]).all()
    change = by_year[2024] / by_year[2025] - 1
    assert change.abs().max() < 0.15 and change.abs().mean() > 0.005


def test_boundaries_scale_to_other_sizes() -> None:
    g = generate_boundaries(40, seed=1, n_districts=3, n_subdistricts=5, vertex_spacing_m=30.0)
    assert len(g) == 40 and g["district_code"].nunique() == 3
    assert g["subdistrict_code"].nunique() == 5
    assert shapely.coverage_is_valid(np.asarray(g.geometry.array))
    assert np.median(shapely.get_num_coordinates(np.asarray(g.geometry.array))) < 200


# --- other layers ------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["communities", "incidents", "devices", "compounds",
                                   "facilities", "population"])
def test_frames_have_canonical_columns_and_dtypes(city: SampleCity, layer: str) -> None:
    frame = getattr(city, layer)
    spec = LAYERS[layer]
    expected = spec.columns + ([] if spec.geometry == "none" else ["geometry"])
    assert list(frame.columns) == expected
    dtypes = {"str": "string", "measures": "string", "float": "float64", "int": "Int64",
              "datetime": "datetime64[ns, UTC]", "date": "datetime64[ns]"}
    for f in spec.fields:
        assert frame[f.name].dtype == pd.api.types.pandas_dtype(dtypes[f.type]), f.name
        if f.type in ("str", "measures"):
            assert frame[f.name].dtype.na_value is pd.NA, f.name
        if f.required:
            assert frame[f.name].notna().all(), f.name
    if spec.geometry != "none":
        assert frame.crs == "EPSG:4326"
    if spec.id_field:
        assert frame[spec.id_field].is_unique


def test_incidents_volume_time_and_categories(city: SampleCity) -> None:
    inc = city.incidents
    assert len(inc) >= 50_000
    local = inc["occurred_at"].dt.tz_convert("Asia/Shanghai")
    assert local.min() >= pd.Timestamp("2024-01-01", tz="Asia/Shanghai")
    assert local.max() < pd.Timestamp("2026-01-01", tz="Asia/Shanghai")
    assert inc["occurred_at"].is_monotonic_increasing
    background = inc["id"].str.fullmatch(r"A202[45]\d{6}")
    assert (background | inc["id"].str.fullmatch(r"outbreak-\d{3}-\d{4}")).all()
    assert (inc["id"][background].str[1:5].astype(int) == local[background].dt.year).all()
    assert set(inc["category"]) == {"theft", "burglary", "fraud", "robbery", "assault",
                                    "vehicle_theft", "vandalism"}
    share = inc["status"].value_counts(normalize=True)
    assert set(share.index) == {"filed", "solved", "withdrawn", "unfounded"}
    assert 0.03 < share["withdrawn"] + share["unfounded"] < 0.12
    hours = local.dt.hour.value_counts()
    assert hours[[19, 20, 21]].sum() > 3 * hours[[5, 6, 7]].sum()  # evening peak, dawn lull
    months = local.dt.month.value_counts()
    assert months.max() / months.min() > 1.15  # seasonality
    weekday = local.dt.day_of_week
    theft = inc["category"] == "theft"
    assert (weekday[theft] >= 5).mean() > 2 / 7 * 1.1  # theft heavier at weekends
    assert inc["address"].str.startswith("北京市").all()


def test_incident_locations(city: SampleCity) -> None:
    inc = city.incidents
    geoms = np.asarray(inc.geometry.array)
    missing = shapely.is_missing(geoms)
    assert 0.003 < missing.mean() < 0.008
    assert inc.loc[missing, "community_code"].isin(city.communities["code"]).all()
    assert inc.loc[~missing, "community_code"].isna().all()
    precision = inc.loc[~missing, "location_precision"].value_counts(normalize=True)
    assert precision["exact"] > 0.85 and 0.03 < precision["address"] < 0.1
    assert 0.005 < precision["centroid"] < 0.03
    city_shape = shapely.union_all(np.asarray(city.communities.geometry.array))
    outside = ~shapely.contains_xy(city_shape, shapely.get_x(geoms[~missing]),
                                   shapely.get_y(geoms[~missing]))
    assert 5 <= outside.sum() <= 20
    centroids = inc[inc["location_precision"] == "centroid"]
    joined = gpd.sjoin(centroids, city.communities[["code", "geometry"]], predicate="within")
    reps = city.communities.set_index("code").geometry.representative_point()
    assert len(joined) == len(centroids)
    assert shapely.distance(np.asarray(joined.geometry.array),
                            np.asarray(reps.loc[joined["code"]].array)).max() < 2e-7


def test_planted_trends_and_hotspots_show_in_the_counts(city: SampleCity) -> None:
    inc = city.incidents.dropna(subset=["geometry"])
    joined = gpd.sjoin(inc, city.communities[["code", "geometry"]], predicate="within")
    year = joined["occurred_at"].dt.tz_convert("Asia/Shanghai").dt.year
    counts = joined.groupby(["code", year]).size().unstack(fill_value=0)
    truth = city.truth.set_index("code")
    ratio = counts[2025] / counts[2024]
    rising = truth.index[truth["incident_factor_2025"] > 1.8]
    stable = truth.index[truth["incident_factor_2025"].between(0.9, 1.1)]
    assert len(rising) >= 3 and (ratio[rising] > 1.6).all()
    assert len(stable) > 0.8 * len(truth) and ratio[stable].median() == pytest.approx(1, abs=0.1)
    rate = counts.sum(axis=1) / city.communities.set_index("code")["population"]
    hot = truth.index[truth["in_hotspot"]]
    assert len(hot) >= 3 and rate[hot].median() > 1.5 * rate.median()
    assert rate.max() / rate.min() > 4  # rates vary across communities


def test_devices(city: SampleCity, communities_m: gpd.GeoDataFrame) -> None:
    d = city.devices
    assert len(d) >= 3000
    assert set(d["kind"]) == set(DEVICE_KINDS)
    assert 0.035 < (d["status"] == "faulty").mean() < 0.07
    assert set(d["status"]) == {"working", "faulty"}
    directional = d["kind"].isin(["camera", "face", "plate"])
    assert d.loc[directional, "azimuth_deg"].between(0, 360).all()
    assert d.loc[d["kind"] == "camera", "fov_deg"].between(60, 100).all()
    assert d.loc[~directional, ["azimuth_deg", "fov_deg"]].isna().all().all()
    ranged = d["kind"].isin(["camera", "face", "plate", "dome", "ptz"])
    assert d.loc[ranged, "range_m"].dropna().between(30, 80).all()
    assert 0.03 < d.loc[ranged, "range_m"].isna().mean() < 0.2  # default by kind
    assert d.loc[~ranged, "range_m"].isna().all()
    assert (d["installed_on"] < "2024-01-01").mean() > 0.75
    assert (d["installed_on"].dt.year == 2025).sum() > 100
    removed = d.dropna(subset=["removed_on"])
    assert len(removed) > 10 and (removed["removed_on"] > removed["installed_on"]).all()
    joined = gpd.sjoin(d.to_crs(METRIC), communities_m[["code", "geometry"]],
                       predicate="within")
    assert len(joined) == len(d)
    density = joined.groupby("code").size() / (communities_m.set_index("code").area / 1e6)
    density = density.fillna(0)
    assert density.quantile(0.9) > 4 * density.quantile(0.1)  # some covered, some sparse


def test_compounds(city: SampleCity, communities_m: gpd.GeoDataFrame) -> None:
    comp = city.compounds
    assert len(comp) >= 400
    kinds = comp.geom_type.value_counts()
    assert kinds["Polygon"] > 300 and kinds["Point"] > 20
    assert shapely.is_valid(np.asarray(comp.geometry.array)).all()
    assert {"residential", "unit", "school"} <= set(comp["kind"])
    assert comp["name"].is_unique
    joined = gpd.sjoin(comp.to_crs(METRIC), communities_m[["code", "geometry", "population"]]
                       .rename(columns={"population": "community_population"}),
                       predicate="within")
    assert len(joined) == len(comp)  # each compound lies inside one community
    per = joined.groupby("code").agg(pop=("population", "sum"),
                                     limit=("community_population", "first"))
    assert (per["pop"] <= per["limit"]).all()
    assert (comp.loc[comp["kind"] != "residential", "population"] == 0).all()
    for text in comp["measures"]:
        names = text.split(",") if text else []
        assert names == sorted(names) and set(names) <= MEASURES
    required = {"fence", "gate_guard", "cctv_entrances", "access_control"}
    joined["meets"] = [required <= set(t.split(",")) for t in joined["measures"]]
    compliance = joined.groupby("code")["meets"].mean()
    assert (compliance >= 0.9).sum() >= 5 and (compliance <= 0.1).sum() >= 5


def test_facilities(city: SampleCity, communities_m: gpd.GeoDataFrame) -> None:
    fac = city.facilities
    assert set(fac["type"]) == set(FACILITY_TYPES)
    counts = fac["type"].value_counts()
    assert 3 <= counts["police_station"] <= 10 and 1 <= counts["fire_station"] <= 2
    assert fac["closed_on"].notna().sum() in (1, 2)
    assert (fac["opened_on"].dt.year == 2025).sum() >= 1
    fac_m = fac.to_crs(METRIC)
    joined = gpd.sjoin(fac_m, communities_m[["code", "geometry"]], predicate="within")
    offices = set(joined.loc[joined["type"] == "police_office", "code"])
    assert 0.6 * len(communities_m) < len(offices) < len(communities_m)
    gap_codes = city.truth.loc[city.truth["facility_gap"], "code"]
    assert len(gap_codes) >= 3
    local = fac_m[fac_m["type"].isin(["police_office", "service_station", "health_station",
                                      "health_center"])]
    for code in gap_codes:
        shape = communities_m.loc[communities_m["code"] == code, "geometry"].iloc[0]
        assert local.distance(shape).min() > 700.0


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"n_communities": 1}, ValueError, "n_communities must be at least 2"),
    ({"n_communities": 130.0}, TypeError, "n_communities must be an integer"),
    ({"n_communities": True}, TypeError, "n_communities must be an integer"),
    ({"n_districts": 10}, ValueError, "n_districts must be at most 9"),
    ({"n_subdistricts": 200}, ValueError, "n_districts <= n_subdistricts <= n_communities"),
    ({"n_districts": 3, "n_subdistricts": 2}, ValueError, "n_districts <= n_subdistricts"),
    ({"n_communities": 2000, "n_subdistricts": 2}, ValueError, "at most 999 per subdistrict"),
    ({"vertex_spacing_m": 0.0}, ValueError, "vertex_spacing_m must be .* in \\[1, 100\\]"),
    ({"vertex_spacing_m": "12"}, ValueError, "vertex_spacing_m must be"),
    ({"center_lonlat": (0.0, 51.5)}, ValueError, "center_lonlat must lie in China"),
    ({"center_lonlat": "Beijing"}, ValueError, "center_lonlat must be a \\(longitude"),
    ({"seed": -1}, ValueError, "seed must be at least 0"),
])
def test_generate_boundaries_rejects_bad_parameters(kwargs: dict, error: type[Exception],
                                                    match: str) -> None:
    with pytest.raises(error, match=match):
        generate_boundaries(**kwargs)


def test_generate_city_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="n_communities must be at least 12"):
        generate_city(n_communities=11)
    with pytest.raises(TypeError, match="seed must be an integer"):
        generate_city(seed="1")  # type: ignore[arg-type]


def test_manifest_leaves_out_the_compound_points_file_when_there_are_none() -> None:
    with_points = sample_manifest(5, with_compound_points=True)
    without = sample_manifest(5, with_compound_points=False)
    assert [e["file"] for e in with_points["layers"]] == [
        "communities.geojson", "population.csv", "facilities_gcj02.csv", "devices.parquet",
        "compounds.zip", "compounds_points.gpkg", "incidents.csv"]
    assert [e["file"] for e in without["layers"]] == [
        "communities.geojson", "population.csv", "facilities_gcj02.csv", "devices.parquet",
        "compounds.zip", "incidents.csv"]
    assert without["seed"] == 5 and without["timezone"] == "Asia/Shanghai"


def test_planted_outbreaks_follow_the_documented_rule(city: SampleCity) -> None:
    from geo.sample.outbreaks import FIRST_DAY, LAST_DAY, MIN_WEEKLY, OUTBREAK_SEED

    m = city.outbreaks
    assert len(m) == 36 and m["k"].value_counts().to_dict() == {2: 12, 3: 12, 5: 12}
    assert (m["seed"] == OUTBREAK_SEED).all()
    starts = pd.to_datetime(m["start"])
    assert (starts.dt.day_of_week == 0).all() and (m["start"] >= FIRST_DAY).all()
    assert (m["end"] <= LAST_DAY).all()
    assert ((pd.to_datetime(m["end"]) - starts).dt.days == 13).all()
    assert (m["added"] == [round((k - 1) * e) for k, e in zip(m["k"], m["expected"],
                                                              strict=True)]).all()
    # at least 3 a week on average over the year; a season's low is 18 % under it
    assert (m["expected"] >= 2 * MIN_WEEKLY * 0.8).all()
    inc = city.incidents
    for row in m.itertuples():
        mine = inc[inc["id"].str.startswith(f"outbreak-{row.outbreak:03d}-")]
        assert len(mine) == row.added
        days = mine["occurred_at"].dt.tz_convert("Asia/Shanghai").dt.date
        assert days.min() >= row.start and days.max() <= row.end
        polygon = city.communities.set_index("code").geometry[row.community]
        assert shapely.contains_xy(polygon, mine.geometry.x, mine.geometry.y).all()
        assert (mine["status"] == "filed").all() and mine["address"].str.startswith(
            "北京市").all()
    assert "36 outbreaks of 2 weeks" in city.outbreak_rule
