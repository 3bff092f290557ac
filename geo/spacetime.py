"""Input checks and small shared steps of the space-time analyses.

The near-repeat test (:mod:`geo.nearrepeat`), emerging hot spots (:mod:`geo.emerging`), density
surfaces (:mod:`geo.density`) and early-warning alerts (:mod:`geo.alerts`) all take the incident
frame of :mod:`geo.layers` (``id``, ``occurred_at`` as tz-aware UTC instants, ``category``,
``status``, ``location_precision``, ``community_code``, point geometry) and need the same few
things from it: the incidents' local calendar days in a time zone, their points in a metric CRS
with the ones that cannot be used counted, option checks that raise :mod:`geo.errors` classes,
and Benjamini–Hochberg q values. They live here once so the four analyses agree.

Local days are whole days since 1970-01-01 of the local calendar date (an integer per incident),
so the difference of two incidents' day numbers is the number of calendar days between them
whatever their clock times.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.stats import false_discovery_control

from geo.errors import InputError, ParameterError
from geo.layers import LOCATION_PRECISIONS

__all__ = [
    "EPOCH",
    "MISSING_DAY",
    "PARALLEL_LOCK",
    "LocatedPoints",
    "bh_q_values",
    "check_choice",
    "check_frame",
    "check_int",
    "check_number",
    "check_precisions",
    "check_study_area",
    "check_timezone",
    "date_of_day",
    "day_of_date",
    "local_days",
    "located_points",
]

#: Day 0 of the local day numbers.
EPOCH = dt.date(1970, 1, 1)

#: Held while a numba-parallel kernel runs: numba's thread pools (the ``workqueue`` layer
#: above all) must not be entered from two threads at once, as a threaded server would.
PARALLEL_LOCK = threading.Lock()

#: The day number of a missing time.
MISSING_DAY = np.iinfo(np.int64).min

ArrayLikeFloat = Sequence[float] | NDArray[np.float64]


def check_frame(frame: Any, name: str, columns: Iterable[str] = (), *,
                geo: bool = True) -> None:
    """Check that ``frame`` is a (Geo)DataFrame with a CRS and the named columns.

    Raises
    ------
    geo.errors.InputError
        If it is not a frame, has no CRS, or misses a column.
    """
    kind = gpd.GeoDataFrame if geo else pd.DataFrame
    if not isinstance(frame, kind):
        raise InputError(f"{name} must be a {kind.__name__}; got {type(frame).__name__}",
                         parameter=name)
    if geo and frame.crs is None:
        raise InputError(f"{name} must carry a CRS; got none", parameter=name)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{name} misses the column(s) {', '.join(missing)}; got columns "
                         f"{', '.join(map(str, frame.columns))}", parameter=name)


def check_study_area(incidents: gpd.GeoDataFrame, study_area: Any) -> gpd.GeoSeries:
    """Return the study area's geometries after checking they share the incidents' CRS.

    Raises
    ------
    geo.errors.InputError
        If ``study_area`` is not a GeoDataFrame or GeoSeries, or its CRS is not the incidents'.
    """
    if isinstance(study_area, gpd.GeoDataFrame):
        area = study_area.geometry
    elif isinstance(study_area, gpd.GeoSeries):
        area = study_area
    else:
        raise InputError(f"study_area must be a GeoDataFrame or GeoSeries; got "
                         f"{type(study_area).__name__}", parameter="study_area")
    if area.crs is None or not area.crs.equals(incidents.crs):
        got = "none" if area.crs is None else area.crs.to_string()
        raise InputError(f"study_area must share the incidents' CRS "
                         f"({incidents.crs.to_string()}); got {got}", parameter="study_area")
    return area


def check_int(value: Any, name: str, *, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an int after checking it is a whole number in range.

    Raises
    ------
    geo.errors.ParameterError
        If it is not an integer (booleans are not) or lies outside ``[minimum, maximum]``.
    """
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ParameterError(f"{name} must be an integer >= {minimum}{upper}; got {value!r}",
                             parameter=name)
    return int(value)


