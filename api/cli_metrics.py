"""``pingan`` commands that compute and print metrics: rates, trends, coverage, the standard."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from api.cli_csv import current_csv_options, with_csv_options
from api.cli_text import Bilingual, classes_line, current_language, retitled
from api.output import to_geojson, to_json, to_table
from api.provenance import csv_body, write_csv_file
from api.release import Visibility, select
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
    help="Period: 2025, 2025-Q3, 2025-07, 2025-W49 or 2025-01-01..2025-06-30 (local days).")]
CategoryOpt = Annotated[list[str] | None, typer.Option(
    "--category", help="Count only this category (repeat for several).")]
CategoriesMapOpt = Annotated[Path | None, typer.Option(
    "--categories", help="Category mapping CSV (columns raw,canonical, e.g. THEFT,盗窃 or "
                         "0101,盗窃): --category then names canonical categories. Default: "
                         "the cases.categories_map setting.")]
DistrictOpt = Annotated[str | None, typer.Option(
    help="Only this district (code or name).")]
SubdistrictOpt = Annotated[str | None, typer.Option(
    help="Only this subdistrict, 街道 (code or name).")]


def context(ctx: typer.Context, *, categories_map: Path | None = None) -> ServiceContext:
    """The service context of this invocation (schema migrated).

    ``categories_map`` (``--categories``) replaces the ``cases.categories_map`` setting.
    """
    rt = ctx.find_root().obj
    settings = rt.settings
    if categories_map is not None:
        cases = settings.cases.model_copy(update={"categories_map": categories_map})
        settings = settings.model_copy(update={"cases": cases})
    return ServiceContext(rt.ready_engine(), settings)


def context_and_admin(ctx: typer.Context, *, categories_map: Path | None = None
                      ) -> tuple[ServiceContext, Visibility]:
    """The service context and the command line's visibility: everything, exactly (admin)."""
    sc = context(ctx, categories_map=categories_map)
    return sc, Visibility.admin(sc.settings)


def emit(report: Report, fmt: Fmt, out: Path | None, *, columns: Sequence[str],
         headers: Mapping[str, str], digits: int = 2,
         summary: Sequence[str | Bilingual] = (),
         headers_en: Mapping[str, str] | None = None) -> None:
    """Print or write a report in the chosen format.

    ``headers`` are the table's Chinese headers; ``headers_en`` English ones that replace the
    shared English headers of :mod:`api.cli_text` for this table.

    A CSV holds the header and rows only; written to a file, its provenance goes to the
    sidecar ``FILE.provenance.json`` (``--csv-comments``: into leading comment lines instead;
    to the terminal, only then).
    """
    from api.cli_text import headers_for, in_language, provenance_lines, shown_in, title_of

    frame = report.frame
    for warning in report.provenance.get("warnings", ()):
        typer.echo(f"warning: {warning}", err=True)
    data: bytes
    if fmt is Fmt.csv and out is not None:
        side = write_csv_file(out, frame, report.provenance, current_csv_options())
        typer.echo(f"wrote {out} ({len(frame):,} rows)" + (f" and {side}" if side else ""),
                   err=True)
        return
    if fmt is Fmt.table:
        lang = current_language()
        lines = [title_of(report, lang), *provenance_lines(report.provenance, lang),
                 *(in_language(s, lang) for s in summary), ""]
        shown = [c for c in columns if c in frame.columns]
        names = headers_for(shown, headers, lang, headers_en)
        lines.append(to_table(shown_in(frame, shown, lang), columns=shown, headers=names,
                              digits=digits))
        data = ("\n".join(lines) + "\n").encode("utf-8")
    elif fmt is Fmt.csv:
        data = csv_body(frame, report.provenance, current_csv_options())
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


def _place(sc: ServiceContext, vis: Visibility, *, district: str | None = None,
           subdistrict: str | None = None, community: str | None = None) -> Any:
    """The selection named by --district/--subdistrict/--community (None: the whole city)."""
    if not (district or subdistrict or community):
        return None
    return select(vis, sc.communities(), district=district, subdistrict=subdistrict,
                  community=community)


# --- rates / trend / hot spots ----------------------------------------------------------------

