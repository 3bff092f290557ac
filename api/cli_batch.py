"""``pingan export incidents --parquet DIR`` and ``pingan batch``: history beyond one machine.

The export writes the archive (:mod:`api.archive`); the batch counts it on a
``dask.distributed`` cluster and computes a period's rates and hot spots (:mod:`api.batch`).
Both run as the command line runs everything: with the administrator's visibility over the
local database (:meth:`api.release.Visibility.admin`); the export is audited as a raw read.
"""

from __future__ import annotations

import getpass
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["export_app", "register"]

export_app = typer.Typer(name="export", help="Export stored layers (导出).", no_args_is_help=True,
                         add_completion=False, rich_markup_mode=None)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@export_app.command("incidents")
def export_incidents_cmd(
    ctx: typer.Context,
    parquet: Annotated[Path, typer.Option(
        "--parquet", help="Folder of the archive: DIR/year=YYYY/month=MM/*.parquet "
                          "(GeoParquet, EPSG:4326; a new or empty folder).")],
    period: Annotated[str | None, typer.Option(
        help="Only this period (default: every incident).")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only this category (repeat for several).")] = None,
    batch_rows: Annotated[int, typer.Option(
        "--batch-rows", help="Incidents read and written at a time (bounds memory).")
    ] = 100_000,
) -> None:
    """Write raw incidents as a partitioned GeoParquet archive (原始警情归档), audited."""
    from tqdm import tqdm

    from api import audit
    from api.archive import export_incidents
    from api.cli_metrics import context_and_admin

    sc, vis = context_and_admin(ctx)
    per = sc.period(period) if period else None
    with tqdm(unit=" rows", disable=None, desc="export") as bar:
        rep = export_incidents(sc, vis, parquet, period=per, categories=category or [],
                               batch_rows=batch_rows, progress=bar.update)
    audit.record(sc.engine, "read_incidents", endpoint="cli: pingan export incidents",
                 params={"parquet": str(parquet), "period": period,
                         "category": category or []},
                 rows=rep.rows, status=0, key_name=_operator())
    months = f"{rep.months[0]}..{rep.months[-1]}" if rep.months else "none"
    typer.echo(f"wrote {rep.rows:,} incidents in {rep.files:,} files to {parquet} "
               f"(months {months})")


class OutFormat(StrEnum):
    """File formats of batch results."""

    parquet = "parquet"
    csv = "csv"


def batch_cmd(
    ctx: typer.Context,
    archive: Annotated[Path, typer.Argument(help="The archive folder (pingan export "
                                                 "incidents --parquet).")],
    period: Annotated[str, typer.Option(
        help="Period of the rates and hot spots: whole months (2025, 2025-Q3, 2025-07).")],
    scheduler: Annotated[str | None, typer.Option(
        help="A running dask scheduler, tcp://HOST:8786 (default: a local cluster).")] = None,
    workers: Annotated[int, typer.Option(help="Local cluster: worker processes.")] = 2,
    nthreads: Annotated[int, typer.Option(help="Local cluster: threads per worker.")] = 1,
    memory_limit: Annotated[str, typer.Option(
        "--memory-limit", help="Local cluster: memory per worker (dask spills beyond it).")
    ] = "4GiB",
    cell_m: Annotated[float | None, typer.Option(help="Grid cell size in metres (250).")
    ] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Count only this category (repeat for several).")] = None,
    keep_assignment: Annotated[bool, typer.Option(
        "--keep-assignment", help="Use the archive's community_code instead of assigning "
                                  "the points to the current communities.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder to write the counts, rates and hot spots to.")] = None,
    fmt: Annotated[OutFormat, typer.Option("--format", "-f", help="Files: GeoParquet or "
                                                                 "CSV.")] = OutFormat.parquet,
    to_db: Annotated[bool, typer.Option(
        "--to-db", help="Also write the month and cell counts and the period's community "
                        "results to the database (tables batch_runs, batch_month_counts, "
                        "batch_cell_counts, batch_rates).")] = False,
) -> None:
    """Count an archive on a Dask cluster; rates and Gi* hot spots of a period (批量计算)."""
    from api.archive import read_manifest
    from api.batch import batch_metrics, open_client
    from api.cli_metrics import context_and_admin

    sc, vis = context_and_admin(ctx)
    manifest = read_manifest(archive)
    zone = manifest.get("timezone")
    if zone is not None and zone != sc.timezone:
        raise typer.BadParameter(f"the archive's months are local to {zone}; run with "
                                 f"--timezone {zone}", param_hint="--timezone")
    # The version the run starts from: a load during the long run must not relabel its results.
    version = sc.data_version()
    with open_client(scheduler, workers=workers, nthreads=nthreads,
                     memory_limit=memory_limit) as client:
        res = batch_metrics(sc, vis, client, archive, period=period, cell_m=cell_m,
                            categories=category or [], assign=not keep_assignment,
                            progress=True)
    classes = res.hotspots.frame["hotspot_class"].value_counts()
    grid_classes = res.grid_hotspots.frame["hotspot_class"].value_counts()
    typer.echo(f"\n{res.counts.records:,} incidents in {res.partitions:,} partitions counted "
               f"on {res.workers} workers in {res.seconds:.1f} s")
    cases = int(res.case_counts.counts["cases"].sum())
    typer.echo(f"{res.case_counts.period.label}: {cases:,} cases; "
               f"unassigned {res.case_counts.unassigned():,}")
    typer.echo("hot spots (rate): " + ", ".join(f"{k} {v}" for k, v in classes.items()))
    typer.echo("hot spots (grid): " + ", ".join(f"{k} {v}" for k, v in grid_classes.items()))
    if out is not None:
        written = write_results(res, sc, out, fmt, data_version=version)
        typer.echo(f"wrote {len(written)} files to {out}")
    if to_db:
        from api.batch_store import store_batch

        run_id = store_batch(sc.engine, res, archive=str(archive), categories=category or [],
                             assigned=not keep_assignment, timezone=sc.timezone,
                             data_version=version, run_by=_operator())
        typer.echo(f"wrote batch run {run_id} to the database ({len(res.counts.months):,} "
                   f"month counts, {len(res.counts.cells):,} cell counts, "
                   f"{len(res.rates.frame):,} communities)")


def write_results(res: Any, sc: Any, out: Path, fmt: OutFormat, *,
                  data_version: int) -> list[Path]:
    """Write a batch's tables to a folder as GeoParquet or CSV (with provenance sidecars).

    ``data_version`` is the one the run started from.
    """
    import geopandas as gpd

    from api.provenance import write_csv_file
    from api.services import generated_at, period_provenance
    from geo.batch import monthly_cases

    out.mkdir(parents=True, exist_ok=True)
    p = res.case_counts.period
    by_month, cells = monthly_cases(res.counts, sc.case_definition)
    grid_frame = res.grid_hotspots.frame.reset_index()
    tables: dict[str, Any] = {
        "cases-by-month": by_month,
        "cells-by-month": cells,
        f"rates-{p.label}": res.rates.frame.rename_axis("code").reset_index(),
        f"hotspots-{p.label}": gpd.GeoDataFrame(
            res.hotspots.frame.reset_index().merge(
                sc.communities()[["code", "name", "geometry"]], on="code", how="left"),
            geometry="geometry", crs="EPSG:4326"),
        f"hotspots-grid-{p.label}": grid_frame.to_crs("EPSG:4326"),
    }
    prov = {**period_provenance(p, sc.timezone), "data_version": data_version,
            "cell_m": res.grid_hotspots.cell_m, "seed": res.hotspots.seed,
            "permutations": res.hotspots.permutations, "partitions": res.partitions,
            "case_definition": sc.case_definition.as_sql_lists(),
            "generated_at": generated_at()}
    written: list[Path] = []
    for name, frame in tables.items():
        if fmt is OutFormat.csv:
            path = out / f"{name}.csv"
            write_csv_file(path, frame.drop(columns="geometry", errors="ignore"), prov)
        else:
            path = out / f"{name}.parquet"
            frame.to_parquet(path, index=False)
        written.append(path)
    if fmt is OutFormat.parquet:
        (out / "_provenance.json").write_text(json.dumps(prov, ensure_ascii=False, indent=1),
                                              encoding="utf-8")
    return written


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``batch`` to the ``pingan`` command line."""
    app.add_typer(export_app, name="export")
    app.command("batch")(batch_cmd)