def check_number(value: Any, name: str, *, minimum: float | None = None,
                 exclusive: bool = False, maximum: float | None = None) -> float:
    """Return ``value`` as a finite float after checking its range.

    Parameters
    ----------
    value
        The option's value.
    name
        The option's name, for the error.
    minimum
        Lower bound, inclusive unless ``exclusive``.
    exclusive
        Whether the lower bound itself is refused.
    maximum
        Upper bound (inclusive).

    Returns
    -------
    float

    Raises
    ------
    geo.errors.ParameterError
        If it is not a finite real number in range.
    """
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_) and math.isfinite(float(value))
    if ok and minimum is not None:
        ok = value > minimum if exclusive else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        parts = []
        if minimum is not None:
            parts.append(f"{'>' if exclusive else '>='} {minimum:g}")
        if maximum is not None:
            parts.append(f"<= {maximum:g}")
        bound = f" {' and '.join(parts)}" if parts else ""
        raise ParameterError(f"{name} must be a finite number{bound}; got {value!r}",
                             parameter=name)
    return float(value)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``.

    Raises
    ------
    geo.errors.ParameterError
        If it is not.
    """
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}",
                             parameter=name)
    return value


def check_timezone(timezone: Any) -> ZoneInfo:
    """Return the :class:`zoneinfo.ZoneInfo` of an IANA time zone name.

    Raises
    ------
    geo.errors.ParameterError
        If the name is not a time zone.
    """
    try:
        return ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterError(f"timezone must be an IANA time zone such as 'Asia/Shanghai'; "
                             f"got {timezone!r}", parameter="timezone") from None


def check_precisions(exclude_precisions: Sequence[str]) -> tuple[str, ...]:
    """Return the location precisions to leave out after checking them.

    Raises
    ------
    geo.errors.ParameterError
        If it is a bare string or names an unknown precision.
    """
    if isinstance(exclude_precisions, str):
        raise ParameterError(f"exclude_precisions must be a list of precisions; got the "
                             f"string {exclude_precisions!r}", parameter="exclude_precisions")
    out = tuple(exclude_precisions)
    unknown = sorted(set(out) - set(LOCATION_PRECISIONS))
    if unknown:
        raise ParameterError(f"exclude_precisions must be among "
                             f"{', '.join(LOCATION_PRECISIONS)}; got {unknown}",
                             parameter="exclude_precisions")
    return out


def local_days(occurred_at: pd.Series, timezone: str) -> NDArray[np.int64]:
    """Local calendar day numbers (days since 1970-01-01) of instants.

    Parameters
    ----------
    occurred_at
        Datetimes; aware ones are converted to ``timezone``, naive ones are taken as local
        times there already (the readers' convention for naive input). Missing values give
        :data:`MISSING_DAY`.
    timezone
        IANA time zone of the local calendar.

    Returns
    -------
    numpy.ndarray
        int64 day numbers.

    Raises
    ------
    geo.errors.InputError
        If the values are not datetimes.
    """
    check_timezone(timezone)
    try:
        times = pd.to_datetime(occurred_at)
    except (TypeError, ValueError) as exc:
        raise InputError(f"occurred_at must hold datetimes; got {occurred_at.dtype} ({exc})",
                         parameter="occurred_at") from None
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert(timezone).dt.tz_localize(None)
    days = times.dt.floor("D").to_numpy(dtype="datetime64[D]")
    out = days.astype("int64")
    out[np.isnat(days)] = MISSING_DAY
    return out


def day_of_date(day: dt.date) -> int:
    """The day number of a calendar date."""
    return (day - EPOCH).days


def date_of_day(day: int | np.integer) -> dt.date:
    """The calendar date of a day number."""
    return EPOCH + dt.timedelta(days=int(day))


@dataclass(frozen=True)
class LocatedPoints:
    """The incidents that have a usable point, projected into a metric CRS.

    Attributes
    ----------
    positions
        Row positions (``iloc``) of the usable incidents in the input frame.
    x, y
        Their coordinates in ``crs`` (metres).
    crs
        The metric CRS.
    no_location
        Incidents left out for having no point (null or empty geometry).
    coarse_location
        Incidents left out for their ``location_precision``.
    """

    positions: NDArray[np.int64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    crs: pyproj.CRS
    no_location: int
    coarse_location: int


def located_points(incidents: gpd.GeoDataFrame, crs: pyproj.CRS,
                   exclude_precisions: Sequence[str] = ("centroid",)) -> LocatedPoints:
    """Project the usable incident points into ``crs``.

    Parameters
    ----------
    incidents
        Incident frame (points; a missing ``location_precision`` means ``exact``).
    crs
        The metric CRS to project into.
    exclude_precisions
        Location precisions left out (by default ``centroid``: points placed on a community's
        centroid would pile up there and fake clusters).

    Returns
    -------
    LocatedPoints

    Raises
    ------
    geo.errors.InputError
        If a located geometry is not a point.
    """
    geometry = incidents.geometry
    geoms = np.asarray(geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms[~missing])
    if (types != shapely.GeometryType.POINT).any():
        names = sorted({shapely.GeometryType(t).name.lower() for t in np.unique(types)})
        raise InputError(f"incidents must be points; got {', '.join(names)}",
                         parameter="incidents")
    if "location_precision" in incidents.columns:
        precision = incidents["location_precision"].astype("string").fillna("exact")
        coarse = precision.isin(list(exclude_precisions)).to_numpy() & ~missing
    else:
        coarse = np.zeros(len(incidents), dtype=bool)
    keep = np.flatnonzero(~missing & ~coarse)
    xy = shapely.get_coordinates(geoms[keep])
    x, y = xy[:, 0].copy(), xy[:, 1].copy()
    if not incidents.crs.equals(crs):
        transformer = pyproj.Transformer.from_crs(incidents.crs, crs, always_xy=True)
        x, y = (np.asarray(v, dtype=np.float64) for v in transformer.transform(x, y))
    return LocatedPoints(
        positions=keep.astype(np.int64),
        x=x,
        y=y,
        crs=crs,
        no_location=int(missing.sum()),
        coarse_location=int(coarse.sum()),
    )


def bh_q_values(p_values: ArrayLikeFloat) -> NDArray[np.float64]:
    """Benjamini–Hochberg adjusted p values; NaN entries stay NaN and are not counted.

    Parameters
    ----------
    p_values
        p values in ``[0, 1]`` or NaN.

    Returns
    -------
    numpy.ndarray
        The q values, in the input's order.
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    tested = np.isfinite(p)
    if tested.any():
        q[tested] = false_discovery_control(np.clip(p[tested], 0.0, 1.0), method="bh")
    return q

