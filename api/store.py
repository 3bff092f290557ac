"""Read stored layers back as canonical frames, and count cases with indexed queries.

Everything the services and routes read goes through here, so the SQL for "which incidents"
(period, case definition, categories, communities, bounding box, jurisdiction) is written once.
Frames come back with the canonical columns of :mod:`geo.layers`, in EPSG:4326, so geo's pure
functions take them as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from api import period_tables
from api.models import (
    communities,
    community_population,
    compounds,
    devices,
    facilities,
    incidents,
    load_coverage,
    loads,
)
from geo.cases import CaseCounts, CaseDefinition
from geo.codes import sort_by_code
from geo.errors import ParameterError
from geo.period import Period

__all__ = [
    "IncidentQuery",
    "case_clauses",
    "count_cases",
    "count_incidents",
    "count_keyed",
    "iter_incidents",
    "latest_loads",
    "read_case_records",
    "read_communities",
    "read_compounds",
    "read_coverage",
    "read_devices",
    "read_facilities",
    "read_incidents",
    "read_points",
    "read_population",
    "search_addresses",
]

Bbox = tuple[float, float, float, float]


def _geoms(values: Sequence[Any]) -> np.ndarray:
    wkb = np.array([None if v is None else bytes(v) for v in values], dtype=object)
    return shapely.from_wkb(wkb)


def _rows_frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    # pandas takes SQLAlchemy rows for named tuples and reads them one attribute lookup at a
    # time (1 s for the 65 k case records of the sample city); plain tuples take its fast
    # path (0.05 s).
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def _frame(rows: Sequence[Any], columns: Sequence[str]) -> gpd.GeoDataFrame:
    data = pd.DataFrame([tuple(r[:-1]) for r in rows], columns=list(columns))
    return gpd.GeoDataFrame(data, geometry=_geoms([r[-1] for r in rows]) if rows else [],
                            crs="EPSG:4326")


def _dates(frame: pd.DataFrame, cols: Sequence[str]) -> None:
    for c in cols:
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[ns]")


def _strings(frame: pd.DataFrame, cols: Sequence[str]) -> None:
    for c in cols:
        frame[c] = frame[c].astype("string")


def _bbox_clause(geom: Any, bbox: Bbox) -> Any:
    minx, miny, maxx, maxy = bbox
    env = sa.func.ST_GeomFromText(
        f"POLYGON(({minx} {miny},{maxx} {miny},{maxx} {maxy},{minx} {maxy},{minx} {miny}))", 4326)
    return sa.func.ST_Intersects(geom, env) == sa.true()


def _in_jurisdiction(codes: Sequence[str]) -> Any:
    return sa.select(communities.c.code).where(sa.or_(
        communities.c.district_code.in_(list(codes)),
        communities.c.subdistrict_code.in_(list(codes))))


def _row_filters(c: Any, categories: Sequence[str], community_codes: Sequence[str] | None,
                 jurisdictions: Sequence[str] | None) -> list[Any]:
    """Conditions on the category and community of ``incidents`` or of a period table."""
    out: list[Any] = []
    if categories:
        out.append(c.category.in_(list(categories)))
    if community_codes is not None:
        out.append(c.community_code.in_(list(community_codes)) if community_codes
                   else sa.false())
    if jurisdictions is not None:
        out.append(c.community_code.in_(_in_jurisdiction(jurisdictions))
                   if jurisdictions else sa.false())
    return out


# --- layers -----------------------------------------------------------------------------------


def read_communities(conn: sa.Connection, *, include_retired: bool = False,
                     codes: Sequence[str] | None = None, district: str | None = None,
                     subdistrict: str | None = None, bbox: Bbox | None = None,
                     jurisdictions: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Current communities (sorted by code) as a canonical frame.

    Parameters
    ----------
    conn
        Connection.
    include_retired
        Also return communities retired by a ``--replace`` load.
    codes
        Only these community codes.
    district, subdistrict
        Only communities whose district (subdistrict) code or name equals this.
    bbox
        Only communities intersecting (minx, miny, maxx, maxy) in EPSG:4326.
    jurisdictions
        Only communities in these district/subdistrict codes.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    c = communities.c
    cols = ["code", "name", "subdistrict_code", "subdistrict", "district_code", "district",
            "population", "households"]
    q = sa.select(*[c[x] for x in cols], sa.func.ST_AsBinary(c.geom)).order_by(c.code)
    if not include_retired:
        q = q.where(c.retired_on.is_(None))
    if codes is not None:
        q = q.where(c.code.in_(list(codes)))
    if district is not None:
        q = q.where(sa.or_(c.district_code == district, c.district == district))
    if subdistrict is not None:
        q = q.where(sa.or_(c.subdistrict_code == subdistrict, c.subdistrict == subdistrict))
    if bbox is not None:
        q = q.where(_bbox_clause(c.geom, bbox))
    if jurisdictions is not None:
        q = q.where(sa.or_(c.district_code.in_(list(jurisdictions)),
                           c.subdistrict_code.in_(list(jurisdictions))))
    gdf = _frame(conn.execute(q).all(), cols)
    _strings(gdf, [x for x in cols if x not in ("population", "households")])
    for x in ("population", "households"):
        gdf[x] = gdf[x].astype("float64")
    # SQL orders codes as text (1, 10, 2); tables list them naturally (1, 2, 10).
    return sort_by_code(gdf).reset_index(drop=True)


def read_population(conn: sa.Connection) -> pd.DataFrame:
    """Population by year: columns code, year, population, reference_date (None: 1 July)."""
    p = community_population.c
    rows = conn.execute(sa.select(p.code, p.year, p.population, p.reference_date)
                        .order_by(p.code, p.year)).all()
    out = pd.DataFrame(rows, columns=["code", "year", "population", "reference_date"])
    out["code"] = out["code"].astype("string")
    out["year"] = out["year"].astype("int64")
    out["population"] = out["population"].astype("float64")
    out["reference_date"] = out["reference_date"].astype(object)
    return out


def read_coverage(conn: sa.Connection) -> pd.DataFrame:
    """The days each incidents load covers: columns load_id, district_code, first_day, last_day.

    See :mod:`geo.completeness`.
    """
    c = load_coverage.c
    rows = conn.execute(sa.select(c.load_id, c.district_code, c.first_day, c.last_day)
                        .order_by(c.load_id, c.id)).all()
    return pd.DataFrame(rows, columns=["load_id", "district_code", "first_day", "last_day"])


def read_devices(conn: sa.Connection) -> gpd.GeoDataFrame:
    """Every device, current or removed (metrics filter by their dates)."""
    d = devices.c
    cols = ["id", "kind", "azimuth_deg", "fov_deg", "range_m", "status", "installed_on",
            "removed_on"]
    gdf = _frame(conn.execute(sa.select(*[d[x] for x in cols], sa.func.ST_AsBinary(d.geom))
                              .order_by(d.id)).all(), cols)
    _strings(gdf, ["id", "kind", "status"])
    for x in ("azimuth_deg", "fov_deg", "range_m"):
        gdf[x] = gdf[x].astype("float64")
    _dates(gdf, ["installed_on", "removed_on"])
    return gdf


def read_compounds(conn: sa.Connection, *, include_removed: bool = False) -> gpd.GeoDataFrame:
    """Compounds in the inventory (not removed, unless asked)."""
    k = compounds.c
    cols = ["id", "name", "kind", "households", "population", "measures", "removed_on"]
    q = sa.select(*[k[x] for x in cols], sa.func.ST_AsBinary(k.geom)).order_by(k.id)
    if not include_removed:
        q = q.where(k.removed_on.is_(None))
    gdf = _frame(conn.execute(q).all(), cols)
    _strings(gdf, ["id", "name", "kind", "measures"])
    for x in ("households", "population"):
        gdf[x] = gdf[x].astype("float64")
    _dates(gdf, ["removed_on"])
    return gdf


def read_facilities(conn: sa.Connection, *, facility_type: str | None = None
                    ) -> gpd.GeoDataFrame:
    """Facilities (all, or of one type), open or closed (metrics filter by their dates)."""
    f = facilities.c
    cols = ["id", "type", "name", "opened_on", "closed_on"]
    q = sa.select(*[f[x] for x in cols], sa.func.ST_AsBinary(f.geom)).order_by(f.id)
    if facility_type is not None:
        q = q.where(f.type == facility_type)
    gdf = _frame(conn.execute(q).all(), cols)
    _strings(gdf, ["id", "type", "name"])
    _dates(gdf, ["opened_on", "closed_on"])
    return gdf


def facility_types(conn: sa.Connection) -> list[str]:
    """Facility types present in the database."""
    return [r[0] for r in conn.execute(
        sa.select(facilities.c.type).distinct().order_by(facilities.c.type))]


# --- incidents --------------------------------------------------------------------------------


def case_clauses(definition: CaseDefinition) -> list[Any]:
    """SQL conditions on ``incidents`` with the meaning of :meth:`CaseDefinition.mask`."""
    i = incidents.c
    out: list[Any] = []
    lists = definition.as_sql_lists()
    if lists["include_categories"] is not None:
        out.append(i.category.in_(lists["include_categories"]))
    if lists["exclude_categories"]:
        out.append(sa.or_(i.category.is_(None), i.category.not_in(lists["exclude_categories"])))
    if lists["exclude_statuses"]:
        out.append(sa.or_(i.status.is_(None), i.status.not_in(lists["exclude_statuses"])))
    return out


def _period_clauses(period: Period, timezone: str) -> list[Any]:
    start, end = period.bounds_utc(timezone)
    return [incidents.c.occurred_at >= start, incidents.c.occurred_at < end]


@dataclass(frozen=True)
class IncidentQuery:
    """Which incidents: every condition that is set must hold.

    Attributes
    ----------
    period
        Local-day period (bounds in ``timezone``).
    timezone
        Time zone of the period's days.
    categories
        Only these categories.
    communities
        Only incidents assigned to these communities (``None``: no restriction; an empty
        tuple matches nothing — an empty set of permitted communities never means "all").
    bbox
        Only points inside (minx, miny, maxx, maxy), EPSG:4326.
    jurisdictions
        Only incidents assigned to communities of these district/subdistrict codes (``None``:
        no restriction; an empty tuple matches nothing).
    case_definition
        Only records that count as cases (``None``: every record).
    precise_only
        Leave out coarse locations (``centroid``) and records without coordinates.
    """

    period: Period | None = None
    timezone: str = "Asia/Shanghai"
    categories: tuple[str, ...] = ()
    communities: tuple[str, ...] | None = None
    bbox: Bbox | None = None
    jurisdictions: tuple[str, ...] | None = None
    case_definition: CaseDefinition | None = None
    precise_only: bool = False

    def clauses(self) -> list[Any]:
        """SQL conditions on ``incidents``."""
        i = incidents.c
        out: list[Any] = []
        if self.period is not None:
            out += _period_clauses(self.period, self.timezone)
        out += _row_filters(i, self.categories, self.communities, self.jurisdictions)
        if self.bbox is not None:
            out.append(i.geom.is_not(None))
            out.append(_bbox_clause(i.geom, self.bbox))
        if self.case_definition is not None:
            out += case_clauses(self.case_definition)
        if self.precise_only:
            out.append(i.geom.is_not(None))
            out.append(i.location_precision != "centroid")
        return out


_INCIDENT_COLS = ["id", "occurred_at", "category", "status", "address", "location_precision",
                  "community_code", "assigned_by", "reported_community"]


def read_incidents(conn: sa.Connection, query: IncidentQuery, *, limit: int | None = None,
                   offset: int = 0, keys: bool = False) -> gpd.GeoDataFrame:
    """Incidents matching ``query``, ordered by time then id.

    Parameters
    ----------
    keys
        Also return ``rkey``, the record key of each incident (for releasing counts by the
        cell-key method; a record key must never itself be released).

    Returns
    -------
    geopandas.GeoDataFrame
        Canonical incident columns, ``occurred_at`` tz-aware UTC, ``community_code`` the
        assigned community and ``assigned_by`` how (``point``, ``snap``, ``code``),
        ``reported_community`` the code given in the file.
    """
    i = incidents.c
    cols = [*_INCIDENT_COLS, "rkey"] if keys else _INCIDENT_COLS
    q = (sa.select(*[i[c] for c in cols], sa.func.ST_AsBinary(i.geom))
         .where(*query.clauses()).order_by(i.occurred_at, i.id).offset(offset))
    if limit is not None:
        q = q.limit(limit)
    return _incident_frame(conn.execute(q).all(), cols)


def _incident_frame(rows: Sequence[Any], cols: Sequence[str]) -> gpd.GeoDataFrame:
    gdf = _frame(rows, cols)
    if "rkey" in cols:
        gdf["rkey"] = pd.to_numeric(gdf["rkey"]).fillna(0).astype("int64")
    gdf["occurred_at"] = pd.to_datetime(gdf["occurred_at"]).dt.tz_localize("UTC").astype(
        "datetime64[ns, UTC]")
    _strings(gdf, [c for c in _INCIDENT_COLS if c != "occurred_at"])
    return gdf


def iter_incidents(conn: sa.Connection, query: IncidentQuery, *, batch_rows: int = 100_000
                   ) -> Iterator[gpd.GeoDataFrame]:
    """Incidents matching ``query`` by time then id, streamed in frames of ``batch_rows``.

    The rows are fetched as the frames are consumed (a server-side cursor on PostgreSQL), so
    memory holds one frame whatever the number of incidents. Columns as
    :func:`read_incidents` without record keys.

    Raises
    ------
    geo.errors.ParameterError
        If ``batch_rows`` is not a positive integer.
    """
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ParameterError(f"batch_rows must be a positive integer; got {batch_rows!r}",
                             parameter="batch_rows")
    i = incidents.c
    q = (sa.select(*[i[c] for c in _INCIDENT_COLS], sa.func.ST_AsBinary(i.geom))
         .where(*query.clauses()).order_by(i.occurred_at, i.id))
    result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(q)
    for rows in result.partitions(batch_rows):
        yield _incident_frame(rows, _INCIDENT_COLS)


def count_incidents(conn: sa.Connection, query: IncidentQuery) -> int:
    """Number of incidents matching ``query``."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(incidents)
                            .where(*query.clauses())).scalar_one())


