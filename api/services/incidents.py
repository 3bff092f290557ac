"""Raw incidents and community boundaries, as the caller may see them.

Raw incidents (points, ids, times, addresses) exist only for admin and, inside their world,
for a liaison (:mod:`api.release`); everyone else is refused before any row is read. Every
read is audited by the route with the number of rows released.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from api import store
from api.errors import ForbiddenError
from api.release import Selection, Visibility, release_provenance
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.categories import resolve_categories
from api.services.units import world_communities
from geo.errors import NotFoundError
from geo.period import Period

__all__ = ["COMMUNITY_COLUMNS", "INCIDENT_COLUMNS", "communities_report", "community_report",
           "incidents_report"]

#: Columns of an incident row (plus ``geometry`` in GeoJSON).
INCIDENT_COLUMNS = ["id", "occurred_at", "category", "status", "address", "location_precision",
                    "community_code", "assigned_by", "reported_community", "longitude",
                    "latitude"]
#: Columns of a community row.
COMMUNITY_COLUMNS = ["code", "name", "subdistrict_code", "subdistrict", "district_code",
                     "district", "population", "households", "geometry"]


def incidents_query(ctx: ServiceContext, vis: Visibility, *, period: Period | None,
                    categories: Sequence[str] = (), selection: Selection | None = None
                    ) -> store.IncidentQuery:
    """The query of the raw incidents a caller may read (refused for aggregate-only roles).

    Raises
    ------
    api.errors.ForbiddenError
        For a caller without raw access.
    """
    vis.check_raw()
    cats = resolve_categories(ctx, vis, categories).raw
    scope = selection.communities if selection is not None else None
    if scope is None:
        scope = vis.community_filter()
    return store.IncidentQuery(
        period=period, timezone=ctx.timezone,
        categories=cats, communities=scope, bbox=selection.bbox if selection is not None else None)


def incidents_report(ctx: ServiceContext, vis: Visibility, *, period: Period | None,
                     categories: Sequence[str] = (), selection: Selection | None = None,
                     limit: int | None = 1000, offset: int = 0) -> tuple[Report, int]:
    """A page of raw incidents by time, and the number matching.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller (admin, or a liaison: their world only).
    period
        The period, or ``None`` for all time.
    categories
        Only these categories.
    selection
        Only these communities and this bbox.
    limit, offset
        The page.

    Returns
    -------
    tuple of (Report, int)
        The page (times in the configured time zone, longitude/latitude columns) and the
        total number of matching incidents.
    """
    query = incidents_query(ctx, vis, period=period, categories=categories,
                            selection=selection)
    with ctx.engine.connect() as conn:
        total = store.count_incidents(conn, query)
        frame = store.read_incidents(conn, query, limit=limit, offset=offset)
    frame["occurred_at"] = frame["occurred_at"].dt.tz_convert(ctx.timezone)
    located = ~frame.geometry.isna().to_numpy()
    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    if located.any():
        lon[located] = frame.geometry[located].x.to_numpy()
        lat[located] = frame.geometry[located].y.to_numpy()
    frame["longitude"] = lon
    frame["latitude"] = lat
    prov = period_provenance(period, ctx.timezone) if period is not None else {}
    prov.update({"data_version": ctx.data_version(), "generated_at": generated_at(),
                 **resolve_categories(ctx, vis, categories).provenance(),
                 **(selection.provenance() if selection else {})})
    report = Report(frame[[*INCIDENT_COLUMNS, "geometry"]], release_provenance(prov, vis=vis),
                    "incidents")
    return report, total


def communities_report(ctx: ServiceContext, vis: Visibility, *,
                       selection: Selection | None = None) -> Report:
    """The communities of the caller's world (boundaries and attributes; no incident data)."""
    comms = world_communities(ctx, vis)
    if selection is not None and selection.communities is not None:
        comms = comms[comms["code"].isin(selection.communities)]
    if selection is not None and selection.bbox is not None:
        # Boundaries are no incident data: a bbox selects the communities it meets.
        comms = comms[comms.intersects(shapely.box(*selection.bbox))]
    prov = {"data_version": ctx.data_version(), "generated_at": generated_at(),
            **(selection.provenance() if selection else {})}
    return Report(comms[COMMUNITY_COLUMNS].reset_index(drop=True),
                  release_provenance(prov, vis=vis), "communities")


def community_report(ctx: ServiceContext, vis: Visibility, code: str) -> Report:
    """One community by code (retired ones too), if it is in the caller's world.

    Raises
    ------
    geo.errors.NotFoundError
        If no community has that code.
    api.errors.ForbiddenError
        If it lies outside the caller's world.
    """
    with ctx.engine.connect() as conn:
        frame = store.read_communities(conn, codes=[code], include_retired=True)
    if frame.empty:
        raise NotFoundError(f"no community with code {code!r}", parameter="code")
    if not vis.in_world(frame["code"]).all():
        raise ForbiddenError(f"community {code!r} lies outside this key's jurisdiction")
    prov = {"data_version": ctx.data_version(), "generated_at": generated_at()}
    return Report(frame[COMMUNITY_COLUMNS], release_provenance(prov, vis=vis),
                  f"community {code}")