RATE_HEADERS = {
    "code": "代码", "name": "名称", "district": "区", "subdistrict": "街道",
    "communities": "社区数", "population": "人口", "cases": "发案数",
    "case_rate_per_10k": "万人发案率", "case_rate_per_10k_annual": "万人发案率(年化)",
    "case_rate_eb_per_10k_annual": "平滑发案率(年化)", "compare_cases": "对比期发案数",
    "compare_case_rate_per_10k_annual": "对比期发案率", "case_change_pct": "变化%",
    "q_rise": "上升q值", "case_rise_significant": "显著上升", "change_class": "同比判断",
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
    categories_map: CategoriesMapOpt = None,
    district: DistrictOpt = None,
    subdistrict: SubdistrictOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Case rates per 10,000 residents (万人发案率), smoothed, with their change."""
    from api.services.rates import rates_report

    sc, vis = context_and_admin(ctx, categories_map=categories_map)
    rep = rates_report(sc, vis, period=period, compare=compare.value if compare else None,
                       level=level.value, categories=category or [],
                       selection=_place(sc, vis, district=district, subdistrict=subdistrict))
    cols = ["code", "name", "communities", "population", "cases", "case_rate_per_10k_annual"]
    if level is Level.community:
        cols = ["code", "name", "district", "population", "cases", "case_rate_per_10k_annual",
                "case_rate_eb_per_10k_annual"]
    if compare:
        cols += ["compare_cases", "compare_case_rate_per_10k_annual", "case_change_pct",
                 "q_rise", "case_rise_significant", "change_class"]
        if fmt is Fmt.table and "change_class" in rep.frame.columns:
            from geo.rates import CHANGE_CLASSES

            word = 0 if current_language() == "zh" else 1
            shown = rep.frame.assign(change_class=rep.frame["change_class"].map(
                lambda c: CHANGE_CLASSES.get(c, ("—", "—"))[word] if isinstance(c, str)
                else "—"))
            rep = replace(rep, frame=shown)
    # 同比: against the same period a year before; 环比: against the previous period
    headers = RATE_HEADERS if compare is not Compare.previous else {
        **RATE_HEADERS, "change_class": "环比判断"}
    emit(rep, fmt, out, columns=cols, headers=headers)


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
    district: DistrictOpt = None,
    subdistrict: SubdistrictOpt = None,
    category: CategoryOpt = None,
    categories_map: CategoriesMapOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Cases by month, or by local hour and weekday, of the city or one place."""
    from api.services.rates import trend_report

    sc, vis = context_and_admin(ctx, categories_map=categories_map)
    area = _place(sc, vis, district=district, subdistrict=subdistrict, community=community)
    rep = trend_report(sc, vis, period=period, by=by.value, selection=area,
                       categories=category or [])
    if by is TrendBy.hour_weekday and fmt is Fmt.table:
        pivot = rep.frame.pivot(index="weekday", columns="hour", values="cases")
        names = ["一 Mon", "二 Tue", "三 Wed", "四 Thu", "五 Fri", "六 Sat", "日 Sun"]
        pivot.columns = [f"{h:02d}" for h in pivot.columns]
        pivot.insert(0, "weekday", [names[i] for i in pivot.index])
        rep = replace(rep, frame=pivot.reset_index(drop=True))
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
    categories_map: CategoriesMapOpt = None,
    fdr: Annotated[bool, typer.Option(help="Class on FDR-adjusted p-values.")] = False,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Getis-Ord Gi* hot and cold spots at 90/95/99 % (999 permutations, seeded)."""
    from api.services.rates import hotspots_report

    sc, vis = context_and_admin(ctx, categories_map=categories_map)
    rep = hotspots_report(sc, vis, period=period, on=on.value, cell_m=cell_m,
                          categories=category or [], fdr=fdr)
    frame = rep.frame
    counts = frame["hotspot_class"].value_counts()
    summary = [classes_line(counts, "类别", "classes")]
    if fmt is Fmt.table:
        order = {c: i for i, c in enumerate(["hot_99", "hot_95", "hot_90", "cold_99",
                                             "cold_95", "cold_90"])}
        frame = frame[frame["hotspot_class"].isin(list(order))].copy()
        frame = frame.assign(_o=frame["hotspot_class"].map(order)).sort_values(
            ["_o", "hotspot_gi_z"], ascending=[True, False]).drop(columns="_o")
        rep = retitled(rep, frame, en="(significant units only)", zh="（仅显著单元）")
    cols = (["code", "name", "district", "value", "hotspot_gi_z", "p_value", "hotspot_class"]
            if on is HotspotOn.rate else
            ["cell_id", "ix", "iy", "value", "hotspot_gi_z", "p_value", "hotspot_class"])
    emit(rep, fmt, out, columns=cols, summary=summary,
         headers={"code": "代码", "name": "名称", "district": "区", "value": "值",
                  "hotspot_gi_z": "Gi* z", "p_value": "p(双侧)", "hotspot_class": "类别"})


# --- protection and coverage ------------------------------------------------------------------

OptPeriodOpt = Annotated[str | None, typer.Option(
    help="Period whose devices/facilities count (default: the year of the latest incident).")]
TypeOpt = Annotated[str, typer.Option(
    "--type", help="Facility type: police_station, police_office, service_station, "
                   "health_station, health_center, fire_station, or any loaded type.")]
RadiusOpt = Annotated[float | None, typer.Option(
    "--radius-m", help="Service radius in metres (default: the type's sourced default).")]


class Reach(str, Enum):
    """How reach is measured."""

    line = "line"
    walk = "walk"
    drive = "drive"


ReachOpt = Annotated[Reach, typer.Option(
    "--reach", help="line: straight line (default); walk: metres along the roads (minutes "
                    "at 1.2 m/s shown for information); drive: minutes along drivable roads. "
                    "walk and drive need a roads layer (pingan load roads).")]
MinutesOpt = Annotated[float | None, typer.Option(
    "--minutes", help="--reach drive: driving time in minutes (default: police and fire "
                      "stations 5, other types 10).")]

PROTECTION_HEADERS = {
    "code": "代码", "name": "名称", "district": "区", "communities": "社区数",
    "camera_count": "视频监控", "camera_working_ratio": "完好率",
    "camera_density_per_km2": "每km²", "cameras_per_1000_residents": "每千人",
    "camera_area_share": "视域覆盖率", "incidents_in_view_share": "视域内发案",
    "compounds_total": "小区数", "compound_compliance_ratio": "物防技防达标率",
}


def protection_cmd(
    ctx: typer.Context,
    period: OptPeriodOpt = None,
    level: Annotated[Level, typer.Option(help="Community, or rolled up.")] = Level.community,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Technical protection (cameras, view coverage) and compound compliance (物防技防)."""
    from api.services.coverage import protection_report

    rep = protection_report(*context_and_admin(ctx), period=period, level=level.value)
    cols = ["code", "name", "district" if level is Level.community else "communities",
            "camera_count", "camera_working_ratio", "camera_density_per_km2",
            "cameras_per_1000_residents", "camera_area_share", "incidents_in_view_share",
            "compounds_total", "compound_compliance_ratio"]
    emit(rep, fmt, out, columns=cols, headers=PROTECTION_HEADERS)


COVERAGE_HEADERS = {
    "rank": "排名", "code": "代码", "name": "名称", "district": "区", "communities": "社区数",
    "population": "人口", "facility_covered_area_share": "面积覆盖率",
    "facility_covered_population_share": "人口覆盖率", "facility_distance_m": "加权距离(m)",
    "facility_uncovered_population": "未覆盖人口", "gap_area_m2": "盲区面积(m²)",
    "facility_minutes": "加权时间(分)",
}


def coverage_cmd(
    ctx: typer.Context,
    facility_type: TypeOpt,
    radius_m: RadiusOpt = None,
    level: Annotated[Level, typer.Option(help="Community, or rolled up.")] = Level.community,
    period: OptPeriodOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
    reach: ReachOpt = Reach.line,
    minutes: MinutesOpt = None,
) -> None:
    """Share of area and residents within reach of a facility type, ranked by residents left out."""
    from api.services.reach import coverage_by_reach

    rep = coverage_by_reach(*context_and_admin(ctx), reach=reach.value, minutes=minutes,
                            facility_type=facility_type, radius_m=radius_m, level=level.value,
                            period=period)
    first = ["rank", "code", "name", "district"] if level is Level.community else [
        "code", "name", "communities"]
    emit(rep, fmt, out, headers=COVERAGE_HEADERS, digits=3, columns=[
        *first, "population", "facility_covered_area_share",
        "facility_covered_population_share", "facility_distance_m", "facility_minutes",
        "facility_uncovered_population"])


class GapFormat(str, Enum):
    """Formats of gap polygons."""

    geojson = "geojson"
    csv = "csv"
    table = "table"


def gaps_cmd(
    ctx: typer.Context,
    facility_type: TypeOpt,
    radius_m: RadiusOpt = None,
    period: OptPeriodOpt = None,
    fmt: Annotated[GapFormat, typer.Option("--format", "-f", help="Output format.")
    ] = GapFormat.table,
    out: OutOpt = None,
    reach: ReachOpt = Reach.line,
    minutes: MinutesOpt = None,
) -> None:
    """Gap polygons: community area outside every service area of the type, with residents."""
    from api.services.reach import gaps_by_reach

    rep = gaps_by_reach(*context_and_admin(ctx), reach=reach.value, minutes=minutes,
                        facility_type=facility_type, radius_m=radius_m, period=period)
    emit(rep, Fmt(fmt.value), out, headers=COVERAGE_HEADERS, digits=0,
         columns=["code", "name", "gap_area_m2", "population"])


def workload_cmd(
    ctx: typer.Context,
    facility_type: TypeOpt,
    period: Annotated[str | None, typer.Option(
        help="Period of the incidents (default: the year of the latest incident).")] = None,
    radius_m: RadiusOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
    reach: ReachOpt = Reach.line,
    minutes: MinutesOpt = None,
) -> None:
    """Incidents per facility: nearest-facility catchment and incidents within the radius.

    Without --radius-m the type's default radius is used; a type with none gets its
    catchments only.
    """
    from api.services.reach import workload_by_reach

    rep = workload_by_reach(*context_and_admin(ctx), reach=reach.value, minutes=minutes,
                            facility_type=facility_type, period=period, radius_m=radius_m)
    pv = rep.provenance
    out_of_reach = pv.get("incidents_out_of_reach")
    summary: list[str | Bilingual] = [(
        f"发案 {pv.get('incidents_total', 0):,}" + (
            f"；任何设施均不可达 {out_of_reach:,}" if out_of_reach is not None else ""),
        f"incidents: {pv.get('incidents_total', 0):,}" + (
            f"; out of reach of every facility: {out_of_reach:,}"
            if out_of_reach is not None else "")),
        *[(f"说明: {n}", f"note: {n}") for n in pv.get("notes", [])]]
    emit(rep, fmt, out, digits=3,
         columns=["id", "name", "incidents_catchment", "catchment_share",
                  "incidents_within_radius", "within_radius_share"],
         headers={"id": "编号", "name": "名称", "incidents_catchment": "辖区发案",
                  "catchment_share": "占比", "incidents_within_radius": "半径内发案",
                  "within_radius_share": "半径内占比"}, summary=summary)


def plan_sites_cmd(
    ctx: typer.Context,
    facility_type: TypeOpt,
    add: Annotated[int, typer.Option("--add", help="How many new sites to choose.")],
    candidates: Annotated[Path | None, typer.Option(
        help="Candidate sites (any format pingan reads; points). Default: compound centroids "
             "and a regular grid inside the communities.")] = None,
    radius_m: RadiusOpt = None,
    period: OptPeriodOpt = None,
    time_limit: Annotated[float, typer.Option("--time-limit-s", help="Solver time limit.")
    ] = 60.0,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
    reach: ReachOpt = Reach.line,
    minutes: MinutesOpt = None,
) -> None:
    """Suggest new sites (maximal covering location) that cover the most uncovered residents."""
    from api.services.reach import site_plan_by_reach

    cand = _read_candidates(candidates) if candidates else None
    rep = site_plan_by_reach(*context_and_admin(ctx), reach=reach.value, minutes=minutes,
                             facility_type=facility_type, k=add, radius_m=radius_m,
                             candidates=cand, period=period, time_limit_s=time_limit)
    pv = rep.provenance
    summary: list[str | Bilingual] = [(
        f"可达人口: 选址前 {pv['population_covered_before']:,.0f} ({pv['coverage_before']:.1%})，"
        f"选址后 {pv['population_covered_after']:,.0f} ({pv['coverage_after']:.1%})，"
        f"共 {pv['population_total']:,.0f}",
        f"residents within reach: {pv['population_covered_before']:,.0f} "
        f"({pv['coverage_before']:.1%}) before, {pv['population_covered_after']:,.0f} "
        f"({pv['coverage_after']:.1%}) after, of {pv['population_total']:,.0f}"), (
        f"求解器: {pv['solver_status']} / {pv['solution_status']}；候选点 "
        f"{pv['candidates_given']:,} 个，可达居民的 {pv['candidates_reaching']:,} 个，"
        f"选用 {pv['candidates_used']:,} 个",
        f"solver: {pv['solver_status']} / {pv['solution_status']}; candidates "
        f"{pv['candidates_given']:,} given, {pv['candidates_reaching']:,} reaching someone, "
        f"{pv['candidates_used']:,} used"),
        *[(f"说明: {n}", f"note: {n}") for n in pv.get("notes", [])]]
    emit(rep, fmt, out, digits=5, summary=summary,
         columns=["candidate_id", "community_code", "community_name", "lon", "lat",
                  "population_reached", "population_newly_covered"],
         headers={"candidate_id": "候选点", "community_code": "社区代码",
                  "community_name": "所在社区", "population_reached": "可达未覆盖人口",
                  "population_newly_covered": "新覆盖人口"})


def _read_candidates(path: Path) -> Any:
    """Read candidate points (any format pingan reads); rows without an id get their row number."""
    from geo.readers import read_layer

    frame = read_layer(path, "candidates").frame
    ids = frame["id"].fillna(pd.Series((frame.index + 1).astype(str), index=frame.index))
    return frame.assign(id=ids.astype("string"))


# --- catalogue and the standard ---------------------------------------------------------------


def catalogue_cmd(fmt: FormatOpt = Fmt.table, out: OutOpt = None) -> None:
    """Every per-community metric pingan computes (the names profiles use)."""
    from api.services.standard import catalogue_frame

    frame = catalogue_frame()
    rep = Report(frame, {"metrics": len(frame)}, "pingan metric catalogue", "pingan 指标目录")
    if fmt is Fmt.geojson:
        raise ValueError("the catalogue has no geometry; use --format table, csv or json")
    emit(rep, fmt, out, columns=["name", "unit", "label_zh", "label_en", "better", "producer",
                                 "params"],
         headers={"name": "metric", "label_zh": "名称", "better": "better when"})


standard_app = typer.Typer(help="The safe-community standard: profiles and evaluation.",
                           no_args_is_help=True)


@standard_app.command("check")
def standard_check_cmd(
    file: Annotated[Path, typer.Argument(help="A profile (TOML).")],
) -> None:
    """Validate a profile; errors name the line and field."""
    from geo.profile import load_profile

    prof = load_profile(file)
    typer.echo(f"{file}: valid profile {prof.name!r} version {prof.version} "
               f"({len(prof.criteria)} criteria, version key {prof.version_key})")


ProfileOpt = Annotated[Path | None, typer.Option(
    "--profile", help="Profile file (default: the active stored profile, else the built-in "
                      "beijing-safe-community).")]

STANDARD_HEADERS = {"code": "代码", "name": "名称", "district": "区", "score": "得分",
                    "status_zh": "结果", "n_failed": "未达项", "n_unknown": "待补",
                    "todo": "整改项", "communities": "社区数", "meets": "达标",
                    "partly": "基本达标", "fails": "未达标", "incomplete": "待补数据",
                    "creation_rate": "创建率", "creation_rate_pop": "创建率(人口加权)"}


@standard_app.command("evaluate")
@with_csv_options
def standard_evaluate_cmd(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    period: Annotated[str | None, typer.Option(
        help="Evaluated period (default: the year of the latest incident).")] = None,
    level: Annotated[Level, typer.Option(help="Communities, or creation rates rolled up.")
    ] = Level.community,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Evaluate every community: score, status band, to-do list; or creation rates (创建率)."""
    from api.services.standard import active_profile, standard_report

    sc, vis = context_and_admin(ctx)
    rep = standard_report(sc, vis, profile=active_profile(sc, profile), period=period,
                          level=level.value)
    counts = rep.provenance.get("status_counts", {})
    summary: list[str | Bilingual] = [
        classes_line(dict(sorted(counts.items())), "社区", "communities"),
        *[(f"待补数据: {m}", f"unknown: {m}") for m in rep.provenance.get("unknown_because", [])]]
    if level is Level.community:
        cols = ["code", "name", "district", "score", "status_zh", "n_failed", "n_unknown",
                "todo"]
    else:
        cols = ["code", "name", "communities", "meets", "partly", "fails", "incomplete",
                "creation_rate", "creation_rate_pop"]
    emit(rep, fmt, out, columns=cols, headers=STANDARD_HEADERS, summary=summary, digits=3)


@standard_app.command("todo")
@with_csv_options
def standard_todo_cmd(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Community code.")],
    profile: ProfileOpt = None,
    period: Annotated[str | None, typer.Option(help="Evaluated period.")] = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """A community's failing (then unknown) criteria, most weight first."""
    from api.services.standard import active_profile, todo_report

    sc, vis = context_and_admin(ctx)
    rep = todo_report(sc, vis, code, profile=active_profile(sc, profile), period=period)
    if fmt is Fmt.geojson:
        raise ValueError("the to-do list has no geometry; use --format table, csv or json")
    emit(rep, fmt, out, digits=3,
         columns=["criterion_id", "label_zh", "outcome", "value", "operator", "threshold",
                  "weight", "required"],
         headers={"criterion_id": "项目", "label_zh": "名称", "outcome": "结果", "value": "值",
                  "operator": "比较", "threshold": "阈值", "weight": "权重",
                  "required": "必达"})


def maps_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the pages.")],
    kind: Annotated[list[str] | None, typer.Option(
        "--kind", help="incidents, rates, hotspots, emerging, kde, near-repeat, alerts, "
                       "protection, coverage or standard "
                       "(repeat; default all).")] = None,
    period: Annotated[str | None, typer.Option(
        help="Period (default: the year of the latest incident).")] = None,
    category: CategoryOpt = None,
    categories_map: CategoriesMapOpt = None,
    facility_type: Annotated[str | None, typer.Option(
        "--type", help="Facility type of the coverage map (default: police office, service "
                       "station and health station).")] = None,
    district: Annotated[str | None, typer.Option(help="Only this district (code or name).")
    ] = None,
    aggregate: Annotated[bool, typer.Option(
        "--aggregate", help="Incidents only as 250 m cells with small counts suppressed "
                            "(what planners and API clients see).")] = False,
    lang: Annotated[str | None, typer.Option(
        "--lang", help="zh or en (default: pingan --lang, else the maps.language setting).")
    ] = None,
    png: Annotated[bool, typer.Option(
        "--png", help="Also export each page as PNG with headless Chromium.")] = False,
    reach: Annotated[Reach, typer.Option(
        "--reach", help="The coverage map's reach: line (circles), walk or drive (service "
                        "areas along the roads).")] = Reach.line,
) -> None:
    """Write offline map pages (with their assets) that open from disk with no server."""
    from api.services.maps import MAP_KINDS, write_maps

    kinds = kind or list(MAP_KINDS)
    bad = [k for k in kinds if k not in MAP_KINDS]
    if bad:
        raise ValueError(f"--kind must be one of {', '.join(MAP_KINDS)}; got {bad[0]!r}")
    sc, vis = context_and_admin(ctx, categories_map=categories_map)
    if aggregate:
        vis = Visibility("planner", None, protected=True, raw=False, unassigned=False,
                         min_count=sc.settings.api.min_count_shown,
                         category_groups=vis.category_groups)
    area = select(vis, sc.communities(), district=district) if district else None
    rt = ctx.find_root().obj
    language = lang or (rt.lang if rt.lang_given else None)
    pages = write_maps(sc, vis, out, kinds=kinds, period=period, categories=category or [],
                       facility_type=facility_type, selection=area, language=language, png=png,
                       reach=reach.value,
                       skip_unavailable=not kind, echo=lambda m: typer.echo(m, err=True))
    for page in pages:
        typer.echo(page.resolve().as_uri())


def register(app: typer.Typer) -> None:
    """Add the metric commands to the ``pingan`` app."""
    app.command("rates")(with_csv_options(rates_cmd))
    app.command("trend")(with_csv_options(trend_cmd))
    app.command("hotspots")(with_csv_options(hotspots_cmd))
    app.command("protection")(with_csv_options(protection_cmd))
    app.command("coverage")(with_csv_options(coverage_cmd))
    app.command("gaps")(with_csv_options(gaps_cmd))
    app.command("workload")(with_csv_options(workload_cmd))
    app.command("plan-sites")(with_csv_options(plan_sites_cmd))
    app.command("catalogue")(with_csv_options(catalogue_cmd))
    app.add_typer(standard_app, name="standard")
    app.command("maps")(maps_cmd)
