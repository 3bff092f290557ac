"""Tests for geo.assign: exact point-in-polygon assignment with the smallest-position rule."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.typing import ArrayLike
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geo.assign import PolygonIndex, assign_points, assign_to_communities
from geo.sample import generate_boundaries


def reference(x: ArrayLike, y: ArrayLike, polygons: Any) -> np.ndarray:
    """geopandas.sjoin(predicate="intersects") plus the smallest-position rule."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y))
    polys = gpd.GeoDataFrame(geometry=list(polygons))
    joined = gpd.sjoin(points, polys, predicate="intersects", how="inner")
    out = np.full(np.size(x), -1, dtype=np.int64)
    smallest = joined.groupby(level=0)["index_right"].min()
    out[smallest.index.to_numpy()] = smallest.to_numpy()
    return out


def square(x0: float, y0: float, side: float = 1.0) -> Polygon:
    return box(x0, y0, x0 + side, y0 + side)


# --------------------------------------------------------------------------- hand-made cases
def test_point_strictly_inside() -> None:
    polys = [square(0, 0), square(1, 0)]
    got = assign_points([0.5, 1.5, 0.25], [0.5, 0.5, 0.75], polys)
    assert got.tolist() == [0, 1, 0]
    assert got.dtype == np.int32


def test_shared_edge_goes_to_smaller_position() -> None:
    a, b = square(0, 0), square(1, 0)
    x, y = [1.0, 1.0, 1.0], [0.5, 0.0, 1.0]  # mid-edge and both ends of the shared edge
    assert assign_points(x, y, [a, b]).tolist() == [0, 0, 0]
    assert assign_points(x, y, [b, a]).tolist() == [0, 0, 0]
    # The edge belongs to the smaller position, wherever the polygon is.
    assert assign_points(x, y, [square(5, 5), b, a]).tolist() == [1, 1, 1]


def test_shared_vertex_of_several_polygons() -> None:
    far = square(10, 10)
    lower_right = square(1, 0)
    upper_left = square(0, 1)
    triangle = Polygon([(1, 1), (2, 1), (1, 2)])  # the upper-right quadrant, partly
    lower_left = square(0, 0)
    polys = [far, upper_left, triangle, lower_right, lower_left]
    got = assign_points([1.0, 1.5, 1.9, 0.5], [1.0, 1.2, 1.9, 0.5], polys)
    # The vertex (1, 1) touches positions 1-4: it goes to 1. (1.9, 1.9) is beyond the
    # triangle's hypotenuse: nobody.
    assert got.tolist() == [1, 2, -1, 4]


def test_outer_boundary_is_assigned() -> None:
    polys = [square(0, 0), square(1, 0)]
    x = [0.0, 2.0, 0.3, 1.5, -1e-12, 2.0 + 1e-12]
    y = [0.5, 1.0, 0.0, 1.0, 0.5, 0.5]
    assert assign_points(x, y, polys).tolist() == [0, 1, 0, 1, -1, -1]


def test_hole_is_unassigned_unless_filled() -> None:
    hole = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
    with_hole = Polygon(box(0, 0, 1, 1).exterior.coords, [hole])
    x = [0.5, 0.25, 0.1, 0.75]
    y = [0.5, 0.5, 0.1, 0.75]
    # In the hole: nobody; on the hole's edge: the polygon (closed); between: the polygon.
    assert assign_points(x, y, [with_hole]).tolist() == [-1, 0, 0, 0]
    enclave = Polygon(hole)
    assert assign_points(x, y, [with_hole, enclave]).tolist() == [1, 0, 0, 0]
    assert assign_points(x, y, [enclave, with_hole]).tolist() == [0, 0, 1, 0]


def test_multipolygon_parts() -> None:
    multi = MultiPolygon([square(0, 0), square(3, 0)])
    polys = [square(10, 0), multi]
    got = assign_points([0.5, 3.5, 2.0, 3.0, 10.5], [0.5, 0.5, 0.5, 1.0, 0.5], polys)
    assert got.tolist() == [1, 1, -1, 1, 0]


def test_overlapping_polygons() -> None:
    big, small = box(0, 0, 4, 4), box(1, 1, 2, 2)
    x, y = [1.5, 3.0, 1.0], [1.5, 3.0, 1.5]
    assert assign_points(x, y, [small, big]).tolist() == [0, 1, 0]
    assert assign_points(x, y, [big, small]).tolist() == [0, 0, 0]


