"""Early-warning alerts over stored incidents, as each caller may see them.

:mod:`geo.alerts` does the statistics; this service chooses the series and shapes the result:

- the units are the caller's world: weekly series per community (``level=community``; ISO
  weeks, Monday to Sunday) or daily series per district (``level=district``; a liaison's
  district is made of the communities of their world). Each series counts the cases
  (:attr:`api.services.ServiceContext.case_definition`) of the optional categories, from the
  first stored case (at most five years and six weeks back) to ``as_of`` and never after it;
- every unit is tested at the last complete step up to ``as_of`` (default: the day of the
  latest stored incident) with ``method`` (default ``auto``: the improved Farrington method
  with two years of history, EARS C2 otherwise; each row says which ran); q values are
  Benjamini–Hochberg across the world's units, and an alert needs ``q ≤ fdr`` (default
  :data:`DEFAULT_FDR`). EARS's standard deviation is floored at ``√mean`` and its p value is
  the Poisson tail (``sd_floor="poisson"``, the default here; see :mod:`geo.alerts`): on the
  sample city's planted outbreaks this keeps false alerts at 0.3 per 100 community-weeks
  (2.8 without it) and finds 23 of the 24 outbreaks of three and five times the expected
  count (``bench/alerts.py``);
- an exact caller (admin; a liaison inside their world) gets every unit's test: observed,
  expected, threshold, method, statistic, p, q, alert, first step fired, and a link to the
  unit's incidents of the step (``/api/v1/incidents?…``);
- a protected caller (planner, client) gets only the units that alert with at least
  ``api.min_count_shown`` (3) cases observed, and of each only its name, geometry, the step,
  the method and the first step fired: no count, expectation or test (a week or a day is not
  a released period, so a count of one could be differenced against released months).

A selection keeps the rows of the units it names (a district's communities, or the districts
of the selected communities); the test always runs over the caller's whole world, so a unit's
row never depends on what else was asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.release import Selection, Visibility, release_provenance
from api.services import Report, ServiceContext, generated_at
from api.services.units import unit_geometries, unit_of, world_communities
from geo.alerts import EARS_VARIANTS, METHODS, SD_FLOORS, AlertsResult, count_series, detect_alerts
from geo.errors import ParameterError
from geo.period import parse_period

__all__ = ["DEFAULT_FDR", "EXACT_COLUMNS", "LEVELS", "PROTECTED_COLUMNS", "alerts_report",
           "alerts_result", "latest_day"]

#: The units and the step of their series.
LEVELS = {"community": "week", "district": "day"}
#: q value an alert needs by default.
DEFAULT_FDR = 0.1
#: Columns of an exact caller's rows.
EXACT_COLUMNS = ("unit", "name", "level", "resolution", "step", "last_day", "observed",
                 "expected", "threshold", "method", "statistic", "p_value", "q_value", "alert",
                 "first_fired", "history_steps", "incidents_link")
#: Everything a protected caller receives of an alerting unit (and its geometry).
PROTECTED_COLUMNS = ("unit", "name", "level", "resolution", "step", "last_day", "method",
                     "alert", "first_fired")
_HISTORY_DAYS = 5 * 366 + 42


def latest_day(ctx: ServiceContext, vis: Visibility | None = None) -> dt.date:
    """The local day of the latest stored incident (today when there is none).

    Parameters
    ----------
    ctx
        Service context.
    vis
        Only the incidents of this caller's world (default: every stored incident). A caller
        with a world must be given: the newest day anywhere in the city is not theirs to see.

    Returns
    -------
    datetime.date
    """
    codes = None if vis is None else vis.community_filter()
    with ctx.engine.connect() as conn:
        _, last = store.incident_time_range(conn, community_codes=codes)
    zone = ZoneInfo(ctx.timezone)
    if last is None:
        return dt.datetime.now(zone).date()
    return last.replace(tzinfo=dt.UTC).astimezone(zone).date()


def _check_options(level: str, method: str, ears: str, sd_floor: str, fdr: float | None
                   ) -> None:
    for name, value, allowed in (("level", level, tuple(LEVELS)), ("method", method, METHODS),
                                 ("ears", ears, EARS_VARIANTS),
                                 ("sd_floor", sd_floor, SD_FLOORS)):
        if value not in allowed:
            raise ParameterError(f"{name} must be one of {', '.join(allowed)}; got {value!r}",
                                 parameter=name)
    if fdr is not None and not 0 < fdr <= 1:
        raise ParameterError(f"fdr must be in (0, 1]; got {fdr!r}", parameter="fdr")


def _records(ctx: ServiceContext, vis: Visibility, as_of: dt.date,
             categories: tuple[str, ...]) -> pd.DataFrame:
    first = as_of - dt.timedelta(days=_HISTORY_DAYS)
    period = parse_period(f"{first.isoformat()}..{as_of.isoformat()}",
                          first=dt.date(1, 1, 1), last=dt.date(9999, 12, 30))
    query = store.IncidentQuery(period=period, timezone=ctx.timezone, categories=categories,
                                communities=vis.community_filter(),
                                case_definition=ctx.case_definition)
    with ctx.engine.connect() as conn:
        return store.read_case_records(conn, query)


def alerts_result(ctx: ServiceContext, vis: Visibility, *, level: str, as_of: dt.date,
                  categories: tuple[str, ...] = (), method: str = "auto", ears: str = "c2",
                  sd_floor: str = "poisson", fdr: float | None = DEFAULT_FDR) -> AlertsResult:
    """Every unit of the caller's world tested as of a day (cached per world).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller (a protected caller's result is exact and must be released by
        :func:`alerts_report`).
    level, as_of, categories, method, ears, sd_floor, fdr
        As for :func:`alerts_report` (already checked).

    Returns
    -------
    geo.alerts.AlertsResult
    """
    def compute() -> AlertsResult:
        comms = world_communities(ctx, vis)
        records = _records(ctx, vis, as_of, categories)
        units = unit_of(comms, level)
        records["unit"] = records["community_code"].map(units.to_dict()).astype("string")
        names = sorted(set(units.dropna()))
        days = records["occurred_at"].dt.tz_convert(ctx.timezone).dt.date
        start = min(days.min(), as_of) if len(days) else as_of - dt.timedelta(days=63)
        series = count_series(records, unit="unit", resolution=LEVELS[level], start=start,
                              end=as_of, units=names, timezone=ctx.timezone)
        return detect_alerts(series, as_of=as_of, method=method, ears=ears, fdr=fdr,
                             sd_floor=sd_floor)

    return ctx.cached("alerts", (level, as_of, categories, method, ears, sd_floor, fdr),
                      compute, vis=vis)


def _unit_names(ctx: ServiceContext, vis: Visibility, level: str) -> pd.Series:
    comms = world_communities(ctx, vis)
    if level == "community":
        return pd.Series(comms["name"].to_numpy(), index=comms["code"].astype(str).to_numpy())
    return comms.groupby("district_code")["district"].first()


def _links(vis: Visibility, comms: gpd.GeoDataFrame, frame: pd.DataFrame, level: str
           ) -> list[str]:
    """The incidents list of each unit's evaluated step, as a link to ``/api/v1/incidents``."""
    out = []
    for unit, first, last in zip(frame["unit"], frame["step"], frame["last_day"], strict=True):
        period = f"period={first.isoformat()}..{last.isoformat()}"
        if level == "community":
            out.append(f"/api/v1/incidents?community={unit}&{period}")
        elif vis.communities is None:
            out.append(f"/api/v1/incidents?district={unit}&{period}")
        else:
            codes = comms.loc[comms["district_code"] == unit, "code"]
            out.append("/api/v1/incidents?" + "&".join(f"community={c}" for c in codes)
                       + f"&{period}")
    return out


