"""Emerging hot spots: a space-time cube of grid cells, Gi* per bin and ArcGIS Pro's categories.

Which places are *becoming* hot spots, rather than always were? The incidents are counted in
a space-time cube: the cells of :class:`geo.grid.Grid` that meet the study area
(:meth:`geo.grid.Grid.cells_meeting`) × whole local weeks (Monday to Sunday) or calendar
months. Then, as ArcGIS Pro's Emerging Hot Spot Analysis does:

1. every bin gets the Getis-Ord Gi* z score of its space-time neighbourhood: the cells within
   ``cell_neighbours`` rings of it (a square of ``2k + 1`` cells a side, itself included) at
   the same step and the ``time_neighbours`` steps before, binary weights, the mean and
   variance taken over the whole cube (Ord & Getis 1995, as in :mod:`geo.hotspots`)::

       z = (Σ_j w_j x_j − x̄ W) / (s √((N W − W²) / (N − 1)))

   with ``W`` the bins in the neighbourhood, ``x̄`` and ``s`` (population standard deviation)
   over all ``N`` bins;
2. the two-sided normal p values of all bins are adjusted together by Benjamini–Hochberg (the
   "FDR correction" of ArcGIS); a bin is a hot (cold) spot when its q value is at most
   ``alpha`` and its z is positive (negative);
3. each cell's series of z scores gets a Mann-Kendall trend test (:func:`mann_kendall`):
   ``τ = scipy.stats.kendalltau(t, z).statistic`` and a two-sided p from the normal
   approximation with the ties correction and no continuity correction;
4. each cell gets one category, by the definitions quoted next to the code below (ArcGIS Pro
   3.x documentation, "How Emerging Hot Spot Analysis works", Tool Reference, Space Time
   Pattern Mining toolbox). "90 percent of the time-step intervals" is read as at least 90 %.
   Where two definitions could both hold, the state of the final step decides first (a cell
   hot in the final step gets a hot category, cold a cold one), then the ≥ 90 % patterns
   (intensifying, diminishing, persistent), then oscillating, new, consecutive and sporadic,
   in that order; a cell neither hot nor cold in the final step is historical or has no pattern.

Written here rather than taken from a library: esda's ``G_Local`` is spatial only and takes
its mean and variance per map, while the cube needs them over all bins; and the categories
are ArcGIS's own definitions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from geo import spacetime as st
from geo.errors import MissingDataError, ParameterError, PeriodError
from geo.grid import Grid
from geo.period import DEFAULT_TIMEZONE, Period, parse_period
from geo.projection import metric_crs_of

__all__ = [
    "CATEGORIES",
    "MIN_STEPS",
    "STEPS",
    "CubeClasses",
    "EmergingResult",
    "MannKendall",
    "classify_cube",
    "emerging_hot_spots",
    "mann_kendall",
]

STEPS = ("week", "month")
#: Fewest time steps a cube may have (ArcGIS asks for ten).
MIN_STEPS = 10
#: Every category, hot first.
CATEGORIES = (
    "new_hot_spot", "consecutive_hot_spot", "intensifying_hot_spot", "persistent_hot_spot",
    "diminishing_hot_spot", "sporadic_hot_spot", "oscillating_hot_spot", "historical_hot_spot",
    "new_cold_spot", "consecutive_cold_spot", "intensifying_cold_spot", "persistent_cold_spot",
    "diminishing_cold_spot", "sporadic_cold_spot", "oscillating_cold_spot",
    "historical_cold_spot", "no_pattern",
)


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall trend tests of rows of values over time.

    Attributes
    ----------
    s
        The statistic S = Σ_{i<j} sign(x_j − x_i).
    var_s
        Its variance under no trend, with the ties correction.
    z
        ``S / √var_s`` (no continuity correction); 0 where the variance is 0.
    p_value
        Two-sided p value of ``z`` under the standard normal.
    tau
        Kendall's τ-b between time and the values (``scipy.stats.kendalltau``); NaN when every
        value is tied.
    """

    s: NDArray[np.float64]
    var_s: NDArray[np.float64]
    z: NDArray[np.float64]
    p_value: NDArray[np.float64]
    tau: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class CubeClasses:
    """The statistics and categories of a space-time cube of counts.

    Attributes
    ----------
    gi_z, p_values, q_values
        Each bin's Gi* z score, two-sided p value and Benjamini–Hochberg q value (cells ×
        steps).
    hot, cold
        Bins significant as hot (cold) spots: ``q <= alpha`` and ``z`` positive (negative).
    trend
        The Mann-Kendall test of each cell's z scores over time.
    categories
        Each cell's category (one of :data:`CATEGORIES`).
    """

    gi_z: NDArray[np.float64]
    p_values: NDArray[np.float64]
    q_values: NDArray[np.float64]
    hot: NDArray[np.bool_]
    cold: NDArray[np.bool_]
    trend: MannKendall
    categories: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class EmergingResult:
    """Emerging hot spots of incident counts on grid cells.

    Attributes
    ----------
    frame
        GeoDataFrame of the cube's cells in the study area's CRS, indexed by cell id
        (:func:`geo.grid.cell_ids`): ``ix``, ``iy`` (grid column and row), ``category`` (one of
        :data:`CATEGORIES`), ``trend_tau``, ``trend_z`` and ``trend_p`` (Mann-Kendall of the
        cell's z scores), ``last_z``, ``last_p`` and ``last_q`` (the final step's Gi* z, p and
        FDR-adjusted q), ``hot_steps`` and ``cold_steps`` (significant bins), ``incidents``
        (all steps) and the cell square as ``geometry``.
    counts
        Incidents per cell (rows, same index as ``frame``) and step (columns: the steps' first
        days).
    gi_z, p_values, q_values
        Each bin's Gi* z score, two-sided p value and Benjamini–Hochberg q value, shaped like
        ``counts``.
    step
        ``week`` or ``month``.
    steps
        First local day of each step; ``end`` is the day after the last one.
    end
        Day after the last step.
    cell_m
        Cell side in metres.
    metric_crs
        The grid's CRS.
    cell_neighbours, time_neighbours
        The space-time neighbourhood: rings of cells, and earlier steps.
    alpha
        Significance level of the bins' q values and of the trend test.
    timezone
        Time zone of the local days.
    n_incidents
        Incidents counted in the cube.
    no_location, coarse_location, no_time, outside_cells, outside_steps
        Incidents left out: without a point, for location precision, without a time, in no cell
        of the cube, outside the steps.
    notes
        Method and provenance notes.
    """

    frame: gpd.GeoDataFrame
    counts: pd.DataFrame
    gi_z: pd.DataFrame
    p_values: pd.DataFrame
    q_values: pd.DataFrame
    step: str
    steps: tuple[dt.date, ...]
    end: dt.date
    cell_m: float
    metric_crs: pyproj.CRS
    cell_neighbours: int
    time_neighbours: int
    alpha: float
    timezone: str
    n_incidents: int
    no_location: int
    coarse_location: int
    no_time: int
    outside_cells: int
    outside_steps: int
    notes: tuple[str, ...]

    @property
    def bins(self) -> pd.DataFrame:
        """The bins in long form, one row each.

        Columns ``cell``, ``step``, ``count``, ``gi_z``, ``p_value``, ``q_value`` and ``bin``
        (``hot``, ``cold`` or empty).
        """
        long = pd.DataFrame({
            "cell": np.repeat(self.counts.index.to_numpy(), len(self.steps)),
            "step": np.tile(np.array(self.steps, dtype=object), len(self.counts)),
            "count": self.counts.to_numpy().ravel(),
            "gi_z": self.gi_z.to_numpy().ravel(),
            "p_value": self.p_values.to_numpy().ravel(),
            "q_value": self.q_values.to_numpy().ravel(),
        })
        significant = long["q_value"] <= self.alpha
        long["bin"] = np.where(significant & (long["gi_z"] > 0), "hot",
                               np.where(significant & (long["gi_z"] < 0), "cold", ""))
        return long


