"""``pingan export incidents --parquet`` and ``pingan batch`` on the sample city, on a real cluster.

The archive is written by the CLI from the sample city's SpatiaLite database; a local
``dask.distributed`` cluster of two single-threaded worker processes counts it (nothing is
mocked), and every number must equal the single-machine path on the same database: cases per
community × month × category, cases per grid cell × month, the rates of 2025 and both Gi*
analyses (same seed, same permutations).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import api.batch
from api import store
from api.archive import MANIFEST_NAME, export_incidents
from api.batch import batch_metrics, open_client
from api.batch_store import read_batch
from api.cli import main
from api.db import data_version
from api.errors import ForbiddenError
from api.loading import load_file
from api.release import Visibility
from api.services import ServiceContext
from api.services.aggregates import grid_cell_counts
from api.services.rates import hotspot_result, rates_result
from api.settings import Settings
from geo.batch import monthly_cases, period_case_counts
from geo.errors import PeriodError
from geo.grid import Grid
from geo.period import parse_period
from tests.api.test_loading import write_incidents

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ctx(sample_db) -> ServiceContext:
    return ServiceContext(sample_db, Settings(database_url=str(sample_db.url)))


@pytest.fixture(scope="module")
def archive(sample_db, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("archive") / "incidents"
    # Small batches: the export streams, and months straddle batches.
    code = main(["-d", str(sample_db.url), "export", "incidents", "--parquet", str(folder),
                 "--batch-rows", "2500"])
    assert code == 0
    return folder


@pytest.fixture(scope="module")
def client():
    with open_client(workers=2, nthreads=1, memory_limit=None) as c:
        yield c


@pytest.fixture(scope="module")
def result(ctx, archive, client):
    return batch_metrics(ctx, Visibility.admin(ctx.settings), client, archive, period="2025")


def _months(ctx: ServiceContext) -> list:
    with ctx.engine.connect() as conn:
        first, last = store.incident_time_range(conn)
    assert first is not None and last is not None
    months = pd.period_range(first.date().replace(day=1) - dt.timedelta(days=1),
                             last.date() + dt.timedelta(days=1), freq="M")
    return [parse_period(str(m)) for m in months]


def test_archive_is_partitioned_geoparquet_with_every_incident(ctx, archive):
    manifest = json.loads((archive / MANIFEST_NAME).read_text(encoding="utf-8"))
    with ctx.engine.connect() as conn:
        total = store.count_incidents(conn, store.IncidentQuery())
    assert manifest["rows"] == total > 2500
    files = sorted(archive.rglob("*.parquet"))
    assert len(files) == manifest["files"]
    assert {f.parent.parent.name for f in files} == {"year=2024", "year=2025"}
    assert {f.parent.name for f in files} >= {f"month={m:02d}" for m in range(1, 13)}
    meta = json.loads(pq.read_schema(files[0]).metadata[b"geo"])
    assert meta["columns"]["geometry"]["crs"]["id"] == {"authority": "EPSG", "code": 4326}
    frame = gpd.read_parquet(archive)
    assert len(frame) == total and frame.crs.to_epsg() == 4326
    assert "rkey" not in frame.columns
    # a file's rows lie in its local month
    part = gpd.read_parquet(files[-1])
    local = part["occurred_at"].dt.tz_convert("Asia/Shanghai")
    assert {f"year={y}" for y in local.dt.year} == {files[-1].parent.parent.name}
    assert {f"month={m:02d}" for m in local.dt.month} == {files[-1].parent.name}


def test_archive_refuses_a_folder_that_holds_one(sample_db, archive, capsys):
    code = main(["-d", str(sample_db.url), "export", "incidents", "--parquet", str(archive)])
    assert code == 1
    assert "--parquet" in capsys.readouterr().err


def test_export_goes_through_the_trust_layer(ctx, tmp_path):
    planner = Visibility("planner", None, protected=True, raw=False, unassigned=False)
    with pytest.raises(ForbiddenError, match="raw incidents"):
        export_incidents(ctx, planner, tmp_path / "planner")
    assert not (tmp_path / "planner").exists()
    comms = ctx.communities()
    district = str(comms["district_code"].iloc[0])
    world = frozenset(comms.loc[comms["district_code"] == district, "code"])
    liaison = Visibility("liaison", world, (district,), unassigned=False)
    rep = export_incidents(ctx, liaison, tmp_path / "liaison", batch_rows=1000)
    frame = gpd.read_parquet(tmp_path / "liaison")
    assert len(frame) == rep.rows > 0
    assert set(frame["community_code"]) <= world


def test_batch_is_admin_only(ctx, archive, client):
    comms = ctx.communities()
    liaison = Visibility("liaison", frozenset(comms["code"][:3]), ("x",), unassigned=False)
    with pytest.raises(ForbiddenError, match="admin only"):
        batch_metrics(ctx, liaison, client, archive, period="2025")
    with pytest.raises(PeriodError, match="whole months"):
        batch_metrics(ctx, Visibility.admin(ctx.settings), client, archive,
                      period="2025-01-01..2025-01-15")


def test_counts_per_community_month_category_equal_the_database(ctx, result):
    definition = ctx.case_definition
    expected = []
    with ctx.engine.connect() as conn:
        for month in _months(ctx):
            counts = store.count_cases(conn, month, definition, timezone=ctx.timezone,
                                       by_category=True).counts
            expected.append(counts.assign(year=month.start.year, month=month.start.month))
    want = (pd.concat(expected, ignore_index=True)
            .sort_values(["year", "month", "community_code", "category"], na_position="last")
            .reset_index(drop=True))
    got, _ = monthly_cases(result.counts, definition)
    got = got.sort_values(["year", "month", "community_code", "category"],
                          na_position="last").reset_index(drop=True)
    assert int(got["cases"].sum()) == int(want["cases"].sum()) > 1000
    assert got["community_code"].isna().any()  # the unassigned cases are kept
    pd.testing.assert_frame_equal(got[["year", "month", "community_code", "category", "cases"]],
                                  want[["year", "month", "community_code", "category", "cases"]],
                                  check_dtype=False)


def test_grid_counts_per_month_equal_the_database(ctx, result):
    vis = Visibility.admin(ctx.settings)
    grid = Grid(ctx.settings.geo.grid_cell_m, ctx.metric_crs())
    _, cells = monthly_cases(result.counts, ctx.case_definition)
    for month in _months(ctx):
        want, _ = grid_cell_counts(ctx, vis, grid, period=month, categories=(),
                                   definition=ctx.case_definition, scope=None)
        got = cells[(cells["year"] == month.start.year) & (cells["month"] == month.start.month)]
        assert np.array_equal(got[["ix", "iy", "cases"]].to_numpy(),
                              want[["ix", "iy", "count"]].to_numpy()), month.label


def test_rates_and_hotspots_equal_the_single_machine_path(ctx, result):
    vis = Visibility.admin(ctx.settings)
    rates = rates_result(ctx, vis, "2025")
    pd.testing.assert_frame_equal(result.rates.frame, rates.frame)
    assert result.rates.unassigned == rates.unassigned > 0
    assert (result.rates.no_location, result.rates.not_counted) == (rates.no_location,
                                                                    rates.not_counted)
    hot = hotspot_result(ctx, vis, period="2025", on="rate")
    pd.testing.assert_frame_equal(result.hotspots.frame, hot.frame)
    assert (hot.frame["hotspot_class"].str.startswith("hot")).any()
    grid = hotspot_result(ctx, vis, period="2025", on="grid")
    pd.testing.assert_frame_equal(pd.DataFrame(result.grid_hotspots.frame),
                                  pd.DataFrame(grid.frame))
    assert result.grid_hotspots.notes == grid.notes
    assert result.grid_hotspots.coarse_location == grid.coarse_location > 0


def test_cli_batch_on_a_running_scheduler_writes_the_same_numbers(ctx, sample_db, archive,
                                                                  client, tmp_path, capsys):
    out = tmp_path / "out"
    address = client.scheduler.address
    code = main(["-d", str(sample_db.url), "batch", str(archive), "--period", "2025-Q3",
                 "--scheduler", address, "--out", str(out), "--format", "csv"])
    assert code == 0, capsys.readouterr().err
    assert "on 2 workers" in capsys.readouterr().out
    vis = Visibility.admin(ctx.settings)
    want = rates_result(ctx, vis, "2025-Q3").frame
    got = pd.read_csv(out / "rates-2025-Q3.csv", encoding="utf-8-sig",
                      dtype={"code": str}).set_index("code")
    assert got["cases"].to_dict() == want["cases"].to_dict()
    np.testing.assert_allclose(got["case_rate_eb_per_10k_annual"].to_numpy(dtype=float),
                               want["case_rate_eb_per_10k_annual"].to_numpy(dtype=float),
                               rtol=1e-12)
    hot = hotspot_result(ctx, vis, period="2025-Q3", on="grid")
    grid = pd.read_csv(out / "hotspots-grid-2025-Q3.csv", encoding="utf-8-sig")
    assert grid.set_index("cell_id")["hotspot_class"].to_dict() == \
        hot.frame["hotspot_class"].to_dict()
    assert (out / "rates-2025-Q3.csv.provenance.json").exists()


def test_cli_batch_to_db_stores_the_counts_and_the_rates(ctx, sample_db, archive, client,
                                                        result, capsys):
    code = main(["-d", str(sample_db.url), "batch", str(archive), "--period", "2025",
                 "--scheduler", client.scheduler.address, "--to-db"])
    assert code == 0, capsys.readouterr().err
    found = re.search(r"wrote batch run (\d+) to the database", capsys.readouterr().out)
    assert found is not None
    stored = read_batch(ctx.engine, int(found.group(1)))
    run = stored.run
    assert (run["period"], run["records"], run["partitions"], run["workers"]) == (
        "2025", result.counts.records, result.partitions, 2)
    assert run["data_version"] == ctx.data_version() and run["assigned"]
    assert (run["seed"], run["permutations"]) == (ctx.settings.geo.seed,
                                                  ctx.settings.geo.permutations)
    for name in ("months", "cells"):
        want = getattr(result.counts, name)
        got = getattr(stored.counts, name)
        keys = [c for c in want.columns if c != "count"]
        want = want.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert stored.counts.months["community_code"].isna().any()  # unassigned records kept
    # The period's cases derived from the stored counts are the run's.
    again = period_case_counts(stored.counts, parse_period("2025"), ctx.case_definition,
                               timezone=ctx.timezone)
    pd.testing.assert_frame_equal(again.counts, result.case_counts.counts)
    rates = result.rates.frame
    assert stored.rates["cases"].to_dict() == rates["cases"].to_dict()
    np.testing.assert_array_equal(
        stored.rates["case_rate_eb_per_10k_annual"].to_numpy(dtype=float),
        rates["case_rate_eb_per_10k_annual"].to_numpy(dtype=float))
    assert stored.rates["hotspot_class"].to_dict() == \
        result.hotspots.frame["hotspot_class"].reindex(rates.index).to_dict()


def test_cli_batch_records_the_data_version_it_started_from(fresh, client, tmp_path,
                                                            monkeypatch, capsys):
    """A load that lands while the batch runs does not relabel the batch's results."""
    url = fresh.settings.database_url
    archive = tmp_path / "archive"
    assert main(["-d", url, "export", "incidents", "--parquet", str(archive)]) == 0
    with fresh.engine.connect() as conn:
        started = data_version(conn)
    real = api.batch.batch_metrics

    def run_then_load(*args, **kwargs):
        res = real(*args, **kwargs)
        # the last moment of the run: a real load into the same database
        load_file(fresh.engine, write_incidents(tmp_path / "late.csv", 3), "incidents")
        return res

    monkeypatch.setattr(api.batch, "batch_metrics", run_then_load)
    out = tmp_path / "out"
    code = main(["-d", url, "batch", str(archive), "--period", "2025", "--scheduler",
                 client.scheduler.address, "--to-db", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    found = re.search(r"wrote batch run (\d+) to the database", capsys.readouterr().out)
    assert found is not None
    with fresh.engine.connect() as conn:
        assert data_version(conn) == started + 1  # the load landed during the run
    assert read_batch(fresh.engine, int(found.group(1))).run["data_version"] == started
    prov = json.loads((out / "_provenance.json").read_text(encoding="utf-8"))
    assert prov["data_version"] == started
