"""Near-repeat analysis: the Knox test over distance × time bands, and risk zones.

After a burglary, are nearby homes at raised risk for the next weeks? The Knox test counts the
pairs of incidents that are close in space *and* in time and compares that count with what the
same places and the same times would give if the times were shuffled among the places. This
module gives the table of Ratcliffe's Near Repeat Calculator (NRC) and CrimeStat's Knox test,
and the risk zones that follow from it.

Bands (Near Repeat Calculator form)
-----------------------------------
``space_m=(0, 100, 200, 400, 800)`` gives the distance bands "same location" (d ≤ 0.5 m),
(0.5, 100], (100, 200], (200, 400] and (400, 800] metres; ``time_days=(0, 7, 14, 30, 60)``
gives "same day" (0 days apart) and 1–7, 8–14, 15–30 and 31–60 days apart. Every band is closed
on its upper edge: a pair exactly 100 m apart is in (0.5, 100], a pair exactly 7 days apart is
in 1–7 days (as the NRC's "0 to 100, 101 to 200"). Pairs beyond the last edges are not counted.
Distance is straight-line ground distance in metres in the metric CRS of
:func:`geo.projection.metric_crs_of`, whatever the input CRS; time is the number of local
calendar days between the two incidents' dates in ``timezone``, whatever their clock times.

``cumulative=True`` gives the classic Knox counts instead: cell (δ, τ) counts the pairs with
d ≤ δ and t ≤ τ, for δ in 0.5 m ("same location"), 100, 200… and τ in 0 (same day), 7, 14…

Statistics of each cell
-----------------------
- ``observed``: pairs of incidents in the cell (each unordered pair once).
- ``expected``: mean count over ``permutations`` Monte Carlo permutations of the incidents'
  days among their places (seeded, so a run is reproducible).
- ``knox_ratio``: observed / expected.
- ``p_value``: one-sided pseudo p, ``(1 + #{permutations with count ≥ observed}) / (N + 1)``.
- cumulative only: ``expected_analytic`` = N_s · N_t / C(n, 2), with N_s the pairs within δ
  and N_t the pairs within τ, and ``p_poisson`` = P(X ≥ observed) for X ~ Poisson of it.

How it is computed
------------------
The pairs within the largest distance band are found once with a fixed-radius cell list: the
points are sorted into square buckets as wide as the largest band, and each point is compared
only with the points of its own and its four "forward" neighbouring buckets, so each pair is
met once and nothing of size n × n is ever built. The pairs are kept as a compressed row list
(a 4-byte partner and a 1-byte distance band per pair), so memory grows with the pair count.
Each permutation then shuffles the day vector and recounts the fixed pair list: the distance
band of a pair never changes, only its time difference. Both steps are compiled with numba,
the recount running permutations in parallel. Written here rather than taken from pointpats
(whose ``Knox`` builds Python sets of neighbours and counts one 2 × 2 table) because the NRC's
table over many bands, with 999 permutations over hundreds of thousands of incidents, needs
the pair list to be reused.

Risk zones
----------
:func:`risk_zones` turns a table into zones for the incidents of the last ``recent_days`` days
up to an as-of date: where some cell has ``p_value ≤ alpha`` and ``knox_ratio ≥ min_ratio``,
every recent incident gets a circle whose radius is the upper edge of the farthest such
distance band, lasting until the upper edge of the longest significant time band of that
distance band (the incident's day plus that many days).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.stats import poisson

from geo import spacetime as st
from geo.errors import LimitError, MissingDataError, ParameterError
from geo.period import DEFAULT_TIMEZONE
from geo.projection import metric_crs_of

__all__ = [
    "DEFAULT_PERMUTATIONS",
    "DEFAULT_SEED",
    "DEFAULT_SPACE_M",
    "DEFAULT_TIME_DAYS",
    "SAME_LOCATION_M",
    "KnoxResult",
    "RiskZones",
    "knox_table",
    "risk_zones",
]

DEFAULT_SPACE_M: tuple[float, ...] = (0.0, 100.0, 200.0, 400.0, 800.0)
DEFAULT_TIME_DAYS: tuple[int, ...] = (0, 7, 14, 30, 60)
DEFAULT_PERMUTATIONS = 999
DEFAULT_SEED = 20250101
#: Pairs at most this far apart (metres) are at the "same location".
SAME_LOCATION_M = 0.5
#: Default cap on the pairs within the largest band (5 bytes each: 2 GB).
DEFAULT_MAX_PAIRS = 400_000_000
# Permutations recounted in one pass over the pairs: at most this many, and day vectors of at
# most _BATCH_BYTES held at once (a large selection recounts fewer permutations per pass).
_BATCH = 256
_BATCH_BYTES = 64 * 2**20
# Pairs a point adds to its own 8-bit counters before they are added to the 32-bit table.
_CHUNK = 127


@dataclass(frozen=True, eq=False)
class KnoxResult:
    """A Knox table over distance × time bands.

    Attributes
    ----------
    frame
        One row per (distance band, time band), distance bands outermost. Columns:
        ``space_band`` and ``time_band`` (labels), ``space_from_m``/``space_to_m`` (the band is
        ``(from, to]``; "same location" and cumulative bands are ``[0, to]``),
        ``time_from_days``/``time_to_days`` (whole days, both inclusive), ``observed`` (pairs),
        ``expected`` (Monte Carlo mean; NaN without permutations), ``knox_ratio``
        (observed / expected), ``p_value`` (one-sided pseudo p); for cumulative tables also
        ``space_pairs`` (N_s), ``time_pairs`` (N_t), ``expected_analytic`` and ``p_poisson``.
    cumulative
        Whether cells count d ≤ δ and t ≤ τ (classic Knox) instead of bands.
    space_m, time_days
        The band edges as given.
    permutations, seed
        Monte Carlo permutations of the days and the seed that makes them reproducible.
    timezone
        Time zone of the local calendar days.
    metric_crs
        The projected CRS the distances were measured in.
    n_incidents
        Incidents in the test.
    n_pairs
        Pairs within the largest distance band (the pair list every permutation recounts).
    total_pairs
        All pairs, C(n, 2).
    no_location, coarse_location, no_time
        Incidents left out: no point, a location precision in ``exclude_precisions``, no time.
    notes
        Method and provenance notes.
    """

    frame: pd.DataFrame
    cumulative: bool
    space_m: tuple[float, ...]
    time_days: tuple[int, ...]
    permutations: int
    seed: int
    timezone: str
    metric_crs: pyproj.CRS
    n_incidents: int
    n_pairs: int
    total_pairs: int
    no_location: int
    coarse_location: int
    no_time: int
    notes: tuple[str, ...]

    def table(self, column: str = "observed") -> pd.DataFrame:
        """One statistic as a table: distance bands down, time bands across.

        Parameters
        ----------
        column
            A column of :attr:`frame` (``observed``, ``expected``, ``knox_ratio``, ``p_value``…).

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        geo.errors.ParameterError
            If ``column`` is not a statistic of the table.
        """
        stats = [c for c in self.frame.columns if c not in _LABEL_COLUMNS]
        st.check_choice(column, "column", stats)
        out = self.frame.pivot(index="space_band", columns="time_band", values=column)
        return out.loc[self.frame["space_band"].unique(), self.frame["time_band"].unique()]

    def significant(self, *, alpha: float = 0.05, min_ratio: float = 1.2) -> pd.DataFrame:
        """The cells with ``p_value ≤ alpha`` and ``knox_ratio ≥ min_ratio``.

        Parameters
        ----------
        alpha
            Significance level of the pseudo p value.
        min_ratio
            Smallest Knox ratio that counts as raised risk.

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`frame`.

        Raises
        ------
        geo.errors.ParameterError
            If an option is out of range.
        """
        st.check_number(alpha, "alpha", minimum=0.0, exclusive=True, maximum=1.0)
        st.check_number(min_ratio, "min_ratio", minimum=0.0)
        f = self.frame
        return f[(f["p_value"] <= alpha) & (f["knox_ratio"] >= min_ratio)]


_LABEL_COLUMNS = ("space_band", "time_band", "space_from_m", "space_to_m", "time_from_days",
                  "time_to_days")


@dataclass(frozen=True, eq=False)
class RiskZones:
    """Near-repeat risk zones around recent incidents.

    Attributes
    ----------
    frame
        GeoDataFrame in the incidents' CRS, one row per zone still active on ``as_of``:
        ``incident_id``, ``occurred_on`` (local date), ``radius_m``, ``days`` (how long the
        risk lasts after the incident's day), ``expires_on`` (last local day at raised risk,
        ``occurred_on + days``) and the circle as ``geometry``.
    as_of
        The as-of date (incidents after it are not used).
    recent_days
        Incidents of the ``recent_days`` days ending on ``as_of`` get zones.
    radius_m, days
        The zone's radius and duration from the table; ``None`` when no cell is significant.
    bands
        The significant cells of the Knox table the zones come from.
    alpha, min_ratio
        The significance rule.
    metric_crs
        The CRS the circles were drawn in.
    timezone
        Time zone of the local days.
    expired
        Recent incidents whose zone had already expired on ``as_of``.
    notes
        Method and provenance notes.
    """

    frame: gpd.GeoDataFrame
    as_of: dt.date
    recent_days: int
    radius_m: float | None
    days: int | None
    bands: pd.DataFrame
    alpha: float
    min_ratio: float
    metric_crs: pyproj.CRS
    timezone: str
    expired: int
    notes: tuple[str, ...]


def knox_table(
    incidents: gpd.GeoDataFrame,
    *,
    space_m: Sequence[float] = DEFAULT_SPACE_M,
    time_days: Sequence[int] = DEFAULT_TIME_DAYS,
    cumulative: bool = False,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    timezone: str = DEFAULT_TIMEZONE,
    metric_crs: Any = None,
    exclude_precisions: Sequence[str] = ("centroid",),
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> KnoxResult:
    """Count incident pairs over distance × time bands and test them by permutation.

    Parameters
    ----------
    incidents
        Incident points with ``occurred_at`` (the frame of :mod:`geo.layers`), already
        filtered (period, category, place) by the caller.
    space_m
        Distance band edges in metres: 0 then strictly increasing edges above 0.5 m.
    time_days
        Time band edges in whole days: 0 then strictly increasing whole numbers.
    cumulative
        Classic Knox counts (d ≤ δ and t ≤ τ) instead of bands.
    permutations
        Monte Carlo permutations of the days (0 gives observed counts, and for a cumulative
        table the analytic statistics, only).
    seed
        Seed of the permutations.
    timezone
        IANA time zone of the local calendar days.
    metric_crs
        Projected CRS in metres for distances; by default that of the data
        (:func:`geo.projection.metric_crs_of`).
    exclude_precisions
        Location precisions left out (by default ``centroid``).
    max_pairs
        Refuse to hold more than this many pairs within the largest band.

    Returns
    -------
    KnoxResult

    Raises
    ------
    geo.errors.InputError
        If ``incidents`` is not a GeoDataFrame with a CRS and ``occurred_at``, or holds
        non-points.
    geo.errors.ParameterError
        If a band edge or option is out of range.
    geo.errors.MissingDataError
        If fewer than two incidents can be used.
    geo.errors.LimitError
        If the pairs within the largest band exceed ``max_pairs``.
    """
    st.check_frame(incidents, "incidents", ["occurred_at"])
    space = _space_edges(space_m)
    times = _time_edges(time_days)
    permutations = st.check_int(permutations, "permutations", minimum=0, maximum=100_000)
    seed = st.check_int(seed, "seed", minimum=0)
    max_pairs = st.check_int(max_pairs, "max_pairs", minimum=1, maximum=2**31 - 1)
    st.check_timezone(timezone)
    crs = metric_crs_of(incidents, metric_crs=metric_crs)
    points = st.located_points(incidents, crs, st.check_precisions(exclude_precisions))
    days = st.local_days(incidents["occurred_at"].iloc[points.positions], timezone)
    timed = days != st.MISSING_DAY
    x, y, days = points.x[timed], points.y[timed], days[timed]
    n = len(days)
    if n < 2:
        raise MissingDataError(f"the Knox test needs at least two incidents with a point and "
                               f"a time; got {n}")
    uppers = np.array([SAME_LOCATION_M, *space[1:]], dtype=np.float64)
    order, indptr, partner, band = _pair_list(x, y, uppers, max_pairs)
    lanes, t_uppers = _day_lanes(days - days.min(), times)
    observed, perms = _tables(indptr, partner, band, lanes, order, t_uppers, len(uppers),
                              permutations, seed)
    if cumulative:
        observed = observed.cumsum(0).cumsum(1)
        perms = perms.cumsum(1).cumsum(2)
    frame = _frame(space, times, cumulative, observed, perms)
    total = n * (n - 1) // 2
    if cumulative:
        frame = _add_analytic(frame, np.bincount(band, minlength=len(uppers)), lanes, times,
                              total)
    notes = (
        f"{n} incidents, {len(partner)} pairs within {space[-1]:g} m of {total} pairs; "
        f"distances in {crs.to_string()}, days in {timezone}",
        f"{'cumulative (d <= delta, t <= tau)' if cumulative else 'banded'} Knox table; "
        f"{permutations} permutations of the days (seed {seed}); pseudo p one-sided",
        f"left out: {points.no_location} without a point, {points.coarse_location} for "
        f"location precision {', '.join(exclude_precisions) or '(none)'}, "
        f"{int((~timed).sum())} without a time",
    )
    return KnoxResult(
        frame=frame, cumulative=bool(cumulative), space_m=tuple(space), time_days=tuple(times),
        permutations=permutations, seed=seed, timezone=timezone, metric_crs=crs, n_incidents=n,
        n_pairs=len(partner), total_pairs=total, no_location=points.no_location,
        coarse_location=points.coarse_location, no_time=int((~timed).sum()), notes=notes)


def risk_zones(
    incidents: gpd.GeoDataFrame,
    knox: KnoxResult,
    *,
    as_of: dt.date | None = None,
    recent_days: int = 14,
    alpha: float = 0.05,
    min_ratio: float = 1.2,
    exclude_precisions: Sequence[str] = ("centroid",),
) -> RiskZones:
    """Draw near-repeat risk zones around the incidents of the last ``recent_days`` days.

    Parameters
    ----------
    incidents
        Incident points with ``id`` and ``occurred_at`` (normally the same selection the table
        was computed from).
    knox
        The Knox table that says how far and how long the risk is raised.
    as_of
        The last day of data; by default the latest local day among the incidents. Incidents
        after it are not used.
    recent_days
        Incidents of the ``recent_days`` local days ending on ``as_of`` get zones.
    alpha, min_ratio
        A cell is significant when ``p_value ≤ alpha`` and ``knox_ratio ≥ min_ratio``.
    exclude_precisions
        Location precisions that get no zone.

    Returns
    -------
    RiskZones

    Raises
    ------
    geo.errors.InputError
        If ``incidents`` lacks ``id`` or ``occurred_at`` or a CRS.
    geo.errors.ParameterError
        If an option is out of range.
    """
    st.check_frame(incidents, "incidents", ["id", "occurred_at"])
    if not isinstance(knox, KnoxResult):
        raise ParameterError(f"knox must be a KnoxResult; got {type(knox).__name__}",
                             parameter="knox")
    recent_days = st.check_int(recent_days, "recent_days", minimum=1)
    bands = knox.significant(alpha=alpha, min_ratio=min_ratio)
    points = st.located_points(incidents, knox.metric_crs, st.check_precisions(exclude_precisions))
    days = st.local_days(incidents["occurred_at"].iloc[points.positions], knox.timezone)
    known = days != st.MISSING_DAY
    if as_of is None:
        if not known.any():
            raise MissingDataError("no incident with a point and a time to take as_of from")
        as_of = st.date_of_day(days[known].max())
    elif not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise ParameterError(f"as_of must be a date; got {as_of!r}", parameter="as_of")
    last = st.day_of_date(as_of)
    recent = known & (days <= last) & (days > last - recent_days)
    radius, duration = _zone_size(bands)
    crs = knox.metric_crs
    if radius is None or duration is None:
        keep = np.zeros(len(days), dtype=bool)
        expires = days
    else:
        expires = days + duration
        keep = recent & (expires >= last)
    ids = incidents["id"].iloc[points.positions[keep]].astype("string").to_numpy()
    circles = shapely.buffer(shapely.points(points.x[keep], points.y[keep]), radius or 0.0,
                             quad_segs=16)
    frame = gpd.GeoDataFrame(
        {
            "incident_id": pd.array(ids, dtype="string"),
            "occurred_on": [st.date_of_day(d) for d in days[keep]],
            "radius_m": np.full(int(keep.sum()), radius if radius is not None else np.nan),
            "days": np.full(int(keep.sum()), duration if duration is not None else 0),
            "expires_on": [st.date_of_day(d) for d in expires[keep]],
        },
        geometry=circles, crs=crs).to_crs(incidents.crs)
    expired = int((recent & ~keep).sum()) if radius is not None else 0
    rule = (f"no cell with p <= {alpha:g} and Knox ratio >= {min_ratio:g}: no zones"
            if radius is None else
            f"zones of {radius:g} m for {duration} days from the cells with p <= {alpha:g} and "
            f"Knox ratio >= {min_ratio:g}")
    notes = (rule, f"{int(recent.sum())} incidents in the {recent_days} days to {as_of}; "
                   f"{len(frame)} zones active, {expired} expired; circles drawn in "
                   f"{crs.to_string()}")
    return RiskZones(frame=frame, as_of=as_of, recent_days=recent_days, radius_m=radius,
                     days=duration, bands=bands, alpha=float(alpha), min_ratio=float(min_ratio),
                     metric_crs=crs, timezone=knox.timezone, expired=expired, notes=notes)


def _zone_size(bands: pd.DataFrame) -> tuple[float | None, int | None]:
    """Radius: the farthest significant distance band; days: its longest significant time band."""
    if bands.empty:
        return None, None
    radius = float(bands["space_to_m"].max())
    days = int(bands.loc[bands["space_to_m"] == radius, "time_to_days"].max())
    return radius, days


def _space_edges(space_m: Sequence[float]) -> list[float]:
    edges = _edges(space_m, "space_m")
    if len(edges) < 2 or edges[0] != 0 or edges[1] <= SAME_LOCATION_M:
        raise ParameterError(f"space_m must start at 0 and its next edge must exceed the "
                             f"{SAME_LOCATION_M:g} m 'same location' band; got {list(space_m)}",
                             parameter="space_m")
    return edges


def _time_edges(time_days: Sequence[int]) -> list[int]:
    edges = _edges(time_days, "time_days")
    if len(edges) < 2 or edges[0] != 0 or any(e != int(e) for e in edges):
        raise ParameterError(f"time_days must be whole days starting at 0 with at least one "
                             f"more edge; got {list(time_days)}", parameter="time_days")
    if edges[-1] > 36_525:
        raise ParameterError(f"time_days must end at most 36525 days (a century); got "
                             f"{edges[-1]:g}", parameter="time_days")
    return [int(e) for e in edges]


def _edges(values: Sequence[float], name: str) -> list[float]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ParameterError(f"{name} must be a list of numbers; got {values!r}", parameter=name)
    out = [st.check_number(v, name, minimum=0.0) for v in values]
    if len(out) > 64 or any(b <= a for a, b in itertools.pairwise(out)):
        raise ParameterError(f"{name} must be strictly increasing (at most 64 edges); got "
                             f"{list(values)}", parameter=name)
    return out


def _pair_list(x: NDArray[np.float64], y: NDArray[np.float64], uppers: NDArray[np.float64],
               max_pairs: int) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                        NDArray[np.int32], NDArray[np.uint8]]:
    """Pairs within ``uppers[-1]`` as (point order, row pointer, partner, distance band)."""
    r = float(uppers[-1])
    cx = np.floor((x - x.min()) / r).astype(np.int64)
    cy = np.floor((y - y.min()) / r).astype(np.int64)
    span = int(cy.max()) + 3  # a key step of one column never wraps into the next
    key = cx * span + cy + 1
    order = np.argsort(key, kind="stable")
    key, sx, sy = key[order], x[order], y[order]
    cells, start = np.unique(key, return_index=True)
    end = np.append(start[1:], len(key))
    # The buckets a bucket's points are paired with: itself and its four forward neighbours.
    offsets = np.array([span - 1, span, span + 1, 1], dtype=np.int64)
    wanted = cells[:, None] + offsets[None, :]
    pos = np.searchsorted(cells, wanted)
    found = (pos < len(cells)) & (cells[np.minimum(pos, len(cells) - 1)] == wanted)
    lo = np.where(found, start[np.minimum(pos, len(cells) - 1)], 0)
    hi = np.where(found, end[np.minimum(pos, len(cells) - 1)], 0)
    cell_of = np.repeat(np.arange(len(cells)), end - start)
    with st.PARALLEL_LOCK:
        counts = _pair_counts(sx, sy, cell_of, end, lo, hi, r)
    indptr = np.zeros(len(sx) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    if indptr[-1] > max_pairs:
        raise LimitError(f"{int(indptr[-1])} pairs lie within {r:g} m, more than max_pairs "
                         f"({max_pairs}); narrow the selection or the largest band",
                         parameter="max_pairs")
    partner = np.empty(int(indptr[-1]), dtype=np.int32)
    band = np.empty(int(indptr[-1]), dtype=np.uint8)
    with st.PARALLEL_LOCK:
        _fill_pairs(sx, sy, cell_of, end, lo, hi, uppers, indptr, partner, band)
    return order, indptr, partner, band


@numba.njit(cache=True, parallel=True)
def _pair_counts(sx, sy, cell_of, end, lo, hi, r):
    n = len(sx)
    out = np.zeros(n, dtype=np.int64)
    for a in numba.prange(n):
        c = cell_of[a]
        k = 0
        for b in range(a + 1, end[c]):
            dx = sx[b] - sx[a]
            dy = sy[b] - sy[a]
            if math.sqrt(dx * dx + dy * dy) <= r:
                k += 1
        for m in range(4):
            for b in range(lo[c, m], hi[c, m]):
                dx = sx[b] - sx[a]
                dy = sy[b] - sy[a]
                if math.sqrt(dx * dx + dy * dy) <= r:
                    k += 1
        out[a] = k
    return out


@numba.njit(cache=True, parallel=True)
def _fill_pairs(sx, sy, cell_of, end, lo, hi, uppers, indptr, partner, band):
    n = len(sx)
    r = uppers[-1]
    for a in numba.prange(n):
        c = cell_of[a]
        k = indptr[a]
        for m in range(5):
            first = a + 1 if m == 4 else lo[c, m]
            last = end[c] if m == 4 else hi[c, m]
            for b in range(first, last):
                dx = sx[b] - sx[a]
                dy = sy[b] - sy[a]
                d = math.sqrt(dx * dx + dy * dy)
                if d <= r:
                    j = 0
                    while d > uppers[j]:
                        j += 1
                    partner[k] = b
                    band[k] = j
                    k += 1


def _day_lanes(days: NDArray[np.int64], times: list[int]
               ) -> tuple[NDArray[np.integer], NDArray[np.integer]]:
    """Days from the first and the time edges as the narrowest integers that hold them.

    16-bit days (a span under 2**15 days, 89 years) keep the recount in 32-wide vector lanes;
    edges beyond the widest gap are clipped to it, which counts the same pairs.
    """
    dtype = np.int16 if int(days.max(initial=0)) < 2**15 else np.int32
    top = np.iinfo(dtype).max
    return days.astype(dtype), np.minimum(np.asarray(times, dtype=np.int64), top).astype(dtype)


def _count_tables(indptr: NDArray[np.int64], partner: NDArray[np.int32],
                  band: NDArray[np.uint8], days: NDArray[np.integer],
                  uppers: NDArray[np.integer], n_space: int) -> NDArray[np.int64]:
    """Pair counts by (distance band, time band) for each column of ``days`` (points × runs).

    Returns an array runs × distance bands × time bands.
    """
    blocks = min(len(days), 8 * numba.get_num_threads())
    with st.PARALLEL_LOCK:
        within = _count_within(indptr, partner, band, days, uppers, n_space, blocks, _CHUNK)
    within = within.sum(axis=0, dtype=np.int64).transpose(2, 0, 1)
    return np.diff(within, axis=2, prepend=0)


@numba.njit(cache=True, parallel=True)
def _count_within(indptr, partner, band, days, uppers, n_space, blocks, chunk):
    """Per block: pairs of each distance band within each time edge, for each run.

    The day vectors of all runs sit side by side, so one pass over the pair list serves every
    run and a pair's two rows are read once; the innermost loops run over the runs and compile
    to vector instructions. A point counts its pairs in 8-bit counters (``chunk`` ≤ 127 pairs
    at a time, so they cannot overflow: 64 lanes per AVX-512 instruction), added to its
    block's 32-bit table after each chunk. Threads take blocks of points (int32: a block never
    holds 2**31 pairs, see ``max_pairs``).
    """
    n, runs = days.shape
    n_time = uppers.shape[0]
    rows = n_space * n_time
    step = (n + blocks - 1) // blocks
    counts = np.zeros((blocks, rows, runs), dtype=np.int32)
    for blk in numba.prange(blocks):
        table = np.zeros((rows, runs), dtype=np.int32)
        local = np.zeros((rows, runs), dtype=np.int8)
        touched = np.zeros(n_space, dtype=np.bool_)
        gap = np.empty(runs, dtype=days.dtype)
        for a in range(blk * step, min(n, (blk + 1) * step)):
            da = days[a]
            start = indptr[a]
            while start < indptr[a + 1]:
                stop = min(indptr[a + 1], start + chunk)
                for k in range(start, stop):
                    db = days[partner[k]]
                    for p in range(runs):
                        gap[p] = abs(da[p] - db[p])
                    touched[band[k]] = True
                    first = band[k] * n_time
                    for m in range(n_time):
                        edge = uppers[m]
                        row = first + m
                        for p in range(runs):
                            local[row, p] += np.int8(gap[p] <= edge)
                # add and clear the distance bands this chunk counted only (a point with few
                # pairs among many bands would otherwise pay for every band)
                for sb in range(n_space):
                    if touched[sb]:
                        touched[sb] = False
                        for row in range(sb * n_time, (sb + 1) * n_time):
                            for p in range(runs):
                                table[row, p] += local[row, p]
                                local[row, p] = 0
                start = stop
        counts[blk] = table
    return counts.reshape(blocks, n_space, n_time, runs)


def _tables(indptr: NDArray[np.int64], partner: NDArray[np.int32], band: NDArray[np.uint8],
            days: NDArray[np.integer], order: NDArray[np.int64], uppers: NDArray[np.integer],
            n_space: int, permutations: int, seed: int
            ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The observed table and those of ``permutations`` seeded shuffles of the days.

    ``days`` is in the input's order and is shuffled in that order, then put in the pair
    list's bucket order, so the permutations depend on the input and the seed only (not on
    which CRS the points came in). The observed days ride as the first run of the first
    batch, so they cost no pass of their own.
    """
    rng = np.random.default_rng(seed)
    runs = permutations + 1
    out = np.zeros((runs, n_space, len(uppers)), dtype=np.int64)
    per_pass = max(8, min(_BATCH, _BATCH_BYTES // (days.itemsize * len(days))))
    for first in range(0, runs, per_pass):
        size = min(per_pass, runs - first)
        batch = np.empty((len(days), size), dtype=days.dtype)
        for i in range(size):
            batch[:, i] = (days if first + i == 0 else rng.permutation(days))[order]
        out[first:first + size] = _count_tables(indptr, partner, band, batch, uppers, n_space)
    return out[0], out[1:]


def _labels(space: list[float], times: list[int], cumulative: bool
            ) -> tuple[list[tuple[str, float, float]], list[tuple[str, int, int]]]:
    """(label, from, to) of each distance band and each time band."""
    s_lab: list[tuple[str, float, float]] = [("same location", 0.0, SAME_LOCATION_M)]
    t_lab: list[tuple[str, int, int]] = [("same day", 0, 0)]
    for i, upper in enumerate(space[1:]):
        low = SAME_LOCATION_M if i == 0 else space[i]
        s_lab.append((f"<= {upper:g} m", 0.0, upper) if cumulative
                     else (f"{low:g}-{upper:g} m", low, upper))
    for i, upper_day in enumerate(times[1:]):
        t_lab.append((f"<= {upper_day} days", 0, upper_day) if cumulative
                     else (f"{times[i] + 1}-{upper_day} days", times[i] + 1, upper_day))
    return s_lab, t_lab


def _frame(space: list[float], times: list[int], cumulative: bool, observed: NDArray[np.int64],
           perms: NDArray[np.int64]) -> pd.DataFrame:
    s_lab, t_lab = _labels(space, times, cumulative)
    rows = [(s[0], t[0], s[1], s[2], t[1], t[2]) for s in s_lab for t in t_lab]
    frame = pd.DataFrame(rows, columns=list(_LABEL_COLUMNS))
    obs = observed.ravel()
    frame["observed"] = obs.astype(np.int64)
    if len(perms):
        flat = perms.reshape(len(perms), -1)
        expected = flat.mean(axis=0)
        frame["expected"] = expected
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["knox_ratio"] = np.where(expected > 0, obs / expected, np.nan)
        frame["p_value"] = (1 + (flat >= obs[None, :]).sum(axis=0)) / (len(perms) + 1)
    else:
        frame["expected"] = np.nan
        frame["knox_ratio"] = np.nan
        frame["p_value"] = np.nan
    return frame


def _add_analytic(frame: pd.DataFrame, band_pairs: NDArray[np.int64], days: NDArray[np.integer],
                  times: list[int], total: int) -> pd.DataFrame:
    """N_s, N_t, E = N_s·N_t / C(n, 2) and the Poisson P(X ≥ observed) of a cumulative table."""
    space_pairs = np.cumsum(band_pairs)
    sorted_days = np.sort(days.astype(np.int64))
    idx = np.arange(len(sorted_days))
    time_pairs = np.array([
        int((np.searchsorted(sorted_days, sorted_days + tau, side="right") - idx - 1).sum())
        for tau in times], dtype=np.int64)
    out = frame.copy()
    out["space_pairs"] = np.repeat(space_pairs, len(times))
    out["time_pairs"] = np.tile(time_pairs, len(space_pairs))
    expected = out["space_pairs"].to_numpy(float) * out["time_pairs"].to_numpy(float) / total
    out["expected_analytic"] = expected
    out["p_poisson"] = poisson.sf(out["observed"].to_numpy() - 1, expected)
    return out
