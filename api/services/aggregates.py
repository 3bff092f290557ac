"""Incident counts by community and on the one grid, for every role, as released to them.

No incident position, id, time or address appears in these results. Exact callers (admin, a
liaison inside their world) get exact counts; protected callers (planner, client) get counts
released by the cell-key method with 1–2 shown as ``"<3"`` (:mod:`geo.release`), and rates
and shares computed from the released counts.

The grid is :class:`geo.grid.Grid` in the data set's metric CRS: cells of a published size on
a fixed origin, ids ``"250m:ix:iy"``. Records located only at a community's centroid, or not
at all, are left out of the grid (they would pile up in the centroid's cell) and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from api import store
from api.release import Selection, Visibility, release_provenance
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.categories import resolve_categories
from api.services.units import communities_in_period, world_communities
from geo.cases import CaseDefinition
from geo.grid import Grid
from geo.period import Period
from geo.release import release_counts

__all__ = ["cells_in", "community_counts_report", "grid_cell_counts", "grid_counts_report",
           "study_cells"]

COMMUNITY_COLUMNS = ["code", "name", "subdistrict_code", "subdistrict", "district_code",
                     "district", "population", "incidents", "incidents_per_10k", "suppressed"]
GRID_COLUMNS = ["cell_id", "ix", "iy", "incidents", "share", "suppressed"]


def _definition(ctx: ServiceContext, cases_only: bool) -> CaseDefinition:
    return ctx.case_definition if cases_only else CaseDefinition()


def _scope(vis: Visibility, ctx: ServiceContext, selection: Selection | None
           ) -> tuple[str, ...] | None:
    """Community codes to count (``None``: every incident, for an unselected admin).

    A protected caller's cells are always counted over the whole world and only then
    selected: a cell counted over part of its communities would be a new, smaller unit.
    """
    if selection is not None and selection.communities is not None and not vis.protected:
        return selection.communities
    if vis.unassigned:
        return None
    return tuple(world_communities(ctx, vis)["code"])


def _release(n: np.ndarray, keys: np.ndarray, vis: Visibility
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shown counts, values for derived figures, and the hidden mask."""
    if not vis.protected:
        return n.astype(object), n.astype(np.float64), np.zeros(len(n), dtype=bool)
    rel = release_counts(n, keys, min_count=vis.min_count)
    return rel.shown, rel.value, rel.hidden


def community_counts_report(ctx: ServiceContext, vis: Visibility, *, period: Period,
                            categories: Sequence[str] = (), cases_only: bool = True,
                            selection: Selection | None = None) -> Report:
    """Incident counts and the rate per 10,000 residents of each community of the world.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    period
        The period (a whole month, quarter or year for a protected caller).
    categories
        Only these categories (category groups for a protected caller).
    cases_only
        Count only records the case definition counts; false counts every record.
    selection
        Only these communities.

    Returns
    -------
    Report
        :data:`COMMUNITY_COLUMNS` and geometry; ``incidents_per_10k`` is for the period (not
        annualised), on the mean population over the period (:mod:`geo.exposure`).
    """
    p = vis.check_period(period)
    cats = resolve_categories(ctx, vis, categories).raw
    definition = _definition(ctx, cases_only)

    def compute() -> tuple[pd.DataFrame, dict[str, int], int]:
        comms = communities_in_period(ctx, vis, p)
        query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                    communities=tuple(comms["code"]),
                                    case_definition=definition)
        with ctx.engine.connect() as conn:
            counts = store.count_keyed(conn, query, by=("community_code",))
            left_out = _left_out(conn, p, ctx, cats, definition) if vis.unassigned else {}
        by_code = counts.set_index("community_code")
        n = comms["code"].map(by_code["count"]).fillna(0).to_numpy(dtype=np.int64)
        keys = comms["code"].map(by_code["key_sum"]).fillna(0).to_numpy(dtype=np.int64)
        shown, value, hidden = _release(n, keys, vis)
        frame = comms.copy()
        pop = frame["population"].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(pop > 0, value / pop * 1e4, np.nan)
        rate[hidden] = np.nan
        frame["incidents"] = shown
        frame["incidents_per_10k"] = rate
        frame["suppressed"] = hidden
        return frame[[*COMMUNITY_COLUMNS, "geometry"]], left_out, int(n.sum())

    frame, left_out, counted = ctx.cached("aggregates.communities", (p.label, cats, cases_only),
                                          compute, vis=vis)
    if selection is not None and selection.communities is not None:
        frame = frame[frame["code"].isin(selection.communities)].reset_index(drop=True)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "generated_at": generated_at(),
                 "left_out": left_out, "suppressed": int(frame["suppressed"].sum()),
                 "counted": counted,
                 "min_count_shown": vis.min_count, "categories": list(categories),
                 "case_definition": definition.as_sql_lists() | {"cases_only": cases_only},
                 **(selection.provenance() if selection else {})})
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    return Report(gdf, release_provenance(prov, vis=vis), f"incidents by community, {p.label}",
                  f"各社区发案数，{p.label}")


def _left_out(conn: Any, p: Period, ctx: ServiceContext, cats: tuple[str, ...],
              definition: CaseDefinition) -> dict[str, int]:
    counts = store.count_cases(conn, p, definition, timezone=ctx.timezone, categories=cats)
    return {"unassigned": counts.unassigned(), "no_location": counts.no_location,
            "not_a_case": counts.not_counted}


def cells_in(frame: gpd.GeoDataFrame, comms: gpd.GeoDataFrame, codes: Sequence[str]
             ) -> gpd.GeoDataFrame:
    """Cells whose centre lies in one of the given communities."""
    chosen = comms[comms["code"].isin(list(codes))]
    area = shapely.union_all(np.asarray(chosen.geometry.array, dtype=object))
    centres = shapely.centroid(np.asarray(frame.geometry.array, dtype=object))
    return frame[shapely.contains(area, centres)].reset_index(drop=True)


