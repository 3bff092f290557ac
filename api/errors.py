"""The HTTP error contract: every error is an RFC 9457 problem document, mapped in one place.

Domain code raises pingan's domain errors, which know nothing about HTTP (:mod:`geo.errors`:
:class:`~geo.errors.ParameterError`, :class:`~geo.errors.NotFoundError`,
:class:`~geo.errors.InputError`, :class:`geo.profile.ProfileError`…); the API raises the
:class:`ApiError` family for what only it knows (authentication, authorisation, rate limits,
upload size). :data:`STATUS_TABLE` maps each class to a status, a problem type and a title,
and :func:`install_error_handlers` turns any of them into an ``application/problem+json``
response::

    {"type": "https://pingan.dev/problems/invalid-parameter", "title": "Invalid parameter",
     "title_zh": "参数无效", "status": 422, "detail": "…",
     "errors": [{"field": "query.cell_m", "message": "…"}]}

Only pingan's own classes are mapped: a built-in ``ValueError`` or ``KeyError`` escaping a
handler is a bug and answers 500 with an error id that is logged server-side with the
traceback, never a 4xx that blames the client. No response carries a traceback or SQL;
database errors become a 503 with a fixed detail.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from api.db import DatabaseError
from api.profiles import ProfileConflictError
from geo.errors import (
    AmbiguousError,
    InputError,
    LimitError,
    MissingDataError,
    ParameterError,
    PeriodError,
    PinganError,
)
from geo.errors import (
    NotFoundError as DomainNotFoundError,
)
from geo.profile import ProfileError
from geo.readers import RejectedRowsError

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "STATUS_TABLE",
    "TITLES_ZH",
    "ApiError",
    "ConflictError",
    "FieldError",
    "ForbiddenError",
    "InvalidParameterError",
    "NotAuthenticatedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "RoleError",
    "install_error_handlers",
    "problem_response",
    "status_of",
]

log = logging.getLogger("pingan.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://pingan.dev/problems/"


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field.

    Attributes
    ----------
    field
        Where: ``query.period``, ``body.file``, ``path.code``, or a TOML location.
    message
        What is wrong and what is expected.
    line
        Line in an uploaded text (profiles), when known.
    """

    field: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (``line`` only when known)."""
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        return out


class ApiError(Exception):
    """An error only the HTTP layer knows about; subclasses fix the status.

    Parameters
    ----------
    detail
        Human-readable explanation for this occurrence.
    errors
        Field errors.
    headers
        Extra response headers.
    extra
        Extra members of the problem document (for example a load report).
    """

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = (),
                 headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class NotAuthenticatedError(ApiError):
    """No credentials, or credentials that are malformed, unknown, revoked or expired."""

    status = 401
    slug = "not-authenticated"
    title = "Not authenticated"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="pingan"'})
        super().__init__(detail, **kwargs)


class ForbiddenError(ApiError):
    """The key's role may not use this endpoint."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"


class RoleError(ForbiddenError):
    """The key's role may not use this endpoint at all (a key of another role may)."""


class NotFoundError(ApiError):
    """The addressed resource does not exist."""

    status = 404
    slug = "not-found"
    title = "Not found"


