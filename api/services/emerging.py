"""Emerging hot spots over stored incidents, as each caller may see them.

The space-time cube is the one grid (:class:`geo.grid.Grid`, the cells meeting the caller's
communities) × whole weeks or months of the period; :mod:`geo.emerging` does the statistics.

- An exact caller (admin; a liaison inside their world) gets the analysis of the incidents of
  their world: per cell its category, the Mann-Kendall τ of its z scores and the test's p, the
  final step's Gi* z and p, and the count of every step.
- A protected caller (planner, client) gets the category of each cell of the published grid,
  and nothing else. Their cube is made of released counts: every cell-month is counted over
  every community and released by the cell-key method (:func:`geo.release.release_counts`,
  a hidden count entering as 1), exactly as ``/aggregates/grid`` releases it for that month;
  the statistics run on those values. Steps are months (a week is not a released unit), and a
  cell whose count over the whole period is hidden shows ``"<3"`` instead of a category.

A selection (district, subdistrict, communities, bbox) keeps the cells whose centre lies in it;
the cube itself always covers the caller's whole world, so a cell's category never depends on
what else was asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.release import Selection, Visibility, release_provenance
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.aggregates import cells_in, grid_cell_counts, study_cells
from api.services.categories import resolve_categories
from api.services.units import world_communities
from geo.emerging import MIN_STEPS, STEPS, EmergingResult, classify_cube, emerging_hot_spots
from geo.errors import LimitError, ParameterError
from geo.grid import Grid
from geo.period import Period, parse_period
from geo.release import hidden_label, release_counts

__all__ = ["EXACT_COLUMNS", "PROTECTED_COLUMNS", "emerging_report", "emerging_result",
           "month_periods", "step_label"]

#: Columns of an exact caller's rows, before the counts per step (``count_<step>``).
EXACT_COLUMNS = ("cell_id", "ix", "iy", "category", "trend_tau", "trend_p", "last_z", "last_p",
                 "hot_steps", "cold_steps", "incidents")
#: Everything a protected caller receives of a cell (and its square).
PROTECTED_COLUMNS = ("cell_id", "ix", "iy", "category")
#: Prefix of the columns holding the count of each step.
COUNT_PREFIX = "count_"

_DEFAULT_ALPHA = 0.05
#: Most time steps of a cube (ten years of weeks), and most bins (cells × steps): the
#: space-time neighbourhoods are sums over dense step × step matrices.
MAX_STEPS = 520
MAX_BINS = 2_000_000


def step_label(day: dt.date, step: str) -> str:
    """The label of the step starting on ``day``: ``2025-07`` (month) or ``2025-W27`` (week)."""
    if step == "month":
        return f"{day.year:04d}-{day.month:02d}"
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def month_periods(period: Period) -> list[Period]:
    """The whole calendar months inside a period, in order."""
    out = []
    y, m = period.start.year, period.start.month
    while True:
        month = parse_period(f"{y:04d}-{m:02d}")
        if month.end > period.end:
            break
        if month.start >= period.start:
            out.append(month)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _check_options(step: str, cell_neighbours: int, time_neighbours: int) -> None:
    if step not in STEPS:
        raise ParameterError(f"step must be one of {', '.join(STEPS)}; got {step!r}",
                             parameter="step")
    if not 0 <= cell_neighbours <= 5:
        raise ParameterError(f"cell_neighbours must be between 0 and 5 rings; got "
                             f"{cell_neighbours}", parameter="cell_neighbours")
    if not 0 <= time_neighbours <= 12:
        raise ParameterError(f"time_neighbours must be between 0 and 12 steps; got "
                             f"{time_neighbours}", parameter="time_neighbours")


def _check_size(ctx: ServiceContext, vis: Visibility, period: Period, step: str,
                cell_m: float) -> None:
    """Refuse cubes too large to serve before reading anything.

    Raises
    ------
    geo.errors.LimitError
        Naming ``period`` (too many steps) or ``cell_m`` (too many bins).
    """
    steps = period.days // 7 if step == "week" else len(month_periods(period))
    if steps > MAX_STEPS:
        raise LimitError(f"period: {period.label} holds {steps} {step}s, more than "
                         f"{MAX_STEPS}; ask for a shorter period or longer steps",
                         parameter="period")
    cells = len(study_cells(ctx, vis, cell_m)[0])
    if cells * steps > MAX_BINS:
        raise LimitError(f"cell_m: {cells:,} cells x {steps} {step}s is more than {MAX_BINS:,} "
                         f"bins; use larger cells or a shorter period", parameter="cell_m")


def emerging_result(ctx: ServiceContext, vis: Visibility, *, period: Period, step: str,
                    cell_m: float, cell_neighbours: int, time_neighbours: int,
                    categories: tuple[str, ...]) -> EmergingResult:
    """The exact analysis of the incidents of an exact caller's world (cached).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller; must be exact.
    period, step, cell_m, cell_neighbours, time_neighbours, categories
        As for :func:`emerging_report` (already checked).

    Returns
    -------
    geo.emerging.EmergingResult
    """
    if vis.protected:
        raise PermissionError("emerging_result computes from exact counts; a protected "
                              "caller's cube is released first")

    def compute() -> EmergingResult:
        comms = world_communities(ctx, vis)
        query = store.IncidentQuery(period=period, timezone=ctx.timezone, categories=categories,
                                    communities=vis.community_filter(),
                                    case_definition=ctx.case_definition)
        with ctx.engine.connect() as conn:
            incidents = store.read_incidents(conn, query)
        return emerging_hot_spots(incidents, comms, cell_m=cell_m, step=step, period=period,
                                  cell_neighbours=cell_neighbours,
                                  time_neighbours=time_neighbours, alpha=_DEFAULT_ALPHA,
                                  metric_crs=ctx.metric_crs(), timezone=ctx.timezone)

    return ctx.cached("emerging", (period.label, step, cell_m, cell_neighbours,
                                   time_neighbours, categories), compute, vis=vis)


def _exact_frame(result: EmergingResult, grid: Grid) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(result.frame.drop(columns="geometry")).reset_index()
    frame = frame.rename(columns={"cell": "cell_id"})
    frame["category"] = frame["category"].astype(object)
    counts = pd.DataFrame(result.counts.to_numpy(), columns=[
        COUNT_PREFIX + step_label(day, result.step) for day in result.steps])
    out = pd.concat([frame[list(EXACT_COLUMNS)], counts], axis=1)
    return gpd.GeoDataFrame(out, geometry=grid.polygons_wgs84(out["ix"], out["iy"]),
                            crs="EPSG:4326")


def _released_frame(ctx: ServiceContext, vis: Visibility, p: Period, grid: Grid,
                    cell_neighbours: int, time_neighbours: int,
                    categories: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Categories from a cube of released cell-month counts (cached per world)."""
    def compute() -> gpd.GeoDataFrame:
        months = month_periods(p)
        if len(months) < MIN_STEPS:
            raise ParameterError(f"emerging hot spots need at least {MIN_STEPS} whole months; "
                                 f"the period {p.label} holds {len(months)}; ask for a year",
                                 parameter="period")
        scope = tuple(world_communities(ctx, vis)["code"])

        def released(q: Period) -> tuple[pd.DataFrame, Any]:
            cells, _ = grid_cell_counts(ctx, vis, grid, period=q, categories=categories,
                                        definition=ctx.case_definition, scope=scope)
            return cells, release_counts(cells["count"].to_numpy(dtype=np.int64),
                                         cells["key_sum"].to_numpy(dtype=np.int64),
                                         min_count=vis.min_count)

        cube = np.column_stack([released(m)[1].value for m in months])
        cells, whole = released(p)
        ix = cells["ix"].to_numpy(dtype=np.int64)
        iy = cells["iy"].to_numpy(dtype=np.int64)
        classes = classify_cube(cube, ix, iy, cell_neighbours=cell_neighbours,
                                time_neighbours=time_neighbours, alpha=_DEFAULT_ALPHA)
        category = np.array(classes.categories, dtype=object)
        category[whole.hidden] = hidden_label(vis.min_count)
        frame = pd.DataFrame({"cell_id": grid.ids(ix, iy), "ix": ix, "iy": iy,
                              "category": category})
        return gpd.GeoDataFrame(frame, geometry=grid.polygons_wgs84(ix, iy), crs="EPSG:4326")

    return ctx.cached("emerging.released", (p.label, grid.cell_m, cell_neighbours,
                                            time_neighbours, categories), compute, vis=vis)


