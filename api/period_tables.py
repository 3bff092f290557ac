"""Counts of incidents per community, local day or month, category and status, kept exact.

``period_day_counts`` and ``period_month_counts`` (:mod:`api.models`) hold, per community
(``''``: unassigned) x local day (first day of the local month) x category x status (``''``:
none), the number of records, the sum of their record keys (the cell-key method of
:mod:`geo.release` sums keys per released cell) and how many have no coordinates. A period is
its whole months read from the month table plus its edge days read from the day table
(:func:`geo.period.split_months`), so counting a year reads a few rows per community instead of
every incident. The days are local days in one time zone, recorded in ``meta`` under
:data:`TIMEZONE_KEY`; a query in another zone reads the raw rows (:mod:`api.store`).

How they are kept exact
-----------------------
Every statement that writes ``incidents`` runs inside :func:`kept_exact`, given the ids it
writes (a select of them, e.g. the load's staging table). Before the statement the current
rows of those ids are counted into a temporary delta table with a minus sign; after it, the
rows of the same ids are counted with a plus sign; the summed delta is then added to both
tables (an upsert per group) and the groups left at zero records are deleted. This is exact
for any write whatever it changes -- an incident's time, category, status, community or
coordinates, a new id, an id gone -- because each id's old contribution is taken out and its
new one put in, and it touches only the groups the ids were and are in. A re-load of unchanged
rows writes nothing (their delta sums to zero). The alternative, recomputing the affected
(community, month) groups by GROUP BY after the write, cannot know the groups an id *left* (its
old month is overwritten), so it would need the same "before" step anyway and then re-scan
whole groups; the delta reads only the written rows.

Two shortcuts keep bulk work cheap: when ``incidents`` is empty before the write (an initial
load), or when the tables are not yet built or were built in another time zone than the
load's, the tables are rebuilt after the write by one GROUP BY over ``incidents``
(:func:`rebuild`); the same rebuild backfills an existing database (migration ``0007``).

Local days in SQL
-----------------
An instant's local day must agree with :meth:`geo.period.Period.bounds_utc`. SQLite has no
time zones, so the rule comes from :func:`geo.period.local_day_segments` for the range of
stored instants: a ``CASE`` on the instant picking "add this UTC offset and take the date" for
stretches of regular days and a constant day for each day of 23 or 25 hours. A zone without
changes in the range (Asia/Shanghai since 1991) is one ``date(t + 8 h)``. The same expression
runs on PostGIS, so both backends and the raw-row path agree to the second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from api import dialect
from api.models import incidents, meta, period_day_counts, period_month_counts
from geo.period import Period, local_day_segments, split_months

__all__ = ["TIMEZONE_KEY", "kept_exact", "read_groups", "rebuild", "stored_timezone"]

#: ``meta`` key naming the time zone of the tables' local days (absent: not built).
TIMEZONE_KEY = "period_tables_timezone"

_GROUP = ("community_code", "category", "status")
_SUMS = ("records", "key_sum", "unlocated")
_DELTA = "pingan_period_delta"

#: Column filters on a table with ``community_code`` and ``category`` columns.
Filters = Callable[[Any], list[Any]]


def stored_timezone(conn: sa.Connection) -> str | None:
    """The time zone the tables were built in, or ``None`` when they are not built."""
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == TIMEZONE_KEY)).first()
    return None if row is None else str(row[0])


def _set_timezone(conn: sa.Connection, timezone: str) -> None:
    done = conn.execute(meta.update().where(meta.c.key == TIMEZONE_KEY).values(value=timezone))
    if not done.rowcount:
        conn.execute(meta.insert().values(key=TIMEZONE_KEY, value=timezone))


# --- local days in SQL ------------------------------------------------------------------------


def _shifted_date(conn: sa.Connection, col: Any, offset_s: int) -> Any:
    if dialect.is_sqlite(conn):
        return sa.func.date(col, f"{offset_s:+d} seconds")
    shift = sa.literal_column(f"INTERVAL '{offset_s} seconds'", sa.Interval)
    return sa.cast(col + shift, sa.Date)


def _local_day(conn: sa.Connection, timezone: str) -> Any:
    """SQL for the local day of ``incidents.occurred_at`` (over the stored range of instants)."""
    lo, hi = conn.execute(sa.select(sa.func.min(incidents.c.occurred_at),
                                    sa.func.max(incidents.c.occurred_at))).one()
    if lo is None:  # no incidents: any rule will do
        lo = hi = pd.Timestamp.now()
    lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
    segments = local_day_segments(timezone, (lo - pd.Timedelta(days=2)).date(),
                                  (hi + pd.Timedelta(days=2)).date())
    col = incidents.c.occurred_at

    def rule(seg: Any) -> Any:
        if seg.offset_s is None:
            return sa.literal(seg.day, sa.Date)
        return _shifted_date(conn, col, seg.offset_s)

    if len(segments) == 1:
        return rule(segments[0])
    whens = [(col >= seg.start_utc, rule(seg)) for seg in reversed(segments[1:])]
    return sa.case(*whens, else_=rule(segments[0]))


def _month_of(conn: sa.Connection, day: Any) -> Any:
    if dialect.is_sqlite(conn):
        return sa.func.substr(day, 1, 8).concat("01")
    return sa.cast(sa.func.date_trunc("month", day), sa.Date)


def _counted(conn: sa.Connection, timezone: str, where: list[Any], sign: int) -> sa.Select:
    """Incidents matching ``where`` counted by local day and group, times ``sign``."""
    i = incidents.c
    labels = ["day", *_GROUP]
    return (sa.select(
        _local_day(conn, timezone).label("day"),
        sa.func.coalesce(i.community_code, "").label("community_code"),
        i.category.label("category"),
        sa.func.coalesce(i.status, "").label("status"),
        (sa.func.count() * sign).label("records"),
        (sa.func.sum(sa.func.coalesce(i.rkey, 0)) * sign).label("key_sum"),
        (sa.func.sum(sa.case((i.geom.is_(None), 1), else_=0)) * sign).label("unlocated"))
        .where(*where).group_by(*[sa.literal_column(x) for x in labels]))


# --- keeping the tables exact -----------------------------------------------------------------


def rebuild(conn: sa.Connection, timezone: str) -> None:
    """Recount both tables from every incident, with local days in ``timezone``."""
    conn.execute(period_day_counts.delete())
    conn.execute(period_month_counts.delete())
    if conn.execute(sa.select(incidents.c.id).limit(1)).first() is not None:
        cols = ["day", *_GROUP, *_SUMS]
        conn.execute(period_day_counts.insert().from_select(cols, _counted(conn, timezone, [], 1)))
        d = period_day_counts.c
        month = _month_of(conn, d.day).label("month")
        conn.execute(period_month_counts.insert().from_select(
            ["month", *_GROUP, *_SUMS],
            sa.select(month, *[d[g] for g in _GROUP], *[sa.func.sum(d[s]) for s in _SUMS])
            .group_by(sa.literal_column("month"), *[d[g] for g in _GROUP])))
    _set_timezone(conn, timezone)


@contextmanager
def kept_exact(conn: sa.Connection, ids: sa.Select, *, timezone: str | None
               ) -> Iterator[None]:
    """Keep the tables exact across the writes to ``incidents`` done inside the block.

    Parameters
    ----------
    conn
        The connection of the write's transaction.
    ids
        A select of the ids of every incident the block inserts, changes or deletes,
        evaluated before and after the block (so e.g. the load's staging table).
    timezone
        The local days' zone (a load's configured zone); ``None`` keeps the tables' zone (a
        re-assignment). When it differs from the tables' zone, or the tables are not built,
        or ``incidents`` is empty before the block, the tables are rebuilt after it.

    Notes
    -----
    An exception inside the block leaves the tables as they were when the transaction rolls
    back; the temporary delta table is part of the transaction on both backends.
    """
    zone = stored_timezone(conn)
    target = timezone or zone
    if target is None:  # never built, nothing to keep: the next load builds them
        yield
        return
    empty = conn.execute(sa.select(incidents.c.id).limit(1)).first() is None
    if zone != target or empty:
        yield
        rebuild(conn, target)
        return
    delta = _delta_table()
    delta.create(conn)
    where = [incidents.c.id.in_(ids)]
    cols = ["day", *_GROUP, *_SUMS]
    conn.execute(delta.insert().from_select(cols, _counted(conn, target, where, -1)))
    yield
    conn.execute(delta.insert().from_select(cols, _counted(conn, target, where, 1)))
    _apply(conn, delta)
    delta.drop(conn)


def _delta_table() -> sa.Table:
    cols = [sa.Column(c.name, c.type) for c in period_day_counts.columns]
    return sa.Table(_DELTA, sa.MetaData(), *cols, prefixes=["TEMPORARY"])


def _apply(conn: sa.Connection, delta: sa.Table) -> None:
    """Add the summed delta to both tables; delete the groups left empty."""
    d = delta.c
    for table, unit in ((period_day_counts, d.day), (period_month_counts, _month_of(conn, d.day))):
        unit_name = "day" if table is period_day_counts else "month"
        keys = [unit.label(unit_name), *[d[g] for g in _GROUP]]
        summed = (sa.select(*keys, *[sa.func.sum(d[s]).label(s) for s in _SUMS])
                  .where(sa.true())
                  .group_by(sa.literal_column(unit_name), *[d[g] for g in _GROUP])
                  .having(sa.or_(*[sa.func.sum(d[s]) != 0 for s in _SUMS])))
        ins: Any = (sqlite.insert(table) if dialect.is_sqlite(conn)
                    else postgresql.insert(table))
        stmt = ins.from_select([unit_name, *_GROUP, *_SUMS], summed)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[unit_name, *_GROUP],
            set_={s: table.c[s] + stmt.excluded[s] for s in _SUMS}))
        touched = sa.select(unit, *[d[g] for g in _GROUP])
        conn.execute(table.delete().where(
            table.c.records == 0,
            sa.tuple_(table.c[unit_name], *[table.c[g] for g in _GROUP]).in_(touched)))


# --- reading ----------------------------------------------------------------------------------


def read_groups(conn: sa.Connection, period: Period | None, timezone: str,
                filters: Filters) -> pd.DataFrame | None:
    """Records, key sums and records without coordinates of a period, by group.

    Parameters
    ----------
    conn
        Connection.
    period
        The period (``None``: every record).
    timezone
        The period's zone; ``None`` is returned unless the tables hold local days of it.
    filters
        Conditions on a table's ``community_code`` and ``category`` columns (the tables mark
        a missing community or status ``''``, which no filter value equals).

    Returns
    -------
    pandas.DataFrame or None
        ``community_code`` and ``status`` (pandas strings, missing as ``<NA>``),
        ``category``, ``records``, ``key_sum``, ``unlocated`` (int64), one row per group with
        records; ``None`` when the tables cannot answer (not built, or another zone).
    """
    if stored_timezone(conn) != timezone:
        return None
    m, d = period_month_counts.c, period_day_counts.c

    def part(c: Any, where: list[Any]) -> sa.Select:
        return sa.select(*[c[g] for g in _GROUP], *[c[s] for s in _SUMS]).where(
            *where, *filters(c))

    if period is None:
        parts = [part(m, [])]
    else:
        split = split_months(period)
        parts = [part(d, [d.day >= a, d.day < b]) for a, b in split.days]
        if split.months is not None:
            parts.append(part(m, [m.month >= split.months[0], m.month < split.months[1]]))
    u = sa.union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    rows = conn.execute(sa.select(*[u.c[g] for g in _GROUP],
                                  *[sa.func.sum(u.c[s]) for s in _SUMS])
                        .group_by(*[u.c[g] for g in _GROUP])).all()
    out = pd.DataFrame([tuple(r) for r in rows], columns=[*_GROUP, *_SUMS])
    for g in _GROUP:
        col = out[g].astype("string")
        out[g] = col.mask(col == "")
    for s in _SUMS:
        out[s] = out[s].astype("int64")
    return out
