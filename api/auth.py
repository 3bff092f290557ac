"""API keys: create, list, revoke and verify them.

A key is the token ``pa_<prefix>_<secret>``: ``prefix`` is 8 random hex digits stored in clear
(unique, to find the row), ``secret`` 43 URL-safe random characters (256 bits). Only the SHA-256
of the whole token is stored, and it is compared in constant time. A slow password hash (bcrypt,
argon2) protects low-entropy secrets against guessing; a 256-bit random secret cannot be
guessed, so a fast hash loses nothing and keeps every request cheap. The token is shown once,
when it is created.

Roles (DESIGN.md, docs/release.md): ``admin`` (everything), ``liaison`` (raw incidents and
every statistic of their jurisdiction — district or subdistrict codes — only), ``planner`` and
``client`` (released aggregates only).

Verification does the same work for every well-formed token: one lookup by prefix, one
SHA-256 and one constant-time comparison (against a dummy hash when the prefix is unknown), so
neither the answer's timing nor its path tells whether a prefix exists.

Browsers exchange a key for a server-side session (:mod:`api.sessions`); revoking a key ends
its sessions. The server secret (:func:`session_secret`) is ``settings.api.secret_key`` or,
when that is unset, a random secret generated once and kept in the ``meta`` table so that every
worker process agrees on it; it signs the login form's pre-session token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.db import get_meta, set_meta, utcnow
from api.models import api_keys, communities, sessions
from geo.errors import NotFoundError, ParameterError

__all__ = [
    "KEY_COLUMNS",
    "RAW_ROLES",
    "ROLES",
    "SESSION_COOKIE",
    "ApiKey",
    "AuthError",
    "CreatedKey",
    "Role",
    "check_active",
    "create_key",
    "get_key",
    "key_from_row",
    "list_keys",
    "record_use",
    "revoke_key",
    "session_secret",
    "verify_token",
]

Role = Literal["admin", "liaison", "planner", "client"]
ROLES: tuple[Role, ...] = ("admin", "liaison", "planner", "client")
#: Roles that may read raw incidents (a liaison only inside their jurisdiction).
RAW_ROLES: tuple[Role, ...] = ("admin", "liaison")
SESSION_COOKIE = "pingan_session"

_TOKEN = re.compile(r"^pa_([0-9a-f]{8})_([A-Za-z0-9_\-]{20,})$")
_LAST_USED_EVERY = dt.timedelta(minutes=1)
_SECRET_META_KEY = "session_secret"
_DUMMY_HASH = "0" * 64


class AuthError(Exception):
    """A token or session that does not authenticate.

    Attributes
    ----------
    reason
        ``missing``, ``malformed``, ``unknown``, ``revoked``, ``expired`` or ``session``.
    prefix
        The key prefix when the token could be parsed (never the secret).
    """

    def __init__(self, reason: str, message: str, *, prefix: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.prefix = prefix


@dataclass(frozen=True)
class ApiKey:
    """A stored API key (without its secret).

    Attributes
    ----------
    id
        Row id.
    name
        Who or what it is for.
    role
        ``admin``, ``liaison``, ``planner`` or ``client``.
    prefix
        The public part of the token, for finding it in lists and logs.
    jurisdictions
        District or subdistrict codes of a liaison key (empty for other roles).
    created_at, expires_at, revoked_at, last_used_at
        Naive UTC instants (``None`` when not set).
    """

    id: int
    name: str
    role: Role
    prefix: str
    jurisdictions: tuple[str, ...]
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None

    @property
    def raw_access(self) -> bool:
        """Whether the role may read raw incidents at all."""
        return self.role in RAW_ROLES

    @property
    def restricted(self) -> bool:
        """Whether raw reads are limited to :attr:`jurisdictions` (liaison keys)."""
        return self.role == "liaison"

    def status(self, now: dt.datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired`` at ``now`` (naive UTC)."""
        now = now or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (instants ISO 8601 UTC with ``Z``)."""

        def iso(v: dt.datetime | None) -> str | None:
            return None if v is None else v.replace(microsecond=0).isoformat() + "Z"

        return {"id": self.id, "name": self.name, "role": self.role, "prefix": self.prefix,
                "jurisdictions": list(self.jurisdictions), "status": self.status(),
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "revoked_at": iso(self.revoked_at), "last_used_at": iso(self.last_used_at)}


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its token (the only time the token is available).

    Attributes
    ----------
    key
        The stored key.
    token
        The secret token to hand to its user.
    """

    key: ApiKey
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _as_datetime(v: Any) -> dt.datetime | None:
    if v is None or isinstance(v, dt.datetime):
        return v
    return dt.datetime.fromisoformat(str(v))


def key_from_row(row: Any) -> ApiKey:
    """Build an :class:`ApiKey` from a row holding the :data:`KEY_COLUMNS`."""
    m = row._mapping
    return ApiKey(id=int(m["id"]), name=m["name"], role=cast(Role, m["role"]),
                  prefix=m["prefix"], jurisdictions=tuple(json.loads(m["jurisdictions"] or "[]")),
                  created_at=cast(dt.datetime, _as_datetime(m["created_at"])),
                  expires_at=_as_datetime(m["expires_at"]),
                  revoked_at=_as_datetime(m["revoked_at"]),
                  last_used_at=_as_datetime(m["last_used_at"]))