def test_point_level_with_a_vertex_on_a_cell_border() -> None:
    # With 1-degree cells, the path from (0.25, 0.5) to its cell's corner (1, 0) turns at
    # (1, 0.5), which is the triangle's lowest vertex: the engine must not count a crossing
    # there. The point is outside the triangle.
    triangle = Polygon([(1, 0.5), (0.5, 0.9), (0.2, 0.9)])
    x, y = [0.25, 0.9, 1.0], [0.5, 0.56, 0.5]
    got = assign_points(x, y, [triangle], cell_size_deg=1.0)
    assert got.tolist() == [-1, 0, 0]
    np.testing.assert_array_equal(got, reference(x, y, [triangle]))


def test_many_nested_polygons_in_one_cell() -> None:
    # More overlapping polygons than a cell tracks by bit mask: GEOS decides those points.
    nested = [box(-k, -k, k, k) for k in np.linspace(0.5, 0.05, 20)]
    x = np.array([0.0, 0.06, 0.3, 0.49, 0.6])
    got = assign_points(x, np.zeros_like(x), nested, cell_size_deg=1.0)
    np.testing.assert_array_equal(got, reference(x, np.zeros_like(x), nested))
    assert got.tolist() == [0, 0, 0, 0, -1]


def test_nan_coordinates_are_unassigned() -> None:
    polys = [square(0, 0)]
    got = assign_points([np.nan, 0.5, np.nan, 0.5], [0.5, np.nan, np.nan, 0.5], polys)
    assert got.tolist() == [-1, -1, -1, 0]


def test_points_outside_the_extent() -> None:
    polys = [square(0, 0), square(1, 0)]
    x = [-50.0, 1e300, np.inf, -np.inf, 0.5]
    y = [0.5, 0.5, 0.5, 0.5, 1e-300]
    assert assign_points(x, y, polys).tolist() == [-1, -1, -1, -1, 0]


def test_empty_inputs() -> None:
    polys = [square(0, 0)]
    got = assign_points(np.array([]), np.array([]), polys)
    assert got.shape == (0,) and got.dtype == np.int32
    assert assign_points([0.5, 3.0], [0.5, 3.0], []).tolist() == [-1, -1]
    assert assign_points([0.5], [0.5], [None, Polygon(), square(0, 0)]).tolist() == [2]


def test_shape_is_kept() -> None:
    index = PolygonIndex.build([square(0, 0)])
    got = index.assign(np.full((2, 3), 0.5), np.full((2, 3), 0.5))
    assert got.shape == (2, 3) and (got == 0).all()
    assert index.assign(0.5, 5.0).shape == ()


def test_index_is_immutable() -> None:
    index = PolygonIndex.build([square(0, 0)])
    with pytest.raises(AttributeError, match="cannot assign to field 'n_polygons'"):
        index.n_polygons = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        index._grid[0] = 5
    assert index.n_polygons == 1 and "n_polygons=1" in repr(index)


def test_input_polygons_are_not_modified() -> None:
    polys = np.array([square(0, 0), square(1, 0)], dtype=object)
    before = shapely.to_wkb(polys)
    PolygonIndex.build(polys).assign([1.0], [0.5])
    assert shapely.to_wkb(polys).tolist() == before.tolist()
    assert not shapely.is_prepared(polys).any()


# --------------------------------------------------------------------------- equivalence
def _complex_polygons() -> list:
    """Sample-city communities plus a hole, an enclave, a multipolygon and an overlap."""
    frame = generate_boundaries(30, n_subdistricts=3, n_districts=1, seed=7)
    polys = list(frame.geometry)
    inner = shapely.buffer(shapely.point_on_surface(polys[3]), 0.0008, quad_segs=24)
    polys[3] = polys[3].difference(inner)  # a hole ...
    polys.insert(0, inner)  # ... that an earlier polygon fills
    free = shapely.buffer(shapely.point_on_surface(polys[10]), 0.0005)
    polys[10] = polys[10].difference(free)  # a hole nobody fills
    polys[5] = MultiPolygon([polys[5], polys.pop(20)])
    polys.append(shapely.buffer(shapely.centroid(polys[8]), 0.003))  # overlaps neighbours
    return polys


