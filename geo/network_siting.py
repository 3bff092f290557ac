"""Site plans along roads: maximal covering location with network distances.

:func:`plan_sites_along_roads` is :func:`geo.siting.plan_facility_sites` with reach measured on a
:class:`geo.network.RoadNetwork`: a resident is covered by a site when the walk to it (metres)
or the drive (minutes) is within the type's limit (:func:`geo.reach.reach_limit`). The demand
points are :func:`geo.population.place_population`'s; the residents the existing facilities
already reach along the roads are left out of the model; every (uncovered resident, candidate)
pair within the limit comes from :meth:`geo.network.RoadNetwork.cost_pairs` (resident ->
candidate); and the model is spopt's MCLP solved by CBC, as for straight lines.

Written here because :mod:`geo.siting` decides coverage with a k-d tree of straight-line
distances throughout; the model itself is the same spopt call.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import arrays
from geo.checks import POINT, check_communities, check_frame
from geo.errors import ParameterError
from geo.inventory import facilities_of_type
from geo.mclp import solve_mclp
from geo.network import DEFAULT_MAX_OFFSET_M, RoadNetwork
from geo.period import parse_period
from geo.population import place_population
from geo.reach import reach_limit
from geo.siting import SitePlan, candidate_sites, placed_sites

__all__ = ["plan_sites_along_roads"]

#: Candidates kept in the model (those reaching the most uncovered residents).
MAX_CANDIDATES = 400
#: Largest demand rows x candidates matrix handed to spopt.
MAX_MATRIX_CELLS = 2_000_000


def plan_sites_along_roads(
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    network: RoadNetwork,
    *,
    facility_type: str,
    k: int,
    radius_m: float | None = None,
    minutes: float | None = None,
    compounds: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    period: Any = None,
    cell_m: float = 100.0,
    time_limit_s: float = 60.0,
    max_offset_m: float = DEFAULT_MAX_OFFSET_M,
) -> SitePlan:
    """Suggest ``k`` new sites that cover the most residents not yet reached along the roads.

    Parameters
    ----------
    communities, facilities, facility_type, compounds, period, cell_m, time_limit_s
        As for :func:`geo.siting.plan_facility_sites`.
    network
        The road network of the mode (walk or drive).
    k
        Number of new sites (1-100).
    radius_m, minutes
        The limit: metres walking, minutes driving (default: the type's).
    candidates
        Candidate points (``id`` names them); default :func:`geo.siting.candidate_sites` at a
        spacing of half the walking limit (250 m when driving).
    max_offset_m
        Points farther than this from every road reach nothing.

    Returns
    -------
    geo.siting.SitePlan
        ``radius_m`` holds the limit (metres walking, minutes driving).

    Raises
    ------
    geo.errors.ParameterError
        When ``k`` or a limit is out of range.
    """
    check_communities(communities)
    check_frame(facilities, "facilities", POINT, ("id", "type"))
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= 100:
        raise ParameterError(f"k (--add) must be between 1 and 100; got {k!r}", parameter="add")
    threshold, unit, limit = reach_limit(network, facility_type, radius_m, minutes)
    p = None if period is None else parse_period(period)
    crs = network.crs
    placement = place_population(communities, compounds=compounds, period=p, cell_m=cell_m,
                                 metric_crs=crs)
    demand = placement.points
    weights = demand["population"].to_numpy(dtype=np.float64)
    existing = facilities_of_type(facilities, facility_type, p)
    covered = (network.nearest(demand, existing, max_offset_m=max_offset_m).reached(**limit)
               if len(existing) else np.zeros(len(demand), dtype=bool))
    if candidates is None:
        spacing = threshold / 2.0 if unit == "m" else 250.0
        candidates = candidate_sites(communities, compounds=compounds, spacing_m=spacing,
                                     period=p, metric_crs=crs)
    open_rows = np.flatnonzero(~covered & (weights > 0))
    pairs = network.cost_pairs(demand.iloc[open_rows], candidates, direction="to",
                               max_offset_m=max_offset_m,
                               **limit)
    rows, cols = open_rows[pairs.demand], pairs.candidate
    reach_w = np.bincount(cols, weights=weights[rows], minlength=len(candidates))
    reaching = np.flatnonzero(reach_w > 0)
    notes: list[str] = []
    kept = reaching[np.argsort(-reach_w[reaching], kind="stable")][:MAX_CANDIDATES]
    if len(reaching) > len(kept):
        notes.append(f"{len(reaching) - len(kept)} candidates reaching fewer residents were "
                     f"left out of the model (at most {MAX_CANDIDATES})")
    chosen, solver, solution, n_rows = _solve(rows, cols, weights, kept, k, time_limit_s,
                                              notes)
    sites, newly = _sites(candidates, chosen, rows, cols, pairs.cost, weights, reach_w)
    total = float(weights.sum())
    before = float(weights[covered].sum())
    after = before + newly
    return SitePlan(
        sites=placed_sites(sites, communities), population_total=total,
        population_covered_before=before, population_covered_after=after,
        coverage_before=before / total if total > 0 else float("nan"),
        coverage_after=after / total if total > 0 else float("nan"),
        k_requested=int(k), k_used=len(chosen), radius_m=threshold, solver_status=solver,
        solution_status=solution, candidates_given=len(candidates),
        candidates_reaching=len(reaching), candidates_used=len(kept), demand_rows=n_rows,
        metric_crs=crs, notes=tuple(notes))


def _solve(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, kept: np.ndarray, k: int,
           time_limit_s: float, notes: list[str]) -> tuple[np.ndarray, str, str, int]:
    """Solve the MCLP over the kept candidates; return chosen candidates and PuLP's statuses."""
    in_model = np.isin(cols, kept)
    demand_rows, row_of = np.unique(rows[in_model], return_inverse=True)
    col_of = np.searchsorted(np.sort(kept), cols[in_model])
    order = np.sort(kept)
    if not len(demand_rows):
        notes.append("no uncovered resident is within reach of any candidate: no site placed")
        return np.empty(0, dtype=np.int64), "not run", "not run", 0
    if len(demand_rows) * len(order) > MAX_MATRIX_CELLS:
        raise ParameterError(f"the model would hold {len(demand_rows):,} x {len(order):,} "
                             "cells; use a smaller limit or fewer candidates",
                             parameter="radius_m")
    # Coverage is decided by the network search.
    covers = np.zeros((len(demand_rows), len(order)), dtype=bool)
    covers[row_of, col_of] = True
    k_used = min(k, len(order))
    if k_used < k:
        notes.append(f"only {len(order)} candidates reach uncovered residents: placing "
                     f"{k_used} sites instead of {k}")
    solution = solve_mclp(covers, weights[demand_rows], int(k_used),
                          time_limit_s=time_limit_s, name="pingan_mclp_roads")
    return (order[solution.chosen].astype(np.int64), solution.solver_status,
            solution.solution_status, len(demand_rows))


def _sites(candidates: gpd.GeoDataFrame, chosen: np.ndarray, rows: np.ndarray,
           cols: np.ndarray, cost: np.ndarray, weights: np.ndarray, reach_w: np.ndarray
           ) -> tuple[gpd.GeoDataFrame, float]:
    """The chosen sites, most newly covered first; residents newly covered in all."""
    pick = np.isin(cols, chosen)
    r, c, d = rows[pick], cols[pick], cost[pick]
    # Each newly covered resident goes to the nearest chosen site along the roads.
    order = np.lexsort((d, r))
    first = np.r_[True, r[order][1:] != r[order][:-1]] if len(order) else np.array([], bool)
    best_r, best_c = r[order][first], c[order][first]
    position = {int(s): i for i, s in enumerate(chosen)}
    newly = np.zeros(len(chosen))
    np.add.at(newly, [position[int(x)] for x in best_c], weights[best_r])
    geoms = arrays.project(arrays.geoms(candidates), candidates.crs, 4326)[chosen]
    sites = gpd.GeoDataFrame({
        "candidate_id": pd.array(arrays.frame_ids(candidates)[chosen], dtype="string"),
        "population_reached": reach_w[chosen],
        "population_newly_covered": newly}, geometry=list(geoms), crs=4326)
    sites = sites.sort_values("population_newly_covered", ascending=False,
                              kind="stable").reset_index(drop=True)
    return sites, float(newly.sum())
