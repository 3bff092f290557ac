"""``pingan load roads`` (a road network and its topology report) and ``pingan response``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["load_roads_cmd", "print_roads_report", "register", "response_cmd"]

#: Isolated pieces listed by the load report (the rest are counted).
ISOLATED_SHOWN = 10


def load_roads_cmd(rt: Any, file: Path, *, crs: str | None, encoding: str | None,
                   field_map: Sequence[str], gpkg_layer: str | None, snap_m: float | None,
                   replace: bool, echo: Callable[[str], Any],
                   err: Callable[[str], Any]) -> None:
    """Load a roads file (``pingan load roads FILE``) and print the load report.

    Parameters
    ----------
    rt
        The command line's runtime (settings and engine).
    file
        A line file or an OSM extract.
    crs, encoding, field_map, gpkg_layer
        As for the other layers (``--field class=等级``).
    snap_m
        Noding tolerance in metres (default 1 m).
    replace
        Replace the stored network.
    echo, err
        Where to print the report and the warnings.
    """
    from api.roads import load_roads

    rep = load_roads(rt.ready_engine(), file, fields=list(field_map), crs=crs,
                     encoding=encoding, gpkg_layer=gpkg_layer,
                     snap_m=1.0 if snap_m is None else snap_m, replace=replace,
                     timezone=rt.settings.timezone, loaded_by=os.environ.get("USER"))
    print_roads_report(rep, echo=echo, err=err)


def print_roads_report(rep: Any, *, echo: Callable[[str], Any],
                       err: Callable[[str], Any]) -> None:
    """Print a :class:`api.roads.RoadsLoadReport`: counts, topology, isolated pieces."""
    t = rep.topology
    echo(f"roads: {rep.lines_read:,} lines read, {rep.lines_rejected:,} rejected, "
         f"{t.edges:,} edges stored"
         + (f", {rep.edges_removed:,} edges of the earlier network marked removed"
            if rep.edges_removed else "")
         + f" (load {rep.load_id}, data version {rep.data_version}, metric CRS "
         f"{rep.metric_crs})")
    echo(f"  路网 network: {t.nodes:,} nodes, {t.edges:,} edges, {t.length_m / 1000:,.1f} km; "
         f"{t.components:,} connected components; the largest holds "
         f"{t.largest_component_length_share:.1%} of the length")
    if len(t.isolated):
        echo(f"  孤立路段 isolated pieces ({len(t.isolated):,}; longest first):")
        for row in t.isolated.head(ISOLATED_SHOWN).itertuples():
            x, y = row.geometry.representative_point().coords[0]
            echo(f"    piece {row.component}: {row.edges:,} edges, {row.length_m:,.0f} m, "
                 f"near {x:.6f},{y:.6f}")
        if len(t.isolated) > ISOLATED_SHOWN:
            echo(f"    … and {len(t.isolated) - ISOLATED_SHOWN:,} more")
    for w in rep.warnings:
        err(f"warning: {w}")
    for r in rep.rejections[:10]:
        err(f"  row {r.row}, {r.field}: {r.reason}")


def response_cmd(
    ctx: typer.Context,
    period: Annotated[str | None, typer.Option(
        help="Period of the incidents (default: the year of the latest incident).")] = None,
    minutes: Annotated[list[float] | None, typer.Option(
        "--minutes", help="Response-time bands in minutes (repeat; default 3, 5 and 10).")
    ] = None,
    facility_type: Annotated[str, typer.Option(
        "--type", help="The responding facility type.")] = "police_station",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Police response: incidents and residents beyond 3/5/10 minutes' drive of every station.

    Searched from the stations along drivable roads, obeying one-way streets (station ->
    incident); needs a roads layer (pingan load roads).
    """
    from api.cli_metrics import Fmt, context_and_admin, emit
    from api.services.reach import response_report
    from geo.reach import RESPONSE_MINUTES

    rep = response_report(*context_and_admin(ctx), period=period,
                          minutes=tuple(minutes or RESPONSE_MINUTES),
                          facility_type=facility_type)
    pv = rep.provenance
    emit(rep, Fmt(fmt), out, digits=3, columns=[
        "minutes", "incidents_beyond", "incidents_beyond_share", "residents_beyond",
        "residents_beyond_share"], headers={
        "minutes": "分钟", "incidents_beyond": "超时发案", "incidents_beyond_share": "发案占比",
        "residents_beyond": "超时人口", "residents_beyond_share": "人口占比"},
        summary=[(f"派出所 {pv['stations_used']:,} 个；发案 {pv['incidents_total']:,}（其中 "
                  f"{pv['incidents_unreachable']:,} 起距可通车道路超过 "
                  f"{pv['max_offset_m']:g} 米）；"
                  f"居民 {pv['residents_total']:,.0f}（不可达 {pv['residents_unreachable']:,.0f}）",
                  f"stations: {pv['stations_used']:,}; incidents: {pv['incidents_total']:,} "
                  f"({pv['incidents_unreachable']:,} farther than {pv['max_offset_m']:g} m from "
                  f"a drivable road); residents: {pv['residents_total']:,.0f} "
                  f"({pv['residents_unreachable']:,.0f} unreachable)")])


def register(app: typer.Typer) -> None:
    """Add the roads commands (``pingan response``) to the ``pingan`` app."""
    app.command("response")(response_cmd)
