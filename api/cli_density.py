"""``pingan`` commands for space-time surfaces: emerging hot spots and kernel density.

Both run as admin (the command line's visibility) through the same services as the HTTP API
(:mod:`api.services.emerging`, :mod:`api.services.density`) and print with
:func:`api.cli_metrics.emit`; ``pingan kde --out FILE.tif`` writes a Cloud-Optimized GeoTIFF
(:mod:`api.raster`).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli_csv import with_csv_options
from api.cli_metrics import CategoryOpt, Fmt, FormatOpt, OutOpt, context_and_admin, emit
from api.cli_text import classes_line, retitled
from api.release import Selection, Visibility, select
from api.services import ServiceContext

__all__ = ["register"]

OptPeriodOpt = Annotated[str | None, typer.Option(
    help="Period: 2025, 2025-Q3, 2025-07 or 2024-01-01..2025-06-30 (local days); default: "
         "the year of the latest incident.")]
DistrictOpt = Annotated[str | None, typer.Option(help="Only this district (code or name).")]
SubdistrictOpt = Annotated[str | None, typer.Option(
    help="Only this subdistrict (code or name).")]
CellOpt = Annotated[float | None, typer.Option("--cell-m", help="Grid cell in metres.")]

EMERGING_HEADERS = {"cell_id": "网格", "category": "类别", "trend_tau": "趋势τ",
                    "trend_p": "趋势p", "last_z": "末期z", "last_p": "末期p",
                    "hot_steps": "热点期数", "cold_steps": "冷点期数", "incidents": "发案数"}
KDE_HEADERS = {"cell_id": "网格", "density_per_km2": "密度(每km²)", "expected": "期望发案数"}


def _selection(sc: ServiceContext, vis: Visibility, district: str | None,
               subdistrict: str | None) -> Selection | None:
    if district is None and subdistrict is None:
        return None
    return select(vis, sc.communities(), district=district, subdistrict=subdistrict)


class Step(str, Enum):
    """Time steps of the cube."""

    month = "month"
    week = "week"


def emerging_cmd(
    ctx: typer.Context,
    period: OptPeriodOpt = None,
    step: Annotated[Step, typer.Option(help="Calendar months, or weeks Monday to Sunday; the "
                                            "period must hold at least 10.")] = Step.month,
    cell_m: CellOpt = None,
    cell_neighbours: Annotated[int, typer.Option(
        "--cell-neighbours", help="Rings of neighbouring cells (1: the 3 x 3 square).")] = 1,
    time_neighbours: Annotated[int, typer.Option(
        "--time-neighbours", help="Earlier steps in a bin's neighbourhood.")] = 1,
    category: CategoryOpt = None,
    district: DistrictOpt = None,
    subdistrict: SubdistrictOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Emerging hot spots (新增/连续/加强/持续热点…): Gi* per cell and step, Mann-Kendall trend."""
    from api.services.emerging import emerging_report

    sc, vis = context_and_admin(ctx)
    rep = emerging_report(sc, vis, period=period, step=step.value, cell_m=cell_m,
                          cell_neighbours=cell_neighbours, time_neighbours=time_neighbours,
                          categories=category or [],
                          selection=_selection(sc, vis, district, subdistrict))
    frame = rep.frame
    counts = frame["category"].value_counts()
    summary = [classes_line(counts, "类别", "categories")]
    if fmt is Fmt.table:
        patterned = frame[frame["category"] != "no_pattern"]
        rep = retitled(rep, patterned.sort_values(["category", "last_z"],
                                                  ascending=[True, False]),
                       en="(cells with a pattern)", zh="（有模式的网格）")
    emit(rep, fmt, out, columns=["cell_id", "category", "trend_tau", "trend_p", "last_z",
                                 "last_p", "hot_steps", "cold_steps", "incidents"],
         headers=EMERGING_HEADERS, digits=3, summary=summary)


class Kernel(str, Enum):
    """Kernels."""

    quartic = "quartic"
    gaussian = "gaussian"


class Mode(str, Enum):
    """Ways of computing a surface."""

    exact = "exact"
    binned = "binned"


def kde_cmd(
    ctx: typer.Context,
    period: OptPeriodOpt = None,
    kernel: Annotated[Kernel, typer.Option(
        help="Quartic (biweight; bandwidth = radius) or Gaussian (bandwidth = sigma).")
    ] = Kernel.quartic,
    bandwidth_m: Annotated[float | None, typer.Option(
        "--bandwidth-m", help="Bandwidth in metres (default: ArcGIS's spatial rule).")] = None,
    cell_m: Annotated[float | None, typer.Option(
        "--cell-m", help="Cell in metres (default 100).")] = None,
    mode: Annotated[Mode, typer.Option(
        help="Exact sums, or binned FFT convolution (fast for many incidents).")] = Mode.exact,
    category: CategoryOpt = None,
    district: DistrictOpt = None,
    subdistrict: SubdistrictOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write to this file; FILE.tif writes a Cloud-Optimized GeoTIFF.")
    ] = None,
) -> None:
    """Kernel density of incidents (核密度): per km² and expected incidents per cell."""
    from api.services.density import density_report, density_surface

    sc, vis = context_and_admin(ctx)
    options: dict[str, Any] = {"period": period, "kernel": kernel.value, "bandwidth_m": bandwidth_m,
                               "cell_m": cell_m, "mode": mode.value,
                               "categories": category or [],
                               "selection": _selection(sc, vis, district, subdistrict)}
    if out is not None and out.suffix.lower() in (".tif", ".tiff"):
        from api.raster import density_cog

        surface = density_surface(sc, vis, **options)
        out.write_bytes(density_cog(surface.result, provenance=surface.provenance))
        res = surface.result
        typer.echo(f"wrote {out} ({res.width} x {res.height} cells of {res.cell_m:g} m, "
                   f"{res.kernel} kernel, bandwidth {res.bandwidth_m:.0f} m)", err=True)
        return
    rep = density_report(sc, vis, **options)
    pv = rep.provenance
    kernel_zh = {"quartic": "四次核", "gaussian": "高斯核"}.get(pv["kernel"], pv["kernel"])
    mode_zh = {"exact": "精确", "binned": "分箱"}.get(pv["mode"], pv["mode"])
    summary = [(f"{kernel_zh}，带宽 {pv['bandwidth_m']:.1f} 米（{pv['bandwidth_rule']}），"
                f"{mode_zh}计算；网格 {pv['cells']:,} 个，发案 {pv.get('incidents', 0):,}",
                f"{pv['kernel']} kernel, bandwidth {pv['bandwidth_m']:.1f} m "
                f"({pv['bandwidth_rule']}), {pv['mode']} mode; {pv['cells']:,} cells, "
                f"{pv.get('incidents', 0):,} incidents")]
    if fmt is Fmt.table:
        top = rep.frame.sort_values("density_per_km2", ascending=False).head(20)
        rep = retitled(rep, top, en="(the 20 densest cells)", zh="（密度最高的 20 个网格）")
    emit(rep, fmt, out, columns=["cell_id", "density_per_km2", "expected"],
         headers=KDE_HEADERS, digits=3, summary=summary)


def register(app: typer.Typer) -> None:
    """Add the space-time surface commands to the ``pingan`` app."""
    app.command("emerging")(with_csv_options(emerging_cmd))
    app.command("kde")(with_csv_options(kde_cmd))
