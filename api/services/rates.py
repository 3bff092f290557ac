"""Case rates, roll-ups, trends and hot spots over the stored incidents.

Counts come from indexed ``GROUP BY`` queries on the stored assignment (:func:`api.store.
count_cases`); geo turns them into rates (:mod:`geo.rates`) and hot spots (:mod:`geo.hotspots`).
Results are cached per data version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import pandas as pd

from api import store
from api.services import Report, ServiceContext, generated_at, period_provenance
from geo.crs import metric_crs_for
from geo.hotspots import HotspotResult, community_hotspots, grid_hotspots
from geo.period import Period, parse_period
from geo.rates import RatesResult, compute_rates, hour_weekday_profile, monthly_series, roll_up

__all__ = ["LEVELS", "hotspot_result", "hotspots_report", "rates_report", "rates_result",
           "trend_report"]

LEVELS = ("community", "subdistrict", "district", "city")
UNASSIGNED_NAME = "不在任何社区 (unassigned)"

_RATE_COLUMNS = ["cases", "population", "case_rate_per_10k", "case_rate_per_10k_annual",
                 "case_rate_eb_per_10k_annual", "compare_cases",
                 "compare_case_rate_per_10k_annual", "case_change_pct", "p_change", "p_rise",
                 "q_change", "q_rise", "case_rise_significant", "no_population"]


def communities(ctx: ServiceContext) -> gpd.GeoDataFrame:
    """The current communities (cached per data version)."""
    def load() -> gpd.GeoDataFrame:
        with ctx.engine.connect() as conn:
            return store.read_communities(conn)
    return ctx.cached("communities", (), load)


def communities_in_year(ctx: ServiceContext, year: int) -> gpd.GeoDataFrame:
    """The communities with ``population`` of the given year where the population table has it.

    Communities without a row for the year keep the boundary file's population.
    """
    def compute() -> gpd.GeoDataFrame:
        comms = communities(ctx).copy()
        with ctx.engine.connect() as conn:
            table = store.read_population(conn)
        year_pop = table[table["year"] == year].set_index("code")["population"]
        comms["population"] = year_pop.reindex(comms["code"]).fillna(
            comms.set_index("code")["population"]).to_numpy()
        return comms
    return ctx.cached("communities_in_year", year, compute)


def metric_crs(ctx: ServiceContext) -> Any:
    """The metric CRS: the setting, or the GK/UTM zone of the communities."""
    if ctx.settings.geo.metric_crs:
        import pyproj

        return pyproj.CRS.from_user_input(ctx.settings.geo.metric_crs)
    comms = communities(ctx)
    if not len(comms):
        raise ValueError("no communities are loaded; load a boundary file first")
    b = comms.total_bounds
    return metric_crs_for([(b[0] + b[2]) / 2], [(b[1] + b[3]) / 2])


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    return level


def _check_compare(compare: str | None) -> str | None:
    if compare in (None, "", "none"):
        return None
    if compare not in ("previous", "last-year"):
        raise ValueError(f"compare must be 'previous' or 'last-year'; got {compare!r}")
    return compare


def rates_result(ctx: ServiceContext, period: Period | str, *, compare: str | None = None,
                 categories: Sequence[str] = ()) -> RatesResult:
    """Community case rates of a period (cached per data version).

    Parameters
    ----------
    ctx
        Service context.
    period
        The period (``2025``, ``2025-Q3``, ``2025-07``, ``2025-01-01..2025-06-30``).
    compare
        ``previous``, ``last-year`` or ``None``.
    categories
        Count only these categories (default: every category the case definition counts).

    Returns
    -------
    geo.rates.RatesResult
    """
    p = parse_period(period)
    compare = _check_compare(compare)
    cats = tuple(sorted({c.strip().lower() for c in categories if c.strip()}))

    def compute() -> RatesResult:
        comms = communities(ctx)
        definition = ctx.case_definition
        with ctx.engine.connect() as conn:
            counts = store.count_cases(conn, p, definition, timezone=ctx.timezone,
                                       categories=cats)
            compare_counts = None
            if compare:
                compare_counts = store.count_cases(conn, p.compare_period(compare), definition,
                                                   timezone=ctx.timezone, categories=cats)
            years = store.read_population(conn)
        boundary = pd.Series(comms["population"].to_numpy(), index=comms["code"].to_numpy())
        populations: Any = years if len(years) else boundary
        return compute_rates(counts, populations,
                             boundary_populations=boundary if len(years) else None,
                             compare_counts=compare_counts)

    return ctx.cached("rates", (p.label, compare, cats), compute)


def _provenance(ctx: ServiceContext, result: RatesResult, **extra: Any) -> dict[str, Any]:
    prov = period_provenance(result.period, ctx.timezone)
    if result.compare_period is not None:
        prov["compare_period"] = result.compare_period.label
    prov.update({
        "data_version": ctx.data_version(),
        "case_definition": result.case_definition.as_sql_lists(),
        "left_out": {"unassigned": result.unassigned, "no_location": result.no_location,
                     "not_counted": result.not_counted},
        "notes": list(result.notes),
        "generated_at": generated_at(),
    })
    prov.update(extra)
    return prov


def rates_report(ctx: ServiceContext, *, period: Period | str, compare: str | None = None,
                 level: str = "community", categories: Sequence[str] = ()) -> Report:
    """Case rates per community or rolled up, with an ``unassigned`` line.

    Parameters
    ----------
    ctx
        Service context.
    period, compare, categories
        As for :func:`rates_result`.
    level
        ``community``, ``subdistrict``, ``district`` or ``city``.

    Returns
    -------
    Report
        A GeoDataFrame (EPSG:4326; units dissolved from their communities) with ``code``,
        ``name`` and the rate columns; the ``unassigned`` line has no geometry.
    """
    _check_level(level)
    result = rates_result(ctx, period, compare=compare, categories=categories)
    comms = communities(ctx)
    if level == "community":
        frame = result.frame.reindex(columns=[c for c in _RATE_COLUMNS
                                              if c in result.frame.columns])
        base = comms[["code", "name", "subdistrict", "district", "geometry"]]
        out = base.merge(frame, left_on="code", right_index=True, how="left")
        out["cases"] = out["cases"].fillna(0).astype("int64")
        unassigned = pd.DataFrame([{"code": "unassigned", "name": UNASSIGNED_NAME,
                                    "cases": result.unassigned}])
        if result.compare_period is not None:
            unassigned["compare_cases"] = result.compare_unassigned
        out = pd.concat([out, unassigned], ignore_index=True)
    else:
        rolled = roll_up(result, comms, level=level)  # type: ignore[arg-type]
        out = rolled.frame.reset_index()
        geoms = _unit_geometries(ctx, level)
        out = out.merge(geoms, on="code", how="left")
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")
    title = f"case rates by {level}, {result.period.label}" + (
        f" vs {result.compare_period.label}" if result.compare_period else "")
    return Report(gdf, _provenance(ctx, result, level=level, categories=list(categories)),
                  title)


def _unit_geometries(ctx: ServiceContext, level: str) -> pd.DataFrame:
    def compute() -> pd.DataFrame:
        comms = communities(ctx)
        key = {"subdistrict": "subdistrict_code", "district": "district_code"}.get(level)
        if key is None:
            geom = comms.geometry.union_all()
            return pd.DataFrame({"code": ["city"], "geometry": [geom]})
        dissolved = comms.dissolve(by=key)
        return pd.DataFrame({"code": dissolved.index.astype(str),
                             "geometry": dissolved.geometry.to_numpy()})
    return ctx.cached("unit_geometries", level, compute)


def trend_report(ctx: ServiceContext, *, period: Period | str, by: str = "month",
                 community: str | None = None, categories: Sequence[str] = ()) -> Report:
    """Monthly series or the hour × weekday profile, of one community or the whole city.

    Parameters
    ----------
    ctx
        Service context.
    period
        The period.
    by
        ``month`` or ``hour-weekday``.
    community
        A community code; default the whole city (every case counted, assigned or not).
    categories
        Only these categories.

    Returns
    -------
    Report
        ``month``: columns code, month, days, cases. ``hour-weekday``: columns code, weekday
        (0 = Monday), hour (local) and cases, 168 rows.
    """
    if by not in ("month", "hour-weekday"):
        raise ValueError(f"by must be 'month' or 'hour-weekday'; got {by!r}")
    p = parse_period(period)
    cats = tuple(sorted({c.strip().lower() for c in categories if c.strip()}))
    if community is not None and community not in set(communities(ctx)["code"]):
        raise KeyError(f"no community with code {community!r}")

    def compute() -> pd.DataFrame:
        query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                    communities=(community,) if community else (),
                                    case_definition=ctx.case_definition)
        with ctx.engine.connect() as conn:
            records = store.read_case_records(conn, query)
        code = community or "city"
        # The city series counts every case, assigned to a community or not.
        records = records.assign(community_code=pd.array([code] * len(records),
                                                         dtype="string"))
        if by == "month":
            out = monthly_series(records, p, timezone=ctx.timezone, community_codes=[code])
        else:
            out = hour_weekday_profile(records, p, timezone=ctx.timezone,
                                       community_codes=[code])
        return out.rename(columns={"community_code": "code"})

    frame = ctx.cached("trend", (p.label, by, community, cats), compute)
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "by": by, "community": community,
                 "categories": list(cats),
                 "case_definition": ctx.case_definition.as_sql_lists(),
                 "generated_at": generated_at()})
    return Report(frame, prov, f"cases by {by}, {p.label}, {community or 'city'}")


def hotspot_result(ctx: ServiceContext, *, period: Period | str, on: str = "rate",
                   cell_m: float | None = None, categories: Sequence[str] = (),
                   fdr: bool = False) -> HotspotResult:
    """Gi* hot spots of smoothed community rates or of a grid of incident counts (cached).

    Parameters
    ----------
    ctx
        Service context.
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
        raise ValueError(f"on must be 'rate' or 'grid'; got {on!r}")
    p = parse_period(period)
    cats = tuple(sorted({c.strip().lower() for c in categories if c.strip()}))
    cell = float(cell_m or ctx.settings.geo.grid_cell_m)
    if cell <= 0:
        raise ValueError(f"cell_m must be > 0; got {cell_m}")
    g = ctx.settings.geo

    def compute() -> HotspotResult:
        comms = communities(ctx)
        if on == "rate":
            rates = rates_result(ctx, p, categories=cats)
            values = rates.frame["case_rate_eb_per_10k_annual"].dropna()
            values = values[values.index.isin(comms["code"])]
            return community_hotspots(comms, values, permutations=g.permutations, seed=g.seed,
                                      fdr=fdr)
        query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                    case_definition=ctx.case_definition)
        with ctx.engine.connect() as conn:
            points = store.read_incidents(conn, query)
        points = points[~points.geometry.isna()]
        return grid_hotspots(points, comms, cell_m=cell, metric_crs=metric_crs(ctx),
                             permutations=g.permutations, seed=g.seed, fdr=fdr)

    return ctx.cached("hotspots", (p.label, on, cell, cats, fdr), compute)


