"""What every route needs: the app's state, the caller, their visibility and shared parameters.

A route module follows one pattern (see :mod:`api.routes.rates`)::

    router = APIRouter(tags=["rates"])

    @router.get("/rates", response_model=RateList,
                responses=responses(400, 401, 403, 422, 429, csv=True, geojson=True))
    def get_rates(ctx: ServiceDep, vis: VisibilityDep, period: PeriodDep,
                  area: SelectionDep, format: ListFormat = "json") -> Response:
        report = rates_report(ctx, vis, period=period, selection=area)   # a service
        return render_report(ctx, report, format, filename="rates")      # api.render

Dependencies: :data:`SettingsDep`, :data:`EngineDep`, :data:`ServiceDep` (the services'
context with the app's result cache), :data:`CurrentKey` (any valid key; 401 otherwise, rate
limited per key), :func:`require_role` and its aliases :data:`AdminKey` and
:data:`RawReaderKey`, :data:`VisibilityDep` (the caller's world and release rules,
:mod:`api.release`), :data:`PeriodDep` and :data:`SelectionDep` (the ``period`` and the
``district``/``subdistrict``/``community``/``bbox`` parameters, resolved). Data routes never hold
a database connection of their own: services open one only for the moment they read.
:data:`SessionDep` is for the few routes that only read or write one small table. Handlers are
plain ``def`` functions: FastAPI runs them in its thread pool, since database and geometry
work blocks. Errors are raised, never returned: :mod:`api.errors` turns them into problem
documents.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from api.access import authenticate
from api.auth import RAW_ROLES, SESSION_COOKIE, ApiKey, Role
from api.errors import FieldError, InvalidParameterError, RoleError
from api.release import Bbox, Selection, Visibility, select, visibility_for, visibility_key
from api.services import ServiceContext
from api.settings import Settings
from geo.period import Period

__all__ = [
    "AdminKey",
    "BboxParam",
    "CategoryParam",
    "CommunityParam",
    "CurrentKey",
    "DistrictParam",
    "EngineDep",
    "LimitParam",
    "ListFormat",
    "OffsetParam",
    "PeriodDep",
    "PeriodParam",
    "RawReaderKey",
    "SelectionDep",
    "ServiceDep",
    "SessionDep",
    "SettingsDep",
    "SubdistrictParam",
    "TableFormat",
    "VisibilityDep",
    "client_address",
    "current_key",
    "endpoint_label",
    "parse_bbox",
    "reject_nul_bytes",
    "require_role",
]

#: Formats of a list; ``provenance`` is the provenance document of the same request's CSV
#: (the URL of the CSV's ``Link: rel="describedby"``, :mod:`api.provenance`).
ListFormat = Literal["json", "csv", "geojson", "provenance"]
TableFormat = Literal["json", "csv", "provenance"]


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
    """Return the context the services take: engine, settings and the app's result cache.

    One per request (FastAPI shares it among the request's dependencies), its data version
    read once (``pin_version``).
    """
    state = request.app.state
    return ServiceContext(state.engine, state.settings, state.cache, pin_version=True)


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
            raise RoleError(f"a {key.role} key may not use this endpoint; it needs "
                            f"{' or '.join(allowed)}")
        return key

    dependency.__name__ = f"require_{'_or_'.join(allowed)}"
    return dependency


AdminKey = Annotated[ApiKey, Depends(require_role("admin"))]
RawReaderKey = Annotated[ApiKey, Depends(require_role(*RAW_ROLES))]


# --- the caller's visibility and the parameters every data route shares -----------------


def get_visibility(ctx: ServiceDep, key: CurrentKey) -> Visibility:
    """The caller's visibility (:mod:`api.release`): what exists for them, how it is released.

    Built once per data version and :func:`api.release.visibility_key` (role and
    jurisdictions as the key holds them at this request: the key was just authenticated, so a
    revoked key never gets here and a changed jurisdiction is another cache key; every load
    that changes communities bumps the data version). A liaison's world is thousands of
    community codes in a city: reading them on every request cost more than a cached answer.
    """
    def build() -> Visibility:
        with ctx.engine.connect() as conn:
            return visibility_for(conn, key, ctx.settings)
    return ctx.cached("visibility", visibility_key(key), build)


VisibilityDep = Annotated[Visibility, Depends(get_visibility)]

PeriodParam = Annotated[str | None, Query(
    description="2025, 2025-Q3, 2025-07, 2025-W49 or 2025-01-01..2025-06-30 (local days); "
                "planner and client keys: whole months, quarters or years; default: the "
                "calendar year of the latest incident", max_length=40)]
CategoryParam = Annotated[list[str] | None, Query(
    description="only these categories (repeat the parameter for several); planner and "
                "client keys name configured category groups")]
BboxParam = Annotated[str | None, Query(
    description="minlon,minlat,maxlon,maxlat in EPSG:4326; clipped to a liaison's "
                "jurisdiction; selects whole units (by representative point) for planner and "
                "client keys", max_length=200)]
DistrictParam = Annotated[str | None, Query(description="district code or name",
                                            max_length=200)]
SubdistrictParam = Annotated[str | None, Query(description="subdistrict code or name",
                                               max_length=200)]
CommunityParam = Annotated[list[str] | None, Query(
    description="community codes (repeatable)", max_length=64)]
LimitParam = Annotated[int, Query(ge=1, le=10_000, description="rows per page")]
OffsetParam = Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")]


def get_period(ctx: ServiceDep, period: PeriodParam = None) -> Period:
    """The request's period (:meth:`api.services.ServiceContext.period`); 422 when invalid."""
    return ctx.period(period)


PeriodDep = Annotated[Period, Depends(get_period)]


def get_selection(ctx: ServiceDep, vis: VisibilityDep, district: DistrictParam = None,
                  subdistrict: SubdistrictParam = None, community: CommunityParam = None,
                  bbox: BboxParam = None) -> Selection:
    """The places a request names, resolved against the caller's world (403 outside it)."""
    return select(vis, ctx.communities(), district=district, subdistrict=subdistrict,
                  community=community, bbox=parse_bbox(bbox))


SelectionDep = Annotated[Selection, Depends(get_selection)]


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
