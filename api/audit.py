"""The audit log: who read raw incidents, who changed what, and which authentications failed.

Rows are written in their own short transaction, so a failed request (a refused key, a load that
rolled back) still leaves its row. Parameters are stored as JSON text; a token's secret is never
stored, only its public prefix.

Actions written by pingan: ``read_incidents`` (every response holding raw incidents),
``load`` (uploads), ``key_create``, ``key_revoke``, ``profile_put``, ``auth_failed``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.db import utcnow
from api.models import audit_log

__all__ = ["ACTIONS", "AUDIT_COLUMNS", "count_audit", "read_audit", "record"]

ACTIONS = ("read_incidents", "load", "key_create", "key_revoke", "profile_put", "auth_failed")
AUDIT_COLUMNS = ["id", "at", "key_id", "key_name", "role", "action", "endpoint", "params",
                 "rows", "status", "client"]


def record(engine: Engine, action: str, *, key: Any = None, endpoint: str | None = None,
           params: Mapping[str, Any] | None = None, rows: int | None = None,
           status: int | None = None, client: str | None = None,
           key_name: str | None = None, at: dt.datetime | None = None) -> None:
    """Write one audit row.

    Parameters
    ----------
    engine
        Database.
    action
        What happened (see :data:`ACTIONS`).
    key
        The :class:`api.auth.ApiKey` that acted, if any.
    endpoint
        ``METHOD /path`` or ``cli: pingan …``.
    params
        Request parameters (JSON-serialisable; others are written as text).
    rows
        Rows returned or written.
    status
        HTTP status (or 0 for a CLI action that succeeded).
    client
        Client address.
    key_name
        Name to record when there is no key (for example ``cli:alice``).
    at
        Instant (naive UTC; default now).
    """
    values = {
        "at": at or utcnow(), "action": action, "endpoint": endpoint,
        "params": None if params is None else json.dumps(dict(params), ensure_ascii=False,
                                                          default=str, sort_keys=True),
        "rows": rows, "status": status, "client": client,
        "key_id": getattr(key, "id", None),
        "key_name": getattr(key, "name", None) or key_name,
        "role": getattr(key, "role", None),
    }
    with engine.begin() as conn:
        conn.execute(audit_log.insert().values(**values))


def record_key_change(engine: Engine, action: str, key: Any, *, by: str,
                      endpoint: str) -> None:
    """Audit the creation (``key_create``) or revocation (``key_revoke``) of an API key.

    Parameters
    ----------
    engine
        Database.
    action
        ``key_create`` or ``key_revoke``.
    key
        The :class:`api.auth.ApiKey` created or revoked (it is the subject, not the actor).
    by
        Who did it (an operator name such as ``cli:alice``).
    endpoint
        The command, e.g. ``cli: pingan keys create``.
    """
    if action not in ("key_create", "key_revoke"):
        raise ValueError(f"action must be key_create or key_revoke; got {action!r}")
    d = key.as_dict()
    params = {"key_id": d["id"], "name": d["name"], "prefix": d["prefix"]}
    if action == "key_create":
        params.update(role=d["role"], jurisdictions=d["jurisdictions"],
                      expires_at=d["expires_at"])
    record(engine, action, key_name=by, endpoint=endpoint, params=params, status=0)


def _where(action: str | None, key_id: int | None, since: dt.datetime | None,
           until: dt.datetime | None) -> list[Any]:
    a = audit_log.c
    out: list[Any] = []
    if action is not None:
        out.append(a.action == action)
    if key_id is not None:
        out.append(a.key_id == key_id)
    if since is not None:
        out.append(a.at >= since)
    if until is not None:
        out.append(a.at < until)
    return out


def read_audit(conn: sa.Connection, *, action: str | None = None, key_id: int | None = None,
               since: dt.datetime | None = None, until: dt.datetime | None = None,
               limit: int | None = 100, offset: int = 0) -> pd.DataFrame:
    """Audit rows, newest first.

    Parameters
    ----------
    conn
        Connection.
    action
        Only this action.
    key_id
        Only this key.
    since, until
        Only rows at or after ``since`` and before ``until`` (naive UTC).
    limit, offset
        Page.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`AUDIT_COLUMNS`; ``params`` decoded to a dict.
    """
    a = audit_log.c
    q = (sa.select(*[a[c] for c in AUDIT_COLUMNS])
         .where(*_where(action, key_id, since, until))
         .order_by(a.id.desc()).offset(offset))
    if limit is not None:
        q = q.limit(limit)
    frame = pd.DataFrame(conn.execute(q).all(), columns=AUDIT_COLUMNS)
    frame["params"] = [None if p is None else json.loads(p) for p in frame["params"]]
    frame["at"] = [None if v is None else (pd.Timestamp(v).isoformat() + "Z")
                   for v in frame["at"]]
    for c in ("key_id", "rows", "status"):
        frame[c] = frame[c].astype("Int64")
    return frame


def count_audit(conn: sa.Connection, *, action: str | None = None, key_id: int | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None) -> int:
    """Count the audit rows matching the filters of :func:`read_audit`."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                            .where(*_where(action, key_id, since, until))).scalar_one())
