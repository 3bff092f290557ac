"""What every route needs: dependencies, parameter parsing, provenance and rendering.

A route module follows one pattern (see :mod:`api.routes.communities`)::

    router = APIRouter(prefix="/rates", tags=["rates"])

    @router.get("", response_model=RateList,
                responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
    def get_rates(ctx: ServiceDep, conn: SessionDep, settings: SettingsDep, key: CurrentKey,
                  period: PeriodParam = None, format: ListFormat = "json") -> Response:
        per = period_or_default(conn, period, timezone=settings.timezone)
        report = rates_report(ctx, per)                      # a service: api.services
        frame = suppress_for_key(conn, key, report.frame, ["cases"], ["case_rate_per_10k"],
                                 min_count=settings.api.min_count_shown)
        return render_report(replace(report, frame=frame), format, conn, settings,
                             filename="rates")

Dependencies: :data:`SettingsDep`, :data:`EngineDep`, :data:`SessionDep` (a read connection,
one snapshot per request), :data:`ServiceDep` (the services' context with the app's result
cache), :data:`CurrentKey` (any valid key; 401 otherwise, rate limited per key),
:func:`require_role` and its aliases :data:`AdminKey` and :data:`RawReaderKey` (403 for other
roles). Handlers are plain ``def`` functions: FastAPI runs them in its thread pool, since
database and geometry work blocks. Errors are raised, never returned: :mod:`api.errors` turns
them into problem documents.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from fastapi import Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from api.access import authenticate
from api.auth import RAW_ROLES, SESSION_COOKIE, ApiKey, Role
from api.db import data_version
from api.errors import FieldError, ForbiddenError, InvalidParameterError
from api.output import records, to_csv_bytes, to_geojson
from api.services import Report, ServiceContext
from api.settings import Settings
from api.store import Bbox, incident_time_range
from geo.period import Period, parse_period
from geo.rates import CaseDefinition

__all__ = [
    "AdminKey",
    "BboxParam",
    "CategoryParam",
    "CurrentKey",
    "EngineDep",
    "LimitParam",
    "ListFormat",
    "OffsetParam",
    "PeriodParam",
    "RawReaderKey",
    "ServiceDep",
    "SessionDep",
    "SettingsDep",
    "TableFormat",
    "case_definition",
    "client_address",
    "current_key",
    "endpoint_label",
    "parse_bbox",
    "period_or_default",
    "provenance",
    "reject_nul_bytes",
    "render",
    "render_one",
    "render_report",
    "require_role",
]

ListFormat = Literal["json", "csv", "geojson"]
TableFormat = Literal["json", "csv"]


# --- app state --------------------------------------------------------------------------------


def get_settings(request: Request) -> Settings:
    """Return the settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """Return the app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def get_session(engine: EngineDep) -> Iterator[sa.Connection]:
    """Yield a read connection for one request (one transaction: a consistent snapshot)."""
    with engine.connect() as conn:
        yield conn


SessionDep = Annotated[sa.Connection, Depends(get_session)]


def get_service_context(request: Request) -> ServiceContext:
    """Return the context the services take: engine, settings and the app's result cache."""
    state = request.app.state
    return ServiceContext(state.engine, state.settings, state.cache)


ServiceDep = Annotated[ServiceContext, Depends(get_service_context)]


# --- authentication ---------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                     description="An API key from `pingan keys create`: "
                                 "`Authorization: Bearer pa_<prefix>_<secret>`.")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="Session",
                       description="The session cookie set by POST /login.")


def client_address(request: Request) -> str | None:
    """Return the client's address (as the server sees it, after trusted proxy headers)."""
    return request.client.host if request.client else None


def endpoint_label(request: Request) -> str:
    """Return ``METHOD /path`` of a request, for the audit log."""
    return f"{request.method} {request.url.path}"


def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_cookie)],
) -> ApiKey:
    """Authenticate the request: a bearer token, else a session cookie.

    See :func:`api.access.authenticate`: failed and missing authentications are audited and
    limited per client address and key prefix, requests are limited per key, and a
    cookie-authenticated change must come from this site.

    Raises
    ------
    api.errors.NotAuthenticatedError
        Without credentials, or with credentials that do not authenticate.
    api.errors.ForbiddenError
        A cookie-authenticated change from another site.
    api.errors.RateLimitedError
        When the key (or address, or key prefix) has used up its requests.
    """
    return authenticate(request, bearer=None if credentials is None else credentials.credentials,
                        cookie=session)


CurrentKey = Annotated[ApiKey, Depends(current_key)]


