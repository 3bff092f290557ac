import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from geo import crs as crs_module
from geo.china import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.coords import looks_projected
from geo.crs import (
    CrsSpec,
    area_of_use_mask,
    geometries_from_wgs84,
    geometries_to_wgs84,
    grid_bearing_deg,
    grid_convergence_deg,
    parse_crs,
    valid_range_mask,
)
from geo.projection import metric_crs_for

GEOD = pyproj.Geod(ellps="WGS84")
# US survey foot in metres (1200/3937), the unit of ESRI:102649.
US_FOOT_M = 1200.0 / 3937.0


def distance_m(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.fixture(scope="module")
def china_points():
    rng = np.random.default_rng(20240601)
    return rng.uniform(73.0, 135.0, 5000), rng.uniform(18.0, 53.0, 5000)


# --- GCJ-02 / BD-09 against published values -------------------------------------------------
# wandergis/coordtransform, test/app.js (the reference JavaScript implementation most Chinese
# libraries port) prints, for the input (116.404, 39.915):
#   wgs84togcj02: [ 116.41024449916938, 39.91640428150164 ]
#   gcj02tobd09:  [ 116.41036949371029, 39.92133699351021 ]
#   bd09togcj02:  [ 116.39762729119315, 39.90865673957631 ]   (its closed-form approximate inverse)
# hujiulong/gcoord, test/unit/crs/GCJ02.spec.js, for (123, 45):
#   GCJ02 -> BD09:  123.00636499, 45.00636899
#   GCJ02 -> WGS84: 122.99395597, 44.99804071   (iterated until the residual is <= 1e-6 degree)
# Ports of eviltransform use a = 6378137 instead of Krasovsky's 6378245 and differ by ~1 cm, so
# their test vectors are not used here.


def test_wgs84_to_gcj02_matches_coordtransform_reference():
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-12)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_to_bd09_matches_coordtransform_reference():
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-12)
    assert float(lat) == pytest.approx(39.92133699351021, abs=1e-12)


def test_gcj02_to_bd09_matches_gcoord_reference():
    lon, lat = gcj02_to_bd09(123.0, 45.0)
    assert float(lon) == pytest.approx(123.00636499, abs=1e-8)
    assert float(lat) == pytest.approx(45.00636899, abs=1e-8)


def test_gcj02_to_wgs84_matches_gcoord_reference_within_its_stopping_tolerance():
    lon, lat = gcj02_to_wgs84(123.0, 45.0)
    assert float(lon) == pytest.approx(122.99395597, abs=1e-6)
    assert float(lat) == pytest.approx(44.99804071, abs=1e-6)


def test_bd09_to_gcj02_is_exact_where_the_published_closed_form_is_approximate():
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    # The published closed form is off by up to ~0.22 m over China, i.e. < 3e-6 degree.
    assert float(lon) == pytest.approx(116.39762729119315, abs=3e-6)
    assert float(lat) == pytest.approx(39.90865673957631, abs=3e-6)
    back_lon, back_lat = gcj02_to_bd09(lon, lat)
    assert distance_m(float(back_lon), float(back_lat), 116.404, 39.915) < 1e-3


def test_gcj02_offset_in_beijing_is_hundreds_of_metres():
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert 300.0 < distance_m(116.404, 39.915, float(lon), float(lat)) < 900.0


# --- inverses --------------------------------------------------------------------------------


def test_gcj02_round_trip_is_within_a_centimetre_all_over_china(china_points):
    lon, lat = china_points
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert distance_m(lon, lat, back_lon, back_lat).max() < 0.01


def test_bd09_round_trip_is_within_a_centimetre_all_over_china(china_points):
    lon, lat = china_points
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert distance_m(lon, lat, back_lon, back_lat).max() < 0.01


def test_bd09_to_gcj02_round_trip_is_within_a_centimetre(china_points):
    lon, lat = china_points
    back_lon, back_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert distance_m(lon, lat, back_lon, back_lat).max() < 0.01


