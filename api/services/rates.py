"""Case rates, roll-ups, trends and hot spots over stored incidents, as each caller may see them.

Counts come from indexed ``GROUP BY`` queries on the stored assignment (:mod:`api.store`); geo
turns them into rates (:mod:`geo.rates`) and hot spots (:mod:`geo.hotspots`). Every function
takes the caller's :class:`api.release.Visibility`:

- an exact caller (admin; a liaison inside their world) gets figures computed from exact
  counts of the incidents and communities of their world;
- a protected caller (planner, client) gets figures computed from released counts: each unit
  (community, roll-up, month, cell) is counted with the sum of its incidents' record keys and
  released by the cell-key method before any rate, smoothed rate, change, test or hot-spot
  class is derived from it (:mod:`geo.release`).

Results are cached per data version and the caller's world.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.release import (
    Selection,
    Visibility,
    classes_only,
    release_provenance,
    released_columns,
)
from api.services import Report, ServiceContext, generated_at, period_provenance
from api.services.aggregates import cells_in, grid_cell_counts
from api.services.categories import resolve_categories
from api.services.units import (
    LEVELS,
    check_level,
    level_zh,
    unit_geometries,
    unit_of,
    unit_table,
    world_communities,
)
from geo.cases import CaseCounts
from geo.completeness import covered_districts
from geo.errors import ParameterError
from geo.grid import Grid
from geo.hotspots import HotspotResult, community_hotspots, grid_hotspots
from geo.period import Period
from geo.rates import RatesResult, compute_rates
from geo.release import ReleasedCounts, release_counts
from geo.rollup import roll_up
from geo.trends import hour_weekday_profile

__all__ = ["LEVELS", "compare_covered", "hotspot_result", "hotspots_report", "rates_of_counts",
           "rates_report", "rates_result", "released_rates", "trend_report"]

UNASSIGNED_NAME = "不在任何社区 (unassigned)"

_RATE_COLUMNS = ["cases", "population", "population_rule", "case_rate_per_10k",
                 "case_rate_per_10k_annual", "case_rate_eb_per_10k_annual", "compare_cases",
                 "compare_case_rate_per_10k_annual", "case_change_pct", "p_change", "p_rise",
                 "q_change", "q_rise", "case_rise_significant", "change_class",
                 "no_population"]

#: What a protected caller may receive of a rates report.
PROTECTED_RATE_COLUMNS = ("code", "name", "subdistrict", "district", "communities",
                          "population", "cases", "case_rate_per_10k",
                          "case_rate_per_10k_annual", "case_rate_eb_per_10k_annual",
                          "compare_cases", "compare_case_rate_per_10k_annual",
                          "case_change_pct", "q_rise", "case_rise_significant",
                          "change_class", "suppressed")

_CURRENT_DERIVED = ("case_rate_per_10k", "case_rate_per_10k_annual",
                    "case_rate_eb_per_10k_annual")
_CHANGE_DERIVED = ("compare_case_rate_per_10k_annual", "case_change_pct", "p_change",
                   "p_rise", "q_change", "q_rise", "case_rise_significant", "change_class")


def _categories(categories: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({c.strip() for c in categories if c and c.strip()}))


def _check_compare(compare: str | None) -> str | None:
    if compare in (None, "", "none"):
        return None
    if compare not in ("previous", "last-year"):
        raise ParameterError(f"compare must be 'previous' or 'last-year'; got {compare!r}",
                             parameter="compare")
    return compare


def population_table(ctx: ServiceContext) -> pd.DataFrame:
    """The population-by-year table (code, year, population), cached per data version."""
    def load() -> pd.DataFrame:
        with ctx.engine.connect() as conn:
            return store.read_population(conn)
    return ctx.cached("population_table", (), load)


def compare_covered(ctx: ServiceContext, comms: pd.DataFrame, period: Period) -> pd.Series:
    """Whether the incident loads wholly cover ``period``, per community code.

    A community is covered when its district's covered days (:mod:`geo.completeness`, from
    ``load_coverage``) hold every day of the period.
    """
    def load() -> pd.DataFrame:
        with ctx.engine.connect() as conn:
            return store.read_coverage(conn)
    coverage = ctx.cached("load_coverage", (), load)
    districts = comms["district_code"].astype(object).where(comms["district_code"].notna(),
                                                            None).tolist()
    by_district = covered_districts(coverage, period.start, period.last_day, districts)
    return pd.Series(by_district.to_numpy(dtype=bool), index=comms["code"].astype(str).to_numpy())


# --- exact rates ------------------------------------------------------------------------------


def rates_result(ctx: ServiceContext, vis: Visibility, period: Period | str, *,
                 compare: str | None = None, categories: Sequence[str] = ()) -> RatesResult:
    """Community case rates of a period from exact counts, inside an exact caller's world.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller; must be exact (a protected caller's figures come from
        :func:`released_rates`).
    period
        The period.
    compare
        ``previous``, ``last-year`` or ``None``.
    categories
        Count only these categories (already checked against the caller's release space).

    Returns
    -------
    geo.rates.RatesResult

    Raises
    ------
    geo.errors.ParameterError
        If ``compare`` is unknown.
    """
    if vis.protected:
        raise PermissionError("rates_result computes from exact counts; a protected caller "
                              "gets released_rates")
    p = ctx.period(period)
    compare = _check_compare(compare)
    cats = _categories(categories)

    def compute() -> RatesResult:
        definition = ctx.case_definition
        world = vis.community_filter()
        with ctx.engine.connect() as conn:
            counts = store.count_cases(conn, p, definition, timezone=ctx.timezone,
                                       categories=cats, communities=world)
            compare_counts = None
            if compare:
                compare_counts = store.count_cases(conn, p.compare_period(compare), definition,
                                                   timezone=ctx.timezone, categories=cats,
                                                   communities=world)
        return rates_of_counts(ctx, vis, counts, compare_counts=compare_counts,
                               compare=compare)

    return ctx.cached("rates", (p.label, compare, cats), compute, vis=vis)


def rates_of_counts(ctx: ServiceContext, vis: Visibility, counts: CaseCounts, *,
                    compare_counts: CaseCounts | None = None, compare: str | None = None
                    ) -> RatesResult:
    """Rates of an exact caller's world from case counts, wherever the counts were made.

    The database path (:func:`rates_result`) and a batch over an archive (:mod:`api.batch`)
    both end here, so the populations (by year, else the boundaries'), the comparison's
    coverage and the rates are found one way.
    """
    comms = world_communities(ctx, vis)
    years = population_table(ctx)
    years = years[years["code"].isin(comms["code"])]
    boundary = pd.Series(comms["population"].to_numpy(), index=comms["code"].to_numpy())
    populations: Any = years if len(years) else boundary
    covered = (compare_covered(ctx, comms, counts.period.compare_period(compare)) if compare
               else None)
    return compute_rates(counts, populations,
                         boundary_populations=boundary if len(years) else None,
                         compare_counts=compare_counts, compare_covered=covered)


def _rates_provenance(ctx: ServiceContext, result: RatesResult, **extra: Any) -> dict[str, Any]:
    prov = period_provenance(result.period, ctx.timezone)
    if result.compare_period is not None:
        prov["compare_period"] = result.compare_period.label
    population = [n for n in result.notes if n.startswith("population")]
    prov.update({
        "data_version": ctx.data_version(),
        **({"population": population[0]} if population else {}),
        "case_definition": result.case_definition.as_sql_lists(),
        "left_out": {"unassigned": result.unassigned, "no_location": result.no_location,
                     "not_counted": result.not_counted},
        "notes": list(result.notes),
        "generated_at": generated_at(),
    })
    prov.update(extra)
    return prov


def _exact_rates_frame(ctx: ServiceContext, vis: Visibility, result: RatesResult,
                       level: str) -> pd.DataFrame:
    comms = world_communities(ctx, vis)
    if level == "community":
        frame = result.frame.reindex(columns=[c for c in _RATE_COLUMNS
                                              if c in result.frame.columns])
        base = comms[["code", "name", "subdistrict", "district", "geometry"]]
        out = base.merge(frame, left_on="code", right_index=True, how="left")
        out["cases"] = out["cases"].fillna(0).astype("int64")
        if vis.unassigned:
            unassigned = pd.DataFrame([{"code": "unassigned", "name": UNASSIGNED_NAME,
                                        "cases": result.unassigned}])
            if result.compare_period is not None:
                unassigned["compare_cases"] = result.compare_unassigned
            out = pd.concat([out, unassigned], ignore_index=True)
        return out
    rolled = roll_up(result, comms, level=level)
    out = rolled.frame.reset_index()
    if not vis.unassigned:
        out = out[out["code"] != "unassigned"]
    return out.merge(unit_geometries(ctx, vis, level), on="code", how="left")


# --- released rates ---------------------------------------------------------------------------


def _unit_counts(ctx: ServiceContext, vis: Visibility, period: Period,
                 cats: tuple[str, ...], level: str) -> pd.DataFrame:
    """Exact counts and key sums per unit of a level, zero-filled over the caller's units."""
    comms = world_communities(ctx, vis)
    query = store.IncidentQuery(period=period, timezone=ctx.timezone, categories=cats,
                                communities=tuple(comms["code"]),
                                case_definition=ctx.case_definition)
    with ctx.engine.connect() as conn:
        counts = store.count_keyed(conn, query, by=("community_code",))
    unit = counts["community_code"].map(unit_of(comms, level))
    grouped = counts.groupby(unit.to_numpy())[["count", "key_sum"]].sum()
    units = unit_table(ctx, vis, level, period)["code"]
    return grouped.reindex(units, fill_value=0)


def _released(counts: pd.DataFrame, vis: Visibility) -> ReleasedCounts:
    return release_counts(counts["count"].to_numpy(dtype=np.int64),
                          counts["key_sum"].to_numpy(dtype=np.int64), min_count=vis.min_count)


def _as_case_counts(ctx: ServiceContext, rel: ReleasedCounts, codes: pd.Index,
                    period: Period) -> CaseCounts:
    frame = pd.DataFrame({"community_code": codes.astype(str),
                          "cases": np.round(rel.value).astype(np.int64)})
    return CaseCounts(frame, period, case_definition=ctx.case_definition,
                      timezone=ctx.timezone)


def _unit_populations(ctx: ServiceContext, vis: Visibility, level: str,
                      period: Period) -> pd.Series:
    """Mean residents of each unit over the period (the rule of :mod:`geo.exposure`)."""
    units = unit_table(ctx, vis, level, period)
    return pd.Series(units["population"].to_numpy(), index=units["code"].astype(str))


def released_rates(ctx: ServiceContext, vis: Visibility, period: Period | str, *,
                   compare: str | None = None, level: str = "community",
                   categories: Sequence[str] = ()) -> pd.DataFrame:
    """Rates of every unit of a level from counts released by the cell-key method.

    Each unit's count (and its comparison count) is released with its own record-key sum;
    rates, the smoothed rate, the change and its test are then computed from the released
    counts exactly as for exact counts, and every figure of a unit with a hidden count — of
    either period — is withheld.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller (protected).
    period, compare, level, categories
        As for :func:`rates_report`.

    Returns
    -------
    pandas.DataFrame
        One row per unit: code, name, population, ``cases`` (released: an int or ``"<3"``),
        the rate columns, and ``suppressed``.
    """
    p = ctx.period(period)
    compare = _check_compare(compare)
    check_level(level)
    cats = _categories(categories)

    def compute() -> pd.DataFrame:
        units = unit_table(ctx, vis, level, p)
        cur = _unit_counts(ctx, vis, p, cats, level)
        rel = _released(cur, vis)
        counts = _as_case_counts(ctx, rel, cur.index, p)
        cmp_rel, compare_counts, compare_pops, by_unit = None, None, None, None
        if compare:
            q = p.compare_period(compare)
            cmp = _unit_counts(ctx, vis, q, cats, level)
            cmp_rel = _released(cmp, vis)
            compare_counts = _as_case_counts(ctx, cmp_rel, cmp.index, q)
            compare_pops = _unit_populations(ctx, vis, level, q)
            comms = world_communities(ctx, vis)
            by_unit = compare_covered(ctx, comms, q).groupby(
                unit_of(comms, level).reindex(comms["code"]).to_numpy()).all()
        result = compute_rates(counts, _unit_populations(ctx, vis, level, p),
                               compare_counts=compare_counts, compare_populations=compare_pops,
                               compare_covered=by_unit)
        frame = result.frame.reindex(units["code"].to_numpy())
        out = units.drop(columns=["population"]).merge(
            frame.drop(columns=["cases", "compare_cases"], errors="ignore"),
            left_on="code", right_index=True, how="left")
        out["cases"] = rel.shown
        hidden = rel.hidden.copy()
        if cmp_rel is not None:
            out["compare_cases"] = cmp_rel.shown
            # No derived figure stands beside a hidden count: a row with either period's
            # count hidden shows its two counts (or "<3") and nothing computed from them.
            hidden = hidden | cmp_rel.hidden
            for col in _CHANGE_DERIVED:
                if col in out.columns:
                    out[col] = out[col].astype(object)
                    out.loc[hidden, col] = None
        for col in _CURRENT_DERIVED:
            if col in out.columns:
                out.loc[hidden, col] = np.nan
        if level != "community":
            out = out.drop(columns=["case_rate_eb_per_10k_annual"], errors="ignore")
        out["suppressed"] = hidden
        return out

    return ctx.cached("released_rates", (p.label, compare, level, cats), compute, vis=vis)


# --- reports ----------------------------------------------------------------------------------


def rates_report(ctx: ServiceContext, vis: Visibility, *, period: Period | str | None,
                 compare: str | None = None, level: str = "community",
                 categories: Sequence[str] = (), selection: Selection | None = None) -> Report:
    """Case rates per community or rolled up, as the caller may see them.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    period
        The period (default: the year of the latest incident). A protected caller's period
        is a whole month, quarter or year.
    compare
        ``previous``, ``last-year`` or ``None``.
    level
        ``community``, ``subdistrict``, ``district`` or ``city``.
    categories
        Only these categories (a protected caller names category groups).
    selection
        Only these communities' rows (units of a roll-up that hold one of them).

    Returns
    -------
    Report
        A GeoDataFrame (EPSG:4326; units dissolved from their communities) with ``code``,
        ``name`` and the rate columns; for admin, an ``unassigned`` line without geometry.
    """
    check_level(level)
    p = vis.check_period(ctx.period(period))
    chosen = resolve_categories(ctx, vis, categories)
    cats = chosen.raw
    if vis.protected:
        frame = released_rates(ctx, vis, p, compare=compare, level=level, categories=cats)
        frame = frame.merge(unit_geometries(ctx, vis, level), on="code", how="left")
        frame = released_columns(frame, PROTECTED_RATE_COLUMNS, vis=vis)
        prov = period_provenance(p, ctx.timezone)
        if compare:
            prov["compare_period"] = p.compare_period(compare).label
        prov.update({"data_version": ctx.data_version(), "generated_at": generated_at(),
                     "case_definition": ctx.case_definition.as_sql_lists()})
    else:
        result = rates_result(ctx, vis, p, compare=compare, categories=cats)
        frame = _exact_rates_frame(ctx, vis, result, level)
        prov = _rates_provenance(ctx, result)
    frame = _select_units(ctx, vis, frame, level, selection)
    prov.update({"level": level, "categories": list(categories), **chosen.provenance(),
                 **(selection.provenance() if selection else {})})
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    title = f"case rates by {level}, {p.label}" + (
        f" vs {p.compare_period(compare).label}" if compare else "")
    title_zh = f"万人发案率（{level_zh(level)}），{p.label}" + (
        f" 对比 {p.compare_period(compare).label}" if compare else "")
    return Report(gdf, release_provenance(prov, vis=vis), title, title_zh)


def _select_units(ctx: ServiceContext, vis: Visibility, frame: pd.DataFrame, level: str,
                  selection: Selection | None) -> pd.DataFrame:
    """Rows of the units that hold a selected community (the unassigned line only unselected)."""
    if selection is None or selection.communities is None:
        return frame.reset_index(drop=True)
    comms = world_communities(ctx, vis)
    chosen = comms[comms["code"].isin(selection.communities)]
    units = set(chosen["code"].map(unit_of(comms, level)).dropna())
    return frame[frame["code"].isin(units)].reset_index(drop=True)


def trend_report(ctx: ServiceContext, vis: Visibility, *, period: Period | str | None,
                 by: str = "month", selection: Selection | None = None,
                 categories: Sequence[str] = ()) -> Report:
    """Monthly series or the hour × weekday profile of a selection or the caller's whole world.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller; a protected caller gets monthly series only, each month's count
        released by the cell-key method.
    period
        The period.
    by
        ``month`` or ``hour-weekday``.
    selection
        The communities counted (default: the caller's world; for admin every case, assigned
        or not).
    categories
        Only these categories.

    Returns
    -------
    Report
        ``month``: columns code, month, days, cases. ``hour-weekday``: columns code, weekday
        (0 = Monday), hour (local) and cases, 168 rows.

    Raises
    ------
    geo.errors.ParameterError
        If ``by`` is unknown, or an hour breakdown is asked by a protected caller.
    """
    if by not in ("month", "hour-weekday"):
        raise ParameterError(f"by must be 'month' or 'hour-weekday'; got {by!r}",
                             parameter="by")
    vis.check_hour_filter(by == "hour-weekday", parameter="by")
    p = vis.check_period(ctx.period(period))
    named = resolve_categories(ctx, vis, categories)
    cats = named.raw
    chosen = selection.communities if selection is not None else None
    scope = chosen if chosen is not None else vis.community_filter()
    code = _trend_code(selection)
    if vis.protected:
        frame = _released_months(ctx, vis, p, cats, selection, code)
    else:
        frame = ctx.cached("trend", (p.label, by, scope, cats),
                           lambda: _exact_trend(ctx, p, by, cats, scope, code), vis=vis)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "by": by,
                 "community": code if code != "city" else None,
                 "categories": list(categories), **named.provenance(),
                 "case_definition": ctx.case_definition.as_sql_lists(),
                 "generated_at": generated_at(),
                 **(selection.provenance() if selection else {})})
    by_zh = "按月" if by == "month" else "按星期×小时"
    return Report(frame, release_provenance(prov, vis=vis), f"cases by {by}, {p.label}, {code}",
                  f"发案数（{by_zh}），{p.label}，{'全市' if code == 'city' else code}")


