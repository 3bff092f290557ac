"""Candidate sites for new facilities: compound centroids and a regular grid inside communities.

:func:`candidate_sites` generates the candidates :func:`geo.siting.plan_facility_sites` chooses
from when the user gives none.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
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
from geo.errors import LimitError
from geo.inventory import existing_during
from geo.period import Period, parse_period
from geo.projection import choose_metric_crs

__all__ = ["MAX_GRID_POINTS", "candidate_sites"]

#: Grid candidate points before clipping to the communities (a few hundred MB of points).
MAX_GRID_POINTS = 2_000_000


def candidate_sites(
    communities: gpd.GeoDataFrame,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    spacing_m: float = 250.0,
    period: Period | str | int | None = None,
    metric_crs: Any = None,
) -> gpd.GeoDataFrame:
    """Generate candidate sites: compound centroids and a regular grid inside the communities.

    Parameters
    ----------
    communities
        Community polygons with ``code``.
    compounds
        Compounds (points or polygons) with ``id``; their centroids inside a community become
        candidates (``removed_on`` is used with ``period``).
    spacing_m
        Grid spacing in metres; grid points sit at cell centres of a grid aligned on multiples
        of ``spacing_m`` in the metric CRS.
    period
        Only compounds that existed during it are used; ``None`` uses every row.
    metric_crs
        Projected CRS in metres; default :func:`geo.projection.choose_metric_crs` of the
        communities.

    Returns
    -------
    geopandas.GeoDataFrame
        In the communities' CRS: ``id`` (``compound:<id>`` or ``grid:<n>``), ``source``
        (``compound`` or ``grid``), ``code`` (the community containing it) and the point.

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame.
    ValueError
        When columns are missing, the CRSs differ, geometries have the wrong type or
        ``spacing_m`` is not positive.
    """
    check_communities(communities)
    if compounds is not None:
        check_frame(compounds, "compounds", POINT_OR_POLYGON, ("id",))
        check_same_crs(communities=communities, compounds=compounds)
    check_positive(spacing_m, "spacing_m")
    crs = choose_metric_crs(communities, metric_crs=metric_crs)
    comm = arrays.project(arrays.geoms(communities), communities.crs, crs)
    codes = arrays.codes(communities)

    ids: list[NDArray[np.object_]] = []
    sources: list[NDArray[np.object_]] = []
    owners: list[NDArray[np.int64]] = []
    points: list[NDArray[np.object_]] = []
    if compounds is not None and len(compounds):
        comps = compounds
        if period is not None:
            comps = compounds[existing_during(
                compounds, parse_period(period), start_column=None,
                end_column=arrays.present(compounds, "removed_on")).to_numpy(dtype=bool)]
        centre = np.asarray(shapely.centroid(arrays.project(arrays.geoms(comps), comps.crs, crs)),
                            dtype=object)
        owner = arrays.containing(centre, comm)
        inside = owner >= 0
        ids.append(np.array([f"compound:{i}" for i in comps["id"].astype("string")],
                            dtype=object)[inside])
        sources.append(np.full(int(inside.sum()), "compound", dtype=object))
        owners.append(owner[inside])
        points.append(centre[inside])
    xmin, ymin, xmax, ymax = shapely.total_bounds(comm)
    nx = math.ceil(xmax / spacing_m) - math.floor(xmin / spacing_m)
    ny = math.ceil(ymax / spacing_m) - math.floor(ymin / spacing_m)
    if nx * ny > MAX_GRID_POINTS:
        # Checked before any array is made: a tiny spacing (or radius) would otherwise ask
        # for a grid larger than memory.
        raise LimitError(f"spacing_m: a {spacing_m:g} m candidate grid over the communities has "
                         f"{nx * ny:,} points (limit {MAX_GRID_POINTS:,}); use a coarser "
                         f"spacing (or a larger radius) or give the candidates",
                         parameter="spacing_m")
    xs = (np.arange(math.floor(xmin / spacing_m), math.ceil(xmax / spacing_m)) + 0.5) * spacing_m
    ys = (np.arange(math.floor(ymin / spacing_m), math.ceil(ymax / spacing_m)) + 0.5) * spacing_m
    gx, gy = np.meshgrid(xs, ys)
    grid = np.asarray(shapely.points(gx.ravel(), gy.ravel()), dtype=object)
    owner = arrays.containing(grid, comm)
    inside = owner >= 0
    ids.append(np.array([f"grid:{i}" for i in range(int(inside.sum()))], dtype=object))
    sources.append(np.full(int(inside.sum()), "grid", dtype=object))
    owners.append(owner[inside])
    points.append(grid[inside])
    owner_all = np.concatenate(owners)
    return gpd.GeoDataFrame(
        {
            "id": pd.array(np.concatenate(ids), dtype="string"),
            "source": pd.array(np.concatenate(sources), dtype="string"),
            "code": pd.array(codes[owner_all], dtype="string"),
        },
        geometry=arrays.project(np.concatenate(points), crs, communities.crs),
        crs=communities.crs,
    )
