"""Browser login (``/login``, ``/logout``) and ``/api/v1/me``.

The login page is one self-contained HTML form (no script, no external asset). ``GET /login``
sets a pre-session token (a ``pingan_login`` cookie and its signature in a hidden field, see
:mod:`api.sessions`); ``POST /login`` accepts a key only with a matching pair, then starts a new
server-side session (a fresh id at every login; the previous session of the browser ends) and
sets its id as a cookie (HttpOnly, SameSite=Strict, Secure over https, Max-Age
``settings.api.session_minutes``). ``POST /logout`` ends the session on the server. A failed
login is audited and limited like any failed authentication (:mod:`api.access`).
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api import audit
from api.access import limit_failures, limit_key, note_failure
from api.auth import SESSION_COOKIE, AuthError, session_secret, verify_token
from api.deps import CurrentKey
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

__all__ = ["pages", "router"]

router = APIRouter(tags=["auth"])
pages = APIRouter(include_in_schema=False)

#: Lifetime of a login form's pre-session token.
_LOGIN_TOKEN_S = 3600

_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pingan 平安 — 登录 / Log in</title>
<style>
body {{ font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; background: #f4f6f8;
       display: flex; min-height: 100vh; align-items: center; justify-content: center;
       margin: 0; }}
form {{ background: #fff; padding: 2rem; border-radius: 8px; width: 22rem;
        box-shadow: 0 2px 8px rgba(0,0,0,.1); }}
h1 {{ font-size: 1.3rem; margin: 0 0 1rem; }}
label {{ display: block; margin-bottom: .4rem; }}
input[type=password] {{ width: 100%; box-sizing: border-box; padding: .5rem;
                        font-family: monospace; }}
button {{ margin-top: 1rem; padding: .5rem 1.2rem; }}
.error {{ color: #b00020; margin: 0 0 1rem; }}
.note {{ color: #555; font-size: .85rem; margin-top: 1rem; }}
</style></head>
<body><form method="post" action="/login">
<h1>pingan 平安</h1>
{error}
<label for="key">API 密钥 / API key</label>
<input type="password" id="key" name="key" autocomplete="off" required placeholder="pa_…">
<input type="hidden" name="next" value="{next}">
<input type="hidden" name="{field}" value="{token}">
<button type="submit">登录 / Log in</button>
<p class="note">会话 {minutes} 分钟后过期。Session expires after {minutes} minutes.</p>
</form></body></html>
"""


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/docs"
    return target


async def _secret(request: Request) -> str:
    state = request.app.state
    secret: str | None = getattr(state, "session_secret", None)
    if secret is None:
        secret = await run_in_threadpool(session_secret, state.engine,
                                         state.settings.api.secret_key)
        state.session_secret = secret
    return secret


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def _page(request: Request, *, next_url: str, error: str | None = None,
                status: int = 200) -> HTMLResponse:
    """The login form, with a fresh pre-session token (cookie and hidden field)."""
    minutes = request.app.state.settings.api.session_minutes
    cookie, field = login_token(await _secret(request))
    err = f'<p class="error">{html.escape(error)}</p>' if error else ""
    response = HTMLResponse(_PAGE.format(error=err, next=html.escape(_safe_next(next_url)),
                                         minutes=minutes, field=LOGIN_FIELD, token=field),
                            status_code=status, headers={"Cache-Control": "no-store"})
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=_LOGIN_TOKEN_S, path="/login",
                        httponly=True, samesite="strict", secure=_secure(request))
    return response


@pages.get("/login")
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """Show the login form."""
    return await _page(request, next_url=next or "/docs")


@pages.post("/login")
async def login(request: Request, key: Annotated[str, Form(max_length=200)],
                next: Annotated[str, Form(max_length=2000)] = "/docs",
                login_token: Annotated[str | None, Form(max_length=200)] = None) -> Response:
    """Exchange a key for a session cookie and go on to ``next`` (a path on this site)."""
    state = request.app.state
    engine, settings = state.engine, state.settings
    if not check_login_token(await _secret(request), request.cookies.get(LOGIN_COOKIE),
                             login_token):
        return await _page(request, next_url=next, status=403,
                           error="登录表单已过期，请重试 / The login form has expired or did not "
                                 "come from this site; try again")
    await run_in_threadpool(limit_failures, request)
    try:
        found = await run_in_threadpool(verify_token, engine, key)
    except AuthError as exc:
        await run_in_threadpool(note_failure, request, exc, via="login")
        return await _page(request, next_url=next, error=f"登录失败 / Login failed: {exc}",
                           status=401)
    await run_in_threadpool(limit_key, request, found)
    session_id = await run_in_threadpool(
        start_session, engine, found, minutes=settings.api.session_minutes,
        client=audit.request_client(request), replaces=request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=settings.api.session_minutes * 60,
                        path="/", httponly=True, samesite="strict", secure=_secure(request))
    response.delete_cookie(LOGIN_COOKIE, path="/login", httponly=True, samesite="strict",
                           secure=_secure(request))
    return response


@pages.post("/logout")
async def logout(request: Request) -> Response:
    """End the browser session, on the server and in the browser."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        check_origin(request, request.app.state.settings.api.allowed_origins)
        await run_in_threadpool(end_session, request.app.state.engine, session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=_secure(request))
    return response


@router.get("/me", response_model=KeyOut, responses=responses(401, 403, 422, 429))
def get_me(key: CurrentKey) -> JSONResponse:
    """Describe the key making the request: name, role, jurisdictions, expiry."""
    return JSONResponse(key.as_dict())
