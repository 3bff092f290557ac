"""Browser sessions, kept on the server: start at login, end at logout, revocation or key change.

A session id is 256 random bits (``secrets.token_urlsafe(32)``) sent as the ``pingan_session``
cookie; the ``sessions`` table keeps only its SHA-256, the key it belongs to, when it started
and expires, and a fingerprint of the key's role and jurisdictions at login. Every request
reads the row and the key, so a session ends at once when:

- its user logs out (``POST /logout`` marks the row ended);
- its key is revoked (:func:`api.auth.revoke_key` ends every session of the key) or expires;
- the key's role or jurisdictions change in any way (the fingerprint no longer matches);
- it reaches ``settings.api.session_minutes`` after login.

Each login draws a new id and ends the session the browser had before (rotation), so an id
planted in a browser before login is never adopted.

The login form carries a pre-session token against login CSRF (a site making a browser log in
with the attacker's key): ``GET /login`` sets a random ``pingan_login`` cookie and puts its HMAC
under the server secret in a hidden field; ``POST /login`` accepts only a matching pair
(:func:`login_token`, :func:`check_login_token`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.auth import (
    KEY_COLUMNS,
    ApiKey,
    AuthError,
    check_active,
    key_from_row,
    record_use,
)
from api.db import utcnow
from api.models import api_keys, sessions

__all__ = [
    "LOGIN_COOKIE",
    "LOGIN_FIELD",
    "check_login_token",
    "end_session",
    "key_fingerprint",
    "login_token",
    "read_session",
    "start_session",
]

#: Cookie of the login form's pre-session token, and the form field holding its signature.
LOGIN_COOKIE = "pingan_login"
LOGIN_FIELD = "login_token"

_SESSION_ID = re.compile(r"^[A-Za-z0-9_\-]{40,64}$")
#: Ended and expired sessions are deleted this long after they ended, at the next login.
_KEEP_ENDED = dt.timedelta(days=30)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def key_fingerprint(key: ApiKey) -> str:
    """SHA-256 of a key's role and jurisdictions: what a session may see, fixed at login."""
    text = json.dumps({"role": key.role, "jurisdictions": sorted(key.jurisdictions)},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def start_session(engine: Engine, key: ApiKey, *, minutes: int, client: str | None = None,
                  replaces: str | None = None, now: dt.datetime | None = None) -> str:
    """Start a session of ``key`` and return its id (the cookie value).

    Parameters
    ----------
    engine
        Database.
    key
        The key that logged in (already verified).
    minutes
        Lifetime.
    client
        Client address, for the record.
    replaces
        The session id the browser had before: it ends (``rotated``).
    now
        Login instant (naive UTC; default now).

    Returns
    -------
    str
    """
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    c = sessions.c
    with engine.begin() as conn:
        if replaces and _SESSION_ID.match(replaces):
            conn.execute(sessions.update()
                         .where(c.id_hash == _hash(replaces), c.ended_at.is_(None))
                         .values(ended_at=now, end_reason="rotated"))
        old = now - _KEEP_ENDED
        conn.execute(sessions.delete().where(sa.or_(c.expires_at < old, c.ended_at < old)))
        conn.execute(sessions.insert().values(
            id_hash=_hash(session_id), key_id=key.id, fingerprint=key_fingerprint(key),
            created_at=now, expires_at=now + dt.timedelta(minutes=minutes), client=client))
    return session_id


def _end(engine: Engine, id_hash: str, reason: str, now: dt.datetime) -> bool:
    with engine.begin() as conn:
        done = conn.execute(sessions.update()
                            .where(sessions.c.id_hash == id_hash,
                                   sessions.c.ended_at.is_(None))
                            .values(ended_at=now, end_reason=reason))
    return bool(done.rowcount)


def end_session(engine: Engine, session_id: str, *, reason: str = "logout",
                now: dt.datetime | None = None) -> bool:
    """End a session; return whether an active one was ended.

    Parameters
    ----------
    engine
        Database.
    session_id
        The cookie value.
    reason
        Why (``logout``, ``rotated``…), kept with the row.
    now
        Instant (naive UTC; default now).
    """
    if not _SESSION_ID.match(session_id):
        return False
    return _end(engine, _hash(session_id), reason, now or utcnow())


def read_session(engine: Engine, session_id: str, *, now: dt.datetime | None = None) -> ApiKey:
    """Return the active key of a session.

    Parameters
    ----------
    engine
        Database.
    session_id
        The cookie value.
    now
        Instant (naive UTC; default now).

    Returns
    -------
    ApiKey

    Raises
    ------
    api.auth.AuthError
        If the session is unknown, ended or expired (reason ``session``), its key revoked or
        expired (``revoked``, ``expired``; the session ends), or the key's role or
        jurisdictions changed since login (``session``; the session ends).
    """
    now = now or utcnow()
    if not _SESSION_ID.match(session_id):
        raise AuthError("session", "the session cookie is not valid; log in again")
    id_hash = _hash(session_id)
    c = sessions.c
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(c.fingerprint, c.expires_at, c.ended_at, *KEY_COLUMNS)
            .select_from(sessions.join(api_keys, api_keys.c.id == c.key_id))
            .where(c.id_hash == id_hash)).first()
    if row is None:
        raise AuthError("session", "the session is not valid; log in again")
    if row.ended_at is not None:
        raise AuthError("session", "the session has ended; log in again")
    if row.expires_at <= now:
        raise AuthError("session", "the session has expired; log in again")
    key = key_from_row(row)
    try:
        check_active(key, now)
    except AuthError as exc:
        _end(engine, id_hash, exc.reason, now)
        raise
    if not hmac.compare_digest(row.fingerprint, key_fingerprint(key)):
        _end(engine, id_hash, "changed", now)
        raise AuthError("session", "the key's role or jurisdiction has changed since this "
                                   "session began; log in again", prefix=key.prefix)
    record_use(engine, key, now)
    return key


def _sign(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode("utf-8"), f"pingan-login:{nonce}".encode("ascii"),
                    hashlib.sha256).hexdigest()


def login_token(secret: str) -> tuple[str, str]:
    """Draw a pre-session token for the login form.

    Parameters
    ----------
    secret
        The server secret (:func:`api.auth.session_secret`).

    Returns
    -------
    tuple of str
        The ``pingan_login`` cookie value and the form field's value.
    """
    nonce = secrets.token_urlsafe(24)
    return nonce, _sign(secret, nonce)


def check_login_token(secret: str, cookie: str | None, field: str | None) -> bool:
    """Whether a login form's field matches its pre-session cookie (see :func:`login_token`)."""
    if not cookie or not field or not re.fullmatch(r"[A-Za-z0-9_\-]{16,64}", cookie):
        return False
    return hmac.compare_digest(_sign(secret, cookie), field)
