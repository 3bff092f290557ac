"""``/api/v1/profiles``: safe-community profiles (every role reads; admin uploads versions)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import audit
from api.deps import (
    AdminKey,
    CurrentKey,
    EngineDep,
    SessionDep,
    SettingsDep,
    client_address,
    endpoint_label,
)
from api.errors import FieldError, InvalidParameterError, PayloadTooLargeError, status_of
from api.profiles import StoredProfile, active_profile, get_profile, list_profiles, put_profile
from api.render import provenance_in
from api.schemas import ProfileDetail, ProfileList, responses

__all__ = ["MAX_PROFILE_BYTES", "router"]

router = APIRouter(prefix="/profiles", tags=["profiles"])

#: Largest profile text accepted (a profile is a page of TOML).
MAX_PROFILE_BYTES = 1 << 20

NameParam = Annotated[str, Path(description="profile name", max_length=200)]


def _is_active(p: StoredProfile, active: StoredProfile) -> bool:
    return p.builtin == active.builtin and p.id == active.id


def _detail(p: StoredProfile, active: StoredProfile, prov: dict[str, Any]) -> dict[str, Any]:
    return {**p.summary(), "active": _is_active(p, active), "content": p.content,
            "profile": p.profile.model_dump(mode="json"), "provenance": prov}


@router.get("", response_model=ProfileList, responses=responses(400, 401, 403, 422, 429))
def list_all_profiles(conn: SessionDep, settings: SettingsDep, key: CurrentKey) -> JSONResponse:
    """Every profile version: the built-in default, then the uploads in order."""
    active = active_profile(conn)
    items = [{**p.summary(), "active": _is_active(p, active)} for p in list_profiles(conn)]
    return JSONResponse({"provenance": provenance_in(conn, settings), "count": len(items),
                         "items": items})


@router.get("/active", response_model=ProfileDetail, responses=responses(400, 401, 403, 422, 429))
def get_active_profile(conn: SessionDep, settings: SettingsDep, key: CurrentKey) -> JSONResponse:
    """Return the profile used by default: the latest upload, else the built-in one."""
    active = active_profile(conn)
    prov = provenance_in(conn, settings, profile_version=active.version_key)
    return JSONResponse(_detail(active, active, prov))


@router.get("/{name}", response_model=ProfileDetail,
            responses=responses(400, 401, 403, 404, 422, 429))
def get_named_profile(
    conn: SessionDep, settings: SettingsDep, key: CurrentKey, name: NameParam,
    version: Annotated[str | None, Query(description="default: the latest",
                                         max_length=64)] = None,
) -> JSONResponse:
    """Return a profile by name: one version, or the latest."""
    found = get_profile(conn, name, version)
    prov = provenance_in(conn, settings, profile_version=found.version_key)
    return JSONResponse(_detail(found, active_profile(conn), prov))


_TOML_BODY = {"requestBody": {"required": True, "content": {
    "application/toml": {"schema": {"type": "string"}},
    "text/plain": {"schema": {"type": "string"}},
}}}


@router.put("/{name}", response_model=ProfileDetail, openapi_extra=_TOML_BODY,
            responses={201: {"model": ProfileDetail, "description": "a new version stored"},
                       **responses(400, 401, 403, 409, 413, 422, 429)})
async def put_named_profile(request: Request, engine: EngineDep, settings: SettingsDep,
                            key: AdminKey, name: NameParam) -> JSONResponse:
    """Upload a profile version as TOML (validated; 201 new, 200 unchanged, 409 conflict)."""
    status = 500
    params: dict[str, Any] = {"name": name}
    try:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_PROFILE_BYTES:
                raise PayloadTooLargeError(f"a profile may have at most {MAX_PROFILE_BYTES} bytes")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidParameterError("the profile must be UTF-8 text", errors=[FieldError(
                "body", f"not UTF-8: {exc.reason} at byte {exc.start}")]) from None
        if not text.strip():
            raise InvalidParameterError("the profile is empty",
                                   errors=[FieldError("body", "expected TOML text")])
        stored, created = await run_in_threadpool(put_profile, engine, text, name=name,
                                                  created_by=key.name)
        params |= {"version": stored.version, "version_key": stored.version_key,
                   "created": created}
        status = 201 if created else 200

        def detail() -> dict[str, Any]:
            with engine.connect() as conn:
                prov = provenance_in(conn, settings, profile_version=stored.version_key)
                return _detail(stored, active_profile(conn), prov)

        return JSONResponse(await run_in_threadpool(detail), status_code=status)
    except Exception as exc:
        status = status_of(exc)
        raise
    finally:
        await run_in_threadpool(audit.record, engine, "profile_put", key=key,
                                endpoint=endpoint_label(request), params=params, status=status,
                                client=client_address(request))
