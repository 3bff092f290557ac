"""Issue 12, items 1 and 2, end to end through ``pingan`` on SpatiaLite.

1. A city portal's raw export with a census for 2020 only: ``pingan rates --period 2024`` gives
   finite rates (the census carried flat) and says which population rule it used; a 七普
   census (2020-11-01) and year-end estimates (12-31) load and combine by date.
2. Incidents that start in 2024: ``--compare last-year`` is unknown (待补数据) for every
   community, never a rise, and the standard counts the criterion as missing data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
PORTAL = DATA / "portal"
CHINA = DATA / "china110"
POPULATION = {"Rogers Park": 55628, "Edison Park": 11525}  # census_2020.csv


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PINGAN_DATABASE_URL", raising=False)
    return tmp_path


def pingan(db: Path, *args: str) -> int:
    return main(["-d", str(db), "--timezone", "America/Chicago", *args])


def load_portal(db: Path, incidents: str, *extra: str) -> None:
    assert pingan(db, "load", "communities", str(PORTAL / "community_areas.geojson"),
                  "--field", "code=area_numbe", "--field", "name=community") == 0
    assert pingan(db, "load", "population", str(PORTAL / "census_2020.csv"),
                  "--field", "code=Community Area", "--field", "year=Year",
                  "--field", "population=Total Population") == 0
    assert pingan(db, "load", "incidents", str(PORTAL / incidents), "--field", "id=ID",
                  "--field", "occurred_at=Date", "--field", "category=Primary Type",
                  "--field", "community_code=Community Area", *extra) == 0


def json_out(capsys, db: Path, *args: str) -> dict:
    capsys.readouterr()
    assert pingan(db, *args, "--format", "json") == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_census_2020_gives_finite_2024_rates_and_states_the_rule(workdir, capsys):
    db = workdir / "portal.db"
    load_portal(db, "crimes_portal.csv")
    out = json_out(capsys, db, "rates", "--period", "2024")
    rows = {r["name"]: r for r in out["items"] if r["code"] != "unassigned"}
    assert len(rows) == 12
    assert all(math.isfinite(r["case_rate_per_10k_annual"]) for r in rows.values())
    assert all(r["population_rule"] == "constant" for r in rows.values())
    rogers = rows["ROGERS PARK"]
    assert rogers["population"] == POPULATION["Rogers Park"]
    # 2024 has 366 days: annual rate = cases / (population × 366 / 365.25) × 10,000
    assert rogers["case_rate_per_10k_annual"] == pytest.approx(
        rogers["cases"] / (55628 * 366 / 365.25) * 1e4)
    assert out["provenance"]["population"].startswith(
        "population of 2024-01-01..2024-12-31: person-years, linear between known dates and "
        "flat beyond them: one known date, constant (仅一期，视为不变) for 12; known dates "
        "2020-07-01..2020-07-01")
    capsys.readouterr()
    assert pingan(db, "--lang", "en", "rates", "--period", "2024") == 0
    table = capsys.readouterr().out
    assert "one known date, constant (仅一期，视为不变) for 12" in table
    assert pingan(db, "--lang", "zh", "rates", "--period", "2024") == 0
    table = capsys.readouterr().out
    assert ("人口（2024-01-01..2024-12-31）按人年计，已知日期之间线性插值、之外沿用："
            "仅一期，视为不变 12 个社区；已知日期 2020-07-01..2020-07-01") in table
    assert "nan" not in table.lower()


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_comparison_against_days_without_data_is_unknown(workdir, capsys):
    db = workdir / "late.db"
    load_portal(db, "crimes_2024.csv")  # the data start in 2024
    out = json_out(capsys, db, "rates", "--period", "2024", "--compare", "last-year")
    rows = [r for r in out["items"] if r["code"] != "unassigned"]
    assert {r["change_class"] for r in rows} == {"unknown"}
    assert all(r["case_rise_significant"] is None for r in rows)
    assert all(r["case_change_pct"] is None for r in rows)
    assert any("12 units unknown (待补数据)" in n for n in out["provenance"]["notes"])
    capsys.readouterr()
    assert pingan(db, "rates", "--period", "2024", "--compare", "last-year") == 0
    assert capsys.readouterr().out.count("待补数据") == 12
    # the standard: missing data, not a failure, with the reason
    todo = json_out(capsys, db, "standard", "todo", "1", "--period", "2024")
    rise = [r for r in todo["items"] if r["criterion_id"] == "no_significant_rise"]
    assert [r["outcome"] for r in rise] == ["unknown"]
    assert any(u.startswith("no_significant_rise: 12 communities have no complete incident "
                            "data for 2023 (待补数据)")
               for u in todo["provenance"]["unknown_because"])
    # the same rows claimed to cover 2023 as well: then no cases in 2023 is a fact, and a rise
    assert pingan(db, "load", "incidents", str(PORTAL / "crimes_2024.csv"), "--field", "id=ID",
                  "--field", "occurred_at=Date", "--field", "category=Primary Type",
                  "--field", "community_code=Community Area",
                  "--covers", "2023-01-01..2024-12-31") == 0
    claimed = json_out(capsys, db, "rates", "--period", "2024", "--compare", "last-year")
    assert {r["change_class"] for r in claimed["items"] if r["code"] != "unassigned"} == {"rise"}


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_a_whole_export_compares_normally(workdir, capsys):
    db = workdir / "whole.db"
    load_portal(db, "crimes_portal.csv")  # first and last incident: 2023-01-01, 2024-12-30
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        spans = conn.execute(sa.text(
            "SELECT district_code, first_day, last_day FROM load_coverage")).all()
    # by default the file's first..last local day, for each district present (here: none)
    assert [(d, str(a), str(b)) for d, a, b in spans] == [(None, "2023-01-01", "2024-12-30")]
    out = json_out(capsys, db, "rates", "--period", "2024", "--compare", "last-year")
    classes = {r["change_class"] for r in out["items"] if r["code"] != "unassigned"}
    assert classes <= {"rise", "no_rise"} and "no_rise" in classes


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_seventh_census_and_year_end_estimates_combine(workdir, capsys):
    db = workdir / "china.db"
    assert pingan(db, "load", "communities", str(CHINA / "社区边界.zip"),
                  "--encoding", "gbk") == 0
    assert pingan(db, "load", "population", str(CHINA / "七普人口.csv"),
                  "--reference-date", "11-01") == 0
    assert pingan(db, "load", "population", str(CHINA / "年末常住人口.csv"),
                  "--field", "population=年末常住人口", "--reference-date", "12-31") == 0
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        got = conn.execute(sa.text(
            "SELECT year, population, reference_date FROM community_population "
            "WHERE code = '110102001001' ORDER BY year")).all()
    assert [(y, p, str(d)) for y, p, d in got] == [
        (2020, 4210, "2020-11-01"), (2022, 4336, "2022-12-31"), (2023, 4420, "2023-12-31")]
    out = json_out(capsys, db, "rates", "--period", "2021")
    row = next(r for r in out["items"] if r["code"] == "110102001001")
    # 2021: linear from 4210 (2020-11-01) to 4336 (2022-12-31, 790 days later); its mean is
    # the value at the year's middle, 61 + 182.5 days after the census
    assert row["population"] == pytest.approx(4210 + 126 * (61 + 182.5) / 790)
    assert row["population_rule"] == "interpolated"
    # a rolling 12 months across the year end
    out = json_out(capsys, db, "rates", "--period", "2023-07-01..2024-06-30")
    row = next(r for r in out["items"] if r["code"] == "110102001001")
    jul1 = 4336 + 84 * (dt.date(2023, 7, 1) - dt.date(2022, 12, 31)).days / 365
    # up from jul1 to 4420 over 2023-07-01..2023-12-31 (183 days), then flat for 183 days
    assert row["population"] == pytest.approx(((jul1 + 4420) / 2 * 183 + 4420 * 183) / 366)
    assert row["population_rule"] == "carried_forward"
    # a full date in another year than the rows is refused, naming the option
    capsys.readouterr()
    assert pingan(db, "load", "population", str(CHINA / "年末常住人口.csv"),
                  "--field", "population=年末常住人口", "--reference-date", "2022-12-31") == 1
    assert "reference date 2022-12-31 is in 2022; got a population row of year 2023" in (
        capsys.readouterr().err)
