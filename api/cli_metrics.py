"""``pingan`` commands that compute and print metrics: rates, hot spots, trends, coverage…"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from api.output import to_csv_bytes, to_geojson, to_json, to_table
from api.services import Report, ServiceContext

__all__ = ["register"]


class Fmt(str, Enum):
    """Output formats."""

    table = "table"
    csv = "csv"
    json = "json"
    geojson = "geojson"


FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format.")]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Write to this file instead of the terminal.")]
PeriodOpt = Annotated[str, typer.Option(
    help="Period: 2025, 2025-Q3, 2025-07 or 2025-01-01..2025-06-30 (local days).")]
CategoryOpt = Annotated[list[str] | None, typer.Option(
    "--category", help="Count only this category (repeat for several).")]


def context(ctx: typer.Context) -> ServiceContext:
    """The service context of this invocation (schema migrated)."""
    rt = ctx.find_root().obj
    return ServiceContext(rt.ready_engine(), rt.settings)


def emit(report: Report, fmt: Fmt, out: Path | None, *, columns: Sequence[str],
         headers: Mapping[str, str], digits: int = 2, summary: Sequence[str] = ()) -> None:
    """Print or write a report in the chosen format."""
    frame = report.frame
    data: bytes
    if fmt is Fmt.table:
        lines = [report.title, *_provenance_lines(report.provenance), *summary, ""]
        shown = [c for c in columns if c in frame.columns]
        lines.append(to_table(frame, columns=shown, headers=headers, digits=digits))
        data = ("\n".join(lines) + "\n").encode("utf-8")
    elif fmt is Fmt.csv:
        data = to_csv_bytes(frame, provenance=report.provenance)
    elif fmt is Fmt.json:
        data = to_json(frame, provenance=report.provenance).encode("utf-8")
    else:
        if "geometry" not in frame.columns:
            raise ValueError("this result has no geometry; use --format json or csv")
        data = to_geojson(frame, provenance=report.provenance).encode("utf-8")
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        typer.echo(f"wrote {out} ({len(frame):,} rows)", err=True)


def _provenance_lines(prov: Mapping[str, Any]) -> list[str]:
    out = []
    if "period" in prov:
        cmp = f" vs {prov['compare_period']}" if prov.get("compare_period") else ""
        out.append(f"period {prov['period']}{cmp}: {prov.get('period_start', '')} .. "
                   f"{prov.get('period_end', '')} ({prov.get('timezone', '')})")
    extras = [f"data version {prov.get('data_version')}"]
    if prov.get("profile"):
        extras.append(f"profile {prov['profile']}")
    if prov.get("metric_crs"):
        extras.append(f"metric CRS {prov['metric_crs']}")
    out.append("; ".join(extras))
    left = prov.get("left_out")
    if left:
        out.append("left out: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(
            v, int) else f"{k} {v}" for k, v in left.items()))
    return out


# --- rates / trend / hot spots ----------------------------------------------------------------

RATE_HEADERS = {
    "code": "代码", "name": "名称", "district": "区", "subdistrict": "街道",
    "communities": "社区数", "population": "人口", "cases": "发案数",
    "case_rate_per_10k": "万人发案率", "case_rate_per_10k_annual": "万人发案率(年化)",
    "case_rate_eb_per_10k_annual": "平滑发案率(年化)", "compare_cases": "对比期发案数",
    "compare_case_rate_per_10k_annual": "对比期发案率", "case_change_pct": "变化%",
    "q_rise": "上升q值", "case_rise_significant": "显著上升",
}


class Level(str, Enum):
    """Levels of a roll-up."""

    community = "community"
    subdistrict = "subdistrict"
    district = "district"
    city = "city"


class Compare(str, Enum):
    """Comparison periods."""

    previous = "previous"
    last_year = "last-year"


def rates_cmd(
    ctx: typer.Context,
    period: PeriodOpt,
    compare: Annotated[Compare | None, typer.Option(
        help="Compare with the previous period of the same kind or the same period a year "
             "before (change %, Poisson test, Benjamini–Hochberg).")] = None,
    level: Annotated[Level, typer.Option(help="Community, or rolled up.")] = Level.community,
    category: CategoryOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Case rates per 10,000 residents (万人发案率), smoothed, with their change."""
    from api.services.rates import rates_report

    rep = rates_report(context(ctx), period=period, compare=compare.value if compare else None,
                       level=level.value, categories=category or [])
    cols = ["code", "name", "communities", "population", "cases", "case_rate_per_10k_annual"]
    if level is Level.community:
        cols = ["code", "name", "district", "population", "cases", "case_rate_per_10k_annual",
                "case_rate_eb_per_10k_annual"]
    if compare:
        cols += ["compare_cases", "compare_case_rate_per_10k_annual", "case_change_pct",
                 "q_rise", "case_rise_significant"]
    emit(rep, fmt, out, columns=cols, headers=RATE_HEADERS)


