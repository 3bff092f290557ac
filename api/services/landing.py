"""The landing dashboard of the web workspace: the caller's jurisdiction at a glance.

:func:`landing` gathers, for the caller's world (:mod:`api.release`), what the other services
already compute and release, and only picks rows from their reports:

- the latest whole week and month of the caller's data (ending on or before its latest day,
  so a period the data reach only in part is never compared with whole ones) against the
  previous period and the same period a year before
  (:func:`api.services.rates.rates_report` at the ``city`` level of the caller's world: cases,
  万人发案率, change and the one-sided test of a rise with its q value); a planner or client
  sees whole months only, so their week is left out and said so;
- the creation rate (创建率) of the standard this year and last year, and its change
  (:func:`api.services.standard.standard_report`);
- coverage shares of each stored facility type and of cameras and compounds
  (:mod:`api.services.coverage`);
- the ten communities whose annualised rate rose most in that month;
- the current early-warning alerts (:func:`api.services.alerts.alerts_report`) and, for admin
  and liaison keys, the near-repeat risk zones (:func:`api.services.nearrepeat.risk_zones_report`,
  with the JSON route's defaults, so both share one cached computation);
- the standard's 待改进 list: communities that do not meet the standard, lowest score first.

Every figure is the service's, released for the caller as the JSON API releases it: a value the
release rules withhold (``"<3"``, ``None``) stays withheld. A part that cannot be computed (no
facilities, too little history) is left out with a note rather than failing the page.

The page draws at once what is cheap (:func:`landing_shell`: the jurisdiction, the days and the
KPIs, answered from the period tables) and fetches each heavy part (:data:`PARTS`,
:func:`landing_part`) from its own JSON endpoint, so a cold cache delays a part, never the
page. The shell and every part are cached per data version, world and role
(:meth:`ServiceContext.cached`); :func:`landing` gathers them all (briefings, tests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from fastapi.encoders import jsonable_encoder

from api import store
from api.auth import ApiKey
from api.prepared import prepared, stored_key
from api.release import Selection, Visibility, visibility_for, visibility_key
from api.services import ServiceContext
from api.services.alerts import alerts_report, latest_day
from api.services.coverage import coverage_report, protection_report
from api.services.nearrepeat import risk_zones_report
from api.services.rates import rates_report
from api.services.standard import active_profile, standard_report
from geo.errors import ParameterError, PinganError
from geo.period import Period

__all__ = ["KPI_COLUMNS", "PARTS", "Landing", "LandingPart", "LandingShell", "PeriodKpi",
           "creation_rate", "current_alerts", "jurisdiction_names", "landing", "landing_part",
           "landing_shell", "period_kpi", "prepare_landings", "rising_communities",
           "risk_zones_by_community"]

T = TypeVar("T")

#: Columns of a period's KPI rows taken from the rates report (those the caller is given).
KPI_COLUMNS = ("cases", "population", "case_rate_per_10k_annual",
               "compare_cases", "compare_case_rate_per_10k_annual", "case_change_pct",
               "q_rise", "case_rise_significant", "change_class", "suppressed")
#: How many rising communities and to-do communities the page lists.
TOP_N = 10
_COMPARES = ("previous", "last-year")


@dataclass(frozen=True)
class PeriodKpi:
    """One period of the caller's world against the previous period and a year before.

    Attributes
    ----------
    kind
        ``week`` or ``month``.
    period
        The period's label (``2025-W22``, ``2025-06``).
    compare
        ``previous`` / ``last-year`` -> (compared period's label, row of KPI values), the
        values as the rates report releases them (missing keys: not released).
    """

    kind: str
    period: str
    compare: dict[str, tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class LandingShell:
    """The cheap part of the page, drawn at once: the caller, the days and the KPIs.

    ``as_of`` is the day the data reach in the caller's world (``2025-06-17``); to planner
    and client keys only its month (``2025-06``): they are never shown a day.
    ``unmatched`` holds the caller's jurisdiction codes that no community carries (a boundary
    load renamed them): the page names them with a note, never "the whole city".
    """

    role: str
    jurisdiction: list[dict[str, str]]
    as_of: str
    year: str
    month: str
    kpis: list[PeriodKpi]
    notes: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Landing(LandingShell):
    """Everything the landing page shows (see the module docstring): the shell and the parts."""

    creation: dict[str, Any] | None
    coverage: list[dict[str, Any]]
    protection: dict[str, Any] | None
    rising: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    zones: list[dict[str, Any]] | None
    zone_incidents: int
    todo: list[dict[str, Any]]


def _clean(value: Any) -> Any:
    """A JSON-like scalar: NaN/NA become None, numpy scalars plain Python."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def _row(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """The columns of a one-row frame that the report has, cleaned."""
    if frame.empty:
        return {}
    first = frame.iloc[0]
    return {c: _clean(first[c]) for c in columns if c in frame.columns}


def _tried(notes: list[str], what: str, compute: Callable[[], T]) -> T | None:
    """Run one part of the page; a domain error becomes a note, not a failed page."""
    try:
        return compute()
    except PinganError as exc:
        notes.append(f"{what}: {exc}")
        return None


def jurisdiction_names(ctx: ServiceContext, vis: Visibility) -> list[dict[str, str]]:
    """The caller's jurisdictions as code, name and level (empty: the whole city).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.

    Returns
    -------
    list of dict
        ``code``, ``name`` and ``level`` (``district`` or ``subdistrict``) per jurisdiction.
    """
    comms = ctx.communities()
    out = []
    for code in vis.jurisdictions:
        for level in ("district", "subdistrict"):
            hit = comms[comms[f"{level}_code"].astype(str) == code]
            if len(hit):
                out.append({"code": code, "name": str(hit[level].iloc[0]), "level": level})
                break
    return out


def _whole_week(day: dt.date) -> str:
    """The latest ISO week that ends on or before ``day`` (its own week when it is a Sunday).

    A week the data reach only part of would be compared with whole weeks before it: three
    days against seven reads as a fall of 60 %.
    """
    last = day - dt.timedelta(days=(day.weekday() + 1) % 7)
    year, week, _ = last.isocalendar()
    return f"{year}-W{week:02d}"


def _whole_month(day: dt.date) -> str:
    """The latest month that ends on or before ``day`` (as :func:`_whole_week`)."""
    last = day if (day + dt.timedelta(days=1)).day == 1 else day.replace(day=1) - dt.timedelta(
        days=1)
    return f"{last.year}-{last.month:02d}"


def period_kpi(ctx: ServiceContext, vis: Visibility, kind: str, label: str, *,
               level: str = "city", code: str = "city",
               selection: Selection | None = None) -> PeriodKpi:
    """One unit's KPIs of a period against the previous period and the same one a year before.

    Parameters
    ----------
    ctx, vis
        Service context and caller (figures released as :func:`rates_report` releases them).
    kind
        What the period is (``week``, ``month``…), for the page.
    label
        The period.
    level, code
        The unit: ``city`` (the caller's world) or a district or subdistrict code.
    selection
        Passed to :func:`rates_report` (the unit's communities).

    Returns
    -------
    PeriodKpi
    """
    compare: dict[str, tuple[str, dict[str, Any]]] = {}
    for how in _COMPARES:
        rep = rates_report(ctx, vis, period=label, compare=how, level=level,
                           selection=selection)
        unit = rep.frame[rep.frame["code"] == code]
        compare[how] = (str(rep.provenance.get("compare_period", "")), _row(unit, KPI_COLUMNS))
    return PeriodKpi(kind, label, compare)


def _unit_row(frame: pd.DataFrame, code: str, cols: Sequence[str]) -> dict[str, Any]:
    return _row(frame[frame["code"] == code] if "code" in frame.columns else frame, cols)


def creation_rate(ctx: ServiceContext, vis: Visibility, year: Period, *, level: str = "city",
                  code: str = "city", selection: Selection | None = None) -> dict[str, Any]:
    """The standard's status counts and creation rate (创建率) of a unit, a year and the one before.

    Parameters
    ----------
    ctx, vis
        Service context and caller.
    year
        The year evaluated.
    level, code, selection
        The unit, as for :func:`period_kpi`.

    Returns
    -------
    dict
        The status counts, ``creation_rate`` and ``creation_rate_pop``, the previous year's
        label and rate, and the change.
    """
    cols = ("communities", "meets", "partly", "fails", "incomplete", "creation_rate",
            "creation_rate_pop")
    now = _unit_row(standard_report(ctx, vis, period=year, level=level,
                                    selection=selection).frame, code, cols)
    before_label = year.compare_period("previous").label
    try:
        before = _unit_row(standard_report(ctx, vis, period=before_label, level=level,
                                           selection=selection).frame, code, cols)
    except PinganError:
        before = {}
    rate, prev = now.get("creation_rate"), before.get("creation_rate")
    change = None if rate is None or prev is None else rate - prev
    return {**now, "previous_period": before_label, "previous_creation_rate": prev,
            "creation_rate_change": change}


def _coverage(ctx: ServiceContext, vis: Visibility, year: Period, notes: list[str]
              ) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        types = store.facility_types(conn)
    out = []
    cols = ("facility_covered_population_share", "facility_covered_area_share")
    for facility_type in types:
        try:
            rep = coverage_report(ctx, vis, facility_type=facility_type, level="city",
                                  period=year)
        except PinganError as exc:
            notes.append(f"coverage of {facility_type}: {exc}")
        else:
            out.append({"facility_type": facility_type, **_row(rep.frame, cols)})
    return out


def _protection(ctx: ServiceContext, vis: Visibility, year: Period) -> dict[str, Any]:
    rep = protection_report(ctx, vis, period=year, level="city")
    return _row(rep.frame, ("camera_count", "camera_working_ratio", "camera_area_share",
                            "compounds_total", "compound_compliance_ratio"))


def rising_communities(ctx: ServiceContext, vis: Visibility, period: str | Period, *,
                       selection: Selection | None = None) -> list[dict[str, Any]]:
    """The ten communities whose annualised rate rose most against the previous period.

    Parameters
    ----------
    ctx, vis
        Service context and caller.
    period
        The period (a month on the landing).
    selection
        Only these communities.

    Returns
    -------
    list of dict
        Code, names, counts, rates, the rise and its test, as :func:`rates_report` releases them.
    """
    rep = rates_report(ctx, vis, period=period, compare="previous", level="community",
                       selection=selection)
    frame = pd.DataFrame(rep.frame.drop(columns="geometry"))
    frame = frame[frame["code"] != "unassigned"]
    if "compare_case_rate_per_10k_annual" not in frame.columns:
        return []
    now = pd.to_numeric(frame["case_rate_per_10k_annual"], errors="coerce")
    before = pd.to_numeric(frame["compare_case_rate_per_10k_annual"], errors="coerce")
    frame = frame.assign(rate_rise_per_10k_annual=now - before)
    frame = frame[frame["rate_rise_per_10k_annual"] > 0]
    frame = frame.sort_values(["rate_rise_per_10k_annual", "code"], ascending=[False, True])
    cols = ("code", "name", "district", "subdistrict", "cases", "compare_cases",
            "case_rate_per_10k_annual", "compare_case_rate_per_10k_annual",
            "rate_rise_per_10k_annual", "case_change_pct", "q_rise", "case_rise_significant")
    return [{c: _clean(r[c]) for c in cols if c in frame.columns}
            for _, r in frame.head(TOP_N).iterrows()]


def current_alerts(ctx: ServiceContext, vis: Visibility, *, as_of: dt.date | None = None,
                   selection: Selection | None = None) -> list[dict[str, Any]]:
    """The communities' early-warning alerts as of a day (default: the latest incident's)."""
    rep = alerts_report(ctx, vis, level="community", alerts_only=True, as_of=as_of,
                        selection=selection)
    frame = pd.DataFrame(rep.frame.drop(columns="geometry", errors="ignore"))
    cols = ("unit", "name", "last_day", "observed", "expected", "q_value", "method",
            "first_fired")
    return [{c: _clean(r[c]) for c in cols if c in frame.columns} for _, r in frame.iterrows()]


def risk_zones_by_community(ctx: ServiceContext, vis: Visibility, *,
                            as_of: dt.date | None = None, selection: Selection | None = None
                            ) -> tuple[list[dict[str, Any]], int]:
    """Near-repeat risk zones per community (admin and liaison keys), and the incidents behind.

    Raises
    ------
    api.errors.ForbiddenError
        For a caller who may not read raw incidents.
    """
    rep, _ = risk_zones_report(ctx, vis, period=None, as_of=as_of, selection=selection)
    frame = rep.frame
    if frame.empty:
        return [], 0
    names = ctx.communities().set_index("code")["name"]
    grouped = (pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
               .groupby("community_code", dropna=False)
               .agg(zones=("incident_id", "size"), radius_m=("radius_m", "max"),
                    expires_on=("expires_on", "max")).reset_index())
    out = [{"code": _clean(r["community_code"]),
            "name": _clean(names.get(r["community_code"])) if pd.notna(r["community_code"])
            else None, "zones": int(r["zones"]), "radius_m": _clean(r["radius_m"]),
            "expires_on": str(r["expires_on"])} for _, r in grouped.iterrows()]
    return sorted(out, key=lambda z: (-z["zones"], str(z["code"]))), len(frame)


def _todo(ctx: ServiceContext, vis: Visibility, year: Period) -> list[dict[str, Any]]:
    """Communities that do not meet the standard, lowest score first, with their to-do items."""
    rep = standard_report(ctx, vis, period=year, level="community")
    frame = pd.DataFrame(rep.frame.drop(columns="geometry"))
    frame = frame[frame["status"].notna() & (frame["status"] != "meets")]
    frame = frame.sort_values(["score", "code"], ascending=[True, True])
    labels = {c.id: (c.label_zh, c.label_en) for c in active_profile(ctx).criteria}
    out = []
    for _, r in frame.head(TOP_N).iterrows():
        ids = [i for i in str(_clean(r.get("todo")) or "").split(",") if i]
        out.append({"code": r["code"], "name": r["name"], "status": r["status"],
                    "status_zh": _clean(r.get("status_zh")), "score": _clean(r["score"]),
                    "todo": [{"id": i, "label_zh": labels.get(i, (i, i))[0],
                              "label_en": labels.get(i, (i, i))[1]} for i in ids]})
    return out


#: The parts of the dashboard computed apart from its shell (each one a JSON endpoint,
#: ``/api/v1/landing/{part}``), in the order the page shows them.
PARTS = ("creation", "coverage", "rising", "alerts", "zones", "todo")


@dataclass(frozen=True)
class LandingPart:
    """One heavy part of the page (see :data:`PARTS`).

    Attributes
    ----------
    part
        Its name.
    as_of, year, month
        The days it is about (those of the shell).
    value
        ``creation``: a dict or ``None``; ``coverage``: ``{"coverage": [...], "protection":
        {...} | None}``; ``zones``: ``{"zones": [...], "incidents": n}`` (``n`` risk zones'
        source incidents, a raw read to audit); the others: a list of rows.
    notes
        Why something is missing (a part that could not be computed, a facility type).
    """

    part: str
    as_of: str
    year: str
    month: str
    value: Any
    notes: list[str] = field(default_factory=list)


def _days(ctx: ServiceContext, vis: Visibility, as_of: dt.date | None
          ) -> tuple[dt.date, str, Period]:
    # The latest day of the caller's world: a later incident elsewhere is not theirs.
    day = as_of or latest_day(ctx, vis)
    return day, _whole_month(day), vis.check_period(ctx.period(str(day.year)))


def _as_of_label(vis: Visibility, day: dt.date) -> str:
    """The day the page says its data reach: the month only for planner and client keys."""
    return f"{day.year}-{day.month:02d}" if vis.protected else day.isoformat()


def _cache_key(vis: Visibility, as_of: dt.date | None) -> tuple[Any, ...]:
    # The role joins the world: planner and client share a world but not their pages.
    return (as_of, vis.role, vis.jurisdictions, vis.raw)


def landing_shell(ctx: ServiceContext, vis: Visibility, *, as_of: dt.date | None = None
                  ) -> LandingShell:
    """The shell of the dashboard: the caller's jurisdiction, the days and the KPIs.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller; the KPIs are released for them as ``/api/v1/rates`` releases them.
    as_of
        The day "this week" and "this month" hold (default: the day of the latest incident
        in the caller's world).

    Returns
    -------
    LandingShell
        Cached per data version, world and role.
    """
    return ctx.cached("landing-shell", _cache_key(vis, as_of),
                      lambda: _stored_shell(ctx, vis, as_of), vis=vis)


def _inputs(ctx: ServiceContext) -> list[str | None]:
    """What a stored answer depends on besides the data, settings and code.

    The active standard profile's content hash and the category mapping file's.
    """
    path = ctx.settings.cases.categories_map
    mapping = None
    if path is not None:
        try:
            mapping = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            mapping = str(path)
    return [active_profile(ctx).version_key, mapping]


def _stored_shell(ctx: ServiceContext, vis: Visibility, as_of: dt.date | None) -> LandingShell:
    """The shell as stored for this data version, world, role, settings and code (else computed)."""
    day = as_of or latest_day(ctx, vis)
    key = stored_key("landing-shell", [day, *_inputs(ctx)], vis, ctx.settings)
    return prepared(ctx.engine, key, ctx.data_version(),
                    lambda: jsonable_encoder(asdict(_shell(ctx, vis, day))), _shell_of)


def _shell_of(got: dict[str, Any]) -> LandingShell:
    kpis = [PeriodKpi(**k) for k in got.pop("kpis")]
    return LandingShell(**got, kpis=kpis)


def _shell(ctx: ServiceContext, vis: Visibility, as_of: dt.date | None) -> LandingShell:
    notes: list[str] = []
    day, month, year = _days(ctx, vis, as_of)
    kinds = [("month", month)] if vis.protected else [("week", _whole_week(day)), ("month", month)]
    if vis.protected:
        notes.append("week: planner and client keys see whole months, quarters or years only")
    kpis = []
    for kind, label in kinds:
        try:
            kpis.append(period_kpi(ctx, vis, kind, label))
        except PinganError as exc:
            notes.append(f"{kind}: {exc}")
    names = jurisdiction_names(ctx, vis)
    named = {j["code"] for j in names}
    return LandingShell(role=vis.role, jurisdiction=names,
                        unmatched=[c for c in vis.jurisdictions if c not in named],
                        as_of=_as_of_label(vis, day),
                        year=year.label, month=month, kpis=kpis, notes=notes)


def landing_part(ctx: ServiceContext, vis: Visibility, part: str, *,
                 as_of: dt.date | None = None) -> LandingPart:
    """One heavy part of the dashboard, released for the caller.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller; the part is released for them as the JSON API releases it.
    part
        One of :data:`PARTS`.
    as_of
        As for :func:`landing_shell`.

    Returns
    -------
    LandingPart
        Cached per data version, world and role. A part that cannot be computed is empty,
        with a note.

    Raises
    ------
    geo.errors.ParameterError
        If ``part`` is not one of :data:`PARTS`.
    api.errors.ForbiddenError
        ``zones`` for a caller who may not read raw incidents.
    """
    if part not in PARTS:
        raise ParameterError(f"part must be one of {', '.join(PARTS)}; got {part!r}",
                             parameter="part")
    if part == "zones":
        vis.check_raw("near-repeat risk zones (incident positions and days)")
    return ctx.cached(f"landing-{part}", _cache_key(vis, as_of),
                      lambda: _stored_part(ctx, vis, part, as_of), vis=vis)


def _stored_part(ctx: ServiceContext, vis: Visibility, part: str, as_of: dt.date | None
                 ) -> LandingPart:
    """The part as stored for this data version, world, role, settings and code (else computed).

    A restarted server reads what an earlier one (or ``pingan prepare``) computed. The key
    holds the day the part is about (the latest incident day of the world, else today).
    """
    day = as_of or latest_day(ctx, vis)
    key = stored_key(f"landing-{part}", [day, *_inputs(ctx)], vis, ctx.settings)
    return prepared(ctx.engine, key, ctx.data_version(),
                    lambda: jsonable_encoder(asdict(_part(ctx, vis, part, day))),
                    lambda got: LandingPart(**got))


def _part(ctx: ServiceContext, vis: Visibility, part: str, as_of: dt.date | None
          ) -> LandingPart:
    notes: list[str] = []
    day, month, year = _days(ctx, vis, as_of)
    value: Any
    if part == "creation":
        value = _tried(notes, "creation rate", lambda: creation_rate(ctx, vis, year))
    elif part == "coverage":
        value = {"coverage": _coverage(ctx, vis, year, notes),
                 "protection": _tried(notes, "protection", lambda: _protection(ctx, vis, year))}
    elif part == "rising":
        value = _tried(notes, "rising communities",
                       lambda: rising_communities(ctx, vis, month)) or []
    elif part == "alerts":
        value = _tried(notes, "alerts", lambda: current_alerts(ctx, vis)) or []
    elif part == "zones":
        got = _tried(notes, "near-repeat risk zones", lambda: risk_zones_by_community(ctx, vis))
        zones, incidents = got if got is not None else ([], 0)
        value = {"zones": zones, "incidents": incidents}
    else:
        value = _tried(notes, "standard", lambda: _todo(ctx, vis, year)) or []
    return LandingPart(part, _as_of_label(vis, day), year.label, month, value, notes)


def landing(ctx: ServiceContext, vis: Visibility, *, as_of: dt.date | None = None) -> Landing:
    """The landing dashboard of the caller's world: the shell and every part.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller; every part is released for them as the JSON API releases it.
    as_of
        The day "this week" and "this month" hold (default: the day of the latest incident
        in the caller's world).

    Returns
    -------
    Landing
        Made of :func:`landing_shell` and :func:`landing_part`, each cached per data version,
        world and role (the page and its part endpoints share those computations).
    """
    shell = landing_shell(ctx, vis, as_of=as_of)
    parts = {p: landing_part(ctx, vis, p, as_of=as_of) for p in PARTS
             if vis.raw or p != "zones"}
    zones = parts["zones"].value if "zones" in parts else None
    return Landing(
        role=shell.role, jurisdiction=shell.jurisdiction, as_of=shell.as_of, year=shell.year,
        month=shell.month, kpis=shell.kpis, creation=parts["creation"].value,
        coverage=parts["coverage"].value["coverage"],
        protection=parts["coverage"].value["protection"], rising=parts["rising"].value,
        alerts=parts["alerts"].value, zones=None if zones is None else zones["zones"],
        zone_incidents=0 if zones is None else zones["incidents"], todo=parts["todo"].value,
        notes=[*shell.notes, *(n for p in parts.values() for n in p.notes)],
        unmatched=shell.unmatched)


def prepare_landings(ctx: ServiceContext, keys: Sequence[ApiKey],
                     progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Compute and store the dashboards of the worlds of ``keys`` (``pingan prepare``).

    Keys of the same role and jurisdictions share one world, prepared once. A stored dashboard
    (:mod:`api.prepared`) is read by every server of this data version, settings and code, so
    the first visit after a restart or a load costs a read instead of the computations.

    Returns
    -------
    list of dict
        Per world: ``role``, ``jurisdictions`` and ``seconds``.
    """
    worlds = {visibility_key(k): k for k in keys}
    out = []
    for (role, codes), key in sorted(worlds.items()):
        started = time.perf_counter()
        with ctx.engine.connect() as conn:
            vis = visibility_for(conn, key, ctx.settings)
        landing(ctx, vis)
        out.append({"role": role, "jurisdictions": list(codes),
                    "seconds": round(time.perf_counter() - started, 2)})
        if progress is not None:
            progress(f"{role} {','.join(codes) or '(city)'}")
    return out
