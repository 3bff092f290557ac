"""Issue 12 on its trial cities: natural code order, categories as written and mapped,
``--lang``, and ``trend --district/--subdistrict``."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pandas as pd
import pytest

from tests.api.issue12_cities import (
    CHINA110,
    CHINA110_LOADS,
    PORTAL,
    PORTAL_LOADS,
    as_json,
    build,
    run,
    two_districts,
)

AREAS = [str(k) for k in range(1, 13)]
PORTAL_DIR: Path = PORTAL
CHINA110_DIR: Path = CHINA110


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


@pytest.mark.slow  # over 2 s on a busy 2-core machine
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


# --- item 7: categories as written, mapped on request -----------------------------------------

PORTAL_MAP = PORTAL_DIR / "categories_zh.csv"
CHINA110_MAP = CHINA110_DIR / "110类别对照.csv"


def _export(path: Path, column: str, encoding: str = "utf-8") -> pd.Series:
    return pd.read_csv(path, dtype=str, encoding=encoding)[column]


def _portal_2023() -> pd.DataFrame:
    """The export's 2023 rows that load (rows with neither a point nor an area are rejected)."""
    raw = pd.read_csv(PORTAL_DIR / "crimes_portal.csv", dtype=str)
    placed = raw["Latitude"].notna() | raw["Community Area"].notna()
    return raw[(raw["Date"].str[6:10] == "2023") & placed]


def _city_cases(options: list[str], *args: str) -> tuple[int, dict, str]:
    code, out, err = run([*options, "rates", "--period", "2023", "--level", "city",
                          "--format", "json", *args])
    assert code == 0, err
    doc = as_json(out)
    return doc["items"][0]["cases"], doc["provenance"], err


def test_portal_categories_are_kept_as_written(portal):
    in_2023 = _portal_2023()
    theft = int((in_2023["Primary Type"] == "THEFT").sum())
    assert theft > 100
    cases, prov, err = _city_cases(portal, "--category", "THEFT")
    assert cases == theft and err == "" and "category_map" not in prov


def test_a_category_that_matches_nothing_is_warned_about(portal):
    cases, prov, err = _city_cases(portal, "--category", "theft")
    assert cases == 0
    warning = ("warning: category 'theft' matches no incident (did you mean 'THEFT'? "
               "categories are matched as written); the 7 most frequent categories: THEFT (")
    assert err.startswith(warning)
    assert "--categories map.csv" in err
    assert prov["warnings"] == [err.removeprefix("warning: ").strip()]


def test_a_mapping_counts_raw_categories_under_canonical_names(portal):
    in_2023 = _portal_2023()
    theft = int(in_2023["Primary Type"].isin(["THEFT", "MOTOR VEHICLE THEFT"]).sum())
    cases, prov, err = _city_cases(portal, "--category", "盗窃", "--categories", str(PORTAL_MAP))
    assert cases == theft and err == ""
    assert prov["category_map"] == {
        "file": "categories_zh.csv", "rows": 7,
        "sha256": hashlib.sha256(PORTAL_MAP.read_bytes()).hexdigest()[:16]}
    code, out, _ = run([*portal, "--lang", "en", "rates", "--period", "2023", "--level",
                        "city", "--category", "盗窃", "--categories", str(PORTAL_MAP)])
    assert code == 0 and "categories mapped by categories_zh.csv (sha256 " in out
    code, out, _ = run([*portal, "--lang", "zh", "rates", "--period", "2023", "--level",
                        "city", "--category", "盗窃", "--categories", str(PORTAL_MAP)])
    assert code == 0 and "类别对照 categories_zh.csv (sha256 " in out
    # with the mapping, an unknown name lists the canonical categories
    _, _, err = _city_cases(portal, "--category", "抢劫", "--categories", str(PORTAL_MAP))
    assert "the 5 most frequent categories: 盗窃 (" in err
    assert "the mapping categories_zh.csv maps no raw category to it" in err


def test_110_codes_need_the_mapping(china110):
    codes = _export(CHINA110_DIR / "110警情导出.csv", "警情类别代码", "gbk")
    theft = int(codes.isin(["0101", "0102"]).sum())
    code, out, err = run([*china110, "trend", "--period", "2024", "--category", "盗窃",
                          "--format", "json"])
    assert code == 0 and sum(r["cases"] for r in as_json(out)["items"]) == 0
    assert "category '盗窃' matches no incident; the 5 most frequent categories: 0201 (" in err
    code, out, err = run([*china110, "trend", "--period", "2024", "--category", "盗窃",
                          "--categories", str(CHINA110_MAP), "--format", "json"])
    assert code == 0 and err == ""
    assert sum(r["cases"] for r in as_json(out)["items"]) == theft
    assert as_json(out)["provenance"]["category_map"]["file"] == "110类别对照.csv"
    code, out, err = run([*china110, "hotspots", "--period", "2024", "--category", "伤害",
                          "--categories", str(CHINA110_MAP), "--format", "json"])
    assert code == 0 and err == "" and as_json(out)["provenance"]["categories"] == ["伤害"]
    code, _, err = run([*china110, "rates", "--period", "2024", "--category", "盗窃",
                        "--categories", str(CHINA110_DIR / "110类别对照_有误.csv")])
    assert code == 1 and "row 4 (line 5): raw '0201' is mapped to '斗殴'" in err


