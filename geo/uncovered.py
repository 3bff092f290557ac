"""Each area minus the union of the covers that touch it: the polygon-subtraction engine.

Facility coverage (:mod:`geo.coverage`: service circles), camera coverage (:mod:`geo.cameras`:
view sectors) and the population placement (:mod:`geo.population`: compounds cut out of their
community) all need "each area minus the union of the covers that touch it", for thousands of
areas and up to a million covers. :func:`uncovered_parts` answers it; :func:`subtract_covers` is
the same subtraction for callers that find the (area, cover) pairs themselves and hand the
covers over as coordinate arrays (:class:`Rings`), with no shapely polygon per cover.

Why this is written here
------------------------
geopandas' ``overlay`` + ``dissolve`` computes a polygon intersection for every (cover, area)
pair and then unions the pieces; GEOS has no faster route (a cascaded union costs tens of
microseconds per cover, then a difference per area). :func:`uncovered_parts` hands each area
and its covers to Clipper2 (through ``pyclipr``), whose sweep line subtracts the union in one
pass with the non-zero fill rule, on integer coordinates (:data:`_CLIPPER_BITS`); the rings it
returns are turned into shapely polygons here, a hole going to the smallest shell of its area
around it. The covers that may touch an area are found without a polygon test each: their
boxes meet, and their extents overlap along eight directions (two convex hulls that meet do), a
few comparisons per pair that keep every cover touching the area and a few that only come
close, which change nothing (a GEOS intersection test per pair would cost about as much as the
whole sweep). Without pyclipr the same subtraction runs on GEOS
(``shapely.disjoint_subset_union_all``, then one difference per area, as vectorised calls on a
thread pool); the results agree to about 1e-12 of an area (Clipper2's grid is under a nanometre
for a city).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.checks import check_workers

try:
    # Clipper2 subtracts the union of many covers from an area in one sweep, several times
    # faster than GEOS's cascaded union followed by a difference; GEOS serves without it.
    import pyclipr as _pyclipr

    _HAS_CLIPPER = True
except ImportError:  # pragma: no cover - depends on the environment
    _HAS_CLIPPER = False

__all__ = [
    "Rings",
    "Subtraction",
    "dop_pairs",
    "polygon_dops",
    "polygon_rings",
    "ranges",
    "subtract_covers",
    "uncovered_parts",
]
#: Most covers in one chunk of :func:`_subtract_geos` (bounds the padded arrays' memory).
_CHUNK_COVERS = 200_000
#: Vertices (or pairs) per block of the vectorised ring arithmetic (keeps temporaries small).
_BLOCK_VERTICES = 1 << 16
#: Directions on which :func:`dop_pairs` compares extents (every 22.5 degrees).
_DOP_AXES = 8
#: Slack of those comparisons, metres: far above the rounding of the projections.
_DOP_SLACK = 1e-6
#: Clipper2 works on integers: coordinates are scaled so that the data's extent spans at most
#: 2**46 units, which leaves Clipper2's 64-bit arithmetic (and the doubles it computes
#: intersections in) ample headroom while the grid stays far below a nanometre for a city.
_CLIPPER_BITS = 46


def uncovered_parts(
    areas: ArrayLike, covers: ArrayLike, *, workers: int | None = None
) -> NDArray[np.object_]:
    """Return each area minus the union of the covers that touch it.

    Parameters
    ----------
    areas
        Polygons (one per community, compound...), in the same projected CRS as ``covers``.
    covers
        Polygons that cover (view sectors, service circles); ``None`` and empty ones are
        ignored. Overlapping covers count once.
    workers
        Threads for the GEOS work (shapely releases the GIL inside GEOS); ``None`` uses every
        CPU. Results do not depend on it. The Clipper2 sweep runs on the calling thread.

    Returns
    -------
    numpy.ndarray of object
        One polygon or multipolygon (possibly empty) per area, in the order of ``areas``; an
        area no cover touches is returned as it was given.

    Raises
    ------
    ValueError
        When ``workers`` is not a positive integer.

    Notes
    -----
    See the module docstring ("Why some of this is written here"). Clipper2 works on integers:
    coordinates are shifted to the middle of the data and scaled so that its extent spans
    about 2**46 units (a grid far finer than a nanometre for a city), so results agree with
    GEOS's floating-point overlay to about 1e-12 of an area.
    """
    n_workers = check_workers(workers)
    area_arr = np.asarray(areas, dtype=object).ravel()
    cover_arr = _usable(np.asarray(covers, dtype=object).ravel())
    if not len(cover_arr) or not len(area_arr):
        return area_arr.copy()
    rings = polygon_rings(cover_arr)
    area_rings = polygon_rings(area_arr)
    pair_area, pair_cover = _cover_pairs(area_arr, area_rings, cover_arr, rings)
    cut = subtract_covers(area_arr, area_rings, pair_area, pair_cover, rings=lambda: rings,
                           polygons=lambda: cover_arr, workers=n_workers)
    return cut.geometries()


@dataclass(frozen=True)
class Rings:
    """Polygon rings as one block of coordinates.

    Ring ``k`` is ``xy[start[k]:start[k + 1]]``, without its closing vertex; ``owner[k]`` is
    the position of the geometry it belongs to (a geometry's rings need not be adjacent, but
    keep their order: its shell first) and ``shell[k]`` whether it is an exterior ring. Shells
    run counter-clockwise and holes clockwise, or all the other way round: either way a
    non-zero winding number means "inside".
    """

    xy: NDArray[np.float64]
    start: NDArray[np.int64]
    owner: NDArray[np.int64]
    shell: NDArray[np.bool_]

    def paths(self, origin: NDArray[np.float64]) -> list[NDArray[np.float64]]:
        """One array per ring, shifted by ``-origin`` (views into one shifted copy)."""
        shifted = self.xy - origin
        bounds = self.start.tolist()
        return [shifted[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class Subtraction:
    """Areas minus their covers, as left by :func:`_subtract_clipper` or :func:`_subtract_geos`.

    Attributes
    ----------
    areas
        The areas, as given.
    left_m2
        Area left of each (the whole area where no cover touches it).
    touched
        Whether any cover touches each area.
    rings, ring_area
        Clipper2's path: the rings left (``owner`` is the area), with their signed areas
        (positive for exterior rings); ``None`` on the GEOS path.
    parts
        GEOS's path: the geometry left of each touched area; ``None`` on Clipper2's path.
    """

    areas: NDArray[np.object_]
    left_m2: NDArray[np.float64]
    touched: NDArray[np.bool_]
    rings: Rings | None
    ring_area: NDArray[np.float64] | None
    parts: NDArray[np.object_] | None

    def geometries(
        self,
        transform: Any = None,
        untouched: NDArray[np.object_] | None = None,
    ) -> NDArray[np.object_]:
        """Return the geometry left of every area.

        Parameters
        ----------
        transform
            ``None``, or a function ``(x, y) -> (x, y)`` of coordinate arrays (a pyproj
            ``Transformer.transform``) the coordinates go through.
        untouched
            Geometries to return for the areas no cover touches (already transformed);
            default: the areas themselves, through ``transform``.
        """
        out = np.empty(len(self.areas), dtype=object)
        rest = ~self.touched
        if untouched is not None:
            out[rest] = untouched[rest]
        else:
            out[rest] = _transformed(self.areas[rest], transform)
        if self.parts is not None:
            out[self.touched] = _transformed(self.parts[self.touched], transform)
        elif self.rings is not None and self.ring_area is not None:
            xy = self.rings.xy
            if transform is not None:
                x, y = transform(xy[:, 0], xy[:, 1])
                xy = np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)])
            touched = np.flatnonzero(self.touched)
            out[touched] = _assemble(self.rings, self.ring_area, xy, len(self.areas))[touched]
        return out


def subtract_covers(
    areas: NDArray[np.object_],
    area_rings: Rings,
    pair_area: NDArray[np.int64],
    pair_cover: NDArray[np.int64],
    *,
    rings: Callable[[], Rings],
    polygons: Callable[[], NDArray[np.object_]],
    workers: int,
) -> Subtraction:
    """Each area minus the union of its covers: with Clipper2 when installed, else GEOS.

    ``area_rings`` are the areas' rings (:func:`polygon_rings`). ``pair_area``,
    ``pair_cover`` list (area, cover) positions, sorted by area: every cover that meets an
    area must be listed with it (more do no harm). ``rings`` and ``polygons`` give the covers
    as :class:`Rings` or as shapely polygons; only the one used is asked.
    """
    if not len(pair_area):
        return Subtraction(areas=areas, left_m2=shapely.area(areas),
                            touched=np.zeros(len(areas), dtype=bool), rings=None,
                            ring_area=None, parts=None)
    if _HAS_CLIPPER:
        return _subtract_clipper(areas, area_rings, rings(), pair_area, pair_cover)
    return _subtract_geos(areas, polygons(), pair_area, pair_cover, workers)


def _usable(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    return geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]


def _transformed(geoms: NDArray[np.object_], transform: Any) -> NDArray[np.object_]:
    if transform is None or not len(geoms):
        return geoms
    return np.asarray(
        shapely.transform(geoms, lambda c: np.column_stack(transform(c[:, 0], c[:, 1]))),
        dtype=object)


def _cover_pairs(
    areas: NDArray[np.object_], area_rings: Rings, covers: NDArray[np.object_], rings: Rings
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(area, cover) positions of the covers that may meet each area, sorted by area.

    Candidates are the covers whose box meets the area's box (an STRtree query), kept when
    their extents overlap along every direction of :func:`dop_pairs`.
    """
    found_area, found_cover = shapely.STRtree(covers).query(areas)
    return dop_pairs(found_area.astype(np.int64), found_cover.astype(np.int64),
                      polygon_dops(area_rings, len(areas)),
                      polygon_dops(rings, len(covers)))


