"""Tests for geo.network and geo.isochrones: hand-made street networks with hand-computed
costs, and a random network checked against networkx with facilities split into their edges."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely

from geo.errors import InputError, LimitError, MissingDataError, ParameterError
from geo.isochrones import reached_lines, service_areas
from geo.network import build_network
from geo.noding import node_lines
from geo.roads import WALK_SPEED_MPS, normalise_roads

GK = 4548
X0, Y0 = 500_000.0, 4_400_000.0


def _line(*xy):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in xy])


def _network(lines, mode="walk", crs=GK, **columns):
    n = len(lines)
    frame = gpd.GeoDataFrame({"highway": ["residential"] * n, **columns},
                             geometry=gpd.GeoSeries(lines, crs=GK).to_crs(crs), crs=crs)
    return build_network(node_lines(normalise_roads(frame).frame), mode=mode, metric_crs=GK)


def _points(*xy, crs=GK, ids=None):
    geoms = gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y) for x, y in xy], crs=GK).to_crs(crs)
    if ids is None:
        return geoms
    return gpd.GeoDataFrame({"id": ids}, geometry=geoms, crs=crs)


# --- hand-made networks ----------------------------------------------------------------------


def test_across_the_river_is_near_in_a_straight_line_and_far_by_road():
    # South bank street y=0, north bank street y=100, one bridge at x=1000.
    net = _network([_line((0, 0), (1000, 0)), _line((0, 100), (1000, 100)),
                    _line((1000, 0), (1000, 100))])
    station = _points((100, -10), ids=["S"])
    home = _points((100, 110))
    got = net.nearest(home, station).frame.iloc[0]
    assert got["facility_id"] == "S"
    # 900 east, 100 over the bridge, 900 west, plus the home's 10 m offset.
    assert got["cost"] == pytest.approx(1910.0)
    assert got["offset_m"] == pytest.approx(10.0)
    assert got["minutes"] == pytest.approx(1910.0 / WALK_SPEED_MPS / 60.0)
    assert home.distance(station.geometry.iloc[0]).iloc[0] == pytest.approx(120.0)
    assert not net.nearest(home, station).reached(max_m=500)[0]


def _one_way_network(mode):
    # a=(0,0) -> b=(100,0) one-way; a detour a-c-b of 150 + 150 m; a two-way spur s-a of 100 m.
    h = math.sqrt(150.0**2 - 50.0**2)
    return _network([_line((0, 0), (100, 0)), _line((0, 0), (50, h)), _line((50, h), (100, 0)),
                     _line((0, -100), (0, 0))], mode=mode, oneway=["yes", None, None, None],
                    maxspeed=["36"] * 4)


def test_one_way_streets_count_for_driving_only():
    station = _points((-5, -50), ids=["P"])
    incident = _points((60, -5))
    drive = _one_way_network("drive")
    out = drive.nearest(incident, station, direction="from").frame.iloc[0]
    # 50 m to a, 60 m along the one-way street at 10 m/s, plus 5 m offset at walking speed.
    assert out["cost"] == pytest.approx(11.0 + 5.0 / WALK_SPEED_MPS)
    back = drive.nearest(incident, station, direction="to").frame.iloc[0]
    # Against the one-way: 40 m on to b, the 300 m detour, 50 m down the spur.
    assert back["cost"] == pytest.approx(39.0 + 5.0 / WALK_SPEED_MPS)
    assert back["minutes"] == pytest.approx(back["cost"] / 60.0)
    walk = _one_way_network("walk")
    for direction in ("from", "to"):
        assert walk.nearest(incident, station, direction=direction).frame["cost"].iloc[0] == (
            pytest.approx(115.0))


def test_facility_on_a_one_way_street_leaves_only_along_it():
    drive = _one_way_network("drive")
    station = _points((30, 2), ids=["P"])  # on the one-way street a -> b, 30 m from a
    got = drive.nearest(_points((80, -1), (10, -1)), station, direction="from").frame
    assert got["cost"].iloc[0] == pytest.approx(5.0 + 1.0 / WALK_SPEED_MPS)
    # Behind it: on to b (70 m), the detour back to a (300 m), then 10 m: 38 s.
    assert got["cost"].iloc[1] == pytest.approx(38.0 + 1.0 / WALK_SPEED_MPS)


def test_offsets_are_added_and_far_points_are_unreachable():
    net = _network([_line((0, 0), (1000, 0))])
    station = _points((0, 0), ids=["S"])
    pts = _points((300, 30), (300, -600), (300, 0))
    got = net.nearest(pts, station)
    assert got.frame["cost"].tolist()[0] == pytest.approx(330.0)
    assert got.frame["offset_m"].tolist()[0] == pytest.approx(30.0)
    assert got.frame["status"].tolist() == ["ok", "unreachable", "ok"]
    assert np.isnan(got.frame["cost"].iloc[1])
    shares = got.shares(max_m=(310.0,), weights=[10.0, 5.0, 1.0])
    assert shares.loc[0, ["reached", "not_reached", "unreachable", "total"]].tolist() == [
        1.0, 15.0, 5.0, 16.0]
    wider = net.nearest(pts, station, max_offset_m=700)
    assert wider.frame["cost"].iloc[1] == pytest.approx(900.0)
    drive = _network([_line((0, 0), (1000, 0))], mode="drive", maxspeed=["36"])
    assert drive.nearest(pts, station).frame["cost"].iloc[0] == pytest.approx(
        30.0 + 30.0 / WALK_SPEED_MPS)


def test_points_on_a_part_without_facilities_have_no_route():
    net = _network([_line((0, 0), (100, 0)), _line((0, 300), (100, 300))])
    got = net.nearest(_points((50, 290), (50, 10)), _points((0, 0), ids=["S"]))
    assert got.frame["status"].tolist() == ["no_route", "ok"]
    assert got.frame["facility_id"].isna().tolist() == [True, False]


def test_catchments_split_a_street_between_two_facilities():
    net = _network([_line((0, 0), (1000, 0))])
    stations = _points((100, 0), (700, 0), ids=["W", "E"])
    pts = _points((0, 0), (350, 5), (450, 0), (999, 0))
    got = net.nearest(pts, stations).frame
    assert got["facility_id"].tolist() == ["W", "W", "E", "E"]
    assert got["cost"].tolist() == pytest.approx([100.0, 255.0, 250.0, 299.0])


def test_same_ground_distances_in_feet_and_in_degrees():
    feet = pyproj.CRS.from_proj4("+proj=tmerc +lat_0=39.9 +lon_0=116.4 +k=1 +x_0=0 +y_0=0 "
                                 "+ellps=GRS80 +units=us-ft +no_defs")
    lines = [_line((0, 0), (500, 0), (800, 300)), _line((500, 0), (500, -400)),
             _line((800, 300), (800, -400), (0, -400), (0, 0))]
    results = []
    for crs in (feet, 4326, GK):
        net = _network(lines, crs=crs)
        got = net.nearest(_points((700, -380), (20, -30), crs=crs),
                          _points((450, 5), ids=["S"], crs=crs))
        results.append(got.frame["cost"].to_numpy())
    assert results[0] == pytest.approx(results[2], abs=1e-6)
    assert results[1] == pytest.approx(results[2], abs=1e-6)
    # By hand: 50 m east, 400 m down the middle street, 200 m east, plus the 20 m offset; the
    # second point is 20 m off the west street, 30 m below the corner, 450 m from it.
    assert results[2].tolist() == pytest.approx([670.0, 500.0])


def test_cost_pairs_within_a_limit():
    net = _network([_line((0, 0), (1000, 0))])
    pairs = net.cost_pairs(_points((100, 0), (500, 10), (990, 0)),
                           _points((0, 0), (600, 0), ids=["a", "b"]), max_m=300)
    got = sorted(zip(pairs.demand.tolist(), pairs.candidate.tolist(), pairs.cost.tolist(),
                     strict=True))
    assert got == [(0, 0, pytest.approx(100.0)), (1, 1, pytest.approx(110.0))]
    matrix = pairs.matrix()
    assert matrix.shape == (3, 2)
    assert matrix[1, 1] == pytest.approx(110.0)
    # Two minutes at 1.2 m/s are 144 m.
    minutes = net.cost_pairs(_points((100, 0), (150, 0)), _points((0, 0)), max_min=2.0)
    assert minutes.cost.tolist() == pytest.approx([100.0])


def test_errors_name_the_parameter():
    net = _network([_line((0, 0), (100, 0))])
    station = _points((0, 0), ids=["S"])
    with pytest.raises(ParameterError, match="direction must be one of to, from; got 'up'"):
        net.nearest(_points((1, 1)), station, direction="up")
    with pytest.raises(ParameterError, match="max_offset_m must be a number > 0; got -5"):
        net.nearest(_points((1, 1)), station, max_offset_m=-5)
    with pytest.raises(MissingDataError, match="no facility lies within max_offset_m=500"):
        net.nearest(_points((1, 1)), _points((0, 5000), ids=["far"]))
    with pytest.raises(InputError, match="points must be points"):
        net.locate(gpd.GeoSeries([_line((0, 0), (1, 1))], crs=GK))
    with pytest.raises(InputError, match="have no CRS"):
        net.locate(gpd.GeoSeries([shapely.Point(0, 0)]))
    with pytest.raises(ParameterError, match="give exactly one of max_m and max_min"):
        net.nearest(_points((1, 1)), station).reached()
    drive = _network([_line((0, 0), (100, 0))], mode="drive")
    with pytest.raises(ParameterError, match="max_m is for walking"):
        drive.nearest(_points((1, 1)), station).reached(max_m=100)
    with pytest.raises(ParameterError, match="mode must be one of walk, drive; got 'fly'"):
        build_network(net.edges, mode="fly")
    with pytest.raises(ParameterError, match=r"speeds_kmh\['primary'\] must be a number > 0"):
        build_network(net.edges, mode="drive", speeds_kmh={"primary": 0})
    with pytest.raises(MissingDataError, match="no road may be used for 'drive'"):
        _network([_line((0, 0), (100, 0))], mode="drive", highway=["footway"])


def test_speeds_come_from_the_road_then_the_override_then_the_class():
    lines = [_line((0, 0), (1000, 0)), _line((1000, 0), (2000, 0))]
    net = _network(lines, mode="drive", highway=["primary", "secondary"], maxspeed=["20", None])
    assert net.edges["speed_kmh"].tolist() == [20.0, 40.0]
    faster = build_network(net.edges.assign(speed_kmh=[20.0, np.nan]), mode="drive",
                           speeds_kmh={"secondary": 60.0})
    got = faster.nearest(_points((2000, 0)), _points((0, 0), ids=["S"]), direction="from")
    assert got.frame["cost"].iloc[0] == pytest.approx(180.0 + 60.0)


# --- service areas ---------------------------------------------------------------------------


def test_partly_reached_edges_in_a_service_area():
    net = _network([_line((0, 0), (1000, 0))])
    got = reached_lines(net, _points((100, 0), (500, 0), ids=["near_end", "middle"]),
                        max_m=(300.0,))
    assert got["reached_length_m"].tolist() == pytest.approx([400.0, 600.0])
    near_end = got.geometry.iloc[0]
    # From the facility back to the end and on (100 + 300 m), and from the end (200 m).
    assert shapely.length(near_end) == pytest.approx(600.0)
    assert shapely.length(shapely.line_merge(shapely.union_all(
        shapely.get_parts(near_end)))) == pytest.approx(400.0)
    areas = service_areas(net, _points((100, 0), ids=["S"]), max_m=(300.0,), trim_m=50.0,
                          quad_segs=8)
    expected = shapely.buffer(_line((0, 0), (400, 0)), 50.0, quad_segs=8)
    assert areas.geometry.iloc[0].symmetric_difference(expected).area == pytest.approx(
        0.0, abs=1e-3)


def test_service_area_follows_one_way_and_thresholds_nest():
    drive = _one_way_network("drive")
    got = reached_lines(drive, _points((-5, -50), ids=["P"]), max_min=(7.0 / 60, 0.5),
                        direction="from")
    # 7 s at 10 m/s is 70 m: 50 m up the spur to a, 50 m back down it, and 20 m on each road
    # leaving a (the one-way street and the detour's first leg).
    assert got["reached_length_m"].tolist()[0] == pytest.approx(50 + 50 + 20 + 20)
    toward = reached_lines(drive, _points((-5, -50), ids=["P"]), max_min=(7.0 / 60,),
                           direction="to")
    # Towards the station nothing comes along the one-way street (it leaves a).
    assert toward["reached_length_m"].tolist()[0] == pytest.approx(50 + 50 + 20)
    assert got["reached_length_m"].tolist()[1] == pytest.approx(100 + 100 + 150 + 150)
    # Areas are built from the smallest threshold up, whatever the order given: each equals
    # the area of its threshold alone.
    both = service_areas(drive, _points((-5, -50), ids=["P"]), max_min=(0.5, 7.0 / 60),
                         direction="from", trim_m=20.0)
    assert both["threshold"].tolist() == [0.5, 7.0 / 60]
    for threshold, area in zip(both["threshold"], both.geometry, strict=True):
        alone = service_areas(drive, _points((-5, -50), ids=["P"]), max_min=(threshold,),
                              direction="from", trim_m=20.0).geometry.iloc[0]
        assert area.area > 0
        assert area.symmetric_difference(alone).area == pytest.approx(0.0, abs=1e-6)


def test_service_area_errors():
    net = _network([_line((0, 0), (100, 0))])
    with pytest.raises(ParameterError, match="give at least one threshold"):
        reached_lines(net, _points((0, 0), ids=["S"]))
    with pytest.raises(ParameterError, match="trim_m must be a number > 0; got 0"):
        service_areas(net, _points((0, 0), ids=["S"]), max_m=(10,), trim_m=0)
    # Two facilities reach 2 pieces each (their own edge both ways) within 10 m: 4 > 3.
    two = _points((50, 0), (60, 0), ids=["S", "T"])
    assert len(reached_lines(net, two, max_m=(10.0,), max_pieces=4)) == 2
    with pytest.raises(LimitError, match=r"more than max_pieces \(3\)") as info:
        service_areas(net, two, max_m=(10.0,), max_pieces=3)
    assert info.value.parameter == "max_pieces"


# --- against an independent computation ------------------------------------------------------


def _random_streets(seed, n=14, spacing=100.0):
    rng = np.random.default_rng(seed)
    xy = np.stack(np.meshgrid(np.arange(n), np.arange(n), indexing="ij"), -1).reshape(-1, 2)
    xy = xy * spacing + rng.normal(0, spacing * 0.15, xy.shape)
    idx = np.arange(n * n).reshape(n, n)
    pairs = np.r_[np.c_[idx[:-1].ravel(), idx[1:].ravel()],
                  np.c_[idx[:, :-1].ravel(), idx[:, 1:].ravel()]]
    pairs = pairs[rng.random(len(pairs)) > 0.15]
    lines = [shapely.LineString([xy[a] + (X0, Y0), (xy[a] + xy[b]) / 2 + (X0, Y0)
                                 + rng.normal(0, 8, 2), xy[b] + (X0, Y0)]) for a, b in pairs]
    oneway = np.where(rng.random(len(lines)) < 0.2, "yes", "no")
    speed = rng.choice(["20", "30", "50"], len(lines))
    frame = gpd.GeoDataFrame({"highway": ["residential"] * len(lines), "oneway": oneway,
                              "maxspeed": speed}, geometry=lines, crs=GK)
    return node_lines(normalise_roads(frame).frame)


def _split_graph(net, fac):
    """A networkx graph of the network with every located facility split into its edge."""
    g = nx.MultiDiGraph()
    edges = net.edges
    on_edge = {}
    for f in np.flatnonzero(fac.ok):
        on_edge.setdefault(int(fac.edge[f]), []).append((float(fac.along_m[f]), ("f", int(f))))
    for e in range(len(edges)):
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        length = float(edges["length_m"].iloc[e])
        rate = float(edges["cost_per_m"].iloc[e])
        chain = [(0.0, u), *sorted(on_edge.get(e, [])), (length, v)]
        for (a, x), (b, y) in itertools.pairwise(chain):
            if edges["forward"].iloc[e]:
                g.add_edge(x, y, weight=(b - a) * rate)
            if edges["backward"].iloc[e]:
                g.add_edge(y, x, weight=(b - a) * rate)
    return g, on_edge


def _independent(net, pts, fac, direction):
    g, on_edge = _split_graph(net, fac)
    if direction == "to":
        g = g.reverse(copy=True)
    sources = [("f", int(f)) for f in np.flatnonzero(fac.ok)]
    dist, paths = nx.multi_source_dijkstra(g, sources, weight="weight")
    cost = np.full(len(pts.edge), np.inf)
    owner = np.full(len(pts.edge), -1)
    for i in np.flatnonzero(pts.ok):
        e = int(pts.edge[i])
        a = float(pts.along_m[i])
        length = float(net.edges["length_m"].iloc[e])
        rate = float(net.edges["cost_per_m"].iloc[e])
        chain = [(0.0, int(net.edge_u[e])), *sorted(on_edge.get(e, [])),
                 (length, int(net.edge_v[e]))]
        k = max(j for j in range(len(chain) - 1) if chain[j][0] <= a)
        (pa, x), (pb, y) = chain[k], chain[k + 1]
        fwd, bwd = net.edges["forward"].iloc[e], net.edges["backward"].iloc[e]
        options = []
        # From a facility: arrive along the edge's direction from x, or against it from y.
        # To a facility (reversed graph): leave towards x against it, towards y along it.
        if (fwd if direction == "from" else bwd) and x in dist:
            options.append((dist[x] + (a - pa) * rate, paths[x][0]))
        if (bwd if direction == "from" else fwd) and y in dist:
            options.append((dist[y] + (pb - a) * rate, paths[y][0]))
        if options:
            c, src = min(options, key=lambda t: t[0])
            cost[i] = c + net._offset_cost(np.array([pts.offset_m[i]]))[0]
            owner[i] = src[1]
    return cost, owner


@pytest.mark.parametrize(("mode", "direction"), [("walk", "to"), ("drive", "from"),
                                                 ("drive", "to")])
@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_catchments_equal_networkx_with_split_edges(mode, direction):
    edges = _random_streets(7)
    net = build_network(edges, mode=mode)
    rng = np.random.default_rng(3)
    fac_xy = rng.uniform(0, 1300, (12, 2))
    # Two facilities on one edge, to exercise the same-edge rule.
    mid = shapely.line_interpolate_point(net.edges.geometry.iloc[5], [0.3, 0.7],
                                         normalized=True)
    fac_pts = [shapely.Point(X0 + x, Y0 + y) for x, y in fac_xy] + list(mid)
    facilities = gpd.GeoDataFrame({"id": [f"F{i}" for i in range(len(fac_pts))]},
                                  geometry=fac_pts, crs=GK)
    demand = gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y)
                            for x, y in rng.uniform(-50, 1350, (400, 2))], crs=GK)
    got = net.nearest(demand, facilities, direction=direction)
    fac = net.locate(facilities)
    pts = net.locate(demand)
    cost, owner = _independent(net, pts, fac, direction)
    ok = got.frame["status"].to_numpy() == "ok"
    assert np.array_equal(ok, np.isfinite(cost))
    assert got.frame["cost"].to_numpy()[ok] == pytest.approx(cost[ok], abs=1e-6)
    # Catchments agree except where two facilities are equally near (none here by chance).
    ids = facilities["id"].to_numpy()
    assert (got.frame["facility_id"].to_numpy(dtype=object)[ok] == ids[owner[ok]]).mean() == 1.0


def test_police_response_shares_at_3_5_10_minutes():
    # A 12 km arterial at 36 km/h (10 m/s): 3 minutes are 1,800 m.
    net = _network([_line((0, 0), (12_000, 0))], mode="drive", maxspeed=["36"])
    incidents = _points((1000, 0), (2500, 0), (4000, 0), (7000, 0), (9000, 900))
    incidents = gpd.GeoSeries([*incidents, None], crs=GK)
    got = net.nearest(incidents, _points((0, 0), ids=["P"]), direction="from")
    assert got.frame["status"].tolist() == ["ok", "ok", "ok", "ok", "unreachable", "missing"]
    shares = got.shares(max_min=(3.0, 5.0, 10.0))
    assert shares["reached"].tolist() == [1.0, 2.0, 3.0]
    assert shares["unreachable"].tolist() == [1.0] * 3
    assert shares["reached_share"].tolist() == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    pairs = net.cost_pairs(incidents, _points((0, 0)), max_min=5.0, direction="from")
    assert pairs.demand.tolist() == [0, 1]
    assert pairs.cost.tolist() == pytest.approx([100.0, 250.0])