def _trend_code(selection: Selection | None) -> str:
    if selection is None or not selection.params:
        return "city"
    params = dict(selection.params)
    if "community" in params and "," not in params["community"]:
        return params["community"]
    return ";".join(f"{k}={v}" for k, v in selection.params)


def _exact_trend(ctx: ServiceContext, p: Period, by: str, cats: tuple[str, ...],
                 scope: tuple[str, ...] | None, code: str) -> pd.DataFrame:
    if by == "month":
        return monthly_cases(ctx, p, cats, scope, code)
    query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                communities=scope, case_definition=ctx.case_definition)
    with ctx.engine.connect() as conn:
        records = store.read_case_records(conn, query)
    # The city series counts every case, assigned to a community or not.
    records = records.assign(community_code=pd.array([code] * len(records), dtype="string"))
    out = hour_weekday_profile(records, p, timezone=ctx.timezone, community_codes=[code])
    return out.rename(columns={"community_code": "code"})


def monthly_cases(ctx: ServiceContext, p: Period, cats: tuple[str, ...],
                  scope: tuple[str, ...] | None, code: str) -> pd.DataFrame:
    """Cases of a selection per local month of a period, as :func:`geo.trends.monthly_series`.

    Every case counts, assigned to a community or not; each month is clipped to the period
    and counted by one query (read from the period tables when they can answer it, see
    :mod:`api.period_tables`), so no incident row is fetched.

    Returns
    -------
    pandas.DataFrame
        ``code`` (``code`` on every row), ``month`` (``YYYY-MM``), ``days`` (of the month
        inside the period) and ``cases``, one row per month the period touches.
    """
    months = [Period("range", max(m.start, p.start), min(m.end, p.end)) for m in _months_of(p)]
    with ctx.engine.connect() as conn:
        cases = [int(store.count_keyed(conn, store.IncidentQuery(
            period=m, timezone=ctx.timezone, categories=cats, communities=scope,
            case_definition=ctx.case_definition), by=())["count"].iloc[0]) for m in months]
    return pd.DataFrame({"code": pd.array([code] * len(months), dtype="string"),
                         "month": pd.array([f"{m.start.year:04d}-{m.start.month:02d}"
                                            for m in months], dtype="string"),
                         "days": np.array([m.days for m in months], dtype=np.int64),
                         "cases": np.array(cases, dtype=np.int64)})


