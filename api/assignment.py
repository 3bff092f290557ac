"""Assign incidents to communities: a load's new ones, and every stored one after a boundary load.

By the point (a community contains it), else within the load's snapping tolerance, else by the
reported code (:func:`assign_incidents`). A re-assignment streams the stored incidents in
batches of ``batch_rows`` (memory bounded by the batch, not the table) and writes only the rows
whose assignment changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from api import period_tables
from api.models import communities, incidents, loads
from geo.snap_assign import assign_with_snap

__all__ = ["Assigned", "assign_incidents", "assign_new_incidents", "current_communities",
           "reassign_incidents"]

_BATCH = 5000
#: Incidents read per batch by a re-assignment.
REASSIGN_BATCH_ROWS = 200_000


def current_communities(conn: sa.Connection) -> gpd.GeoDataFrame:
    """The communities not retired, ``code`` and geometry (EPSG:4326), by code."""
    rows = conn.execute(
        sa.select(communities.c.code, sa.func.ST_AsBinary(communities.c.geom))
        .where(communities.c.retired_on.is_(None)).order_by(communities.c.code)).all()
    geoms: Any = shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else []
    return gpd.GeoDataFrame({"code": [r[0] for r in rows]}, geometry=list(geoms),
                            crs="EPSG:4326")


@dataclass(frozen=True)
class Assigned:
    """Community and method (``assigned_by``) per incident, and what the load report counts."""

    codes: pd.Series
    method: pd.Series
    mismatches: int
    snapped: int
    ambiguous: int

    def counts(self) -> dict[str, int]:
        """The report's counts: mismatches, unassigned, snapped, snap_ambiguous."""
        return {"mismatches": self.mismatches, "unassigned": int(self.codes.isna().sum()),
                "snapped": self.snapped, "snap_ambiguous": self.ambiguous}


def assign_incidents(points: gpd.GeoSeries, reported: pd.Series, comms: gpd.GeoDataFrame,
                     snap_m: float | np.ndarray) -> Assigned:
    """Community and method per incident: by the point, else by the reported code.

    ``point``: a community contains the point; ``snap``: the point is in none and only one
    community lies within ``snap_m`` metres; ``code``: no point, a known reported code.
    """
    n = len(points)
    assigned = pd.Series(pd.NA, index=points.index, dtype="string")
    method = pd.Series(pd.NA, index=points.index, dtype="string")
    if n == 0:
        return Assigned(assigned, method, 0, 0, 0)
    has_point = ~points.isna().to_numpy()
    snapped = ambiguous = 0
    if len(comms) and has_point.any():
        tolerance = snap_m[has_point] if isinstance(snap_m, np.ndarray) else snap_m
        by_point = assign_with_snap(points[has_point], comms, snap_m=tolerance)
        assigned[has_point] = by_point.community_code.to_numpy()
        method[has_point] = by_point.assigned_by.to_numpy()
        snapped, ambiguous = by_point.n_snapped, by_point.n_ambiguous
    known = set(comms["code"]) if len(comms) else set()
    code_only = ~has_point & reported.notna().to_numpy()
    if code_only.any():
        rep = reported[code_only]
        ok = rep.isin(known).to_numpy()
        idx = rep.index[ok]
        assigned[idx] = rep[ok].to_numpy()
        method[idx] = "code"
    mismatch = has_point & reported.notna().to_numpy() & assigned.notna().to_numpy()
    mismatches = int((assigned[mismatch] != reported[mismatch]).sum()) if mismatch.any() else 0
    return Assigned(assigned, method, mismatches, snapped, ambiguous)


