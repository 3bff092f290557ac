"""Kernel density surfaces over stored incidents, as each caller may see them.

:func:`geo.density.kernel_density` computes the surface on the one grid; this service chooses
its inputs for the caller (:mod:`api.release`):

- an exact caller (admin; a liaison inside their world) gets the surface of the incidents of
  their world, masked to their communities (or to the selected ones): a liaison's surface
  never holds an incident outside their jurisdiction, not even as the tail of a kernel. Cells
  may be as small as the caller likes (default :data:`DEFAULT_CELL_M`);
- a protected caller (planner, client) gets the surface of the **released counts** of the
  published grid: every cell (of the requested published size, counted over every community)
  is released by the cell-key method, a hidden count adds nothing, and each released count is
  spread from its cell's centre. The bandwidth is at least ``api.min_kde_bandwidth_m``
  (500 m; a smaller default is raised to it, a smaller given one is a 422), the cells are
  published sizes (250 m and up), the period is a whole month, quarter or year, and cells
  with fewer than ``api.min_count_shown`` (3) expected incidents are masked. The surface is
  then a function of released counts only: two surfaces differenced against each other give
  differences of released counts, which the cell-key method already protects, and no
  position finer than a published cell goes into it.

A selection masks the surface to the selected communities; it never changes the incidents that
make it (the caller's whole world), so a cell has the same value in every answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.release import Selection, Visibility, release_provenance
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.aggregates import grid_cell_counts
from api.services.categories import resolve_categories
from api.services.units import world_communities
from geo.density import KERNELS, MODES, DensityResult, default_bandwidth_m, kernel_density
from geo.errors import LimitError, MissingDataError, ParameterError
from geo.grid import Grid
from geo.period import Period
from geo.release import release_counts

__all__ = ["DEFAULT_CELL_M", "DensitySurface", "density_report", "density_surface"]

#: Default cell of an exact caller's surface (metres); a protected caller's is the smallest
#: published cell.
DEFAULT_CELL_M = 100.0
#: Smallest cell and bandwidth of any surface (metres): finer is below any location's precision.
MIN_CELL_M = 1.0
#: Cell columns of a report.
COLUMNS = ("cell_id", "ix", "iy", "density_per_km2", "expected")
#: Most cells a surface served here may span (its bounding box on the grid, padded by the
#: kernel's reach in binned mode, whose 15 moment grids then take about 120 MB).
MAX_CELLS = 1_000_000
#: Most kernel evaluations an exact surface may take (incidents × cells within reach).
MAX_EXACT_WORK = 2_000_000_000
# Reach of the Gaussian in σ (geo.density leaves out terms below 1e-16 of its peak: 8.6 σ).
_GAUSS_REACH = 8.6


@dataclass(frozen=True, eq=False)
class DensitySurface:
    """A surface as released to one caller, with its provenance.

    Attributes
    ----------
    result
        The surface (:class:`geo.density.DensityResult`), masked for the caller.
    provenance
        Provenance as the caller may see it.
    """

    result: DensityResult
    provenance: dict[str, Any]


def _study_area(ctx: ServiceContext, vis: Visibility, selection: Selection | None
                ) -> gpd.GeoDataFrame:
    comms = world_communities(ctx, vis)
    if selection is not None and selection.communities is not None:
        comms = comms[comms["code"].isin(selection.communities)]
    return comms.reset_index(drop=True)


def _released_centres(ctx: ServiceContext, vis: Visibility, p: Period, grid: Grid,
                      categories: tuple[str, ...]) -> gpd.GeoDataFrame:
    """One point per released incident at its cell's centre (metric CRS); hidden cells none."""
    scope = tuple(world_communities(ctx, vis)["code"])
    cells, _ = grid_cell_counts(ctx, vis, grid, period=p, categories=categories,
                                definition=ctx.case_definition, scope=scope)
    rel = release_counts(cells["count"].to_numpy(dtype=np.int64),
                         cells["key_sum"].to_numpy(dtype=np.int64), min_count=vis.min_count)
    weight = np.where(rel.hidden, 0, np.round(rel.value)).astype(np.int64)
    x = np.repeat((cells["ix"].to_numpy(dtype=np.float64) + 0.5) * grid.cell_m, weight)
    y = np.repeat((cells["iy"].to_numpy(dtype=np.float64) + 0.5) * grid.cell_m, weight)
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=grid.crs)