def _released_months(ctx: ServiceContext, vis: Visibility, p: Period, cats: tuple[str, ...],
                     selection: Selection | None, code: str) -> pd.DataFrame:
    """Monthly counts of a selection released by the cell-key method.

    A selection that is one release unit (a community, a subdistrict, a district, or the
    whole world) is counted as that unit, month by month, each unit-month its own cell. Any
    other selection (several communities, a bbox) is the sum of its communities' released
    unit-months: a protected caller never gets a count of an arbitrary set of incidents,
    which could be differenced against another.
    """
    comms = world_communities(ctx, vis)
    units = _selection_units(comms, selection)

    def compute() -> pd.DataFrame:
        months = _months_of(p)
        shown: list[object] = []
        hidden: list[int] = []
        with ctx.engine.connect() as conn:
            for m in months:
                query = store.IncidentQuery(period=m, timezone=ctx.timezone, categories=cats,
                                            communities=tuple(comms["code"]),
                                            case_definition=ctx.case_definition)
                counts = store.count_keyed(conn, query, by=("community_code",))
                s, h = _released_sum(counts, units, vis)
                shown.append(s)
                hidden.append(h)
        frame = pd.DataFrame({"code": code, "month": [m.label for m in months],
                              "days": [m.days for m in months], "cases": shown,
                              "suppressed": [h > 0 for h in hidden]})
        if len(units) > 1:
            frame["units_hidden"] = hidden
        return frame
    return ctx.cached("released_trend", (p.label, units, cats), compute, vis=vis)


