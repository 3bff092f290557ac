"""Batch counts over an incident archive, partition by partition: what runs on a cluster's workers.

``pingan batch`` (:mod:`api.batch`) reads a partitioned GeoParquet archive of incidents
(``archive/year=YYYY/month=MM/*.parquet``, written by ``pingan export incidents --parquet``)
as dask-geopandas partitions. Every partition goes through :func:`partition_counts`, which
assigns its points to the communities (:class:`CommunityIndex`, built once on the client and
broadcast to every worker) and reduces the partition to two small tables of counts:

- **months**: local year × month × community × category × status × location class
  (``exact``: a point of exact or address precision; ``coarse``: a point of an excluded
  precision, normally a community centroid; ``none``: no point);
- **cells**: local year × month × category × status × grid cell, for the points of the
  ``exact`` class (the cells of :class:`geo.grid.Grid`, binned by :func:`geo.hotspots.point_cells`
  exactly as the single-machine grid hot spots bin them).

:func:`merge_counts` adds partial tables together (a tree of merges on the workers). On the
client, :func:`period_case_counts` and :func:`period_cell_counts` turn the merged tables into
what the single-machine path reads from the database for a period of whole months: the same
:class:`geo.cases.CaseCounts` (with the unassigned cases, the cases without a location and the
records the case definition left out) and the same cell counts, so rates (:mod:`geo.rates`)
and Gi* (:mod:`geo.hotspots`) run unchanged on them.

Assignment follows the load's rule without snapping: a point belongs to the community that
intersects it, the smallest code on a shared boundary (:class:`geo.assign.PolygonIndex`); a
record without a point belongs to the community its file named when that code exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.assign import PolygonIndex
from geo.cases import CaseCounts, CaseDefinition
from geo.errors import ParameterError, PeriodError
from geo.grid import Grid
from geo.hotspots import point_cells
from geo.period import Period

__all__ = [
    "ARCHIVE_COLUMNS",
    "LOCATION_CLASSES",
    "BatchCounts",
    "CommunityIndex",
    "merge_counts",
    "monthly_cases",
    "partition_counts",
    "period_case_counts",
    "period_cell_counts",
    "period_months",
]

#: Columns of an incident archive (besides ``geometry``, points in EPSG:4326, null for none).
ARCHIVE_COLUMNS = ("id", "occurred_at", "category", "status", "address", "location_precision",
                   "community_code", "assigned_by", "reported_community")
#: Location classes of the month counts.
LOCATION_CLASSES = ("exact", "coarse", "none")

_MONTH_KEYS = ["year", "month", "community_code", "category", "status", "location"]
_CELL_KEYS = ["year", "month", "category", "status", "ix", "iy"]


@dataclass(frozen=True, eq=False)
class CommunityIndex:
    """Communities prepared once for assigning points on any worker.

    Attributes
    ----------
    codes
        Community codes in the order of the index's polygons (sorted by code, as
        :func:`geo.assign.assign_to_communities` sorts them).
    index
        The point-in-polygon index over the communities (EPSG:4326).
    """

    codes: NDArray[np.object_]
    index: PolygonIndex

    @classmethod
    def build(cls, communities: gpd.GeoDataFrame) -> CommunityIndex:
        """Index communities with a unique ``code`` in EPSG:4326.

        Raises
        ------
        geo.errors.ParameterError
            If the frame is not in EPSG:4326 or its codes are missing or repeated.
        """
        if communities.crs is None or communities.crs.to_epsg() != 4326:
            raise ParameterError(f"communities must be in EPSG:4326 like the archive; got "
                                 f"{communities.crs}", parameter="communities")
        codes = communities["code"].astype("string")
        if codes.isna().any() or codes.duplicated().any():
            raise ParameterError("communities['code'] must be present and unique",
                                 parameter="communities")
        order = np.argsort(codes.to_numpy(dtype=object), kind="stable")
        polygons = np.asarray(communities.geometry.array, dtype=object)[order]
        return cls(codes.to_numpy(dtype=object)[order], PolygonIndex.build(polygons))

    def assign(self, points: gpd.GeoSeries, reported: pd.Series) -> pd.Series:
        """Community code per record: by its point, else by the code its file gave when known.

        Returns
        -------
        pandas.Series
            String dtype, the index of ``points``; ``<NA>`` in no community.
        """
        geoms = np.asarray(points.array, dtype=object)
        located = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        x = np.full(len(geoms), np.nan)
        y = np.full(len(geoms), np.nan)
        x[located] = shapely.get_x(geoms[located])
        y[located] = shapely.get_y(geoms[located])
        position = self.index.assign(x, y)
        values = np.full(len(geoms), pd.NA, dtype=object)
        found = position >= 0
        values[found] = self.codes[position[found]]
        by_code = ~located & reported.isin(list(self.codes)).fillna(False).to_numpy(dtype=bool)
        values[by_code] = reported.to_numpy(dtype=object)[by_code]
        return pd.Series(values, index=points.index, dtype="string", name="community_code")


@dataclass(frozen=True, eq=False)
class BatchCounts:
    """Counts of incidents by local month, from one partition or merged from many.

    Attributes
    ----------
    months
        ``year``, ``month`` (local), ``community_code``, ``category``, ``status`` (strings,
        ``<NA>`` where missing: the unassigned records have no code), ``location`` (one of
        :data:`LOCATION_CLASSES`) and ``count`` (int64).
    cells
        ``year``, ``month``, ``category``, ``status``, ``ix``, ``iy`` (the cell of the grid)
        and ``count``, for the points of the ``exact`` class.
    cell_m
        The grid's cell size in metres.
    """

    months: pd.DataFrame
    cells: pd.DataFrame
    cell_m: float

    @property
    def records(self) -> int:
        """Records counted."""
        return int(self.months["count"].sum())


def _local_months(occurred_at: pd.Series, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    when = pd.to_datetime(occurred_at, utc=True).dt.tz_convert(timezone)
    return (when.dt.year.to_numpy(dtype=np.int64), when.dt.month.to_numpy(dtype=np.int64))


def _group(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.groupby(keys, dropna=False, sort=True, observed=True)["count"].sum()
    return out.reset_index().astype({"count": np.int64})


def partition_counts(part: gpd.GeoDataFrame, communities: CommunityIndex | None, *,
                     grid: Grid, timezone: str,
                     exclude_precisions: Sequence[str] = ("centroid",)) -> BatchCounts:
    """Count one partition of an archive by month, community, category, status and cell.

    Parameters
    ----------
    part
        Archive rows (:data:`ARCHIVE_COLUMNS` and point geometry in EPSG:4326).
    communities
        The communities to assign points to; ``None`` keeps the archive's ``community_code``
        (the assignment stored when the incidents were loaded).
    grid
        The grid to count points on.
    timezone
        Time zone of the local months.
    exclude_precisions
        Location precisions counted as ``coarse`` and left off the grid.

    Returns
    -------
    BatchCounts

    Raises
    ------
    geo.errors.ParameterError
        If a column is missing or the partition is not in EPSG:4326.
    """
    missing = [c for c in ("occurred_at", "category", "status", "location_precision",
                           "community_code", "reported_community") if c not in part.columns]
    if missing:
        raise ParameterError(f"the archive lacks the columns {missing}", parameter="archive")
    if part.crs is None or part.crs.to_epsg() != 4326:
        raise ParameterError(f"archive points must be in EPSG:4326; got {part.crs}",
                             parameter="archive")
    geoms = part.geometry
    none = (geoms.isna() | geoms.is_empty).to_numpy(dtype=bool)
    precision = part["location_precision"].astype("string").fillna("exact")
    coarse = ~none & precision.isin(list(exclude_precisions)).to_numpy(dtype=bool)
    codes = (communities.assign(geoms, part["reported_community"].astype("string"))
             if communities is not None else part["community_code"].astype("string"))
    year, month = _local_months(part["occurred_at"], timezone)
    location = np.where(none, "none", np.where(coarse, "coarse", "exact"))
    frame = pd.DataFrame({
        "year": year, "month": month,
        "community_code": codes.to_numpy(dtype=object),
        "category": part["category"].astype("string").to_numpy(dtype=object),
        "status": part["status"].astype("string").to_numpy(dtype=object),
        "location": location, "count": 1})
    exact = ~(none | coarse)
    ix, iy = point_cells(gpd.GeoSeries(geoms[exact].to_numpy(), crs=part.crs), grid)
    cells = frame.loc[exact, ["year", "month", "category", "status", "count"]].assign(ix=ix, iy=iy)
    return BatchCounts(_normalise(_group(frame, _MONTH_KEYS)),
                       _normalise(_group(cells, _CELL_KEYS)), grid.cell_m)


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in ("community_code", "category", "status", "location"):
        if c in out.columns:
            out[c] = out[c].astype("string")
    for c in ("year", "month", "ix", "iy", "count"):
        if c in out.columns:
            out[c] = out[c].astype(np.int64)
    return out


def merge_counts(*parts: BatchCounts) -> BatchCounts:
    """Add partial counts together (the reduction step of a batch run).

    Raises
    ------
    geo.errors.ParameterError
        If there is nothing to merge or the parts were counted on different grids.
    """
    if not parts:
        raise ParameterError("merge_counts needs at least one part")
    sizes = {p.cell_m for p in parts}
    if len(sizes) > 1:
        raise ParameterError(f"parts were counted on different grids: {sorted(sizes)} m")
    months = pd.concat([p.months for p in parts], ignore_index=True)
    cells = pd.concat([p.cells for p in parts], ignore_index=True)
    return BatchCounts(_normalise(_group(months, _MONTH_KEYS)),
                       _normalise(_group(cells, _CELL_KEYS)), parts[0].cell_m)


def period_months(period: Period) -> list[tuple[int, int]]:
    """The (year, month) pairs of a period of whole months.

    Raises
    ------
    geo.errors.PeriodError
        If the period does not start on a month's first day and end on a month's last day.
    """
    last = period.last_day
    if period.start.day != 1 or (last + dt.timedelta(days=1)).day != 1:
        raise PeriodError(f"period: a batch counts whole months (2025, 2025-Q3, 2025-07 or "
                          f"YYYY-MM-01..YYYY-MM-last); got {period.label!r}",
                          parameter="period")
    out = []
    y, m = period.start.year, period.start.month
    while (y, m) <= (last.year, last.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _in_period(frame: pd.DataFrame, period: Period, categories: Iterable[str]) -> pd.DataFrame:
    months = pd.MultiIndex.from_tuples(period_months(period), names=["year", "month"])
    keep = pd.MultiIndex.from_frame(frame[["year", "month"]]).isin(months)
    cats = sorted(set(categories))
    if cats:
        keep &= frame["category"].isin(cats).fillna(False).to_numpy(dtype=bool)
    return frame[keep]


def period_case_counts(counts: BatchCounts, period: Period, definition: CaseDefinition, *,
                       timezone: str, categories: Sequence[str] = ()) -> CaseCounts:
    """Cases per community of a period of whole months, as storage counts them.

    Parameters
    ----------
    counts
        Merged batch counts.
    period
        Whole months (:func:`period_months`).
    definition
        Which records count as cases.
    timezone
        The time zone the months were counted in.
    categories
        Only these categories.

    Returns
    -------
    geo.cases.CaseCounts
        The unassigned cases as the missing-code group; ``no_location`` the unassigned cases
        without a point; ``not_counted`` the records of the period the definition left out.
    """
    rows = _in_period(counts.months, period, categories)
    cases = rows[definition.mask(rows).to_numpy(dtype=bool)]
    by_code = (cases.groupby("community_code", dropna=False, sort=True)["count"].sum()
               .rename("cases").reset_index())
    no_location = int(cases.loc[cases["community_code"].isna()
                                & (cases["location"] == "none"), "count"].sum())
    return CaseCounts(by_code, period, no_location=no_location,
                      not_counted=int(rows["count"].sum() - cases["count"].sum()),
                      case_definition=definition, timezone=timezone)


def period_cell_counts(counts: BatchCounts, period: Period, definition: CaseDefinition, *,
                       categories: Sequence[str] = ()) -> tuple[pd.DataFrame, int]:
    """Cases per grid cell of a period of whole months, and the cases left off for precision.

    Returns
    -------
    tuple of (pandas.DataFrame, int)
        ``ix``, ``iy``, ``count`` sorted by cell (cells holding a case), and the cases of the
        ``coarse`` location class.
    """
    rows = _in_period(counts.cells, period, categories)
    cases = rows[definition.mask(rows).to_numpy(dtype=bool)]
    cells = (cases.groupby(["ix", "iy"], sort=True)["count"].sum().reset_index()
             .astype({"ix": np.int64, "iy": np.int64, "count": np.int64}))
    months = _in_period(counts.months, period, categories)
    coarse = months[definition.mask(months).to_numpy(dtype=bool)
                    & (months["location"] == "coarse").to_numpy(dtype=bool)]
    return cells, int(coarse["count"].sum())


def monthly_cases(counts: BatchCounts, definition: CaseDefinition) -> tuple[pd.DataFrame,
                                                                             pd.DataFrame]:
    """Cases per community × month × category, and per grid cell × month.

    Returns
    -------
    tuple of (pandas.DataFrame, pandas.DataFrame)
        ``year``, ``month``, ``community_code``, ``category``, ``cases`` (the unassigned cases
        with a missing code); and ``year``, ``month``, ``ix``, ``iy``, ``cases``. Only the
        records the definition counts, sorted, without empty groups.
    """
    def cases(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        kept = frame[definition.mask(frame).to_numpy(dtype=bool)]
        out = (kept.groupby(keys, dropna=False, sort=True)["count"].sum().rename("cases")
               .reset_index())
        return _normalise(out.astype({"cases": np.int64}))

    return (cases(counts.months, ["year", "month", "community_code", "category"]),
            cases(counts.cells, ["year", "month", "ix", "iy"]))