def category_counts(conn: sa.Connection, query: IncidentQuery) -> pd.Series:
    """Records per category (as stored; records without a category left out)."""
    i = incidents.c
    rows = conn.execute(sa.select(i.category, sa.func.count()).where(
        i.category.is_not(None), *query.clauses()).group_by(i.category)).all()
    return pd.Series({str(c): int(n) for c, n in rows}, dtype="int64")


def read_case_records(conn: sa.Connection, query: IncidentQuery) -> pd.DataFrame:
    """Light records for time series: community_code, category, occurred_at (UTC aware)."""
    i = incidents.c
    rows = conn.execute(sa.select(i.community_code, i.category, i.occurred_at)
                        .where(*query.clauses())).all()
    out = _rows_frame(rows, ["community_code", "category", "occurred_at"])
    out["community_code"] = out["community_code"].astype("string")
    out["category"] = out["category"].astype("string")
    out["occurred_at"] = pd.to_datetime(out["occurred_at"]).dt.tz_localize("UTC").astype(
        "datetime64[ns, UTC]")
    return out


def count_cases(conn: sa.Connection, period: Period, definition: CaseDefinition, *,
                timezone: str, by_category: bool = False,
                categories: Sequence[str] = (),
                communities: Sequence[str] | None = None) -> CaseCounts:
    """Case counts of a period by community (and category): an indexed GROUP BY.

    Parameters
    ----------
    conn
        Connection.
    period
        The period (local days in ``timezone``).
    definition
        Which records count as cases.
    timezone
        Time zone of the period.
    by_category
        Split the counts by category.
    categories
        Only these categories.
    communities
        Only incidents assigned to these communities (``None``: every incident, assigned or
        not; an empty sequence matches nothing).

    Returns
    -------
    geo.cases.CaseCounts
        With the unassigned cases as the null-code group, plus the cases with no location and
        the records of the period the definition left out.
    """
    query = IncidentQuery(period=period, timezone=timezone, categories=tuple(categories),
                          communities=None if communities is None else tuple(communities))
    groups = _period_groups(conn, query)
    if groups is not None:
        return _cases_of_groups(groups, query, definition, by_category)
    i = incidents.c
    where = query.clauses()
    cases_where = where + case_clauses(definition)
    keys = [i.community_code] + ([i.category] if by_category else [])
    rows = conn.execute(sa.select(*keys, sa.func.count().label("cases"))
                        .where(*cases_where).group_by(*keys)).all()
    cols = ["community_code"] + (["category"] if by_category else []) + ["cases"]
    counts = _rows_frame(rows, cols)
    no_location = conn.execute(sa.select(sa.func.count()).select_from(incidents).where(
        *cases_where, i.community_code.is_(None), i.geom.is_(None))).scalar_one()
    in_period = conn.execute(sa.select(sa.func.count()).select_from(incidents)
                             .where(*where)).scalar_one()
    return CaseCounts(counts, period, no_location=int(no_location),
                      not_counted=int(in_period - counts["cases"].sum()),
                      case_definition=definition, timezone=timezone)


