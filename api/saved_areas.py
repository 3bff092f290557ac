"""Storage of the map workspace's saved areas: one row per key and name (``saved_areas``).

Only the area as it was asked for is stored (its JSON request); what it covers is resolved
again on every read (:mod:`api.services.saved_areas`). Every function is scoped by the key's
id: a key never reads, or deletes, another key's areas.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.models import saved_areas
from geo.errors import LimitError

__all__ = ["MAX_SAVED_AREAS", "delete_saved_area", "insert_saved_area", "read_saved_areas"]

#: Areas one key may keep.
MAX_SAVED_AREAS = 200


def read_saved_areas(conn: sa.Connection, key_id: int) -> list[dict[str, Any]]:
    """A key's saved areas, newest first: id, name, spec (dict), created_at (naive UTC)."""
    s = saved_areas.c
    rows = conn.execute(sa.select(s.id, s.name, s.spec, s.created_at)
                        .where(s.key_id == key_id).order_by(s.id.desc())).all()
    return [{"id": int(r.id), "name": str(r.name), "spec": json.loads(r.spec),
             "created_at": r.created_at} for r in rows]


def insert_saved_area(engine: Engine, key_id: int, name: str, spec: Mapping[str, Any], *,
                      now: dt.datetime | None = None) -> int | None:
    """Save an area; return its id, or ``None`` when the key already has one of that name.

    Raises
    ------
    geo.errors.LimitError
        When the key already keeps :data:`MAX_SAVED_AREAS` areas.
    """
    s = saved_areas.c
    when = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        taken = conn.execute(sa.select(s.id).where(s.key_id == key_id, s.name == name)).first()
        if taken is not None:
            return None
        kept = conn.execute(sa.select(sa.func.count()).select_from(saved_areas)
                            .where(s.key_id == key_id)).scalar_one()
        if kept >= MAX_SAVED_AREAS:
            raise LimitError(f"a key keeps at most {MAX_SAVED_AREAS} saved areas; delete one "
                             f"first", parameter="body.name")
        result = conn.execute(saved_areas.insert().values(
            key_id=key_id, name=name, spec=json.dumps(dict(spec), ensure_ascii=False),
            created_at=when))
        key = result.inserted_primary_key
        assert key is not None  # an insert always has one
        return int(key[0])


def delete_saved_area(engine: Engine, key_id: int, area_id: int) -> bool:
    """Delete one of a key's areas; false when the key has no area of that id."""
    s = saved_areas.c
    with engine.begin() as conn:
        done = conn.execute(saved_areas.delete().where(s.id == area_id, s.key_id == key_id))
        return bool(done.rowcount)
