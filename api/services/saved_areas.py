"""Saved areas of the map workspace: named per key, re-checked on every read.

A key saves an area under a name (:func:`save_area`): the area must resolve for the caller as
a query would (a liaison cannot save an area wholly outside their jurisdiction). Only the
request is stored; :func:`list_areas` resolves each one again for the caller as they are now,
so a liaison whose jurisdiction changed sees each area's ``status``:

- ``inside``: wholly inside the jurisdiction (or any area of a non-liaison key);
- ``clipped``: part of it now lies outside; ``geometry`` is the part inside, which is what a
  query of it counts;
- ``outside``: wholly outside now; no geometry is given and a query of it is refused (403);
- ``unavailable``: the place it names is gone (a retired community, a closed facility, a
  removed road).

A key never sees another key's areas: reading or deleting one answers 404, as an unknown id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import shapely
from sqlalchemy.engine import Engine

from api.auth import ApiKey
from api.errors import ConflictError, ForbiddenError
from api.release import Visibility
from api.saved_areas import delete_saved_area, insert_saved_area, read_saved_areas
from api.services import ServiceContext
from api.services.areas import clip_to_world, resolve_area
from geo.errors import NotFoundError, PinganError

__all__ = ["delete_area", "list_areas", "save_area"]


def _resolved(ctx: ServiceContext, vis: Visibility, spec: Mapping[str, Any]
              ) -> tuple[str, str | None, dict[str, Any] | None]:
    """(status, kind, geometry) of a stored area for the caller now."""
    try:
        area = resolve_area(ctx, vis, spec)
    except ForbiddenError:
        # a community picked by name that the jurisdiction no longer holds
        return "outside", "community", None
    except PinganError:
        return "unavailable", None, None
    drawn = clip_to_world(ctx, vis, area, refuse=False)
    if drawn.outside_share >= 1.0 - 1e-9:
        return "outside", area.kind, None
    status = "clipped" if drawn.clipped else "inside"
    return status, area.kind, shapely.geometry.mapping(drawn.geometry)


def list_areas(ctx: ServiceContext, vis: Visibility, key: ApiKey) -> list[dict[str, Any]]:
    """The key's saved areas, newest first, each re-checked (see the module docstring)."""
    with ctx.engine.connect() as conn:
        rows = read_saved_areas(conn, key.id)
    out = []
    for row in rows:
        status, kind, geometry = _resolved(ctx, vis, row["spec"])
        out.append({"id": row["id"], "name": row["name"], "kind": kind, "status": status,
                    "area": row["spec"], "geometry": geometry,
                    "created_at": row["created_at"].isoformat() + "Z"})
    return out


def save_area(ctx: ServiceContext, vis: Visibility, key: ApiKey, *, name: str,
              spec: Mapping[str, Any]) -> dict[str, Any]:
    """Save an area under a name for the key.

    Raises
    ------
    geo.errors.ParameterError, geo.errors.NotFoundError
        When the area does not resolve (:func:`api.services.areas.resolve_area`).
    api.errors.ForbiddenError
        When it lies wholly outside a liaison's jurisdiction.
    api.errors.ConflictError
        When the key already has an area of that name.
    geo.errors.LimitError
        When the key keeps as many areas as allowed.
    """
    clip_to_world(ctx, vis, resolve_area(ctx, vis, spec))
    label = name.strip()
    ident = insert_saved_area(ctx.engine, key.id, label, spec)
    if ident is None:
        raise ConflictError(f"an area named {label!r} is already saved; choose another name "
                            f"or delete it first")
    saved = next(a for a in list_areas(ctx, vis, key) if a["id"] == ident)
    return saved


def delete_area(engine: Engine, key: ApiKey, area_id: int) -> None:
    """Delete one of the key's areas.

    Raises
    ------
    geo.errors.NotFoundError
        When the key has no area of that id (another key's area is not found either).
    """
    if not delete_saved_area(engine, key.id, area_id):
        raise NotFoundError(f"area_id: no saved area {area_id} for this key",
                            parameter="area_id")