def count_keyed(conn: sa.Connection, query: IncidentQuery,
                by: Sequence[str] = ("community_code",)) -> pd.DataFrame:
    """Counts and record-key sums of the incidents of a query, grouped by incident columns.

    Parameters
    ----------
    conn
        Connection.
    query
        Which incidents.
    by
        Columns of ``incidents`` to group by (empty: one total row).

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``count`` (int64) and ``key_sum`` (int64: the sum of the record keys,
        see :mod:`geo.release`).
    """
    groups = _period_groups(conn, query) if set(by) <= _GROUP_COLUMNS else None
    if groups is not None:
        return _keyed_of_groups(groups, query.case_definition, by)
    i = incidents.c
    keys = [i[b] for b in by]
    rows = conn.execute(sa.select(*keys, sa.func.count(),
                                  sa.func.coalesce(sa.func.sum(i.rkey), 0))
                        .where(*query.clauses()).group_by(*keys)).all()
    out = _rows_frame(rows, [*by, "count", "key_sum"])
    for b in by:
        out[b] = out[b].astype("string")
    out["count"] = out["count"].astype("int64")
    out["key_sum"] = out["key_sum"].astype("int64")
    return out


_GROUP_COLUMNS = frozenset({"community_code", "category", "status"})


def _period_groups(conn: sa.Connection, query: IncidentQuery) -> pd.DataFrame | None:
    """The query's groups from the period tables, or ``None`` when they cannot answer it.

    They answer any query on period, categories, communities, jurisdictions and case
    definition; not one on a bounding box or location precision (raw rows answer those).
    """
    if query.bbox is not None or query.precise_only:
        return None
    return period_tables.read_groups(
        conn, query.period, query.timezone,
        lambda c: _row_filters(c, query.categories, query.communities, query.jurisdictions))