def emerging_hot_spots(
    incidents: gpd.GeoDataFrame,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    cell_m: float = 250.0,
    step: str = "week",
    period: Period | str | None = None,
    cell_neighbours: int = 1,
    time_neighbours: int = 1,
    alpha: float = 0.05,
    metric_crs: Any = None,
    timezone: str = DEFAULT_TIMEZONE,
    exclude_precisions: Sequence[str] = ("centroid",),
) -> EmergingResult:
    """Find emerging hot and cold spots of incidents in a space-time cube of grid cells.

    Parameters
    ----------
    incidents
        Incident points with ``occurred_at`` (the frame of :mod:`geo.layers`), filtered by the
        caller (category, place).
    study_area
        Polygons (communities, a jurisdiction): the cube holds the grid cells meeting their
        union. Same CRS as ``incidents``.
    cell_m
        Cell side in metres (the grid of :class:`geo.grid.Grid`).
    step
        ``week`` (Monday to Sunday, local days) or ``month``.
    period
        The time span (a :class:`geo.period.Period` or its text, ``2025`` or
        ``2024-01-01..2025-06-30``): the cube holds the whole steps inside it. By default the
        steps from the one holding the earliest incident to the one holding the latest.
    cell_neighbours
        Rings of cells around a cell in its neighbourhood (1: the 3 × 3 square).
    time_neighbours
        Earlier steps in a bin's neighbourhood (1: the step itself and the one before).
    alpha
        Significance of the bins' FDR-adjusted q values and of the trend test.
    metric_crs
        Projected CRS in metres of the grid; by default that of the study area.
    timezone
        IANA time zone of the local days.
    exclude_precisions
        Location precisions left out (by default ``centroid``).

    Returns
    -------
    EmergingResult

    Raises
    ------
    geo.errors.InputError
        If an input is not a GeoDataFrame (or GeoSeries) with a CRS, the CRSs differ, an
        incident is not a point, or ``occurred_at`` is missing.
    geo.errors.ParameterError
        If an option is out of range, or the cube would have fewer than :data:`MIN_STEPS`
        steps.
    geo.errors.PeriodError
        If ``period`` is not a period.
    geo.errors.MissingDataError
        If the study area covers no cell, no incident has a time (without ``period``), or every
        bin holds the same count (Gi* is then undefined).
    """
    st.check_frame(incidents, "incidents", ["occurred_at"])
    area = st.check_study_area(incidents, study_area)
    cell = st.check_number(cell_m, "cell_m", minimum=0.0, exclusive=True)
    st.check_choice(step, "step", STEPS)
    cell_neighbours = st.check_int(cell_neighbours, "cell_neighbours", minimum=0, maximum=20)
    time_neighbours = st.check_int(time_neighbours, "time_neighbours", minimum=0)
    alpha = st.check_number(alpha, "alpha", minimum=0.0, exclusive=True, maximum=1.0)
    st.check_timezone(timezone)
    crs = metric_crs_of(area, metric_crs=metric_crs)
    grid = Grid(cell, crs)
    ix, iy = grid.cells_meeting(shapely.union_all(area.to_crs(crs).geometry.to_numpy()))
    if not len(ix):
        raise MissingDataError("the study area covers no grid cell: it has no area")
    points = st.located_points(incidents, crs, st.check_precisions(exclude_precisions))
    days = st.local_days(incidents["occurred_at"].iloc[points.positions], timezone)
    timed = days != st.MISSING_DAY
    starts, end = _steps(days[timed], step, _period(period))
    cube, counted = _count_cube(grid, ix, iy, points.x[timed], points.y[timed], days[timed],
                                starts, end, step)
    classes = classify_cube(cube, ix, iy, cell_neighbours=cell_neighbours,
                            time_neighbours=time_neighbours, alpha=alpha)
    z, p, q, trend = classes.gi_z, classes.p_values, classes.q_values, classes.trend
    ids = pd.Index(grid.ids(ix, iy), name="cell")
    step_days = [st.date_of_day(d) for d in starts]
    frame = gpd.GeoDataFrame(
        {"ix": ix, "iy": iy, "category": pd.array(list(classes.categories), dtype="string"),
         "trend_tau": trend.tau, "trend_z": trend.z, "trend_p": trend.p_value,
         "last_z": z[:, -1], "last_p": p[:, -1], "last_q": q[:, -1],
         "hot_steps": classes.hot.sum(axis=1), "cold_steps": classes.cold.sum(axis=1),
         "incidents": cube.sum(axis=1).astype(np.int64)},
        geometry=grid.boxes(ix, iy), index=ids, crs=crs).to_crs(area.crs)

    def wide(values: NDArray[Any]) -> pd.DataFrame:
        return pd.DataFrame(values, index=ids, columns=pd.Index(step_days, name="step"))

    n_in = int(counted.sum())
    left = _left_out(points, timed, counted, days, starts, end)
    notes = (
        f"{len(ix)} cells of {cell:g} m in {crs.to_string()} x {len(starts)} {step}s from "
        f"{step_days[0]} to {st.date_of_day(end - 1)} ({timezone}); neighbourhood "
        f"{2 * cell_neighbours + 1} x {2 * cell_neighbours + 1} cells x {time_neighbours + 1} "
        f"step(s); Gi* over the whole cube, Benjamini-Hochberg q <= {alpha:g}; Mann-Kendall "
        f"p <= {alpha:g}; categories of ArcGIS Pro 3.x",
        f"{n_in} incidents in the cube; left out: {points.no_location} without a point, "
        f"{points.coarse_location} for location precision, {left['no_time']} without a time, "
        f"{left['outside_cells']} outside the cells, {left['outside_steps']} outside the steps",
    )
    return EmergingResult(
        frame=frame, counts=wide(cube.astype(np.int64)), gi_z=wide(z), p_values=wide(p),
        q_values=wide(q), step=step, steps=tuple(step_days), end=st.date_of_day(end),
        cell_m=cell, metric_crs=crs, cell_neighbours=cell_neighbours,
        time_neighbours=time_neighbours, alpha=alpha, timezone=timezone, n_incidents=n_in,
        no_location=points.no_location, coarse_location=points.coarse_location,
        no_time=left["no_time"], outside_cells=left["outside_cells"],
        outside_steps=left["outside_steps"], notes=notes)