def assign_new_incidents(conn: sa.Connection, frame: pd.DataFrame, snap_m: float,
                         comms: gpd.GeoDataFrame | None = None
                         ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Assign a load's incidents (``comms``: the current communities, read if not given).

    Returns the frame with ``reported_community``, ``community_code`` and ``assigned_by``,
    and the counts and warnings of :class:`api.loading.LoadReport`.
    """
    if comms is None:
        comms = current_communities(conn)
    reported = frame["community_code"]
    result = assign_incidents(frame.geometry, reported, comms, snap_m)
    out = frame.rename(columns={"community_code": "reported_community"})
    out["community_code"] = result.codes
    out["assigned_by"] = result.method
    notes = []
    if result.mismatches:
        notes.append(f"{result.mismatches} incidents lie in another community than their "
                     f"community_code says; their point wins")
    if not len(comms):
        notes.append("no communities are loaded yet: incidents stay unassigned until the "
                     "communities are loaded")
    return out, {**result.counts(), "warnings": notes}


def reassign_incidents(conn: sa.Connection, *, progress: Callable[[str], None] | None = None,
                       batch_rows: int = REASSIGN_BATCH_ROWS) -> dict[str, int]:
    """Re-assign every stored incident to the current communities (after a boundary change).

    The incidents are read in batches of ``batch_rows`` in id order (keyset pagination on the
    primary key), so memory is bounded by the batch; only the rows whose assignment changed
    are written, through a staging table, by one update at the end.

    Each incident keeps the snapping tolerance of the load that last wrote it
    (``loads.snap_m``).

    Returns
    -------
    dict
        ``reassigned`` (rows changed), ``unassigned`` (incidents in no community),
        ``snapped`` and ``snap_ambiguous`` (see :class:`api.loading.LoadReport`).
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be >= 1; got {batch_rows!r}")
    comms = current_communities(conn)
    md = sa.MetaData()
    stage = sa.Table("pingan_stage_assign", md,
                     sa.Column("id", sa.String(100), primary_key=True),
                     sa.Column("community_code", sa.String(64)),
                     sa.Column("assigned_by", sa.String(8)), prefixes=["TEMPORARY"])
    stage.create(conn)
    totals = {"reassigned": 0, "unassigned": 0, "snapped": 0, "snap_ambiguous": 0}
    try:
        last: str | None = None
        while True:
            rows = _incident_batch(conn, last, batch_rows)
            if not rows:
                break
            last = rows[-1][0]
            counts = _reassign_batch(conn, stage, rows, comms)
            for k, val in counts.items():
                totals[k] += val
            if progress is not None:
                progress(f"re-assigned up to incident {last}")
            if len(rows) < batch_rows:
                break
        if totals["reassigned"]:
            with period_tables.kept_exact(conn, sa.select(stage.c.id), timezone=None):
                conn.execute(incidents.update().where(incidents.c.id == stage.c.id).values(
                    community_code=stage.c.community_code, assigned_by=stage.c.assigned_by))
    finally:
        stage.drop(conn)
    return totals


def _incident_batch(conn: sa.Connection, after: str | None, limit: int) -> list[Any]:
    """The next ``limit`` incidents by id after ``after``: id, x, y, codes, method, snap_m."""
    # Plain columns and x/y read straight from the driver's cursor: the rows need no type
    # processing, and reading them is most of the time of a re-assignment.
    query = sa.select(
        incidents.c.id, sa.func.ST_X(incidents.c.geom), sa.func.ST_Y(incidents.c.geom),
        incidents.c.reported_community, incidents.c.community_code, incidents.c.assigned_by,
        loads.c.snap_m).select_from(incidents.outerjoin(loads, incidents.c.load_id == loads.c.id))
    if after is not None:
        query = query.where(incidents.c.id > after)
    result = conn.execute(query.order_by(incidents.c.id).limit(limit))
    rows = result.cursor.fetchall()
    result.close()
    return list(rows)


def _reassign_batch(conn: sa.Connection, stage: sa.Table, rows: list[Any],
                    comms: gpd.GeoDataFrame) -> dict[str, int]:
    """Assign one batch, stage the rows whose assignment changed; the batch's counts."""
    cols = list(zip(*rows, strict=True))
    ids = pd.Index(cols[0])
    xy = np.array([cols[1], cols[2]], dtype=np.float64)  # NULL (no location) becomes NaN
    located = np.isfinite(xy).all(axis=0)
    geoms = np.full(len(ids), None, dtype=object)
    geoms[located] = shapely.points(xy[0, located], xy[1, located])
    points = gpd.GeoSeries(geoms, index=ids, crs="EPSG:4326")
    reported = pd.Series(cols[3], index=ids, dtype="string")
    before = pd.Series(cols[4], index=ids, dtype="string")
    before_m = pd.Series(cols[5], index=ids, dtype="string")
    snap_m = np.nan_to_num(np.array(cols[6], dtype=np.float64))  # NULL: a load without snapping
    res = assign_incidents(points, reported, comms, snap_m)
    assigned, method = res.codes, res.method
    changed = ~((assigned == before).fillna(assigned.isna() & before.isna())
                & (method == before_m).fillna(method.isna() & before_m.isna()))
    changed_ids = ids[changed.to_numpy()]
    vals = [{"id": i, "community_code": None if pd.isna(c) else c,
             "assigned_by": None if pd.isna(m) else m}
            for i, c, m in zip(changed_ids, assigned[changed_ids], method[changed_ids],
                               strict=True)]
    for start in range(0, len(vals), _BATCH):
        conn.execute(stage.insert(), vals[start:start + _BATCH])
    counts = res.counts()
    return {"reassigned": len(changed_ids), "unassigned": counts["unassigned"],
            "snapped": counts["snapped"], "snap_ambiguous": counts["snap_ambiguous"]}