def test_one_iteration_is_not_enough_so_the_tolerance_drives_the_loop(china_points):
    lon, lat = china_points
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    rough = gcj02_to_wgs84(gcj_lon, gcj_lat, tol_m=1.0, max_iter=1)
    assert distance_m(lon, lat, *rough).max() > 0.01
    # Every first step is shorter than 5 m, so a 5 m tolerance stops after that one step.
    loose = gcj02_to_wgs84(gcj_lon, gcj_lat, tol_m=5.0)
    np.testing.assert_array_equal(loose, rough)


def test_outside_china_gcj02_is_the_identity():
    lon, lat = wgs84_to_gcj02([-0.1276, 151.2], [51.5072, -33.87])
    np.testing.assert_array_equal(lon, [-0.1276, 151.2])
    np.testing.assert_array_equal(lat, [51.5072, -33.87])
    back = gcj02_to_wgs84([-0.1276], [51.5072])
    np.testing.assert_array_equal(back, [[-0.1276], [51.5072]])


def test_bd09_applies_its_offset_everywhere():
    lon, lat = wgs84_to_bd09(-0.1276, 51.5072)
    assert distance_m(-0.1276, 51.5072, float(lon), float(lat)) > 100.0


def test_nan_in_nan_out_and_other_points_unaffected():
    lon, lat = gcj02_to_wgs84([np.nan, 116.41024449916938], [39.9, 39.91640428150164])
    assert np.isnan(lon[0]) and np.isnan(lat[0])
    assert distance_m(float(lon[1]), float(lat[1]), 116.404, 39.915) < 0.01
    functions = (
        wgs84_to_gcj02,
        wgs84_to_bd09,
        gcj02_to_bd09,
        gcj02_to_wgs84,
        bd09_to_gcj02,
        bd09_to_wgs84,
    )
    for function in functions:
        out_lon, out_lat = function([np.nan, 116.0, np.inf], [30.0, np.nan, 30.0])
        assert np.isnan(out_lon).all() and np.isnan(out_lat).all()


def test_shapes_are_kept_and_inputs_not_modified():
    lon = np.array([[116.0, 117.0], [118.0, 119.0]])
    lat = np.full((2, 2), 30.0)
    lon_copy, lat_copy = lon.copy(), lat.copy()
    out_lon, out_lat = bd09_to_wgs84(lon, lat)
    assert out_lon.shape == (2, 2) and out_lat.shape == (2, 2)
    np.testing.assert_array_equal(lon, lon_copy)
    np.testing.assert_array_equal(lat, lat_copy)
    scalar_lon, _ = gcj02_to_wgs84(116.0, 30.0)
    assert scalar_lon.shape == ()


def test_out_of_china_rectangle_edges_are_inside():
    mask = out_of_china([72.004, 72.0039, 116.4, 137.8347, np.nan], [30, 30, 55.8271, 0.8293, 30])
    np.testing.assert_array_equal(mask, [False, True, False, False, True])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tol_m": 0.0}, "tol_m must be a positive"),
        ({"tol_m": float("nan")}, "tol_m must be a positive"),
        ({"max_iter": 0}, "max_iter must be a positive integer"),
        ({"max_iter": 2.5}, "max_iter must be a positive integer"),
    ],
)
def test_inverse_options_are_checked(kwargs, message):
    for inverse in (gcj02_to_wgs84, bd09_to_gcj02, bd09_to_wgs84):
        with pytest.raises(ValueError, match=message):
            inverse(116.0, 30.0, **kwargs)


def test_mismatched_shapes_and_non_numbers_are_rejected():
    with pytest.raises(ValueError, match=r"lon and lat must have matching shapes; got \(2,\)"):
        wgs84_to_gcj02([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="lon must be numbers"):
        wgs84_to_gcj02(["east"], [1.0])


# --- parse_crs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text", "kind"),
    [
        ("EPSG:4548", "EPSG:4548", "pyproj"),
        ("epsg:4548", "EPSG:4548", "pyproj"),
        (" 4548 ", "EPSG:4548", "pyproj"),
        (4548, "EPSG:4548", "pyproj"),
        ("esri:102649", "ESRI:102649", "pyproj"),
        ("gcj02", "gcj02", "gcj02"),
        ("GCJ-02", "gcj02", "gcj02"),
        ("gcj-02", "gcj02", "gcj02"),
        ("火星坐标", "gcj02", "gcj02"),
        ("bd09", "bd09", "bd09"),
        ("BD-09", "bd09", "bd09"),
        ("bd-09", "bd09", "bd09"),
        ("百度坐标", "bd09", "bd09"),
        ("wgs84", "EPSG:4326", "pyproj"),
        ("WGS 84", "EPSG:4326", "pyproj"),
        ("CGCS2000", "EPSG:4490", "pyproj"),
    ],
)
def test_parse_crs_names(value, text, kind):
    spec = parse_crs(value)
    assert (spec.text, spec.kind) == (text, kind)


