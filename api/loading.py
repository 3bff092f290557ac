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
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api import dialect
from api.db import bump_data_version, utcnow
from api.models import LAYER_TABLES, communities, incidents, load_coverage, loads
from api.release import record_keys_of
from geo.completeness import parse_covers
from geo.errors import ParameterError
from geo.exposure import ReferenceDate, parse_reference_date, reference_dates
from geo.hints import coordinate_hints
from geo.layers import layer_spec
from geo.readers import ReadResult, RejectedRowsError, Rejection, read_layer
from geo.snap_assign import assign_with_snap

__all__ = ["REPLACEABLE", "LoadReport", "load_file", "reassign_incidents", "store_layer"]

#: Layers that ``--replace`` applies to, with the column that marks a row as gone.
REPLACEABLE: dict[str, str] = {
    "communities": "retired_on",
    "devices": "removed_on",
    "compounds": "removed_on",
    "facilities": "closed_on",
}

_BATCH = 5000
_PROGRESS_MIN_ROWS = 10_000


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
        Show a progress bar on stderr for loads of more than 10,000 rows.
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
            frame, extra = _assign_new_incidents(conn, frame, float(snap_m))
            extra["warnings"] = [*extra["warnings"], *_coordinate_hints(conn, result, frame)]
            frame = frame.assign(rkey=record_keys_of(conn, frame["id"]))
            _record_coverage(conn, load_id, frame, covers, timezone)
        columns = _stored_columns(table, layer, spec.columns)
        stage = _stage_table(table, columns)
        stage.create(conn)
        try:
            _fill_stage(conn, stage, frame, columns, load_id, layer, progress)
            updated = conn.execute(
                sa.select(sa.func.count()).select_from(stage.join(
                    table, sa.and_(*[stage.c[k] == table.c[k] for k in key])))).scalar_one()
            select_cols: list[Any] = [stage.c[c] for c in columns if c != "geom"]
            select_cols.append(stage.c.load_id)
            target_cols = [c for c in columns if c != "geom"] + ["load_id"]
            if "geom" in columns:
                select_cols.append(sa.func.ST_GeomFromWKB(stage.c.geom_wkb, 4326))
                target_cols.append("geom")
            conn.execute(dialect.upsert_from_select(
                conn, table, sa.select(*select_cols), target_cols, key))
            removed = 0
            if replace:
                removed = _mark_missing(conn, table, stage, key, REPLACEABLE[layer], load_day)
            if layer == "communities":
                extra.update(reassign_incidents(conn))
        finally:
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


def _stored_columns(table: sa.Table, layer: str, canonical: Sequence[str]) -> list[str]:
    """Columns written by a load: the layer's fields, geometry, and the retirement mark.

    A load clears ``retired_on`` of every community in the file; a population load writes
    each row's ``reference_date``.
    """
    cols = [c.name for c in table.columns if c.name != "load_id"]
    if layer == "incidents":
        return cols
    missing = [c for c in canonical if c not in cols]
    assert not missing, f"table {table.name} lacks {missing}"
    return [c for c in cols if c in canonical or c in ("geom", "retired_on", "reference_date")]


def _stage_table(table: sa.Table, columns: Sequence[str]) -> sa.Table:
    md = sa.MetaData()
    cols: list[sa.Column[Any]] = []
    for c in columns:
        if c == "geom":
            cols.append(sa.Column("geom_wkb", sa.LargeBinary))
        else:
            src = table.c[c]
            cols.append(sa.Column(c, src.type, primary_key=src.primary_key))
    cols.append(sa.Column("load_id", sa.Integer))
    return sa.Table(f"pingan_stage_{table.name}", md, *cols, prefixes=["TEMPORARY"])


def _fill_stage(conn: sa.Connection, stage: sa.Table, frame: pd.DataFrame,
                columns: Sequence[str], load_id: int, layer: str, progress: bool) -> None:
    n = len(frame)
    bar = None
    if progress and n > _PROGRESS_MIN_ROWS:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=f"loading {layer}", unit="rows", file=sys.stderr)
    try:
        for batch in _records(frame, columns, load_id):
            conn.execute(stage.insert(), batch)
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()


def _records(frame: pd.DataFrame, columns: Sequence[str], load_id: int
             ) -> Iterator[list[dict[str, Any]]]:
    """Rows as dicts of plain Python values (None for missing), in batches."""
    values: dict[str, np.ndarray] = {}
    for c in columns:
        if c not in frame.columns and c != "geom":
            values[c] = np.full(len(frame), None, dtype=object)
            continue
        if c == "geom":
            geoms = np.asarray(frame.geometry.array, dtype=object)
            wkb = np.full(len(geoms), None, dtype=object)
            present = ~shapely.is_missing(geoms)
            wkb[present] = shapely.to_wkb(geoms[present], include_srid=False)
            values["geom_wkb"] = wkb
            continue
        values[c] = _python_values(frame[c])
    names = list(values)
    arrays = [values[k] for k in names]
    n = len(frame)
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        yield [
            {**dict(zip(names, row, strict=True)), "load_id": load_id}
            for row in zip(*(a[start:stop] for a in arrays), strict=True)
        ]


