"""pingan on a real street network it has not seen, against an independent computation.

The network is the centre of Aguascalientes, Mexico, from OpenStreetMap (676 highway ways;
``tests/data/roads/README.md`` gives its source and licence). pingan loads it with
``pingan load roads`` (its OSM reader, pyosmium, keeping node ids), reads it back from the
database and answers, for 600 random demand points, the walking distance to the nearest of 15
facilities (on 14 random OSM nodes; two share one, to exercise ties) and which facility that
is (the catchment).

Measured (seed 14): 599 points reached, 1 on a piece no facility reaches (no_route in both);
same CRS: largest difference 2.4e-10 m; ground metres: largest difference 0.70 m, 0.059 %
(UTM's scale factor there is 1.00058); no catchment differs except between the two facilities
on the same node.

The independent computation shares no code with pingan: the OSM XML is parsed with the
standard library, every pair of consecutive way nodes is an edge of a networkx graph (ways
connect where they share a node id, and only there), distances from each facility come from
networkx's Dijkstra, and demand points are snapped by brute force to the nearest way segment.
Walking uses every way with a road ``highway`` value but motorways and trunk roads (this
extract has none) and ignores one-way.

Two comparisons:

- in the same metric CRS (UTM zone 13N, EPSG:32613, which pingan also chooses here): the
  graph, snapping and offset rules must agree to 1e-6 m;
- in ground metres on the ellipsoid (segment lengths and offsets by ``pyproj.Geod``): pingan's
  UTM lengths may differ by UTM's scale error at 2.7 degrees from the central meridian
  (about 0.06 %); the test allows 0.1 % + 0.01 m.

Tie rule: a point's catchment must be the independent computation's nearest facility, unless
the independent second-nearest facility is within 0.01 m of the nearest (then either is
right: pingan gives ties to whichever the search settles first).
"""

from __future__ import annotations

import bz2
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest

from api.cli import main
from api.db import create_db_engine
from api.roads import read_road_edges
from geo.network import build_network

OSM = Path(__file__).parents[1] / "data" / "roads" / "aguascalientes.osm.bz2"
UTM = "EPSG:32613"
#: Road ``highway`` values a pedestrian may walk on (OSM wiki, "Key:highway"): no motorway
#: or trunk, nothing that is not a road (construction, proposed, platform, bus_stop...).
WALKABLE = {"primary", "primary_link", "secondary", "secondary_link", "tertiary",
            "tertiary_link", "unclassified", "residential", "living_street", "service",
            "track", "pedestrian", "footway", "steps", "path", "cycleway", "bridleway",
            "corridor", "road"}
TIE_M = 0.01
pytestmark = pytest.mark.slow  # over 2 s (loads the extract through the CLI)
N_FACILITIES, N_POINTS = 15, 600


def _read_osm_xml(path: Path) -> tuple[dict[int, tuple[float, float]], list[list[int]]]:
    """Node locations and the node lists of walkable ways, straight from the XML."""
    root = ET.fromstring(bz2.decompress(path.read_bytes()))
    nodes = {int(n.get("id")): (float(n.get("lon")), float(n.get("lat")))
             for n in root.iter("node")}
    ways = []
    for w in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in w.iter("tag")}
        if tags.get("highway") in WALKABLE:
            ways.append([int(n.get("ref")) for n in w.iter("nd")])
    return nodes, ways