def _tricky_points(polys: list, rng: np.random.Generator, n: int) -> tuple:
    coords = shapely.get_coordinates(polys)
    xmin, ymin, xmax, ymax = shapely.total_bounds(polys)
    pad = 0.1 * (xmax - xmin)
    x = rng.uniform(xmin - pad, xmax + pad, n)
    y = rng.uniform(ymin - pad, ymax + pad, n)
    on_vertex = rng.integers(0, len(coords), n // 4)
    x[: n // 4], y[: n // 4] = coords[on_vertex, 0], coords[on_vertex, 1]
    # Points on edges: midpoints (exact only on axis-aligned edges, near otherwise).
    k = rng.integers(0, len(coords) - 1, n // 4)
    x[n // 4 : n // 2] = (coords[k, 0] + coords[k + 1, 0]) / 2
    y[n // 4 : n // 2] = (coords[k, 1] + coords[k + 1, 1]) / 2
    x[-3:] = np.nan
    return x, y


@pytest.mark.parametrize("cell_size_deg", [None, 2.0**-16, 2.0**-10])
def test_equivalent_to_sjoin_on_complex_boundaries(cell_size_deg: float | None) -> None:
    polys = _complex_polygons()
    x, y = _tricky_points(polys, np.random.default_rng(1), 4000)
    got = assign_points(x, y, polys, cell_size_deg=cell_size_deg)
    want = reference(x, y, polys)
    np.testing.assert_array_equal(got, want)
    assert (want[:1000] >= 0).all()  # every vertex point is assigned
    assert len(set(want.tolist())) > 25  # the points reach most polygons


@pytest.mark.parametrize("cover", [False, True])
def test_equivalent_to_sjoin_when_edges_lie_on_grid_lines(cover: bool) -> None:
    # Squares whose edges run along the grid lines: cell corners fall on edges, so the engine
    # must pick other corners or hand whole cells to GEOS. With ``cover``, a polygon first in
    # line overlaps everything, with no edge near those cells.
    size = 2.0**-4
    polys = [box(i * size, j * size, (i + 1) * size, (j + 1) * size)
             for i in range(6) for j in range(5) if (i + j) % 7]
    polys.append(box(size / 2, size / 2, 3 * size, 2 * size))  # overlapping, off the grid
    if cover:
        polys.insert(0, box(-3 * size, -3 * size, 10 * size, 9 * size))
    rng = np.random.default_rng(2)
    grid = np.arange(-1, 8) * size
    x = np.concatenate([rng.choice(grid, 400), rng.choice(grid, 400) + size / 2,
                        rng.uniform(-0.1, 0.5, 400)])
    y = np.concatenate([rng.choice(grid, 400) + size / 2, rng.choice(grid, 400),
                        rng.uniform(-0.1, 0.4, 400)])
    for cell in (size, size / 4):
        np.testing.assert_array_equal(
            assign_points(x, y, polys, cell_size_deg=cell), reference(x, y, polys)
        )


def test_equivalent_to_sjoin_on_random_overlapping_triangles() -> None:
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 1, (60, 2))
    polys = [Polygon(c + rng.normal(0, 0.08, (3, 2))).buffer(0) for c in centres]
    polys = [p for p in polys if not p.is_empty]
    x, y = _tricky_points(polys, rng, 3000)
    np.testing.assert_array_equal(assign_points(x, y, polys), reference(x, y, polys))


def test_chunks_do_not_change_the_result() -> None:
    polys = _complex_polygons()
    x, y = _tricky_points(polys, np.random.default_rng(4), 3000)
    index = PolygonIndex.build(polys)
    np.testing.assert_array_equal(index.assign(x, y, chunk_size=7), index.assign(x, y))


# --------------------------------------------------------------------------- communities
def _communities(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": pd.array(["c3", "c1", "c2"], dtype="string")},
        geometry=[square(0, 0), square(1, 0), square(0, 1)],
        crs=crs,
    )


def test_assign_to_communities_uses_the_smallest_code() -> None:
    points = gpd.GeoDataFrame(
        {"id": ["a", "b", "c", "d", "e"]},
        geometry=[Point(0.5, 0.5), Point(1.0, 0.5), Point(1.0, 1.0), Point(0.5, 1.0),
                  Point(5, 5)],
        crs="EPSG:4326",
        index=[10, 11, 12, 13, 14],
    )
    got = assign_to_communities(points, _communities())
    assert got.name == "community_code" and got.dtype == "string"
    assert got.index.tolist() == [10, 11, 12, 13, 14]
    # (1, 0.5) is shared by c3 and c1; (1, 1) by all three; (0.5, 1) by c3 and c2.
    assert got.tolist()[:4] == ["c3", "c1", "c1", "c2"]
    assert got.isna().tolist() == [False, False, False, False, True]


def test_assign_to_communities_null_and_empty_points() -> None:
    points = gpd.GeoSeries([None, Point(), Point(1.5, 0.5)], crs="EPSG:4326")
    got = assign_to_communities(points, _communities())
    assert got.isna().tolist() == [True, True, False] and got.iloc[2] == "c1"


def test_assign_to_communities_other_code_field() -> None:
    comms = _communities().rename(columns={"code": "社区代码"})
    points = gpd.GeoSeries([Point(0.5, 1.5)], crs="EPSG:4326")
    assert assign_to_communities(points, comms, code_field="社区代码").tolist() == ["c2"]


def test_crs_mismatch_names_both() -> None:
    points = gpd.GeoSeries([Point(0.5, 0.5)], crs="EPSG:4490")
    with pytest.raises(ValueError, match=r"EPSG:4490.*EPSG:3857"):
        assign_to_communities(points, _communities("EPSG:3857"))


@pytest.mark.parametrize(
    ("points", "communities", "kwargs", "error", "match"),
    [
        ([Point(0, 0)], None, {}, TypeError, "points must be a GeoSeries"),
        (None, "frame", {}, TypeError, "communities must be a GeoDataFrame"),
        ("no_crs", None, {}, ValueError, "points has no CRS"),
        (None, "no_crs", {}, ValueError, "communities has no CRS"),
        (None, None, {"code_field": "nope"}, ValueError, "code_field 'nope' is not a column"),
        (None, "duplicate", {}, ValueError, "must be unique; got 'c1'"),
        (None, "missing", {}, ValueError, "missing codes"),
        ("line", None, {}, TypeError, "points must be Point geometries; got LineString"),
    ],
)
def test_assign_to_communities_errors(points, communities, kwargs, error, match) -> None:
    comms = _communities()
    pts = gpd.GeoSeries([Point(0.5, 0.5)], crs="EPSG:4326")
    if points == "no_crs":
        pts = gpd.GeoSeries([Point(0.5, 0.5)])
    elif points == "line":
        pts = gpd.GeoSeries([Point(0.5, 0.5), shapely.LineString([(0, 0), (1, 1)])],
                            crs="EPSG:4326")
    elif points is not None:
        pts = points
    if communities == "frame":
        comms = pd.DataFrame({"code": ["a"]})
    elif communities == "no_crs":
        comms = _communities().set_crs(None, allow_override=True)
    elif communities == "duplicate":
        comms = _communities().assign(code=pd.array(["c1", "c1", "c2"], dtype="string"))
    elif communities == "missing":
        comms = _communities().assign(code=pd.array(["c1", None, "c2"], dtype="string"))
    with pytest.raises(error, match=match):
        assign_to_communities(pts, comms, **kwargs)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("polygons", "kwargs", "error", "match"),
    [
        ([Point(0, 0)], {}, TypeError, "Polygon or MultiPolygon.*Point.*position 0"),
        ([square(0, 0), "box"], {}, TypeError, "shapely geometries; got str at position 1"),
        ([square(0, 0)], {"cells_per_vertex": 0}, ValueError, "cells_per_vertex must be > 0"),
        ([square(0, 0)], {"max_cells": 4}, ValueError, "max_cells must be >= 16"),
        ([square(0, 0)], {"cell_size_deg": -1.0}, ValueError, "cell_size_deg must be a positive"),
        ([square(0, 0)], {"cell_size_deg": np.inf}, ValueError, "cell_size_deg must be a positive"),
        ([square(1e6, 0, 1e-6)], {"cell_size_deg": 1e-9}, ValueError,
         r"cell_size_deg must be at least 7\.\d+e-06 for coordinates of magnitude 1e\+06"),
        ("nan", {}, ValueError, "finite coordinates; got NaN or infinite"),
    ],
)
def test_build_errors(polygons, kwargs, error, match) -> None:
    if polygons == "nan":
        with np.errstate(invalid="ignore"):
            polygons = [Polygon([(0, 0), (1, np.nan), (1, 1)])]
    with pytest.raises(error, match=match):
        PolygonIndex.build(polygons, **kwargs)


def test_assign_errors() -> None:
    index = PolygonIndex.build([square(0, 0)])
    with pytest.raises(ValueError, match=r"same shape; got \(2,\) and \(3,\)"):
        index.assign([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="chunk_size must be >= 1; got 0"):
        index.assign([0], [0], chunk_size=0)


def test_geoseries_input_and_properties() -> None:
    series = gpd.GeoSeries([square(0, 0), square(2, 0)], crs="EPSG:4326")
    index = PolygonIndex.build(series, cell_size_deg=0.25)
    assert index.cell_size_deg == 0.25
    assert index.n_edge_cells > 0 and index.n_entries >= index.n_edge_cells
    assert index.grid_shape[1] == 3 * 4 + 5  # 3 degrees of extent, 2 + 3 cells of padding
    assert index.assign([2.5], [0.5]).tolist() == [1]
