"""Assigning points to the polygon that contains them: the engine behind incident assignment.

pingan assigns every incident to its community when incidents are loaded, and re-assigns all of
them when boundaries change, so this is a point-in-polygon join over millions of points and
thousands of complex polygons (hundreds of vertices each). :class:`PolygonIndex` is built once
per set of polygons and then answers :meth:`PolygonIndex.assign` for any number of points.

The boundary rule
-----------------
A point belongs to the polygon that *intersects* it: polygons are closed, so a point on a
polygon's boundary (an outer edge, a hole's edge, a vertex) belongs to it, as with GEOS's
``intersects``. When several polygons intersect the point (a shared edge, a vertex shared by
three or four polygons, overlapping input), the point goes to the polygon with the **smallest
position** in the input. A point in a hole belongs to no polygon unless another polygon covers
the hole. The result equals, point for point, ``geopandas.sjoin(points, polygons,
predicate="intersects")`` followed by keeping the smallest polygon position per point, with -1
for points that no polygon intersects and for NaN coordinates. :func:`assign_to_communities`
sorts communities by code first, so there the rule reads "the smallest community code".
Everything is exact in the stored coordinates (lon/lat degrees); nothing is projected.

Why it is hand-written
----------------------
GEOS (through shapely's ``STRtree`` or geopandas' ``sjoin``) answers each point separately and
runs at a few hundred thousand points per second on community boundaries; re-assigning millions
of incidents needs tens of times that. No well-kept Python library offers a vectorised *exact*
point-in-polygon join, so this module builds one from numpy and scipy and keeps GEOS as the
arbiter for the rare points it cannot decide with certainty.

How it works
------------
1. *Grid.* A regular grid whose cell size is a power of two (in coordinate units) covers the
   polygons' extent with two cells of padding. Cell indices of points come from exact
   floating-point operations in all but extreme cases, every cell border is an exactly
   representable number, and a point off the grid (or with a NaN coordinate) is clipped into
   the padding, which no polygon reaches.
2. *Edge cells.* Every polygon edge is rasterised conservatively: each cell that the edge
   comes within ``margin`` of (1/4096 of a cell, far above any rounding error) lists the edge.
3. *Interior cells.* Cells that list no edge form 8-connected components. The union of a
   component's cells, widened by the margin, meets no polygon boundary, so every polygon
   contains all of it or none of it: one representative point per component is classified by
   GEOS, and a point falling in such a cell is resolved by one table look-up.
4. *Edge cells, exactly.* For a point ``p`` in an edge cell, the engine follows the path from
   ``p`` horizontally to a vertical border of the cell and along that border to a cell corner
   ``c`` whose membership (the polygon parts containing it) is known. Every boundary crossing
   that path is listed in the cell, so the membership of ``p`` in each part listed there is
   that of ``c`` flipped once per crossing (the crossing-number rule, with the half-open
   convention at vertices). Each crossing is decided by the sign of an orientation determinant
   computed in floating point with Shewchuk's error bound. The corner is chosen certainly off
   every listed edge; its membership is that of an interior component touching it, or comes
   from GEOS.
5. *Uncertain points.* When a determinant is within its bound, the point lies on (or within
   rounding of) an edge or its supporting line, and that part's parity is unknown. If the
   point is exactly one of the part's vertices the part contains it (polygons are closed);
   otherwise GEOS decides the point against the parts listed in its cell.
6. *Ties.* Memberships are bit masks over the parts listed in a cell, in polygon order, so the
   lowest set bit names the smallest position.

Memberships are tracked per polygon part (with the even-odd rule over a part's rings), so a
multipolygon contains a point when any of its parts does, as in GEOS. Polygons are expected
to be valid (pingan's readers reject invalid geometry); for invalid ones, such as a hole
outside its shell, the even-odd answer can differ from GEOS's.

Points are processed in chunks, so the memory used on top of the index and the result stays
bounded whatever the number of points; gathers use ``numpy.take``, which is several times
faster than fancy indexing with 32-bit indices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from geo.errors import InputError

__all__ = ["PolygonIndex", "assign_points", "assign_to_communities"]

Index = NDArray[np.integer[Any]]
FloatArray = NDArray[np.floating[Any]]
Assignment = NDArray[np.int32]

#: Shewchuk's error bound for orient2d, (3 + 16 eps) * eps with eps = 2**-53, rounded up with a
#: safety factor of four: a determinant whose magnitude exceeds this times the sum of the
#: magnitudes of its two products has the sign of the exact determinant.
_ORIENT_ERRBOUND = 4 * (3.0 + 16.0 * 2.0**-53) * 2.0**-53

#: Polygon parts listed in one edge cell are tracked as bits of a uint16; a cell with more parts
#: than this (only with heavily overlapping input) sends its points to GEOS.
_MAX_LOCAL_PARTS = 16

#: Cells are ``2**-k`` degrees; the margin is this fraction of a cell.
_MARGIN_FRACTION = 2.0**-12

#: Build steps work through large arrays in blocks of this many elements, to bound memory.
_BLOCK = 1 << 18

#: Default number of points assigned at a time.
_CHUNK = 1 << 18

_CODE_SX = np.uint8(16)  # the edge straddles the vertical line through the reference corner
_CODE_SC = np.uint8(32)  # the reference corner is left of the edge (positive orientation)
_CODE_BIT = np.uint8(15)


def _lowest_bit_table() -> NDArray[np.int8]:
    masks = np.arange(1 << _MAX_LOCAL_PARTS, dtype=np.int64)
    low = masks & -masks
    table = np.full(masks.size, -1, dtype=np.int8)
    nz = low > 0
    table[nz] = np.log2(low[nz]).astype(np.int8)
    return table


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class PolygonIndex:
    """An immutable index over polygons for exact, vectorised point-in-polygon assignment.

    Build it with :meth:`build`; see the module docstring for the boundary rule and how the
    index works. All arrays it holds are read-only.

    Attributes
    ----------
    n_polygons
        Number of polygons indexed (positions run from 0 to ``n_polygons - 1``).
    cell_size_deg
        Side of a grid cell, in degrees (in the polygons' coordinate units).
    """

    n_polygons: int
    cell_size_deg: float
    _gx0: float  # lower-left corner of the grid
    _gy0: float
    _inv: float  # 1 / cell_size_deg
    _nx: int
    _ny: int
    _grid: Assignment  # per cell: polygon, -1, or -2 - (edge cell number)
    _vxy: NDArray[np.complex128]  # ring vertices as x + iy; an edge runs from vertex i to i + 1
    _entry_off: Index  # entries of edge cell k: _entry_off[k] .. _entry_off[k + 1]
    _entry_vertex: Index  # first vertex of each entry's edge
    _entry_code: NDArray[np.uint8]  # part bit | _CODE_SX | _CODE_SC
    _cell_xc: FloatArray  # x of each edge cell's reference corner
    _cell_mask: NDArray[np.uint16]  # parts containing the reference corner, as bits
    _cell_part_off: Index  # parts listed in edge cell k, as for entries
    _cell_parts: Index
    _cell_fallback: NDArray[np.bool_]  # edge cells whose points GEOS decides
    _part_polygon: Index  # polygon position of each part
    _lowbit: NDArray[np.int8]  # lowest set bit of each 16-bit mask, -1 for 0
    _parts: NDArray[np.object_]  # the polygon parts (GEOS arbitrates through them)
    _part_tree: shapely.STRtree

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the grid."""
        return (self._ny, self._nx)

    @property
    def n_edge_cells(self) -> int:
        """Number of grid cells that polygon edges touch."""
        return int(self._entry_off.size - 1)

    @property
    def n_entries(self) -> int:
        """Number of (edge cell, edge) pairs stored."""
        return int(self._entry_vertex.size)

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (not counting the GEOS geometries)."""
        return sum(
            getattr(self, name).nbytes
            for name in self.__slots__
            if isinstance(getattr(self, name), np.ndarray) and name != "_parts"
        )

    # ------------------------------------------------------------------------------------- build
    @classmethod
    def build(
        cls,
        polygons: ArrayLike | gpd.GeoSeries,
        *,
        cells_per_vertex: float = 6.0,
        max_cells: int = 1 << 23,
        cell_size_deg: float | None = None,
    ) -> PolygonIndex:
        """Build the index over ``polygons``.

        Parameters
        ----------
        polygons
            Polygons and multipolygons (shapely geometries, a GeoSeries or an array of them).
            Missing or empty geometries are allowed and never match. Positions in this
            sequence are what :meth:`assign` returns.
        cells_per_vertex
            Grid resolution: the grid gets about this many cells per polygon vertex (rounded so
            that the cell size is a power of two in degrees). More cells resolve more points by
            look-up and leave fewer edges per cell, at the cost of memory.
        max_cells
            Upper bound on the number of grid cells (4 bytes each).
        cell_size_deg
            Force the cell size (rounded down to a power of two); overrides
            ``cells_per_vertex``.

        Returns
        -------
        PolygonIndex

        Raises
        ------
        TypeError
            If a geometry is not a polygon or multipolygon.
        ValueError
            If a tuning keyword is out of range or polygon coordinates are not finite.
        """
        geoms = _polygon_array(polygons)
        if not cells_per_vertex > 0:
            raise InputError(f"cells_per_vertex must be > 0; got {cells_per_vertex!r}")
        if not max_cells >= 16:
            raise InputError(f"max_cells must be >= 16; got {max_cells!r}")
        if cell_size_deg is not None and not (math.isfinite(cell_size_deg) and cell_size_deg > 0):
            raise InputError(f"cell_size_deg must be a positive number; got {cell_size_deg!r}")
        return _build(geoms, cells_per_vertex, int(max_cells), cell_size_deg)

    # ------------------------------------------------------------------------------------ assign
    def assign(self, x: ArrayLike, y: ArrayLike, *, chunk_size: int = _CHUNK) -> Assignment:
        """Assign points to polygons.

        Parameters
        ----------
        x, y
            Point coordinates (longitude, latitude in the polygons' CRS), same shape.
        chunk_size
            Points processed at a time; bounds the working memory.

        Returns
        -------
        numpy.ndarray
            int32 array of the same shape as ``x``: the position of the polygon each point
            belongs to (the smallest position among those intersecting it), or -1 where none
            does or a coordinate is NaN.

        Raises
        ------
        ValueError
            If ``x`` and ``y`` differ in shape or ``chunk_size`` is not positive.
        """
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if xa.shape != ya.shape:
            raise InputError(f"x and y must have the same shape; got {xa.shape} and {ya.shape}")
        if chunk_size < 1:
            raise InputError(f"chunk_size must be >= 1; got {chunk_size!r}")
        xf = xa.reshape(-1)
        yf = ya.reshape(-1)
        out = np.empty(xf.size, dtype=np.int32)
        for start in range(0, xf.size, chunk_size):
            stop = min(start + chunk_size, xf.size)
            out[start:stop] = self._assign_chunk(xf[start:stop], yf[start:stop])
        return out.reshape(xa.shape)

    def _assign_chunk(self, x: FloatArray, y: FloatArray) -> Assignment:
        # Clipping sends points beyond the grid, and NaN (fmax ignores it), to the outermost
        # cells, which lie two cells away from every polygon and hold -1.
        fx = x - self._gx0
        fx *= self._inv
        np.fmax(fx, 0.0, out=fx)
        np.fmin(fx, self._nx - 1, out=fx)
        fy = y - self._gy0
        fy *= self._inv
        np.fmax(fy, 0.0, out=fy)
        np.fmin(fy, self._ny - 1, out=fy)
        cell = fy.astype(np.intp)
        cell *= self._nx
        cell += fx.astype(np.intp)
        out: Assignment = np.take(self._grid, cell)
        edge = np.flatnonzero(out <= -2)
        if edge.size:
            edge_cell = -2 - np.take(out, edge)
            np.put(
                out, edge, self._assign_edge_points(np.take(x, edge), np.take(y, edge), edge_cell)
            )
        return out

    def _assign_edge_points(self, x: FloatArray, y: FloatArray, cell: Index) -> Assignment:
        start = np.take(self._entry_off, cell)
        count = np.take(self._entry_off, cell + 1) - start
        group_start = np.cumsum(count) - count
        pair_entry = np.arange(int(group_start[-1] + count[-1]))
        pair_entry += np.repeat(start - group_start, count)
        v = np.take(self._entry_vertex, pair_entry)
        code = np.take(self._entry_code, pair_entry)
        del pair_entry
        a = np.take(self._vxy, v)
        v += 1
        d = np.take(self._vxy, v)
        by = d.imag.copy()
        d -= a
        ax, ay, dx, dy = a.real, a.imag, d.real, d.imag
        py = np.repeat(y, count)
        # orient(a, b, p) and orient(a, b, q) with q = (xc, py); they share the left product.
        left = py - ay
        left *= dx
        right_p = np.repeat(x, count)
        right_p -= ax
        right_p *= dy
        right_q = np.repeat(np.take(self._cell_xc, cell), count)
        right_q -= ax
        right_q *= dy
        o_p = left - right_p
        o_q = left - right_q
        np.abs(left, out=left)
        np.abs(right_p, out=right_p)
        np.abs(right_q, out=right_q)
        right_p += left
        right_p *= _ORIENT_ERRBOUND
        right_q += left
        right_q *= _ORIENT_ERRBOUND
        unsure = np.abs(o_p) <= right_p
        unsure |= np.abs(o_q) <= right_q
        pos_q = o_q > 0
        # Horizontal leg p -> q: the edge straddles y = py (half-open) and p, q lie on opposite
        # sides of it. Vertical leg q -> corner: precomputed straddle and corner side.
        flip = (ay > py) != (by > py)
        flip &= (o_p > 0) != pos_q
        flip ^= ((code & _CODE_SX) != 0) & (pos_q != ((code & _CODE_SC) != 0))
        bits = np.left_shift(flip.view(np.uint8).astype(np.uint16), code & _CODE_BIT)
        mask = np.bitwise_xor.reduceat(bits, group_start)
        mask ^= np.take(self._cell_mask, cell)
        res = self._mask_polygon(mask, cell)
        hard = np.unique(np.searchsorted(group_start, np.flatnonzero(unsure), side="right") - 1)
        if hard.size:
            # The parity of a part with an uncertain test is unknown. A part that has the point
            # as one of its vertices contains it all the same (polygons are closed); any other
            # uncertain part leaves the point to GEOS.
            group, pair, hard_start = _expand(group_start[hard], count[hard])
            part_bit = np.left_shift(np.uint16(1), code[pair] & _CODE_BIT)
            zero = np.uint16(0)
            unsure_bits = np.bitwise_or.reduceat(np.where(unsure[pair], part_bit, zero), hard_start)
            at_vertex = (a.real[pair] == x[hard][group]) & (a.imag[pair] == y[hard][group])
            vertex_bits = np.bitwise_or.reduceat(np.where(at_vertex, part_bit, zero), hard_start)
            known = (unsure_bits & ~vertex_bits) == 0
            hard_mask = (mask[hard] & ~unsure_bits) | vertex_bits
            res[hard[known]] = self._mask_polygon(hard_mask[known], cell[hard[known]])
            hard = hard[~known]
        hard = np.union1d(hard, np.flatnonzero(self._cell_fallback[cell]))
        if hard.size:
            res[hard] = self._geos_assign(x[hard], y[hard], cell[hard])
        return res

    def _mask_polygon(self, mask: NDArray[np.uint16], cell: Index) -> Assignment:
        """Smallest polygon among the parts of each cell's list whose bits are set, or -1."""
        low = np.take(self._lowbit, mask)
        part = np.take(self._cell_parts, np.take(self._cell_part_off, cell) + np.maximum(low, 0))
        res = np.take(self._part_polygon, part)
        res[low < 0] = -1
        return np.asarray(res, dtype=np.int32)

    def _geos_assign(self, x: FloatArray, y: FloatArray, cell: Index) -> Assignment:
        """Smallest position of a polygon intersecting each point, by GEOS; -1 for none.

        The candidates are the parts listed in the point's edge cell (they include every part
        that can contain it), or all parts whose bounding box holds the point in cells
        without a usable corner.
        """
        out = np.full(x.size, np.iinfo(np.int32).max, dtype=np.int32)
        listed = np.flatnonzero(~self._cell_fallback[cell])
        start = self._cell_part_off[cell[listed]]
        group, member, _ = _expand(start, self._cell_part_off[cell[listed] + 1] - start)
        pt, part = listed[group], self._cell_parts[member]
        other = np.flatnonzero(self._cell_fallback[cell])
        if other.size:
            pt_other, part_other = self._part_tree.query(shapely.points(x[other], y[other]))
            pt = np.concatenate([pt, other[pt_other]])
            part = np.concatenate([part, part_other])
        hit = shapely.intersects_xy(self._parts[part], x[pt], y[pt])
        np.minimum.at(out, pt[hit], self._part_polygon[part[hit]])
        out[out == np.iinfo(np.int32).max] = -1
        return out

    def __repr__(self) -> str:
        return (
            f"PolygonIndex(n_polygons={self.n_polygons}, cell_size_deg={self.cell_size_deg!r}, "
            f"grid_shape={self.grid_shape}, n_edge_cells={self.n_edge_cells}, "
            f"n_entries={self.n_entries})"
        )


def assign_points(
    x: ArrayLike,
    y: ArrayLike,
    polygons: ArrayLike | gpd.GeoSeries,
    *,
    chunk_size: int = _CHUNK,
    **build_options: Any,
) -> Assignment:
    """Assign points to polygons: :meth:`PolygonIndex.build` then :meth:`PolygonIndex.assign`.

    Parameters
    ----------
    x, y
        Point coordinates in the polygons' CRS, same shape.
    polygons
        Polygons and multipolygons; see :meth:`PolygonIndex.build`.
    chunk_size
        Points processed at a time; see :meth:`PolygonIndex.assign`.
    **build_options
        Tuning keywords of :meth:`PolygonIndex.build`.

    Returns
    -------
    numpy.ndarray
        int32 polygon position per point (the smallest among those intersecting it), -1 for
        none or NaN coordinates.

    Raises
    ------
    TypeError, ValueError
        As :meth:`PolygonIndex.build` and :meth:`PolygonIndex.assign`.
    """
    return PolygonIndex.build(polygons, **build_options).assign(x, y, chunk_size=chunk_size)


def assign_to_communities(
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    code_field: str = "code",
) -> pd.Series:
    """Return the code of the community each point belongs to.

    A point belongs to the community that intersects it (interior or boundary); on a boundary
    shared by several, to the one with the smallest code (see the module docstring).

    Parameters
    ----------
    points
        Point geometries (a GeoSeries, or a GeoDataFrame's active geometry). Missing or empty
        geometries get no community.
    communities
        Community polygons with a unique, non-missing ``code_field`` column, in the same CRS as
        ``points``.
    code_field
        Column of ``communities`` holding the community code.

    Returns
    -------
    pandas.Series
        Named ``community_code``, string dtype, with the index of ``points``; ``<NA>`` where
        no community intersects the point or it has no geometry.

    Raises
    ------
    TypeError
        If ``points`` or ``communities`` is not a GeoSeries/GeoDataFrame, a point geometry is
        not a point, or a community geometry is not a polygon or multipolygon.
    ValueError
        If a CRS is missing or the two differ, ``code_field`` is not a column, or codes are
        missing or repeated.
    """
    if not isinstance(points, gpd.GeoSeries | gpd.GeoDataFrame):
        raise TypeError(
            f"points must be a GeoSeries or GeoDataFrame; got {type(points).__name__}"
        )
    if not isinstance(communities, gpd.GeoDataFrame):
        raise TypeError(f"communities must be a GeoDataFrame; got {type(communities).__name__}")
    if points.crs is None or communities.crs is None:
        which = "points" if points.crs is None else "communities"
        raise InputError(f"{which} has no CRS; set one (EPSG:4326 for pingan's layers)")
    if points.crs != communities.crs:
        raise InputError(
            f"points and communities must share a CRS; got points in {points.crs.to_string()} "
            f"and communities in {communities.crs.to_string()}"
        )
    if code_field not in communities.columns:
        raise InputError(
            f"code_field {code_field!r} is not a column of communities; columns: "
            f"{list(communities.columns)}"
        )
    codes = communities[code_field]
    if codes.isna().any():
        raise InputError(
            f"communities[{code_field!r}] has missing codes; every community needs one"
        )
    if codes.duplicated().any():
        repeated = codes[codes.duplicated()].iloc[0]
        raise InputError(
            f"communities[{code_field!r}] must be unique; got {repeated!r} more than once"
        )
    geoms = np.asarray(points.geometry.array if isinstance(points, gpd.GeoDataFrame)
                       else points.array, dtype=object)
    types = shapely.get_type_id(geoms)
    bad = ~((types == -1) | (types == 0) | shapely.is_empty(geoms))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise TypeError(
            f"points must be Point geometries; got {geoms[first].geom_type} at row "
            f"{points.index[first]!r}"
        )
    order = np.argsort(codes.to_numpy(), kind="stable")
    polygons = np.asarray(communities.geometry.array, dtype=object)[order]
    x = np.full(geoms.size, np.nan)
    y = np.full(geoms.size, np.nan)
    located = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    x[located] = shapely.get_x(geoms[located])
    y[located] = shapely.get_y(geoms[located])
    position = PolygonIndex.build(polygons).assign(x, y)
    sorted_codes = codes.astype("string").to_numpy(dtype=object)[order]
    values = np.full(position.size, pd.NA, dtype=object)
    found = position >= 0
    values[found] = sorted_codes[position[found]]
    return pd.Series(values, index=points.index, dtype="string", name="community_code")


# ---------------------------------------------------------------------------------- helpers
def _polygon_array(polygons: ArrayLike | gpd.GeoSeries) -> NDArray[np.object_]:
    if isinstance(polygons, gpd.GeoSeries | gpd.GeoDataFrame):
        if isinstance(polygons, gpd.GeoDataFrame):
            polygons = polygons.geometry
        geoms = np.asarray(polygons.array, dtype=object)
    else:
        geoms = np.asarray(polygons, dtype=object).reshape(-1)
    missing = pd.isna(geoms)
    if missing.any():
        geoms = geoms.copy()
        geoms[missing] = None
    ok = missing | shapely.is_geometry(geoms)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise TypeError(
            f"polygons must hold shapely geometries; got {type(geoms[bad]).__name__} "
            f"at position {bad}"
        )
    types = shapely.get_type_id(geoms)
    polygonal = (types == -1) | (types == 3) | (types == 6) | shapely.is_empty(geoms)
    if not polygonal.all():
        bad = int(np.flatnonzero(~polygonal)[0])
        raise TypeError(
            "polygons must be Polygon or MultiPolygon geometries; got "
            f"{shapely.get_type_id(geoms[bad])!r} ({geoms[bad].geom_type}) at position {bad}"
        )
    return geoms


def _expand(start: Index, count: Index) -> tuple[Index, Index, Index]:
    """Pairs (group, member) for groups ``[start, start + count)``; plus each group's offset."""
    group_start = np.cumsum(count) - count
    total = int(group_start[-1] + count[-1]) if count.size else 0
    group = np.repeat(np.arange(count.size, dtype=np.int64), count)
    member = np.arange(total, dtype=np.int64)
    member += np.repeat((start - group_start).astype(np.int64), count)
    return group, member, group_start


def _spans(
    u0: FloatArray,
    v0: FloatArray,
    u1: FloatArray,
    v1: FloatArray,
    gu0: float,
    gv0: float,
    size: float,
    inv: float,
    margin: float,
) -> tuple[Index, Index, Index, Index]:
    """Conservative raster of segments whose slope dv/du is at most 1 in magnitude.

    Returns, per strip of the major axis ``u`` that a segment comes within ``margin`` of, the
    segment's index, the strip index and the first and last minor-axis cell it comes within
    ``margin`` of inside that strip (widened by ``margin``, so rounding cannot lose a cell).
    """
    ulo = np.minimum(u0, u1)
    uhi = np.maximum(u0, u1)
    k0 = np.floor((ulo - margin - gu0) * inv).astype(np.int64)
    k1 = np.floor((uhi + margin - gu0) * inv).astype(np.int64)
    seg, k, _ = _expand(k0, k1 - k0 + 1)
    slope = (v1 - v0) / (u1 - u0)
    a = np.maximum(gu0 + k * size - margin, ulo[seg])
    b = np.minimum(gu0 + (k + 1) * size + margin, uhi[seg])
    va = v0[seg] + (a - u0[seg]) * slope[seg]
    vb = v0[seg] + (b - u0[seg]) * slope[seg]
    vlo = np.maximum(np.minimum(va, vb), np.minimum(v0, v1)[seg]) - margin
    vhi = np.minimum(np.maximum(va, vb), np.maximum(v0, v1)[seg]) + margin
    m0 = np.floor((vlo - gv0) * inv).astype(np.int64)
    m1 = np.floor((vhi - gv0) * inv).astype(np.int64)
    return seg, k, m0, m1


def _edge_keys(edges: _Edges, frame: _Frame, ebits: int) -> Index:
    """Keys ``cell << ebits | edge`` of the conservative raster of every edge, sorted.

    An edge is listed in every cell it comes within ``frame.margin`` of. When the edge's
    bounding box (widened by the margin) spans a single row or a single column of cells, the
    edge passes through all of them; only the others need their cells computed strip by strip.
    """
    margin, inv = frame.margin, frame.inv
    out = []
    for lo in range(0, edges.edge_vertex.size, _BLOCK):
        ev = edges.edge_vertex[lo : lo + _BLOCK]
        a, b = np.take(edges.xy, ev), np.take(edges.xy, ev + 1)
        ax, ay, bx, by = a.real, a.imag, b.real, b.imag
        i0 = np.floor((np.minimum(ax, bx) - margin - frame.gx0) * inv).astype(np.int64)
        i1 = np.floor((np.maximum(ax, bx) + margin - frame.gx0) * inv).astype(np.int64)
        j0 = np.floor((np.minimum(ay, by) - margin - frame.gy0) * inv).astype(np.int64)
        j1 = np.floor((np.maximum(ay, by) + margin - frame.gy0) * inv).astype(np.int64)
        ni = i1 - i0 + 1
        nj = j1 - j0 + 1
        edge = np.arange(lo, lo + ev.size, dtype=np.int64)
        first_key = j0 * frame.nx
        first_key += i0
        first_key <<= ebits
        first_key |= edge
        n_cells = ni * nj
        out.append(first_key[n_cells == 1])
        line = np.flatnonzero((n_cells > 1) & ((ni == 1) | (nj == 1)))
        group, k, _ = _expand(np.zeros(line.size, np.int64), n_cells[line])
        e = line[group]
        # Along a row k counts columns; along a column (ni == 1), rows.
        k *= np.where(ni[e] == 1, frame.nx, 1)
        k <<= ebits
        k += first_key[e]
        out.append(k)
        rest = np.flatnonzero((ni > 1) & (nj > 1))
        if rest.size:
            ax, ay, bx, by, edge = ax[rest], ay[rest], bx[rest], by[rest], edge[rest]
            shallow = np.abs(bx - ax) >= np.abs(by - ay)
            for sel, (u0, v0, u1, v1, gu0, gv0) in (
                (np.flatnonzero(shallow), (ax, ay, bx, by, frame.gx0, frame.gy0)),
                (np.flatnonzero(~shallow), (ay, ax, by, bx, frame.gy0, frame.gx0)),
            ):
                seg, k, m0, m1 = _spans(
                    u0[sel], v0[sel], u1[sel], v1[sel], gu0, gv0, frame.size, inv, margin
                )
                strip, m, _ = _expand(m0, m1 - m0 + 1)
                cell = m * frame.nx + k[strip] if u0 is ax else k[strip] * frame.nx + m
                out.append((cell << ebits) | edge[sel[seg[strip]]])
    keys = np.concatenate(out) if out else np.empty(0, np.int64)
    keys.sort()
    return keys


def _build(
    geoms: NDArray[np.object_], cells_per_vertex: float, max_cells: int, cell_size_deg: float | None
) -> PolygonIndex:
    edges = _extract_edges(geoms)
    frame = _grid_frame(edges, cells_per_vertex, max_cells, cell_size_deg)
    cells = _edge_cells(edges, frame)
    interior = _interior(edges, frame, cells)
    resolved = _resolve_edge_cells(edges, frame, cells, interior)
    grid = _grid_from_labels(interior, cells)
    return PolygonIndex(
        n_polygons=geoms.size,
        cell_size_deg=frame.size,
        _gx0=frame.gx0,
        _gy0=frame.gy0,
        _inv=frame.inv,
        _nx=frame.nx,
        _ny=frame.ny,
        _grid=grid,
        _vxy=edges.xy,
        _entry_off=cells.entry_off,
        _entry_vertex=cells.entry_vertex,
        _entry_code=resolved.entry_code,
        _cell_xc=resolved.corner_x,
        _cell_mask=resolved.mask,
        _cell_part_off=resolved.part_off,
        _cell_parts=resolved.parts,
        _cell_fallback=resolved.fallback,
        _part_polygon=edges.part_polygon,
        _lowbit=_lowest_bit_table(),
        _parts=edges.parts,
        _part_tree=edges.part_tree,
    )


@dataclass(frozen=True)
class _Edges:
    parts: NDArray[np.object_]  # polygon parts, in polygon order
    part_polygon: Index  # polygon position of each part
    part_tree: shapely.STRtree
    vx: FloatArray  # ring vertices, rings one after another (closed: last == first)
    vy: FloatArray
    xy: NDArray[np.complex128]  # the same, as x + iy (one gather fetches both)
    edge_vertex: Index  # an edge runs from vertex i to vertex i + 1
    edge_part: Index


def _extract_edges(geoms: NDArray[np.object_]) -> _Edges:
    """Read every ring's vertices, a few polygons at a time.

    shapely only hands out a ring's coordinates through copies of the ring, so the copies are
    made a batch of polygons at a time, which keeps them from doubling the memory. The parts
    GEOS arbitrates with are the input polygons themselves and copies of multipolygon parts.
    """
    n_coords = int(shapely.get_num_coordinates(geoms).sum())
    coords = np.empty((n_coords, 2))
    vertex_ring = np.empty(n_coords, dtype=np.int32)
    parts, part_polygon, ring_part = [], [], []
    pos = n_rings = n_parts = 0
    step = 256
    for lo in range(0, geoms.size, step):
        batch = geoms[lo : lo + step]
        batch_parts, part_geom = shapely.get_parts(batch, return_index=True)
        rings, ring_of = shapely.get_rings(batch_parts, return_index=True)
        batch_coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
        coords[pos : pos + len(batch_coords)] = batch_coords
        vertex_ring[pos : pos + len(batch_coords)] = coord_ring + n_rings
        single = shapely.get_type_id(batch)[part_geom] != shapely.GeometryType.MULTIPOLYGON
        batch_parts[single] = batch[part_geom[single]]
        parts.append(batch_parts)
        part_polygon.append(part_geom + lo)
        ring_part.append(ring_of + n_parts)
        pos += len(batch_coords)
        n_rings += len(rings)
        n_parts += len(batch_parts)
    if not np.isfinite(coords).all():
        raise InputError("polygons must have finite coordinates; got NaN or infinite ones")
    vx, vy = coords[:, 0], coords[:, 1]
    # Consecutive vertices of one ring make an edge; repeated vertices make zero-length edges,
    # which bound nothing.
    keep = vertex_ring[1:] == vertex_ring[:-1]
    keep &= (vx[1:] != vx[:-1]) | (vy[1:] != vy[:-1])
    edge_vertex = np.flatnonzero(keep).astype(np.int32)
    all_parts = np.concatenate(parts) if parts else np.empty(0, dtype=object)
    ring_part_all = (np.concatenate(ring_part) if ring_part else np.empty(0)).astype(np.int32)
    return _Edges(
        parts=all_parts,
        part_polygon=(np.concatenate(part_polygon) if parts else np.empty(0)).astype(np.int32),
        part_tree=shapely.STRtree(all_parts),
        vx=vx,
        vy=vy,
        xy=coords.view(np.complex128).reshape(-1),
        edge_vertex=edge_vertex,
        edge_part=ring_part_all[vertex_ring[edge_vertex]],
    )


@dataclass(frozen=True)
class _Frame:
    gx0: float  # lower-left corner of the grid (multiples of the cell size)
    gy0: float
    size: float  # cell side, a power of two
    inv: float
    nx: int
    ny: int
    margin: float  # edges are listed in every cell they come within this distance of


def _grid_frame(
    edges: _Edges, cells_per_vertex: float, max_cells: int, cell_size_deg: float | None
) -> _Frame:
    if edges.edge_vertex.size:
        xmin, xmax = float(edges.vx.min()), float(edges.vx.max())
        ymin, ymax = float(edges.vy.min()), float(edges.vy.max())
    else:
        xmin, ymin, xmax, ymax = 0.0, 0.0, 1.0, 1.0
    width, height = max(xmax - xmin, 1e-9), max(ymax - ymin, 1e-9)
    if cell_size_deg is not None:
        size = 2.0 ** math.floor(math.log2(cell_size_deg))
    else:
        target = max(edges.vx.size * cells_per_vertex, 16.0)
        size = 2.0 ** round(math.log2(math.sqrt(width * height / target)))
    while (width / size + 6) * (height / size + 6) > max_cells:
        size *= 2.0
    inv = 1.0 / size
    # Two cells of padding on each side: no edge reaches the outermost cells, and a point
    # whose cell index falls outside the grid is far from every polygon.
    ix0 = math.floor(xmin * inv) - 2
    iy0 = math.floor(ymin * inv) - 2
    scale = max(abs(xmin), abs(ymin), abs(xmax), abs(ymax), size)
    margin = max(size * _MARGIN_FRACTION, scale * 2.0**-40)
    if margin > size / 8:
        raise InputError(
            f"cell_size_deg must be at least {scale * 2.0**-37:g} for coordinates of "
            f"magnitude {scale:g}; got {size!r}"
        )
    return _Frame(
        gx0=ix0 * size,
        gy0=iy0 * size,
        size=size,
        inv=inv,
        nx=math.floor(xmax * inv) - ix0 + 3,
        ny=math.floor(ymax * inv) - iy0 + 3,
        margin=margin,
    )


@dataclass(frozen=True)
class _Cells:
    ids: Index  # flat grid index of each edge cell, ascending
    entry_off: Index  # entries of edge cell k: entry_off[k] .. entry_off[k + 1]
    entry_cell: Index  # edge cell of each entry
    entry_edge: Index
    entry_vertex: Index


def _edge_cells(edges: _Edges, frame: _Frame) -> _Cells:
    ebits = max(int(edges.edge_vertex.size).bit_length(), 1)
    if (frame.nx * frame.ny).bit_length() + ebits > 62:
        raise InputError(
            f"too many cells and edges to index: {frame.nx * frame.ny} cells, "
            f"{edges.edge_vertex.size} edges"
        )
    keys = _edge_keys(edges, frame, ebits)
    n = keys.size
    entry_edge = np.empty(n, dtype=np.int32)
    first = np.empty(n, dtype=bool)
    first[:1] = True
    for lo in range(0, n, _BLOCK):
        block = keys[lo : lo + _BLOCK + 1]
        cell = block >> ebits
        np.not_equal(cell[1:], cell[:-1], out=first[lo + 1 : lo + block.size])
        entry_edge[lo : lo + _BLOCK] = block[:_BLOCK] & ((1 << ebits) - 1)
    starts = np.flatnonzero(first)
    ids = keys[starts] >> ebits
    del keys
    entry_cell = np.cumsum(first, dtype=np.int32)
    entry_cell -= 1
    return _Cells(
        ids=ids,
        entry_off=np.append(starts, n).astype(np.int32),
        entry_cell=entry_cell,
        entry_edge=entry_edge,
        entry_vertex=np.take(edges.edge_vertex, entry_edge),
    )


@dataclass(frozen=True)
class _Interior:
    labels: Index  # interior component of each cell (1-based; 0 for edge cells)
    comp_polygon: Index  # smallest polygon containing each component, or -1 (index 0 unused)
    comp_off: Index  # parts containing component c: comp_off[c] .. comp_off[c + 1]
    comp_parts: Index


def _interior(edges: _Edges, frame: _Frame, cells: _Cells) -> _Interior:
    """Label the 8-connected components of cells no edge touches, and classify each by GEOS."""
    nx, ny = frame.nx, frame.ny
    nonedge = np.ones(ny * nx, dtype=bool)
    nonedge[cells.ids] = False
    labels_2d, n_comp = ndimage.label(nonedge.reshape(ny, nx), structure=np.ones((3, 3), bool))
    del nonedge
    labels = labels_2d.reshape(-1)
    # Any cell of a component represents it; scatter in blocks to bound memory.
    rep = np.zeros(n_comp + 1, dtype=np.int64)
    for lo in range(0, labels.size, _BLOCK):
        rep[labels[lo : lo + _BLOCK]] = np.arange(lo, min(lo + _BLOCK, labels.size))
    rep = rep[1:]
    rep_x = frame.gx0 + (rep % nx + 0.5) * frame.size
    rep_y = frame.gy0 + (rep // nx + 0.5) * frame.size
    comp, part = _parts_containing(edges.parts, edges.part_tree, rep_x, rep_y)
    comp += 1
    none = np.iinfo(np.int32).max
    comp_polygon = np.full(n_comp + 1, none, dtype=np.int32)
    np.minimum.at(comp_polygon, comp, edges.part_polygon[part])
    comp_polygon[comp_polygon == none] = -1
    comp_off = np.zeros(n_comp + 2, dtype=np.int64)
    np.cumsum(np.bincount(comp, minlength=n_comp + 1), out=comp_off[1:])
    return _Interior(
        labels=labels,
        comp_polygon=comp_polygon,
        comp_off=comp_off,
        comp_parts=part[np.argsort(comp, kind="stable")],
    )


def _grid_from_labels(interior: _Interior, cells: _Cells) -> Assignment:
    """Turn the component labels into the look-up table, in place and in blocks."""
    grid = np.asarray(interior.labels, dtype=np.int32)
    for lo in range(0, grid.size, _BLOCK):
        block = grid[lo : lo + _BLOCK]
        np.take(interior.comp_polygon, block, out=block, mode="clip")
    grid[cells.ids] = -2 - np.arange(cells.ids.size, dtype=np.int32)
    return grid


def _parts_containing(
    parts: NDArray[np.object_], tree: shapely.STRtree, x: FloatArray, y: FloatArray
) -> tuple[Index, Index]:
    """Pairs (point, part), ordered by point, for every polygon part intersecting a point."""
    pt, part = tree.query(shapely.points(x, y))
    hit = shapely.intersects_xy(parts[part], x[pt], y[pt])
    return pt[hit], part[hit]


@dataclass(frozen=True)
class _Resolved:
    corner_x: FloatArray  # x of each edge cell's reference corner
    mask: NDArray[np.uint16]  # bits of the listed parts that contain the reference corner
    part_off: Index  # parts listed in edge cell k: parts[part_off[k] .. part_off[k + 1]]
    parts: Index  # ascending part number, hence ascending polygon position
    fallback: NDArray[np.bool_]  # cells whose points all go to GEOS
    entry_code: NDArray[np.uint8]  # part bit | _CODE_SX | _CODE_SC of each entry


_CORNERS = ((1, 0), (0, 0), (1, 1), (0, 1))


def _resolve_edge_cells(
    edges: _Edges, frame: _Frame, cells: _Cells, interior: _Interior
) -> _Resolved:
    """Give every edge cell a reference corner, its membership and its list of parts.

    Works through the edge cells in blocks (their entries are contiguous), so that the
    temporaries stay small.
    """
    n = cells.ids.size
    corner_x = np.empty(n)
    mask = np.zeros(n, dtype=np.uint16)
    n_local = np.zeros(n, dtype=np.int32)
    fallback = np.zeros(n, dtype=bool)
    entry_code = np.empty(cells.entry_vertex.size, dtype=np.uint8)
    parts = []
    step = max(_BLOCK // 8, 1)
    for lo in range(0, n, step):
        parts.append(
            _resolve_block(lo, min(lo + step, n), edges, frame, cells, interior, corner_x, mask,
                           n_local, fallback, entry_code)
        )
    part_off = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(n_local, out=part_off[1:])
    return _Resolved(
        corner_x=corner_x,
        mask=mask,
        part_off=part_off,
        parts=np.concatenate(parts) if parts else np.empty(0, np.int32),
        fallback=fallback,
        entry_code=entry_code,
    )


def _resolve_block(
    k0: int,
    k1: int,
    edges: _Edges,
    frame: _Frame,
    cells: _Cells,
    interior: _Interior,
    corner_x: FloatArray,
    mask: NDArray[np.uint16],
    n_local: Index,
    fallback: NDArray[np.bool_],
    entry_code: NDArray[np.uint8],
) -> Index:
    """Resolve edge cells ``k0 .. k1``: fill their slots of the arrays; return their parts."""
    e0, e1 = int(cells.entry_off[k0]), int(cells.entry_off[k1])
    off = cells.entry_off[k0 : k1 + 1] - e0  # entries of block cell i: off[i] .. off[i + 1]
    n = k1 - k0
    code, member_cell, member_part, fb = _block_corners(
        k0, k1, edges, frame, cells, interior, corner_x
    )

    # Parts with an edge in the cell, by a run-length pass (entries are sorted by edge, and
    # edges are numbered part by part); ``rank`` numbers them from 0 within the block.
    entry_part = np.take(edges.edge_part, cells.entry_edge[e0:e1])
    first = np.empty(e1 - e0, dtype=bool)
    first[:1] = True
    np.not_equal(entry_part[1:], entry_part[:-1], out=first[1:])
    first[off[:-1]] = True
    entry_cell = cells.entry_cell[e0:e1] - k0
    pbits = max(int(edges.parts.size).bit_length(), 1)
    firsts = np.flatnonzero(first)
    keys = np.take(entry_cell, firsts).astype(np.int64)
    keys <<= pbits
    keys |= np.take(entry_part, firsts)
    member_keys = (member_cell << pbits) | member_part
    found = np.searchsorted(keys, member_keys)
    listed = found < keys.size
    listed[listed] = keys[found[listed]] == member_keys[listed]
    if listed.all():
        rank = np.cumsum(first, dtype=np.int32) - 1
    else:
        # A part containing the corner with no edge in the cell covers the whole cell: only
        # overlapping input gets here. Merge it into the sorted lists.
        keys = np.concatenate([keys, member_keys[~listed]])
        keys.sort()
        entry_keys = (entry_cell.astype(np.int64) << pbits) | entry_part
        rank = np.searchsorted(keys, entry_keys).astype(np.int32)
        found = np.searchsorted(keys, member_keys)
    count = np.bincount((keys >> pbits).astype(np.int64), minlength=n).astype(np.int32)
    start = np.cumsum(count) - count
    fb |= count > _MAX_LOCAL_PARTS
    bit = rank - start[entry_cell]
    bit[fb[entry_cell]] = 0
    entry_code[e0:e1] = code | bit.astype(np.uint8)
    member_bit = found - start[member_cell]
    use = ~fb[member_cell]
    block_mask = np.zeros(n, dtype=np.uint16)
    np.bitwise_or.at(
        block_mask, member_cell[use], np.left_shift(1, member_bit[use]).astype(np.uint16)
    )
    mask[k0:k1] = block_mask
    n_local[k0:k1] = count
    fallback[k0:k1] = fb
    return (keys & ((1 << pbits) - 1)).astype(np.int32)


def _block_corners(
    k0: int,
    k1: int,
    edges: _Edges,
    frame: _Frame,
    cells: _Cells,
    interior: _Interior,
    corner_x: FloatArray,
) -> tuple[NDArray[np.uint8], Index, Index, NDArray[np.bool_]]:
    """Pick the reference corner of edge cells ``k0 .. k1`` and find the parts containing it.

    A corner is usable when it is certainly off every edge the cell lists. Its membership is
    that of an interior component touching it (the interior cells around a grid vertex are
    8-connected, so there is at most one) or, failing that, computed by GEOS. Cells with no
    usable corner are flagged so that all their points go to GEOS.

    Returns the _CODE_SX | _CODE_SC flags of the block's entries, the (block cell, part)
    membership pairs ordered by cell, and the fallback flags.
    """
    nx, labels, size = frame.nx, interior.labels, frame.size
    n = k1 - k0
    e0, e1 = int(cells.entry_off[k0]), int(cells.entry_off[k1])
    ids = cells.ids[k0:k1]
    ci, cj = ids % nx, ids // nx
    # Component touching each corner, in _CORNERS order (0 where the corner touches none).
    def near(offset: int) -> Index:
        return np.take(labels, ids + offset)

    left, right, down, up = near(-1), near(1), near(-nx), near(nx)
    touching = np.stack([
        np.maximum(np.maximum(right, down), near(1 - nx)),
        np.maximum(np.maximum(left, down), near(-1 - nx)),
        np.maximum(np.maximum(right, up), near(1 + nx)),
        np.maximum(np.maximum(left, up), near(nx - 1)),
    ])
    choice = np.argmax(touching > 0, axis=0)
    comp = touching[choice, np.arange(n)].astype(np.int64)
    dx = np.array([c[0] for c in _CORNERS])[choice]
    dy = np.array([c[1] for c in _CORNERS])[choice]
    cx = frame.gx0 + (ci + dx) * size
    cy = frame.gy0 + (cj + dy) * size
    count = np.diff(cells.entry_off[k0 : k1 + 1])
    code, sure = _corner_tests(
        edges, cells.entry_vertex[e0:e1], np.repeat(cx, count), np.repeat(cy, count)
    )
    ok = np.logical_and.reduceat(sure, cells.entry_off[k0:k1] - e0)
    geos = [np.flatnonzero(ok & (comp == 0))]
    comp[~ok] = 0
    # Cells whose first choice lies on (or within rounding of) an edge try the other corners.
    todo = ~ok
    for use_geos in (False, True):
        for corner, (ddx, ddy) in enumerate(_CORNERS):
            t = np.flatnonzero(todo)
            if use_geos:
                touch = np.zeros(t.size, dtype=np.int64)
            else:
                touch = touching[corner, t].astype(np.int64)
                t, touch = t[touch > 0], touch[touch > 0]
            if not t.size:
                continue
            px = frame.gx0 + (ci[t] + ddx) * size
            py = frame.gy0 + (cj[t] + ddy) * size
            start = cells.entry_off[k0 + t]
            group, entries, group_start = _expand(start, cells.entry_off[k0 + t + 1] - start)
            t_code, t_sure = _corner_tests(
                edges, cells.entry_vertex[entries], px[group], py[group]
            )
            t_ok = np.logical_and.reduceat(t_sure, group_start)
            take = t_ok[group]
            code[entries[take] - e0] = t_code[take]
            t = t[t_ok]
            cx[t], cy[t], comp[t] = px[t_ok], py[t_ok], touch[t_ok]
            todo[t] = False
            if use_geos:
                geos.append(t)
    # No corner is certainly off the cell's edges (edges along grid lines through every
    # corner): GEOS decides the cell's points, the corner only needs a value.
    fb = todo
    cx[fb] = frame.gx0 + (ci[fb] + 1) * size
    corner_x[k0:k1] = cx

    known = np.flatnonzero(comp > 0)
    start = interior.comp_off[comp[known]]
    group, member, _ = _expand(start, interior.comp_off[comp[known] + 1] - start)
    member_cell = known[group]
    member_part = interior.comp_parts[member]
    g = np.concatenate(geos)
    if g.size:
        pt, part = _parts_containing(edges.parts, edges.part_tree, cx[g], cy[g])
        member_cell = np.concatenate([member_cell, g[pt]])
        member_part = np.concatenate([member_part, part])
        order = np.argsort(member_cell, kind="stable")
        member_cell, member_part = member_cell[order], member_part[order]
    return code, member_cell, member_part, fb


def _corner_tests(
    edges: _Edges, v: Index, cx: FloatArray, cy: FloatArray
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Return flags of edges ``v -> v + 1`` for corners (cx, cy), and whether they are certain."""
    a = np.take(edges.xy, v)
    b = np.take(edges.xy, v + 1)
    ax, ay, bx, by = a.real, a.imag, b.real, b.imag
    left = bx - ax
    left *= cy - ay
    right = by - ay
    right *= cx - ax
    det = left - right
    np.abs(left, out=left)
    np.abs(right, out=right)
    left += right
    left *= _ORIENT_ERRBOUND
    sure = np.abs(det) > left
    code = ((ax > cx) != (bx > cx)).view(np.uint8) * _CODE_SX
    code |= (det > 0).view(np.uint8) * _CODE_SC
    return code, sure