def hotspots_report(ctx: ServiceContext, *, period: Period | str, on: str = "rate",
                    cell_m: float | None = None, categories: Sequence[str] = (),
                    fdr: bool = False) -> Report:
    """Hot spots as a report (see :func:`hotspot_result` for the parameters).

    Returns
    -------
    Report
        A GeoDataFrame (EPSG:4326) of communities or cells with ``hotspot_gi_z``, ``p_value``
        and ``hotspot_class``.
    """
    result = hotspot_result(ctx, period=period, on=on, cell_m=cell_m, categories=categories,
                            fdr=fdr)
    p = parse_period(period)
    comms = communities(ctx)
    frame = result.frame.reset_index()
    if on == "rate":
        frame = comms[["code", "name", "subdistrict", "district", "geometry"]].merge(
            frame, on="code", how="left")
        frame["hotspot_class"] = frame["hotspot_class"].fillna("no_value")
    else:
        frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=result.frame.crs)
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
    prov = period_provenance(p, ctx.timezone)
    prov.update({
        "data_version": ctx.data_version(), "on": on, "unit": result.unit,
        "weights": result.weights, "permutations": result.permutations, "seed": result.seed,
        "fdr": result.fdr, "islands": list(result.islands),
        "metric_crs": result.metric_crs.to_string() if result.metric_crs is not None else None,
        "cell_m": result.cell_m,
        "left_out": {"coarse_location": result.coarse_location,
                     "no_location": result.no_location, "outside_grid": result.outside_grid},
        "notes": list(result.notes), "generated_at": generated_at(),
    })
    return Report(gdf, prov, f"hot spots ({on}), {p.label}")