def require_role(*roles: Role) -> Callable[[ApiKey], ApiKey]:
    """Build a dependency that lets only keys of ``roles`` through.

    Parameters
    ----------
    *roles
        Allowed roles.

    Returns
    -------
    callable
        Use as ``Annotated[ApiKey, Depends(require_role("admin"))]``.

    Raises
    ------
    ValueError
        If no role is given.
    """
    if not roles:
        raise ValueError("require_role needs at least one role")
    allowed = tuple(roles)

    def dependency(key: CurrentKey) -> ApiKey:
        if key.role not in allowed:
            raise ForbiddenError(f"a {key.role} key may not use this endpoint; it needs "
                            f"{' or '.join(allowed)}")
        return key

    dependency.__name__ = f"require_{'_or_'.join(allowed)}"
    return dependency


AdminKey = Annotated[ApiKey, Depends(require_role("admin"))]
RawReaderKey = Annotated[ApiKey, Depends(require_role(*RAW_ROLES))]


# --- parameters -------------------------------------------------------------------------------

PeriodParam = Annotated[str | None, Query(
    description="2025, 2025-Q3, 2025-07 or 2025-01-01..2025-06-30 (local days); default: the "
                "calendar year of the latest incident", max_length=40)]
CategoryParam = Annotated[list[str] | None, Query(
    description="only these categories (repeat the parameter for several)")]
BboxParam = Annotated[str | None, Query(
    description="minlon,minlat,maxlon,maxlat in EPSG:4326", max_length=200)]
LimitParam = Annotated[int, Query(ge=1, le=10_000, description="rows per page")]
OffsetParam = Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")]


def reject_nul_bytes(request: Request) -> None:
    """Refuse NUL characters in the path and query: no database stores or compares them.

    Raises
    ------
    api.errors.InvalidParameterError
        Naming the first parameter that holds one.
    """
    if "\x00" in request.scope.get("path", ""):
        raise InvalidParameterError("the path holds a NUL character",
                                    errors=[FieldError("path", "NUL characters are not allowed")])
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise InvalidParameterError(
                f"query parameter {name!r} holds a NUL character",
                errors=[FieldError(f"query.{name}", "NUL characters are not allowed")])


def parse_bbox(text: str | None, *, field: str = "query.bbox") -> Bbox | None:
    """Parse ``minlon,minlat,maxlon,maxlat``.

    Raises
    ------
    api.errors.InvalidParameterError
        If it is not four finite numbers in range with min < max.
    """
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    ok = len(values) == 4 and all(math.isfinite(v) for v in values)
    if ok:
        minx, miny, maxx, maxy = values
        ok = (-180 <= minx < maxx <= 180) and (-90 <= miny < maxy <= 90)
    if not ok:
        raise InvalidParameterError(
            "bbox must be minlon,minlat,maxlon,maxlat in degrees with min < max",
            errors=[FieldError(field, f"expected four numbers minlon,minlat,maxlon,maxlat "
                                      f"(longitudes -180..180, latitudes -90..90, min < max); "
                                      f"got {text!r}")])
    return (values[0], values[1], values[2], values[3])


def case_definition(settings: Settings, *, cases_only: bool = True) -> CaseDefinition:
    """Return the configured case definition, or one that counts every record."""
    if not cases_only:
        return CaseDefinition()
    c = settings.cases
    return CaseDefinition(
        include_categories=None if c.include_categories is None else tuple(c.include_categories),
        exclude_categories=tuple(c.exclude_categories),
        exclude_statuses=tuple(c.exclude_statuses))


def period_or_default(conn: sa.Connection, text: str | None, *, timezone: str,
                      field: str = "query.period") -> Period:
    """Parse a period, or choose the default: the local calendar year of the latest incident.

    Without incidents the default is the current calendar year.

    Raises
    ------
    api.errors.InvalidParameterError
        If the text is not a period.
    """
    if text is not None and text.strip():
        try:
            return parse_period(text)
        except ValueError as exc:
            raise InvalidParameterError(str(exc), errors=[FieldError(field, str(exc))]) from None
    from zoneinfo import ZoneInfo

    _, last = incident_time_range(conn)
    zone = ZoneInfo(timezone)
    when = (dt.datetime.now(zone) if last is None
            else last.replace(tzinfo=dt.UTC).astimezone(zone))
    return parse_period(str(when.year))


# --- provenance and rendering -----------------------------------------------------------------


def _period_dict(period: Period) -> dict[str, str]:
    return {"label": period.label, "start": period.start.isoformat(),
            "end": period.last_day.isoformat()}


