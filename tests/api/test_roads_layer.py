"""The roads layer on both backends: load, topology report, --replace, bad input, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from api.cli import main
from api.models import loads, roads
from api.roads import count_roads, load_roads, read_road_edges
from geo.errors import InputError, MissingDataError, ParameterError

DATA = Path(__file__).parents[1] / "data" / "roads"
GRID = DATA / "grid_viaduct.geojson"
FIELDS = ["class=等级", "oneway=单行", "speed=限速", "bridge=高架", "name=名称"]


def test_roads_are_noded_stored_and_read_back(engine):
    rep = load_roads(engine, GRID, fields=FIELDS)
    t = rep.topology
    # 6 streets split at their 3 crossings into 12 edges on 9 nodes; the viaduct crosses the
    # grid without a junction (1 edge, 2 nodes); the lane far off is its own piece.
    assert (t.nodes, t.edges, t.components) == (13, 14, 3)
    assert t.largest_component_length_share == pytest.approx(2400 / (2400 + 600 * 2**0.5 + 100),
                                                             rel=1e-3)
    assert list(t.isolated["edges"]) == [1, 1]
    assert (rep.lines_read, rep.lines_rejected, rep.edges_removed) == (8, 0, 0)
    with engine.connect() as conn:
        assert count_roads(conn) == 14
        edges = read_road_edges(conn)
        assert conn.execute(sa.select(loads.c.layer, loads.c.rows_loaded)).one() == ("roads", 14)
    assert str(edges.crs) == "EPSG:4326"
    viaduct = edges[edges["name"] == "高架路"].iloc[0]
    assert (viaduct["road_class"], bool(viaduct["bridge"]), viaduct["speed_kmh"]) == (
        "trunk", True, 80.0)
    assert viaduct["length_m"] == pytest.approx(600 * 2**0.5, rel=1e-3)
    one_way = edges[edges["name"] == "纵街3"]
    assert len(one_way) == 2 and one_way["oneway"].all()
    assert edges[edges["name"] == "纵街2"]["road_class"].unique().tolist() == ["secondary"]


def test_a_second_network_needs_replace_which_marks_the_first_removed(engine):
    load_roads(engine, GRID, fields=FIELDS)
    with pytest.raises(ParameterError, match=r"14 road edges are loaded already.*--replace"):
        load_roads(engine, GRID, fields=FIELDS)
    rep = load_roads(engine, GRID, fields=FIELDS, replace=True)
    assert rep.edges_removed == 14
    with engine.connect() as conn:
        assert count_roads(conn) == 14
        total = conn.execute(sa.select(sa.func.count()).select_from(roads)).scalar_one()
        removed = conn.execute(sa.select(sa.func.count()).select_from(roads).where(
            roads.c.removed_on.is_not(None))).scalar_one()
    assert (total, removed) == (28, 14)  # nothing deleted


def test_bad_field_mappings_name_the_field(engine):
    with pytest.raises(ParameterError, match=r"--field lanes=车道: 'lanes' is no road field"):
        load_roads(engine, GRID, fields=["lanes=车道"])
    with pytest.raises(InputError, match=r"road_class=等级级: no such column"):
        load_roads(engine, GRID, fields=["class=等级级"])
    with pytest.raises(InputError, match="no such file"):
        load_roads(engine, DATA / "missing.geojson")
    with engine.connect() as conn:
        assert count_roads(conn) == 0
        with pytest.raises(MissingDataError, match="pingan load roads"):
            read_road_edges(conn)


def test_points_are_no_roads(engine, tmp_path):
    path = tmp_path / "p.geojson"
    path.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
                    '{},"geometry":{"type":"Point","coordinates":[116.4,39.9]}}]}',
                    encoding="utf-8")
    with pytest.raises(InputError, match="expected LineString or MultiLineString"):
        load_roads(engine, path)


def test_osm_extracts_load_with_their_node_ids(engine):
    rep = load_roads(engine, DATA / "crossing.osm")
    with engine.connect() as conn:
        edges = read_road_edges(conn)
    assert rep.topology.edges == len(edges) > 0
    # OSM node ids are kept: the viaduct (way 200, nodes 4-5) shares no node with the street
    # it crosses, so it is an edge of its own between nodes 4 and 5.
    viaduct = edges[edges["source_row"] == 200]
    assert sorted(viaduct[["u", "v"]].to_numpy().ravel().tolist()) == [4, 5]
    assert 8 not in set(edges["u"]) | set(edges["v"])  # the construction way is no road


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_cli_load_roads_prints_the_topology(tmp_path, capsys):
    db = tmp_path / "c.db"
    code = main(["-d", str(db), "load", "roads", str(GRID), *[
        a for f in FIELDS for a in ("--field", f)]])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "13 nodes, 14 edges" in out.out and "3 connected components" in out.out
    assert "isolated pieces (2" in out.out
    assert main(["-d", str(db), "load", "roads", str(GRID)]) == 1
    assert "--replace" in capsys.readouterr().err
    assert main(["-d", str(db), "load", "roads", str(GRID), "--replace"]) == 0
    assert "14 edges of the earlier network marked removed" in capsys.readouterr().out


def test_a_gcj02_csv_with_wkt_loads_where_the_geojson_does(engine, tmp_path):
    """A road table from a Chinese web map: lines as WKT in GCJ-02 (--crs gcj02), like incidents."""
    import geopandas as gpd
    import shapely

    from geo.china import wgs84_to_gcj02

    grid = gpd.read_file(GRID)

    def to_gcj(xy):
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.c_[lon, lat]

    shifted = shapely.transform(np.asarray(grid.geometry.array, dtype=object), to_gcj)
    # GCJ-02 moves these streets by hundreds of metres: read as WGS84 they would be elsewhere.
    assert shapely.distance(shifted[0], grid.geometry.iloc[0]) > 0.001
    table = grid.drop(columns="geometry").assign(线形=shapely.to_wkt(shifted))
    path = tmp_path / "道路.csv"
    table.to_csv(path, index=False, encoding="utf-8-sig")
    rep = load_roads(engine, path, fields=[*FIELDS, "wkt=线形"], crs="gcj02")
    assert (rep.topology.nodes, rep.topology.edges, rep.topology.components) == (13, 14, 3)
    with engine.connect() as conn:
        edges = read_road_edges(conn)
    viaduct = edges[edges["name"] == "高架路"].iloc[0]
    assert (viaduct["road_class"], bool(viaduct["bridge"])) == ("trunk", True)
    # Back on the WGS84 streets to within a few centimetres (GCJ-02 is inverted iteratively).
    original = grid[grid["名称"] == "高架路"].geometry.iloc[0]
    assert shapely.hausdorff_distance(viaduct.geometry, original) < 1e-6
    with pytest.raises(InputError, match=r"--field wkt=线: no such column"):
        load_roads(engine, path, fields=["wkt=线"], crs="gcj02", replace=True)
