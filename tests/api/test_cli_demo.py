"""Every metric command on the sample city (the demo database), checked against geo run
directly on the generated frames (not through storage)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from api.cli import main
from geo.assign import assign_to_communities
from geo.coverage import facility_coverage
from geo.inventory import existing_during
from geo.period import parse_period

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")


@pytest.fixture(scope="module")
def db(sample_db):
    return str(sample_db.url)


def run(capsys, *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def line_of(out: str, key: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(key))


def local_year(frame: pd.DataFrame) -> pd.Series:
    return frame["occurred_at"].dt.tz_convert("Asia/Shanghai").dt.year


def test_rates_district_table(capsys, db, sample_city):
    out = run(capsys, "-d", db, "rates", "--period", "2025", "--compare", "last-year",
              "--level", "district")
    inc, comms = sample_city.incidents, sample_city.communities
    code = assign_to_communities(inc, comms).fillna(inc["community_code"])
    district = code.map(comms.set_index("code")["district_code"])
    for d in ("110191", "110192"):
        n25 = int((district[local_year(inc) == 2025] == d).sum())
        n24 = int((district[local_year(inc) == 2024] == d).sum())
        row = line_of(out, d)
        assert f" {n25:,} " in row and f" {n24:,} " in row
    assert "unassigned" in out and "万人发案率(年化)" in out
    doc = json.loads(run(capsys, "-d", db, "rates", "--period", "2025", "--compare",
                         "last-year", "--level", "district", "--format", "geojson"))
    assert doc["type"] == "FeatureCollection"
    assert {"case_rate_per_10k_annual", "case_change_pct"} <= set(
        doc["features"][0]["properties"])


def test_hotspots_find_planted_hot_spots(capsys, db, sample_city):
    out = json.loads(run(capsys, "-d", db, "hotspots", "--period", "2025", "--format",
                         "json"))
    hot = {r["code"] for r in out["items"] if str(r["hotspot_class"]).startswith("hot")}
    truth = sample_city.truth
    planted = set(truth.loc[truth["in_hotspot"], "code"])
    # Gi* is a neighbourhood statistic: a hot community is planted or touches a planted one.
    comms = sample_city.communities.set_index("code")
    near = {c for c in comms.index
            if comms.loc[c, "geometry"].intersects(comms.loc[list(planted), "geometry"]
                                                   .union_all())}
    assert hot and hot <= near
    assert hot & planted


def test_trend_by_month(capsys, db, sample_city):
    out = json.loads(run(capsys, "-d", db, "trend", "--period", "2025", "--format", "json"))
    assert len(out["items"]) == 12
    assert sum(r["cases"] for r in out["items"]) == int((local_year(sample_city.incidents)
                                                         == 2025).sum())


def test_protection_camera_counts(capsys, db, sample_city):
    out = json.loads(run(capsys, "-d", db, "protection", "--period", "2025", "--level",
                         "district", "--format", "json"))
    dev, comms = sample_city.devices, sample_city.communities
    cams = dev[dev["kind"].isin(["camera", "dome", "ptz", "face", "plate"])]
    cams = cams[existing_during(cams, parse_period("2025"), start_column="installed_on",
                                end_column="removed_on")]
    district = assign_to_communities(cams, comms).map(
        comms.set_index("code")["district_code"])
    got = {r["code"]: r for r in out["items"]}
    for d in ("110191", "110192"):
        mine = cams[(district == d).to_numpy()]
        assert got[d]["camera_count"] == len(mine)
        assert got[d]["camera_working_ratio"] == pytest.approx(
            (mine["status"] == "working").mean())


def test_coverage_equals_geo_on_the_generated_frames(capsys, db, sample_city):
    out = json.loads(run(capsys, "-d", db, "coverage", "--type", "police_office",
                         "--period", "2025", "--format", "json"))
    expected = facility_coverage(
        sample_city.communities, sample_city.facilities, facility_type="police_office",
        compounds=sample_city.compounds[sample_city.compounds["removed_on"].isna()],
        period="2025", circle_segments=64).frame
    got = pd.DataFrame(out["items"]).set_index("code")
    # The stored data went through files: facilities in GCJ-02 (inverted to 1 mm) and
    # boundaries written at 1e-7 degrees (~1 cm), which moves shares by up to ~1e-5.
    for col in ("facility_covered_area_share", "facility_covered_population_share"):
        np.testing.assert_allclose(got.loc[expected.index, col].astype(float),
                                   expected[col].astype(float), atol=1e-4)
    np.testing.assert_allclose(got.loc[expected.index, "facility_uncovered_population"],
                               expected["facility_uncovered_population"], rtol=1e-3, atol=1)
    assert out["items"][0]["rank"] == 1  # ranked by residents left out


def test_gaps_geojson(capsys, db, tmp_path):
    path = tmp_path / "gaps.geojson"
    run(capsys, "-d", db, "gaps", "--type", "service_station", "--period", "2025",
        "--format", "geojson", "--out", str(path))
    back = gpd.read_file(path)
    assert back.crs.to_epsg() == 4326 and len(back) > 0
    assert back.is_valid.all()
    table = run(capsys, "-d", db, "gaps", "--type", "service_station", "--period", "2025")
    assert "盲区面积(m²)" in table


def test_workload_and_site_plan(capsys, db, sample_city):
    out = json.loads(run(capsys, "-d", db, "workload", "--type", "police_station",
                         "--period", "2025", "--format", "json"))
    inc = sample_city.incidents
    located = int(((local_year(inc) == 2025) & inc.geometry.notna()).sum())
    assert sum(r["incidents_catchment"] for r in out["items"]) == located
    plan = run(capsys, "--lang", "en", "-d", db, "plan-sites", "--type", "police_office",
               "--add", "2", "--period", "2025", "--time-limit-s", "30")
    assert "solver: Optimal" in plan
    before, after = plan.split("residents within reach: ")[1].split(" after")[0].split(
        " before, ")
    pct = [float(s.split("(")[1].split("%")[0]) for s in (before, after)]
    assert pct[1] > pct[0]


def test_catalogue_and_standard(capsys, db):
    cat = run(capsys, "catalogue")
    assert "case_rate_eb_per_10k_annual" in cat and "facility_covered_population_share" in cat
    district = run(capsys, "--lang", "en", "-d", db, "standard", "evaluate", "--level",
                   "district")
    assert "creation rate" in district
    counts = dict(part.split() for part in line_of(district, "communities:").removeprefix(
        "communities: ").split(", "))
    assert all(int(counts.get(k, 0)) > 0 for k in ("meets", "partly", "fails"))
    zh = run(capsys, "--lang", "zh", "-d", db, "standard", "evaluate", "--level", "district")
    assert "创建率" in zh and "基本达标" in line_of(zh, "社区:")
    some = json.loads(run(capsys, "-d", db, "standard", "evaluate", "--format", "json"))
    failing = next(r for r in some["items"] if r["status"] == "fails")
    todo = run(capsys, "-d", db, "standard", "todo", failing["code"])
    first = failing["todo"].split(",")[0]
    assert first in todo


def test_standard_check_reports_line_and_field(capsys, tmp_path):
    from geo.profile import DEFAULT_PROFILE_PATH

    assert main(["standard", "check", str(DEFAULT_PROFILE_PATH)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_PROFILE_PATH.read_text(encoding="utf-8").replace(
        'operator = "<="', 'operator = "=<"', 1), encoding="utf-8")
    assert main(["standard", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line" in err and "operator" in err


def test_demo_no_serve_prints_numbers_writes_maps_and_creates_keys(capsys, sample_db,
                                                                    sample_manifest, tmp_path):
    import re
    import shutil

    from api.auth import create_key, list_keys, verify_token
    from api.db import create_db_engine

    src = sample_db.url.database
    db = tmp_path / "demo.db"
    shutil.copyfile(src, db)
    # The sample files the database was loaded from: not generated again.
    shutil.copytree(sample_manifest.parent, tmp_path / "demo")
    engine = create_db_engine(f"sqlite:///{db}")
    old = create_key(engine, name="pingan demo admin", role="admin")
    kept = create_key(engine, name="someone else", role="client")
    create_key(engine, name="pingan demonstration wall", role="client")  # not a demo key

    out = run(capsys, "-d", f"sqlite:///{db}", "demo", "--no-serve", "--dir",
              str(tmp_path / "demo"), "--port", "8123")
    # Headline numbers: district creation rates and coverage.
    assert "创建率" in out and re.search(r"^110191 .* 0\.\d{3} ", out, re.M)
    assert re.search(r"^110191 .*\b(no|yes)$", out, re.M)  # significant rise, spelled out
    assert "police_office" in out and "of residents within 500 m" in out
    # Every map kind written and listed.
    for kind in ("incidents", "rates", "hotspots", "emerging", "kde", "protection", "coverage",
                 "standard"):
        page = tmp_path / "demo" / "maps" / f"{kind}.html"
        assert page.is_file() and page.as_uri() in out
        assert f"http://127.0.0.1:8123/maps/{kind}" in out
    # Four keys, printed once, that work with their roles; the earlier demo key is revoked.
    tokens = dict(re.findall(r"^  (admin|liaison|planner|client) +(pa_\S+)", out, re.M))
    assert set(tokens) == {"admin", "liaison", "planner", "client"}
    for role, token in tokens.items():
        key = verify_token(engine, token)
        assert key.role == role
        assert key.jurisdictions == (("110191",) if role == "liaison" else ())
    active = {k.name for k in list_keys(engine, include_inactive=False)}
    assert active == {"someone else", "pingan demonstration wall", "pingan demo admin",
                      "pingan demo liaison", "pingan demo planner", "pingan demo client"}
    assert old.key.id not in {k.id for k in list_keys(engine, include_inactive=False)}
    assert kept.key.id in {k.id for k in list_keys(engine, include_inactive=False)}
    assert "http://127.0.0.1:8123/docs" in out and "not serving" in out
    # Both the revocation and the four creations are audited, with the demo as the actor.
    from api.audit import read_audit

    with engine.connect() as conn:
        created = read_audit(conn, action="key_create")
        revoked = read_audit(conn, action="key_revoke")
    assert sorted(p["role"] for p in created["params"]) == [
        "admin", "client", "liaison", "planner"]
    assert [p["key_id"] for p in revoked["params"]] == [old.key.id]
    assert set(created["key_name"]) | set(revoked["key_name"]) == {"pingan demo"}
    engine.dispose()
