"""The ``pingan`` command line.

Exit codes: 0 success; 1 data or user error (the message names the file, row and field, or the
parameter); 2 usage error (unknown option, missing argument). Set ``PINGAN_DEBUG=1`` to see a
traceback instead of the one-line message.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer

from api.settings import Settings, load_settings
from geo.layers import LayerName

__all__ = ["app", "main"]

app = typer.Typer(
    name="pingan",
    help="pingan (平安): safe-community monitoring on a map — load boundaries, incidents, "
         "protection inventories and facilities; compute case rates, coverage and the "
         "safe-community standard; serve them as an HTTP API and offline maps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Lang(str, Enum):
    """Languages of printed tables."""

    zh = "zh"
    en = "en"


class UserError(Exception):
    """A mistake the user can fix; printed as one line, exit code 1."""


@dataclass
class Runtime:
    """Settings, the table language and a lazily created engine, shared by one invocation.

    ``lang`` is ``pingan --lang``, else the locale's (:func:`api.cli_text.default_language`);
    ``lang_given`` says the option was given (map pages then use it over ``maps.language``).
    """

    settings: Settings
    lang: str = "zh"
    lang_given: bool = False
    _engine: Any = field(default=None, repr=False)

    @property
    def engine(self) -> Any:
        """The database engine (created on first use)."""
        if self._engine is None:
            from api.db import create_db_engine

            self._engine = create_db_engine(self.settings.database_url)
        return self._engine

    def ready_engine(self) -> Any:
        """The engine, with the schema migrated to the latest version."""
        from api.db import migrate, schema_is_current

        eng = self.engine
        if not schema_is_current(eng):
            migrate(eng)
        return eng


def _rt(ctx: typer.Context) -> Runtime:
    obj = ctx.find_root().obj
    assert isinstance(obj, Runtime)
    return obj


def _err(message: str) -> None:
    typer.echo(message, err=True)


@app.callback()
def _options(
    ctx: typer.Context,
    database: Annotated[str | None, typer.Option(
        "--database", "-d", help="Database: a SpatiaLite file path or URL, or "
        "postgresql://user@host/db (default: PINGAN_DATABASE_URL or ./pingan.db).")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="Time zone of naive timestamps and of period bounds (default Asia/Shanghai).")
    ] = None,
    lang: Annotated[Lang | None, typer.Option(
        "--lang", help="Language of table titles and headers: zh or en (default: the "
        "locale's — zh unless LC_ALL/LC_MESSAGES/LANG names another language).")] = None,
) -> None:
    """Global options."""
    from api.cli_text import default_language, use_language

    language = "en" if lang is Lang.en else "zh" if lang is Lang.zh else default_language()
    use_language(language)
    ctx.obj = Runtime(load_settings(database_url=database, timezone=timezone), lang=language,
                      lang_given=lang is not None)


# --- init / load / status ---------------------------------------------------------------------


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("init")
def init_cmd(ctx: typer.Context) -> None:
    """Create the database schema (or bring it up to date)."""
    from api.db import migrate

    rt = _rt(ctx)
    migrate(rt.engine)
    typer.echo(f"database ready: {_mask_url(rt.settings.database_url)}")


@app.command("load")
def load_cmd(
    ctx: typer.Context,
    layer: Annotated[LayerName, typer.Argument(help="Which layer the file holds.")],
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, zipped Shapefile, "
                                               "GeoParquet or CSV file (roads: a line file, "
                                               "or an OSM .osm/.pbf extract).")],
    crs: Annotated[str | None, typer.Option(
        help="CRS of the coordinates: EPSG:4548, ESRI:102649, a PROJ string, gcj02 or bd09. "
             "Default: what the file declares, else EPSG:4326.")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="Text encoding, e.g. gbk for a Chinese shapefile without .cpg.")] = None,
    field_map: Annotated[list[str] | None, typer.Option(
        "--field", help="Map a field: target=source, e.g. population=常住人口, lon=X坐标. "
                        "Repeat for several.")] = None,
    gpkg_layer: Annotated[str | None, typer.Option(
        "--layer", help="Layer inside a GeoPackage or multi-layer file.")] = None,
    strict: Annotated[bool, typer.Option(help="Load nothing if any row is rejected.")] = False,
    replace: Annotated[bool, typer.Option(
        help="The file is the whole layer: rows missing from it are marked removed/closed "
             "(communities: retired) as of today, never deleted.")] = False,
    report: Annotated[Path | None, typer.Option(
        help="Where to write the rejection report CSV (default: ./pingan-rejected-LAYER.csv).")
    ] = None,
    id_from_content: Annotated[bool, typer.Option(
        "--id-from-content", help="Incidents without an id column: draw each id from the "
        "row's raw time, coordinates, category and address (and its occurrence among "
        "identical rows), so re-loading the same export updates instead of duplicating.")
    ] = False,
    snap_m: Annotated[float | None, typer.Option(
        "--snap-m", help="Incidents: a point in no community goes to the only community "
        "within this many metres (flagged assigned_by=snap; with two or more within it, it "
        "stays unassigned). Kept with the load and applied again on re-assignment. "
        "Default 0: none. Roads: line ends this close merge and dangling ends this close "
        "join the nearby line (default 1 m).")] = None,
    reference_date: Annotated[str | None, typer.Option(
        "--reference-date", help="Population: the day residents were counted on, MM-DD for "
        "every year of the file (七普: 11-01; 年末: 12-31) or YYYY-MM-DD. Default 07-01. A "
        "period's population is interpolated linearly between known dates, flat beyond.")
    ] = None,
    covers: Annotated[str | None, typer.Option(
        "--covers", help="Incidents: the days the file covers, FIRST..LAST (e.g. "
        "2024-01-01..2024-12-31) or a period (2024). Default: the first..last day in the "
        "file. Recorded per district present in it; a comparison period not wholly covered "
        "is unknown (待补数据), never a rise.")] = None,
) -> None:
    """Load one file into the database as one transaction."""
    from api.loading import load_file
    from geo.readers import RejectedRowsError, parse_field_mappings

    rt = _rt(ctx)
    if layer is LayerName.roads:
        from api.cli_roads import load_roads_cmd

        load_roads_cmd(rt, file, crs=crs, encoding=encoding, field_map=field_map or [],
                       gpkg_layer=gpkg_layer, snap_m=snap_m, replace=replace,
                       echo=typer.echo, err=_err)
        return
    fields = parse_field_mappings(field_map or [])
    engine = rt.ready_engine()
    try:
        rep = load_file(engine, file, layer.value, crs=crs, encoding=encoding, fields=fields,
                        gpkg_layer=gpkg_layer, strict=strict, replace=replace,
                        timezone=rt.settings.timezone, progress=True,
                        loaded_by=os.environ.get("USER"), id_from_content=id_from_content,
                        snap_m=snap_m or 0.0, reference_date=reference_date,
                        covers=covers)
    except RejectedRowsError as exc:
        path = _write_rejections(exc.result.rejections_frame(), report, layer.value)
        _print_rejections(exc.result.rejections, exc.result.rows_rejected, path)
        raise UserError(str(exc)) from None
    typer.echo(f"{rep.layer}: {rep.rows_read:,} read, {rep.rows_loaded:,} loaded, "
               f"{rep.rows_updated:,} updated, {rep.rows_rejected:,} rejected"
               + (f", {rep.rows_removed:,} marked removed" if replace else "")
               + f" (load {rep.load_id}, data version {rep.data_version}, CRS "
               f"{rep.source_crs or '—'})")
    if layer is LayerName.incidents:
        typer.echo(f"  {rep.incidents_unassigned:,} of the loaded incidents are in no community"
                   + _snap_note(rep))
    if layer is LayerName.communities:
        typer.echo(f"  incidents re-assigned: {rep.incidents_reassigned:,}; "
                   f"in no community: {rep.incidents_unassigned:,}" + _snap_note(rep))
    for w in rep.warnings:
        _err(f"warning: {w}")
    if rep.rejections:
        import pandas as pd

        frame = pd.DataFrame([r.__dict__ for r in rep.rejections])
        path = _write_rejections(frame.rename(columns={"record_id": "id"})[
            ["row", "id", "field", "reason", "value"]], report, layer.value)
        _print_rejections(rep.rejections, rep.rows_rejected, path)


def _snap_note(rep: Any) -> str:
    """What snapping did: "; M snapped within X m; K within X m of two or more …"."""
    if not (rep.snap_m or rep.incidents_snapped or rep.incidents_snap_ambiguous):
        return ""
    within = f"within {rep.snap_m:g} m" if rep.snap_m else "within their load's --snap-m"
    return (f"; {rep.incidents_snapped:,} snapped {within}; "
            f"{rep.incidents_snap_ambiguous:,} {within} of two or more communities, "
            f"left unassigned")


def _write_rejections(frame: Any, report: Path | None, layer: str) -> Path:
    from api.output import to_csv_bytes

    path = report or Path(f"pingan-rejected-{layer}.csv")
    path.write_bytes(to_csv_bytes(frame))
    return path.resolve()


def _print_rejections(rejections: Sequence[Any], n_rows: int, path: Path, first: int = 10
                      ) -> None:
    _err(f"{n_rows:,} rows rejected; first {min(first, len(rejections))} problems:")
    for r in rejections[:first]:
        rid = f" (id {r.record_id})" if r.record_id else ""
        val = f" [value: {r.value}]" if r.value is not None else ""
        _err(f"  row {r.row}{rid}, {r.field}: {r.reason}{val}")
    _err(f"full report: {path}")


@app.command("status")
def status_cmd(ctx: typer.Context) -> None:
    """Rows per layer, unassigned incidents and the most recent loads."""
    from api.status import database_status

    rt = _rt(ctx)
    st = database_status(rt.ready_engine())
    typer.echo(f"database: {_mask_url(rt.settings.database_url)}  "
               f"(data version {st['data_version']})")
    from api.cli_text import current_language, headers_for
    from api.output import to_table

    typer.echo(to_table(st["layers"], headers=headers_for(
        ["layer", "current", "retired"], {}, current_language())))
    inc = st["incidents"]
    typer.echo(f"incidents: {inc['total']:,} total; {inc['assigned']:,} in a community; "
               f"{inc['unassigned']:,} unassigned (of which {inc['no_location']:,} have no "
               f"location and no known community code)")
    if len(st["loads"]):
        typer.echo("\nrecent loads:")
        typer.echo(to_table(st["loads"]))


# --- sample / demo ----------------------------------------------------------------------------


@app.command("sample")
def sample_cmd(
    out: Annotated[Path, typer.Option(help="Directory to write the sample city's files to.")],
    seed: Annotated[int, typer.Option(help="Random seed (the default gives the shipped city).")
    ] = 20250101,
    communities: Annotated[int, typer.Option(help="Number of communities.")] = 130,
) -> None:
    """Write the synthetic sample city (all layers and a manifest) to a directory."""
    from api.sample_files import write_sample
    from geo.sample import generate_city

    typer.echo(f"generating the sample city (seed {seed}, {communities} communities)…")
    manifest = write_sample(generate_city(seed=seed, n_communities=communities), out)
    typer.echo(f"wrote {manifest.parent} (manifest {manifest.name})")


@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Do everything but serve.")
    ] = False,
    directory: Annotated[Path, typer.Option(
        "--dir", help="Where to write the sample files and maps.")] = Path("pingan-demo"),
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Load the sample city, print its numbers, write its maps, create demo keys, and serve.

    Creates an admin, a liaison (first district), a planner and a client key, revoking the
    keys of an earlier demo run, and prints them once with the URLs.
    """
    from api.demo import run_demo

    run_demo(_rt(ctx), directory=directory, serve=not no_serve, echo=typer.echo, host=host,
             port=port)


