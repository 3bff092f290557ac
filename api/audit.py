"""The audit log: who read raw incidents, who changed what, and which authentications failed.

Rows are written in their own short transaction, so a failed request (a refused key, a load that
rolled back) still leaves its row. Parameters are stored as JSON text, redacted and capped
(:func:`redact_params`): a value named like a secret, or shaped like a pingan token, is never
stored; a token's public prefix is.

Actions written by pingan: ``read_incidents`` (every response holding raw incidents, with the
rows it released: :func:`record_request`), ``load`` (uploads), ``key_create``, ``key_revoke``,
``profile_put``, ``auth_failed`` (reason ``missing``, ``malformed``, ``unknown``, ``revoked``,
``expired``, ``session``, ``origin``) and ``rate_limited``: the requests one client address,
key or key prefix made while its limit was used up, one row per window with their ``count``
(:class:`RepeatedEvents`), so a flood of refused requests cannot flood the log.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.db import utcnow
from api.models import audit_log

__all__ = [
    "ACTIONS",
    "AUDIT_COLUMNS",
    "MAX_PARAMS",
    "MAX_PARAM_CHARS",
    "RepeatedEvents",
    "count_audit",
    "read_audit",
    "record",
    "record_request",
    "redact_params",
    "request_client",
    "request_endpoint",
]

ACTIONS = ("read_incidents", "load", "key_create", "key_revoke", "profile_put", "auth_failed",
           "rate_limited", "site_plan")
AUDIT_COLUMNS = ["id", "at", "key_id", "key_name", "role", "action", "endpoint", "params",
                 "rows", "status", "client", "count"]
#: Parameters stored per row at most (the rest are counted in ``_dropped``).
MAX_PARAMS = 40
#: Characters stored per parameter value at most (longer text ends with ``…``).
MAX_PARAM_CHARS = 300
_MAX_ITEMS = 20  # list items per value
_REDACTED = "[redacted]"
_SECRET_WORDS = frozenset({"secret", "secrets", "password", "passwd", "pwd", "passphrase",
                           "token", "tokens", "apikey", "authorization", "auth", "cookie",
                           "credential", "credentials", "session", "signature"})
_TOKEN_SHAPE = re.compile(r"pa_[0-9a-fA-F]{8}_[A-Za-z0-9_\-]{8,}")


def _secret_name(name: str) -> bool:
    """Whether a parameter's name says its value is a secret (``api_key``, ``password``…)."""
    low = name.strip().lower()
    words = set(re.split(r"[_\-\s.]+", low))
    return low == "key" or low.endswith(("_key", "-key")) or bool(words & _SECRET_WORDS)


