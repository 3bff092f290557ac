"""``pingan`` commands for near repeats and early-warning alerts.

Both run as admin (the command line's visibility) through the same services as the HTTP API
(:mod:`api.services.nearrepeat`, :mod:`api.services.alerts`) and print with
:func:`api.cli_metrics.emit`.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import typer

from api.cli_metrics import CategoryOpt, Fmt, FormatOpt, OutOpt, context_and_admin, emit
from api.deps import parse_bbox
from api.release import Selection, Visibility, select
from api.services import Report, ServiceContext
from geo.errors import ParameterError

__all__ = ["register"]

KNOX_HEADERS = {"space_band": "距离", "time_band": "时间", "observed": "观测对数",
                "expected": "期望对数", "knox_ratio": "Knox比", "p_value": "p",
                "near_repeat_class": "近重复"}
ZONE_HEADERS = {"incident_id": "案件", "community_code": "社区", "occurred_on": "发案日",
                "radius_m": "半径(米)", "expires_on": "到期日"}
ALERT_HEADERS = {"unit": "单元", "name": "名称", "step": "期", "observed": "观测",
                 "expected": "期望", "threshold": "阈值", "method": "方法", "p_value": "p",
                 "q_value": "q", "alert": "预警", "first_fired": "首次预警"}
# The shared English header of p_value says two-sided (hot spots); these p values are not.
KNOX_HEADERS_EN = {"p_value": "pseudo p (one-sided)"}
ALERT_HEADERS_EN = {"p_value": "p (one-sided)", "q_value": "q (BH)",
                    "first_fired": "first fired"}

OptPeriodOpt = Annotated[str | None, typer.Option(
    help="Period: 2025, 2025-Q3, 2025-07 or 2024-01-01..2025-06-30 (local days); default: "
         "the year of the latest incident.")]
DistrictOpt = Annotated[str | None, typer.Option(help="Only this district (code or name).")]
SubdistrictOpt = Annotated[str | None, typer.Option(
    help="Only this subdistrict (code or name).")]
CommunityOpt = Annotated[list[str] | None, typer.Option(
    "--community", help="Only this community (code; repeat for several).")]
BboxOpt = Annotated[str | None, typer.Option(
    help="Only incidents inside minlon,minlat,maxlon,maxlat (EPSG:4326).")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Last day of data to use, YYYY-MM-DD (replays history without looking "
                    "ahead); default: the day of the latest incident.")]


def _selection(sc: ServiceContext, vis: Visibility, district: str | None,
               subdistrict: str | None, community: list[str] | None = None,
               bbox: str | None = None) -> Selection | None:
    if not (district or subdistrict or community or bbox):
        return None
    return select(vis, sc.communities(), district=district, subdistrict=subdistrict,
                  community=community, bbox=parse_bbox(bbox))


def _edges(text: str, name: str, kind: type) -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"{name} must be comma-separated numbers such as 0,100,200; got "
                             f"{text!r}", parameter=name) from None


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"as_of must be a day YYYY-MM-DD; got {text!r}",
                             parameter="as_of") from None


def near_repeat_cmd(
    ctx: typer.Context,
    period: OptPeriodOpt = None,
    space_m: Annotated[str, typer.Option(
        "--space-m", help="Distance band edges in metres: 0 gives 'same location' (<= 0.5 m), "
                          "then (0.5, 100], (100, 200] …")] = "0,100,200,400,800",
    time_days: Annotated[str, typer.Option(
        "--time-days", help="Time band edges in whole days: 0 gives 'same day', then 1-7, "
                            "8-14 …")] = "0,7,14,30,60",
    cumulative: Annotated[bool, typer.Option(
        "--cumulative", help="Classic Knox counts d <= delta and t <= tau instead of bands "
                             "(adds the analytic expectation and Poisson p).")] = False,
    permutations: Annotated[int, typer.Option(
        help="Monte Carlo permutations of the days.")] = 999,
    seed: Annotated[int, typer.Option(help="Seed of the permutations.")] = 20250101,
    zones: Annotated[bool, typer.Option(
        "--zones", help="List the risk zones of the recent incidents instead of the table.")
    ] = False,
    recent_days: Annotated[int, typer.Option(
        "--recent-days", help="Incidents of this many days up to --as-of get risk zones.")
    ] = 14,
    as_of: AsOfOpt = None,
    category: CategoryOpt = None,
    district: DistrictOpt = None,
    subdistrict: SubdistrictOpt = None,
    community: CommunityOpt = None,
    bbox: BboxOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Near repeats (近重复): Knox table over distance x time bands, and risk zones."""
    from api.services.nearrepeat import knox_report, risk_zones_report

    sc, vis = context_and_admin(ctx)
    options = {"period": period, "categories": category or [],
               "selection": _selection(sc, vis, district, subdistrict, community, bbox),
               "space_m": _edges(space_m, "space_m", float),
               "time_days": _edges(time_days, "time_days", int),
               "permutations": permutations, "seed": seed}
    if zones:
        rep, found = risk_zones_report(sc, vis, as_of=_date(as_of), recent_days=recent_days,
                                       **options)  # type: ignore[arg-type]
        summary = [(f"风险区半径 {found.radius_m:g} 米，持续 {found.days} 天",
                    f"zones of {found.radius_m:g} m for {found.days} days") if found.radius_m
                   else ("没有 p ≤ 0.05 且 Knox 比 ≥ 1.2 的时空带：无风险区",
                         "no band with p <= 0.05 and Knox ratio >= 1.2: no zones")]
        emit(rep, fmt, out, columns=list(ZONE_HEADERS), headers=ZONE_HEADERS, digits=0,
             summary=summary)
        return
    rep = knox_report(sc, vis, cumulative=cumulative, **options)  # type: ignore[arg-type]
    pv = rep.provenance
    summary = [(f"发案 {pv['incidents']:,} 起，{pv['space_m'][-1]:g} 米内案件对 "
                f"{pv['pairs_within_largest_band']:,}；置换 {pv['permutations']} 次（种子 "
                f"{pv['seed']}）",
                f"{pv['incidents']:,} incidents, {pv['pairs_within_largest_band']:,} pairs "
                f"within {pv['space_m'][-1]:g} m; {pv['permutations']} permutations "
                f"(seed {pv['seed']})")]
    emit(rep, fmt, out, columns=list(KNOX_HEADERS), headers=KNOX_HEADERS, digits=3,
         summary=summary, headers_en=KNOX_HEADERS_EN)


