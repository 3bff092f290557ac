"""Browser login (``/login``, ``/logout``) and ``/api/v1/me``.

The login page is a form without script (template ``login.html``, assets from pingan itself),
shown by ``GET /login`` and by ``GET /`` without a session; ``GET /login``
sets a pre-session token (a ``pingan_login`` cookie and its signature in a hidden field, see
:mod:`api.sessions`); ``POST /login`` accepts a key only with a matching pair, then starts a new
server-side session (a fresh id at every login; the previous session of the browser ends) and
sets its id as a cookie (HttpOnly, SameSite=Strict, Secure over https, Max-Age
``settings.api.session_minutes``), then goes on to ``next`` (a path on this site, else the
landing page ``/``). ``POST /logout`` ends the session on the server; it must come from this
site (:func:`api.security.check_origin`), and the pages' logout form also carries the session's
CSRF token (:func:`api.web.csrf_token`), refused when it does not match. A failed
login is audited and limited like any failed authentication (:mod:`api.access`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api import audit
from api.access import limit_failures, limit_key, note_failure
from api.auth import SESSION_COOKIE, AuthError, verify_token
from api.deps import CurrentKey
from api.errors import ForbiddenError
from api.schemas import KeyOut, responses
from api.security import check_origin
from api.sessions import (
    LOGIN_COOKIE,
    LOGIN_FIELD,
    check_login_token,
    end_session,
    login_token,
    start_session,
)
from api.web import check_csrf, render_page, safe_next, server_secret
from api.web_text import TEXT

__all__ = ["login_form", "pages", "router"]

router = APIRouter(tags=["auth"])
pages = APIRouter(include_in_schema=False)

#: Lifetime of a login form's pre-session token.
_LOGIN_TOKEN_S = 3600


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def login_form(request: Request, *, next_url: str, error: str | None = None,
                     status: int = 200) -> HTMLResponse:
    """The login page (``login.html``), with a fresh pre-session token (cookie and field).

    ``GET /login`` and ``GET /`` without a session show it.
    """
    minutes = request.app.state.settings.api.session_minutes
    cookie, field = login_token(await server_secret(request))
    response = render_page(request, "login.html", {
        "error": error, "next_url": safe_next(next_url), "minutes": minutes,
        "field": LOGIN_FIELD, "token": field}, status=status)
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=_LOGIN_TOKEN_S, path="/login",
                        httponly=True, samesite="strict", secure=_secure(request))
    return response


def _error(key: str, detail: str = "") -> str:
    """A login error in both languages (the detail is the English message of the check)."""
    zh, en = TEXT[key]
    return f"{zh} / {en}: {detail}" if detail else f"{zh} / {en}"


@pages.get("/login")
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """Show the login form."""
    return await login_form(request, next_url=next or "/")


@pages.post("/login")
async def login(request: Request, key: Annotated[str, Form(max_length=200)],
                next: Annotated[str, Form(max_length=2000)] = "/",
                login_token: Annotated[str | None, Form(max_length=200)] = None) -> Response:
    """Exchange a key for a session cookie and go on to ``next`` (a path on this site)."""
    state = request.app.state
    engine, settings = state.engine, state.settings
    if not check_login_token(await server_secret(request), request.cookies.get(LOGIN_COOKIE),
                             login_token):
        return await login_form(request, next_url=next, status=403,
                                error=_error("login_expired"))
    await run_in_threadpool(limit_failures, request)
    try:
        found = await run_in_threadpool(verify_token, engine, key)
    except AuthError as exc:
        await run_in_threadpool(note_failure, request, exc, via="login")
        return await login_form(request, next_url=next, status=401,
                                error=_error("login_failed", str(exc)))
    await run_in_threadpool(limit_key, request, found)
    session_id = await run_in_threadpool(
        start_session, engine, found, minutes=settings.api.session_minutes,
        client=audit.request_client(request), replaces=request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=settings.api.session_minutes * 60,
                        path="/", httponly=True, samesite="strict", secure=_secure(request))
    response.delete_cookie(LOGIN_COOKIE, path="/login", httponly=True, samesite="strict",
                           secure=_secure(request))
    return response


@pages.post("/logout")
async def logout(request: Request,
                 csrf_token: Annotated[str | None, Form(max_length=200)] = None) -> Response:
    """End the browser session, on the server and in the browser."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        check_origin(request, request.app.state.settings.api.allowed_origins)
        if csrf_token is not None and not check_csrf(await server_secret(request), session_id,
                                                     csrf_token):
            raise ForbiddenError("the logout form's csrf_token does not belong to this session")
        await run_in_threadpool(end_session, request.app.state.engine, session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=_secure(request))
    return response


@router.get("/me", response_model=KeyOut, responses=responses(401, 403, 422, 429))
def get_me(key: CurrentKey) -> JSONResponse:
    """Describe the key making the request: name, role, jurisdictions, expiry."""
    return JSONResponse(key.as_dict())
