"""``pingan load roads``: load a road network and print its topology report."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_roads_cmd", "print_roads_report"]

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
