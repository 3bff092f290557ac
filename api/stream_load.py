"""Streaming load of a large incidents file: batch by batch, one transaction, bounded memory.

A CSV or (Geo)Parquet file is read ``batch_rows`` records at a time
(:func:`geo.sources.iter_source`, reading each record as a whole-file read does); each batch is
validated (:func:`geo.readers.validate_source`), assigned to the communities (read once) and
staged. Repeated ids are found at the end through the staging tables' id index, across batches, and
rejected as a whole-file read rejects them (every occurrence); the staged rows are then upserted
into ``incidents`` by one statement. Memory is bounded by the batch, not the file. Strict mode, or
no valid row, raises inside the transaction: nothing is stored. Coordinate hints (:mod:`geo.hints`)
look at the first batch.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api import period_tables
from api.assignment import assign_new_incidents, current_communities
from api.bulk_stage import (
    create_stage_indexes,
    incident_stage,
    merge_stage,
    stage_ids,
    stage_rows,
    write_stage,
)
from api.db import bump_data_version, lock_data_writes, utcnow
from api.models import communities, incidents, load_coverage, loads
from api.release import record_keys_of
from api.staging import stored_columns
from geo import validate as v
from geo.crs import parse_crs
from geo.fields import check_mapping_targets
from geo.hints import coordinate_hints
from geo.layers import layer_spec
from geo.readers import (
    ReadResult,
    RejectedRowsError,
    Rejection,
    parse_field_mappings,
    raise_if_unusable,
    validate_source,
)
from geo.sources import iter_source

__all__ = ["LOAD_BATCH_ROWS", "stream_incidents"]

#: Records per batch of a streaming load.
LOAD_BATCH_ROWS = 100_000
#: A streaming load with a progress bar shows it once this many rows are read.
PROGRESS_MIN_ROWS = 100_000


def stream_incidents(
    engine: Engine,
    path: Path,
    *,
    fmt: str = "csv",
    batch_rows: int,
    file_name: str,
    sha256: str,
    crs: str | None,
    encoding: str | None,
    fields: Mapping[str, str] | None,
    strict: bool,
    timezone: str,
    loaded_by: str | None,
    snap_m: float,
    covers: tuple[dt.date, dt.date] | None,
    options: dict[str, Any],
    progress: bool = False,
) -> dict[str, Any]:
    """Load an incidents file (``fmt``: ``csv`` or ``parquet``) in batches as one transaction.

    See the module docstring.

    ``progress`` shows a bar of the rows read on stderr once a load passes
    :data:`PROGRESS_MIN_ROWS` (the command line; never in the API).

    Returns
    -------
    dict
        The fields of :class:`api.loading.LoadReport`.

    Raises
    ------
    geo.readers.InputError, geo.readers.RejectedRowsError
        Bad file or, in strict mode, bad rows; nothing is stored.
    """
    spec = layer_spec("incidents")
    v.check_timezone(timezone)
    mapping = parse_field_mappings(fields)
    check_mapping_targets(spec, mapping)
    crs_spec = parse_crs(crs) if crs is not None else None
    columns = stored_columns(incidents, "incidents", spec.columns)
    with engine.begin() as conn:
        lock_data_writes(conn)
        inserted = conn.execute(loads.insert().values(
            layer="incidents", file_name=file_name, sha256=sha256, loaded_at=utcnow(),
            rows_read=0, rows_loaded=0, rows_updated=0, rows_rejected=0, rows_removed=0,
            replace=False, options="{}", loaded_by=loaded_by, snap_m=float(snap_m),
        )).inserted_primary_key
        assert inserted is not None
        load_id = int(inserted[0])
        comms = current_communities(conn)
        stage = incident_stage(incidents, columns)
        ids = stage_ids()
        stage.create(conn)
        ids.create(conn)
        bar = _Progress(progress)
        try:
            read = _Batches(fmt)
            for raw in iter_source(path, fmt, encoding=encoding, chunk_rows=batch_rows):
                result = validate_source(raw, spec, path=path, fmt=fmt, mapping=mapping,
                                         crs=crs_spec, timezone=timezone, duplicates=False)
                read.add(conn, result, stage, ids, load_id, snap_m, comms)
                bar.update(read.rows_read)
            if read.rows_read == 0:
                raise RejectedRowsError(f"{path}: the file has no records", read.result(path))
            create_stage_indexes(conn, stage, ids)
            read.reject_duplicates(conn, stage, ids)
            raise_if_unusable(read.result(path), strict=strict)
            counts = _counts(conn, stage)
            _record_coverage(conn, load_id, stage, covers, timezone)
            staged = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
            with period_tables.kept_exact(conn, sa.select(stage.c.id), timezone=timezone):
                updated = merge_stage(conn, incidents, stage, columns)
            # Dropped on success only: a failed transaction rolls the temporary tables back,
            # and on PostgreSQL a DROP in the aborted transaction would hide the real error.
            stage.drop(conn)
            ids.drop(conn)
        finally:
            bar.close()
        options = {**options, "fields": dict(read.field_sources)}
        conn.execute(loads.update().where(loads.c.id == load_id).values(
            rows_read=read.rows_read, rows_loaded=int(staged) - updated, rows_updated=updated,
            rows_rejected=read.rows_rejected, source_crs=read.source_crs,
            options=json.dumps(options, ensure_ascii=False)))
        version = bump_data_version(conn)
    warnings = list(read.warnings)
    if counts["mismatches"]:
        warnings.append(f"{counts['mismatches']} incidents lie in another community than their "
                        f"community_code says; their point wins")
    if not len(comms):
        warnings.append("no communities are loaded yet: incidents stay unassigned until the "
                        "communities are loaded")
    warnings.extend(read.hints)
    return {
        "load_id": load_id, "data_version": version, "rows_read": read.rows_read,
        "rows_loaded": int(staged) - updated, "rows_updated": updated,
        "rows_rejected": read.rows_rejected, "rejections": tuple(read.sorted_rejections()),
        "warnings": tuple(warnings), "incidents_unassigned": counts["unassigned"],
        "community_mismatches": counts["mismatches"], "incidents_snapped": counts["snapped"],
        "incidents_snap_ambiguous": read.ambiguous, "source_crs": read.source_crs,
    }


class _Progress:
    """A bar of the rows read on stderr, opened once a load passes :data:`PROGRESS_MIN_ROWS`."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.bar: Any = None

    def update(self, rows_read: int) -> None:
        """Show ``rows_read`` rows read so far."""
        if not self.wanted or rows_read < PROGRESS_MIN_ROWS:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(desc="loading incidents", unit="rows", file=sys.stderr)
        self.bar.update(rows_read - self.bar.n)

    def close(self) -> None:
        """Close the bar, if shown."""
        if self.bar is not None:
            self.bar.close()