def _case_rows(groups: pd.DataFrame, definition: CaseDefinition | None) -> pd.DataFrame:
    if definition is None:
        return groups
    return groups[definition.mask(groups).to_numpy(dtype=bool)]


def _keyed_of_groups(groups: pd.DataFrame, definition: CaseDefinition | None,
                     by: Sequence[str]) -> pd.DataFrame:
    cases = _case_rows(groups, definition)
    if by:
        out = (cases.groupby(list(by), dropna=False, sort=False)[["records", "key_sum"]].sum()
               .reset_index())
    else:
        out = pd.DataFrame({"records": [cases["records"].sum()],
                            "key_sum": [cases["key_sum"].sum()]})
    out = out.rename(columns={"records": "count"})[[*by, "count", "key_sum"]]
    for b in by:
        out[b] = out[b].astype("string")
    return out.astype({"count": "int64", "key_sum": "int64"})


def _cases_of_groups(groups: pd.DataFrame, query: IncidentQuery, definition: CaseDefinition,
                     by_category: bool) -> CaseCounts:
    assert query.period is not None
    cases = _case_rows(groups, definition)
    by = ["community_code"] + (["category"] if by_category else [])
    counts = (cases.groupby(by, dropna=False, sort=False)["records"].sum().reset_index()
              .rename(columns={"records": "cases"}))
    no_location = int(cases.loc[cases["community_code"].isna(), "unlocated"].sum())
    return CaseCounts(counts, query.period, no_location=no_location,
                      not_counted=int(groups["records"].sum() - cases["records"].sum()),
                      case_definition=definition, timezone=query.timezone)


