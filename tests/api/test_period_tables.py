"""The period tables (api/period_tables.py): the same counts and key sums as the raw rows.

Every answer read from the tables is compared with the raw-row path on the same connection
(the raw path is what the store falls back to when the tables' time zone is not recorded), and
after every kind of write the incrementally kept tables are compared with a full recount.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from api import period_tables, store
from api.db import create_db_engine, migrate
from api.demo import load_sample
from api.loading import load_file
from api.models import meta, period_day_counts, period_month_counts
from api.services import ServiceContext
from api.services.rates import monthly_cases
from api.settings import Settings
from geo.cases import CaseCounts, CaseDefinition
from geo.period import Period
from geo.readers import RejectedRowsError
from geo.trends import monthly_series
from tests.api.lattice import STEP, X0, Y0, lattice_communities

# --- helpers ----------------------------------------------------------------------------------


def _tables(conn: sa.Connection) -> list[list[Any]]:
    out = []
    for table in (period_day_counts, period_month_counts):
        out.append(sorted(tuple(r) for r in conn.execute(sa.select(table)).all()))
    return out


def _assert_exact(engine) -> list[list[Any]]:
    """The kept tables equal a recount from every incident (rolled back); returns them."""
    with engine.connect() as conn:
        trans = conn.begin()
        kept = _tables(conn)
        period_tables.rebuild(conn, str(period_tables.stored_timezone(conn)))
        recount = _tables(conn)
        trans.rollback()
    assert kept == recount
    return kept


def _answer(conn: sa.Connection, q: dict[str, Any]) -> list[Any]:
    query = store.IncidentQuery(period=q["period"], timezone=q["timezone"],
                                categories=q["categories"], communities=q["communities"],
                                jurisdictions=q["jurisdictions"], case_definition=q["definition"])
    out: list[Any] = []
    for by in (("community_code",), (), ("category", "status")):
        frame = store.count_keyed(conn, query, by=by)
        out.append(frame.sort_values(list(by)).reset_index(drop=True) if by else frame)
    counts = store.count_cases(conn, q["period"], q["definition"] or CaseDefinition(),
                               timezone=q["timezone"], by_category=True,
                               categories=q["categories"], communities=q["communities"])
    out.append(counts)
    return out


def _both_paths(engine, queries: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """Answers from the tables, then from the raw rows (the zone's record removed, rolled back)."""
    with engine.connect() as conn:
        tables = [_answer(conn, q) for q in queries]
    with engine.connect() as conn:
        trans = conn.begin()
        conn.execute(meta.delete().where(meta.c.key == period_tables.TIMEZONE_KEY))
        raw = [_answer(conn, q) for q in queries]
        trans.rollback()
    return tables, raw


def _assert_same(tables: list[Any], raw: list[Any]) -> None:
    for got, want in zip(tables, raw, strict=True):
        for g, w in zip(got, want, strict=True):
            if isinstance(g, CaseCounts):
                pd.testing.assert_frame_equal(g.counts, w.counts)
                assert (g.no_location, g.not_counted) == (w.no_location, w.not_counted)
            else:
                pd.testing.assert_frame_equal(g, w)


def _random_queries(rng: random.Random, first: dt.date, days: int, categories: list[str],
                    statuses: list[str], codes: list[str], jurisdictions: list[str],
                    timezone: str, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        start = first + dt.timedelta(days=rng.randrange(days))
        length = rng.choice([1, 2, 7, rng.randrange(1, 60), rng.randrange(20, 500)])
        cats = tuple(rng.sample(categories, rng.randrange(len(categories) + 1)))
        comms = rng.choice([None, None, (), tuple(rng.sample(codes, max(1, len(codes) // 3)))])
        juris = rng.choice([None, None, tuple(rng.sample(jurisdictions, 1))])
        definition = rng.choice([
            None, CaseDefinition(),
            CaseDefinition(exclude_statuses=tuple(rng.sample(statuses, 1))),
            CaseDefinition(include_categories=tuple(rng.sample(categories, 2)),
                           exclude_statuses=tuple(rng.sample(statuses, 1))),
            CaseDefinition(exclude_categories=tuple(rng.sample(categories, 1)))])
        out.append({"period": Period("range", start, start + dt.timedelta(days=length)),
                    "timezone": timezone, "categories": cats, "communities": comms,
                    "jurisdictions": juris, "definition": definition})
    return out


# --- the sample city --------------------------------------------------------------------------


@pytest.mark.slow
def test_sample_city_counts_from_the_tables_equal_the_raw_rows(engine, sample_manifest):
    load_sample(engine, sample_manifest, timezone="Asia/Shanghai", echo=lambda _m: None)
    with engine.connect() as conn:
        cats = [str(r[0]) for r in conn.execute(sa.text(
            "SELECT DISTINCT category FROM incidents ORDER BY 1"))]
        statuses = [str(r[0]) for r in conn.execute(sa.text(
            "SELECT DISTINCT status FROM incidents WHERE status IS NOT NULL ORDER BY 1"))]
        comms = store.read_communities(conn)
        lo, hi = store.incident_time_range(conn)
    assert lo is not None and hi is not None
    codes = comms["code"].tolist()
    juris = sorted(set(comms["district_code"]) | set(comms["subdistrict_code"]))
    rng = random.Random(15)
    fixed = [{"period": Period("year", dt.date(y, 1, 1), dt.date(y + 1, 1, 1)),
              "timezone": "Asia/Shanghai", "categories": (), "communities": None,
              "jurisdictions": None, "definition": d}
             for y in (2024, 2025) for d in (None, CaseDefinition(exclude_statuses=(
                 statuses[0],)))]
    queries = fixed + _random_queries(rng, lo.date() - dt.timedelta(days=20),
                                      (hi - lo).days + 10, cats, statuses, codes, juris,
                                      "Asia/Shanghai", 40)
    tables, raw = _both_paths(engine, queries)
    _assert_same(tables, raw)
    assert tables[0][1]["count"].iloc[0] > 10_000  # a year of the sample city
    assert sum(int(t[0]["count"].sum()) for t in tables) > 0
    _assert_exact(engine)


def test_another_time_zone_reads_the_raw_rows(sample_db):
    period = Period("month", dt.date(2025, 3, 1), dt.date(2025, 4, 1))
    with sample_db.connect() as conn:
        assert period_tables.stored_timezone(conn) == "Asia/Shanghai"
        assert period_tables.read_groups(conn, period, "Europe/Berlin", lambda c: []) is None
        groups = period_tables.read_groups(conn, period, "Asia/Shanghai", lambda c: [])
        assert groups is not None
        query = store.IncidentQuery(period=period, timezone="Asia/Shanghai")
        assert int(groups["records"].sum()) == store.count_incidents(conn, query)


# --- time zones with changes ------------------------------------------------------------------


def _transition_incidents(timezone: str) -> pd.DataFrame:
    """Records every 20 minutes around midnights near the zone's 2024 and 2025 changes."""
    lon, lat = X0 + STEP / 2, Y0 + STEP / 2
    rows = []
    days = pd.date_range("2024-03-05", "2025-11-10", freq="D")
    changes = [d for d in days if (pd.Timestamp(d, tz=timezone) + pd.Timedelta(days=1)
                                   ).utcoffset() != pd.Timestamp(d, tz=timezone).utcoffset()]
    assert changes, timezone
    n = 0
    for day in changes:
        for k in range(-30, 100):
            when = (pd.Timestamp(day, tz=timezone).tz_convert("UTC") + pd.Timedelta(minutes=20 * k))
            n += 1
            rows.append({"id": f"T{n:05d}", "occurred_at": when.isoformat(),
                         "category": ["theft", "fraud"][n % 2], "status": "filed",
                         "lon": lon if n % 5 else None, "lat": lat if n % 5 else None,
                         "community_code": "L00"})
    return pd.DataFrame(rows)


@pytest.mark.slow
@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/Havana"])
def test_local_days_across_offset_changes_equal_the_raw_rows(engine, tmp_path: Path,
                                                             timezone):
    lattice_communities().to_file(tmp_path / "c.geojson", driver="GeoJSON")
    load_file(engine, tmp_path / "c.geojson", "communities")
    frame = _transition_incidents(timezone)
    frame.to_csv(tmp_path / "i.csv", index=False)
    load_file(engine, tmp_path / "i.csv", "incidents", timezone=timezone)
    with engine.connect() as conn:
        assert period_tables.stored_timezone(conn) == timezone
    days = sorted({pd.Timestamp(t).tz_convert(timezone).date() for t in frame["occurred_at"]})
    queries = [{"period": Period("range", d, d + dt.timedelta(days=1)), "timezone": timezone,
                "categories": (), "communities": None, "jurisdictions": None,
                "definition": None} for d in days]
    queries += [{"period": Period("month", dt.date(y, m, 1), dt.date(y + m // 12, m % 12 + 1, 1)),
                 "timezone": timezone, "categories": ("theft",), "communities": None,
                 "jurisdictions": None, "definition": None} for y in (2024, 2025)
                for m in range(1, 13)]
    tables, raw = _both_paths(engine, queries)
    _assert_same(tables, raw)
    # every record of the day before and the day of a change lands on exactly one day
    assert sum(int(t[1]["count"].iloc[0]) for t in tables[:len(days)]) == len(frame)


# --- every write keeps the tables exact -------------------------------------------------------


def _incidents(rng: np.random.Generator, n: int) -> pd.DataFrame:
    codes = [f"L{i}{j}" for i in range(4) for j in range(4)]
    start = pd.Timestamp("2024-01-01")
    minutes = rng.integers(0, 2 * 365 * 24 * 60, n)
    lon = X0 + rng.uniform(-0.005, 4 * STEP + 0.005, n)
    lat = Y0 + rng.uniform(-0.005, 4 * STEP + 0.005, n)
    unlocated = rng.random(n) < 0.1
    return pd.DataFrame({
        "id": [f"R{k:05d}" for k in range(n)],
        "occurred_at": [(start + pd.Timedelta(minutes=int(m))).strftime("%Y-%m-%d %H:%M")
                        for m in minutes],
        "category": rng.choice(["theft", "fraud", "assault", "burglary"], n),
        "status": rng.choice(["filed", "closed", "withdrawn", ""], n),
        "lon": np.where(unlocated, np.nan, lon), "lat": np.where(unlocated, np.nan, lat),
        "community_code": rng.choice(codes, n),
    })


def _lattice_queries(timezone: str = "Asia/Shanghai") -> list[dict[str, Any]]:
    codes = [f"L{i}{j}" for i in range(4) for j in range(4)]
    return _random_queries(random.Random(3), dt.date(2023, 12, 20), 760,
                           ["theft", "fraud", "assault", "burglary"],
                           ["filed", "closed", "withdrawn"], codes,
                           ["D1", "D2", "S1", "S3"], timezone, 25)


@pytest.mark.slow
def test_reloads_reassignment_and_failed_loads_keep_the_tables_exact(engine, tmp_path: Path):
    rng = np.random.default_rng(15)
    comms = lattice_communities()
    comms.to_file(tmp_path / "c.geojson", driver="GeoJSON")
    load_file(engine, tmp_path / "c.geojson", "communities")
    first = _incidents(rng, 1500)
    first.to_csv(tmp_path / "i1.csv", index=False)
    load_file(engine, tmp_path / "i1.csv", "incidents")
    initial = _assert_exact(engine)
    assert sum(r[4] for r in initial[0]) == 1500

    # re-load: times moved across months, categories, statuses and coordinates changed, new
    # ids; once through a whole-file load and once streamed in batches
    stored = 1500
    for name, batch_rows in (("i2.csv", None), ("i3.csv", 200)):
        again = _incidents(rng, 1800)
        keep = np.flatnonzero(rng.random(1500) < 0.3)
        cols = ["occurred_at", "category"]
        again.loc[keep, cols] = first.loc[keep, cols].to_numpy()
        again.to_csv(tmp_path / name, index=False)
        rep = load_file(engine, tmp_path / name, "incidents", batch_rows=batch_rows)
        assert (rep.rows_updated, rep.rows_loaded) == (stored, 1800 - stored)
        stored = 1800
        _assert_exact(engine)
    tables, raw = _both_paths(engine, _lattice_queries())
    _assert_same(tables, raw)

    # new boundaries: every community shifted by a third of a cell, one retired
    shifted = comms.copy()
    shifted["geometry"] = shifted.translate(STEP / 3, STEP / 5)
    shifted = shifted[shifted["code"] != "L21"]
    shifted.to_file(tmp_path / "c2.geojson", driver="GeoJSON")
    before = _assert_exact(engine)
    rep = load_file(engine, tmp_path / "c2.geojson", "communities", replace=True)
    assert rep.incidents_reassigned > 500
    after = _assert_exact(engine)
    assert after != before
    assert not any(r[1] == "L21" for r in after[0] if r[1])  # retired: its records moved
    tables, raw = _both_paths(engine, _lattice_queries())
    _assert_same(tables, raw)

    # a strict load with a bad row stores nothing, the tables included
    bad = _incidents(rng, 50)
    bad.loc[7, "occurred_at"] = "not a time"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(RejectedRowsError):
        load_file(engine, tmp_path / "bad.csv", "incidents", strict=True)
    assert _assert_exact(engine) == after


@pytest.mark.slow
def test_a_load_in_another_zone_recounts_the_tables_in_it(engine, tmp_path: Path):
    lattice_communities().to_file(tmp_path / "c.geojson", driver="GeoJSON")
    load_file(engine, tmp_path / "c.geojson", "communities")
    rng = np.random.default_rng(2)
    _incidents(rng, 400).to_csv(tmp_path / "a.csv", index=False)
    load_file(engine, tmp_path / "a.csv", "incidents")
    _incidents(rng, 600).to_csv(tmp_path / "b.csv", index=False)
    load_file(engine, tmp_path / "b.csv", "incidents", timezone="America/New_York")
    with engine.connect() as conn:
        assert period_tables.stored_timezone(conn) == "America/New_York"
    _assert_exact(engine)
    tables, raw = _both_paths(engine, _lattice_queries("America/New_York"))
    _assert_same(tables, raw)


# --- the migration ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_migration_counts_existing_incidents_and_goes_down(db_url, tmp_path: Path):
    engine = create_db_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", "api:migrations")
    cfg.attributes["engine"] = engine
    try:
        migrate(engine)
        lattice_communities().to_file(tmp_path / "c.geojson", driver="GeoJSON")
        load_file(engine, tmp_path / "c.geojson", "communities")
        _incidents(np.random.default_rng(4), 300).to_csv(tmp_path / "i.csv", index=False)
        load_file(engine, tmp_path / "i.csv", "incidents")
        with engine.connect() as conn:
            loaded = _tables(conn)
        command.downgrade(cfg, "0006")
        names = set(sa.inspect(engine).get_table_names())
        assert "period_day_counts" not in names and "period_month_counts" not in names
        with engine.connect() as conn:
            assert period_tables.stored_timezone(conn) is None
        migrate(engine)
        with engine.connect() as conn:
            assert period_tables.stored_timezone(conn) == "Asia/Shanghai"
            assert _tables(conn) == loaded
            assert sum(r[4] for r in loaded[0]) == 300
    finally:
        engine.dispose()


# --- trend --------------------------------------------------------------------------------------


def test_monthly_trend_from_counts_equals_the_series_of_the_records(sample_db):
    settings = Settings(database_url="sqlite:///unused.db",
                        cases={"exclude_statuses": ["unfounded", "withdrawn"]})
    ctx = ServiceContext(sample_db, settings)
    rng = random.Random(7)
    periods = [Period("year", dt.date(2025, 1, 1), dt.date(2026, 1, 1))]
    for _ in range(6):
        start = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))
        periods.append(Period("range", start, start + dt.timedelta(days=rng.randrange(1, 200))))
    with sample_db.connect() as conn:
        codes = tuple(store.read_communities(conn)["code"][:5])
    for p in periods:
        for cats, scope in (((), None), (("theft",), codes)):
            query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                        communities=scope, case_definition=ctx.case_definition)
            with sample_db.connect() as conn:
                records = store.read_case_records(conn, query)
            records["community_code"] = pd.array(["city"] * len(records), dtype="string")
            want = monthly_series(records, p, timezone=ctx.timezone, community_codes=["city"])
            got = monthly_cases(ctx, p, cats, scope, "city")
            pd.testing.assert_frame_equal(got, want.rename(columns={"community_code": "code"}))
    assert got["cases"].sum() > 0