def _python_values(s: pd.Series) -> np.ndarray:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        naive = s.dt.tz_convert("UTC").dt.tz_localize(None)
        out = np.asarray(naive.dt.to_pydatetime(), dtype=object)
    elif pd.api.types.is_datetime64_any_dtype(s):
        out = np.asarray([None if pd.isna(x) else x.date() for x in s], dtype=object)
        return out
    elif pd.api.types.is_float_dtype(s):
        out = s.astype(object).to_numpy()
    elif pd.api.types.is_integer_dtype(s):
        out = s.astype(object).to_numpy()
        out = np.array([None if x is pd.NA else int(x) for x in out], dtype=object)
        return out
    else:
        out = s.astype(object).to_numpy()
    missing = pd.isna(s).to_numpy()
    out = out.copy()
    out[missing] = None
    return out


def _mark_missing(conn: sa.Connection, table: sa.Table, stage: sa.Table, key: Sequence[str],
                  column: str, day: dt.date) -> int:
    in_file = sa.select(stage.c[key[0]])
    res = conn.execute(
        table.update()
        .where(table.c[column].is_(None), table.c[key[0]].not_in(in_file))
        .values({column: day}))
    return int(res.rowcount or 0)


def _current_communities(conn: sa.Connection) -> gpd.GeoDataFrame:
    rows = conn.execute(
        sa.select(communities.c.code, sa.func.ST_AsBinary(communities.c.geom))
        .where(communities.c.retired_on.is_(None)).order_by(communities.c.code)).all()
    geoms: Any = shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else []
    return gpd.GeoDataFrame({"code": [r[0] for r in rows]}, geometry=list(geoms),
                            crs="EPSG:4326")


@dataclass(frozen=True)
class _Assigned:
    """Community and method (``assigned_by``) per incident, and what the load report counts."""

    codes: pd.Series
    method: pd.Series
    mismatches: int
    snapped: int
    ambiguous: int

    def counts(self) -> dict[str, int]:
        return {"mismatches": self.mismatches, "unassigned": int(self.codes.isna().sum()),
                "snapped": self.snapped, "snap_ambiguous": self.ambiguous}


def _assign(points: gpd.GeoSeries, reported: pd.Series, comms: gpd.GeoDataFrame,
            snap_m: float | np.ndarray) -> _Assigned:
    """Community and method per incident: by the point, else by the reported code.

    ``point``: a community contains the point; ``snap``: the point is in none and only one
    community lies within ``snap_m`` metres; ``code``: no point, a known reported code.
    """
    n = len(points)
    assigned = pd.Series(pd.NA, index=points.index, dtype="string")
    method = pd.Series(pd.NA, index=points.index, dtype="string")
    if n == 0:
        return _Assigned(assigned, method, 0, 0, 0)
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
    return _Assigned(assigned, method, mismatches, snapped, ambiguous)


def _assign_new_incidents(conn: sa.Connection, frame: pd.DataFrame, snap_m: float
                          ) -> tuple[pd.DataFrame, dict[str, Any]]:
    comms = _current_communities(conn)
    reported = frame["community_code"]
    result = _assign(frame.geometry, reported, comms, snap_m)
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
    areas = _current_communities(conn).geometry.to_numpy()
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


def reassign_incidents(conn: sa.Connection, *, progress: Callable[[str], None] | None = None
                       ) -> dict[str, int]:
    """Re-assign every stored incident to the current communities (after a boundary change).

    Only the rows whose assignment changed are written.

    Each incident keeps the snapping tolerance of the load that last wrote it
    (``loads.snap_m``).

    Returns
    -------
    dict
        ``reassigned`` (rows changed), ``unassigned`` (incidents in no community),
        ``snapped`` and ``snap_ambiguous`` (see :class:`LoadReport`).
    """
    # Plain columns and x/y read straight from the driver's cursor: the rows need no type
    # processing, and reading them is most of the time of a re-assignment.
    result = conn.execute(sa.select(
        incidents.c.id, sa.func.ST_X(incidents.c.geom), sa.func.ST_Y(incidents.c.geom),
        incidents.c.reported_community, incidents.c.community_code, incidents.c.assigned_by,
        loads.c.snap_m).select_from(incidents.outerjoin(loads, incidents.c.load_id == loads.c.id)))
    rows = result.cursor.fetchall()
    result.close()
    if not rows:
        return {"reassigned": 0, "unassigned": 0, "snapped": 0, "snap_ambiguous": 0}
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
    res = _assign(points, reported, _current_communities(conn), snap_m)
    assigned, method = res.codes, res.method
    changed = ~((assigned == before).fillna(assigned.isna() & before.isna())
                & (method == before_m).fillna(method.isna() & before_m.isna()))
    changed_ids = ids[changed.to_numpy()]
    if len(changed_ids):
        md = sa.MetaData()
        stage = sa.Table("pingan_stage_assign", md,
                         sa.Column("id", sa.String(100), primary_key=True),
                         sa.Column("community_code", sa.String(64)),
                         sa.Column("assigned_by", sa.String(8)), prefixes=["TEMPORARY"])
        stage.create(conn)
        try:
            vals = [{"id": i, "community_code": None if pd.isna(c) else c,
                     "assigned_by": None if pd.isna(m) else m}
                    for i, c, m in zip(changed_ids, assigned[changed_ids],
                                       method[changed_ids], strict=True)]
            for start in range(0, len(vals), _BATCH):
                conn.execute(stage.insert(), vals[start:start + _BATCH])
            conn.execute(incidents.update().where(incidents.c.id == stage.c.id).values(
                community_code=stage.c.community_code, assigned_by=stage.c.assigned_by))
        finally:
            stage.drop(conn)
    counts = res.counts()
    return {"reassigned": len(changed_ids), "unassigned": counts["unassigned"],
            "snapped": counts["snapped"], "snap_ambiguous": counts["snap_ambiguous"]}