class TrendBy(str, Enum):
    """Trend breakdowns."""

    month = "month"
    hour_weekday = "hour-weekday"


def trend_cmd(
    ctx: typer.Context,
    period: PeriodOpt,
    by: Annotated[TrendBy, typer.Option(help="Monthly series or hour × weekday profile.")
    ] = TrendBy.month,
    community: Annotated[str | None, typer.Option(
        help="One community's code (default: the whole city).")] = None,
    category: CategoryOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Cases by month, or by local hour and weekday."""
    from api.services.rates import trend_report

    rep = trend_report(context(ctx), period=period, by=by.value, community=community,
                       categories=category or [])
    if by is TrendBy.hour_weekday and fmt is Fmt.table:
        from api.services import Report

        pivot = rep.frame.pivot(index="weekday", columns="hour", values="cases")
        names = ["一 Mon", "二 Tue", "三 Wed", "四 Thu", "五 Fri", "六 Sat", "日 Sun"]
        pivot.columns = [f"{h:02d}" for h in pivot.columns]
        pivot.insert(0, "weekday", [names[i] for i in pivot.index])
        rep = Report(pivot.reset_index(drop=True), rep.provenance, rep.title)
        emit(rep, fmt, out, columns=list(pivot.columns), headers={"weekday": "星期"})
        return
    emit(rep, fmt, out, columns=["code", "month", "days", "cases"],
         headers={"code": "代码", "month": "月份", "days": "天数", "cases": "发案数"})


class HotspotOn(str, Enum):
    """What Gi* runs on."""

    rate = "rate"
    grid = "grid"


def hotspots_cmd(
    ctx: typer.Context,
    period: PeriodOpt,
    on: Annotated[HotspotOn, typer.Option(
        help="Smoothed community rates, or a square grid of incident counts.")] = HotspotOn.rate,
    cell_m: Annotated[float | None, typer.Option(help="Grid cell size in metres (250).")
    ] = None,
    category: CategoryOpt = None,
    fdr: Annotated[bool, typer.Option(help="Class on FDR-adjusted p-values.")] = False,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Getis-Ord Gi* hot and cold spots at 90/95/99 % (999 permutations, seeded)."""
    from api.services.rates import hotspots_report

    rep = hotspots_report(context(ctx), period=period, on=on.value, cell_m=cell_m,
                          categories=category or [], fdr=fdr)
    frame = rep.frame
    counts = frame["hotspot_class"].value_counts()
    summary = ["classes: " + ", ".join(f"{k} {v}" for k, v in counts.items())]
    if fmt is Fmt.table:
        order = {c: i for i, c in enumerate(["hot_99", "hot_95", "hot_90", "cold_99",
                                             "cold_95", "cold_90"])}
        frame = frame[frame["hotspot_class"].isin(list(order))].copy()
        frame = frame.assign(_o=frame["hotspot_class"].map(order)).sort_values(
            ["_o", "hotspot_gi_z"], ascending=[True, False]).drop(columns="_o")
        rep = Report(frame, rep.provenance, rep.title + " (significant units only)")
    cols = (["code", "name", "district", "value", "hotspot_gi_z", "p_value", "hotspot_class"]
            if on is HotspotOn.rate else
            ["cell_id", "ix", "iy", "value", "hotspot_gi_z", "p_value", "hotspot_class"])
    emit(rep, fmt, out, columns=cols, summary=summary,
         headers={"code": "代码", "name": "名称", "district": "区", "value": "值",
                  "hotspot_gi_z": "Gi* z", "p_value": "p(双侧)", "hotspot_class": "类别"})


def register(app: typer.Typer) -> None:
    """Add the metric commands to the ``pingan`` app."""
    app.command("rates")(rates_cmd)
    app.command("trend")(trend_cmd)
    app.command("hotspots")(hotspots_cmd)
