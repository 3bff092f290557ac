"""Who is calling: authenticate a request, limit failed attempts, audit what was refused.

:func:`authenticate` is the body of the ``CurrentKey`` dependency. A request carries a bearer
token (API clients) or a session cookie (browsers, :mod:`api.sessions`). Around the check:

- **Failed authentications** (no credential, a malformed, unknown, revoked or expired key, a
  dead session) are audited (``auth_failed`` with the reason and, when the token could be
  parsed, the key's public prefix) and count against a second, stricter limiter,
  ``settings.api.auth_failures_per_minute`` per client address and per key prefix. An address
  that has used up its failures is refused (429) before its next attempt is looked at; a prefix
  that has is refused for further *failures*, while the right token still works, so nobody can
  lock a key out by guessing at its public prefix.
- **Normal use** is limited per key (``settings.api.rate_limit_per_minute``).
- **Refused requests** (429) are audited as ``rate_limited``, one row per identity and window
  with a count (:class:`api.audit.RepeatedEvents`).
- **Cross-site requests**: a cookie-authenticated POST, PUT, PATCH or DELETE must carry an
  ``Origin`` (or ``Referer``) of this site or of ``settings.api.allowed_origins``
  (:func:`api.security.check_origin`) and the session's CSRF token in the ``X-CSRF-Token``
  header (:func:`api.web.csrf_token`; pages hold it in ``<meta name="csrf-token">``): the
  origin check alone trusts every browser and proxy to send honest headers, the token is what
  only pingan's own pages know. A bearer token is not sent by browsers on their own, so it
  needs neither.
"""

from __future__ import annotations

from fastapi import Request

from api import audit
from api.auth import ApiKey, AuthError, verify_token
from api.errors import ForbiddenError, NotAuthenticatedError, RateLimitedError
from api.security import UNSAFE_METHODS, check_origin
from api.sessions import read_session
from api.web import CSRF_HEADER, app_secret, check_csrf

__all__ = ["authenticate", "limit_failures", "limit_key", "note_failure"]

_MISSING = ("an API key is required: send 'Authorization: Bearer pa_…', or log in at /login")


def _refuse(request: Request, identity: str, exc: RateLimitedError, *, key: ApiKey | None = None,
            reason: str | None = None) -> RateLimitedError:
    """Audit a refused request in its identity's window and return the error to raise."""
    state = request.app.state
    state.audit_repeats.record(
        state.engine, identity, key=key, endpoint=audit.request_endpoint(request),
        client=audit.request_client(request),
        params=None if reason is None else {"reason": reason})
    return exc


def limit_failures(request: Request) -> None:
    """Refuse a client address that has used up its failed authentications.

    Raises
    ------
    api.errors.RateLimitedError
        With the wait until its next attempt.
    """
    identity = f"ip:{audit.request_client(request)}"
    try:
        request.app.state.failure_limiter.ensure_available(identity)
    except RateLimitedError as exc:
        raise _refuse(request, identity, exc, reason="failures") from None


def limit_key(request: Request, key: ApiKey) -> None:
    """Take one request from ``key``'s allowance.

    Raises
    ------
    api.errors.RateLimitedError
        When the key has used up its requests (audited in its ``rate_limited`` window).
    """
    identity = f"key:{key.id}"
    try:
        request.app.state.limiter.check(identity)
    except RateLimitedError as exc:
        raise _refuse(request, identity, exc, key=key) from None


def note_failure(request: Request, exc: AuthError, *, via: str, status: int = 401) -> None:
    """Count and audit one failed authentication.

    Parameters
    ----------
    request
        The request.
    exc
        What failed (its reason and the key prefix, never the secret).
    via
        ``bearer``, ``cookie``, ``login`` or ``none``.
    status
        The status the request is answered with.

    Raises
    ------
    api.errors.RateLimitedError
        When the client address or the key prefix has used up its failed attempts (the
        attempt is then audited in the ``rate_limited`` window instead).
    """
    state = request.app.state
    identities = [f"ip:{audit.request_client(request)}"]
    if exc.prefix:
        identities.append(f"prefix:{exc.prefix}")
    for identity in identities:
        try:
            state.failure_limiter.check(identity)
        except RateLimitedError as limited:
            raise _refuse(request, identity, limited, reason=exc.reason) from None
    audit.record(state.engine, "auth_failed", endpoint=audit.request_endpoint(request),
                 params={"reason": exc.reason, "prefix": exc.prefix, "via": via},
                 status=status, client=audit.request_client(request))


def _check_cookie_write(request: Request, key: ApiKey, session_id: str) -> None:
    if request.method.upper() not in UNSAFE_METHODS:
        return
    state = request.app.state
    try:
        check_origin(request, state.settings.api.allowed_origins)
    except ForbiddenError:
        audit.record(state.engine, "auth_failed", key=key,
                     endpoint=audit.request_endpoint(request),
                     params={"reason": "origin", "prefix": key.prefix, "via": "cookie",
                             "origin": request.headers.get("origin"),
                             "referer": request.headers.get("referer")},
                     status=403, client=audit.request_client(request))
        raise
    if not check_csrf(app_secret(state), session_id, request.headers.get(CSRF_HEADER)):
        audit.record(state.engine, "auth_failed", key=key,
                     endpoint=audit.request_endpoint(request),
                     params={"reason": "csrf", "prefix": key.prefix, "via": "cookie",
                             "sent": CSRF_HEADER.lower() in request.headers},
                     status=403, client=audit.request_client(request))
        raise ForbiddenError(f"a browser-session request that changes data must carry the "
                             f"session's CSRF token in the {CSRF_HEADER} header (the page's "
                             f"<meta name=\"csrf-token\">); it was "
                             f"{'wrong' if CSRF_HEADER.lower() in request.headers else 'missing'}")


def authenticate(request: Request, *, bearer: str | None, cookie: str | None) -> ApiKey:
    """Return the key a request authenticates as (see the module docstring).

    Parameters
    ----------
    request
        The request (its app's state holds the engine, settings and limiters).
    bearer
        The bearer token, if the request sent one (it wins over a cookie).
    cookie
        The session cookie, if any.

    Returns
    -------
    ApiKey
        Also stored as ``request.state.key``.

    Raises
    ------
    api.errors.NotAuthenticatedError
        Without credentials, or with credentials that do not authenticate.
    api.errors.ForbiddenError
        A cookie-authenticated change from another site, or without the session's CSRF token.
    api.errors.RateLimitedError
        When the key, the client address or the key prefix has used up its requests.
    """
    state = request.app.state
    engine = state.engine
    limit_failures(request)
    via = "bearer" if bearer is not None else "cookie" if cookie else "none"
    try:
        if bearer is not None:
            key = verify_token(engine, bearer)
        elif cookie:
            key = read_session(engine, cookie)
        else:
            raise AuthError("missing", _MISSING)
    except AuthError as exc:
        note_failure(request, exc, via=via)
        raise NotAuthenticatedError(str(exc)) from None
    if via == "cookie" and cookie:
        _check_cookie_write(request, key, cookie)
    limit_key(request, key)
    request.state.key = key
    return key
