"""Rates, roll-ups, trends and hot spots over stored data, against hand-computed values."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from api.release import Visibility
from api.services import ServiceContext
from api.services.rates import hotspots_report, rates_report, trend_report
from api.settings import Settings
from api.settings import Settings as _Settings
from geo.errors import NotFoundError
from tests.api.lattice import l00_population

ADMIN = Visibility.admin(_Settings(database_url="sqlite:///unused.db"))

DAYS_2025, DAYS_2024 = 365, 366


def _one(ctx, code):
    from api.release import select

    return select(ADMIN, ctx.communities(), community=code)


def ctx_for(engine, **cases) -> ServiceContext:
    return ServiceContext(engine, Settings(database_url="sqlite:///unused.db", cases=cases))


def binom_upper_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def test_community_rates_and_change(lattice_db):
    rep = rates_report(ctx_for(lattice_db), ADMIN, period="2025", compare="last-year")
    f = rep.frame.set_index("code")
    # L00 uses the population table (8,000 mid-2024, 12,000 mid-2025), over each period
    p25, p24 = l00_population("2025"), l00_population("2024")
    assert f.loc["L00", "cases"] == 60 and f.loc["L00", "population"] == pytest.approx(p25)
    assert f.loc["L00", "population_rule"] == "carried_forward"
    assert f.loc["L01", "population_rule"] == "boundary"
    assert f.loc["L00", "case_rate_per_10k"] == pytest.approx(60 / p25 * 1e4)
    assert f.loc["L00", "case_rate_per_10k_annual"] == pytest.approx(
        60 / p25 * 1e4 * 365.25 / DAYS_2025)
    e1, e2 = p25 * DAYS_2025, p24 * DAYS_2024
    assert f.loc["L00", "case_change_pct"] == pytest.approx((60 / e1 / (10 / e2) - 1) * 100)
    assert f.loc["L00", "p_rise"] == pytest.approx(binom_upper_tail(60, 70, e1 / (e1 + e2)))
    assert f.loc["L00", "case_rise_significant"] == 1
    assert f.loc["L01", "case_rise_significant"] == 0
    # 00:30 on 1 January Beijing time is 2025; 23:30 on 31 December is 2024
    assert f.loc["L11", "cases"] == 11 and f.loc["L11", "compare_cases"] == 11
    assert f.loc["L22", "cases"] == 11  # the withdrawn record counts by default
    assert f.loc["unassigned", "cases"] == 1
    prov = rep.provenance
    assert prov["left_out"] == {"unassigned": 1, "no_location": 0, "not_counted": 0}
    assert prov["period_start"] == "2025-01-01T00:00:00+08:00"
    assert prov["compare_period"] == "2024"


def test_case_definition_setting_excludes_statuses(lattice_db):
    rep = rates_report(ctx_for(lattice_db, exclude_statuses=["withdrawn"]), ADMIN, period="2025")
    f = rep.frame.set_index("code")
    assert f.loc["L22", "cases"] == 10
    assert rep.provenance["left_out"]["not_counted"] == 1


def test_roll_ups_are_sums_over_sums(lattice_db):
    ctx = ctx_for(lattice_db)
    d = rates_report(ctx, ADMIN, period="2025", level="district").frame.set_index("code")
    p25 = l00_population("2025")
    assert d.loc["D1", "cases"] == 60 + 30 + 41
    assert d.loc["D1", "population"] == pytest.approx(p25 + 70_000)
    assert d.loc["D1", "case_rate_per_10k"] == pytest.approx(131 / (p25 + 70_000) * 1e4)
    assert d.loc["D2", "cases"] == 41 + 35 and d.loc["D2", "population"] == 80_000
    assert d.loc["unassigned", "cases"] == 1
    assert d.loc["D1", "geometry"].area == pytest.approx(8 * 0.01**2)
    city = rates_report(ctx, ADMIN, period="2025", level="city").frame.set_index("code")
    assert city.loc["city", "cases"] == 207
    assert city.loc["city", "case_rate_per_10k"] == pytest.approx(207 / (p25 + 150_000) * 1e4)
    sub = rates_report(ctx, ADMIN, period="2025", level="subdistrict").frame.set_index("code")
    assert sub.loc["S1", "cases"] == 60 + 10 + 10 + 11  # L00, L01, L10, L11


def test_periods_quarter_and_range(lattice_db):
    ctx = ctx_for(lattice_db)
    q1 = rates_report(ctx, ADMIN, period="2025-Q1").frame.set_index("code")
    # L00's 60 cases are spread 5 per month (month = m % 12 + 1)
    assert q1.loc["L00", "cases"] == 15
    assert q1.loc["L00", "case_rate_per_10k_annual"] == pytest.approx(
        15 / l00_population("2025-Q1") * 1e4 * 365.25 / 90)
    rng = rates_report(ctx, ADMIN, period="2025-01-01..2025-01-01").frame.set_index("code")
    assert rng.loc["L11", "cases"] == 1  # only the 00:30 case


def test_trend_month_and_hour_weekday(lattice_db):
    ctx = ctx_for(lattice_db)
    m = trend_report(ctx, ADMIN, period="2025", selection=_one(ctx, "L00")).frame
    assert m["cases"].sum() == 60
    assert m.set_index("month").loc["2025-01", "cases"] == 5
    assert m.set_index("month").loc["2025-12", "cases"] == 5
    assert m.set_index("month").loc["2025-02", "days"] == 28
    hw = trend_report(ctx, ADMIN, period="2025-01-01..2025-01-01", by="hour-weekday",
                      selection=_one(ctx, "L11")).frame
    hit = hw[hw["cases"] > 0]
    # 2025-01-01 is a Wednesday (weekday 2), 00:30 local is hour 0
    assert hit[["weekday", "hour", "cases"]].values.tolist() == [[2, 0, 1]]
    city = trend_report(ctx, ADMIN, period="2025", by="month").frame
    assert city["cases"].sum() == 208  # every 2025 record, the unassigned one included
    with pytest.raises(NotFoundError, match="no community with code 'ZZ'"):
        trend_report(ctx, ADMIN, period="2025", selection=_one(ctx, "ZZ"))
    with pytest.raises(ValueError, match="by must be"):
        trend_report(ctx, ADMIN, period="2025", by="week")


def test_hotspots_on_rates_and_grid(lattice_db):
    ctx = ctx_for(lattice_db)
    rep = hotspots_report(ctx, ADMIN, period="2025", on="rate")
    f = rep.frame.set_index("code")
    assert len(f) == 16 and rep.provenance["permutations"] == 999
    assert f.loc["L00", "hotspot_gi_z"] > f.loc["L33", "hotspot_gi_z"]
    grid = hotspots_report(ctx, ADMIN, period="2025", on="grid", cell_m=500)
    # every located 2025 case inside the lattice is in exactly one cell
    assert grid.frame["value"].sum() == 207
    assert grid.provenance["left_out"]["outside_grid"] == 1
    assert grid.provenance["metric_crs"].endswith("4548")
    with pytest.raises(ValueError, match="on must be"):
        hotspots_report(ctx, ADMIN, period="2025", on="hex")


def test_results_are_cached_by_data_version(lattice_db, tmp_path):
    from api.loading import load_file

    ctx = ctx_for(lattice_db)
    first = rates_report(ctx, ADMIN, period="2025").frame
    hits = ctx.cache.hits
    rates_report(ctx, ADMIN, period="2025")
    assert ctx.cache.hits > hits
    pd.DataFrame([{"id": "NEW1", "occurred_at": "2025-03-01 10:00", "category": "theft",
                   "lon": 116.305, "lat": 39.905}]).to_csv(tmp_path / "n.csv", index=False)
    load_file(lattice_db, tmp_path / "n.csv", "incidents")
    after = rates_report(ctx, ADMIN, period="2025").frame.set_index("code")
    assert after.loc["L00", "cases"] == first.set_index("code").loc["L00", "cases"] + 1


def test_sample_city_district_table_matches_independent_count(sample_db, sample_city):
    """The demo's district table equals a count made directly from the generated frames."""
    from geo.assign import assign_to_communities

    rep = rates_report(ServiceContext(sample_db, Settings(database_url="sqlite:///x.db")), ADMIN,
                       period="2025", compare="last-year", level="district")
    got = rep.frame.set_index("code")
    comms = sample_city.communities
    inc = sample_city.incidents
    local = inc["occurred_at"].dt.tz_convert("Asia/Shanghai")
    code = assign_to_communities(inc, comms)
    code = code.fillna(inc["community_code"])  # records with no point carry their code
    district = code.map(comms.set_index("code")["district_code"])
    for year, col in ((2025, "cases"), (2024, "compare_cases")):
        counts = district[local.dt.year == year].value_counts()
        for d in ("110191", "110192"):
            assert got.loc[d, col] == counts[d]
    pop = sample_city.population
    p24 = pop[pop["year"] == 2024].set_index("code")["population"]
    p25 = pop[pop["year"] == 2025].set_index("code")["population"]
    # mid-year counts of 2024 and 2025: over 2025, up from the 1 January value to the 2025
    # count over 181 days, then flat for 184 (see tests.api.lattice.l00_population)
    jan1 = p24 + (p25 - p24) * 184 / 365
    mean25 = (181 * (jan1 + p25) / 2 + 184 * p25) / 365
    for d in ("110191", "110192"):
        members = comms.loc[comms["district_code"] == d, "code"]
        assert got.loc[d, "population"] == pytest.approx(mean25.reindex(members).sum())
    assert got.loc["unassigned", "cases"] == int(((local.dt.year == 2025) & code.isna()).sum())
    doc = json.loads(__import__("api.output", fromlist=["to_geojson"]).to_geojson(
        rep.frame, provenance=rep.provenance))
    assert doc["type"] == "FeatureCollection"
    assert {"case_rate_per_10k_annual", "case_change_pct"} <= set(doc["features"][0]["properties"])
