"""Assign incidents to communities: a load's new ones, and every stored one after a boundary load.

By the point (a community contains it), else within the load's snapping tolerance, else by the
reported code (:func:`assign_incidents`). A re-assignment streams the stored incidents in
batches of ``batch_rows`` (memory bounded by the batch, not the table) and writes only the rows
whose assignment changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from api import period_tables
from api.dialect import is_sqlite
from api.models import communities, incidents, loads
from geo.snap_assign import BY_SNAP, CommunityAssigner, assign_with_snap

__all__ = ["Assigned", "assign_incidents", "assign_new_incidents", "current_communities",
           "reassign_incidents"]

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

    One query streams the stored incidents (id, x and y as numbers, reported code, current
    assignment, load) in batches of ``batch_rows``, so memory is bounded by the batch; the
    communities are indexed once (:class:`geo.snap_assign.CommunityAssigner`) and each batch is
    assigned as coordinate arrays. Only the rows whose assignment changed are staged (SQLite:
    ``executemany``; PostgreSQL: ``COPY``) and written by one ``UPDATE … FROM`` at the end, in
    the caller's transaction.

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
    assigner = CommunityAssigner.build(comms) if len(comms) else None
    known = frozenset(comms["code"])
    snap_of_load = _snap_by_load(conn)
    stage = sa.Table("pingan_stage_assign", sa.MetaData(),
                     sa.Column("id", sa.String(100), primary_key=True),
                     sa.Column("community_code", sa.String(64)),
                     sa.Column("assigned_by", sa.String(8)), prefixes=["TEMPORARY"])
    stage.create(conn)
    totals = {"reassigned": 0, "unassigned": 0, "snapped": 0, "snap_ambiguous": 0}
    for rows in _stored_incidents(conn, batch_rows):
        changed, counts = _reassign_batch(rows, assigner, known, snap_of_load)
        _stage_changes(conn, stage, changed)
        for k, val in counts.items():
            totals[k] += val
        if progress is not None:
            progress(f"re-assigned {len(rows):,} incidents; {counts['reassigned']:,} changed")
    if totals["reassigned"]:
        # The period tables follow the changed rows (listed in ``stage``) in this transaction.
        with period_tables.kept_exact(conn, sa.select(stage.c.id), timezone=None):
            conn.execute(incidents.update().where(incidents.c.id == stage.c.id).values(
                community_code=stage.c.community_code, assigned_by=stage.c.assigned_by))
    # Dropped on success only: a failed transaction rolls the temporary table back, and on
    # PostgreSQL a DROP in the aborted transaction would hide the real error.
    stage.drop(conn)
    return totals


def _snap_by_load(conn: sa.Connection) -> np.ndarray:
    """The snapping tolerance (m) of each load, indexed by load id (0 where none)."""
    rows = conn.execute(sa.select(loads.c.id, loads.c.snap_m)).all()
    table = np.zeros(max((int(r[0]) for r in rows), default=0) + 1)
    for load_id, snap_m in rows:
        table[int(load_id)] = float(snap_m or 0.0)
    return table


def _stored_incidents(conn: sa.Connection, batch_rows: int) -> Iterator[Sequence[Any]]:
    """Every stored incident in batches: id, x, y, reported code, code, method, load id.

    One query, its rows fetched straight from the driver's cursor (no type processing); on
    PostgreSQL a server-side cursor, so the table is never held in memory.
    """
    query = sa.select(
        incidents.c.id, sa.func.ST_X(incidents.c.geom), sa.func.ST_Y(incidents.c.geom),
        incidents.c.reported_community, incidents.c.community_code, incidents.c.assigned_by,
        incidents.c.load_id)
    sql = str(query.compile(dialect=conn.dialect))
    raw: Any = conn.connection.dbapi_connection
    # a named cursor is a server-side one (psycopg); SQLite steps through the table anyway
    cursor = raw.cursor() if is_sqlite(conn) else raw.cursor(name="pingan_reassign")
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch_rows):
            yield rows
    finally:
        cursor.close()


def _reassign_batch(rows: Sequence[Any], assigner: CommunityAssigner | None, known: frozenset[str],
                    snap_of_load: np.ndarray) -> tuple[list[tuple[Any, Any, Any]], dict[str, int]]:
    """Assign one batch (as :func:`assign_incidents` does): its changed rows and its counts."""
    ids, xs, ys, reported, before, before_by, load_ids = zip(*rows, strict=True)
    x = np.array(xs, dtype=np.float64)  # NULL (no location) becomes NaN
    y = np.array(ys, dtype=np.float64)
    located = np.isfinite(x) & np.isfinite(y)
    codes = np.full(len(rows), None, dtype=object)
    by = np.full(len(rows), None, dtype=object)
    snapped = ambiguous = 0
    if assigner is not None and located.any():
        snap_m = snap_of_load[np.array(load_ids, dtype=np.int64)]
        res = assigner.assign_xy(x[located], y[located], snap_m[located])
        codes[located], by[located] = res.codes, res.assigned_by
        snapped, ambiguous = int((res.assigned_by == BY_SNAP).sum()), int(res.ambiguous.sum())
    for i in np.flatnonzero(~located):  # no point: the reported code, when it is a community
        if reported[i] is not None and reported[i] in known:
            codes[i], by[i] = reported[i], "code"
    changed = np.flatnonzero((codes != np.array(before, dtype=object))
                             | (by != np.array(before_by, dtype=object)))
    staged = [(ids[i], codes[i], by[i]) for i in changed]
    return staged, {"reassigned": len(staged), "unassigned": int(pd.isna(codes).sum()),
                    "snapped": snapped, "snap_ambiguous": ambiguous}


def _stage_changes(conn: sa.Connection, stage: sa.Table, rows: list[tuple[Any, Any, Any]]
                   ) -> None:
    """Bulk-insert (id, community_code, assigned_by) rows: ``COPY`` on PostgreSQL."""
    if not rows:
        return
    if is_sqlite(conn):
        conn.exec_driver_sql(f"INSERT INTO {stage.name} (id, community_code, assigned_by) "
                             "VALUES (?, ?, ?)", rows)
        return
    with conn.connection.driver_connection.cursor() as cur, cur.copy(  # type: ignore[union-attr]
            f"COPY {stage.name} (id, community_code, assigned_by) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
