"""Snapping points just outside every community: the only community within the tolerance."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo.errors import ParameterError
from geo.snap_assign import assign_with_snap

DATA = Path(__file__).resolve().parents[1] / "data"

# Two 100 m squares side by side in UTM 50N (metres, so distances are exact by construction):
# A = [x0, x0+100] x [y0, y0+100], B = [x0+100, x0+200] x [y0, y0+100].
X0, Y0 = 500_000.0, 4_400_000.0
UTM = "EPSG:32650"


def squares() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["B", "A"]},
                            geometry=[box(X0 + 100, Y0, X0 + 200, Y0 + 100),
                                      box(X0, Y0, X0 + 100, Y0 + 100)], crs=UTM)


def points(xy: dict[str, tuple[float, float] | None]) -> gpd.GeoSeries:
    return gpd.GeoSeries([None if p is None else Point(X0 + p[0], Y0 + p[1])
                          for p in xy.values()], index=list(xy), crs=UTM)


PTS = {
    "inside": (50.0, 50.0),
    "border": (100.0, 50.0),     # on the shared edge: the smaller code, A
    "north_a": (50.0, 100.5),    # 0.5 m north of A only (B is 50 m away)
    "corner": (100.0, 100.3),    # 0.3 m from the corner A and B share: both within 1 m
    "far": (50.0, 105.0),        # 5 m north of A
    "east_b": (200.7, 20.0),     # 0.7 m east of B
    "none": None,
}


def table(res) -> dict[str, tuple]:
    return {k: (None if pd.isna(c) else c, None if pd.isna(b) else b, bool(a))
            for k, c, b, a in zip(res.community_code.index, res.community_code,
                                  res.assigned_by, res.ambiguous, strict=True)}


def test_only_community_within_the_tolerance_gets_the_point():
    res = assign_with_snap(points(PTS), squares(), snap_m=1.0, metric_crs=UTM)
    assert table(res) == {
        "inside": ("A", "point", False), "border": ("A", "point", False),
        "north_a": ("A", "snap", False), "corner": (None, None, True),
        "far": (None, None, False), "east_b": ("B", "snap", False),
        "none": (None, None, False)}
    assert (res.n_snapped, res.n_ambiguous) == (2, 1)
    assert res.metric_crs.to_epsg() == 32650
    assert res.community_code.name == "community_code"


def test_no_tolerance_assigns_by_point_only_and_measures_nothing():
    res = assign_with_snap(points(PTS), squares(), metric_crs=UTM)
    assert [k for k, v in table(res).items() if v[0] is not None] == ["inside", "border"]
    assert (res.n_snapped, res.n_ambiguous, res.metric_crs) == (0, 0, None)


def test_the_tolerance_is_inclusive_and_may_differ_per_point():
    # north_a is exactly 0.5 m away: within 0.5 m (dwithin is <=), not within 0.4999 m
    pts = points({"north_a": (50.0, 100.5), "far": (50.0, 105.0), "corner": (100.0, 100.3)})
    res = assign_with_snap(pts, squares(), snap_m=[0.5, 10.0, 0.2], metric_crs=UTM)
    assert table(res) == {"north_a": ("A", "snap", False), "far": ("A", "snap", False),
                          "corner": (None, None, False)}
    res = assign_with_snap(pts, squares(), snap_m=[0.4999, 4.99, 0.0], metric_crs=UTM)
    assert res.community_code.isna().all() and res.n_ambiguous == 0


@pytest.mark.parametrize("bad, match", [
    (-1.0, "snap_m must be a distance in metres >= 0; got -1.0"),
    (float("nan"), "snap_m must be a distance in metres >= 0; got nan"),
    ([1.0, 2.0], r"snap_m must be one number or one per point \(7\); got shape \(2,\)"),
])
def test_bad_tolerances_are_refused_naming_snap_m(bad, match):
    with pytest.raises(ParameterError, match=match) as info:
        assign_with_snap(points(PTS), squares(), snap_m=bad)
    assert info.value.parameter == "snap_m"


def lakeshore() -> tuple[gpd.GeoDataFrame, gpd.GeoSeries]:
    comms = gpd.read_file(DATA / "lakeshore_communities.geojson")
    rows = pd.read_csv(DATA / "lakeshore_incidents.csv", dtype={"lon": str, "lat": str})
    pts = gpd.GeoSeries(gpd.points_from_xy(rows["lon"].astype(float), rows["lat"].astype(float)),
                        index=rows["id"], crs="EPSG:4326")
    return comms, pts


def test_lake_shore_points_on_or_just_outside_the_city_edge():
    """Points on the shore (as written) or 0.3 m out snap; two communities near: none."""
    comms, pts = lakeshore()
    plain = assign_with_snap(pts, comms)
    # LS-05/06 lie exactly on the shore in decimal, but just outside in floating point;
    # LS-07 is 4 cm out; LS-08/09 0.3 m out; LS-10 0.3 m from both; LS-11 5 m out.
    assert plain.community_code.isna().to_numpy().nonzero()[0].tolist() == [4, 5, 6, 7, 8, 9, 10]
    res = assign_with_snap(pts, comms, snap_m=1.0)
    assert str(res.community_code.dtype) == "string"
    assert res.community_code.fillna("-").to_dict() == {
        "LS-01": "LS01", "LS-02": "LS01", "LS-03": "LS01", "LS-04": "LS01",
        "LS-05": "LS01", "LS-06": "LS01", "LS-07": "LS01", "LS-08": "LS01",
        "LS-09": "LS02", "LS-10": "-", "LS-11": "-", "LS-12": "LS02"}
    assert res.assigned_by[res.assigned_by == "snap"].index.tolist() == [
        "LS-05", "LS-06", "LS-07", "LS-08", "LS-09"]
    assert res.ambiguous[res.ambiguous].index.tolist() == ["LS-10"]
    assert res.metric_crs.to_epsg() == 32616  # UTM 16N: ground metres by Chicago
    # 0.2 m reaches the points on the shore and 4 cm out, not those 0.3 m out
    assert assign_with_snap(pts, comms, snap_m=0.2).n_snapped == 3
    assert assign_with_snap(pts, comms, snap_m=0.2).n_ambiguous == 0
    # the geometry is unchanged
    assert pts.equals(lakeshore()[1])


def test_a_long_straight_edge_is_measured_where_it_lies():
    """A 25 km edge straight in degrees is 11 m off its chord in UTM: it is densified."""
    comm = gpd.GeoDataFrame({"code": ["E"]}, geometry=[box(-87.9, 41.6, -87.6, 41.9)],
                            crs="EPSG:4326")
    # a point 0.3 m south of the middle of the southern edge (a parallel, curved in UTM)
    mid = gpd.GeoSeries([Point(-87.75, 41.6)], crs="EPSG:4326").to_crs(32616)
    south = Point(mid.x.iloc[0], mid.y.iloc[0] - 0.3)
    out = gpd.GeoSeries([south], crs=32616).to_crs(4326)
    # from the square projected by its corners alone, the point would be out of reach
    assert comm.to_crs(32616).geometry.iloc[0].distance(south) > 10
    res = assign_with_snap(out, comm, snap_m=0.35)
    assert res.assigned_by.tolist() == ["snap"]
    assert assign_with_snap(out, comm, snap_m=0.29).assigned_by.isna().all()
