"""The web workspace's page machinery: templates, language, CSRF tokens, login redirects.

Pages are rendered on the server from Jinja2 templates in ``api/templates`` (autoescaped: no
text from the data becomes markup). Every asset a page loads is served by pingan itself
(``/static/…``, the map assets under ``/maps/assets/…``, ``/favicon.ico``), so a page makes no
request to another host; :class:`api.security.SecurityMiddleware` writes the response's CSP
nonce into every ``<script>`` element a template holds.

Language: Chinese by default; ``?lang=en`` (or ``zh``) switches and is remembered in the
``pingan_lang`` cookie (:func:`page_language`). Texts are pairs in
:data:`api.web_text.TEXT`; templates call ``t('key')``.

CSRF: a form that changes something on behalf of a session carries ``csrf_token``, an HMAC of
the session id under the server secret (:func:`csrf_token`, checked by :func:`check_csrf`);
a page's script sends the same token in the ``X-CSRF-Token`` header (:data:`CSRF_HEADER`) with
every cookie-authenticated POST, PUT, PATCH or DELETE of the JSON API, which
:func:`api.access.authenticate` checks; pages hold it in ``<meta name="csrf-token">``.
The login form has its own pre-session token (:mod:`api.sessions`).

Login redirects: a browser navigation (``GET``/``HEAD`` accepting ``text/html``, outside
``/api/``) that fails authentication — no session, an expired or ended one, a key whose role or
jurisdiction changed — or that needs a key of another role (:class:`api.errors.RoleError`) is
sent to ``/login?next=<the page>`` (:func:`install_login_redirect`);
API clients keep the JSON 401 problem document. ``next`` is only ever a path on this site
(:func:`safe_next`).
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.auth import session_secret
from api.errors import (
    ApiError,
    NotAuthenticatedError,
    NotFoundError,
    RoleError,
    problem_response,
)
from api.web_text import TEXT
from maps.labels import fmt_count, fmt_number, fmt_percent, fmt_ratio, term

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LANG_COOKIE",
    "PageLanguage",
    "app_secret",
    "asset_response",
    "check_csrf",
    "csrf_token",
    "install_login_redirect",
    "page_language",
    "render_fragment",
    "render_page",
    "render_template",
    "safe_next",
    "server_secret",
    "static_path",
    "wants_html",
]

PageLanguage = Literal["zh", "en"]
LANG_COOKIE = "pingan_lang"
CSRF_FIELD = "csrf_token"
#: The header a page's script sends its session's CSRF token in.
CSRF_HEADER = "X-CSRF-Token"
_HERE = Path(__file__).parent
_STATIC = _HERE / "static"
# A local path: one "/" then no second "/" or "\", no whitespace or control character (browsers
# drop tabs and newlines from URLs, so "/\t/evil.example" would become "//evil.example").
_LOCAL_PATH = re.compile(r"/(?![/\\])[^\s\\\x00-\x1f\x7f]*")
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(_HERE / "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)


def safe_next(target: str | None, default: str = "/") -> str:
    """Return ``target`` if it is a path on this site, else ``default`` (no open redirect).

    Parameters
    ----------
    target
        Where the browser asked to go after login.
    default
        Where to go instead.

    Returns
    -------
    str
    """
    if not target or len(target) > 2000 or not _LOCAL_PATH.fullmatch(target):
        return default
    return target


def page_language(request: Request) -> PageLanguage:
    """The language of a page: ``?lang=``, else the ``pingan_lang`` cookie, else Chinese."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in ("zh", "en"):
            return "en" if value == "en" else "zh"
    return "zh"


def app_secret(state: Any) -> str:
    """The server secret of an app's state (blocking: read from the database once per app)."""
    secret: str | None = getattr(state, "session_secret", None)
    if secret is None:
        secret = session_secret(state.engine, state.settings.api.secret_key)
        state.session_secret = secret
    return secret


async def server_secret(request: Request) -> str:
    """The server secret of sessions and form tokens (read once per app)."""
    secret: str | None = getattr(request.app.state, "session_secret", None)
    if secret is None:
        secret = await run_in_threadpool(app_secret, request.app.state)
    return secret


def csrf_token(secret: str, session_id: str) -> str:
    """The CSRF token of a session's forms: HMAC-SHA256 of the session id under the secret."""
    return hmac.new(secret.encode("utf-8"), f"pingan-csrf:{session_id}".encode(),
                    hashlib.sha256).hexdigest()


def check_csrf(secret: str, session_id: str | None, field: str | None) -> bool:
    """Whether a form's ``csrf_token`` belongs to the session that sent it."""
    if not session_id or not field:
        return False
    # bytes: compare_digest refuses str holding anything but ASCII (a header is latin-1)
    return hmac.compare_digest(csrf_token(secret, session_id).encode(),
                               field.encode("utf-8", "surrogateescape"))


