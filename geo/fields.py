"""Columns of an input layer: which file column feeds each field, and the value rules.

Field names are mapped by the user (``code=社区代码``) or recognised from the usual names of
:mod:`geo.layers`; values are converted column by column (:mod:`geo.validate`), Chinese codes
(正常/故障, 派出所, 围墙…) normalised to their canonical names, and each layer's value rules and
unique ids checked. Every failing row is recorded in the :class:`geo.validate.Problems` of the
read, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import validate as v
from geo.errors import InputError
from geo.layers import COMPOUND_MEASURES, LOCATION_PRECISIONS, Field, LayerSpec
from geo.period import DEFAULT_TIMEZONE

__all__ = [
    "GEOMETRY_SOURCES",
    "apply_layer_rules",
    "check_mapping_targets",
    "compound_measures",
    "convert_field",
    "local_time_text",
    "reject_duplicates",
    "reject_over_length",
    "resolve_columns",
]

#: Extra mapping targets (besides a layer's canonical fields) that name geometry sources.
GEOMETRY_SOURCES = ("lon", "lat", "wkt")

_PRECISION_SYNONYMS = {"精确": "exact", "坐标": "exact", "地址": "address", "地址匹配": "address",
                       "质心": "centroid", "中心点": "centroid", "社区中心": "centroid"}
_STATUS_SYNONYMS = {"working": "working", "ok": "working", "normal": "working", "正常": "working",
                    "完好": "working", "在用": "working", "online": "working",
                    "faulty": "faulty", "fault": "faulty", "broken": "faulty", "故障": "faulty",
                    "损坏": "faulty", "离线": "faulty", "offline": "faulty"}
_DEVICE_KIND_SYNONYMS = {"枪机": "camera", "摄像机": "camera", "球机": "dome", "半球": "dome",
                         "云台": "ptz", "人脸": "face", "人脸识别": "face", "车牌": "plate",
                         "车牌识别": "plate", "报警": "alarm", "一键报警": "alarm",
                         "门禁": "access"}
_FACILITY_SYNONYMS = {"派出所": "police_station", "社区警务室": "police_office",
                      "警务室": "police_office", "社区服务站": "service_station",
                      "社区卫生服务站": "health_station", "卫生服务站": "health_station",
                      "社区卫生服务中心": "health_center", "卫生服务中心": "health_center",
                      "消防站": "fire_station"}
_MEASURE_SYNONYMS = {"围墙": "fence", "围栏": "fence", "门卫": "gate_guard", "保安": "gate_guard",
                     "防盗门": "anti_theft_doors", "照明": "lighting", "巡逻": "patrol",
                     "出入口监控": "cctv_entrances", "门禁": "access_control",
                     "入侵报警": "intrusion_alarm", "对讲": "intercom", "楼宇对讲": "intercom",
                     "车牌识别": "plate_recognition"}
_KNOWN_MEASURES = tuple(m for group in COMPOUND_MEASURES.values() for m in group)


def check_mapping_targets(spec: LayerSpec, mapping: Mapping[str, str]) -> None:
    """Check that every mapping target is a field of the layer (or a geometry source).

    Parameters
    ----------
    spec
        The layer.
    mapping
        target -> source column.

    Raises
    ------
    ValueError
        If a target is not a field of the layer (any target is allowed for compounds: it names
        a measure's yes/no column).
    """
    allowed = set(spec.columns)
    if spec.geometry != "none":
        allowed |= set(GEOMETRY_SOURCES)
    extra: set[str] = set()
    if spec.name == "compounds":
        extra = {t for t in mapping if t not in allowed}
    unknown = [t for t in mapping if t not in allowed and t not in extra]
    if unknown:
        raise InputError(
            f"--field target {unknown[0]!r} is not a field of layer {spec.name!r}; "
            f"targets: {', '.join(sorted(allowed))}"
            + (" and measure names" if spec.name == "compounds" else "")
        )


def resolve_columns(spec: LayerSpec, raw: pd.DataFrame, mapping: Mapping[str, str],
                    path: Path) -> dict[str, str | None]:
    """Map each canonical field to a source column (None when absent).

    Parameters
    ----------
    spec
        The layer.
    raw
        The file's attribute table.
    mapping
        target -> source column given by the user (case-insensitive fallback).
    path
        The file, for the errors.

    Returns
    -------
    dict
        field -> column of ``raw``, or None.

    Raises
    ------
    geo.errors.InputError
        When a mapped column is missing, or a required field has no column.
    """
    lower = {str(c).strip().lower(): c for c in raw.columns}
    out: dict[str, str | None] = {}
    for f in spec.fields:
        if f.name in mapping:
            src = mapping[f.name]
            if src not in raw.columns:
                match = lower.get(src.lower())
                if match is None:
                    raise InputError(
                        f"{path}: --field {f.name}={src}: the file has no column {src!r}; "
                        f"columns: {', '.join(map(str, raw.columns))}")
                src = match
            out[f.name] = src
            continue
        found = None
        for name in (f.name, *f.aliases):
            if name.lower() in lower:
                found = lower[name.lower()]
                break
        out[f.name] = found
        if found is None and f.required:
            # An export without incident numbers can still be loaded, with ids from content.
            content = (", or pass --id-from-content to draw ids from each row's time, "
                       "coordinates, category and address" if spec.name == "incidents"
                       and f.name == spec.id_field else "")
            raise InputError(
                f"{path}: layer {spec.name!r} needs a {f.name!r} column ({f.description}); "
                f"looked for {', '.join((f.name, *f.aliases))}; columns: "
                f"{', '.join(map(str, raw.columns))}. Map one with --field {f.name}=COLUMN"
                f"{content}")
    return out


def convert_field(f: Field, col: pd.Series, spec: LayerSpec, problems: v.Problems,
                  timezone: str, *, present: bool) -> pd.Series:
    """Convert one column to a field's type, rejecting the rows that do not convert.

    Parameters
    ----------
    f
        The field.
    col
        The file's column (all missing when absent).
    spec
        The layer.
    problems
        The read's problems (rejections are added).
    timezone
        Time zone of naive timestamps.
    present
        Whether the file has the column.

    Returns
    -------
    pandas.Series
        The converted column (``measures`` is returned as it is: see
        :func:`compound_measures`).
    """
    non_negative = f.name in ("population", "households")
    if f.type == "str":
        s = v.clean_code(col) if f.name.endswith("code") or f.name == "id" else v.clean_text(col)
        if f.required:
            problems.reject(s.isna().to_numpy(), f.name, f"{f.name} is required but empty")
        return s
    if f.type == "float":
        return v.to_float(col, f.name, problems, non_negative=non_negative, required=f.required)
    if f.type == "int":
        return v.to_int(col, f.name, problems, required=f.required)
    if f.type == "datetime":
        return v.to_instant(col, f.name, problems, timezone=timezone, required=f.required)
    if f.type == "date":
        return v.to_date(col, f.name, problems)
    if f.type == "measures":
        return col  # replaced by compound_measures
    raise AssertionError(f"unhandled field type {f.type}")


def compound_measures(raw: pd.DataFrame, columns: Mapping[str, str | None],
                      mapping: Mapping[str, str], problems: v.Problems) -> pd.Series:
    """Build the sorted comma-separated measures list from a list column and yes/no columns.

    Parameters
    ----------
    raw
        The file's attribute table.
    columns
        field -> column of ``raw`` (:func:`resolve_columns`).
    mapping
        target -> source column given by the user; non-canonical targets are measures.
    problems
        The read's problems (unreadable yes/no values are rejected).

    Returns
    -------
    pandas.Series
        One string per row.

    Raises
    ------
    geo.errors.InputError
        When a mapped measure column is missing.
    """
    n = len(raw)
    present: list[set[str]] = [set() for _ in range(n)]
    src = columns.get("measures")
    if src is not None:
        text = v.clean_text(raw[src]).fillna("")
        for i, cell in enumerate(text):
            for part in re.split(r"[,;，；、|/\s]+", cell):
                part = part.strip()
                if part:
                    present[i].add(_MEASURE_SYNONYMS.get(part, part.lower()))
    lower = {str(c).strip().lower(): c for c in raw.columns}
    flag_cols: dict[str, Any] = {}
    for name in _KNOWN_MEASURES:
        if name in lower:
            flag_cols[name] = lower[name]
    for zh, name in _MEASURE_SYNONYMS.items():
        if zh in raw.columns and name not in flag_cols:
            flag_cols[name] = zh
    canonical = {"id", "name", "kind", "households", "population", "measures", "removed_on",
                 *GEOMETRY_SOURCES}
    for target, source in mapping.items():
        if target in canonical:
            continue
        if source not in raw.columns:
            raise InputError(f"--field {target}={source}: the file has no column {source!r}; "
                             f"columns: {', '.join(map(str, raw.columns))}")
        flag_cols[target] = source
    for name, col in flag_cols.items():
        yes = v.to_bool(raw[col], name, problems).to_numpy()
        for j in np.flatnonzero(yes):
            present[j].add(name)
    return pd.Series([",".join(sorted(p)) for p in present], index=raw.index, dtype="string")


def apply_layer_rules(spec: LayerSpec, out: pd.DataFrame, problems: v.Problems, *,
                      timezone: str = DEFAULT_TIMEZONE,
                      written: Mapping[str, pd.Series] | None = None) -> None:
    """Apply the layer's value rules and normalisations, in place on the canonical frame.

    Parameters
    ----------
    spec
        The layer.
    out
        The canonical columns (modified in place).
    problems
        The read's problems (rejections are added).
    timezone
        The load's time zone: rejected times are shown in it.
    written
        The file's column feeding each field, to show rejected values as written.
    """
    if spec.name == "incidents":
        prec = _normalise(out["location_precision"], _PRECISION_SYNONYMS)
        bad = (prec.notna() & ~prec.isin(LOCATION_PRECISIONS)).to_numpy()
        problems.reject(bad, "location_precision",
                        f"location_precision must be one of {', '.join(LOCATION_PRECISIONS)}",
                        out["location_precision"])
        out["location_precision"] = prec.fillna("exact")
        # A record from the future is a typo (01/05/2052); kept, it would also move every
        # default period to its year.
        tomorrow = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)
        future = (out["occurred_at"] > tomorrow).fillna(False).to_numpy(dtype=bool)
        problems.reject(future, "occurred_at", "occurred_at is in the future",
                        local_time_text(out["occurred_at"], timezone, future,
                                        (written or {}).get("occurred_at")))
        # Categories stay as written (THEFT, 0101, 盗窃): geo/categories.py maps them when
        # asked; statuses are codes the case definition compares in lower case.
        out["status"] = out["status"].str.lower()
    elif spec.name == "devices":
        out["kind"] = _normalise(out["kind"], _DEVICE_KIND_SYNONYMS)
        status = _normalise(out["status"], _STATUS_SYNONYMS)
        bad = (status.notna() & ~status.isin(["working", "faulty"])).to_numpy()
        problems.reject(bad, "status", "status must be working or faulty (正常/故障)",
                        out["status"])
        out["status"] = status.fillna("working")
        az = out["azimuth_deg"]
        out["azimuth_deg"] = az % 360.0
        fov = out["fov_deg"]
        problems.reject(((fov <= 0) | (fov > 360)).to_numpy(), "fov_deg",
                        "fov_deg must be in (0, 360]", fov)
        rng = out["range_m"]
        problems.reject((rng <= 0).to_numpy(), "range_m", "range_m must be > 0", rng)
        _date_order(out, "installed_on", "removed_on", problems)
    elif spec.name == "facilities":
        out["type"] = _normalise(out["type"], _FACILITY_SYNONYMS)
        _date_order(out, "opened_on", "closed_on", problems)
    elif spec.name == "compounds":
        out["kind"] = out["kind"].str.lower()
    elif spec.name == "population":
        year = out["year"]
        problems.reject(((year < 1900) | (year > 2200)).fillna(False).to_numpy(), "year",
                        "year must be a calendar year (1900-2200)", year)


def local_time_text(instants: pd.Series, timezone: str, rows: np.ndarray,
                    written: pd.Series | None = None) -> pd.Series:
    """Instants as local times in the load's zone, with the value as written in the file.

    Parameters
    ----------
    instants
        UTC instants.
    timezone
        The load's time zone.
    rows
        The rows to describe (boolean); the others are left empty.
    written
        The file's column, aligned with ``instants``.

    Returns
    -------
    pandas.Series
        Text such as ``2027-01-05 10:00（Asia/Shanghai；原文 2027/1/5 10:00）`` (seconds shown
        when not zero) for ``rows``, ``None`` elsewhere.
    """
    texts: list[str | None] = [None] * len(instants)
    for i in np.flatnonzero(rows):
        local = instants.iloc[i].tz_convert(timezone)
        text = local.strftime("%Y-%m-%d %H:%M" + (":%S" if local.second else ""))
        raw = None if written is None else written.iloc[i]
        source = "" if raw is None or pd.isna(raw) else f"；原文 {str(raw).strip()}"
        texts[i] = f"{text}（{timezone}{source}）"
    return pd.Series(texts, index=instants.index, dtype=object)


def _normalise(s: pd.Series, synonyms: Mapping[str, str]) -> pd.Series:
    """Lower-case codes, with Chinese synonyms replaced by their canonical names."""
    s = s.astype("string")
    out = s.str.lower()
    for word, canonical in synonyms.items():
        out = out.mask((s == word).fillna(False).astype(bool), canonical)
    return out


def _date_order(out: pd.DataFrame, first: str, last: str, problems: v.Problems) -> None:
    bad = (out[first].notna() & out[last].notna() & (out[last] < out[first])).to_numpy()
    problems.reject(bad, last, f"{last} is before {first}", out[last])


def reject_over_length(spec: LayerSpec, out: pd.DataFrame, problems: v.Problems) -> None:
    """Reject the rows whose text is longer than its field's ``max_length``.

    Checked on the values as they will be stored (after the layer's normalisations), so the
    database never meets a value its column cannot hold: PostgreSQL would fail the whole load
    with an error naming no row, SQLite would store it silently.

    Parameters
    ----------
    spec
        The layer.
    out
        The canonical columns.
    problems
        The read's problems (rejections are added).
    """
    for f in spec.fields:
        if f.max_length is None or f.name not in out:
            continue
        lengths = out[f.name].astype("string").str.len()
        over = (lengths > f.max_length).fillna(False).to_numpy(dtype=bool)
        # a value already rejected for this field (an unknown status) is reported once
        over &= ~problems.rejected_for(f.name)
        rows = np.flatnonzero(over)
        problems.reject_rows(
            rows, f.name,
            [f"{f.name} is {int(lengths.iloc[i])} characters long; at most {f.max_length} "
             f"fit" for i in rows], out[f.name].iloc[rows])


def reject_duplicates(ids: pd.Series, field_name: str, problems: v.Problems) -> None:
    """Reject every row whose id appears more than once, naming the other rows.

    Parameters
    ----------
    ids
        The ids (missing ones are ignored).
    field_name
        The field to blame.
    problems
        The read's problems (rejections are added).
    """
    dup = ids.notna() & ids.duplicated(keep=False)
    if not dup.any():
        return
    positions = pd.Series(np.arange(len(ids)) + 1, index=ids.index)[dup]
    groups = positions.groupby(ids[dup].astype(str)).agg(list)
    rows, reasons, values = [], [], []
    for key, rownums in groups.items():
        listed = ", ".join(map(str, rownums[:6])) + (" ..." if len(rownums) > 6 else "")
        for r in rownums:
            rows.append(int(r) - 1)
            reasons.append(f"{field_name} {key!r} appears {len(rownums)} times in the file "
                           f"(rows {listed}); ids must be unique")
            values.append(key)
    problems.reject_rows(rows, field_name, reasons, values)