def test_the_api_takes_the_mapping_from_the_settings(china110):
    from api.db import create_db_engine
    from api.release import Visibility
    from api.services import ServiceContext
    from api.services.rates import rates_report
    from api.settings import load_settings
    from geo.errors import ParameterError

    codes = _export(CHINA110_DIR / "110警情导出.csv", "警情类别代码", "gbk")
    theft = int(codes.isin(["0101", "0102"]).sum())
    settings = load_settings(database_url=china110[1],
                             cases={"categories_map": str(CHINA110_MAP)},
                             api={"category_groups": {"盗窃类": ["盗窃"]}})
    ctx = ServiceContext(create_db_engine(settings.database_url), settings)
    admin = Visibility.admin(settings)
    rep = rates_report(ctx, admin, period="2024", level="city", categories=["盗窃"])
    assert rep.frame.set_index("code").loc["city", "cases"] == theft
    assert rep.provenance["category_map"]["file"] == "110类别对照.csv"
    planner = Visibility("planner", None, protected=True, raw=False, unassigned=False,
                         min_count=3, category_groups=admin.category_groups)
    rep = rates_report(ctx, planner, period="2024", level="city", categories=["盗窃类"])
    released = rep.frame.set_index("code").loc["city", "cases"]
    assert abs(released - theft) <= 2 and "warnings" not in rep.provenance
    assert rep.provenance["category_map"]["sha256"] == hashlib.sha256(
        CHINA110_MAP.read_bytes()).hexdigest()[:16]
    with pytest.raises(ParameterError, match="counts by category group"):
        rates_report(ctx, planner, period="2024", level="city", categories=["盗窃"])
    ctx.engine.dispose()


# --- item 14: --lang zh|en ----------------------------------------------------------------------


