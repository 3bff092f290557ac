"""``/api/v1/audit``: the audit log (admin only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.audit import count_audit, read_audit
from api.deps import (
    AdminKey,
    LimitParam,
    OffsetParam,
    SessionDep,
    SettingsDep,
    TableFormat,
)
from api.errors import FieldError, InvalidParameterError
from api.provenance import CsvDep
from api.render import provenance_in, render
from api.schemas import AuditList, responses

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])

ActionParam = Literal["read_incidents", "load", "key_create", "key_revoke", "profile_put",
                      "auth_failed", "rate_limited", "site_plan"]


def _utc(value: dt.datetime | None, timezone: str, field: str) -> dt.datetime | None:
    """Naive UTC from a query instant (a naive one is in the configured time zone)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    try:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise InvalidParameterError(f"{field} is out of range",
                               errors=[FieldError(f"query.{field}", "out of range")]) from None


@router.get("", response_model=AuditList, responses=responses(400, 401, 403, 422, 429, csv=True))
def list_audit(
    csv: CsvDep,
    conn: SessionDep,
    settings: SettingsDep,
    key: AdminKey,
    action: ActionParam | None = None,
    key_id: Annotated[int | None, Query(ge=1, le=2**31 - 1,
                                        description="only rows of this key")] = None,
    since: Annotated[dt.datetime | None, Query(
        description="only rows at or after this instant (naive: configured time zone)")] = None,
    until: Annotated[dt.datetime | None, Query(
        description="only rows before this instant (naive: configured time zone)")] = None,
    limit: LimitParam = 100,
    offset: OffsetParam = 0,
    format: TableFormat = "json",
) -> Response:
    """List the audit log, newest first: raw reads, admin actions, failed logins."""
    lo, hi = _utc(since, settings.timezone, "since"), _utc(until, settings.timezone, "until")
    frame = read_audit(conn, action=action, key_id=key_id, since=lo, until=hi, limit=limit,
                       offset=offset)
    total = count_audit(conn, action=action, key_id=key_id, since=lo, until=hi)
    if format == "csv":
        import json

        frame["params"] = [None if p is None else json.dumps(p, ensure_ascii=False)
                           for p in frame["params"]]
    return render(frame, format, provenance_in(conn, settings), filename="audit",
                  page={"total": total, "limit": limit, "offset": offset}, csv=csv)