def test_parse_crs_resolves_codes_to_the_right_crs():
    assert parse_crs("4548").crs.name == "CGCS2000 / 3-degree Gauss-Kruger CM 117E"
    assert parse_crs("cgcs2000").crs.to_epsg() == 4490
    gcj = parse_crs("gcj02")
    assert gcj.crs.to_epsg() == 4326 and gcj.is_geographic
    assert parse_crs("EPSG:4326").is_geographic
    assert not parse_crs("EPSG:4548").is_geographic


def test_parse_crs_accepts_crs_objects_and_specs():
    spec = parse_crs(pyproj.CRS.from_epsg(4547))
    assert spec.text == "EPSG:4547" and spec.kind == "pyproj"
    assert parse_crs(spec) is spec


def test_parse_crs_proj_string_keeps_its_text_and_equals_the_epsg_zone():
    text = "+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    spec = parse_crs(text)
    assert spec.text == text and spec.kind == "pyproj"
    x, y = spec.from_wgs84(116.3975, 39.9087)
    ex, ey = parse_crs("EPSG:4548").from_wgs84(116.3975, 39.9087)
    assert float(x) == pytest.approx(float(ex), abs=1e-3)
    assert float(y) == pytest.approx(float(ey), abs=1e-3)


def test_parse_crs_unknown_text_names_the_value():
    with pytest.raises(ValueError, match="unknown coordinate reference system 'not-a-crs'"):
        parse_crs("not-a-crs")
    with pytest.raises(ValueError, match="unknown coordinate reference system 99999999"):
        parse_crs(99999999)
    with pytest.raises(ValueError, match="expected a positive EPSG code"):
        parse_crs(0)
    with pytest.raises(ValueError, match="empty coordinate reference system"):
        parse_crs("  ")


def test_parse_crs_rejects_non_horizontal_crs():
    with pytest.raises(ValueError, match="'EPSG:5773' is a Vertical CRS"):
        parse_crs("EPSG:5773")
    with pytest.raises(ValueError, match="is a Geocentric CRS"):
        parse_crs(4978)


@pytest.mark.parametrize("value", [None, 4548.0, True, ["EPSG:4548"]])
def test_parse_crs_rejects_other_types(value):
    with pytest.raises(TypeError, match="crs must be a string, an EPSG integer code"):
        parse_crs(value)


# --- CrsSpec conversions ---------------------------------------------------------------------


def test_epsg_4548_origin_and_round_trip():
    spec = parse_crs("EPSG:4548")
    # By the zone's definition, the central meridian 117E meets the equator at (500 km, 0).
    x, y = spec.from_wgs84(117.0, 0.0)
    assert float(x) == pytest.approx(500000.0, abs=1e-6)
    assert float(y) == pytest.approx(0.0, abs=1e-6)
    x, y = spec.from_wgs84(116.3975, 39.9087)
    assert 440_000 < float(x) < 460_000 and 4_410_000 < float(y) < 4_430_000
    lon, lat = spec.to_wgs84(x, y)
    assert float(lon) == pytest.approx(116.3975, abs=1e-9)
    assert float(lat) == pytest.approx(39.9087, abs=1e-9)


