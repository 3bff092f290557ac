"""Load a validated layer into the database: one transaction, idempotent, never half-written.

A load stages the valid rows in a temporary table, counts which ids already exist, upserts them
into the layer's table (re-loading an id updates it, never duplicates it), applies ``--replace``
(inventory rows missing from the file are marked removed/closed as of the load date, boundary
communities missing from it are retired; nothing is deleted), assigns incidents to communities
(by point, within the load's ``snap_m`` for points in none, else by reported code), writes the
load log and bumps the data version. Any error rolls all of it back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api import period_tables
from api.assignment import assign_new_incidents, current_communities, reassign_incidents
from api.bulk_stage import incident_stage, merge_stage, stage_rows, write_stage
from api.db import bump_data_version, lock_data_writes, utcnow
from api.models import LAYER_TABLES, communities, incidents, load_coverage, loads
from api.release import record_keys_of
from api.staging import fill_stage, stage_table, stored_columns, upsert_stage
from api.stream_load import LOAD_BATCH_ROWS, stream_incidents
from geo.completeness import parse_covers
from geo.errors import ParameterError
from geo.exposure import ReferenceDate, parse_reference_date, reference_dates
from geo.hints import coordinate_hints
from geo.layers import layer_spec
from geo.readers import (
    InputError,
    ReadResult,
    RejectedRowsError,
    Rejection,
    detect_format,
    parse_field_mappings,
    read_layer,
)
from geo.sources import STREAMED_FORMATS, parquet_rows

__all__ = ["REPLACEABLE", "STREAM_MIN_BYTES", "LoadReport", "load_file", "reassign_incidents",
           "store_layer"]

#: Layers that ``--replace`` applies to, with the column that marks a row as gone.
REPLACEABLE: dict[str, str] = {
    "communities": "retired_on",
    "devices": "removed_on",
    "compounds": "removed_on",
    "facilities": "closed_on",
}

#: Incidents CSV files larger than this are loaded streaming (:mod:`api.stream_load`): about
#: one batch of records (:data:`api.stream_load.LOAD_BATCH_ROWS`, 60-150 bytes each). A CSV
#: read whole costs ~1.7 KB of memory per record (1 M records of 60 MB: 1.7 GB peak).
STREAM_MIN_BYTES = 8 << 20



@dataclass(frozen=True)
class LoadReport:
    """What one load did.

    Attributes
    ----------
    layer, file_name, sha256
        What was loaded.
    load_id
        Row of the load log.
    data_version
        Data version after the load.
    rows_read
        Records in the file.
    rows_loaded
        New rows stored.
    rows_updated
        Rows whose id already existed and were overwritten.
    rows_rejected
        Distinct rows rejected by validation.
    rows_removed
        Rows marked removed/closed/retired by ``replace``.
    rejections, warnings
        The validation report.
    incidents_reassigned
        After a communities load: incidents whose community changed.
    incidents_unassigned
        Incidents of this load (or, after a communities load, of the whole table) in no community.
    community_mismatches
        Incidents whose point lies in another community than the code given in the file (the point
        wins).
    incidents_snapped, incidents_snap_ambiguous
        Incidents (same scope as ``incidents_unassigned``) in no community given to the only
        community within the snapping tolerance, and those left unassigned because two or more
        communities lie within it (counted in ``incidents_unassigned``).
    snap_m
        The snapping tolerance of an incidents load, in ground metres (0: none).
    """

    layer: str
    file_name: str
    sha256: str
    load_id: int
    data_version: int
    rows_read: int
    rows_loaded: int
    rows_updated: int
    rows_rejected: int
    rows_removed: int = 0
    rejections: tuple[Rejection, ...] = ()
    warnings: tuple[str, ...] = ()
    incidents_reassigned: int = 0
    incidents_unassigned: int = 0
    community_mismatches: int = 0
    incidents_snapped: int = 0
    incidents_snap_ambiguous: int = 0
    snap_m: float = 0.0
    source_crs: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values (rejections as a list of dicts)."""
        out = {k: getattr(self, k) for k in (
            "layer", "file_name", "sha256", "load_id", "data_version", "rows_read",
            "rows_loaded", "rows_updated", "rows_rejected", "rows_removed",
            "incidents_reassigned", "incidents_unassigned", "community_mismatches",
            "incidents_snapped", "incidents_snap_ambiguous", "snap_m", "source_crs")}
        out["warnings"] = list(self.warnings)
        out["rejections"] = [r.__dict__ for r in self.rejections]
        return out


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_file(
    engine: Engine,
    path: str | Path,
    layer: str,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    fields: Mapping[str, str] | Sequence[str] | None = None,
    gpkg_layer: str | None = None,
    strict: bool = False,
    replace: bool = False,
    timezone: str = "Asia/Shanghai",
    progress: bool = False,
    loaded_by: str | None = None,
    display_name: str | None = None,
    id_from_content: bool = False,
    snap_m: float = 0.0,
    reference_date: str | None = None,
    covers: str | None = None,
    batch_rows: int | None = None,
) -> LoadReport:
    """Read, validate and store one file as one transaction.

    Parameters
    ----------
    engine
        Database (schema migrated).
    path
        The file.
    layer
        Layer name (see :mod:`geo.layers`).
    crs, encoding, fields, gpkg_layer, strict, timezone
        Passed to :func:`geo.readers.read_layer`.
    replace
        Treat the file as the whole layer (inventories and communities only).
    progress
        Show a progress bar on stderr for loads of more than 10,000 rows (streaming loads:
        once :data:`api.stream_load.PROGRESS_MIN_ROWS` rows are read).
    loaded_by
        Who loaded it, for the log.
    display_name
        File name to record (an upload's original name); default the path's name.
    id_from_content
        Incidents without an id column: draw ids from each row's content (see
        :func:`geo.readers.read_layer`).
    snap_m
        Incidents: give a point in no community to the only community within this many
        ground metres (:func:`geo.snap_assign.assign_with_snap`); 0 snaps nothing. Stored
        with the load, so re-assignments after a boundary load apply it again.
    reference_date
        Population: the day residents were counted on, ``MM-DD`` (every year) or
        ``YYYY-MM-DD``; default 07-01 (:func:`geo.exposure.parse_reference_date`).
    covers
        Incidents: the days the file covers, ``FIRST..LAST`` or a period
        (:func:`geo.completeness.parse_covers`); default the first..last local day in it.
        Recorded for each district present in the file.
    batch_rows
        Incidents CSV or (Geo)Parquet: read, validate, assign and stage this many records at
        a time (:mod:`api.stream_load`), so memory is bounded by the batch. Default: stream
        CSV files larger than :data:`STREAM_MIN_BYTES` and Parquet files of more than
        :data:`api.stream_load.LOAD_BATCH_ROWS` records, in batches of that many; 0 reads the
        whole file at once. Files with ``id_from_content`` are always read whole (an id counts
        identical rows), and so are GeoJSON, GeoPackage and shapefiles
        (:data:`geo.sources.STREAMED_FORMATS` says why).

    Returns
    -------
    LoadReport

    Raises
    ------
    geo.readers.InputError, geo.readers.RejectedRowsError
        Bad file or, in strict mode, bad rows (nothing is stored).
    ValueError
        ``replace`` for a layer it does not apply to, or a bad parameter.
    """
    layer_spec(layer)
    if layer not in LAYER_TABLES:
        raise ValueError(f"layer {layer!r} is not stored; loadable layers: "
                         f"{', '.join(LAYER_TABLES)}")
    if replace and layer not in REPLACEABLE:
        raise ValueError(f"--replace applies to {', '.join(REPLACEABLE)}; not to {layer!r}")
    _check_snap_m(snap_m, layer)
    reference, covered = _check_dates_options(layer, reference_date, covers)
    batch = _stream_batch_rows(path, layer, batch_rows, id_from_content)
    if batch:
        return _stream(engine, Path(path), batch, display_name=display_name, crs=crs,
                       encoding=encoding, fields=fields, gpkg_layer=gpkg_layer, strict=strict,
                       timezone=timezone, loaded_by=loaded_by, snap_m=snap_m, covers=covered,
                       progress=progress)
    try:
        result = read_layer(path, layer, crs=crs, encoding=encoding, fields=fields,
                            gpkg_layer=gpkg_layer, timezone=timezone, strict=strict,
                            id_from_content=id_from_content)
    except RejectedRowsError as exc:
        raise _with_coordinate_hints(engine, exc) from None
    options = {"crs": crs, "encoding": encoding, "fields": dict(result.field_sources),
               "gpkg_layer": gpkg_layer, "strict": strict}
    if id_from_content:
        options["id_from_content"] = True
    if reference is not None:
        options["reference_date"] = reference_date
        result = dataclasses.replace(result, frame=result.frame.assign(
            reference_date=reference_dates(result.frame["year"], reference)))
    if covered is not None:
        options["covers"] = f"{covered[0]}..{covered[1]}"
    return store_layer(engine, result, file_name=display_name or Path(path).name,
                       sha256=file_sha256(path), replace=replace, timezone=timezone,
                       progress=progress, loaded_by=loaded_by, options=options, snap_m=snap_m,
                       covers=covered)


