"""``/api/v1/near-repeat``, ``/near-repeat/zones`` and ``/api/v1/alerts`` on both backends.

The Knox tables are recomputed here from the city's rows (:mod:`tests.api.appcity`) with geo
alone. Risk zones and alerts need patterns the city lacks, so those tests load into a city of
their own (``fresh``) a burst of near repeats in C1 (pairs 20 m and two days apart, every
fortnight of 2025) and a week of 9 cases in C1 after weeks of none.
"""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from api.cli import main
from api.loading import load_file
from geo.nearrepeat import knox_table
from tests.api.appcity import GRID_CRS, cell_centre, cluster_cells, incident_rows

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")


def get(client, city, path, role="admin", status=200, **params):
    response = client.get(path, params=params, headers=city.headers(role))
    assert response.status_code == status, response.text
    return response


def frame_of(rows):
    frame = pd.DataFrame(rows)
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326")


def located(codes, year="2025"):
    """The incidents of these clusters, ordered as the store reads them (time, then id)."""
    rows = sorted((r for r in incident_rows() if r["lon"] is not None
                   and str(r["occurred_at"]).startswith(year)
                   and str(r["id"]).split("-")[0] in codes),
                  key=lambda r: (str(r["occurred_at"]), str(r["id"])))
    return frame_of(rows).assign(occurred_at=lambda f: pd.to_datetime(
        f["occurred_at"]).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC"))


# --- the Knox table -----------------------------------------------------------------------------


def test_knox_table_equals_geo_on_the_callers_incidents(client, city):
    params = {"period": "2025", "space_m": "0,100,1000", "time_days": "0,30,90",
              "permutations": 99, "seed": 3}
    admin = get(client, city, "/api/v1/near-repeat", **params).json()
    liaison = get(client, city, "/api/v1/near-repeat", "liaison", **params).json()
    for body, codes in ((admin, {"C1", "C2", "C3", "C4", "OUT"}), (liaison, {"C1", "C2"})):
        want = knox_table(located(codes), space_m=(0, 100, 1000), time_days=(0, 30, 90),
                          permutations=99, seed=3, metric_crs=GRID_CRS).frame
        got = pd.DataFrame(body["items"])
        assert got["observed"].tolist() == want["observed"].tolist()
        np.testing.assert_allclose(got["p_value"], want["p_value"])
        assert body["provenance"]["incidents"] == len(located(codes))
        assert set(got["near_repeat_class"]) <= {"raised", "not raised"}
    # Each cluster lies within 100 m, one incident on the 15th of each month from January:
    # C1's pairs 31-90 days apart are Jan-Feb and Mar-Apr (31 days), the three two months
    # apart and the two three months apart (89 days); C2's one pair is Jan-Feb.
    cell = pd.DataFrame(liaison["items"]).set_index(["space_band", "time_band"])
    assert cell.loc[("0.5-100 m", "31-90 days"), "observed"] == 7 + 1
    assert cell.loc[("0.5-100 m", "1-30 days"), "observed"] == 2  # Feb-Mar 28, Apr-May 30
    assert liaison["provenance"]["left_out"] == {"no_location": 0, "coarse_location": 0,
                                                 "no_time": 0}


def test_knox_table_cumulative_csv_and_refusals(client, city):
    text = get(client, city, "/api/v1/near-repeat", period="2025", cumulative="true",
               permutations=9, format="csv").text
    assert "expected_analytic" in text and "p_poisson" in text and "<= 800 m" in text
    problem = get(client, city, "/api/v1/near-repeat", "admin", 422, period="2025",
                  space_m="0,0.2,100").json()
    assert problem["errors"][0]["field"] == "query.space_m"
    get(client, city, "/api/v1/near-repeat", "liaison", 403, district="D2")
    # planner: classes over released areas only, and never from a handful of incidents
    problem = get(client, city, "/api/v1/near-repeat", "planner", 422, period="2025",
                  community="C1").json()
    assert problem["errors"][0]["field"] == "query.community"
    assert "at least 50" in get(client, city, "/api/v1/near-repeat", "planner", 409,
                                period="2025").json()["detail"]
    get(client, city, "/api/v1/near-repeat", "planner", 422, period="2025-03-01..2025-03-31")


# --- risk zones and alerts on a city with planted patterns ----------------------------------


def planted_rows():
    """Near repeats in C1 (pairs 20 m and 2 days apart every fortnight) and a week of 9 cases."""
    ix, iy = cluster_cells()["C1"]
    rows = []
    start = dt.date(2025, 1, 6)
    for k in range(26):
        day = start + dt.timedelta(days=14 * k)
        for j, (dx, lag) in enumerate(((-100.0 + 8 * k, 0), (-80.0 + 8 * k, 2))):
            lon, lat = cell_centre(ix, iy, dx_m=dx, dy_m=-90.0)
            rows.append({"id": f"C1-nr{k:02d}{j}", "occurred_at": f"{day + dt.timedelta(lag)} "
                         "08:00:00", "category": "burglary", "status": "filed", "address": "",
                         "lon": lon, "lat": lat, "location_precision": "exact",
                         "community_code": None})
    for j in range(9):  # Monday 15 to Sunday 21 December 2025
        lon, lat = cell_centre(ix, iy, dx_m=90.0, dy_m=-100.0 + 10 * j)
        rows.append({"id": f"C1-spike{j}", "occurred_at": f"2025-12-{15 + j % 7} 20:00:00",
                     "category": "theft", "status": "filed", "address": "", "lon": lon,
                     "lat": lat, "location_precision": "exact", "community_code": None})
    return rows


@pytest.fixture
def planted(fresh, tmp_path):
    path = tmp_path / "planted.csv"
    pd.DataFrame(planted_rows()).to_csv(path, index=False)
    load_file(fresh.engine, path, "incidents")
    return fresh


def test_risk_zones_for_admin_and_liaison_only(planted):
    with planted.client() as client:
        params = {"period": "2025", "as_of": "2025-12-21", "permutations": 199}
        body = get(client, planted, "/api/v1/near-repeat/zones", **params).json()
        prov = body["provenance"]
        # the fortnightly pairs make every time band to 60 days significant within 100 m
        assert prov["radius_m"] == 100.0 and prov["zone_days"] == 60
        assert {"0.5-100 m x 1-7 days", "0.5-100 m x 31-60 days"} <= set(
            prov["significant_bands"])
        zones = pd.DataFrame(body["items"]).set_index("incident_id")
        # the incidents of 8-21 December: the fortnight's pair of 8 and 10 December and the
        # nine of the spike week, each at risk for 60 days after its day
        spike = {f"C1-spike{j}" for j in range(9)}
        assert set(zones.index) == {"C1-nr240", "C1-nr241"} | spike
        assert zones.loc["C1-nr240", "occurred_on"] == "2025-12-08"
        assert zones.loc["C1-nr240", "expires_on"] == "2026-02-06"
        assert set(zones["community_code"]) == {"C1"} and (zones["days"] == 60).all()
        doc = get(client, planted, "/api/v1/near-repeat/zones", format="geojson",
                  **params).json()
        assert doc["features"][0]["geometry"]["type"] == "Polygon"
        # the liaison's zones come from the table of their own incidents (C1 and C2: the
        # city's 7, the 52 near repeats and the 9 of the spike), never from C3's or C4's
        mine = get(client, planted, "/api/v1/near-repeat/zones", "liaison", **params).json()
        assert mine["provenance"]["incidents"] == 7 + 52 + 9
        assert mine["count"] >= 1
        assert {i["incident_id"] for i in mine["items"]} <= set(zones.index)
        assert get(client, planted, "/api/v1/near-repeat/zones", "liaison_s21", **params
                   ).json()["count"] == 0
        for role in ("planner", "client"):
            get(client, planted, "/api/v1/near-repeat/zones", role, 403, **params)
        page = get(client, planted, "/maps/near-repeat", period="2025")
        assert "C1-spike0" in page.text and "截至 2025-12-24" in page.text
        assert "pingan.loaded()" in get(client, planted, "/maps/near-repeat", "liaison",
                                        period="2025").text
        get(client, planted, "/maps/near-repeat", "planner", 403, period="2025")


def test_alerts_fire_on_the_spike_and_release_by_role(planted):
    with planted.client() as client:
        body = get(client, planted, "/api/v1/alerts", as_of="2025-12-21").json()
        rows = pd.DataFrame(body["items"]).set_index("unit")
        assert list(rows.index) == ["C1", "C2", "C3", "C4"]
        c1 = rows.loc["C1"]
        assert c1["alert"] and c1["observed"] == 9 and c1["method"] == "ears_c2"
        assert c1["first_fired"] == "2025-12-15" and c1["step"] == "2025-12-15"
        assert c1["incidents_link"] == ("/api/v1/incidents?community=C1&period="
                                        "2025-12-15..2025-12-21")
        assert not rows.drop(index="C1")["alert"].any()
        assert body["provenance"]["methods_run"] == {"ears_c2": 4}
        # the linked list holds the week's nine incidents
        linked = client.get(c1["incidents_link"], headers=planted.headers("admin")).json()
        assert linked["count"] == 9
        # no look-ahead: as of the Sunday before, nothing alerts
        before = get(client, planted, "/api/v1/alerts", as_of="2025-12-14").json()
        assert not any(i["alert"] for i in before["items"])
        planner = get(client, planted, "/api/v1/alerts", "planner", as_of="2025-12-21").json()
        assert [i["unit"] for i in planner["items"]] == ["C1"]
        assert "observed" not in planner["items"][0] and "p_value" not in json.dumps(planner)
        assert get(client, planted, "/api/v1/alerts", "liaison_s21", as_of="2025-12-21",
                   alerts_only="true").json()["items"] == []
        daily = get(client, planted, "/api/v1/alerts", level="district", as_of="2025-12-21",
                    format="geojson").json()
        assert {f["properties"]["unit"] for f in daily["features"]} == {"D1", "D2"}
        assert daily["pingan"]["resolution"] == "day"
        page = get(client, planted, "/maps/alerts", "planner", period="2025")
        assert "pingan.loaded()" in page.text


# --- the command line ---------------------------------------------------------------------------


def test_cli_near_repeat_and_alerts(planted, tmp_path, capsys):
    url = planted.settings.database_url
    out = tmp_path / "k.json"
    assert main(["-d", url, "near-repeat", "--period", "2025", "--permutations", "99",
                 "--district", "东城区", "-f", "json", "-o", str(out)]) == 0
    doc = json.loads(out.read_text("utf-8"))
    assert doc["provenance"]["district"] == "东城区" and len(doc["items"]) == 25
    assert main(["-d", url, "--lang", "zh", "near-repeat", "--period", "2025", "--zones",
                 "--as-of", "2025-12-21", "--permutations", "99"]) == 0
    table = capsys.readouterr().out
    assert "风险区半径 100 米，持续 60 天" in table and "C1-spike8" in table
    assert main(["-d", url, "--lang", "en", "near-repeat", "--period", "2025", "--zones",
                 "--as-of", "2025-12-21", "--permutations", "99"]) == 0
    assert "zones of 100 m for 60 days" in capsys.readouterr().out
    assert main(["-d", url, "--lang", "zh", "alerts", "--as-of", "2025-12-21"]) == 0
    table = capsys.readouterr().out
    assert "4 个单元中预警 1 个" in table and "ears_c2" in table
    # In English the p values say one-sided (the shared header of p_value says two-sided).
    assert main(["-d", url, "--lang", "en", "alerts", "--as-of", "2025-12-21"]) == 0
    table = capsys.readouterr().out
    assert "p (one-sided)" in table and "q (BH)" in table and "two-sided" not in table
    assert main(["-d", url, "--lang", "en", "near-repeat", "--period", "2025",
                 "--permutations", "9", "--space-m", "0,100", "--time-days", "0,7"]) == 0
    table = capsys.readouterr().out
    assert "pseudo p (one-sided)" in table and "two-sided" not in table
    assert main(["-d", url, "near-repeat", "--space-m", "0,x"]) == 1
    assert "space_m" in capsys.readouterr().err