def test_esri_102649_works_in_us_survey_feet():
    spec = parse_crs("ESRI:102649")
    # Its origin (111 deg 55' W, 31 N) has false easting 213360 m = 699998.6 US survey feet.
    x, y = spec.from_wgs84(-(111.0 + 55.0 / 60.0), 31.0)
    assert float(x) == pytest.approx(213360.0 / US_FOOT_M, abs=1e-3)
    assert float(x) == pytest.approx(699998.6, abs=0.01)
    assert float(y) == pytest.approx(0.0, abs=1e-3)
    # Phoenix round trip.
    px, py = spec.from_wgs84(-112.074, 33.448)
    lon, lat = spec.to_wgs84(px, py)
    assert float(lon) == pytest.approx(-112.074, abs=1e-9)
    assert float(lat) == pytest.approx(33.448, abs=1e-9)
    # 1000 ft of grid is 304.8006 m; the scale factor near the zone's centre is within 1e-4 of
    # 1, so the ellipsoidal distance is within 0.1 m of that.
    lon2, lat2 = spec.to_wgs84(np.array([px, px + 1000.0]), np.array([py, py]))
    d = distance_m(lon2[0], lat2[0], lon2[1], lat2[1])
    assert d == pytest.approx(1000.0 * US_FOOT_M, abs=0.1)


def test_gcj02_and_bd09_specs_use_the_offset_functions():
    gcj = parse_crs("gcj02")
    lon, lat = gcj.from_wgs84(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-12)
    back = gcj.to_wgs84(lon, lat)
    assert distance_m(float(back[0]), float(back[1]), 116.404, 39.915) < 0.01
    bd = parse_crs("bd09")
    bd_lon, bd_lat = bd.from_wgs84(116.404, 39.915)
    expected = wgs84_to_bd09(116.404, 39.915)
    assert (float(bd_lon), float(bd_lat)) == (float(expected[0]), float(expected[1]))
    wgs = bd.to_wgs84(bd_lon, bd_lat)
    assert distance_m(float(wgs[0]), float(wgs[1]), 116.404, 39.915) < 0.01


def test_failed_and_missing_points_come_out_nan():
    spec = parse_crs("EPSG:4548")
    lon, lat = spec.to_wgs84([np.nan, 1e8, 448688.86], [4.4e6, 4.4e6, 4418598.0])
    assert np.isnan(lon[:2]).all() and np.isnan(lat[:2]).all()
    assert float(lon[2]) == pytest.approx(116.4, abs=1e-6)
    x, _ = spec.from_wgs84([116.4, 116.4], [np.nan, 95.0])
    assert np.isnan(x).all()


def test_transformers_are_cached():
    spec = parse_crs("EPSG:4547")
    spec.to_wgs84(500000.0, 3_300_000.0)
    hits = crs_module._transformer.cache_info().hits
    spec.to_wgs84(500000.0, 3_400_000.0)
    assert crs_module._transformer.cache_info().hits == hits + 1


# --- valid range and area of use -------------------------------------------------------------


def test_valid_range_geographic():
    mask = valid_range_mask(
        [116.0, 180.0, 180.5, -181.0, 0.0, np.nan],
        [40.0, -90.0, 0.0, 0.0, 90.1, 0.0],
        parse_crs(4326),
    )
    np.testing.assert_array_equal(mask, [True, True, False, False, False, False])
    np.testing.assert_array_equal(
        valid_range_mask([116.0, 200.0], [40.0, 40.0], parse_crs("gcj02")), [True, False]
    )


def test_valid_range_projected_rejects_folded_and_impossible_numbers():
    spec = parse_crs("EPSG:4548")
    x = [448688.86, 500000.0, 1e8, 39_448_688.86, np.nan]
    y = [4418598.0, 9e9, 4.4e6, 4418598.0, 4.4e6]
    np.testing.assert_array_equal(valid_range_mask(x, y, spec), [True, False, False, False, False])


def test_valid_range_projected_in_feet():
    spec = parse_crs("ESRI:102649")
    px, py = spec.from_wgs84(-112.074, 33.448)
    np.testing.assert_array_equal(
        valid_range_mask([float(px), 1e12], [float(py), 0.0], spec), [True, False]
    )


def test_valid_range_requires_a_spec():
    with pytest.raises(TypeError, match="crs must be a CrsSpec"):
        valid_range_mask([0.0], [0.0], "EPSG:4326")  # type: ignore[arg-type]


def test_area_of_use_of_a_gauss_kruger_zone():
    # EPSG:4548 is advertised for China onshore between 115.5E and 118.5E.
    mask = area_of_use_mask(
        [116.4, 114.3, 116.4, np.nan], [39.9, 30.6, 10.0, 39.9], parse_crs(4548)
    )
    np.testing.assert_array_equal(mask, [True, False, False, False])


