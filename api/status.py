"""What the database holds: rows per layer, incident assignment, recent loads."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.db import data_version
from api.loading import REPLACEABLE
from api.models import LAYER_TABLES, incidents, loads, roads

__all__ = ["database_status"]


def database_status(engine: Engine, *, recent: int = 10) -> dict[str, Any]:
    """Summarise the database.

    Parameters
    ----------
    engine
        Database.
    recent
        How many of the latest loads to list.

    Returns
    -------
    dict
        ``data_version``; ``layers`` (frame: layer, current, retired); ``incidents`` (total,
        assigned, unassigned, no_location); ``loads`` (frame of the latest loads).
    """
    rows = []
    with engine.connect() as conn:
        for name, table in LAYER_TABLES.items():
            total = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            gone = 0
            if name in REPLACEABLE:
                gone = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                    table.c[REPLACEABLE[name]].is_not(None))).scalar_one()
            rows.append({"layer": name, "current": int(total - gone), "retired": int(gone)})
        # The road network is counted in edges; a replaced network's edges are marked removed.
        total = conn.execute(sa.select(sa.func.count()).select_from(roads)).scalar_one()
        gone = conn.execute(sa.select(sa.func.count()).select_from(roads).where(
            roads.c.removed_on.is_not(None))).scalar_one()
        rows.append({"layer": "roads", "current": int(total - gone), "retired": int(gone)})
        total = conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one()
        unassigned = conn.execute(sa.select(sa.func.count()).select_from(incidents).where(
            incidents.c.community_code.is_(None))).scalar_one()
        no_location = conn.execute(sa.select(sa.func.count()).select_from(incidents).where(
            incidents.c.community_code.is_(None), incidents.c.geom.is_(None))).scalar_one()
        recent_loads = conn.execute(
            sa.select(loads.c.id, loads.c.loaded_at, loads.c.layer, loads.c.file_name,
                      loads.c.rows_loaded, loads.c.rows_updated, loads.c.rows_rejected,
                      loads.c.rows_removed)
            .order_by(loads.c.id.desc()).limit(recent)).all()
        version = data_version(conn)
    return {
        "data_version": version,
        "layers": pd.DataFrame(rows),
        "incidents": {"total": int(total), "assigned": int(total - unassigned),
                      "unassigned": int(unassigned), "no_location": int(no_location)},
        "loads": pd.DataFrame(recent_loads, columns=[
            "id", "loaded_at", "layer", "file", "loaded", "updated", "rejected", "removed"]),
    }
