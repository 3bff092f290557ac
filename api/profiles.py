"""Stored safe-community profiles: the shipped default, uploaded versions, and the active one.

Administrators upload profiles (TOML text, validated by :func:`geo.profile.load_profile`);
each upload is stored with its name, version and ``version_key`` (the hash of its content,
formatting aside). A name and version is written once: uploading it again with the same
content changes nothing, with other content is a :class:`ProfileConflictError`. The *active*
profile, used by default to evaluate the standard, is the latest upload, else the shipped default
(:data:`geo.profile.DEFAULT_PROFILE_PATH`, listed as built-in).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.db import utcnow
from api.models import profiles
from geo.errors import NotFoundError, ParameterError, PinganError
from geo.profile import DEFAULT_PROFILE_PATH, Profile, load_profile

__all__ = ["ProfileConflictError", "StoredProfile", "active_profile", "builtin_profile",
           "get_profile", "list_profiles", "put_profile"]


class ProfileConflictError(PinganError, ValueError):
    """A profile name and version that is already stored with other content."""


@dataclass(frozen=True)
class StoredProfile:
    """A profile as pingan keeps it.

    Attributes
    ----------
    profile
        The validated profile.
    content
        The TOML text as uploaded.
    builtin
        Whether it is the shipped default.
    id
        Row id (``None`` for the built-in).
    created_at
        Upload instant (naive UTC; ``None`` for the built-in).
    created_by
        Name of the key that uploaded it.
    """

    profile: Profile
    content: str
    builtin: bool = False
    id: int | None = None
    created_at: dt.datetime | None = None
    created_by: str | None = None

    @property
    def name(self) -> str:
        """Profile name."""
        return self.profile.name

    @property
    def version(self) -> str:
        """Profile version."""
        return self.profile.version

    @property
    def version_key(self) -> str:
        """Content hash (see :attr:`geo.profile.Profile.version_key`)."""
        return self.profile.version_key

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (no content)."""
        return {"name": self.name, "version": self.version, "version_key": self.version_key,
                "effective_date": self.profile.effective_date.isoformat(),
                "criteria": len(self.profile.criteria), "builtin": self.builtin,
                "created_at": None if self.created_at is None
                else self.created_at.replace(microsecond=0).isoformat() + "Z",
                "created_by": self.created_by}


def builtin_profile() -> StoredProfile:
    """Return the shipped default profile."""
    text = DEFAULT_PROFILE_PATH.read_text(encoding="utf-8")
    return StoredProfile(load_profile(text), text, builtin=True)


def _as_datetime(v: Any) -> dt.datetime | None:
    if v is None or isinstance(v, dt.datetime):
        return v
    return dt.datetime.fromisoformat(str(v))


def _stored(row: Any) -> StoredProfile:
    m = row._mapping
    return StoredProfile(load_profile(m["content"]), m["content"], id=int(m["id"]),
                         created_at=_as_datetime(m["created_at"]), created_by=m["created_by"])


_COLUMNS = [profiles.c[c] for c in ("id", "name", "version", "content", "created_at",
                                    "created_by")]


def list_profiles(conn: sa.Connection) -> list[StoredProfile]:
    """List the built-in profile, then every upload in upload order."""
    rows = conn.execute(sa.select(*_COLUMNS).order_by(profiles.c.id)).all()
    return [builtin_profile(), *(_stored(r) for r in rows)]


def active_profile(conn: sa.Connection) -> StoredProfile:
    """Return the profile used by default: the latest upload, else the built-in."""
    row = conn.execute(sa.select(*_COLUMNS).order_by(profiles.c.id.desc()).limit(1)).first()
    return builtin_profile() if row is None else _stored(row)


def get_profile(conn: sa.Connection, name: str, version: str | None = None) -> StoredProfile:
    """Return a profile by name, at one version or its latest.

    Raises
    ------
    KeyError
        If no profile (version) has that name.
    """
    p = profiles.c
    q = sa.select(*_COLUMNS).where(p.name == name)
    if version is not None:
        q = q.where(p.version == version)
    row = conn.execute(q.order_by(p.id.desc()).limit(1)).first()
    if row is not None:
        return _stored(row)
    builtin = builtin_profile()
    if builtin.name == name and version in (None, builtin.version):
        return builtin
    what = f"profile {name!r}" + (f" version {version!r}" if version else "")
    raise NotFoundError(f"no {what}; GET /api/v1/profiles lists them", parameter="profile")


def put_profile(engine: Engine, text: str, *, name: str | None = None,
                created_by: str | None = None) -> tuple[StoredProfile, bool]:
    """Validate and store a profile version.

    Parameters
    ----------
    engine
        Database.
    text
        TOML text.
    name
        The name the caller addressed; the profile's own ``name`` must equal it.
    created_by
        Who uploads it.

    Returns
    -------
    tuple of (StoredProfile, bool)
        The stored profile and whether it was new (``False``: the same content was there).

    Raises
    ------
    geo.profile.ProfileError
        If the text is not a valid profile (every problem with its line).
    geo.errors.ParameterError
        If the profile's name differs from ``name``.
    ProfileConflictError
        If the name and version exist with other content.
    """
    profile = load_profile(text if ("\n" in text or "=" in text) else text + "\n")
    if name is not None and profile.name != name:
        raise ParameterError(f"the profile's name {profile.name!r} differs from the name in "
                             f"the address {name!r}", parameter="name")
    builtin = builtin_profile()
    if (builtin.name, builtin.version) == (profile.name, profile.version):
        if builtin.version_key == profile.version_key:
            return builtin, False
        raise ProfileConflictError(f"profile {profile.name!r} version {profile.version!r} is the "
                              f"built-in profile; give the changed profile a new version")
    p = profiles.c
    with engine.begin() as conn:
        row = conn.execute(sa.select(*_COLUMNS).where(
            p.name == profile.name, p.version == profile.version)).first()
        if row is not None:
            # Compare what the profiles mean (their version keys), not the stored hash column:
            # formatting and comments may differ, and other writers may hash the raw text.
            stored = _stored(row)
            if stored.version_key == profile.version_key:
                return stored, False
            raise ProfileConflictError(
                f"profile {profile.name!r} version {profile.version!r} is already stored with "
                f"other content (version key {stored.version_key}, this one "
                f"{profile.version_key}); give the changed profile a new version")
        try:
            pk = conn.execute(profiles.insert().values(
                name=profile.name, version=profile.version, content=text,
                content_hash=profile.version_key, created_at=utcnow(),
                created_by=created_by)).inserted_primary_key
        except sa.exc.IntegrityError:
            raise ProfileConflictError(
                f"profile {profile.name!r} version {profile.version!r} was stored by another "
                f"request at the same time; read it and retry") from None
        assert pk is not None
        new_id = pk[0]
        new_row = conn.execute(sa.select(*_COLUMNS).where(p.id == new_id)).one()
    return _stored(new_row), True