def test_area_of_use_across_the_antimeridian():
    # EPSG:3832 (PDC Mercator) advertises west 98.69 > east -68.0: the area wraps around 180.
    spec = parse_crs(3832)
    area = spec.crs.area_of_use
    assert area is not None and area.west > area.east
    mask = area_of_use_mask([170.0, -170.0, 0.0, 120.0], [0.0, 0.0, 0.0, 70.0], spec)
    np.testing.assert_array_equal(mask, [True, True, False, False])


def test_area_of_use_of_offset_systems_is_china_and_absent_area_allows_all():
    mask = area_of_use_mask([116.4, -0.13], [39.9, 51.5], parse_crs("bd09"))
    np.testing.assert_array_equal(mask, [True, False])
    custom = parse_crs("+proj=tmerc +lon_0=117 +ellps=GRS80 +units=m")
    assert custom.crs.area_of_use is None
    np.testing.assert_array_equal(
        area_of_use_mask([116.4, -0.13], [39.9, 51.5], custom), [True, True]
    )


# --- looks_projected -------------------------------------------------------------------------


def test_looks_projected():
    assert not looks_projected([116.4, 114.3, 121.5], [39.9, 30.6, 31.2])
    assert looks_projected([448688.86, 500000.0], [4418598.0, 3_300_000.0])
    # One garbage row does not turn a lon/lat file into a projected one, nor the reverse.
    assert not looks_projected([116.4, 114.3, 9999.0], [39.9, 30.6, 9999.0])
    assert looks_projected([448688.86, 500000.0, 116.4], [4418598.0, 3_300_000.0, 39.9])
    assert not looks_projected([np.nan], [np.nan])
    with pytest.raises(ValueError, match="min_share must be in"):
        looks_projected([1.0], [1.0], min_share=1.0)


# --- metric_crs_for --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (116.4, 39.9, 4548),  # Beijing: CM 117E
        (114.3, 30.6, 4547),  # Wuhan: CM 114E
        (73.5, 39.5, 4534),  # Kashgar area: CM 75E, the first zone
        (134.5, 48.0, 4554),  # Fuyuan: CM 135E, the last zone
        (-0.1276, 51.5072, 32630),  # London
        (151.2093, -33.8688, 32756),  # Sydney
    ],
)
def test_metric_crs_for(lon, lat, epsg):
    assert metric_crs_for([lon], [lat]).to_epsg() == epsg


def test_metric_crs_for_uses_the_median_of_finite_points():
    lon = [116.3, 116.4, 116.5, 75.0, np.nan]
    lat = [39.9, 39.9, 39.9, 39.9, 10.0]
    assert metric_crs_for(lon, lat).to_epsg() == 4548


def test_metric_crs_for_needs_a_finite_point():
    with pytest.raises(ValueError, match="no finite coordinate"):
        metric_crs_for([np.nan], [np.nan])


# --- grid convergence ------------------------------------------------------------------------


def test_grid_convergence_matches_the_series_formula():
    gamma = grid_convergence_deg([118.0], [40.0], pyproj.CRS.from_epsg(4548))
    first_order = 1.0 * math.sin(math.radians(40.0))  # delta-lambda (deg) * sin(phi)
    # The next term of the series multiplies by 1 + dl^2 cos^2(phi) / 3 = 1 + 6.0e-5 here
    # (dl = 1 degree in radians), so the first-order value is within 1e-4 relative.
    assert float(gamma[0]) == pytest.approx(first_order, rel=1e-4)
    dl = math.radians(1.0)
    cos2 = math.cos(math.radians(40.0)) ** 2
    eta2 = 0.006739496742 * cos2  # second eccentricity squared (GRS80) times cos^2(phi)
    second_order = first_order * (1.0 + dl**2 * cos2 / 3.0 * (1.0 + 3.0 * eta2))
    assert float(gamma[0]) == pytest.approx(second_order, rel=1e-7)


def test_grid_convergence_sign():
    gk = pyproj.CRS.from_epsg(4548)
    gamma = grid_convergence_deg([118.0, 117.0, 116.0], [40.0, 40.0, 40.0], gk)
    assert gamma[0] > 0.6 and abs(gamma[1]) < 1e-9 and gamma[2] < -0.6
    # Southern hemisphere, east of CM 153E: delta-lambda > 0 and sin(phi) < 0.
    south = grid_convergence_deg([153.8], [-33.87], pyproj.CRS.from_epsg(32756))
    assert float(south[0]) == pytest.approx(0.8 * math.sin(math.radians(-33.87)), rel=1e-3)