def emerging_report(ctx: ServiceContext, vis: Visibility, *, period: Period | str | None,
                    step: str = "month", cell_m: float | None = None, cell_neighbours: int = 1,
                    time_neighbours: int = 1, categories: Sequence[str] = (),
                    selection: Selection | None = None) -> Report:
    """Emerging hot spots of the grid cells of the caller's world.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    period
        The time span of the cube (default: the year of the latest incident); it must hold at
        least ten whole steps. A protected caller's is a whole year (months, quarters and
        years are their periods; only a year holds ten months).
    step
        ``month`` or ``week`` (Monday to Sunday; not for a protected caller).
    cell_m
        Grid cell in metres (default the ``geo.grid_cell_m`` setting, 250); a published size
        for a protected caller.
    cell_neighbours
        Rings of neighbouring cells in a bin's neighbourhood (0–5; 1: the 3 × 3 square).
    time_neighbours
        Earlier steps in a bin's neighbourhood (0–12).
    categories
        Only these categories (a protected caller names one category group).
    selection
        Keep the cells whose centre lies in these communities.

    Returns
    -------
    Report
        A GeoDataFrame (EPSG:4326) of cells. Exact callers: :data:`EXACT_COLUMNS` and
        ``count_<step>`` per step (``count_2025-07``, ``count_2025-W27``). Protected callers:
        :data:`PROTECTED_COLUMNS` only, ``category`` ``"<3"`` where the cell's count over the
        period is hidden.

    Raises
    ------
    geo.errors.ParameterError
        An option out of range, a week step for a protected caller, or fewer than ten steps
        (naming ``period``).
    geo.errors.MissingDataError
        If every bin of the cube holds the same count.
    """
    _check_options(step, cell_neighbours, time_neighbours)
    p = vis.check_period(ctx.period(period))
    cats = resolve_categories(ctx, vis, categories).raw
    cell = vis.check_cell(float(cell_m or ctx.settings.geo.grid_cell_m))
    grid = Grid(cell, ctx.metric_crs())
    _check_size(ctx, vis, p, step, cell)
    prov = period_provenance(p, ctx.timezone)
    if vis.protected:
        if step != "month":
            raise ParameterError(f"step: a {vis.role} key sees whole months; step must be "
                                 f"month, got {step!r}", parameter="step")
        frame = _released_frame(ctx, vis, p, grid, cell_neighbours, time_neighbours, cats)
        steps = [m.label for m in month_periods(p)]
    else:
        result = emerging_result(ctx, vis, period=p, step=step, cell_m=cell,
                                 cell_neighbours=cell_neighbours,
                                 time_neighbours=time_neighbours, categories=cats)
        frame = _exact_frame(result, grid)
        steps = [step_label(d, step) for d in result.steps]
        prov.update({"left_out": {"no_location": result.no_location,
                                  "coarse_location": result.coarse_location,
                                  "outside_cells": result.outside_cells,
                                  "outside_steps": result.outside_steps},
                     "incidents": result.n_incidents, "notes": list(result.notes)})
    if selection is not None and selection.communities is not None:
        frame = cells_in(frame, world_communities(ctx, vis), selection.communities)
    prov.update({
        "data_version": ctx.data_version(), "generated_at": generated_at(),
        "metric_crs": grid.crs_text, "cell_m": cell, "step": step, "steps": steps,
        "cell_neighbours": cell_neighbours, "time_neighbours": time_neighbours,
        "alpha": _DEFAULT_ALPHA, "fdr": True, "categories": list(categories),
        "case_definition": ctx.case_definition.as_sql_lists(),
        "method": "ArcGIS Pro 3.x Emerging Hot Spot Analysis (Gi* per bin, FDR, Mann-Kendall)",
        **(selection.provenance() if selection else {}),
    })
    return Report(frame, release_provenance(prov, vis=vis),
                  f"emerging hot spots, {cell:g} m cells x {step}s, {p.label}",
                  f"时空热点，{cell:g} 米网格 × {'月' if step == 'month' else '周'}，{p.label}")