def _selection_units(comms: gpd.GeoDataFrame, selection: Selection | None
                     ) -> tuple[tuple[str, ...], ...]:
    """The release units a selection is made of: groups of community codes."""
    if selection is None or selection.communities is None:
        return (tuple(comms["code"]),)
    params = dict(selection.params)
    named = {k for k in params if k in ("district", "subdistrict", "community")}
    single_community = "community" in params and "," not in params["community"]
    if "bbox" not in params and (named <= {"district", "subdistrict"} or single_community):
        return (selection.communities,)
    return tuple((c,) for c in selection.communities)


def _released_sum(counts: pd.DataFrame, units: tuple[tuple[str, ...], ...], vis: Visibility
                  ) -> tuple[object, int]:
    """Released count of one unit, or the sum of several units' released counts.

    Returns the count shown (``"<3"`` for one hidden unit) and how many units were hidden
    (left out of a sum).
    """
    by_code = counts.set_index("community_code")
    n = np.array([int(by_code["count"].reindex(list(u)).fillna(0).sum()) for u in units])
    k = np.array([int(by_code["key_sum"].reindex(list(u)).fillna(0).sum()) for u in units])
    rel = release_counts(n, k, min_count=vis.min_count)
    if len(units) == 1:
        return rel.shown[0], int(rel.hidden[0])
    total = int(np.round(rel.value[~rel.hidden]).sum())
    return total, int(rel.hidden.sum())


