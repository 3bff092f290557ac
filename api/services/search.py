"""The workspace's search box: communities, facilities, roads and incident addresses by name.

Each kind is searched inside the caller's world, as the other endpoints release it:

- communities: those of the caller's world (a liaison's jurisdiction; the whole city for the
  other roles, whose community list holds every community);
- facilities (open ones) and roads: those lying in, or meeting, a liaison's jurisdiction;
  every one for the other roles (no incident data);
- incident addresses: raw incidents, so only for admin and, inside their jurisdiction, for a
  liaison; a planner or client gets ``null`` (never an address), and every address search
  that releases rows is audited by the route like any raw read.

A match holds the text anywhere in a code or name, case-insensitively; each kind's list is
cut at ``limit`` (exact matches first).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from api import store
from api.release import Visibility
from api.services import ServiceContext
from api.services.areas import world_outline
from api.services.streets import street_lines
from api.services.units import world_communities
from geo.errors import ParameterError

__all__ = ["MAX_RESULTS", "search_places"]

#: Results per kind at most.
MAX_RESULTS = 50


def _matches(values: pd.Series, text: str) -> np.ndarray:
    return values.astype("string").fillna("").str.casefold().str.contains(
        text.casefold(), regex=False).to_numpy(dtype=bool)


def _ranked(frame: pd.DataFrame, column: str, text: str, limit: int) -> pd.DataFrame:
    exact = frame[column].astype("string").fillna("").str.casefold() == text.casefold()
    return frame.assign(_exact=~exact.to_numpy()).sort_values(
        ["_exact", column], kind="stable").head(limit)


def _bbox(geom: Any) -> list[float]:
    return [round(float(v), 6) for v in geom.bounds]


def _communities(ctx: ServiceContext, vis: Visibility, text: str, limit: int
                 ) -> list[dict[str, Any]]:
    comms = world_communities(ctx, vis)
    hit = comms[_matches(comms["code"], text) | _matches(comms["name"], text)]
    return [{"kind": "community", "code": str(r["code"]), "name": str(r["name"]),
             "district": None if pd.isna(r["district"]) else str(r["district"]),
             "bbox": _bbox(r["geometry"])}
            for _, r in _ranked(hit, "name", text, limit).iterrows()]


def _facilities(ctx: ServiceContext, vis: Visibility, text: str, limit: int
                ) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        frame = store.read_facilities(conn)
    frame = frame[frame["closed_on"].isna() & ~frame.geometry.isna()]
    world = world_outline(ctx, vis)
    if world is not None:
        frame = frame[shapely.covers(world, np.asarray(frame.geometry.array, dtype=object))]
    hit = frame[_matches(frame["id"], text) | _matches(frame["name"], text)]
    return [{"kind": "facility", "id": str(r["id"]),
             "name": None if pd.isna(r["name"]) else str(r["name"]), "type": str(r["type"]),
             "lon": round(float(r.geometry.x), 6), "lat": round(float(r.geometry.y), 6)}
            for _, r in _ranked(hit.fillna({"name": ""}), "name", text, limit).iterrows()]


def _roads(ctx: ServiceContext, vis: Visibility, text: str, limit: int) -> list[dict[str, Any]]:
    lines = street_lines(ctx)
    lines = lines[_matches(lines["name"], text)]
    world = world_outline(ctx, vis)
    if world is not None and len(lines):
        lines = lines[shapely.intersects(np.asarray(lines.geometry.array, dtype=object), world)]
    out = []
    for name, group in lines.groupby(lines["name"].astype(str), sort=True):
        out.append({"kind": "road", "name": str(name), "edges": len(group),
                    "bbox": _bbox(shapely.union_all(np.asarray(group.geometry.array,
                                                               dtype=object)))})
    exact = [r for r in out if str(r["name"]).casefold() == text.casefold()]
    return (exact + [r for r in out if r not in exact])[:limit]


def _text_or_none(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _addresses(ctx: ServiceContext, vis: Visibility, text: str, limit: int
               ) -> list[dict[str, Any]]:
    with ctx.engine.connect() as conn:
        frame = store.search_addresses(conn, text, communities=vis.community_filter(),
                                       limit=limit)
    out = []
    for r in frame.to_dict("records"):
        when = pd.Timestamp(str(r["occurred_at"])).tz_localize("UTC").tz_convert(ctx.timezone)
        out.append({"kind": "address", "id": str(r["id"]), "address": str(r["address"]),
                    "occurred_at": when.isoformat(),
                    "community_code": _text_or_none(r["community_code"]),
                    "lon": _float_or_none(r["lon"]), "lat": _float_or_none(r["lat"])})
    return out


def search_places(ctx: ServiceContext, vis: Visibility, q: str, *, limit: int = 10
                  ) -> dict[str, Any]:
    """Places whose code or name holds ``q`` inside the caller's world (see the module docstring).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    q
        The text (1-100 characters after trimming).
    limit
        Results per kind (1..:data:`MAX_RESULTS`).

    Returns
    -------
    dict
        ``q``, ``communities``, ``facilities``, ``roads`` and ``addresses`` (``None`` for a
        caller without raw access).

    Raises
    ------
    geo.errors.ParameterError
        For an empty text or a limit out of range.
    """
    text = q.strip()
    if not text:
        raise ParameterError("q: give some text to search for", parameter="q")
    if not 1 <= limit <= MAX_RESULTS:
        raise ParameterError(f"limit: expected 1..{MAX_RESULTS}; got {limit}", parameter="limit")
    return {"q": text, "communities": _communities(ctx, vis, text, limit),
            "facilities": _facilities(ctx, vis, text, limit),
            "roads": _roads(ctx, vis, text, limit),
            "addresses": _addresses(ctx, vis, text, limit) if vis.raw else None}
