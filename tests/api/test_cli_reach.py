"""``pingan coverage/gaps/workload --reach`` and ``pingan response`` on the app city."""

from __future__ import annotations

import json

import pytest

from api.cli import main
from api.db import create_db_engine, migrate
from tests.api.appcity import load_city


@pytest.fixture(scope="module")
def city_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reach")
    db = tmp / "city.db"
    engine = create_db_engine(f"sqlite:///{db}")
    migrate(engine)
    load_city(engine, tmp)
    engine.dispose()
    return str(db)


def _json(capsys, *args):
    assert main(list(args)) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_coverage_walk_is_below_the_line_and_says_so(city_db, capsys):
    line = _json(capsys, "-d", city_db, "coverage", "--type", "police_office", "--level",
                 "city", "-f", "json")
    walk = _json(capsys, "-d", city_db, "coverage", "--type", "police_office", "--level",
                 "city", "--reach", "walk", "-f", "json")
    a = line["items"][0]["facility_covered_population_share"]
    b = walk["items"][0]["facility_covered_population_share"]
    assert 0 < b < a
    assert walk["provenance"]["reach"] == "walk"
    assert main(["-d", city_db, "coverage", "--type", "police_office", "--reach", "walk"]) == 0
    out = capsys.readouterr().out
    assert "within 500 m walk along roads (about 7 min at 1.2 m/s)" in out
    assert main(["-d", city_db, "coverage", "--type", "police_office", "--reach", "bike"]) == 2
    assert "--reach" in capsys.readouterr().err
    assert main(["-d", city_db, "coverage", "--type", "police_office", "--reach", "walk",
                 "--minutes", "5"]) == 1
    assert "minutes: walking reach is judged in metres" in capsys.readouterr().err


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_gaps_workload_and_response_by_road(city_db, capsys):
    assert main(["-d", city_db, "gaps", "--type", "police_station", "--reach", "drive",
                 "--minutes", "1"]) == 0
    assert "within 1 min drive" in capsys.readouterr().out
    work = _json(capsys, "-d", city_db, "workload", "--type", "police_office", "--reach",
                 "drive", "-f", "json")
    assert sum(r["incidents_catchment"] for r in work["items"]) == 13
    assert work["provenance"]["minutes"] == 10.0
    resp = _json(capsys, "-d", city_db, "response", "--minutes", "1", "--minutes", "30",
                 "-f", "json")
    rows = {r["minutes"]: r for r in resp["items"]}
    # one station (F2, centre of C2): within 30 min every incident and resident is reached
    assert rows[30.0]["incidents_beyond"] == 0 and rows[30.0]["residents_beyond"] == 0
    assert 0 < rows[1.0]["incidents_beyond"] <= 13
    assert resp["provenance"]["incidents_total"] == 13


def test_reach_without_roads_names_the_command(tmp_path, capsys):
    db = str(tmp_path / "empty.db")
    assert main(["-d", db, "coverage", "--type", "police_office", "--reach", "walk"]) == 1
    assert "pingan load roads" in capsys.readouterr().err


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_plan_sites_along_roads(city_db, capsys):
    plan = _json(capsys, "-d", city_db, "plan-sites", "--type", "police_office", "--add", "2",
                 "--reach", "walk", "--time-limit-s", "20", "-f", "json")
    pv = plan["provenance"]
    assert pv["reach"] == "walk" and pv["k_used"] == 2
    assert pv["population_covered_after"] > pv["population_covered_before"]
    assert sum(r["population_newly_covered"] for r in plan["items"]) == pytest.approx(
        pv["population_covered_after"] - pv["population_covered_before"])