def _months_of(p: Period) -> list[Period]:
    from geo.period import parse_period

    out = []
    y, m = p.start.year, p.start.month
    while True:
        month = parse_period(f"{y}-{m:02d}")
        if month.start >= p.end:
            break
        out.append(month)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# --- hot spots --------------------------------------------------------------------------------


def hotspot_result(ctx: ServiceContext, vis: Visibility, *, period: Period | str,
                   on: str = "rate", cell_m: float | None = None,
                   categories: Sequence[str] = (), fdr: bool = False) -> HotspotResult:
    """Gi* hot spots of smoothed community rates or of a grid of incident counts (cached).

    An exact caller's statistics come from the exact counts of their world; a protected
    caller's from released counts (the smoothed rates of :func:`released_rates`, or cell counts
    released by the cell-key method), and only their classes leave (:func:`hotspots_report`).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    period
        The period.
    on
        ``rate`` (communities, smoothed annualised rate) or ``grid`` (square cells).
    cell_m
        Grid cell size in metres (default the ``geo.grid_cell_m`` setting, 250).
    categories
        Only these categories.
    fdr
        Class on Benjamini–Hochberg adjusted p-values.

    Returns
    -------
    geo.hotspots.HotspotResult
    """
    if on not in ("rate", "grid"):
        raise ParameterError(f"on must be 'rate' or 'grid'; got {on!r}", parameter="on")
    p = ctx.period(period)
    cats = _categories(categories)
    cell = vis.check_cell(float(cell_m or ctx.settings.geo.grid_cell_m))
    g = ctx.settings.geo

    def compute() -> HotspotResult:
        comms = world_communities(ctx, vis)
        if on == "rate":
            if vis.protected:
                rates = released_rates(ctx, vis, p, categories=cats).set_index("code")
                values = pd.to_numeric(rates["case_rate_eb_per_10k_annual"], errors="coerce")
            else:
                values = rates_result(ctx, vis, p, categories=cats).frame[
                    "case_rate_eb_per_10k_annual"]
            values = values.dropna()
            values = values[values.index.isin(comms["code"])]
            return community_hotspots(comms, values, permutations=g.permutations, seed=g.seed,
                                      fdr=fdr)
        if vis.protected:
            return _released_grid_hotspots(ctx, vis, p, cats, cell, fdr)
        query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                    communities=vis.community_filter(),
                                    case_definition=ctx.case_definition)
        with ctx.engine.connect() as conn:
            points = store.read_incidents(conn, query)
        points = points[~points.geometry.isna()]
        return grid_hotspots(points, comms, cell_m=cell, metric_crs=ctx.metric_crs(),
                             permutations=g.permutations, seed=g.seed, fdr=fdr)

    return ctx.cached("hotspots", (p.label, on, cell, cats, fdr), compute, vis=vis)