def classify_cube(cube: ArrayLike, ix: ArrayLike, iy: ArrayLike, *, cell_neighbours: int = 1,
                  time_neighbours: int = 1, alpha: float = 0.05) -> CubeClasses:
    """Gi* per bin, FDR, Mann-Kendall trends and ArcGIS's categories of a cube of counts.

    The steps of :func:`emerging_hot_spots` after the counting, for a cube counted elsewhere
    (the released counts of a protected caller, for instance).

    Parameters
    ----------
    cube
        Counts (or released values), one row per cell and one column per step, oldest first.
    ix, iy
        Grid column and row of each cell (:class:`geo.grid.Grid`): they define the rings of
        neighbours.
    cell_neighbours, time_neighbours, alpha
        As for :func:`emerging_hot_spots`.

    Returns
    -------
    CubeClasses

    Raises
    ------
    geo.errors.ParameterError
        If an option is out of range, the shapes disagree, or the cube has fewer than
        :data:`MIN_STEPS` steps (naming ``period``).
    geo.errors.MissingDataError
        If every bin holds the same count.
    """
    values = np.asarray(cube, dtype=np.float64)
    cx = np.asarray(ix, dtype=np.int64)
    cy = np.asarray(iy, dtype=np.int64)
    if values.ndim != 2 or values.shape[0] != len(cx) or cx.shape != cy.shape:
        raise ParameterError(f"cube must have one row per cell ({len(cx)}) and one column per "
                             f"step; got shape {values.shape}", parameter="cube")
    if values.shape[1] < MIN_STEPS:
        raise ParameterError(f"emerging hot spots need at least {MIN_STEPS} steps; the cube "
                             f"has {values.shape[1]}", parameter="period")
    if not len(cx):
        raise MissingDataError("the cube has no cell")
    rings = st.check_int(cell_neighbours, "cell_neighbours", minimum=0, maximum=20)
    lags = st.check_int(time_neighbours, "time_neighbours", minimum=0)
    alpha = st.check_number(alpha, "alpha", minimum=0.0, exclusive=True, maximum=1.0)
    z = _gi_star_cube(values, cx, cy, rings, lags)
    p = 2.0 * norm.sf(np.abs(z))
    q = st.bh_q_values(p.ravel()).reshape(p.shape)
    hot = (q <= alpha) & (z > 0)
    cold = (q <= alpha) & (z < 0)
    trend = mann_kendall(z)
    categories = _categories(hot, cold, trend.tau, trend.p_value, alpha)
    return CubeClasses(gi_z=z, p_values=p, q_values=q, hot=hot, cold=cold, trend=trend,
                       categories=tuple(categories))


