"""A planner's rates with a comparison: no figure derived from counts stands beside a hidden
count of either period (issue 12: the rule kept while categories gained a mapping)."""

from __future__ import annotations

import pandas as pd
import pytest

from api.db import create_db_engine
from api.release import Visibility
from api.services import ServiceContext
from api.services.rates import rates_report, released_rates
from api.settings import load_settings
from tests.api.issue12_cities import CHINA110, CHINA110_LOADS, build

DERIVED = ["case_rate_per_10k", "case_rate_per_10k_annual", "case_rate_eb_per_10k_annual",
           "compare_case_rate_per_10k_annual", "case_change_pct", "p_change", "p_rise",
           "q_change", "q_rise", "case_rise_significant"]


@pytest.fixture(scope="module")
def planner_ctx(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("either")
    # the year-end estimates of 2023 stand for 2024, the year of the export
    pop = pd.read_csv(CHINA110 / "年末常住人口.csv", dtype=str, encoding="utf-8-sig")
    pop = pop[pop["年份"] == "2023"].assign(年份="2024")
    pop.to_csv(folder / "pop2024.csv", index=False)
    options = build(folder / "c110.db", [
        *CHINA110_LOADS,
        ["load", "population", str(folder / "pop2024.csv"), "--field", "code=社区代码",
         "--field", "year=年份", "--field", "population=年末常住人口"]])
    settings = load_settings(database_url=options[1],
                             cases={"categories_map": str(CHINA110 / "110类别对照.csv")},
                             api={"category_groups": {"纠纷类": ["纠纷"]}})
    ctx = ServiceContext(create_db_engine(settings.database_url), settings)
    vis = Visibility("planner", None, protected=True, raw=False, unassigned=False,
                     min_count=3, category_groups=(("纠纷类", ("纠纷",)),))
    yield ctx, vis
    ctx.engine.dispose()


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_a_hidden_count_of_either_period_withholds_every_derived_figure(planner_ctx):
    ctx, vis = planner_ctx
    rows = []
    for period in ("2024-Q2", "2024-Q3", "2024-Q4", *(f"2024-{m:02d}" for m in range(2, 13))):
        rows.append(released_rates(ctx, vis, period, compare="previous", categories=("0401",)))
    frame = pd.concat(rows, ignore_index=True)
    cur_hidden = frame["cases"].astype(str) == "<3"
    cmp_hidden = frame["compare_cases"].astype(str) == "<3"
    only_compare = cmp_hidden & ~cur_hidden
    assert only_compare.sum() >= 3 and (~cur_hidden & ~cmp_hidden).sum() >= 3
    either = cur_hidden | cmp_hidden
    assert frame.loc[either, DERIVED].isna().all().all()
    assert frame.loc[either, "suppressed"].all()
    shown = frame.loc[~either]
    assert shown["case_rate_per_10k_annual"].notna().all()
    # the export starts on 2 January 2024: a comparison with 2024-Q1 or January is not wholly
    # covered, so its change is unknown (待补数据), with no change figure; every other is shown
    unknown = shown["change_class"] == "unknown"
    assert unknown.sum() >= 1 and shown.loc[unknown, "case_change_pct"].isna().all()
    assert shown.loc[~unknown, "case_change_pct"].notna().all()
    assert set(shown.loc[~unknown, "change_class"]) <= {"rise", "no_rise"}

    # the same through the report a planner receives (category group via the mapping)
    rep = rates_report(ctx, vis, period="2024-03", compare="previous", categories=["纠纷类"])
    out = rep.frame
    hidden = (out["cases"].astype(str) == "<3") | (out["compare_cases"].astype(str) == "<3")
    kept = [c for c in DERIVED if c in out.columns]
    assert out.loc[hidden, kept].isna().all().all()