def _register_commands() -> None:
    from api import (
        cli_admin,
        cli_batch,
        cli_briefing,
        cli_density,
        cli_metrics,
        cli_roads,
        cli_spacetime,
    )

    cli_metrics.register(app)
    cli_density.register(app)
    cli_spacetime.register(app)
    cli_roads.register(app)
    cli_admin.register(app)
    cli_batch.register(app)
    cli_briefing.register(app)


_register_commands()


# --- entry point ------------------------------------------------------------------------------


def _user_errors() -> tuple[type[BaseException], ...]:
    from api.db import DatabaseError
    from geo.errors import PinganError

    # ProfileError and ProfileConflictError are ValueErrors; the domain errors of geo.errors
    # (PinganError) are the user's; ValueError/KeyError stay here because a command line has
    # no error id to point at (PINGAN_DEBUG=1 shows the traceback).
    return (UserError, PinganError, DatabaseError, ValueError, KeyError, FileNotFoundError,
            pydantic.ValidationError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 data or user error, 2 usage error.
    """
    debug = os.environ.get("PINGAN_DEBUG") == "1"
    try:
        # Standalone mode: typer reports usage errors itself (exit code 2).
        app(args=list(argv) if argv is not None else None, prog_name="pingan",
            standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except _user_errors() as exc:
        if debug:
            raise
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        if isinstance(exc, pydantic.ValidationError):
            msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _err(f"error: {msg}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