def _exact_incidents(ctx: ServiceContext, vis: Visibility, p: Period,
                     categories: tuple[str, ...]) -> gpd.GeoDataFrame:
    query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=categories,
                                communities=vis.community_filter(),
                                case_definition=ctx.case_definition)
    with ctx.engine.connect() as conn:
        return store.read_incidents(conn, query)


def _check_size(bounds: tuple[float, float, float, float], cell: float, kernel: str,
                bandwidth_m: float | None, mode: str, n_points: int) -> None:
    """Refuse surfaces too large to serve before any array is made.

    Raises
    ------
    geo.errors.LimitError
        Naming ``cell_m`` (too many cells), ``bandwidth_m`` (a binned kernel wider than the
        grid allows) or ``mode`` (too much exact work).
    """
    w, s, e, n = bounds
    nx, ny = math.ceil((e - w) / cell) + 1, math.ceil((n - s) / cell) + 1
    if nx * ny > MAX_CELLS:
        raise LimitError(f"cell_m: the surface would span {nx} x {ny} cells of {cell:g} m, "
                         f"more than {MAX_CELLS:,}; use larger cells or a smaller area",
                         parameter="cell_m")
    if bandwidth_m is None:
        return
    pad = math.ceil(bandwidth_m * (1.0 if kernel == "quartic" else _GAUSS_REACH) / cell) + 1
    if mode == "binned" and (nx + 2 * pad) * (ny + 2 * pad) > MAX_CELLS:
        raise LimitError(f"bandwidth_m: a binned surface with a {bandwidth_m:g} m bandwidth on "
                         f"{cell:g} m cells needs more than {MAX_CELLS:,} cells; use larger "
                         f"cells or a smaller bandwidth", parameter="bandwidth_m")
    if mode == "exact" and n_points * min(nx * ny, (2 * pad + 1) ** 2) > MAX_EXACT_WORK:
        raise LimitError(f"mode: an exact surface of {n_points:,} incidents with a "
                         f"{bandwidth_m:g} m bandwidth on {cell:g} m cells is too much work; "
                         f"use mode=binned or larger cells", parameter="mode")


def _likely_bandwidth(points: gpd.GeoDataFrame, crs: Any, given: float | None,
                      limits: dict[str, Any]) -> float | None:
    """The bandwidth a surface will use, for the size checks (ArcGIS's rule when not given)."""
    if given is not None:
        return given
    located = points.geometry[~(points.geometry.isna() | points.geometry.is_empty)]
    if len(located) < 2:
        return None
    xy = located.to_crs(crs)
    rule = default_bandwidth_m(xy.x.to_numpy(), xy.y.to_numpy())
    return max(rule, float(limits.get("min_bandwidth_m", 0.0))) or None


def _check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}",
                             parameter=name)
    return value