class _Batches:
    """What the batches of one streaming load add up to."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.rows_read = 0
        self.rejections: list[Rejection] = []
        self.warnings: list[str] = []
        self.hints: list[str] = []
        self.ambiguous = 0
        self.source_crs: str | None = None
        self.field_sources: Mapping[str, str] = {}
        self._valid = 0

    @property
    def rows_rejected(self) -> int:
        """Distinct rejected rows."""
        return len({r.row for r in self.rejections})

    def sorted_rejections(self) -> list[Rejection]:
        """Every rejection, by row and field."""
        return sorted(self.rejections, key=lambda r: (r.row, r.field))

    def result(self, path: Path) -> ReadResult:
        """A read result holding the report (no rows) for :func:`raise_if_unusable`."""
        # No columns: only the number of valid rows matters to the caller.
        frame = pd.DataFrame(index=pd.RangeIndex(self._valid))
        return ReadResult("incidents", frame,
                          tuple(self.sorted_rejections()), tuple(self.warnings + self.hints),
                          self.rows_read, str(path), self.fmt, self.source_crs,
                          self.field_sources)

    def add(self, conn: sa.Connection, result: ReadResult, stage: sa.Table, ids: sa.Table,
            load_id: int, snap_m: float, comms: Any) -> None:
        """Stage one validated batch (its rows numbered from the file's start)."""
        offset = self.rows_read
        self.rows_read += result.rows_read
        self.source_crs = result.source_crs
        self.field_sources = result.field_sources
        for w in result.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
        self.rejections.extend(Rejection(r.row + offset, r.field, r.reason, r.value,
                                         r.record_id) for r in result.rejections)
        frame, extra = assign_new_incidents(conn, result.frame, float(snap_m), comms)
        self.ambiguous += int(extra["snap_ambiguous"])
        if offset == 0:
            self.hints = _hints(result, frame, comms)
        # An id longer than its column was rejected for that, and cannot repeat a valid id.
        fits = layer_spec("incidents").field("id").max_length
        rejected_ids = {(r.row + offset, r.record_id) for r in result.rejections
                        if r.record_id is not None
                        and (fits is None or len(r.record_id) <= fits)}
        row_no = np.asarray(frame.index, dtype=np.int64) + offset + 1
        write_stage(conn, ids, ["id", "row_no"], [
            frame["id"].astype(str).tolist() + [i for _, i in rejected_ids],
            row_no.tolist() + [row for row, _ in rejected_ids]])
        if not len(frame):
            return
        self._valid += len(frame)
        frame = frame.assign(rkey=record_keys_of(conn, frame["id"]))
        write_stage(conn, stage, [c.name for c in stage.columns],
                    stage_rows(frame, stage, load_id, row_no))

    def reject_duplicates(self, conn: sa.Connection, stage: sa.Table, ids: sa.Table) -> None:
        """Reject every row whose id appears more than once in the file (across batches)."""
        repeated = sa.select(ids.c.id).group_by(ids.c.id).having(sa.func.count() > 1)
        rows = conn.execute(sa.select(ids.c.id, ids.c.row_no).where(ids.c.id.in_(repeated))
                            .order_by(ids.c.id, ids.c.row_no)).all()
        if not rows:
            return
        groups: dict[str, list[int]] = {}
        for i, row in rows:
            groups.setdefault(i, []).append(int(row))
        for key, rownums in groups.items():
            listed = ", ".join(map(str, rownums[:6])) + (" ..." if len(rownums) > 6 else "")
            reason = (f"id {key!r} appears {len(rownums)} times in the file (rows {listed}); "
                      f"ids must be unique")
            self.rejections.extend(Rejection(r, "id", reason, key, key) for r in rownums)
        deleted = conn.execute(stage.delete().where(stage.c.id.in_(repeated)))
        self._valid -= int(deleted.rowcount or 0)


def _hints(result: ReadResult, frame: pd.DataFrame, comms: Any) -> list[str]:
    """Coordinate hints (swapped axes, GCJ-02/BD-09) on one batch."""
    points = result.source_points
    if points is None:
        return []
    loaded = np.zeros(result.rows_read, dtype=bool)
    loaded[result.frame.index.to_numpy()] = True
    inside = np.zeros(result.rows_read, dtype=bool)
    inside[frame.index[frame["community_code"].notna().to_numpy()].to_numpy()] = True
    inside &= points.located
    return coordinate_hints(points, loaded=loaded, areas=comms.geometry.to_numpy(),
                            inside=inside)


def _counts(conn: sa.Connection, stage: sa.Table) -> dict[str, int]:
    """Unassigned, mismatched and snapped incidents among the staged rows."""
    c = stage.c
    mismatch = sa.and_(c.reported_community.is_not(None), c.community_code.is_not(None),
                       c.x.is_not(None), c.reported_community != c.community_code)
    row = conn.execute(sa.select(
        sa.func.count().filter(c.community_code.is_(None)),
        sa.func.count().filter(mismatch),
        sa.func.count().filter(c.assigned_by == "snap"))).one()
    return {"unassigned": int(row[0]), "mismatches": int(row[1]), "snapped": int(row[2])}


def _record_coverage(conn: sa.Connection, load_id: int, stage: sa.Table,
                     covers: tuple[dt.date, dt.date] | None, timezone: str) -> None:
    """Record the days the load covers for each district its staged incidents lie in."""
    if covers is None:
        first, last = conn.execute(sa.select(sa.func.min(stage.c.occurred_at),
                                             sa.func.max(stage.c.occurred_at))).one()
        if first is None:
            return
        local = pd.to_datetime(pd.Series([first, last]), utc=True).dt.tz_convert(timezone)
        covers = (local.iloc[0].date(), local.iloc[1].date())
    codes = sa.select(stage.c.community_code).where(stage.c.community_code.is_not(None))
    rows = conn.execute(sa.select(communities.c.district_code).distinct()
                        .where(communities.c.code.in_(codes))).all()
    if rows:
        conn.execute(load_coverage.insert(), [
            {"load_id": load_id, "district_code": r[0], "first_day": covers[0],
             "last_day": covers[1]} for r in rows])
