"""``/api/v1/loads``: upload a layer file (admin only), validated and stored as one transaction.

The body is ``multipart/form-data`` with one ``file`` part and the options of ``pingan load``
as form fields. It is parsed only after the key has been checked, streamed to a temporary file
and cut off as soon as it passes ``settings.api.max_upload_mb`` (413), so a forbidden or
oversized upload costs no more than what was read. Before it is read, :mod:`api.uploads`
checks that its bytes are a format pingan reads (no VRT, no GDAL network access, zip entries
that stay in their folder and unpack to at most ``settings.api.max_unzipped_mb``); errors name
the file as it was uploaded, never the temporary path. The response is the load report of the
command line (``LoadReport.as_dict``) with every rejected row; in strict mode a file with bad
rows is refused with 422, the same report, and nothing stored. ``roads`` takes a line file
(GeoJSON, GeoPackage, zipped Shapefile, GeoParquet, CSV with WKT; OSM extracts only from the
command line) and answers with the roads report (nodes, edges, connected pieces); a second
network needs ``replace``, as on the command line.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api import audit
from api.deps import AdminKey, EngineDep, SettingsDep, client_address, endpoint_label
from api.errors import FieldError, InvalidParameterError, PayloadTooLargeError, status_of
from api.schemas import LoadReportOut, RoadsLoadReportOut, responses
from api.uploads import load_upload
from geo.completeness import parse_covers
from geo.errors import ParameterError
from geo.exposure import parse_reference_date
from geo.layers import LayerName
from geo.readers import parse_field_mappings

__all__ = ["LayerName", "router"]

router = APIRouter(prefix="/loads", tags=["loads"])

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_FORM_FIELDS = {"file", "crs", "encoding", "field", "layer_name", "strict", "replace",
                "id_from_content", "snap_m", "reference_date", "covers"}
_SAFE_NAME = re.compile(r"[^\w.\-]+")


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "GeoJSON, GeoPackage, zipped Shapefile, GeoParquet or CSV"},
            "crs": {"type": "string", "description": "CRS of the coordinates (EPSG:4548, "
                                                     "gcj02, bd09…); default: the file's"},
            "encoding": {"type": "string", "description": "text encoding, e.g. gbk"},
            "field": {"type": "array", "items": {"type": "string"},
                      "description": "field mappings target=source (repeatable)"},
            "layer_name": {"type": "string", "description": "layer inside a GeoPackage"},
            "strict": {"type": "boolean", "description": "store nothing if a row is rejected"},
            "replace": {"type": "boolean", "description": "the file is the whole layer"},
            "id_from_content": {"type": "boolean", "description": "incidents without an id "
                                "column: ids drawn from each row's raw time, coordinates, "
                                "category and address"},
            "snap_m": {"type": "number", "minimum": 0, "description": "incidents: a point in no "
                       "community goes to the only community within this many metres; roads: "
                       "line ends this close merge (default 1 m)"},
            "reference_date": {"type": "string", "description": "population: the day "
                               "residents were counted on, MM-DD or YYYY-MM-DD (default "
                               "07-01)"},
            "covers": {"type": "string", "description": "incidents: the days the file "
                       "covers, FIRST..LAST or a period (default: its first..last day)"},
        },
    }}}}}


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > limit:
            raise PayloadTooLargeError(f"the upload is larger than the limit of {limit:,} bytes")
        yield chunk


def _flag(form: FormData, name: str) -> bool:
    value = form.get(name)
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidParameterError(f"{name} must be true or false", errors=[
        FieldError(f"body.{name}", f"expected true or false; got {text!r}")])


def _metres(form: FormData, name: str) -> float:
    text = _text(form, name)
    try:
        value = float(text) if text is not None else 0.0
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise InvalidParameterError(f"{name} must be a distance in metres >= 0", errors=[
            FieldError(f"body.{name}", f"expected a number >= 0; got {text!r}")])
    return value


def _checked(form: FormData, name: str, parse: Callable[[str], object]) -> str | None:
    """A text field that ``parse`` accepts (the load parses it again), else a 422 naming it."""
    text = _text(form, name)
    if text is not None:
        try:
            parse(text)
        except ParameterError as exc:
            raise InvalidParameterError(str(exc), errors=[
                FieldError(f"body.{name}", str(exc))]) from None
    return text


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, UploadFile):
        raise InvalidParameterError(f"{name} must be a text field",
                               errors=[FieldError(f"body.{name}", "expected text, got a file")])
    return value.strip() or None


async def _read_form(request: Request, limit: int) -> FormData:
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise InvalidParameterError("the upload must be multipart/form-data", errors=[
            FieldError("body", f"expected multipart/form-data; got {ctype or 'none'!r}")])
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the upload ({int(declared):,} bytes) is larger than the limit "
                              f"of {limit:,} bytes")
    parser = MultiPartParser(request.headers, _limited(request.stream(), limit), max_files=1,
                             max_fields=len(_FORM_FIELDS) + 50)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidParameterError(f"the multipart body cannot be read: {exc.message}",
                               errors=[FieldError("body", exc.message)]) from None


@router.post("/{layer}", response_model=LoadReportOut | RoadsLoadReportOut,
             openapi_extra=_UPLOAD_BODY,
             responses=responses(400, 401, 403, 413, 422, 429))
async def create_load(request: Request, layer: LayerName, engine: EngineDep,
                      settings: SettingsDep, key: AdminKey) -> JSONResponse:
    """Load one file into a layer as one transaction and return the load report (audited)."""
    limit = int(settings.api.max_upload_mb * 1024 * 1024)
    params: dict[str, Any] = {"layer": layer.value}
    status = 500
    rows = None
    try:
        form = await _read_form(request, limit)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidParameterError("a file is required", errors=[
                    FieldError("body.file", "expected a file part named 'file'")])
            name = Path(upload.filename or "upload").name
            crs, encoding = _text(form, "crs"), _text(form, "encoding")
            gpkg_layer = _text(form, "layer_name")
            strict, replace = _flag(form, "strict"), _flag(form, "replace")
            id_from_content = _flag(form, "id_from_content")
            # Roads default to their own noding tolerance (1 m) when none is given.
            snap_m = (None if layer is LayerName.roads and _text(form, "snap_m") is None
                      else _metres(form, "snap_m"))
            reference_date = _checked(form, "reference_date", parse_reference_date)
            covers = _checked(form, "covers", parse_covers)
            mappings = [str(v) for v in form.getlist("field")]
            try:
                fields = parse_field_mappings(mappings)
            except ValueError as exc:
                raise InvalidParameterError(str(exc), errors=[FieldError("body.field", str(exc))]
                                       ) from None
            params |= {"file_name": name, "crs": crs, "encoding": encoding,
                       "layer_name": gpkg_layer, "strict": strict, "replace": replace,
                       "fields": fields, "id_from_content": id_from_content,
                       "snap_m": snap_m, "reference_date": reference_date, "covers": covers}
            with tempfile.TemporaryDirectory(prefix="pingan-upload-") as tmp:
                path = Path(tmp) / (_SAFE_NAME.sub("_", name).lstrip(".") or "upload")
                with open(path, "wb") as fh:
                    await run_in_threadpool(shutil.copyfileobj, upload.file, fh)
                report = await run_in_threadpool(
                    load_upload, engine, path, layer.value, name=name,
                    max_unzipped_bytes=int(settings.api.max_unzipped_mb * 1024 * 1024),
                    crs=crs, encoding=encoding, fields=fields, gpkg_layer=gpkg_layer,
                    strict=strict, replace=replace, timezone=settings.timezone,
                    loaded_by=key.name, id_from_content=id_from_content, snap_m=snap_m,
                    reference_date=reference_date, covers=covers)
        finally:
            await form.close()
        out = report.as_dict()
        status, rows = 200, report.rows_loaded + report.rows_updated
        params |= {"load_id": report.load_id, "rows_rejected": report.rows_rejected}
        return JSONResponse(out)
    except Exception as exc:
        status = status_of(exc)
        raise
    finally:
        await run_in_threadpool(audit.record, engine, "load", key=key,
                                endpoint=endpoint_label(request), params=params, rows=rows,
                                status=status, client=client_address(request))
