import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from esda.getisord import G_Local
from libpysal.weights import Queen

from geo.hotspots import HOTSPOT_CLASSES, community_hotspots, grid_hotspots

GK_117 = "EPSG:4548"  # CGCS2000 3-degree Gauss-Kruger CM 117E, metres
X0, Y0 = 500_000.0, 4_400_000.0


def lattice(values, side_m=100.0, extra=()):
    """Square communities r{row}c{col} on a lattice, plus (code, polygon, value) extras."""
    values = np.asarray(values, dtype=float)
    codes, polygons, flat = [], [], []
    for r in range(values.shape[0]):
        for c in range(values.shape[1]):
            codes.append(f"r{r}c{c}")
            polygons.append(shapely.box(X0 + c * side_m, Y0 + r * side_m,
                                        X0 + (c + 1) * side_m, Y0 + (r + 1) * side_m))
            flat.append(values[r, c])
    for code, polygon, value in extra:
        codes.append(code)
        polygons.append(polygon)
        flat.append(value)
    frame = gpd.GeoDataFrame({"code": codes}, geometry=polygons, crs=GK_117)
    return frame, pd.Series(flat, index=codes)


def queen_with_self(rows, cols):
    """Binary queen adjacency of a row-major lattice, each cell its own neighbour."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return ((np.abs(r[:, None] - r[None, :]) <= 1)
            & (np.abs(c[:, None] - c[None, :]) <= 1)).astype(float)


def analytic_gi_star(x, adjacency):
    """Ord & Getis (1995) Gi* z-score, written out from the paper's formula."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    mean = x.sum() / n
    s = np.sqrt((x**2).sum() / n - mean**2)
    w_sum = adjacency.sum(axis=1)
    w_sq = (adjacency**2).sum(axis=1)
    return (adjacency @ x - mean * w_sum) / (s * np.sqrt((n * w_sq - w_sum**2) / (n - 1)))


def hand_bh(p):
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


VALUES_4X4 = [[9, 8, 1, 1],
              [8, 9, 1, 2],
              [1, 2, 1, 1],
              [1, 1, 2, 3]]


def test_gi_star_z_equals_the_analytic_formula():
    communities, values = lattice(VALUES_4X4)
    result = community_hotspots(communities, values)
    expected = analytic_gi_star(np.ravel(VALUES_4X4), queen_with_self(4, 4))
    np.testing.assert_allclose(result.frame["hotspot_gi_z"].to_numpy(), expected, rtol=1e-10)
    # By hand: n = 16, sum 51, sum of squares 319; r0c0 and its three neighbours hold 34.
    mean, variance = 51 / 16, 319 / 16 - (51 / 16) ** 2
    by_hand = (34 - 4 * mean) / (np.sqrt(variance) * np.sqrt((16 * 4 - 4**2) / 15))
    assert result.frame.loc["r0c0", "hotspot_gi_z"] == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(3.79904, rel=1e-5)
    assert result.frame.loc["r1c1", "neighbours"] == 8
    assert result.unit == "community"
    assert "binary" in result.weights and "self-neighbour" in result.weights
    assert (result.permutations, result.metric_crs) == (999, None)


def test_island_is_reported_and_stays_in_the_global_moments():
    far = shapely.box(X0 + 5000, Y0 + 5000, X0 + 5100, Y0 + 5100)
    communities, values = lattice(VALUES_4X4, extra=[("far", far, 6.0)])
    result = community_hotspots(communities, values)
    assert result.islands == ("far",)
    far_row = result.frame.loc["far"]
    assert far_row["hotspot_class"] == "no_neighbours"
    assert np.isnan(far_row["hotspot_gi_z"]) and np.isnan(far_row["p_value"])
    adjacency = np.zeros((17, 17))
    adjacency[:16, :16] = queen_with_self(4, 4)
    adjacency[16, 16] = 1.0
    x = np.r_[np.ravel(VALUES_4X4), 6.0]
    expected = analytic_gi_star(x, adjacency)[:16]
    np.testing.assert_allclose(result.frame["hotspot_gi_z"].to_numpy()[:16], expected,
                               rtol=1e-10)


