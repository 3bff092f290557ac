"""The roads layer: load a road network into the database and read it back as graph edges.

A roads file is read and noded by :func:`geo.roads.read_roads` (line files: split where lines
cross on the same level, ends within ``snap_m`` merged; OSM ``.osm``/``.pbf``: ways connect
where they share a node) and stored edge by edge in the ``roads`` table, with the load log and
a new data version, as one transaction.

A roads file is a whole network: its edges connect only to each other, so a second roads load
must say ``replace=True`` (``--replace``), which marks every edge of the earlier network
removed as of the load day (never deleted), as ``--replace`` does for the other inventories.
Loading a network over another without ``replace`` is refused rather than leaving two networks
that meet nowhere.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.db import bump_data_version, lock_data_writes, utcnow
from api.loading import file_sha256
from api.models import loads, roads
from geo.errors import MissingDataError, ParameterError
from geo.noding import RoadEdges, TopologyReport
from geo.readers import parse_field_mappings
from geo.roads import ROAD_FIELDS, read_roads

__all__ = ["FIELD_ALIASES", "RoadsLoadReport", "count_roads", "load_roads", "read_road_edges"]

#: Short names accepted by ``--field`` for the canonical road fields.
FIELD_ALIASES = {"class": "road_class", "speed": "speed_kmh", "one_way": "oneway"}
_BATCH = 5000
_COLUMNS = ("u", "v", "road_class", "oneway", "speed_kmh", "bridge", "tunnel", "layer",
            "name", "source_row", "length_m")


@dataclass(frozen=True)
class RoadsLoadReport:
    """What one roads load did.

    Attributes
    ----------
    file_name, sha256, load_id, data_version
        What was loaded, its row in the load log and the data version after it.
    lines_read
        Lines (OSM: ways) read; ``lines_rejected`` of them were left out.
    edges_removed
        Edges of the earlier network marked removed (``replace``).
    topology
        Nodes, edges, connected components, share of length in the largest and the isolated
        pieces (:class:`geo.noding.TopologyReport`).
    snap_m
        Noding tolerance used (line files).
    metric_crs
        CRS of the noding and lengths.
    rejections, warnings
        Lines left out with the reason; values read with a default.
    """

    file_name: str
    sha256: str
    load_id: int
    data_version: int
    lines_read: int
    lines_rejected: int
    edges_removed: int
    topology: TopologyReport
    snap_m: float
    metric_crs: str
    rejections: tuple[Any, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def rows_loaded(self) -> int:
        """Edges stored (the load log's ``rows_loaded``)."""
        return self.topology.edges

    @property
    def rows_updated(self) -> int:
        """Always 0: a roads load adds a whole network."""
        return 0

    @property
    def rows_rejected(self) -> int:
        """Lines left out."""
        return self.lines_rejected

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values (isolated pieces without their lines)."""
        t = self.topology
        isolated = t.isolated.drop(columns="geometry")
        return {
            "layer": "roads", "file_name": self.file_name, "sha256": self.sha256,
            "load_id": self.load_id, "data_version": self.data_version,
            "lines_read": self.lines_read, "lines_rejected": self.lines_rejected,
            "edges_removed": self.edges_removed, "nodes": t.nodes, "edges": t.edges,
            "components": t.components, "length_m": t.length_m,
            "largest_component_length_share": t.largest_component_length_share,
            "isolated": isolated.to_dict(orient="records"), "snap_m": self.snap_m,
            "metric_crs": self.metric_crs, "warnings": list(self.warnings),
            "rejections": [r.__dict__ for r in self.rejections],
        }


def road_fields(items: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Parse ``--field target=source`` items for roads, accepting the short names.

    Parameters
    ----------
    items
        ``["class=等级", "oneway=单行"]`` or a mapping; ``wkt=COL`` names a table's WKT
        column.

    Returns
    -------
    dict
        Canonical road field -> source column.

    Raises
    ------
    geo.errors.ParameterError
        When a target is no road field (the message names it and lists the fields).
    """
    parsed = parse_field_mappings(items or [])
    out: dict[str, str] = {}
    for target, source in parsed.items():
        name = FIELD_ALIASES.get(target, target)
        if name not in ROAD_FIELDS and name != "wkt":
            known = sorted({*ROAD_FIELDS, *FIELD_ALIASES, "wkt"} - {"junction"})
            raise ParameterError(f"--field {target}={source}: {target!r} is no road field; "
                                 f"expected one of {', '.join(known)}", parameter="field")
        out[name] = source
    return out


def load_roads(engine: Engine, path: str | Path, *,
               fields: Sequence[str] | Mapping[str, str] | None = None,
               crs: str | None = None, encoding: str | None = None,
               gpkg_layer: str | None = None, snap_m: float = 1.0, replace: bool = False,
               timezone: str = "Asia/Shanghai", loaded_by: str | None = None,
               display_name: str | None = None) -> RoadsLoadReport:
    """Read, node and store a road network as one transaction.

    Parameters
    ----------
    engine
        Database (schema migrated).
    path
        Any line file pingan reads (GeoJSON, GeoPackage, Shapefile, GeoParquet) or an OSM
        extract (``.osm``, ``.osm.bz2``, ``.pbf``).
    fields
        ``--field`` items: ``class``/``road_class``, ``oneway``, ``speed``/``speed_kmh``,
        ``bridge``, ``tunnel``, ``layer``, ``name``, ``junction`` (see :mod:`geo.roads`), and
        ``wkt`` for the WKT column of a CSV table.
    crs, encoding, gpkg_layer
        CRS of the coordinates (EPSG code, PROJ string, ``gcj02`` or ``bd09``; it wins over
        the file's), attribute encoding, layer inside the file.
    snap_m
        Noding tolerance of line files, metres (ends this close merge).
    replace
        The file replaces the stored network (its edges are marked removed as of today).
    timezone
        Time zone of the load day.
    loaded_by, display_name
        For the load log.

    Returns
    -------
    RoadsLoadReport

    Raises
    ------
    geo.errors.InputError
        When the file cannot be read or holds no usable road, or a mapped column is missing.
    geo.errors.ParameterError
        When a field or ``snap_m`` is out of range, or roads are stored already and
        ``replace`` is not given.
    """
    mapping = road_fields(fields)
    read = read_roads(path, fields=mapping or None, crs=crs, layer=gpkg_layer,
                      encoding=encoding, snap_m=snap_m)
    name = display_name or Path(path).name
    sha = file_sha256(path)
    options = {"fields": mapping, "crs": crs, "encoding": encoding, "gpkg_layer": gpkg_layer,
               "snap_m": snap_m}
    return _store(engine, read, name, sha, options, replace=replace, timezone=timezone,
                  loaded_by=loaded_by)


def _store(engine: Engine, read: RoadEdges, name: str, sha: str, options: Mapping[str, Any],
           *, replace: bool, timezone: str, loaded_by: str | None) -> RoadsLoadReport:
    day = dt.datetime.now(ZoneInfo(timezone)).date()
    edges = read.edges.to_crs(4326)
    lines_rejected = len({r.row for r in read.rejections})
    lines_read = int(read.edges["source_row"].nunique()) + lines_rejected
    with engine.begin() as conn:
        current = count_roads(conn)
        lock_data_writes(conn)
        if current and not replace:
            raise ParameterError(
                f"roads: {current:,} road edges are loaded already; a roads file is a whole "
                "network (its edges connect only to each other): load it with --replace, "
                "which marks the current network removed as of today", parameter="replace")
        inserted = conn.execute(loads.insert().values(
            layer="roads", file_name=name, sha256=sha, loaded_at=utcnow(),
            rows_read=lines_read, rows_loaded=len(edges), rows_updated=0,
            rows_rejected=lines_rejected, rows_removed=0, replace=replace, source_crs=None,
            options=json.dumps(options, ensure_ascii=False), loaded_by=loaded_by,
        )).inserted_primary_key
        assert inserted is not None
        load_id = int(inserted[0])
        removed = 0
        if replace:
            removed = int(conn.execute(roads.update().where(roads.c.removed_on.is_(None))
                                       .values(removed_on=day)).rowcount or 0)
        for batch in _records(edges, int(load_id)):
            conn.execute(roads.insert(), batch)
        conn.execute(loads.update().where(loads.c.id == load_id).values(rows_removed=removed))
        version = bump_data_version(conn)
    return RoadsLoadReport(name, sha, int(load_id), version, lines_read, lines_rejected,
                           removed, read.report, float(options["snap_m"]),
                           read.metric_crs.to_string(), tuple(read.rejections),
                           tuple(read.warnings))


def _records(edges: gpd.GeoDataFrame, load_id: int) -> Any:
    """Edge rows as dicts of plain values, in batches; lines as EWKT of EPSG:4326."""
    wkt = shapely.to_wkt(np.asarray(edges.geometry.array, dtype=object), rounding_precision=-1)
    cols = {c: edges[c].astype(object).where(edges[c].notna(), None).to_numpy()
            for c in _COLUMNS}
    n = len(edges)
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        yield [{**{c: _plain(cols[c][i]) for c in _COLUMNS}, "load_id": load_id,
                "geom": f"SRID=4326;{wkt[i]}"} for i in range(start, stop)]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    return value


def count_roads(conn: sa.Connection) -> int:
    """Edges of the current road network (0: no roads layer is loaded)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(roads).where(
        roads.c.removed_on.is_(None))).scalar_one())


def read_road_edges(conn: sa.Connection) -> gpd.GeoDataFrame:
    """The current road network as graph edges (EPSG:4326), for :func:`geo.network.build_network`.

    Raises
    ------
    geo.errors.MissingDataError
        When no roads layer is loaded (the message names ``pingan load roads``).
    """
    result = conn.execute(sa.select(*[roads.c[c] for c in _COLUMNS],
                                    sa.func.ST_AsBinary(roads.c.geom))
                          .where(roads.c.removed_on.is_(None)).order_by(roads.c.id))
    rows = result.all()
    if not rows:
        raise MissingDataError("no roads layer is loaded: network reach (walk, drive) needs "
                               "one; load it with `pingan load roads FILE` (any line file or "
                               "an OSM .osm/.pbf extract), or use reach=line")
    frame = pd.DataFrame([tuple(r[:-1]) for r in rows], columns=list(_COLUMNS))
    geoms = shapely.from_wkb([bytes(r[-1]) for r in rows])
    frame = frame.astype({"u": "int64", "v": "int64", "oneway": bool, "bridge": bool,
                          "tunnel": bool, "layer": "int64", "length_m": "float64",
                          "speed_kmh": "float64"})
    frame["road_class"] = frame["road_class"].astype("string")
    frame["name"] = frame["name"].astype("string")
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs="EPSG:4326")
