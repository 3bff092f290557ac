"""What callers without raw access may see: suppressed counts by community and on a fixed grid.

Planners and API clients never see an incident's position: they get counts per community and
per grid cell, and small counts are suppressed. A liaison sees raw incidents inside their
jurisdiction and aggregates anywhere; aggregates of areas outside their jurisdiction are
suppressed the same way.

Suppression (:func:`suppress`): a count of 1 to ``min_count - 1`` is shown as the text
``"<3"`` (generally ``f"<{min_count}"``), every figure derived from it in the same row (rates,
shares) becomes null, and the row is flagged ``suppressed``. A zero stays zero: an empty area
reveals no one.

Grid (:func:`grid_aggregate`): square cells of ``cell_m`` metres (at least
``settings.api.min_grid_cell_m``, 250 m by default) in the metric CRS of the communities, on a
fixed origin — cell edges at whole multiples of the cell size — so that two requests with
different extents cannot be overlaid to cut a cell into smaller pieces. Cells are returned as
polygons in EPSG:4326 with their counts; no point is ever returned. Only non-empty cells are
listed. Records located only at a community's centroid, or not at all, are left out of the
grid (they would pile up in the centroid's cell) and counted in the provenance.

Residual risk (documented, not prevented): a suppressed value can sometimes be derived from
figures that are shown. The total of an area minus the shown cells inside it gives the sum of
the suppressed ones, and when exactly one cell is suppressed it gives that cell's count; the
same holds for a district's rate minus its communities' shown counts, for two periods that
differ by one day, or, for a liaison, for a grid cell straddling the jurisdiction's edge
(the total minus the incidents the liaison can see inside). Suppression protects against
casual disclosure of small counts, not against a determined analyst with many queries; keys
for planners and clients should be given only to people and systems that may know
district-level totals.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import sqlalchemy as sa

from api.auth import ApiKey
from api.models import communities, incidents
from api.store import (
    Bbox,
    IncidentQuery,
    count_cases,
    count_incidents,
    read_communities,
    read_population,
)
from geo.crs import metric_crs_for
from geo.period import Period
from geo.rates import CaseDefinition

__all__ = [
    "AGGREGATE_COLUMNS",
    "GRID_COLUMNS",
    "Aggregate",
    "Disclosure",
    "community_aggregate",
    "disclosure_for",
    "grid_aggregate",
    "grid_metric_crs",
    "suppress",
    "suppress_for_key",
    "suppress_for_level",
    "suppressed_label",
]

#: Columns of a community aggregate (plus ``geometry``).
AGGREGATE_COLUMNS = ["code", "name", "subdistrict_code", "subdistrict", "district_code",
                     "district", "population", "incidents", "incidents_per_10k", "suppressed"]
#: Columns of a grid aggregate (plus ``geometry``).
GRID_COLUMNS = ["cell_id", "ix", "iy", "incidents", "share", "suppressed"]


def suppressed_label(min_count: int) -> str:
    """Return the text shown instead of a small count (``"<3"`` for ``min_count=3``)."""
    return f"<{min_count}"


def suppress(frame: pd.DataFrame, count_columns: Sequence[str],
             derived_columns: Sequence[str] = (), *, min_count: int = 3,
             where: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """Suppress small counts and what is derived from them.

    Parameters
    ----------
    frame
        Rows (not modified).
    count_columns
        Columns of whole counts; a value from 1 to ``min_count - 1`` becomes
        ``f"<{min_count}"`` (the column's dtype becomes ``object``).
    derived_columns
        Columns computed from the counts (rates, shares); null in every row where any count
        was suppressed.
    min_count
        Smallest count shown (>= 1; 1 suppresses nothing).
    where
        Boolean per row: only these rows may be suppressed (``None``: all rows). A liaison's
        own communities are exempt this way.

    Returns
    -------
    pandas.DataFrame
        A copy with the counts replaced and a boolean column ``suppressed``.

    Raises
    ------
    ValueError
        If ``min_count`` < 1 or a column is missing.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1; got {min_count}")
    missing = [c for c in [*count_columns, *derived_columns] if c not in frame.columns]
    if missing:
        raise ValueError(f"suppress: columns {missing} are not in the frame; columns: "
                         f"{list(frame.columns)}")
    out = frame.copy()
    eligible = (np.ones(len(out), dtype=bool) if where is None
                else np.asarray(where, dtype=bool))
    any_small = np.zeros(len(out), dtype=bool)
    label = suppressed_label(min_count)
    for c in count_columns:
        values = pd.to_numeric(out[c], errors="coerce").to_numpy(dtype="float64")
        small = eligible & (values >= 1) & (values < min_count)
        any_small |= small
        col = out[c].astype(object)
        col[small] = label
        out[c] = col
    for c in derived_columns:
        col = out[c].astype("float64")
        col[any_small] = np.nan
        out[c] = col
    out["suppressed"] = any_small
    return out


@dataclass(frozen=True)
class Disclosure:
    """Which communities a caller may see exact small counts for.

    Attributes
    ----------
    min_count
        Smallest count shown where suppression applies.
    exact_communities
        Community codes exempt from suppression; ``None`` exempts everything (admin).
    """

    min_count: int
    exact_communities: frozenset[str] | None = field(default_factory=frozenset)

    def exempt(self, codes: pd.Series) -> np.ndarray:
        """Boolean per code: whether its counts are shown exactly."""
        if self.exact_communities is None:
            return np.ones(len(codes), dtype=bool)
        return codes.isin(self.exact_communities).fillna(False).to_numpy(dtype=bool)


def disclosure_for(conn: sa.Connection, key: ApiKey, *, min_count: int) -> Disclosure:
    """Return the disclosure rule of a key: admin exact, liaison exact inside, others suppressed.

    Parameters
    ----------
    conn
        Connection (a liaison's communities are looked up).
    key
        The caller.
    min_count
        ``settings.api.min_count_shown``.

    Returns
    -------
    Disclosure
    """
    if key.role == "admin":
        return Disclosure(min_count, None)
    if key.role == "liaison":
        c = communities.c
        codes = conn.execute(sa.select(c.code).where(sa.or_(
            c.district_code.in_(list(key.jurisdictions)),
            c.subdistrict_code.in_(list(key.jurisdictions))))).scalars()
        return Disclosure(min_count, frozenset(str(code) for code in codes))
    return Disclosure(min_count, frozenset())


def suppress_for_key(conn: sa.Connection, key: ApiKey, frame: pd.DataFrame,
                     count_columns: Sequence[str], derived_columns: Sequence[str] = (), *,
                     min_count: int, code_column: str = "code") -> pd.DataFrame:
    """Suppress a per-community frame as ``key`` may see it (see :func:`disclosure_for`).

    Parameters
    ----------
    conn
        Connection.
    key
        The caller: admin sees everything, a liaison their jurisdiction exactly.
    frame
        One row per community, with its code in ``code_column``.
    count_columns, derived_columns, min_count
        As for :func:`suppress`.
    code_column
        Column of community codes.

    Returns
    -------
    pandas.DataFrame
        A copy with small counts suppressed and a ``suppressed`` column.
    """
    disclosure = disclosure_for(conn, key, min_count=min_count)
    codes = frame[code_column].astype("string")
    return suppress(frame, count_columns, derived_columns, min_count=min_count,
                    where=~disclosure.exempt(codes))


def suppress_for_level(conn: sa.Connection, key: ApiKey, frame: pd.DataFrame,
                       count_columns: Sequence[str], derived_columns: Sequence[str] = (), *,
                       min_count: int, level: str, code_column: str = "code") -> pd.DataFrame:
    """Suppress a per-community or rolled-up frame as ``key`` may see it.

    Communities follow :func:`suppress_for_key`. Rolled-up units (subdistricts, districts, the
    city, the ``unassigned`` line) are shown exactly to admins, and to a liaison only for the
    units named by their jurisdiction codes; for everyone else their small counts are
    suppressed.

    Returns
    -------
    pandas.DataFrame
        A copy with small counts suppressed and a ``suppressed`` column.
    """
    if level == "community":
        return suppress_for_key(conn, key, frame, count_columns, derived_columns,
                                min_count=min_count, code_column=code_column)
    if key.role == "admin":
        exempt = np.ones(len(frame), dtype=bool)
    elif key.role == "liaison":
        exempt = frame[code_column].astype("string").isin(list(key.jurisdictions)).fillna(
            False).to_numpy(dtype=bool)
    else:
        exempt = np.zeros(len(frame), dtype=bool)
    return suppress(frame, count_columns, derived_columns, min_count=min_count, where=~exempt)


@dataclass(frozen=True)
class Aggregate:
    """An aggregate with its provenance figures.

    Attributes
    ----------
    frame
        Rows (:data:`AGGREGATE_COLUMNS` or :data:`GRID_COLUMNS`) with geometry in EPSG:4326.
    left_out
        Counts left out, by reason (``unassigned``, ``no_location``, ``not_a_case``,
        ``imprecise_location``).
    suppressed
        Rows with a suppressed count.
    total
        Incidents counted in the rows shown and suppressed (before suppression).
    metric_crs
        The metric CRS of a grid (``EPSG:xxxx``), else ``None``.
    """

    frame: gpd.GeoDataFrame
    left_out: dict[str, int]
    suppressed: int
    total: int
    metric_crs: str | None = None


def _populations(conn: sa.Connection, comms: pd.DataFrame, year: int) -> pd.Series:
    """Return the population per community: the year's table, else the boundary's."""
    pop = pd.Series(comms["population"].to_numpy(dtype="float64"), index=comms["code"])
    table = read_population(conn)
    of_year = table[table["year"] == year].set_index("code")["population"]
    pop.update(of_year[of_year.index.isin(pop.index)])
    return pop


def community_aggregate(conn: sa.Connection, *, period: Period, timezone: str,
                        definition: CaseDefinition, disclosure: Disclosure,
                        categories: Sequence[str] = (), district: str | None = None,
                        subdistrict: str | None = None, bbox: Bbox | None = None
                        ) -> Aggregate:
    """Incident counts per community for a period, suppressed by ``disclosure``.

    Parameters
    ----------
    conn
        Connection.
    period
        The period (local days in ``timezone``).
    timezone
        Time zone of the period.
    definition
        Which records count (``CaseDefinition()`` counts every record).
    disclosure
        Whose counts are shown exactly.
    categories
        Only these categories.
    district, subdistrict, bbox
        Only these communities (see :func:`api.store.read_communities`).

    Returns
    -------
    Aggregate
        ``incidents_per_10k`` is for the period (not annualised), on the population of the
        period's year where the population table has it.
    """
    comms = read_communities(conn, district=district, subdistrict=subdistrict, bbox=bbox)
    counts = count_cases(conn, period, definition, timezone=timezone, categories=categories)
    by_code = counts.by_community()
    frame = comms.copy()
    frame["population"] = _populations(conn, comms, period.year).to_numpy()
    n = frame["code"].map(by_code).fillna(0).astype("int64")
    frame["incidents"] = n.to_numpy()
    pop = frame["population"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(pop > 0, frame["incidents"].to_numpy() / pop * 1e4, np.nan)
    frame["incidents_per_10k"] = rate
    total = int(frame["incidents"].sum())
    shown = suppress(frame, ["incidents"], ["incidents_per_10k"],
                     min_count=disclosure.min_count,
                     where=~disclosure.exempt(frame["code"]))
    shown = gpd.GeoDataFrame(shown[[*AGGREGATE_COLUMNS, "geometry"]], geometry="geometry",
                             crs="EPSG:4326")
    left_out = {"unassigned": counts.unassigned(), "no_location": counts.no_location,
                "not_a_case": counts.not_counted}
    return Aggregate(shown, left_out, int(shown["suppressed"].sum()), total)


def grid_metric_crs(conn: sa.Connection, configured: str | None) -> pyproj.CRS | None:
    """Return the CRS of the fixed grid: the configured metric CRS, else the communities' default.

    The choice depends only on the stored communities, never on a request's filters, so the
    grid is the same for every request (``None`` when no community is loaded).
    """
    if configured:
        return pyproj.CRS.from_user_input(configured)
    c = communities.c
    centre = sa.func.ST_Centroid(c.geom)
    rows = conn.execute(sa.select(sa.func.ST_X(centre), sa.func.ST_Y(centre))
                        .where(c.retired_on.is_(None))).all()
    if not rows:
        return None
    xy = np.asarray(rows, dtype="float64")
    return metric_crs_for(xy[:, 0], xy[:, 1])


def _incident_points(conn: sa.Connection, query: IncidentQuery) -> pd.DataFrame:
    """Positions and communities of the located incidents of a query (no other column)."""
    i = incidents.c
    rows = conn.execute(sa.select(sa.func.ST_X(i.geom), sa.func.ST_Y(i.geom), i.community_code)
                        .where(*query.clauses())).all()
    frame = pd.DataFrame(rows, columns=["lon", "lat", "community_code"])
    frame["lon"] = frame["lon"].astype("float64")
    frame["lat"] = frame["lat"].astype("float64")
    frame["community_code"] = frame["community_code"].astype("string")
    return frame


@functools.lru_cache(maxsize=32)
def _transformer(source: str, target: str) -> pyproj.Transformer:
    """A cached transformer: building one costs more than transforming thousands of points."""
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def _cell_polygons(ix: np.ndarray, iy: np.ndarray, cell_m: float,
                   to_wgs84: pyproj.Transformer) -> np.ndarray:
    """Cell squares in EPSG:4326 from their four corners.

    A straight cell edge of a conformal projection bends by millimetres over a few kilometres
    in longitude/latitude, so the corners alone draw the cell.
    """
    # counter-clockwise from the south-west corner
    ux = np.array([0.0, 1.0, 1.0, 0.0])
    uy = np.array([0.0, 0.0, 1.0, 1.0])
    x = (ix[:, None] + ux[None, :]) * cell_m
    y = (iy[:, None] + uy[None, :]) * cell_m
    lon, lat = to_wgs84.transform(x, y)
    coords = np.stack([lon, lat], axis=-1)
    coords = np.concatenate([coords, coords[:, :1, :]], axis=1)
    return np.asarray(shapely.polygons(coords), dtype=object)


def grid_aggregate(conn: sa.Connection, query: IncidentQuery, *, cell_m: float,
                   metric_crs: pyproj.CRS | None, disclosure: Disclosure) -> Aggregate:
    """Incident counts on the fixed grid, suppressed by ``disclosure``.

    Parameters
    ----------
    conn
        Connection.
    query
        Which incidents (period, categories, bbox, case definition); ``precise_only`` is
        applied here.
    cell_m
        Cell size in metres (the caller enforces the minimum).
    metric_crs
        The grid's CRS (:func:`grid_metric_crs`); ``None`` means no community is loaded and
        the grid is empty.
    disclosure
        Whose counts are shown exactly: a cell is exempt from suppression only when every
        incident in it belongs to an exempt community.

    Returns
    -------
    Aggregate
        ``share`` is the cell's share of the incidents on the grid.

    Raises
    ------
    ValueError
        If ``cell_m`` is not a positive finite number.
    """
    if not (math.isfinite(cell_m) and cell_m > 0):
        raise ValueError(f"cell_m must be a positive number of metres; got {cell_m}")
    everything = IncidentQuery(**{**query.__dict__, "precise_only": False})
    located = IncidentQuery(**{**query.__dict__, "precise_only": True})
    points = _incident_points(conn, located)
    imprecise = count_incidents(conn, everything) - len(points)
    empty = gpd.GeoDataFrame({c: pd.Series(dtype="object") for c in GRID_COLUMNS},
                             geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")
    if metric_crs is None or not len(points):
        return Aggregate(empty, {"imprecise_location": imprecise}, 0, 0,
                         None if metric_crs is None else metric_crs.to_string())
    crs_text = metric_crs.to_wkt()
    to_metric = _transformer("EPSG:4326", crs_text)
    x, y = to_metric.transform(points["lon"].to_numpy(), points["lat"].to_numpy())
    ix = np.floor(np.asarray(x) / cell_m).astype("int64")
    iy = np.floor(np.asarray(y) / cell_m).astype("int64")
    exempt = disclosure.exempt(points["community_code"])
    cells = (pd.DataFrame({"ix": ix, "iy": iy, "exempt": exempt})
             .groupby(["ix", "iy"], sort=True)
             .agg(incidents=("exempt", "size"), exempt=("exempt", "all"))
             .reset_index())
    total = int(cells["incidents"].sum())
    cells["share"] = cells["incidents"] / total
    size = f"{cell_m:g}"
    cells["cell_id"] = [f"{size}m:{a}:{b}" for a, b in zip(cells["ix"], cells["iy"],
                                                           strict=True)]
    shown = suppress(cells, ["incidents"], ["share"], min_count=disclosure.min_count,
                     where=~cells["exempt"].to_numpy(dtype=bool))
    to_wgs84 = _transformer(crs_text, "EPSG:4326")
    geoms = _cell_polygons(cells["ix"].to_numpy(), cells["iy"].to_numpy(), cell_m, to_wgs84)
    frame = gpd.GeoDataFrame(shown[GRID_COLUMNS], geometry=geoms, crs="EPSG:4326")
    return Aggregate(frame, {"imprecise_location": imprecise}, int(frame["suppressed"].sum()),
                     total, metric_crs.to_string())