def test_clear_cluster_of_high_values_is_hot():
    values = np.ones((6, 6))
    values[:3, :3] = 10.0
    communities, series = lattice(values)
    result = community_hotspots(communities, series, seed=7)
    classes = result.frame["hotspot_class"]
    assert classes["r1c1"] == "hot_99"
    hot = set(classes[classes.str.startswith("hot")].index)
    assert "r1c1" in hot
    assert hot <= {f"r{r}c{c}" for r in range(4) for c in range(4)}
    assert not classes[[f"r{r}c{c}" for r in range(3) for c in range(3)]].str.startswith(
        "cold").any()
    assert set(classes) <= set(HOTSPOT_CLASSES)


@pytest.mark.slow  # esda compiles its permutation kernel in each process: over 2 s
def test_p_values_are_two_sided_esda_p_sim():
    communities, values = lattice(VALUES_4X4)
    result = community_hotspots(communities, values, seed=11)
    weights = Queen.from_dataframe(communities.set_index("code"), use_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        esda = G_Local(values.to_numpy(), weights, transform="B", star=True,
                       permutations=999, seed=11, n_jobs=1)
    np.testing.assert_allclose(result.frame["p_sim"], esda.p_sim, atol=1e-6)
    np.testing.assert_allclose(result.frame["p_value"], np.minimum(1, 2 * esda.p_sim),
                               atol=1e-6)
    frame = result.frame
    expected = np.where(frame["p_value"] <= 0.01, "99",
                        np.where(frame["p_value"] <= 0.05, "95",
                                 np.where(frame["p_value"] <= 0.10, "90", "")))
    sign = np.sign(esda.z_sim)
    for code, level, direction in zip(frame.index, expected, sign, strict=True):
        label = "not_significant" if not level else (
            f"hot_{level}" if direction > 0 else f"cold_{level}")
        assert frame.loc[code, "hotspot_class"] == label
    assert (frame["p_value"] > frame["p_sim"]).all()


def test_fdr_classes_use_benjamini_hochberg():
    communities, series = lattice(VALUES_4X4)
    raw = community_hotspots(communities, series)
    adjusted = community_hotspots(communities, series, fdr=True)
    assert np.isnan(raw.frame["q_value"]).all()
    q = adjusted.frame["q_value"]
    np.testing.assert_allclose(q, hand_bh(raw.frame["p_value"]))
    direction = np.sign(adjusted.frame["gi_z_sim"])
    for code in q.index:
        level = next((name for cut, name in ((0.01, "99"), (0.05, "95"), (0.10, "90"))
                      if q[code] <= cut), None)
        label = "not_significant" if level is None else (
            f"hot_{level}" if direction[code] > 0 else f"cold_{level}")
        assert adjusted.frame.loc[code, "hotspot_class"] == label
    significant_raw = (raw.frame["hotspot_class"] != "not_significant").sum()
    significant_fdr = (adjusted.frame["hotspot_class"] != "not_significant").sum()
    assert significant_fdr < significant_raw


def test_seeded_and_leaves_global_random_state_alone():
    communities, values = lattice(VALUES_4X4)
    np.random.seed(3)
    first = np.random.random()
    np.random.seed(3)
    one = community_hotspots(communities, values, seed=5)
    assert np.random.random() == first
    two = community_hotspots(communities, values, seed=5)
    np.testing.assert_array_equal(one.frame["p_sim"], two.frame["p_sim"])


def test_missing_values_and_constant_values():
    communities, values = lattice(VALUES_4X4)
    values["r0c0"] = np.nan
    result = community_hotspots(communities, values)
    assert result.frame.loc["r0c0", "hotspot_class"] == "no_value"
    assert result.frame.loc["r0c1", "neighbours"] == 4  # r0c0 is out of the weights
    constant = community_hotspots(communities, pd.Series(2.0, index=values.index))
    assert (constant.frame["hotspot_class"] == "not_significant").all()
    assert constant.frame["hotspot_gi_z"].isna().all()


def test_community_hotspot_errors():
    communities, values = lattice(VALUES_4X4)
    with pytest.raises(ValueError, match="values must be >= 0"):
        community_hotspots(communities, values - 5)
    with pytest.raises(ValueError, match="codes that are not communities"):
        community_hotspots(communities, pd.concat([values, pd.Series({"zz": 1.0})]))
    with pytest.raises(ValueError, match="must carry a CRS"):
        community_hotspots(communities.set_crs(None, allow_override=True), values)
    with pytest.raises(TypeError, match="communities must be a GeoDataFrame"):
        community_hotspots(pd.DataFrame(communities), values)
    with pytest.raises(ValueError, match="permutations must be an integer >= 99"):
        community_hotspots(communities, values, permutations=10)
    with pytest.raises(ValueError, match="must be present and unique"):
        community_hotspots(pd.concat([communities, communities.head(1)]), values)
    with pytest.raises(TypeError, match="values must be a numeric Series"):
        community_hotspots(communities, values.to_dict())
    with pytest.raises(TypeError, match="values must be a numeric Series"):
        community_hotspots(communities, values.astype(str))
    with pytest.raises(ValueError, match="one value per community"):
        community_hotspots(communities, pd.concat([values, values.head(1)]))


# ---------------------------------------------------------------------------------------------
# Grid
# ---------------------------------------------------------------------------------------------

def points(rows, crs=GK_117):
    """Incidents from (x, y, precision) tuples; x None for no point."""
    geometry = [None if x is None else shapely.Point(x, y) for x, y, _ in rows]
    return gpd.GeoDataFrame({"location_precision": [p for _, _, p in rows]},
                            geometry=geometry, crs=crs)


def test_grid_is_snapped_counts_and_left_out():
    area = gpd.GeoDataFrame(
        {"code": ["a"]}, geometry=[shapely.box(X0 + 100, Y0 + 100, X0 + 600, Y0 + 300)],
        crs=GK_117)
    incidents = points([
        (X0 + 120, Y0 + 120, "exact"),
        (X0 + 200, Y0 + 200, "address"),
        (X0 + 130, Y0 + 130, "centroid"),
        (X0 + 250, Y0 + 100, None),  # on a cell edge: belongs to the cell east of it
        (X0 + 550, Y0 + 260, "exact"),
        (X0 + 9000, Y0, "exact"),
        (None, None, "exact"),
    ])
    result = grid_hotspots(incidents, area, metric_crs=GK_117)
    frame = result.frame
    assert frame.index.tolist() == ["250m:2000:17600", "250m:2001:17600", "250m:2002:17600",
                                    "250m:2000:17601", "250m:2001:17601", "250m:2002:17601"]
    assert frame["value"].tolist() == [2, 1, 0, 0, 0, 1]
    assert frame.loc["250m:2000:17600"].geometry.bounds == (X0, Y0, X0 + 250, Y0 + 250)
    assert frame.crs.equals(area.crs)
    assert (result.coarse_location, result.no_location, result.outside_grid) == (1, 1, 1)
    assert result.cell_m == 250.0 and result.metric_crs.to_epsg() == 4548
    assert result.unit == "cell"


def test_grid_keeps_cells_whose_interior_meets_the_communities():
    ell = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[
        shapely.box(X0, Y0, X0 + 500, Y0 + 250),
        shapely.box(X0, Y0 + 250, X0 + 250, Y0 + 500),
    ], crs=GK_117)
    result = grid_hotspots(points([(X0 + 10, Y0 + 10, "exact")]), ell, metric_crs=GK_117)
    assert sorted(result.frame.index) == ["250m:2000:17600", "250m:2000:17601", "250m:2001:17600"]


