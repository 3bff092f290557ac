"""Services: run geo's computations over stored data, with provenance, caching and release.

A service takes a :class:`ServiceContext` (engine, settings, cache) and the caller's
:class:`api.release.Visibility`, and returns a :class:`Report`: a frame plus the provenance of
its numbers, already shaped as the caller may see it. The command line (as admin), the HTTP
routes and the map pages all call services and only render their reports.

Connections: a service opens a connection only for the moment it reads, and never while it
holds another one, so a request needs one pooled connection at a time (a pool of one serves
any number of concurrent requests, only more slowly).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import pyproj
from sqlalchemy.engine import Engine

from api.cache import ResultCache
from api.db import data_version
from api.settings import Settings
from geo.cases import CaseDefinition
from geo.errors import PeriodError
from geo.period import Period, parse_period
from geo.projection import metric_crs_of

if TYPE_CHECKING:
    from api.release import Visibility

__all__ = ["Report", "ServiceContext", "generated_at", "period_provenance"]

T = TypeVar("T")


@dataclass
class ServiceContext:
    """What every service needs: the database, the settings and a result cache.

    Attributes
    ----------
    engine, settings, cache
        The database, the settings and the result cache.
    pin_version
        Read the data version once and keep it: the context of one HTTP request, whose cached
        results (visibility, communities, the answer's bytes) are then all keyed by one
        version, read with one query instead of one per cache lookup. A long-lived context
        (the command line, which loads and then reads) reads it at every lookup.
    """

    engine: Engine
    settings: Settings
    cache: ResultCache = field(default_factory=ResultCache)
    pin_version: bool = False
    _version: int | None = field(default=None, init=False, repr=False, compare=False)

    def data_version(self) -> int:
        """The current data version (the pinned one after the first read, with ``pin_version``)."""
        if self._version is not None:
            return self._version
        with self.engine.connect() as conn:
            version = data_version(conn)
        if self.pin_version:
            self._version = version
        return version

    def cached(self, name: str, params: Hashable, compute: Callable[[], T], *,
               vis: Visibility | None = None, version: int | None = None) -> T:
        """Compute once per (name, params, caller's world, data version).

        Concurrent requests for the same key share one computation. Results that depend on
        what the caller may see must pass ``vis``: its world key joins the cache key.
        """
        v = self.data_version() if version is None else version
        world = None if vis is None else vis.world_key
        return self.cache.get_or_compute((name, v, world, params), compute)

    @property
    def case_definition(self) -> CaseDefinition:
        """Which records count as cases (:meth:`api.settings.CaseSettings.to_definition`).

        With a category mapping (``cases.categories_map``), the included and excluded
        categories name canonical categories and match the raw ones mapped to them.
        """
        definition = self.settings.cases.to_definition()
        if self.settings.cases.categories_map is None:
            return definition
        from api.services.categories import category_map

        mapping = category_map(self)
        return definition if mapping is None else definition.expanded(mapping.expand)

    @property
    def timezone(self) -> str:
        """Time zone of local days."""
        return self.settings.timezone

    def communities(self) -> gpd.GeoDataFrame:
        """Every current community of the city (cached per data version)."""
        from api import store

        def load() -> gpd.GeoDataFrame:
            with self.engine.connect() as conn:
                return store.read_communities(conn)
        return self.cached("communities", (), load)

    def metric_crs(self) -> pyproj.CRS:
        """The metric CRS of every computation (:func:`geo.projection.metric_crs_of`).

        The configured ``geo.metric_crs``, else the zone of the stored communities: the same
        for every request, whatever it filters.
        """
        configured = self.settings.geo.metric_crs
        return self.cached("metric_crs", configured,
                           lambda: metric_crs_of(self.communities(), metric_crs=configured))

    def period(self, value: Period | str | int | None, *, parameter: str = "period"
               ) -> Period:
        """Parse a period within the configured date range, or default to the latest year.

        The default is the local calendar year of the latest stored incident (the current year
        when there is none).

        Raises
        ------
        geo.errors.PeriodError
            When the text is not a period or lies outside ``periods.first``..``periods.last``.
        """
        first, last = self.settings.periods.first, self.settings.periods.last
        if value is None:
            value = self.latest_year()
        try:
            return parse_period(value, first=first, last=last)
        except PeriodError as exc:
            message = str(exc).removeprefix("period ").removeprefix("period: ")
            raise PeriodError(f"{parameter}: {message}", parameter=parameter) from None

    def latest_year(self) -> int:
        """Local calendar year of the latest stored incident (this year when there is none)."""
        from api import store

        with self.engine.connect() as conn:
            _, last = store.incident_time_range(conn)
        zone = ZoneInfo(self.timezone)
        when = (dt.datetime.now(zone) if last is None
                else last.replace(tzinfo=dt.UTC).astimezone(zone))
        return when.year


@dataclass(frozen=True)
class Report:
    """A result table and the provenance of its numbers.

    Attributes
    ----------
    frame
        The rows (a GeoDataFrame in EPSG:4326 when the result has geometry), as the caller may
        see them.
    provenance
        Period bounds, data (and profile) version, metric CRS, counts left out, notes.
    title
        A one-line description for printed tables (English).
    title_zh
        The same in Chinese (``pingan --lang zh``); empty: the English title serves.
    """

    frame: pd.DataFrame
    provenance: Mapping[str, Any]
    title: str = ""
    title_zh: str = ""


def period_provenance(period: Period, timezone: str) -> dict[str, Any]:
    """The period as provenance: label and local bounds."""
    start, end = period.bounds(timezone)
    return {"period": period.label, "period_start": start.isoformat(),
            "period_end": end.isoformat(), "timezone": timezone, "days": period.days}


def generated_at() -> str:
    """The current instant, ISO 8601 UTC."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