def study_cells(ctx: ServiceContext, vis: Visibility, cell_m: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """The cells of the one grid whose interior meets the caller's communities (row-major)."""
    def compute() -> tuple[np.ndarray, np.ndarray]:
        grid = Grid(cell_m, ctx.metric_crs())
        comms = world_communities(ctx, vis)
        return grid.cells_meeting(comms.to_crs(grid.crs).geometry.union_all())
    return ctx.cached("study_cells", cell_m, compute, vis=vis)


def grid_cell_counts(ctx: ServiceContext, vis: Visibility, grid: Grid, *, period: Period,
                     categories: tuple[str, ...], definition: CaseDefinition,
                     scope: tuple[str, ...] | None, bbox: Any = None
                     ) -> tuple[pd.DataFrame, int]:
    """Exact counts and record-key sums of precisely located incidents per cell of a grid.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller: an exact caller gets the cells holding an incident; a protected caller
        every cell meeting their communities (an absent cell would be a released zero).
    grid
        The one grid at a cell size.
    period, categories, definition
        Which incidents count.
    scope
        Only incidents of these communities (``None``: every incident).
    bbox
        Only incidents inside it (a raw reader's filter).

    Returns
    -------
    tuple of (pandas.DataFrame, int)
        ``ix``, ``iy``, ``count``, ``key_sum`` sorted by cell, and the incidents left out for
        an imprecise location (a community centroid, or none).
    """
    located = store.IncidentQuery(period=period, timezone=ctx.timezone, categories=categories,
                                  communities=scope, case_definition=definition,
                                  precise_only=True, bbox=bbox)
    everything = store.IncidentQuery(period=period, timezone=ctx.timezone,
                                     categories=categories, communities=scope,
                                     case_definition=definition, bbox=bbox)
    with ctx.engine.connect() as conn:
        points = store.read_points(conn, located)
        imprecise = store.count_incidents(conn, everything) - len(points)
    ix, iy = grid.bin_lonlat(points["lon"].to_numpy(), points["lat"].to_numpy())
    cells = (pd.DataFrame({"ix": ix, "iy": iy, "count": 1, "key_sum": points["rkey"]})
             .groupby(["ix", "iy"], as_index=False, sort=True)[["count", "key_sum"]].sum())
    if vis.protected:
        ix, iy = study_cells(ctx, vis, grid.cell_m)
        cells = (pd.DataFrame({"ix": ix, "iy": iy})
                 .merge(cells, on=["ix", "iy"], how="left").fillna(0)
                 .astype({"count": np.int64, "key_sum": np.int64}))
    return cells, int(imprecise)


def grid_counts_report(ctx: ServiceContext, vis: Visibility, *, period: Period, cell_m: float,
                       categories: Sequence[str] = (), cases_only: bool = True,
                       selection: Selection | None = None) -> Report:
    """Incident counts in the non-empty cells of the one grid for a period.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller (a protected caller: published cell sizes only).
    period, categories, cases_only, selection
        As for :func:`community_counts_report`; a selection keeps the cells whose centre lies
        in a selected community (and, for a raw reader, the incidents in its bbox).
    cell_m
        Cell size in metres.

    Returns
    -------
    Report
        :data:`GRID_COLUMNS` and the cell squares (EPSG:4326); ``share`` is the cell's share of
        the incidents on the grid. An exact caller gets the cells holding an incident; a
        protected caller every cell meeting the communities (an empty cell is hidden like a
        small one).
    """
    p = vis.check_period(period)
    cats = resolve_categories(ctx, vis, categories).raw
    cell = vis.check_cell(cell_m)
    definition = _definition(ctx, cases_only)
    grid = Grid(cell, ctx.metric_crs())
    scope = _scope(vis, ctx, selection)
    box = selection.bbox if selection is not None and not vis.protected else None

    def compute() -> tuple[gpd.GeoDataFrame, int, int]:
        cells, imprecise = grid_cell_counts(ctx, vis, grid, period=p, categories=cats,
                                            definition=definition, scope=scope, bbox=box)
        shown, value, hidden = _release(cells["count"].to_numpy(dtype=np.int64),
                                        cells["key_sum"].to_numpy(dtype=np.int64), vis)
        total = value.sum()
        share = value / total if total > 0 else np.full(len(value), np.nan)
        share[hidden] = np.nan
        frame = pd.DataFrame({"cell_id": grid.ids(cells["ix"], cells["iy"]),
                              "ix": cells["ix"].to_numpy(), "iy": cells["iy"].to_numpy(),
                              "incidents": shown, "share": share, "suppressed": hidden})
        geoms = grid.polygons_wgs84(cells["ix"], cells["iy"])
        frame = gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")
        return frame, imprecise, int(cells["count"].sum())

    frame, imprecise, counted = ctx.cached(
        "aggregates.grid", (p.label, cell, cats, cases_only, scope, box), compute, vis=vis)
    if vis.protected and selection is not None and selection.communities is not None:
        frame = cells_in(frame, world_communities(ctx, vis), selection.communities)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "generated_at": generated_at(),
                 "left_out": {"imprecise_location": imprecise},
                 "counted": counted,
                 "suppressed": int(frame["suppressed"].sum()), "min_count_shown": vis.min_count,
                 "metric_crs": grid.crs_text, "cell_m": cell, "categories": list(categories),
                 "case_definition": definition.as_sql_lists() | {"cases_only": cases_only},
                 **(selection.provenance() if selection else {})})
    return Report(frame, release_provenance(prov, vis=vis), f"incidents on the {cell:g} m grid",
                  f"{cell:g} 米网格发案数")