def read_points(conn: sa.Connection, query: IncidentQuery) -> pd.DataFrame:
    """Positions, communities and record keys of the located incidents of a query.

    Returns
    -------
    pandas.DataFrame
        ``lon``, ``lat`` (EPSG:4326), ``community_code``, ``rkey``; no other column (no id,
        time or address).
    """
    i = incidents.c
    rows = conn.execute(sa.select(sa.func.ST_X(i.geom), sa.func.ST_Y(i.geom), i.community_code,
                                  i.rkey)
                        .where(*query.clauses(), i.geom.is_not(None))).all()
    frame = _rows_frame(rows, ["lon", "lat", "community_code", "rkey"])
    frame["lon"] = frame["lon"].astype("float64")
    frame["lat"] = frame["lat"].astype("float64")
    frame["community_code"] = frame["community_code"].astype("string")
    frame["rkey"] = frame["rkey"].fillna(0).astype("int64")
    return frame


def search_addresses(conn: sa.Connection, text: str, *,
                     communities: Sequence[str] | None, limit: int) -> pd.DataFrame:
    """Incidents whose address holds ``text`` (case-insensitive), latest first.

    Parameters
    ----------
    text
        The text to find (``%`` and ``_`` match themselves).
    communities
        Only incidents assigned to these communities (``None``: every incident; an empty
        tuple matches nothing).
    limit
        Rows at most.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``address``, ``occurred_at`` (naive UTC), ``community_code``, ``lon``, ``lat``.
    """
    i = incidents.c
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    q = (sa.select(i.id, i.address, i.occurred_at, i.community_code, sa.func.ST_X(i.geom),
                   sa.func.ST_Y(i.geom))
         .where(sa.func.lower(i.address).like(f"%{escaped.lower()}%", escape="\\"),
                *_row_filters(i, (), communities, None))
         .order_by(i.occurred_at.desc(), i.id).limit(limit))
    frame = _rows_frame(conn.execute(q).all(),
                        ["id", "address", "occurred_at", "community_code", "lon", "lat"])
    _strings(frame, ["id", "address", "community_code"])
    return frame


