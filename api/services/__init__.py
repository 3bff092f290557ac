"""Services: run geo's computations over stored data, with provenance and caching.

A service takes a :class:`ServiceContext` (engine, settings, cache) and returns a
:class:`Report`: a frame plus the provenance of its numbers. The command line and the HTTP routes
both call services and only render their reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy.engine import Engine

from api.cache import ResultCache
from api.db import data_version
from api.settings import Settings
from geo.period import Period
from geo.rates import CaseDefinition

__all__ = ["Report", "ServiceContext", "period_provenance"]

T = TypeVar("T")


@dataclass
class ServiceContext:
    """What every service needs: the database, the settings and a result cache."""

    engine: Engine
    settings: Settings
    cache: ResultCache = field(default_factory=ResultCache)

    def data_version(self) -> int:
        """The current data version."""
        with self.engine.connect() as conn:
            return data_version(conn)

    def cached(self, name: str, params: Hashable, compute: Callable[[], T], *,
               version: int | None = None) -> T:
        """Compute once per (name, params, data version)."""
        v = self.data_version() if version is None else version
        return self.cache.get_or_compute((name, v, params), compute)

    @property
    def case_definition(self) -> CaseDefinition:
        """Which records count as cases, from the settings."""
        c = self.settings.cases
        return CaseDefinition(
            include_categories=tuple(c.include_categories) if c.include_categories else None,
            exclude_categories=tuple(c.exclude_categories),
            exclude_statuses=tuple(c.exclude_statuses))

    @property
    def timezone(self) -> str:
        """Time zone of local days."""
        return self.settings.timezone


@dataclass(frozen=True)
class Report:
    """A result table and the provenance of its numbers.

    Attributes
    ----------
    frame
        The rows (a GeoDataFrame in EPSG:4326 when the result has geometry).
    provenance
        Period bounds, data (and profile) version, metric CRS, counts left out, notes.
    title
        A one-line description for printed tables.
    """

    frame: pd.DataFrame
    provenance: Mapping[str, Any]
    title: str = ""


def period_provenance(period: Period, timezone: str) -> dict[str, Any]:
    """The period as provenance: label and local bounds."""
    start, end = period.bounds(timezone)
    return {"period": period.label, "period_start": start.isoformat(),
            "period_end": end.isoformat(), "timezone": timezone, "days": period.days}


def generated_at() -> str:
    """The current instant, ISO 8601 UTC."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
