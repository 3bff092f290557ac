"""``/api/v1/emerging`` and ``/api/v1/kde`` on both backends, checked against the city's rows.

The city (:mod:`tests.api.appcity`) has one cluster per community in one 250 m cell, one
incident a month from January: C1 five (January to May), C2 two, C3 four, C4 one, one
outside every community. The surfaces are recomputed here from those rows with geo alone.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from api.cli import main
from api.raster import describe_cog
from geo.density import kernel_density
from geo.emerging import CATEGORIES
from tests.api.appcity import COMMUNITIES, GRID_CRS, Y0, cluster_cells, incident_rows

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")


def get(client, city, path, role="admin", status=200, **params):
    response = client.get(path, params=params, headers=city.headers(role))
    assert response.status_code == status, response.text
    return response


def rows_of(codes, year="2025"):
    """The located incidents of ``year`` in these clusters ("OUT" for the one outside)."""
    rows = [r for r in incident_rows() if r["lon"] is not None
            and str(r["occurred_at"]).startswith(year) and str(r["id"]).split("-")[0] in codes]
    frame = pd.DataFrame(rows)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                            crs="EPSG:4326")


def communities(codes):
    chosen = [c for c in COMMUNITIES if c[0] in codes]
    return gpd.GeoDataFrame({"code": [c[0] for c in chosen]},
                            geometry=[box(c[7], Y0, c[7] + 0.01, Y0 + 0.01) for c in chosen],
                            crs="EPSG:4326")


# --- emerging hot spots -----------------------------------------------------------------------


def test_emerging_counts_every_month_of_every_cluster_cell(client, city):
    body = get(client, city, "/api/v1/emerging", period="2025").json()
    prov = body["provenance"]
    assert prov["steps"] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert (prov["step"], prov["cell_m"], prov["metric_crs"]) == ("month", 250.0, "EPSG:4548")
    cells = {(i["ix"], i["iy"]): i for i in body["items"]}
    months = {"C1": 5, "C2": 2, "C3": 4, "C4": 1}
    for code, n in months.items():
        row = cells[cluster_cells()[code]]
        assert [row[f"count_2025-{m:02d}"] for m in range(1, 13)] == [1] * n + [0] * (12 - n)
        assert row["incidents"] == n
    assert cluster_cells()["OUT"] not in cells  # east of C4: no cell of the cube
    assert sum(i["incidents"] for i in body["items"]) == 12
    assert {i["category"] for i in body["items"]} <= set(CATEGORIES)
    assert all(-1 <= i["trend_tau"] <= 1 and 0 <= i["last_p"] <= 1 for i in body["items"]
               if i["trend_tau"] is not None)
    assert prov["left_out"]["outside_cells"] == 1 and prov["incidents"] == 12


def test_emerging_for_a_liaison_holds_only_their_cells_and_incidents(client, city):
    body = get(client, city, "/api/v1/emerging", "liaison", period="2025", step="week").json()
    cells = {(i["ix"], i["iy"]): i for i in body["items"]}
    assert cluster_cells()["C1"] in cells and cluster_cells()["C3"] not in cells
    assert sum(i["incidents"] for i in body["items"]) == 7  # C1 5 + C2 2
    # whole weeks inside 2025: Monday 6 January (ISO week 2) to Sunday 28 December (week 52)
    assert body["provenance"]["steps"][0] == "2025-W02" and len(body["provenance"]["steps"]) == 51
    assert get(client, city, "/api/v1/emerging", "liaison", 403, district="D2").status_code == 403


def test_emerging_needs_ten_steps_and_names_the_parameter(client, city):
    problem = get(client, city, "/api/v1/emerging", "admin", 422, period="2025-Q1").json()
    assert problem["errors"][0]["field"] == "query.period"
    assert "at least 10 whole months" in problem["detail"] and "holds 3" in problem["detail"]
    problem = get(client, city, "/api/v1/emerging", "planner", 422, period="2025",
                  step="week").json()
    assert problem["errors"][0]["field"] == "query.step"


def test_emerging_for_a_planner_is_categories_only(client, city):
    # Every cell-month of the city holds 0 or 1 incident: released, each is hidden and enters
    # as 1, so the planner's cube is flat and Gi* undefined (409), not a leak of small counts.
    response = get(client, city, "/api/v1/emerging", "planner", 409, period="2025")
    assert "same count" in response.json()["detail"]


def test_emerging_csv_and_geojson(client, city):
    text = get(client, city, "/api/v1/emerging", period="2025", format="csv").text
    lines = text.removeprefix("\ufeff").splitlines()
    header = lines[0]  # no provenance lines: they are at the Link (format=provenance)
    assert header.startswith("cell_id,ix,iy,category,") and "count_2025-12" in header
    doc = get(client, city, "/api/v1/emerging", period="2025", format="geojson",
              district="D1").json()
    assert doc["features"] and all(f["geometry"]["type"] == "Polygon" for f in doc["features"])
    assert doc["pingan"]["district"] == "D1"


# --- kernel density ---------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_kde_equals_the_surface_of_the_callers_incidents(client, city, kernel):
    params = {"period": "2025", "kernel": kernel, "bandwidth_m": 1000, "cell_m": 100}
    admin = get(client, city, "/api/v1/kde", **params).json()
    liaison = get(client, city, "/api/v1/kde", "liaison", **params).json()
    every = kernel_density(rows_of({"C1", "C2", "C3", "C4", "OUT"}),
                           communities({"C1", "C2", "C3", "C4"}), cell_m=100, kernel=kernel,
                           bandwidth_m=1000, metric_crs=GRID_CRS).frame.set_index("cell")
    own = kernel_density(rows_of({"C1", "C2"}), communities({"C1", "C2"}), cell_m=100,
                         kernel=kernel, bandwidth_m=1000, metric_crs=GRID_CRS
                         ).frame.set_index("cell")
    got_admin = pd.DataFrame(admin["items"]).set_index("cell_id")
    got_liaison = pd.DataFrame(liaison["items"]).set_index("cell_id")
    assert set(got_admin.index) == set(every.index)
    assert set(got_liaison.index) == set(own.index)  # masked to C1 and C2
    np.testing.assert_allclose(got_admin["density_per_km2"],
                               every.loc[got_admin.index, "density_per_km2"], rtol=1e-12)
    np.testing.assert_allclose(got_liaison["density_per_km2"],
                               own.loc[got_liaison.index, "density_per_km2"], rtol=1e-12)
    np.testing.assert_allclose(got_liaison["expected"],
                               got_liaison["density_per_km2"] * 0.01, rtol=1e-12)
    # C3's incidents reach into C2 at this bandwidth: the liaison's surface leaves them out.
    shared = got_liaison.index
    assert (got_admin.loc[shared, "density_per_km2"]
            > got_liaison["density_per_km2"] + 1e-9).any()
    assert liaison["provenance"]["incidents"] == 7 and admin["provenance"]["incidents"] == 13


def test_kde_default_bandwidth_is_arcgis_rule(client, city):
    from geo.density import default_bandwidth_m

    body = get(client, city, "/api/v1/kde", period="2025", cell_m=250).json()
    points = rows_of({"C1", "C2", "C3", "C4", "OUT"}).to_crs(GRID_CRS)
    want = default_bandwidth_m(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    assert body["provenance"]["bandwidth_m"] == pytest.approx(want)
    assert body["provenance"]["bandwidth_rule"] == "arcgis"


def test_kde_geotiff_is_a_cloud_optimized_geotiff_of_the_same_surface(client, city):
    params = {"period": "2025", "bandwidth_m": 800, "cell_m": 50, "mode": "binned"}
    tif = get(client, city, "/api/v1/kde", format="tif", **params)
    assert tif.headers["content-type"] == "image/tiff"
    info = describe_cog(tif.content)
    assert info.layout["LAYOUT"] == "COG" and info.epsg == 4548
    assert info.profile["tiled"] and info.profile["blockxsize"] == 256
    assert info.overviews == [2]
    assert info.band_names == ["density_per_km2", "expected"]
    assert info.tags["kernel"] == "quartic" and float(info.tags["bandwidth_m"]) == 800
    density, expected = info.bands
    a, _, c, _, e, f = info.profile["transform"]
    assert (a, e) == (50.0, -50.0) and c % 50 == 0 and f % 50 == 0
    cells = pd.DataFrame(get(client, city, "/api/v1/kde", **params).json()["items"])
    rows = np.round(f / 50).astype(int) - 1 - cells["iy"].to_numpy()
    cols = cells["ix"].to_numpy() - round(c / 50)
    np.testing.assert_array_equal(density[rows, cols], cells["density_per_km2"].to_numpy())
    np.testing.assert_array_equal(expected[rows, cols], cells["expected"].to_numpy())
    # every other pixel (outside the communities) is no-data
    assert np.isfinite(density).sum() == len(cells)
    assert np.isnan(density[0, -1]) or np.isnan(density[-1, -1])


def test_kde_for_a_planner_keeps_to_the_release_rules(client, city):
    for params, field in (({"bandwidth_m": 300}, "bandwidth_m"), ({"cell_m": 100}, "cell_m"),
                          ({"period": "2025-01-01..2025-06-30"}, "period")):
        problem = get(client, city, "/api/v1/kde", "planner", 422,
                      **{"period": "2025", **params}).json()
        assert problem["errors"][0]["field"] == f"query.{field}", problem
    body = get(client, city, "/api/v1/kde", "planner", period="2025").json()
    prov = body["provenance"]
    assert prov["bandwidth_m"] >= 500 and prov["cell_m"] == 250
    assert "incidents" not in prov and "notes" not in prov
    # at most 7 released incidents in one cell spread over 500 m: under 3 expected everywhere
    assert body["items"] == []


def test_kde_map_and_emerging_map_pages(client, city):
    for kind in ("kde", "emerging"):
        for role in ("admin", "liaison", "planner"):
            status = 409 if (kind, role) == ("emerging", "planner") else 200
            page = get(client, city, f"/maps/{kind}", role, status, period="2025")
            if status == 200:
                assert "pingan.loaded()" in page.text and "https://" not in page.text.replace(
                    "https://pingan.dev", "")


# --- the command line -------------------------------------------------------------------------


def test_cli_emerging_and_kde(city, tmp_path, capsys):
    url = city.settings.database_url
    out = tmp_path / "e.json"
    assert main(["-d", url, "emerging", "--period", "2025", "--district", "东城区",
                 "-f", "json", "-o", str(out)]) == 0
    doc = json.loads(out.read_text("utf-8"))
    assert sum(i["incidents"] for i in doc["items"]) == 7
    assert main(["-d", url, "emerging", "--period", "2025-Q1"]) == 1
    assert "at least 10 whole months" in capsys.readouterr().err
    tif = tmp_path / "k.tif"
    assert main(["-d", url, "kde", "--period", "2025", "--bandwidth-m", "800", "--cell-m",
                 "50", "--kernel", "gaussian", "--out", str(tif)]) == 0
    info = describe_cog(tif.read_bytes())
    assert info.tags["kernel"] == "gaussian" and info.profile["transform"][0] == 50.0
    assert main(["-d", url, "--lang", "en", "kde", "--period", "2025", "--bandwidth-m",
                 "800"]) == 0
    table = capsys.readouterr().out
    assert "densest cells" in table and "100m:" in table
    assert main(["-d", url, "--lang", "zh", "kde", "--period", "2025", "--bandwidth-m",
                 "800"]) == 0
    table = capsys.readouterr().out
    assert "密度最高的 20 个网格" in table and "100m:" in table


def test_kde_refuses_surfaces_too_large_to_serve(client, city):
    for params, field in (({"cell_m": 0.5}, "cell_m"), ({"bandwidth_m": 1e-300}, "bandwidth_m"),
                          ({"cell_m": 10, "bandwidth_m": 90000, "mode": "binned"},
                           "bandwidth_m"),
                          ({"cell_m": 1, "bandwidth_m": 90000}, "cell_m")):
        problem = get(client, city, "/api/v1/kde", "admin", 422, period="2025", **params).json()
        assert problem["errors"][0]["field"] == f"query.{field}", problem


def test_emerging_refuses_cubes_too_large_to_serve(client, city):
    problem = get(client, city, "/api/v1/emerging", "admin", 422, step="week",
                  period="1990-01-01..2025-12-31").json()
    assert problem["errors"][0]["field"] == "query.period" and "more than 520" in problem["detail"]


def test_cli_maps_skip_a_map_the_data_cannot_make_unless_asked_for(city, tmp_path, capsys):
    url = city.settings.database_url
    out = tmp_path / "maps"
    assert main(["-d", url, "maps", "--out", str(out), "--aggregate", "--period", "2025"]) == 0
    err = capsys.readouterr().err
    assert "skipped the emerging map: every bin of the cube holds the same count" in err
    assert (out / "kde.html").is_file() and not (out / "emerging.html").exists()
    assert main(["-d", url, "maps", "--out", str(out), "--kind", "emerging", "--aggregate",
                 "--period", "2025"]) == 1
    assert main(["-d", url, "maps", "--out", str(out), "--kind", "emerging",
                 "--period", "2025"]) == 0
    assert (out / "emerging.html").is_file()