def mann_kendall(values: ArrayLike) -> MannKendall:
    """Mann-Kendall trend test of each row of ``values`` (time along the row).

    Parameters
    ----------
    values
        A series or a 2-D array, one series per row, equally spaced in time.

    Returns
    -------
    MannKendall
        Arrays with one entry per row (NaN for rows holding a NaN).

    Raises
    ------
    geo.errors.ParameterError
        If the series have fewer than three values.
    """
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    rows, n = v.shape
    if n < 3:
        raise ParameterError(f"a Mann-Kendall test needs at least three values; got {n}",
                             parameter="values")
    s = np.zeros(rows)
    for lag in range(1, n):
        s += np.sign(v[:, lag:] - v[:, :-lag]).sum(axis=1)
    ordered = np.sort(v, axis=1)
    starts = np.ones((rows, n), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    groups = np.cumsum(starts, axis=1) - 1 + (np.arange(rows) * n)[:, None]
    ties = np.bincount(groups.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)
    var_s = (n * (n - 1) * (2 * n + 5) - (ties * (ties - 1) * (2 * ties + 5)).sum(axis=1)) / 18
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var_s > 0, s / np.sqrt(var_s), 0.0)
        pairs = n * (n - 1) / 2
        untied = pairs - (ties * (ties - 1) / 2).sum(axis=1)
        tau = np.where(untied > 0, s / np.sqrt(pairs * untied), np.nan)
    p = 2.0 * norm.sf(np.abs(z))
    bad = np.isnan(v).any(axis=1)
    for arr in (s, var_s, z, p, tau):
        arr[bad] = np.nan
    return MannKendall(s=s, var_s=var_s, z=z, p_value=p, tau=tau)