class Independent:
    """The network as networkx sees it, with per-facility distances to every node."""

    def __init__(self, nodes: dict[int, tuple[float, float]], ways: list[list[int]],
                 facility_nodes: list[int], *, ground: bool) -> None:
        self.ground = ground
        self.geod = pyproj.Geod(ellps="WGS84")
        self.to_utm = pyproj.Transformer.from_crs(4326, UTM, always_xy=True)
        self.nodes = nodes
        graph = nx.Graph()
        segments = []
        for refs in ways:
            for a, b in pairwise(refs):
                length = self.length(a, b)
                if graph.has_edge(a, b):
                    length = min(length, graph[a][b]["weight"])
                graph.add_edge(a, b, weight=length)
                segments.append((a, b))
        self.segments = np.array(segments, dtype=np.int64)
        self.dist = [nx.single_source_dijkstra_path_length(graph, f, weight="weight")
                     for f in facility_nodes]

    def length(self, a: int, b: int) -> float:
        (xa, ya), (xb, yb) = self.nodes[a], self.nodes[b]
        if self.ground:
            return float(self.geod.inv(xa, ya, xb, yb)[2])
        ua, va = self.to_utm.transform(xa, ya)
        ub, vb = self.to_utm.transform(xb, yb)
        return float(np.hypot(ub - ua, vb - va))

    def costs(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Walking cost from each point to each facility: (points, facilities)."""
        ids = np.array(sorted(self.nodes))
        ll = np.array([self.nodes[i] for i in ids])
        x, y = self.to_utm.transform(ll[:, 0], ll[:, 1])
        pos = {i: k for k, i in enumerate(ids)}
        a = np.array([pos[i] for i in self.segments[:, 0]])
        b = np.array([pos[i] for i in self.segments[:, 1]])
        px, py = self.to_utm.transform(lon, lat)
        # Brute force: every point against every segment (in UTM metres).
        dx, dy = (x[b] - x[a])[None, :], (y[b] - y[a])[None, :]
        rx, ry = px[:, None] - x[a][None, :], py[:, None] - y[a][None, :]
        t = np.clip((rx * dx + ry * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        off = np.hypot(rx - t * dx, ry - t * dy)
        seg = off.argmin(axis=1)
        t = t[np.arange(len(px)), seg]
        offset = off[np.arange(len(px)), seg]
        na, nb = self.segments[seg, 0], self.segments[seg, 1]
        if self.ground:
            back = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
            sx = x[a[seg]] + t * (x[b[seg]] - x[a[seg]])
            sy = y[a[seg]] + t * (y[b[seg]] - y[a[seg]])
            slon, slat = back.transform(sx, sy)
            offset = np.asarray(self.geod.inv(lon, lat, slon, slat)[2])
        seg_len = np.array([self.length(p, q) for p, q in zip(na, nb, strict=True)])
        out = np.full((len(px), len(self.dist)), np.inf)
        for k, d in enumerate(self.dist):
            da = np.array([d.get(int(n), np.inf) for n in na])
            db = np.array([d.get(int(n), np.inf) for n in nb])
            out[:, k] = np.minimum(da + t * seg_len, db + (1 - t) * seg_len) + offset
        return out


@pytest.fixture(scope="module")
def real_case(tmp_path_factory):
    """pingan's answer (loaded through the CLI) and the inputs, for both comparisons."""
    db = tmp_path_factory.mktemp("real") / "real.db"
    assert main(["-d", str(db), "load", "roads", str(OSM)]) == 0
    engine = create_db_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        edges = read_road_edges(conn)
    engine.dispose()
    nodes, ways = _read_osm_xml(OSM)
    rng = np.random.default_rng(14)
    on_ways = sorted({n for w in ways for n in w})
    facility_nodes = [int(n) for n in rng.choice(on_ways, N_FACILITIES - 1, replace=False)]
    # The last facility stands where the first does: its catchment ties with the first's.
    facility_nodes.append(facility_nodes[0])
    facilities = gpd.GeoDataFrame(
        {"id": [f"F{k:02d}" for k in range(N_FACILITIES)]},
        geometry=gpd.points_from_xy(*zip(*(nodes[n] for n in facility_nodes), strict=True)),
        crs=4326)
    lon = rng.uniform(-102.2799, -102.2635, N_POINTS)
    lat = rng.uniform(21.8626, 21.8752, N_POINTS)
    demand = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    net = build_network(edges, mode="walk")
    got = net.nearest(demand, facilities, direction="to").frame
    return {"net": net, "got": got, "nodes": nodes, "ways": ways,
            "facility_nodes": facility_nodes, "lon": lon, "lat": lat}


def _compare(case, *, ground: bool) -> dict[str, float]:
    ind = Independent(case["nodes"], case["ways"], case["facility_nodes"], ground=ground)
    costs = ind.costs(case["lon"], case["lat"])
    got = case["got"]
    ok = got["status"].to_numpy() == "ok"
    best = costs.min(axis=1)
    # Every point is within 500 m of a road here; those on a piece no facility reaches are
    # "no_route" in pingan and at infinite cost in networkx.
    assert np.array_equal(~ok, ~np.isfinite(best))
    cost = got["cost"].to_numpy(dtype=float)[ok]
    diff = np.abs(cost - best[ok])
    ranked = np.sort(costs[ok], axis=1)
    tied = ranked[:, 1] - ranked[:, 0] <= TIE_M
    expected = np.array([f"F{k:02d}" for k in costs[ok].argmin(axis=1)])
    facility = got["facility_id"].astype(str).to_numpy()[ok]
    agree = facility == expected
    return {"points": int(ok.sum()), "no_route": int((~ok).sum()),
            "max_diff_m": float(diff.max()), "max_rel": float((diff / best[ok]).max()),
            "ties": int(tied.sum()), "disagree_untied": int((~agree & ~tied).sum()),
            "disagree_tied": int((~agree & tied).sum()), "median_m": float(np.median(cost))}


def test_pingan_reads_the_real_extract_as_networkx_does(real_case):
    net = real_case["net"]
    assert net.crs.to_epsg() == 32613
    ids = set(net.node_ids.tolist())
    # Every node pingan keeps is an OSM node id; every junction of walkable ways is one.
    assert ids <= set(real_case["nodes"])
    counts: dict[int, int] = {}
    for w in real_case["ways"]:
        for n in set(w):
            counts[n] = counts.get(n, 0) + 1
    assert {n for n, c in counts.items() if c > 1} <= ids
    ind = Independent(real_case["nodes"], real_case["ways"], [], ground=False)
    total = sum(ind.length(int(a), int(b)) for a, b in ind.segments)
    assert net.edges["length_m"].sum() == pytest.approx(total, rel=1e-9)
    assert len(net.edges) > len(real_case["ways"])  # ways split at their shared nodes


def test_walking_catchments_match_networkx_in_the_same_crs(real_case):
    r = _compare(real_case, ground=False)
    assert r["points"] + r["no_route"] == N_POINTS and r["points"] > 0.9 * N_POINTS
    assert r["max_diff_m"] < 1e-6
    assert r["disagree_untied"] == 0
    # F00 and F14 stand on the same node: every point of their catchment is a tie.
    assert r["ties"] > 0
    assert 100 < r["median_m"] < 1500  # real walks, not zeros


def test_walking_catchments_match_ground_distances_within_utm_scale(real_case):
    r = _compare(real_case, ground=True)
    assert r["max_rel"] < 1e-3
    assert r["disagree_untied"] == 0
