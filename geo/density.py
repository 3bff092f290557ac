"""Kernel density surfaces of incidents on the one grid.

Where inside a community do incidents concentrate? A kernel density surface spreads each
incident over a smooth bump and adds the bumps up; the surface is read at the centres of the
cells of :class:`geo.grid.Grid` (edges at whole multiples of ``cell_m`` in the metric CRS), so it
lines up with every other grid product of pingan, and is kept only on the cells that meet the
study area (:meth:`geo.grid.Grid.cells_meeting`; other cells are NaN).

Kernels
-------
- ``quartic`` (biweight), the kernel of ArcGIS's Kernel Density tool, which cites Silverman
  (1986, p. 76, eq. 4.5): with ``h = bandwidth_m`` the support radius,
  ``K(d) = 3 / (π h²) · (1 − d²/h²)²`` for ``d < h`` and 0 beyond;
- ``gaussian``: with ``σ = bandwidth_m``, ``K(d) = 1 / (2π σ²) · exp(−d² / (2σ²))``.

Both integrate to one incident, so the surface is incidents per m²; it is reported per km²
(``density_per_km2``) and as the expected incidents of each cell (``expected_per_cell``: the
density at the cell's centre times the cell's area). Nothing is corrected at the edges of the
study area: incidents near the edge spread part of their mass outside, as in ArcGIS.

Default bandwidth
-----------------
ArcGIS Pro's "How Kernel Density works" (spatial variant of Silverman's rule of thumb, since
ArcGIS 10.2.1): with the mean centre of the points, ``D_m`` the median distance of the points
from it, ``SD`` their standard distance (``√(Σ(x − x̄)²/n + Σ(y − ȳ)²/n)``) and ``n`` the number
of points, ::

    search radius = 0.9 · min(SD, √(1/ln 2) · D_m) · n^(−0.2)

It is used as the quartic's radius, as ArcGIS does, and as the Gaussian's σ (the meaning of
Silverman's rule, which was derived for a Gaussian kernel).

Modes
-----
- ``exact``: every cell centre gets the direct sum over the incidents. The quartic is exact; the
  Gaussian leaves out terms below 1e-16 of its peak (beyond 8.6 σ), which changes no cell by
  more than ``n · 1e-16`` of one kernel's peak. Work grows with incidents × cells within reach.
- ``binned``: incidents are binned onto the grid's cells with their offsets from the cell
  centres kept as first and second moments (Σu, Σv, Σu², Σuv, Σv²), and the surface is the sum
  of six FFT convolutions of those moment grids with the kernel and its first and second
  derivatives: a second-order Taylor expansion of each kernel around its cell's centre. Plain
  binning moves each incident to its cell's centre, which blurs the surface by about
  ``cell²/12`` per axis; the moments remove that error to third order in ``cell/bandwidth``.
  Work grows with incidents plus cells, not their product.

Written here rather than taken from a library: scikit-learn's ``KernelDensity`` has no quartic
kernel and evaluates points one by one; scipy's ``gaussian_kde`` has no grid mode; KDEpy's FFT
grids are not the fixed grid. The exact mode is checked against direct sums and scikit-learn.

Release options (off by default): ``min_bandwidth_m`` and ``min_cell_m`` refuse finer surfaces
(a default bandwidth below the minimum is raised to it), and ``min_expected`` masks cells with
fewer expected incidents than that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.fft import irfft2, next_fast_len, rfft2

from geo import spacetime as st
from geo.errors import LimitError, MissingDataError, ParameterError
from geo.grid import Grid
from geo.projection import metric_crs_of

__all__ = [
    "KERNELS",
    "MODES",
    "DensityResult",
    "default_bandwidth_m",
    "kernel_density",
]

KERNELS = ("quartic", "gaussian")
MODES = ("exact", "binned")
#: Default cap on the cells of a surface (its bounding box on the grid).
DEFAULT_MAX_CELLS = 25_000_000
# Gaussian terms below this share of the kernel's peak are left out (the exact mode's reach).
_GAUSS_CUT = 1e-16
_M2_PER_KM2 = 1_000_000.0


@dataclass(frozen=True, eq=False)
class DensityResult:
    """A kernel density surface on grid cells.

    Attributes
    ----------
    density_per_km2
        Incidents per km² at each cell's centre, rows from north to south and columns from
        west to east (the order of a GeoTIFF); NaN outside the study area and in masked cells.
    expected_per_cell
        ``density_per_km2`` times the cell's area in km²: expected incidents of each cell.
    transform
        Affine transform ``(a, b, c, d, e, f)`` of the arrays (rasterio's order): the
        north-west corner of pixel (row, col) is at ``x = c + a·col``, ``y = f + e·row``, with
        ``a = cell_m``, ``e = −cell_m`` and ``(c, f)`` the arrays' north-west corner.
    crs
        The metric CRS of the grid.
    cell_m
        Cell side in metres.
    ix0, iy0
        Grid column and row (:class:`geo.grid.Grid`) of the south-west cell of the arrays: the
        pixel (row, col) is the grid cell ``(ix0 + col, iy0 + height − 1 − row)``.
    kernel
        ``quartic`` or ``gaussian``.
    bandwidth_m
        The quartic's support radius or the Gaussian's σ, in metres.
    bandwidth_rule
        ``given``, ``arcgis`` (the default rule) or ``arcgis raised to the minimum``.
    mode
        ``exact`` or ``binned``.
    n_incidents
        Incidents that made the surface.
    no_location, coarse_location
        Incidents left out: no point, or a location precision in ``exclude_precisions``.
    masked_cells
        Cells of the study area masked for fewer than ``min_expected`` expected incidents.
    nodata
        The no-data value of the arrays (NaN).
    notes
        Method and provenance notes.
    """

    density_per_km2: NDArray[np.float64]
    expected_per_cell: NDArray[np.float64]
    transform: tuple[float, float, float, float, float, float]
    crs: pyproj.CRS
    cell_m: float
    ix0: int
    iy0: int
    kernel: str
    bandwidth_m: float
    bandwidth_rule: str
    mode: str
    n_incidents: int
    no_location: int
    coarse_location: int
    masked_cells: int
    nodata: float
    notes: tuple[str, ...]

    @property
    def width(self) -> int:
        """Columns of the arrays."""
        return int(self.density_per_km2.shape[1])

    @property
    def height(self) -> int:
        """Rows of the arrays."""
        return int(self.density_per_km2.shape[0])

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The cells with a value, one row each.

        Columns ``cell`` (grid cell id, :func:`geo.grid.cell_ids`), ``ix``, ``iy``,
        ``density_per_km2`` and ``expected``; rows from the south-west, row-major.
        """
        rows, cols = np.nonzero(np.isfinite(self.density_per_km2[::-1]))
        ix = self.ix0 + cols
        iy = self.iy0 + rows
        flip = self.height - 1 - rows
        return pd.DataFrame({
            "cell": Grid(self.cell_m, self.crs).ids(ix, iy),
            "ix": ix.astype(np.int64),
            "iy": iy.astype(np.int64),
            "density_per_km2": self.density_per_km2[flip, cols],
            "expected": self.expected_per_cell[flip, cols],
        })


def kernel_density(
    incidents: gpd.GeoDataFrame,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    cell_m: float = 50.0,
    kernel: str = "quartic",
    bandwidth_m: float | None = None,
    mode: str = "exact",
    metric_crs: Any = None,
    exclude_precisions: Sequence[str] = ("centroid",),
    min_bandwidth_m: float | None = None,
    min_cell_m: float | None = None,
    min_expected: float | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> DensityResult:
    """Compute a kernel density surface of incidents on grid cells over a study area.

    Parameters
    ----------
    incidents
        Incident points (the frame of :mod:`geo.layers`), already filtered by the caller.
        Every located incident contributes, also those outside the study area.
    study_area
        Polygons (communities, a jurisdiction) whose union the surface covers; same CRS as
        ``incidents``.
    cell_m
        Cell side in metres (the grid of :class:`geo.grid.Grid`).
    kernel
        ``quartic`` or ``gaussian``.
    bandwidth_m
        The quartic's support radius or the Gaussian's σ, in metres; by default ArcGIS's rule
        (:func:`default_bandwidth_m`).
    mode
        ``exact`` (direct sums) or ``binned`` (moment binning and FFT convolution).
    metric_crs
        Projected CRS in metres; by default that of the study area
        (:func:`geo.projection.metric_crs_of`).
    exclude_precisions
        Location precisions left out (by default ``centroid``).
    min_bandwidth_m, min_cell_m
        Refuse a given bandwidth or cell finer than these; a default bandwidth below
        ``min_bandwidth_m`` is raised to it. ``None``: no minimum.
    min_expected
        Mask (NaN) the cells with fewer expected incidents than this; ``None``: none.
    max_cells
        Refuse surfaces whose bounding box on the grid holds more cells than this.

    Returns
    -------
    DensityResult

    Raises
    ------
    geo.errors.InputError
        If an input is not a GeoDataFrame (or GeoSeries) with a CRS, the CRSs differ, or an
        incident is not a point.
    geo.errors.ParameterError
        If an option is out of range or finer than its minimum.
    geo.errors.MissingDataError
        If the study area covers no area, or a default bandwidth is needed and the incidents
        do not give one (fewer than two places).
    geo.errors.LimitError
        If the grid would exceed ``max_cells``.
    """
    st.check_frame(incidents, "incidents")
    area_frame = st.check_study_area(incidents, study_area)
    cell = st.check_number(cell_m, "cell_m", minimum=0.0, exclusive=True)
    st.check_choice(kernel, "kernel", KERNELS)
    st.check_choice(mode, "mode", MODES)
    max_cells = st.check_int(max_cells, "max_cells", minimum=1)
    minimum_h = _optional(min_bandwidth_m, "min_bandwidth_m")
    minimum_cell = _optional(min_cell_m, "min_cell_m")
    min_exp = _optional(min_expected, "min_expected")
    if minimum_cell is not None and cell < minimum_cell:
        raise ParameterError(f"cell_m must be at least {minimum_cell:g} m here; got {cell:g}",
                             parameter="cell_m")
    crs = metric_crs_of(area_frame, metric_crs=metric_crs)
    grid = Grid(cell, crs)
    area = shapely.union_all(area_frame.to_crs(crs).geometry.to_numpy())
    cx, cy = grid.cells_meeting(area)
    if not len(cx):
        raise MissingDataError("the study area covers no cell: it has no area")
    ix0, iy0 = int(cx.min()), int(cy.min())
    nx, ny = int(cx.max()) - ix0 + 1, int(cy.max()) - iy0 + 1
    if nx * ny > max_cells:
        raise LimitError(f"the surface would have {nx} x {ny} = {nx * ny} cells, more than "
                         f"max_cells ({max_cells}); use larger cells or a smaller area",
                         parameter="max_cells")
    points = st.located_points(incidents, crs, st.check_precisions(exclude_precisions))
    h, rule = _bandwidth(points.x, points.y, bandwidth_m, minimum_h)
    if mode == "exact":
        per_m2 = _exact_grid(points.x, points.y, ix0, iy0, nx, ny, cell, kernel, h)
    else:
        per_m2 = _binned_grid(points.x, points.y, ix0, iy0, nx, ny, cell, kernel, h)
    inside = np.zeros((ny, nx), dtype=bool)
    inside[cy - iy0, cx - ix0] = True
    per_m2 = np.where(inside, per_m2, np.nan)
    expected = per_m2 * cell * cell
    masked = 0
    if min_exp is not None:
        low = inside & (expected < min_exp)
        masked = int(low.sum())
        per_m2[low] = np.nan
        expected[low] = np.nan
    notes = (
        f"{kernel} kernel, {'radius' if kernel == 'quartic' else 'sigma'} {h:.6g} m ({rule}); "
        f"{mode} mode; {len(cx)} cells of {cell:g} m in {crs.to_string()} meet the study area",
        f"{len(points.x)} incidents; left out: {points.no_location} without a point, "
        f"{points.coarse_location} for location precision "
        f"{', '.join(exclude_precisions) or '(none)'}; {masked} cells masked below "
        f"{min_exp if min_exp is not None else 0:g} expected incidents",
    )
    return DensityResult(
        density_per_km2=np.ascontiguousarray((per_m2 * _M2_PER_KM2)[::-1]),
        expected_per_cell=np.ascontiguousarray(expected[::-1]),
        transform=(cell, 0.0, ix0 * cell, 0.0, -cell, (iy0 + ny) * cell),
        crs=crs, cell_m=cell, ix0=ix0, iy0=iy0, kernel=kernel, bandwidth_m=h,
        bandwidth_rule=rule, mode=mode, n_incidents=len(points.x),
        no_location=points.no_location, coarse_location=points.coarse_location,
        masked_cells=masked, nodata=float("nan"), notes=notes)


def default_bandwidth_m(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """ArcGIS's default search radius of points in a metric CRS.

    ``0.9 · min(SD, √(1/ln 2) · D_m) · n^(−0.2)`` with ``SD`` the standard distance and ``D_m``
    the median distance from the mean centre (ArcGIS Pro, "How Kernel Density works").

    Parameters
    ----------
    x, y
        Coordinates in metres.

    Returns
    -------
    float
        The bandwidth in metres (0 when every point is at one place).

    Raises
    ------
    geo.errors.MissingDataError
        If there are fewer than two points.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    if n < 2:
        raise MissingDataError(f"a default bandwidth needs at least two incidents; got {n}; "
                               f"give bandwidth_m")
    dx = x - x.mean()
    dy = y - y.mean()
    standard_distance = math.sqrt(float(np.mean(dx * dx) + np.mean(dy * dy)))
    median_distance = float(np.median(np.hypot(dx, dy)))
    return 0.9 * min(standard_distance, math.sqrt(1 / math.log(2)) * median_distance) * n**-0.2


def _optional(value: float | None, name: str) -> float | None:
    return None if value is None else st.check_number(value, name, minimum=0.0)


def _bandwidth(x: NDArray[np.float64], y: NDArray[np.float64], given: float | None,
               minimum: float | None) -> tuple[float, str]:
    if given is not None:
        h = st.check_number(given, "bandwidth_m", minimum=0.0, exclusive=True)
        if minimum is not None and h < minimum:
            raise ParameterError(f"bandwidth_m must be at least {minimum:g} m here; got {h:g}",
                                 parameter="bandwidth_m")
        return h, "given"
    h = default_bandwidth_m(x, y)
    if minimum is not None and h < minimum:
        return minimum, "arcgis raised to the minimum"
    if h <= 0:
        raise MissingDataError("the incidents are all at one place, so the default bandwidth "
                               "is 0; give bandwidth_m")
    return h, "arcgis"


def _reach(kernel: str, h: float) -> float:
    """Distance beyond which a kernel adds nothing (quartic) or below 1e-16 of its peak."""
    return h if kernel == "quartic" else h * math.sqrt(2 * math.log(1 / _GAUSS_CUT))


def _exact_grid(x: NDArray[np.float64], y: NDArray[np.float64], ix0: int, iy0: int, nx: int,
                ny: int, cell: float, kernel: str, h: float) -> NDArray[np.float64]:
    """Direct sums at the cell centres; rows from south to north."""
    order = np.argsort(y, kind="stable")
    with st.PARALLEL_LOCK:
        return _direct_sum(np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order]),
                           (ix0 + 0.5) * cell, (iy0 + 0.5) * cell, cell, nx, ny,
                           kernel == "quartic", h, _reach(kernel, h))


@numba.njit(cache=True, parallel=True)
def _direct_sum(px, py, x0, y0, cell, nx, ny, quartic, h, reach):
    """Each row of cell centres (in parallel) sums the kernels of the points within reach."""
    out = np.zeros((ny, nx))
    h2 = h * h
    reach2 = reach * reach
    norm = 3.0 / (math.pi * h2) if quartic else 1.0 / (2.0 * math.pi * h2)
    for r in numba.prange(ny):
        cy = y0 + r * cell
        lo = np.searchsorted(py, cy - reach, side="left")
        hi = np.searchsorted(py, cy + reach, side="right")
        row = out[r]
        for k in range(lo, hi):
            dy = cy - py[k]
            first = max(0, math.ceil((px[k] - reach - x0) / cell))
            last = min(nx - 1, math.floor((px[k] + reach - x0) / cell))
            for c in range(first, last + 1):
                dx = x0 + c * cell - px[k]
                d2 = dx * dx + dy * dy
                if quartic:
                    if d2 < h2:
                        w = 1.0 - d2 / h2
                        row[c] += norm * w * w
                elif d2 <= reach2:
                    row[c] += norm * math.exp(-d2 / (2.0 * h2))
    return out


def _binned_grid(x: NDArray[np.float64], y: NDArray[np.float64], ix0: int, iy0: int, nx: int,
                 ny: int, cell: float, kernel: str, h: float) -> NDArray[np.float64]:
    """Moment binning and FFT convolution, with the quartic's rim summed exactly; rows S to N."""
    pad = math.ceil(_reach(kernel, h) / cell) + 1
    ex, ey = ix0 - pad, iy0 - pad
    wide, high = nx + 2 * pad, ny + 2 * pad
    bx = np.floor(x / cell).astype(np.int64) - ex
    by = np.floor(y / cell).astype(np.int64) - ey
    keep = (bx >= 0) & (bx < wide) & (by >= 0) & (by < high)
    bx, by = bx[keep], by[keep]
    # Offsets from the bin's centre and the points themselves, in the extended grid's frame.
    u = x[keep] - (bx + ex + 0.5) * cell
    v = y[keep] - (by + ey + 0.5) * cell
    flat = by * wide + bx
    offsets = np.arange(-pad, pad + 1) * cell
    gx, gy = np.meshgrid(offsets, offsets)
    rim = _rim(kernel, h, cell, np.hypot(gx, gy))
    total = _convolved_moments(flat, u / h, v / h, (high, wide),
                               _stencils(kernel, h, gx, gy, ~rim))
    if rim.any():
        order = np.argsort(by)  # the rim sums take the points bin row by bin row
        row_starts = np.searchsorted(by[order], np.arange(high + 1))
        dy, dx = np.nonzero(rim)  # row-major: grouped by dy, dx ascending within
        dy_values, dy_first = np.unique(dy, return_index=True)
        dx_starts = np.append(dy_first, len(dx)).astype(np.int64)
        with st.PARALLEL_LOCK:
            total += _rim_sums(u[order], v[order], bx[order], row_starts, high, wide, pad,
                               cell, (dy_values - pad).astype(np.int64), dx_starts,
                               (dx - pad).astype(np.int64), h)
    # FFT round-off leaves values of about 1e-16 of the peak where no kernel reaches.
    return np.maximum(total[pad:pad + ny, pad:pad + nx], 0.0)


def _rim(kernel: str, h: float, cell: float, distance: NDArray[np.float64]
         ) -> NDArray[np.bool_]:
    """Offsets whose bin straddles the quartic's edge (some of its points in reach, some not).

    A point lies within half a cell diagonal of its bin's centre, so a bin whose centre is
    nearer than ``h − cell/√2`` has all its points inside the kernel's disc and one farther
    than ``h + cell/√2`` none; only the bins between are summed point by point. The Gaussian
    is smooth everywhere and has no rim.
    """
    if kernel != "quartic":
        return np.zeros(distance.shape, dtype=bool)
    half_diagonal = cell / math.sqrt(2.0)
    return (distance >= h - half_diagonal) & (distance < h + half_diagonal)


_ORDERS = [(a, k - a) for k in range(5) for a in range(k + 1)]  # x and y orders, total <= 4
# The quartic 3/π (1 − t²)² with t² = x² + y², as coefficients of x^i y^j.
_QUARTIC = np.zeros((5, 5))
_QUARTIC[0, 0], _QUARTIC[2, 0], _QUARTIC[0, 2] = 1.0, -2.0, -2.0
_QUARTIC[4, 0], _QUARTIC[2, 2], _QUARTIC[0, 4] = 1.0, 2.0, 1.0


def _stencils(kernel: str, h: float, gx: NDArray[np.float64], gy: NDArray[np.float64],
              use: NDArray[np.bool_]) -> list[NDArray[np.float64]]:
    """The kernel's Taylor terms on the offsets (gx, gy), in bandwidth units, one per order.

    A point ``u`` from its bin's centre adds ``K(g − u) = Σ (−u)^α/α! ∂^α K(g)`` at offset
    ``g``; with the moments ``Σ (u/h)^α/α!`` of each bin, the term of order α is the stencil
    ``(−1)^|α| h^|α| ∂^α K``. Inside the quartic's disc the kernel is a polynomial of degree
    four, so the terms up to order four are exact there; for the Gaussian,
    ``∂^α`` gives Hermite polynomials and the terms beyond order four are below 1e-7 of the
    peak for bandwidths of two cells or more.
    """
    tx, ty = gx / h, gy / h
    out = []
    if kernel == "quartic":
        c = 3.0 / (math.pi * h * h)
        for a, b in _ORDERS:
            coef = np.polynomial.polynomial.polyder(_QUARTIC, m=a, axis=0)
            coef = np.polynomial.polynomial.polyder(coef, m=b, axis=1)
            term = c * (-1.0) ** (a + b) * np.polynomial.polynomial.polyval2d(tx, ty, coef)
            out.append(np.where(use & (tx * tx + ty * ty < 1.0), term, 0.0))
        return out
    c = 1.0 / (2.0 * math.pi * h * h)
    bump = c * np.exp(-(tx * tx + ty * ty) / 2.0)
    herm = np.polynomial.hermite_e.hermeval
    for a, b in _ORDERS:
        unit_a = np.eye(a + 1)[a]
        unit_b = np.eye(b + 1)[b]
        out.append(np.where(use, bump * herm(tx, unit_a) * herm(ty, unit_b), 0.0))
    return out


def _convolved_moments(flat: NDArray[np.int64], u: NDArray[np.float64], v: NDArray[np.float64],
                       shape: tuple[int, int], stencils: list[NDArray[np.float64]]
                       ) -> NDArray[np.float64]:
    """Σ over orders α of (the bins' moments Σ u^α/α!) convolved with the stencil of α.

    The products are summed in the frequency domain, so the whole sum costs one inverse FFT.
    """
    high, wide = shape
    k = stencils[0].shape[0]
    full = (high + k - 1, wide + k - 1)
    fshape = tuple(next_fast_len(n, real=True) for n in full)
    moments = _moments(flat, u, v, high * wide)
    spectrum = np.zeros((fshape[0], fshape[1] // 2 + 1), dtype=np.complex128)
    for i, stencil in enumerate(stencils):
        if stencil.any():
            spectrum += (rfft2(moments[:, i].reshape(shape), fshape, workers=-1)
                         * rfft2(stencil, fshape, workers=-1))
    pad = (k - 1) // 2
    return irfft2(spectrum, fshape, workers=-1)[pad:pad + high, pad:pad + wide]


@numba.njit(cache=True)
def _moments(flat, u, v, size):
    """Per bin, Σ u^a v^b / (a! b!) for the orders of ``_ORDERS`` (a + b <= 4)."""
    out = np.zeros((size, 15))
    pu = np.ones(5)
    pv = np.ones(5)
    for k in range(len(flat)):
        b = flat[k]
        for j in range(1, 5):
            pu[j] = pu[j - 1] * u[k] / j
            pv[j] = pv[j - 1] * v[k] / j
        i = 0
        for total in range(5):
            for a in range(total + 1):
                out[b, i] += pu[a] * pv[total - a]
                i += 1
    return out


@numba.njit(cache=True, parallel=True)
def _rim_sums(u, v, bx, row_starts, high, wide, pad, cell, dys, dx_starts, dxs, h):
    """Exact quartic sums over the rim bins of every cell; output rows in parallel.

    The points are sorted by bin row (``u``, ``v`` their offsets from their bin's centre,
    ``bx`` its column) and ``row_starts`` gives the first point of each bin row. Output row ``r``
    takes, for each rim row offset ``dy``, the points of bin row ``r − dy`` and adds each to
    the cells ``bx + dx`` of that offset's rim columns: every row is written by one thread.
    """
    out = np.zeros((high, wide))
    h2 = h * h
    norm = 3.0 / (math.pi * h2)
    for r in numba.prange(pad, high - pad):
        row = out[r]
        for m in range(len(dys)):
            dy = dys[m]
            br = r - dy
            for k in range(row_starts[br], row_starts[br + 1]):
                py = dy * cell - v[k]
                for j in range(dx_starts[m], dx_starts[m + 1]):
                    c = bx[k] + dxs[j]
                    if c < pad or c >= wide - pad:
                        continue
                    px = dxs[j] * cell - u[k]
                    d2 = px * px + py * py
                    if d2 < h2:
                        w = 1.0 - d2 / h2
                        row[c] += norm * w * w
    return out