def _period(period: Period | str | None) -> Period | None:
    if period is None:
        return None
    try:
        return parse_period(period)
    except ValueError as exc:
        raise PeriodError(str(exc), parameter="period") from None


def _step_of(days: NDArray[np.int64], step: str) -> NDArray[np.int64]:
    """First day (day number) of the week (Monday) or month holding each day."""
    if step == "week":
        return days - (days + 3) % 7  # 1970-01-01, day 0, was a Thursday
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def _next_step(day: int, step: str) -> int:
    if step == "week":
        return day + 7
    month = np.datetime64(int(day), "D").astype("datetime64[M]") + 1
    return int(month.astype("datetime64[D]").astype(np.int64))


def _steps(days: NDArray[np.int64], step: str, period: Period | None
           ) -> tuple[NDArray[np.int64], int]:
    """The steps' first days and the day after the last step."""
    if period is not None:
        first_day, stop = st.day_of_date(period.start), st.day_of_date(period.end)
        first = int(_step_of(np.array([first_day]), step)[0])
        if first < first_day:
            first = _next_step(first, step)
        what = f"the period {period.label}"
    else:
        if not len(days):
            raise MissingDataError("no incident with a point and a time to span the cube; "
                                   "give a period")
        first = int(_step_of(np.array([days.min()]), step)[0])
        stop = _next_step(int(_step_of(np.array([days.max()]), step)[0]), step)
        what = "the incidents' time span"
    starts = []
    day = first
    while _next_step(day, step) <= stop:
        starts.append(day)
        day = _next_step(day, step)
    if len(starts) < MIN_STEPS:
        raise ParameterError(f"emerging hot spots need at least {MIN_STEPS} whole {step}s; "
                             f"{what} holds {len(starts)}", parameter="period")
    return np.array(starts, dtype=np.int64), _next_step(starts[-1], step)