def _released_grid_hotspots(ctx: ServiceContext, vis: Visibility, p: Period,
                            cats: tuple[str, ...], cell: float, fdr: bool) -> HotspotResult:
    """Gi* over released cell counts: cells of the grid meeting the world's communities."""
    grid = Grid(cell, ctx.metric_crs())
    cells, _ = grid_cell_counts(ctx, vis, grid, period=p, categories=cats,
                                definition=ctx.case_definition,
                                scope=tuple(world_communities(ctx, vis)["code"]))
    rel = release_counts(cells["count"].to_numpy(dtype=np.int64),
                         cells["key_sum"].to_numpy(dtype=np.int64), min_count=vis.min_count)
    ids = grid.ids(cells["ix"], cells["iy"])
    polys = gpd.GeoDataFrame({"code": ids}, geometry=grid.polygons_wgs84(cells["ix"],
                                                                           cells["iy"]),
                             crs="EPSG:4326")
    g = ctx.settings.geo
    result = community_hotspots(polys, pd.Series(rel.value, index=ids),
                                permutations=g.permutations, seed=g.seed, fdr=fdr)
    frame = gpd.GeoDataFrame(result.frame.reindex(ids), geometry=polys.geometry.to_numpy(),
                             crs="EPSG:4326")
    frame["ix"] = cells["ix"].to_numpy()
    frame["iy"] = cells["iy"].to_numpy()
    frame["value"] = rel.shown
    frame["suppressed"] = rel.hidden
    return HotspotResult(frame=frame, unit="cell", weights=result.weights,
                         permutations=result.permutations, seed=result.seed, fdr=fdr,
                         islands=result.islands, metric_crs=grid.crs, cell_m=cell,
                         notes=())