def incident_time_range(conn: sa.Connection, *, community_codes: Sequence[str] | None = None
                        ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """First and last stored incident instants (naive UTC), of some communities if given."""
    # One aggregate per subquery: SQLite answers a lone MIN or MAX from the index on
    # occurred_at, but scans the whole table for both in one SELECT (seconds at millions).
    def bound(func: Any) -> Any:
        q = sa.select(func(incidents.c.occurred_at))
        if community_codes is not None:
            q = q.where(incidents.c.community_code.in_(list(community_codes)))
        return q.scalar_subquery()

    row = conn.execute(sa.select(bound(sa.func.min), bound(sa.func.max))).one()
    lo, hi = row
    if isinstance(lo, str):
        lo, hi = dt.datetime.fromisoformat(lo), dt.datetime.fromisoformat(hi)
    return lo, hi


def latest_loads(conn: sa.Connection) -> pd.DataFrame:
    """The latest load of each layer: ``layer``, ``file_name`` and ``loaded_at`` (naive UTC)."""
    c = loads.c
    latest = sa.select(sa.func.max(c.id)).group_by(c.layer).scalar_subquery()
    rows = conn.execute(sa.select(c.layer, c.file_name, c.loaded_at)
                        .where(c.id.in_(latest)).order_by(c.layer)).all()
    frame = pd.DataFrame(rows, columns=["layer", "file_name", "loaded_at"])
    _dates(frame, ["loaded_at"])
    return frame