def _count_cube(grid: Grid, ix: NDArray[np.int64], iy: NDArray[np.int64],
                x: NDArray[np.float64], y: NDArray[np.float64], days: NDArray[np.int64],
                starts: NDArray[np.int64], end: int, step: str
                ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Counts per (cube cell, step) and which incidents were counted."""
    px, py = grid.bin_xy(x, y)
    cell = _lookup(ix, iy, px, py)
    t = np.searchsorted(starts, _step_of(days, step))
    in_time = (days >= starts[0]) & (days < end)
    counted = (cell >= 0) & in_time
    cube = np.zeros((len(ix), len(starts)))
    np.add.at(cube, (cell[counted], t[counted]), 1.0)
    return cube, counted


def _lookup(ix: NDArray[np.int64], iy: NDArray[np.int64], qx: NDArray[np.int64],
            qy: NDArray[np.int64]) -> NDArray[np.int64]:
    """Position of each cell (qx, qy) among the cells (ix, iy), or −1."""
    if not len(qx):
        return np.empty(0, dtype=np.int64)
    low = int(min(iy.min(), qy.min()))
    span = int(max(iy.max(), qy.max())) - low + 1
    keys = ix * span + (iy - low)
    order = np.argsort(keys)
    wanted = qx * span + (qy - low)
    pos = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
    return np.where(keys[order][pos] == wanted, order[pos], -1)


def _gi_star_cube(cube: NDArray[np.float64], ix: NDArray[np.int64], iy: NDArray[np.int64],
                  rings: int, lags: int) -> NDArray[np.float64]:
    """Gi* z of every bin over its space-time neighbourhood; mean and variance over the cube."""
    n_cells, n_steps = cube.shape
    rows, cols = [], []
    for dx in range(-rings, rings + 1):
        for dy in range(-rings, rings + 1):
            other = _lookup(ix, iy, ix + dx, iy + dy)
            ok = other >= 0
            rows.append(np.flatnonzero(ok))
            cols.append(other[ok])
    r = np.concatenate(rows)
    space = sp.csr_matrix((np.ones(len(r)), (r, np.concatenate(cols))),
                          shape=(n_cells, n_cells))
    t = np.arange(n_steps)
    time = ((t[:, None] - t[None, :] >= 0) & (t[:, None] - t[None, :] <= lags)).astype(float)
    local = np.asarray(space @ cube) @ time.T
    weights = np.asarray(space.sum(axis=1)).ravel()[:, None] * time.sum(axis=1)[None, :]
    n = cube.size
    mean = cube.mean()
    sd = float(np.sqrt(max((cube * cube).mean() - mean * mean, 0.0)))
    if sd == 0.0 or n < 2:
        raise MissingDataError("every bin of the cube holds the same count "
                               f"({mean:g}): Gi* is undefined; widen the period or the area")
    spread = n * weights - weights * weights
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (local - mean * weights) / (sd * np.sqrt(spread / (n - 1)))
    return np.where(spread > 0, z, np.nan)


def _left_out(points: st.LocatedPoints, timed: NDArray[np.bool_], counted: NDArray[np.bool_],
              days: NDArray[np.int64], starts: NDArray[np.int64], end: int) -> dict[str, int]:
    d = days[timed]
    in_time = (d >= starts[0]) & (d < end)
    return {"no_time": int((~timed).sum()),
            "outside_steps": int((~in_time).sum()),
            "outside_cells": int((in_time & ~counted).sum())}


def _categories(hot: NDArray[np.bool_], cold: NDArray[np.bool_], tau: NDArray[np.float64],
                trend_p: NDArray[np.float64], alpha: float) -> list[str]:
    out = []
    for h, c, t, p in zip(hot, cold, tau, trend_p, strict=True):
        trend = 0 if not (p <= alpha) else (1 if t > 0 else -1)
        if h[-1]:
            out.append(_final_state(h, c, trend, "hot"))
        elif c[-1]:
            out.append(_final_state(c, h, -trend, "cold"))
        else:
            out.append(_historical(h, c))
    return out


def _at_least_90(bins: NDArray[np.bool_]) -> bool:
    return 10 * int(bins.sum()) >= 9 * len(bins)


def _final_state(same: NDArray[np.bool_], other: NDArray[np.bool_], trend: int,
                 kind: str) -> str:
    """Category of a cell significant (``kind``) in the final step.

    ``same`` holds the steps significant of that kind, ``other`` those of the opposite kind,
    and ``trend`` is +1 when the clustering intensifies (z rising for hot, falling for cold),
    −1 when it diminishes, 0 without a significant trend.
    """
    if _at_least_90(same):
        if trend > 0:
            # "A location that has been a statistically significant hot spot for 90 percent of
            # the time-step intervals, including the final time step. In addition, the
            # intensity of clustering of high counts in each time step is increasing overall
            # and that increase is statistically significant." (Intensifying Hot Spot; cold:
            # "... clustering of low counts ... increasing ...")
            return f"intensifying_{kind}_spot"
        if trend < 0:
            # "A location that has been a statistically significant hot spot for 90 percent of
            # the time-step intervals, including the final time step. In addition, the
            # intensity of clustering in each time step is decreasing overall and that
            # decrease is statistically significant." (Diminishing Hot Spot)
            return f"diminishing_{kind}_spot"
        # "A location that has been a statistically significant hot spot for 90 percent of the
        # time-step intervals with no discernible trend in the intensity of clustering over
        # time." (Persistent Hot Spot)
        return f"persistent_{kind}_spot"
    if other[:-1].any():
        # "A statistically significant hot spot for the final time-step interval that has a
        # history of also being a statistically significant cold spot during a prior time
        # step. Less than 90 percent of the time-step intervals have been statistically
        # significant hot spots." (Oscillating Hot Spot)
        return f"oscillating_{kind}_spot"
    if int(same.sum()) == 1:
        # "A location that is a statistically significant hot spot for the final time step and
        # has never been a statistically significant hot spot before." (New Hot Spot)
        return f"new_{kind}_spot"
    run = len(same) - int(np.flatnonzero(~same).max(initial=-1)) - 1
    if run >= 2 and run == int(same.sum()):
        # "A location with a single uninterrupted run of at least two statistically significant
        # hot spot bins in the final time-step intervals. The location has never been a
        # statistically significant hot spot prior to the final hot spot run and less than 90
        # percent of all bins are statistically significant hot spots." (Consecutive Hot Spot)
        return f"consecutive_{kind}_spot"
    # "A statistically significant hot spot for the final time-step interval with a history of
    # also being an on-again and off-again hot spot. Less than 90 percent of the time-step
    # intervals have been statistically significant hot spots and none of the time-step
    # intervals have been statistically significant cold spots." (Sporadic Hot Spot)
    return f"sporadic_{kind}_spot"


def _historical(hot: NDArray[np.bool_], cold: NDArray[np.bool_]) -> str:
    """Category of a cell neither hot nor cold in the final step."""
    if _at_least_90(hot):
        # "The most recent time period is not hot, but at least 90 percent of the time-step
        # intervals have been statistically significant hot spots." (Historical Hot Spot)
        return "historical_hot_spot"
    if _at_least_90(cold):
        return "historical_cold_spot"
    # "Does not fall into any of the hot or cold spot patterns defined below." (No Pattern
    # Detected)
    return "no_pattern"