def test_grid_contiguity_and_analytic_z():
    square = gpd.GeoDataFrame(
        {"code": ["a"]}, geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)], crs=GK_117)
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1000, size=(60, 2))
    incidents = points([(X0 + x, Y0 + y, "exact") for x, y in xy])
    queen = grid_hotspots(incidents, square, metric_crs=GK_117, seed=1)
    rook = grid_hotspots(incidents, square, metric_crs=GK_117, contiguity="rook", seed=1)
    assert queen.frame.loc["250m:2001:17601", "neighbours"] == 8
    assert rook.frame.loc["250m:2001:17601", "neighbours"] == 4
    frame = queen.frame.sort_values(["iy", "ix"])
    counts = np.zeros((4, 4))
    for x, y in xy:
        counts[int(y // 250), int(x // 250)] += 1
    np.testing.assert_array_equal(frame["value"].to_numpy(), counts.ravel())
    np.testing.assert_allclose(frame["hotspot_gi_z"],
                               analytic_gi_star(counts.ravel(), queen_with_self(4, 4)),
                               rtol=1e-10)


def test_grid_cluster_is_hot_and_default_crs_from_the_data():
    square = gpd.GeoDataFrame(
        {"code": ["a"]}, geometry=[shapely.box(116.30, 39.90, 116.33, 39.92)], crs=4326)
    rng = np.random.default_rng(2)
    spread = [(x, y, "exact") for x, y in zip(rng.uniform(116.30, 116.33, 150),
                                             rng.uniform(39.90, 39.92, 150), strict=True)]
    cluster = [(x, y, "exact") for x, y in zip(rng.normal(116.305, 0.0008, 80),
                                              rng.normal(39.905, 0.0008, 80), strict=True)]
    result = grid_hotspots(points(spread + cluster, crs=4326), square, seed=3)
    assert result.metric_crs.to_epsg() == 4548
    centre = gpd.GeoSeries([shapely.Point(116.305, 39.905)], crs=4326).to_crs(GK_117)
    ix, iy = int(centre.x.iloc[0] // 250), int(centre.y.iloc[0] // 250)
    assert result.frame.loc[f"250m:{ix}:{iy}", "hotspot_class"] == "hot_99"
    assert result.frame.crs.to_epsg() == 4326


def test_grid_island_cell():
    two = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[
        shapely.box(X0, Y0, X0 + 500, Y0 + 500),
        shapely.box(X0 + 2000, Y0 + 2000, X0 + 2100, Y0 + 2100),
    ], crs=GK_117)
    incidents = points([(X0 + 10, Y0 + 10, "exact"), (X0 + 2050, Y0 + 2050, "exact")])
    result = grid_hotspots(incidents, two, metric_crs=GK_117)
    assert result.islands == ("250m:2008:17608",)
    assert result.frame.loc["250m:2008:17608", "hotspot_class"] == "no_neighbours"


def test_grid_errors():
    area = gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.box(X0, Y0, X0 + 500, Y0 + 500)],
                            crs=GK_117)
    incidents = points([(X0 + 10, Y0 + 10, "exact")])
    with pytest.raises(ValueError, match="must share a CRS"):
        grid_hotspots(incidents.to_crs(4326), area)
    with pytest.raises(ValueError, match="projected CRS in metres"):
        grid_hotspots(incidents, area, metric_crs=4326)
    with pytest.raises(ValueError, match="not a CRS pyproj knows"):
        grid_hotspots(incidents, area, metric_crs="EPSG:999999")
    with pytest.raises(ValueError, match="cell_m must be a positive number"):
        grid_hotspots(incidents, area, cell_m=0)
    with pytest.raises(ValueError, match="contiguity must be 'queen' or 'rook'"):
        grid_hotspots(incidents, area, contiguity="bishop")
    with pytest.raises(ValueError, match="exclude_precisions must be among"):
        grid_hotspots(incidents, area, exclude_precisions=["rough"])
    with pytest.raises(TypeError, match="exclude_precisions must be a list"):
        grid_hotspots(incidents, area, exclude_precisions="centroid")
    with pytest.raises(ValueError, match="incidents must be points"):
        grid_hotspots(gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0, X0 + 1, Y0 + 1)],
                                       crs=GK_117), area, metric_crs=GK_117)
    with pytest.raises(ValueError, match="at least one non-empty polygon"):
        grid_hotspots(incidents, area.iloc[:0], metric_crs=GK_117)
    with pytest.raises(ValueError, match="at least one non-empty polygon"):
        grid_hotspots(incidents, area.set_geometry([shapely.Polygon()], crs=GK_117),
                      metric_crs=GK_117)
