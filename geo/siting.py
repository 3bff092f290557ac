"""Where would the next facility help most: maximal covering location.

:func:`plan_sites` chooses ``k`` new sites among candidates to cover the most residents not yet
within ``radius_m`` of an existing facility, with spopt's maximal covering location problem
(``spopt.locate.MCLP``, solved by the CBC solver bundled with PuLP). :func:`candidate_sites`
generates candidates (compound centroids and a regular grid inside the communities) and
:func:`plan_facility_sites` runs the whole chain for one facility type, with the demand points
of :func:`geo.population.place_population`.

How existing facilities are kept
--------------------------------
Demand already within ``radius_m`` of an existing facility is removed from the model (rather than
forcing the existing sites into the solution): the model then only sees residents nobody
serves, and every one of the ``k`` sites is new. Both formulations have the same optimum.

Keeping the model small
-----------------------
spopt builds one PuLP constraint per demand row over every candidate, so the model grows with
rows × candidates. Three exact reductions come first:

1. candidates that reach no uncovered resident are dropped (they cannot add coverage);
2. uncovered demand points that no kept candidate reaches are left out of the model (nothing
   can cover them; they stay in the before/after figures);
3. demand points reached by the same set of candidates are merged into one row with their
   summed residents (the optimum does not change; sets are compared by a 128-bit fingerprint,
   see ``_merge_rows``).

Then, if more than ``max_candidates`` candidates remain, the ``max_candidates`` that alone reach
the most uncovered residents are kept (ties in input order). If the merged matrix still has more
than ``max_matrix_cells`` cells, fewer of those strongest candidates are kept until it fits
(spopt writes one PuLP term per matrix cell, about 10 µs each: 2,000,000 cells take some 20 s to
build). The plan's ``notes`` say how many were dropped and why. These caps can miss the optimum
when many weak candidates combine well; coarser demand points or candidates avoid them.

Candidate–demand pairs within the radius are found by KD-tree searches in bounded chunks, so
memory does not grow with the radius. Their number is counted first: a plan with more than
``MAX_PAIRS`` (100 million, some tens of seconds of work) is refused with a ValueError that
says so, rather than left to run for minutes.

Distances are straight lines in a metric CRS (see :mod:`geo.coverage` for its accuracy).

:func:`plan_sites` runs in steps, one function each: check the inputs (``_check_plan``), take
out the demand existing facilities cover (``_open_demand``), find what each candidate reaches
(``_reach``), shrink the model (``_shrink``), solve it (``_solve``) and summarise the plan
(``_summarise``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from geo import arrays
from geo.assign import assign_to_communities
from geo.candidates import candidate_sites
from geo.checks import (
    POINT,
    check_communities,
    check_detour_factor,
    check_frame,
    check_geometry_types,
    check_positive,
    check_same_crs,
)
from geo.coverage import covered_residents, service_radius
from geo.errors import LimitError, ParameterError
from geo.inventory import facilities_of_type
from geo.mclp import solve_mclp
from geo.nearest import nearest
from geo.period import Period, parse_period
from geo.population import PERSONS_PER_HOUSEHOLD, place_population
from geo.projection import choose_metric_crs

#: Most candidate–demand pairs within the radius a plan may walk (a larger radius or more
#: candidates is refused with a ValueError that says so).
MAX_PAIRS = 100_000_000
#: Pairs per KD-tree search chunk (bounds memory: 24 bytes a pair while a chunk is held).
PAIRS_PER_CHUNK = 2_000_000

__all__ = [
    "SitePlan",
    "candidate_sites",
    "placed_sites",
    "plan_facility_sites",
    "plan_sites",
]


@dataclass(frozen=True)
class SitePlan:
    """New sites chosen by maximal covering location, and what they change.

    Attributes
    ----------
    sites
        GeoDataFrame in EPSG:4326, one row per chosen site, most newly covered residents first:
        ``candidate_id``, ``population_reached`` (residents uncovered before within the radius
        of this site; overlapping sites both count them) and ``population_newly_covered``
        (those residents given to the nearest chosen site, so the column sums to the total
        newly covered), plus the candidate's ``source`` and ``code`` columns when it had them.
    population_total
        Residents of all demand points.
    population_covered_before, population_covered_after
        Residents within the radius of an existing facility; of an existing or chosen one.
    coverage_before, coverage_after
        The same as shares of ``population_total`` (NaN without residents).
    k_requested, k_used
        Sites asked for; sites the model placed (fewer when fewer candidates reach anyone).
    radius_m
        Straight-line coverage radius used.
    solver_status, solution_status
        PuLP's status names (``pulp.LpStatus``, ``pulp.LpSolution``), e.g. ``Optimal`` /
        ``Optimal Solution Found``, or ``Solution Found`` when CBC stopped at the time limit
        with a feasible plan; ``not run`` when there was nothing to decide.
    candidates_given, candidates_reaching, candidates_used
        Candidates given; those reaching an uncovered resident; those in the model (after the
        ``max_candidates`` cap).
    demand_rows
        Rows of the model after merging demand points with the same candidates.
    metric_crs
        The CRS of the computation.
    notes
        What was dropped or capped, and why.
    """

    sites: gpd.GeoDataFrame
    population_total: float
    population_covered_before: float
    population_covered_after: float
    coverage_before: float
    coverage_after: float
    k_requested: int
    k_used: int
    radius_m: float
    solver_status: str
    solution_status: str
    candidates_given: int
    candidates_reaching: int
    candidates_used: int
    demand_rows: int
    metric_crs: pyproj.CRS
    notes: tuple[str, ...]


def plan_sites(
    demand_points: gpd.GeoDataFrame | gpd.GeoSeries,
    demand_weights: ArrayLike,
    candidates: gpd.GeoDataFrame | gpd.GeoSeries,
    existing: gpd.GeoDataFrame | gpd.GeoSeries | None,
    *,
    k: int,
    radius_m: float,
    metric_crs: Any = None,
    max_candidates: int = 2000,
    time_limit_s: float = 60.0,
    max_matrix_cells: int = 2_000_000,
) -> SitePlan:
    """Choose ``k`` new sites that cover the most residents no existing facility covers.

    Parameters
    ----------
    demand_points
        Demand points (for residents, :attr:`geo.population.PopulationPlacement.points`).
    demand_weights
        Residents per demand point (finite, >= 0), aligned with ``demand_points``.
    candidates
        Candidate points; an ``id`` column names them (else the index does).
    existing
        Existing facilities (points) that stay; ``None`` or empty for none.
    k
        Number of new sites (>= 1).
    radius_m
        Straight-line coverage radius in metres.
    metric_crs
        Projected CRS in metres; default :func:`geo.projection.choose_metric_crs` of the demand.
    max_candidates
        Most candidates kept in the model (see the module docstring).
    time_limit_s
        CBC time limit in seconds.
    max_matrix_cells
        Largest demand rows × candidates matrix built (see the module docstring).

    Returns
    -------
    SitePlan

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame/GeoSeries, or ``k`` is not an integer.
    ValueError
        When geometries are not points, CRSs differ, weights do not match the demand or are
        negative, or an option is out of range.
    """
    weights = _check_plan(demand_points, demand_weights, candidates, existing, k=k,
                          radius_m=radius_m, time_limit_s=time_limit_s,
                          max_candidates=max_candidates, max_matrix_cells=max_matrix_cells)
    crs = choose_metric_crs(demand_points, metric_crs=metric_crs)
    radius = float(radius_m)
    notes: list[str] = []
    demand = _open_demand(demand_points, weights, existing, crs, radius, notes)
    cand_xy = arrays.project_xy(arrays.geoms(candidates), candidates.crs, crs)
    reach = _reach(demand, cand_xy, radius, notes)
    model = _shrink(reach, cand_xy, radius, demand, max_candidates=max_candidates,
                    max_matrix_cells=max_matrix_cells, notes=notes)
    chosen, solver_status, solution_status = _solve(
        demand, reach, model, cand_xy, k=k, radius=radius, time_limit_s=time_limit_s,
        notes=notes)
    sites, after = _summarise(demand, reach, candidates, cand_xy, chosen, crs, radius)
    total = demand.total
    return SitePlan(
        sites=sites,
        population_total=total,
        population_covered_before=demand.covered,
        population_covered_after=after,
        coverage_before=demand.covered / total if total > 0 else math.nan,
        coverage_after=after / total if total > 0 else math.nan,
        k_requested=int(k),
        k_used=len(chosen),
        radius_m=radius,
        solver_status=solver_status,
        solution_status=solution_status,
        candidates_given=len(cand_xy),
        candidates_reaching=len(reach.reaching),
        candidates_used=len(model.kept),
        demand_rows=len(model.first),
        metric_crs=crs,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class _Demand:
    """The located demand points in the metric CRS and which of them no facility covers yet."""

    xy: NDArray[np.float64]
    weights: NDArray[np.float64]
    covered_before: NDArray[np.bool_]
    #: Rows of uncovered demand with residents: the rows the model may cover.
    open_rows: NDArray[np.int64]
    total: float
    covered: float


@dataclass(frozen=True)
class _Reach:
    """Which uncovered demand each candidate reaches."""

    #: KD-tree over the open demand points (``None`` when there are none).
    tree: cKDTree | None
    #: Open demand points within the radius of each candidate.
    counts: NDArray[np.int64]
    #: Uncovered residents within the radius of each candidate.
    weight: NDArray[np.float64]
    #: Candidates reaching an uncovered resident, in input order; and strongest first.
    reaching: NDArray[np.int64]
    strongest: NDArray[np.int64]


@dataclass(frozen=True)
class _Model:
    """The candidates kept in the model and the merged demand rows (see :func:`_merge_rows`)."""

    kept: NDArray[np.int64]
    group_of: NDArray[np.int64]
    first: NDArray[np.int64]


def _check_plan(
    demand_points: gpd.GeoDataFrame | gpd.GeoSeries,
    demand_weights: ArrayLike,
    candidates: gpd.GeoDataFrame | gpd.GeoSeries,
    existing: gpd.GeoDataFrame | gpd.GeoSeries | None,
    *,
    k: int,
    radius_m: float,
    time_limit_s: float,
    max_candidates: int,
    max_matrix_cells: int,
) -> NDArray[np.float64]:
    """Check :func:`plan_sites`'s inputs and options; return the weights as floats."""
    for name, frame in (("demand_points", demand_points), ("candidates", candidates),
                        ("existing", existing)):
        if frame is None and name == "existing":
            continue
        if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
            raise TypeError(
                f"{name} must be a GeoDataFrame or GeoSeries; got {type(frame).__name__}")
        if frame.crs is None:
            raise ParameterError(f"{name} has no CRS; set one (EPSG:4326 for pingan's layers)")
        check_geometry_types(arrays.geoms(frame), name, POINT)
    check_same_crs(demand_points=demand_points, candidates=candidates, existing=existing)
    weights = np.asarray(demand_weights, dtype=np.float64).ravel()
    if len(weights) != len(demand_points):
        raise ParameterError(
            f"demand_weights must have one value per demand point ({len(demand_points)}); "
            f"got {len(weights)}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ParameterError("demand_weights must be finite and >= 0")
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"k must be an integer; got {k!r}")
    if k < 1:
        raise ParameterError(f"k must be >= 1; got {k}")
    check_positive(radius_m, "radius_m")
    check_positive(time_limit_s, "time_limit_s")
    for name, value in (("max_candidates", max_candidates),
                        ("max_matrix_cells", max_matrix_cells)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParameterError(f"{name} must be an integer >= 1; got {value!r}")
    return weights


def _open_demand(
    demand_points: gpd.GeoDataFrame | gpd.GeoSeries,
    weights: NDArray[np.float64],
    existing: gpd.GeoDataFrame | gpd.GeoSeries | None,
    crs: pyproj.CRS,
    radius: float,
    notes: list[str],
) -> _Demand:
    """Project the demand and mark what the existing facilities already cover."""
    demand_xy = arrays.project_xy(arrays.geoms(demand_points), demand_points.crs, crs)
    located = np.isfinite(demand_xy).all(axis=1)
    demand_xy, weights = demand_xy[located], weights[located]
    if (~located).any():
        notes.append(f"{int((~located).sum())} demand points without a location were left out")
    covered_before = np.zeros(len(demand_xy), dtype=bool)
    if existing is not None and len(existing):
        ex_xy = arrays.project_xy(arrays.geoms(existing), existing.crs, crs)
        ex_xy = ex_xy[np.isfinite(ex_xy).all(axis=1)]
        covered_before = _within(demand_xy, ex_xy, radius)
    return _Demand(xy=demand_xy, weights=weights, covered_before=covered_before,
                   open_rows=np.flatnonzero(~covered_before & (weights > 0)),
                   total=float(weights.sum()), covered=float(weights[covered_before].sum()))


def _reach(demand: _Demand, cand_xy: NDArray[np.float64], radius: float,
           notes: list[str]) -> _Reach:
    """Find the uncovered residents each candidate reaches (candidates without a point: none).

    Pairs are counted first (cheap) and then walked in bounded chunks, so a large radius
    costs time in proportion to the pairs but never memory.
    """
    open_rows = demand.open_rows
    usable = np.flatnonzero(np.isfinite(cand_xy).all(axis=1))
    open_w = demand.weights[open_rows]
    tree = cKDTree(demand.xy[open_rows]) if len(open_rows) else None
    counts = np.zeros(len(cand_xy), dtype=np.int64)
    if tree is not None and len(usable):
        counts[usable] = tree.query_ball_point(cand_xy[usable], r=radius, return_length=True)
    pairs = int(counts.sum())
    if pairs > MAX_PAIRS:
        raise ParameterError(
            f"the candidates reach {pairs:,} uncovered demand points in all (limit {MAX_PAIRS:,}):"
            f" radius_m={radius:g} is too large for {len(usable):,} candidates; use a smaller "
            f"radius, fewer candidates or coarser demand points")
    weight = np.zeros(len(cand_xy))
    for pos, rows in _pairs(tree, cand_xy, usable, counts, radius):
        weight += np.bincount(usable[pos], weights=open_w[rows], minlength=len(cand_xy))
    reaching = np.flatnonzero(weight > 0)
    if len(reaching) < len(cand_xy):
        notes.append(f"{len(cand_xy) - len(reaching)} candidates reach no uncovered resident "
                     "and were dropped")
    # Strongest first (most uncovered residents within reach), ties in input order.
    strongest = reaching[np.argsort(-weight[reaching], kind="stable")]
    return _Reach(tree=tree, counts=counts, weight=weight, reaching=reaching,
                  strongest=strongest)


def _shrink(
    reach: _Reach,
    cand_xy: NDArray[np.float64],
    radius: float,
    demand: _Demand,
    *,
    max_candidates: int,
    max_matrix_cells: int,
    notes: list[str],
) -> _Model:
    """Keep the strongest candidates within ``max_candidates`` and ``max_matrix_cells``."""
    n_open = len(demand.open_rows)
    n_reaching = len(reach.reaching)
    kept = np.sort(reach.strongest[:max_candidates])
    if n_reaching > max_candidates:
        notes.append(
            f"{n_reaching} candidates reach uncovered residents; kept the {max_candidates} "
            f"that alone reach the most (max_candidates), dropped {n_reaching - max_candidates}"
        )
    group_of, first = _merge_rows(kept, reach.tree, cand_xy, reach.counts, radius, n_open)
    while len(kept) > 1 and len(first) * len(kept) > max_matrix_cells:
        # Fewer candidates also merge into fewer rows: shrink by the square root of the excess.
        excess = len(first) * len(kept) / max_matrix_cells
        count = max(1, min(len(kept) - 1, int(len(kept) / math.sqrt(excess) * 0.95)))
        kept = np.sort(reach.strongest[:count])
        group_of, first = _merge_rows(kept, reach.tree, cand_xy, reach.counts, radius, n_open)
    if len(kept) < min(n_reaching, max_candidates):
        notes.append(
            f"kept the {len(kept)} candidates that alone reach the most uncovered residents so "
            f"that the model ({len(first)} demand rows x {len(kept)} candidates) stays "
            f"within max_matrix_cells={max_matrix_cells}"
        )
    return _Model(kept=kept, group_of=group_of, first=first)


def _solve(
    demand: _Demand,
    reach: _Reach,
    model: _Model,
    cand_xy: NDArray[np.float64],
    *,
    k: int,
    radius: float,
    time_limit_s: float,
    notes: list[str],
) -> tuple[NDArray[np.int64], str, str]:
    """Solve the maximal covering model; return the chosen candidates and PuLP's statuses."""
    kept = model.kept
    n_rows = len(model.first)
    chosen_cols: list[int] = []
    solver_status = solution_status = "not run"
    k_used = min(k, len(kept))
    if k_used < k:
        notes.append(f"only {len(kept)} candidates reach uncovered residents: placing {k_used} "
                     f"sites instead of {k}")
    if n_rows and k_used:
        cost, row_weights = _cost_matrix(demand, reach, model, cand_xy, radius)
        # a status other than "Optimal" (the time limit) is reported, not raised
        solution = solve_mclp(cost <= radius, row_weights, int(k_used),
                              time_limit_s=time_limit_s, name="pingan_mclp")
        solver_status, solution_status = solution.solver_status, solution.solution_status
        chosen_cols = solution.chosen.tolist()
    elif not n_rows:
        notes.append("no uncovered resident is within reach of any candidate: no site placed")
    chosen = kept[chosen_cols] if chosen_cols else np.empty(0, dtype=np.int64)
    return chosen, solver_status, solution_status


def _cost_matrix(
    demand: _Demand,
    reach: _Reach,
    model: _Model,
    cand_xy: NDArray[np.float64],
    radius: float,
) -> tuple[NDArray[np.float64], NDArray[Any]]:
    """Distances from each model row to each kept candidate, and the rows' residents."""
    open_rows, kept, group_of = demand.open_rows, model.kept, model.group_of
    n_rows = len(model.first)
    in_model = np.flatnonzero(group_of >= 0)
    # The first demand point of each group represents it; the group's residents are summed.
    representative = open_rows[model.first]
    row_weights = np.bincount(group_of[in_model],
                              weights=demand.weights[open_rows][in_model], minlength=n_rows)
    dx = demand.xy[representative, 0][:, None] - cand_xy[kept, 0][None, :]
    dy = demand.xy[representative, 1][:, None] - cand_xy[kept, 1][None, :]
    cost = np.sqrt(dx * dx + dy * dy)
    # Coverage is decided once, by the KD-tree that built the groups; where a distance is
    # within a rounding error of the radius the matrix follows that decision.
    member = np.zeros(cost.shape, dtype=bool)
    for cols, rows in _pairs(reach.tree, cand_xy, kept, reach.counts, radius):
        member[group_of[rows], cols] = True
    cost = np.where(member, np.minimum(cost, radius),
                    np.maximum(cost, np.nextafter(radius, np.inf)))
    return cost, row_weights


def _summarise(
    demand: _Demand,
    reach: _Reach,
    candidates: gpd.GeoDataFrame | gpd.GeoSeries,
    cand_xy: NDArray[np.float64],
    chosen: NDArray[np.int64],
    crs: pyproj.CRS,
    radius: float,
) -> tuple[gpd.GeoDataFrame, float]:
    """The chosen sites (most newly covered residents first) and the residents covered after."""
    site_xy = cand_xy[chosen]
    newly = np.zeros(len(demand.xy), dtype=bool)
    newly_by_site = np.zeros(len(chosen))
    reached_by_site = np.zeros(len(chosen))
    if len(chosen):
        open_rows = demand.open_rows
        newly[open_rows] = _within(demand.xy[open_rows], site_xy, radius)
        rows = np.flatnonzero(newly)
        _, nearest_site = cKDTree(site_xy).query(demand.xy[rows], k=1)
        newly_by_site = np.bincount(np.asarray(nearest_site, dtype=np.int64),
                                    weights=demand.weights[rows],
                                    minlength=len(chosen)).astype(np.float64)
        reached_by_site = reach.weight[chosen]
    after = demand.covered + float(demand.weights[newly].sum())
    extra = {}
    if isinstance(candidates, gpd.GeoDataFrame):
        extra = {c: candidates[c].to_numpy()[chosen] for c in ("source", "code")
                 if c in candidates.columns}
    sites = gpd.GeoDataFrame(
        {
            "candidate_id": pd.array(arrays.frame_ids(candidates)[chosen], dtype="string"),
            **extra,
            "population_reached": reached_by_site,
            "population_newly_covered": newly_by_site,
        },
        geometry=arrays.project(np.asarray(shapely.points(site_xy), dtype=object), crs, 4326),
        crs=4326,
    )
    sites = sites.sort_values("population_newly_covered", ascending=False,
                              kind="stable").reset_index(drop=True)
    return sites, after


def plan_facility_sites(
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    facility_type: str,
    k: int,
    radius_m: float | None = None,
    detour_factor: float = 1.0,
    compounds: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    period: Period | str | int | None = None,
    cell_m: float = 100.0,
    candidate_spacing_m: float | None = None,
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    metric_crs: Any = None,
    max_candidates: int = 2000,
    time_limit_s: float = 60.0,
    max_matrix_cells: int = 2_000_000,
    circle_segments: int = 64,
) -> SitePlan:
    """Suggest ``k`` new sites for a facility type from the communities' residents.

    The demand points are :func:`geo.population.place_population`'s (the same placement as
    :func:`geo.coverage.facility_coverage`), the existing facilities are those of the type that
    existed during the period, and the candidates are ``candidates`` or
    :func:`candidate_sites`.

    The model chooses sites on the demand points (residents gathered at 100 m grid points);
    the coverage before and after is then measured as :func:`geo.coverage.facility_coverage`
    measures it (:func:`geo.coverage.covered_residents`: the share of each placed area inside
    the service circles), so the plan's "before" equals the coverage report's figure for the
    same communities, radius and period. A site's ``population_reached`` and
    ``population_newly_covered`` stay the model's demand-point figures, so their sum can differ
    slightly from after minus before (the plan's notes say so). Each site carries its
    ``lon``/``lat`` and the ``community_code``/``community_name`` of the community it lies in
    (none outside every community given).

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``population``.
    facilities
        Facility points with ``id`` and ``type``.
    facility_type
        The type to site.
    k
        Number of new sites.
    radius_m
        Service radius; default ``geo.coverage.SERVICE_RADIUS_M[facility_type]``.
    detour_factor
        Walking over straight-line distance (>= 1); the model uses ``radius_m / detour_factor``.
    compounds
        Compounds for the population placement and the generated candidates.
    candidates
        Candidate points (an ``id`` column names them); default :func:`candidate_sites`.
    period
        Facilities and compounds that existed during it count; ``None`` counts every row.
    cell_m
        Demand grid cell in metres (see :func:`geo.population.place_population`).
    candidate_spacing_m
        Spacing of generated grid candidates in metres; default half the effective radius
        (every resident is then within reach of a dozen or so grid candidates).
    persons_per_household
        Residents per household for compounds without a population.
    metric_crs
        Projected CRS in metres; default :func:`geo.projection.choose_metric_crs` of the
        communities.
    max_candidates, time_limit_s, max_matrix_cells
        As in :func:`plan_sites`.
    circle_segments
        Segments per service circle when coverage is measured (as in
        :func:`geo.coverage.facility_coverage`).

    Returns
    -------
    SitePlan

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame or ``k`` is not an integer.
    ValueError
        As :func:`geo.coverage.facility_coverage` and :func:`plan_sites` do.
    """
    check_communities(communities)
    check_frame(facilities, "facilities", POINT, ("id", "type"))
    check_same_crs(communities=communities, facilities=facilities, compounds=compounds,
                    candidates=candidates)
    radius = service_radius(facility_type, radius_m)
    check_detour_factor(detour_factor)
    p = None if period is None else parse_period(period)
    crs = choose_metric_crs(communities, metric_crs=metric_crs)
    placement = place_population(communities, compounds=compounds, period=p, cell_m=cell_m,
                                 persons_per_household=persons_per_household, metric_crs=crs)
    demand = placement.points.to_crs(communities.crs)
    effective = radius / float(detour_factor)
    if candidates is None:
        spacing = effective / 2.0 if candidate_spacing_m is None else candidate_spacing_m
        try:
            candidates = candidate_sites(communities, compounds=compounds, spacing_m=spacing,
                                         period=p, metric_crs=crs)
        except LimitError as exc:
            # The spacing follows from the radius unless it was given: name what the caller set.
            named = "radius_m" if candidate_spacing_m is None else "candidate_spacing_m"
            raise LimitError(f"{named}: {exc}", parameter=named) from None
    existing = facilities_of_type(facilities, facility_type, p)
    plan = plan_sites(demand, demand["population"].to_numpy(), candidates, existing,
                      k=k, radius_m=effective, metric_crs=crs,
                      max_candidates=max_candidates, time_limit_s=time_limit_s,
                      max_matrix_cells=max_matrix_cells)
    existing_xy = arrays.xy(arrays.project(arrays.geoms(existing), existing.crs, crs))
    existing_xy = existing_xy[np.isfinite(existing_xy).all(axis=1)]
    site_xy = arrays.xy(arrays.project(arrays.geoms(plan.sites), plan.sites.crs, crs))
    before, total = covered_residents(placement, existing_xy, radius_m=effective,
                                      circle_segments=circle_segments)
    after, _ = covered_residents(placement, np.vstack([existing_xy, site_xy]),
                                 radius_m=effective, circle_segments=circle_segments)
    note = ("coverage before and after is measured as the coverage report measures it (the "
            "share of each placed area within the service circles); the sites were chosen, "
            "and their reached and newly covered residents counted, on residents gathered at "
            f"{placement.cell_m:g} m demand points")
    return replace(
        plan, sites=placed_sites(plan.sites, communities),
        population_total=total, population_covered_before=before,
        population_covered_after=after,
        coverage_before=before / total if total > 0 else math.nan,
        coverage_after=after / total if total > 0 else math.nan, notes=(*plan.notes, note))


def placed_sites(sites: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give each chosen site its ``lon``/``lat`` and the community it lies in.

    Parameters
    ----------
    sites
        Chosen sites (points); a ``code`` column, if any, is replaced.
    communities
        Community polygons with ``code`` and ``name``.

    Returns
    -------
    geopandas.GeoDataFrame
        The sites with ``community_code``, ``community_name`` (none outside every community),
        ``lon`` and ``lat`` (EPSG:4326, 7 decimals) after ``candidate_id``.
    """
    code = assign_to_communities(sites.geometry.to_crs(communities.crs), communities)
    names = pd.Series(arrays.names(communities), index=arrays.codes(communities))
    out = sites.drop(columns=["code"], errors="ignore")
    at = 1 if "candidate_id" in out.columns else 0
    out.insert(at, "community_code", code.to_numpy())
    out.insert(at + 1, "community_name", pd.array(
        [names.get(c) if isinstance(c, str) else None for c in code], dtype="string"))
    lonlat = out.geometry.to_crs(4326)
    out.insert(at + 2, "lon", np.round(lonlat.x.to_numpy(), 7))
    out.insert(at + 3, "lat", np.round(lonlat.y.to_numpy(), 7))
    return out


def _pairs(tree: cKDTree | None, cand_xy: NDArray[np.float64], which: NDArray[np.int64],
           counts: NDArray[np.int64], radius: float
           ) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Yield the (candidate, open demand row) pairs within ``radius``, chunk by chunk.

    Each chunk is ``(positions in which, demand rows)``, two aligned arrays of at most about
    :data:`PAIRS_PER_CHUNK` pairs (chunks follow ``counts``, the pairs per candidate), found by
    a KD-tree to KD-tree search; memory stays bounded whatever the radius.
    """
    if tree is None or not len(which):
        return
    start = 0
    cum = np.cumsum(counts[which])
    while start < len(which):
        base = cum[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(cum, base + PAIRS_PER_CHUNK, side="right")))
        if cum[stop - 1] > base:
            found = cKDTree(cand_xy[which[start:stop]]).sparse_distance_matrix(
                tree, radius, output_type="ndarray")
            yield (start + found["i"]).astype(np.int64), found["j"].astype(np.int64)
        start = stop


def _merge_rows(kept: NDArray[np.int64], tree: cKDTree | None, cand_xy: NDArray[np.float64],
                counts: NDArray[np.int64], radius: float, n_open: int
                ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Group uncovered demand points by the set of kept candidates (columns) reaching them.

    Each point's set is fingerprinted by two sums of random 64-bit keys of its candidates (a
    collision needs two different sets to agree on 128 bits: about n²/2¹²⁹ for n points).

    Returns
    -------
    group_of : ndarray
        The model row of each open demand point, -1 for points no kept candidate reaches
        (left out of the model).
    first : ndarray
        The first open demand point of each row, ascending: rows are numbered in the order of
        their first points (so the model does not depend on the fingerprint keys).
    """
    keys = np.random.default_rng(0x5EED).integers(
        0, np.iinfo(np.uint64).max, size=(len(kept), 2), dtype=np.uint64, endpoint=True)
    fingerprint = np.zeros((n_open, 2), dtype=np.uint64)
    hit = np.zeros(n_open, dtype=bool)
    for cols, rows in _pairs(tree, cand_xy, kept, counts, radius):
        for half in (0, 1):
            np.add.at(fingerprint[:, half], rows, keys[cols, half])  # wraps modulo 2**64
        hit[rows] = True
    group_of = np.full(n_open, -1, dtype=np.int64)
    reached = np.flatnonzero(hit)
    if not len(reached):
        return group_of, np.empty(0, dtype=np.int64)
    _, inverse = np.unique(fingerprint[reached], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_rows = int(inverse.max()) + 1
    first = np.full(n_rows, n_open, dtype=np.int64)
    np.minimum.at(first, inverse, reached)
    order = np.argsort(first, kind="stable")
    rank = np.empty(n_rows, dtype=np.int64)
    rank[order] = np.arange(n_rows)
    group_of[reached] = rank[inverse]
    return group_of, first[order]


def _within(xy: NDArray[np.float64], targets: NDArray[np.float64], radius: float
            ) -> NDArray[np.bool_]:
    """Whether each point lies within ``radius`` of a target."""
    if not len(xy) or not len(targets):
        return np.zeros(len(xy), dtype=bool)
    return np.asarray(nearest(xy, targets)[0] <= radius, dtype=bool)
