"""The roads layer as the workspace's background: street lines of the caller's area.

Roads hold no incident data; a liaison is given the streets that meet their own communities
(or the places they select inside them; within about 50 m, so that boundary streets are
drawn), clipped to that area, other callers the whole network or their selection. A
city without a roads layer answers an empty collection with a note, not an error: the
workspace then draws its neutral background of boundaries and names only.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from api.release import Selection, Visibility, release_provenance
from api.roads import count_roads, read_road_edges
from api.services import Report, ServiceContext, generated_at
from api.services.units import world_communities

__all__ = ["STREET_COLUMNS", "street_lines", "streets_report"]

#: Columns of a street row (with its geometry).
STREET_COLUMNS = ("road_class", "name")
#: Simplification of the drawn lines, in degrees (about a metre).
_TOLERANCE_DEG = 1e-5
#: Streets this close to the area count as meeting it (about 50 m): the streets along a
#: boundary are drawn though their stored lines may lie a hair outside it.
_MARGIN_DEG = 5e-4


def street_lines(ctx: ServiceContext) -> gpd.GeoDataFrame:
    """Every current street (class, name, simplified line), cached per data version."""
    def load() -> gpd.GeoDataFrame:
        with ctx.engine.connect() as conn:
            if count_roads(conn) == 0:
                return gpd.GeoDataFrame({c: pd.Series(dtype="string") for c in STREET_COLUMNS},
                                        geometry=gpd.GeoSeries([], crs="EPSG:4326"))
            edges = read_road_edges(conn)
        lines = shapely.simplify(edges.geometry.to_numpy(), _TOLERANCE_DEG)
        return gpd.GeoDataFrame(edges[list(STREET_COLUMNS)].reset_index(drop=True),
                                geometry=list(lines), crs="EPSG:4326")
    network: gpd.GeoDataFrame = ctx.cached("street_lines", (), load)
    return network


def streets_report(ctx: ServiceContext, vis: Visibility, *,
                   selection: Selection | None = None) -> Report:
    """The streets meeting the caller's area (their world, or the places they selected).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    selection
        Places named by the request (resolved against the caller's world).

    Returns
    -------
    api.services.Report
        ``road_class``, ``name`` and the line of each street edge.
    """
    lines = street_lines(ctx)
    notes = [] if len(lines) else ["no roads layer is loaded (`pingan load roads FILE`)"]
    area: BaseGeometry | None = None
    chosen = None if selection is None else selection.communities
    if chosen is not None or vis.communities is not None:
        comms = world_communities(ctx, vis)
        if chosen is not None:
            comms = comms[comms["code"].isin(chosen)]
        area = shapely.union_all(comms.geometry.to_numpy()).buffer(_MARGIN_DEG)
    if selection is not None and selection.bbox is not None:
        box = shapely.box(*selection.bbox)
        area = box if area is None else area.intersection(box)
    if area is not None and len(lines):
        # clipped: a long road reaching far outside the area is drawn only where it meets it
        lines = lines.iloc[lines.sindex.query(area, predicate="intersects")].sort_index()
        lines = lines.set_geometry(shapely.intersection(lines.geometry.to_numpy(), area),
                                   crs="EPSG:4326")
        lines = lines[~lines.geometry.is_empty]
    prov = {"data_version": ctx.data_version(), "generated_at": generated_at(),
            **(selection.provenance() if selection else {})}
    if notes:
        prov["notes"] = notes
    return Report(lines.reset_index(drop=True), release_provenance(prov, vis=vis), "streets")
