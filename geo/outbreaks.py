"""Planted outbreaks: synthetic clusters added to an incident set to measure detection.

An early-warning method is judged by what it finds when the answer is known. This module adds
outbreaks to a set of incidents by one fixed, documented, seeded rule, and returns both the
added incidents and a manifest of what was planted where, so an evaluation can count how many
outbreaks were alerted and how many alerts fell outside them.

The rule (:func:`plant_outbreaks`)
----------------------------------
With ``rng = numpy.random.default_rng(seed)``:

1. outbreak ``i`` (0, 1, …) gets ``k = ks[i % len(ks)]``: equal numbers of each ``k`` when
   ``n_outbreaks`` is a multiple of ``len(ks)``;
2. its community is drawn uniformly from the communities, and its window uniformly from the
   ``weeks``-week windows starting on a Monday between ``start`` and ``end`` (the window lies
   inside them); a draw closer than ``spacing_weeks`` weeks to another outbreak of the same
   community is drawn again (at most 1,000 times, then :class:`~geo.errors.ParameterError`);
3. ``E`` is the community's expected count over the window (the sum of ``expected_weekly`` over
   its weeks); the outbreak adds ``round((k − 1) · E)`` incidents, so that the community's
   count in the window is about ``k × E``: k times the expected count;
4. each added incident lies uniformly inside the community's polygon (rejection sampling in its
   bounding box, in the polygon's CRS) at a time uniform over the window's local days.

The draws happen in that order for each outbreak in turn, so a seed always plants the same
outbreaks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo import spacetime as st
from geo.errors import InputError, ParameterError
from geo.period import DEFAULT_TIMEZONE

__all__ = ["PlantedOutbreaks", "background_incidents", "plant_outbreaks"]

_TRIES = 1000


@dataclass(frozen=True, eq=False)
class PlantedOutbreaks:
    """Outbreaks added to an incident set.

    Attributes
    ----------
    incidents
        The added incidents in the communities' CRS, with the columns of :mod:`geo.layers`:
        ``id`` (``outbreak-<i>-<j>``), ``occurred_at`` (UTC), ``category``, ``status`` (missing),
        ``location_precision`` (``exact``) and ``community_code``.
    manifest
        One row per outbreak: ``outbreak`` (its number), ``community``, ``start`` (a Monday)
        and ``end`` (its last day, a Sunday), ``k``, ``expected`` (E), ``added`` and ``seed``.
    seed
        The seed of the draws.
    rule
        The rule in one sentence.
    """

    incidents: gpd.GeoDataFrame
    manifest: pd.DataFrame
    seed: int
    rule: str


def plant_outbreaks(
    communities: gpd.GeoDataFrame,
    expected_weekly: pd.DataFrame,
    *,
    start: dt.date,
    end: dt.date,
    n_outbreaks: int = 36,
    ks: Sequence[int] = (2, 3, 5),
    weeks: int = 2,
    spacing_weeks: int = 4,
    seed: int = 20250101,
    category: str = "planted_outbreak",
    timezone: str = DEFAULT_TIMEZONE,
) -> PlantedOutbreaks:
    """Plant outbreaks of k times the expected count into communities by a seeded rule.

    Parameters
    ----------
    communities
        Community polygons with a unique ``code``.
    expected_weekly
        Expected incidents per ISO week (rows: the weeks' Mondays as dates or timestamps) and
        community (columns: codes), e.g. a background model's weekly means.
    start, end
        First and last local day outbreaks may cover.
    n_outbreaks
        How many outbreaks (at least 1).
    ks
        Multiples of the expected count, used in turn.
    weeks
        Length of each outbreak in weeks.
    spacing_weeks
        Least gap, in weeks, between the end of one outbreak and the start of the next in
        one community.
    seed
        Seed of the draws.
    category
        Category of the added incidents.
    timezone
        IANA time zone of the local days.

    Returns
    -------
    PlantedOutbreaks

    Raises
    ------
    geo.errors.InputError
        If ``communities`` lacks a CRS or unique codes, or ``expected_weekly`` misses a
        community or a week of the span.
    geo.errors.ParameterError
        If an option is out of range, no window fits between ``start`` and ``end``, or the
        outbreaks cannot be spaced.
    """
    codes = _codes(communities)
    n_outbreaks = st.check_int(n_outbreaks, "n_outbreaks", minimum=1)
    weeks = st.check_int(weeks, "weeks", minimum=1)
    spacing_weeks = st.check_int(spacing_weeks, "spacing_weeks", minimum=0)
    seed = st.check_int(seed, "seed", minimum=0)
    tz = st.check_timezone(timezone)
    if isinstance(ks, str) or not len(ks):
        raise ParameterError(f"ks must be a list of multiples; got {ks!r}", parameter="ks")
    multiples = [st.check_int(k, "ks", minimum=1) for k in ks]
    mondays = _windows(start, end, weeks)
    expected = _expected_table(expected_weekly, codes, mondays, weeks)
    rng = np.random.default_rng(seed)
    taken: dict[str, list[int]] = {}
    rows, parts = [], []
    for i in range(n_outbreaks):
        code, first = _draw(rng, codes, mondays, taken, weeks, spacing_weeks)
        k = multiples[i % len(multiples)]
        days = [st.date_of_day(first + 7 * w) for w in range(weeks)]
        e = float(expected[code].reindex(days).sum())
        added = round((k - 1) * e)
        polygon = communities.geometry.iloc[codes.index(code)]
        parts.append(_placed(polygon, np.full(added, first), weeks * 7, rng, tz, communities.crs,
                             [f"outbreak-{i:03d}-{j:04d}" for j in range(added)], category,
                             code))
        rows.append((i, code, days[0], days[-1] + dt.timedelta(days=6), k, e, added, seed))
    manifest = pd.DataFrame(rows, columns=["outbreak", "community", "start", "end", "k",
                                           "expected", "added", "seed"])
    incidents = _joined(parts, communities.crs)
    rule = (f"{n_outbreaks} outbreaks of {weeks} weeks, k in {tuple(multiples)} in turn, "
            f"community and Monday drawn uniformly (seed {seed}, at least {spacing_weeks} "
            f"weeks apart in a community), adding round((k - 1) x expected) incidents "
            f"uniform in the community and the window")
    return PlantedOutbreaks(incidents=incidents, manifest=manifest, seed=seed, rule=rule)


def background_incidents(
    communities: gpd.GeoDataFrame,
    expected_weekly: pd.DataFrame,
    *,
    seed: int = 20250101,
    category: str = "background",
    timezone: str = DEFAULT_TIMEZONE,
) -> gpd.GeoDataFrame:
    """Draw a seeded Poisson background of incidents from expected weekly counts.

    Each community and week gets a Poisson count with the expected mean, placed uniformly in
    the community's polygon and over the week's seven local days: a synthetic city whose
    expected counts are known exactly, for evaluating detection.

    Parameters
    ----------
    communities
        Community polygons with a unique ``code``.
    expected_weekly
        Expected incidents per ISO week (rows: Mondays) and community (columns: codes).
    seed
        Seed of the draws (all counts, then places and times community by community).
    category
        Category of the incidents.
    timezone
        IANA time zone of the local days.

    Returns
    -------
    geopandas.GeoDataFrame
        Incidents with the columns of :mod:`geo.layers` (ids ``bg-<code>-<j>``) in the
        communities' CRS.

    Raises
    ------
    geo.errors.InputError
        If ``communities`` lacks a CRS or unique codes, or ``expected_weekly`` misses a
        community or has a negative mean.
    geo.errors.ParameterError
        If a row of ``expected_weekly`` is not a Monday.
    """
    codes = _codes(communities)
    tz = st.check_timezone(timezone)
    seed = st.check_int(seed, "seed", minimum=0)
    table = _expected_table(expected_weekly, codes, [], 1)
    mondays = [st.day_of_date(d) for d in table.index]
    if any((m + 3) % 7 for m in mondays):
        raise ParameterError("expected_weekly rows must be Mondays", parameter="expected_weekly")
    means = table[list(codes)].to_numpy(dtype=np.float64)
    if (means < 0).any() or not np.isfinite(means).all():
        raise InputError("expected_weekly must hold finite means >= 0",
                         parameter="expected_weekly")
    rng = np.random.default_rng(seed)
    counts = rng.poisson(means)
    parts = []
    for c, code in enumerate(codes):
        per_week = counts[:, c]
        starts = np.repeat(np.asarray(mondays, dtype=np.int64), per_week)
        ids = [f"bg-{code}-{j}" for j in range(int(per_week.sum()))]
        parts.append(_placed(communities.geometry.iloc[c], starts, 7, rng, tz,
                             communities.crs, ids, category, code))
    return _joined(parts, communities.crs)


def _codes(communities: gpd.GeoDataFrame) -> list[str]:
    st.check_frame(communities, "communities", ["code"])
    codes = communities["code"].astype("string")
    if codes.isna().any() or codes.duplicated().any():
        raise InputError("communities['code'] must be present and unique",
                         parameter="communities")
    return [str(c) for c in codes]


def _placed(polygon: shapely.Geometry, first_days: NDArray[np.int64], days: int,
            rng: np.random.Generator, tz: Any, crs: Any, ids: list[str], category: str,
            code: str) -> gpd.GeoDataFrame:
    """Incidents uniform in ``polygon``, each over ``days`` local days from its first day."""
    n = len(first_days)
    xy = _points_in(polygon, n, rng)
    seconds = rng.uniform(0, days * 86_400, n)
    local = (first_days.astype("datetime64[D]").astype("datetime64[ns]")
             + (seconds * 1e9).astype("timedelta64[ns]"))
    occurred = pd.DatetimeIndex(local).tz_localize(tz, ambiguous=np.ones(n, dtype=bool),
                                                    nonexistent="shift_forward")
    return gpd.GeoDataFrame({
        "id": pd.array(ids, dtype="string"),
        "occurred_at": occurred.tz_convert("UTC"),
        "category": pd.array([category] * n, dtype="string"),
        "status": pd.array([pd.NA] * n, dtype="string"),
        "location_precision": pd.array(["exact"] * n, dtype="string"),
        "community_code": pd.array([code] * n, dtype="string"),
    }, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def _joined(parts: list[gpd.GeoDataFrame], crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)


def _windows(start: dt.date, end: dt.date, weeks: int) -> list[int]:
    """Day numbers of the Mondays whose window of ``weeks`` weeks lies in [start, end]."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise ParameterError(f"{name} must be a date; got {value!r}", parameter=name)
    first, last = st.day_of_date(start), st.day_of_date(end)
    monday = first + (-(first + 3)) % 7  # the first Monday on or after start
    out = list(range(monday, last - 7 * weeks + 2, 7))
    if not out:
        raise ParameterError(f"no {weeks}-week window starting on a Monday fits between "
                             f"{start} and {end}", parameter="end")
    return out


def _expected_table(expected_weekly: pd.DataFrame, codes: list[str], mondays: list[int],
                    weeks: int) -> pd.DataFrame:
    if not isinstance(expected_weekly, pd.DataFrame):
        raise InputError(f"expected_weekly must be a DataFrame; got "
                         f"{type(expected_weekly).__name__}", parameter="expected_weekly")
    table = expected_weekly.copy()
    table.index = [pd.Timestamp(v).date() for v in table.index]
    table.columns = [str(c) for c in table.columns]
    missing = sorted(set(codes) - set(table.columns))
    if missing:
        raise InputError(f"expected_weekly has no column for the communities {missing[:5]}",
                         parameter="expected_weekly")
    needed = {st.date_of_day(m + 7 * w) for m in mondays for w in range(weeks)}
    absent = sorted(needed - set(table.index))
    if absent:
        raise InputError(f"expected_weekly has no row for the weeks {absent[:3]}",
                         parameter="expected_weekly")
    return table


def _draw(rng: np.random.Generator, codes: list[str], mondays: list[int],
          taken: dict[str, list[int]], weeks: int, spacing: int) -> tuple[str, int]:
    """A community and a window at least ``spacing`` weeks from its other outbreaks."""
    for _ in range(_TRIES):
        code = codes[int(rng.integers(len(codes)))]
        first = mondays[int(rng.integers(len(mondays)))]
        gap = 7 * (weeks + spacing)
        if all(abs(first - other) >= gap for other in taken.get(code, [])):
            taken.setdefault(code, []).append(first)
            return code, first
    raise ParameterError(f"cannot space the outbreaks {spacing} weeks apart in the "
                         f"communities and span given; plant fewer or widen the span",
                         parameter="n_outbreaks")


def _points_in(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in a polygon, by rejection in its bounding box."""
    if polygon is None or shapely.is_empty(polygon) or shapely.area(polygon) <= 0:
        raise InputError("a community chosen for an outbreak has no area",
                         parameter="communities")
    minx, miny, maxx, maxy = shapely.bounds(polygon)
    shapely.prepare(polygon)
    out = np.empty((0, 2))
    while len(out) < n:
        want = max(16, 2 * (n - len(out)))
        xy = np.column_stack([rng.uniform(minx, maxx, want), rng.uniform(miny, maxy, want)])
        out = np.vstack([out, xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]])
    return out[:n]
