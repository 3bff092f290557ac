"""Turn services' reports into HTTP responses: JSON, CSV or GeoJSON, with their provenance.

Routes call :func:`render_report` (a list) or :func:`render_one` (one row); the frame they pass
is already released for the caller (:mod:`api.release`), so rendering only serialises. Raw
incidents are sent with ``Cache-Control: no-store``; everything else ``private``. A CSV holds
only its header and rows, and links to its provenance (``format=provenance`` of the same
request, :mod:`api.provenance`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response

from api.db import data_version
from api.output import records, to_geojson
from api.provenance import (
    PROVENANCE_MEDIA_TYPE,
    CsvOptions,
    csv_body,
    describedby_link,
    provenance_document,
)
from api.services import Report, ServiceContext
from api.settings import Settings
from geo.errors import ParameterError

if TYPE_CHECKING:
    from api.release import Visibility

__all__ = ["base_provenance", "cached_response", "provenance_in", "render", "render_one",
           "render_report"]


def base_provenance(ctx: ServiceContext) -> dict[str, Any]:
    """The provenance every response carries: data version, instant, time zone."""
    return {
        "data_version": ctx.data_version(),
        "generated_at": _now(),
        "timezone": ctx.timezone,
    }


def provenance_in(conn: sa.Connection, settings: Settings, **extra: Any) -> dict[str, Any]:
    """:func:`base_provenance` read through a connection the route already holds."""
    return {"data_version": data_version(conn), "generated_at": _now(),
            "timezone": settings.timezone, **extra}


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def render(frame: pd.DataFrame, format: str, provenance: Mapping[str, Any], *, filename: str,
           page: Mapping[str, int] | None = None, sensitive: bool = False,
           csv: CsvOptions | None = None) -> Response:
    """Render rows as JSON, CSV (UTF-8 with BOM) or GeoJSON, with their provenance.

    Parameters
    ----------
    frame
        Rows; a GeoDataFrame (EPSG:4326) for GeoJSON.
    format
        ``json`` (``{provenance, count, [total, limit, offset,] items}``), ``csv`` (header and
        rows; the provenance at the URL of its ``Link: rel="describedby"`` header, or in leading
        ``# key: value`` lines with ``csv.comments``), ``geojson`` (a FeatureCollection with
        the provenance in the foreign member ``pingan``) or ``provenance`` (the provenance
        document of the CSV of the same request, :func:`api.provenance.provenance_document`).
    provenance
        Provenance members.
    filename
        Base name of a CSV download.
    page
        ``total``, ``limit`` and ``offset`` of a paginated list (also sent as
        ``X-Total-Count``).
    sensitive
        Raw incidents: ``Cache-Control: no-store`` instead of ``private``.
    csv
        CSV options (BOM, comment lines, the provenance URL); default: BOM, no comment lines,
        no link.

    Returns
    -------
    fastapi.responses.Response

    Raises
    ------
    geo.errors.ParameterError
        If the format is unknown, or GeoJSON is asked of rows without geometry.
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
    if format in ("csv", "provenance") and page is not None:
        prov["page"] = dict(page)
    if format == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        if csv is not None and csv.describedby:
            headers["Link"] = describedby_link(csv.describedby)
        return Response(csv_body(frame, prov, csv), media_type="text/csv; charset=utf-8",
                        headers=headers)
    if format == "provenance":
        return Response(json.dumps(provenance_document(frame, prov), ensure_ascii=False),
                        media_type=PROVENANCE_MEDIA_TYPE, headers=headers)
    if format == "geojson":
        if not isinstance(frame, gpd.GeoDataFrame):
            raise ParameterError("format=geojson needs rows with geometry; use json or csv",
                                 parameter="format")
        if page is not None:
            prov["page"] = dict(page)
        return Response(to_geojson(frame, provenance=prov), media_type="application/geo+json",
                        headers=headers)
    raise ParameterError(f"format must be json, csv, geojson or provenance; got {format!r}",
                         parameter="format")


def render_one(frame: pd.DataFrame, format: str, provenance: Mapping[str, Any], *,
               filename: str) -> Response:
    """Render one row: JSON ``{provenance, item}``, or CSV/GeoJSON as :func:`render` does.

    Raises
    ------
    geo.errors.ParameterError
        If the format is unknown.
    """
    if format == "json":
        body = {"provenance": dict(provenance), "item": records(frame)[0]}
        return Response(json.dumps(body, ensure_ascii=False, default=str),
                        media_type="application/json",
                        headers={"Cache-Control": "private, max-age=0"})
    return render(frame, format, provenance, filename=filename)


def render_report(ctx: ServiceContext, report: Report, format: str, *, filename: str,
                  page: Mapping[str, int] | None = None, sensitive: bool = False,
                  csv: CsvOptions | None = None) -> Response:
    """Render a service's :class:`api.services.Report` with :func:`render`.

    The report's provenance is laid over the response's base (data version, time zone…), so
    a service's own figures win.
    """
    prov = base_provenance(ctx)
    prov.update(report.provenance)
    return render(report.frame, format, prov, filename=filename, page=page, sensitive=sensitive,
                  csv=csv)


@dataclass(frozen=True)
class _Serialised:
    """A response as sent: status, raw headers (content type and length included), body."""

    status_code: int
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    @property
    def cache_bytes(self) -> int:
        """Size counted against the result cache's byte budget."""
        return len(self.body)


def cached_response(ctx: ServiceContext, vis: Visibility, request: Request,
                    build: Callable[[], Response]) -> Response:
    """The response ``build`` makes, its serialised bytes cached for the next identical request.

    The key is (data version, route path, the request's query parameters normalised, the
    caller's visibility key :attr:`api.release.Visibility.world_key`): the format is one of the
    parameters, so JSON, CSV, GeoJSON and provenance bytes are kept apart, and two callers
    share bytes only when the trust layer gives them the same world and release rules (never
    by role alone). A load bumps the data version, so stale bytes are never served; a cached
    answer keeps the ``generated_at`` of the request that computed it.

    Parameters
    ----------
    ctx
        The services' context (its result cache holds the bytes).
    vis
        The caller's visibility.
    request
        The request (its path and query parameters).
    build
        Computes and renders the response (only on a miss); it may raise, nothing is cached.

    Returns
    -------
    fastapi.responses.Response
    """
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    key = (request.url.path, tuple(sorted((k, tuple(v)) for k, v in params.items())))

    def serialise() -> _Serialised:
        response = build()
        # A cookie belongs to one caller: it is never replayed from the cache.
        headers = tuple(h for h in response.raw_headers if h[0].lower() != b"set-cookie")
        return _Serialised(response.status_code, headers, bytes(response.body))

    entry = ctx.cached("response", key, serialise, vis=vis)
    response = Response(status_code=entry.status_code)
    response.body = entry.body
    response.raw_headers = list(entry.raw_headers)
    return response