#: What a protected caller may receive of a hot-spot report.
PROTECTED_HOTSPOT_COLUMNS = ("code", "name", "subdistrict", "district", "cell_id", "ix", "iy",
                             "hotspot_class")


def hotspots_report(ctx: ServiceContext, vis: Visibility, *, period: Period | str | None,
                    on: str = "rate", cell_m: float | None = None,
                    categories: Sequence[str] = (), fdr: bool = False,
                    selection: Selection | None = None) -> Report:
    """Hot spots as a report (see :func:`hotspot_result` for the parameters).

    Returns
    -------
    Report
        A GeoDataFrame (EPSG:4326) of communities or cells. Exact callers get ``value``,
        ``hotspot_gi_z``, ``p_value`` and ``hotspot_class``; protected callers the class only
        (no z, p or simulated value), with ``"<3"`` for units whose count is hidden.
    """
    p = vis.check_period(ctx.period(period))
    chosen = resolve_categories(ctx, vis, categories)
    cats = chosen.raw
    result = hotspot_result(ctx, vis, period=p, on=on, cell_m=cell_m, categories=cats,
                            fdr=fdr)
    comms = world_communities(ctx, vis)
    frame = result.frame.reset_index()
    hidden = None
    if on == "rate":
        frame = comms[["code", "name", "subdistrict", "district", "geometry"]].merge(
            frame, on="code", how="left")
        frame["hotspot_class"] = frame["hotspot_class"].fillna("no_value")
        if vis.protected:
            rates = released_rates(ctx, vis, p, categories=cats).set_index("code")
            hidden = frame["code"].map(rates["suppressed"]).fillna(False).to_numpy(dtype=bool)
    else:
        frame = frame.rename(columns={"code": "cell_id"})
        if selection is not None and selection.communities is not None:
            frame = cells_in(frame, comms, selection.communities)
        if vis.protected:
            hidden = frame["suppressed"].to_numpy(dtype=bool)
    frame = classes_only(frame, vis=vis, hidden=hidden, keep=PROTECTED_HOTSPOT_COLUMNS)
    if on == "rate":
        frame = _select_units(ctx, vis, frame, "community", selection)
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "on": on, "unit": result.unit,
        "weights": result.weights, "permutations": result.permutations, "seed": result.seed,
        "fdr": result.fdr, "islands": list(result.islands),
        "metric_crs": result.metric_crs.to_string() if result.metric_crs is not None else None,
        "cell_m": result.cell_m,
        **({"categories": list(categories)} if categories else {}), **chosen.provenance(),
        "left_out": {"coarse_location": result.coarse_location,
                     "no_location": result.no_location, "outside_grid": result.outside_grid},
        "notes": list(result.notes), "generated_at": generated_at(),
        **(selection.provenance() if selection else {}),
    })
    on_zh = "平滑发案率" if on == "rate" else "网格发案数"
    return Report(gdf, release_provenance(prov, vis=vis), f"hot spots ({on}), {p.label}",
                  f"热点分析（{on_zh}），{p.label}")