def density_surface(ctx: ServiceContext, vis: Visibility, *, period: Period | str | None,
                    kernel: str = "quartic", bandwidth_m: float | None = None,
                    cell_m: float | None = None, mode: str = "exact",
                    categories: Sequence[str] = (), selection: Selection | None = None
                    ) -> DensitySurface:
    """The kernel density surface the caller may see (cached per world).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    period
        The period (default: the year of the latest incident; a whole month, quarter or year
        for a protected caller).
    kernel
        ``quartic`` (bandwidth = support radius) or ``gaussian`` (bandwidth = σ).
    bandwidth_m
        Bandwidth in metres; by default ArcGIS's rule (:func:`geo.density.default_bandwidth_m`),
        for a protected caller at least ``api.min_kde_bandwidth_m``.
    cell_m
        Cell side in metres (default :data:`DEFAULT_CELL_M`; a protected caller's: a published
        size, default the smallest).
    mode
        ``exact`` (direct sums) or ``binned`` (FFT).
    categories
        Only these categories (a protected caller names one category group).
    selection
        Mask the surface to these communities.

    Returns
    -------
    DensitySurface

    Raises
    ------
    geo.errors.ParameterError
        An option out of range, or finer than a protected caller may ask.
    geo.errors.MissingDataError
        No incident to take a default bandwidth from.
    """
    _check_choice(kernel, "kernel", KERNELS)
    _check_choice(mode, "mode", MODES)
    p = vis.check_period(ctx.period(period))
    cats = resolve_categories(ctx, vis, categories).raw
    if vis.protected:
        cell = vis.check_cell(float(cell_m or min(vis.cell_sizes_m)))
    else:
        cell = float(cell_m if cell_m is not None else DEFAULT_CELL_M)
        if not cell >= MIN_CELL_M:
            raise ParameterError(f"cell_m must be at least {MIN_CELL_M:g} m; got {cell:g}",
                                 parameter="cell_m")
    if bandwidth_m is not None and not bandwidth_m >= MIN_CELL_M:
        raise ParameterError(f"bandwidth_m must be at least {MIN_CELL_M:g} m; got "
                             f"{bandwidth_m:g}", parameter="bandwidth_m")
    limits: dict[str, Any] = {}
    if vis.protected:
        limits = {"min_bandwidth_m": ctx.settings.api.min_kde_bandwidth_m,
                  "min_cell_m": min(vis.cell_sizes_m), "min_expected": float(vis.min_count)}
    area = _study_area(ctx, vis, selection)
    scope = None if selection is None else selection.communities

    def compute() -> DensityResult:
        crs = ctx.metric_crs()
        if vis.protected:
            points = _released_centres(ctx, vis, p, Grid(cell, crs), cats)
            study = area.to_crs(crs)
        else:
            points = _exact_incidents(ctx, vis, p, cats)
            study = area
        given = bandwidth_m
        if given is None and vis.protected and len(points) < 2:
            # Too few released counts for ArcGIS's rule: the smallest bandwidth allowed.
            given = limits["min_bandwidth_m"]
        if not len(study):
            raise MissingDataError("no community in the caller's area: a surface needs one")
        w, s, e, n = (float(v) for v in study.to_crs(crs).total_bounds)
        _check_size((w, s, e, n), cell, kernel, _likely_bandwidth(points, crs, given, limits),
                    mode, len(points))
        return kernel_density(points, study, cell_m=cell, kernel=kernel, bandwidth_m=given,
                              mode=mode, metric_crs=crs, max_cells=MAX_CELLS, **limits)

    result = ctx.cached("density", (p.label, kernel, bandwidth_m, cell, mode, cats, scope),
                        compute, vis=vis)
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "generated_at": generated_at(),
        "kernel": result.kernel, "bandwidth_m": result.bandwidth_m,
        "bandwidth_rule": result.bandwidth_rule, "mode": result.mode, "cell_m": cell,
        "metric_crs": Grid(cell, result.crs).crs_text,
        "units": {"density_per_km2": "incidents per km²", "expected": "incidents per cell"},
        "categories": list(categories), "case_definition": ctx.case_definition.as_sql_lists(),
        **({"min_bandwidth_m": limits["min_bandwidth_m"], "min_expected": limits["min_expected"]}
           if vis.protected else {}),
        "incidents": result.n_incidents, "masked_cells": result.masked_cells,
        "left_out": {"no_location": result.no_location,
                     "coarse_location": result.coarse_location},
        "notes": list(result.notes),
        "source": ("released counts of the published grid, spread from the cells' centres"
                   if vis.protected else "incident points"),
        **(selection.provenance() if selection else {}),
    })
    return DensitySurface(result, release_provenance(prov, vis=vis))


def density_report(ctx: ServiceContext, vis: Visibility, **options: Any) -> Report:
    """The surface's cells with a value, as rows (see :func:`density_surface` for options).

    Returns
    -------
    Report
        A GeoDataFrame (EPSG:4326) of the cells with a value: :data:`COLUMNS` and the cell
        square; ``density_per_km2`` in incidents per km², ``expected`` in incidents per cell.
        Masked cells and cells outside the communities are left out.
    """
    surface = density_surface(ctx, vis, **options)
    res = surface.result
    cells = res.frame.rename(columns={"cell": "cell_id"})
    grid = Grid(res.cell_m, res.crs)
    frame = gpd.GeoDataFrame(pd.DataFrame(cells[list(COLUMNS)]),
                             geometry=grid.polygons_wgs84(cells["ix"], cells["iy"]),
                             crs="EPSG:4326")
    prov = dict(surface.provenance)
    values = cells["density_per_km2"].to_numpy()
    prov["cells"] = len(cells)
    prov["max_density_per_km2"] = float(values.max()) if len(values) else None
    return Report(frame, prov, f"kernel density ({res.kernel}, {res.bandwidth_m:.0f} m), "
                               f"{res.cell_m:g} m cells",
                  f"核密度（{res.kernel}，带宽 {res.bandwidth_m:.0f} 米），{res.cell_m:g} 米网格")
