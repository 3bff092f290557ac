"""Population placement: where a community's residents live, as far as the data tells.

:func:`place_population` spreads each community's residents over its compounds (小区) and the
rest of its area, and cuts them into demand points on a square grid. The placement is shared by
:func:`geo.coverage.facility_coverage` (population shares, distances) and
:func:`geo.siting.plan_facility_sites` (demand points).

Rules
-----
1. Compounds that existed during the period and carry a ``population`` (or
   ``households`` × ``persons_per_household``) hold that many residents: a point compound at
   its point, a polygon compound spread evenly over its polygon. A compound belongs to the
   community containing its representative point (``shapely.point_on_surface``).
2. The rest of the community's ``population`` is spread evenly over the community's area
   outside every populated compound polygon (over the whole community if nothing is left).
3. When a community's compounds hold more residents than its ``population``, they are scaled
   down to it (the community population is the official denominator); the codes are listed in
   :attr:`PopulationPlacement.scaled_codes`.
4. A community without a population gets no residents; its population metrics are NaN.

Coverage shares and uncovered populations are exact areal arithmetic on this placement
(uncovered part of each polygon × its density). Distances need points: each populated polygon
is cut into the cells of a square grid of ``cell_m`` metres (aligned on multiples of ``cell_m``
in the metric CRS) and each piece's residents sit at the piece's centroid, so a resident's
distance is off by at most half a cell diagonal (71 m for 100 m cells), and much less on
average. The same points are :mod:`geo.siting`'s demand points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo import arrays
from geo.checks import (
    POINT_OR_POLYGON,
    check_communities,
    check_frame,
    check_positive,
    check_same_crs,
)
from geo.errors import ParameterError
from geo.inventory import existing_during
from geo.period import Period
from geo.projection import choose_metric_crs
from geo.uncovered import uncovered_parts

__all__ = ["PERSONS_PER_HOUSEHOLD", "PopulationPlacement", "place_population"]

#: Persons per family household used to turn ``households`` into residents: 2.62, the national
#: average household size of China's 2020 census (第七次全国人口普查).
PERSONS_PER_HOUSEHOLD = 2.62


@dataclass(frozen=True)
class PopulationPlacement:
    """Residents placed on compounds and community areas, in a metric CRS.

    Attributes
    ----------
    parts
        GeoDataFrame in ``metric_crs``, one row per populated piece: ``code`` (community),
        ``kind`` (``compound`` or ``area``), ``compound_id`` (missing for ``area``),
        ``population`` (residents of the piece) and its geometry (a polygon spread evenly, or a
        point compound).
    points
        GeoDataFrame in ``metric_crs`` of demand points: ``code``, ``kind``, ``compound_id``,
        ``population`` and a point geometry (grid-piece centroids for polygons, the point
        itself for point compounds). Per community the points' populations sum to the placed
        population.
    population
        Series indexed by community code: residents placed (NaN where the community has no
        population).
    metric_crs
        The CRS of ``parts`` and ``points``.
    cell_m
        Grid cell size used for the points, metres.
    persons_per_household
        Factor used for compounds that give households only.
    scaled_codes
        Communities whose compounds held more residents than the community population and were
        scaled down to it.
    compounds_used, compounds_unassigned
        Compounds that placed residents; compounds of the period whose representative point
        lies in no community.
    """

    parts: gpd.GeoDataFrame
    points: gpd.GeoDataFrame
    population: pd.Series
    metric_crs: pyproj.CRS
    cell_m: float
    persons_per_household: float
    scaled_codes: tuple[str, ...]
    compounds_used: int
    compounds_unassigned: int


def place_population(
    communities: gpd.GeoDataFrame,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    period: Period | str | int | None = None,
    cell_m: float = 100.0,
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    metric_crs: Any = None,
) -> PopulationPlacement:
    """Place each community's residents on its compounds and the rest of its area.

    See the module docstring ("Rules").

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``population``.
    compounds
        Compounds (points or polygons) with ``id``, and ``population`` and/or ``households``;
        ``removed_on`` is used with ``period``.
    period
        Only compounds that existed during it are used; ``None`` uses every row.
    cell_m
        Grid cell size in metres for the demand points.
    persons_per_household
        Residents per household for compounds without a population.
    metric_crs
        Projected CRS in metres; default :func:`choose_metric_crs` of the communities.

    Returns
    -------
    PopulationPlacement

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame.
    ValueError
        When a required column is missing, a population or household count is negative, the
        CRSs differ, a geometry has the wrong type, codes repeat, or an option is out of range.
    """
    check_communities(communities)
    if compounds is not None:
        check_frame(compounds, "compounds", POINT_OR_POLYGON, ("id",))
        check_same_crs(communities=communities, compounds=compounds)
    check_positive(cell_m, "cell_m")
    check_positive(persons_per_household, "persons_per_household")
    crs = choose_metric_crs(communities, metric_crs=metric_crs)
    comm = arrays.project(arrays.geoms(communities), communities.crs, crs)
    return _place(communities, comm, compounds, period, cell_m, persons_per_household, crs)


def _place(
    communities: gpd.GeoDataFrame,
    comm: NDArray[np.object_],
    compounds: gpd.GeoDataFrame | None,
    period: Period | str | int | None,
    cell_m: float,
    persons_per_household: float,
    crs: pyproj.CRS,
) -> PopulationPlacement:
    codes = arrays.codes(communities)
    pop = arrays.population(communities, "communities")
    comp_code = np.empty(0, dtype=object)
    comp_geom = np.empty(0, dtype=object)
    comp_pop = np.empty(0, dtype=np.float64)
    comp_id = np.empty(0, dtype=object)
    unassigned = 0
    if compounds is not None and len(compounds):
        comps = compounds if period is None else compounds[
            existing_during(compounds, period, start_column=None,
                            end_column=arrays.present(compounds, "removed_on"))]
        residents = _compound_residents(comps, persons_per_household)
        geoms = arrays.project(arrays.geoms(comps), comps.crs, crs)
        owner = arrays.containing(shapely.point_on_surface(arrays.geoms(comps)),
                                  arrays.geoms(communities))
        unassigned = int((owner < 0).sum())
        use = (owner >= 0) & np.isfinite(residents) & ~shapely.is_empty(geoms)
        use &= np.isfinite(pop[np.where(owner >= 0, owner, 0)])
        comp_code = codes[owner[use]]
        comp_geom = geoms[use]
        comp_pop = residents[use]
        comp_id = comps["id"].astype("string").to_numpy(dtype=object)[use]
        owner = owner[use]
    else:
        owner = np.empty(0, dtype=np.int64)

    held = np.bincount(owner, weights=comp_pop, minlength=len(codes))
    safe_pop = np.where(np.isfinite(pop), pop, 0.0)
    over = held > safe_pop
    scale = np.where(over & (held > 0), safe_pop / np.where(held > 0, held, 1.0), 1.0)
    comp_pop = comp_pop * scale[owner]
    rest = np.where(np.isfinite(pop), np.maximum(safe_pop - np.minimum(held, safe_pop), 0.0),
                    np.nan)

    polygonal = shapely.get_type_id(comp_geom) != shapely.GeometryType.POINT
    populated = polygonal & (comp_pop > 0)
    free = uncovered_parts(comm, comp_geom[populated])
    nothing_left = shapely.area(free) <= 1e-9 * np.maximum(shapely.area(comm), 1.0)
    free = np.where(nothing_left, comm, free)
    area_rows = np.flatnonzero(np.isfinite(rest) & (rest > 0))

    parts = gpd.GeoDataFrame(
        {
            "code": pd.array(np.concatenate([comp_code, codes[area_rows]]), dtype="string"),
            "kind": pd.array(["compound"] * len(comp_code) + ["area"] * len(area_rows),
                             dtype="string"),
            "compound_id": pd.array(np.concatenate(
                [comp_id, np.full(len(area_rows), None, dtype=object)]), dtype="string"),
            "population": np.concatenate([comp_pop, rest[area_rows]]).astype(np.float64),
        },
        geometry=np.concatenate([comp_geom, free[area_rows]]),
        crs=crs,
    )
    points = _demand_points(parts, cell_m)
    # Scaled compounds plus the rest add up to the community population exactly.
    placed = pd.Series(pop, index=pd.Index(codes, name="code", dtype="string"),
                       name="population")
    return PopulationPlacement(
        parts=parts,
        points=points,
        population=placed,
        metric_crs=crs,
        cell_m=float(cell_m),
        persons_per_household=float(persons_per_household),
        scaled_codes=tuple(str(c) for c in codes[over & (held > 0) & np.isfinite(pop)]),
        compounds_used=len(comp_code),
        compounds_unassigned=unassigned,
    )


def _compound_residents(comps: gpd.GeoDataFrame, persons_per_household: float) -> NDArray[Any]:
    population = arrays.float_column(comps, "population", "compounds")
    households = arrays.float_column(comps, "households", "compounds")
    for name, values in (("population", population), ("households", households)):
        if (values < 0).any():
            raise ParameterError(f"compounds: {name} must be >= 0; got {float(values.min())}")
    return np.where(np.isfinite(population), population, households * persons_per_household)


def _demand_points(parts: gpd.GeoDataFrame, cell_m: float) -> gpd.GeoDataFrame:
    geoms = arrays.geoms(parts)
    pop = parts["population"].to_numpy(dtype=np.float64)
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    poly_rows = np.flatnonzero(~is_point)
    owner, pieces = _grid_pieces(geoms[poly_rows], cell_m)
    piece_area = shapely.area(pieces)
    # Normalised by the kept pieces, so each polygon's points carry all its residents.
    whole = np.bincount(owner, weights=piece_area, minlength=len(poly_rows))
    # A polygon smaller than a sliver keeps its residents at its representative point.
    tiny = poly_rows[whole <= 0]
    single = np.concatenate([np.flatnonzero(is_point), tiny])
    rows = np.concatenate([single, poly_rows[owner]])
    share = np.concatenate([np.ones(len(single)), piece_area / whole[owner]])
    points = np.concatenate([geoms[is_point], shapely.point_on_surface(geoms[tiny]),
                             shapely.centroid(pieces)])
    order = np.argsort(rows, kind="stable")
    rows, share, points = rows[order], share[order], points[order]
    out = parts.iloc[rows].drop(columns="geometry").reset_index(drop=True)
    out["population"] = pop[rows] * share
    return gpd.GeoDataFrame(out, geometry=points, crs=parts.crs)


def _grid_pieces(
    polygons: NDArray[np.object_], cell_m: float
) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """Cut each polygon by a square grid aligned on multiples of ``cell_m``."""
    if not len(polygons):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    b = shapely.bounds(polygons)
    x0 = np.floor(b[:, 0] / cell_m) * cell_m
    y0 = np.floor(b[:, 1] / cell_m) * cell_m
    nx = np.maximum(np.ceil((b[:, 2] - x0) / cell_m), 1).astype(np.int64)
    ny = np.maximum(np.ceil((b[:, 3] - y0) / cell_m), 1).astype(np.int64)
    counts = nx * ny
    owner = np.repeat(np.arange(len(polygons)), counts)
    local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    cx = x0[owner] + (local % nx[owner]) * cell_m
    cy = y0[owner] + (local // nx[owner]) * cell_m
    cells = shapely.box(cx, cy, cx + cell_m, cy + cell_m)
    shapely.prepare(polygons)
    inside = shapely.contains_properly(polygons[owner], cells)
    edge = ~inside & shapely.intersects(polygons[owner], cells)
    pieces = cells.copy()
    pieces[edge] = shapely.intersection(cells[edge], polygons[owner][edge])
    # Slivers where a polygon edge runs along a grid line (off by rounding) carry no one.
    keep = (inside | edge) & (shapely.area(pieces) > 1e-9 * cell_m * cell_m)
    return owner[keep], pieces[keep]