def wants_html(request: Request) -> bool:
    """Whether a request is a browser navigation to a page (not an API call or a fetch)."""
    return (request.method.upper() in ("GET", "HEAD")
            and not request.url.path.startswith("/api/")
            and "text/html" in request.headers.get("accept", "").lower())


def _text(language: PageLanguage, extra: dict[str, tuple[str, str]] | None = None) -> Any:
    index = 0 if language == "zh" else 1
    texts = TEXT if not extra else {**TEXT, **extra}

    def t(key: str) -> str:
        return texts[key][index]
    return t


def _switch_url(request: Request, language: PageLanguage) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", language))
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
    return f"{request.url.path}?{query}"


def render_fragment(request: Request, template: str, context: dict[str, Any]) -> str:
    """Render a template (a page or a part of one) in the request's language, as text.

    The template gets what :func:`render_page` gives a page (``lang``, ``t``, ``fmt_*``…).

    Parameters
    ----------
    request, template, context
        As for :func:`render_page`.

    Returns
    -------
    str
        The HTML (autoescaped).
    """
    language = page_language(request)
    other: PageLanguage = "en" if language == "zh" else "zh"
    return render_template(template, language, {
        "switch_url": _switch_url(request, other), "other_lang": other, **context})


def render_page(request: Request, template: str, context: dict[str, Any], *,
                status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render a page template in the request's language.

    Every template gets ``lang``, ``t`` (the text of a key), ``fmt_*`` number formatters and
    ``switch_url`` (this page in the other language); a language chosen with ``?lang=`` is
    remembered in a cookie.

    Parameters
    ----------
    request
        The request.
    template
        Template file name under ``api/templates``.
    context
        Further template variables.
    status
        HTTP status.
    headers
        Further headers (default ``Cache-Control: no-store``: pages show what a key may see).

    Returns
    -------
    fastapi.responses.HTMLResponse
    """
    language = page_language(request)
    page = render_fragment(request, template, context)
    response = HTMLResponse(page, status_code=status,
                            headers={"Cache-Control": "no-store", **(headers or {})})
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, path="/",
                            httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    return response


def render_template(template: str, language: PageLanguage, context: dict[str, Any], *,
                    text: dict[str, tuple[str, str]] | None = None) -> str:
    """Render a template of ``api/templates`` in a language (no request needed).

    The template gets ``lang``, ``t`` (the text of a key), ``term`` (a data value's name:
    ``term('facility', 'police_office')`` is 社区警务室) and the ``fmt_*`` number formatters
    besides ``context``.

    Parameters
    ----------
    template
        Template file name.
    language
        ``zh`` or ``en``.
    context
        Further template variables.
    text
        Texts besides :data:`api.web_text.TEXT` (key -> (Chinese, English)).

    Returns
    -------
    str
    """
    def num(value: Any, decimals: int = 1) -> str:
        return fmt_number(value, language, decimals=decimals)

    return _ENV.get_template(template).render(
        lang=language, t=_text(language, text), term=lambda group, v: term(group, v, language),
        fmt_count=lambda v: fmt_count(v, language),
        fmt_number=num, fmt_ratio=lambda v: fmt_ratio(v, language),
        fmt_percent=lambda v: fmt_percent(v, language), **context)


def static_path(name: str) -> Path:
    """The file of a page asset (``app.css``, ``favicon.ico``).

    Raises
    ------
    KeyError
        If there is no such asset (or the name leaves the folder).
    """
    path = (_STATIC / name).resolve()
    if not name or _STATIC.resolve() not in path.parents or not path.is_file():
        raise KeyError(name)
    return path


def asset_response(find: Callable[[str], Path], name: str, *, what: str) -> FileResponse:
    """Serve a static file found by ``find`` (cached a day by browsers).

    Parameters
    ----------
    find
        Name -> file; raises ``KeyError`` for an unknown name (or one leaving its folder).
    name
        The requested name.
    what
        What the files are, for the 404 (``map asset``).

    Raises
    ------
    api.errors.NotFoundError
        If there is no such file.
    """
    try:
        path = find(name)
    except KeyError:
        raise NotFoundError(f"no {what} {name!r}") from None
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=86400"})


def _login_redirect(request: Request, exc: ApiError) -> Response:
    if not wants_html(request):
        return problem_response(exc.status, exc.slug, exc.title, exc.detail, errors=exc.errors,
                                headers=exc.headers, extra=exc.extra)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = safe_next(here)
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303,
                            headers={"Cache-Control": "no-store"})


def install_login_redirect(app: FastAPI) -> None:
    """Send browser navigations that fail authentication, or need another role, to login.

    Parameters
    ----------
    app
        The application (after :func:`api.errors.install_error_handlers`).
    """

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotAuthenticatedError | RoleError)
        return _login_redirect(request, exc)

    app.add_exception_handler(NotAuthenticatedError, handler)
    app.add_exception_handler(RoleError, handler)
