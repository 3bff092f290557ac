"""Read the road graph of an OpenStreetMap extract (``.osm`` XML or ``.pbf``), keeping node ids.

In OSM, roads connect where their ways share a node, and only there: two ways that cross
without a shared node are a bridge over a road, a tunnel under it, or a mapping error, and
must not connect. GDAL's OSM driver drops the node ids and cannot tell; this reader uses
pyosmium (the ``osmium`` package, Python bindings of libosmium, the library osm2pgsql and
osmium-tool are built on), which streams both formats with node locations.

Every way with a ``highway`` value in :data:`geo.roads.ROAD_CLASSES` (plus ``road``) is read;
other values (``construction``, ``proposed``, ``platform``, ``bus_stop``…) are not roads and
are left out. A way is split into edges at every node it shares with another kept way (or
meets twice, as a loop does) and at its ends, as osmnx does; edges keep the OSM node ids as
``u`` and ``v`` and the way id as ``source_row``. Tags are read with the same rules as line
files (:func:`geo.roads.normalise_roads`), with one addition from the OSM wiki: a
``highway=motorway`` way without ``oneway`` is one-way, as are roundabouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputError
from geo.noding import RoadEdges, topology_report
from geo.projection import metric_crs_of
from geo.roads import ROAD_CLASSES, normalise_roads, parse_oneway

__all__ = ["read_osm"]

_TAGS = ("highway", "oneway", "junction", "maxspeed", "bridge", "tunnel", "layer", "name")


def read_osm(path: str | Path, *, metric_crs: Any = None) -> RoadEdges:
    """Read the roads of an OSM extract into a road graph's edges.

    Parameters
    ----------
    path
        ``.osm`` (XML, optionally ``.bz2``/``.gz``) or ``.pbf`` file.
    metric_crs
        Projected CRS in metres for lengths; default :func:`geo.projection.metric_crs_of`
        the roads.

    Returns
    -------
    geo.noding.RoadEdges
        Edges in EPSG:4326 with OSM node ids as ``u``/``v``.

    Raises
    ------
    geo.errors.InputError
        When the file cannot be read or holds no road.
    """
    refs, lons, lats, way_of, tags, way_ids, dropped = _read_ways(Path(path))
    if not len(way_ids):
        raise InputError(f"{path}: no road (no way with a highway tag pingan reads)")
    table = pd.DataFrame(tags, columns=list(_TAGS))
    motorway = (table["highway"] == "motorway") & table["oneway"].isna()
    table.loc[motorway, "oneway"] = "yes"
    starts = np.searchsorted(way_of, np.arange(len(way_ids)))
    stops = np.r_[starts[1:], len(refs)]
    # oneway=-1 ways are turned round here, so that every one-way edge runs along its line.
    backward = parse_oneway(table["oneway"], table["junction"]) < 0
    table.loc[backward, "oneway"] = "yes"
    order = np.concatenate([
        np.arange(stops[w] - 1, starts[w] - 1, -1) if backward[w]
        else np.arange(starts[w], stops[w]) for w in range(len(way_ids))])
    refs, lons, lats = refs[order], lons[order], lats[order]
    whole = shapely.linestrings(np.c_[lons, lats], indices=way_of)
    read = normalise_roads(gpd.GeoDataFrame(table, geometry=whole, crs=4326), fields={
        "road_class": "highway", "speed_kmh": "maxspeed", "oneway": "oneway",
        "junction": "junction", "bridge": "bridge", "tunnel": "tunnel", "layer": "layer",
        "name": "name"})
    lines = read.frame
    kept = lines["source_row"].to_numpy(np.int64) - 1
    use = np.isin(way_of, kept)
    owner = np.searchsorted(kept, way_of[use])
    node_refs, x, y = refs[use], lons[use], lats[use]
    u, v, geoms, piece_way = _split_at_shared_nodes(node_refs, x, y, owner)
    attrs = lines.drop(columns="geometry").iloc[piece_way].reset_index(drop=True)
    attrs["source_row"] = way_ids[kept][piece_way]
    edges = gpd.GeoDataFrame({"u": u, "v": v, **{c: attrs[c] for c in attrs.columns}},
                             geometry=geoms, crs=4326)
    crs = metric_crs_of(edges, metric_crs=metric_crs)
    edges["length_m"] = shapely.length(np.asarray(edges.geometry.to_crs(crs).array,
                                                  dtype=object))
    warnings = list(read.warnings)
    if dropped:
        warnings.append(f"{dropped} way nodes have no location in the extract and were left "
                        "out of their ways")
    return RoadEdges(edges, topology_report(edges), crs, read.rejections, tuple(warnings))


def _read_ways(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                    list[tuple[Any, ...]], np.ndarray, int]:
    """Stream the highway ways: node refs, lon, lat, way position per node, tags, way ids."""
    import osmium

    if not path.exists():
        raise InputError(f"{path}: no such file")
    roads = set(ROAD_CLASSES) | {"road"}
    refs: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    way_of: list[int] = []
    tags: list[tuple[Any, ...]] = []
    way_ids: list[int] = []
    dropped = 0
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        for obj in processor.with_locations():
            if not isinstance(obj, osmium.osm.Way) or obj.tags.get("highway") not in roads:
                continue
            nodes = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            dropped += len(obj.nodes) - len(nodes)
            if len(nodes) < 2:
                continue
            position = len(way_ids)
            for ref, lon, lat in nodes:
                refs.append(ref)
                lons.append(lon)
                lats.append(lat)
                way_of.append(position)
            tags.append(tuple(obj.tags.get(t) for t in _TAGS))
            way_ids.append(obj.id)
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read as OSM: {exc}") from None
    return (np.asarray(refs, dtype=np.int64), np.asarray(lons, dtype=np.float64),
            np.asarray(lats, dtype=np.float64), np.asarray(way_of, dtype=np.int64), tags,
            np.asarray(way_ids, dtype=np.int64), dropped)


def _split_at_shared_nodes(refs: np.ndarray, x: np.ndarray, y: np.ndarray, owner: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ways (consecutive nodes with the same ``owner``) at shared nodes and their ends."""
    # A node used twice anywhere (two ways, or a way meeting itself) is a junction.
    _, inverse, counts = np.unique(refs, return_inverse=True, return_counts=True)
    first = np.r_[True, owner[1:] != owner[:-1]]
    last = np.r_[owner[1:] != owner[:-1], True]
    split = first | last | (counts[inverse] > 1)
    cut = np.flatnonzero(split)
    same = owner[cut[1:]] == owner[cut[:-1]]
    a, b = cut[:-1][same], cut[1:][same]
    size = b - a + 1
    idx = np.repeat(a, size) + (np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size))
    geoms = np.asarray(shapely.linestrings(np.c_[x[idx], y[idx]],
                                           indices=np.repeat(np.arange(len(a)), size)),
                       dtype=object)
    return refs[a], refs[b], geoms, owner[a]
