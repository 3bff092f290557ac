"""Browser login (``/login``, ``/logout``) and ``/api/v1/me``.

The login page is one self-contained HTML form (no script, no external asset). Posting a key
sets a signed session cookie (HttpOnly, SameSite=Strict, Secure over https, Max-Age
``settings.api.session_minutes``) holding the key's id; the key is re-checked on every
request. A failed login is audited like any failed authentication.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api import audit
from api.auth import SESSION_COOKIE, AuthError, session_secret, sign_session, verify_token
from api.deps import CurrentKey, client_address, endpoint_label
from api.schemas import KeyOut, responses

__all__ = ["pages", "router"]

router = APIRouter(tags=["auth"])
pages = APIRouter(include_in_schema=False)

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
<button type="submit">登录 / Log in</button>
<p class="note">会话 {minutes} 分钟后过期。Session expires after {minutes} minutes.</p>
</form></body></html>
"""


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/docs"
    return target


def _page(request: Request, *, next_url: str, error: str | None = None,
          status: int = 200) -> HTMLResponse:
    minutes = request.app.state.settings.api.session_minutes
    err = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return HTMLResponse(_PAGE.format(error=err, next=html.escape(_safe_next(next_url)),
                                     minutes=minutes), status_code=status,
                        headers={"Cache-Control": "no-store"})


@pages.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """Show the login form."""
    return _page(request, next_url=next or "/docs")


@pages.post("/login")
async def login(request: Request, key: Annotated[str, Form(max_length=200)],
                next: Annotated[str, Form(max_length=2000)] = "/docs") -> Response:
    """Exchange a key for a session cookie and go on to ``next`` (a path on this site)."""
    state = request.app.state
    engine, settings = state.engine, state.settings
    client = client_address(request)
    try:
        found = await run_in_threadpool(verify_token, engine, key)
    except AuthError as exc:
        await run_in_threadpool(
            audit.record, engine, "auth_failed", endpoint=endpoint_label(request),
            params={"reason": exc.reason, "prefix": exc.prefix, "via": "login"}, status=401,
            client=client)
        state.limiter.check(f"ip:{client}")
        return _page(request, next_url=next, error=f"登录失败 / Login failed: {exc}",
                     status=401)
    state.limiter.check(f"key:{found.id}")
    secret: str | None = getattr(state, "session_secret", None)
    if secret is None:
        secret = await run_in_threadpool(session_secret, engine, settings.api.secret_key)
        state.session_secret = secret
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, sign_session(secret, found),
                        max_age=settings.api.session_minutes * 60, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@pages.post("/logout")
def logout(request: Request) -> Response:
    """End the browser session."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


@router.get("/me", response_model=KeyOut, responses=responses(401, 403, 422, 429))
def get_me(key: CurrentKey) -> JSONResponse:
    """Describe the key making the request: name, role, jurisdictions, expiry."""
    return JSONResponse(key.as_dict())
