"""Which rows of an inventory layer count for a period.

Inventories change: devices are installed and removed, facilities open and close, compounds are
built and pulled down, and a load with ``--replace`` closes the rows a new file leaves out
rather than deleting them. A metric for a period counts only the rows that existed during it
(:func:`existing_during`); :func:`facilities_of_type` applies that rule to the facilities of one
type, as the coverage, workload and siting metrics need them.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geo import arrays
from geo.errors import ParameterError
from geo.period import Period, parse_period

__all__ = ["existing_during", "facilities_of_type"]


def existing_during(
    frame: pd.DataFrame,
    period: Period | str | int,
    *,
    start_column: str | None,
    end_column: str | None,
) -> pd.Series:
    """Mark the rows of an inventory that existed during a period.

    A row existed during ``period`` when it started on or before the period's last day
    (``start < period.end``, the end being exclusive) and had not ended by the period's first
    day (``end`` missing or ``end > period.start``). A missing start counts as "always there".

    Parameters
    ----------
    frame
        The inventory (devices, facilities, compounds).
    period
        The reporting period (a :class:`~geo.period.Period` or text :func:`parse_period` reads).
    start_column, end_column
        Date columns (``installed_on``/``removed_on``, ``opened_on``/``closed_on``); ``None``
        when the layer has no such column.

    Returns
    -------
    pandas.Series of bool
        Aligned with ``frame``.

    Raises
    ------
    ValueError
        When a named column is absent or does not hold dates, or the period is invalid.
    TypeError
        When ``frame`` is not a DataFrame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    p = parse_period(period)
    start = pd.Timestamp(p.start)
    end = pd.Timestamp(p.end)
    keep = pd.Series(True, index=frame.index)
    if start_column is not None:
        began = _dates(frame, start_column)
        keep &= began.isna() | (began < end)
    if end_column is not None:
        ended = _dates(frame, end_column)
        keep &= ended.isna() | (ended > start)
    return keep


def facilities_of_type(
    facilities: gpd.GeoDataFrame, facility_type: str, period: Period | None
) -> gpd.GeoDataFrame:
    """Return the facilities of one type, only those that existed during ``period`` if given.

    Parameters
    ----------
    facilities
        Facility points with ``type`` (``opened_on``/``closed_on`` used with ``period``).
    facility_type
        The type to keep.
    period
        The period, or ``None`` to keep every row of the type.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows kept, in their order.

    Raises
    ------
    ValueError
        When a date column does not hold dates.
    """
    keep = (facilities["type"].astype("string") == facility_type).fillna(False)
    if period is not None:
        keep &= existing_during(facilities, period,
                                start_column=arrays.present(facilities, "opened_on"),
                                end_column=arrays.present(facilities, "closed_on"))
    return facilities[keep.to_numpy(dtype=bool)]


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise ParameterError(
            f"{column}: no such column; columns: {', '.join(map(str, frame.columns))}"
        )
    values = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, format="ISO8601")
        except (TypeError, ValueError):
            raise ParameterError(f"{column} must hold dates; got {values.dtype}") from None
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    return values