@pytest.mark.parametrize(("env", "lang"), [
    ({}, "zh"), ({"LANG": "C.UTF-8"}, "zh"), ({"LANG": "POSIX"}, "zh"),
    ({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LANG": "zh_TW.Big5"}, "zh"),
    ({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "de_DE@euro"}, "en"),
    # POSIX precedence: LC_ALL over LC_MESSAGES over LANG
    ({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
    ({"LC_MESSAGES": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
    ({"LC_ALL": "", "LANG": "en_US.UTF-8"}, "en"),
])
def test_the_default_language_follows_the_locale(env, lang):
    from api.cli_text import default_language

    assert default_language(env) == lang


def test_tables_in_chinese_and_in_english(china110, monkeypatch):
    args = ["rates", "--period", "2024", "--compare", "previous", "--level", "subdistrict"]
    code, zh, _ = run([*china110, "--lang", "zh", *args])
    assert code == 0
    lines = zh.splitlines()
    assert lines[0] == "万人发案率（按街道），2024 对比 2023"
    assert lines[1].startswith("时段 2024 对比 2023: 2024-01-01T00:00:00+08:00")
    assert "数据版本 2" in lines
    assert any(line.startswith("未计入: 不在任何社区 0") for line in lines)
    header = next(line for line in lines if line.startswith("代码"))
    assert header.split()[:12] == ["代码", "名称", "社区数", "人口", "发案数", "万人发案率(年化)",
                                   "对比期发案数", "对比期发案率", "变化%", "上升q值", "显著上升",
                                   "环比判断"]
    # the class in words: 同比 is against last year only; this compares with the previous year
    assert {line.split()[-1] for line in lines[lines.index(header) + 2:] if line.strip()} <= {
        "显著上升", "无显著上升", "待补数据", "—"}
    code, en, _ = run([*china110, "--lang", "en", *args])
    assert code == 0
    lines = en.splitlines()
    assert lines[0] == "case rates by subdistrict, 2024 vs 2023"
    assert "data version 2" in lines
    assert any(line.startswith("left out: unassigned 0") for line in lines)
    header = next(line for line in lines if line.startswith("code"))
    assert "rate per 10k (annual)" in header and "代码" not in en
    assert not any("上升" in line or "待补" in line for line in lines)
    # the locale decides without the option; JSON does not depend on the language
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    code, out, _ = run([*china110, "trend", "--period", "2024"])
    assert out.splitlines()[0] == "cases by month, 2024, city"
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    code, out, _ = run([*china110, "trend", "--period", "2024"])
    assert out.splitlines()[0] == "发案数（按月），2024，全市"
    assert ["代码", "月份", "天数", "发案数"] in [line.split() for line in out.splitlines()]
    json_zh = run([*china110, "--lang", "zh", *args, "--format", "json"])[1]
    json_en = run([*china110, "--lang", "en", *args, "--format", "json"])[1]
    strip = [line for line in json_zh.splitlines() if "generated_at" not in line]
    assert strip == [line for line in json_en.splitlines() if "generated_at" not in line]


def test_a_usage_error_for_another_language(china110):
    code, _, err = run([*china110, "--lang", "fr", "status"])
    assert code == 2 and "'fr' is not one of 'zh', 'en'" in err


def test_the_case_definition_excludes_canonical_categories_through_the_mapping(china110):
    """``cases.exclude_categories = ["盗窃"]`` leaves out the raw codes 0101 and 0102."""
    from api.db import create_db_engine
    from api.release import Visibility
    from api.services import ServiceContext
    from api.services.rates import rates_report
    from api.settings import load_settings

    codes = _export(CHINA110_DIR / "110警情导出.csv", "警情类别代码", "gbk")
    settings = load_settings(database_url=china110[1],
                             cases={"categories_map": str(CHINA110_MAP),
                                    "exclude_categories": ["盗窃"]})
    ctx = ServiceContext(create_db_engine(settings.database_url), settings)
    rep = rates_report(ctx, Visibility.admin(settings), period="2024", level="city")
    assert rep.frame.set_index("code").loc["city", "cases"] == int(
        (~codes.isin(["0101", "0102"])).sum())
    assert rep.provenance["case_definition"]["exclude_categories"] == ["0101", "0102", "盗窃"]
    ctx.engine.dispose()


def test_raw_incidents_filter_through_the_mapping_too(china110):
    from api.db import create_db_engine
    from api.release import Visibility
    from api.services import ServiceContext
    from api.services.incidents import incidents_report
    from api.settings import load_settings

    codes = _export(CHINA110_DIR / "110警情导出.csv", "警情类别代码", "gbk")
    settings = load_settings(database_url=china110[1],
                             cases={"categories_map": str(CHINA110_MAP)})
    ctx = ServiceContext(create_db_engine(settings.database_url), settings)
    rep, total = incidents_report(ctx, Visibility.admin(settings), period=None,
                                  categories=["伤害"], limit=5)
    assert total == int((codes == "0201").sum()) and set(rep.frame["category"]) == {"0201"}
    assert rep.provenance["category_map"]["file"] == "110类别对照.csv"
    ctx.engine.dispose()


def test_a_planners_maps_of_a_category_group(china110, tmp_path):
    """The map pages resolve a planner's group once (it used to be refused as a union)."""
    from api.db import create_db_engine
    from api.release import Visibility
    from api.services import ServiceContext
    from api.services.maps import write_maps
    from api.settings import load_settings

    settings = load_settings(database_url=china110[1],
                             cases={"categories_map": str(CHINA110_MAP)},
                             api={"category_groups": {"盗窃类": ["盗窃"]}})
    ctx = ServiceContext(create_db_engine(settings.database_url), settings)
    planner = Visibility("planner", None, protected=True, raw=False, unassigned=False,
                         min_count=3, category_groups=(("盗窃类", ("盗窃",)),))
    pages = write_maps(ctx, planner, tmp_path, kinds=["incidents", "rates", "hotspots"],
                       period="2024", categories=["盗窃类"])
    assert [p.name for p in pages] == ["incidents.html", "rates.html", "hotspots.html"]
    ctx.engine.dispose()


def test_the_population_rule_in_chinese_and_codes_in_words():
    import pandas as pd

    from api.cli_text import population_note_zh, shown_in

    note = ("population of 2025-01-01..2025-12-31: person-years, linear between known dates and "
            "flat beyond them: interpolated between known dates (线性插值) for 3, one known date, "
            "constant (仅一期，视为不变) for 130, none for 2; known dates 2024-07-01..2025-07-01")
    assert population_note_zh(note) == (
        "人口（2025-01-01..2025-12-31）按人年计，已知日期之间线性插值、之外沿用："
        "线性插值 3 个社区，仅一期，视为不变 130 个社区，无人口 2 个社区；"
        "已知日期 2024-07-01..2025-07-01")
    assert population_note_zh("another note") == "another note"
    frame = pd.DataFrame({"c": ["hot_99", "sporadic_cold_spot", "8-14 days", "<= 100 m", "x"],
                          "alert": [1, 0, 1, 0, 1], "flag": [True, False, True, True, False]})
    zh = shown_in(frame, ["c", "alert", "flag"], "zh")
    assert zh["c"].tolist() == ["热点 (99%)", "分散冷点", "8-14 天", "≤ 100 米", "x"]
    assert zh["alert"].tolist() == ["是", "否", "是", "否", "是"]
    en = shown_in(frame, ["c", "alert", "flag"], "en")
    assert en["c"].tolist() == frame["c"].tolist() and en["flag"].tolist()[:2] == ["yes", "no"]