#: The columns of a key that :func:`key_from_row` reads (never the hash).
KEY_COLUMNS = [api_keys.c[c] for c in ("id", "name", "role", "prefix", "jurisdictions",
                                        "created_at", "expires_at", "revoked_at",
                                        "last_used_at")]


def _known_jurisdictions(conn: sa.Connection) -> set[str] | None:
    """District and subdistrict codes of the current communities; None when none are loaded."""
    c = communities.c
    rows = conn.execute(sa.select(c.district_code, c.subdistrict_code)
                        .where(c.retired_on.is_(None))).all()
    if not rows:
        return None
    return {v for r in rows for v in r if v is not None}


def create_key(engine: Engine, *, name: str, role: str, jurisdictions: Sequence[str] = (),
               expires_in_days: float | None = None, now: dt.datetime | None = None
               ) -> CreatedKey:
    """Create a key and return it with its token.

    Parameters
    ----------
    engine
        Database.
    name
        Who or what the key is for (not empty).
    role
        ``admin``, ``liaison``, ``planner`` or ``client``.
    jurisdictions
        District or subdistrict codes; required for ``liaison`` and refused for other roles.
        When communities are loaded, every code must be one of their district or subdistrict
        codes.
    expires_in_days
        Lifetime in days (> 0); ``None`` for a key that does not expire.
    now
        Creation instant (naive UTC; default now).

    Returns
    -------
    CreatedKey

    Raises
    ------
    geo.errors.ParameterError
        If the name is empty, the role unknown, the jurisdictions missing or unexpected, or
        the lifetime not positive.
    geo.errors.NotFoundError
        If a jurisdiction code is not one of the loaded communities' districts/subdistricts.
    """
    name, codes = _checked_key_request(name, role, jurisdictions, expires_in_days)
    now = now or utcnow()
    expires = None if expires_in_days is None else now + dt.timedelta(days=expires_in_days)
    with engine.begin() as conn:
        known = _known_jurisdictions(conn)
        unknown = [c for c in codes if known is not None and c not in known]
        if unknown:
            raise NotFoundError(f"unknown jurisdiction codes {unknown}: not a district or "
                                f"subdistrict code of the loaded communities; known codes: "
                                f"{', '.join(sorted(known or ()))}", parameter="jurisdictions")
        prefix = _free_prefix(conn)
        token = f"pa_{prefix}_{secrets.token_urlsafe(32)}"
        pk = conn.execute(api_keys.insert().values(
            name=name, role=role, prefix=prefix, key_hash=_hash(token),
            jurisdictions=json.dumps(list(codes), ensure_ascii=False), created_at=now,
            expires_at=expires)).inserted_primary_key
        assert pk is not None
        key_id = pk[0]
        row = conn.execute(sa.select(*KEY_COLUMNS).where(api_keys.c.id == key_id)).one()
    return CreatedKey(key_from_row(row), token)


def _checked_key_request(name: str, role: str, jurisdictions: Sequence[str],
                         expires_in_days: float | None) -> tuple[str, tuple[str, ...]]:
    """The key's name and jurisdiction codes, after checking what :func:`create_key` takes."""
    name = name.strip()
    if not name:
        raise ParameterError("name must not be empty", parameter="name")
    if role not in ROLES:
        raise ParameterError(f"role must be one of {', '.join(ROLES)}; got {role!r}",
                             parameter="role")
    codes = tuple(dict.fromkeys(c.strip() for c in jurisdictions if c.strip()))
    if role == "liaison" and not codes:
        raise ParameterError("a liaison key needs at least one --jurisdiction (a district or "
                             "subdistrict code)", parameter="jurisdictions")
    if role != "liaison" and codes:
        raise ParameterError(f"jurisdictions apply to liaison keys only; got {list(codes)} "
                             f"for role {role!r}", parameter="jurisdictions")
    if expires_in_days is not None and not expires_in_days > 0:
        raise ParameterError(f"expires_in_days must be > 0; got {expires_in_days}",
                             parameter="expires_in_days")
    return name, codes


def _free_prefix(conn: sa.Connection) -> str:
    """A key prefix no stored key has."""
    for _ in range(5):
        prefix = secrets.token_hex(4)
        taken = conn.execute(sa.select(api_keys.c.id).where(api_keys.c.prefix == prefix))
        if taken.first() is None:
            return prefix
    raise RuntimeError("could not draw a free key prefix")  # pragma: no cover - 5 in 2**32