def _capped(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        text = _TOKEN_SHAPE.sub(_REDACTED, value)
        return text if len(text) <= MAX_PARAM_CHARS else text[:MAX_PARAM_CHARS - 1] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        if depth >= 2:
            return _capped(json.dumps(value, ensure_ascii=False, default=str))
        return redact_params(value, _depth=depth + 1)
    if isinstance(value, list | tuple | set | frozenset):
        items = [_capped(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            items.append(f"… {len(value) - _MAX_ITEMS} more")
        return items
    return _capped(str(value))


def redact_params(params: Mapping[str, Any], *, _depth: int = 0) -> dict[str, Any]:
    """Return request parameters as they may be stored in the audit log.

    A value whose name says it is a secret (``api_key``, ``key``, ``token``, ``password``,
    ``secret_key``, ``session``…) becomes ``[redacted]``, and so does any text shaped like a
    pingan token under any name. Text is cut to :data:`MAX_PARAM_CHARS` characters, lists to 20
    items, nesting to two levels, and a row keeps at most :data:`MAX_PARAMS` parameters (the
    number left out is stored as ``_dropped``).

    Parameters
    ----------
    params
        Parameters (JSON-ready values; others are stored as text).

    Returns
    -------
    dict
    """
    out: dict[str, Any] = {}
    names = list(params)
    for name in names[:MAX_PARAMS]:
        key = _capped(str(name))
        out[key] = _REDACTED if _secret_name(str(name)) else _capped(params[name], _depth)
    if len(names) > MAX_PARAMS:
        out["_dropped"] = len(names) - MAX_PARAMS
    return out


def record(engine: Engine, action: str, *, key: Any = None, endpoint: str | None = None,
           params: Mapping[str, Any] | None = None, rows: int | None = None,
           status: int | None = None, client: str | None = None,
           key_name: str | None = None, at: dt.datetime | None = None,
           count: int = 1) -> int:
    """Write one audit row and return its id.

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
        Request parameters (JSON-serialisable; others are written as text); stored through
        :func:`redact_params`.
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
    count
        Events the row stands for (see :class:`RepeatedEvents`).

    Returns
    -------
    int
    """
    values = {
        "at": at or utcnow(), "action": action, "endpoint": _capped(endpoint),
        "params": None if params is None else json.dumps(redact_params(params),
                                                          ensure_ascii=False, default=str,
                                                          sort_keys=True),
        "rows": rows, "status": status, "client": client,
        "key_id": getattr(key, "id", None),
        "key_name": getattr(key, "name", None) or key_name,
        "role": getattr(key, "role", None), "count": count,
    }
    with engine.begin() as conn:
        pk = conn.execute(audit_log.insert().values(**values)).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def request_endpoint(request: Any) -> str:
    """``METHOD /path`` of a request, as the audit log names endpoints."""
    return f"{request.method} {request.url.path}"


def request_client(request: Any) -> str | None:
    """The client address of a request, as the server sees it."""
    return request.client.host if request.client else None


def record_request(engine: Engine, request: Any, action: str, *, key: Any = None,
                   rows: int | None = None, status: int = 200,
                   params: Mapping[str, Any] | None = None) -> int:
    """Audit a request: its endpoint, client and query parameters, and the rows it released.

    Routes that release raw incidents (lists, exports, map pages) call this with the number of
    incidents the response holds.

    Parameters
    ----------
    engine
        Database.
    request
        The Starlette request.
    action
        See :data:`ACTIONS`.
    key
        The caller's :class:`api.auth.ApiKey`.
    rows
        Rows released (or written).
    status
        HTTP status of the answer.
    params
        Parameters to store; default the query parameters (a repeated one as a list).

    Returns
    -------
    int
        The row's id.
    """
    if params is None:
        query: dict[str, Any] = {}
        for name, value in request.query_params.multi_items():
            if name in query:
                prev = query[name]
                query[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
            else:
                query[name] = value
        params = query
    return record(engine, action, key=key, endpoint=request_endpoint(request), params=params,
                  rows=rows, status=status, client=request_client(request))


@dataclass
class _Window:
    row_id: int
    started: float
    flushed: float
    count: int
    written: int


class RepeatedEvents:
    """Audit repeated events (rate-limited requests) as one row per identity and window.

    The first event of an identity (``ip:<address>``, ``key:<id>``, ``prefix:<prefix>``) in a
    window writes a row with ``count`` 1; later events of the window only raise the count in
    memory, which is written at most once per ``flush_s`` seconds, when the window is over
    and when :meth:`flush` is called (the app does at shutdown). So a client refused 2,500 times
    in 16 seconds leaves one row with a count of 2,500, and a flood of refused requests costs
    about one write a second. Like the rate limiter, the windows live in one process's memory.

    Parameters
    ----------
    window_s
        Length of a window.
    flush_s
        Longest time a count waits in memory while events keep coming.
    clock
        Monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(self, *, window_s: float = 60.0, flush_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not window_s > 0 or flush_s < 0:
            raise ValueError(f"window_s must be > 0 and flush_s >= 0; got {window_s}, {flush_s}")
        self.window_s = window_s
        self.flush_s = flush_s
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, _Window] = {}

    def record(self, engine: Engine, identity: str, *, action: str = "rate_limited",
               key: Any = None, endpoint: str | None = None, client: str | None = None,
               params: Mapping[str, Any] | None = None, status: int = 429) -> None:
        """Count one event of ``identity``; write a row when it opens a window.

        Parameters
        ----------
        engine
            Database.
        identity
            Who was refused.
        action, key, endpoint, client, params, status
            As :func:`record`, for the window's row (from its first event); ``identity`` and
            the window's length are added to ``params``.
        """
        with self._lock:
            now = self._clock()
            self._close_expired(engine, now)
            window = self._open.get(identity)
            if window is not None:
                window.count += 1
                if now - window.flushed >= self.flush_s:
                    self._write(engine, window, now)
                return
            stored = {**(params or {}), "identity": identity, "window_s": self.window_s}
            row = record(engine, action, key=key, endpoint=endpoint, params=stored,
                         status=status, client=client)
            self._open[identity] = _Window(row, now, now, 1, 1)

    def flush(self, engine: Engine) -> None:
        """Write every count still held in memory."""
        with self._lock:
            now = self._clock()
            for window in self._open.values():
                self._write(engine, window, now)

    def _close_expired(self, engine: Engine, now: float) -> None:
        done = [k for k, w in self._open.items() if now - w.started >= self.window_s]
        for k in done:
            self._write(engine, self._open.pop(k), now)

    @staticmethod
    def _write(engine: Engine, window: _Window, now: float) -> None:
        window.flushed = now
        if window.count == window.written:
            return
        with engine.begin() as conn:
            conn.execute(audit_log.update().where(audit_log.c.id == window.row_id)
                         .values(count=window.count))
        window.written = window.count


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
    for c in ("key_id", "rows", "status", "count"):
        frame[c] = frame[c].astype("Int64")
    return frame


def count_audit(conn: sa.Connection, *, action: str | None = None, key_id: int | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None) -> int:
    """Count the audit rows matching the filters of :func:`read_audit`."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(audit_log)
                            .where(*_where(action, key_id, since, until))).scalar_one())