def test_grid_bearing_is_true_azimuth_minus_convergence():
    gk = pyproj.CRS.from_epsg(4548)
    to_grid = pyproj.Transformer.from_crs(4326, gk, always_xy=True)
    lon, lat = 118.0, 40.0
    gamma = float(grid_convergence_deg(lon, lat, gk))
    for azimuth in (0.0, 90.0, 233.0):
        lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, 10.0)
        x, y = to_grid.transform([lon, lon2], [lat, lat2])
        measured = math.degrees(math.atan2(x[1] - x[0], y[1] - y[0])) % 360.0
        assert measured == pytest.approx((azimuth - gamma) % 360.0, abs=1e-5)
        assert float(grid_bearing_deg(azimuth, lon, lat, gk)) == pytest.approx(measured, abs=1e-5)


def test_grid_convergence_of_geographic_and_missing_points():
    np.testing.assert_array_equal(
        grid_convergence_deg([116.0, np.nan], [40.0, 40.0], parse_crs("gcj02")), [0.0, np.nan]
    )
    gamma = grid_convergence_deg([np.nan, 118.0], [40.0, 40.0], parse_crs("EPSG:4548"))
    assert np.isnan(gamma[0]) and gamma[1] > 0.6
    with pytest.raises(TypeError, match=r"crs must be a pyproj\.CRS or a CrsSpec"):
        grid_convergence_deg([116.0], [40.0], "EPSG:4548")  # type: ignore[arg-type]


# --- geometries ------------------------------------------------------------------------------


def test_geometries_round_trip_through_a_projected_crs_keeping_none_empty_and_z():
    polygon = shapely.Polygon(
        [(116.30, 39.90), (116.40, 39.90), (116.40, 39.95), (116.30, 39.95)],
        holes=[[(116.33, 39.91), (116.35, 39.91), (116.35, 39.93)]],
    )
    multi = shapely.MultiPolygon([polygon, shapely.box(116.5, 39.8, 116.6, 39.85)])
    line = shapely.LineString([(116.0, 40.0), (116.1, 40.1)])
    point_z = shapely.Point(116.0, 40.0, 55.0)
    geoms = np.array([polygon, multi, line, None, shapely.Polygon(), point_z], dtype=object)
    before = geoms.copy()
    projected = geometries_from_wgs84(geoms, parse_crs("EPSG:4548"))
    assert projected[3] is None and projected[4].is_empty
    assert 440_000 < projected[0].exterior.coords[0][0] < 460_000
    assert projected[5].has_z and projected[5].z == 55.0
    assert len(projected[0].interiors) == 1
    back = geometries_to_wgs84(projected, parse_crs("EPSG:4548"))
    for original, returned in zip(geoms[[0, 1, 2, 5]], back[[0, 1, 2, 5]], strict=True):
        assert shapely.equals_exact(original, returned, tolerance=1e-9)
    assert all(a is b for a, b in zip(geoms, before, strict=True))


def test_geometries_accept_a_geoseries_and_shift_to_gcj02():
    series = gpd.GeoSeries([shapely.Point(116.404, 39.915), None], crs=4326)
    shifted = geometries_from_wgs84(series, "gcj02")
    assert isinstance(shifted, np.ndarray) and shifted[1] is None
    assert shifted[0].x == pytest.approx(116.41024449916938, abs=1e-12)
    assert shifted[0].y == pytest.approx(39.91640428150164, abs=1e-12)
    back = geometries_to_wgs84(shifted, "gcj02")
    assert distance_m(back[0].x, back[0].y, 116.404, 39.915) < 0.01


def test_geometries_reject_non_geometries():
    with pytest.raises(TypeError, match="geoms must hold shapely geometries or None"):
        geometries_to_wgs84(["POINT (1 2)"], parse_crs(4326))


def test_crs_spec_is_frozen():
    spec = parse_crs(4548)
    assert isinstance(spec, CrsSpec)
    with pytest.raises(AttributeError):
        spec.text = "EPSG:4326"  # type: ignore[misc]