def _stream_batch_rows(path: str | Path, layer: str, batch_rows: int | None,
                       id_from_content: bool) -> int:
    """Records per batch when the file is loaded streaming, else 0."""
    if batch_rows is not None and (isinstance(batch_rows, bool) or batch_rows < 0):
        raise ParameterError(f"batch_rows must be a number of records >= 0; got {batch_rows!r}",
                             parameter="batch_rows")
    fmt = detect_format(path)
    if layer != "incidents" or id_from_content or fmt not in STREAMED_FORMATS:
        return 0
    if batch_rows is None:
        if not Path(path).exists():
            return 0
        # A Parquet file is compressed: its footer says how many records it holds.
        if fmt == "parquet":
            records = parquet_rows(Path(path))  # None: not readable in batches
            big = records is not None and records > LOAD_BATCH_ROWS
        else:
            big = Path(path).stat().st_size > STREAM_MIN_BYTES
        return LOAD_BATCH_ROWS if big else 0
    return int(batch_rows)


def _stream(engine: Engine, path: Path, batch_rows: int, *, display_name: str | None,
            crs: str | None, encoding: str | None, fields: Mapping[str, str] | Sequence[str] | None,
            gpkg_layer: str | None, strict: bool, timezone: str, loaded_by: str | None,
            snap_m: float, covers: tuple[dt.date, dt.date] | None,
            progress: bool = False) -> LoadReport:
    """A streaming incidents load (:mod:`api.stream_load`), reported like any load."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    options: dict[str, Any] = {"crs": crs, "encoding": encoding, "gpkg_layer": gpkg_layer,
                               "strict": strict, "batch_rows": batch_rows}
    if covers is not None:
        options["covers"] = f"{covers[0]}..{covers[1]}"
    sha = file_sha256(path)
    name = display_name or path.name
    try:
        out = stream_incidents(engine, path, fmt=detect_format(path), batch_rows=batch_rows,
                               file_name=name, sha256=sha,
                               crs=crs, encoding=encoding, fields=parse_field_mappings(fields),
                               strict=strict, timezone=timezone, loaded_by=loaded_by,
                               snap_m=float(snap_m), covers=covers, options=options,
                               progress=progress)
    except RejectedRowsError as exc:
        hints = [w for w in exc.result.warnings if w not in str(exc)]
        raise RejectedRowsError(str(exc) + "".join(f"\nwarning: {h}" for h in hints),
                                exc.result) from None
    return LoadReport(layer="incidents", file_name=name, sha256=sha, snap_m=float(snap_m),
                      **out)


def _check_dates_options(layer: str, reference_date: str | None, covers: str | None
                         ) -> tuple[ReferenceDate | None, tuple[dt.date, dt.date] | None]:
    if reference_date and layer != "population":
        raise ParameterError(f"--reference-date applies to population only; not to {layer!r}",
                             parameter="reference_date")
    if covers and layer != "incidents":
        raise ParameterError(f"--covers applies to incidents only; not to {layer!r}",
                             parameter="covers")
    reference = parse_reference_date(reference_date) if layer == "population" else None
    return reference, parse_covers(covers) if covers else None


def _check_snap_m(snap_m: float, layer: str) -> None:
    if not (isinstance(snap_m, int | float) and math.isfinite(snap_m) and snap_m >= 0):
        raise ParameterError(f"--snap-m must be a distance in metres >= 0; got {snap_m!r}",
                             parameter="snap_m")
    if snap_m and layer != "incidents":
        raise ParameterError(f"--snap-m applies to incidents only; not to {layer!r}",
                             parameter="snap_m")


def store_layer(
    engine: Engine,
    result: ReadResult,
    *,
    file_name: str,
    sha256: str,
    replace: bool = False,
    timezone: str = "Asia/Shanghai",
    progress: bool = False,
    loaded_by: str | None = None,
    options: Mapping[str, Any] | None = None,
    snap_m: float = 0.0,
    covers: tuple[dt.date, dt.date] | None = None,
) -> LoadReport:
    """Store a validated read result as one transaction (see the module docstring).

    ``snap_m`` (incidents) is the snapping tolerance of :func:`load_file`; ``covers``
    (incidents) the first and last day the file covers (default: its first..last local day),
    recorded for each district present in it.

    Returns
    -------
    LoadReport
    """
    layer = result.layer
    spec = layer_spec(layer)
    table = LAYER_TABLES[layer]
    key = [c.name for c in table.primary_key.columns]
    now = utcnow()
    load_day = dt.datetime.now(ZoneInfo(timezone)).date()
    frame = result.frame
    _check_snap_m(snap_m, layer)
    with engine.begin() as conn:
        lock_data_writes(conn)
        inserted = conn.execute(loads.insert().values(
            layer=layer, file_name=file_name, sha256=sha256, loaded_at=now,
            rows_read=result.rows_read, rows_loaded=0, rows_updated=0,
            rows_rejected=result.rows_rejected, rows_removed=0, replace=replace,
            source_crs=result.source_crs, options=json.dumps(options or {}, ensure_ascii=False),
            loaded_by=loaded_by, snap_m=float(snap_m) if layer == "incidents" else None,
        )).inserted_primary_key
        assert inserted is not None
        load_id = int(inserted[0])
        extra: dict[str, Any] = {}
        if layer == "incidents":
            frame, extra = assign_new_incidents(conn, frame, float(snap_m))
            extra["warnings"] = [*extra["warnings"], *_coordinate_hints(conn, result, frame)]
            frame = frame.assign(rkey=record_keys_of(conn, frame["id"]))
            _record_coverage(conn, load_id, frame, covers, timezone)
        columns = stored_columns(table, layer, spec.columns)
        if layer == "incidents":
            stage, updated = _merge_incidents(conn, frame, columns, load_id, timezone)
        else:
            stage = stage_table(table, columns)
            stage.create(conn)
            fill_stage(conn, stage, frame, columns, load_id, layer, progress)
            updated = upsert_stage(conn, table, stage, columns, key)
        removed = 0
        if replace:
            removed = _mark_missing(conn, table, stage, key, REPLACEABLE[layer], load_day)
        if layer == "communities":
            extra.update(reassign_incidents(conn))
        # Dropped on success only: a failed transaction rolls the temporary table back, and on
        # PostgreSQL a DROP in the aborted transaction would hide the real error.
        stage.drop(conn)
        loaded = len(frame) - int(updated)
        conn.execute(loads.update().where(loads.c.id == load_id).values(
            rows_loaded=loaded, rows_updated=int(updated), rows_removed=removed))
        version = bump_data_version(conn)
    return LoadReport(
        layer=layer, file_name=file_name, sha256=sha256, load_id=int(load_id),
        data_version=version, rows_read=result.rows_read, rows_loaded=loaded,
        rows_updated=int(updated), rows_rejected=result.rows_rejected, rows_removed=removed,
        rejections=result.rejections,
        warnings=tuple(result.warnings) + tuple(extra.pop("warnings", ())),
        incidents_reassigned=int(extra.pop("reassigned", 0)),
        incidents_unassigned=int(extra.pop("unassigned", 0)),
        community_mismatches=int(extra.pop("mismatches", 0)),
        incidents_snapped=int(extra.pop("snapped", 0)),
        incidents_snap_ambiguous=int(extra.pop("snap_ambiguous", 0)),
        snap_m=float(snap_m), source_crs=result.source_crs, extra=extra,
    )


def _merge_incidents(conn: sa.Connection, frame: pd.DataFrame, columns: Sequence[str],
                     load_id: int, timezone: str) -> tuple[sa.Table, int]:
    """Stage and upsert assigned incidents; the stage and the number of ids that existed.

    Through the bulk path of a streaming load (:mod:`api.bulk_stage`): column values written
    by the backend's fastest insert, one merge statement.
    """
    stage = incident_stage(incidents, columns)
    stage.create(conn)
    write_stage(conn, stage, [c.name for c in stage.columns],
                stage_rows(frame, stage, load_id, np.asarray(frame.index, dtype=np.int64) + 1))
    sa.Index(f"ix_{stage.name}_id", stage.c.id).create(conn)
    with period_tables.kept_exact(conn, sa.select(stage.c.id), timezone=timezone):
        updated = merge_stage(conn, incidents, stage, columns)
    return stage, updated


def _record_coverage(conn: sa.Connection, load_id: int, frame: pd.DataFrame,
                     covers: tuple[dt.date, dt.date] | None, timezone: str) -> None:
    """Record the days an incidents load covers for each district its incidents lie in."""
    if covers is None:
        if not len(frame):
            return
        local = pd.to_datetime(frame["occurred_at"], utc=True).dt.tz_convert(timezone)
        covers = (local.min().date(), local.max().date())
    codes = frame["community_code"].dropna().unique().tolist()
    if not codes:
        return
    rows = conn.execute(sa.select(communities.c.district_code).distinct()
                        .where(communities.c.code.in_(codes))).all()
    conn.execute(load_coverage.insert(), [
        {"load_id": load_id, "district_code": r[0], "first_day": covers[0],
         "last_day": covers[1]} for r in rows])


def _mark_missing(conn: sa.Connection, table: sa.Table, stage: sa.Table, key: Sequence[str],
                  column: str, day: dt.date) -> int:
    in_file = sa.select(stage.c[key[0]])
    res = conn.execute(
        table.update()
        .where(table.c[column].is_(None), table.c[key[0]].not_in(in_file))
        .values({column: day}))
    return int(res.rowcount or 0)


def _coordinate_hints(conn: sa.Connection, result: ReadResult,
                      frame: pd.DataFrame | None = None) -> list[str]:
    """Swapped axes or a forgotten GCJ-02/BD-09 (:mod:`geo.hints`), for an incidents read.

    ``frame`` holds the assigned rows (index: record position); without it (nothing was
    stored) the rows that passed validation are located in the communities here.
    """
    points = result.source_points
    if result.layer != "incidents" or points is None:
        return []
    loaded = np.zeros(result.rows_read, dtype=bool)
    loaded[result.frame.index.to_numpy()] = True
    inside = None
    if frame is not None:
        inside = np.zeros(result.rows_read, dtype=bool)
        inside[frame.index[frame["community_code"].notna().to_numpy()].to_numpy()] = True
        inside &= points.located
    areas = current_communities(conn).geometry.to_numpy()
    return coordinate_hints(points, loaded=loaded, areas=areas, inside=inside)


def _with_coordinate_hints(engine: Engine, exc: RejectedRowsError) -> RejectedRowsError:
    """The error of an incidents read that stores nothing, with any coordinate hints added.

    Rows rejected for their range may be swapped longitudes and latitudes: the hint is the
    explanation, so it goes into the message as well as into the report's warnings.
    """
    if exc.result.layer != "incidents" or exc.result.source_points is None:
        return exc
    with engine.connect() as conn:
        hints = _coordinate_hints(conn, exc.result)
    if not hints:
        return exc
    result = dataclasses.replace(exc.result, warnings=(*exc.result.warnings, *hints))
    return RejectedRowsError(str(exc) + "".join(f"\nwarning: {h}" for h in hints), result)