def _selected(ctx: ServiceContext, vis: Visibility, level: str, selection: Selection | None
              ) -> set[str] | None:
    if selection is None or selection.communities is None:
        return None
    comms = world_communities(ctx, vis)
    chosen = comms[comms["code"].isin(selection.communities)]
    return set(unit_of(chosen, level).dropna())


def alerts_report(ctx: ServiceContext, vis: Visibility, *, level: str = "community",
                  as_of: dt.date | None = None, categories: Sequence[str] = (),
                  method: str = "auto", ears: str = "c2", sd_floor: str = "poisson",
                  fdr: float | None = DEFAULT_FDR, alerts_only: bool = False,
                  selection: Selection | None = None) -> Report:
    """Early-warning alerts of the units of the caller's world, as a list and a map layer.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    level
        ``community`` (weekly series) or ``district`` (daily series).
    as_of
        The last day whose incidents are used (default: the day of the latest incident).
    categories
        Only these categories (a protected caller names one category group).
    method
        ``auto``, ``ears`` or ``farrington``.
    ears
        EARS variant: ``c1``, ``c2`` or ``c3``.
    sd_floor
        ``poisson`` (default) or ``fixed`` (EARS's published floor of 0.5 alone).
    fdr
        q value an alert needs (``None``: the methods' own rules alone).
    alerts_only
        Only the units that alert (always so for a protected caller).
    selection
        Keep the rows of the units it names.

    Returns
    -------
    Report
        A GeoDataFrame (EPSG:4326) of units: :data:`EXACT_COLUMNS` for exact callers,
        :data:`PROTECTED_COLUMNS` (alerting units with at least three cases) for protected
        ones.

    Raises
    ------
    geo.errors.ParameterError
        An option out of range.
    geo.errors.MissingDataError
        No complete step ends on or before ``as_of``.
    """
    _check_options(level, method, ears, sd_floor, fdr)
    cats = vis.check_categories(categories)
    day = as_of if as_of is not None else latest_day(ctx)
    result = alerts_result(ctx, vis, level=level, as_of=day, categories=cats, method=method,
                           ears=ears, sd_floor=sd_floor, fdr=fdr)
    frame = result.frame.copy()
    frame.insert(1, "name", frame["unit"].map(_unit_names(ctx, vis, level)))
    frame.insert(2, "level", level)
    frame.insert(3, "resolution", result.resolution)
    frame["incidents_link"] = _links(vis, world_communities(ctx, vis), frame, level)
    keep = np.ones(len(frame), dtype=bool)
    wanted = _selected(ctx, vis, level, selection)
    if wanted is not None:
        keep &= frame["unit"].isin(wanted).to_numpy()
    if alerts_only or vis.protected:
        keep &= frame["alert"].to_numpy(dtype=bool)
    if vis.protected:
        keep &= frame["observed"].to_numpy() >= vis.min_count
    frame = frame[keep]
    frame = frame[list(PROTECTED_COLUMNS if vis.protected else EXACT_COLUMNS)]
    geoms = unit_geometries(ctx, vis, level).set_index("code")["geometry"]
    out = gpd.GeoDataFrame(frame.reset_index(drop=True),
                           geometry=list(geoms.reindex(frame["unit"]).to_numpy()),
                           crs="EPSG:4326")
    prov = {
        "as_of": result.as_of.isoformat(), "step": result.step.isoformat(),
        "level": level, "resolution": result.resolution, "timezone": ctx.timezone,
        "data_version": ctx.data_version(), "generated_at": generated_at(),
        "method": method, "ears": ears, "sd_floor": sd_floor, "fdr": fdr,
        "alpha": result.alpha, "categories": list(categories),
        "case_definition": ctx.case_definition.as_sql_lists(),
        "methods_run": {str(k): int(v) for k, v in
                        result.frame["method"].value_counts().items()},
        "units_tested": len(result.frame), "notes": list(result.notes),
        **({"min_count_shown": vis.min_count} if vis.protected else {}),
        **(selection.provenance() if selection else {}),
    }
    return Report(out, release_provenance(prov, vis=vis),
                  f"early-warning alerts, {level} ({result.resolution}s), as of {day}")