def list_keys(engine: Engine, *, include_inactive: bool = True) -> list[ApiKey]:
    """Every key, by id (revoked and expired ones too unless ``include_inactive`` is false)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*KEY_COLUMNS).order_by(api_keys.c.id)).all()
    keys = [key_from_row(r) for r in rows]
    if not include_inactive:
        now = utcnow()
        keys = [k for k in keys if k.status(now) == "active"]
    return keys


def get_key(conn: sa.Connection, key_id: int) -> ApiKey:
    """Return the key with id ``key_id``.

    Raises
    ------
    KeyError
        If there is none.
    """
    row = conn.execute(sa.select(*KEY_COLUMNS).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise KeyError(f"no API key with id {key_id}")
    return key_from_row(row)


def revoke_key(engine: Engine, ident: str | int, *, now: dt.datetime | None = None) -> ApiKey:
    """Revoke a key by id or prefix; revoking a revoked key changes nothing.

    Parameters
    ----------
    engine
        Database.
    ident
        The key's id, its prefix, or a whole token.
    now
        Revocation instant (naive UTC; default now).

    Returns
    -------
    ApiKey
        The key as stored after revocation.

    Raises
    ------
    KeyError
        If no key has that id or prefix.
    ValueError
        If ``ident`` is the id of one key and the prefix of another.
    """
    text = str(ident).strip()
    m = _TOKEN.match(text)
    if m:
        text = m[1]
    # An 8-digit text may be a prefix (hex digits can all be decimal) or an id.
    conditions = [api_keys.c.prefix == text]
    if text.isdigit() and len(text) <= 9:
        conditions.append(api_keys.c.id == int(text))
    with engine.begin() as conn:
        rows = conn.execute(sa.select(*KEY_COLUMNS).where(sa.or_(*conditions))).all()
        if not rows:
            raise KeyError(f"no API key with id or prefix {text!r}")
        if len(rows) > 1:
            raise ValueError(f"{text!r} is both a key id and another key's prefix; give the "
                             f"whole token or the other form")
        key = key_from_row(rows[0])
        when = now or utcnow()
        if key.revoked_at is None:
            conn.execute(api_keys.update().where(api_keys.c.id == key.id)
                         .values(revoked_at=when))
        conn.execute(sessions.update()
                     .where(sessions.c.key_id == key.id, sessions.c.ended_at.is_(None))
                     .values(ended_at=when, end_reason="revoked"))
        return get_key(conn, key.id)


def check_active(key: ApiKey, now: dt.datetime) -> ApiKey:
    """Return ``key`` if it is active at ``now``.

    Raises
    ------
    AuthError
        With reason ``revoked`` or ``expired``.
    """
    status = key.status(now)
    if status == "revoked":
        raise AuthError("revoked", "the API key has been revoked", prefix=key.prefix)
    if status == "expired":
        raise AuthError("expired", "the API key has expired", prefix=key.prefix)
    return key


def record_use(engine: Engine, key: ApiKey, now: dt.datetime) -> None:
    """Record use, at most once a minute per key (a write per request would serialise SQLite)."""
    if key.last_used_at is not None and now - key.last_used_at < _LAST_USED_EVERY:
        return
    with engine.begin() as conn:
        conn.execute(api_keys.update().where(api_keys.c.id == key.id)
                     .values(last_used_at=now))


def verify_token(engine: Engine, token: str, *, now: dt.datetime | None = None) -> ApiKey:
    """Return the active key a token belongs to.

    Parameters
    ----------
    engine
        Database.
    token
        ``pa_<prefix>_<secret>``.
    now
        The instant to check expiry at (naive UTC; default now).

    Returns
    -------
    ApiKey

    Raises
    ------
    AuthError
        If the token is malformed, unknown (or its secret wrong), revoked or expired.
    """
    now = now or utcnow()
    m = _TOKEN.match(token.strip())
    if not m:
        raise AuthError("malformed", "the API key is malformed; expected pa_<prefix>_<secret>")
    prefix = m[1]
    with engine.connect() as conn:
        row = conn.execute(sa.select(*KEY_COLUMNS, api_keys.c.key_hash)
                           .where(api_keys.c.prefix == prefix)).first()
    # The same work whether the prefix exists or not: hash the token and compare it in
    # constant time, against a dummy hash when there is no row.
    stored = row._mapping["key_hash"] if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(stored, _hash(token.strip()))
    if row is None or not matches:
        raise AuthError("unknown", "the API key is not valid", prefix=prefix)
    key = check_active(key_from_row(row), now)
    record_use(engine, key, now)
    return key


def session_secret(engine: Engine, configured: str | None) -> str:
    """Return the server's secret (it signs the login form's pre-session token).

    Parameters
    ----------
    engine
        Database (holds the generated secret).
    configured
        ``settings.api.secret_key``; used as it is when set.

    Returns
    -------
    str
    """
    if configured:
        return configured
    with engine.connect() as conn:
        stored = get_meta(conn, _SECRET_META_KEY)
    if stored:
        return stored
    try:
        with engine.begin() as conn:
            if get_meta(conn, _SECRET_META_KEY) is None:
                set_meta(conn, _SECRET_META_KEY, secrets.token_urlsafe(48))
    except sa.exc.IntegrityError:
        pass  # another worker stored one first: use theirs
    with engine.connect() as conn:
        return str(get_meta(conn, _SECRET_META_KEY))