def polygon_dops(rings: Rings, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Extent of each geometry of ``rings`` along :data:`_DOP_AXES` directions.

    Returns ``(low, high)``, each ``(n, _DOP_AXES)``: the least and greatest projection of
    the geometry's vertices on the unit vectors at ``k·180/_DOP_AXES`` degrees (a polygon lies
    in the convex hull of its vertices, so these bound it). Empty geometries get
    ``(inf, -inf)``.
    """
    angle = np.arange(_DOP_AXES) * (np.pi / _DOP_AXES)
    ux, uy = np.cos(angle), np.sin(angle)
    low = np.full((n, _DOP_AXES), np.inf)
    high = np.full((n, _DOP_AXES), -np.inf)
    if not len(rings.xy):
        return low, high
    ring_low = np.empty((len(rings.owner), _DOP_AXES))
    ring_high = np.empty((len(rings.owner), _DOP_AXES))
    for lo, hi in _ring_blocks(rings.start):
        a, b = int(rings.start[lo]), int(rings.start[hi])
        first = rings.start[lo:hi] - a
        x, y = rings.xy[a:b, 0], rings.xy[a:b, 1]
        for k in range(_DOP_AXES):
            p = x * ux[k] + y * uy[k]
            ring_low[lo:hi, k] = np.minimum.reduceat(p, first)
            ring_high[lo:hi, k] = np.maximum.reduceat(p, first)
    if _distinct(rings.owner):
        low[rings.owner] = ring_low
        high[rings.owner] = ring_high
    else:
        np.minimum.at(low, rings.owner, ring_low)
        np.maximum.at(high, rings.owner, ring_high)
    return low, high


def _distinct(values: NDArray[np.int64]) -> bool:
    """Whether no value repeats (checked without a sort when they increase, as usual)."""
    if len(values) < 2 or bool((values[1:] > values[:-1]).all()):
        return True
    return len(np.unique(values)) == len(values)


def _first_of_runs(
    sorted_values: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``np.unique(sorted_values, return_index=True)`` for sorted values, without the sort."""
    first = np.flatnonzero(np.diff(sorted_values, prepend=sorted_values[:1] - 1) != 0)
    return sorted_values[first], first