class AlertLevel(str, Enum):
    """Units of the series."""

    community = "community"
    district = "district"


class AlertMethod(str, Enum):
    """Detection methods."""

    auto = "auto"
    ears = "ears"
    farrington = "farrington"


class Ears(str, Enum):
    """EARS variants."""

    c1 = "c1"
    c2 = "c2"
    c3 = "c3"


def alerts_cmd(
    ctx: typer.Context,
    level: Annotated[AlertLevel, typer.Option(
        help="community: weekly series per community; district: daily series per district.")
    ] = AlertLevel.community,
    as_of: AsOfOpt = None,
    method: Annotated[AlertMethod, typer.Option(
        help="auto: improved Farrington with two years of history, EARS otherwise.")
    ] = AlertMethod.auto,
    ears: Annotated[Ears, typer.Option(help="EARS variant.")] = Ears.c2,
    fdr: Annotated[float, typer.Option(
        help="q value (Benjamini-Hochberg across the units) an alert needs.")] = 0.1,
    all_units: Annotated[bool, typer.Option(
        "--all", help="Every unit's test, not only the alerts.")] = False,
    category: CategoryOpt = None,
    district: DistrictOpt = None,
    subdistrict: SubdistrictOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """Early-warning alerts (预警): EARS and the improved Farrington method, FDR-controlled."""
    from api.services.alerts import alerts_report

    sc, vis = context_and_admin(ctx)
    rep = alerts_report(sc, vis, level=level.value, as_of=_date(as_of),
                        categories=category or [], method=method.value, ears=ears.value,
                        fdr=fdr, alerts_only=not all_units,
                        selection=_selection(sc, vis, district, subdistrict))
    pv = rep.provenance
    alerting = int(rep.frame["alert"].sum())
    methods = ", ".join(f"{k} {v}" for k, v in pv["methods_run"].items())
    summary = [(f"截至 {pv['as_of']}：{pv['units_tested']} 个单元中预警 {alerting} 个；"
                f"所用方法: {methods}",
                f"as of {pv['as_of']}: {alerting} alerts among {pv['units_tested']} units; "
                f"methods run: {methods}")]
    if fmt is Fmt.table:
        rep = Report(rep.frame.sort_values(["alert", "q_value"], ascending=[False, True]),
                     pv, rep.title)
    emit(rep, fmt, out, columns=list(ALERT_HEADERS), headers=ALERT_HEADERS, digits=3,
         summary=summary, headers_en=ALERT_HEADERS_EN)


def register(app: typer.Typer) -> None:
    """Add the near-repeat and alert commands to the ``pingan`` app."""
    app.command("near-repeat")(near_repeat_cmd)
    app.command("alerts")(alerts_cmd)