def provenance(conn: sa.Connection, settings: Settings, *, period: Period | None = None,
               profile_version: str | None = None, left_out: Mapping[str, int] | None = None,
               suppressed: int | None = None, **extra: Any) -> dict[str, Any]:
    """Build the provenance block of a response.

    Parameters
    ----------
    conn
        The request's connection (for the data version of the same snapshot).
    settings
        Settings (time zone, suppression threshold).
    period
        The period of the figures.
    profile_version
        Version key of the profile used.
    left_out
        Records left out of the figures, by reason.
    suppressed
        Rows whose counts were suppressed (adds ``min_count_shown``).
    **extra
        Other members (``metric_crs``, ``case_definition``…).

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {
        "data_version": data_version(conn),
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace(
            "+00:00", "Z"),
        "timezone": settings.timezone,
        "period": None if period is None else _period_dict(period),
        "profile_version": profile_version,
        "left_out": {k: int(v) for k, v in (left_out or {}).items()},
    }
    if suppressed is not None:
        out["suppressed"] = int(suppressed)
        out["min_count_shown"] = settings.api.min_count_shown
    out.update(extra)
    return out


def render(frame: pd.DataFrame, format: str, provenance: Mapping[str, Any], *, filename: str,
           page: Mapping[str, int] | None = None, sensitive: bool = False) -> Response:
    """Render rows as JSON, CSV (UTF-8 with BOM) or GeoJSON, with their provenance.

    Parameters
    ----------
    frame
        Rows; a GeoDataFrame (EPSG:4326) for GeoJSON.
    format
        ``json`` (``{provenance, count, [total, limit, offset,] items}``), ``csv`` (provenance
        as leading ``# key: value`` lines) or ``geojson`` (a FeatureCollection with the
        provenance in the foreign member ``pingan``).
    provenance
        From :func:`provenance`.
    filename
        Base name of a CSV download.
    page
        ``total``, ``limit`` and ``offset`` of a paginated list (also sent as
        ``X-Total-Count``).
    sensitive
        Raw incidents: ``Cache-Control: no-store`` instead of ``private``.

    Returns
    -------
    fastapi.responses.Response

    Raises
    ------
    ValueError
        If the format is unknown, or GeoJSON is asked of a frame without geometry.
    """
    headers = {"Cache-Control": "no-store" if sensitive else "private, max-age=0"}
    prov = dict(provenance)
    if page is not None:
        headers["X-Total-Count"] = str(page["total"])
    if format == "json":
        body = {"provenance": prov, "count": len(frame), **(page or {}),
                "items": records(frame)}
        return Response(json.dumps(body, ensure_ascii=False, default=str),
                        media_type="application/json", headers=headers)
    if format == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        if page is not None:
            prov["page"] = dict(page)
        return Response(to_csv_bytes(frame, provenance=prov), media_type="text/csv; charset=utf-8",
                        headers=headers)
    if format == "geojson":
        if not isinstance(frame, gpd.GeoDataFrame):
            raise ValueError("format=geojson needs rows with geometry")
        if page is not None:
            prov["page"] = dict(page)
        return Response(to_geojson(frame, provenance=prov), media_type="application/geo+json",
                        headers=headers)
    raise ValueError(f"format must be json, csv or geojson; got {format!r}")


def render_one(frame: pd.DataFrame, format: str, provenance: Mapping[str, Any], *,
               filename: str) -> Response:
    """Render one row: JSON ``{provenance, item}``, or CSV/GeoJSON as :func:`render` does.

    Raises
    ------
    ValueError
        If ``frame`` does not hold exactly one row, or the format is unknown.
    """
    if len(frame) != 1:
        raise ValueError(f"render_one needs exactly one row; got {len(frame)}")
    if format == "json":
        body = {"provenance": dict(provenance), "item": records(frame)[0]}
        return Response(json.dumps(body, ensure_ascii=False, default=str),
                        media_type="application/json",
                        headers={"Cache-Control": "private, max-age=0"})
    return render(frame, format, provenance, filename=filename)


def render_report(report: Report, format: str, conn: sa.Connection, settings: Settings, *,
                  filename: str, page: Mapping[str, int] | None = None) -> Response:
    """Render a service's :class:`api.services.Report` with :func:`render`.

    The report's provenance is laid over the request's (data version, time zone…), so a
    service's own figures win.
    """
    prov = provenance(conn, settings)
    prov.update(report.provenance)
    return render(report.frame, format, prov, filename=filename, page=page)