def dop_pairs(
    pair_area: NDArray[np.int64],
    pair_cover: NDArray[np.int64],
    area_dops: tuple[NDArray[np.float64], NDArray[np.float64]],
    cover_dops: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The candidate pairs whose extents overlap along every direction, sorted by area.

    Two convex sets that meet overlap in their projections on every direction, so a pair
    kept out here cannot meet; a pair kept in may only come close, which costs the
    difference a few edges and changes nothing. The test is a few comparisons per pair, far
    cheaper than a polygon test. A millionth of a metre of slack absorbs the rounding of the
    projections.
    """
    order = np.argsort(pair_area, kind="stable")
    pair_area, pair_cover = pair_area[order], pair_cover[order]
    area_low, area_high = area_dops
    cover_low, cover_high = cover_dops
    keep = np.empty(len(pair_area), dtype=bool)
    for lo in range(0, len(pair_area), _BLOCK_VERTICES):
        a = pair_area[lo:lo + _BLOCK_VERTICES]
        c = pair_cover[lo:lo + _BLOCK_VERTICES]
        keep[lo:lo + _BLOCK_VERTICES] = (
            (cover_low[c] <= area_high[a] + _DOP_SLACK)
            & (cover_high[c] >= area_low[a] - _DOP_SLACK)).all(axis=1)
    return pair_area[keep], pair_cover[keep]


def _ring_blocks(start: NDArray[np.int64]) -> list[tuple[int, int]]:
    """Runs of whole rings of about ``_BLOCK_VERTICES`` vertices: ``(first, past-last)``."""
    n = len(start) - 1
    cuts = np.unique(np.searchsorted(start, np.arange(0, int(start[-1]), _BLOCK_VERTICES)))
    cuts = np.append(cuts[cuts < n], n)
    return list(itertools.pairwise(cuts.tolist()))


def polygon_rings(geoms: NDArray[np.object_]) -> Rings:
    """The rings of polygons and multipolygons, shells one way round and holes the other."""
    types = shapely.get_type_id(geoms)
    if (types == shapely.GeometryType.POLYGON).all() and not shapely.get_num_interior_rings(
            geoms).any():
        # Plain polygons (view sectors, circles): their coordinates are their shells'.
        counts = shapely.get_num_coordinates(geoms).astype(np.int64)
        xy = shapely.get_coordinates(geoms)
        owner = np.arange(len(geoms), dtype=np.int64)
        shell = np.ones(len(geoms), dtype=bool)
    else:
        parts, part_owner = shapely.get_parts(geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        counts = shapely.get_num_coordinates(rings).astype(np.int64)
        xy = shapely.get_coordinates(rings)
        owner = part_owner[ring_part].astype(np.int64)
        shell = np.ones(len(rings), dtype=bool)
        shell[1:] = ring_part[1:] != ring_part[:-1]
    keep = np.ones(len(xy), dtype=bool)
    keep[np.cumsum(counts) - 1] = False  # the closing vertex
    start = np.concatenate([[0], np.cumsum(counts - 1)]).astype(np.int64)
    return _oriented(Rings(xy[keep], start, owner, shell))


def _oriented(rings: Rings) -> Rings:
    """Reverse the rings that run against the others: shells one way, holes the other.

    Shells keep the orientation most of them have (sectors, drawn clockwise, are left as
    they are), so usually nothing moves.
    """
    positive = _signed_areas(rings.xy, rings.start) > 0
    shells_positive = 2 * int(positive[rings.shell].sum()) >= int(rings.shell.sum())
    flip = positive != (rings.shell == shells_positive)
    if not flip.any():
        return rings
    ring = _ring_of_vertex(rings.start)
    pos = np.arange(len(rings.xy))
    source = np.where(flip[ring], rings.start[ring] + rings.start[ring + 1] - 1 - pos, pos)
    return Rings(rings.xy[source], rings.start, rings.owner, rings.shell)


def _ring_of_vertex(start: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.repeat(np.arange(len(start) - 1, dtype=np.int64), np.diff(start))


def _signed_areas(xy: NDArray[np.float64], start: NDArray[np.int64]) -> NDArray[np.float64]:
    """Shoelace areas of closed rings (positive counter-clockwise), about each first vertex.

    Rings are taken in blocks of about ``_BLOCK_VERTICES`` vertices, so that the temporaries
    stay small and in cache.
    """
    n = len(start) - 1
    out = np.empty(max(n, 0))
    if n <= 0:
        return out
    for lo, hi in _ring_blocks(start):
        a, b = int(start[lo]), int(start[hi])
        local = start[lo:hi + 1] - a
        first = local[:-1]
        counts = np.diff(local)
        # About its first vertex a ring's closing term vanishes, so the products of
        # consecutive vertices along the block serve, once the terms that join rings are zeroed.
        x = xy[a:b, 0] - np.repeat(xy[a + first, 0], counts)
        y = xy[a:b, 1] - np.repeat(xy[a + first, 1], counts)
        cross = np.empty(b - a)
        np.subtract(x[:-1] * y[1:], x[1:] * y[:-1], out=cross[:-1])
        cross[local[1:] - 1] = 0.0
        out[lo:hi] = 0.5 * np.add.reduceat(cross, first)
    return out


def ranges(first: NDArray[np.int64], count: NDArray[np.int64]) -> NDArray[np.int64]:
    """``first[i], first[i] + 1, ..., first[i] + count[i] - 1`` for every ``i``, joined."""
    ends = np.cumsum(count)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(
        first - (ends - count), count)


def _subtract_clipper(
    areas: NDArray[np.object_],
    subjects: Rings,
    covers: Rings,
    pair_area: NDArray[np.int64],
    pair_cover: NDArray[np.int64],
) -> Subtraction:
    """Each area minus its covers' union, one Clipper2 difference per touched area.

    ``subjects`` are the areas' rings and ``covers`` the covers'. The union and the difference
    are one sweep (non-zero fill: a point is covered when any cover winds around it), so no
    intermediate union is ever built.
    """
    n = len(areas)
    box = shapely.bounds(areas)
    low = np.array([min(np.nanmin(box[:, 0]), covers.xy[:, 0].min()),
                    min(np.nanmin(box[:, 1]), covers.xy[:, 1].min())])
    high = np.array([max(np.nanmax(box[:, 2]), covers.xy[:, 0].max()),
                     max(np.nanmax(box[:, 3]), covers.xy[:, 1].max())])
    # An integer origin keeps the shift exact; a power-of-two scale keeps the conversion exact.
    origin = np.round((low + high) / 2.0)
    reach = float(max(np.abs(np.concatenate([low - origin, high - origin])).max(), 1.0))
    scale = 2.0 ** math.floor(_CLIPPER_BITS - math.log2(reach))
    subject_paths = subjects.paths(origin)
    subject_first = np.searchsorted(subjects.owner, np.arange(n + 1))
    # The covers' rings in the order of the pairs, as views into one shifted copy.
    by_cover = np.argsort(covers.owner, kind="stable")
    cover_first = np.searchsorted(covers.owner[by_cover], np.arange(int(covers.owner.max()) + 2))
    cover_count = np.diff(cover_first)[pair_cover]
    ring_ids = by_cover[ranges(cover_first[pair_cover], cover_count)]
    # One view per cover ring, then the list in pair order (a cover meets ~1.5 areas).
    cover_paths = covers.paths(origin)
    clip_paths = [cover_paths[i] for i in ring_ids.tolist()]
    touched, pair_start = _first_of_runs(pair_area)
    ring_start = np.concatenate([[0], np.cumsum(cover_count)])[
        np.append(pair_start, len(pair_area))].tolist()

    clipper = _pyclipr.Clipper()
    clipper.scaleFactor = scale
    paths: list[NDArray[np.float64]] = []
    found_per_area: list[int] = []
    subject, clip = _pyclipr.Subject, _pyclipr.Clip
    difference, nonzero = _pyclipr.Difference, _pyclipr.FillRule.NonZero
    first_subject = subject_first.tolist()
    for k, a in enumerate(touched.tolist()):
        clipper.clear()
        clipper.addPaths(subject_paths[first_subject[a]:first_subject[a + 1]], subject)
        clipper.addPaths(clip_paths[ring_start[k]:ring_start[k + 1]], clip)
        found = clipper.execute(difference, nonzero)
        paths.extend(found)
        found_per_area.append(len(found))
    per_area = np.asarray(found_per_area, dtype=np.int64)

    counts = np.fromiter(map(len, paths), dtype=np.int64, count=len(paths))
    xy = np.concatenate(paths) if paths else np.empty((0, 2))
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ring_area = _signed_areas(xy, start)
    owner = np.repeat(touched.astype(np.int64), per_area)
    left = shapely.area(areas)
    left[touched] = 0.0
    left += np.bincount(owner, weights=ring_area, minlength=n)
    is_touched = np.zeros(n, dtype=bool)
    is_touched[touched] = True
    xy += origin  # in place: the signed areas above were taken about the origin
    return Subtraction(areas=areas, left_m2=left, touched=is_touched,
                        rings=Rings(xy, start, owner, ring_area > 0),
                        ring_area=ring_area, parts=None)


def _ring_bounds(rings: Rings) -> NDArray[np.float64]:
    if not len(rings.xy):
        return np.empty((0, 4))
    first = rings.start[:-1]
    return np.column_stack([np.minimum.reduceat(rings.xy[:, 0], first),
                            np.minimum.reduceat(rings.xy[:, 1], first),
                            np.maximum.reduceat(rings.xy[:, 0], first),
                            np.maximum.reduceat(rings.xy[:, 1], first)])


def _assemble(
    rings: Rings, ring_area: NDArray[np.float64], xy: NDArray[np.float64], n: int
) -> NDArray[np.object_]:
    """Polygons from Clipper2's rings: one (multi)polygon per area, empty where none is left.

    ``xy`` holds the rings' coordinates to build with (``rings.xy`` or a projection of it).
    Clipper2 returns exterior rings with a positive area and holes with a negative one; a
    hole belongs to the smallest exterior ring of its area around it.
    """
    out = np.full(n, shapely.Polygon(), dtype=object)
    if not len(ring_area):
        return out
    owner = rings.owner
    shells = np.flatnonzero(rings.shell)
    holes = np.flatnonzero(~rings.shell)
    n_shells = np.bincount(owner[shells], minlength=n)
    polygon = np.full(len(ring_area), -1, dtype=np.int64)
    polygon[shells] = np.arange(len(shells))
    only = np.full(n, -1, dtype=np.int64)
    only[owner[shells]] = polygon[shells]
    alone = n_shells[owner[holes]] == 1
    polygon[holes[alone]] = only[owner[holes[alone]]]
    hard = holes[~alone]
    if len(hard):
        polygon[hard] = _enclosing_shells(rings, ring_area, hard,
                                          shells[n_shells[owner[shells]] > 1])
    # Rings in polygon order (shell, then its holes in Clipper2's order), closed, and built
    # with the polygons in one vectorised call.
    order = np.lexsort((~rings.shell, polygon))
    order = order[polygon[order] >= 0]
    length = np.diff(rings.start)[order]
    ring_end = np.cumsum(length + 1)
    vertex = ranges(rings.start[order], length + 1)
    vertex[ring_end - 1] = rings.start[order]  # the closing vertex repeats the first
    ring_offsets = np.concatenate([[0], ring_end])
    polygon_offsets = np.searchsorted(polygon[order], np.arange(len(shells) + 1))
    polygons = np.asarray(shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, np.ascontiguousarray(xy[vertex]),
        (ring_offsets, polygon_offsets)), dtype=object)
    polygon_owner = owner[shells]
    single = n_shells[polygon_owner] == 1
    out[polygon_owner[single]] = polygons[single]
    if not single.all():
        several = np.flatnonzero(~single)
        areas, dense = np.unique(polygon_owner[several], return_inverse=True)
        out[areas] = shapely.multipolygons(polygons[several], indices=dense)
    return out


def _enclosing_shells(
    rings: Rings,
    ring_area: NDArray[np.float64],
    holes: NDArray[np.int64],
    shells: NDArray[np.int64],
) -> NDArray[np.int64]:
    """The polygon (position among the shells of ``rings``) each hole belongs to.

    A hole belongs to the smallest shell of its area around it (an island in a hole lies
    inside the outer shell too). The middle of a hole's first edge serves as its probe: it
    lies inside its shell and off every other ring, since Clipper2's rings meet at most at
    vertices. Shells whose box holds the probe are the candidates; only a hole with more
    than one candidate is decided by point-in-polygon tests.
    """
    polygon_of = np.cumsum(rings.shell) - 1
    first = rings.start[holes]
    probe = (rings.xy[first] + rings.xy[first + 1]) / 2.0
    box = _ring_bounds(rings)[shells]
    boxes = np.asarray(shapely.box(box[:, 0], box[:, 1], box[:, 2], box[:, 3]), dtype=object)
    hole_at, shell_at = shapely.STRtree(boxes).query(shapely.points(probe))
    owner = rings.owner
    hole_at, shell_at = _same(hole_at, shell_at, owner[holes], owner[shells])
    count = np.bincount(hole_at, minlength=len(holes))
    several = count[hole_at] > 1
    if several.any():
        h, s = hole_at[several], shell_at[several]
        tested, tested_at = np.unique(s, return_inverse=True)
        length = np.diff(rings.start)[shells[tested]]
        outlines = np.asarray(shapely.polygons(shapely.linearrings(
            rings.xy[ranges(rings.start[shells[tested]], length)],
            indices=np.repeat(np.arange(len(tested)), length))), dtype=object)
        inside = shapely.contains_xy(outlines[tested_at], probe[h, 0], probe[h, 1])
        keep = ~several
        keep[np.flatnonzero(several)[inside]] = True
        hole_at, shell_at = hole_at[keep], shell_at[keep]
    order = np.lexsort((ring_area[shells[shell_at]], hole_at))
    hole_at, shell_at = hole_at[order], shell_at[order]
    smallest = np.unique(hole_at, return_index=True)[1]
    out = np.full(len(holes), -1, dtype=np.int64)
    out[hole_at[smallest]] = polygon_of[shells[shell_at[smallest]]]
    lost = out < 0
    if lost.any():  # pragma: no cover - only if a probe fell on a ring through rounding
        largest = np.full(int(owner.max()) + 1, -1, dtype=np.int64)
        by_area = shells[np.argsort(ring_area[shells], kind="stable")]
        largest[owner[by_area]] = polygon_of[by_area]
        out[lost] = largest[owner[holes[lost]]]
    return out


def _same(
    a: NDArray[np.int64], b: NDArray[np.int64], owner_a: NDArray[np.int64],
    owner_b: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The pairs ``(a, b)`` whose members have the same owner."""
    same = owner_a[a] == owner_b[b]
    return a[same].astype(np.int64), b[same].astype(np.int64)


def _subtract_geos(
    areas: NDArray[np.object_],
    covers: NDArray[np.object_],
    pair_area: NDArray[np.int64],
    pair_cover: NDArray[np.int64],
    workers: int,
) -> Subtraction:
    """Each area minus its covers' union with GEOS (used when pyclipr is not installed).

    Each group of covers is unioned with ``shapely.disjoint_subset_union_all`` (which unions
    each cluster of overlapping covers on its own) and subtracted from its area; groups of
    similar size are stacked into padded 2-D arrays so that both run as vectorised GEOS
    calls, chunk by chunk on a thread pool.
    """
    touched, first = np.unique(pair_area, return_index=True)
    sizes = np.diff(np.append(first, len(pair_area)))

    def subtract(rows: NDArray[np.int64]) -> NDArray[np.object_]:
        width = int(sizes[rows].max())
        column = np.arange(width)
        filled = column[None, :] < sizes[rows][:, None]
        padded = np.full((len(rows), width), None, dtype=object)
        padded[filled] = covers[pair_cover[(first[rows][:, None] + column[None, :])[filled]]]
        unions = shapely.disjoint_subset_union_all(padded, axis=1)
        return np.asarray(shapely.difference(areas[touched[rows]], unions), dtype=object)

    chunks = _size_chunks(sizes, workers)
    if workers == 1 or len(chunks) == 1:
        results = [subtract(rows) for rows in chunks]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(subtract, chunks))
    parts = np.full(len(areas), None, dtype=object)
    for rows, result in zip(chunks, results, strict=True):
        parts[touched[rows]] = result
    is_touched = np.zeros(len(areas), dtype=bool)
    is_touched[touched] = True
    left = shapely.area(areas)
    left[is_touched] = shapely.area(parts[is_touched])
    return Subtraction(areas=areas, left_m2=left, touched=is_touched, rings=None,
                        ring_area=None, parts=parts)


def _size_chunks(sizes: NDArray[np.int64], workers: int) -> list[NDArray[np.int64]]:
    """Split group positions, sorted by size, into chunks of similar total size.

    Sorting keeps the padding of each chunk small; several chunks per worker balance the load.
    """
    order = np.argsort(sizes, kind="stable")
    total = int(sizes.sum())
    target = max(min(total // (4 * workers) + 1, _CHUNK_COVERS), 1)
    bounds = np.searchsorted(np.cumsum(sizes[order]), np.arange(target, total, target))
    return [chunk for chunk in np.split(order, np.unique(bounds)) if len(chunk)]
