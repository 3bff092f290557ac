"""Tests for geo.cameras.

Hand-drawn geometry in EPSG:4548 metres, handed over in EPSG:4326.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo import uncovered as uncovered_module
from geo.cameras import DEFAULT_RANGE_M, camera_metrics, sector_polygons, view_sectors
from geo.period import parse_period

GK = 4548  # CGCS2000 3-degree Gauss-Kruger CM 117E: Beijing's metric CRS
X0, Y0 = 500_000.0, 4_400_000.0  # on the central meridian, about 39.7 N


def _wgs84(geoms):
    return gpd.GeoSeries(geoms, crs=GK).to_crs(4326).to_numpy()


def _frame(data, geoms):
    return gpd.GeoDataFrame(data, geometry=_wgs84(geoms), crs=4326)


def _box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def _sector_area(r, fov_deg, n=32):
    """Area of the polygon sector_polygons draws: m chords of equal angle."""
    m = math.ceil(n * fov_deg / 360)
    return m * 0.5 * r * r * math.sin(math.radians(fov_deg) / m)


def _communities(codes=("A",), boxes=((0, 0, 100, 100),), population=(500.0,)):
    return _frame(
        {"code": list(codes), "name": [f"c{c}" for c in codes], "population": list(population)},
        [_box(*b) for b in boxes],
    )


def _devices(rows):
    """rows: (id, kind, x, y, azimuth, fov, range, status, installed_on, removed_on)."""
    cols = ["id", "kind", "x", "y", "azimuth_deg", "fov_deg", "range_m", "status",
            "installed_on", "removed_on"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("installed_on", "removed_on"):
        df[c] = pd.to_datetime(df[c])
    geoms = [_pt(x, y) for x, y in zip(df.pop("x"), df.pop("y"), strict=True)]
    return _frame(df, geoms)


def _cam(i, x, y, az=45.0, fov=90.0, rng=50.0, status="working", kind="camera",
         installed=None, removed=None):
    return (i, kind, x, y, az, fov, rng, status, installed, removed)


# ------------------------------------------------------------------------------ view sectors


def test_90_degree_sector_of_50_m_covers_a_quarter_disc_within_the_arc_bound():
    dev = _devices([_cam("a", 0, 0)])
    sectors = view_sectors(dev, metric_crs=GK)
    area = float(sectors.area.iloc[0])
    exact = math.pi * 50**2 / 4
    bound = 32 / (2 * math.pi) * math.sin(2 * math.pi / 32)
    assert sectors.crs.to_epsg() == GK
    assert area == pytest.approx(_sector_area(50, 90), rel=1e-9)
    assert exact * bound <= area <= exact
    # The apex is the device and the sector lies north-east of it.
    minx, miny, _, _ = sectors.iloc[0].bounds
    assert minx == pytest.approx(X0, abs=1e-6) and miny == pytest.approx(Y0, abs=1e-6)


def test_missing_azimuth_or_full_fov_gives_a_circle_and_missing_range_the_kind_default():
    dev = _devices([
        _cam("no-azimuth", 0, 0, az=np.nan, rng=10.0),
        _cam("full", 0, 0, fov=360.0, rng=10.0),
        _cam("dome", 0, 0, kind="dome", rng=np.nan),
    ])
    sectors = view_sectors(dev, metric_crs=GK, arc_segments=64)
    circle = 64 / 2 * 10.0**2 * math.sin(2 * math.pi / 64)
    assert sectors.area.iloc[0] == pytest.approx(circle, rel=1e-9)
    assert sectors.area.iloc[1] == pytest.approx(circle, rel=1e-9)
    # the dome has no range: DEFAULT_RANGE_M["dome"] from the apex
    far = shapely.get_coordinates(sectors.iloc[2]) - [X0, Y0]
    assert np.hypot(far[:, 0], far[:, 1]).max() == pytest.approx(DEFAULT_RANGE_M["dome"])


def test_arc_segments_is_per_full_circle():
    polys = sector_polygons(np.array([0.0]), np.array([0.0]), np.array([0.0]),
                            np.array([90.0]), np.array([1.0]), arc_segments=8)
    # apex + 3 arc points (2 segments for 90 degrees) + closing apex
    assert shapely.get_num_coordinates(polys[0]) == 5


def test_azimuth_is_corrected_for_grid_convergence():
    # 118.4 E is 1.4 degrees east of EPSG:4548's central meridian: grid north is 0.9 degrees
    # east of true north there, more than the half-width of a 1-degree field of view.
    lon, lat = 118.4, 40.0
    geod = pyproj.Geod(ellps="WGS84")
    dev = gpd.GeoDataFrame(
        {"id": ["n", "e"], "kind": ["camera", "camera"], "azimuth_deg": [0.0, 90.0],
         "fov_deg": [1.0, 1.0], "range_m": [1000.0, 1000.0]},
        geometry=[shapely.Point(lon, lat)] * 2, crs=4326)
    sectors = view_sectors(dev, metric_crs=GK)
    to_gk = pyproj.Transformer.from_crs(4326, GK, always_xy=True)
    apex = np.array(to_gk.transform(lon, lat))
    for i, azimuth in enumerate((0.0, 90.0)):
        tlon, tlat, _ = geod.fwd(lon, lat, azimuth, 900.0)
        target = np.array(to_gk.transform(tlon, tlat))
        dx, dy = target - apex
        grid_bearing = math.degrees(math.atan2(dx, dy))
        assert abs(grid_bearing - azimuth) > 0.5  # an uncorrected sector would miss it
        assert sectors.iloc[i].contains(shapely.Point(*target))


# ------------------------------------------------------------------------------ camera metrics


# Cameras of the camera-metric tests stand on x = X0, the central meridian, where grid north
# is true north, so their sectors are exact quarter discs in the square's corners.
QUARTER = _sector_area(50, 90)


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_area_share_counts_overlaps_once_and_faulty_cameras_not_at_all():
    comm = _communities()
    one = camera_metrics(comm, _devices([_cam("a", 0, 0)]), metric_crs=GK)
    assert one.frame.loc["A", "camera_area_share"] == pytest.approx(QUARTER / 10_000, rel=1e-9)

    twice = camera_metrics(comm, _devices([_cam("a", 0, 0), _cam("b", 0, 0, az=45.0)]),
                           metric_crs=GK)
    assert twice.frame.loc["A", "camera_area_share"] == pytest.approx(QUARTER / 10_000, rel=1e-9)

    disjoint = camera_metrics(comm, _devices([_cam("a", 0, 0), _cam("c", 0, 100, az=135.0)]),
                              metric_crs=GK)
    assert disjoint.frame.loc["A", "camera_area_share"] == pytest.approx(
        2 * QUARTER / 10_000, rel=1e-9)

    faulty = camera_metrics(
        comm, _devices([_cam("a", 0, 0), _cam("c", 0, 100, az=135.0, status="faulty")]),
        metric_crs=GK)
    row = faulty.frame.loc["A"]
    assert row["camera_area_share"] == pytest.approx(QUARTER / 10_000, rel=1e-9)
    assert row["camera_count"] == 2 and row["cameras_working"] == 1
    assert row["camera_working_ratio"] == 0.5


@pytest.fixture(params=["clipper", "geos"])
def engine(request, monkeypatch):
    """Run a test once with Clipper2 (pyclipr) and once with the GEOS fallback."""
    if request.param == "clipper":
        pytest.importorskip("pyclipr")
        monkeypatch.setattr(uncovered_module, "_HAS_CLIPPER", True)
    else:
        monkeypatch.setattr(uncovered_module, "_HAS_CLIPPER", False)
    return request.param


def test_cameras_on_one_pole_cover_the_polygon_of_their_arcs(engine):
    # Four 90-degree cameras on one pole (and a duplicate of one) share their apex and their
    # edges; together they see the regular 32-gon of radius 20 m.
    comm = _communities(boxes=((-50, -50, 50, 50),))
    pole = [_cam(f"p{az}", 0, 0, az=float(az), fov=90.0, rng=20.0) for az in (0, 90, 180, 270)]
    res = camera_metrics(comm, _devices([*pole, _cam("again", 0, 0, az=90.0, fov=90.0,
                                                     rng=20.0)]), metric_crs=GK)
    polygon = 32 / 2 * 20.0**2 * math.sin(2 * math.pi / 32)
    assert res.frame.loc["A", "camera_area_share"] == pytest.approx(polygon / 10_000, rel=1e-9)
    assert res.blind_spots.geometry.iloc[0].is_valid
    assert len(res.blind_spots.geometry.iloc[0].interiors) == 1


def test_a_camera_outside_every_community_covers_what_it_sees(engine):
    comm = _communities()
    # a PTZ camera 10 m west of the square, seeing a 20 m circle: the part east of x = 0
    res = camera_metrics(comm, _devices([_cam("out", -10, 50, az=np.nan, rng=20.0)]),
                         metric_crs=GK)
    disc = sector_polygons(np.array([X0 - 10]), np.array([Y0 + 50]), np.array([np.nan]),
                           np.array([np.nan]), np.array([20.0]))[0]
    inside = disc.intersection(_box(0, 0, 100, 100)).area
    assert res.devices_unassigned == 1
    assert 0 < inside < disc.area / 2
    assert res.frame.loc["A", "camera_area_share"] == pytest.approx(inside / 10_000, rel=1e-6)


@pytest.mark.slow
def test_camera_metrics_engines_agree_on_the_sample_city(sample_city):
    pytest.importorskip("pyclipr")
    city = sample_city
    fast = camera_metrics(city.communities, city.devices, incidents=city.incidents,
                          period="2025")
    uncovered_module._HAS_CLIPPER = False
    try:
        slow = camera_metrics(city.communities, city.devices, incidents=city.incidents,
                              period="2025")
    finally:
        uncovered_module._HAS_CLIPPER = True
    pd.testing.assert_frame_equal(fast.frame, slow.frame, rtol=1e-9, atol=1e-12)
    assert (fast.frame["camera_area_share"] > 0).sum() > 100
    assert fast.blind_spots["code"].tolist() == slow.blind_spots["code"].tolist()
    np.testing.assert_allclose(fast.blind_spots["blind_area_m2"],
                               slow.blind_spots["blind_area_m2"], rtol=1e-9)
    assert shapely.is_valid(fast.blind_spots.geometry.to_numpy()).all()
    # the same regions, not just the same areas (compared in the metric CRS)
    a = fast.blind_spots.to_crs(fast.metric_crs).geometry.to_numpy()
    b = slow.blind_spots.to_crs(fast.metric_crs).geometry.to_numpy()
    assert (shapely.area(shapely.symmetric_difference(a, b)) < 1e-3).all()


def test_counts_densities_and_blind_spots():
    comm = _communities(population=(500.0,))
    dev = _devices([
        _cam("a", 0, 0), _cam("b", 0, 100, az=135.0),
        _cam("alarm", 50, 50, kind="alarm"), _cam("x", 60, 60, kind="thermal"),
        _cam("outside", 5_000, 5_000),
    ])
    res = camera_metrics(comm, dev, metric_crs=GK)
    row = res.frame.loc["A"]
    assert row["area_km2"] == pytest.approx(0.01, rel=1e-9)
    assert row["camera_count"] == 2  # alarm and thermal are not camera kinds
    assert row["camera_density_per_km2"] == pytest.approx(200.0, rel=1e-9)
    assert row["cameras_per_1000_residents"] == pytest.approx(4.0)
    assert row["devices_camera"] == 2 and row["devices_alarm"] == 1
    assert row["devices_thermal"] == 1 and row["devices_ptz"] == 0
    assert res.devices_unassigned == 1
    assert np.isnan(row["incidents_in_view_share"])
    blind = res.blind_spots.set_index("code")
    assert res.blind_spots.crs.to_epsg() == 4326
    assert blind.loc["A", "blind_area_m2"] == pytest.approx(10_000 - 2 * QUARTER, rel=1e-9)
    back = gpd.GeoSeries([blind.loc["A", "geometry"]], crs=4326).to_crs(GK)
    assert float(back.area.iloc[0]) == pytest.approx(10_000 - 2 * QUARTER, rel=1e-7)


def test_no_cameras_gives_nan_working_ratio_and_zero_share():
    comm = _communities(codes=("A", "B"), boxes=((0, 0, 100, 100), (100, 0, 200, 100)),
                        population=(0.0, 10.0))
    res = camera_metrics(comm, _devices([_cam("a", 0, 0)]), metric_crs=GK)
    b = res.frame.loc["B"]
    assert b["camera_count"] == 0 and np.isnan(b["camera_working_ratio"])
    assert b["camera_area_share"] == 0.0
    assert np.isnan(res.frame.loc["A", "cameras_per_1000_residents"])  # no residents


def test_a_camera_covers_across_the_community_boundary():
    comm = _communities(codes=("A", "B"), boxes=((0, 0, 100, 100), (100, 0, 200, 100)),
                        population=(1.0, 1.0))
    # at the middle of A's east edge, 1 m inside A, looking east into B
    res = camera_metrics(comm, _devices([_cam("a", 99, 50, az=90.0, fov=90.0, rng=20.0)]),
                         metric_crs=GK)
    assert res.frame.loc["B", "camera_count"] == 0
    assert res.frame.loc["B", "camera_area_share"] > 0
    total = (res.frame["camera_area_share"] * 10_000).sum()
    assert total == pytest.approx(_sector_area(20, 90), rel=1e-9)


def test_devices_count_only_during_the_period():
    comm = _communities()
    dev = _devices([
        _cam("before-end", 0, 0, installed="2024-12-31"),
        _cam("after", 100, 100, az=225.0, installed="2025-01-01"),
        _cam("removed-at-start", 100, 0, az=315.0, removed="2024-01-01"),
        _cam("removed-later", 0, 100, az=135.0, kind="dome", removed="2024-01-02"),
    ])
    res = camera_metrics(comm, dev, period="2024", metric_crs=GK)
    row = res.frame.loc["A"]
    assert row["camera_count"] == 2
    assert row["devices_camera"] == 1 and row["devices_dome"] == 1
    assert row["camera_area_share"] == pytest.approx(2 * QUARTER / 10_000, rel=1e-9)
    assert res.period == parse_period("2024")


def test_incidents_in_view_share():
    comm = _communities(codes=("A", "B"), boxes=((0, 0, 100, 100), (100, 0, 200, 100)),
                        population=(1.0, 1.0))
    inc = _frame({"id": list("abcdefg"),
                  "community_code": ["A", "A", "A", "B", None, "Z", None]},
                 [_pt(10, 10), _pt(90, 10), None, _pt(150, 50), _pt(5, 5), _pt(5, 5),
                  _pt(500, 500)])
    res = camera_metrics(comm, _devices([_cam("a", 0, 0)]), incidents=inc, metric_crs=GK)
    a, b = res.frame.loc["A"], res.frame.loc["B"]
    # "e" has no code and lies in A, in view; "f" names no community; "g" lies in none
    assert (a["incidents_total"], a["incidents_in_view"]) == (3, 2)
    assert a["incidents_in_view_share"] == pytest.approx(2 / 3)
    assert (b["incidents_total"], b["incidents_in_view"]) == (1, 0)
    assert b["incidents_in_view_share"] == 0.0
    assert res.incidents_unlocated == 1 and res.incidents_unassigned == 2


def test_results_do_not_depend_on_the_number_of_threads():
    comm = _communities(codes=("A", "B"), boxes=((0, 0, 100, 100), (100, 0, 200, 100)),
                        population=(1.0, 1.0))
    dev = _devices([_cam("a", 0, 0), _cam("b", 99, 50, az=90.0), _cam("c", 0, 100, az=135.0)])
    one = camera_metrics(comm, dev, metric_crs=GK, workers=1)
    two = camera_metrics(comm, dev, metric_crs=GK, workers=2)
    pd.testing.assert_frame_equal(one.frame, two.frame)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        camera_metrics(comm, dev, workers=-1)


def test_default_metric_crs_for_beijing_is_the_gauss_kruger_zone():
    res = camera_metrics(_communities(), _devices([_cam("a", 0, 0)]))
    assert res.metric_crs.to_epsg() == GK


def test_camera_errors():
    comm = _communities()
    dev = _devices([_cam("a", 0, 0)])
    with pytest.raises(ValueError, match="different CRSs"):
        camera_metrics(comm, dev.to_crs(3857))
    with pytest.raises(TypeError, match="devices must be a GeoDataFrame"):
        camera_metrics(comm, pd.DataFrame(dev))
    with pytest.raises(ValueError, match="devices lacks column"):
        camera_metrics(comm, dev.drop(columns="kind"))
    with pytest.raises(ValueError, match="status must be working or faulty"):
        camera_metrics(comm, dev.assign(status="broken"))
    with pytest.raises(ValueError, match="arc_segments must be an integer >= 4"):
        camera_metrics(comm, dev, arc_segments=3)
    with pytest.raises(ValueError, match="fov_deg must be > 0"):
        view_sectors(dev.assign(fov_deg=0.0))
    with pytest.raises(ValueError, match="default_range_m has no range for kind"):
        view_sectors(dev.assign(range_m=np.nan, kind="thermal"))
    with pytest.raises(ValueError, match="default_range_m must give ranges > 0"):
        view_sectors(dev.assign(range_m=np.nan), default_range_m={"camera": 0.0})
    with pytest.raises(ValueError, match="every device needs a point"):
        view_sectors(dev.set_geometry([None]))
    with pytest.raises(ValueError, match="projected CRS in metres"):
        camera_metrics(comm, dev, metric_crs=2263)  # US survey feet
    with pytest.raises(ValueError, match="projected CRS in metres"):
        camera_metrics(comm, dev, metric_crs=4326)
    with pytest.raises(ValueError, match="codes must be unique"):
        camera_metrics(pd.concat([comm, comm]), dev)
    with pytest.raises(ValueError, match="must hold Polygon or MultiPolygon"):
        camera_metrics(dev.assign(code="A"), dev)
    with pytest.raises(TypeError, match="camera_kinds must be a collection"):
        camera_metrics(comm, dev, camera_kinds="camera")
    with pytest.raises(ValueError, match="incidents lacks column"):
        camera_metrics(comm, dev, incidents=dev)