class ConflictError(ApiError):
    """The request conflicts with what is stored (e.g. a profile version with other content)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLargeError(ApiError):
    """The request body is larger than allowed."""

    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class InvalidParameterError(ApiError):
    """A parameter is well-formed but not acceptable; ``errors`` names it."""

    status = 422
    slug = "invalid-parameter"
    title = "Invalid parameter"


class RateLimitedError(ApiError):
    """Too many requests from one key (or address); ``Retry-After`` says when to retry.

    Parameters
    ----------
    retry_after_s
        Seconds until a request will be accepted again (rounded up, at least 1).
    """

    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, retry_after_s: float) -> None:
        seconds = max(1, int(-(-retry_after_s // 1)))
        super().__init__(f"rate limit exceeded; retry in {seconds} s",
                         headers={"Retry-After": str(seconds)})


@dataclass(frozen=True)
class _Mapping:
    status: int
    slug: str
    title: str


#: The one table from exception classes to problem statuses, most specific class first. The
#: :class:`ApiError` family carries its own status; a class not listed here is a 500.
STATUS_TABLE: tuple[tuple[type[Exception], _Mapping], ...] = (
    (RejectedRowsError, _Mapping(422, "rejected-rows", "Rows were rejected")),
    (ProfileError, _Mapping(422, "invalid-profile", "Invalid profile")),
    (ProfileConflictError, _Mapping(409, "conflict", "Conflict")),
    (InputError, _Mapping(422, "invalid-input", "Invalid input file")),
    (PeriodError, _Mapping(422, "invalid-period", "Invalid period")),
    (AmbiguousError, _Mapping(422, "ambiguous-name", "Ambiguous name")),
    (ParameterError, _Mapping(422, "invalid-parameter", "Invalid parameter")),
    (LimitError, _Mapping(422, "limit-exceeded", "Limit exceeded")),
    (DomainNotFoundError, _Mapping(404, "not-found", "Not found")),
    (MissingDataError, _Mapping(409, "missing-data", "Data not loaded")),
    (RequestValidationError, _Mapping(422, "invalid-parameter", "Invalid parameter")),
    (DatabaseError, _Mapping(503, "database-unavailable", "Database unavailable")),
    (sa.exc.OperationalError, _Mapping(503, "database-unavailable", "Database unavailable")),
    (sa.exc.DataError, _Mapping(400, "bad-request", "Bad request")),
)

#: The Chinese title of every problem type (``title_zh`` of every problem document; details and
#: ``/docs`` stay English).
TITLES_ZH: dict[str, str] = {
    "bad-request": "请求有误", "not-authenticated": "未认证", "forbidden": "无权访问",
    "not-found": "未找到", "conflict": "冲突", "payload-too-large": "上传内容过大",
    "invalid-parameter": "参数无效", "rate-limited": "请求过于频繁",
    "rejected-rows": "有数据行被拒绝", "invalid-profile": "标准配置无效",
    "invalid-input": "输入文件无效", "invalid-period": "时段无效", "ambiguous-name": "名称有歧义",
    "limit-exceeded": "超出计算限制", "missing-data": "数据未加载",
    "database-unavailable": "数据库不可用", "method-not-allowed": "不支持该请求方法",
    "not-acceptable": "无法提供所请求的格式", "unsupported-media-type": "不支持的内容类型",
    "internal-error": "内部错误", "credential-in-url": "网址中含有凭据", "http-error": "HTTP 错误",
}

_HTTP_SLUGS = {400: "bad-request", 401: "not-authenticated", 403: "forbidden",
               404: "not-found", 405: "method-not-allowed", 406: "not-acceptable",
               409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type",
               422: "invalid-parameter", 429: "rate-limited"}


def problem_response(status: int, slug: str, title: str, detail: str, *,
                     errors: Sequence[FieldError] = (), headers: Mapping[str, str] | None = None,
                     extra: Mapping[str, Any] | None = None) -> JSONResponse:
    """Build an ``application/problem+json`` response.

    Parameters
    ----------
    status
        HTTP status.
    slug
        Problem type name, appended to :data:`PROBLEM_BASE`.
    title
        Short summary of the problem type (English; ``title_zh`` is added from
        :data:`TITLES_ZH`).
    detail
        Explanation of this occurrence.
    errors
        Field errors.
    headers
        Extra headers.
    extra
        Extra members of the document.

    Returns
    -------
    starlette.responses.JSONResponse
    """
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title,
                            "title_zh": TITLES_ZH.get(slug, TITLES_ZH["http-error"]),
                            "status": status, "detail": detail,
                            "errors": [e.as_dict() for e in errors]}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=dict(headers or {}),
                        media_type=PROBLEM_MEDIA_TYPE)


def _lookup(exc: BaseException) -> _Mapping | None:
    for cls, mapping in STATUS_TABLE:
        if isinstance(exc, cls):
            return mapping
    return None


def status_of(exc: BaseException) -> int:
    """Return the HTTP status an exception becomes (500 when nothing maps it)."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    mapping = _lookup(exc)
    return 500 if mapping is None else mapping.status


def _domain_detail(exc: BaseException) -> tuple[str, list[FieldError], dict[str, Any]]:
    """Detail, field errors and extra members for a domain exception."""
    if isinstance(exc, RejectedRowsError):
        result = exc.result
        report = {"layer": result.layer, "rows_read": result.rows_read,
                  "rows_rejected": result.rows_rejected, "warnings": list(result.warnings),
                  "rejections": [r.__dict__ for r in result.rejections]}
        errors = [FieldError(f"row {r.row}.{r.field}", r.reason) for r in result.rejections[:50]]
        return str(exc), errors, {"report": report}
    if isinstance(exc, ProfileError):
        errors = [FieldError(p.field, p.message, p.line) for p in exc.problems]
        n = len(exc.problems)
        return f"the profile has {n} problem{'s' if n != 1 else ''}", errors, {}
    if isinstance(exc, RequestValidationError):
        errors = [FieldError(".".join(str(x) for x in e.get("loc", ())), str(e.get("msg", "")))
                  for e in exc.errors()]
        return "the request's parameters are not valid", errors, {}
    if isinstance(exc, DatabaseError | sa.exc.OperationalError):
        return "the database cannot be reached or is busy; try again later", [], {}
    if isinstance(exc, sa.exc.DataError):
        log.warning("database refused a value: %s", exc.orig)
        return "a parameter's value cannot be used by the database", [], {}
    if isinstance(exc, PinganError) and exc.parameter:
        return str(exc), [FieldError(f"query.{exc.parameter}"
                                     if "." not in exc.parameter else exc.parameter,
                                     str(exc))], {}
    return str(exc), [], {}


async def _handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, errors=exc.errors,
                            headers=exc.headers, extra=exc.extra)


async def _handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    mapping = _lookup(exc)
    if mapping is None:
        return await _handle_unexpected(request, exc)
    detail, errors, extra = _domain_detail(exc)
    headers = {"Retry-After": "5"} if mapping.status == 503 else None
    return problem_response(mapping.status, mapping.slug, mapping.title, detail, errors=errors,
                            headers=headers, extra=extra)


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = _HTTP_SLUGS.get(exc.status_code, "http-error")
    title = slug.replace("-", " ").capitalize()
    return problem_response(exc.status_code, slug, title, str(exc.detail),
                            headers=exc.headers)


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    log.error("unhandled error %s on %s %s", error_id, request.method, request.url.path,
              exc_info=(type(exc), exc, exc.__traceback__))
    return problem_response(500, "internal-error", "Internal error",
                            f"an unexpected error occurred; quote error id {error_id} to the "
                            f"administrator", extra={"error_id": error_id})


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem-details handlers on an app.

    Parameters
    ----------
    app
        The application.
    """
    app.add_exception_handler(ApiError, _handle_api_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    for cls, _ in STATUS_TABLE:
        app.add_exception_handler(cls, _handle_domain_error)
    app.add_exception_handler(Exception, _handle_unexpected)
