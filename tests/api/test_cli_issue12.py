"""Issue 12 on its trial cities: natural code order, categories as written and mapped,
``--lang``, and ``trend --district/--subdistrict``."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.api.issue12_cities import (
    CHINA110_LOADS,
    PORTAL_LOADS,
    as_json,
    build,
    run,
    two_districts,
)

AREAS = [str(k) for k in range(1, 13)]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    db = tmp_path_factory.mktemp("portal") / "portal.db"
    return build(db, PORTAL_LOADS, timezone="America/Chicago")


@pytest.fixture(scope="module")
def china110(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    db = tmp_path_factory.mktemp("china110") / "c110.db"
    return build(db, CHINA110_LOADS)


@pytest.fixture(scope="module")
def districts(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("districts")
    return build(folder / "two.db", two_districts(folder))


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text.lstrip("\ufeff")), comment="#", dtype=str)


# --- item 13: codes in natural order ----------------------------------------------------------


def test_community_areas_are_listed_1_to_12_not_1_10_11_2(portal):
    code, out, _ = run([*portal, "rates", "--period", "2023", "--format", "csv"])
    assert code == 0
    assert _csv(out)["code"].tolist() == [*AREAS, "unassigned"]
    code, out, _ = run([*portal, "rates", "--period", "2023"])
    assert code == 0
    table_codes = [line.split()[0] for line in out.splitlines()
                   if line.split() and line.split()[0] in AREAS]
    assert table_codes == AREAS
    code, out, _ = run([*portal, "hotspots", "--period", "2023", "--format", "json"])
    assert code == 0
    assert [r["code"] for r in as_json(out)["items"]] == AREAS


def test_chinese_codes_keep_their_order(china110):
    code, out, _ = run([*china110, "rates", "--period", "2024", "--format", "csv"])
    assert code == 0
    codes = _csv(out)["code"].tolist()
    assert codes[:-1] == [f"1101020010{k:02d}" for k in range(1, 9)]


def test_the_api_lists_communities_in_natural_order(portal):
    from api.db import create_db_engine
    from api.release import Visibility
    from api.services import ServiceContext
    from api.services.incidents import communities_report
    from api.settings import load_settings

    settings = load_settings(database_url=portal[1])
    ctx = ServiceContext(create_db_engine(settings.database_url), settings)
    rep = communities_report(ctx, Visibility.admin(settings))
    assert rep.frame["code"].tolist() == AREAS
    ctx.engine.dispose()


# --- item 16: trend --district / --subdistrict --------------------------------------------------


def _monthly(options: list[str], *place: str) -> list[int]:
    code, out, err = run([*options, "trend", "--period", "2024", *place, "--format", "json"])
    assert code == 0, err
    return [r["cases"] for r in as_json(out)["items"]]


def test_trend_of_a_district_and_a_subdistrict(districts):
    code, out, _ = run([*districts, "rates", "--period", "2024", "--format", "json"])
    assert code == 0
    by_code = {r["code"]: r["cases"] for r in as_json(out)["items"]}
    east = sum(by_code[f"1101020010{k:02d}"] for k in range(5, 9))
    west = sum(by_code[f"1101020010{k:02d}"] for k in range(1, 5))
    assert east > 0 and west > 0 and by_code["unassigned"] == 0

    city = _monthly(districts)
    by_district = _monthly(districts, "--district", "东城区")
    by_subdistrict = _monthly(districts, "--subdistrict", "东华门街道")
    assert len(by_district) == 12 and sum(by_district) == east
    assert by_subdistrict == by_district
    other = _monthly(districts, "--district", "西城区", "--subdistrict", "西长安街街道")
    assert [a + b for a, b in zip(by_district, other, strict=True)] == city

    # the table names the place; rates take the same options
    code, out, _ = run([*districts, "trend", "--period", "2024", "--district", "东城区"])
    assert code == 0 and "district=东城区" in out
    code, out, _ = run([*districts, "rates", "--period", "2024", "--district", "东城区",
                        "--format", "json"])
    assert [r["code"] for r in as_json(out)["items"]] == [
        f"1101020010{k:02d}" for k in range(5, 9)]


def test_trend_of_an_unknown_district_names_it(districts):
    code, _, err = run([*districts, "trend", "--period", "2024", "--district", "海淀区"])
    assert code == 1 and "no district with code or name '海淀区'" in err
