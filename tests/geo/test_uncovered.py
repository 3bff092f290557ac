"""Tests for geo.uncovered: each area minus the union of its covers, on both engines."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo import uncovered as uncovered_module
from geo.uncovered import uncovered_parts

GK = 4548  # CGCS2000 3-degree Gauss-Kruger CM 117E


def test_uncovered_parts_counts_overlapping_covers_once():
    area = shapely.box(0, 0, 10, 10)
    covers = [shapely.box(0, 0, 5, 10), shapely.box(2, 0, 5, 10), None, shapely.box(20, 0, 30, 1)]
    left = uncovered_parts([area, shapely.box(40, 40, 41, 41)], covers)
    assert left[0].area == pytest.approx(50.0)
    assert left[1].area == pytest.approx(1.0)  # touched by no cover: unchanged


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_uncovered_parts_is_the_same_on_any_number_of_threads():
    rng = np.random.default_rng(11)
    areas = [shapely.box(x, 0, x + 100, 100) for x in range(0, 2000, 100)]
    centres = shapely.points(rng.uniform(0, 2000, 600), rng.uniform(0, 100, 600))
    covers = shapely.buffer(centres, rng.uniform(1, 30, 600))
    one = uncovered_parts(areas, covers, workers=1)
    two = uncovered_parts(areas, covers, workers=2)
    naive = [a.difference(shapely.union_all(covers)) for a in areas]
    assert np.array_equal(shapely.area(one), shapely.area(two))
    np.testing.assert_allclose(shapely.area(one), shapely.area(naive), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        uncovered_parts(areas, covers, workers=0)


@pytest.fixture(params=["clipper", "geos"])
def engine(request, monkeypatch):
    """Run a test once with Clipper2 (pyclipr) and once with the GEOS fallback."""
    if request.param == "clipper":
        pytest.importorskip("pyclipr")
        monkeypatch.setattr(uncovered_module, "_HAS_CLIPPER", True)
    else:
        monkeypatch.setattr(uncovered_module, "_HAS_CLIPPER", False)
    return request.param


def test_uncovered_parts_keeps_islands_and_assigns_holes_to_their_shells(engine):
    area = shapely.box(0, 0, 100, 100)
    # A frame of cover (20..80 minus 40..60) leaves an island in its middle; a wall at
    # x = 90..92 cuts the area in two shells, and a small cover makes a hole in each.
    frame = shapely.box(20, 20, 80, 80).difference(shapely.box(40, 40, 60, 60))
    covers = [frame, shapely.box(90, -5, 92, 105), shapely.box(5, 5, 10, 10),
              shapely.box(95, 50, 97, 52)]
    left = uncovered_parts([area], covers)[0]
    assert left.is_valid
    expected = 10_000 - (3_600 - 400) - 2 * 100 - 25 - 4
    assert left.area == pytest.approx(expected, rel=1e-12)
    parts = sorted(shapely.get_parts(left), key=lambda p: p.area)
    # the island (400 m²), the strip east of the wall (8 x 100 minus the 2 x 2 hole), and
    # the rest (with two holes: the frame's outline and the 5 x 5 cover)
    assert [round(p.area, 6) for p in parts] == [400.0, 796.0, 5_375.0]
    assert [len(p.interiors) for p in parts] == [0, 1, 2]


def test_uncovered_parts_with_holes_multipolygons_and_coincident_covers(engine):
    area = shapely.Polygon(shapely.box(0, 0, 100, 100).exterior.coords,
                           [shapely.box(10, 10, 20, 20).exterior.coords])
    twin = shapely.MultiPolygon([shapely.box(0, 0, 100, 100), shapely.box(200, 0, 300, 100)])
    covers = [
        shapely.box(0, 0, 50, 100),  # exactly on the area's west edge
        shapely.box(0, 0, 50, 100).reverse(),  # the same, the other way round
        shapely.box(50, 0, 60, 100),  # touching the first along x = 50
        shapely.Polygon(shapely.box(250, 0, 300, 100).exterior.coords,
                        [shapely.box(260, 10, 270, 20).exterior.coords]),
    ]
    left = uncovered_parts([area, twin], covers)
    assert shapely.is_valid(left).all()
    assert left[0].area == pytest.approx(4_000.0, rel=1e-12)  # 40 x 100; the hole was covered
    assert left[1].area == pytest.approx(4_000 + 5_000 + 100, rel=1e-12)
    everything = uncovered_parts([shapely.box(0, 0, 10, 10)], [shapely.box(-1, -1, 11, 11)])
    assert everything[0].is_empty


def test_uncovered_parts_engines_agree_on_the_sample_city():
    pytest.importorskip("pyclipr")
    from geo.sample import generate_boundaries

    comm = generate_boundaries(40, seed=5).to_crs(GK).geometry.to_numpy()
    rng = np.random.default_rng(5)
    box = shapely.bounds(comm)
    n = 3_000
    x = rng.uniform(box[:, 0].min(), box[:, 2].max(), n)
    y = rng.uniform(box[:, 1].min(), box[:, 3].max(), n)
    covers = shapely.buffer(shapely.points(x, y), rng.uniform(5, 80, n),
                            quad_segs=int(rng.integers(2, 9)))
    fast = uncovered_parts(comm, covers)
    uncovered_module._HAS_CLIPPER = False
    try:
        slow = uncovered_parts(comm, covers)
    finally:
        uncovered_module._HAS_CLIPPER = True
    assert shapely.is_valid(fast).all()
    np.testing.assert_allclose(shapely.area(fast), shapely.area(slow), rtol=1e-9, atol=1e-6)
    # the same regions, not just the same areas
    assert (shapely.area(shapely.symmetric_difference(fast, slow)) < 1e-6).all()
