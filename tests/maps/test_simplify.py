"""Display simplification of boundaries (maps.page.simplify_display): a coverage stays one.

Community boundaries are simplified together in metres (``shapely.coverage_simplify`` in the
metric CRS) and rounded to 1e-5 degrees: neighbours must still share their edges (no gap, no
overlap), no boundary may move by more than the tolerance, and the page holds 5 decimals.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.projection import metric_crs_for
from geo.sample import generate_boundaries
from maps import MapOptions, incident_map
from maps.page import display_geometries, simplify_display
from tests.maps.maphelpers import features_by_key, incident_data, page

GCJ_TILES = "https://tiles.example.invalid/{z}/{x}/{y}.png"


@pytest.fixture(scope="module")
def city() -> gpd.GeoDataFrame:
    return generate_boundaries(60, n_subdistricts=6, n_districts=2, seed=7)


def metric(geoms, crs) -> np.ndarray:
    return gpd.GeoSeries(geoms, crs=4326).to_crs(crs).to_numpy()


def overlap_and_gap_m2(geoms: np.ndarray) -> tuple[float, float]:
    """Largest pairwise overlap area and |area of the union - sum of the areas|, m²."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    inter = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    union = shapely.coverage_union_all(geoms) if shapely.coverage_is_valid(geoms) \
        else shapely.union_all(geoms)
    return float(inter.max(initial=0.0)), abs(float(shapely.area(union))
                                              - float(shapely.area(geoms).sum()))


def decimals_at_most(geoms: np.ndarray, d: int) -> bool:
    xy = shapely.get_coordinates(geoms)
    return bool(np.all(np.abs(xy * 10**d - np.round(xy * 10**d)) < 1e-6))


def test_communities_simplified_as_a_coverage_keep_shared_edges(city):
    tolerance = 10.0
    options = MapOptions(simplify_m=tolerance)
    raw = city.geometry.to_numpy()
    crs = metric_crs_for(*shapely.get_coordinates(shapely.union_all(raw).centroid)[0])
    shown = display_geometries(city.geometry, options, simplify=True)
    before, after = metric(raw, crs), metric(shown, crs)
    # far fewer vertices (the generator writes one every 12 m)
    assert shapely.get_num_coordinates(shown).sum() < 0.5 * shapely.get_num_coordinates(raw).sum()
    # still a coverage: no overlap between neighbours, no gap, the same outer area
    assert shapely.coverage_is_valid(shown)
    overlap, gap = overlap_and_gap_m2(after)
    assert overlap < 1.0
    assert gap < 1.0
    city_area = float(shapely.area(shapely.coverage_union_all(before)))
    assert float(shapely.area(after).sum()) == pytest.approx(city_area, rel=2e-3)
    # every boundary within the tolerance of where it was, rounding included
    assert float(shapely.hausdorff_distance(before, after).max()) <= tolerance
    # neighbours share edges: their boundaries touch along lines, not at points only
    tree = shapely.STRtree(after)
    left, right = tree.query(after, predicate="touches")
    shared = shapely.length(shapely.intersection(shapely.boundary(after[left]),
                                                 shapely.boundary(after[right])))
    assert len(left) > 2 * len(after) and float(np.median(shared)) > 50
    assert decimals_at_most(shown, 5)


def test_simplifying_each_polygon_alone_would_open_gaps(city):
    """What the coverage simplification avoids, measured by the same checks."""
    raw = city.geometry.to_numpy()
    crs = metric_crs_for(*shapely.get_coordinates(shapely.union_all(raw).centroid)[0])
    alone = shapely.simplify(metric(raw, crs), 10.0, preserve_topology=True)
    overlap, gap = overlap_and_gap_m2(alone)
    assert overlap > 10.0 or gap > 10.0
    assert not shapely.coverage_is_valid(alone)


def test_overlapping_areas_are_simplified_one_by_one(city):
    """Areas that are not a coverage (overlapping buffers) each stay within the tolerance."""
    crs = metric_crs_for(116.395, 39.915)
    centres = shapely.centroid(metric(city.geometry.to_numpy()[:6], crs))
    circles = shapely.buffer(centres, 800.0, quad_segs=64)
    assert not shapely.coverage_is_valid(circles)
    wgs = gpd.GeoSeries(circles, crs=crs).to_crs(4326).to_numpy()
    out = simplify_display(np.append(wgs, [None, shapely.Polygon()]), 10.0)
    assert out[-2] is None and out[-1].is_empty
    back = metric(out[:-2], crs)
    assert shapely.get_num_coordinates(back).sum() < shapely.get_num_coordinates(circles).sum()
    assert float(shapely.hausdorff_distance(circles, back).max()) <= 10.0
    assert np.all(shapely.is_valid(back))


def test_zero_tolerance_keeps_every_vertex(city):
    raw = city.geometry.to_numpy()
    assert simplify_display(raw, 0.0) is not None
    assert np.all(shapely.equals_exact(simplify_display(raw, 0.0), raw, tolerance=0.0))


def test_gcj02_shift_keeps_the_coverage(city):
    options = MapOptions(tile_url=GCJ_TILES, tiles_gcj02=True)
    shown = display_geometries(city.geometry, options, simplify=True)
    assert shapely.coverage_is_valid(shown)
    assert decimals_at_most(shown, 5)


def test_incident_map_page_boundaries_at_5_decimals_points_at_6(city):
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = city.total_bounds
    lon = np.round(rng.uniform(x0, x1, 40), 7)
    lat = np.round(rng.uniform(y0, y1, 40), 7)
    incidents = gpd.GeoDataFrame(
        {"occurred_at": [pd.Timestamp("2025-03-01T02:00Z")] * 40, "category": ["theft"] * 40},
        geometry=gpd.points_from_xy(lon, lat), crs=4326)
    html = page(incident_map(city, incidents))
    boundaries = features_by_key(html)
    assert set(boundaries) == set(city["code"])
    rings = [np.asarray(f["geometry"]["coordinates"][0]) for f, _ in boundaries.values()]
    xy = np.vstack(rings)
    assert np.all(np.abs(xy * 1e5 - np.round(xy * 1e5)) < 1e-6)
    data = incident_data(html)
    assert sorted(data["lng"]) == sorted(np.round(lon, 6).tolist())
    assert sorted(data["lat"]) == sorted(np.round(lat, 6).tolist())
