"""The sample city's communities: a synthetic planar partition with realistic boundary detail.

How the boundaries are built
----------------------------
1. An irregular city outline (a radius that varies with the angle) and a population density that
   is higher near the centre and around two secondary centres.
2. Fine seed points drawn from that density, made evenly spaced by a few density-weighted Lloyd
   iterations (so Voronoi angles stay wide, which keeps the later displacement from folding any
   edge over another), and their Voronoi diagram (scipy). Cells whose seed lies inside the outline
   are the city; the outline follows their edges.
3. Communities grow from seed cells over the cell adjacency graph with randomly weighted edges
   (multi-source Dijkstra, scipy): every community is one connected group of about six cells, with
   a jagged, non-convex shape that is not a Voronoi cell. Subdistricts grow the same way over the
   community graph, districts over the subdistrict graph from west-east spaced seeds (with two
   districts: a western and an eastern one).
4. The boundary network is taken once per shared edge (Voronoi ridges between cells of different
   communities), segmentized to ``vertex_spacing_m``, and every vertex is displaced by a smooth
   field (a sum of sines of 160-420 m wavelength, about 15-25 m in all). The field's slope is
   below 0.7 everywhere, so the displacement is one-to-one and nothing self-intersects, while
   boundaries wiggle like streets and walls. Displacement, projection to WGS84 and rounding to
   1e-7 degrees are applied to each distinct vertex once, so neighbours keep identical vertices.
5. ``shapely.polygonize`` rebuilds the faces, which are matched back to the communities through
   the (displaced) seed points they contain.

Why hand-written: no library generates synthetic administrative partitions with these
properties. The geometry uses scipy (Voronoi, k-d tree, graph shortest paths) and shapely
(polygonize); the only numerical glue written here is the displacement field (and the Lloyd
relaxation of :mod:`geo.sample.draws`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import Voronoi, cKDTree
from shapely.geometry.base import BaseGeometry

from geo.errors import ParameterError
from geo.projection import metric_crs_for
from geo.sample.draws import (
    DEFAULT_SEED,
    STREAM_BOUNDARIES,
    FloatArray,
    IntArray,
    check_int,
    lloyd,
    pick_spread,
    rng_for,
    unique_names,
)
from geo.sample.frames import COORD_DECIMALS, WGS84, canonical_frame

__all__ = ["city_center", "generate_boundaries"]

_MEAN_COMMUNITY_AREA_M2 = 0.6e6
_FINE_CELLS_PER_COMMUNITY = 6
_LLOYD_ITERATIONS = 3
# (amplitude_m, wavelength_m) of the displacement components, per axis. The slope bound
# sum(2*pi*A/L) is 0.46 per axis, 0.65 for the 2-D field: the displacement is one-to-one.
_NOISE_COMPONENTS = ((12.0, 420.0), (6.0, 240.0), (3.0, 160.0))
_SNAP_M = 0.5  # Voronoi vertices closer than this are merged (near-degenerate ridges)

_DISTRICT_CODE_FIRST = 110191
_DISTRICT_NAMES = ("西山区", "东湖区", "北原区", "南塘区", "中林区", "青溪区", "云台区", "松岭区",
                   "柳湾区")
_COMMUNITY_SUFFIXES = ("", "", "", "里", "东", "西", "南", "北", "园", "苑", "街", "路", "坊")
_SUBDISTRICT_SUFFIXES = ("", "", "门", "桥", "湖", "里", "寺", "庄")


def generate_boundaries(
    n_communities: int = 130,
    *,
    seed: int = DEFAULT_SEED,
    center_lonlat: tuple[float, float] = (116.395, 39.915),
    n_districts: int = 2,
    n_subdistricts: int = 12,
    vertex_spacing_m: float = 12.0,
) -> gpd.GeoDataFrame:
    """Generate a synthetic planar partition of communities with realistic boundary detail.

    The communities tile an irregular city outline without gaps or overlaps; neighbours share
    identical edge vertices. Each community has a 12-digit statistical-style code (district 6
    digits, subdistrict 3, community 3), a synthetic Chinese name, its subdistrict and district,
    a population between 2,000 and 20,000 and households of about population / 2.6. The city
    area grows with ``n_communities`` so that polygons keep hundreds of vertices at any count.

    Parameters
    ----------
    n_communities
        Number of communities (at least 2 and at least ``n_subdistricts``).
    seed
        Seed of the random generator; the same seed gives the same frame.
    center_lonlat
        WGS84 longitude and latitude of the city centre (inside China, so that the metric CRS is
        a CGCS2000 Gauss-Kruger zone).
    n_districts
        Number of districts (1 to 9), numbered west to east from 110191.
    n_subdistricts
        Number of subdistricts (at least ``n_districts``, at most ``n_communities``).
    vertex_spacing_m
        Largest distance between consecutive boundary vertices, in metres (1 to 100).

    Returns
    -------
    geopandas.GeoDataFrame
        Canonical ``communities`` frame (columns of :mod:`geo.layers` plus ``geometry``) in
        EPSG:4326, sorted by ``code``; exteriors counter-clockwise (RFC 7946).

    Raises
    ------
    ValueError
        If a count or the spacing is out of range, or the centre is not a longitude/latitude
        inside China.
    TypeError
        If a count is not an integer.
    """
    n_communities = check_int("n_communities", n_communities, 2)
    n_districts = check_int("n_districts", n_districts, 1)
    n_subdistricts = check_int("n_subdistricts", n_subdistricts, 1)
    if n_districts > len(_DISTRICT_NAMES):
        raise ParameterError(f"n_districts must be at most {len(_DISTRICT_NAMES)}; "
                         f"got {n_districts}")
    if not n_districts <= n_subdistricts <= n_communities:
        raise ParameterError(
            "need n_districts <= n_subdistricts <= n_communities; got "
            f"n_districts={n_districts}, n_subdistricts={n_subdistricts}, "
            f"n_communities={n_communities}")
    if n_communities > 999 * n_subdistricts:
        raise ParameterError(f"n_communities must be at most 999 per subdistrict "
                         f"({999 * n_subdistricts}); got {n_communities}")
    if not isinstance(vertex_spacing_m, int | float) or not 1.0 <= vertex_spacing_m <= 100.0:
        raise ParameterError(f"vertex_spacing_m must be a number of metres in [1, 100]; "
                         f"got {vertex_spacing_m!r}")
    lon, lat = _check_center(center_lonlat)
    seed = check_int("seed", seed, 0)

    rng = rng_for(seed, STREAM_BOUNDARIES)
    metric = metric_crs_for(lon, lat)
    to_metric = pyproj.Transformer.from_crs(WGS84, metric, always_xy=True)
    cx, cy = to_metric.transform(lon, lat)
    layout = _layout(rng, n_communities, (float(cx), float(cy)))
    cells = _fine_cells(rng, layout, n_communities)
    labels = _communities_from_cells(rng, cells, n_communities)
    hierarchy = _hierarchy(rng, cells, labels, n_communities, n_subdistricts, n_districts)
    geoms = _community_geometries(rng, cells, labels, metric, float(vertex_spacing_m))
    return _community_frame(rng, geoms, hierarchy, n_communities)


def _check_center(center: Any) -> tuple[float, float]:
    try:
        lon, lat = (float(c) for c in center)
    except (TypeError, ValueError):
        raise ParameterError(f"center_lonlat must be a (longitude, latitude) pair of numbers; "
                         f"got {center!r}") from None
    if not (73.5 <= lon <= 135.1 and 18.0 <= lat <= 53.6):
        raise ParameterError(f"center_lonlat must lie in China (longitude 73.5..135.1, latitude "
                         f"18..53.6); got ({lon}, {lat})")
    return lon, lat


def city_center(communities: gpd.GeoDataFrame) -> tuple[float, float]:
    """Return the centre of the communities' bounding box, in their CRS's units.

    Parameters
    ----------
    communities
        Any frame with geometries.

    Returns
    -------
    tuple of float
        ``(x, y)`` of the middle of :attr:`~geopandas.GeoDataFrame.total_bounds`.
    """
    x0, y0, x1, y1 = communities.total_bounds
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0


# --- boundaries: layout and fine cells -------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """City outline and density, in metric coordinates around ``center``."""

    center: tuple[float, float]
    radius_m: float
    harmonics: FloatArray  # rows: order, amplitude (relative), phase
    bumps: FloatArray  # rows: x, y, weight, sigma_m

    def outline_radius(self, theta: FloatArray) -> FloatArray:
        k, a, phi = self.harmonics.T
        return self.radius_m * (1.0 + np.cos(np.outer(theta, k) - phi) @ a)

    @property
    def max_radius_m(self) -> float:
        return self.radius_m * (1.0 + float(self.harmonics[:, 1].sum()))

    def inside(self, xy: FloatArray) -> NDArray[np.bool_]:
        dx, dy = xy[:, 0] - self.center[0], xy[:, 1] - self.center[1]
        return np.hypot(dx, dy) < self.outline_radius(np.arctan2(dy, dx))

    def density(self, xy: FloatArray) -> FloatArray:
        rho = np.ones(len(xy))
        for bx, by, w, s in self.bumps:
            d2 = (xy[:, 0] - bx) ** 2 + (xy[:, 1] - by) ** 2
            rho += w * np.exp(-d2 / (2.0 * s * s))
        return rho

    @property
    def max_density(self) -> float:
        return 1.0 + float(self.bumps[:, 2].sum())


def _layout(rng: np.random.Generator, n: int, center: tuple[float, float]) -> _Layout:
    orders = np.arange(2.0, 6.0)
    amps = rng.uniform(0.05, 0.14, len(orders)) / np.sqrt(orders - 1.0)
    phases = rng.uniform(0.0, 2.0 * np.pi, len(orders))
    harmonics = np.column_stack([orders, amps, phases])
    # Area of r(theta) = R (1 + sum a_k cos(...)) is pi R^2 (1 + sum a_k^2 / 2).
    radius = math.sqrt(n * _MEAN_COMMUNITY_AREA_M2 / (math.pi * (1.0 + float((amps ** 2).sum())
                                                                 / 2.0)))
    cx, cy = center
    angles = rng.uniform(0.0, 2.0 * np.pi, 2)
    dists = rng.uniform(0.35, 0.65, 2) * radius
    bumps = [(cx, cy, 2.2, 0.45 * radius)]
    bumps += [(cx + d * math.cos(a), cy + d * math.sin(a), 0.9, 0.2 * radius)
              for a, d in zip(angles, dists, strict=True)]
    return _Layout(center, radius, harmonics, np.array(bumps, dtype=float))


def _sample_density(rng: np.random.Generator, layout: _Layout, n: int,
                    radius_m: float) -> FloatArray:
    """``n`` points in the disk of ``radius_m`` with probability proportional to the density."""
    chunks: list[FloatArray] = []
    got = 0
    while got < n:
        m = 3 * (n - got) + 64
        r = radius_m * np.sqrt(rng.random(m))
        t = rng.uniform(0.0, 2.0 * np.pi, m)
        xy = np.column_stack([layout.center[0] + r * np.cos(t), layout.center[1] + r * np.sin(t)])
        keep = rng.random(m) * layout.max_density < layout.density(xy)
        chunks.append(xy[keep])
        got += int(keep.sum())
    return np.concatenate(chunks)[:n]


@dataclass(frozen=True)
class _Cells:
    """The fine Voronoi cells: seeds, the diagram, and which cells form the city."""

    seeds: FloatArray  # (m, 2) metric; the first m_region are region points, then a far ring
    inside: NDArray[np.bool_]  # (m,)
    ridge_points: IntArray  # (r, 2)
    ridge_vertices: IntArray  # (r, 2), -1 for a vertex at infinity
    vertices: FloatArray


def _fine_cells(rng: np.random.Generator, layout: _Layout, n: int) -> _Cells:
    target_inside = _FINE_CELLS_PER_COMMUNITY * n
    # Mean spacing of fine cells where the density is 1, to size the band outside the outline.
    spacing = math.sqrt(_MEAN_COMMUNITY_AREA_M2 * 1.8 / _FINE_CELLS_PER_COMMUNITY)
    region = layout.max_radius_m + 6.0 * spacing
    chunks: list[FloatArray] = []
    n_inside = 0
    while n_inside < target_inside:
        pts = _sample_density(rng, layout, 2 * (target_inside - n_inside) + 64, region)
        inside = layout.inside(pts)
        need = target_inside - n_inside
        if inside.sum() >= need:
            cut = int(np.flatnonzero(inside)[need - 1]) + 1
            pts = pts[:cut]
            inside = inside[:cut]
        chunks.append(pts)
        n_inside += int(inside.sum())
    seeds = np.concatenate(chunks)
    samples = _sample_density(rng, layout, 12 * len(seeds), region)
    seeds = lloyd(seeds, samples, _LLOYD_ITERATIONS)
    ring_t = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
    ring = np.column_stack([layout.center[0] + 2.0 * region * np.cos(ring_t),
                            layout.center[1] + 2.0 * region * np.sin(ring_t)])
    all_seeds = np.vstack([seeds, ring])
    vor = Voronoi(all_seeds)
    pairs = np.asarray(vor.ridge_points, dtype=np.int64)
    inside = np.concatenate([layout.inside(seeds), np.zeros(len(ring), dtype=bool)])
    inside = _fill_holes(inside, pairs, ring_node=len(seeds))
    return _Cells(all_seeds, inside, pairs,
                  np.asarray(vor.ridge_vertices, dtype=np.int64), vor.vertices)


def _components(mask: NDArray[np.bool_], pairs: IntArray) -> IntArray:
    """Connected-component label of each masked node over edges between masked nodes (-1 else)."""
    n = len(mask)
    both = mask[pairs[:, 0]] & mask[pairs[:, 1]]
    e = pairs[both]
    g = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, comp = csgraph.connected_components(g, directed=False)
    return np.where(mask, comp, -1)


def _fill_holes(inside: NDArray[np.bool_], pairs: IntArray, ring_node: int) -> NDArray[np.bool_]:
    """Make the city one piece without holes: fill enclosed outside cells, drop inside islands."""
    out_comp = _components(~inside, pairs)
    filled = inside | (out_comp != out_comp[ring_node])
    in_comp = _components(filled, pairs)
    sizes = np.bincount(in_comp[filled])
    return filled & (in_comp == int(np.argmax(sizes)))


# --- boundaries: grouping cells into communities, subdistricts, districts ---------------------


def _grow(n_nodes: int, edges: IntArray, weights: FloatArray, seeds: IntArray) -> IntArray:
    """Label each node with the index of its nearest seed along the weighted graph."""
    g = sparse.coo_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(n_nodes, n_nodes)).tocsr()
    _, _, sources = csgraph.dijkstra(g, directed=False, indices=seeds, min_only=True,
                                     return_predecessors=True)
    lookup = np.full(n_nodes, -1, dtype=np.int64)
    lookup[seeds] = np.arange(len(seeds))
    labels = lookup[np.asarray(sources, dtype=np.int64)]
    if (labels < 0).any():
        raise RuntimeError("internal error: a region is not connected to any seed")
    return labels


def _communities_from_cells(rng: np.random.Generator, cells: _Cells, n: int) -> IntArray:
    """Community index of every fine cell (-1 outside the city)."""
    idx = np.flatnonzero(cells.inside)
    local = np.full(len(cells.seeds), -1, dtype=np.int64)
    local[idx] = np.arange(len(idx))
    p = cells.ridge_points
    both = cells.inside[p[:, 0]] & cells.inside[p[:, 1]]
    e = local[p[both]]
    length = np.hypot(*(cells.seeds[p[both, 0]] - cells.seeds[p[both, 1]]).T)
    weights = length * rng.uniform(0.5, 1.8, len(e))
    seeds = pick_spread(rng, cells.seeds[idx], n)
    labels = np.full(len(cells.seeds), -1, dtype=np.int64)
    labels[idx] = _grow(len(idx), e, weights, seeds)
    return labels


def _region_graph(labels: IntArray, pairs: IntArray) -> IntArray:
    """Return the unique pairs (a < b) of labels that share an edge."""
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    keep = (a >= 0) & (b >= 0) & (a != b)
    e = np.sort(np.column_stack([a[keep], b[keep]]), axis=1)
    return np.unique(e, axis=0)


def _group(rng: np.random.Generator, centres: FloatArray, edges: IntArray, k: int, *,
           west_to_east: bool = False) -> IntArray:
    """Group nodes (with centres) into ``k`` connected regions.

    With ``west_to_east`` the regions grow from nodes evenly spaced in west-east order (the
    westernmost and easternmost for two), so they come out as west-east strips.
    """
    if west_to_east:
        by_x = np.argsort(centres[:, 0], kind="stable")
        seeds = by_x[np.round(np.linspace(0, len(centres) - 1, k)).astype(np.int64)]
    else:
        seeds = pick_spread(rng, centres, k)
    length = np.hypot(*(centres[edges[:, 0]] - centres[edges[:, 1]]).T)
    return _grow(len(centres), edges, length * rng.uniform(0.7, 1.4, len(edges)), seeds)


@dataclass(frozen=True)
class _Hierarchy:
    """Codes of each community index, and its subdistrict and district."""

    community_code: list[str]
    subdistrict_code: list[str]
    district_code: list[str]
    subdistrict_of: IntArray
    district_of: IntArray
    district_names: list[str]
    centres: FloatArray  # community centres (mean of their fine seeds), metric


def _hierarchy(rng: np.random.Generator, cells: _Cells, labels: IntArray, n: int,
               n_sub: int, n_dist: int) -> _Hierarchy:
    inside = labels >= 0
    counts = np.bincount(labels[inside], minlength=n)
    centres = np.column_stack([
        np.bincount(labels[inside], weights=cells.seeds[inside, 0], minlength=n) / counts,
        np.bincount(labels[inside], weights=cells.seeds[inside, 1], minlength=n) / counts,
    ])
    comm_edges = _region_graph(labels, cells.ridge_points)
    sub_of = _group(rng, centres, comm_edges, n_sub)
    sub_centres = _mean_by(centres, sub_of, n_sub)
    sub_edges = _region_graph(sub_of, comm_edges)
    dist_of_sub = (_group(rng, sub_centres, sub_edges, n_dist, west_to_east=True) if n_dist > 1
                   else np.zeros(n_sub, dtype=np.int64))
    dist_centres = _mean_by(sub_centres, dist_of_sub, n_dist)
    # Districts west to east; subdistricts and communities north to south, then west to east.
    dist_rank = _rank(dist_centres[:, 0])
    dist_codes = [str(_DISTRICT_CODE_FIRST + r) for r in dist_rank]
    sub_codes = [""] * n_sub
    for d in range(n_dist):
        members = np.flatnonzero(dist_of_sub == d)
        order = members[np.lexsort((sub_centres[members, 0], -sub_centres[members, 1]))]
        for j, s in enumerate(order):
            sub_codes[s] = f"{dist_codes[d]}{j + 1:03d}"
    comm_codes = [""] * n
    for s in range(n_sub):
        members = np.flatnonzero(sub_of == s)
        order = members[np.lexsort((centres[members, 0], -centres[members, 1]))]
        for j, c in enumerate(order):
            comm_codes[c] = f"{sub_codes[s]}{j + 1:03d}"
    district_of = dist_of_sub[sub_of]
    return _Hierarchy(comm_codes, [sub_codes[s] for s in sub_of],
                      [dist_codes[d] for d in district_of], sub_of, district_of,
                      [_DISTRICT_NAMES[r] for r in dist_rank], centres)


def _mean_by(xy: FloatArray, labels: IntArray, k: int) -> FloatArray:
    counts = np.bincount(labels, minlength=k)
    return np.column_stack([np.bincount(labels, weights=xy[:, 0], minlength=k) / counts,
                            np.bincount(labels, weights=xy[:, 1], minlength=k) / counts])


def _rank(values: FloatArray) -> list[int]:
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return [int(r) for r in ranks]


# --- boundaries: the line network and the faces ----------------------------------------------


@dataclass(frozen=True)
class _Noise:
    """A smooth displacement field: per axis, a sum of plane sine waves."""

    amplitude_m: FloatArray  # (2, k)
    wavenumber: FloatArray  # (2, k), radians per metre
    direction: FloatArray  # (2, k, 2), unit vectors
    phase: FloatArray  # (2, k)

    def displace(self, xy: FloatArray) -> FloatArray:
        out = xy.copy()
        for axis in range(2):
            for j in range(self.amplitude_m.shape[1]):
                ux, uy = self.direction[axis, j]
                arg = (xy[:, 0] * ux + xy[:, 1] * uy) * self.wavenumber[axis, j]
                out[:, axis] += self.amplitude_m[axis, j] * np.sin(arg + self.phase[axis, j])
        return out


def _noise(rng: np.random.Generator) -> _Noise:
    k = len(_NOISE_COMPONENTS)
    amp = np.array([[a for a, _ in _NOISE_COMPONENTS]] * 2)
    wavelength = np.array([[w for _, w in _NOISE_COMPONENTS]] * 2) * rng.uniform(0.9, 1.0, (2, k))
    theta = rng.uniform(0.0, 2.0 * np.pi, (2, k))
    direction = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    phase = rng.uniform(0.0, 2.0 * np.pi, (2, k))
    return _Noise(amp, 2.0 * np.pi / wavelength, direction, phase)


def _snap_vertices(vertices: FloatArray, used: IntArray) -> IntArray:
    """Map each vertex to a representative, merging vertices closer than ``_SNAP_M``."""
    rep = np.arange(len(vertices))
    close = cKDTree(vertices[used]).query_pairs(_SNAP_M, output_type="ndarray")
    if len(close):
        n = len(used)
        g = sparse.coo_matrix((np.ones(len(close)), (close[:, 0], close[:, 1])), shape=(n, n))
        _, comp = csgraph.connected_components(g, directed=False)
        first = np.full(comp.max() + 1, -1, dtype=np.int64)
        for i in range(n - 1, -1, -1):  # smallest member of each component represents it
            first[comp[i]] = used[i]
        rep[used] = first[comp]
    return rep


def _community_geometries(rng: np.random.Generator, cells: _Cells, labels: IntArray,
                          metric: pyproj.CRS, spacing_m: float) -> list[BaseGeometry]:
    """Build the displaced community polygons (EPSG:4326), in community index order."""
    a, b = labels[cells.ridge_points[:, 0]], labels[cells.ridge_points[:, 1]]
    boundary = (a != b) & (np.maximum(a, b) >= 0)
    rv = cells.ridge_vertices[boundary]
    if (rv < 0).any():
        raise RuntimeError("internal error: a city boundary edge reaches infinity")
    rep = _snap_vertices(cells.vertices, np.unique(rv))
    rv = rep[rv]
    rv = rv[rv[:, 0] != rv[:, 1]]
    start, end = cells.vertices[rv[:, 0]], cells.vertices[rv[:, 1]]
    length = np.hypot(*(end - start).T)
    pieces = np.maximum(1, np.ceil(length / spacing_m)).astype(np.int64)
    n_pts = pieces + 1
    line_of = np.repeat(np.arange(len(rv)), n_pts)
    first = np.concatenate([[0], np.cumsum(n_pts)[:-1]])
    t = (np.arange(len(line_of)) - first[line_of]) / pieces[line_of]
    xy = start[line_of] + t[:, None] * (end - start)[line_of]
    xy[first + pieces] = end  # exact shared endpoints (start + 1 * (end - start) may differ)

    noise = _noise(rng)
    to_wgs = pyproj.Transformer.from_crs(metric, WGS84, always_xy=True)

    def place(points: FloatArray) -> FloatArray:
        # Each distinct vertex is displaced, projected and rounded once, so identical input
        # vertices (shared by neighbours) give identical output vertices.
        uniq, inverse = np.unique(points, axis=0, return_inverse=True)
        moved = noise.displace(uniq)
        lon, lat = to_wgs.transform(moved[:, 0], moved[:, 1])
        return np.round(np.column_stack([lon, lat]), COORD_DECIMALS)[inverse.ravel()]

    lines = cast("NDArray[np.object_]", shapely.linestrings(place(xy), indices=line_of))
    faces, cuts, dangles, invalid = shapely.polygonize_full(lines)
    if not (shapely.is_empty(cuts) and shapely.is_empty(dangles) and shapely.is_empty(invalid)):
        raise RuntimeError("internal error: the boundary network does not polygonize cleanly")
    face_arr = shapely.get_parts(faces)
    inside = np.flatnonzero(labels >= 0)
    seed_pts = shapely.points(place(cells.seeds[inside]))
    pt_idx, face_idx = shapely.STRtree(face_arr).query(seed_pts, predicate="within")
    face_label = np.full(len(face_arr), -1, dtype=np.int64)
    seed_label = labels[inside][pt_idx]
    face_label[face_idx] = seed_label
    if (face_label < 0).any() or (face_label[face_idx] != seed_label).any():
        raise RuntimeError("internal error: faces and communities do not match one to one")
    n = int(labels.max()) + 1
    geoms: list[BaseGeometry] = []
    for c in range(n):
        parts = face_arr[face_label == c]
        if len(parts) == 0:
            raise RuntimeError(f"internal error: community {c} has no face")
        geom = parts[0] if len(parts) == 1 else shapely.multipolygons(list(parts))
        geoms.append(shapely.orient_polygons(geom))
    return geoms


def _community_frame(rng: np.random.Generator, geoms: list[BaseGeometry], h: _Hierarchy,
                     n: int) -> gpd.GeoDataFrame:
    names = unique_names(rng, n, _COMMUNITY_SUFFIXES)
    n_sub = int(h.subdistrict_of.max()) + 1
    sub_names = unique_names(rng, n_sub, _SUBDISTRICT_SUFFIXES)
    pop = np.exp(rng.normal(math.log(8500.0), 0.42, n))
    small = rng.choice(n, max(3, n // 40), replace=False)
    pop[small] = rng.uniform(2000.0, 2600.0, len(small))
    pop = np.clip(np.round(pop), 2000.0, 20000.0)
    households = np.round(pop / 2.6 * rng.uniform(0.95, 1.05, n))
    frame = pd.DataFrame({
        "code": h.community_code,
        "name": [f"{x}社区" for x in names],
        "subdistrict_code": h.subdistrict_code,
        "subdistrict": [f"{sub_names[s]}街道" for s in h.subdistrict_of],
        "district_code": h.district_code,
        "district": [h.district_names[d] for d in h.district_of],
        "population": pop,
        "households": households,
    })
    gdf = canonical_frame(frame, "communities", geoms)
    return gdf.sort_values("code", kind="stable").reset_index(drop=True)

